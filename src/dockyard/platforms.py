"""The host's platform in OCI terms and the ``--platform`` values Dockyard accepts (only
this host's): shared by front ends and engine."""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

_ARCHES = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def host_arch() -> str:
    """The host's architecture in OCI terms (``amd64`` on x86_64, ``arm64`` on aarch64)."""
    machine = os.uname().machine
    return _ARCHES.get(machine, machine)


def check_platform(value: str | None) -> None:
    """Accept ``--platform`` only if it names this host (``linux`` or ``linux/<arch>``).

    Raises ``InvalidArgument``.
    """
    if not value:
        return
    parts = value.lower().split("/")
    if parts[0] != "linux" or (len(parts) > 1 and parts[1] != host_arch()) or len(parts) > 3:
        raise InvalidArgument(
            f'invalid platform "{value}": this host can only use linux/{host_arch()}'
        )


def check_image_platform(name: str, image: Mapping[str, Any], value: str | None) -> None:
    """``--platform`` of ``rmi``, ``history`` and ``push``: Dockyard's images have one
    platform each, which must be the one asked for (``os[/arch[/variant]]``; the
    architecture defaults to this host's). ``image`` is the image's inspect data (Os,
    Architecture, Variant). Raises ``InvalidArgument`` with moby's message otherwise."""
    if not value:
        return
    parts = value.lower().split("/")
    if len(parts) == 1 and parts[0] != "linux" and parts[0] in _ARCHES.values():
        parts = ["linux", *parts]  # containerd's platforms.Parse: a bare architecture
    want_os = parts[0]
    want_arch = parts[1] if len(parts) > 1 else host_arch()
    want_variant = parts[2] if len(parts) > 2 else ""
    have = [image.get("Os") or "linux", image.get("Architecture") or "", image.get("Variant") or ""]
    if [want_os, want_arch] != have[:2] or (want_variant and want_variant != have[2]):
        actual = "/".join(p for p in have if p)
        raise InvalidArgument(
            f"image with reference {name} was found but does not match the specified "
            f"platform: wanted {value}, actual: {actual}"
        )
