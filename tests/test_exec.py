"""``dockyard exec`` end to end: namespaces, cgroup, files, hostname, capabilities, user,
env, cwd, exit codes, -i, -t, -d, signals, and containers run by runc."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator

import pytest

from conftest import DOCKYARD, Runner

DEFAULT_CAPS = "00000000a80425fb"


@pytest.fixture
def box(dy: Runner, busybox: str) -> Iterator[str]:
    """A long-running detached container named ``box``; removed afterwards."""
    dy(
        "run",
        "-d",
        "--name",
        "box",
        "--hostname",
        "boxhost",
        "-e",
        "FOO=bar",
        "-w",
        "/tmp",
        busybox,
        "sh",
        "-c",
        "echo data > /tmp/file; sleep 300",
        check=True,
    )
    yield "box"
    dy("rm", "-f", "box", check=True)


def test_joins_namespaces_and_cgroup(dy: Runner, box: str) -> None:
    script = (
        "for n in ipc mnt net pid uts cgroup; do "
        "echo $n $(readlink /proc/self/ns/$n) $(readlink /proc/1/ns/$n); done; "
        "cat /proc/self/cgroup | grep memory; cat /proc/1/cgroup | grep memory"
    )
    out = dy("exec", box, "sh", "-c", script, check=True).stdout.splitlines()
    for line in out[:6]:
        name, mine, pid1 = line.split()
        assert mine == pid1, name
    assert out[6] == out[7]
    pid1_host = dy("inspect", "-f", "{{.State.Pid}}", box, check=True).stdout.strip()
    host_ns = os.readlink(f"/proc/{pid1_host}/ns/mnt")
    assert host_ns != os.readlink("/proc/self/ns/mnt")


def test_files_hostname_env_cwd(dy: Runner, box: str) -> None:
    p = dy("exec", box, "sh", "-c", "cat /tmp/file; hostname; echo $FOO $HOME; pwd", check=True)
    assert p.stdout == "data\nboxhost\nbar /root\n/tmp\n"
    p = dy("exec", "-e", "FOO=baz", "-e", "X=1", "-w", "/etc", box, "sh", "-c", "echo $FOO $X; pwd")
    assert p.stdout == "baz 1\n/etc\n"


def test_env_file(dy: Runner, box: str, tmp_path: object) -> None:
    path = os.path.join(str(tmp_path), "envs")
    with open(path, "w") as f:
        f.write("A=from_file\n")
    p = dy("exec", "--env-file", path, box, "sh", "-c", "echo $A", check=True)
    assert p.stdout == "from_file\n"


def test_capabilities_user_privileged(dy: Runner, box: str) -> None:
    grep = "grep -E '^Cap(Eff|Bnd)' /proc/self/status | cut -f2"
    assert dy("exec", box, "sh", "-c", grep, check=True).stdout == f"{DEFAULT_CAPS}\n" * 2
    full = dy("exec", "--privileged", box, "sh", "-c", grep, check=True).stdout.split()
    assert full[0] == full[1] and int(full[0], 16) > int(DEFAULT_CAPS, 16)
    assert dy("exec", "-u", "nobody", box, "id", check=True).stdout.startswith(
        "uid=65534(nobody) gid=65534(nobody)"
    )
    assert dy("exec", "-u", "1234:nogroup", box, "id", "-u", check=True).stdout == "1234\n"
    p = dy("exec", "-u", "1234:nogroup", box, "id", "-g")
    assert p.stdout == "65534\n"
    p = dy("exec", "-u", "nosuchuser", box, "id")
    assert p.returncode == 126 and "unable to find user nosuchuser" in p.stderr
    eff = dy("exec", "-u", "nobody", box, "sh", "-c", grep, check=True).stdout.split()
    assert eff[0] == "0000000000000000" and eff[1] == DEFAULT_CAPS


def test_exit_codes(dy: Runner, box: str) -> None:
    assert dy("exec", box, "sh", "-c", "exit 5").returncode == 5
    p = dy("exec", box, "nosuch")
    assert p.returncode == 127
    assert 'exec: "nosuch": executable file not found in $PATH' in p.stderr
    p = dy("exec", box, "/etc")
    assert p.returncode == 126 and "permission denied" in p.stderr
    p = dy("exec", "-w", "/nonexistent", box, "true")
    assert p.returncode == 126 and "chdir" in p.stderr
    assert dy("exec", box, "sh", "-c", "kill -9 $$").returncode == 137
    p = dy("exec", "--bogus", box, "true")
    assert p.returncode == 125 and "unknown flag: --bogus" in p.stderr
    assert dy("exec", "nosuchbox", "true").returncode == 1


def test_stopped_container(dy: Runner, busybox: str) -> None:
    cid = dy("create", "--name", "idle", busybox, "true", check=True).stdout.strip()
    p = dy("exec", "idle", "true")
    assert (p.returncode, p.stderr) == (
        1,
        f"Error response from daemon: container {cid} is not running\n",
    )
    dy("rm", "idle", check=True)


def test_stdin_only_with_interactive(dy: Runner, box: str) -> None:
    assert dy("exec", "-i", box, "cat", input="hello\n", check=True).stdout == "hello\n"
    assert dy("exec", box, "cat", input="hello\n", check=True).stdout == ""


def test_tty(engine_env: dict[str, str], dy: Runner, box: str) -> None:
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [DOCKYARD, "exec", "-t", box, "sh", "-c", "tty; echo $TERM; readlink /proc/self/fd/0"],
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
    assert b"/dev/pts/" in output and b"xterm" in output and b"not a tty" not in output


def test_detach(dy: Runner, box: str) -> None:
    p = dy("exec", "-d", box, "sh", "-c", "sleep 0.2; echo done > /tmp/detached", check=True)
    assert p.stdout == ""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if dy("exec", box, "cat", "/tmp/detached").stdout == "done\n":
            break
        time.sleep(0.1)
    else:
        pytest.fail("the detached command did not run")


def test_signals_are_forwarded(engine_env: dict[str, str], box: str) -> None:
    proc = subprocess.Popen(
        [
            DOCKYARD,
            "exec",
            box,
            "sh",
            "-c",
            "trap 'echo got TERM; exit 9' TERM; echo ready; while true; do sleep 0.1; done",
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=20)
    assert (proc.returncode, out) == (9, "got TERM\n")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_exec_with_external_runtime(dy: Runner, busybox: str, runtime: str) -> None:
    from conftest import need

    need(runtime)
    dy("run", "-d", "--runtime", runtime, "--name", "ext", busybox, "sleep", "300", check=True)
    try:
        p = dy(
            "exec", "ext", "sh", "-c", "readlink /proc/self/ns/pid; readlink /proc/1/ns/pid; exit 4"
        )
        assert p.returncode == 4
        a, b = p.stdout.split()
        assert a == b
        assert dy("exec", "ext", "nosuch").returncode == 127
        assert dy("exec", "-i", "ext", "cat", input="x\n").stdout == "x\n"
        assert dy("exec", "-u", "nobody", "ext", "id", "-u").stdout == "65534\n"
    finally:
        dy("rm", "-f", "ext", check=True)
