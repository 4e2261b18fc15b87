"""The click-free fast path of ``pull`` (cli/fastpull.py): it knows exactly the click
command's flags, parses every form it accepts into what click gives the command, leaves
every other form to click, and a pull it runs prints and exits as under click, without
importing click."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from conftest import Runner
from dockyard.cli import fastpull
from dockyard.cli.images import image
from dockyard.cli.main import _enable_short_help
from dockyard.cli.registry import pull
from registry_peer import Registry, registry_env


def _click_params(args: list[str]) -> dict[str, Any] | None:
    """What click gives the ``pull`` callback for ``args`` (None: a usage error)."""
    words = next(w for w in fastpull.COMMANDS if tuple(args[: len(w)]) == w)
    _enable_short_help(pull)
    try:
        ctx = pull.make_context(words[-1], list(args[len(words) :]))
    except (click.exceptions.UsageError, click.exceptions.Exit):
        return None
    return dict(ctx.params)


def test_fast_path_knows_every_flag_of_the_click_command() -> None:
    assert image.get_command(click.Context(image), "pull") is pull
    options = {}
    for p in pull.params:
        if isinstance(p, click.Argument):
            continue
        assert isinstance(p, click.Option) and p.name
        for name in p.opts:
            options[name] = (p.name, not p.is_flag)
    assert options == fastpull.OPTIONS
    assert _click_params(["pull", "x"]) == fastpull.parse(["pull", "x"])


PARSED = [
    ["pull", "busybox"],
    ["image", "pull", "busybox:1"],
    ["pull", "-q", "host:5000/a/b@sha256:" + "a" * 64],
    ["pull", "-aq", "busybox"],
    ["pull", "--all-tags", "--quiet", "busybox"],
    ["pull", "--platform", "linux/arm64", "busybox"],
    ["pull", "--platform=linux/arm64", "busybox", "--disable-content-trust"],
    ["pull", "busybox", "-q", "--platform", ""],
]

LEFT = [
    ["pull"],
    ["pull", "a", "b"],
    ["pull", "--help"],
    ["pull", "-h", "busybox"],
    ["pull", "--", "busybox"],
    ["pull", "-"],
    ["pull", "-x", "busybox"],
    ["pull", "-q=true", "busybox"],
    ["pull", "--quiet=true", "busybox"],
    ["pull", "--platform"],
    ["pull", "--platform", "-q", "busybox"],
    ["pull", "--no-disable-content-trust", "busybox"],
    ["pull", "--disable-content-trust=false", "busybox"],
    ["--root", "/x", "pull", "busybox"],
    ["image", "ls"],
    ["push", "busybox"],
]


@pytest.mark.parametrize("args", PARSED, ids=" ".join)
def test_parses_as_click(args: list[str]) -> None:
    parsed = fastpull.parse(args)
    assert parsed is not None
    name = parsed.pop("name")
    expected = _click_params(args)
    assert expected is not None and expected.pop("name") == name
    assert parsed == expected


@pytest.mark.parametrize("args", LEFT, ids=" ".join)
def test_unusual_forms_are_left_to_click(args: list[str]) -> None:
    assert fastpull.parse(args) is None


# One command line through the console script's entry point (the fast path) or click's
# (cli/main.py's main); stderr ends with which of them ran it (the atexit handlers run
# before every exit, exit_now's too).
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
    p = subprocess.run(
        [sys.executable, "-c", RUNNER, side, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
    )
    err, _, path = p.stderr.rpartition("|")
    return [p.returncode, p.stdout, err, path]


@pytest.fixture
def registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Registry]:
    registry_env(monkeypatch, tmp_path)
    reg = Registry(tmp_path / "registry")
    yield reg
    reg.stop()


@pytest.mark.timeout(180)
def test_pulls_print_and_exit_as_under_click(
    dy: Runner, busybox: str, registry: Registry, engine_env: dict[str, str]
) -> None:
    name = f"{registry.host}/fast/busybox"
    dy("tag", busybox, f"{name}:1", check=True)
    dy("push", "-q", f"{name}:1", check=True)
    dy("rmi", busybox, f"{name}:1", check=True)
    env = {**engine_env, **{k: os.environ[k] for k in ("DOCKER_CONFIG", "DOCKYARD_DAEMON_CONFIG")}}

    def have(present: bool) -> None:
        """The image there (pulled) or not, before a command line runs."""
        there = dy("images", "-q", f"{name}:1", check=True).stdout != ""
        if present and not there:
            dy("pull", "-q", f"{name}:1", check=True)
        if not present and there:
            dy("rmi", f"{name}:1", check=True)

    for args, present, status, shown in (
        (("pull", f"{name}:1"), False, 0, "Status: Downloaded newer image"),
        (("pull", f"{name}:1"), True, 0, "Status: Image is up to date"),
        (("image", "pull", "-q", f"{name}:1"), False, 0, f"{name}:1"),
        (("pull", "-a", name), False, 0, "Status: Downloaded newer image"),
        (("pull", f"{name}:nope"), False, 1, "manifest unknown"),
        (("pull", "-a", f"{name}:1"), False, 1, "tag can't be used with --all-tags/-a"),
        (("pull", "UPPER"), False, 1, "invalid reference format"),
        (("pull", "--platform", "linux/s390x", f"{name}:1"), False, 1, "does not match"),
        (("pull", "127.0.0.1:1/x/y:1"), False, 1, "connection refused"),
    ):
        have(present)
        fast = _one(env, "fast", *args)
        have(present)
        slow = _one(env, "click", *args)
        assert fast[3] == "fast" and slow[3] == "click", (args, fast, slow)
        assert fast[:3] == slow[:3], args
        assert fast[0] == status and shown in f"{fast[1]}{fast[2]}", (args, fast)


# Ctrl-C at the moment the module ``sys.argv[1]`` is imported: the interpreter raises
# KeyboardInterrupt there, as this import hook does (a signal's timing cannot be chosen).
CTRL_C_AT_IMPORT = """
import builtins, sys
at = sys.argv[1]
real = builtins.__import__
def hooked(name, *args, **kwargs):
    if name == at:
        raise KeyboardInterrupt
    return real(name, *args, **kwargs)
builtins.__import__ = hooked
sys.argv = ["dockyard", *sys.argv[2:]]
from dockyard.cli.entry import main
sys.exit(main())
"""


@pytest.mark.parametrize(
    "args",
    [
        ["dockyard.cli.engine", "pull", "-q", "127.0.0.1:1/x/y:1"],  # fast path, starting
        ["click", "--root", "/nonexistent", "pull", "busybox"],  # click path, its import
    ],
    ids=["fast", "click"],
)
def test_ctrl_c_while_it_starts_exits_130_without_a_traceback(
    args: list[str], engine_env: dict[str, str]
) -> None:
    p = subprocess.run(
        [sys.executable, "-c", CTRL_C_AT_IMPORT, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **engine_env},
        timeout=60,
    )
    assert (p.returncode, p.stdout, p.stderr) == (130, "", "")
