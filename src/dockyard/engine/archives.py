"""Engine operations on image archives and container filesystems (issue 10), for every
front end: the CLI here, the Engine API service later.

Each function takes the ``Engine`` and does what one Engine API endpoint does:

======================================  ===============================================
``save``                                ``GET /images/get``
``load``                                ``POST /images/load``
======================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from dockyard.engine import Engine


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

    return load_images(engine.images, stream, quiet)
