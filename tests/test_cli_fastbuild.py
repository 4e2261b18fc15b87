"""The click-free fast path of ``build`` (cli/fastbuild.py): its flags are the click
command's, it prints the same bytes and exits with the same statuses as the click path,
imports no click, and leaves every other form (help, errors click reports, the RUN
limits, ``-``, -H) to click."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import Runner
from dockyard.cli import fastbuild, fastlist
from dockyard.cli.build import build
from dockyard.cli.images import image

# The fast path alone (exit 99: it declined), reporting whether it imported click.
FAST = """
import atexit, sys
atexit.register(lambda: "click" in sys.modules and sys.stderr.write("IMPORTED CLICK"))
from dockyard.cli import fastbuild
rc = fastbuild.run(sys.argv[1:])
sys.exit(99 if rc is None else rc)
"""
CLICK = "import sys\nfrom dockyard.cli.main import main\nmain(sys.argv[1:])\n"


def test_alias_is_the_same_click_command() -> None:
    assert image.commands["build"] is build
    assert set(fastbuild.ALIASES.values()) == {("build",)}


def test_fast_path_flags_are_the_click_commands() -> None:
    options, positional = fastbuild.COMMANDS[("build",)]
    params = {opt: p for p in build.params for opt in p.opts}
    for opt, (name, kind) in options.items():
        p = params[opt]
        assert isinstance(p, click.Option) and p.name == name, opt
        if kind == fastlist.FLAG:
            assert p.is_flag and not p.secondary_opts, opt
        elif kind == fastlist.MULTI:
            assert p.multiple, opt
        else:
            assert not p.is_flag and not p.multiple, opt
        if isinstance(p.type, click.Choice):
            assert tuple(p.type.choices) == fastbuild.CHOICES[name], opt
        if p.envvar:
            assert fastbuild.ENVVARS[name] == p.envvar, opt
        # Every name of the option, so -t and --tag both take the fast path.
        assert all(o in options for o in p.opts), opt
    assert set(fastbuild.CHOICES) <= {name for name, _ in options.values()}
    assert positional == 1


@pytest.mark.parametrize(
    "args",
    [
        ["build", "--help"],
        ["build", "-h"],
        ["build"],
        ["build", "a", "b"],
        ["build", "-"],
        ["build", "--network", "bridge", "."],
        ["build", "--progress=fancy", "."],
        ["build", "-m", "1g", "."],
        ["build", "--secret", "id=x", "."],
        ["build", "-o", "out", "."],
        ["build", "--no-cache=true", "."],
        ["build", "-qt", "x", "."],
        ["build", "-t"],
        ["build", "-t", "--quiet", "."],
        ["-H", "unix:///x", "build", "."],
        ["--root", "/x", "build", "."],
        ["builder", "prune"],
    ],
)
def test_unusual_forms_are_left_to_click(args: list[str]) -> None:
    assert fastbuild.parse(args) is None


def test_parse() -> None:
    args = ["image", "build", "-q", "--tag=a", "-t", "b", "--build-arg", "X=1", "--no-cache"]
    assert fastbuild.parse([*args, "-f", "F", "--network", "none", "ctx"]) == (
        {
            "quiet": True,
            "tags": ("a", "b"),
            "build_args": ("X=1",),
            "no_cache": True,
            "dockerfile": "F",
            "network": "none",
        },
        "ctx",
    )


def _run(code: str, args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    p = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    return p.returncode, p.stdout, p.stderr


def test_fast_and_click_paths_agree(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "index.html").write_text("hi\n")
    (ctx / "Dockerfile").write_text("FROM busybox AS base\nADD . /www\nEXPOSE 80\nCMD x\n")
    (ctx / "Other").write_text("FROM busybox\nARG USED\nLABEL u=$USED\n")
    iid = tmp_path / "iid"
    cases = [
        ["build", "-t", "one", str(ctx)],
        ["build", "-q", "--label", "a=b", str(ctx)],
        ["image", "build", "--build-arg", "UNUSED=1", "--tag=two", "-t", "three", str(ctx)],
        ["build", "--build-arg", "USED=x", "-f", str(ctx / "Other"), str(ctx)],
        ["build", "--progress", "plain", "--network", "none", "--iidfile", str(iid), str(ctx)],
        ["build", "--target", "base", "-q", str(ctx)],
        ["build", "--target", "nope", str(ctx)],
        ["build", "--platform", "windows/amd64", str(ctx)],
        ["build", "--build-arg", "=x", str(ctx)],
        ["build", str(tmp_path / "missing")],
        ["build", "-f", str(tmp_path / "missing"), str(ctx)],
    ]
    for args in cases:  # the first build of each is not from the cache: not compared
        dy(*args)
    for args in cases:
        fast = _run(FAST, args, engine_env)
        assert fast[0] != 99, (args, fast)
        assert "IMPORTED CLICK" not in fast[2], args
        fast_iid = iid.read_text() if "--iidfile" in args else ""
        slow = _run(CLICK, args, engine_env)
        assert fast == slow, args
        if fast_iid:
            assert iid.read_text() == fast_iid and fast_iid.startswith("sha256:")
    assert dy("images", "-q", "two", check=True).stdout == dy("images", "-q", "three").stdout
