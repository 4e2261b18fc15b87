"""The embedded DNS server: bound at 127.0.0.11:53 inside a network namespace the test
makes, answering from a lookup and forwarding the rest to a resolver on host loopback."""

from __future__ import annotations

import contextlib
import socket
import struct
import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.network import dns


def query(name: str, qtype: int = dns.TYPE_A, qid: int = 0x1234) -> bytes:
    return (
        struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
        + dns._encode_name(name)
        + (struct.pack("!HH", qtype, 1))
    )


def parse_reply(msg: bytes) -> tuple[int, int, list[tuple[int, bytes]]]:
    """(id, rcode, [(type, rdata)]) of a reply whose answers use a pointer to the question."""
    qid, flags, qd, an, _, _ = struct.unpack_from("!HHHHHH", msg)
    q = dns.parse_question(msg[:2] + b"\x01\x00" + msg[4:])
    assert q is not None and qd == 1
    pos = q.end
    answers = []
    for _ in range(an):
        name_ptr, rtype, _, _, length = struct.unpack_from("!HHHIH", msg, pos)
        assert name_ptr == 0xC00C
        pos += 12
        answers.append((rtype, msg[pos : pos + length]))
        pos += length
    return qid, flags & 0xF, answers


@pytest.fixture
def netns(tmp_path: Path) -> Iterator[str]:
    """A new network namespace bind-mounted at a file under tmp_path, loopback up."""
    path = tmp_path / "netns"
    path.touch()
    subprocess.run(["unshare", f"--net={path}", "true"], check=True)
    try:
        subprocess.run(["nsenter", f"--net={path}", "ip", "link", "set", "lo", "up"], check=True)
        yield str(path)
    finally:
        subprocess.run(["umount", str(path)], check=True)


def in_netns(path: str, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a thread that entered the namespace at ``path``."""
    out: list[Any] = []

    def body() -> None:
        try:
            dns._enter_netns(path)
            out.append(fn())
        except BaseException as e:  # noqa: BLE001 - re-raised in the test
            out.append(e)

    t = threading.Thread(target=body)
    t.start()
    t.join()
    if isinstance(out[0], BaseException):
        raise out[0]
    return out[0]


def ask_udp(msg: bytes, addr: tuple[str, int] = (dns.DNS_ADDRESS, 53)) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(msg, addr)
        return s.recv(65535)


def ask_tcp(msg: bytes, addr: tuple[str, int] = (dns.DNS_ADDRESS, 53)) -> bytes:
    with socket.create_connection(addr, timeout=10) as s:
        s.sendall(struct.pack("!H", len(msg)) + msg)
        head = dns._recv_exact(s, 2)
        assert head is not None
        reply = dns._recv_exact(s, struct.unpack("!H", head)[0])
        assert reply is not None
        return reply


EXTERNAL = "198.51.100.7"


@contextlib.contextmanager
def upstream(ip: str = "127.0.0.1", port: int = 0) -> Iterator[tuple[tuple[str, int], list[str]]]:
    """A resolver on loopback (UDP and TCP on one port) answering every A query with
    198.51.100.7; yields its address and the names it was asked."""
    asked: list[str] = []
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((ip, port))
    port = udp.getsockname()[1]
    try:
        tcp = socket.create_server((ip, port))
    except OSError:
        udp.close()
        raise

    def reply(msg: bytes) -> bytes:
        q = dns.parse_question(msg)
        assert q is not None
        asked.append(q.name)
        return dns.build_reply(msg, q, 0, [(dns.TYPE_A, socket.inet_aton(EXTERNAL))])

    def serve_udp() -> None:
        while True:
            msg, addr = udp.recvfrom(65535)
            if msg == b"quit":
                return
            udp.sendto(reply(msg), addr)

    def serve_tcp() -> None:
        while True:
            try:
                conn, _ = tcp.accept()
            except OSError:
                return
            with conn:
                head = dns._recv_exact(conn, 2)
                assert head is not None
                msg = dns._recv_exact(conn, struct.unpack("!H", head)[0])
                assert msg is not None
                r = reply(msg)
                conn.sendall(struct.pack("!H", len(r)) + r)

    threads = [threading.Thread(target=f, daemon=True) for f in (serve_udp, serve_tcp)]
    for t in threads:
        t.start()
    try:
        yield ("127.0.0.1", port), asked
    finally:
        udp.sendto(b"quit", (ip, port))
        tcp.shutdown(socket.SHUT_RDWR)
        for t in threads:
            t.join(5)
        udp.close()
        tcp.close()


NAMES = {"db": ["10.9.0.2"], "web": ["10.9.0.3", "10.9.0.4"]}


def test_answers_names_and_forwards_the_rest_in_the_namespace(netns: str) -> None:
    with upstream() as (addr, asked):
        table = dict(NAMES)
        server = dns.DnsServer(
            table.get, [addr], reverse=lambda ip: "db.net1" if ip == "10.9.0.2" else None
        )
        assert server.bind(netns) == (dns.DNS_ADDRESS, 53)
        server.start()
        try:
            qid, rcode, answers = parse_reply(in_netns(netns, lambda: ask_udp(query("db"))))
            assert (qid, rcode) == (0x1234, 0)
            assert answers == [(dns.TYPE_A, socket.inet_aton("10.9.0.2"))]
            _, _, answers = parse_reply(in_netns(netns, lambda: ask_udp(query("WEB."))))
            assert [socket.inet_ntoa(a) for _, a in answers] == ["10.9.0.3", "10.9.0.4"]
            # A late joiner: the lookup is made at query time.
            table["late"] = ["10.9.0.5"]
            _, _, answers = parse_reply(in_netns(netns, lambda: ask_tcp(query("late"))))
            assert answers == [(dns.TYPE_A, socket.inet_aton("10.9.0.5"))]
            # AAAA of a known name: an empty success, nothing forwarded.
            _, rcode, answers = parse_reply(
                in_netns(netns, lambda: ask_udp(query("db", dns.TYPE_AAAA)))
            )
            assert (rcode, answers) == (0, [])
            # Reverse lookup of a container address.
            _, _, answers = parse_reply(
                in_netns(netns, lambda: ask_udp(query("2.0.9.10.in-addr.arpa", dns.TYPE_PTR)))
            )
            assert answers == [(dns.TYPE_PTR, dns._encode_name("db.net1"))]
            assert asked == []
            # Anything else goes to the host's resolver, over UDP and TCP.
            for ask in (ask_udp, ask_tcp):
                _, rcode, answers = parse_reply(
                    in_netns(netns, lambda ask=ask: ask(query("example.test")))  # type: ignore[misc]
                )
                assert answers == [(dns.TYPE_A, socket.inet_aton(EXTERNAL))]
            assert asked == ["example.test", "example.test"]
        finally:
            server.close()

    # The namespace's port 53 is free again.
    def rebind() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((dns.DNS_ADDRESS, 53))

    in_netns(netns, rebind)


def test_unreachable_or_missing_upstream_is_servfail() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as dead:
        dead.bind(("127.0.0.1", 0))
        dead_addr = dead.getsockname()
    old = dns.FORWARD_TIMEOUT
    dns.FORWARD_TIMEOUT = 0.5
    try:
        for upstreams in ([dead_addr], []):
            server = dns.DnsServer(NAMES.get, upstreams)
            addr = server.bind(None, "127.0.0.1", 0)
            server.start()
            try:
                _, rcode, _ = parse_reply(ask_udp(query("nowhere.test"), addr))
                assert rcode == dns.RCODE_SERVFAIL
                _, rcode, answers = parse_reply(ask_udp(query("db"), addr))
                assert rcode == 0 and len(answers) == 1
            finally:
                server.close()
    finally:
        dns.FORWARD_TIMEOUT = old


def test_garbage_is_refused_not_fatal() -> None:
    server = dns.DnsServer(NAMES.get, [])
    addr = server.bind(None, "127.0.0.1", 0)
    server.start()
    try:
        reply = ask_udp(b"\x00\x07" + b"\xff" * 20, addr)
        assert reply[:2] == b"\x00\x07" and reply[3] & 0xF == dns.RCODE_REFUSED
        _, rcode, answers = parse_reply(ask_udp(query("db"), addr))
        assert rcode == 0 and len(answers) == 1
    finally:
        server.close()


def test_bind_failure_names_the_namespace(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope")
    with pytest.raises(dns.DockyardError, match="embedded DNS: cannot listen on 127.0.0.11:53"):
        dns.DnsServer(NAMES.get, []).bind(missing)


def test_host_upstreams(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("search x\nnameserver 10.0.0.1\nnameserver fd00::1\nnameserver bogus\n")
    assert dns.host_upstreams(str(conf)) == [("10.0.0.1", 53), ("fd00::1", 53)]
    assert dns.host_upstreams(str(tmp_path / "none")) == []


@pytest.mark.timeout(60)
def test_a_flood_of_forwarded_queries_is_bounded() -> None:
    """Thousands of queries for outside names, to an upstream that never answers, and
    hundreds of idle TCP connections: the server runs at most ``MAX_CONCURRENT`` threads
    (it made one per query, thousands in the container's monitor) and answers the rest
    SERVFAIL at once; its own names are still answered."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        server = dns.DnsServer(NAMES.get, [silent.getsockname()])
        addr = server.bind(None, "127.0.0.1", 0)
        server.start()
        before = threading.active_count()
        conns = []
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                s.settimeout(0.2)
                servfails = 0
                for batch in range(40):
                    for i in range(50):
                        s.sendto(query(f"x{batch}-{i}.example.com"), addr)
                    with contextlib.suppress(TimeoutError):
                        while True:
                            _, rcode, _ = parse_reply(s.recv(65535))
                            assert rcode == dns.RCODE_SERVFAIL
                            servfails += 1
                    peak = threading.active_count() - before
                    assert peak <= dns.MAX_CONCURRENT, peak
                # The kernel may drop some of a burst; most past the bound are answered.
                assert servfails >= 1000, servfails
            for _ in range(300):
                c = socket.create_connection(addr, timeout=5)
                conns.append(c)
            assert threading.active_count() - before <= dns.MAX_CONCURRENT
            _, rcode, answers = parse_reply(ask_udp(query("db"), addr))
            assert rcode == 0 and len(answers) == 1
        finally:
            for c in conns:
                c.close()
            server.close()
