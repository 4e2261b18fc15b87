"""``pause``/``unpause`` (cgroup freezer), ``top`` and ``stats`` through the CLI."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest

from conftest import Runner

COUNTER = "i=0; while true; do i=$((i+1)); echo $i > /tmp/n; sleep 0.02; done"


@pytest.fixture
def counter(dy: Runner, busybox: str) -> Iterator[str]:
    """A detached container ``ctr`` (memory limit 64 MiB) counting in /tmp/n."""
    cid = dy(
        "run",
        "-d",
        "--name",
        "ctr",
        "-m",
        "64m",
        "--network",
        "none",
        busybox,
        "sh",
        "-c",
        COUNTER,
        check=True,
    ).stdout.strip()
    yield cid
    dy("rm", "-f", "ctr", check=True)


def _count(dy: Runner) -> int:
    return int(dy("exec", "ctr", "cat", "/tmp/n", check=True).stdout)


def _frozen_count(cid: str, dy: Runner) -> int:
    # exec refuses a paused container, so read the counter through the host's view.
    pid = dy("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout.strip()
    with open(f"/proc/{pid}/root/tmp/n") as f:
        # Frozen between the shell's truncate and write, the file stays empty: -1.
        return int(f.read() or -1)


def test_pause_freezes_and_unpause_resumes(dy: Runner, counter: str) -> None:
    time.sleep(0.2)
    assert dy("pause", "ctr", check=True).stdout == "ctr\n"
    state = json.loads(dy("inspect", "-f", "{{json .State}}", "ctr", check=True).stdout)
    assert (state["Paused"], state["Status"], state["Running"]) == (True, "paused", True)
    assert "(Paused)" in dy("ps", check=True).stdout
    first = _frozen_count(counter, dy)
    time.sleep(0.5)
    assert _frozen_count(counter, dy) == first
    p = dy("exec", "ctr", "true")
    assert p.returncode == 1 and "is paused" in p.stderr
    p = dy("pause", "ctr")
    assert (p.returncode, p.stderr) == (
        1,
        f"Error response from daemon: Container {counter} is already paused\n",
    )
    assert dy("unpause", "ctr", check=True).stdout == "ctr\n"
    state = json.loads(dy("inspect", "-f", "{{json .State}}", "ctr", check=True).stdout)
    assert (state["Paused"], state["Status"]) == (False, "running")
    time.sleep(0.3)
    assert _count(dy) > first
    p = dy("unpause", "ctr")
    assert p.returncode == 1 and "is not paused" in p.stderr


def test_rm_force_of_a_paused_container(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "paused1", busybox, "sleep", "300", check=True)
    dy("pause", "paused1", check=True)
    dy("rm", "-f", "paused1", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


def test_pause_not_running(dy: Runner, busybox: str) -> None:
    cid = dy("create", "--name", "idle", busybox, "true", check=True).stdout.strip()
    p = dy("pause", "idle")
    assert (p.returncode, p.stderr) == (
        1,
        f"Error response from daemon: Container {cid} is not running\n",
    )
    assert dy("pause", "nosuch").returncode == 1
    dy("rm", "idle", check=True)


def test_top_lists_the_processes(dy: Runner, counter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A user's COLUMNS=80 (pytest-xdist's workers have it too) does not cut the lines.
    monkeypatch.setenv("COLUMNS", "80")
    dy("exec", "-d", "ctr", "sleep", "123", check=True)
    lines = dy("top", "ctr", check=True).stdout.splitlines()
    assert lines[0].split() == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    cmds = [line.split(None, 7)[7] for line in lines[1:]]
    assert f"sh -c {COUNTER}" in cmds
    assert "sleep 123" in cmds
    # Only the container's processes: every PID is in its cgroup.
    pid1 = dy("inspect", "-f", "{{.State.Pid}}", "ctr", check=True).stdout.strip()
    assert pid1 in [line.split()[1] for line in lines[1:]]
    lines = dy("top", "ctr", "-o", "pid,comm", check=True).stdout.splitlines()
    assert lines[0].split() == ["PID", "COMMAND"] and any("sh" in ln for ln in lines[1:])
    p = dy("top", "ctr", "-o", "comm")
    assert p.returncode == 1 and "PID" in p.stderr


def test_top_of_stopped_container(dy: Runner, busybox: str) -> None:
    cid = dy("create", "--name", "idle", busybox, "true", check=True).stdout.strip()
    p = dy("top", "idle")
    assert (p.returncode, p.stderr) == (
        1,
        f"Error response from daemon: container {cid} is not running\n",
    )
    dy("rm", "idle", check=True)


def _size(text: str) -> float:
    units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
    for unit in sorted(units, key=len, reverse=True):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * units[unit]
    raise AssertionError(text)


def test_stats_no_stream(dy: Runner, counter: str) -> None:
    out = dy("stats", "--no-stream", check=True).stdout.splitlines()
    assert out[0].split("   ")[0] == "CONTAINER ID"
    for title in ("NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"):
        assert title in out[0]
    assert len(out) == 2 and out[1].startswith(counter[:12])
    fmt = "{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.NetIO}}|{{.BlockIO}}|{{.PIDs}}"
    line = dy("stats", "--no-stream", "--format", fmt, "ctr", check=True).stdout.strip()
    name, cpu, mem, mem_perc, net, block, pids = line.split("|")
    assert name == "ctr" and cpu.endswith("%") and float(cpu[:-1]) >= 0
    usage, limit = mem.split(" / ")
    assert _size(usage) > 0 and limit == "64MiB"
    assert 0 < float(mem_perc[:-1]) < 100
    assert net == "0B / 0B"  # --network none: only loopback
    assert " / " in block and int(pids) >= 1
    p = dy("stats", "--no-stream", "nosuch")
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr


def test_stats_json_and_without_limit(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "free", busybox, "sleep", "300", check=True)
    try:
        row = json.loads(dy("stats", "--no-stream", "--format", "json", "free", check=True).stdout)
        assert row["Name"] == "free" and row["PIDs"] == "1"
        with open("/proc/meminfo") as f:
            total = int(f.readline().split()[1]) * 1024
        limit = _size(row["MemUsage"].split(" / ")[1])
        assert abs(limit - total) / total < 0.01
    finally:
        dy("rm", "-f", "free", check=True)


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_external_runtime(dy: Runner, busybox: str, runtime: str) -> None:
    from conftest import need

    need(runtime)
    dy("run", "-d", "--runtime", runtime, "-m", "32m", "--name", "ext", busybox, "sleep", "300")
    try:
        line = dy("stats", "--no-stream", "--format", "{{.MemUsage}}", "ext", check=True).stdout
        usage, limit = line.strip().split(" / ")
        assert _size(usage) > 0 and limit == "32MiB"
        assert "sleep 300" in dy("top", "ext", check=True).stdout
        dy("pause", "ext", check=True)
        assert dy("inspect", "-f", "{{.State.Status}}", "ext").stdout == "paused\n"
        dy("unpause", "ext", check=True)
        assert dy("exec", "ext", "true").returncode == 0
    finally:
        dy("rm", "-f", "ext", check=True)
