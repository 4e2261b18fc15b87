"""The userland proxy of published ports (what Docker's ``docker-proxy`` does by default).

The container's monitor holds a host socket per published port and copies traffic to the
container's address for the container's lifetime, from one thread with one epoll loop: TCP
with non-blocking ``os.splice`` through a pipe per direction (the bytes never enter Python,
no thread hand-off per connection: what keeps the added latency low), UDP with one
connected socket per client, expired after 90 s idle (docker-proxy's UDPConnTrackTimeout).
Loaded only by monitors of containers that publish ports.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import selectors
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from dockyard.errors import Conflict, InvalidArgument
from dockyard.nat import join_host_port

UDP_TIMEOUT = 90.0
_CHUNK = 1 << 18
_F_SETPIPE_SZ = 1031
_READ, _WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE
_SPLICE_FLAGS = os.SPLICE_F_MOVE | os.SPLICE_F_NONBLOCK


class _Flow:
    """One direction of a TCP connection: ``src`` -> pipe -> ``dst``; ``pending`` bytes
    sit in the pipe; ``eof`` once ``src`` ended; ``done`` once ``dst`` was shut down."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.r, self.w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        with contextlib.suppress(OSError):
            fcntl.fcntl(self.w, _F_SETPIPE_SZ, _CHUNK)
        self.pending = 0
        self.eof = False
        self.done = False

    def pump(self) -> None:
        """Move what ``src`` has into the pipe, then as much as ``dst`` takes.
        Raises OSError when either side failed (reset, broken pipe)."""
        if not self.eof and not self.pending:
            try:
                n = os.splice(self.src.fileno(), self.w, _CHUNK, flags=_SPLICE_FLAGS)
            except BlockingIOError:
                n = -1
            if n == 0:
                self.eof = True
            elif n > 0:
                self.pending = n
        self.flush()

    def flush(self) -> None:
        """Write pending pipe bytes to ``dst``; half-close it after ``src``'s end."""
        while self.pending:
            try:
                self.pending -= os.splice(
                    self.r, self.dst.fileno(), self.pending, flags=_SPLICE_FLAGS
                )
            except BlockingIOError:
                return
        if self.eof and not self.done:
            self.done = True
            with contextlib.suppress(OSError):
                self.dst.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


class _TcpConnection:
    """An accepted ``client`` and its connection to the container, both non-blocking."""

    def __init__(self, proxy: Proxy, client: socket.socket, target: tuple[str, int]) -> None:
        self.proxy = proxy
        self.client = client
        family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
        self.upstream = socket.socket(family, socket.SOCK_STREAM)
        self.upstream.setblocking(False)
        self.flows: list[_Flow] = []
        self.events = {self.client: 0, self.upstream: 0}
        err = self.upstream.connect_ex(target)
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        self._watch(self.upstream, _WRITE)

    def _watch(self, sock: socket.socket, events: int) -> None:
        sel = self.proxy.sel
        old = self.events[sock]
        if events == old:
            return
        if not old:
            sel.register(sock, events, self.ready)
        elif not events:
            sel.unregister(sock)
        else:
            sel.modify(sock, events, self.ready)
        self.events[sock] = events

    def ready(self, sock: socket.socket, mask: int) -> None:
        try:
            if not self.flows:
                err = self.upstream.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    raise OSError(err, os.strerror(err))
                self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.flows = [_Flow(self.client, self.upstream), _Flow(self.upstream, self.client)]
                for flow in self.flows:
                    flow.pump()
            else:
                for flow in self.flows:
                    if (flow.src is sock and mask & _READ) or (flow.dst is sock and mask & _WRITE):
                        flow.pump()
        except OSError:
            self.close()
            return
        if all(f.done for f in self.flows):
            self.close()
            return
        for s in (self.client, self.upstream):
            events = 0
            for flow in self.flows:
                if flow.src is s and not flow.eof and not flow.pending:
                    events |= _READ
                if flow.dst is s and flow.pending:
                    events |= _WRITE
            self._watch(s, events)

    def close(self) -> None:
        """Drop both sockets and pipes (a reset on one side ends both directions)."""
        for s in (self.client, self.upstream):
            if self.events[s]:
                self.proxy.sel.unregister(s)
                self.events[s] = 0
            s.close()
        for flow in self.flows:
            flow.close()
        self.flows = []
        self.proxy.conns.discard(self)


class Proxy:
    """Serves listening TCP sockets and bound UDP sockets, each forwarding to a container
    ``(ip, port)``, from one thread.

    Add sockets with :meth:`add_tcp`/:meth:`add_udp` before :meth:`start`; :meth:`close`
    stops the thread and closes every socket, open connections included.
    """

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self.sel.register(self._wake_r, _READ, None)
        self._owned: list[socket.socket] = []
        # (socket, "tcp"|"udp", target) of every socket added, for a handoff.
        self.served: list[tuple[socket.socket, str, tuple[str, int]]] = []
        self.conns: set[_TcpConnection] = set()
        self._stopping = False
        self._thread: threading.Thread | None = None
        # (host socket, client address) -> [connected socket, last use (monotonic)]
        self._udp: dict[tuple[int, Any], list[Any]] = {}

    def add_tcp(self, listener: socket.socket, target: tuple[str, int]) -> None:
        """Forward connections accepted on ``listener`` (listening) to ``target``."""
        listener.setblocking(False)
        self._owned.append(listener)
        self.served.append((listener, "tcp", target))
        self.sel.register(listener, _READ, lambda s, m: self._accept(s, target))

    def add_udp(self, sock: socket.socket, target: tuple[str, int]) -> None:
        """Forward datagrams arriving on ``sock`` (bound) to ``target``, replies back."""
        sock.setblocking(False)
        self._owned.append(sock)
        self.served.append((sock, "udp", target))
        self.sel.register(sock, _READ, lambda s, m: self._udp_in(s, target))

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="port-proxy", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        last_sweep = time.monotonic()
        while not self._stopping:
            for key, mask in self.sel.select(timeout=10):
                if key.data is not None:
                    with contextlib.suppress(OSError):
                        key.data(key.fileobj, mask)
            now = time.monotonic()
            if now - last_sweep > 5:
                last_sweep = now
                self._expire_udp(now)

    def _accept(self, listener: socket.socket, target: tuple[str, int]) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            client.setblocking(False)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            try:
                self.conns.add(_TcpConnection(self, client, target))
            except OSError:
                client.close()

    def _udp_in(self, sock: socket.socket, target: tuple[str, int]) -> None:
        while True:
            try:
                data, client = sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            entry = self._udp.get((sock.fileno(), client))
            if entry is None:
                family = socket.AF_INET6 if ":" in target[0] else socket.AF_INET
                upstream = socket.socket(family, socket.SOCK_DGRAM)
                upstream.setblocking(False)
                upstream.connect(target)
                entry = [upstream, 0.0]
                self._udp[(sock.fileno(), client)] = entry
                self.sel.register(
                    upstream, _READ, lambda s, m, c=client: self._udp_back(s, sock, c)
                )
            entry[1] = time.monotonic()
            with contextlib.suppress(OSError):
                entry[0].send(data)

    def _udp_back(self, upstream: socket.socket, sock: socket.socket, client: Any) -> None:
        while True:
            try:
                data = upstream.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                # ICMP port unreachable from the container: nothing to relay.
                return
            entry = self._udp.get((sock.fileno(), client))
            if entry is not None:
                entry[1] = time.monotonic()
            with contextlib.suppress(OSError):
                sock.sendto(data, client)

    def _expire_udp(self, now: float) -> None:
        for key, (upstream, last) in list(self._udp.items()):
            if now - last > UDP_TIMEOUT:
                del self._udp[key]
                self.sel.unregister(upstream)
                upstream.close()

    def close(self) -> None:
        """Stop serving: end open connections, close the host sockets, join the thread."""
        self._stopping = True
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(5)
        for conn in list(self.conns):
            conn.close()
        for upstream, _ in self._udp.values():
            upstream.close()
        self._udp.clear()
        for s in self._owned:
            s.close()
        self.sel.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def _ipv6_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
    except OSError:
        return False
    return True


def _bind(host_ip: str, port: int, proto: str) -> socket.socket:
    """A socket bound to ``host_ip:port`` (listening for TCP); raises OSError."""
    family = socket.AF_INET6 if ":" in host_ip else socket.AF_INET
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family, kind)
    try:
        if family == socket.AF_INET6:
            # "::" stands beside "0.0.0.0" (Docker binds both), not over it.
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if kind == socket.SOCK_STREAM:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip, port))
        if kind == socket.SOCK_STREAM:
            s.listen(socket.SOMAXCONN)
    except BaseException:
        s.close()
        raise
    return s


class Published:
    """A container's published ports while it runs: the proxy serving them and
    ``ports``, NetworkSettings.Ports (``{"80/tcp": [{"HostIp", "HostPort"}], ...}``)."""

    def __init__(self, proxy: Proxy, ports: dict[str, list[dict[str, str]]]) -> None:
        self.proxy = proxy
        self.ports = ports

    def close(self) -> None:
        """Stop the proxy and close the host sockets."""
        self.proxy.close()


def publish(
    mappings: list[Any],
    target_ip: str,
    taken: Callable[[str, int, str], bool] = lambda ip, port, proto: False,
    endpoint: str = "",
    serve: bool = True,
) -> Published:
    """Bind a host socket for each :class:`dockyard.network.ports.Mapping` and serve them,
    forwarding to ``target_ip`` (the container's address) on the mapping's port.

    A mapping without a host IP binds ``0.0.0.0`` and, when the host has IPv6, ``::`` on the
    same port (Docker's default). Port 0 takes a free port of the kernel's ephemeral range;
    a host port range takes its first free port. ``taken(ip, port, proto)`` says whether
    another container of the engine holds that port, for Docker's ``Bind for
    0.0.0.0:8080 failed: port is already allocated``; any other process's socket gives
    ``failed to bind host port for 0.0.0.0:8080:172.17.0.2:80/tcp: address already in
    use``, both after ``driver failed programming external connectivity on endpoint``
    ``endpoint``. Raises Conflict (nothing stays bound) or InvalidArgument (sctp).
    Without ``serve`` the sockets are bound but not served (``proxy.served`` lists them
    for a process that serves them after an exec: a detached container's monitor).
    """
    proxy = Proxy()
    ports: dict[str, list[dict[str, str]]] = {}
    bound: list[socket.socket] = []
    ipv6 = None
    try:
        for m in mappings:
            if m.proto not in ("tcp", "udp"):
                raise InvalidArgument(f"publishing {m.proto} ports is not supported: {m.key}")
            if m.host_ip:
                ips = [m.host_ip]
            else:
                if ipv6 is None:
                    ipv6 = _ipv6_available()
                ips = ["0.0.0.0", "::"] if ipv6 else ["0.0.0.0"]
            socks = _bind_all(ips, m, target_ip, taken, endpoint)
            bound.extend(socks)
            host_port = socks[0].getsockname()[1]
            for ip, s in zip(ips, socks, strict=True):
                if m.proto == "tcp":
                    proxy.add_tcp(s, (target_ip, m.port))
                else:
                    proxy.add_udp(s, (target_ip, m.port))
                ports.setdefault(m.key, []).append({"HostIp": ip, "HostPort": str(host_port)})
    except BaseException:
        proxy.close()
        for s in bound:
            s.close()
        raise
    if serve:
        proxy.start()
    return Published(proxy, ports)


def _bind_all(
    ips: list[str],
    m: Any,
    target_ip: str,
    taken: Callable[[str, int, str], bool],
    endpoint: str,
) -> list[socket.socket]:
    """Sockets for ``m`` on each of ``ips``, all on one port number."""
    if m.host_first == 0:
        candidates: list[int] = [0] * 20  # the kernel picks; retried if ``::`` has it taken
    else:
        candidates = list(range(m.host_first, m.host_last + 1))
    last_error: Exception | None = None
    for candidate in candidates:
        socks: list[socket.socket] = []
        port = candidate
        try:
            for ip in ips:
                try:
                    s = _bind(ip, port, m.proto)
                except OSError as e:
                    # Another container's proxy (Docker's allocator would know it), or
                    # some other process.
                    if e.errno == errno.EADDRINUSE and taken(ip, port, m.proto):
                        raise Conflict(
                            f"Bind for {join_host_port(ip, port)} failed: port is already allocated"
                        ) from None
                    reason = "address already in use" if e.errno == errno.EADDRINUSE else None
                    raise Conflict(
                        f"failed to bind host port for {join_host_port(ip, port)}:"
                        f"{join_host_port(target_ip, m.port)}/{m.proto}: "
                        f"{reason or (e.strerror or str(e)).lower()}"
                    ) from None
                socks.append(s)
                port = s.getsockname()[1]
            return socks
        except Conflict as e:
            for s in socks:
                s.close()
            last_error = e
    assert last_error is not None
    prefix = f"driver failed programming external connectivity on endpoint {endpoint}: "
    raise Conflict(prefix + str(last_error) if endpoint else str(last_error))
