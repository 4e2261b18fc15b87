"""``--log-driver``/``--log-opt`` (issue 15): json-file with max-size/max-file rotation
(moby loggerutils.LogFile: rotated before an entry would pass max-size, <log>.1 the most
recent), ``none`` (nothing logged, ``logs`` refused as Docker refuses it), and the
drivers and options Dockyard does not implement refused with dockerd's messages."""

from __future__ import annotations

import json
import os

import pytest

from conftest import Runner


def test_json_file_rotation(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    script = "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done"
    dy(
        *("run", "--name", "rot", "--log-opt", "max-size=1k", "--log-opt", "max-file=3"),
        *(busybox, "sh", "-c", script),
        check=True,
    )
    info = json.loads(dy("inspect", "rot", check=True).stdout)[0]
    assert info["HostConfig"]["LogConfig"] == {
        "Type": "json-file",
        "Config": {"max-size": "1k", "max-file": "3"},
    }
    log = info["LogPath"]
    names = sorted(n for n in os.listdir(os.path.dirname(log)) if "-json.log" in n)
    assert [n[len(info["Id"]) :] for n in names] == ["-json.log", "-json.log.1", "-json.log.2"]
    for name in names:
        assert os.path.getsize(os.path.join(os.path.dirname(log), name)) <= 1000
    lines = dy("logs", "rot", check=True).stdout.split()
    # The newest entries, in order, oldest file first, ending with the last line.
    first = int(lines[0][4:])
    assert lines == [f"line{i}" for i in range(first, 200)] and first > 0
    assert dy("logs", "--tail", "2", "rot", check=True).stdout == "line198\nline199\n"
    dy("rm", "rot", check=True)


def test_none_driver(dy: Runner, busybox: str) -> None:
    p = dy("run", "--name", "quiet", "--log-driver", "none", busybox, "echo", "seen", check=True)
    assert p.stdout == "seen\n"  # an attached run still shows the output
    p = dy("logs", "quiet")
    assert p.returncode == 1
    assert "configured logging driver does not support reading" in p.stderr
    info = json.loads(dy("inspect", "quiet", check=True).stdout)[0]
    assert not any("-json.log" in n for n in os.listdir(os.path.dirname(info["HostsPath"])))
    dy("rm", "quiet", check=True)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--log-driver", "syslog"], 'log driver "syslog" is not supported by Dockyard'),
        (
            ["--log-driver", "nope"],
            'error looking up logging plugin nope: plugin "nope" not found',
        ),
        (["--log-opt", "max-size=lots"], "invalid size: 'lots'"),
        (["--log-opt", "max-size=0"], "max-size must be a positive number"),
        (["--log-opt", "max-file=0"], "max-file cannot be less than 1"),
        (["--log-opt", "mode=non-blocking"], "unknown log opt 'mode' for json-file log driver"),
        (["--log-opt", "compress=true"], "log opt compress=true is not supported by Dockyard"),
        (["--log-opt", "tag={{.Name}}"], "log opt tag is not supported by Dockyard"),
        (["--log-driver", "none", "--log-opt", "max-size=1k"], "invalid logging opts for driver"),
    ],
)
def test_refused(dy: Runner, busybox: str, flags: list[str], message: str) -> None:
    p = dy("run", "--rm", *flags, busybox, "true")
    assert p.returncode == 125 and message in p.stderr, p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
