"""The userland proxy alone: host sockets forwarding to echo servers on loopback."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from dockyard.errors import Conflict
from dockyard.network.ports import Mapping
from dockyard.network.proxy import publish


@contextlib.contextmanager
def tcp_echo() -> Iterator[int]:
    """A TCP echo server on 127.0.0.1 (each connection echoed until EOF, then closed)."""
    srv = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            while data := conn.recv(65536):
                conn.sendall(data)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        srv.shutdown(socket.SHUT_RDWR)
        srv.close()
        t.join(5)


@contextlib.contextmanager
def udp_echo() -> Iterator[int]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except OSError:
                return
            if data == b"quit":
                return
            s.sendto(data.upper(), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    port = s.getsockname()[1]
    try:
        yield port
    finally:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as q:
            q.sendto(b"quit", ("127.0.0.1", port))
        t.join(5)
        s.close()


def _roundtrip(port: int, payload: bytes, host: str = "127.0.0.1") -> bytes:
    with socket.create_connection((host, port), timeout=10) as c:
        sender = threading.Thread(target=lambda: (c.sendall(payload), c.shutdown(socket.SHUT_WR)))
        sender.start()
        chunks = []
        while data := c.recv(1 << 16):
            chunks.append(data)
        sender.join()
    return b"".join(chunks)


def test_tcp_forwarding_with_half_close() -> None:
    payload = os.urandom(3 * 1024 * 1024)
    with tcp_echo() as target:
        pub = publish([Mapping("tcp", target, "127.0.0.1", 0, 0)], "127.0.0.1")
        try:
            host_port = int(pub.ports[f"{target}/tcp"][0]["HostPort"])
            assert pub.ports == {
                f"{target}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(host_port)}]
            }
            assert 32768 <= host_port <= 60999
            assert _roundtrip(host_port, payload) == payload
            # Several at once.
            results: list[bytes] = []
            threads = [
                threading.Thread(target=lambda: results.append(_roundtrip(host_port, b"x" * 1000)))
                for _ in range(8)
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert results == [b"x" * 1000] * 8
        finally:
            pub.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", host_port), timeout=2)


def test_default_binds_every_ipv4_and_ipv6_address_on_one_port() -> None:
    with tcp_echo() as target:
        pub = publish([Mapping("tcp", target, "", 0, 0)], "127.0.0.1")
        try:
            bindings = pub.ports[f"{target}/tcp"]
            assert [b["HostIp"] for b in bindings][0] == "0.0.0.0"
            assert len({b["HostPort"] for b in bindings}) == 1
            port = int(bindings[0]["HostPort"])
            assert _roundtrip(port, b"hello") == b"hello"
            if len(bindings) == 2:
                assert bindings[1]["HostIp"] == "::"
                assert _roundtrip(port, b"six", host="::1") == b"six"
        finally:
            pub.close()


def test_open_connections_end_when_the_proxy_closes() -> None:
    with tcp_echo() as target:
        pub = publish([Mapping("tcp", target, "127.0.0.1", 0, 0)], "127.0.0.1")
        port = int(pub.ports[f"{target}/tcp"][0]["HostPort"])
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.sendall(b"ping")
        assert c.recv(4) == b"ping"
        before = threading.active_count()
        pub.close()
        assert c.recv(10) == b""
        c.close()
        assert threading.active_count() <= before - 1  # the loop


def test_udp_forwarding() -> None:
    with udp_echo() as target:
        pub = publish([Mapping("udp", target, "127.0.0.1", 0, 0)], "127.0.0.1")
        try:
            port = int(pub.ports[f"{target}/udp"][0]["HostPort"])
            for word in (b"one", b"two"):
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                    c.settimeout(5)
                    c.sendto(word, ("127.0.0.1", port))
                    data, addr = c.recvfrom(100)
                    assert data == word.upper()
                    assert addr == ("127.0.0.1", port)
        finally:
            pub.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_in_use_fails_and_leaves_nothing_bound() -> None:
    with socket.create_server(("0.0.0.0", 0)) as holder:
        busy = holder.getsockname()[1]
        free = _free_port()
        with pytest.raises(Conflict) as e:
            publish(
                [Mapping("tcp", 80, "", free, free), Mapping("tcp", 81, "", busy, busy)],
                "172.17.0.2",
                endpoint="web (abc)",
            )
    assert str(e.value) == (
        "driver failed programming external connectivity on endpoint web (abc): "
        f"failed to bind host port for 0.0.0.0:{busy}:172.17.0.2:81/tcp: address already in use"
    )
    # The first mapping's socket was closed again.
    with socket.create_server(("0.0.0.0", free)):
        pass


def test_port_held_by_another_container_is_already_allocated() -> None:
    with socket.create_server(("0.0.0.0", 0)) as holder:
        port = holder.getsockname()[1]
        with pytest.raises(Conflict) as e:
            publish(
                [Mapping("tcp", 80, "", port, port)],
                "172.17.0.2",
                taken=lambda ip, p, proto: (ip, p, proto) == ("0.0.0.0", port, "tcp"),
            )
    assert str(e.value) == f"Bind for 0.0.0.0:{port} failed: port is already allocated"
    # A stale record of a port nobody holds does not stop a bind.
    pub = publish([Mapping("tcp", 80, "127.0.0.1", port, port)], "127.0.0.1", taken=lambda *a: True)
    pub.close()


def _free_pair() -> socket.socket:
    """A listening socket on 127.0.0.1:P where P+1 is free too (checked just now)."""
    for _ in range(50):
        holder = socket.create_server(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        if port < 65535:
            try:
                with socket.create_server(("127.0.0.1", port + 1)):
                    return holder
            except OSError:
                pass
        holder.close()
    raise AssertionError("no two free consecutive ports")


def test_host_port_range_takes_the_first_free_port() -> None:
    with _free_pair() as holder, tcp_echo() as target:
        busy = holder.getsockname()[1]
        pub = publish([Mapping("tcp", target, "127.0.0.1", busy, busy + 1)], "127.0.0.1")
        try:
            assert pub.ports[f"{target}/tcp"][0]["HostPort"] == str(busy + 1)
        finally:
            pub.close()
