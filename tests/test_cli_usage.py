"""Docker's CLI conventions: ``-h`` as help, bare group commands, argument-count errors,
and ``wait`` on a ``--rm`` container."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Runner


@pytest.mark.parametrize(
    "args",
    [("-h",), ("network", "-h"), ("volume", "ls", "-h"), ("image", "ls", "-h"), ("wait", "-h")],
)
def test_short_h_is_help(dy: Runner, args: tuple[str, ...]) -> None:
    p = dy(*args)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith("Usage:  dockyard")


def test_short_h_stays_hostname_on_run() -> None:
    from dockyard.cli.main import _enable_short_help
    from dockyard.cli.runcommands import run

    _enable_short_help(run)
    assert "-h" not in run.context_settings.get("help_option_names", [])


@pytest.mark.parametrize("group", ["network", "volume", "image", "container", "system"])
def test_bare_group_prints_usage(dy: Runner, group: str) -> None:
    p = dy(group)
    assert p.returncode == 0
    assert p.stderr.startswith(f"Usage:  dockyard {group} COMMAND\n")


@pytest.mark.parametrize(
    ("args", "need", "hint"),
    [
        (("network", "create"), "1 argument", "Run"),
        (("network", "create", "a", "b"), "1 argument", "Run"),
        (("wait",), "at least 1 argument", "See"),
        (("rename", "a"), "2 arguments", "Run"),
        (("volume", "create", "a", "b"), "at most 1 argument", "Run"),
    ],
)
def test_argument_count_errors_match_docker(
    dy: Runner, args: tuple[str, ...], need: str, hint: str
) -> None:
    p = dy(*args)
    path = "dockyard " + " ".join(a for a in args if a not in ("a", "b"))
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == f"dockyard: '{path}' requires {need}"
    assert lines[1] == "" and lines[2].startswith(f"Usage:  {path} ")
    assert lines[4] == f"{hint} '{path} --help' for more information"


def test_wait_on_rm_container_gets_exit_code(dy: Runner, busybox: str) -> None:
    dy("run", "--rm", "--name", "xx", "-d", busybox, "sh", "-c", "sleep 1; exit 3", check=True)
    p = dy("wait", "xx")
    assert (p.returncode, p.stdout) == (0, "3\n"), p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
    # Gone now: Docker's message names the container as given.
    p = dy("wait", "xx")
    assert p.returncode == 1
    assert p.stderr == "Error response from daemon: No such container: xx\n"


def test_version_without_click_is_clicks(dy: Runner) -> None:
    # `--version`/`-v` alone are answered before click is imported (cli.entry); with
    # another option first click answers: the output must be the same.
    by_click = dy("--debug", "--version")
    assert by_click.returncode == 0, by_click.stderr
    assert by_click.stdout.startswith("Dockyard version ")
    for flag in ("--version", "-v"):
        p = dy(flag)
        assert (p.returncode, p.stdout, p.stderr) == (0, by_click.stdout, "")


def test_launcher_runs_the_cli_under_dash_s(tmp_path: Path, dy: Runner) -> None:
    # tools/launchers.py (make install) writes python -S scripts; the one it writes for
    # this venv answers as the installed command does.
    repo = Path(__file__).resolve().parent.parent
    bindir = tmp_path / "bin"
    bindir.mkdir()
    subprocess.run([sys.executable, str(repo / "tools" / "launchers.py"), str(bindir)], check=True)
    launcher = bindir / "dockyard"
    assert launcher.read_text().splitlines()[0].endswith("python3 -S")
    for args in (["--version"], ["volume", "ls"], ["ps", "-a"]):
        p = subprocess.run([launcher, *args], capture_output=True, text=True, timeout=60)
        want = dy(*args)
        assert (p.returncode, p.stdout, p.stderr) == (want.returncode, want.stdout, want.stderr)
    compose = subprocess.run(
        [bindir / "dockyard-compose", "version"], capture_output=True, text=True, timeout=60
    )
    assert compose.stdout.startswith("Dockyard Compose version"), compose.stderr
