"""Which engine a command talks to: the in-process facade (:class:`dockyard.engine.Engine`,
the default: daemonless), or the Engine API endpoint named by ``-H/--host`` or
``DOCKER_HOST`` (:class:`dockyard.engine.remote.RemoteEngine`, Podman's remote mode)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # neither typing nor click on the run path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from dockyard.paths import Paths

#: Key of the ``-H`` endpoint in the root click context's ``meta``.
HOST_KEY = "dockyard.host"
#: Key of the client's TLS (a dockyard.engine.remote.TLSOptions, or None) in the same.
TLS_KEY = "dockyard.tls"


def current_host() -> str | None:
    """The ``-H``/``DOCKER_HOST`` endpoint of the running command, or None (in process:
    also for a command cli/fastrun.py runs without click, which it does only without
    ``-H``/``DOCKER_HOST``)."""
    click = sys.modules.get("click")
    if click is None:
        return None
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return None
    host = ctx.find_root().meta.get(HOST_KEY)
    return str(host) if host else None


def current_tls() -> Any:
    """The client's TLS for the ``-H``/``DOCKER_HOST`` endpoint (``--tls``,
    ``--tlsverify``... as cli/main.py resolved them: a
    :class:`dockyard.engine.remote.TLSOptions`), or None."""
    click = sys.modules.get("click")
    ctx = click.get_current_context(silent=True) if click is not None else None
    return None if ctx is None else ctx.find_root().meta.get(TLS_KEY)


def open_engine(paths: Paths) -> Any:
    """The facade for this command: remote when ``-H``/``DOCKER_HOST`` is set, else the
    engine rooted at ``paths`` in this process."""
    host = current_host()
    if host:
        from dockyard.engine.remote import RemoteEngine

        return RemoteEngine(host, tls=current_tls())
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

    db = getattr(engine, "__dict__", {}).get("db")
    if db is not None:
        db.close()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)


def exit_on_error(e: BaseException) -> NoReturn:
    """End the command for an exception a command's code let through, as docker/cli
    does: Ctrl-C exits 130; an engine error is ``Error response from daemon: ...``
    (without the prefix for the client's own), exit 1; a closed pipe on stdout exits 1
    as click's main makes it (:func:`broken_pipe`); another
    OSError (``--root`` naming a file) and an SQLite error no store turned into an engine
    error are one ``Error: ...`` line, exit 125. Anything else is re-raised (a bug: its
    traceback), as is everything with ``DOCKYARD_DEBUG`` set."""
    import os

    from dockyard.errors import EXIT_ENGINE, DockyardError

    debug = bool(os.environ.get("DOCKYARD_DEBUG"))
    if isinstance(e, KeyboardInterrupt):
        from dockyard.engine.gc import command_interrupted

        command_interrupted()  # the next command collects what it left half-made
        sys.exit(130)
    if isinstance(e, DockyardError) and not debug:
        prefix = "" if getattr(e, "from_client", False) else "Error response from daemon: "
        print(f"{prefix}{e}", file=sys.stderr)
        sys.exit(1)
    if isinstance(e, BrokenPipeError):
        sys.exit(broken_pipe())
    if isinstance(e, OSError) and not debug:
        where = f": {e.filename}" if e.filename else ""
        print(f"Error: {e.strerror or e}{where}", file=sys.stderr)
        sys.exit(EXIT_ENGINE)
    sqlite3 = sys.modules.get("sqlite3")
    if not debug and sqlite3 is not None and isinstance(e, sqlite3.Error):
        print(f"Error: the state database: {e}", file=sys.stderr)
        sys.exit(EXIT_ENGINE)
    raise e


def reopen_closed_streams() -> None:
    """Give a command started with stdout or stderr closed (``dockyard ps >&-``; Python
    then sets ``sys.stdout`` to None and every print raised AttributeError, a traceback)
    /dev/null in their place: its output is lost and the command works, as docker/cli's
    writes to a closed descriptor fail silently. The lowest free descriptors are taken,
    so the new files are fd 1 and 2."""
    import os

    for name in ("stdin", "stdout", "stderr"):
        if getattr(sys, name) is None:
            fd = os.open(os.devnull, os.O_RDONLY if name == "stdin" else os.O_WRONLY)
            setattr(sys, name, open(fd, "r" if name == "stdin" else "w", closefd=False))


def broken_pipe() -> int:
    """After a write to a closed pipe (``dockyard ps | head``): stdout pointed at
    /dev/null, so the interpreter's last flush of what is still buffered neither fails
    nor prints "Exception ignored"; returns the exit status, 1, as click's main exits for
    EPIPE (the click path and the fast paths end alike)."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 1


def terminate(signum: int, _frame: object) -> None:
    """SIGTERM's handler for every command: unwind as Ctrl-C does (exit 128 + 15), so
    the command's clean-up runs (``run`` forwards the signal to its container)."""
    raise SystemExit(128 + signum)
