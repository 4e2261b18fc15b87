"""OCI runtimes: Dockyard's own (``dockyard``) and external runc-compatible binaries.

Import-light: the implementations are imported by :func:`get_runtime` only.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from dockyard.runtime.external import ExternalRuntime
    from dockyard.runtime.linux import LinuxRuntime

#: Debian packages that provide the external runtimes.
PACKAGES = {"runc": "runc", "crun": "crun"}


def get_runtime(name: str, state_root: str) -> LinuxRuntime | ExternalRuntime:
    """The runtime called ``name`` keeping its state under ``state_root``.

    ``"dockyard"`` (or ``""``) is the built-in :class:`LinuxRuntime`; ``"runc"`` and
    ``"crun"`` are looked up in ``PATH``; an absolute path names any runc-compatible
    binary. Both kinds have ``create``, ``start``, ``state``, ``kill``, ``delete`` and
    ``list``. Raises ``InvalidArgument`` for an unknown or missing runtime.
    """
    from dockyard.errors import InvalidArgument

    if name in ("", "dockyard"):
        from dockyard.runtime.linux import LinuxRuntime

        return LinuxRuntime(state_root)
    from dockyard.runtime.external import ExternalRuntime

    if os.path.isabs(name):
        if not os.access(name, os.X_OK):
            raise InvalidArgument(f"runtime binary {name} is not executable")
        return ExternalRuntime(name, state_root)
    if name in PACKAGES:
        import shutil

        binary = shutil.which(name)
        if binary is None:
            raise InvalidArgument(
                f"runtime {name} not found in PATH (install the Debian package {PACKAGES[name]})"
            )
        return ExternalRuntime(binary, state_root)
    raise InvalidArgument(f"unknown runtime: {name}")
