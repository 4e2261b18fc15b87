"""OCI runtime spec features of the built-in runtime that runtime-tools' validation checks
(issue 13, docs/conformance.md), each tested here on its own: hooks, user namespaces,
namespaces shared with the caller, rootfsPropagation, oomScoreAdj, memory swappiness and
OOM killer, and fields the host cannot honour refused rather than dropped."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import DockyardError, InvalidArgument, RuntimeFailure
from dockyard.runtime import cgroups
from dockyard.runtime.linux import LinuxRuntime
from test_runtime import make_bundle, redirected, run


def edit_bundle(bundle: Path, edit: Any) -> None:
    spec = json.loads((bundle / "config.json").read_text())
    edit(spec)
    (bundle / "config.json").write_text(json.dumps(spec))


def hook(script: str, timeout: int | None = None) -> dict[str, Any]:
    h: dict[str, Any] = {"path": "/bin/sh", "args": ["sh", "-c", script], "env": ["PATH=/bin"]}
    if timeout:
        h["timeout"] = timeout
    return h


def test_hooks_run_in_order_with_state_on_stdin(tmp_path: Path) -> None:
    log = tmp_path / "log"
    rt = LinuxRuntime(str(tmp_path / "state"))
    cid = "hooks1"

    def rec(name: str) -> dict[str, Any]:
        # The state arrives on stdin; write "<name> <status> <pid> <id>" per call.
        return hook(
            f'read -r s; echo {name} $(echo "$s" | sed -e \'s/.*"status": *"\\([a-z]*\\)".*/\\1/\')'
            f' $(echo "$s" | sed -e \'s/.*"pid": *\\([0-9]*\\).*/\\1/\') >> {log}'
        )

    def edit(spec: dict[str, Any]) -> None:
        spec["hooks"] = {
            kind: [rec(kind)]
            for kind in ("prestart", "createRuntime", "createContainer", "poststart", "poststop")
        }
        # Runs in the container: it writes where the container can.
        spec["hooks"]["startContainer"] = [
            hook('read -r s; echo "$s" > /tmp/start-state; id -u >> /tmp/start-state')
        ]

    bundle = make_bundle(tmp_path, ["true"], edit=edit)
    with redirected(tmp_path / "out", tmp_path / "err"):
        rt.create(cid, str(bundle))
    pid = rt.state(cid)["pid"]
    created = log.read_text().split("\n")
    assert [ln.split()[:2] for ln in created if ln] == [
        ["prestart", "created"],
        ["createRuntime", "created"],
        ["createContainer", "created"],
    ]
    assert all(ln.split()[2] == str(pid) for ln in created if ln)
    rt.start(cid)
    os.waitpid(pid, 0)
    rt.delete(cid)
    names = [ln.split()[:2] for ln in log.read_text().splitlines()]
    # poststart sees the container as started ("running", its pid) even when the
    # process (true) has exited already.
    assert names[3:] == [["poststart", "running"], ["poststop", "stopped"]]
    assert log.read_text().splitlines()[3].split()[2] == str(pid)
    start_state, uid = (bundle / "rootfs" / "tmp" / "start-state").read_text().splitlines()
    assert json.loads(start_state)["id"] == cid and json.loads(start_state)["pid"] == pid
    assert uid == "0"


def test_failing_prestart_removes_the_container(tmp_path: Path) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))
    marker = tmp_path / "ran"
    bundle = make_bundle(
        tmp_path,
        ["true"],
        edit=lambda s: s.update(
            hooks={"prestart": [hook("exit 3")], "createRuntime": [hook(f"touch {marker}")]}
        ),
    )
    with (
        pytest.raises(RuntimeFailure, match=r"prestart hook #0: error running hook: exit status 3"),
        redirected(tmp_path / "out", tmp_path / "err"),
    ):
        rt.create("c", str(bundle))
    assert rt.list() == [] and not marker.exists()
    # A hook past its timeout is killed and fails the create too.
    slow = make_bundle(
        tmp_path, ["true"], edit=lambda s: s.update(hooks={"createRuntime": [hook("sleep 30", 1)]})
    )
    with (
        pytest.raises(RuntimeFailure, match="past specified timeout of 1.0s"),
        redirected(tmp_path / "out", tmp_path / "err"),
    ):
        rt.create("c", str(slow))
    assert rt.list() == []


def test_failing_poststart_and_poststop_only_warn(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(
        tmp_path,
        ["true"],
        edit=lambda s: s.update(
            hooks={"poststart": [hook("exit 1")], "poststop": [hook("exit 2")]}
        ),
    )
    code, _, _ = run(rt, bundle)
    assert code == 0
    err = capfd.readouterr().err
    assert "warning: poststart hook #0 failed" in err
    assert "warning: poststop hook #0 failed: error running hook: exit status 2" in err


def test_bad_hooks_are_refused(tmp_path: Path) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))
    for hooks, message in (
        ({"prestart": [{"path": "relative"}]}, "must be absolute"),
        ({"prestart": [{"path": "/bin/true", "timeout": 0}]}, "positive integer"),
        ({"nosuchkind": []}, "unknown hook kind"),
    ):
        bundle = make_bundle(tmp_path, ["true"], edit=lambda s, h=hooks: s.update(hooks=h))
        with pytest.raises(DockyardError, match=message):
            rt.create("c", str(bundle))
    assert rt.list() == []


def test_user_namespace_with_id_maps(tmp_path: Path) -> None:
    """A new user namespace: container uid 0 is host 0 (so the rootfs stays reachable
    under pytest's 0700 tmp dirs), 1.. are host 100001..; the process runs as uid 1000,
    which the host sees as 101000."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    maps = [
        {"containerID": 0, "hostID": 0, "size": 1},
        {"containerID": 1, "hostID": 100001, "size": 65535},
    ]

    def edit(spec: dict[str, Any]) -> None:
        spec["linux"]["namespaces"].append({"type": "user"})
        spec["linux"]["uidMappings"] = maps
        spec["linux"]["gidMappings"] = maps
        spec["process"]["user"] = {"uid": 1000, "gid": 1000}

    bundle = make_bundle(
        tmp_path,
        ["sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"],
        edit=edit,
    )
    out, err = tmp_path / "out", tmp_path / "err"
    with redirected(out, err):
        rt.create("u", str(bundle))
    pid = rt.state("u")["pid"]
    with open(f"/proc/{pid}/status") as f:
        uids = next(ln for ln in f if ln.startswith("Uid:")).split()[1:]
    rt.start("u")
    os.waitpid(pid, 0)
    rt.delete("u")
    assert uids == ["101000"] * 4
    lines = out.read_text().split("\n")
    assert lines[0] == "1000", err.read_text()
    assert lines[1].split() == ["0", "0", "1"] and lines[2].split() == ["1", "100001", "65535"]
    assert lines[3] != os.readlink("/proc/self/ns/user")
    # Without maps, refused as runc refuses it.
    bad = make_bundle(
        tmp_path, ["true"], edit=lambda s: s["linux"]["namespaces"].append({"type": "user"})
    )
    with pytest.raises(DockyardError, match="no uidMappings"):
        rt.create("u2", str(bad))


def test_namespaces_shared_with_the_caller(tmp_path: Path) -> None:
    """No linux.namespaces entry for a type: the container shares the caller's. Without
    a mount namespace it is chrooted into the rootfs (runc) and mounts are refused
    (made in the caller's namespace they would change the host's mount table)."""
    rt = LinuxRuntime(str(tmp_path / "state"))

    def edit(spec: dict[str, Any]) -> None:
        spec["linux"]["namespaces"] = [{"type": "pid"}]
        for key in ("maskedPaths", "readonlyPaths"):
            spec["linux"].pop(key)
        spec["mounts"] = []
        spec.pop("hostname", None)

    bundle = make_bundle(tmp_path, ["sh", "-c", "ls /bin/busybox"], edit=edit)
    out, err = tmp_path / "out", tmp_path / "err"
    with redirected(out, err):
        rt.create("s", str(bundle))
    pid = rt.state("s")["pid"]
    try:
        for ns in ("mnt", "net", "uts", "ipc"):
            assert os.readlink(f"/proc/{pid}/ns/{ns}") == os.readlink(f"/proc/self/ns/{ns}")
        assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
        assert os.readlink(f"/proc/{pid}/root") == str(bundle / "rootfs")
        rt.start("s")
        _, status = os.waitpid(pid, 0)
    finally:
        rt.delete("s", force=True)
    assert os.waitstatus_to_exitcode(status) == 0, err.read_text()
    assert out.read_text() == "/bin/busybox\n"
    mounts = make_bundle(
        tmp_path, ["true"], edit=lambda s: s["linux"].update(namespaces=[], maskedPaths=[])
    )
    with pytest.raises(DockyardError, match="need a mount namespace"):
        rt.create("m", str(mounts))
    assert rt.list() == []


def test_rootfs_propagation_shared(tmp_path: Path) -> None:
    """rootfsPropagation shared under a shared parent mount: the parent is made private
    first (runc), so pivot_root works, and "/" in the container is shared."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    for mode, tag in (
        ("shared", "shared:"),
        ("rslave", None),
        ("private", None),
        ("unbindable", "unbindable"),
    ):
        bundle = make_bundle(
            tmp_path,
            ["sh", "-c", "awk '$5 == \"/\"' /proc/self/mountinfo"],
            edit=lambda s, m=mode: s["linux"].update(rootfsPropagation=m),
        )
        code, out, err = run(rt, bundle)
        assert code == 0, (mode, err)
        # Optional fields of the "/" line: "shared:N" only when asked for. (A slave of
        # the now-private parent is private: no "master:N" either, as with runc.)
        fields = out.splitlines()[-1].split(" - ")[0].split()[6:]
        assert [f for f in fields if not f.startswith("master:")] == (
            [] if tag is None else [f for f in fields if f.startswith(tag)]
        ), (mode, out)
        if tag is not None:
            assert any(f.startswith(tag) for f in fields), (mode, out)
    bad = make_bundle(tmp_path, ["true"], edit=lambda s: s["linux"].update(rootfsPropagation="x"))
    with (
        pytest.raises(DockyardError, match="invalid linux.rootfsPropagation"),
        redirected(tmp_path / "o", tmp_path / "e"),
    ):
        rt.create("p", str(bad))


def test_oom_score_adj_and_memory_settings(tmp_path: Path) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))

    def edit(spec: dict[str, Any]) -> None:
        spec["process"]["oomScoreAdj"] = 321
        spec["linux"]["resources"]["memory"] = {
            "limit": 64 << 20,
            "swappiness": 7,
            "disableOOMKiller": True,
        }

    bundle = make_bundle(tmp_path, ["sleep", "30"], edit=edit)
    with redirected(tmp_path / "out", tmp_path / "err"):
        rt.create("o", str(bundle))
    try:
        pid = rt.state("o")["pid"]
        with open(f"/proc/{pid}/oom_score_adj") as f:
            assert f.read().strip() == "321"
        mem = cgroups.load(json.loads((bundle / "config.json").read_text())["linux"]["cgroupsPath"])
        path = mem.paths.get("memory")
        if path is None:
            pytest.skip("no v1 memory hierarchy here")
        with open(os.path.join(path, "memory.swappiness")) as f:
            assert f.read().strip() == "7"
        with open(os.path.join(path, "memory.oom_control")) as f:
            assert "oom_kill_disable 1" in f.read()
    finally:
        rt.delete("o", force=True)
    bad = make_bundle(
        tmp_path,
        ["true"],
        edit=lambda s: s["linux"]["resources"].update(memory={"swappiness": 101}),
    )
    with pytest.raises(DockyardError, match="swappiness"):
        rt.create("o2", str(bad))
    assert rt.list() == []


@pytest.mark.parametrize(
    "resources,controller",
    [
        ({"network": {"classID": 1048577}}, "net_cls"),
        ({"network": {"priorities": [{"name": "lo", "priority": 1}]}}, "net_prio"),
        ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]}, "hugetlb"),
        ({"blockIO": {"weight": 300}}, "blkio"),
    ],
    ids=["net_cls", "net_prio", "hugetlb", "blkio-weight"],
)
def test_resources_the_host_cannot_honour_are_errors(
    tmp_path: Path, resources: dict[str, Any], controller: str
) -> None:
    """runc's rule: a limit whose controller (or file) is missing fails the create; it is
    never dropped. Skipped where this host could honour it."""
    layout = cgroups.detect()
    if layout.mode != "v2":
        mounted = {c for m in layout.v1_mounts() for c in m.controllers}
        if controller in mounted and controller != "blkio":
            pytest.skip(f"{controller} is mounted here")
        if controller == "blkio" and any(
            os.path.exists(f"/sys/fs/cgroup/blkio/{f}")
            for f in ("blkio.weight", "blkio.bfq.weight")
        ):
            pytest.skip("this host's I/O scheduler has blkio weights")
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(
        tmp_path, ["true"], edit=lambda s: s["linux"]["resources"].update(resources)
    )
    with pytest.raises(DockyardError, match="cgroup"):
        rt.create("r", str(bundle))
    assert rt.list() == []


def test_create_without_process_is_refused(tmp_path: Path) -> None:
    """config.md: process is REQUIRED when start is called; runc refuses it at create
    (validateProcessSpec: "process property must not be empty"), and so does Dockyard,
    leaving nothing behind."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(tmp_path, ["true"], edit=lambda s: s.pop("process"))
    with pytest.raises(InvalidArgument, match="process property must not be empty"):
        rt.create("np", str(bundle))
    assert rt.list() == []


@pytest.mark.parametrize(
    "field,value",
    [
        ("process.apparmorProfile", "docker-default"),
        ("process.selinuxLabel", "system_u:system_r:container_t:s0"),
        ("linux.mountLabel", "system_u:object_r:container_file_t:s0"),
    ],
)
def test_security_module_fields_are_refused(tmp_path: Path, field: str, value: str) -> None:
    """Dockyard's runtime drives neither AppArmor nor SELinux: a profile or label is an
    error naming the field, never dropped."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    section, key = field.split(".")
    bundle = make_bundle(tmp_path, ["true"], edit=lambda s: s[section].update({key: value}))
    with pytest.raises(DockyardError, match=f"{field} '{value}'"):
        rt.create("l", str(bundle))
    assert rt.list() == []


def test_unknown_capability_is_a_clean_error(tmp_path: Path) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(
        tmp_path,
        ["true"],
        edit=lambda s: s["process"]["capabilities"]["bounding"].append("CAP_TEST"),
    )
    with pytest.raises(RuntimeFailure) as info, redirected(tmp_path / "o", tmp_path / "e"):
        rt.create("k", str(bundle))
    assert str(info.value) == 'unknown capability: "CAP_TEST"'
    from dockyard.runtime import syscalls
    from dockyard.runtime.caps import NAMES, last_cap

    missing = [n for n in range(last_cap() + 1) if syscalls.prctl(syscalls.PR_CAPBSET_READ, n) == 0]
    if not missing:
        pytest.skip("this host's bounding set has every capability")
    name = NAMES[missing[0]]
    bundle = make_bundle(
        tmp_path, ["true"], edit=lambda s: s["process"]["capabilities"]["permitted"].append(name)
    )
    with (
        pytest.raises(RuntimeFailure, match=f"unable to apply caps.*{name}"),
        redirected(tmp_path / "o", tmp_path / "e"),
    ):
        rt.create("k", str(bundle))
    assert rt.list() == []


def test_kernel_memory_is_not_applied_and_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """linux.resources.memory.kernel/kernelTCP: current runc (specconv) creates the
    container and warns "Kernel memory settings are ignored and will be removed"; Dockyard
    prints the same warning naming the fields, never dropping them silently."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(
        tmp_path,
        ["true"],
        edit=lambda s: s["linux"]["resources"].update(
            {"memory": {"limit": 64 << 20, "kernel": 32 << 20, "kernelTCP": 16 << 20}}
        ),
    )
    rt.create("km", str(bundle))
    try:
        assert capsys.readouterr().err == (
            "warning: linux.resources.memory.kernel, linux.resources.memory.kernelTCP: "
            "Kernel memory settings are ignored and will be removed\n"
        )
        assert rt.state("km")["status"] == "created"
    finally:
        rt.delete("km", force=True)
    assert rt.list() == []
