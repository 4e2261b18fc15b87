"""Restart policies: ``--restart`` parsing with Docker's messages, the back-off, and the
monitor restarting (or not) real containers."""

from __future__ import annotations

import os
import signal
import time

import pytest

from conftest import Runner
from dockyard.cli.opts import parse_restart_policy
from dockyard.container.restart import RestartManager, validate_restart_policy
from dockyard.errors import InvalidArgument


def test_parse_and_validate_like_docker() -> None:
    assert parse_restart_policy("on-failure:3") == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert parse_restart_policy("always") == {"Name": "always", "MaximumRetryCount": 0}
    with pytest.raises(InvalidArgument, match="no policy provided before colon"):
        parse_restart_policy(":3")
    with pytest.raises(InvalidArgument, match="maximum retry count must be an integer"):
        parse_restart_policy("on-failure:x")
    for name in ("no", "always", "unless-stopped", "on-failure"):
        validate_restart_policy({"Name": name, "MaximumRetryCount": 0})
    with pytest.raises(InvalidArgument, match="can only be used with 'on-failure'$"):
        validate_restart_policy({"Name": "always", "MaximumRetryCount": 2})
    with pytest.raises(InvalidArgument, match="and cannot be negative"):
        validate_restart_policy({"Name": "always", "MaximumRetryCount": -1})
    with pytest.raises(InvalidArgument, match="unknown policy 'sometimes'"):
        validate_restart_policy({"Name": "sometimes", "MaximumRetryCount": 0})


def test_backoff_doubles_caps_and_resets() -> None:
    rm = RestartManager({"Name": "always", "MaximumRetryCount": 0})
    delays = [rm.should_restart(0, False, 0.5) for _ in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0
    assert rm.should_restart(1, False, 10.0) == 0.1  # ran 10 s: back to the start
    assert rm.should_restart(1, True, 0.5) is None  # stopped by the user
    assert rm.restart_count == 13


def test_on_failure_counts_and_policies() -> None:
    rm = RestartManager({"Name": "on-failure", "MaximumRetryCount": 2})
    assert rm.should_restart(0, False, 0) is None
    assert rm.should_restart(1, False, 0) is not None
    assert rm.should_restart(1, False, 0) is not None
    assert rm.should_restart(1, False, 0) is None
    assert (
        RestartManager({"Name": "no", "MaximumRetryCount": 0}).should_restart(1, False, 0) is None
    )
    unless = RestartManager({"Name": "unless-stopped", "MaximumRetryCount": 0})
    assert unless.should_restart(0, False, 0) == 0.1


def test_cli_messages(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "--restart", "always", busybox, "true")
    assert p.returncode == 125
    assert p.stderr.startswith(
        "dockyard: conflicting options: cannot specify both --restart and --rm\n"
    )
    p = dy("run", "--restart", ":1", busybox, "true")
    assert p.returncode == 125 and "invalid restart policy format" in p.stderr
    p = dy("run", "--restart", "bogus", busybox, "true")
    assert p.returncode == 125 and "invalid restart policy: unknown policy 'bogus'" in p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""


def _inspect(dy: Runner, ref: str, fmt: str) -> str:
    return dy("inspect", "-f", fmt, ref, check=True).stdout.strip()


def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_on_failure_restarts_n_times(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "of", "--restart", "on-failure:2", busybox, "sh", "-c",
       "echo run; exit 3", check=True)  # fmt: skip
    # 0.1 s then 0.2 s of back-off: three runs in well under 5 s.
    _until(lambda: _inspect(dy, "of", "{{.RestartCount}} {{.State.Status}}") == "2 exited")
    assert dy("wait", "of", check=True).stdout == "3\n"
    assert dy("logs", "of", check=True).stdout == "run\n" * 3
    policy = _inspect(dy, "of", "{{.HostConfig.RestartPolicy.Name}} "
                      "{{.HostConfig.RestartPolicy.MaximumRetryCount}}")  # fmt: skip
    assert policy == "on-failure 2"
    dy("rm", "of", check=True)


def test_always_restarts_a_killed_pid1_but_not_a_user_kill(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "al", "--restart", "always", busybox, "sleep", "300", check=True)
    pid = int(_inspect(dy, "al", "{{.State.Pid}}"))
    os.kill(pid, signal.SIGKILL)  # from outside Dockyard: a crash, restarted
    _until(lambda: _inspect(dy, "al", "{{.RestartCount}} {{.State.Running}}") == "1 true"
           and _inspect(dy, "al", "{{.State.Pid}}") not in ("0", str(pid)))  # fmt: skip
    assert _inspect(dy, "al", "{{.State.ExitCode}}") in ("0", "137")
    dy("kill", "al", check=True)  # through Dockyard: the user stopped it
    assert dy("wait", "al", check=True).stdout == "137\n"
    time.sleep(0.3)  # longer than the next back-off: still not restarted
    assert _inspect(dy, "al", "{{.State.Status}} {{.RestartCount}}") == "exited 1"
    # A start by the user clears the flag and the count.
    dy("start", "al", check=True)
    assert _inspect(dy, "al", "{{.State.Running}} {{.RestartCount}}") == "true 0"
    dy("rm", "-f", "al", check=True)


def test_rm_force_of_a_restarting_container(dy: Runner, busybox: str) -> None:
    """Removal cancels the back-off: nothing is started again behind it."""
    dy("run", "-d", "--name", "loop", "--restart", "always", busybox, "false", check=True)
    _until(lambda: int(_inspect(dy, "loop", "{{.RestartCount}}")) >= 3)
    dy("rm", "-f", "loop", check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
