"""``-t``: receive the container's pty master over a console socket (runc's
``--console-socket`` protocol, SCM_RIGHTS) and relay it to the caller's terminal."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import struct
import tempfile
import termios
import threading
import tty
from types import TracebackType
from typing import TYPE_CHECKING

from dockyard.container import fdwait

if TYPE_CHECKING:
    from dockyard.container.attach import EscapeFilter
    from dockyard.container.jsonfile import JsonFileWriter

_MAX_SUN_PATH = 100


class ConsoleSocket:
    """A listening unix socket for one container's console.

    ``path`` is passed to the runtime; ``receive()`` accepts the runtime's connection and
    takes the pty master; ``relay_start()`` copies stdin to it and it to stdout in a thread
    until the container closes its side; ``close()`` restores the terminal.
    """

    def __init__(self, runroot: str, container_id: str) -> None:
        os.makedirs(runroot, mode=0o700, exist_ok=True)
        base = runroot if len(runroot) < _MAX_SUN_PATH - 40 else None
        self.dir = tempfile.mkdtemp(prefix="console-", dir=base)
        self.path = os.path.join(self.dir, "c.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.master: int | None = None
        self._thread: threading.Thread | None = None
        self._saved_attrs: list | None = None
        self._old_winch: object = None
        self._escape: EscapeFilter | None = None
        self._log: JsonFileWriter | None = None
        #: Set when the detach keys were typed (relay_start's ``escape``).
        self.detached = threading.Event()

    def __enter__(self) -> ConsoleSocket:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.remove()

    def remove(self) -> None:
        """Close the listening socket and remove it with its directory (again: no-op)."""
        self.sock.close()
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        with contextlib.suppress(OSError):
            os.rmdir(self.dir)

    def receive(self, timeout: float = 10.0) -> int:
        """Accept the runtime's connection and return the pty master fd it sent."""
        self.sock.settimeout(timeout)
        conn, _ = self.sock.accept()
        with conn:
            _, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        if not fds:
            raise OSError("the runtime sent no console file descriptor")
        self.master = fds[0]
        self._copy_winsize()
        return self.master

    def _copy_winsize(self, *_: object) -> None:
        if self.master is None:
            return
        for fd in (0, 1):
            with contextlib.suppress(OSError):
                size = fcntl.ioctl(fd, termios.TIOCGWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
                fcntl.ioctl(self.master, termios.TIOCSWINSZ, size)
                return

    def relay_start(
        self,
        interactive: bool,
        log: JsonFileWriter | None = None,
        escape: EscapeFilter | None = None,
    ) -> None:
        """Put the caller's terminal in raw mode and relay in a background thread; the
        container's output also goes to ``log`` (its json-file log), if given. With
        ``escape``, typing the detach keys ends the relay, sets :attr:`detached` and
        sends this process a SIGCHLD (which ends a ``wait_forwarding``)."""
        self._log = log
        self._escape = escape
        if interactive and os.isatty(0):
            self._saved_attrs = termios.tcgetattr(0)
            tty.setraw(0)
        self._old_winch = signal.signal(signal.SIGWINCH, self._copy_winsize)
        self._thread = threading.Thread(target=self._relay, args=(interactive,), daemon=True)
        self._thread.start()

    def _relay(self, interactive: bool) -> None:
        assert self.master is not None
        if interactive:
            # Its own thread: the detach keys are read even while this one's write to a
            # terminal that takes no output blocks (as docker/cli's input copy).
            threading.Thread(target=self._relay_input, args=(self.master,), daemon=True).start()
        # A copy of the master of its own: close() may close the master while a write to
        # the terminal blocks this thread, which then must not read a reused fd.
        master = os.dup(self.master)
        try:
            while not self.detached.is_set():
                try:
                    fdwait.wait([master])
                except InterruptedError:
                    continue
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    if self._log is not None:
                        self._log.finish("stdout")
                    return
                if self._log is not None:
                    self._log.feed("stdout", data)
                os.write(1, data)
        finally:
            os.close(master)

    def _relay_input(self, master: int) -> None:
        """Copy this process's stdin to the pty ``master`` until its end, or until the
        detach keys (:attr:`detached` set, a SIGCHLD sent to this process)."""
        while True:
            try:
                data = os.read(0, 65536)
            except OSError:
                return
            if not data:
                return
            if self._escape is not None:
                data, detach = self._escape.feed(data)
                if detach:
                    if data:
                        with contextlib.suppress(OSError):
                            os.write(master, data)
                    self.detached.set()
                    os.kill(os.getpid(), signal.SIGCHLD)
                    return
            if data and self.master is not None:
                try:
                    os.write(master, data)
                except OSError:
                    return

    def close(self, drain_timeout: float = 2.0) -> None:
        """Wait for the relay to drain the container's last output; restore the terminal."""
        if self._thread is not None:
            self._thread.join(drain_timeout)
        if self._saved_attrs is not None:
            # TCSANOW, as moby/term's RestoreTerminal: a drain would wait for a terminal
            # that takes no output (detached while a write to it blocked).
            termios.tcsetattr(0, termios.TCSANOW, self._saved_attrs)
        if self._old_winch is not None:
            signal.signal(signal.SIGWINCH, self._old_winch)  # type: ignore[arg-type]
        if self.master is not None:
            with contextlib.suppress(OSError):
                os.close(self.master)
            self.master = None
