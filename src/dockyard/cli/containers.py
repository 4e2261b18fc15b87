"""Container commands besides create/run: ``start``, ``rm``, ``ps``, ``inspect`` and the
``container`` noun group (Docker CLI reference: docker container ...)."""

from __future__ import annotations

import contextlib
import sys
from typing import Any

import click

from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError, NotFound
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


@click.command(context_settings=_SETTINGS)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.option("--detach-keys", default=None, help="Override the key sequence for detaching")
@click.option("--checkpoint", default="", help="Restore from this checkpoint")
@click.option("--checkpoint-dir", default="", help="Use a custom checkpoint storage directory")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(
    paths: Paths,
    attach: bool,
    interactive: bool,
    detach_keys: str | None,
    checkpoint: str,
    checkpoint_dir: str,
    containers: tuple[str, ...],
) -> None:
    """Start one or more stopped containers."""
    from dockyard.cli import lifecycle

    if (attach or interactive) and len(containers) > 1 and not (checkpoint or checkpoint_dir):
        # (The checkpoint flags' refusal comes first.)
        raise click.UsageError("you cannot start and attach multiple containers at once")
    lifecycle.start(paths, attach, interactive, detach_keys, checkpoint, checkpoint_dir, containers)


@click.command(context_settings=_SETTINGS)
@click.option("-s", "--signal", "signal_", default="KILL", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(paths: Paths, signal_: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    engine = _engine(paths)
    failed = False
    for ref in containers:
        try:
            engine.container_kill(ref, signal_)
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
            print(engine.container_wait(ref)["StatusCode"], flush=True)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


def _stop_options(f: Any) -> Any:
    f = click.option(
        "-t",
        "--timeout",
        "--time",
        "timeout",
        type=int,
        default=None,
        help="Seconds to wait before killing the container",
    )(f)
    return click.option("-s", "--signal", "signal_", help="Signal to send to the container")(f)


@click.command(context_settings=_SETTINGS)
@_stop_options
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(
    paths: Paths, signal_: str | None, timeout: int | None, containers: tuple[str, ...]
) -> None:
    """Stop one or more running containers."""
    _stop_or_restart("stop", paths, signal_, timeout, containers)


def _stop_or_restart(
    action: str,
    paths: Paths,
    signal_: str | None,
    timeout: int | None,
    containers: tuple[str, ...],
) -> None:
    """``stop``/``restart`` each container; prints the names as given, exits 1 if any
    failed (Docker's behaviour)."""
    from dockyard.errors import NotModified

    engine = _engine(paths)
    run = engine.container_stop if action == "stop" else engine.container_restart
    failed = False
    for ref in containers:
        try:
            run(ref, signal=signal_, t=timeout)
            print(ref, flush=True)
        except NotModified:
            print(ref, flush=True)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=_SETTINGS)
@_stop_options
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def restart(
    paths: Paths, signal_: str | None, timeout: int | None, containers: tuple[str, ...]
) -> None:
    """Restart one or more containers."""
    _stop_or_restart("restart", paths, signal_, timeout, containers)


@click.command(context_settings=_SETTINGS)
@click.argument("old")
@click.argument("new")
@click.pass_obj
def rename(paths: Paths, old: str, new: str) -> None:
    """Rename a container."""
    if not old.strip() or not new.strip():
        print("Error: Neither old nor new names may be empty", file=sys.stderr)
        sys.exit(1)
    _engine(paths).container_rename(old, new)


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help='Provide filter values (e.g. "until=<timestamp>")',
)
@click.pass_obj
def prune(paths: Paths, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all stopped containers."""
    from dockyard.cli.formatting import human_size
    from dockyard.cli.opts import parse_filters

    parsed = parse_filters(filters)
    if not force:
        sys.stdout.write(
            "WARNING! This will remove all stopped containers.\n"
            "Are you sure you want to continue? [y/N] "
        )
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return
    report = _engine(paths).container_prune(parsed)
    if report["ContainersDeleted"]:
        print("Deleted Containers:")
        for container_id in report["ContainersDeleted"]:
            print(container_id)
        print()
    print(f"Total reclaimed space: {human_size(report['SpaceReclaimed'], 4)}")


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container"
)
@click.option("-l", "--link", is_flag=True, help="Remove the specified link")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(paths: Paths, force: bool, volumes: bool, link: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    from dockyard.cli import lifecycle

    lifecycle.rm(paths, force, volumes, link, containers)


@click.command(context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)"
)
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help="Filter output based on conditions provided",
)
@click.option("--format", "format_", default="", help="Format output using a custom template")
@click.option(
    "-n",
    "--last",
    type=int,
    default=-1,
    help="Show n last created containers (includes all states)",
)
@click.option(
    "-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)"
)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_obj
def ps(
    paths: Paths,
    all_: bool,
    filters: tuple[str, ...],
    format_: str,
    last: int,
    latest: bool,
    no_trunc: bool,
    quiet: bool,
    size: bool,
) -> None:
    """List containers."""
    from dockyard.cli.listing import ps_text

    text = ps_text(
        _engine(paths),
        all_=all_,
        filters=filters,
        format_=format_,
        last=last,
        latest=latest,
        no_trunc=no_trunc,
        quiet=quiet,
        size=size,
    )
    sys.stdout.write(text)


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--format", "format_", help="Format output using a Go template")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["container", "image", "volume"]),
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
    from dockyard.cli.formatting import print_inspect

    engine = _engine(paths)
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in names:
        obj: Any = None
        if type_ in (None, "container"):
            with contextlib.suppress(NotFound):
                obj = engine.container_inspect(name, size=size)
        if obj is None and type_ in (None, "image"):
            with contextlib.suppress(NotFound):
                obj = engine.image_inspect(name)
        if obj is None and type_ in (None, "volume"):
            with contextlib.suppress(NotFound):
                obj = engine.volume_inspect(name)
        if obj is None:
            errors.append(f"Error: No such {type_ or 'object'}: {name}")
            continue
        results.append(obj)
    print_inspect(format_ or "", results, errors)


class _ContainerGroup(click.Group):
    """``dockyard container``: its subcommands defined in other modules are imported
    only when invoked, so ``dockyard ps`` (which imports this module) pays for none."""

    #: subcommand name -> "module:attribute" (a click.Command)
    LAZY = {
        "create": "dockyard.cli.runcommands:create",
        "run": "dockyard.cli.runcommands:run",
        "exec": "dockyard.cli.exec:exec_",
        "top": "dockyard.cli.exec:top",
        "stats": "dockyard.cli.exec:stats",
        "pause": "dockyard.cli.exec:pause",
        "unpause": "dockyard.cli.exec:unpause",
        "attach": "dockyard.cli.attach:attach",
        "port": "dockyard.cli.port:port",
        "export": "dockyard.cli.archives:export",
        "diff": "dockyard.cli.archives:diff",
        "commit": "dockyard.cli.archives:commit",
        "cp": "dockyard.cli.cp:cp",
        "logs": "dockyard.cli.logs:logs",
        "update": "dockyard.cli.update:update",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.LAZY})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self.LAZY:
            import importlib

            from dockyard.cli.main import _enable_short_help

            module, attr = self.LAZY[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attr)
            assert isinstance(command, click.Command)
            if "-h" in (self.context_settings.get("help_option_names") or ()):
                _enable_short_help(command)  # as the group's own were (cli.main)
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=_ContainerGroup, context_settings=_SETTINGS)
@click.pass_context
def container(ctx: click.Context) -> None:
    """Manage containers."""
    from dockyard.cli.main import check_remote_subcommand

    check_remote_subcommand(ctx)


def _register() -> None:
    container.add_command(start)
    container.add_command(kill)
    container.add_command(wait)
    container.add_command(rm)
    container.add_command(rm, "remove")
    container.add_command(ps, "ls")
    container.add_command(ps, "list")
    container.add_command(ps, "ps")
    container.add_command(inspect)
    container.add_command(stop)
    container.add_command(restart)
    container.add_command(rename)
    container.add_command(prune)


_register()
