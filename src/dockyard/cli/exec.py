"""``exec``, ``top``, ``stats``, ``pause`` and ``unpause`` (Docker CLI reference:
docker container exec/top/stats/pause/unpause)."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


def _local_engine(paths: Paths) -> Any:
    """The in-process engine, for exec and stats (not yet through the facade)."""
    from dockyard.engine import Engine

    return Engine(paths)


@click.command(
    "exec",
    context_settings={**_SETTINGS, "allow_interspersed_args": False},
)
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-e", "--env", multiple=True, help="Set environment variables")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables")
@click.option(
    "-u", "--user", default=None, help="Username or UID (format: <name|uid>[:<group|gid>])"
)
@click.option("-w", "--workdir", default=None, help="Working directory inside the container")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_obj
def exec_(
    paths: Paths,
    detach: bool,
    interactive: bool,
    tty: bool,
    env: tuple[str, ...],
    env_file: tuple[str, ...],
    user: str | None,
    workdir: str | None,
    privileged: bool,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container."""
    from dockyard.units import parse_env_pairs, read_env_file

    if workdir is not None and not workdir.startswith("/"):
        raise click.UsageError(
            f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
        )
    entries: list[str] = []
    for path in env_file:
        entries.extend(read_env_file(path))
    entries.extend(parse_env_pairs(list(env)))
    # The ExecConfig docker/cli's exec sends (attach nothing with -d).
    config = {
        "User": user or "",
        "Privileged": privileged,
        "Tty": tty,
        "AttachStdin": interactive and not detach,
        "AttachStdout": not detach,
        "AttachStderr": not detach,
        "Detach": detach,
        "Env": entries,
        "WorkingDir": workdir or "",
        "Cmd": list(command),
    }
    engine = _engine(paths)
    try:
        exec_id = engine.exec_create(container, config)["Id"]
        status = engine.exec_start(exec_id, detach=detach)
    except DockyardError as e:
        if e.exit_code in (126, 127):
            print(
                "OCI runtime exec failed: exec failed: unable to start container process: "
                f"{e}: unknown",
                file=sys.stderr,
            )
            sys.exit(e.exit_code)
        raise
    sys.exit(status)


@click.command(context_settings={**_SETTINGS, "ignore_unknown_options": True})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_obj
def top(paths: Paths, container: str, ps_args: tuple[str, ...]) -> None:
    """Display the running processes of a container."""
    from dockyard.cli.formatting import tabwrite

    top_ = _engine(paths).container_top(container, " ".join(ps_args) or "-ef")
    lines = [top_["Titles"], *top_["Processes"]]
    sys.stdout.write(tabwrite("".join("\t".join(r) + "\n" for r in lines), minwidth=20, padding=3))


_STATS_DEFAULT = (
    "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}"
    "\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
)
_STATS_HEADERS = {
    "ID": "CONTAINER ID",
    "Container": "CONTAINER",
    "Name": "NAME",
    "CPUPerc": "CPU %",
    "MemUsage": "MEM USAGE / LIMIT",
    "MemPerc": "MEM %",
    "NetIO": "NET I/O",
    "BlockIO": "BLOCK I/O",
    "PIDs": "PIDS",
}


@click.command(context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)"
)
@click.option(
    "--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result"
)
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "format_", default="", help="Format output using a Go template")
@click.argument("containers", nargs=-1)
@click.pass_obj
def stats(
    paths: Paths,
    all_: bool,
    no_stream: bool,
    no_trunc: bool,
    format_: str,
    containers: tuple[str, ...],
) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    import time

    from dockyard.cli.formatting import format_items
    from dockyard.container.exec import stats as sample

    engine = _local_engine(paths)
    while True:
        rows = sample(engine.containers, list(containers))
        if no_trunc:
            for row in rows:
                row["ID"] = engine.container_store.get(row["ID"]).id
        text = format_items(format_, rows, _STATS_HEADERS, default=_STATS_DEFAULT)
        if no_stream:
            sys.stdout.write(text)
            return
        # Clear the screen and redraw, as the Docker CLI does on a terminal.
        sys.stdout.write("\033[2J\033[H" + text)
        sys.stdout.flush()
        time.sleep(0.9)


@click.command(context_settings=_SETTINGS)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def pause(paths: Paths, containers: tuple[str, ...]) -> None:
    """Pause all processes within one or more containers."""
    _each(paths, containers, "container_pause")


@click.command(context_settings=_SETTINGS)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def unpause(paths: Paths, containers: tuple[str, ...]) -> None:
    """Unpause all processes within one or more containers."""
    _each(paths, containers, "container_unpause")


def _each(paths: Paths, containers: tuple[str, ...], operation: str) -> None:
    """Call the engine's ``operation`` on each container, printing each name as given;
    exit 1 if any failed."""
    action = getattr(_engine(paths), operation)
    failed = False
    for ref in containers:
        try:
            action(ref)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)
