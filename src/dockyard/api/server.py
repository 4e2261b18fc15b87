"""The Engine API's HTTP/1.1 server: connections, routing, errors, streams and hijacking.

One thread per connection (keep-alive, as Go's net/http), so a streaming request (``logs
-f``, ``events``, ``attach``) never holds up another client. Behaviour follows moby's
``api/server``: paths with and without a ``/vX.Y`` prefix (1.24 to 1.51, else 400 "client
version ... is too old/new"), errors as ``{"message": "..."}`` with the status of the
error's class (errdefs: 400 invalid parameter, 404 not found, 409 conflict, 304 not
modified, 500 otherwise), ``Api-Version``/``Ostype``/``Docker-Experimental``/``Server`` on
every response, chunked bodies for streams, ``Upgrade: tcp`` hijacking (101) for
attach and exec start, and WebSocket upgrades for attach/ws.

Limits a client cannot lift: a JSON body is at most :data:`MAX_JSON_BODY` bytes (413), a
request (line, headers, body) must keep arriving within :attr:`Service.read_timeout`
seconds per read (408 for a body, the connection is dropped for headers).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from dockyard import __version__
from dockyard.api import API_VERSION, MIN_API_VERSION
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound

if TYPE_CHECKING:
    import ssl

    from dockyard.api.websocket import WebSocket
    from dockyard.paths import Paths

#: Largest JSON request body accepted, in bytes (container create with a large Env fits).
MAX_JSON_BODY = 10 * 1024 * 1024
#: Default seconds a read of a request may stall before the connection is dropped.
READ_TIMEOUT = 60.0
#: Seconds the service waits at shutdown for requests in flight to finish.
SHUTDOWN_GRACE = 10.0
#: Seconds between two runs of the service's housekeeping (crash recovery).
HOUSEKEEPING_INTERVAL = 2.0


class APIError(DockyardError):
    """An error with an explicit HTTP status (``status``: int), e.g. 413, 501, 408."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class NotModified(DockyardError):
    """304: the operation had nothing to do (start of a running container, stop of a
    stopped one). Docker answers with an empty body."""


def status_of(err: BaseException) -> int:
    """The HTTP status for an engine error: an ``status`` or ``http_status`` attribute
    when the error has one, else by class (moby's errdefs.GetHTTPErrorStatusCode)."""
    for attr in ("status", "http_status", "status_code"):
        code = getattr(err, attr, None)
        if isinstance(code, int) and 100 <= code < 600:
            return code
    if isinstance(err, NotFound):
        return 404
    if isinstance(err, Conflict):
        return 409
    if isinstance(err, InvalidArgument):
        return 400
    if type(err).__name__ == "NotModified":
        return 304
    return 500


def parse_version(text: str) -> tuple[int, int]:
    """``"1.41"`` -> (1, 41)."""
    major, _, minor = text.partition(".")
    return int(major), int(minor or 0)


_VERSION_PREFIX = re.compile(r"^/v([0-9]+(?:\.[0-9]+)?)(/.*)$")

Route = tuple[str, "re.Pattern[str]", "Callable[[Request], None]"]


class Router:
    """Routes: (method, path pattern with ``{name}`` parts, handler). ``{name}`` matches one
    path segment; ``{name:path}`` the rest of the path (image names contain ``/``)."""

    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, pattern: str, handler: Callable[[Request], None]) -> None:
        regex = re.sub(
            r"\{(\w+)(:path)?\}",
            lambda m: f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)",
            pattern,
        )
        self.routes.append((method, re.compile(f"^{regex}$"), handler))

    def route(
        self, method: str, pattern: str
    ) -> Callable[[Callable[[Request], None]], Callable[[Request], None]]:
        """Decorator form of :meth:`add`."""

        def register(fn: Callable[[Request], None]) -> Callable[[Request], None]:
            self.add(method, pattern, fn)
            return fn

        return register

    def match(self, method: str, path: str) -> tuple[Callable[[Request], None], dict[str, str]]:
        """The handler and path variables; APIError 404 ``page not found`` (moby's text) when
        no route has the path, 405 when none has it with this method."""
        allowed = False
        for m, regex, handler in self.routes:
            found = regex.match(path)
            if found is None:
                continue
            if m == method or (method == "HEAD" and m == "GET"):
                # Clients percent-encode names (docker-py: a network "test 01"); the
                # daemon's router matches the decoded path.
                return handler, {k: unquote(v) for k, v in found.groupdict().items()}
            allowed = True
        if allowed:
            raise APIError(405, f"method {method} not allowed for {path}")
        raise APIError(404, "page not found")


class Request:
    """One API request as a route handler sees it: ``engine`` (the facade), ``method``,
    ``path`` (without the version prefix), ``version`` (the API version asked, or the
    newest), ``vars`` (path variables), ``query`` (name -> values), and the response
    methods. A handler sends exactly one response."""

    def __init__(
        self, handler: Handler, path: str, version: str, query: dict[str, list[str]]
    ) -> None:
        self._h = handler
        self._engine: Any = None
        self.method = handler.command
        self.path = path
        self.version = version
        self.query = query
        self.vars: dict[str, str] = {}
        self.headers = handler.headers
        self.service = handler.server
        self.started = False

    @property
    def engine(self) -> Any:
        """The facade for this request (made on first use; this thread only)."""
        if self._engine is None:
            self._engine = self.new_engine()
        return self._engine

    def new_engine(self) -> Any:
        """A facade object of its own, for another thread (an SQLite connection may not
        cross threads)."""
        return self._h.server.engine_factory()

    # -- the request -------------------------------------------------------------------

    def version_below(self, version: str) -> bool:
        """Whether the client asked for an API version older than ``version``."""
        return parse_version(self.version) < parse_version(version)

    def q(self, name: str, default: str | None = None) -> str | None:
        """The query parameter's first value, or ``default`` (Go's ``url.Values.Get``,
        which moby's handlers use: docker-py sends a Dockerfile outside the context as
        ``dockerfile=NAME&dockerfile=CONTENT``)."""
        values = self.query.get(name)
        return values[0] if values else default

    def q_bool(self, name: str, default: bool = False) -> bool:
        """A boolean parameter as moby's httputils.BoolValue: absent -> ``default``;
        "", "0", "no", "false", "none" -> False; anything else True."""
        value = self.q(name)
        if value is None:
            return default
        return value.strip().lower() not in ("", "0", "no", "false", "none")

    def q_int(self, name: str, default: int | None = None) -> int | None:
        """An integer parameter; InvalidArgument with Go's strconv message if malformed."""
        value = self.q(name)
        if value is None or value == "":
            return default
        try:
            return int(value, 10)
        except ValueError:
            raise InvalidArgument(f'strconv.Atoi: parsing "{value}": invalid syntax') from None

    def q_filters(self) -> dict[str, list[str]]:
        """The ``filters`` parameter (JSON ``{"key": {"value": true}}`` or the older
        ``{"key": ["value"]}``) as key -> values. InvalidArgument if malformed."""
        text = self.q("filters")
        if not text:
            return {}
        try:
            raw = json.loads(text)
        except ValueError as e:
            raise InvalidArgument(f"invalid filter: {e}") from None
        if not isinstance(raw, dict):
            raise InvalidArgument("invalid filter: want a JSON object")
        filters: dict[str, list[str]] = {}
        for key, value in raw.items():
            if isinstance(value, dict):
                filters[key] = [k for k, on in value.items() if on]
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                filters[key] = list(value)
            else:
                raise InvalidArgument(f"invalid filter: bad value for {key!r}")
        return filters

    def json(self, required: bool = False) -> Any:
        """The JSON body (None when empty and not ``required``), as moby's ReadJSON: a
        Content-Type other than application/json, malformed JSON or trailing data is
        InvalidArgument; a body over MAX_JSON_BODY is 413."""
        ctype = self.headers.get("Content-Type", "")
        data = self.body(MAX_JSON_BODY)
        if not data:
            if required:
                raise InvalidArgument("invalid JSON: got EOF while reading request body")
            return None
        if ctype and ctype.split(";")[0].strip().lower() != "application/json":
            raise InvalidArgument(f"Content-Type specified ({ctype}) must be 'application/json'")
        try:
            text = data.decode()
            value, end = json.JSONDecoder().raw_decode(text.lstrip())
        except (UnicodeDecodeError, ValueError) as e:
            raise InvalidArgument(f"invalid JSON: {e}") from None
        if text.lstrip()[end:].strip():
            raise InvalidArgument("unexpected content after JSON")
        return value

    def body(self, limit: int) -> bytes:
        """The whole body (Content-Length or chunked); APIError 413 past ``limit`` bytes."""
        out = bytearray()
        for chunk in self._h.body_chunks():
            out += chunk
            if len(out) > limit:
                raise APIError(413, f"request body too large: the limit is {limit} bytes")
        return bytes(out)

    def body_chunks(self) -> Iterator[bytes]:
        """The body as it arrives (for tar uploads)."""
        return self._h.body_chunks()

    # -- responses ---------------------------------------------------------------------

    def send(
        self,
        status: int,
        body: bytes = b"",
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        """A complete response with ``Content-Length``."""
        self._start(status, content_type, {**(headers or {}), "Content-Length": str(len(body))})
        if body and self.method != "HEAD":
            self._h.wfile.write(body)
        self._h.wfile.flush()

    def send_json(self, value: Any, status: int = 200) -> None:
        """``value`` as JSON (moby's WriteJSON: a trailing newline)."""
        self.send(
            status, json.dumps(value, separators=(",", ":")).encode() + b"\n", "application/json"
        )

    def send_empty(self, status: int = 204) -> None:
        """An empty response (204 No Content, 304 Not Modified, 201/200 without body)."""
        self._start(status, None, {} if status in (204, 304) else {"Content-Length": "0"})
        self._h.wfile.flush()

    def stream(self, chunks: Iterable[bytes | None], content_type: str) -> None:
        """A chunked response of ``chunks`` written as they come. A ``None`` item means
        "nothing yet": the client is checked, and if it has gone the stream ends (the
        iterator is closed, so its ``finally`` runs) without waiting for more output."""
        self._start(200, content_type, {"Transfer-Encoding": "chunked"})
        self._h.wfile.flush()
        if self.method == "HEAD":
            return
        it = iter(chunks)
        try:
            for chunk in it:
                if chunk is None:
                    if self.client_gone():
                        break
                    continue
                if chunk:
                    self._h.wfile.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    self._h.wfile.flush()
            else:
                self._h.wfile.write(b"0\r\n\r\n")
                self._h.wfile.flush()
                return
        except OSError:
            pass
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()
        self._h.close_connection = True

    def stream_json(self, items: Iterable[Any], content_type: str = "application/json") -> None:
        """A chunked stream of JSON messages, one per line (``None`` items as in
        :meth:`stream`). An engine error once the stream has begun is its last message,
        in Docker's JSON message form (``{"errorDetail": {"message"}, "error"}``)."""

        def lines() -> Iterator[bytes | None]:
            try:
                for item in items:
                    yield (
                        None
                        if item is None
                        else json.dumps(item, separators=(",", ":")).encode() + b"\n"
                    )
            except DockyardError as e:
                message = {"errorDetail": {"message": str(e)}, "error": str(e)}
                yield json.dumps(message, separators=(",", ":")).encode() + b"\n"

        self.stream(lines(), content_type)

    def writer(self, content_type: str, headers: dict[str, str] | None = None) -> ChunkWriter:
        """A file-like ``write`` target for a chunked response (with ``headers``) that
        starts with the first write (so an error raised before any output is still a JSON
        error); :meth:`ChunkWriter.finish` ends it."""
        return ChunkWriter(self, content_type, headers or {})

    def reader(self) -> BodyReader:
        """The request body as a binary file (tar uploads: read as it arrives)."""
        return BodyReader(self._h.body_chunks())

    def client_gone(self) -> bool:
        """Whether the client closed its side of the connection (EOF, error)."""
        sock = self._h.connection
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            if not readable:
                return False
            return sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def hijack(
        self, content_type: str = "application/vnd.docker.raw-stream"
    ) -> tuple[Any, socket.socket]:
        """Take over the connection for a raw stream (attach, exec start): answers 101
        UPGRADED when the client asked ``Upgrade: tcp``, else 200, and returns (reader,
        socket): read the client's bytes with ``reader.read1(n)`` (it holds what arrived
        with the request), write to the socket (blocking, no timeout). The connection is
        closed after the handler returns."""
        upgrade = "upgrade" in self.headers.get("Connection", "").lower()
        self.started = True
        h = self._h
        if upgrade:
            head = (
                "HTTP/1.1 101 UPGRADED\r\n"
                f"Content-Type: {content_type}\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            )
        else:
            head = f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in h.common_headers().items()) + "\r\n"
        h.wfile.write(head.encode())
        h.wfile.flush()
        h.close_connection = True
        h.body_done = True
        sock = h.connection
        sock.settimeout(None)
        return h.rfile, sock

    def websocket(self, binary: bool = True) -> WebSocket:
        """Take over the connection as a WebSocket (answers the opening handshake with
        101; ``binary``: data goes out as binary messages, else text). Raises
        InvalidArgument (400, nothing written) when the request is not a handshake. The
        connection is closed after the handler returns."""
        from dockyard.api.websocket import WebSocket

        h = self._h
        head = h.requestline + "\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in h.headers.items()) + "\r\n"
        sock = h.connection
        ws = WebSocket.accept(head.encode("latin-1"), sock, h.rfile, binary)
        self.started = True
        h.close_connection = True
        h.body_done = True
        sock.settimeout(None)
        return ws

    def _start(self, status: int, content_type: str | None, headers: dict[str, str]) -> None:
        if self.started:
            raise RuntimeError("response already started")
        self.started = True
        h = self._h
        h.send_response_only(status)
        fields = h.common_headers()
        if content_type:
            fields["Content-Type"] = content_type
        fields.update(headers)
        for key, value in fields.items():
            h.send_header(key, value)
        h.end_headers()


class ChunkWriter(io.RawIOBase):
    """See :meth:`Request.writer`."""

    def __init__(self, req: Request, content_type: str, headers: dict[str, str]) -> None:
        self._req = req
        self._type = content_type
        self._headers = {**headers, "Transfer-Encoding": "chunked"}

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        data = bytes(data)
        if not self._req.started:
            self._req._start(200, self._type, self._headers)
        if data:
            self._req._h.wfile.write(b"%x\r\n%b\r\n" % (len(data), data))
        return len(data)

    def finish(self) -> None:
        """End the response (an empty one if nothing was written)."""
        if not self._req.started:
            self._req._start(200, self._type, self._headers)
        self._req._h.wfile.write(b"0\r\n\r\n")
        self._req._h.wfile.flush()


class BodyReader(io.RawIOBase):
    """See :meth:`Request.reader`."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                self._buf = next(self._chunks)
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


class Handler(BaseHTTPRequestHandler):
    """One client connection; requests are dispatched through the service's router."""

    protocol_version = "HTTP/1.1"
    server: Service  # type: ignore[assignment]
    body_done = False

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.read_timeout)

    def common_headers(self) -> dict[str, str]:
        """Headers every response carries (moby's version and experimental middleware)."""
        return {
            "Api-Version": API_VERSION,
            "Docker-Experimental": "false",
            "Ostype": "linux",
            "Server": f"Dockyard/{__version__} (linux)",
            "Date": self.date_time_string(),
        }

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib's name)
        if self.server.verbose:
            sys.stderr.write(f"{self.command} {self.path} " + (format % args) + "\n")

    def address_string(self) -> str:
        return str(self.client_address[0]) if self.client_address else "unix"

    def body_chunks(self) -> Iterator[bytes]:
        """The request body, read once: Content-Length or chunked transfer coding.
        A stalled read raises APIError 408."""
        if self.body_done:
            return
        self.body_done = True
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                while True:
                    line = self.rfile.readline(1026)
                    if not line:
                        raise APIError(400, "unexpected EOF reading chunked body")
                    size = int(line.split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        while self.rfile.readline(65537).strip():
                            pass
                        return
                    while size > 0:
                        data = self.rfile.read(min(size, 65536))
                        if not data:
                            raise APIError(400, "unexpected EOF reading chunked body")
                        size -= len(data)
                        yield data
                    self.rfile.readline(3)
            else:
                length = int(self.headers.get("Content-Length") or 0)
                while length > 0:
                    data = self.rfile.read(min(length, 65536))
                    if not data:
                        raise APIError(400, "unexpected EOF reading request body")
                    length -= len(data)
                    yield data
        except TimeoutError:
            self.close_connection = True
            raise APIError(408, "timeout reading the request body") from None
        except ValueError:
            self.close_connection = True
            raise APIError(400, "malformed chunked request body") from None

    def dispatch(self) -> None:
        """Route one request, answering errors as ``{"message": ...}``."""
        self.body_done = False
        if self.server.verbose:
            sys.stderr.write(f"{self.command} {self.path}\n")
        self.server.busy(+1, request=True)
        req = None
        try:
            parts = urlsplit(self.path)
            path = parts.path
            version = API_VERSION
            prefixed = _VERSION_PREFIX.match(path)
            if prefixed:
                version, path = prefixed.group(1), prefixed.group(2)
            query = parse_qs(parts.query, keep_blank_values=True)
            req = Request(self, path, version, query)
            try:
                if parse_version(version) < parse_version(MIN_API_VERSION):
                    raise InvalidArgument(
                        f"client version {version} is too old. Minimum supported API version "
                        f"is {MIN_API_VERSION}, please upgrade your client to a newer version"
                    )
                if parse_version(version) > parse_version(API_VERSION):
                    raise InvalidArgument(
                        f"client version {version} is too new. Maximum supported API version is {API_VERSION}"
                    )
                handler, req.vars = self.server.router.match(self.command, path)
                handler(req)
            except Exception as e:  # noqa: BLE001 (every error becomes a response)
                self._fail(req, e)
        finally:
            self.server.busy(-1, request=True)
        if not self.body_done:
            # An unread body would be parsed as the next request: read a small one away.
            try:
                for _ in self.body_chunks():
                    pass
            except DockyardError:
                self.close_connection = True

    def _fail(self, req: Request, e: Exception) -> None:
        if isinstance(e, (BrokenPipeError, ConnectionResetError)):
            self.close_connection = True
            return
        if not isinstance(e, DockyardError):
            import traceback

            traceback.print_exc(file=sys.stderr)
            e = DockyardError(f"internal error: {type(e).__name__}: {e}")
        if req.started:
            # Mid-stream: the status is sent; all we can do is end the connection.
            self.close_connection = True
            return
        status = status_of(e)
        if self.server.verbose or status >= 500:
            sys.stderr.write(f"{self.command} {self.path}: {status} {e}\n")
        try:
            if status == 304:
                req.send_empty(304)
            else:
                req.send_json({"message": str(e)}, status)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = dispatch


class Service:
    """The API service: listening sockets, the engine facade and the router.

    ``engine_factory``: makes the facade object a request calls; ``paths``: its engine
    root, for operations run in a process of their own (:mod:`dockyard.api.isolate`); ``sockets``: listening sockets;
    ``tls``: an SSLContext that wraps every accepted connection (None: plain);
    ``idle_time``: seconds without a request or connection after which :meth:`serve`
    returns (0: never, Podman's ``--time``); ``read_timeout``: seconds a read of a
    request may stall; ``housekeeping``: called every few seconds from a thread of its
    own while serving.
    """

    def __init__(
        self,
        engine_factory: Callable[[], Any],
        sockets: list[socket.socket],
        router: Router,
        paths: Paths | None = None,
        tls: ssl.SSLContext | None = None,
        idle_time: float = 0,
        read_timeout: float = READ_TIMEOUT,
        verbose: bool = False,
        housekeeping: Callable[[], None] | None = None,
    ) -> None:
        self.engine_factory = engine_factory
        self.housekeeping = housekeeping
        self.paths = paths
        #: exec ID -> pty master of an attached exec with a tty (for its resize).
        self.terminals: dict[str, int] = {}
        self.sockets = sockets
        self.router = router
        self.tls = tls
        self.idle_time = idle_time
        self.read_timeout = read_timeout
        self.verbose = verbose
        self._lock = threading.Lock()
        self._connections = 0
        self._requests = 0
        self._last_active = time.monotonic()
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()

    def busy(self, delta: int, request: bool = False) -> None:
        """Count a connection or (``request``) a request in (+1) or out (-1), for the
        idle timeout and for the wait at shutdown."""
        with self._lock:
            self._connections += delta
            if request:
                self._requests += delta
            self._last_active = time.monotonic()

    def shutdown(self) -> None:
        """Make :meth:`serve` return (from any thread or a signal handler)."""
        self._stop.set()
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def serve(self) -> None:
        """Accept connections until :meth:`shutdown` or the idle time passes. Open
        connections are left to their (daemon) threads; containers are untouched."""
        for sock in self.sockets:
            sock.listen(128)
            sock.setblocking(False)
        if self.housekeeping is not None:
            threading.Thread(target=self._housekeep, daemon=True).start()
        fds: list[Any] = [self._wake_r, *self.sockets]
        try:
            while not self._stop.is_set():
                timeout = None
                if self.idle_time > 0:
                    with self._lock:
                        idle = self._connections == 0
                        left = self._last_active + self.idle_time - time.monotonic()
                    if idle and left <= 0:
                        return
                    timeout = max(left, 0.05) if idle else 1.0
                readable, _, _ = select.select(fds, [], [], timeout)
                for sock in readable:
                    if sock is self._wake_r:
                        continue
                    try:
                        conn, addr = sock.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError as e:
                        sys.stderr.write(f"accept: {e}\n")
                        continue
                    conn.setblocking(True)
                    self.busy(+1)
                    threading.Thread(
                        target=self._connection, args=(conn, addr), daemon=True
                    ).start()
        finally:
            for sock in self.sockets:
                sock.close()
            os.close(self._wake_r)
            os.close(self._wake_w)
            self._drain()

    def _drain(self, timeout: float = SHUTDOWN_GRACE) -> None:
        """Let requests in flight finish (a create or a removal half done when the
        process ends would leave half-made state), up to ``timeout`` seconds: streams
        that outlast it are cut."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self._requests == 0:
                    return
            time.sleep(0.05)

    def _housekeep(self) -> None:
        """Run ``housekeeping`` every :data:`HOUSEKEEPING_INTERVAL` seconds until shutdown;
        its errors are logged, never fatal."""
        assert self.housekeeping is not None
        while not self._stop.wait(HOUSEKEEPING_INTERVAL):
            try:
                self.housekeeping()
            except Exception as e:  # noqa: BLE001 (logged; the service goes on)
                sys.stderr.write(f"housekeeping: {type(e).__name__}: {e}\n")

    def _connection(self, conn: socket.socket, addr: Any) -> None:
        try:
            if self.tls is not None:
                conn.settimeout(self.read_timeout)
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (OSError, ValueError):
                    conn.close()
                    return
            Handler(conn, addr if isinstance(addr, tuple) else ("unix",), self)  # type: ignore[arg-type]
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()
            self.busy(-1)
