"""Registry connections another thread can cut: Ctrl-C during a pull or push.

A thread blocked reading a socket (a registry that accepted the connection and sends
nothing) wakes only when the socket is shut down, not when it is closed or when its
timeout (30 s) runs out. ``AbortableBackend`` is an httpcore network backend (httpcore's
own ``SyncBackend`` underneath) that keeps a duplicate of each connection's socket
descriptor: :meth:`AbortableBackend.abort` shuts them all down (``shutdown(2)`` acts on
the connection, whichever descriptor names it), so every read or TLS handshake under
way fails at once, and refuses new connections. The duplicate is closed with its
connection.
"""

from __future__ import annotations

import os
import socket
import threading
from typing import Any


class AbortableBackend:
    """httpcore's ``NetworkBackend`` interface (``connect_tcp``, ``connect_unix_socket``,
    ``sleep``) over ``httpcore.SyncBackend``, with :meth:`abort` and :meth:`close`.
    Thread-safe."""

    def __init__(self) -> None:
        import httpcore

        self._backend = httpcore.SyncBackend()
        self._handles: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._aborted = False

    def _refuse_if_aborted(self) -> None:
        if self._aborted:
            import httpcore

            raise httpcore.ConnectError("the command was interrupted")

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> _Stream:
        """Connect as ``SyncBackend.connect_tcp``; raises ``httpcore.ConnectError`` once
        aborted."""
        self._refuse_if_aborted()
        return self._track(
            self._backend.connect_tcp(host, port, timeout, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> _Stream:
        """Connect as ``SyncBackend.connect_unix_socket``."""
        self._refuse_if_aborted()
        return self._track(self._backend.connect_unix_socket(path, timeout, socket_options))

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds`` (httpcore's retry back-off)."""
        self._backend.sleep(seconds)

    def _track(self, stream: Any) -> _Stream:
        sock = stream.get_extra_info("socket")
        try:
            handle = socket.socket(fileno=os.dup(sock.fileno()))
        except BaseException:
            stream.close()
            raise
        with self._lock:
            self._handles.add(handle)
            aborted = self._aborted
        if aborted:  # aborted while this one connected
            _shutdown(handle)
        return _Stream(stream, handle, self)

    def forget(self, handle: socket.socket) -> None:
        """Close the duplicate ``handle`` of a connection that was closed."""
        with self._lock:
            self._handles.discard(handle)
        handle.close()

    def abort(self) -> None:
        """Shut down every connection (reads and writes under way fail at once) and
        refuse new ones."""
        with self._lock:
            self._aborted = True
            handles = list(self._handles)
        for handle in handles:
            _shutdown(handle)

    def close(self) -> None:
        """Close the duplicates of the connections still open (the client is closed)."""
        with self._lock:
            handles = list(self._handles)
            self._handles.clear()
        for handle in handles:
            handle.close()


def _shutdown(handle: socket.socket) -> None:
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:  # not connected any more
        pass


class _Stream:
    """One connection: httpcore's stream and the duplicate of its descriptor."""

    def __init__(self, stream: Any, handle: socket.socket, owner: AbortableBackend) -> None:
        self._stream, self._handle, self._owner = stream, handle, owner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._stream.read(max_bytes, timeout)
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, timeout)

    def close(self) -> None:
        try:
            self._stream.close()
        finally:
            self._owner.forget(self._handle)

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> _Stream:
        try:
            tls = self._stream.start_tls(ssl_context, server_hostname, timeout)
        except BaseException:  # httpcore closed the socket; it forgets this stream
            self._owner.forget(self._handle)
            raise
        return _Stream(tls, self._handle, self._owner)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)
