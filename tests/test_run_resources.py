"""``run``/``create`` resource, device and kernel flags (issue 15), checked inside a
busybox container: the cgroup files (cgroup v1 on this machine: the container sees its
own cgroup as the root), /proc/self/oom_score_adj, /dev, ``id -G``, /dev/shm, sysctls,
the NIS domain name; and the flags Dockyard cannot honour, refused with Docker's
messages before anything is made."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Runner
from registry_peer import Registry, registry_env


def _cgroup_v1() -> bool:
    return os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_period_us")


needs_v1 = pytest.mark.skipif(not _cgroup_v1(), reason="the paths read are cgroup v1's")


@needs_v1
def test_cpu_memory_and_kernel_settings(dy: Runner, busybox: str) -> None:
    script = (
        "cd /sys/fs/cgroup; cat cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpu/cpu.rt_period_us"
        " cpuset/cpuset.cpus cpuset/cpuset.mems memory/memory.soft_limit_in_bytes"
        " memory/memory.swappiness; grep oom_kill_disable memory/memory.oom_control;"
        " cat /proc/self/oom_score_adj; df -k /dev/shm | tail -1;"
        " sysctl -n net.ipv4.ip_forward kernel.shmmax; cat /proc/sys/kernel/domainname; id -G"
    )
    p = dy(
        *("run", "--rm", "--cpu-period", "50000", "--cpu-quota", "25000"),
        *("--cpu-rt-period", "500000", "--cpuset-cpus", "0", "--cpuset-mems", "0"),
        *("--memory-reservation", "32m", "--memory-swappiness", "10", "--oom-kill-disable"),
        *("--oom-score-adj", "300", "--shm-size", "16m"),
        *("--sysctl", "net.ipv4.ip_forward=1", "--sysctl", "kernel.shmmax=123456"),
        *("--domainname", "example.org", "--group-add", "1234", "--group-add", "nogroup"),
        *(busybox, "sh", "-c", script),
        check=True,
    )
    lines = p.stdout.splitlines()
    assert lines[:7] == ["50000", "25000", "500000", "0", "0", str(32 << 20), "10"]
    assert lines[7] == "oom_kill_disable 1"
    assert lines[8] == "300"
    assert lines[9].split()[:2] == ["shm", "16384"]
    assert lines[10:] == ["1", "123456", "example.org", "0 1234 65534"]


@needs_v1
def test_devices_and_device_cgroup_rules(dy: Runner, busybox: str) -> None:
    # /dev/kmsg (c 1:11) is not among the devices a container has by default.
    p = dy(
        *("run", "--rm", "--device", "/dev/kmsg:/dev/mykmsg:r"),
        *("--device-cgroup-rule", "c 42:* rm", busybox, "sh", "-c"),
        "ls -l /dev/mykmsg; cat /sys/fs/cgroup/devices/devices.list;"
        " echo x > /dev/mykmsg && echo written",
    )
    lines = p.stdout.splitlines()
    assert lines[0].startswith("c") and lines[0].split()[4:6] == ["1,", "11"], lines
    assert "c 1:11 r" in lines and "c 42:* rm" in lines
    assert "written" not in lines  # read-only by the cgroup rule
    assert "Operation not permitted" in p.stderr
    p = dy("run", "--rm", "--device", "/dev/nonexistent", busybox, "true")
    assert p.returncode == 125
    assert (
        'error gathering device information while adding custom device "/dev/nonexistent": '
        "no such file or directory" in p.stderr
    )


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--kernel-memory", "10m"], "Specifying a kernel memory limit is not supported"),
        (["--gpus", "all"], 'could not select device driver "" with capabilities: [[gpu]]'),
        (
            ["--isolation", "hyperv"],
            "Invalid isolation: \"hyperv\" - linux only supports 'default'",
        ),
        (["--storage-opt", "size=1G"], "--storage-opt is supported only for overlay over xfs"),
        (["--blkio-weight", "5"], "Range of blkio weight is from 10 to 1000"),
        (["--sysctl", "kernel.hostname=x"], "sysctl 'kernel.hostname=x' is not allowed"),
        (
            ["--sysctl", "net.ipv4.ip_forward=1", "--network", "host"],
            'sysctl "net.ipv4.ip_forward" not allowed in host network namespace',
        ),
        (["--device", "/dev/null:rel"], "rel is not an absolute path"),
        (["--device", "/dev/null:/dev/x:rwx"], "bad mode specified: rwx"),
        (["--device-cgroup-rule", "c 1 rwm"], "invalid device cgroup format 'c 1 rwm'"),
        (
            ["--cpus", "1", "--cpu-period", "10000"],
            "Conflicting options: Nano CPUs and CPU Period cannot both be set",
        ),
        (["--cpu-period", "100"], "CPU cfs period can not be less than 1ms"),
        (["--cpu-quota", "100"], "CPU cfs quota can not be less than 1ms (i.e. 1000)"),
        (
            ["--cpu-rt-period", "1000", "--cpu-rt-runtime", "2000"],
            "cpu-rt-runtime cannot be higher than cpu-rt-period",
        ),
        (["--cpuset-cpus", "4096"], "Requested CPUs are not available - requested 4096"),
        (["--cpuset-mems", "a"], "Invalid value a for cpuset mems"),
        (["--oom-score-adj", "1001"], "range for oom score adj is [-1000, 1000]"),
        (["--memory-swappiness", "101"], "valid memory swappiness range is 0-100"),
        (["--memory-reservation", "1k"], "Minimum memory reservation allowed is 6MB"),
        (
            ["-m", "10m", "--memory-reservation", "20m"],
            "Minimum memory limit can not be less than memory reservation limit",
        ),
        (["--shm-size", "lots"], 'invalid argument "lots" for "--shm-size" flag'),
        (
            ["--volume-driver", "nfs", "-v", "/data"],
            'error looking up volume plugin nfs: plugin "nfs" not found',
        ),
    ],
)
def test_refused_before_anything_is_made(
    dy: Runner, busybox: str, flags: list[str], message: str
) -> None:
    p = dy("run", "--rm", *flags, busybox, "true")
    assert p.returncode == 125, p.stderr
    assert message in p.stderr
    # The error and docker/cli 28's usage hint after a blank line; a flag's value
    # refused while parsing (pflag) has the usage line between.
    flag_error = p.stderr.startswith("invalid argument ")
    assert len(p.stderr.splitlines()) == (5 if flag_error else 3), p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""


@needs_v1
def test_blkio_weight_where_the_host_has_no_weights(dy: Runner, busybox: str) -> None:
    """Docker drops the weight with a warning; Dockyard refuses what it cannot honour."""
    if os.path.exists("/sys/fs/cgroup/blkio/blkio.weight") or os.path.exists(
        "/sys/fs/cgroup/blkio/blkio.bfq.weight"
    ):
        p = dy("run", "--rm", "--blkio-weight", "300", busybox, "true")
        assert p.returncode == 0, p.stderr
    else:
        p = dy("run", "--rm", "--blkio-weight", "300", busybox, "true")
        assert p.returncode == 125
        assert "does not support Block I/O weight" in p.stderr
        assert dy("ps", "-aq", check=True).stdout == ""


@needs_v1
def test_realtime_runtime_without_a_budget_is_a_clear_error(dy: Runner, busybox: str) -> None:
    """The engine's cgroup parent has no real-time budget (as dockerd without
    --cpu-rt-runtime): the start fails with one line naming it, leaving nothing running."""
    p = dy("run", "--rm", "--cpu-rt-runtime", "1000", busybox, "true")
    assert p.returncode == 125
    assert "real-time runtime of 1000us" in p.stderr and "Traceback" not in p.stderr


def test_cidfile_label_file_annotation(dy: Runner, busybox: str, tmp_path: Path) -> None:
    cidfile = tmp_path / "cid"
    labels = tmp_path / "labels"
    labels.write_text("# a comment\n\na=1\nb\nc=3\n")
    created = dy(
        *(
            "create",
            "--volume-driver",
            "local",
            "--cidfile",
            str(cidfile),
            "--label-file",
            str(labels),
            "-l",
            "a=2",
        ),
        *("--annotation", "org.example.k=v", "--domainname", "example.org", busybox),
        check=True,
    )
    cid = created.stdout.strip()
    assert cidfile.read_text() == cid
    again = dy("create", "--cidfile", str(cidfile), busybox)
    assert again.returncode == 125
    assert (
        "container ID file found, make sure the other container isn't running or delete "
        f"{cidfile}" in again.stderr
    )
    info = json.loads(dy("inspect", cid, check=True).stdout)[0]
    assert info["Config"]["Labels"] == {"a": "2", "b": "", "c": "3"}
    assert info["Config"]["Domainname"] == "example.org"
    assert info["HostConfig"]["Annotations"] == {"org.example.k": "v"}
    assert info["HostConfig"]["ShmSize"] == 64 << 20
    dy("rm", cid, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
    bad = tmp_path / "bad"
    bad.write_text("ok=1\nbad key=2\n")
    p = dy("create", "--label-file", str(bad), busybox)
    assert p.returncode == 125 and f"{bad}:2: variable 'bad key' contains whitespaces" in p.stderr


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.mark.timeout(180)
def test_quiet_pull(
    dy: Runner, busybox: str, registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    registry_env(monkeypatch, tmp_path)
    name = f"{registry.host}/quiet/busybox:1"
    dy("tag", busybox, name, check=True)
    dy("push", name, check=True)
    dy("rmi", name, busybox, check=True)
    p = dy("run", "-q", "--rm", name, "echo", "hi", check=True)
    assert (p.stdout, p.stderr) == ("hi\n", "")
    dy("rmi", name, check=True)
    p = dy("run", "--rm", name, "echo", "hi", check=True)
    assert f"Unable to find image '{name}' locally" in p.stderr


@needs_v1
def test_device_io_throttles(dy: Runner, busybox: str) -> None:
    if not os.path.exists("/dev/loop0"):
        pytest.skip("no /dev/loop0 block device here")
    rdev = os.stat("/dev/loop0").st_rdev
    dev = f"{os.major(rdev)}:{os.minor(rdev)}"
    p = dy(
        *("run", "--rm", "--device-read-bps", "/dev/loop0:1mb"),
        *("--device-write-bps", "/dev/loop0:2mb", "--device-read-iops", "/dev/loop0:100"),
        *("--device-write-iops", "/dev/loop0:200", busybox, "sh", "-c"),
        "cd /sys/fs/cgroup/blkio; cat blkio.throttle.read_bps_device"
        " blkio.throttle.write_bps_device blkio.throttle.read_iops_device"
        " blkio.throttle.write_iops_device",
        check=True,
    )
    assert p.stdout.splitlines() == [
        f"{dev} {1 << 20}",
        f"{dev} {2 << 20}",
        f"{dev} 100",
        f"{dev} 200",
    ]
    for flag, value, message in [
        ("--device-read-bps", "/dev/loop0", "bad format: /dev/loop0"),
        ("--device-write-bps", "/x:1", "bad format for device path: /x:1"),
        ("--device-read-iops", "/dev/loop0:1k", "invalid rate for device: /dev/loop0:1k"),
    ]:
        p = dy("run", "--rm", flag, value, busybox, "true")
        assert p.returncode == 125 and message in p.stderr, p.stderr
    p = dy("run", "--rm", "--device-read-bps", "/dev/nonexistent:1mb", busybox, "true")
    assert p.returncode == 125
    assert "stat /dev/nonexistent: no such file or directory" in p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
