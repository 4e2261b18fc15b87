"""Layer unpacking, the layer store and overlayfs root filesystems (OCI image spec layers).

Import-light: tarfile, ctypes and the decompressors are imported only when used.
"""

from __future__ import annotations

from dockyard.snapshot.overlay import mount_rootfs, unmount
from dockyard.snapshot.securejoin import securejoin
from dockyard.snapshot.store import LayerStore
from dockyard.snapshot.unpack import apply_layer, open_decompressed

__all__ = [
    "LayerStore",
    "apply_layer",
    "mount_rootfs",
    "open_decompressed",
    "securejoin",
    "unmount",
]
