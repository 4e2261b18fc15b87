"""The fast path of ``compose up -d`` and ``compose down`` (and ``dockyard-compose``'s):
their flags parsed without click, as cli/fastrun.py does for ``run``.

``import click`` and the root command's module cost a compose command about 25 ms of
CPU before any work, a fifth of what ``down`` of a 10-service project spends before
its first container is stopped (issue 12's benchmark). :func:`run` understands only
the plain forms: the global ``-f/--file``, ``-p/--project-name``,
``--project-directory``, ``--env-file``, ``--profile`` (``--long=value`` too), then
``up -d|--detach [SERVICE...]`` or ``down [-v|--volumes] [--remove-orphans]
[-t|--timeout N]``. Anything else (help, another flag, a value that looks like a flag,
a repeated single-valued option, ``DOCKER_HOST``) returns None before anything is done,
and click runs the command line, with Docker Compose's messages. Once parsed, a
command runs and ends as under click (dockyard.compose.cli's ``up`` and ``down``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing is not imported on this path
if TYPE_CHECKING:
    from typing import Any

#: The global options this path takes: option -> click's parameter name.
GLOBAL = {
    "-f": "file",
    "--file": "file",
    "-p": "project_name",
    "--project-name": "project_name",
    "--project-directory": "project_directory",
    "--env-file": "env_file",
    "--profile": "profile",
}
#: Those that may be given more than once.
MULTIPLE = {"file", "env_file", "profile"}


def parse(args: list[str]) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """``args`` (after ``dockyard``, from ``compose`` on) as ``(command, global options,
    command's parameters)``, or None for a command line left to click."""
    if args[:1] != ["compose"]:
        return None
    opts: dict[str, Any] = {
        "file": [],
        "project_name": None,
        "project_directory": None,
        "env_file": [],
        "profile": [],
    }
    i = 1
    while i < len(args) and args[i].startswith("-"):
        name, eq, value = args[i].partition("=")
        key = GLOBAL.get(name)
        if key is None or (eq and not name.startswith("--")):
            return None
        if not eq:
            if i + 1 >= len(args):
                return None
            i += 1
            value = args[i]
        if not value or value.startswith("-"):
            return None
        i += 1
        if key in MULTIPLE:
            opts[key].append(value)
        elif opts[key] is not None:
            return None
        else:
            opts[key] = value
    if i >= len(args):
        return None
    command, rest = args[i], args[i + 1 :]
    if command == "up":
        detach = [a for a in rest if a in ("-d", "--detach")]
        services = [a for a in rest if a not in ("-d", "--detach")]
        if len(detach) != 1 or any(s.startswith("-") or not s for s in services):
            return None
        return command, opts, {"services": services}
    if command == "down":
        params: dict[str, Any] = {"volumes": False, "remove_orphans": False, "timeout": None}
        j = 0
        while j < len(rest):
            a = rest[j]
            if a in ("-v", "--volumes"):
                params["volumes"] = True
            elif a == "--remove-orphans":
                params["remove_orphans"] = True
            elif a in ("-t", "--timeout") or a.startswith("--timeout="):
                if a.startswith("--timeout="):
                    value = a[len("--timeout=") :]
                elif j + 1 < len(rest):
                    j += 1
                    value = rest[j]
                else:
                    return None
                # (isdigit() is true of '²' too, which int() refuses.)
                if not (value.isdigit() and value.isascii()) or params["timeout"] is not None:
                    return None
                params["timeout"] = int(value)
            else:
                return None
            j += 1
        return command, opts, params
    return None


def run(args: list[str]) -> int | None:
    """Run ``args`` (the command line after ``dockyard``) if :func:`parse` takes it: the
    command runs and ends the process, with the exit status it has under click. None,
    with nothing done, to have click run it."""
    import os

    if "DOCKER_HOST" in os.environ or os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return None  # click's: the endpoint, or a context it refuses
    parsed = parse(args)
    if parsed is None:
        return None
    command, opts, params = parsed
    import signal

    from dockyard.cli.engine import exit_now, exit_on_error, terminate
    from dockyard.engine import gc, on_first_open
    from dockyard.paths import Paths

    # What cli/main.py's main and click group do before every command.
    signal.signal(signal.SIGTERM, terminate)
    try:
        paths = Paths.from_env()
        gc.register_command(paths)
        on_first_open(gc.recover)
        from dockyard.compose.context import ProjectContext

        ctx = ProjectContext(paths, **opts)
        if command == "up":
            services = params["services"]
            runner = ctx.runner(services)
            # dockyard.compose.cli's up with -d and no other flag.
            runner.up(
                services,
                no_deps=False,
                force_recreate=False,
                no_recreate=False,
                no_start=False,
                remove_orphans=False,
                pull="missing",
                build=None,
                renew_anon_volumes=False,
                timeout=None,
                scale={},
            )
        else:
            runner = ctx.name_only_runner()
            runner.down(
                volumes=params["volumes"],
                remove_orphans=params["remove_orphans"],
                timeout=params["timeout"],
                rmi=None,
            )
    except (KeyboardInterrupt, Exception) as e:
        exit_on_error(e)
    # Done, no thread left: without the interpreter's teardown of every module the
    # workers needed (its database closed, atexit run, output flushed first).
    exit_now(runner.engine, 0)
