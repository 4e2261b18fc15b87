"""The json-file log: the writer's entries and splitting, the reader's filters, and
``dockyard logs`` against real detached containers."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DOCKYARD, Runner
from dockyard.container.logs import PARTIAL_SIZE, JsonFileWriter, format_time, read_log
from dockyard.errors import InvalidArgument
from dockyard.timetypes import parse_time, parse_time_arg


def _write(path: Path, chunks: list[tuple[str, bytes]]) -> list[dict]:
    writer = JsonFileWriter(str(path))
    sources = []
    for stream, data in chunks:
        r, w = os.pipe()
        os.write(w, data)
        os.close(w)
        sources.append((r, stream))
    writer.relay(sources)
    writer.close()
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_writer_lines_partials_and_docker_shape(tmp_path: Path) -> None:
    long = b"x" * (PARTIAL_SIZE + 10) + b"\n"
    entries = _write(tmp_path / "a.log", [("stdout", b"one\ntwo\n" + long + b"tail")])
    assert [e["log"] for e in entries] == [
        "one\n",
        "two\n",
        "x" * PARTIAL_SIZE,
        "x" * 10 + "\n",
        "tail",
    ]
    assert all(list(e) == ["log", "stream", "time"] for e in entries)
    assert all(e["time"].endswith("Z") and e["stream"] == "stdout" for e in entries)
    line = (tmp_path / "a.log").read_text().splitlines()[0]
    assert line.startswith('{"log":"one\\n","stream":"stdout","time":"')
    entries = _write(tmp_path / "b.log", [("stderr", b"err\n"), ("stdout", b"out\n")])
    assert {(e["stream"], e["log"]) for e in entries} == {("stderr", "err\n"), ("stdout", "out\n")}


def test_times_round_trip_and_relative() -> None:
    ns = 1_700_000_000_123_456_789
    assert format_time(ns) == "2023-11-14T22:13:20.123456789Z"
    assert format_time(1_700_000_000_100_000_000) == "2023-11-14T22:13:20.1Z"
    assert format_time(1_700_000_000_100_000_000, fixed=True) == "2023-11-14T22:13:20.100000000Z"
    assert parse_time(format_time(ns)) == ns
    assert parse_time("2023-11-14T23:13:20.5+01:00") == 1_700_000_000_500_000_000
    now = 1_700_000_000 * 10**9
    assert parse_time_arg("10m", "since", now) == now - 600 * 10**9
    assert parse_time_arg("1h30m", "since", now) == now - 5400 * 10**9
    assert parse_time_arg("1700000000.25", "since", now) == now + 250_000_000
    assert parse_time_arg("2023-11-14T22:13:20Z", "until", now) == now
    with pytest.raises(InvalidArgument, match='invalid value for "since"'):
        parse_time_arg("yesterday", "since", now)


def test_reader_tail_since_until(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    with path.open("w") as f:
        for i in range(5):
            entry = {"log": f"{i}\n", "stream": "stdout", "time": format_time((i + 1) * 10**9)}
            f.write(json.dumps(entry) + "\n")
        f.write('{"log":"torn')
    logs = lambda **kw: [e.log for e in read_log(str(path), **kw)]  # noqa: E731
    assert logs() == [b"0\n", b"1\n", b"2\n", b"3\n", b"4\n"]
    assert logs(tail=2) == [b"3\n", b"4\n"]
    assert logs(tail=0) == []
    assert logs(since=3 * 10**9) == [b"2\n", b"3\n", b"4\n"]
    assert logs(until=2 * 10**9) == [b"0\n", b"1\n"]
    assert list(read_log(str(tmp_path / "missing.log"))) == []


@pytest.mark.timeout(30)
def test_follow_waits_for_the_log_file(tmp_path: Path) -> None:
    """A follow begun before the monitor created the log (right after a start) waits
    for it while the container runs, instead of ending at once with nothing."""
    import threading

    path = tmp_path / "late.log"
    running = threading.Event()
    running.set()

    def start_late() -> None:
        time.sleep(0.5)
        entry = {"log": "hello\n", "stream": "stdout", "time": format_time(10**9)}
        path.write_text(json.dumps(entry) + "\n")
        time.sleep(0.3)
        running.clear()

    writer = threading.Thread(target=start_late)
    writer.start()
    try:
        got = [e.log for e in read_log(str(path), follow=running.is_set, poll=0.05)]
    finally:
        writer.join()
    assert got == [b"hello\n"]
    # Not running (and no log): no wait.
    t0 = time.monotonic()
    assert list(read_log(str(tmp_path / "never.log"), follow=lambda: False)) == []
    assert time.monotonic() - t0 < 1


def test_logs_command(dy: Runner, busybox: str) -> None:
    cid = dy("run", "-d", "--name", "lg", busybox, "sh", "-c",
             "echo one; echo oops >&2; echo two; printf end", check=True).stdout.strip()  # fmt: skip
    assert dy("wait", "lg", check=True).stdout == "0\n"
    p = dy("logs", "lg", check=True)
    assert (p.stdout, p.stderr) == ("one\ntwo\nend", "oops\n")
    assert dy("logs", "--tail", "1", "lg", check=True).stdout == "end"
    assert dy("logs", "--tail", "all", "lg", check=True).stdout == "one\ntwo\nend"
    stamped = dy("logs", "-t", "lg", check=True).stdout.splitlines()
    assert len(stamped[0].split(" ")[0]) == len("2026-01-02T03:04:05.123456789Z")
    assert stamped[0].endswith("Z one")
    assert dy("logs", "--since", "1h", "lg", check=True).stdout == "one\ntwo\nend"
    assert dy("logs", "--until", "1h", "lg", check=True).stdout == ""
    path = dy("inspect", "-f", "{{.LogPath}}", "lg", check=True).stdout.strip()
    assert path.endswith(f"/containers/{cid}/{cid}-json.log") and os.path.exists(path)
    p = dy("logs", "nosuch")
    assert p.returncode == 1 and "No such container: nosuch" in p.stderr
    dy("rm", "lg", check=True)


def test_logs_follow_ends_with_the_container(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    dy("run", "-d", "-t", "--name", "fl", busybox, "sh", "-c",
       "echo first; sleep 1; echo second", check=True)  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        [DOCKYARD, "logs", "-f", "fl"],
        capture_output=True,
        env={**os.environ, **engine_env},
        timeout=20,
    )
    assert proc.returncode == 0
    # -t: the pty is the container's stdout, with the terminal's line endings.
    assert proc.stdout == b"first\r\nsecond\r\n"
    assert time.monotonic() - started >= 0.5
    dy("rm", "fl", check=True)


def test_attached_run_is_logged(dy: Runner, busybox: str) -> None:
    """A foreground ``run`` relays its output and logs it, as Docker does."""
    p = dy("run", "--name", "fg", busybox, "sh", "-c", "echo out; echo err >&2; printf end")
    assert (p.returncode, p.stdout, p.stderr) == (0, "out\nend", "err\n")
    logs = dy("logs", "fg", check=True)
    assert (logs.stdout, logs.stderr) == ("out\nend", "err\n")
    # Bytes (input=b""): the tty's line endings are part of what is checked.
    p = dy("run", "-t", "--name", "fgt", busybox, "sh", "-c", "echo hi; exit 3", input=b"")
    assert (p.returncode, p.stdout) == (3, b"hi\r\n")
    assert dy("logs", "fgt", input=b"", check=True).stdout == b"hi\r\n"
    dy("rm", "fg", "fgt", check=True)
