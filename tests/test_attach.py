"""dockyard attach: the monitor's attach socket streams output written after a client
connects, forwards stdin of a -i container, and the client ends with the exit code."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import time

from conftest import DOCKYARD, Runner
from dockyard.container.attach import STDERR, STDOUT, EscapeFilter, frame, parse_detach_keys


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


def test_detached_interactive_config(dy: Runner, busybox: str) -> None:
    """``run -d -i`` attaches nothing (StdinOnce false); ``create -i`` would attach
    stdin once; ``run -d -it`` needs no terminal (Docker's CLI checks only attached runs)."""
    dy("run", "-d", "-i", "--name", "di", busybox, "sleep", "30", check=True)
    dy("run", "-d", "-it", "--name", "dit", busybox, "sleep", "30", check=True)
    dy("create", "-i", "--name", "ci", busybox, "true", check=True)
    fmt = "{{.Config.OpenStdin}} {{.Config.StdinOnce}} {{.Config.AttachStdin}}"
    fmt += " {{.Config.AttachStdout}}"
    try:
        shown = {n: dy("inspect", "-f", fmt, n, check=True).stdout.split() for n in ("di", "ci")}
        assert shown == {
            "di": ["true", "false", "false", "false"],
            "ci": ["true", "true", "true", "true"],
        }
    finally:
        dy("rm", "-f", "di", "dit", "ci", check=True)


def _attach_on_pty(
    engine_env: dict[str, str], rows: int, cols: int, *args: str
) -> tuple[subprocess.Popen, int]:
    """``dockyard attach`` with a new pty of ``rows`` x ``cols`` as its terminal;
    returns it and the pty's master."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    proc = subprocess.Popen(
        [DOCKYARD, "attach", *args],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, **engine_env},
    )
    os.close(slave)
    os.set_blocking(master, False)
    return proc, master


def _drain(master: int) -> None:
    with contextlib.suppress(OSError):
        while os.read(master, 65536):
            pass


def _until_logged(dy: Runner, name: str, text: str) -> None:
    deadline = time.monotonic() + 15
    while text not in dy("logs", name, check=True).stdout:
        assert time.monotonic() < deadline, f"{text!r} not in the logs of {name}"
        time.sleep(0.1)


def test_attach_tty_resize_and_detach_keys(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """With a tty: the client's window size reaches the container's pty at attach and on
    SIGWINCH; Ctrl-P Ctrl-Q (or --detach-keys) detach with Docker's message and exit 1,
    leaving the container running."""
    dy("run", "-d", "-it", "--name", "wt", busybox, "sh", "-c",
       "while :; do stty size; sleep 0.1; done", check=True)  # fmt: skip
    try:
        proc, master = _attach_on_pty(engine_env, 33, 101, "wt")
        try:
            _until_logged(dy, "wt", "33 101")
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
            proc.send_signal(signal.SIGWINCH)
            _until_logged(dy, "wt", "40 120")
            _drain(master)
            os.write(master, b"\x10\x11")  # Ctrl-P Ctrl-Q
            assert proc.wait(timeout=15) == 1
            assert proc.stderr is not None
            assert b"read escape sequence" in proc.stderr.read()
        finally:
            os.close(master)
        assert dy("inspect", "-f", "{{.State.Running}}", "wt").stdout.strip() == "true"
        proc, master = _attach_on_pty(engine_env, 24, 80, "--detach-keys", "ctrl-a,x", "wt")
        try:
            # Attached (its size sent) before typing: a fixed wait was too short under load.
            _until_logged(dy, "wt", "24 80")
            _drain(master)
            os.write(master, b"\x10\x11")  # no longer the sequence: passed on
            os.write(master, b"\x01x")
            assert proc.wait(timeout=15) == 1
        finally:
            os.close(master)
        assert dy("inspect", "-f", "{{.State.Running}}", "wt").stdout.strip() == "true"
        bad = dy("attach", "--detach-keys", "ctrl-", "wt")
        assert bad.returncode == 1
        assert "Invalid detach keys (ctrl-) provided" in bad.stderr
    finally:
        dy("rm", "-f", "wt")


def test_escape_filter_holds_a_prefix_back() -> None:
    keys = parse_detach_keys("ctrl-p,ctrl-q")
    assert keys == b"\x10\x11" and parse_detach_keys("ctrl-\\,a") == b"\x1ca"
    f = EscapeFilter(keys)
    assert f.feed(b"ab\x10") == (b"ab", False)
    assert f.feed(b"c") == (b"\x10c", False)
    assert f.feed(b"\x10") == (b"", False)
    assert f.feed(b"\x11rest") == (b"", True)
