"""The built-in runtime's ``exec``, ``pause``/``resume`` and ``ps`` (library and
``dockyard-runtime`` command line), against the real kernel."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dockyard.errors import Conflict, RuntimeFailure
from dockyard.runtime.linux import LinuxRuntime
from test_runtime import DEFAULT_CAPS, _cli, make_bundle, redirected

# Written to a new file and renamed: a reader never sees the truncated file in between.
SCRIPT = (
    "i=0; while true; do i=$((i+1)); echo $i > /tmp/n.new; mv /tmp/n.new /tmp/n; sleep 0.02; done"
)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[LinuxRuntime, int]]:
    """Container ``c`` of a runtime rooted in tmp_path/state, counting in /tmp/n."""
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(tmp_path, ["sh", "-c", SCRIPT], hostname="inside")
    with redirected(tmp_path / "out", tmp_path / "err"):
        rt.create("c", str(bundle))
    pid1 = rt.state("c")["pid"]
    rt.start("c")
    yield rt, pid1
    rt.delete("c", force=True)  # kills and reaps PID 1


def _process(args: list[str], **extra: Any) -> dict[str, Any]:
    caps = ["CAP_CHOWN", "CAP_KILL"]
    return {
        "args": args,
        "env": ["PATH=/bin"],
        "cwd": "/tmp",
        "user": {"uid": 0, "gid": 0},
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        **extra,
    }


def test_exec_joins_namespaces_cgroup_and_gets_caps(
    running: tuple[LinuxRuntime, int], tmp_path: Path
) -> None:
    rt, pid1 = running
    script = (
        "for n in ipc mnt net pid uts cgroup; do readlink /proc/self/ns/$n; done; "
        "hostname; pwd; grep CapEff /proc/self/status | cut -f2; cat /tmp/n >/dev/null; "
        "echo $$ > /tmp/execpid; sleep 0.5; exit 3"
    )
    with redirected(tmp_path / "xout", tmp_path / "xerr"):
        pid = rt.exec("c", _process(["sh", "-c", script]))
    deadline = time.monotonic() + 5
    while pid not in rt.ps("c") and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pid1 in rt.ps("c") and pid in rt.ps("c")  # the exec'd process joined the cgroup
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    lines = (tmp_path / "xout").read_text().splitlines()
    names = ("ipc", "mnt", "net", "pid", "uts", "cgroup")
    assert code == 3 and lines[:6] == [os.readlink(f"/proc/{pid1}/ns/{n}") for n in names]
    assert lines[6:] == ["inside", "/tmp", "0000000000000021"]
    assert pid not in rt.ps("c")


def test_exec_errors(running: tuple[LinuxRuntime, int], tmp_path: Path) -> None:
    rt, _ = running
    with pytest.raises(RuntimeFailure) as e:
        rt.exec("c", _process(["nosuch"]))
    assert e.value.exit_code == 127
    assert str(e.value) == 'exec: "nosuch": executable file not found in $PATH'
    with pytest.raises(RuntimeFailure) as e:
        rt.exec("c", _process(["/tmp"]))
    assert e.value.exit_code == 126
    with pytest.raises(RuntimeFailure, match="chdir to cwd"):
        rt.exec("c", _process(["true"], cwd="/nonexistent"))
    assert rt.state("c")["status"] == "running"


def test_pause_resume(running: tuple[LinuxRuntime, int], tmp_path: Path) -> None:
    rt, pid1 = running
    time.sleep(0.1)
    rt.pause("c")
    assert rt.state("c")["status"] == "paused"
    with pytest.raises(Conflict):
        rt.pause("c")
    with pytest.raises(Conflict, match="paused"):
        rt.exec("c", _process(["true"]))
    counter = Path(f"/proc/{pid1}/root/tmp/n")
    first = counter.read_text()
    time.sleep(0.3)
    assert counter.read_text() == first
    rt.resume("c")
    assert rt.state("c")["status"] == "running"
    with pytest.raises(Conflict):
        rt.resume("c")
    time.sleep(0.3)
    assert int(counter.read_text()) > int(first)


def test_exec_in_stopped_container(tmp_path: Path) -> None:
    rt = LinuxRuntime(str(tmp_path / "state"))
    bundle = make_bundle(tmp_path, ["true"])
    with redirected(tmp_path / "out", tmp_path / "err"):
        rt.create("c", str(bundle))
    pid1 = rt.state("c")["pid"]
    rt.start("c")
    os.waitpid(pid1, 0)
    with pytest.raises(Conflict, match="cannot exec in a stopped container"):
        rt.exec("c", _process(["true"]))
    rt.delete("c")


def test_exec_terminal(running: tuple[LinuxRuntime, int], tmp_path: Path) -> None:
    from dockyard.container.tty import ConsoleSocket

    rt, _ = running
    with ConsoleSocket(str(tmp_path / "run"), "c") as console:
        pid = rt.exec(
            "c", _process(["sh", "-c", "tty; exit 2"], terminal=True), console_socket=console.path
        )
        master = console.receive()
        out = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        console.close()
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 2
    assert out.startswith(b"/dev/pts/")


def test_cli_exec_pause_resume_ps(running: tuple[LinuxRuntime, int], tmp_path: Path) -> None:
    rt, pid1 = running
    root = tmp_path / "state"
    p = _cli(root, "exec", "c", "sh", "-c", "pwd; exit 5")
    assert (p.returncode, p.stdout) == (5, "/\n")
    proc_file = tmp_path / "process.json"
    proc_file.write_text(json.dumps(_process(["sh", "-c", "grep CapBnd /proc/self/status"])))
    p = _cli(root, "exec", "--process", str(proc_file), "c")
    assert p.returncode == 0 and p.stdout.split()[1] == "0000000000000021"
    p = _cli(root, "exec", "-e", "X=1", "--cwd", "/tmp", "c", "sh", "-c", "echo $X; pwd")
    assert p.stdout == "1\n/tmp\n"
    default = _cli(root, "exec", "c", "sh", "-c", "grep CapBnd /proc/self/status")
    assert default.stdout.split()[1] == DEFAULT_CAPS
    assert _cli(root, "exec", "c", "nosuch").returncode == 1
    assert pid1 in json.loads(_cli(root, "ps", "--format", "json", "c").stdout)
    table = _cli(root, "ps", "c").stdout.splitlines()
    assert table[0].split()[:2] == ["UID", "PID"]
    assert str(pid1) in [line.split()[1] for line in table[1:]]
    assert _cli(root, "pause", "c").returncode == 0
    assert json.loads(_cli(root, "state", "c").stdout)["status"] == "paused"
    assert _cli(root, "resume", "c").returncode == 0
    assert json.loads(_cli(root, "state", "c").stdout)["status"] == "running"
    assert _cli(root, "resume", "c").returncode == 1
