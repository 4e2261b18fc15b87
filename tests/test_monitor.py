"""The detached container's monitor: exit recording, concurrency, ``system boot``."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from conftest import DOCKYARD, Runner


def _inspect(dy: Runner, ref: str, fmt: str) -> str:
    return dy("inspect", "-f", fmt, ref, check=True).stdout.strip()


def _monitor_pid(runroot: str, cid: str) -> int:
    """The process holding the container's start lock: its monitor."""
    inode = os.stat(Path(runroot) / f"{cid}.lock").st_ino
    return next(
        int(line.split()[4])
        for line in Path("/proc/locks").read_text().splitlines()
        if line.split()[5].endswith(f":{inode}")
    )


def test_kill_9_of_pid1_is_137(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "k9", busybox, "sleep", "300", check=True)
    os.kill(int(_inspect(dy, "k9", "{{.State.Pid}}")), signal.SIGKILL)
    assert dy("wait", "k9", check=True).stdout == "137\n"
    assert _inspect(dy, "k9", "{{.State.Status}} {{.State.OOMKilled}}") == "exited false"
    dy("rm", "k9", check=True)


def test_twenty_detached_runs_at_once(dy: Runner, busybox: str) -> None:
    with ThreadPoolExecutor(20) as pool:
        runs = list(pool.map(lambda _: dy("run", "-d", busybox, "sleep", "30"), range(20)))
    assert [p.returncode for p in runs] == [0] * 20, [p.stderr for p in runs if p.returncode]
    ids = {p.stdout.strip() for p in runs}
    assert len(ids) == 20
    assert set(dy("ps", "-q", "--no-trunc", check=True).stdout.split()) == ids
    dy("rm", "-f", *ids, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


def test_system_boot(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """After a "reboot" (every monitor killed with SIGKILL): ``always`` and
    ``unless-stopped`` come back, ``unless-stopped`` stopped by the user and ``no`` do not."""
    runroot = engine_env["DOCKYARD_RUNROOT"]
    for name, policy in (("ba", "always"), ("bu", "unless-stopped"), ("bus", "unless-stopped"),
                         ("bn", "no"), ("bak", "always")):  # fmt: skip
        dy("run", "-d", "--name", name, "--restart", policy, busybox, "sleep", "300", check=True)
    dy("kill", "bus", "bak", check=True)  # stopped by the user
    for name in ("bus", "bak"):
        dy("wait", name, check=True)
    # All at once, as a reboot does: any command in between would take over the
    # containers whose monitor is already gone (and restart them by their policy).
    monitors = [_monitor_pid(runroot, _inspect(dy, n, "{{.Id}}")) for n in ("ba", "bu", "bn")]
    for pid in monitors:
        os.kill(pid, signal.SIGKILL)
    p = dy("system", "boot", check=True)
    assert sorted(p.stdout.split()) == ["ba", "bak", "bu"]
    state = {n: _inspect(dy, n, "{{.State.Status}}") for n in ("ba", "bu", "bus", "bn", "bak")}
    assert state == {
        "ba": "running",
        "bu": "running",
        "bus": "exited",
        "bn": "exited",
        "bak": "running",
    }
    # Its PID 1 outlived the killed monitor here (no real reboot): killed, 137.
    assert _inspect(dy, "bn", "{{.State.ExitCode}}") == "137"
    assert dy("system", "boot", check=True).stdout == ""  # nothing more to start
    dy("rm", "-f", "ba", "bu", "bus", "bn", "bak", check=True)


def test_detached_tty_output_and_rm(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--rm", "-t", "--name", "tt", busybox, "sh", "-c", "tty", check=True)
    deadline = time.monotonic() + 10
    while dy("ps", "-aq", check=True).stdout and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dy("ps", "-aq", check=True).stdout == ""


def test_monitor_is_detached(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """The monitor is in a session of its own (not a session leader, so it can never
    get a controlling terminal), its stdio on /dev/null."""
    cid = dy("run", "-d", busybox, "sleep", "30", check=True).stdout.strip()
    try:
        pid = _monitor_pid(engine_env["DOCKYARD_RUNROOT"], cid)
        assert os.getsid(pid) not in (os.getsid(0), pid)
        for fd in (0, 1, 2):
            assert os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/null"
    finally:
        proc = subprocess.run([DOCKYARD, "rm", "-f", cid], env={**os.environ, **engine_env})
    assert proc.returncode == 0
