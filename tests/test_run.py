"""End-to-end ``dockyard run``/``create``/``start``/``rm`` through the CLI, with real
namespaces, overlayfs and cgroup v1 (this machine's controllers)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import CGROUP_PARENT, DOCKYARD, Runner

DEFAULT_CAPS = "00000000a80425fb"


def state_files(root: str) -> list[str]:
    """Every path under the engine root except the image content and the event log (a
    failed run's create and destroy are recorded, as dockerd's), for before/after diffs."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            # Top-level directories appear on first use; what is inside them matters.
            dirnames[:] = [d for d in dirnames if d not in ("blobs", "layers", "events")]
            continue
        out.extend(os.path.join(rel, n) for n in dirnames + filenames)
    return sorted(out)


def test_exit_codes_follow_docker(dy: Runner, busybox: str) -> None:
    """tests/data/cases/B19, step by step, with Docker's observed results."""
    assert dy("run", "--rm", busybox, "sh", "-c", "exit 3").returncode == 3
    p = dy("run", "--rm", busybox, "/etc")
    assert p.returncode == 126
    assert 'exec: "/etc": permission denied' in p.stderr
    p = dy("run", "--rm", busybox, "nosuchcommand")
    assert p.returncode == 127
    assert 'exec: "nosuchcommand": executable file not found in $PATH' in p.stderr
    p = dy("run", "--rm", busybox, "/no/such/path")
    assert p.returncode == 127
    assert "stat /no/such/path: no such file or directory" in p.stderr
    p = dy("run", "--rm", "--no-such-flag", busybox, "true")
    assert p.returncode == 125
    assert p.stderr == (
        "unknown flag: --no-such-flag\n\n"
        "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
        "Run 'dockyard run --help' for more information\n"
    )
    p = dy("run", "--rm", busybox, "sh", "-c", "kill -TERM $$; echo survived")
    assert (p.returncode, p.stdout) == (0, "survived\n")
    p = dy("run", "--rm", "--init", busybox, "sh", "-c", "kill -TERM $$; echo survived")
    assert (p.returncode, p.stdout) == (143, "")
    dy("run", "-d", "--name", "b19-k", busybox, "sleep", "300", check=True)
    dy("kill", "b19-k", check=True)
    assert dy("wait", "b19-k", check=True).stdout == "137\n"
    # H: create succeeds, start fails at exec; the record keeps "created" and 127.
    dy("create", "--name", "b19-c", busybox, "nosuchcommand", check=True)
    p = dy("start", "b19-c")
    assert p.returncode != 0
    assert "executable file not found" in p.stderr
    p = dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "b19-c", check=True)
    assert p.stdout == "created 127\n"
    dy("rm", "-f", "b19-k", "b19-c", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


def test_stdout_and_stderr_are_separate(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2", check=True)
    assert (p.stdout, p.stderr) == ("out\n", "err\n")


def test_stdin_only_with_interactive(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "-i", busybox, "cat", input="hello\n", check=True)
    assert p.stdout == "hello\n"
    p = dy("run", "--rm", busybox, "cat", input="hello\n", check=True)
    assert p.stdout == ""


def test_environment_user_workdir_hostname(dy: Runner, busybox: str, tmp_path: Path) -> None:
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nPATH=/bin\n")
    p = dy("run", "--rm", "-e", "A=b", "--env-file", str(env_file), busybox, "env", check=True)
    lines = p.stdout.splitlines()
    assert "A=b" in lines and "FROM_FILE=1" in lines and "PATH=/bin" in lines
    assert "HOME=/root" in lines
    assert any(line.startswith("HOSTNAME=") for line in lines)
    p = dy("run", "--rm", "-u", "nobody", busybox, "id", check=True)
    assert p.stdout.startswith("uid=65534(nobody) gid=65534")
    p = dy("run", "--rm", "-u", "1234:5678", busybox, "id", "-u", check=True)
    assert p.stdout == "1234\n"
    p = dy("run", "--rm", "-u", "nosuchuser", busybox, "id")
    assert p.returncode == 125
    assert "unable to find user nosuchuser" in p.stderr
    p = dy("run", "--rm", "-w", "/new/dir", busybox, "pwd", check=True)
    assert p.stdout == "/new/dir\n"
    p = dy(
        "run",
        "--rm",
        "--hostname",
        "box1",
        busybox,
        "sh",
        "-c",
        "hostname; cat /etc/hostname",
        check=True,
    )
    assert p.stdout == "box1\nbox1\n"
    p = dy("run", "--rm", "--entrypoint", "echo", busybox, "a", "b", check=True)
    assert p.stdout == "a b\n"


def test_default_hostname_is_short_id(dy: Runner, busybox: str) -> None:
    cid = dy("create", busybox, "hostname", check=True).stdout.strip()
    p = dy("start", "-a", cid, check=True)
    assert p.stdout.strip() == cid[:12]
    dy("rm", cid, check=True)


def test_isolation_defaults(dy: Runner, busybox: str) -> None:
    p = dy(
        "run",
        "--rm",
        busybox,
        "sh",
        "-c",
        "echo $$; grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status; ls /dev; cat /proc/kcore | wc -c;"
        " touch /proc/sys/x 2>&1; touch /sys/x 2>&1; ip link 2>/dev/null | grep -c '^[0-9]'",
        check=True,
    )
    out = p.stdout.splitlines()
    assert out[0] == "1"
    assert out[1:4] == [
        f"CapPrm:\t{DEFAULT_CAPS}",
        f"CapEff:\t{DEFAULT_CAPS}",
        f"CapBnd:\t{DEFAULT_CAPS}",
    ]
    assert "null" in out and "urandom" in out and "sda" not in out and "vda" not in out
    assert "0" in out  # /proc/kcore is masked
    assert any("Read-only file system" in line for line in out)


def test_capabilities_and_security_flags(dy: Runner, busybox: str) -> None:
    p = dy(
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        busybox,
        "grep",
        "^CapEff",
        "/proc/self/status",
        check=True,
    )
    assert p.stdout == "CapEff:\t0000000000000000\n"
    p = dy(
        "run",
        "--rm",
        "--cap-add",
        "sys_admin",
        busybox,
        "grep",
        "^CapEff",
        "/proc/self/status",
        check=True,
    )
    assert p.stdout == "CapEff:\t00000000a82425fb\n"
    p = dy("run", "--rm", "--cap-add", "CAP_NOPE", busybox, "true")
    assert p.returncode == 125 and "CAP_NOPE" in p.stderr
    # --privileged: every capability this host's bounding set has, and /sys writable.
    with open("/proc/self/status") as f:
        host_bnd = next(line for line in f if line.startswith("CapBnd")).split()[1]
    p = dy(
        "run",
        "--rm",
        "--privileged",
        busybox,
        "sh",
        "-c",
        "grep ^CapEff /proc/self/status; mount | grep ' /sys type' | grep -c '(rw'",
    )
    assert p.stdout == f"CapEff:\t{host_bnd}\n1\n"
    p = dy("run", "--rm", "--read-only", busybox, "touch", "/x")
    assert p.returncode == 1 and "Read-only file system" in p.stderr
    p = dy(
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        busybox,
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
        check=True,
    )
    assert p.stdout.split() == ["NoNewPrivs:", "1"]
    p = dy(
        "run",
        "--rm",
        "--ulimit",
        "nofile=512:1024",
        busybox,
        "sh",
        "-c",
        "ulimit -n; ulimit -Hn",
        check=True,
    )
    assert p.stdout == "512\n1024\n"


def test_cgroup_limits(dy: Runner, busybox: str) -> None:
    """cgroup v1 (this machine): the container sees its own cgroup as the root."""
    p = dy(
        "run",
        "--rm",
        "-m",
        "64m",
        "--pids-limit",
        "50",
        "--cpus",
        "0.5",
        "--cpu-shares",
        "512",
        busybox,
        "cat",
        "/sys/fs/cgroup/memory/memory.limit_in_bytes",
        "/sys/fs/cgroup/pids/pids.max",
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us",
        "/sys/fs/cgroup/cpu/cpu.shares",
        check=True,
    )
    assert p.stdout.split() == [str(64 << 20), "50", "50000", "512"]
    p = dy("run", "--rm", "-m", "1k", busybox, "true")
    assert p.returncode == 125 and "Minimum memory limit allowed is 6MB" in p.stderr


@pytest.mark.slow
def test_oom_kill_is_137_and_recorded(dy: Runner, busybox: str) -> None:
    p = dy(
        "run",
        "--name",
        "oom",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        busybox,
        "sh",
        "-c",
        "tail /dev/zero",
    )
    assert p.returncode == 137
    p = dy(
        "inspect",
        "-f",
        "{{.State.Status}} {{.State.ExitCode}} {{.State.OOMKilled}}",
        "oom",
        check=True,
    )
    assert p.stdout == "exited 137 true\n"
    dy("rm", "oom", check=True)


def test_signals_are_forwarded(engine_env: dict[str, str], busybox: str) -> None:
    proc = subprocess.Popen(
        [
            DOCKYARD,
            "run",
            "--rm",
            busybox,
            "sh",
            "-c",
            "trap 'echo got TERM; exit 7' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (7, "got TERM\n")


def test_tty(engine_env: dict[str, str], busybox: str) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [DOCKYARD, "run", "--rm", "-t", busybox, "sh", "-c", "tty; echo $TERM"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, **engine_env},
    )
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert proc.wait(timeout=20) == 0
    assert b"/dev/pts/0" in output and b"xterm" in output


def test_network_modes(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", busybox, "sh", "-c", "ls /sys/class/net", check=True)
    assert p.stdout.split() == ["eth0", "lo"]  # the default bridge network
    p = dy("run", "--rm", "--network", "none", busybox, "ls", "/sys/class/net", check=True)
    assert p.stdout.split() == ["lo"]
    # The host's namespace (its interface list changes under concurrent test runs).
    p = dy("run", "--rm", "--network", "host", busybox, "readlink", "/proc/self/ns/net", check=True)
    assert p.stdout.strip() == os.readlink("/proc/self/ns/net")
    p = dy("run", "--rm", "--network", "nosuch", busybox, "true")
    assert p.returncode == 125 and "network nosuch not found" in p.stderr


def test_rm_leaves_no_runroot_files(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """A removed container leaves none of its files in the runroot (its start locks)."""
    cid = dy("run", "-d", busybox, "sleep", "100", check=True).stdout.strip()
    dy("rm", "-f", cid, check=True)
    left = [n for n in os.listdir(tmp_path / "run") if n.startswith(cid)]
    assert left == []


def test_failures_leave_nothing_behind(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    root = engine_env["DOCKYARD_ROOT"]
    before = state_files(root)
    p = dy("run", "--rm", "127.0.0.1:1/nosuch", "true")
    assert p.returncode == 125
    assert dy("run", "--rm", "--ulimit", "bogus=1", busybox, "true").returncode == 125
    assert dy("run", "--rm", "--memory", "lots", busybox, "true").returncode == 125
    assert dy("run", "--rm", "--name", "bad name!", busybox, "true").returncode == 125
    assert dy("run", "--rm", busybox, "nosuchcommand").returncode == 127
    assert dy("ps", "-aq", check=True).stdout == ""
    assert state_files(root) == before


def test_name_conflict(dy: Runner, busybox: str) -> None:
    cid = dy("create", "--name", "same", busybox, "true", check=True).stdout.strip()
    p = dy("create", "--name", "same", busybox, "true")
    assert p.returncode == 1  # docker/cli's runCreate returns the daemon's error as is
    assert f'The container name "/same" is already in use by container "{cid}"' in p.stderr
    assert dy("ps", "-aq", "--no-trunc", check=True).stdout.split() == [cid]
    dy("rm", "same", check=True)


def test_inspect_shape_and_rm(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "kept", "-l", "a=b", busybox, "sh", "-c", "exit 5")
    (obj,) = json.loads(dy("inspect", "kept", check=True).stdout)
    assert obj["Name"] == "/kept"
    assert obj["State"]["Status"] == "exited" and obj["State"]["ExitCode"] == 5
    assert obj["Config"]["Labels"]["a"] == "b"
    assert obj["Path"] == "sh" and obj["Args"] == ["-c", "exit 5"]
    assert "Exited (5)" in dy("ps", "-a", check=True).stdout
    dy("rm", "kept", check=True)
    p = dy("rm", "kept")
    assert p.returncode == 1 and "No such container: kept" in p.stderr


def test_alternative_runtime_runc(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "--runtime", "runc", busybox, "sh", "-c", "echo $$; exit 4")
    assert (p.returncode, p.stdout) == (4, "1\n")
    p = dy("run", "--rm", "--runtime", "runc", busybox, "nosuchcommand")
    assert p.returncode == 127


def test_detached_run_kill_wait_rm(dy: Runner, busybox: str) -> None:
    cid = dy(
        "run", "-d", "--name", "bg", busybox, "sh", "-c", "echo started; sleep 300", check=True
    ).stdout.strip()
    assert len(cid) == 64
    ps = dy("ps", check=True).stdout.splitlines()
    assert ps[0].split() == [
        "CONTAINER",
        "ID",
        "IMAGE",
        "COMMAND",
        "CREATED",
        "STATUS",
        "PORTS",
        "NAMES",
    ]
    assert ps[1].startswith(cid[:12]) and " Up " in ps[1] and ps[1].endswith("bg")
    p = dy("rm", "bg")
    assert p.returncode == 1 and "container is running" in p.stderr
    dy("kill", "-s", "TERM", "bg", check=True)  # PID 1 without a handler ignores SIGTERM
    assert dy("inspect", "-f", "{{.State.Running}}", "bg", check=True).stdout == "true\n"
    dy("rm", "-f", "bg", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
    p = dy("kill", "bg")
    assert p.returncode == 1 and "No such container: bg" in p.stderr


def test_detached_exit_is_recorded_and_rm_flag(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "quick", busybox, "sh", "-c", "exit 9", check=True)
    assert dy("wait", "quick", check=True).stdout == "9\n"
    assert dy("inspect", "-f", "{{.State.Status}}", "quick", check=True).stdout == "exited\n"
    # start runs it again in the background.
    dy("start", "quick", check=True)
    assert dy("wait", "quick", check=True).stdout == "9\n"
    dy("rm", "quick", check=True)
    dy("run", "-d", "--rm", "--name", "gone", busybox, "true", check=True)
    deadline = time.monotonic() + 10
    while dy("ps", "-aq", check=True).stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dy("ps", "-aq", check=True).stdout == ""


def test_killed_monitor_is_a_lost_exit(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """A kill -9 of the monitor never leaves the container shown as running."""
    cid = dy("run", "-d", busybox, "sleep", "300", check=True).stdout.strip()
    lock = Path(engine_env["DOCKYARD_RUNROOT"]) / f"{cid}.lock"
    holder = next(
        int(line.split()[4])
        for line in Path("/proc/locks").read_text().splitlines()
        if line.split()[5].endswith(f":{os.stat(lock).st_ino}")
    )
    os.kill(holder, signal.SIGKILL)
    # The next command kills PID 1 and records 137, as containerd does after a dead shim.
    assert dy("wait", cid, check=True).stdout == "137\n"
    assert (
        dy("inspect", "-f", "{{.State.Status}} {{.State.Running}}", cid, check=True).stdout
        == "exited false\n"
    )
    dy("rm", cid, check=True)


def test_killed_foreground_cli_is_a_lost_exit(
    engine_env: dict[str, str], dy: Runner, busybox: str
) -> None:
    """SIGKILL of an attached ``run``: ``ps`` shows the container exited (137: the next
    command killed its PID 1), not running forever, and nothing of it is left running
    or mounted."""
    proc = subprocess.Popen(
        [DOCKYARD, "run", "--name", "fg", busybox, "sh", "-c", "echo up; sleep 300"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None and proc.stdout.readline() == "up\n"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert "Exited (137)" in dy("ps", "-a", check=True).stdout
    assert dy("inspect", "-f", "{{.State.Running}}", "fg", check=True).stdout == "false\n"
    dy("rm", "fg", check=True)


def test_client_side_errors(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "-it", busybox, "sh", input="ls\n")
    assert (p.returncode, p.stderr) == (1, "the input device is not a TTY\n")
    p = dy("run", "-m", "64x", busybox, "true")
    assert p.returncode == 125
    # docker/cli 28's flag error (go-units v0.5.0's reason), the usage after it.
    assert p.stderr.splitlines()[:3] == [
        'invalid argument "64x" for "-m, --memory" flag: invalid suffix: \'x\'',
        "",
        "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    ]
    # docker/cli 28 checks --mac-address as net.ParseMAC before any request.
    for command in ("run", "create"):
        p = dy(command, "--mac-address", "02:42:zz", busybox, "true")
        assert (p.returncode, p.stderr) == (
            125,
            "dockyard: 02:42:zz is not a valid mac address\n\n"
            f"Run 'dockyard {command} --help' for more information\n",
        )
    assert dy("ps", "-aq", check=True).stdout == ""


def test_bad_values_found_by_fuzzing(dy: Runner, busybox: str) -> None:
    """Values that once ran as root, set a wrong limit or printed a traceback."""
    p = dy("run", "--rm", "-u", "4294967295", busybox, "id")
    assert p.returncode == 125 and "uids and gids must be in range 0-2147483647" in p.stderr
    p = dy("run", "--rm", "-m", "99999999999999999999g", busybox, "true")
    assert p.returncode == 125 and "invalid size" in p.stderr
    # go-units v0.5.0 ParseUlimit's reasons, as docker/cli 28 prints them.
    for value, why in (
        ("99999999999999999999", 'parsing "99999999999999999999": value out of range'),
        ("5:x", 'parsing "x": invalid syntax'),
        ("", 'parsing "": invalid syntax'),
    ):
        p = dy("run", "--rm", "--ulimit", f"nofile={value}", busybox, "true")
        assert p.returncode == 125
        assert p.stderr.startswith(
            f'invalid argument "nofile={value}" for "--ulimit" flag: strconv.ParseInt: {why}\n'
        ), p.stderr
    p = dy("run", "--rm", "--security-opt", "seccomp=/nonexistent.json", busybox, "true")
    # Docker's CLI reads the profile file itself (issue 13: profiles are applied).
    assert p.returncode == 125 and "opening seccomp profile (/nonexistent.json)" in p.stderr
    assert (
        dy("run", "--rm", "--security-opt", "seccomp=unconfined", busybox, "true").returncode == 0
    )
    p = dy("kill", "-s", "999", "x")
    assert p.returncode == 1 and p.stderr.strip().endswith("Invalid signal: 999")
    p = dy("--runroot", "/etc/passwd", "run", "--rm", busybox, "true")
    assert p.returncode == 125 and len(p.stderr.splitlines()) == 1
    assert dy("ps", "-aq", check=True).stdout == ""


def test_rm_force_of_a_detached_rm_container(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--rm", "--name", "rr", busybox, "sleep", "50", check=True)
    p = dy("rm", "-f", "rr")
    assert (p.returncode, p.stdout, p.stderr) == (0, "rr\n", "")
    assert dy("ps", "-aq", check=True).stdout == ""


def _own_cgroup_paths() -> dict[str, str]:
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for ctl in controllers.split(","):
            paths[ctl] = path
    return paths


def _container_in_cgroup(dy: Runner, busybox: str, parent: str, pids_dir: str) -> None:
    """Start a container with ``--cgroup-parent parent`` and wait until its process shows
    up in ``<pids_dir>/<id>`` on the host; then remove it."""
    cid = dy("create", "--cgroup-parent", parent, busybox, "sleep", "30", check=True).stdout.strip()
    proc = subprocess.Popen([DOCKYARD, "start", "-a", cid])
    try:
        procs = Path(pids_dir) / cid / "cgroup.procs"
        deadline = time.monotonic() + 10
        while not (procs.exists() and procs.read_text().strip()):
            assert time.monotonic() < deadline, f"{procs} never got the container"
            time.sleep(0.05)
    finally:
        dy("rm", "-f", cid, check=True)
        proc.wait(timeout=20)


def test_cgroup_parent(dy: Runner, busybox: str) -> None:
    """cgroup v1 here: a relative --cgroup-parent nests under the engine's own cgroup in
    every hierarchy; an absolute one is used as given (chosen inside this test's own
    subtree, which tests must not leave)."""
    own = _own_cgroup_paths()
    pids_own = "/sys/fs/cgroup/pids" + own["pids"].rstrip("/")
    relative = f"{CGROUP_PARENT}-rel"  # this run's (see conftest)
    _container_in_cgroup(dy, busybox, relative, f"{pids_own}/{relative}")
    deepest = max(own.values(), key=len)
    if not all(p == "/" or deepest.startswith(p) for p in own.values()):
        pytest.skip("this machine's own cgroups differ per hierarchy; no common absolute parent")
    parent = f"{deepest.rstrip('/')}/{CGROUP_PARENT}-abs"
    try:
        _container_in_cgroup(dy, busybox, parent, f"/sys/fs/cgroup/pids{parent}")
    finally:
        # Docker leaves an absolute parent in place; the test removes what it asked for.
        for top in Path("/sys/fs/cgroup").iterdir():
            with contextlib.suppress(OSError):
                os.rmdir(f"{top}{parent}")


def test_default_cgroup_parent_is_kept(dy: Runner, busybox: str) -> None:
    """The default cgroup parent is made once and kept (as dockerd's ``docker`` cgroup),
    not made and removed in every hierarchy per run: after runs it is there, empty;
    ``system check`` finds nothing to report in it."""
    from dockyard.runtime import cgroups

    dy("run", "--rm", "--network", "none", busybox, "true", check=True)
    cid = dy("run", "-d", "--network", "none", busybox, "true", check=True).stdout.strip()
    dy("wait", cid, check=True)
    dy("rm", cid, check=True)
    parents = list(cgroups.load(CGROUP_PARENT).paths.values())
    assert parents
    for parent in parents:
        assert os.path.isdir(parent), parent
        assert not [d for d in os.listdir(parent) if os.path.isdir(os.path.join(parent, d))]
    assert dy("system", "check").returncode == 0


def test_alternative_runtime_crun(dy: Runner, busybox: str) -> None:
    """crun 1.8 refuses this hybrid cgroup layout; Dockyard runs it in a private mount
    namespace without the cgroup2 mount (runtime/external.py)."""
    p = dy(
        "run",
        "--rm",
        "--runtime",
        "crun",
        "-m",
        "32m",
        busybox,
        "sh",
        "-c",
        "echo $$; cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
    )
    assert (p.returncode, p.stdout.split()) == (0, ["1", str(32 << 20)])


def test_working_dir_that_is_a_file(dy: Runner, busybox: str) -> None:
    """moby's SetupWorkingDirectory at create: a working directory the image has as a
    file is refused with its message, and no container is left (the create failed)."""
    p = dy("run", "--rm", "-w", "/etc/passwd", busybox, "pwd")
    assert (p.returncode, p.stderr.splitlines()[0]) == (
        125,
        "dockyard: Error response from daemon: Cannot mkdir: /etc/passwd is not a directory",
    )
    p = dy("create", "-w", "/etc/passwd", busybox)
    assert (p.returncode, p.stderr) == (
        1,
        "Error response from daemon: Cannot mkdir: /etc/passwd is not a directory\n",
    )
    assert dy("ps", "-aq", check=True).stdout == ""
    # A missing one is made at start, as before.
    assert dy("run", "--rm", "-w", "/new/dir", busybox, "pwd", check=True).stdout == "/new/dir\n"


@pytest.mark.timeout(60)
def test_interrupted_rm_run_leaves_no_container(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """A SIGINT to ``run --rm`` between the create and the start (sent a few ms after
    the container's directory appears) ends the run and removes the container: --rm
    removes it whatever stopped it from running (it was left Created), and one just as
    the create commits its record leaves no record without its directory."""
    containers = Path(engine_env["DOCKYARD_ROOT"]) / "containers"
    for delay in (0.0, 0.003, 0.0, 0.006, 0.02, 0.04, 0.06, 0.09):
        proc = subprocess.Popen(
            [DOCKYARD, "run", "--rm", busybox, "sleep", "1"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **engine_env},
        )
        deadline = time.monotonic() + 20
        while proc.poll() is None and not (containers.is_dir() and any(containers.iterdir())):
            assert time.monotonic() < deadline
            time.sleep(0.001)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
        # A run interrupted once its container ran: the monitor removes it.
        deadline = time.monotonic() + 10
        while (left := dy("ps", "-aq", check=True).stdout) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert left == "", (delay, proc.returncode)
