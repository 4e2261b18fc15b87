"""The fast path of ``ps``, ``images`` and ``volume ls`` (and their ``container ls``,
``image ls``... aliases): their flags parsed without click.

``import click`` alone costs about as much CPU as the rest of a listing (bench/README.md,
"CLI start-up"), so :func:`run` parses these three commands' command lines itself and
prints what their click commands would (both call :mod:`dockyard.cli.listing`). It
understands only the plain forms of the click commands' own flags (:data:`COMMANDS`,
kept equal to the click commands' options by tests/test_cli_fastlist.py): anything else
(help, a global option, ``-H``/``DOCKER_HOST``, an unknown or malformed flag, a value
that looks like a flag, ``--flag=true``, ``--``) and any error of the command itself
make :func:`run` return None, and the command line goes to click, which gives Docker's
messages and exit codes. Nothing is printed before the whole output is known, so a
fallback repeats a read-only listing at worst.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported (bench/README.md, "CLI start-up")
if TYPE_CHECKING:
    from typing import Any

# Option kinds: a boolean flag, a string (the last one given wins), a repeatable string,
# an integer.
FLAG, STR, MULTI, INT = "flag", "str", "multi", "int"

#: command words -> (option name -> (parameter, kind), how many positional arguments).
COMMANDS: dict[tuple[str, ...], tuple[dict[str, tuple[str, str]], int]] = {
    ("ps",): (
        {
            "-a": ("all_", FLAG),
            "--all": ("all_", FLAG),
            "-f": ("filters", MULTI),
            "--filter": ("filters", MULTI),
            "--format": ("format_", STR),
            "-n": ("last", INT),
            "--last": ("last", INT),
            "-l": ("latest", FLAG),
            "--latest": ("latest", FLAG),
            "--no-trunc": ("no_trunc", FLAG),
            "-q": ("quiet", FLAG),
            "--quiet": ("quiet", FLAG),
            "-s": ("size", FLAG),
            "--size": ("size", FLAG),
        },
        0,
    ),
    ("images",): (
        {
            "-a": ("all_", FLAG),
            "--all": ("all_", FLAG),
            "--digests": ("digests", FLAG),
            "-f": ("filter_", MULTI),
            "--filter": ("filter_", MULTI),
            "--format": ("fmt", STR),
            "--no-trunc": ("no_trunc", FLAG),
            "-q": ("quiet", FLAG),
            "--quiet": ("quiet", FLAG),
        },
        1,
    ),
    ("volume", "ls"): (
        {
            "-f": ("filters", MULTI),
            "--filter": ("filters", MULTI),
            "--format": ("format_", STR),
            "-q": ("quiet", FLAG),
            "--quiet": ("quiet", FLAG),
            "--cluster": ("cluster", FLAG),
        },
        0,
    ),
}


#: command words -> parameters of the click command this path does not parse (their
#: option goes to click): ``images --tree``, a view of its own (cli/imagetree.py).
LEFT_TO_CLICK: dict[tuple[str, ...], tuple[str, ...]] = {("images",): ("tree",)}


#: The same commands under their other names (``docker container ls`` ...) -> COMMANDS key.
ALIASES: dict[tuple[str, ...], tuple[str, ...]] = {
    ("container", "ls"): ("ps",),
    ("container", "list"): ("ps",),
    ("container", "ps"): ("ps",),
    ("image", "ls"): ("images",),
    ("image", "list"): ("images",),
    ("volume", "list"): ("volume", "ls"),
}


def parse(
    args: list[str],
    commands: dict[tuple[str, ...], tuple[dict[str, tuple[str, str]], int]] = COMMANDS,
    aliases: dict[tuple[str, ...], tuple[str, ...]] = ALIASES,
) -> tuple[tuple[str, ...], dict[str, Any], list[str]] | None:
    """``args`` (the command line after ``dockyard``) as (command words, a key of
    ``commands`` (:data:`COMMANDS` by default), for an alias too; parameters by the
    click command's names, positional arguments), or None when this is not one of
    ``commands`` in a form parsed here. Only the parameters given are set."""
    given = next((w for w in (*commands, *aliases) if tuple(args[: len(w)]) == w), None)
    if given is None:
        return None
    words = aliases.get(given, given)
    options, max_positional = commands[words]
    params: dict[str, Any] = {}
    positional: list[str] = []
    rest = args[len(given) :]
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            spec = options.get(name)
            if spec is None or (eq and spec[1] == FLAG):
                return None
            if spec[1] != FLAG and not eq:
                if i == len(rest):
                    return None
                value, i = rest[i], i + 1
            if not _set(params, spec, value):
                return None
        elif arg.startswith("-") and len(arg) > 1:
            # A cluster of short flags (-aq); a short option with a value only alone (-f X).
            for letter in arg[1:]:
                spec = options.get("-" + letter)
                if spec is None:
                    return None
                value = ""
                if spec[1] != FLAG:
                    if len(arg) != 2 or i == len(rest):
                        return None
                    value, i = rest[i], i + 1
                if not _set(params, spec, value):
                    return None
        elif arg != "-" and len(positional) < max_positional:
            positional.append(arg)
        else:
            return None
    return words, params, positional


def _set(params: dict[str, Any], spec: tuple[str, str], value: str) -> bool:
    """Record ``value`` for ``spec`` in ``params``; False for a value left to click (one
    that looks like a flag, an integer click might read otherwise)."""
    name, kind = spec
    if kind == FLAG:
        params[name] = True
        return True
    if value.startswith("-") and len(value) > 1 and not (kind == INT and value[1:].isdigit()):
        return False
    if kind == INT:
        digits = value.removeprefix("-")
        if not (digits.isdigit() and digits.isascii()):
            return False
        params[name] = int(value)
    elif kind == MULTI:
        params[name] = (*params.get(name, ()), value)
    else:
        params[name] = value
    return True


def run(args: list[str]) -> int | None:
    """Run ``args`` (the command line after ``dockyard``) if it is a listing this module
    parses and it succeeds: its output written, the exit status returned. None, with
    nothing printed, to have click run it instead."""
    import os

    if "DOCKER_HOST" in os.environ or os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return None  # click's: the endpoint, or a context it refuses
    parsed = parse(args)
    if parsed is None:
        return None
    words, params, positional = parsed
    # The C module: signal.py turns the signal numbers into enums at import (1-2 ms).
    import _signal

    from dockyard.cli import listing
    from dockyard.cli.engine import terminate
    from dockyard.engine import gc, on_first_open
    from dockyard.engine.listing import ListingEngine
    from dockyard.paths import Paths

    # What cli/main.py's main does: SIGTERM unwinds, so the in-flight marker is removed.
    _signal.signal(_signal.SIGTERM, terminate)
    paths = Paths.from_env()
    # What the click group does before every command (cli/main.py, _recover).
    gc.register_command(paths)
    on_first_open(gc.recover)
    engine = ListingEngine(paths)
    try:
        if words == ("ps",):
            text = listing.ps_text(engine, **params)
        elif words == ("images",):
            from dockyard.cli.opts import parse_filters

            filters = parse_filters(params.pop("filter_", ()))
            repository = positional[0] if positional else None
            text = listing.images_text(engine, filters, repository=repository, **params)
        else:
            text = listing.volume_ls_text(engine, **params)
    except Exception:
        # Click runs it again and reports the error in Docker's words.
        db = engine.__dict__.get("db")
        if db is not None:
            db.close()
        return None
    import sys

    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        from dockyard.cli.engine import broken_pipe

        return broken_pipe()  # as click's main
    return 0
