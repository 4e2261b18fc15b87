"""Published ports end to end: containers on this run's default bridge serving through their
monitor's proxy, fetched on the host's loopback and the host's own addresses.

Traffic goes only to loopback, to the host's own addresses (whose route is ``lo``) and to
containers on the bridge this test run made.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator

import pytest

from conftest import DEFAULT_BRIDGE, Runner
from dockyard.network.dns import _enter_netns
from test_monitor import _monitor_pid

pytestmark = pytest.mark.slow

HTTPD = "mkdir -p /www && echo hello from $(hostname) > /www/index.html && httpd -f -p 80 -h /www"


def free_port(consecutive: int = 1) -> int:
    """A host port P with P..P+consecutive-1 free on every address just now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("0.0.0.0", 0))
            port = s.getsockname()[1]
        if port + consecutive > 65536:
            continue
        try:
            with contextlib.ExitStack() as stack:
                for p in range(port, port + consecutive):
                    for family, ip in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                        s = stack.enter_context(socket.socket(family))
                        if family == socket.AF_INET6:
                            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                        s.bind((ip, p))
            return port
        except OSError:
            continue
    raise AssertionError("no free host ports")


def route_dev(addr: str) -> str:
    out = subprocess.run(
        ["ip", "-json", "route", "get", addr], capture_output=True, text=True, check=True
    )
    return str(json.loads(out.stdout)[0]["dev"])


def fetch(host: str, port: int, timeout: float = 10) -> str:
    """GET / over HTTP/1.0 (retried while the server starts); the body."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=5) as c:
                c.sendall(b"GET /index.html HTTP/1.0\r\n\r\n")
                data = b""
                while chunk := c.recv(65536):
                    data += chunk
            if data:
                return data.split(b"\r\n\r\n", 1)[1].decode()
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on {host}:{port}")
        time.sleep(0.1)


def inspect(dy: Runner, name: str) -> dict:
    return dict(json.loads(dy("inspect", name, check=True).stdout)[0])


def host_address() -> str | None:
    """One of the host's own non-loopback IPv4 addresses (routed through ``lo``)."""
    out = subprocess.run(["ip", "-json", "-4", "addr"], capture_output=True, text=True, check=True)
    for link in json.loads(out.stdout):
        for a in link.get("addr_info", []):
            if link["ifname"] != "lo" and not link["ifname"].startswith(DEFAULT_BRIDGE):
                return str(a["local"])
    return None


def test_publish_serve_inspect_and_release(dy: Runner, busybox: str) -> None:
    port = free_port()
    dy(
        "run",
        "-d",
        "--name",
        "web",
        "-p",
        f"{port}:80",
        "-p",
        "127.0.0.1::80",
        "-p",
        "[::1]::80",
        busybox,
        "sh",
        "-c",
        HTTPD,
        check=True,
    )
    obj = inspect(dy, "web")
    cid = obj["Id"][:12]
    bindings = obj["NetworkSettings"]["Ports"]["80/tcp"]
    assert {"HostIp": "0.0.0.0", "HostPort": str(port)} in bindings
    local = [b for b in bindings if b["HostIp"] == "127.0.0.1"]
    assert len(local) == 1 and 32768 <= int(local[0]["HostPort"]) <= 60999
    assert fetch("127.0.0.1", port) == f"hello from {cid}\n"
    assert fetch("127.0.0.1", int(local[0]["HostPort"])) == f"hello from {cid}\n"
    own = host_address()
    if own is not None:
        assert route_dev(own) == "lo"
        assert fetch(own, port) == f"hello from {cid}\n"
    if any(b["HostIp"] == "::" for b in bindings):
        assert fetch("::1", port) == f"hello from {cid}\n"
    six = [b for b in bindings if b["HostIp"] == "::1"]
    assert len(six) == 1
    assert fetch("::1", int(six[0]["HostPort"])) == f"hello from {cid}\n"
    assert f"[::1]:{six[0]['HostPort']}" in dy("port", "web", "80", check=True).stdout
    lines = dy("port", "web", check=True).stdout.splitlines()
    assert f"80/tcp -> 0.0.0.0:{port}" in lines
    assert f"80/tcp -> 127.0.0.1:{local[0]['HostPort']}" in lines
    assert f"0.0.0.0:{port}" in dy("port", "web", "80/tcp", check=True).stdout.splitlines()
    ps = dy("ps", "--format", "{{.Ports}}", check=True).stdout.strip()
    assert f"0.0.0.0:{port}->80/tcp" in ps and f"127.0.0.1:{local[0]['HostPort']}->80/tcp" in ps
    # Stopped: the ports are released and no longer shown.
    dy("stop", "-t", "0", "web", check=True)
    assert inspect(dy, "web")["NetworkSettings"]["Ports"] == {}
    assert dy("port", "web", check=True).stdout == ""
    with socket.create_server(("0.0.0.0", port)):
        pass
    # Started again: served again.
    dy("start", "web", check=True)
    assert fetch("127.0.0.1", port) == f"hello from {cid}\n"
    dy("rm", "-f", "web", check=True)
    with socket.create_server(("0.0.0.0", port)):
        pass


def test_port_taken_fails_run_and_leaves_nothing(dy: Runner, busybox: str) -> None:
    port = free_port()
    dy("run", "-d", "--name", "first", "-p", f"{port}:80", busybox, "sleep", "60", check=True)
    out = dy("run", "--name", "second", "-p", f"{port}:80", busybox, "true")
    assert out.returncode == 125
    obj = inspect(dy, "second")
    second = obj["Id"]
    endpoint = obj["NetworkSettings"]["Networks"]["bridge"]["EndpointID"]
    assert out.stderr.splitlines()[0] == (
        "dockyard: Error response from daemon: failed to set up container networking: "
        f"driver failed programming external connectivity on endpoint second ({endpoint}): "
        f"Bind for 0.0.0.0:{port} failed: port is already allocated"
    )
    # As Docker: the container stays created, with nothing running, mounted or attached.
    assert inspect(dy, "second")["State"]["Status"] == "created"
    assert dy("ps", "-q", check=True).stdout.split() == [inspect(dy, "first")["Id"][:12]]
    dy("rm", second, check=True)
    # A detached run fails the same way, and --rm removes the container.
    out = dy("run", "-d", "--rm", "-p", f"{port}:80", busybox, "true")
    assert out.returncode == 125 and "port is already allocated" in out.stderr
    dy("rm", "-f", "first", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
    # Held by some other process: the "address already in use" form.
    with socket.create_server(("0.0.0.0", port)):
        out = dy("run", "--rm", "-p", f"{port}:80", busybox, "true")
    assert out.returncode == 125
    assert (
        f"failed to bind host port for 0.0.0.0:{port}:" in out.stderr
        and "80/tcp: address already in use" in out.stderr
    )
    assert dy("ps", "-aq", check=True).stdout == ""


def test_ranges_publish_all_and_ps_column(dy: Runner, busybox: str) -> None:
    port = free_port(2)
    dy(
        "run",
        "-d",
        "--name",
        "many",
        "-p",
        f"127.0.0.1:{port}-{port + 1}:{port}-{port + 1}",
        "--expose",
        "7000-7001",
        "-P",
        busybox,
        "sleep",
        "60",
        check=True,
    )
    ports = inspect(dy, "many")["NetworkSettings"]["Ports"]
    assert ports[f"{port}/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port)}]
    assert ports[f"{port + 1}/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(port + 1)}]
    for p in ("7000/tcp", "7001/tcp"):
        assert ports[p][0]["HostIp"] == "0.0.0.0" and int(ports[p][0]["HostPort"]) >= 32768
    column = dy("ps", "--format", "{{.Ports}}", check=True).stdout.strip()
    assert f"127.0.0.1:{port}-{port + 1}->{port}-{port + 1}/tcp" in column.split(", ")
    assert f"0.0.0.0:{ports['7000/tcp'][0]['HostPort']}->7000/tcp" in column.split(", ")
    dy("rm", "-f", "many", check=True)


@contextlib.contextmanager
def udp_echo_in(netns: str, port: int) -> Iterator[None]:
    """A UDP server inside the container's network namespace (busybox has none) that
    answers each datagram upper-cased."""
    ready = threading.Event()
    holder: list[socket.socket] = []

    def serve() -> None:
        _enter_netns(netns)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        holder.append(s)
        ready.set()
        while True:
            try:
                data, addr = s.recvfrom(65535)
            except OSError:
                return
            if not data:
                return
            s.sendto(data.upper(), addr)

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    assert ready.wait(5)
    try:
        yield
    finally:
        # Wakes the blocked recvfrom (and says ENOTCONN: the socket is not connected).
        with contextlib.suppress(OSError):
            holder[0].shutdown(socket.SHUT_RDWR)
        t.join(5)
        holder[0].close()


def test_udp(dy: Runner, busybox: str) -> None:
    dy(
        "run",
        "-d",
        "--name",
        "udp1",
        "-p",
        "127.0.0.1::5353/udp",
        busybox,
        "sleep",
        "60",
        check=True,
    )
    obj = inspect(dy, "udp1")
    host_port = int(obj["NetworkSettings"]["Ports"]["5353/udp"][0]["HostPort"])
    with udp_echo_in(obj["NetworkSettings"]["SandboxKey"], 5353):
        for word in (b"one", b"two"):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.settimeout(5)
                c.sendto(word, ("127.0.0.1", host_port))
                assert c.recv(100) == word.upper()
    assert dy("port", "udp1", "5353/udp", check=True).stdout == f"127.0.0.1:{host_port}\n"
    dy("rm", "-f", "udp1", check=True)


def test_host_none_and_container_modes(dy: Runner, busybox: str) -> None:
    out = dy(
        "run",
        "-d",
        "--name",
        "hostmode",
        "--network",
        "host",
        "-p",
        "80:80",
        busybox,
        "sleep",
        "60",
    )
    assert out.returncode == 0
    assert out.stderr == "WARNING: Published ports are discarded when using host network mode\n"
    assert inspect(dy, "hostmode")["NetworkSettings"]["Ports"] == {}
    assert dy("port", "hostmode", check=True).stdout == ""
    for args, what in ((["-p", "80"], "publishing"), (["--expose", "80"], "exposing")):
        out = dy("create", "--network", "container:hostmode", *args, busybox, "true")
        assert out.returncode == 1
        assert f"conflicting options: port {what} and the container type network mode" in out.stderr
    dy(
        "run",
        "-d",
        "--name",
        "nonemode",
        "--network",
        "none",
        "--expose",
        "80",
        busybox,
        "sleep",
        "60",
        check=True,
    )
    assert inspect(dy, "nonemode")["NetworkSettings"]["Ports"] == {}
    dy("rm", "-f", "hostmode", "nonemode", check=True)


def test_killed_monitor_frees_its_ports(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    port = free_port()
    dy("run", "-d", "--name", "lost", "-p", f"{port}:80", busybox, "sleep", "60", check=True)
    cid = inspect(dy, "lost")["Id"]
    os.kill(_monitor_pid(engine_env["DOCKYARD_RUNROOT"], cid), signal.SIGKILL)
    # The proxy died with its monitor: the next command finds the exit and the port free.
    dy("run", "-d", "--name", "next", "-p", f"{port}:80", busybox, "sh", "-c", HTTPD, check=True)
    assert inspect(dy, "lost")["State"]["Status"] == "exited"
    assert inspect(dy, "lost")["NetworkSettings"]["Ports"] == {}
    assert fetch("127.0.0.1", port).startswith("hello from")
    dy("rm", "-f", "lost", "next", check=True)
    with socket.create_server(("0.0.0.0", port)):
        pass
