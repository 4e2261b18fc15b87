"""v1 ``cpuset`` controller (kernel cgroup-v1/cpusets.rst)."""

from __future__ import annotations

import os

from .. import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

_FILES = ("cpuset.cpus", "cpuset.mems")


def init_dir(path: str) -> None:
    """Copy the parent's ``cpuset.cpus``/``cpuset.mems`` into a new, empty cpuset dir.

    A v1 cpuset starts empty, and no process can join an empty cpuset (ENOSPC).
    """
    parent = os.path.dirname(path)
    for name in _FILES:
        if not fs.read(os.path.join(path, name)).strip():
            value = fs.read(os.path.join(parent, name)).strip()
            if not value and parent != path:
                # A concurrent create made the parent and has not filled it in yet.
                init_dir(parent)
                value = fs.read(os.path.join(parent, name)).strip()
            fs.write(os.path.join(path, name), value)


def apply(path: str, cpu: dict[str, Any]) -> None:
    """Write OCI ``cpu.cpus``/``cpu.mems`` (list strings like ``"0-1,3"``)."""
    if cpu.get("cpus"):
        fs.write(os.path.join(path, "cpuset.cpus"), cpu["cpus"])
    if cpu.get("mems"):
        fs.write(os.path.join(path, "cpuset.mems"), cpu["mems"])
