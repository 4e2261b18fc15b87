"""The facade's attach operations (Engine API v1.51: ContainerAttach, ContainerResize):
a container's output and stdin as a stream of (stream, bytes) pairs for a front end to
carry (the API service over a hijacked connection).

A running container is attached through its monitor's attach socket (new output from
now on, stdin, resize frames). A container that is not running yet is attached as
``docker run`` does it, before the start: the attachment waits for the start and then
follows the run's json-file log from where it ended at attach time, so no output of the
run is lost (the attach socket exists only once the container runs).
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator

from dockyard.engine.base import EngineBase
from dockyard.errors import Conflict, DockyardError, NotFound

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    import socket

    from dockyard.container.attach import EscapeFilter
    from dockyard.container.store import Container

_HEADER = struct.Struct(">BxxxI")
_STREAMS = {"stdout": 1, "stderr": 2}
#: Seconds between checks of the container's state and the caller's ``alive``.
POLL = 0.05


def escape_filter(detach_keys: str | None) -> EscapeFilter:
    """The filter that finds ``detach_keys`` (Docker's syntax; Ctrl-P Ctrl-Q when None)
    in a terminal's input, for a front end relaying one (an attached exec).
    Raises InvalidArgument for bad keys."""
    from dockyard.container.attach import DEFAULT_DETACH_KEYS, EscapeFilter, parse_detach_keys

    return EscapeFilter(parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS))


class Attachment:
    """An attached container. ``tty``: the container has a terminal (its output is one
    raw stream, reported as stdout). :meth:`output` yields (stream, bytes), stream 1
    stdout and 2 stderr; :meth:`write_stdin` / :meth:`close_stdin` feed its stdin (when
    attached with ``stdin`` and the container has ``OpenStdin``); :meth:`close` ends it."""

    def __init__(
        self,
        engine: AttachOperations,
        c: Container,
        stdin: bool,
        stdout: bool,
        stderr: bool,
        logs: bool,
        stream: bool,
        detach_keys: str | None,
    ) -> None:
        from dockyard.container.attach import DEFAULT_DETACH_KEYS, EscapeFilter, parse_detach_keys

        self._engine = engine
        self._id = c.id
        self.tty = bool(c.config.get("Tty"))
        self._wanted = {1} if stdout else set()
        if stderr:
            self._wanted.add(2)
        self._logs = logs
        self._stream = stream
        self._stdin = stdin and bool(c.config.get("OpenStdin"))
        # The daemon, not the client, watches a tty's input for the detach keys.
        keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
        self._escape = EscapeFilter(keys) if self.tty and self._stdin else None
        self.detached = False
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._pending: list[bytes] = []
        self._stdin_closed = False
        self._running = bool(c.state.get("Running"))
        self._started_at = c.state.get("StartedAt")
        self._log = engine.paths.container_dir(c.id)
        self._log = os.path.join(self._log, f"{c.id}-json.log")
        # Where the log ends now: a run that starts later is followed from here.
        try:
            self._offset = os.path.getsize(self._log)
        except OSError:
            self._offset = 0
        if self._running and stream:
            self._sock = engine._attach_socket(c.id)

    # -- stdin -------------------------------------------------------------------------

    def write_stdin(self, data: bytes) -> bool:
        """Send ``data`` to the container's stdin (held until the container runs);
        ignored when stdin is not attached, as Docker does. False once the detach keys
        were typed (a tty's input): the caller ends the attachment, the container runs
        on (:attr:`detached` is then True)."""
        if not self._stdin or not data:
            return True
        if self._escape is not None:
            data, self.detached = self._escape.feed(data)
        with self._lock:
            if self._sock is None:
                self._pending.append(data)
            elif data:
                with contextlib.suppress(OSError):
                    self._sock.sendall(_HEADER.pack(0, len(data)) + data)
        return not self.detached

    def close_stdin(self) -> None:
        """End of the caller's stdin: the container's stdin is closed if it is
        ``StdinOnce`` (the monitor's rule)."""
        import socket

        with self._lock:
            self._stdin_closed = True
            if self._sock is not None and self._stdin:
                with contextlib.suppress(OSError):
                    self._sock.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Release the attach socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    # -- output ------------------------------------------------------------------------

    def output(
        self, alive: Callable[[], bool] = lambda: True
    ) -> Iterator[tuple[int, bytes] | None]:
        """The container's output: with ``logs``, what it logged so far; with
        ``stream``, then what it writes until it exits (or until ``alive()`` is false,
        checked every :data:`POLL` seconds; ``None`` is yielded at each such check so a
        caller can look at its client too)."""
        if self._logs:
            for stream, data in self._read_log(0, until_offset=self._offset):
                if stream in self._wanted:
                    yield stream, data
        if not self._stream:
            return
        if self._sock is not None:
            yield from self._from_socket(alive)
            return
        yield from self._follow_run(alive)

    def _from_socket(self, alive: Callable[[], bool]) -> Iterator[tuple[int, bytes] | None]:
        assert self._sock is not None
        sock = self._sock
        sock.settimeout(POLL)
        buf = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                if not alive():
                    return
                yield None
                continue
            except OSError:
                return
            if not chunk:
                return
            buf += chunk
            while len(buf) >= _HEADER.size:
                stream, size = _HEADER.unpack_from(buf)
                if len(buf) < _HEADER.size + size:
                    break
                data = buf[_HEADER.size : _HEADER.size + size]
                buf = buf[_HEADER.size + size :]
                if stream in self._wanted:
                    yield stream, data

    def _read_log(
        self, offset: int, until_offset: int | None = None
    ) -> Iterator[tuple[int, bytes]]:
        try:
            with open(self._log, "rb") as f:
                f.seek(offset)
                data = f.read() if until_offset is None else f.read(max(until_offset - offset, 0))
        except OSError:
            return
        for line in data.split(b"\n"):
            entry = _decode(line)
            if entry is not None:
                yield entry

    def _follow_run(self, alive: Callable[[], bool]) -> Iterator[tuple[int, bytes] | None]:
        """Not running at attach time: wait for the start, then follow the run's log
        from where it ended at attach time until the run has ended. The log is opened as
        soon as it exists, so a run that ends and is removed (``--rm``) at once is
        still read whole."""
        f = None
        pending = b""
        started = False
        with contextlib.suppress(OSError):
            # The log made now (the monitor appends to it) and held open: a run that
            # starts, ends and is auto-removed between two polls is still read whole.
            os.close(
                os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
            )
            f = open(self._log, "rb")  # noqa: SIM115 - closed below
            f.seek(self._offset)
        try:
            while True:
                self._drain()
                if f is None:
                    with contextlib.suppress(OSError):
                        f = open(self._log, "rb")  # noqa: SIM115 - closed below
                        f.seek(self._offset)
                try:
                    c: Container | None = self._engine._current(self._id)
                except NotFound:
                    c = None
                if c is not None and not started:
                    started = (
                        bool(c.state.get("Running")) or c.state.get("StartedAt") != self._started_at
                    )
                running = c is not None and bool(c.state.get("Running"))
                if started and running and self._stdin and self._sock is None:
                    # Until the monitor's attach socket is there (it comes just after
                    # the start is recorded).
                    self._connect_stdin()
                data = f.read() if f is not None else b""
                if data:
                    lines = (pending + data).split(b"\n")
                    pending = lines.pop()
                    for line in lines:
                        entry = _decode(line)
                        if entry is not None and entry[0] in self._wanted:
                            yield entry
                    continue
                # Nothing new: the run's output is complete once it has ended.
                if c is None or (started and not running) or not alive():
                    return
                yield None
                time.sleep(POLL if started else POLL / 5)
        finally:
            if f is not None:
                f.close()

    def _drain(self) -> None:
        """Discard what the attach socket sent (the output, read from the log here) so
        the monitor never finds this client slow."""
        import socket

        if self._sock is None:
            return
        with contextlib.suppress(OSError):
            while self._sock.recv(65536, socket.MSG_DONTWAIT):
                pass

    def _connect_stdin(self) -> None:
        """Once the container runs: its attach socket for stdin, and what was held."""
        import socket

        if not self._stdin:
            return
        with contextlib.suppress(DockyardError), self._lock:
            if self._sock is not None:
                return
            sock = self._engine._attach_socket(self._id)
            with contextlib.suppress(OSError):
                for data in self._pending:
                    sock.sendall(_HEADER.pack(0, len(data)) + data)
                if self._stdin_closed:
                    sock.shutdown(socket.SHUT_WR)
            self._pending.clear()
            self._sock = sock


def _decode(line: bytes) -> tuple[int, bytes] | None:
    try:
        obj = json.loads(line)
        return _STREAMS.get(obj["stream"], 1), obj["log"].encode()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


class AttachOperations(EngineBase):
    """Attach and resize (Engine API: Container)."""

    def container_attach_stream(
        self,
        id: str,
        stdin: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        stream: bool = True,
        logs: bool = False,
        detach_keys: str | None = None,
    ) -> Attachment:
        """``POST /containers/{id}/attach`` for a front end that carries the stream
        itself (the API service): an :class:`Attachment` (``container_attach`` attaches
        this process's own stdio)
        (``detach_keys``: Docker's ``ctrl-p,ctrl-q`` syntax, that default when None).
        Raises NotFound, InvalidArgument (bad detach keys), or Conflict for a paused or
        restarting container (Docker's texts)."""
        c = self._current(id)
        if c.state.get("Restarting"):
            raise Conflict("You cannot attach to a restarting container, wait until it is running")
        if c.state.get("Paused"):
            raise Conflict("You cannot attach to a paused container, unpause it first")
        attachment = Attachment(self, c, stdin, stdout, stderr, logs, stream, detach_keys)
        self.containers.event(c, "attach")
        return attachment

    def container_resize(self, id: str, height: int, width: int) -> None:
        """``POST /containers/{id}/resize``: set the running container's terminal to
        ``height`` rows and ``width`` columns. Raises NotFound, Conflict (not running:
        Docker's text), InvalidArgument (no terminal)."""
        from dockyard.errors import InvalidArgument

        c = self._current(id)
        if not c.state.get("Running"):
            raise Conflict(f"Container {c.id} is not running")
        if not c.config.get("Tty"):
            raise InvalidArgument(f"container {c.id} has no terminal to resize")
        with self._attach_socket(c.id) as sock:
            sock.sendall(_HEADER.pack(4, 4) + struct.pack(">HH", height, width))
        self.containers.event(c, "resize", height=str(height), width=str(width))

    def _current(self, id: str) -> Container:
        return self.containers.reconcile(self.container_store.get(id))

    def _is_running(self, id: str) -> bool:
        try:
            return bool(self._current(id).state.get("Running"))
        except NotFound:
            return False

    def _attach_socket(self, container_id: str) -> socket.socket:
        from dockyard.container.attach import connect

        return connect(self.containers, container_id)
