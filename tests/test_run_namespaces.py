"""``--ipc``, ``--pid``, ``--uts``, ``--cgroupns`` and ``--userns`` (issue 15): which
namespaces a busybox container shares, read from /proc/self/ns inside it and compared
with the host's and another container's; /dev/shm shared as moby's setupIpcDirs does."""

from __future__ import annotations

import json
import os
import socket

from conftest import Runner


def _ns(kind: str) -> str:
    return os.readlink(f"/proc/self/ns/{kind}")


def test_ipc_modes(dy: Runner, busybox: str) -> None:
    dy(
        *("run", "-d", "--name", "donor", "--ipc", "shareable", "--shm-size", "8m", busybox),
        *("sh", "-c", "echo shared > /dev/shm/x; sleep 60"),
        check=True,
    )
    dy("run", "-d", "--name", "private", busybox, "sleep", "60", check=True)
    donor_ns = dy("exec", "donor", "readlink", "/proc/self/ns/ipc", check=True).stdout
    p = dy(
        *("run", "--rm", "--ipc", "container:donor", busybox, "sh", "-c"),
        "cat /dev/shm/x; readlink /proc/self/ns/ipc; df -k /dev/shm | tail -1",
        check=True,
    )
    lines = p.stdout.splitlines()
    assert lines[:2] == ["shared", donor_ns.strip()]
    assert lines[2].split()[1] == "8192"  # the donor's /dev/shm, its size
    info = json.loads(dy("inspect", "donor", check=True).stdout)[0]
    assert info["HostConfig"]["IpcMode"] == "shareable"
    p = dy("run", "--rm", "--ipc", "container:private", busybox, "true")
    assert p.returncode == 125
    assert "non-shareable IPC (hint: use IpcMode:shareable for the donor container)" in p.stderr
    p = dy("run", "--rm", "--ipc", "host", busybox, "readlink", "/proc/self/ns/ipc", check=True)
    assert p.stdout.strip() == _ns("ipc")
    p = dy("run", "--rm", busybox, "readlink", "/proc/self/ns/ipc", check=True)
    assert p.stdout.strip() not in (_ns("ipc"), donor_ns.strip())
    p = dy("run", "--rm", "--ipc", "none", busybox, "grep", "-c", " /dev/shm ", "/proc/mounts")
    assert p.stdout.strip() == "0"
    dy("rm", "-f", "donor", "private", check=True)


def test_pid_uts_cgroup_user_modes(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "target", busybox, "sleep", "61", check=True)
    p = dy("run", "--rm", "--pid", "container:target", busybox, "ps", "-o", "args", check=True)
    assert "sleep 61" in p.stdout
    p = dy("run", "--rm", "--pid", "host", busybox, "readlink", "/proc/self/ns/pid", check=True)
    assert p.stdout.strip() == _ns("pid")
    p = dy("run", "--rm", "--uts", "host", busybox, "hostname", check=True)
    assert p.stdout.strip() == socket.gethostname()
    p = dy("run", "--rm", "--uts", "host", "-h", "other", busybox, "true")
    assert p.returncode == 125
    assert "conflicting options: hostname and the UTS mode" in p.stderr
    script = "readlink /proc/self/ns/cgroup"
    host = dy("run", "--rm", "--cgroupns", "host", busybox, "sh", "-c", script, check=True)
    assert host.stdout.strip() == _ns("cgroup")
    private = dy("run", "--rm", "--cgroupns", "private", busybox, "sh", "-c", script, check=True)
    assert private.stdout.strip() != _ns("cgroup")
    p = dy("run", "--rm", "--userns", "host", busybox, "readlink", "/proc/self/ns/user")
    assert p.stdout.strip() == _ns("user")
    for flag, value, message in [
        ("--ipc", "bogus", "--ipc: invalid IPC mode"),
        ("--pid", "container:", "--pid: invalid PID mode"),
        ("--uts", "private", "--uts: invalid UTS mode"),
        ("--userns", "remap", "--userns: invalid USER mode"),
        ("--cgroupns", "shared", "--cgroupns: invalid CGROUP mode"),
    ]:
        p = dy("run", "--rm", flag, value, busybox, "true")
        assert p.returncode == 125 and f"dockyard: {message}\n" in p.stderr, p.stderr
    p = dy("run", "--rm", "--pid", "container:nosuch", busybox, "true")
    assert p.returncode == 125 and "No such container: nosuch" in p.stderr
    dy("rm", "-f", "target", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
