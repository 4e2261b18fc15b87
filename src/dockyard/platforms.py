"""The host's platform in OCI terms and the ``--platform`` values Dockyard accepts (only
this host's): shared by front ends and engine."""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

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
