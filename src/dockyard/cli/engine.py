"""Which engine a command talks to: the in-process facade (:class:`dockyard.engine.Engine`,
the default: daemonless), or the Engine API endpoint named by ``-H/--host`` or
``DOCKER_HOST`` (:class:`dockyard.engine.remote.RemoteEngine`, Podman's remote mode)."""

from __future__ import annotations

from typing import Any, NoReturn

import click

from dockyard.paths import Paths

#: Key of the ``-H`` endpoint in the root click context's ``meta``.
HOST_KEY = "dockyard.host"


def current_host() -> str | None:
    """The ``-H``/``DOCKER_HOST`` endpoint of the running command, or None (in process)."""
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    host = ctx.find_root().meta.get(HOST_KEY)
    return str(host) if host else None


def open_engine(paths: Paths) -> Any:
    """The facade for this command: remote when ``-H``/``DOCKER_HOST`` is set, else the
    engine rooted at ``paths`` in this process."""
    host = current_host()
    if host:
        from dockyard.engine.remote import RemoteEngine

        return RemoteEngine(host)
    from dockyard.engine import Engine

    return Engine(paths)


def exit_now(engine: Any, status: int) -> NoReturn:
    """End the command with exit ``status`` as ``sys.exit`` would, minus the
    interpreter's teardown (freeing every module and object: about 10 ms of CPU after a
    ``run``, more than its network set-up). Before leaving: the engine's state database
    is closed (SQLite checkpoints and removes its WAL), the atexit handlers run (the
    command's in-flight marker, engine.gc) and stdout and stderr are flushed. For
    commands whose work is done, with no thread left running."""
    import atexit
    import contextlib
    import os
    import sys

    db = getattr(engine, "__dict__", {}).get("db")
    if db is not None:
        db.close()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
