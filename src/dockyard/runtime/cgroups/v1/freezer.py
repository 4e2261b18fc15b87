"""v1 ``freezer`` controller (kernel cgroup-v1/freezer-subsystem.rst)."""

from __future__ import annotations

import os
import time

from dockyard.errors import DockyardError

from .. import fs

_TIMEOUT = 5.0


def freeze(path: str) -> None:
    """Write ``FROZEN`` to ``freezer.state`` and wait until the state reads ``FROZEN``.

    The state passes through ``FREEZING``; the write is repeated while waiting because a
    task forked meanwhile can leave it stuck there. Raises ``DockyardError`` (and thaws)
    after 5 seconds.
    """
    state_file = os.path.join(path, "freezer.state")
    deadline = time.monotonic() + _TIMEOUT
    while time.monotonic() < deadline:
        fs.write(state_file, "FROZEN")
        for _ in range(10):
            if fs.read(state_file).strip() == "FROZEN":
                return
            time.sleep(0.005)
    fs.write(state_file, "THAWED")
    raise DockyardError(f"cgroup: cannot freeze {path}: still FREEZING after {_TIMEOUT:g}s")


def thaw(path: str) -> None:
    """Write ``THAWED`` to ``freezer.state``."""
    fs.write(os.path.join(path, "freezer.state"), "THAWED")
