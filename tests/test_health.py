"""Health checks: --health-* flags and the image's HEALTHCHECK, probed by the monitor with
Docker's state machine (starting/healthy/unhealthy, retries, start period, timeout)."""

from __future__ import annotations

import glob
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from conftest import CGROUP_PARENT, Runner
from dockyard.cli.opts import config_from_flags
from dockyard.container.health import format_duration, merge, probe_command
from dockyard.errors import InvalidArgument
from dockyard.timetypes import parse_duration


def _health(dy: Runner, name: str) -> dict[str, Any]:
    out = dy("inspect", "-f", "{{json .State.Health}}", name, check=True).stdout
    return json.loads(out)


def _until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.1)


def test_flags_durations_and_merge() -> None:
    assert parse_duration("200ms", "--health-interval") == 200_000_000
    assert parse_duration("1m30s", "--health-interval") == 90 * 10**9
    assert parse_duration("-1s", "--health-timeout") == -(10**9)
    with pytest.raises(InvalidArgument, match='missing unit in duration "5"'):
        parse_duration("5", "--health-interval")
    assert format_duration(300_000_000) == "300ms"
    assert format_duration(90 * 10**9) == "1m30s"
    assert format_duration(30 * 10**9) == "30s"
    with pytest.raises(InvalidArgument, match="--no-healthcheck conflicts with --health-"):
        config_from_flags("true", 0, 0, 0, 0, 0, no_healthcheck=True)
    with pytest.raises(InvalidArgument, match="--health-retries cannot be negative"):
        config_from_flags("true", 0, 0, -1, 0, 0, no_healthcheck=False)
    assert config_from_flags(None, 0, 0, 0, 0, 0, False) is None
    user = config_from_flags(None, 10**9, 0, 0, 0, 0, False)
    image = {"Test": ["CMD", "true"], "Interval": 5 * 10**9, "Retries": 7}
    merged = merge(user, image)
    assert merged is not None
    assert merged["Test"] == ["CMD", "true"]
    assert (merged["Interval"], merged["Retries"]) == (10**9, 7)
    with pytest.raises(InvalidArgument, match="Interval in Healthcheck cannot be less than 1ms"):
        merge({"Test": ["CMD", "true"], "Interval": 10}, None)
    assert probe_command({"Test": ["NONE"]}) is None
    assert probe_command({"Test": ["CMD-SHELL", "a b"]}) == ["/bin/sh", "-c", "a b"]
    assert probe_command({"Test": ["CMD", "x", "y"]}) == ["x", "y"]


def test_starting_healthy_unhealthy_and_ps(dy: Runner, busybox: str) -> None:
    dy(
        "run", "-d", "--name", "hh", "--health-cmd", "cat /tmp/ok",
        "--health-interval", "1s", "--health-retries", "2",
        busybox, "sh", "-c", "sleep 5; echo fine > /tmp/ok; sleep 100",
        check=True,
    )  # fmt: skip
    try:
        h = _health(dy, "hh")
        # A first probe (1 s) may have failed already on a loaded machine: one failure
        # of the two retries keeps it starting.
        assert h["Status"] == "starting" and h["FailingStreak"] <= 1
        assert "(health: starting)" in dy("ps", check=True).stdout
        # Two failures before /tmp/ok exists: unhealthy (no start period).
        _until(lambda: _health(dy, "hh")["Status"] == "unhealthy", timeout=15)
        assert _health(dy, "hh")["FailingStreak"] >= 2
        _until(lambda: _health(dy, "hh")["Status"] == "healthy", timeout=15)
        h = _health(dy, "hh")
        assert h["FailingStreak"] == 0
        assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
        assert set(h["Log"][-1]) == {"Start", "End", "ExitCode", "Output"}
        ps = dy("ps", check=True).stdout
        assert "(healthy)" in ps
        names = dy("ps", "--filter", "health=healthy", "--format", "{{.Names}}").stdout
        assert names.split() == ["hh"]
        assert dy("ps", "-q", "--filter", "health=unhealthy").stdout == ""
        _until(lambda: len(_health(dy, "hh")["Log"]) == 5, timeout=15)
        time.sleep(1.5)
        assert len(_health(dy, "hh")["Log"]) == 5  # only the last 5 are kept
        dy("exec", "hh", "rm", "/tmp/ok", check=True)
        _until(lambda: _health(dy, "hh")["Status"] == "unhealthy", timeout=15)
        assert "(unhealthy)" in dy("ps", check=True).stdout
        dy("stop", "-t", "0", "hh", check=True)
        # The exit is recorded and the health kept (unhealthy once the probes stop).
        state = json.loads(dy("inspect", "-f", "{{json .State}}", "hh", check=True).stdout)
        assert state["Status"] == "exited" and state["Health"]["Status"] == "unhealthy"
    finally:
        dy("rm", "-f", "hh")


def test_start_period_and_timeout(dy: Runner, busybox: str) -> None:
    dy(
        "run", "-d", "--name", "sp", "--health-cmd", "false", "--health-interval", "100ms",
        "--health-retries", "1", "--health-start-period", "6s",
        "--health-start-interval", "100ms", busybox, "sleep", "100",
        check=True,
    )  # fmt: skip
    dy(
        "run", "-d", "--name", "to", "--health-cmd", "sleep 5", "--health-timeout", "200ms",
        "--health-interval", "100ms", "--health-retries", "1", busybox, "sleep", "100",
        check=True,
    )  # fmt: skip
    try:
        _until(lambda: len(_health(dy, "sp")["Log"]) >= 2)
        h = _health(dy, "sp")
        # Failures inside the start period do not count (6 s: a loaded machine took more
        # than 1.5 s to run the first two probes).
        assert h["Status"] == "starting" and h["FailingStreak"] == 0
        assert h["Log"][0]["ExitCode"] == 1
        _until(lambda: _health(dy, "sp")["Status"] == "unhealthy")
        _until(lambda: _health(dy, "to")["Status"] == "unhealthy")
        entry = _health(dy, "to")["Log"][0]
        assert entry["ExitCode"] == -1
        assert entry["Output"] == "Health check exceeded timeout (200ms)"
        assert dy("ps", "-q", "--filter", "health=unhealthy").stdout.count("\n") == 2
    finally:
        dy("rm", "-f", "sp", "to")


def test_image_healthcheck_and_no_healthcheck(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nHEALTHCHECK --interval=200ms --retries=1 CMD ["true"]\n'
    )
    dy("build", "-t", "hc", str(ctx), check=True)
    dy("run", "-d", "--name", "img", "hc", "sleep", "100", check=True)
    dy("run", "-d", "--name", "off", "--no-healthcheck", "hc", "sleep", "100", check=True)
    try:
        cfg = json.loads(dy("inspect", "-f", "{{json .Config.Healthcheck}}", "img").stdout)
        assert cfg["Test"] == ["CMD", "true"] and cfg["Interval"] == 200_000_000
        _until(lambda: _health(dy, "img")["Status"] == "healthy")
        off = json.loads(dy("inspect", "off", check=True).stdout)[0]
        assert off["Config"]["Healthcheck"]["Test"] == ["NONE"]
        assert "Health" not in off["State"]
        assert dy("ps", "--filter", "health=none", "--format", "{{.Names}}").stdout.split() == [
            "off"
        ]
        bad = dy("run", "--no-healthcheck", "--health-cmd", "true", busybox, "true")
        assert bad.returncode == 125
        assert "--no-healthcheck conflicts with --health-* options" in bad.stderr
    finally:
        dy("rm", "-f", "img", "off")


def _container_cgroups(cid: str) -> list[str]:
    """The cgroup directories of container ``cid`` under this run's default parent."""
    found: set[str] = set()
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        own = line.split(":", 2)[2].rstrip("/")
        found.update(glob.glob(f"/sys/fs/cgroup/*{own}/{CGROUP_PARENT}/{cid}"))
    return sorted(found)


@pytest.mark.slow
def test_rm_f_with_probes_in_flight_leaves_nothing(dy: Runner, busybox: str) -> None:
    """``rm -f`` while 100 ms probes run returns once the container's cgroup is gone
    and soon; a container started meanwhile is not hurt by the removal of the cgroup
    parent. The old monitor recorded the exit before its cleanup (so ``rm`` returned
    with the cgroup still there) and removed the empty parent cgroup while another
    container was being created under it (that create failed with ENOENT)."""
    health = ["--health-cmd", "sleep 0.05", "--health-interval", "100ms"]
    previous = dy("run", "-d", *health, busybox, "sleep", "100", check=True).stdout.strip()
    try:
        for i in range(8):
            assert _container_cgroups(previous)
            time.sleep(0.1 + 0.07 * (i % 4))  # land at different points of a probe
            with ThreadPoolExecutor(2) as pool:
                removal = pool.submit(dy, "rm", "-f", previous)
                started = time.monotonic()
                run = pool.submit(dy, "run", "-d", *health, busybox, "sleep", "100")
                assert removal.result().returncode == 0, removal.result().stderr
                assert time.monotonic() - started < 8
                assert _container_cgroups(previous) == []
                assert run.result().returncode == 0, run.result().stderr
            previous = run.result().stdout.strip()
    finally:
        dy("rm", "-f", previous)
