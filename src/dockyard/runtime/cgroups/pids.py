"""``pids`` controller, the same files on v1 and v2 (kernel cgroup-v1/pids.rst)."""

from __future__ import annotations

import os

from . import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def apply(path: str, pids: dict[str, Any]) -> None:
    """Write OCI ``pids.limit`` to ``pids.max`` (a negative limit = ``max``, 0 = unset)."""
    limit = int(pids.get("limit") or 0)
    if limit:
        fs.write(os.path.join(path, "pids.max"), "max" if limit < 0 else limit)


def current(path: str) -> int | None:
    """The number of tasks in the cgroup (``pids.current``)."""
    return fs.read_int(os.path.join(path, "pids.current"))
