"""dockyard attach: the monitor's attach socket streams output written after a client
connects, forwards stdin of a -i container, and the client ends with the exit code."""

from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import DOCKYARD, Runner
from dockyard.container.attach import STDERR, STDOUT, EscapeFilter, frame, parse_detach_keys
from dockyard.errors import InvalidArgument


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


def test_attach_while_the_monitor_shuts_down(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """PID 1 gone, the socket closed, the exit not yet recorded (the monitor stopped with
    SIGSTOP to hold it there): a stopped container in Docker's words, not 'started by a
    foreground run'."""
    cid = dy("run", "-d", busybox, "sleep", "300", check=True).stdout.strip()
    pid = int(dy("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout)
    status = Path(f"/proc/{pid}/status").read_text()
    monitor = int(next(line for line in status.splitlines() if line.startswith("PPid:"))[5:])
    os.kill(monitor, signal.SIGSTOP)
    try:
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while b") Z " not in Path(f"/proc/{pid}/stat").read_bytes():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.unlink(os.path.join(engine_env["DOCKYARD_RUNROOT"], f"{cid}.attach"))
        for args in (["attach", cid], ["start", "-a", cid]):
            p = dy(*args)
            assert p.returncode == 1, args
            assert "You cannot attach to a stopped container, start it first" in p.stderr, args
    finally:
        os.kill(monitor, signal.SIGCONT)
        dy("rm", "-f", cid, check=True)


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
    assert parse_detach_keys("ctrl-@,DEL") == b"\x00\x7f"  # moby/term's names
    # A single byte as Go counts them: a non-UTF-8 argument byte is taken, "é" refused.
    assert parse_detach_keys("\udcff,a") == b"\xffa"
    with pytest.raises(InvalidArgument, match=r"Invalid detach keys \(é\) provided"):
        parse_detach_keys("é")
    f = EscapeFilter(keys)
    assert f.feed(b"ab\x10") == (b"ab", False)
    assert f.feed(b"c") == (b"\x10c", False)
    assert f.feed(b"\x10") == (b"", False)
    assert f.feed(b"\x11rest") == (b"", True)


def _on_pty(
    engine_env: dict[str, str], *args: str, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen, int]:
    """``dockyard ARGS`` with a new 33x101 pty as its terminal (stderr a pipe), in its
    own session; returns it and the pty's master."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
    proc = subprocess.Popen(
        [DOCKYARD, *args],
        stdin=slave,
        stdout=slave,
        stderr=subprocess.PIPE,
        env={**os.environ, **engine_env, **(env or {})},
        start_new_session=True,
    )
    os.close(slave)
    return proc, master


def _read_until(master: int, text: bytes, timeout: float = 20) -> bytes:
    """The pty's output up to and including ``text``."""
    seen = b""
    deadline = time.monotonic() + timeout
    while text not in seen:
        assert time.monotonic() < deadline, f"{text!r} not in {seen!r}"
        readable, _, _ = select.select([master], [], [], 0.2)
        if readable:
            seen += os.read(master, 65536)
    return seen


@pytest.mark.timeout(90)
def test_run_it_detach_keys(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """``run -it``: the container's first output reaches the terminal (sized as the
    caller's), Ctrl-P Ctrl-Q detaches with exit 0 and nothing said (docker/cli's run),
    the container running on; ``start -ai`` likewise; config.json's ``detachKeys``
    replaces the default; with ``--rm`` the run ends once the container is removed."""
    try:
        proc, master = _on_pty(engine_env, "run", "-it", "--name", "r1", busybox, "sh", "-c",
                               "stty size; while :; do sleep 0.1; done")  # fmt: skip
        try:
            assert b"33 101" in _read_until(master, b"33 101")
            os.write(master, b"\x10\x11")
            assert proc.wait(timeout=20) == 0
            assert proc.stderr is not None and proc.stderr.read() == b""
        finally:
            os.close(master)
        assert dy("inspect", "-f", "{{.State.Running}}", "r1").stdout.strip() == "true"
        # config.json's detachKeys: Ctrl-P Ctrl-Q are passed on, Ctrl-A x detach.
        (tmp_path / "config.json").write_text('{"detachKeys": "ctrl-a,x"}')
        dy("create", "-it", "--name", "s1", busybox, "sh", "-c", "echo go; cat", check=True)
        docker_config = {"DOCKER_CONFIG": str(tmp_path)}
        proc, master = _on_pty(engine_env, "start", "-ai", "s1", env=docker_config)
        try:
            _read_until(master, b"go")
            os.write(master, b"ab\x10\x11\n")
            # cat's copy of the line: Ctrl-P passed on (Ctrl-Q is the pty's IXON start).
            _read_until(master, b"ab\x10\r\n")
            os.write(master, b"\x01x")
            assert proc.wait(timeout=20) == 0
        finally:
            os.close(master)
        assert dy("inspect", "-f", "{{.State.Running}}", "s1").stdout.strip() == "true"
    finally:
        dy("rm", "-f", "r1", "s1")
    proc, master = _on_pty(engine_env, "run", "--rm", "-it", busybox, "sh", "-c", "exit 3")
    try:
        assert proc.wait(timeout=20) == 3
    finally:
        os.close(master)
    assert dy("ps", "-aq", check=True).stdout == ""


@pytest.mark.timeout(60)
def test_exec_it_detach_keys(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """``exec -it``: the detach keys end the session with docker/cli's ``read escape
    sequence`` (exit 1) and the process runs on."""
    dy("run", "-d", "--name", "x1", busybox, "sleep", "300", check=True)
    try:
        proc, master = _on_pty(engine_env, "exec", "-it", "x1", "sh", "-c",
                               "echo in; exec sleep 271")  # fmt: skip
        try:
            _read_until(master, b"in")
            os.write(master, b"\x10\x11")
            assert proc.wait(timeout=20) == 1
            assert proc.stderr is not None and proc.stderr.read() == b"read escape sequence\n"
        finally:
            os.close(master)
        assert "sleep 271" in dy("top", "x1", check=True).stdout
    finally:
        dy("rm", "-f", "x1")


@pytest.mark.timeout(60)
def test_run_sig_proxy_false(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """``run --sig-proxy=false``: a SIGINT is not forwarded and does not end the run
    (docker/cli 28 counts it); the third ends the client with its message, exit 1, the
    container running on."""
    proc = subprocess.Popen(
        [DOCKYARD, "run", "--name", "sp", "--sig-proxy=false", busybox, "sh", "-c",
         "trap 'echo int' INT; echo a; sleep 2; echo b; exit 5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **engine_env},
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stdout.readline() == b"a\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
        assert (proc.returncode, out, err) == (5, b"b\n", b"")
        dy("rm", "sp", check=True)
        proc = subprocess.Popen(
            [DOCKYARD, "run", "--name", "sp", "--sig-proxy=false", busybox, "sh", "-c",
             "echo a; exec sleep 60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, **engine_env},
        )  # fmt: skip
        assert proc.stdout is not None and proc.stdout.readline() == b"a\n"
        for _ in range(3):
            proc.send_signal(signal.SIGINT)
            time.sleep(0.1)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 1 and err == b"\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n"
        assert dy("inspect", "-f", "{{.State.Running}}", "sp").stdout.strip() == "true"
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        dy("rm", "-f", "sp")


@pytest.mark.timeout(60)
def test_run_it_forwards_no_signal(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """``run -it``: the CLI forwards no signal to a tty container (docker/cli's
    runContainer: 'Disable sigProxy when in TTY mode'); the third SIGTERM/SIGINT ends the
    client (exit 1), the container running on."""
    proc, master = _on_pty(engine_env, "run", "-it", "--name", "st", busybox, "sh", "-c",
                           "trap 'exit 7' TERM INT; echo go; while :; do sleep 0.1; done")  # fmt: skip
    try:
        _read_until(master, b"go")
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        assert proc.poll() is None
        assert dy("inspect", "-f", "{{.State.Running}}", "st").stdout.strip() == "true"
        for sig in (signal.SIGINT, signal.SIGTERM):
            proc.send_signal(sig)
            time.sleep(0.1)
        assert proc.wait(timeout=20) == 1
        assert proc.stderr is not None
        assert proc.stderr.read() == b"\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n"
        assert dy("inspect", "-f", "{{.State.Running}}", "st").stdout.strip() == "true"
    finally:
        os.close(master)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait()
        dy("rm", "-f", "st")


@pytest.mark.timeout(60)
def test_detach_while_the_terminal_takes_no_output(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """The detach keys end ``run -it``, ``attach`` and ``exec -it`` even while the terminal reads none
    of the container's output (the client's write to it blocked), as docker/cli's input
    copy ends the session without its output copy; the container runs on."""
    flood = "echo go; while :; do echo xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx; done"
    try:
        for args, status in ((("run", "-it", "--name", "fl", busybox, "sh", "-c", flood), 0),
                             (("attach", "fl"), 1),
                             (("exec", "-it", "fl", "sh", "-c", flood), 1)):  # fmt: skip
            proc, master = _on_pty(engine_env, *args)
            try:
                if args[0] != "attach":
                    _read_until(master, b"go")
                time.sleep(1)  # the pty's buffer fills: the client blocks writing to it
                os.write(master, b"\x10\x11")
                assert proc.wait(timeout=15) == status
            finally:
                os.close(master)
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
            assert dy("inspect", "-f", "{{.State.Running}}", "fl").stdout.strip() == "true"
        assert proc.stderr is not None and proc.stderr.read() == b"read escape sequence\n"
    finally:
        dy("rm", "-f", "fl")
