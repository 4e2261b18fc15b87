"""dockyard attach: the monitor's attach socket streams output written after a client
connects, forwards stdin of a -i container, and the client ends with the exit code."""

from __future__ import annotations

import os
import subprocess
import time

from conftest import DOCKYARD, Runner
from dockyard.container.attach import STDERR, STDOUT, frame


def _attach(engine_env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [DOCKYARD, "attach", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **engine_env},
    )


def test_frame_is_dockers_stream_header() -> None:
    assert frame(STDOUT, b"hi") == b"\x01\x00\x00\x00\x00\x00\x00\x02hi"
    assert frame(STDERR, b"") == b"\x02\x00\x00\x00\x00\x00\x00\x00"


def test_output_after_connect_and_exit_code(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    dy(
        "run", "-d", "--name", "a1", busybox, "sh", "-c",
        "echo before; sleep 1.5; echo out; echo err >&2; exit 7",
        check=True,
    )  # fmt: skip
    time.sleep(0.5)
    proc = _attach(engine_env, "--no-stdin", "a1")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 7
    assert out == b"out\n" and err == b"err\n"  # only what was written after connecting
    assert "before" in dy("logs", "a1", check=True).stdout
    gone = dy("attach", "a1")
    assert gone.returncode == 1
    assert "You cannot attach to a stopped container, start it first" in gone.stderr
    dy("rm", "a1", check=True)


def test_stdin_through_attach(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    dy(
        "run", "-d", "-i", "--name", "a2", busybox, "sh", "-c",
        "read x; echo got $x; read y; echo and $y; exit 3",
        check=True,
    )  # fmt: skip
    proc = _attach(engine_env, "a2")
    out, _ = proc.communicate(b"one\ntwo\n", timeout=30)
    assert out == b"got one\nand two\n"
    assert proc.returncode == 3
    dy("rm", "a2", check=True)


def test_stop_ends_attach_and_detach_by_closing(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    dy(
        "run", "-d", "--name", "a3", busybox, "sh", "-c",
        "trap 'echo bye; exit 9' TERM; while true; do sleep 0.1; done",
        check=True,
    )  # fmt: skip
    try:
        # A client that goes away leaves the container running.
        first = _attach(engine_env, "--no-stdin", "a3")
        time.sleep(0.5)
        first.kill()
        first.wait()
        time.sleep(0.2)
        assert dy("inspect", "-f", "{{.State.Running}}", "a3").stdout.strip() == "true"
        second = _attach(engine_env, "--no-stdin", "a3")
        time.sleep(0.5)
        dy("stop", "a3", check=True)
        out, _ = second.communicate(timeout=30)
        assert out == b"bye\n"
        assert second.returncode == 9
    finally:
        dy("rm", "-f", "a3")


def test_start_attach_of_running_container_and_sig_proxy(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    dy(
        "run", "-d", "--name", "a4", busybox, "sh", "-c",
        "trap 'echo usr1; exit 4' USR1; while true; do sleep 0.1; done",
        check=True,
    )  # fmt: skip
    try:
        proc = subprocess.Popen(
            [DOCKYARD, "start", "-a", "a4"],
            stdout=subprocess.PIPE,
            env={**os.environ, **engine_env},
        )
        time.sleep(1)
        proc.send_signal(10)  # SIGUSR1, proxied to the container
        out, _ = proc.communicate(timeout=30)
        assert out == b"usr1\n" and proc.returncode == 4
    finally:
        dy("rm", "-f", "a4")
