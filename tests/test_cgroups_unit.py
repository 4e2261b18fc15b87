"""dockyard.runtime.cgroups without touching real cgroups: mountinfo and /proc/<pid>/cgroup
parsing, the v2 file/value translation (against a temporary directory standing in for a
cgroup2 hierarchy, since this host's cgroup2 mount has no memory/cpu/pids controllers) and
the Docker flag conversion. Each test names the cgroup version it concerns."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.runtime import cgroups
from dockyard.runtime.cgroups import Layout, Mount, resources_from_docker
from dockyard.runtime.cgroups.layout import parse_mountinfo, parse_proc_cgroup
from dockyard.runtime.cgroups.manager import hierarchies
from dockyard.runtime.cgroups.v1.devices import rule_text
from dockyard.runtime.cgroups.v2 import enable_controllers
from dockyard.runtime.cgroups.v2.cpu import max_text, weight
from dockyard.runtime.cgroups.v2.memory import swap_max

MiB = 1024 * 1024

HYBRID = """\
23 1 0:21 / /sys rw,nosuid - sysfs sysfs rw
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset,clone_children
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
99 1 0:32 /docker /mnt/mem\\040copy rw,relatime - cgroup cgroup rw,memory
"""

PURE_V2 = """\
25 1 0:22 / /sys rw,nosuid - sysfs sysfs rw
26 25 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec shared:4 - cgroup2 cgroup2 rw,nsdelegate
"""


def test_parse_mountinfo_hybrid_is_v1() -> None:
    """v1 (hybrid): joined controllers, named hierarchies, the unified mount; the first
    mount of a hierarchy wins over a later bind mount."""
    layout = parse_mountinfo(HYBRID)
    assert layout.mode == "v1"
    cpu = Mount("/sys/fs/cgroup/cpu,cpuacct", "/", ("cpu", "cpuacct"))
    assert layout.v1["cpu"] == layout.v1["cpuacct"] == cpu
    assert layout.v1["cpuset"].controllers == ("cpuset",)
    assert layout.v1["memory"].point == "/sys/fs/cgroup/memory"
    assert layout.v1["name=systemd"].controllers == ("name=systemd",)
    assert layout.unified == Mount("/sys/fs/cgroup/unified", "/")
    assert [m.point for m in layout.v1_mounts()] == [
        "/sys/fs/cgroup/cpu,cpuacct",
        "/sys/fs/cgroup/cpuset",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/systemd",
    ]


def test_parse_mountinfo_escapes_and_container_root() -> None:
    """v1: an octal-escaped mount point and a non-/ root (as inside a container)."""
    layout = parse_mountinfo(HYBRID.splitlines()[-1])
    assert layout.v1["memory"] == Mount("/mnt/mem copy", "/docker", ("memory",))


def test_parse_mountinfo_pure_v2() -> None:
    """v2: a single cgroup2 mount is mode v2 with no v1 controllers."""
    layout = parse_mountinfo(PURE_V2)
    assert layout == Layout("v2", {}, Mount("/sys/fs/cgroup", "/"))


def test_parse_proc_cgroup() -> None:
    """v1 and v2 lines of /proc/<pid>/cgroup; the 0:: line is the "" key."""
    text = "4:memory:/process_api/x\n2:cpu,cpuacct:/\n1:name=systemd:/user\n0::/init.scope\n"
    assert parse_proc_cgroup(text) == {
        "memory": "/process_api/x",
        "cpu": "/",
        "cpuacct": "/",
        "name=systemd": "/user",
        "": "/init.scope",
    }


def test_absolute_path_under_each_mount_point() -> None:
    """v1 (hybrid) and v2: an absolute cgroups path sits directly under each mount point
    (no parent cleanup); a relative one is not allowed to climb with '..'."""
    layout = parse_mountinfo(HYBRID)
    hs = hierarchies("/dockyard/abc", layout)
    assert [(h.keys, h.path, h.base) for h in hs] == [
        (("cpu", "cpuacct"), "/sys/fs/cgroup/cpu,cpuacct/dockyard/abc", None),
        (("cpuset",), "/sys/fs/cgroup/cpuset/dockyard/abc", None),
        (("memory",), "/sys/fs/cgroup/memory/dockyard/abc", None),
        (("name=systemd",), "/sys/fs/cgroup/systemd/dockyard/abc", None),
        (("",), "/sys/fs/cgroup/unified/dockyard/abc", None),
    ]
    v2 = hierarchies("/x/y", parse_mountinfo(PURE_V2))
    assert [(h.keys, h.path) for h in v2] == [(("",), "/sys/fs/cgroup/x/y")]
    with pytest.raises(InvalidArgument):
        hierarchies("a/../../b", layout)


def test_v1_device_rule_text() -> None:
    """v1: OCI device rules in the kernel's devices.allow/deny syntax."""
    assert rule_text({"allow": False, "access": "rwm"}) == "a"
    assert rule_text({"type": "c", "major": 1, "minor": 3, "access": "rwm"}) == "c 1:3 rwm"
    assert rule_text({"type": "b", "major": 8, "minor": None, "access": "r"}) == "b 8:* r"
    assert rule_text({"type": "c", "major": -1, "minor": -1}) == "c *:* rwm"


def test_v2_value_conversions() -> None:
    """v2: runc's shares -> weight, quota/period -> cpu.max, swap total -> swap.max."""
    assert [weight(s) for s in (0, 2, 1024, 262144)] == [0, 1, 39, 10000]
    assert max_text(50000, 100000) == "50000 100000"
    assert max_text(-1, 100000) == "max 100000"
    assert max_text(20000, 0) == "20000"
    assert swap_max(64 * MiB, 32 * MiB) == 32 * MiB
    assert swap_max(-1, 32 * MiB) == -1
    assert swap_max(0, -1) == -1
    assert swap_max(32 * MiB, 32 * MiB) == 0
    with pytest.raises(DockyardError, match="should be >= memory limit"):
        swap_max(16 * MiB, 32 * MiB)
    with pytest.raises(DockyardError, match="without a memory limit"):
        swap_max(16 * MiB, 0)


V2_FILES = (
    "memory.max",
    "memory.swap.max",
    "memory.low",
    "cpu.weight",
    "cpu.max",
    "cpuset.cpus",
    "cpuset.mems",
    "pids.max",
    "cgroup.procs",
)
ALL = "cpu cpuset io memory pids hugetlb"


def fake_v2(tmp_path: Path, leaf: str, controllers: str, enabled: str) -> Path:
    """A stand-in cgroup2 tree: every dir from the mount to ``leaf`` with the
    cgroup.controllers/subtree_control files, the leaf with the v2 limit files."""
    mount = tmp_path / "cg"
    d = mount
    for part in ["", *leaf.strip("/").split("/")]:
        d = d / part if part else d
        d.mkdir(exist_ok=True)
        (d / "cgroup.controllers").write_text(controllers + "\n")
        (d / "cgroup.subtree_control").write_text(enabled + "\n")
    for name in V2_FILES:
        (d / name).write_text("")
    return mount


def test_v2_translation_on_stand_in_dir(tmp_path: Path) -> None:
    """v2 (stand-in directory, not a real cgroup): OCI resources become memory.max,
    memory.swap.max (swap - limit), memory.low, cpu.weight, cpu.max, cpuset.*, pids.max."""
    mount = fake_v2(tmp_path, "/a/b", ALL, ALL)
    layout = Layout("v2", {}, Mount(str(mount), "/"))
    resources = {
        "memory": {"limit": 32 * MiB, "swap": 96 * MiB, "reservation": 16 * MiB},
        "cpu": {"shares": 1024, "quota": 150000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 5},
    }
    mgr = cgroups.create("/a/b", resources, layout=layout)
    leaf = mount / "a" / "b"
    assert mgr.paths == {"": str(leaf)}
    got = {name: (leaf / name).read_text() for name in V2_FILES}
    assert got == {
        "memory.max": str(32 * MiB),
        "memory.swap.max": str(64 * MiB),
        "memory.low": str(16 * MiB),
        "cpu.weight": "39",
        "cpu.max": "150000 100000",
        "cpuset.cpus": "0-1",
        "cpuset.mems": "0",
        "pids.max": "5",
        "cgroup.procs": "",
    }
    mgr.add(4242)
    assert (leaf / "cgroup.procs").read_text() == "4242"


def test_v2_unlimited_values_on_stand_in_dir(tmp_path: Path) -> None:
    """v2 (stand-in directory): -1 limits become "max"; swap equal to the limit is 0;
    without memory.swap.max (no swap accounting) the swap limit is skipped."""
    mount = fake_v2(tmp_path, "/u", ALL, ALL)
    layout = Layout("v2", {}, Mount(str(mount), "/"))
    cgroups.create("/u", {"memory": {"limit": -1}, "pids": {"limit": -1}}, layout=layout)
    leaf = mount / "u"
    assert (leaf / "memory.max").read_text() == "max"
    assert (leaf / "memory.swap.max").read_text() == "max"
    assert (leaf / "pids.max").read_text() == "max"
    cgroups.create("/u", {"memory": {"limit": 8 * MiB, "swap": 8 * MiB}}, layout=layout)
    assert (leaf / "memory.swap.max").read_text() == "0"
    (leaf / "memory.swap.max").unlink()
    cgroups.create("/u", {"memory": {"limit": 8 * MiB, "swap": 16 * MiB}}, layout=layout)
    assert not (leaf / "memory.swap.max").exists()


def test_v2_enable_controllers_on_stand_in_dir(tmp_path: Path) -> None:
    """v2 (stand-in directory): each ancestor's subtree_control gets "+c" for what its
    cgroup.controllers offers; a required controller that is missing is an error."""
    mount = fake_v2(tmp_path, "/p/leaf", "memory", "")
    enable_controllers(str(mount), str(mount / "p" / "leaf"), {"memory"})
    assert (mount / "cgroup.subtree_control").read_text() == "+memory"
    assert (mount / "p" / "cgroup.subtree_control").read_text() == "+memory"
    assert (mount / "p" / "leaf" / "cgroup.subtree_control").read_text() == "\n"
    with pytest.raises(DockyardError, match=r"controller pids is not available in .*/cg/"):
        enable_controllers(str(mount), str(mount / "p" / "leaf"), {"pids"})


@pytest.mark.parametrize(
    ("args", "want"),
    [
        ((None, None, None, None, None), {}),
        ((64 * MiB, None, None, None, None), {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}),
        ((64 * MiB, 0, None, None, None), {"memory": {"limit": 64 * MiB, "swap": 128 * MiB}}),
        ((64 * MiB, -1, None, None, None), {"memory": {"limit": 64 * MiB, "swap": -1}}),
        ((64 * MiB, 64 * MiB, None, None, None), {"memory": {"limit": 64 * MiB, "swap": 64 * MiB}}),
        ((None, -1, None, None, None), {}),
        ((None, None, 1.5, None, None), {"cpu": {"quota": 150000, "period": 100000}}),
        ((None, None, 0.5, 512, None), {"cpu": {"shares": 512, "quota": 50000, "period": 100000}}),
        ((None, None, None, None, 100), {"pids": {"limit": 100}}),
        ((None, None, None, None, 0), {"pids": {"limit": -1}}),
        ((None, None, None, None, -1), {"pids": {"limit": -1}}),
    ],
)
def test_resources_from_docker(args: tuple, want: dict) -> None:
    """Docker flags -> OCI linux.resources (either cgroup version)."""
    assert resources_from_docker(*args) == want


def test_resources_from_docker_cpu_period() -> None:
    """--cpus with a custom period scales the quota to that period."""
    assert resources_from_docker(None, None, 1.0, None, None, cpu_period=50000) == {
        "cpu": {"quota": 50000, "period": 50000}
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((4 * MiB, None, None, None, None), "Minimum memory limit allowed is 6MB"),
        ((64 * MiB, 32 * MiB, None, None, None), "Minimum memoryswap limit should be larger"),
        ((None, 64 * MiB, None, None, None), "You should always set the Memory limit"),
        ((None, None, 100000.0, None, None), "Range of CPUs is from 0.01 to"),
    ],
)
def test_resources_from_docker_errors(args: tuple, message: str) -> None:
    """dockerd's validation messages for bad memory/swap/cpus values."""
    with pytest.raises(InvalidArgument, match=message):
        resources_from_docker(*args)


def test_v2_device_program_shape() -> None:
    """v2: the eBPF device program is a 6-instruction prelude, one block per rule tested
    last to first, and a default deny; a catch-all rule ends the program (the verifier
    rejects unreachable instructions). Loading and enforcing it is tested in
    test_cgroups.py::test_v2_device_rules_ebpf."""
    from dockyard.runtime.cgroups.v2.devices import program

    exit_deny = bytes.fromhex("b7000000000000009500000000000000")
    assert len(program([])) == 8 * 8 and program([]).endswith(exit_deny)
    allow_null = {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
    code = program([{"allow": False, "access": "rwm"}, allow_null])
    # prelude 6 + null block (3 checks + mov + exit) + deny-all block (mov + exit)
    assert len(code) == (6 + 5 + 2) * 8 and code.endswith(exit_deny)
    assert program([allow_null, {"allow": True, "type": "a"}])[-16:-8] == bytes.fromhex(
        "b700000001000000"
    )
    with pytest.raises(DockyardError, match="invalid device access"):
        program([{"allow": True, "type": "c", "access": "x"}])


def test_v1_cpuset_init_fills_an_empty_parent_first(tmp_path: Path) -> None:
    """A parent cpuset made a moment ago by a concurrent create is still empty: the new
    cgroup must not copy its emptiness (no process could join it: ENOSPC)."""
    from dockyard.runtime.cgroups.v1 import cpuset

    root = tmp_path / "cpuset"
    child = root / "dockyard" / "abc"
    child.mkdir(parents=True)
    for d, cpus, mems in ((root, "0-1", "0"), (root / "dockyard", "", ""), (child, "", "")):
        (d / "cpuset.cpus").write_text(cpus + "\n")
        (d / "cpuset.mems").write_text(mems + "\n")
    cpuset.init_dir(str(child))
    for d in (root / "dockyard", child):
        assert (d / "cpuset.cpus").read_text().strip() == "0-1"
        assert (d / "cpuset.mems").read_text().strip() == "0"
