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
@click.option("--detach-keys", default=None, help="Override the key sequence for detaching")
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
    detach_keys: str | None,
    container: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container."""
    from dockyard.cli.run import detach_keys_option
    from dockyard.units import parse_env_pairs, read_env_file

    keys = detach_keys_option(detach_keys, tty and interactive and not detach)

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
        "DetachKeys": keys or "",
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
    if status is None:  # the detach keys: docker/cli's term.EscapeError
        print("read escape sequence", file=sys.stderr)
        sys.exit(1)
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

    from dockyard.cli.formatting import format_items

    engine = _engine(paths)
    interval = 0.1
    while True:
        rows = _stats_rows(engine, list(containers), no_trunc, interval)
        text = format_items(format_, rows, _STATS_HEADERS, default=_STATS_DEFAULT)
        if no_stream:
            sys.stdout.write(text)
            return
        # Clear the screen and redraw, as the Docker CLI does on a terminal.
        sys.stdout.write("\033[2J\033[H" + text)
        sys.stdout.flush()
        interval = 0.9


def _stats_rows(
    engine: Any, refs: list[str], no_trunc: bool, interval: float
) -> list[dict[str, str]]:
    """One ``docker stats`` row per container (the running ones when ``refs`` is empty)
    from two one-shot StatsResponse samples ``interval`` seconds apart, computed as
    docker/cli's stats formatter does (CPU % from the container's and the host's CPU time
    deltas, memory without the inactive file cache). Raises NotFound, or Conflict for a
    named container that is not running."""
    import time

    def sample(ref: str) -> dict[str, Any]:
        return dict(next(iter(engine.container_stats(ref, stream=False, one_shot=True))))

    if refs:
        targets = [(ref, ref) for ref in refs]
    else:
        targets = [(s["Id"][:12], s["Id"]) for s in engine.container_list()]
    first: dict[str, dict[str, Any]] = {}
    for _, ref in targets:
        try:
            first[ref] = sample(ref)
        except DockyardError:
            if refs:
                raise
    if first:
        time.sleep(interval)
    rows = []
    for shown, ref in targets:
        if ref not in first:
            continue
        try:
            current = sample(ref)
        except DockyardError:
            if refs:
                raise
            continue
        rows.append(_stats_row(shown, current, first[ref], no_trunc))
    return rows


def _stats_row(
    shown: str, st: dict[str, Any], pre: dict[str, Any], no_trunc: bool
) -> dict[str, str]:
    """docker/cli's stats columns of the StatsResponse ``st`` after ``pre``."""
    from dockyard.humanize import bytes_size, human_size

    cpu, pre_cpu = st["cpu_stats"], pre["cpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre_cpu["cpu_usage"]["total_usage"]
    system_delta = cpu.get("system_cpu_usage", 0) - pre_cpu.get("system_cpu_usage", 0)
    percent = 0.0
    if cpu_delta > 0 and system_delta > 0:
        percent = cpu_delta / system_delta * cpu.get("online_cpus", 1) * 100.0
    memory = st["memory_stats"]
    usage = memory.get("usage", 0)
    stat = memory.get("stats") or {}
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    if inactive < usage:
        usage -= inactive
    limit = memory.get("limit", 0)
    nets = (st.get("networks") or {}).values()
    rx, tx = sum(n["rx_bytes"] for n in nets), sum(n["tx_bytes"] for n in nets)
    read = written = 0
    for entry in (st.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(entry.get("op", "")).lower()
        if op == "read":
            read += entry["value"]
        elif op == "write":
            written += entry["value"]
    return {
        "ID": st["id"] if no_trunc else st["id"][:12],
        "Container": shown,
        "Name": st["name"].removeprefix("/"),
        "CPUPerc": f"{percent:.2f}%",
        "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
        "MemPerc": f"{(usage / limit * 100 if limit else 0.0):.2f}%",
        "NetIO": f"{human_size(rx)} / {human_size(tx)}",
        "BlockIO": f"{human_size(read)} / {human_size(written)}",
        "PIDs": str((st.get("pids_stats") or {}).get("current") or 0),
    }


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
