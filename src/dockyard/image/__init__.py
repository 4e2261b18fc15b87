"""The image store: content-addressed blobs, OCI manifests and configs, tags (OCI image spec).

``import_image`` and ``bootstrap`` live in ``dockyard.image.create`` and
``dockyard.image.bootstrap``; they import tarfile and are loaded only when used.
"""

from __future__ import annotations

from dockyard.image.store import BlobWriter, ContentStore, Image, ImageStore, short_id

__all__ = ["BlobWriter", "ContentStore", "Image", "ImageStore", "short_id"]
