"""The fast path of ``build`` (and ``image build``): its common flags parsed without
click.

A fully cached build is mostly start-up, and ``import click`` costs about a third of it
(bench/README.md, "Build-latency benchmark"), so :func:`run` parses the plain forms of
the flags in :data:`COMMANDS` (kept equal to the click command's by
tests/test_cli_fastbuild.py) and calls :func:`dockyard.cli.buildrun.run_build` as the
click command does. Anything else (help, a global option, ``-H``/``DOCKER_HOST``, the
RUN containers' limits, ``--secret``/``--ssh``/``-o``, a value click would refuse,
``DOCKER_DEFAULT_PLATFORM`` without ``--platform``) makes
:func:`run` return None before it has done anything, and click parses the command line.
"""

from __future__ import annotations

from dockyard.cli.fastlist import FLAG, MULTI, STR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: command words -> (option name -> (parameter, kind), how many positional arguments).
COMMANDS: dict[tuple[str, ...], tuple[dict[str, tuple[str, str]], int]] = {
    ("build",): (
        {
            "-t": ("tags", MULTI),
            "--tag": ("tags", MULTI),
            "-f": ("dockerfile", STR),
            "--file": ("dockerfile", STR),
            "--build-arg": ("build_args", MULTI),
            "--target": ("target", STR),
            "--no-cache": ("no_cache", FLAG),
            "--label": ("labels", MULTI),
            "-q": ("quiet", FLAG),
            "--quiet": ("quiet", FLAG),
            "--network": ("network", STR),
            "--iidfile": ("iidfile", STR),
            "--progress": ("progress", STR),
            "--platform": ("platform", STR),
            "--pull": ("pull", FLAG),
            "--cache-from": ("cache_from", MULTI),
        },
        1,
    ),
}

#: The same command under its other name -> COMMANDS key.
ALIASES: dict[tuple[str, ...], tuple[str, ...]] = {("image", "build"): ("build",)}

#: Flags click takes from an environment variable when they are not given (left to it).
ENVVARS = {"platform": "DOCKER_DEFAULT_PLATFORM"}

#: The values click's Choice types accept.
CHOICES = {"network": ("default", "host", "none"), "progress": ("auto", "plain", "tty")}


def parse(args: list[str]) -> tuple[dict[str, Any], str] | None:
    """``args`` (the command line after ``dockyard``) as (``run_build``'s keyword
    arguments, the context), or None when it is not a build in a form parsed here."""
    from dockyard.cli.fastlist import parse as parse_command

    parsed = parse_command(args, COMMANDS, ALIASES)
    if parsed is None:
        return None
    _, params, positional = parsed
    if len(positional) != 1:
        return None
    for name, allowed in CHOICES.items():
        if name in params and params[name] not in allowed:
            return None
    import os

    for name, variable in ENVVARS.items():
        if name not in params and os.environ.get(variable):
            return None
    return params, positional[0]


def run(args: list[str]) -> None:
    """Build as ``dockyard ARGS`` would if it is a build this module parses (the process
    ends in :func:`~dockyard.cli.buildrun.run_build` or
    :func:`~dockyard.cli.engine.exit_on_error`); return None, with nothing done, to have
    click run it instead."""
    import os

    if "DOCKER_HOST" in os.environ or os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return None  # click's: the endpoint, or a context it refuses
    parsed = parse(args)
    if parsed is None:
        return None
    params, context = parsed
    # The C module: signal.py turns the signal numbers into enums at import (1-2 ms).
    import _signal

    from dockyard.cli.engine import exit_on_error, terminate

    # What cli/main.py's main and click group do before every command.
    _signal.signal(_signal.SIGTERM, terminate)
    try:
        from dockyard.cli.buildrun import run_build
        from dockyard.engine import gc, on_first_open
        from dockyard.engine.images import ImageOperations
        from dockyard.paths import Paths

        paths = Paths.from_env()
        gc.register_command(paths)
        on_first_open(gc.recover)
        command = "dockyard image build" if args[:1] == ["image"] else "dockyard build"
        run_build(lambda: ImageOperations(paths), context, command=command, **params)
    except (KeyboardInterrupt, Exception) as e:
        exit_on_error(e)
