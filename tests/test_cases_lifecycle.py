"""Cases B20 (stop: signal, grace period, SIGKILL, --init, stop signals) and B23
(zombie reaping by PID 1), with the values a real Docker engine showed (observed.txt)."""

from __future__ import annotations

import os
import time
from pathlib import Path

from conftest import Runner

CASES = Path(__file__).resolve().parent / "data" / "cases"


def timed_stop(dy: Runner, *args: str) -> float:
    began = time.monotonic()
    dy("stop", *args, check=True)
    return time.monotonic() - began


def inspect(dy: Runner, fmt: str, name: str) -> str:
    return str(dy("inspect", "-f", fmt, name, check=True).stdout.strip())


def test_b20_stop(dy: Runner, busybox: str) -> None:
    names = [f"b20-{i}" for i in range(1, 7)]
    try:
        dy("run", "-d", "--name", "b20-1", busybox, "sleep", "300", check=True)
        took = timed_stop(dy, "-t", "3", "b20-1")
        assert 2.5 <= took <= 6, took
        assert inspect(dy, "b20-1 exit={{.State.ExitCode}}", "b20-1") == "b20-1 exit=137"

        script = 'trap "echo got-term; exit 42" TERM; while true; do sleep 1; done'
        dy("run", "-d", "--name", "b20-2", busybox, "sh", "-c", script, check=True)
        time.sleep(1)
        took = timed_stop(dy, "-t", "10", "b20-2")
        assert took < 4, took
        assert inspect(dy, "b20-2 exit={{.State.ExitCode}}", "b20-2") == "b20-2 exit=42"
        assert dy("logs", "b20-2", check=True).stdout == "got-term\n"

        dy("run", "-d", "--init", "--name", "b20-3", busybox, "sleep", "300", check=True)
        time.sleep(1)
        took = timed_stop(dy, "-t", "10", "b20-3")
        assert took < 2, took
        assert inspect(dy, "b20-3 exit={{.State.ExitCode}}", "b20-3") == "b20-3 exit=143"

        script = 'trap "exit 10" USR1; while :; do sleep 1; done'
        dy("run", "-d", "--name", "b20-4", "--stop-signal", "SIGUSR1", busybox, "sh", "-c",
           script, check=True)  # fmt: skip
        time.sleep(1)
        took = timed_stop(dy, "b20-4")
        assert took < 4, took
        fmt = "b20-4 exit={{.State.ExitCode}} stopsignal={{.Config.StopSignal}}"
        assert inspect(dy, fmt, "b20-4") == "b20-4 exit=10 stopsignal=SIGUSR1"

        dy("run", "-d", "--name", "b20-5", "--stop-timeout", "1", busybox, "sleep", "300",
           check=True)  # fmt: skip
        took = timed_stop(dy, "b20-5")
        assert 0.8 <= took <= 4, took
        assert inspect(dy, "b20-5 exit={{.State.ExitCode}}", "b20-5") == "b20-5 exit=137"

        dy("run", "-d", "--name", "b20-6", busybox, "sleep", "300", check=True)
        dy("kill", "-s", "TERM", "b20-6", check=True)
        time.sleep(2)
        assert inspect(dy, "b20-6 running={{.State.Running}}", "b20-6") == "b20-6 running=true"
    finally:
        dy("rm", "-f", *names)
    assert dy("ps", "-aq", check=True).stdout == ""


def pid_namespace_processes(host_pid: int) -> list[tuple[int, str, str, int]]:
    """``(pid, (comm), state, ppid)`` as seen inside the PID namespace of ``host_pid``,
    read from the host's /proc (what ``cat /proc/[0-9]*/stat`` shows in the container)."""
    ns = os.readlink(f"/proc/{host_pid}/ns/pid")
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{entry}/ns/pid") != ns:
                continue
            status = Path(f"/proc/{entry}/status").read_text()
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
        inner = [int(x) for x in fields["NSpid"].split()]
        inner_ppid = 0
        host_ppid = int(fields["PPid"])
        if host_ppid:
            with_ppid = Path(f"/proc/{host_ppid}/status").read_text()
            ppid_fields = dict(
                line.split(":\t", 1) for line in with_ppid.splitlines() if ":\t" in line
            )
            same_ns = os.readlink(f"/proc/{host_ppid}/ns/pid") == ns
            inner_ppid = int(ppid_fields["NSpid"].split()[-1]) if same_ns else 0
        comm = stat[stat.index("(") : stat.rindex(")") + 1]
        state = stat[stat.rindex(")") + 2]
        found.append((inner[-1], comm, state, inner_ppid))
    return sorted(found)


def test_b23_zombies_reaped_only_by_init(dy: Runner, busybox: str) -> None:
    script = "(sleep 1 &); exec sleep 300"
    try:
        dy("run", "-d", "--name", "b23-noinit", busybox, "sh", "-c", script, check=True)
        dy("run", "-d", "--name", "b23-init", "--init", busybox, "sh", "-c", script,
           check=True)  # fmt: skip
        time.sleep(3)
        procs = pid_namespace_processes(int(inspect(dy, "{{.State.Pid}}", "b23-noinit")))
        assert (1, "(sleep)", "S", 0) in procs
        assert any(c == "(sleep)" and s == "Z" and pp == 1 for _, c, s, pp in procs), procs

        procs = pid_namespace_processes(int(inspect(dy, "{{.State.Pid}}", "b23-init")))
        assert procs[0][:2] == (1, "(docker-init)"), procs
        assert any(c == "(sleep)" and pp == 1 for _, c, _, pp in procs[1:]), procs
        assert all(s != "Z" for _, _, s, _ in procs), procs
    finally:
        dy("rm", "-f", "b23-noinit", "b23-init")
