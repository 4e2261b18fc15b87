"""``docker attach``: the monitor serves each running container's output and stdin on a
unix socket, ``<runroot>/<id>.attach``; clients connect to it.

Server to client: Docker's multiplexed stream (moby ``stdcopy``): frames of an 8-byte
header ``[stream, 0, 0, 0, size (big-endian uint32)]`` (stream 1 stdout, 2 stderr; a tty's
output is stdout) then ``size`` bytes, each written to every client as the monitor writes
it to the log. Client to server: frames with the same header, type 0 for bytes of the
container's stdin (used only with ``OpenStdin``) and type 4 for a tty's new size
(``rows, columns`` as two big-endian uint16; Docker's API has a resize call for this);
the client's half-close is stdin's end of file, which closes the container's stdin when
``StdinOnce``. The server closes every connection once the container has exited and its
last output is sent.

The socket's path can exceed ``sun_path`` (108 bytes) under a long runroot, so both ends
name it through ``/proc/self/fd/<runroot dirfd>/``, which always fits.
"""

from __future__ import annotations

import contextlib
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterator

from dockyard.errors import Conflict, DockyardError

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    import socket

    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container

STDIN, STDOUT, STDERR, RESIZE = 0, 1, 2, 4
_HEADER = struct.Struct(">BxxxI")


def socket_name(container_id: str) -> str:
    """The attach socket's file name inside the runroot."""
    return f"{container_id}.attach"


@contextlib.contextmanager
def _short_path(runroot: str, name: str) -> Iterator[str]:
    """A path to ``runroot/name`` short enough for ``sun_path``, valid inside the block."""
    dirfd = os.open(runroot, os.O_PATH | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{dirfd}/{name}"
    finally:
        os.close(dirfd)


def frame(stream: int, data: bytes) -> bytes:
    """One multiplexed frame of ``data`` on ``stream`` (1 stdout, 2 stderr)."""
    return _HEADER.pack(stream, len(data)) + data


def listen(runroot: str, container_id: str) -> socket.socket:
    """Bind and listen on the attach socket of ``container_id`` (a stale one replaced);
    the monitor serves it (:class:`dockyard.container.monitor.Watch`) and removes it."""
    os.makedirs(runroot, mode=0o700, exist_ok=True)
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        name = socket_name(container_id)
        with contextlib.suppress(FileNotFoundError), _short_path(runroot, name) as path:
            os.unlink(path)
        with _short_path(runroot, name) as path:
            sock.bind(path)
        sock.listen(16)
    except BaseException:
        sock.close()
        raise
    return sock


def connect(manager: ContainerManager, container_id: str) -> socket.socket:
    """A connection to the running container's attach socket; Conflict (Docker-like
    text) when it has none (a foreground run holds its output)."""
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_path(manager.paths.runroot, socket_name(container_id)) as path:
            sock.connect(path)
    except OSError:
        sock.close()
        if _exiting(manager, container_id):
            # Its monitor closed the socket on the way out: stopped, as Docker says.
            raise Conflict("You cannot attach to a stopped container, start it first") from None
        raise Conflict(
            f"container {container_id} has no attach socket: it was started by a foreground "
            "run, which holds its output"
        ) from None
    return sock


def _exiting(manager: ContainerManager, container_id: str) -> bool:
    """Whether the container has stopped or is stopping: not running any more, or its
    PID 1 gone or a zombie while the monitor records the exit. Raises NotFound."""
    c = manager.reconcile(manager.store.get(container_id))
    pid = c.state.get("Pid") or 0
    if not c.state["Running"] or pid <= 0:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return True
    return stat[stat.rindex(b")") + 2 : stat.rindex(b")") + 3] in (b"Z", b"X")


DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q"
# moby/term's names of the control characters, by code: ctrl-@ is 0, ctrl-a 1, ...
_CTRL_NAMES = ["ctrl-@"] + [f"ctrl-{chr(c)}" for c in range(ord("a"), ord("z") + 1)]
_CTRL_NAMES += ["ctrl-[", "ctrl-\\", "ctrl-]", "ctrl-^", "ctrl-_"]


def parse_detach_keys(text: str) -> bytes:
    """``--detach-keys`` (``ctrl-p,ctrl-q``, ``ctrl-a,x``: comma-separated single
    characters, ``ctrl-<a-z @ [ \\ ] ^ _>`` or ``DEL``) as bytes (moby/term ``ToBytes``).

    Raises InvalidArgument with the daemon's message."""
    from dockyard.errors import InvalidArgument

    codes = bytearray()
    for key in text.split(","):
        # One byte as Go's len(key) counts it: "é" is two (refused), and an argument's
        # byte that is not UTF-8 (a surrogate here) is that byte.
        raw = key.encode("utf-8", "surrogateescape")
        if len(raw) == 1:
            codes += raw
        elif key in _CTRL_NAMES:
            codes.append(_CTRL_NAMES.index(key))
        elif key == "DEL":
            codes.append(127)
        else:
            raise InvalidArgument(f"Invalid detach keys ({text}) provided")
    return bytes(codes)


class EscapeFilter:
    """Finds the detach sequence in a terminal's input (moby/term ``EscapeProxy``):
    bytes that may begin it are held back, and sent on when what follows differs."""

    def __init__(self, keys: bytes) -> None:
        self.keys = keys
        self.held = b""

    def feed(self, data: bytes) -> tuple[bytes, bool]:
        """The bytes to pass on, and whether the whole sequence was typed (then nothing
        after it is passed on)."""
        out = bytearray()
        for byte in data:
            candidate = self.held + bytes([byte])
            if self.keys.startswith(candidate):
                if candidate == self.keys:
                    return bytes(out), True
                self.held = candidate
            else:
                out += candidate
                self.held = b""
        return bytes(out), False


class _Sender:
    """Frames to the monitor from two threads (stdin, and window size changes from
    the SIGWINCH handler), one whole frame at a time."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()

    def send(self, kind: int, data: bytes) -> bool:
        with self.lock:
            try:
                self.sock.sendall(frame(kind, data))
            except OSError:
                return False
        return True

    def resize(self, *_: object) -> None:
        """Send this terminal's size (rows, columns), if there is one."""
        import fcntl
        import termios

        for fd in (0, 1):
            with contextlib.suppress(OSError):
                packed = fcntl.ioctl(fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
                rows, cols = struct.unpack("HHHH", packed)[:2]
                self.send(RESIZE, struct.pack(">HH", rows, cols))
                return


def attach(
    manager: ContainerManager,
    ref: str,
    stdin: bool = True,
    sig_proxy: bool = True,
    detach_keys: str | None = None,
) -> int | None:
    """``docker attach``: copy the running container ``ref``'s output to this process's
    stdout/stderr from now on, this process's stdin to its stdin (with ``stdin`` and a
    container created with ``-i``), forward signals (``sig_proxy``, not for a tty) and
    return its exit code once it stops (Docker's behaviour).

    With a tty, the terminal's size is sent at once and on every SIGWINCH, and typing
    ``detach_keys`` (default ctrl-p,ctrl-q) detaches: the container keeps running and
    this returns None (Docker's ``attach`` then says ``read escape sequence``, exit 1;
    ``start -a`` exits 0).

    Raises NotFound, InvalidArgument (bad ``detach_keys``), or Conflict with Docker's
    texts for a stopped, paused or restarting container, or DockyardError("the input
    device is not a TTY").
    """
    keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    c = manager.reconcile(manager.store.get(ref))
    if c.state.get("Restarting"):
        raise Conflict("You cannot attach to a restarting container, wait until it is running")
    if not c.state["Running"]:
        raise Conflict("You cannot attach to a stopped container, start it first")
    if c.state.get("Paused"):
        raise Conflict("You cannot attach to a paused container, unpause it first")
    tty = bool(c.config.get("Tty"))
    forward_stdin = stdin and bool(c.config.get("OpenStdin"))
    if tty and forward_stdin and not os.isatty(0):
        raise DockyardError("the input device is not a TTY")
    sock = connect(manager, c.id)
    if _session(manager, c, sock, forward_stdin, sig_proxy and not tty, keys, lambda: None):
        return None
    return manager.wait(c.id)


def run_monitored(
    manager: ContainerManager,
    c: Container,
    sig_proxy: bool = True,
    detach_keys: str | None = None,
) -> int:
    """Start the created container ``c`` under its monitor (as ``run -d``) with this
    process as its first attach client, as the docker CLI's ``run`` attaches before it
    starts: the container's output from its first byte (the streams ``-a`` names), this
    process's stdin with ``-i`` (a tty: in raw mode, watched for ``detach_keys``, default
    ctrl-p,ctrl-q), signals forwarded with ``sig_proxy``. Without forwarding, SIGINT and
    SIGTERM are counted as the docker CLI counts them: the third ends this process (exit
    1), the container running on.

    Returns Docker's exit status once the container has stopped (and, with
    ``AutoRemove``, been removed), or 0 when the detach keys ended the session (the
    container runs on; docker/cli's ``run`` and ``start -a`` print nothing). Raises
    InvalidArgument (bad ``detach_keys``), RuntimeFailure as
    :meth:`ContainerManager.start_detached`."""
    import select
    import socket

    keys = parse_detach_keys(detach_keys or DEFAULT_DETACH_KEYS)
    config = c.config
    stdin = bool(config.get("OpenStdin") and config.get("AttachStdin", True))
    streams = {
        n
        for n, key in ((STDOUT, "AttachStdout"), (STDERR, "AttachStderr"))
        if config.get(key, True)
    }
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    monitor = -1

    def start() -> None:
        nonlocal monitor
        try:
            manager.start_detached(c, client=theirs.fileno())
        finally:
            theirs.close()
        monitor = manager._monitor_pidfd(c)

    try:
        if _session(manager, c, ours, stdin, sig_proxy, keys, start, streams):
            return 0
        status = manager.wait(c.id)
        if c.host_config.get("AutoRemove") and monitor >= 0:
            # As docker/cli's run --rm waits for "removed": the monitor removes it, then ends.
            select.select([monitor], [], [])
        return status
    finally:
        if monitor >= 0:
            os.close(monitor)


def _session(
    manager: ContainerManager,
    c: Container,
    sock: socket.socket,
    stdin: bool,
    sig_proxy: bool,
    keys: bytes,
    start: Callable[[], None],
    streams: frozenset[int] | set[int] = frozenset((STDOUT, STDERR)),
) -> bool:
    """Carry an attach session on the connected ``sock`` until the server ends it, and
    return whether the detach keys ended it instead. ``start()`` runs once this
    process's terminal and signal handling are set up (before the output is read);
    ``streams``: the output streams written out (the others dropped). The socket is
    closed at the end."""
    import signal

    from dockyard.container.signals import PROXIED_SIGNALS

    tty = bool(c.config.get("Tty"))
    sender = _Sender(sock)
    previous: dict[int, object] = {}
    detached = threading.Event()
    with contextlib.ExitStack() as undo:
        undo.callback(sock.close)
        undo.callback(_restore_handlers, previous)
        if sig_proxy:

            def forward(signum: int, _frame: object) -> None:
                with contextlib.suppress(DockyardError):
                    manager.kill(c.id, signum)

            for sig in PROXIED_SIGNALS:
                with contextlib.suppress(OSError, ValueError):
                    previous[sig] = signal.signal(sig, forward)
        else:
            counted = [0]

            def count(_signum: int, _frame: object) -> None:
                # docker/cli's forceExitAfter3TerminationSignals.
                counted[0] += 1
                if counted[0] >= 3:
                    print("\ngot 3 SIGTERM/SIGINTs, forcefully exiting", file=sys.stderr)
                    raise SystemExit(1)

            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, count)
        if tty and stdin:
            import termios
            import tty as tty_mod

            saved_attrs = termios.tcgetattr(0)
            tty_mod.setraw(0)
            # TCSANOW, as moby/term's RestoreTerminal: a drain would wait for a terminal
            # that takes no output (the session detached while a write to it blocked).
            undo.callback(termios.tcsetattr, 0, termios.TCSANOW, saved_attrs)
        start()
        if tty:
            previous[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, sender.resize)
            sender.resize()
        if stdin:
            escape = EscapeFilter(keys) if tty else None
            threading.Thread(
                target=_send_stdin, args=(sender, escape, detached), daemon=True
            ).start()
        if tty and stdin:
            _receive_until_detached(sock, streams, detached)
        else:
            _receive(sock, streams)
    return detached.is_set()


def _receive_until_detached(
    sock: socket.socket, streams: frozenset[int] | set[int], detached: threading.Event
) -> None:
    """:func:`_receive` in a thread left behind once the detach keys are typed: they end
    the session even while a write to a terminal that takes no output blocks (docker/cli's
    input copy ends it without its output copy). Raises what :func:`_receive` raised."""
    failed: list[BaseException] = []

    def receive() -> None:
        try:
            _receive(sock, streams)
        except BaseException as e:  # handed to the caller's thread
            failed.append(e)

    thread = threading.Thread(target=receive, daemon=True)
    thread.start()
    while thread.is_alive() and not detached.is_set():
        thread.join(0.05)  # signal handlers run between the waits
    if failed and not detached.is_set():
        raise failed[0]


def _restore_handlers(previous: dict[int, object]) -> None:
    import signal

    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _send_stdin(sender: _Sender, escape: EscapeFilter | None, detached: threading.Event) -> None:
    """Copy this process's stdin to the socket; half-close it at end of file. With
    ``escape``, end the session instead when the detach keys are typed."""
    import socket

    sock = sender.sock
    while True:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            return
        if escape is not None:
            data, detach = escape.feed(data)
            if detach:
                if data:
                    sender.send(STDIN, data)
                detached.set()
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)  # ends _receive in the main thread
                return
        if data and not sender.send(STDIN, data):
            return


def _read_exact(sock: socket.socket, size: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < size:
        try:
            chunk = sock.recv(size - len(buf))
        except OSError:
            chunk = b""
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _receive(sock: socket.socket, streams: frozenset[int] | set[int]) -> None:
    """Write each frame of ``streams`` to fd 1 or 2 until the server ends the stream."""
    sys.stdout.flush()
    while True:
        header = _read_exact(sock, _HEADER.size)
        if header is None:
            return
        stream, size = _HEADER.unpack(header)
        data = _read_exact(sock, size)
        if data is None:
            return
        if stream not in streams:
            continue
        view = memoryview(data)
        while view:
            view = view[os.write(2 if stream == STDERR else 1, view) :]
