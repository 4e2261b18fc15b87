"""The click-free fast path of ``run``, ``create``, ``start`` and ``rm`` (cli/fastrun.py):
it knows exactly the click commands' flags, parses every form it accepts into what click
gives the command, leaves every other form to click (help, errors, unusual spellings,
-H), and a command it runs prints and exits as under click, without importing click."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import click
import pytest

from conftest import Runner
from dockyard.cli import fastrun
from dockyard.cli.containers import container, rm, start
from dockyard.cli.main import _enable_short_help
from dockyard.cli.runcommands import create, run

CLICK_COMMANDS: dict[str, click.Command] = {
    "run": run,
    "create": create,
    "start": start,
    "rm": rm,
}


def _click_params(args: list[str]) -> dict[str, Any] | None:
    """What click gives the callback of the command ``args`` names (as cli/main.py sets
    the command up: pflag's ``--flag=true`` and ``-X=value`` rewritten), or None for a
    usage error."""
    words = next(w for w in fastrun.COMMANDS if tuple(args[: len(w)]) == w)
    command = CLICK_COMMANDS[fastrun.COMMANDS[words]]
    _enable_short_help(command)
    try:
        ctx = command.make_context(words[-1], list(args[len(words) :]))
    except (click.exceptions.UsageError, click.exceptions.Exit):
        return None
    return dict(ctx.params)


def test_aliases_are_the_same_click_commands() -> None:
    for words, name in fastrun.COMMANDS.items():
        if words[0] == "container":
            assert (
                container.get_command(click.Context(container), words[1]) is (CLICK_COMMANDS[name])
            )
    # Every name of these commands in the container group has its entry.
    for name in container.list_commands(click.Context(container)):
        command = container.get_command(click.Context(container), name)
        if command in CLICK_COMMANDS.values():
            assert ("container", name) in fastrun.COMMANDS


@pytest.mark.parametrize("name", sorted(CLICK_COMMANDS))
def test_fast_path_knows_every_flag_of_the_click_commands(name: str) -> None:
    command = CLICK_COMMANDS[name]
    defaults = _click_params(
        [name, "x"] if name in ("run", "create") else [name, "c"]
    )  # every parameter, none given
    assert defaults is not None
    expected = []
    for p in command.params:
        if isinstance(p, click.Argument):
            continue
        assert isinstance(p, click.Option) and p.name
        if p.is_flag and p.secondary_opts:
            kind = fastrun.BOOL
            assert p.secondary_opts == ["--no-" + p.opts[0][2:]], p.opts
        elif p.is_flag:
            kind = fastrun.FLAG
        elif p.multiple:
            kind = fastrun.MULTI
        elif isinstance(p.type, click.types.IntParamType):
            kind = fastrun.INT
            if isinstance(p.type, click.IntRange):
                assert fastrun.RANGES[p.name] == (p.type.min, p.type.max)
        else:
            assert isinstance(p.type, click.types.StringParamType), (name, p.opts)
            kind = fastrun.STR
        if p.envvar:
            assert fastrun.ENVVARS[p.name] == p.envvar
        expected.append((tuple(p.opts), p.name, kind, defaults[p.name]))
    assert sorted(fastrun._flags(name)) == sorted(expected)


# Forms the fast path parses: each must give exactly what click gives.
PARSED = [
    ["run", "busybox"],
    ["run", "--rm", "--network", "none", "busybox", "true"],
    ["run", "-d", "--name", "x", "busybox", "sleep", "9"],
    ["run", "-itd", "busybox"],
    ["run", "-dp", "80:80", "busybox"],
    ["run", "-e", "A=1", "--env=B=2", "-e", "C", "-v", "/a:/b", "busybox", "env"],
    ["run", "--net", "n1", "--network=n2", "--net-alias", "a", "busybox"],
    ["run", "-h", "host", "-w", "/tmp", "-u", "1:2", "busybox"],
    ["run", "--rm", "busybox", "sh", "-c", "echo -x --rm"],
    ["run", "busybox", "--", "ls", "--help=1"],
    ["run", "--entrypoint", "", "busybox"],
    ["run", "--pids-limit", "-1", "--stop-timeout", "3", "--cpu-shares=2", "busybox"],
    ["run", "--blkio-weight", "65535", "busybox"],
    ["run", "--no-sig-proxy", "--sig-proxy", "busybox"],
    ["run", "--no-disable-content-trust", "busybox"],
    ["run", "--platform", "linux/amd64", "busybox"],
    ["run", "--name", "a", "--name", "b", "busybox"],
    ["run", "--memory", "-", "busybox"],
    ["container", "run", "-q", "--pull", "never", "busybox", "true"],
    ["create", "--name", "x", "-l", "a=b", "--label=c", "busybox"],
    ["create", "-it", "busybox", "sh"],
    ["container", "create", "--init", "--read-only", "busybox"],
    ["start", "a"],
    ["start", "a", "b", "c"],
    ["start", "-ai", "a"],
    ["start", "a", "--attach"],
    ["start", "--detach-keys", "ctrl-x", "-i", "a"],
    ["start", "--checkpoint=c", "a", "b"],
    ["container", "start", "a"],
    ["rm", "a"],
    ["rm", "-fv", "a", "b"],
    ["rm", "a", "-f", "--link", "b"],
    ["container", "rm", "-f", "a"],
    ["container", "remove", "--force", "--volumes", "a"],
]
# Forms left to click (help, errors, pflag's spellings, values that look like flags...).
LEFT = [
    ["run"],
    ["run", "--help"],
    ["run", "busybox", "ls", "--help"],
    ["run", "--rm=true", "busybox"],
    ["run", "-d=true", "busybox"],
    ["run", "-e=A", "busybox"],
    ["run", "-eA=1", "busybox"],
    ["run", "-pd", "80", "busybox"],
    ["run", "--bogus", "busybox"],
    ["run", "-Z", "busybox"],
    ["run", "--name"],
    ["run", "--name", "--rm", "busybox"],
    ["run", "--memory-swap", "-1", "busybox"],
    ["run", "--cpu-shares", "x", "busybox"],
    ["run", "--cpu-shares", "1_0", "busybox"],
    ["run", "--cpu-shares", " 1", "busybox"],
    ["run", "--blkio-weight", "65536", "busybox"],
    ["run", "--sig-proxy=false", "busybox"],
    ["run", "--", "busybox"],
    ["run", "-", "busybox"],
    ["create", "-d", "busybox"],
    ["create", "--sig-proxy", "busybox"],
    ["start"],
    ["start", "-h"],
    ["start", "-a", "a", "b"],
    ["start", "--", "a"],
    ["rm", "-f"],
    ["rm", "-x", "a"],
    ["rm", "--force=true", "a"],
    ["container", "rm", "--help"],
    ["-H", "unix:///x", "run", "busybox"],
    ["--root", "/x", "rm", "a"],
    ["container", "ls"],
    ["kill", "a"],
]


@pytest.mark.parametrize("args", PARSED, ids=" ".join)
def test_parses_as_click(args: list[str]) -> None:
    parsed = fastrun.parse(args)
    assert parsed is not None
    words = next(w for w in fastrun.COMMANDS if tuple(args[: len(w)]) == w)
    assert parsed[0] == fastrun.COMMANDS[words]
    assert parsed[1] == _click_params(args)


@pytest.mark.parametrize("args", LEFT, ids=" ".join)
def test_unusual_forms_are_left_to_click(args: list[str]) -> None:
    assert fastrun.parse(args) is None


def test_an_environment_default_is_left_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_DEFAULT_PLATFORM", "linux/amd64")
    assert fastrun.parse(["run", "busybox"]) is None
    args = ["run", "--platform", "linux/arm64", "busybox"]
    assert fastrun.parse(args) == ("run", _click_params(args))


# Runs one command line through the console script's entry point (the fast path) or
# click's (cli/main.py's main), and reports on stderr, last, whether click was imported
# (the atexit handlers run before every exit, exit_now's too).
RUNNER = """
import atexit, sys
side = sys.argv[1]
atexit.register(lambda: sys.stderr.write("|click" if "click" in sys.modules else "|fast"))
sys.argv = ["dockyard", *sys.argv[2:]]
if side == "fast":
    from dockyard.cli.entry import main
    sys.exit(main())
from dockyard.cli.main import main
main(sys.argv[1:])
"""


def _one(env: dict[str, str], side: str, *args: str) -> list[object]:
    """(exit status, stdout, stderr, which path ran it) of ``args`` on ``side``'s path
    (``fast``: the console script's entry point, ``click``: cli/main.py's main)."""
    p = subprocess.run(
        [sys.executable, "-c", RUNNER, side, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    err, _, path = p.stderr.rpartition("|")
    return [p.returncode, p.stdout, err, path]


@pytest.mark.timeout(180)
def test_commands_print_and_exit_as_under_click(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    cases: list[tuple[str, ...]] = [
        ("run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo o; echo e >&2; exit 3"),
        ("run", "--rm", "--cpus", "x", "busybox"),
        ("create", "--cpus", "x", "busybox"),
        ("create", "--pull", "never", "nosuch:1"),
        ("run", "--pull", "never", "nosuch:1"),
        ("run", "--rm", "--restart", "always", "busybox"),
        ("rm", "nosuch"),
        ("rm", "-f", "nosuch", "nosuch2"),
        ("start", "nosuch"),
        ("start", "-a", "nosuch"),
        ("start", "--checkpoint", "c", "nosuch"),
    ]
    for args in cases:
        fast, slow = _one(engine_env, "fast", *args), _one(engine_env, "click", *args)
        assert fast[3] == "fast" and slow[3] == "click", (args, fast, slow)
        assert fast[:3] == slow[:3], args
    # A container made, started, run attached and removed on each path: the same
    # output (its name as given, its output; the ID aside).
    for side in ("fast", "click"):
        name = f"c-{side}"
        rc, out, err, path = _one(
            engine_env, side, "create", "--name", name, "--network", "none", "busybox", "echo", "hi"
        )
        assert (rc, len(str(out).strip()), err, path) == (0, 64, "", side)
        for args, expected in (
            (("start", name), f"{name}\n"),
            (("start", "-a", name), "hi\n"),
            (("rm", "-f", name), f"{name}\n"),
        ):
            assert _one(engine_env, side, *args) == [0, expected, "", side], args
            if args == ("start", name):
                # Ended before start -a: else start -a may find it still winding down.
                dy("wait", name, check=True)
    assert dy("ps", "-aq").stdout == ""


# What a run must not import: each cost every run milliseconds of CPU (bench/README.md,
# "Where a run's time goes"); typing or dataclasses coming back through one module's
# import would undo it for all.
HEAVY = ("click", "typing", "dataclasses", "inspect")


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--rm", "--network", "none", "busybox", "true"],
        ["run", "--rm", "busybox", "true"],
    ],
    ids=" ".join,
)
def test_a_run_imports_nothing_heavy(
    busybox: str, engine_env: dict[str, str], args: list[str]
) -> None:
    code = (
        "import atexit, sys\n"
        "atexit.register(lambda: sys.stderr.write(repr(sorted(set(sys.modules) & "
        f"set({HEAVY!r})))))\n"
        "from dockyard.cli import fastrun\n"
        "sys.exit(fastrun.run(sys.argv[1:]))\n"
    )
    p = subprocess.run(
        [sys.executable, "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **engine_env, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
    )
    assert (p.returncode, p.stderr) == (0, "[]")
