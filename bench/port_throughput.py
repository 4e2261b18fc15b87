"""Throughput and latency of a published port against a direct connection to the container.

Usage (as root): ``python bench/port_throughput.py [--runs 5] [--size-mib 64] [--requests 300]``.

In a private temp engine root, with a default bridge of its own (``dybench0`` on a free
10.x.y.0/24), it runs busybox httpd in a container published with ``-p 127.0.0.1::80`` and
fetches from the host:

- throughput: GET of a ``--size-mib`` file (httpd sends it with sendfile), ``--runs`` times
  each through Dockyard's path (host loopback -> the monitor's proxy -> the container) and
  directly (the container's address on the bridge); medians in MB/s and their ratio;
- latency: ``--requests`` sequential GETs of a 6-byte file, each on a new connection; the
  median per request each way and the difference, the latency the proxy adds.

Traffic goes only to loopback and to the container, once ``ip route get`` shows the route to
it goes through the benchmark's own bridge. Everything it made (container, bridge, temp
root) is removed at the end, also on failure.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DOCKYARD = str(Path(sys.executable).parent / "dockyard")
BRIDGE = "dybench0"


def free_subnet() -> str:
    """A 10.x.y.1/24 gateway address whose /24 no host route covers."""
    out = subprocess.run(["ip", "-json", "route"], capture_output=True, text=True, check=True)
    routes = [
        ipaddress.ip_network(r["dst"] if "/" in r["dst"] else r["dst"] + "/32", strict=False)
        for r in json.loads(out.stdout)
        if r.get("dst") not in (None, "default")
    ]
    for y in range(256):
        net = ipaddress.ip_network(f"10.198.{y}.0/24")
        if not any(net.overlaps(r) for r in routes):
            return f"{net.network_address + 1}/24"
    raise SystemExit("no free 10.198.y.0/24 for the benchmark's bridge")


def get(addr: tuple[str, int], path: str) -> int:
    """HTTP/1.0 GET of ``path``; the number of bytes received (headers included)."""
    total = 0
    with socket.create_connection(addr, timeout=30) as c:
        c.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        buf = bytearray(1 << 20)
        while n := c.recv_into(buf):
            total += n
    return total


def wait_ready(addr: tuple[str, int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if get(addr, "/small") > 0:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"httpd did not answer on {addr[0]}:{addr[1]}")
        time.sleep(0.1)


def throughput(addr: tuple[str, int], runs: int, size: int) -> float:
    """Median MB/s of ``runs`` downloads of /big."""
    rates = []
    for _ in range(runs):
        start = time.perf_counter()
        got = get(addr, "/big")
        elapsed = time.perf_counter() - start
        if got < size:
            raise SystemExit(f"short read from {addr}: {got} of {size} bytes")
        rates.append(got / elapsed / 1e6)
    return statistics.median(rates)


def latency(addr: tuple[str, int], requests: int) -> float:
    """Median microseconds of one GET of /small on a new connection."""
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        get(addr, "/small")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="dockyard-portbench-")
    env = {
        **os.environ,
        "DOCKYARD_ROOT": f"{tmp}/root",
        "DOCKYARD_RUNROOT": f"{tmp}/run",
        "DOCKYARD_BRIDGE": BRIDGE,
        "DOCKYARD_BIP": free_subnet(),
    }

    def dy(*argv: str) -> str:
        return subprocess.run(
            [DOCKYARD, *argv], env=env, check=True, capture_output=True, text=True
        ).stdout

    cid = ""
    try:
        dy("bootstrap", "busybox")
        script = (
            f"mkdir /www && dd if=/dev/zero of=/www/big bs=1M count={args.size_mib} 2>/dev/null"
            " && echo small > /www/small && exec httpd -f -p 80 -h /www"
        )
        cid = dy("run", "-d", "-p", "127.0.0.1::80", "busybox", "sh", "-c", script).strip()
        obj = json.loads(dy("inspect", cid))[0]
        ip = obj["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
        port = int(obj["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"])
        route = subprocess.run(
            ["ip", "-json", "route", "get", ip], capture_output=True, text=True, check=True
        )
        dev = json.loads(route.stdout)[0]["dev"]
        if dev != BRIDGE:
            raise SystemExit(f"the route to {ip} goes through {dev}, not {BRIDGE}: not sending")
        direct, proxied = (ip, 80), ("127.0.0.1", port)
        wait_ready(direct)
        wait_ready(proxied)
        size = args.size_mib << 20
        # Warm up both paths (page cache, ARP, the proxy's first connection).
        throughput(direct, 1, size)
        throughput(proxied, 1, size)
        t_direct = throughput(direct, args.runs, size)
        t_proxied = throughput(proxied, args.runs, size)
        l_direct = latency(direct, args.requests)
        l_proxied = latency(proxied, args.requests)
        print(f"{'PATH':<40}{'MB/s':>10}{'us/request':>14}")
        print(f"{'direct (' + ip + ':80)':<40}{t_direct:>10.0f}{l_direct:>14.0f}")
        print(
            f"{'published (127.0.0.1:' + str(port) + ')':<40}{t_proxied:>10.0f}{l_proxied:>14.0f}"
        )
        print(
            f"throughput ratio published/direct: {t_proxied / t_direct:.2f}; "
            f"extra latency per request: {l_proxied - l_direct:.0f} us"
        )
    finally:
        if cid:
            subprocess.run([DOCKYARD, "rm", "-f", cid], env=env, capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
