"""``stop``, ``restart``, ``rename`` and ``container prune`` through the CLI, with Docker's
output and messages."""

from __future__ import annotations

import time

from conftest import Runner


def fmt(dy: Runner, template: str, name: str) -> str:
    return str(dy("inspect", "-f", template, name, check=True).stdout.strip())


def test_stop_prints_names_and_is_idempotent(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "s1", busybox, "sleep", "300", check=True)
    cid = fmt(dy, "{{.Id}}", "s1")
    began = time.monotonic()
    p = dy("stop", "-t", "1", cid[:12], "s1", check=True)
    assert time.monotonic() - began < 5
    assert p.stdout == f"{cid[:12]}\ns1\n"
    assert fmt(dy, "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}", "s1") == "exited 137 0"
    finished = fmt(dy, "{{.State.FinishedAt}}", "s1")
    # Stopping a stopped container succeeds and changes nothing.
    assert dy("stop", "s1", check=True).stdout == "s1\n"
    assert fmt(dy, "{{.State.FinishedAt}}", "s1") == finished
    p = dy("stop", "nosuch", "s1")
    assert p.returncode == 1
    assert p.stdout == "s1\n"
    assert p.stderr == "Error response from daemon: No such container: nosuch\n"
    dy("rm", "s1", check=True)


def test_stop_signal_flag_overrides_the_container(dy: Runner, busybox: str) -> None:
    script = 'trap "exit 7" USR2; trap "exit 8" TERM; while :; do sleep 1; done'
    dy("run", "-d", "--name", "s2", busybox, "sh", "-c", script, check=True)
    time.sleep(1)
    dy("stop", "-s", "USR2", "--time", "10", "s2", check=True)
    assert fmt(dy, "{{.State.ExitCode}}", "s2") == "7"
    p = dy("stop", "-s", "NOPE", "s2")
    assert p.returncode == 1
    assert "Invalid signal: NOPE" in p.stderr
    p = dy("run", "--stop-signal", "NOPE", busybox, "true")
    assert p.returncode == 125
    assert "Invalid signal: NOPE" in p.stderr
    dy("rm", "s2", check=True)


def test_stop_paused_container(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "pz", busybox, "sleep", "300", check=True)
    dy("pause", "pz", check=True)
    began = time.monotonic()
    dy("stop", "-t", "1", "pz", check=True)
    assert time.monotonic() - began < 5
    fmt_ = "{{.State.Status}} {{.State.ExitCode}} {{.State.Paused}}"
    assert fmt(dy, fmt_, "pz") == "exited 137 false"
    dy("rm", "pz", check=True)


def test_stop_timeout_in_inspect_only_when_set(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "t1", busybox, "true", check=True)
    dy("create", "--name", "t2", "--stop-timeout", "4", busybox, "true", check=True)
    assert fmt(dy, "{{json .Config.StopTimeout}}", "t1") == "null"
    assert fmt(dy, "{{.Config.StopTimeout}}", "t1") == "<no value>"
    assert fmt(dy, "{{.Config.StopTimeout}}", "t2") == "4"
    dy("rm", "t1", "t2", check=True)


def test_restart_running_and_stopped(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "r1", busybox, "sleep", "300", check=True)
    pid = fmt(dy, "{{.State.Pid}}", "r1")
    started = fmt(dy, "{{.State.StartedAt}}", "r1")
    began = time.monotonic()
    assert dy("restart", "-t", "1", "r1", check=True).stdout == "r1\n"
    assert time.monotonic() - began < 6
    assert fmt(dy, "{{.State.Status}}", "r1") == "running"
    assert fmt(dy, "{{.State.Pid}}", "r1") != pid
    assert fmt(dy, "{{.State.StartedAt}}", "r1") > started
    dy("stop", "-t", "0", "r1", check=True)
    assert fmt(dy, "{{.State.Running}}", "r1") == "false"
    dy("restart", "r1", check=True)
    assert fmt(dy, "{{.State.Running}}", "r1") == "true"
    dy("rm", "-f", "r1", check=True)


def test_stop_is_not_undone_by_a_restart_policy(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--restart", "always", "--name", "p1", busybox, "sleep", "300", check=True)
    dy("stop", "-t", "1", "p1", check=True)
    time.sleep(1.5)
    assert fmt(dy, "{{.State.Status}} {{.State.ExitCode}}", "p1") == "exited 137"
    dy("rm", "p1", check=True)


def test_stop_between_restarts(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--restart", "always", "--name", "p2", busybox, "sh", "-c", "exit 1",
       check=True)  # fmt: skip
    deadline = time.monotonic() + 10
    # Docker's back-off doubles from 100 ms: after a few runs it waits long enough to see.
    while True:
        status, count = fmt(dy, "{{.State.Status}} {{.RestartCount}}", "p2").split()
        if status == "restarting" and int(count) >= 4:
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert dy("stop", "p2", check=True).stdout == "p2\n"
    assert fmt(dy, "{{.State.Status}} {{.State.Restarting}} {{.State.ExitCode}}", "p2") == (
        "exited false 1"
    )
    dy("rm", "p2", check=True)


def test_rename(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "old1", busybox, "sleep", "300", check=True)
    dy("create", "--name", "taken", busybox, "true", check=True)
    taken_id = fmt(dy, "{{.Id}}", "taken")
    p = dy("rename", "old1", "taken")
    assert p.returncode == 1
    assert p.stderr == (
        "Error response from daemon: Error when allocating new name: Conflict. The container "
        f'name "/taken" is already in use by container "{taken_id}". You have to remove (or '
        "rename) that container to be able to reuse that name.\n"
    )
    p = dy("rename", "old1", "old1")
    assert p.stderr == (
        "Error response from daemon: Renaming a container with the same name as its current name\n"
    )
    p = dy("rename", "old1", "bad name!")
    assert p.stderr == (
        "Error response from daemon: Invalid container name (bad name!), only "
        "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed\n"
    )
    p = dy("rename", "old1", "")
    assert (p.returncode, p.stderr) == (1, "Error: Neither old nor new names may be empty\n")
    p = dy("rename", "nosuch", "new1")
    assert p.stderr == "Error response from daemon: No such container: nosuch\n"
    # A running container can be renamed; it keeps running under the new name.
    p = dy("rename", "old1", "new1", check=True)
    assert p.stdout == ""
    assert fmt(dy, "{{.Name}} {{.State.Running}}", "new1") == "/new1 true"
    assert dy("inspect", "old1").returncode == 1
    # The old name is free again.
    dy("create", "--name", "old1", busybox, "true", check=True)
    dy("stop", "-t", "0", "new1", check=True)
    assert fmt(dy, "{{.State.Status}}", "new1") == "exited"
    dy("rm", "-f", "new1", "old1", "taken", check=True)


def test_container_prune(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "keep-running", busybox, "sleep", "300", check=True)
    dy("run", "--name", "wrote", busybox, "sh", "-c", "head -c 5000 /dev/zero > /f", check=True)
    dy("create", "--name", "labelled", "-l", "keep=yes", busybox, "true", check=True)
    wrote = fmt(dy, "{{.Id}}", "wrote")
    prompt = (
        "WARNING! This will remove all stopped containers.\n"
        "Are you sure you want to continue? [y/N] "
    )
    p = dy("container", "prune", input="n\n", check=True)
    assert p.stdout == prompt
    assert len(dy("ps", "-aq", check=True).stdout.split()) == 3
    p = dy("container", "prune", "-f", "--filter", "label!=keep=yes", check=True)
    assert p.stdout == f"Deleted Containers:\n{wrote}\n\nTotal reclaimed space: 5kB\n"
    p = dy("container", "prune", "-f", "--filter", "until=1h", check=True)
    assert p.stdout == "Total reclaimed space: 0B\n"
    labelled = fmt(dy, "{{.Id}}", "labelled")
    p = dy("container", "prune", input="y\n", check=True)
    assert p.stdout == f"{prompt}Deleted Containers:\n{labelled}\n\nTotal reclaimed space: 0B\n"
    assert dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout == "keep-running\n"
    p = dy("container", "prune", "-f", "--filter", "bogus=1")
    assert (p.returncode, p.stderr) == (1, "Error response from daemon: invalid filter 'bogus'\n")
    dy("rm", "-f", "keep-running", check=True)
