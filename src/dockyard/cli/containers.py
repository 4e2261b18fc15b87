"""Container commands besides create/run: ``start``, ``rm``, ``ps``, ``inspect`` and the
``container`` noun group (Docker CLI reference: docker container ...)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from dockyard.errors import DockyardError, NotFound
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _engine(paths: Paths) -> Any:
    from dockyard.engine import Engine

    return Engine(paths)


@click.command(context_settings=_SETTINGS)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(paths: Paths, attach: bool, interactive: bool, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    engine = _engine(paths)
    if attach or interactive:
        if len(containers) > 1:
            raise click.UsageError("you cannot start and attach multiple containers at once")
        try:
            status = engine.containers.run_attached(engine.container_store.get(containers[0]))
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            print(f"Error: failed to start containers: {containers[0]}", file=sys.stderr)
            sys.exit(1)
        sys.exit(status)
    failed = []
    for ref in containers:
        try:
            c = engine.container_store.get(ref)
            if not c.state["Running"]:
                engine.containers.start_detached(c)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed.append(ref)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


def parse_signal(text: str) -> int:
    """A signal given as a number, ``KILL`` or ``SIGKILL`` (``docker kill -s``)."""
    import signal

    from dockyard.errors import InvalidArgument

    if text.isdigit():
        number = int(text)
        if not 0 < number <= signal.SIGRTMAX:
            raise InvalidArgument(f"Invalid signal: {text}")
        return number
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None


@click.command(context_settings=_SETTINGS)
@click.option("-s", "--signal", "signal_", default="KILL", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(paths: Paths, signal_: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    engine = _engine(paths)
    sig = parse_signal(signal_)
    failed = False
    for ref in containers:
        try:
            engine.containers.kill(ref, sig)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=_SETTINGS)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(paths: Paths, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    engine = _engine(paths)
    failed = False
    for ref in containers:
        try:
            print(engine.containers.wait(ref), flush=True)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container"
)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(paths: Paths, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    engine = _engine(paths)
    failed = False
    for ref in containers:
        try:
            engine.containers.remove(ref, force=force)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


def human_duration_since(timestamp: str) -> str:
    """go-units HumanDuration of the time elapsed since an RFC 3339 ``timestamp``."""
    import datetime

    from dockyard.cli.formatting import human_duration

    # Python parses at most microseconds: drop the extra nanosecond digits.
    head, _, frac = timestamp.rstrip("Z").partition(".")
    then = datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _status_text(state: dict[str, Any]) -> str:
    if state["Running"]:
        paused = " (Paused)" if state.get("Paused") else ""
        return f"Up {human_duration_since(state['StartedAt'])}{paused}"
    if state["Status"] == "exited":
        return f"Exited ({state['ExitCode']}) {human_duration_since(state['FinishedAt'])} ago"
    return state["Status"].capitalize()


def _command_text(c: Any, no_trunc: bool) -> str:
    args = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    text = " ".join(args)
    if not no_trunc and len(text) > 20:
        text = text[:19] + "…"
    return f'"{text}"'


@click.command(context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)"
)
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("--format", "format_", help="Format output using a Go template")
@click.pass_obj
def ps(
    paths: Paths,
    all_: bool,
    quiet: bool,
    latest: bool,
    last: int,
    no_trunc: bool,
    format_: str | None,
) -> None:
    """List containers."""
    from dockyard.cli.formatting import format_table, render

    engine = _engine(paths)
    found = [engine.containers.reconcile(c) for c in engine.container_store.list()]
    if latest:
        last = 1
    if last >= 0:
        found = found[:last]
    elif not all_:
        found = [c for c in found if c.state["Running"]]
    if quiet:
        for c in found:
            print(c.id if no_trunc else c.short_id)
        return
    rows = []
    for c in found:
        image_ref = c.config.get("Image", "")
        rows.append(
            {
                "ID": c.id if no_trunc else c.short_id,
                "Image": image_ref,
                "Command": _command_text(c, no_trunc),
                "CreatedAt": c.created,
                "RunningFor": human_duration_since(c.created) + " ago",
                "Status": _status_text(c.state),
                "State": c.state["Status"],
                "Ports": "",
                "Names": c.name,
                "Labels": ",".join(f"{k}={v}" for k, v in (c.config.get("Labels") or {}).items()),
            }
        )
    if format_ and not format_.startswith("table"):
        for row in rows:
            print(render(format_, row))
        return
    headers = ["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    keys = ["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"]
    sys.stdout.write(format_table(headers, [[r[k] for k in keys] for r in rows]))


def _log_path(engine: Any, c: Any) -> str:
    """The json-file log once the container's monitor made it, else "" (as Docker)."""
    import os

    from dockyard.container.logs import log_path

    path = log_path(engine.paths.container_dir(c.id), c.id)
    return path if os.path.exists(path) else ""


def container_inspect_json(engine: Any, c: Any) -> dict[str, Any]:
    """Docker's ``docker container inspect`` object for ``c``."""
    cdir = engine.paths.container_dir(c.id)
    image = engine.images.get(c.image_id)
    args = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    layers = [engine.layers.path(d) for d in reversed(image.diff_ids)]
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": c.state,
        "Image": c.image_id,
        "ResolvConfPath": f"{cdir}/resolv.conf",
        "HostnamePath": f"{cdir}/hostname",
        "HostsPath": f"{cdir}/hosts",
        "LogPath": _log_path(engine, c),
        "Name": "/" + c.name,
        "RestartCount": c.state.get("RestartCount", 0),
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": c.host_config,
        "GraphDriver": {
            "Name": "overlay",
            "Data": {
                "LowerDir": ":".join(layers),
                "UpperDir": f"{cdir}/upper",
                "WorkDir": f"{cdir}/work",
                "MergedDir": f"{cdir}/rootfs",
            },
        },
        "Mounts": [],
        "Config": c.config,
        "NetworkSettings": {"Networks": {c.host_config["NetworkMode"]: {}}},
    }


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--format", "format_", help="Format output using a Go template")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["container", "image"]),
    help="Only inspect objects of the given type",
)
@click.option(
    "-s", "--size", is_flag=True, help="Display total file sizes if the type is container"
)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(
    paths: Paths, format_: str | None, type_: str | None, size: bool, names: tuple[str, ...]
) -> None:
    """Return low-level information on containers or images."""
    from dockyard.cli.formatting import render

    engine = _engine(paths)
    results: list[dict[str, Any]] = []
    failed = False
    for name in names:
        obj = None
        if type_ in (None, "container"):
            try:
                c = engine.containers.reconcile(engine.container_store.get(name))
                obj = container_inspect_json(engine, c)
            except NotFound:
                pass
        if obj is None and type_ in (None, "image"):
            try:
                from dockyard.image.inspect import inspect_image

                obj = inspect_image(engine.paths, engine.images.resolve(name))
            except NotFound:
                pass
        if obj is None:
            print(f"Error: No such object: {name}", file=sys.stderr)
            failed = True
            continue
        results.append(obj)
    if format_:
        for obj in results:
            print(render(format_, obj, strict=False))
    else:
        print(json.dumps(results, indent=4))
    sys.exit(1 if failed else 0)


@click.group(context_settings=_SETTINGS)
def container() -> None:
    """Manage containers."""


def _register() -> None:
    from dockyard.cli import exec as exec_cmds
    from dockyard.cli.run import create, run

    container.add_command(create)
    container.add_command(run)
    container.add_command(start)
    container.add_command(kill)
    container.add_command(wait)
    container.add_command(rm)
    container.add_command(rm, "remove")
    container.add_command(ps, "ls")
    container.add_command(ps, "list")
    container.add_command(ps, "ps")
    container.add_command(inspect)
    container.add_command(exec_cmds.exec_)
    container.add_command(exec_cmds.top)
    container.add_command(exec_cmds.stats)
    container.add_command(exec_cmds.pause)
    container.add_command(exec_cmds.unpause)


_register()
