"""``dockyard build``'s container flags, as the classic builder applies them to its RUN
containers (moby builder/dockerfile hostConfigFromOptions): memory, CPU, cgroup parent,
/dev/shm, ulimits, extra hosts; and the flags dockerd refuses on Linux or BuildKit
ignores."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from conftest import Runner

needs_v1 = pytest.mark.skipif(
    not os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    reason="the paths read are cgroup v1's",
)


def _context(tmp_path: Path, run: str) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN {run}\n")
    return str(ctx)


@needs_v1
def test_run_containers_get_the_limits(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes "
        "cpu/cpu.shares cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus; "
        "df -k /dev/shm | tail -1; ulimit -n; grep myhost /etc/hosts",
    )
    p = dy(
        "build",
        "--progress",
        "plain",
        *("-m", "64m", "--memory-swap", "128m", "-c", "512"),
        *("--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0"),
        *("--shm-size", "8m", "--ulimit", "nofile=1024:2048", "--add-host", "myhost:10.1.2.3"),
        ctx,
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for value in ("67108864", "134217728", "512", "50000", "25000"):
        assert f"\n{value}\n" in out, out
    assert "\n0\n" in out  # cpuset
    assert " 8192 " in out  # /dev/shm, KiB
    assert "\n1024\n" in out
    assert "10.1.2.3\tmyhost" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
        (["--cpu-period", "10"], "CPU cfs period can not be less than 1ms"),
        (["--security-opt", "seccomp=unconfined"], "security options are not supported on linux"),
        (["--isolation", "hyperv"], 'unsupported isolation: "hyperv"'),
        (["--add-host", "nocolon"], 'invalid argument "nocolon" for "--add-host" flag'),
        (["--ulimit", "nofile=x"], 'invalid argument "nofile=x" for "--ulimit" flag'),
        (["--memory", "lots"], 'invalid argument "lots" for "--memory" flag'),
    ],
)
def test_refused_before_building(
    dy: Runner, busybox: str, tmp_path: Path, args: list[str], message: str
) -> None:
    ctx = _context(tmp_path, "echo ran")
    p = dy("build", "-t", "never", *args, ctx)
    assert p.returncode == 1
    assert message in p.stderr and "ran" not in p.stdout, p.stderr
    assert dy("images", "-q", "never", check=True).stdout == ""


def test_squash_warns_and_moot_flags_build(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "echo ran")
    p = dy(
        "build",
        *("--squash", "--compress", "--rm", "--force-rm", "--disable-content-trust"),
        *("--isolation", "default", "-q", ctx),
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("WARNING: experimental flag squash is removed with BuildKit.")
    assert p.stdout.startswith("sha256:")
