"""Real-kernel tests of dockyard.runtime.cgroups (run as root).

Each test names the cgroup version it exercises. On this kind of host (hybrid layout) the
v1 tests use the real v1 controllers; the v2 tests use the real cgroup2 mount
(``/sys/fs/cgroup/unified``, which offers only hugetlb here) as if it were a pure v2 host,
so they cover creation, joining, freezing, killing and removal but not v2 limits; the v2
limit translation is tested against a stand-in directory in test_cgroups_unit.py.

Cgroups are created under relative paths ``dockyard-run-<pid>-test-<random>/<name>``, so
they sit under pytest's own cgroup, named as this run's, and the autouse leak check
verifies that ``destroy`` removed them (including the intermediate parent).
"""

from __future__ import annotations

import errno
import os
import secrets
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import CGROUP_PARENT
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.runtime import cgroups
from dockyard.runtime.cgroups import Layout, Manager

LAYOUT = cgroups.detect()
needs_v1 = pytest.mark.skipif(LAYOUT.mode != "v1", reason="host has no cgroup v1 controllers")
needs_unified = pytest.mark.skipif(LAYOUT.unified is None, reason="no cgroup2 mount")
MiB = 1024 * 1024


class Child:
    """A forked child that waits on a pipe until :meth:`go`; then runs its body."""

    def __init__(self, pid: int, go_fd: int) -> None:
        self.pid = pid
        self._go_fd = go_fd
        self.status: int | None = None

    def go(self) -> None:
        os.write(self._go_fd, b"g")

    def wait(self, timeout: float = 30) -> int:
        """The child's wait status (waits at most ``timeout`` seconds)."""
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = status
            elif time.monotonic() > deadline:
                raise AssertionError(f"child {self.pid} did not exit")
            else:
                time.sleep(0.01)
        return self.status


@contextmanager
def forked(body: Callable[[], int] = lambda: 0) -> Iterator[Child]:
    """Fork a child that waits for ``go()``, runs ``body`` and exits with its result.

    The child always leaves through ``os._exit``; the parent kills and reaps it on exit.
    """
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(w)
            if os.read(r, 1) == b"g":
                code = body()
        finally:
            os._exit(code)
    os.close(r)
    child = Child(pid, w)
    try:
        yield child
    finally:
        os.close(w)  # a child still waiting for go() sees EOF and exits
        if child.status is None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(pid, 0)


@pytest.fixture
def cg_path() -> Iterator[str]:
    """A relative cgroups path ``dockyard-run-<pid>-test-<random>/c`` (this run's, see
    conftest); the parent is checked gone."""
    parent = f"{CGROUP_PARENT}-test-{secrets.token_hex(4)}"
    yield f"{parent}/c"


@contextmanager
def managed(path: str, resources: dict | None, layout: Layout | None = None) -> Iterator[Manager]:
    mgr = cgroups.create(path, resources, layout=layout)
    try:
        yield mgr
    finally:
        mgr.destroy(kill=True)


def proc_cgroup(pid: int) -> dict[str, str]:
    from dockyard.runtime.cgroups.layout import parse_proc_cgroup

    return parse_proc_cgroup(Path(f"/proc/{pid}/cgroup").read_text())


def read(mgr: Manager, key: str, name: str) -> str:
    return Path(mgr.paths[key], name).read_text().strip()


# -- v1 ------------------------------------------------------------------------------------


@needs_v1
def test_v1_create_add_destroy_nests_under_own_cgroup(cg_path: str) -> None:
    """v1 (and the unified hierarchy in hybrid mode): a relative path nests under the
    caller's own cgroup per hierarchy; a forked child joins all; destroy removes every dir
    and the intermediate parent."""
    own = cgroups.own_cgroup_paths()
    mgr = cgroups.create(cg_path, None)
    try:
        assert set(LAYOUT.v1) <= set(mgr.paths)
        assert ("" in mgr.paths) == (LAYOUT.unified is not None)
        with forked() as child:
            mgr.add(child.pid)
            theirs = proc_cgroup(child.pid)
            for key in mgr.paths:
                want = own[key].rstrip("/") + "/" + cg_path
                assert theirs[key] == want, key
            assert mgr.pids() == [child.pid]
            loaded = cgroups.load(cg_path)
            assert loaded.paths == mgr.paths
            assert loaded.pids() == [child.pid]
            child.go()
            assert os.WIFEXITED(child.wait()) and os.WEXITSTATUS(child.wait()) == 0
        assert mgr.pids() == []
    finally:
        mgr.destroy()
    for path in mgr.paths.values():
        assert not os.path.exists(path)
        assert not os.path.exists(os.path.dirname(path))
        assert os.path.isdir(os.path.dirname(os.path.dirname(path)))  # own cgroup stays


@needs_v1
def test_v1_create_reuses_existing_dir_and_destroy_is_idempotent(cg_path: str) -> None:
    """v1: creating an existing cgroup reuses it; destroying twice is harmless."""
    with managed(cg_path, None) as first:
        second = cgroups.create(cg_path, {"pids": {"limit": 7}})
        assert second.paths == first.paths
        assert read(second, "pids", "pids.max") == "7"
    second.destroy()


@needs_v1
def test_v1_memory_limit_oom_kills_child(cg_path: str) -> None:
    """v1: a child allocating 200 MiB in a 32 MiB cgroup (memsw too, if accounted) is
    OOM-killed and counted in memory.oom_control."""

    def hog() -> int:
        buf = bytearray(200 * MiB)
        for i in range(0, len(buf), 4096):
            buf[i] = 1
        return 0

    with managed(cg_path, {"memory": {"limit": 32 * MiB, "swap": 32 * MiB}}) as mgr:
        assert read(mgr, "memory", "memory.limit_in_bytes") == str(32 * MiB)
        memsw = Path(mgr.paths["memory"], "memory.memsw.limit_in_bytes")
        if memsw.exists():
            assert memsw.read_text().strip() == str(32 * MiB)
        assert mgr.oom_kill_count() == 0
        with forked(hog) as child:
            mgr.add(child.pid)
            child.go()
            status = child.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
        assert mgr.oom_kill_count() >= 1
        assert cgroups.load(cg_path).oom_kill_count() == mgr.oom_kill_count()


@needs_v1
def test_v1_pids_limit_stops_fork(cg_path: str) -> None:
    """v1: with pids.max 5 a child can fork only 4 more processes (EAGAIN after)."""

    def fork_many() -> int:
        hold_r, hold_w = os.pipe()
        kids = []
        try:
            for _ in range(10):
                try:
                    pid = os.fork()
                except BlockingIOError as e:
                    assert e.errno == errno.EAGAIN
                    break
                if pid == 0:
                    try:
                        os.close(hold_w)
                        os.read(hold_r, 1)
                    finally:
                        os._exit(0)
                kids.append(pid)
        finally:
            os.close(hold_w)
            for pid in kids:
                os.waitpid(pid, 0)
        return len(kids)

    with managed(cg_path, {"pids": {"limit": 5}}) as mgr:
        assert read(mgr, "pids", "pids.max") == "5"
        with forked(fork_many) as child:
            mgr.add(child.pid)
            child.go()
            status = child.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 4


@needs_v1
def test_v1_cpu_cpuset_devices_written(cg_path: str) -> None:
    """v1: cpu.shares, CFS quota/period, cpuset and device rules read back as written."""
    cpus = Path("/sys/fs/cgroup/cpuset/cpuset.cpus").read_text().strip().split(",")[0][:1]
    resources = {
        "cpu": {"shares": 512, "quota": 50000, "period": 200000, "cpus": cpus, "mems": "0"},
        "devices": [
            {"allow": False, "access": "rwm"},
            {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": True, "type": "c", "major": 136, "minor": None, "access": "rw"},
        ],
    }
    with managed(cg_path, resources) as mgr:
        assert read(mgr, "cpu", "cpu.shares") == "512"
        assert read(mgr, "cpu", "cpu.cfs_quota_us") == "50000"
        assert read(mgr, "cpu", "cpu.cfs_period_us") == "200000"
        assert read(mgr, "cpuset", "cpuset.cpus") == cpus
        assert read(mgr, "cpuset", "cpuset.mems") == "0"
        assert read(mgr, "devices", "devices.list").splitlines() == ["c 1:3 rwm", "c 136:* rw"]
        # The intermediate cpuset dir got the parent's cpus/mems, so processes can join.
        parent = os.path.dirname(mgr.paths["cpuset"])
        assert Path(parent, "cpuset.cpus").read_text().strip()
        with forked() as child:
            mgr.add(child.pid)
            child.go()
            child.wait()


@needs_v1
def test_v1_freeze_thaw_stats_kill_all(cg_path: str) -> None:
    """v1: freeze stops a child that writes to a pipe, thaw resumes it; stats are
    plausible; kill_all(SIGKILL) kills both children."""
    r, w = os.pipe()
    os.set_blocking(r, False)

    def ticker() -> int:
        os.close(r)
        buf = bytearray(16 * MiB)
        for i in range(0, len(buf), 4096):
            buf[i] = 1
        while True:
            os.write(w, b".")
            time.sleep(0.005)

    def drain() -> int:
        n = 0
        try:
            while True:
                n += len(os.read(r, 4096))
        except BlockingIOError:
            return n

    with managed(cg_path, {"memory": {"limit": 64 * MiB}}) as mgr:
        with forked(ticker) as a, forked() as b:
            os.close(w)
            mgr.add(a.pid)
            mgr.add(b.pid)
            a.go()
            time.sleep(0.3)
            assert drain() > 0
            mgr.freeze()
            assert read(mgr, "freezer", "freezer.state") == "FROZEN"
            drain()
            time.sleep(0.2)
            assert drain() == 0
            stats = mgr.stats()
            mgr.thaw()
            time.sleep(0.2)
            assert drain() > 0
            assert stats["memory_usage"] is not None and stats["memory_usage"] >= 16 * MiB
            assert stats["memory_limit"] == 64 * MiB
            assert stats["cpu_usage"] is not None and stats["cpu_usage"] > 0
            assert stats["pids_current"] == 2
            mgr.kill_all(signal.SIGKILL)
            for child in (a, b):
                status = child.wait()
                assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            assert read(mgr, "freezer", "freezer.state") == "THAWED"
        os.close(r)


@needs_v1
def test_v1_destroy_busy_then_kill(cg_path: str) -> None:
    """v1: destroy refuses a cgroup with a live process (after retrying) and names the
    dir; destroy(kill=True) kills it and removes everything."""
    mgr = cgroups.create(cg_path, None)
    with forked() as child:
        mgr.add(child.pid)
        with pytest.raises(DockyardError, match=r"cgroup: cannot remove .*busy"):
            mgr.destroy()
        assert mgr.pids() == [child.pid]
        mgr.destroy(kill=True)
        status = child.wait()
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    assert not any(os.path.exists(p) for p in mgr.paths.values())


@needs_v1
def test_v1_failure_half_way_leaves_nothing(cg_path: str) -> None:
    """v1: an invalid value (CFS quota below 1 ms) after a valid memory limit fails with
    the file and value named, and every dir created so far is removed."""
    resources = {"memory": {"limit": 64 * MiB}, "cpu": {"quota": 1, "period": 100000}}
    with pytest.raises(DockyardError) as info:
        cgroups.create(cg_path, resources)
    msg = str(info.value)
    assert msg.startswith("cgroup: cannot write 1 to /sys/fs/cgroup/cpu")
    assert msg.endswith(f"{cg_path}/cpu.cfs_quota_us: Invalid argument")
    leftovers = cgroups.load(cg_path).paths.values()
    assert not any(os.path.exists(p) or os.path.exists(os.path.dirname(p)) for p in leftovers)


def test_invalid_cgroups_paths_rejected() -> None:
    """v1 and v2 alike: '..', empty and the systemd slice form are refused."""
    for bad in ("", "/", "../escape", "a/../../b", "system.slice:docker:abc"):
        with pytest.raises(InvalidArgument, match="invalid cgroups path"):
            cgroups.create(bad, None)


# -- v2 (the real cgroup2 mount, treated as a pure v2 host) --------------------------------


@pytest.fixture
def v2_layout() -> Iterator[Layout]:
    """The host's cgroup2 mount as a pure-v2 layout; restores the root's subtree_control."""
    assert LAYOUT.unified is not None
    subtree = Path(LAYOUT.unified.point, "cgroup.subtree_control")
    before = set(subtree.read_text().split())
    yield Layout("v2", {}, LAYOUT.unified)
    for c in set(subtree.read_text().split()) - before:
        try:
            subtree.write_text(f"-{c}")
        except OSError:
            pass  # another cgroup uses it now


@needs_unified
def test_v2_create_join_freeze_kill_destroy(cg_path: str, v2_layout: Layout) -> None:
    """v2: create under the caller's own cgroup2 path, join a child, freeze/thaw it via
    cgroup.freeze, kill via cgroup.kill, destroy the dir and the intermediate parent."""
    assert v2_layout.unified is not None
    own = cgroups.own_cgroup_paths()[""]
    mgr = cgroups.create(cg_path, None, layout=v2_layout)
    try:
        assert list(mgr.paths) == [""]
        assert mgr.paths[""].startswith(v2_layout.unified.point)
        parent_controllers = Path(os.path.dirname(mgr.paths[""]), "cgroup.controllers")
        available = set(Path(v2_layout.unified.point, "cgroup.controllers").read_text().split())
        assert set(parent_controllers.read_text().split()) == available
        with forked() as child:
            mgr.add(child.pid)
            assert proc_cgroup(child.pid)[""] == own.rstrip("/") + "/" + cg_path
            assert mgr.pids() == [child.pid]
            mgr.freeze()
            assert "frozen 1" in Path(mgr.paths[""], "cgroup.events").read_text()
            mgr.thaw()
            assert "frozen 0" in Path(mgr.paths[""], "cgroup.events").read_text()
            assert mgr.stats()["cpu_usage"] is not None
            assert mgr.oom_kill_count() == 0
            mgr.kill_all(signal.SIGKILL)
            status = child.wait()
            assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
    finally:
        mgr.destroy()
    assert not os.path.exists(os.path.dirname(mgr.paths[""]))


@needs_unified
def test_v2_missing_controller_fails_and_leaves_nothing(cg_path: str, v2_layout: Layout) -> None:
    """v2: a limit whose controller the hierarchy does not offer (pids here) is an error
    naming cgroup.controllers, and the dirs created are removed."""
    assert v2_layout.unified is not None
    if "pids" in Path(v2_layout.unified.point, "cgroup.controllers").read_text().split():
        pytest.skip("this cgroup2 mount offers pids")
    with pytest.raises(DockyardError, match=r"controller pids is not available in .*"):
        cgroups.create(cg_path, {"pids": {"limit": 5}}, layout=v2_layout)
    path = cgroups.load(cg_path, layout=v2_layout).paths[""]
    assert not os.path.exists(os.path.dirname(path))


@needs_unified
def test_v2_device_rules_ebpf(cg_path: str, v2_layout: Layout) -> None:
    """v2: device rules become an eBPF device program: a child may open /dev/null (c 1:3
    allowed) and read /dev/zero (c 1:5 "r" allowed) but not write it, nor open /dev/full
    (c 1:7, denied by the leading deny-all)."""
    rules = [
        {"allow": False, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "r"},
    ]

    def try_open(path: str, flags: int) -> int:
        try:
            os.close(os.open(path, flags))
            return 1
        except PermissionError:
            return 0

    def probe() -> int:
        return (
            try_open("/dev/null", os.O_RDWR)
            | try_open("/dev/zero", os.O_RDONLY) << 1
            | try_open("/dev/zero", os.O_WRONLY) << 2
            | try_open("/dev/full", os.O_RDONLY) << 3
        )

    with managed(cg_path, {"devices": rules}, layout=v2_layout) as mgr:
        with forked(probe) as child:
            mgr.add(child.pid)
            child.go()
            status = child.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0b0011
        assert probe() == 0b1111  # this process, outside the cgroup, may open all four
