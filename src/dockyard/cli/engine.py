"""Which engine a command talks to: the in-process facade (:class:`dockyard.engine.Engine`,
the default: daemonless), or the Engine API endpoint named by ``-H/--host`` or
``DOCKER_HOST`` (:class:`dockyard.engine.remote.RemoteEngine`, Podman's remote mode)."""

from __future__ import annotations

from typing import Any

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
