"""``POST /images/create?fromSrc=-`` (``docker import``) for front ends that hold the
tarball as a stream (the API service's request body)."""

from __future__ import annotations

from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from dockyard.engine import Engine


def image_import(
    engine: Engine,
    stream: BinaryIO,
    repository: str | None = None,
    changes: list[str] | None = None,
    message: str = "",
    platform: str | None = None,
) -> str:
    """An image from the root filesystem tarball ``stream`` (plain, gzip, bzip2 or xz),
    tagged ``repository`` (``name[:tag]``) if given, with ``changes`` (Dockerfile
    instructions) applied; returns its ID. Raises InvalidArgument, NotFound."""
    from dockyard.engine.events import image_event
    from dockyard.image.create import import_image

    image = import_image(engine.images, stream, repository, changes, message, platform)
    if repository:
        from dockyard import reference

        image_event(engine.images, image.id, reference.parse(repository).familiar(), "tag")
    image_event(engine.images, image.id, image.id, "import")
    return image.id
