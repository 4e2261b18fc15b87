"""Help and usage errors laid out as the docker CLI 28's (docker/cli cli/cobra.go templates,
pflag's flag listing), compared with its recorded output (tests/data/docker-cli-28-help)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from conftest import Runner

DATA = Path(__file__).parent / "data" / "docker-cli-28-help"


def _help(args: list[str]) -> str:
    """``dockyard ARGS --help`` rendered in this process (stdin is not a terminal: 80
    columns, as the recorded docker output)."""
    from dockyard.cli import help
    from dockyard.cli.main import cli

    ctx = cli.make_context("dockyard", [*args, "--help"], resilient_parsing=True)
    for name in args:
        assert isinstance(ctx.command, click.Group)
        sub = ctx.command.get_command(ctx, name)
        assert sub is not None, name
        ctx = sub.make_context(name, [], parent=ctx, resilient_parsing=True)
    return help.render(ctx) + "\n"


@pytest.mark.parametrize("path", sorted(p.stem for p in DATA.glob("*.txt")))
def test_help_is_dockers(path: str) -> None:
    """Commands whose flags are Docker's print Docker's help, word for word."""
    docker = (DATA / f"{path}.txt").read_text()
    # Command lines name dockyard (not the documentation's docs.docker.com).
    expected = re.sub(r"\bdocker(?=[ '])", "dockyard", docker)
    assert _help(path.split("_")) == expected


def test_root_help_sections() -> None:
    text = _help([])
    heads = [line for line in text.splitlines() if line and not line.startswith(" ")]
    assert heads == [
        "Usage:  dockyard [OPTIONS] COMMAND",
        "A Docker-compatible container engine",
        "Common Commands:",
        "Management Commands:",
        "Commands:",
        "Global Options:",
        "Run 'dockyard COMMAND --help' for more information on a command.",
    ]
    common = text.split("Common Commands:\n")[1].split("\n\n")[0].split("\n")
    # Docker's order, not alphabetical.
    assert [line.split()[0] for line in common][:4] == ["run", "exec", "ps", "build"]
    assert "  system      Manage Dockyard\n" in text
    assert re.search(r"^  -H, --host list +Daemon socket to connect to", text, re.M)


def test_every_command_has_help() -> None:
    """Each command and subcommand renders: a Usage line, flags in pflag's form."""
    from dockyard.cli.main import COMMANDS, cli

    ctx = cli.make_context("dockyard", ["--help"], resilient_parsing=True)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        subs = [""]
        if isinstance(command, click.Group):
            subs += sorted(command.list_commands(ctx))
        for sub in subs:
            args = [name, sub] if sub else [name]
            text = _help(args)
            assert text.startswith(f"Usage:  dockyard {' '.join(args)}"), text
            for line in text.split("Options:\n", 1)[-1].splitlines():
                if line.startswith("  -"):
                    assert re.match(r"  (-\w, |    )--[a-z0-9-]+", line), (args, line)


def test_aliases_are_not_listed_as_commands() -> None:
    text = _help(["container"])
    names = [line.split()[0] for line in text.split("Commands:\n")[1].splitlines() if line]
    assert "ls" in names and "ps" not in names and "list" not in names


def test_flag_wrapping_follows_pflag() -> None:
    from dockyard.cli.help import flag_usages

    rows = [("  -a, --all", "word " * 30), ("      --x string", "short")]
    text = flag_usages(rows, 79)
    lines = text.splitlines()
    # Descriptions start three columns past the widest left column; continuation lines
    # are indented to it; no line is longer than the width.
    assert lines[0].index("word") == len("      --x string") + 3
    assert all(line.startswith(" " * 19) for line in lines[1:-1])
    assert max(map(len, lines)) <= 79
    assert lines[-1] == "      --x string   short"


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (
            ("ps", "--bogus"),
            125,
            "unknown flag: --bogus\n\nUsage:  dockyard ps [OPTIONS]\n\n"
            "Run 'dockyard ps --help' for more information\n",
        ),
        (
            ("ps", "-z"),
            125,
            "unknown shorthand flag: 'z' in -z\n\nUsage:  dockyard ps [OPTIONS]\n\n"
            "Run 'dockyard ps --help' for more information\n",
        ),
        (
            ("network", "create", "--subnet"),
            125,
            "flag needs an argument: --subnet\n\n"
            "Usage:  dockyard network create [OPTIONS] NETWORK\n\n"
            "Run 'dockyard network create --help' for more information\n",
        ),
        (
            ("bogus",),
            1,
            "dockyard: unknown command: dockyard bogus\n\n"
            "Run 'dockyard --help' for more information\n",
        ),
        (
            ("network", "bogus"),
            1,
            "dockyard: unknown command: dockyard network bogus\n\n"
            "Usage:  dockyard network\n\nRun 'dockyard network --help' for more information\n",
        ),
    ],
)
def test_usage_errors_are_dockers(
    dy: Runner, args: tuple[str, ...], code: int, expected: str
) -> None:
    p = dy(*args)
    assert (p.returncode, p.stderr) == (code, expected)
