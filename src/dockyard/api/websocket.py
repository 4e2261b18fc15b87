"""WebSocket (RFC 6455) connections for ``GET /containers/{id}/attach/ws``.

moby serves that endpoint with golang.org/x/net/websocket: the handshake on the request
(no Origin check), then the container's output as unframed data messages (binary from
API 1.28 on, text before) and the client's data messages as its stdin. The protocol
itself is :mod:`wsproto`'s (sans-I/O); this module carries its bytes over the request's
connection, safe for one reading and one writing thread.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from dockyard.errors import InvalidArgument


class WebSocket:
    """A server-side WebSocket on an accepted HTTP connection (``sock`` to write,
    ``reader`` to read: it may hold bytes that came with the handshake)."""

    def __init__(self, conn: Any, sock: Any, reader: Any, binary: bool) -> None:
        self._ws = conn
        self._sock = sock
        self._reader = reader
        self._binary = binary
        self._lock = threading.Lock()
        self._pending: list[bytes] = []
        self.closed = False
        self._peer_done = threading.Event()

    @classmethod
    def accept(cls, request_head: bytes, sock: Any, reader: Any, binary: bool = True) -> WebSocket:
        """Answer the opening handshake in ``request_head`` (the request line and
        headers, as received) with 101; ``binary``: send data as binary messages, else
        as text. Raises InvalidArgument (400) when the request is not a WebSocket
        handshake; nothing has been written then."""
        from wsproto import ConnectionType, WSConnection
        from wsproto.events import AcceptConnection, Request
        from wsproto.utilities import RemoteProtocolError

        conn = WSConnection(ConnectionType.SERVER)
        try:
            conn.receive_data(request_head)
            events = list(conn.events())
        except RemoteProtocolError as e:
            raise InvalidArgument(f"not a websocket handshake: {e}") from None
        if not any(isinstance(e, Request) for e in events):
            raise InvalidArgument("not a websocket handshake")
        sock.sendall(conn.send(AcceptConnection()))
        return cls(conn, sock, reader, binary)

    def send(self, data: bytes) -> None:
        """One data message. Raises OSError when the peer has gone."""
        from wsproto.events import BytesMessage, TextMessage

        message = (
            BytesMessage(data=data)
            if self._binary
            else TextMessage(data=data.decode("utf-8", errors="replace"))
        )
        with self._lock:
            if self.closed:
                raise BrokenPipeError("websocket closed")
            self._sock.sendall(self._ws.send(message))

    def receive(self) -> bytes | None:
        """The next data message's bytes (a ping is answered on the way); None once the
        peer closed the connection or it broke. For one reading thread."""
        from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
        from wsproto.utilities import LocalProtocolError, RemoteProtocolError

        while not self._pending:
            try:
                data = self._reader.read1(65536)
            except (OSError, ValueError):
                data = b""
            if not data:
                self._peer_done.set()
                return None
            try:
                with self._lock:
                    self._ws.receive_data(data)
                    events = list(self._ws.events())
            except RemoteProtocolError:
                self._peer_done.set()
                return None
            for event in events:
                if isinstance(event, BytesMessage):
                    self._pending.append(bytes(event.data))
                elif isinstance(event, TextMessage):
                    self._pending.append(event.data.encode())
                elif isinstance(event, Ping):
                    with self._lock, contextlib.suppress(OSError, LocalProtocolError):
                        self._sock.sendall(self._ws.send(event.response()))
                elif isinstance(event, CloseConnection):
                    with self._lock, contextlib.suppress(OSError, LocalProtocolError):
                        self._sock.sendall(self._ws.send(event.response()))
                    self.closed = True
                    self._peer_done.set()
                    return None
        return self._pending.pop(0)

    def close(self, grace: float = 1.0) -> None:
        """Send the closing handshake (normal closure) unless the peer closed first,
        give the peer up to ``grace`` seconds to answer it (while a thread reads with
        :meth:`receive`), then shut the connection down (so that reader returns)."""
        import socket

        from wsproto.events import CloseConnection
        from wsproto.utilities import LocalProtocolError

        with self._lock:
            sent = False
            if not self.closed:
                self.closed = True
                with contextlib.suppress(OSError, LocalProtocolError):
                    self._sock.sendall(self._ws.send(CloseConnection(code=1000)))
                    sent = True
        if sent:
            self._peer_done.wait(grace)
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
