"""Layer unpacking, the layer store and overlayfs root filesystems (OCI image spec layers).

Import-light: tarfile, ctypes and the decompressors are imported only when used.
"""

from __future__ import annotations

from dockyard.snapshot.overlay import mount_rootfs, unmount, unmount_under
from dockyard.snapshot.securejoin import securejoin
from dockyard.snapshot.store import LayerStore
from dockyard.snapshot.unpack import apply_layer, open_decompressed

TYPE_CHECKING = False  # typing itself is not imported

if TYPE_CHECKING:
    from dockyard.snapshot.diff import layer_from_upper, write_layer

__all__ = [
    "LayerStore",
    "apply_layer",
    "layer_from_upper",
    "mount_rootfs",
    "open_decompressed",
    "securejoin",
    "unmount",
    "unmount_under",
    "write_layer",
]


def __getattr__(name: str) -> object:
    # The diff writer is only needed by builds and commits: imported on first use.
    if name in ("layer_from_upper", "write_layer"):
        from dockyard.snapshot import diff

        return getattr(diff, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
