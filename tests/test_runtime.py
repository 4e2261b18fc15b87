"""Dockyard's built-in OCI runtime against the real kernel (as root).

Each test builds a bundle whose rootfs is the host's busybox-static with its applets as
symlinks, runs probes inside a container and checks what the container sees.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import CGROUP_PARENT
from dockyard.errors import Conflict, RuntimeFailure
from dockyard.runtime import caps, get_runtime
from dockyard.runtime.linux import LinuxRuntime
from dockyard.runtime.spec import SpecOptions, build_spec

RUNTIME_CLI = str(Path(sys.executable).parent / "dockyard-runtime")
DEFAULT_CAPS = "00000000a80425fb"
BUSYBOX = "/bin/busybox"


def make_rootfs(root: Path) -> Path:
    """A minimal rootfs: busybox-static and a symlink per applet in /bin."""
    if not os.path.exists(BUSYBOX):
        pytest.skip("busybox-static is not installed")
    (root / "bin").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "tmp").mkdir()
    (root / "bin" / "busybox").write_bytes(Path(BUSYBOX).read_bytes())
    (root / "bin" / "busybox").chmod(0o755)
    applets = subprocess.run(
        [BUSYBOX, "--list"], capture_output=True, text=True, check=True
    ).stdout.split()
    for name in applets:
        if name != "busybox":
            (root / "bin" / name).symlink_to("busybox")
    (root / "etc" / "notexec").write_text("x\n")
    return root


def make_bundle(
    tmp: Path, args: list[str], edit: Callable[[dict[str, Any]], None] | None = None, **opts: Any
) -> Path:
    """A bundle dir (config.json + rootfs) under ``tmp`` running ``args``."""
    bundle = tmp / f"bundle-{uuid.uuid4().hex[:8]}"
    bundle.mkdir()
    make_rootfs(bundle / "rootfs")
    # Under this run's cgroup parent: another run's leak check never sees it as its own.
    opts.setdefault("cgroups_path", f"{CGROUP_PARENT}/dockyard-test-{uuid.uuid4().hex[:12]}")
    spec = build_spec(SpecOptions(args=args, **opts))
    if edit:
        edit(spec)
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


@contextmanager
def redirected(out: Path, err: Path) -> Iterator[None]:
    """Point fds 1 and 2 at files while the container is created (it inherits them)."""
    saved = os.dup(1), os.dup(2)
    fo = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fe = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.dup2(fo, 1)
        os.dup2(fe, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, fo, fe):
            os.close(fd)


def run(rt: LinuxRuntime, bundle: Path, cid: str = "c1") -> tuple[int, str, str]:
    """create + start + wait + delete; returns (exit code as Docker reports it, out, err)."""
    out, err = bundle / "stdout", bundle / "stderr"
    with redirected(out, err):
        rt.create(cid, str(bundle))
    # The pid before start: a process that already exited reads as "stopped", pid 0.
    pid = rt.state(cid)["pid"]
    rt.start(cid)
    _, status = os.waitpid(pid, 0)
    rt.delete(cid)
    code = os.waitstatus_to_exitcode(status)
    return (128 - code if code < 0 else code), out.read_text(), err.read_text()


def probe(tmp: Path, script: str, **opts: Any) -> str:
    """Run ``sh -c script`` with Docker's defaults (plus ``opts``); return its stdout."""
    rt = LinuxRuntime(str(tmp / "state"))
    code, out, err = run(rt, make_bundle(tmp, ["sh", "-c", script], **opts))
    assert code == 0, (code, out, err)
    return out


def status_field(out: str, name: str) -> str:
    return next(ln.split(":", 1)[1].strip() for ln in out.splitlines() if ln.startswith(name + ":"))


@pytest.fixture
def rt(tmp_path: Path) -> LinuxRuntime:
    return LinuxRuntime(str(tmp_path / "state"))


def test_defaults_seen_from_inside(tmp_path: Path) -> None:
    out = probe(tmp_path, "echo pid=$$; hostname; id; cat /proc/self/status", hostname="box")
    lines = out.splitlines()
    assert lines[0] == "pid=1"
    assert lines[1] == "box"
    assert lines[2] == "uid=0(root) gid=0(root)" or lines[2] == "uid=0 gid=0"
    for field in ("CapEff", "CapPrm", "CapBnd"):
        assert status_field(out, field) == DEFAULT_CAPS
    assert status_field(out, "CapInh") == "0000000000000000"
    assert status_field(out, "CapAmb") == "0000000000000000"
    assert status_field(out, "NoNewPrivs") == "0"


def test_namespaces_are_separate(tmp_path: Path) -> None:
    names = ["cgroup", "ipc", "mnt", "net", "pid", "uts"]
    out = probe(tmp_path, " ; ".join(f"readlink /proc/self/ns/{n}" for n in names))
    inside = out.split()
    assert len(inside) == len(names)
    for name, link in zip(names, inside, strict=True):
        assert link.startswith(name + ":[")
        assert link != os.readlink(f"/proc/self/ns/{name}"), name


def test_host_network_namespace_is_shared(tmp_path: Path) -> None:
    out = probe(tmp_path, "readlink /proc/self/ns/net", namespaces={"network": "host"})
    assert out.strip() == os.readlink("/proc/self/ns/net")


def test_network_has_only_lo_and_it_is_up(tmp_path: Path) -> None:
    out = probe(
        tmp_path, "ls /sys/class/net; cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags"
    )
    lines = out.split()
    assert lines[0] == "lo" and len(lines) == 3
    assert int(lines[2], 16) & 0x1  # IFF_UP


def _mountinfo(out: str) -> dict[str, tuple[str, str, str]]:
    mounts = {}
    for line in out.splitlines():
        f = line.split()
        sep = f.index("-")
        mounts[f[4]] = (f[sep + 1], f[5], f[sep + 3])
    return mounts


def test_mounts_and_options(tmp_path: Path) -> None:
    mounts = _mountinfo(probe(tmp_path, "cat /proc/self/mountinfo"))
    assert mounts["/proc"][0] == "proc"
    assert set(mounts["/proc"][1].split(",")) >= {"rw", "nosuid", "nodev", "noexec"}
    assert mounts["/dev"][0] == "tmpfs" and "mode=755" in mounts["/dev"][2]
    assert mounts["/dev/pts"][0] == "devpts" and "ptmxmode=666" in mounts["/dev/pts"][2]
    assert mounts["/sys"][0] == "sysfs" and mounts["/sys"][1].startswith("ro,")
    assert mounts["/sys/fs/cgroup"][1].startswith("ro,")
    assert mounts["/dev/shm"][0] == "tmpfs" and "size=65536k" in mounts["/dev/shm"][2]
    assert mounts["/dev/mqueue"][0] == "mqueue"
    for path in ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys"):
        assert mounts[path][1].startswith("ro,"), path
    assert mounts["/sys/firmware"][0] == "tmpfs"
    assert mounts["/proc/keys"][1].startswith("rw")  # /dev/null bound over it
    assert mounts["/"][1].startswith("rw,")


def test_bind_mounts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "f").write_text("in-dir\n")
    hosts = tmp_path / "hosts"
    hosts.write_text("127.0.0.1 localhost\n")
    mounts = [
        {
            "destination": "/data",
            "type": "bind",
            "source": str(data),
            "options": ["rbind", "ro", "rprivate"],
        },
        {
            "destination": "/etc/hosts",
            "type": "bind",
            "source": str(hosts),
            "options": ["rbind", "rprivate"],
        },
    ]
    out = probe(
        tmp_path,
        "cat /data/f /etc/hosts; touch /data/g 2>/dev/null || echo ro; "
        "echo more >> /etc/hosts; grep -E ' /(data|etc/hosts) ' "
        "/proc/self/mountinfo | cut -d' ' -f5,6",
        mounts=mounts,
    )
    assert out.splitlines()[:3] == ["in-dir", "127.0.0.1 localhost", "ro"]
    assert "/data ro," in out and "/etc/hosts rw," in out
    assert hosts.read_text().endswith("more\n")


def test_masked_and_readonly_paths(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        "wc -c < /proc/keys; ls -A /sys/firmware | wc -l; "
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo wrote "
        "|| echo ro; touch /sys/x 2>/dev/null && echo wrote || echo ro; "
        "mkdir /sys/fs/cgroup/x 2>/dev/null && echo wrote || echo ro",
    )
    assert out.split() == ["0", "0", "ro", "ro", "ro"]


def test_dev_contents(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        "ls -A /dev; echo --; stat -c '%n %t:%T %a' /dev/null /dev/zero "
        "/dev/full /dev/random /dev/urandom /dev/tty; readlink /dev/ptmx; "
        "readlink /dev/fd",
    )
    listing, rest = out.split("--\n")
    assert set(listing.split()) == {
        "null",
        "zero",
        "full",
        "random",
        "urandom",
        "tty",
        "pts",
        "shm",
        "mqueue",
        "ptmx",
        "fd",
        "stdin",
        "stdout",
        "stderr",
    } | ({"core"} if os.path.exists("/proc/kcore") else set())
    assert rest.splitlines() == [
        "/dev/null 1:3 666",
        "/dev/zero 1:5 666",
        "/dev/full 1:7 666",
        "/dev/random 1:8 666",
        "/dev/urandom 1:9 666",
        "/dev/tty 5:0 666",
        "pts/ptmx",
        "/proc/self/fd",
    ]


def test_cgroup_namespace_shows_own_cgroup_as_root(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        "cat /proc/self/cgroup; cat /sys/fs/cgroup/memory/memory.limit_in_bytes;"
        " cat /sys/fs/cgroup/pids/pids.max",
        resources={"memory": {"limit": 64 << 20}, "pids": {"limit": 77}},
    )
    lines = out.splitlines()
    for line in lines[:-2]:
        assert line.endswith(":/"), line
    assert lines[-2:] == [str(64 << 20), "77"]


def test_exec_errors_are_runc_texts(rt: LinuxRuntime, tmp_path: Path) -> None:
    cases = [
        (["nosuchcommand"], 'exec: "nosuchcommand": executable file not found in $PATH', 127),
        (
            ["/no/such/path"],
            'exec: "/no/such/path": stat /no/such/path: no such file or directory',
            127,
        ),
        (["/etc"], 'exec: "/etc": permission denied', 126),
        (["/etc/notexec"], 'exec: "/etc/notexec": permission denied', 126),
    ]
    for args, message, code in cases:
        bundle = make_bundle(tmp_path, args)
        with pytest.raises(RuntimeFailure) as info:
            rt.create("bad", str(bundle))
        assert str(info.value) == message
        assert info.value.exit_code == code
        assert not (tmp_path / "state" / "bad").exists()


def test_setup_failure_cleans_up(rt: LinuxRuntime, tmp_path: Path) -> None:
    def bad_mount(spec: dict[str, Any]) -> None:
        spec["mounts"].append(
            {
                "destination": "/mnt",
                "type": "bind",
                "source": "/no/such/source",
                "options": ["rbind"],
            }
        )

    bundle = make_bundle(tmp_path, ["true"], edit=bad_mount)
    with pytest.raises(RuntimeFailure) as info:
        rt.create("bad", str(bundle))
    assert info.value.exit_code == 125
    assert "/mnt" in str(info.value) and "\n" not in str(info.value)
    assert rt.list() == []


def test_duplicate_and_invalid_ids(rt: LinuxRuntime, tmp_path: Path) -> None:
    from dockyard.errors import InvalidArgument, NotFound

    bundle = make_bundle(tmp_path, ["true"])
    rt.create("dup", str(bundle))
    with pytest.raises(Conflict, match="^container with id exists: dup$"):
        rt.create("dup", str(bundle))
    # runtime.md "delete": a container that is not stopped (here: created) is refused.
    with pytest.raises(Conflict, match="not stopped: created"):
        rt.delete("dup")
    rt.delete("dup", force=True)
    with pytest.raises(InvalidArgument, match="invalid id format"):
        rt.create("../x", str(bundle))
    with pytest.raises(NotFound, match="container nope does not exist"):
        rt.state("nope")


def test_exit_status_and_stdio(rt: LinuxRuntime, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert run(rt, bundle) == (3, "out\n", "err\n")


def test_ready_reported_before_pid(
    rt: LinuxRuntime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PID 1's "ready" can reach the caller before the first child's "pid" message (the
    first child descheduled between its fork and its write): create waits for both. The
    delay stands in for the scheduler: the race was only ever seen under heavy load,
    failing with "container init exited before it was ready"."""
    from dockyard.runtime import init

    send = init._send

    def late_pid(fd: int, msg: dict[str, Any]) -> None:
        if msg["type"] == "pid":  # only the first child sends it
            time.sleep(1)
        send(fd, msg)

    monkeypatch.setattr(init, "_send", late_pid)
    bundle = make_bundle(tmp_path, ["sh", "-c", "echo out; echo err >&2; exit 3"])
    assert run(rt, bundle) == (3, "out\n", "err\n")


def test_variants_caps_user_nnp_readonly_rlimits(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status",
        cap_add=["NET_ADMIN"],
        cap_drop=["chown"],
        no_new_privileges=True,
    )
    want = caps.mask([*caps.DEFAULT, "CAP_NET_ADMIN"]) & ~caps.mask(["CAP_CHOWN"])
    assert status_field(out, "CapEff") == f"{want:016x}"
    assert status_field(out, "NoNewPrivs") == "1"

    out = probe(
        tmp_path,
        "id -u; id -g; id -G; grep -E '^Cap' /proc/self/status",
        user=(1000, 1001),
        additional_gids=[1002, 1003],
    )
    lines = out.splitlines()
    assert lines[:3] == ["1000", "1001", "1001 1002 1003"]
    assert status_field(out, "CapEff") == "0000000000000000"
    assert status_field(out, "CapPrm") == "0000000000000000"
    assert status_field(out, "CapBnd") == DEFAULT_CAPS

    out = probe(
        tmp_path,
        "touch /x 2>/dev/null && echo wrote || echo ro; touch /dev/shm/x "
        "&& echo shm; ulimit -n; ulimit -Hn",
        readonly_rootfs=True,
        ulimits={"nofile": (1024, 2048)},
    )
    assert out.split() == ["ro", "shm", "1024", "2048"]


def test_privileged(tmp_path: Path) -> None:
    out = probe(
        tmp_path,
        "grep CapEff /proc/self/status; wc -c < /proc/keys; "
        "touch /sys/kernel/x 2>&1; grep ' /sys ' /proc/self/mountinfo",
        privileged=True,
    )
    _, have, _ = __import__("dockyard.runtime.syscalls", fromlist=["capget"]).capget()
    assert status_field(out, "CapEff") == f"{caps.mask(caps.all_caps()) & have:016x}"
    assert " /sys rw," in out


def test_pid1_ignores_sigterm_and_dies_on_sigkill(rt: LinuxRuntime, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, ["sleep", "60"])
    rt.create("s", str(bundle))
    pid = rt.state("s")["pid"]
    rt.start("s")
    assert rt.state("s")["status"] == "running"
    with pytest.raises(Conflict):
        rt.delete("s")
    rt.kill("s", signal.SIGTERM)
    time.sleep(0.2)
    assert rt.state("s")["status"] == "running"
    rt.kill("s", signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == -signal.SIGKILL
    assert rt.state("s")["status"] == "stopped"
    rt.delete("s")
    assert rt.list() == []


def test_force_delete_and_kill_all(rt: LinuxRuntime, tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, ["sh", "-c", "sleep 60 & sleep 60"])
    rt.create("f", str(bundle))
    rt.start("f")
    # Read the PID before the kill: once PID 1 is gone the state reports pid 0.
    pid = rt.state("f")["pid"]
    rt.kill("f", signal.SIGKILL, all=True)
    os.waitpid(pid, 0)
    bundle2 = make_bundle(tmp_path, ["sleep", "60"])
    rt.create("g", str(bundle2))
    assert [s["status"] for s in rt.list()] == ["stopped", "created"]
    rt.delete("f")
    rt.delete("g", force=True)
    assert rt.list() == []


def _cli(root: Path, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNTIME_CLI, "--root", str(root), *args], text=True, capture_output=True, timeout=30, **kw
    )


def test_cli_create_and_start_in_separate_processes(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, ["sh", "-c", "echo started; exit 7"])
    root = tmp_path / "state"
    # The container keeps create's stdio until it exits: files, not pipes.
    with open(tmp_path / "out", "w") as out, open(tmp_path / "err", "w+") as err:
        proc = subprocess.run(
            [
                RUNTIME_CLI,
                "--root",
                str(root),
                "create",
                "-b",
                str(bundle),
                "--pid-file",
                str(tmp_path / "pid"),
                "c",
            ],
            stdout=out,
            stderr=err,
            timeout=30,
        )
    assert proc.returncode == 0, (tmp_path / "err").read_text()
    state = json.loads(_cli(root, "state", "c").stdout)
    assert state["status"] == "created" and state["id"] == "c"
    assert int((tmp_path / "pid").read_text()) == state["pid"]
    assert "created" in _cli(root, "list").stdout
    assert _cli(root, "start", "c").returncode == 0
    # The create process exited, so PID 1 was reparented to us (a subreaper).
    _, status = os.waitpid(state["pid"], 0)
    assert os.waitstatus_to_exitcode(status) == 7
    assert (tmp_path / "out").read_text() == "started\n"
    assert _cli(root, "delete", "c").returncode == 0
    assert _cli(root, "state", "c").returncode == 1


def test_cli_run_exit_codes(tmp_path: Path) -> None:
    root = tmp_path / "state"
    ok = _cli(root, "run", "-b", str(make_bundle(tmp_path, ["sh", "-c", "echo hi; exit 4"])), "r1")
    assert (ok.returncode, ok.stdout) == (4, "hi\n")
    pid_file = tmp_path / "pid"
    killed = subprocess.Popen(
        [
            RUNTIME_CLI,
            "--root",
            str(root),
            "run",
            "--pid-file",
            str(pid_file),
            "-b",
            str(make_bundle(tmp_path, ["sleep", "60"])),
            "r2",
        ]
    )
    # The pid file appears at create; kill only once `start` has exec'd sleep.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if pid_file.exists():
            cmdline = Path(f"/proc/{pid_file.read_text()}/cmdline")
            if cmdline.exists() and cmdline.read_bytes().startswith(b"sleep"):
                break
        time.sleep(0.01)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert killed.wait(timeout=30) == 137
    bad = _cli(root, "run", "-b", str(make_bundle(tmp_path, ["nosuchcommand"])), "r3")
    assert bad.returncode == 1
    assert 'exec: "nosuchcommand": executable file not found in $PATH' in bad.stderr
    assert _cli(root, "list", "-q").stdout == ""


def test_terminal_over_console_socket(rt: LinuxRuntime, tmp_path: Path) -> None:
    bundle = make_bundle(
        tmp_path, ["sh", "-c", "tty; stty size"], terminal=True, console_size=(30, 100)
    )
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    try:
        rt.create("t", str(bundle), console_socket=sock_path)
        conn, _ = server.accept()
        _, fds, _, _ = socket.recv_fds(conn, 1024, 1)
        conn.close()
        master = fds[0]
        pid = rt.state("t")["pid"]
        rt.start("t")
        _, status = os.waitpid(pid, 0)
        data = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
        os.close(master)
        rt.delete("t")
    finally:
        server.close()
    assert os.waitstatus_to_exitcode(status) == 0
    assert data.replace(b"\r", b"").decode().split("\n")[:2] == ["/dev/pts/0", "30 100"]


def test_get_runtime() -> None:
    assert isinstance(get_runtime("dockyard", "/tmp/x"), LinuxRuntime)
    from dockyard.errors import InvalidArgument
    from dockyard.runtime.external import ExternalRuntime

    with pytest.raises(InvalidArgument, match="unknown runtime: nope"):
        get_runtime("nope", "/tmp/x")
    if os.path.exists("/usr/sbin/runc"):
        ext = get_runtime("runc", "/tmp/x")
        assert isinstance(ext, ExternalRuntime) and ext.binary.endswith("runc")


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets ``spec[a][b]...`` (``path`` "a.b"), or drops it if ``value`` is ...."""

    def edit(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = spec
        for p in parents:
            target = target[p]
        if value is ...:
            del target[last]
        else:
            target[last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # runc refuses a config without process at create (so does Dockyard); then root.
        (lambda s: s.clear(), "process property must not be empty"),
        (_set("process", "x"), "process must be an object"),
        (_set("process.args", "sh"), "process.args must be a list of strings"),
        (_set("process.args", ["sh", 1]), "process.args must be a list of strings"),
        (_set("process.args", []), "process.args must not be empty"),
        (_set("process.env", "PATH=/bin"), "process.env must be a list of strings"),
        (_set("process.cwd", 5), "process.cwd must be a string"),
        (_set("process.user", "root"), "process.user must be an object"),
        (_set("root", ...), "root.path must be a string"),
        (_set("root.path", None), "root.path must be a string"),
        (_set("mounts", {}), "mounts must be a list of objects"),
        (
            _set("mounts", [{"destination": "/x"}, "tmpfs"]),
            "mounts[1].destination must be a string",
        ),
        (_set("mounts", [{"type": "tmpfs"}]), "mounts[0].destination must be a string"),
        (_set("linux", []), "linux must be an object"),
    ],
)
def test_config_shape_errors(
    rt: LinuxRuntime, tmp_path: Path, edit: Callable[[dict[str, Any]], None], message: str
) -> None:
    from dockyard.errors import InvalidArgument

    bundle = make_bundle(tmp_path, ["true"], edit=edit)
    with pytest.raises(InvalidArgument) as info:
        rt.create("bad", str(bundle))
    assert str(info.value) == f"{bundle}/config.json: {message}"
    assert rt.list() == []


def test_config_not_an_object(rt: LinuxRuntime, tmp_path: Path) -> None:
    from dockyard.errors import InvalidArgument

    bundle = make_bundle(tmp_path, ["true"])
    (bundle / "config.json").write_text("[]")
    with pytest.raises(InvalidArgument, match=r"config.json: must be a JSON object$"):
        rt.create("bad", str(bundle))
    root = tmp_path / "cli-state"
    proc = _cli(root, "create", "-b", str(bundle), "c")
    assert (proc.returncode, proc.stderr) == (
        1,
        f"dockyard-runtime: {bundle}/config.json: must be a JSON object\n",
    )


def test_cli_kill_rejects_out_of_range_signal(tmp_path: Path) -> None:
    bundle = make_bundle(tmp_path, ["sleep", "60"])
    root = tmp_path / "state"
    with open(tmp_path / "out", "w") as out:
        created = subprocess.run(
            [RUNTIME_CLI, "--root", str(root), "create", "-b", str(bundle), "c"],
            stdout=out,
            stderr=out,
            timeout=30,
        )
    assert created.returncode == 0
    pid = json.loads(_cli(root, "state", "c").stdout)["pid"]
    try:
        for sig in ("999", "0", str(int(signal.SIGRTMAX) + 1)):
            proc = _cli(root, "kill", "c", sig)
            assert proc.returncode == 1
            assert proc.stderr.startswith("dockyard-runtime: invalid signal")
            assert proc.stderr.count("\n") == 1
        assert _cli(root, "state", "c").returncode == 0
    finally:
        assert _cli(root, "delete", "-f", "c").returncode == 0
        os.waitpid(pid, 0)
