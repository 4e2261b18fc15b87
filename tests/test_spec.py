"""Docker's default OCI spec (dockyard.runtime.spec) and capability rules."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.runtime import caps
from dockyard.runtime.spec import MASKED_PATHS, READONLY_PATHS, SpecOptions, build_spec


def test_defaults_match_docker() -> None:
    spec = build_spec(SpecOptions(args=["sh"]))
    assert spec["ociVersion"] == "1.1.0"
    assert spec["root"] == {"path": "rootfs", "readonly": False}
    proc = spec["process"]
    assert proc["args"] == ["sh"]
    assert proc["cwd"] == "/"
    assert proc["user"] == {"uid": 0, "gid": 0}
    assert proc["env"] == ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    assert "rlimits" not in proc
    capset = proc["capabilities"]
    assert set(capset) == {"bounding", "effective", "permitted"}
    for name in ("bounding", "effective", "permitted"):
        assert capset[name] == list(caps.DEFAULT)
    assert caps.mask(capset["bounding"]) == 0xA80425FB
    dests = [(m["destination"], m["type"]) for m in spec["mounts"]]
    assert dests == [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/sys", "sysfs"),
        ("/sys/fs/cgroup", "cgroup"),
        ("/dev/mqueue", "mqueue"),
        ("/dev/shm", "tmpfs"),
    ]
    by_dest = {m["destination"]: m["options"] for m in spec["mounts"]}
    assert by_dest["/dev/shm"] == ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]
    assert "ro" in by_dest["/sys"] and "ro" in by_dest["/sys/fs/cgroup"]
    assert "gid=5" in by_dest["/dev/pts"] and "ptmxmode=0666" in by_dest["/dev/pts"]
    linux = spec["linux"]
    assert linux["maskedPaths"] == list(MASKED_PATHS)
    assert "/proc/kcore" in linux["maskedPaths"]
    assert linux["readonlyPaths"] == list(READONLY_PATHS)
    assert [ns["type"] for ns in linux["namespaces"]] == [
        "mount",
        "network",
        "uts",
        "pid",
        "ipc",
        "cgroup",
    ]
    devices = linux["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}
    allowed = {(d["major"], d["minor"]) for d in devices if d["allow"]}
    assert allowed == {(1, 5), (1, 3), (1, 9), (1, 8), (5, 0), (5, 1)}
    assert "cgroupsPath" not in linux and "hostname" not in spec


def test_non_root_user_gets_bounding_only() -> None:
    spec = build_spec(SpecOptions(args=["id"], user=(1000, 1000), additional_gids=[10, 20]))
    assert spec["process"]["user"] == {"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}
    assert spec["process"]["capabilities"] == {"bounding": list(caps.DEFAULT)}


def test_privileged() -> None:
    spec = build_spec(SpecOptions(args=["sh"], privileged=True))
    assert spec["process"]["capabilities"]["effective"] == caps.all_caps()
    linux = spec["linux"]
    assert "maskedPaths" not in linux and "readonlyPaths" not in linux
    assert linux["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in linux["devices"])
    sys_opts = {m["destination"]: m["options"] for m in spec["mounts"]}["/sys"]
    assert "rw" in sys_opts and "ro" not in sys_opts


@pytest.mark.parametrize(
    ("add", "drop", "expect_in", "expect_out"),
    [
        (["net_admin"], ["chown", "CAP_KILL"], {"CAP_NET_ADMIN"}, {"CAP_CHOWN", "CAP_KILL"}),
        (["ALL"], ["MKNOD"], {"CAP_SYS_ADMIN", "CAP_CHOWN"}, {"CAP_MKNOD"}),
        (["sys_time"], ["all"], {"CAP_SYS_TIME"}, {"CAP_CHOWN"}),
    ],
)
def test_cap_add_drop(
    add: list[str], drop: list[str], expect_in: set[str], expect_out: set[str]
) -> None:
    got = set(
        build_spec(SpecOptions(args=["sh"], cap_add=add, cap_drop=drop))["process"]["capabilities"][
            "bounding"
        ]
    )
    assert expect_in <= got
    assert not expect_out & got


def test_unknown_capability_is_docker_message() -> None:
    with pytest.raises(InvalidArgument, match='^unknown capability: "CAP_FOO"$'):
        build_spec(SpecOptions(args=["sh"], cap_add=["foo"]))


def test_options() -> None:
    bind = {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/tmp/h",
        "options": ["rbind", "ro"],
    }
    spec = build_spec(
        SpecOptions(
            args=["sh"],
            hostname="web",
            terminal=True,
            console_size=(24, 80),
            readonly_rootfs=True,
            no_new_privileges=True,
            ulimits={"nofile": (1024, 2048)},
            namespaces={"network": "host", "ipc": "/proc/1/ns/ipc"},
            cgroups_path="a/b",
            resources={"memory": {"limit": 1 << 20}},
            mounts=[bind],
            sysctl={"net.ipv4.ip_forward": "1"},
            annotations={"k": "v"},
            shm_size=1 << 20,
        )
    )
    assert spec["hostname"] == "web"
    proc = spec["process"]
    assert proc["terminal"] is True and proc["consoleSize"] == {"height": 24, "width": 80}
    assert proc["noNewPrivileges"] is True
    assert proc["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 2048}]
    assert spec["root"]["readonly"] is True
    linux = spec["linux"]
    types = {ns["type"]: ns.get("path") for ns in linux["namespaces"]}
    assert "network" not in types and types["ipc"] == "/proc/1/ns/ipc"
    assert linux["cgroupsPath"] == "a/b"
    assert linux["resources"]["memory"] == {"limit": 1 << 20}
    assert linux["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert spec["mounts"][-1] == bind
    assert "size=1024k" in spec["mounts"][6]["options"]
    assert spec["annotations"] == {"k": "v"}


def test_bad_ulimit_and_namespace_mode() -> None:
    with pytest.raises(InvalidArgument, match="invalid ulimit type: bogus"):
        build_spec(SpecOptions(args=["sh"], ulimits={"bogus": (1, 1)}))
    with pytest.raises(InvalidArgument, match="soft limit"):
        build_spec(SpecOptions(args=["sh"], ulimits={"nofile": (10, 5)}))
    with pytest.raises(InvalidArgument, match="invalid pid namespace mode: container"):
        build_spec(SpecOptions(args=["sh"], namespaces={"pid": "container"}))
