"""``dockyard update`` / ``container update`` and the facade's container_update (Engine
API POST /containers/{id}/update): limits written to a running container's cgroup
(cgroup v1 here: the container sees its own cgroup as the root), stored for a stopped
one, the restart policy changed, and dockerd's refusals leaving the record as it was."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator

import pytest

from conftest import Runner
from dockyard.engine import Engine
from dockyard.errors import Conflict, InvalidArgument
from dockyard.paths import Paths

pytestmark = pytest.mark.skipif(
    not os.path.exists("/sys/fs/cgroup/cpu/cpu.cfs_period_us"),
    reason="the cgroup files read are cgroup v1's",
)

_FILES = (
    "cpu/cpu.cfs_quota_us",
    "cpu/cpu.shares",
    "memory/memory.limit_in_bytes",
    "memory/memory.soft_limit_in_bytes",
    "pids/pids.max",
    "cpuset/cpuset.cpus",
)


def _until(check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def _host_config(dy: Runner, name: str) -> dict:
    return json.loads(dy("inspect", name, check=True).stdout)[0]["HostConfig"]


def test_update_running_and_stopped(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "up", "-m", "64m", busybox, "sleep", "60", check=True)
    cat = ["cat", *(f"/sys/fs/cgroup/{f}" for f in _FILES)]
    dy("create", "--name", "later", busybox, *cat, check=True)
    p = dy(
        *("update", "--cpus", "0.5", "--cpu-shares", "256", "-m", "128m"),
        *("--memory-reservation", "32m", "--pids-limit", "40", "--cpuset-cpus", "0"),
        *("--restart", "on-failure:3", "up", "later"),
        check=True,
    )
    assert p.stdout == "up\nlater\n"
    want = ["50000", "256", str(128 << 20), str(32 << 20), "40", "0"]
    assert dy("exec", "up", *cat, check=True).stdout.split() == want
    # The stopped container gets them when it starts.
    assert dy("start", "-a", "later", check=True).stdout.split() == want
    for name in ("up", "later"):
        hc = _host_config(dy, name)
        assert (hc["NanoCpus"], hc["Memory"], hc["PidsLimit"], hc["CpusetCpus"]) == (
            500000000,
            128 << 20,
            40,
            "0",
        )
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    dy("rm", "-f", "up", "later", check=True)


def test_refusals_change_nothing(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "rr", "--cpus", "0.5", busybox, "sleep", "60", check=True)
    dy("run", "-d", "--rm", "--name", "gone", busybox, "sleep", "60", check=True)
    before = _host_config(dy, "rr")
    cid = json.loads(dy("inspect", "rr", check=True).stdout)[0]["Id"]
    for args, message in [
        (
            ["--cpu-period", "10000", "rr"],
            f"Error response from daemon: Cannot update container {cid}: Conflicting options: "
            "CPU Period cannot be updated as NanoCPUs has already been set",
        ),
        (["-m", "1k", "rr"], "Minimum memory limit allowed is 6MB"),
        (["--cpuset-cpus", "4096", "rr"], "Requested CPUs are not available"),
        (["--blkio-weight", "5", "rr"], "Range of blkio weight is from 10 to 1000"),
        (["--restart", "sometimes", "rr"], "invalid restart policy"),
        (
            ["--restart", "always", "gone"],
            "Restart policy cannot be updated because AutoRemove is enabled for the container",
        ),
        (["-m", "64m", "nope"], "Error response from daemon: No such container: nope"),
        # No real-time budget in the engine's cgroup parent: the kernel refuses it.
        (["--cpu-rt-runtime", "1000", "rr"], "real-time runtime of 1000us"),
    ]:
        p = dy("update", *args)
        assert p.returncode == 1, (args, p.stderr)
        assert message in p.stderr, (args, p.stderr)
        assert "Traceback" not in p.stderr
    assert _host_config(dy, "rr") == before
    assert dy("exec", "rr", "cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us").stdout == "50000\n"
    p = dy("update", "rr")
    assert p.returncode == 1
    assert p.stderr == "you must provide one or more flags when using this command\n"
    dy("rm", "-f", "rr", "gone", check=True)


def test_restart_policy_counts_from_the_next_exit(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "rp", busybox, "sh", "-c", "exit 3", check=True)
    dy("update", "--restart", "on-failure:2", "rp", check=True)
    dy("start", "rp", check=True)

    def done() -> bool:
        state = json.loads(dy("inspect", "rp", check=True).stdout)[0]
        return state["RestartCount"] == 2 and state["State"]["Status"] == "exited"

    _until(done)
    dy("rm", "-f", "rp", check=True)


@pytest.fixture
def engine(engine_env: dict[str, str]) -> Iterator[Engine]:
    e = Engine(Paths.from_env())
    yield e
    if "db" in e.__dict__:
        e.db.close()


def test_facade_update(engine: Engine, busybox: str) -> None:
    engine.container_create({"Image": "busybox", "Cmd": ["true"]}, name="ff")
    assert engine.container_update("ff", {"Memory": 64 << 20, "PidsLimit": 10}) == {"Warnings": []}
    hc = engine.container_inspect("ff")["HostConfig"]
    assert (hc["Memory"], hc["PidsLimit"]) == (64 << 20, 10)
    # A field docker update does not change is refused, not ignored as moby does.
    with pytest.raises(InvalidArgument, match="Ulimits cannot be changed"):
        engine.container_update("ff", {"Ulimits": [{"Name": "nofile", "Soft": 1, "Hard": 1}]})
    engine.container_update("ff", {"NanoCpus": 10**9})
    with pytest.raises(Conflict):
        engine.container_update("ff", {"CpuQuota": 50000})
    engine.container_delete("ff")
