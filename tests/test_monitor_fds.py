"""A monitor whose descriptors pass select(2)'s 1024 limit keeps its container.

520 published ports give the monitor over 1040 sockets (an IPv4 and an IPv6 one each), so
its own pipes and the attach socket's clients get descriptors above 1023. With
select.select the monitor died there and the container with it (exit 255).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time

import pytest

from conftest import DOCKYARD, Runner

COUNT = 520


def _free_range(count: int) -> int:
    """A first port of ``count`` consecutive host ports nobody holds (TCP, v4 and v6)."""
    for base in range(20000, 30000 - count, count):
        held = []
        try:
            for port in range(base, base + count):
                for family, host in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
                    s = socket.socket(family, socket.SOCK_STREAM)
                    held.append(s)
                    if family == socket.AF_INET6:
                        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                    s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    pytest.skip(f"no {count} consecutive free host ports")


@pytest.mark.slow
def test_monitor_past_1024_descriptors(
    dy: Runner, engine_env: dict[str, str], busybox: str
) -> None:
    base = _free_range(COUNT)
    spec = f"{base}-{base + COUNT - 1}:{base}-{base + COUNT - 1}"
    cid = dy("run", "-d", "-p", spec, busybox, "sh", "-c", "echo up; sleep 60", check=True)
    cid_text = cid.stdout.strip()
    try:
        time.sleep(1)
        state = dy("inspect", "-f", "{{.State.Status}}", cid_text, check=True).stdout
        assert state == "running\n"
        # attach: a new client descriptor in the monitor, above 1023
        attach = subprocess.Popen(
            [DOCKYARD, "attach", "--no-stdin", cid_text],
            env={**os.environ, **engine_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(1)
        assert attach.poll() is None
        attach.kill()
        attach.wait()
        assert dy("logs", cid_text, check=True).stdout == "up\n"
        assert dy("inspect", "-f", "{{.State.Status}}", cid_text).stdout == "running\n"
    finally:
        dy("rm", "-f", cid_text, check=True)
