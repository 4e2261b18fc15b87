"""The click-free fast path of ``ps``, ``images`` and ``volume ls`` (cli/fastlist.py):
it knows exactly the click commands' flags, prints the same bytes as the click path for
each flag combination on a populated engine, and leaves every other form (help, errors,
unusual spellings, -H) to click, whose messages and exit codes then come out unchanged."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import click
import pytest

from conftest import Runner
from dockyard.cli import fastlist
from dockyard.cli.containers import container, ps
from dockyard.cli.images import image, images
from dockyard.cli.volumes import ls, volume

CLICK_COMMANDS = {("ps",): ps, ("images",): images, ("volume", "ls"): ls}
GROUPS = {"container": container, "image": image, "volume": volume}

# Each side runs every command line of a list in one process (a process per command line
# made this test take over a minute): the fast path alone, which must not import click
# (None, the command line left to click, is reported as exit 99), and click's path alone
# (cli/main.py's main, as the console script calls it when the fast path declines).
RUNNER = """
import io, json, sys
fast = sys.argv[1] == "fast"
results = []
for args in json.loads(sys.argv[2]):
    out, err = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = io.StringIO(), io.StringIO()
    try:
        if fast:
            from dockyard.cli import fastlist
            rc = fastlist.run(args)
            assert "click" not in sys.modules
            rc = 99 if rc is None else rc
        else:
            from dockyard.cli.main import main
            try:
                main(args)
                rc = 0
            except SystemExit as e:
                rc = e.code or 0
        results.append([rc, sys.stdout.getvalue(), sys.stderr.getvalue()])
    finally:
        sys.stdout, sys.stderr = out, err
print(json.dumps(results))
"""


def test_aliases_are_the_same_click_commands() -> None:
    for (group, name), words in fastlist.ALIASES.items():
        assert GROUPS[group].commands[name] is CLICK_COMMANDS[words]
    # Every other name of these commands has its alias.
    for group_name, group in GROUPS.items():
        for name, command in group.commands.items():
            if command in CLICK_COMMANDS.values():
                assert (group_name, name) in {**fastlist.ALIASES, **fastlist.COMMANDS}


def test_fast_path_knows_every_flag_of_the_click_commands() -> None:
    assert set(CLICK_COMMANDS) == set(fastlist.COMMANDS)
    for words, command in CLICK_COMMANDS.items():
        options, positional = fastlist.COMMANDS[words]
        expected: dict[str, tuple[str, str]] = {}
        arguments = 0
        for p in command.params:
            if isinstance(p, click.Argument):
                arguments += p.nargs
                continue
            assert isinstance(p, click.Option) and p.name
            if p.is_flag:
                kind = fastlist.FLAG
                assert not p.secondary_opts, f"{words}: {p.opts} has a --no- form"
            elif p.multiple:
                kind = fastlist.MULTI
            elif isinstance(p.type, click.types.IntParamType):
                kind = fastlist.INT
            else:
                assert isinstance(p.type, click.types.StringParamType), (words, p.opts)
                kind = fastlist.STR
            if p.name not in fastlist.LEFT_TO_CLICK.get(words, ()):
                expected.update((opt, (p.name, kind)) for opt in p.opts)
        assert options == expected, words
        assert positional == arguments, words


@pytest.mark.parametrize(
    "args",
    [
        ["ps", "--help"],
        ["ps", "-h"],
        ["images", "--help"],
        ["volume", "ls", "--help"],
        ["ps", "--all=true"],
        ["ps", "-fname=a"],
        ["ps", "-qf", "name=a"],
        ["ps", "--filter"],
        ["ps", "--format", "-q"],
        ["ps", "-n", "1_0"],
        ["ps", "-n", " 1"],
        ["ps", "x"],
        ["ps", "--"],
        ["ps", "-"],
        ["images", "a", "b"],
        ["ps", "--bogus"],
        ["volume", "ls", "-a"],
        ["volume", "rm", "x"],
        ["volume"],
        ["-H", "unix:///x", "ps"],
        ["--root", "/x", "ps"],
        ["container", "inspect", "x"],
        ["image", "ls", "--help"],
        ["images", "--tree"],
    ],
)
def test_unusual_forms_are_left_to_click(args: list[str]) -> None:
    assert fastlist.parse(args) is None


def test_parse() -> None:
    assert fastlist.parse(["ps", "-aq", "--filter=name=a", "-f", "label=x", "-n", "-1"]) == (
        ("ps",),
        {"all_": True, "quiet": True, "filters": ("name=a", "label=x"), "last": -1},
        [],
    )
    assert fastlist.parse(["container", "ls", "-a"]) == (("ps",), {"all_": True}, [])
    assert fastlist.parse(["volume", "list", "-q"]) == (("volume", "ls"), {"quiet": True}, [])
    assert fastlist.parse(["images", "-q", "busybox", "--format", "a", "--format", "b"]) == (
        ("images",),
        {"quiet": True, "fmt": "b"},
        ["busybox"],
    )


def _run(env: dict[str, str], side: str, cases: list[list[str]]) -> list[list[object]]:
    p = subprocess.run(
        [sys.executable, "-c", RUNNER, side, json.dumps(cases)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=True,
    )
    results = json.loads(p.stdout)
    assert isinstance(results, list)
    return results


def _untimed(text: object) -> str:
    """``text`` with ages (``3 seconds ago``) as one token and runs of spaces as one: the
    two sides run seconds apart on a loaded machine, so the CREATED and STATUS columns,
    and the layout around them, may differ."""
    assert isinstance(text, str)
    text = re.sub(r"(?:\d+|Less than a|About an?) (?:second|minute|hour)s? ago", "AGO", text)
    return re.sub(" +", " ", text)


def _compare(env: dict[str, str], cases: list[list[str]], fast: bool) -> None:
    """The fast path (``fast``: it runs each case itself; else it leaves it to click,
    printing nothing) and click's path print the same bytes (up to the ages in them)."""
    fast_results = _run(env, "fast", cases)
    click_results = _run(env, "click", cases)
    for args, (rc, out, err), click_result in zip(cases, fast_results, click_results, strict=True):
        if not fast:
            assert (rc, out) == (99, ""), (args, err)
            continue
        assert rc != 99, (args, err)
        if [rc, out, err] != click_result:
            assert "AGO" in _untimed(click_result[1]), (args, out, click_result)
            out, click_result[1] = _untimed(out), _untimed(click_result[1])
        assert [rc, out, err] == click_result, args


LISTINGS = [
    ["ps"],
    ["ps", "-a"],
    ["ps", "-q"],
    ["ps", "-aq"],
    ["ps", "-a", "--no-trunc"],
    ["ps", "-a", "-s"],
    ["ps", "-n", "2"],
    ["ps", "--last=1", "-q"],
    ["ps", "-l"],
    ["ps", "-a", "--filter", "name=one"],
    ["ps", "-a", "-f", "label=x=y"],
    ["ps", "-a", "-f", "status=created", "-f", "status=exited"],
    ["ps", "-a", "--format", "{{.Names}}\t{{.Image}}"],
    ["ps", "-a", "--format", "table {{.ID}}\\t{{.Names}}\\t{{.Mounts}}"],
    ["ps", "-a", "--format", "json"],
    ["ps", "-a", "--format", '{{.Label "x"}} {{.Labels}}'],
    ["ps", "-a", "--format", 'table {{.Names}}\t{{.Label "x"}}'],
    ["ps", "-a", "--format", "table"],
    ["container", "ls", "-a"],
    ["images"],
    ["image", "list", "-a"],
    ["images", "-a"],
    ["images", "-q"],
    ["images", "-aq", "--no-trunc"],
    ["images", "--digests"],
    ["images", "--no-trunc"],
    ["images", "busybox"],
    ["images", "other:1", "-q"],
    ["images", "-f", "reference=busy*"],
    ["images", "--filter=dangling=false"],
    ["images", "--format", "{{.Repository}}:{{.Tag}}"],
    ["images", "--format", "table {{.Repository}}\t{{.Size}}"],
    ["images", "--format", "json"],
    ["volume", "ls"],
    ["volume", "list"],
    ["volume", "ls", "-q"],
    ["volume", "ls", "--filter", "name=vol"],
    ["volume", "ls", "-f", "label=k"],
    ["volume", "ls", "--format", "{{.Name}}"],
    ["volume", "ls", "--format", "json"],
    ["volume", "ls", "--format", 'table {{.Name}}\t{{.Label "k"}}\t{{.Labels}}'],
    ["volume", "ls", "--cluster"],
    ["volume", "ls", "-q", "--cluster"],
]
# Errors the fast path parses but the command refuses: click's path reports them.
ERRORS = [
    ["ps", "--filter", "bogus=1"],
    ["ps", "-f", "novalue"],
    ["ps", "--format", "{{"],
    ["ps", "-a", "--format", "{{.Nope}}"],
    ["ps", "-f", "before=nosuch"],
    ["images", "--format", "{{.Nope}}"],
    ["images", "-f", "x=y"],
    ["images", "-f", "novalue"],
    ["volume", "ls", "-f", "x=y"],
    ["volume", "ls", "--format", "{{.Nope}}"],
]
# Forms the fast path leaves to click.
FALLBACKS = [
    ["ps", "-n", "abc"],
    ["ps", "--help"],
    ["images", "-h"],
    ["volume", "ls", "--bogus"],
    ["ps", "--all=false"],
    ["images", "a", "b"],
    ["ps", "-fname=one"],
    ["volume", "ls", "--format"],
    ["container", "list", "--help"],
    ["image", "ls", "-x"],
]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_fast_path_prints_what_click_prints(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    dy("tag", "busybox", "other:1", check=True)
    dy("tag", "busybox", "busybox:2", check=True)
    dy("create", "--name", "one", "--label", "x=y", "-v", "vol10:/d", "busybox", check=True)
    dy("create", "--name", "two", "-v", "/tmp:/t", "busybox", "sh", "-c", "echo " * 10, check=True)
    dy("run", "--name", "three", "busybox", "true", check=True)
    dy("volume", "create", "--label", "k=v", "vol2", check=True)
    dy("volume", "create", "data", check=True)
    _compare(engine_env, LISTINGS, fast=True)
    _compare(engine_env, ERRORS + FALLBACKS, fast=False)
    # -H / DOCKER_HOST: a remote engine, always click's.
    _compare({**engine_env, "DOCKER_HOST": "unix:///nonexistent.sock"}, [["ps"]], fast=False)
    # The console script: a fallback prints only what click prints.
    for args in (["ps", "--bogus"], ["images", "-f", "x=y"]):
        p = dy(*args)
        assert [p.returncode, p.stdout, p.stderr] == _run(engine_env, "click", [args])[0]


# What an empty listing must not import: each costs it a few ms of CPU (bench/README.md,
# "CLI start-up"); together they were more than half of it.
HEAVY = ("click", "typing", "re", "json", "dataclasses", "inspect", "threading")


@pytest.mark.parametrize("args", [["ps"], ["images"], ["volume", "ls"]])
def test_empty_listing_imports_nothing_heavy(engine_env: dict[str, str], args: list[str]) -> None:
    code = (
        "import sys; from dockyard.cli import fastlist; rc = fastlist.run(sys.argv[1:]); "
        f"sys.stderr.write(repr((rc, sorted(set(sys.modules) & set({HEAVY!r})))))"
    )
    p = subprocess.run(
        [sys.executable, "-S", "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **engine_env, "PYTHONPATH": os.pathsep.join(sys.path)},
        timeout=60,
    )
    assert p.stderr == "(0, [])", p.stderr
