"""The embedded DNS server of containers on user-defined networks (Docker's 127.0.0.11).

The container's monitor binds UDP and TCP sockets at ``127.0.0.11:53`` inside the
container's network namespace (a short-lived thread ``setns()``-es there to create them) and
serves them from the monitor, which stays in the host's namespace: A (and AAAA, PTR) queries
for names of the container's networks are answered from a lookup the caller gives (the
state database at query time, so late joiners and new addresses are found); everything else
is forwarded to the host's resolvers from the host's namespace, as Docker's embedded DNS
does (its resolver's "host mode" forwarding). RFC 1035 messages, parsed with ``struct``:
only the question is read; forwarded messages pass through unchanged.
"""

from __future__ import annotations

import contextlib
import ctypes
import ipaddress
import os
import re
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from dockyard.errors import DockyardError

DNS_ADDRESS = "127.0.0.11"
TTL = 600  # Docker's embedded DNS answers with 600 s
FORWARD_TIMEOUT = 4.0
#: Forwarded queries and TCP connections served at once by one server (one thread each).
#: A container flooding 127.0.0.11 with names for a silent upstream made one thread per
#: query in its monitor, a host process: thousands. Docker's resolver caps in-flight
#: forwarded queries at 1024 goroutines (``maxConcurrent``) and answers SERVFAIL past it;
#: threads cost more, so fewer here.
MAX_CONCURRENT = 128
TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_REFUSED = 2, 3, 5
CLONE_NEWNET = 0x40000000
_HEADER = struct.Struct("!HHHHHH")
_NS = re.compile(r"^\s*nameserver\s+(\S+)", re.MULTILINE)

#: Looks a name up on the container's networks: IPv4 addresses, or None when unknown.
Lookup = Callable[[str], list[str] | None]
#: Finds the name of a container address on its networks, or None.
Reverse = Callable[[str], str | None]


class Question:
    """The first question of a message: ``name`` (lower case, no trailing dot), ``qtype``,
    ``qclass`` and ``end`` (the offset after it)."""

    def __init__(self, name: str, qtype: int, qclass: int, end: int) -> None:
        self.name, self.qtype, self.qclass, self.end = name, qtype, qclass, end


def parse_question(msg: bytes) -> Question | None:
    """The first question of a query, or None when ``msg`` is not one (short, a response,
    not QUERY, no question, a compressed or malformed name)."""
    if len(msg) < _HEADER.size:
        return None
    _, flags, qdcount, *_ = _HEADER.unpack_from(msg)
    if flags & 0x8000 or (flags >> 11) & 0xF or qdcount < 1:
        return None
    labels = []
    pos = _HEADER.size
    while True:
        if pos >= len(msg):
            return None
        length = msg[pos]
        pos += 1
        if length == 0:
            break
        if length > 63 or pos + length > len(msg):
            return None
        labels.append(msg[pos : pos + length].decode("ascii", "replace"))
        pos += length
    if pos + 4 > len(msg):
        return None
    qtype, qclass = struct.unpack_from("!HH", msg, pos)
    return Question(".".join(labels).lower(), qtype, qclass, pos + 4)


def _encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_reply(query: bytes, q: Question, rcode: int, answers: list[tuple[int, bytes]]) -> bytes:
    """A response to ``query`` with its question, ``rcode`` and ``answers``
    (``(type, rdata)``, all for the question's name, TTL 600, class IN)."""
    qid, flags = struct.unpack_from("!HH", query)
    # QR, the query's opcode and RD, AA (the name is ours, or we say it is not), RA.
    rflags = 0x8000 | (flags & 0x7900) | 0x0400 | 0x0080 | rcode
    out = [_HEADER.pack(qid, rflags, 1, len(answers), 0, 0), query[_HEADER.size : q.end]]
    for rtype, rdata in answers:
        out.append(struct.pack("!HHHIH", 0xC00C, rtype, 1, TTL, len(rdata)) + rdata)
    return b"".join(out)


def error_reply(query: bytes, rcode: int) -> bytes | None:
    """A bare error response to whatever ``query`` holds (None when too short to answer)."""
    q = parse_question(query)
    if q is not None:
        return build_reply(query, q, rcode, [])
    if len(query) < _HEADER.size:
        return None
    qid, flags = struct.unpack_from("!HH", query)
    return _HEADER.pack(qid, 0x8000 | (flags & 0x7900) | 0x0080 | rcode, 0, 0, 0, 0)


def _reverse_name(name: str) -> str | None:
    """The IPv4 address of an ``in-addr.arpa`` name or the IPv6 one (compressed, as
    ``ipaddress`` prints it) of an ``ip6.arpa`` name, else None."""
    if name.endswith(".ip6.arpa"):
        nibbles = name[: -len(".ip6.arpa")].split(".")
        if len(nibbles) != 32 or not all(len(n) == 1 and n in "0123456789abcdef" for n in nibbles):
            return None
        return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
    if not name.endswith(".in-addr.arpa"):
        return None
    parts = name[: -len(".in-addr.arpa")].split(".")
    if len(parts) != 4 or not all(p.isdigit() and int(p) < 256 for p in parts):
        return None
    return ".".join(reversed(parts))


def host_upstreams(resolv_conf: str = "/etc/resolv.conf") -> list[tuple[str, int]]:
    """The host's resolvers (``nameserver`` lines of ``resolv_conf``) as (ip, 53)."""
    try:
        with open(resolv_conf) as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for ip in _NS.findall(text):
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(ip.split("%")[0])
            out.append((ip, 53))
    return out


def _forward_udp(query: bytes, upstreams: list[tuple[str, int]]) -> bytes | None:
    for host, port in upstreams:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.settimeout(FORWARD_TIMEOUT)
            try:
                s.connect((host, port))
                s.send(query)
                while True:
                    reply = s.recv(65535)
                    if reply[:2] == query[:2]:
                        return reply
            except OSError:
                continue
    return None


def _recv_exact(s: socket.socket, n: int) -> bytes | None:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def _forward_tcp(query: bytes, upstreams: list[tuple[str, int]]) -> bytes | None:
    for host, port in upstreams:
        try:
            with socket.create_connection((host, port), timeout=FORWARD_TIMEOUT) as s:
                s.sendall(struct.pack("!H", len(query)) + query)
                head = _recv_exact(s, 2)
                if head is None:
                    continue
                reply = _recv_exact(s, struct.unpack("!H", head)[0])
                if reply is not None:
                    return reply
        except OSError:
            continue
    return None


class DnsServer:
    """Answers queries from ``lookup``/``reverse`` and forwards the rest to ``upstreams``
    (``[(ip, port)]``; empty: SERVFAIL, as Docker's resolver with no external servers).

    ``bind(netns_path)`` creates the sockets (``netns_path`` None: the caller's namespace,
    with ``address``/``port`` as given, for tests); ``start()`` serves from daemon threads;
    ``close()`` stops and joins them. The lookups run in the serving threads and must be
    thread-safe.
    """

    def __init__(
        self,
        lookup: Lookup,
        upstreams: list[tuple[str, int]],
        reverse: Reverse | None = None,
    ) -> None:
        self.lookup = lookup
        self.reverse = reverse
        self.upstreams = upstreams
        self.udp: socket.socket | None = None
        self.tcp: socket.socket | None = None
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._stopping = False
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._loop_thread: threading.Thread | None = None

    def bind(
        self, netns_path: str | None, address: str = DNS_ADDRESS, port: int = 53
    ) -> tuple[str, int]:
        """Bind the UDP and TCP sockets at ``address:port``, inside the network namespace
        bind-mounted at ``netns_path`` (a thread enters it; the caller's own namespace is
        untouched). Returns the bound (address, port). Raises DockyardError."""
        errors: list[BaseException] = []

        def make() -> None:
            try:
                if netns_path is not None:
                    _enter_netns(netns_path)
                udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self.udp, self.tcp = udp, tcp
                tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                udp.bind((address, port))
                tcp.bind((address, udp.getsockname()[1]))
                tcp.listen(64)
            except BaseException as e:  # noqa: BLE001 - reported to the caller
                errors.append(e)

        thread = threading.Thread(target=make, name="dns-bind")
        thread.start()
        thread.join()
        if errors:
            self.close()
            raise DockyardError(
                f"embedded DNS: cannot listen on {address}:{port} in {netns_path or 'this'} "
                f"network namespace: {errors[0]}"
            )
        assert self.udp is not None
        return self.udp.getsockname()

    def start(self) -> None:
        """Serve the bound sockets from a daemon thread."""
        assert self.udp is not None and self.tcp is not None
        self.udp.setblocking(False)
        self.tcp.setblocking(False)
        self._sel.register(self.udp, selectors.EVENT_READ, "udp")
        self._sel.register(self.tcp, selectors.EVENT_READ, "tcp")
        self._loop_thread = threading.Thread(target=self._loop, name="dns", daemon=True)
        self._loop_thread.start()

    def _spawn(self, target: Callable[..., None], *args: Any) -> bool:
        """Run ``target(*args)`` in a new thread; False (nothing started) when stopping
        or ``MAX_CONCURRENT`` are already running."""

        def body() -> None:
            try:
                target(*args)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=body, name="dns-query", daemon=True)
        with self._lock:
            if self._stopping or len(self._threads) >= MAX_CONCURRENT:
                return False
            self._threads.add(thread)
        thread.start()
        return True

    def _loop(self) -> None:
        while not self._stopping:
            for key, _ in self._sel.select():
                if key.data == "udp":
                    self._udp_ready()
                elif key.data == "tcp":
                    self._tcp_ready()

    def _udp_ready(self) -> None:
        assert self.udp is not None
        while True:
            try:
                query, client = self.udp.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            reply = self.answer(query)
            if reply is not None:
                with contextlib.suppress(OSError):
                    self.udp.sendto(reply, client)
            elif self.upstreams:
                if not self._spawn(self._forward_udp, query, client):
                    self._send_udp(error_reply(query, RCODE_SERVFAIL), client)
            else:
                self._send_udp(error_reply(query, RCODE_SERVFAIL), client)

    def _send_udp(self, reply: bytes | None, client: Any) -> None:
        if reply is not None and self.udp is not None:
            with contextlib.suppress(OSError):
                self.udp.sendto(reply, client)

    def _forward_udp(self, query: bytes, client: Any) -> None:
        reply = _forward_udp(query, self.upstreams)
        self._send_udp(reply if reply is not None else error_reply(query, RCODE_SERVFAIL), client)

    def _tcp_ready(self) -> None:
        assert self.tcp is not None
        while True:
            try:
                conn, _ = self.tcp.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            conn.setblocking(True)
            conn.settimeout(10)
            if not self._spawn(self._serve_tcp, conn):
                conn.close()

    def _serve_tcp(self, conn: socket.socket) -> None:
        with conn:
            try:
                while not self._stopping:
                    head = _recv_exact(conn, 2)
                    if head is None:
                        return
                    query = _recv_exact(conn, struct.unpack("!H", head)[0])
                    if query is None:
                        return
                    reply = self.answer(query)
                    if reply is None:
                        reply = _forward_tcp(query, self.upstreams) if self.upstreams else None
                        if reply is None:
                            reply = error_reply(query, RCODE_SERVFAIL)
                    if reply is None:
                        return
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
            except OSError:
                return

    def answer(self, query: bytes) -> bytes | None:
        """The reply to ``query`` when it is for a name of the container's networks (or
        malformed: FORMERR-like REFUSED); None when it must be forwarded."""
        q = parse_question(query)
        if q is None:
            return error_reply(query, RCODE_REFUSED)
        if q.qclass != 1:
            return None
        if q.qtype in (TYPE_A, TYPE_AAAA):
            try:
                addrs = self.lookup(q.name)
            except Exception:  # noqa: BLE001 - a broken lookup must not kill the server
                return build_reply(query, q, RCODE_SERVFAIL, [])
            if addrs is None:
                return None
            # A name without addresses of the family asked: an empty NOERROR, so clients
            # keep the other family's answer.
            family = socket.AF_INET6 if q.qtype == TYPE_AAAA else socket.AF_INET
            answers = [
                (q.qtype, socket.inet_pton(family, a))
                for a in addrs
                if (":" in a) == (family == socket.AF_INET6)
            ]
            return build_reply(query, q, 0, answers)
        if q.qtype == TYPE_PTR and self.reverse is not None:
            ip = _reverse_name(q.name)
            name = None
            if ip is not None:
                with contextlib.suppress(Exception):
                    name = self.reverse(ip)
            if name is not None:
                return build_reply(query, q, 0, [(TYPE_PTR, _encode_name(name))])
        return None

    def close(self) -> None:
        """Stop serving, close the sockets, join the threads."""
        with self._lock:
            self._stopping = True
            threads = list(self._threads)
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._loop_thread is not None:
            self._loop_thread.join(5)
        # Queries still being forwarded end on their own timeout (daemon threads).
        deadline = time.monotonic() + 1
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for s in (self.udp, self.tcp):
            if s is not None:
                s.close()
        self._sel.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _enter_netns(path: str) -> None:
    """Move the calling thread into the network namespace bind-mounted at ``path``."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err), path)
    finally:
        os.close(fd)


_PEERS_SQL = """
SELECT e.address, c.id, c.name, e.aliases, n.name AS network, a.address6
FROM endpoints e
JOIN containers c ON c.id = e.container_id
JOIN networks n ON n.id = e.network_id
LEFT JOIN endpoint_addresses a ON a.endpoint_id = e.id
WHERE json_extract(c.state, '$.Running')
  AND n.name != 'bridge'
  AND e.network_id IN (SELECT network_id FROM endpoints WHERE container_id = ?)
"""


_LINKS_SQL = """
SELECT n.name, o.options
FROM endpoints e
JOIN endpoint_options o ON o.endpoint_id = e.id
JOIN networks n ON n.id = e.network_id
WHERE e.container_id = ?
"""


class NetworkNames:
    """The names a container resolves through its embedded DNS, read from the state
    database (``db_path``) at each query: every running container sharing one of its
    user-defined networks (not the default ``bridge``, as Docker), by name, short ID
    (12 hex digits) and ``--network-alias``, also as ``NAME.NETWORK``; and the aliases of
    its endpoints' links (``network connect --link NAME:ALIAS``), which only it resolves.
    Thread-safe: each thread opens its own read connection."""

    def __init__(self, db_path: str, container_id: str) -> None:
        self.db_path = db_path
        self.container_id = container_id
        self._local = threading.local()

    def _conn(self) -> Any:
        import sqlite3

        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.db_path, timeout=10)
            self._local.conn = conn
        return conn

    def _peers(self) -> list[tuple[list[str], list[str], str, str]]:
        """(addresses: IPv4 then IPv6 if any, names, ``NAME.NETWORK``, network) of every
        endpoint on the container's user-defined networks (names and network lower
        case)."""
        import json

        out = []
        for address, cid, name, aliases, network, address6 in self._conn().execute(
            _PEERS_SQL, (self.container_id,)
        ):
            names = [name, cid[:12], *json.loads(aliases or "[]")]
            names = [n.lower() for n in names]
            qualified = [f"{n}.{network.lower()}" for n in names]
            addrs = [address, address6] if address6 else [address]
            out.append((addrs, names + qualified, qualified[0], network.lower()))
        return out

    def _links(self, name: str) -> list[tuple[str, str]]:
        """(network, linked name) of each of the container's endpoint links whose alias
        is ``name`` (as ALIAS or ALIAS.NETWORK), lower case."""
        import json

        out = []
        for network, options in self._conn().execute(_LINKS_SQL, (self.container_id,)):
            network = network.lower()
            for link in json.loads(options).get("Links") or []:
                target, _, alias = link.lower().partition(":")
                if name in (alias or target, f"{alias or target}.{network}"):
                    out.append((network, target))
        return out

    def lookup(self, name: str) -> list[str] | None:
        """IPv4 and IPv6 addresses of ``name`` (lower case, no trailing dot), None if
        unknown. A link alias comes first and hides the same name on its network, as moby's
        Sandbox.ResolveName."""
        peers = self._peers()
        links = self._links(name)
        for network, target in links:
            found = [
                a
                for addrs, names, _, net in peers
                if net == network and target in names
                for a in addrs
            ]
            if found:
                return list(dict.fromkeys(found))
        hidden = {network for network, _ in links}
        found = [
            a
            for addrs, names, _, net in peers
            if name in names and net not in hidden
            for a in addrs
        ]
        return list(dict.fromkeys(found)) or None

    def reverse(self, ip: str) -> str | None:
        """``NAME.NETWORK`` of the container holding ``ip``, as Docker answers PTR."""
        for addrs, _, qualified, _ in self._peers():
            if ip in addrs:
                return qualified
        return None
