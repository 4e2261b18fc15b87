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
import socket
import struct
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dockyard.errors import Conflict, DockyardError

if TYPE_CHECKING:
    from dockyard.container.manager import ContainerManager

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


def _connect(manager: ContainerManager, container_id: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        with _short_path(manager.paths.runroot, socket_name(container_id)) as path:
            sock.connect(path)
    except OSError:
        sock.close()
        raise Conflict(
            f"container {container_id} has no attach socket: it was started by a foreground "
            "run, which holds its output"
        ) from None
    return sock


def attach(manager: ContainerManager, ref: str, stdin: bool = True, sig_proxy: bool = True) -> int:
    """``docker attach``: copy the running container ``ref``'s output to this process's
    stdout/stderr from now on, this process's stdin to its stdin (with ``stdin`` and a
    container created with ``-i``), forward signals (``sig_proxy``, not for a tty) and
    return its exit code once it stops (Docker's behaviour).

    Raises NotFound, or Conflict with Docker's texts for a stopped, paused or restarting
    container, or DockyardError("the input device is not a TTY").
    """
    import signal

    from dockyard.container.signals import PROXIED_SIGNALS

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
    sock = _connect(manager, c.id)
    previous: dict[int, object] = {}
    saved_attrs = None
    with contextlib.ExitStack() as undo:
        undo.callback(sock.close)
        if sig_proxy and not tty:

            def forward(signum: int, _frame: object) -> None:
                with contextlib.suppress(DockyardError):
                    manager.kill(c.id, signum)

            for sig in PROXIED_SIGNALS:
                with contextlib.suppress(OSError, ValueError):
                    previous[sig] = signal.signal(sig, forward)
            undo.callback(_restore_handlers, previous)
        if tty and forward_stdin:
            import termios
            import tty as tty_mod

            saved_attrs = termios.tcgetattr(0)
            tty_mod.setraw(0)
            undo.callback(termios.tcsetattr, 0, termios.TCSADRAIN, saved_attrs)
        if forward_stdin:
            threading.Thread(target=_send_stdin, args=(sock,), daemon=True).start()
        _receive(sock)
    return manager.wait(c.id)


def _restore_handlers(previous: dict[int, object]) -> None:
    import signal

    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _send_stdin(sock: socket.socket) -> None:
    """Copy this process's stdin to the socket; half-close it at end of file."""
    while True:
        try:
            data = os.read(0, 65536)
        except OSError:
            data = b""
        if not data:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_WR)
            return
        try:
            sock.sendall(frame(STDIN, data))
        except OSError:
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


def _receive(sock: socket.socket) -> None:
    """Write each frame to fd 1 or 2 until the server ends the stream."""
    sys.stdout.flush()
    while True:
        header = _read_exact(sock, _HEADER.size)
        if header is None:
            return
        stream, size = _HEADER.unpack(header)
        data = _read_exact(sock, size)
        if data is None:
            return
        view = memoryview(data)
        while view:
            view = view[os.write(2 if stream == STDERR else 1, view) :]
