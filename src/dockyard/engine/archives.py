"""Engine operations on image archives and container filesystems (issue 10), for every
front end: the CLI here, the Engine API service later.

Each function takes the ``Engine`` and does what one Engine API endpoint does:

======================================  ===============================================
``save``                                ``GET /images/get``
``load``                                ``POST /images/load``
``export``                              ``GET /containers/{id}/export``
``changes``                             ``GET /containers/{id}/changes``
``commit``                              ``POST /commit``
``archive_stat``                        ``HEAD /containers/{id}/archive``
``archive_get``                         ``GET /containers/{id}/archive``
``archive_put``                         ``PUT /containers/{id}/archive``
======================================  ===============================================
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from dockyard.engine import Engine
    from dockyard.image.store import Image

#: ``docker diff`` kinds to the Engine API's ``Kind`` numbers.
CHANGE_KINDS = {"C": 0, "A": 1, "D": 2}


def save(engine: Engine, names: list[str], out: BinaryIO) -> None:
    """Write the images ``names`` pick (``repo:tag``, a bare ``repo`` = all its tags, an
    ID) to ``out`` as one tar in Docker 25+'s save format. Raises ``NotFound``,
    ``DockyardError``; see ``dockyard.image.archive.save``."""
    from dockyard.engine.events import image_event
    from dockyard.errors import DockyardError
    from dockyard.image.archive import save as save_images

    save_images(engine.images, names, out)
    saved = []
    for name in names:
        try:
            image_id = engine.images.resolve(name).id
        except DockyardError:
            continue  # a bare repository: all its tags (the save is done; events are best effort)
        if image_id not in saved:
            saved.append(image_id)
            image_event(engine.images, image_id, image_id, "save")


def load(engine: Engine, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
    """Store the images of the archive ``stream``; yields the JSON messages of Docker's
    load (progress unless ``quiet``, then ``{"stream": "Loaded image: ...\\n"}``).
    Raises ``InvalidArgument`` for a bad archive, having stored nothing of it."""
    from dockyard.engine.events import image_event
    from dockyard.errors import DockyardError
    from dockyard.image.archive import load as load_images

    loaded: list[str] = []
    with engine.images.lease():  # the collector keeps what is written until it is an image
        for message in load_images(engine.images, stream, quiet):
            # "Loaded image: busybox:latest" / "Loaded image ID: sha256:...": moby's load
            # event for each image (its tags are set without tag events).
            text = str(message.get("stream") or "")
            if text.startswith("Loaded image"):
                with contextlib.suppress(DockyardError):
                    image_id = engine.images.resolve(text.partition(": ")[2].strip()).id
                    if image_id not in loaded:
                        loaded.append(image_id)
                        image_event(engine.images, image_id, image_id, "load")
            yield message


def export(engine: Engine, container: str, out: BinaryIO) -> None:
    """Write the root filesystem of ``container`` (name or ID) to ``out`` as a tar.
    Raises ``NotFound``, ``Conflict``, ``DockyardError``."""
    from dockyard.container.filesystem import export as export_rootfs

    export_rootfs(engine.containers, container, out)
    engine.containers.event(engine.container_store.get(container), "export")


def changes(engine: Engine, container: str) -> list[tuple[str, str]]:
    """``container``'s changes to its image, ``[("A"|"C"|"D", "/path")]`` (the API's
    ``[{"Kind": CHANGE_KINDS[kind], "Path": path}]``). Raises ``NotFound``."""
    from dockyard.container.filesystem import changes as container_changes

    return container_changes(engine.containers, container)


def commit(
    engine: Engine,
    container: str,
    repository: str | None = None,
    *,
    author: str = "",
    message: str = "",
    changes: list[str] | None = None,
    pause: bool = True,
) -> Image:
    """A new image from ``container``'s changes (tagged ``repository`` if given); see
    ``dockyard.container.filesystem.commit``."""
    from dockyard.container.filesystem import commit as commit_container

    # The record for the commit event, taken first: a container removed while its
    # layer is written must not turn the image made into a reported failure.
    record = engine.container_store.get(container)
    with engine.images.lease():  # the collector keeps the new layer until it is an image
        image = commit_container(
            engine.containers,
            container,
            repository,
            author=author,
            message=message,
            changes=changes,
            pause=pause,
        )
    from dockyard.engine.events import image_event

    image_event(engine.images, image.id, image.id, "create")  # API 1.46's, as moby
    if repository:
        from dockyard import reference

        image_event(engine.images, image.id, reference.parse(repository).familiar(), "tag")
    engine.containers.event(
        record,
        "commit",
        comment=message,
        imageID=image.id,
        imageRef=repository or "",
    )
    return image


def archive_stat(engine: Engine, container: str, path: str) -> dict[str, Any]:
    """The stat of ``path`` in ``container`` (the API's ``X-Docker-Container-Path-Stat``:
    name, size, mode as Go's FileMode, mtime, linkTarget). Raises ``NotFound``."""
    from dockyard.container.copy import stat_path

    return stat_path(engine.containers, container, path)


def archive_get(
    engine: Engine, container: str, path: str, out: BinaryIO, name: str | None = None
) -> dict[str, Any]:
    """Write ``path`` of ``container`` to ``out`` as a tar (top entry named as the path,
    or ``name``); returns its stat. Raises ``NotFound``, ``DockyardError``."""
    from dockyard.container.copy import archive_get as get

    stat = get(engine.containers, container, path, out, name)
    engine.containers.event(engine.container_store.get(container), "archive-path")
    return stat


def archive_put(
    engine: Engine, container: str, path: str, stream: BinaryIO, copy_uid_gid: bool = False
) -> int:
    """Extract the tar ``stream`` into directory ``path`` of ``container`` (root-owned
    unless ``copy_uid_gid``); returns the bytes written. Raises ``NotFound``,
    ``Conflict``, ``InvalidArgument``, ``DockyardError``."""
    from dockyard.container.copy import archive_put as put

    written = put(engine.containers, container, path, stream, copy_uid_gid=copy_uid_gid)
    engine.containers.event(engine.container_store.get(container), "extract-to-dir")
    return written
