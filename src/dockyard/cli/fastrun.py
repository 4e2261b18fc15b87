"""The fast path of ``run``, ``create``, ``start`` and ``rm`` (and ``container run``,
``container rm``...): their flags parsed without click.

``import click`` costs a run about 15 ms of CPU on top of the standard modules the
engine imports anyway, and parsing through click a few more (bench/README.md, "Where
a run's time goes"), so :func:`run` parses these command lines itself, as
cli/fastlist.py does for the listings, and calls what their click commands call
(cli/run.py, cli/lifecycle.py). It understands only the plain forms of the flags their
click commands have (``run``'s and ``create``'s from cli/runflags.py, which the click
commands are built from; ``start``'s and ``rm``'s kept equal to the click commands' by
tests/test_cli_fastrun.py): anything else (help, a global option, ``-H``/``DOCKER_HOST``,
an unknown or malformed flag, a flag's value that looks like a flag, ``--flag=true``,
``-e=X``, ``--``, a missing argument) makes :func:`run` return None before anything is
done, and the command line goes to click, which gives Docker's messages and exit
codes. Once parsed, a command runs and ends exactly as under click.
"""

from __future__ import annotations

from dockyard.cli.runflags import (
    BOOL,
    CONTAINER,
    ENVVARS,
    FLAG,
    INT,
    MULTI,
    RANGES,
    RUN_ONLY,
    STR,
)

TYPE_CHECKING = False  # typing is not imported on the run path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any

#: ``start``'s flags: (option names, parameter, kind, value when not given).
START: list[tuple[tuple[str, ...], str, str, object]] = [
    (("-a", "--attach"), "attach", FLAG, False),
    (("-i", "--interactive"), "interactive", FLAG, False),
    (("--detach-keys",), "detach_keys", STR, None),
    (("--checkpoint",), "checkpoint", STR, ""),
    (("--checkpoint-dir",), "checkpoint_dir", STR, ""),
]
#: ``rm``'s flags, as :data:`START`.
RM: list[tuple[tuple[str, ...], str, str, object]] = [
    (("-f", "--force"), "force", FLAG, False),
    (("-v", "--volumes"), "volumes", FLAG, False),
    (("-l", "--link"), "link", FLAG, False),
]

#: Command words -> the command they name.
COMMANDS = {
    ("run",): "run",
    ("create",): "create",
    ("start",): "start",
    ("rm",): "rm",
    ("container", "run"): "run",
    ("container", "create"): "create",
    ("container", "start"): "start",
    ("container", "rm"): "rm",
    ("container", "remove"): "rm",
}


def _flags(command: str) -> list[tuple[tuple[str, ...], str, str, object]]:
    """The flag rows of ``command`` (option names, parameter, kind, default)."""
    if command == "start":
        return START
    if command == "rm":
        return RM
    rows = RUN_ONLY + CONTAINER if command == "run" else CONTAINER
    return [row[:4] for row in rows]


def parse(args: list[str]) -> tuple[str, dict[str, Any]] | None:
    """``args`` (the command line after ``dockyard``) as (the command, its click
    callback's keyword arguments: every parameter, given or default), or None when it
    is not one of :data:`COMMANDS` in a form parsed here."""
    import os

    words = next((w for w in COMMANDS if tuple(args[: len(w)]) == w), None)
    if words is None or "--help" in args:
        # (The click group skips the crash recovery when --help is anywhere.)
        return None
    command = COMMANDS[words]
    rows = _flags(command)
    options: dict[str, tuple[str, str]] = {}
    params: dict[str, Any] = {}
    for names, param, kind, default in rows:
        params[param] = default
        for name in names:
            options[name] = (param, kind)
        if kind == BOOL:
            options["--no-" + names[0][2:]] = (param, "off")
    given: set[str] = set()
    positional: list[str] = []
    # run/create take the first positional argument as IMAGE and all after it as the
    # container's command; start/rm take their arguments among the flags.
    image_then_command = command in ("run", "create")
    rest = args[len(words) :]
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if image_then_command and positional:
            positional.append(arg)
        elif arg.startswith("--"):
            name, eq, value = arg.partition("=")
            spec = options.get(name)
            if spec is None or (eq and spec[1] in (FLAG, BOOL, "off")):
                return None
            if spec[1] not in (FLAG, BOOL, "off") and not eq:
                if i == len(rest):
                    return None
                value, i = rest[i], i + 1
            if not _set(params, spec, value):
                return None
            given.add(spec[0])
        elif arg.startswith("-") and len(arg) > 1:
            # A cluster of short flags (-itd); one taking a value only last (-dp 80).
            if "=" in arg:
                return None
            for j, letter in enumerate(arg[1:], 2):
                spec = options.get("-" + letter)
                if spec is None:
                    return None
                value = ""
                if spec[1] != FLAG:
                    if j != len(arg) or i == len(rest):
                        return None
                    value, i = rest[i], i + 1
                if not _set(params, spec, value):
                    return None
                given.add(spec[0])
        elif arg == "-":
            return None
        else:
            positional.append(arg)
    if not positional:
        return None
    for param, variable in ENVVARS.items():
        if param in params and param not in given and os.environ.get(variable):
            return None
    if image_then_command:
        params["image"], params["command"] = positional[0], tuple(positional[1:])
        return command, params
    if command == "start" and (params["attach"] or params["interactive"]) and positional[1:]:
        return None  # click's usage error (or the checkpoint flags' refusal)
    params["containers"] = tuple(positional)
    return command, params


def _set(params: dict[str, Any], spec: tuple[str, str], value: str) -> bool:
    """Record ``value`` for ``spec`` (parameter, kind) in ``params``; False for a value
    left to click (one that looks like a flag, an integer click might read otherwise)."""
    name, kind = spec
    if kind in (FLAG, BOOL, "off"):
        params[name] = kind != "off"
        return True
    if value.startswith("-") and len(value) > 1 and not (kind == INT and value[1:].isdigit()):
        return False
    if kind == INT:
        digits = value.removeprefix("-")
        if not (digits.isdigit() and digits.isascii()):
            return False
        number = int(value)
        low, high = RANGES.get(name, (number, number))
        if not low <= number <= high:
            return False
        params[name] = number
    elif kind == MULTI:
        params[name] = (*params[name], value)
    else:
        params[name] = value
    return True


def run(args: list[str]) -> int | None:
    """Run ``args`` (the command line after ``dockyard``) if it is a command this module
    parses: the command runs (most of them end the process themselves) and the exit
    status is returned. None, with nothing done, to have click run it instead."""
    import os

    if "DOCKER_HOST" in os.environ or os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return None  # click's: the endpoint, or a context it refuses
    parsed = parse(args)
    if parsed is None:
        return None
    command, params = parsed
    import signal

    from dockyard.cli.engine import exit_on_error, terminate
    from dockyard.engine import gc, on_first_open
    from dockyard.paths import Paths

    # What cli/main.py's main and click group do before every command.
    signal.signal(signal.SIGTERM, terminate)
    try:
        paths = Paths.from_env()
        gc.register_command(paths)
        on_first_open(gc.recover)
        if command == "run":
            from dockyard.cli import run as run_command

            run_command.run(paths, **params)
        elif command == "create":
            from dockyard.cli import run as run_command

            run_command.create(paths, **params)
        elif command == "start":
            from dockyard.cli import lifecycle

            lifecycle.start(paths, **params)
        else:
            from dockyard.cli import lifecycle

            lifecycle.rm(paths, **params)
    except (KeyboardInterrupt, Exception) as e:
        exit_on_error(e)
    return 0
