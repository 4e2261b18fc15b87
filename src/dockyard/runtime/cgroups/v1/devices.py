"""v1 ``devices`` controller (kernel cgroup-v1/devices.rst)."""

from __future__ import annotations

import os

from .. import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def rule_text(rule: dict[str, Any]) -> str:
    """An OCI device rule as the kernel's ``type major:minor access`` (``*`` = any)."""
    kind = rule.get("type") or "a"
    if kind == "a":
        return "a"
    major = rule.get("major")
    minor = rule.get("minor")
    major_s = "*" if major is None or major < 0 else str(major)
    minor_s = "*" if minor is None or minor < 0 else str(minor)
    return f"{kind} {major_s}:{minor_s} {rule.get('access') or 'rwm'}"


def apply(path: str, rules: list[dict[str, Any]]) -> None:
    """Deny every device, then write the OCI ``devices`` rules in order (as runc).

    Each rule {allow, type, major, minor, access} goes to ``devices.allow`` or
    ``devices.deny``.
    """
    fs.write(os.path.join(path, "devices.deny"), "a")
    for rule in rules:
        name = "devices.allow" if rule.get("allow") else "devices.deny"
        fs.write(os.path.join(path, name), rule_text(rule))
