"""Isolation of the built-in runtime beyond namespaces (issue 13): session keyrings,
Docker's seccomp profile (and runc applying the same ``linux.seccomp``), and ``exec``
processes that a container cannot open through ``/proc/<pid>/exe``.

Syscalls are probed from inside containers by the host's Python (``/usr`` bound
read-only into a busybox rootfs) through ctypes, printing the errno of each attempt.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import CGROUP_PARENT
from dockyard.runtime import seccomp
from dockyard.runtime.linux import LinuxRuntime
from dockyard.runtime.spec import SpecOptions, build_spec
from test_runtime import RUNTIME_CLI, make_rootfs, redirected

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
SYS_ADD_KEY, SYS_KEYCTL = 248, 250
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING = -3, -4
KEYCTL_GET_KEYRING_ID, KEYCTL_INVALIDATE = 0, 21

# Run inside the container by the host's python3: each probe prints "name errno".
PROBES = r"""
import ctypes, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long
def sys(name, nr, *args):
    rc = libc.syscall(L(nr), *[a if isinstance(a, bytes) else L(a) for a in args])
    print(name, 0 if rc >= 0 else ctypes.get_errno(), flush=True)
status = open("/proc/self/status").read()
print("Seccomp", [l.split()[1] for l in status.splitlines() if l.startswith("Seccomp:")][0])
WANTED = os.environ.get("WANT_KEY", "")
sys("keyctl_search_user", 250, 10, -4, b"user", WANTED.encode(), 0)
sys("unshare_user", 272, 0x10000000)
sys("personality_read_implies_exec", 135, 0x0400000)
sys("personality_query", 135, 0xFFFFFFFF)
sys("userfaultfd", 323, 0)
sys("io_uring_setup", 425, 1, 0)
sys("perf_event_open", 298, 0, 0, -1, -1, 0)
sys("add_key", 248, b"user", b"x", b"y", 1, -3)
sys("request_key", 249, b"user", b"x", 0, 0)
sys("socket_vsock", 41, 40, 1, 0)
sys("acct", 163, 0)
sys("chroot", 161, b"/")
sys("clone3", 435, 0, 0)
sys("getpid", 39)
"""


def host_python_bundle(
    tmp: Path,
    args: list[str],
    profile: dict[str, Any] | None,
    name: str = "bundle",
    **opts: Any,
) -> Path:
    """A busybox rootfs with the host's /usr bound read-only (so /usr/bin/python3 runs),
    the spec built with Docker's defaults and ``profile`` as the seccomp profile."""
    bundle = tmp / f"{name}-{uuid.uuid4().hex[:8]}"
    bundle.mkdir()
    rootfs = make_rootfs(bundle / "rootfs")
    (rootfs / "usr").mkdir()
    for link in ("lib", "lib64"):
        if os.path.islink(f"/{link}"):
            (rootfs / link).symlink_to(os.readlink(f"/{link}").lstrip("/"))
    mounts = [{"destination": "/usr", "type": "bind", "source": "/usr", "options": ["rbind", "ro"]}]
    opts.setdefault("cgroups_path", f"{CGROUP_PARENT}/dockyard-test-{uuid.uuid4().hex[:12]}")
    spec = build_spec(SpecOptions(args=args, mounts=mounts, seccomp=profile, **opts))
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def run_in(rt: LinuxRuntime, bundle: Path, cid: str = "c1") -> tuple[int, str, str]:
    out, err = bundle / "stdout", bundle / "stderr"
    with redirected(out, err):
        rt.create(cid, str(bundle))
    pid = rt.state(cid)["pid"]
    rt.start(cid)
    _, status = os.waitpid(pid, 0)
    rt.delete(cid)
    return os.waitstatus_to_exitcode(status), out.read_text(), err.read_text()


def probe_results(out: str) -> dict[str, str]:
    return dict(line.split(" ", 1) for line in out.splitlines() if " " in line)


def need_host_python() -> None:
    if not os.path.exists("/usr/bin/python3") or not os.path.isdir("/usr/lib"):
        pytest.skip("needs the host's /usr/bin/python3")


class HostKey:
    """A ``user`` key in this (root) process's user keyring, invalidated on exit."""

    def __enter__(self) -> str:
        self.desc = f"dockyard-test-{uuid.uuid4().hex[:8]}"
        self.serial = libc.syscall(
            ctypes.c_long(SYS_ADD_KEY),
            b"user",
            self.desc.encode(),
            b"host secret",
            ctypes.c_long(11),
            ctypes.c_long(KEY_SPEC_USER_KEYRING),
        )
        if self.serial < 0:
            pytest.skip(f"add_key: {os.strerror(ctypes.get_errno())}")
        return self.desc

    def __exit__(self, *exc: object) -> None:
        libc.syscall(
            ctypes.c_long(SYS_KEYCTL), ctypes.c_long(KEYCTL_INVALIDATE), ctypes.c_long(self.serial)
        )


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
def test_default_profile_blocks_keyring_and_docker_list(tmp_path: Path) -> None:
    """Docker's default profile: Seccomp 2, the host's user keyring out of reach (the
    key is there: the unconfined run below finds it), and the syscalls Docker blocks."""
    need_host_python()
    rt = LinuxRuntime(str(tmp_path / "state"))
    with HostKey() as desc:
        env = [f"WANT_KEY={desc}", "PATH=/usr/bin:/bin"]
        bundle = host_python_bundle(
            tmp_path, ["python3", "-c", PROBES], seccomp.default_profile(), env=env
        )
        code, out, err = run_in(rt, bundle)
        assert code == 0, err
        got = probe_results(out)
        unconfined = host_python_bundle(tmp_path, ["python3", "-c", PROBES], None, env=env)
        code, out, err = run_in(rt, unconfined, "c2")
        assert code == 0, err
        without = probe_results(out)
    assert got["Seccomp"] == "2"
    eperm = "1"
    for name in (
        "keyctl_search_user",
        "unshare_user",
        "personality_read_implies_exec",
        "userfaultfd",
        "io_uring_setup",
        "perf_event_open",
        "add_key",
        "request_key",
        "socket_vsock",
        "acct",
    ):
        assert got[name] == eperm, (name, got)
    assert got["clone3"] == "38"  # ENOSYS, so glibc falls back to clone
    # Allowed: CAP_SYS_CHROOT is one of Docker's default capabilities.
    assert got["chroot"] == got["personality_query"] == got["getpid"] == "0"
    # Without a filter the same container reaches the key (root's user keyring is
    # shared by uid): only seccomp keeps it out.
    assert without["Seccomp"] == "0"
    assert without["keyctl_search_user"] == "0"


def test_own_session_keyring(tmp_path: Path) -> None:
    """Every container joins a new session keyring ``_ses.<id>`` (runc's), not the
    caller's; checked without seccomp, which would block keyctl altogether."""
    need_host_python()
    host = libc.syscall(
        ctypes.c_long(SYS_KEYCTL),
        ctypes.c_long(KEYCTL_GET_KEYRING_ID),
        ctypes.c_long(KEY_SPEC_SESSION_KEYRING),
        ctypes.c_long(1),
    )
    assert host > 0
    script = (
        "import ctypes; libc = ctypes.CDLL(None); L = ctypes.c_long; "
        "buf = ctypes.create_string_buffer(256); "
        "print(libc.syscall(L(250), L(0), L(-3), L(0))); "
        "libc.syscall(L(250), L(6), L(-3), buf, L(256)); print(buf.value.decode())"
    )
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = host_python_bundle(tmp_path, ["python3", "-c", script], None)
    code, out, err = run_in(rt, bundle, "kr1")
    assert code == 0, err
    serial, description = out.splitlines()
    assert int(serial) > 0 and int(serial) != host
    assert description.startswith("keyring;0;0;") and description.endswith(";_ses.kr1")
    # Searchable by its possessor (runc adds KEY_USR_SEARCH).
    assert int(description.split(";")[3], 16) & 0x00080000


def test_profile_follows_capabilities_and_arch() -> None:
    """moby setupSeccomp: includes/excludes on caps, archMap, name vs names."""
    profile = seccomp.default_profile()
    default = seccomp.oci_seccomp(profile, ["CAP_CHOWN"])
    assert default is not None
    allowed = {
        n for r in default["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    }
    assert "mount" not in allowed and "keyctl" not in allowed and "ptrace" in allowed
    assert default["defaultAction"] == "SCMP_ACT_ERRNO" and default["defaultErrnoRet"] == 1
    if os.uname().machine == "x86_64":
        assert default["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        assert "arch_prctl" in allowed
    admin = seccomp.oci_seccomp(profile, ["CAP_SYS_ADMIN"])
    assert admin is not None
    admin_allowed = {
        n for r in admin["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    }
    assert {"mount", "unshare", "setns"} <= admin_allowed
    # clone is then allowed without the namespace-flags condition.
    assert not any(
        r["names"] == ["clone3"] and r["action"] == "SCMP_ACT_ERRNO" for r in admin["syscalls"]
    )
    assert seccomp.oci_seccomp({}, []) is None
    with pytest.raises(Exception, match="both 'name' and 'names'"):
        seccomp.oci_seccomp(
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "a", "names": ["b"]}]}, []
        )
    with pytest.raises(Exception, match="Decoding seccomp profile failed"):
        seccomp.parse_profile("{nope", "f.json")


def test_filter_cache_gives_the_same_program(tmp_path: Path) -> None:
    section = seccomp.oci_seccomp(seccomp.default_profile(), ["CAP_CHOWN"])
    assert section is not None
    fresh = seccomp.compile_filter(section)
    assert seccomp.cached_filter(section, str(tmp_path)) == fresh
    assert len(list(tmp_path.iterdir())) == 1
    assert seccomp.cached_filter(section, str(tmp_path)) == fresh
    with pytest.raises(Exception, match="invalid seccomp action"):
        seccomp.compile_filter({"defaultAction": "SCMP_ACT_NOPE"})
    with pytest.raises(Exception, match="SCMP_ACT_NOTIFY"):
        seccomp.compile_filter(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_NOTIFY"}],
            }
        )


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="syscall numbers are x86_64's")
def test_same_seccomp_results_as_runc(tmp_path: Path) -> None:
    """One config.json (with the generated linux.seccomp) run by runc and by the
    built-in runtime: every probe gets the same errno."""
    need_host_python()
    runc = shutil.which("runc")
    if runc is None:
        pytest.skip("runc is not installed")
    results = {}
    cg = f"{CGROUP_PARENT}/dockyard-diff-{uuid.uuid4().hex[:12]}"
    for name, binary in (("runc", runc), ("dockyard", RUNTIME_CLI)):
        bundle = host_python_bundle(
            tmp_path,
            ["python3", "-c", PROBES],
            seccomp.default_profile(),
            name=name,
            env=["PATH=/usr/bin:/bin"],
            cgroups_path=cg,
        )
        proc = subprocess.run(
            [binary, "--root", str(tmp_path / f"{name}-state"), "run", "-b", str(bundle), "p"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert proc.returncode == 0, (name, proc.stderr)
        results[name] = probe_results(proc.stdout)
    assert results["dockyard"] == results["runc"]
    assert results["runc"]["Seccomp"] == "2"


def test_exec_process_is_not_reachable_through_proc_exe(tmp_path: Path) -> None:
    """While processes join it with exec, a container process reads /proc/<pid>/exe of
    every process it sees: the joining interpreter (the host's Python) must never
    show, since it is non-dumpable until it execs the container's program (runc's
    CVE-2019-5736 rule)."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    make_rootfs(bundle / "rootfs")
    racer = (
        "end=$(( $(date +%s) + 20 )); "
        "while [ $(date +%s) -lt $end ] && [ ! -e /tmp/stop ]; do "
        "for p in /proc/[0-9]*; do readlink $p/exe; done 2>/dev/null | grep -v '^/bin/busybox$'; "
        "done; echo done"
    )
    spec = build_spec(
        SpecOptions(
            args=["sh", "-c", racer],
            cgroups_path=f"{CGROUP_PARENT}/dockyard-test-{uuid.uuid4().hex[:12]}",
        )
    )
    (bundle / "config.json").write_text(json.dumps(spec))
    out, err = bundle / "stdout", bundle / "stderr"
    with redirected(out, err):
        rt.create("race", str(bundle))
    pid = rt.state("race")["pid"]
    rt.start("race")
    try:
        # A long PATH keeps each joining process busy (its PATH lookup) for a few ms
        # after it has dropped to the container's capabilities, which is when the
        # kernel's ptrace check would otherwise let the container in.
        path = ":".join(f"/no/such/dir{i}" for i in range(3000)) + ":/bin"
        process = {
            "args": ["true"],
            "env": [f"PATH={path}"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            # As `dockyard exec` gives: the container's; with more, the kernel's ptrace
            # check alone would keep the container out.
            "capabilities": spec["process"]["capabilities"],
        }
        deadline = time.monotonic() + 10
        n = 0
        while time.monotonic() < deadline and n < 40:
            with redirected(tmp_path / "eo", tmp_path / "ee"):
                child = rt.exec("race", process)
            os.waitpid(child, 0)
            n += 1
        with redirected(tmp_path / "eo", tmp_path / "ee"):
            os.waitpid(rt.exec("race", {**process, "args": ["touch", "/tmp/stop"]}), 0)
        os.waitpid(pid, 0)
    finally:
        rt.delete("race", force=True)
    lines = out.read_text().splitlines()
    assert lines[-1:] == ["done"], (lines, err.read_text())
    assert lines[:-1] == [], f"/proc/<pid>/exe of a joining process was readable: {lines[:5]}"
    assert n >= 10


def test_run_applies_docker_profile(dy: Any, busybox: str, tmp_path: Path) -> None:
    """``dockyard run``: Docker's profile by default, none with seccomp=unconfined or
    --privileged, a profile file's content with seccomp=FILE (as Docker's CLI sends it),
    and the same through --runtime runc."""

    def mode(*flags: str) -> str:
        p = dy("run", "--rm", *flags, busybox, "grep", "^Seccomp:", "/proc/self/status")
        assert p.returncode == 0, p.stderr
        return p.stdout.split()[1]

    assert mode() == "2"
    assert mode("--security-opt", "seccomp=unconfined") == "0"
    assert mode("--privileged") == "0"
    assert mode("--security-opt", "seccomp=builtin") == "2"
    if shutil.which("runc"):
        assert mode("--runtime", "runc") == "2"
    # `unshare -U` is refused by the default profile (Docker's; CAP_SYS_ADMIN allows it).
    p = dy("run", "--rm", busybox, "unshare", "-U", "true")
    assert p.returncode != 0 and "Operation not permitted" in p.stderr
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}
                ],
            },
            indent=2,
        )
    )
    p = dy("run", "--rm", "--security-opt", f"seccomp={profile}", busybox, "mkdir", "/x")
    assert p.returncode == 1 and "Permission denied" in p.stderr
    dy("create", "--name", "prof", "--security-opt", f"seccomp={profile}", busybox, check=True)
    opts = json.loads(dy("inspect", "-f", "{{json .HostConfig.SecurityOpt}}", "prof").stdout)
    assert opts == ["seccomp=" + json.dumps(json.loads(profile.read_text()), separators=(",", ":"))]
    p = dy("run", "--rm", "--security-opt", "seccomp=/no/such.json", busybox, "true")
    assert p.returncode == 125
    assert "opening seccomp profile (/no/such.json) failed" in p.stderr
    (tmp_path / "bad.json").write_text("{nope")
    p = dy("run", "--rm", "--security-opt", f"seccomp={tmp_path / 'bad.json'}", busybox, "true")
    assert p.returncode == 125 and "compacting json for seccomp profile" in p.stderr


@pytest.mark.timeout(60)
def test_hostile_seccomp_profiles_are_one_line_errors(
    dy: Any, busybox: str, tmp_path: Path
) -> None:
    """A profile nested past the recursion limit, a value of the wrong type (Go's json
    refuses them; they were tracebacks or, for ``"names": "getpid"``, a profile silently
    read character by character) and an endless file are one-line errors, exit 125, and
    make no container."""
    rule = {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"}
    bad = {
        "deep": "[" * 100000 + "]" * 100000,
        "names": json.dumps(
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{**rule, "names": "getpid"}]}
        ),
        "value": json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{**rule, "args": [{"index": 0, "value": "x", "op": "SCMP_CMP_EQ"}]}],
            }
        ),
        "errno": json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": "1"}),
        "arch": json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "architectures": [7]}),
    }
    for name, text in bad.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        p = dy("run", "--rm", "--security-opt", f"seccomp={path}", busybox, "true")
        assert p.returncode == 125, (name, p.stderr[-300:])
        # The error and docker/cli 28's usage hint after a blank line.
        assert len(p.stderr.splitlines()) == 3 and "Traceback" not in p.stderr, (name, p.stderr)
        assert "seccomp profile" in p.stderr.splitlines()[0], (name, p.stderr)
    p = dy("run", "--rm", "--security-opt", "seccomp=/dev/zero", busybox, "true", timeout=30)
    assert p.returncode == 125 and "larger than 16 MiB" in p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
