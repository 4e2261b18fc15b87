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
    from dockyard.image.archive import save as save_images

    save_images(engine.images, names, out)


def load(engine: Engine, stream: BinaryIO, quiet: bool = False) -> Iterator[dict[str, Any]]:
    """Store the images of the archive ``stream``; yields the JSON messages of Docker's
    load (progress unless ``quiet``, then ``{"stream": "Loaded image: ...\\n"}``).
    Raises ``InvalidArgument`` for a bad archive, having stored nothing of it."""
    from dockyard.image.archive import load as load_images

    with engine.images.lease():  # the collector keeps what is written until it is an image
        yield from load_images(engine.images, stream, quiet)


def export(engine: Engine, container: str, out: BinaryIO) -> None:
    """Write the root filesystem of ``container`` (name or ID) to ``out`` as a tar.
    Raises ``NotFound``, ``Conflict``, ``DockyardError``."""
    from dockyard.container.filesystem import export as export_rootfs

    export_rootfs(engine.containers, container, out)


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

    with engine.images.lease():  # the collector keeps the new layer until it is an image
        return commit_container(
            engine.containers,
            container,
            repository,
            author=author,
            message=message,
            changes=changes,
            pause=pause,
        )


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

    return get(engine.containers, container, path, out, name)


def archive_put(
    engine: Engine, container: str, path: str, stream: BinaryIO, copy_uid_gid: bool = False
) -> int:
    """Extract the tar ``stream`` into directory ``path`` of ``container`` (root-owned
    unless ``copy_uid_gid``); returns the bytes written. Raises ``NotFound``,
    ``Conflict``, ``InvalidArgument``, ``DockyardError``."""
    from dockyard.container.copy import archive_put as put

    return put(engine.containers, container, path, stream, copy_uid_gid=copy_uid_gid)
