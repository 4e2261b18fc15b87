"""``dockyard volume`` create/ls/inspect/rm/prune (Docker CLI reference: docker volume),
with the Docker CLI's flags, output and exit codes (1 on an engine error)."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.cli.images import engine_errors, fail
from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


def _parse_opts(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq:
            raise InvalidArgument(
                f'invalid argument "{value}" for "-o, --opt" flag: bad format for opt: {value}'
            )
        out[key] = val
    return out


@click.command("create", context_settings=_SETTINGS)
@click.argument("name", required=False, metavar="[VOLUME]")
@click.option(
    "-d", "--driver", default="local", help='Specify volume driver name (default "local")'
)
@click.option("--label", "labels", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", "opts", multiple=True, help="Set driver specific options")
@click.option("--availability", default="", help="Cluster Volume availability")
@click.option("--group", default="", help="Cluster Volume group (cluster volumes)")
@click.option("--limit-bytes", default="", help="Minimum size of the Cluster Volume in bytes")
@click.option("--required-bytes", default="", help="Maximum size of the Cluster Volume in bytes")
@click.option("--scope", default="", help="Cluster Volume access scope")
@click.option("--secret", multiple=True, help="Cluster Volume secrets")
@click.option("--sharing", default="", help="Cluster Volume access sharing")
@click.option(
    "--topology-preferred",
    multiple=True,
    help="A topology that the Cluster Volume would be preferred in",
)
@click.option(
    "--topology-required",
    multiple=True,
    help="A topology that the Cluster Volume must be accessible from",
)
@click.option("--type", "type_", default="", help="Cluster Volume access type")
@click.pass_obj
@engine_errors
def create(
    paths: Paths,
    name: str | None,
    driver: str,
    labels: tuple[str, ...],
    opts: tuple[str, ...],
    **cluster: Any,
) -> None:
    """Create a volume."""
    given = sorted(k for k, v in cluster.items() if v)
    if given:
        # docker/cli makes a ClusterVolumeSpec of these; only a swarm manager takes it.
        flags = ", ".join("--" + k.rstrip("_").replace("_", "-") for k in given)
        fail(
            f"Error response from daemon: cluster volumes ({flags}) need swarm mode, "
            "which Dockyard does not have"
        )
    from dockyard.units import parse_labels

    try:
        options = _parse_opts(opts)
        label_map = parse_labels(list(labels))
    except InvalidArgument as e:
        from dockyard.cli.help import usage_error

        fail(usage_error(str(e), click.get_current_context()), 125)
    # The Docker CLI always sends both maps: a volume made here shows {} rather than null.
    request = {"Name": name or "", "Driver": driver, "DriverOpts": options, "Labels": label_map}
    print(_engine(paths).volume_create(request)["Name"])


@click.command("ls", context_settings=_SETTINGS)
@click.option(
    "-f", "--filter", "filters", multiple=True, callback=check_filters, help="Provide filter values"
)
@click.option("--format", "format_", default="", help="Format output using a custom template")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("--cluster", is_flag=True, help="Display only cluster volumes (Dockyard has none)")
@click.pass_obj
@engine_errors
def ls(paths: Paths, filters: tuple[str, ...], format_: str, quiet: bool, cluster: bool) -> None:
    """List volumes."""
    from dockyard.cli.listing import volume_ls_text

    text = volume_ls_text(
        _engine(paths), filters=filters, format_=format_, quiet=quiet, cluster=cluster
    )
    sys.stdout.write(text)


@click.command("inspect", context_settings=_SETTINGS)
@click.argument("names", nargs=-1, required=True, metavar="VOLUME [VOLUME...]")
@click.option("-f", "--format", "format_", default="", help="Format output using a custom template")
@click.pass_obj
@engine_errors
def inspect(paths: Paths, names: tuple[str, ...], format_: str) -> None:
    """Display detailed information on one or more volumes."""
    from dockyard.cli.formatting import print_inspect

    engine = _engine(paths)
    found = []
    errors = []
    for name in names:
        try:
            found.append(engine.volume_inspect(name))
        except DockyardError as e:
            errors.append(f"Error response from daemon: {e}")
    print_inspect(format_, found, errors)


@click.command("rm", context_settings=_SETTINGS)
@click.argument("names", nargs=-1, required=True, metavar="VOLUME [VOLUME...]")
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.pass_obj
def rm(paths: Paths, names: tuple[str, ...], force: bool) -> None:
    """Remove one or more volumes. You cannot remove a volume that is in use by a
    container."""
    engine = _engine(paths)
    failed = False
    for name in names:
        try:
            engine.volume_delete(name, force=force)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
            continue
        print(name)
    sys.exit(1 if failed else 0)


@click.command("prune", context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Remove all unused volumes, not just anonymous ones"
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help='Provide filter values (e.g. "label=<label>")',
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_obj
@engine_errors
def prune(paths: Paths, all_: bool, filters: tuple[str, ...], force: bool) -> None:
    """Remove unused local volumes."""
    from dockyard.cli.formatting import human_size
    from dockyard.cli.opts import parse_filters

    parsed = parse_filters(filters)
    if not force:
        what = "all local volumes" if all_ else "anonymous local volumes"
        sys.stdout.write(
            f"WARNING! This will remove {what} not used by at least one container.\n"
            "Are you sure you want to continue? [y/N] "
        )
        sys.stdout.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return
    if all_:
        parsed["all"] = ["true"]
    report = _engine(paths).volume_prune(parsed)
    if report["VolumesDeleted"]:
        print("Deleted Volumes:")
        for name in report["VolumesDeleted"]:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(report['SpaceReclaimed'])}")


@click.group("volume", context_settings=_SETTINGS)
def volume() -> None:
    """Manage volumes."""


volume.add_command(create)
volume.add_command(ls)
volume.add_command(ls, "list")
volume.add_command(inspect)
volume.add_command(rm)
volume.add_command(rm, "remove")
volume.add_command(prune)
