"""Space commands: ``image prune``, ``builder prune``, ``system df`` and ``system prune``,
with the docker CLI's prompts, output and "Total reclaimed space:" lines. The work is in
``dockyard.engine.prune``."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.cli.opts import check_filters, parse_filters
from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}
_FILTER_HELP = 'Provide filter values (e.g. "until=<timestamp>")'


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


def _confirm(warning: str) -> bool:
    """The docker CLI's PromptForConfirmation: ``warning [y/N] ``, yes on y/Y."""
    sys.stdout.write(f"{warning} [y/N] ")
    sys.stdout.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(1)


def _size(n: int) -> str:
    from dockyard.cli.formatting import human_size

    return human_size(n, 4)


def _image_section(records: list[tuple[str, str]]) -> str:
    if not records:
        return ""
    return "Deleted Images:\n" + "".join(f"{kind}: {value}\n" for kind, value in records)


def _image_records(deleted: list[dict[str, str]]) -> list[tuple[str, str]]:
    """The API's ``ImagesDeleted`` (``[{"Untagged"|"Deleted": value}]``) as
    ``("untagged"|"deleted", value)`` records."""
    return [(kind.lower(), value) for record in deleted for kind, value in record.items()]


def _cache_section(ids: list[str]) -> str:
    if not ids:
        return ""
    return "Deleted build cache objects:\n" + "".join(f"{i}\n" for i in ids)


@click.command("prune", context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Remove all unused images, not just dangling ones"
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, callback=check_filters, help=_FILTER_HELP)
@click.pass_obj
def image_prune(paths: Paths, all_: bool, force: bool, filters: tuple[str, ...]) -> None:
    """Remove unused images."""
    warning = (
        "WARNING! This will remove all images without at least one container associated to them."
        if all_
        else "WARNING! This will remove all dangling images."
    )
    if not force and not _confirm(warning + "\nAre you sure you want to continue?"):
        return
    try:
        parsed = parse_filters(filters)
        if all_:
            parsed.setdefault("dangling", ["false"])  # docker/cli's -a
        report = _engine(paths).image_prune(parsed)
    except DockyardError as e:
        _fail(f"Error response from daemon: {e}")
    if report["ImagesDeleted"]:
        print(_image_section(_image_records(report["ImagesDeleted"])))
    print(f"Total reclaimed space: {_size(report['SpaceReclaimed'])}")


@click.command("prune", context_settings=_SETTINGS)
@click.option(
    "-a",
    "--all",
    "all_",
    is_flag=True,
    help="Remove all unused build cache, not just dangling ones",
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help='Provide filter values (e.g. "until=24h")',
)
@click.option("--keep-storage", default=None, help="Amount of disk space to keep for cache")
@click.pass_obj
def builder_prune(
    paths: Paths, all_: bool, force: bool, filters: tuple[str, ...], keep_storage: str | None
) -> None:
    """Remove build cache."""
    from dockyard.units import ram_in_bytes

    try:
        # Given empty ('') is pflag's invalid size, not "keep nothing".
        keep = ram_in_bytes(keep_storage, "--keep-storage") if keep_storage is not None else 0
    except DockyardError as e:
        # A flag error, as pflag's (opts.MemBytes): the usage, exit 125.
        from dockyard.cli.help import usage_error

        click.echo(usage_error(str(e), click.get_current_context()), err=True)
        sys.exit(125)
    try:
        parsed = parse_filters(filters)
    except DockyardError as e:
        _fail(str(e))

    warning = (
        "WARNING! This will remove all build cache."
        if all_
        else "WARNING! This will remove all dangling build cache."
    )
    if not force and not _confirm(warning + " Are you sure you want to continue?"):
        return
    try:
        report = _engine(paths).build_prune(all_, parsed, keep)
    except DockyardError as e:
        _fail(f"Error response from daemon: {e}")
    if report["CachesDeleted"]:
        print(_cache_section(report["CachesDeleted"]))
    print(f"Total reclaimed space: {_size(report['SpaceReclaimed'])}")


@click.group("builder", context_settings=_SETTINGS)
def builder() -> None:
    """Manage builds."""


builder.add_command(builder_prune)


@click.command("prune", context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Remove all unused images not just dangling ones"
)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--volumes", is_flag=True, help="Prune anonymous volumes")
@click.option("--filter", "filters", multiple=True, callback=check_filters, help=_FILTER_HELP)
@click.pass_obj
def system_prune(
    paths: Paths, all_: bool, force: bool, volumes: bool, filters: tuple[str, ...]
) -> None:
    """Remove unused data."""
    from dockyard.engine import prune

    try:
        parsed = parse_filters(filters)
        prune.check_system_prune(volumes, parsed)
    except DockyardError as e:
        _fail(f"Error response from daemon: {e}")
    warnings = ["all stopped containers", "all networks not used by at least one container"]
    if volumes:
        warnings.append("all anonymous volumes not used by at least one container")
    warnings.append(
        "all images without at least one container associated to them"
        if all_
        else "all dangling images"
    )
    warnings.append("all build cache" if all_ else "unused build cache")
    text = "WARNING! This will remove:\n" + "".join(f"  - {w}\n" for w in warnings)
    if filters:
        text += "\n  Items to be pruned will be filtered with:\n"
        text += "".join(f"  - {f}\n" for f in filters)
    if not force and not _confirm(text + "\nAre you sure you want to continue?"):
        return
    try:
        report = _engine(paths).system_prune(all_, volumes, parsed)
    except DockyardError as e:
        _fail(f"Error response from daemon: {e}")
    sections = [
        "Deleted Containers:\n" + "".join(f"{c}\n" for c in report.containers)
        if report.containers
        else "",
        "Deleted Networks:\n" + "".join(f"{n}\n" for n in report.networks)
        if report.networks
        else "",
        "Deleted Volumes:\n" + "".join(f"{v}\n" for v in report.volumes) if report.volumes else "",
        _image_section(report.images),
        _cache_section(report.build_cache),
    ]
    for section in sections:
        if section:
            print(section)
    print(f"Total reclaimed space: {_size(report.reclaimed)}")


_DF_HEADERS = {
    "Type": "TYPE",
    "TotalCount": "TOTAL",
    "Active": "ACTIVE",
    "Size": "SIZE",
    "Reclaimable": "RECLAIMABLE",
}
_DF_FORMAT = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def _reclaimable(reclaimable: int, total: int) -> str:
    # docker/cli formatter/disk_usage.go: a percentage only when there is a total.
    if total > 0:
        return f"{_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return _size(reclaimable)


@click.command("df", context_settings=_SETTINGS)
@click.option("--format", "fmt", default="", help="Format output using a custom template")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.pass_obj
def df(paths: Paths, fmt: str, verbose: bool) -> None:
    """Show docker disk usage."""
    from dockyard.cli.formatting import TemplateError, format_items
    from dockyard.engine import prune

    engine = _engine(paths)
    usage = prune.disk_usage(engine)
    if verbose and not fmt:
        sys.stdout.write(_verbose(engine, usage))
        return
    containers, volumes = usage["containers"], usage["volumes"]
    entries, cache_bytes = usage["build_cache"]
    rows = [
        {
            "Type": "Images",
            "TotalCount": str(len(usage["images"])),
            "Active": str(sum(1 for i in usage["images"] if usage["image_containers"].get(i.id))),
            "Size": _size(usage["images_total"]),
            "Reclaimable": _reclaimable(
                usage["images_total"] - usage["images_active"], usage["images_total"]
            ),
        },
        {
            "Type": "Containers",
            "TotalCount": str(len(containers)),
            "Active": str(sum(1 for _, _, active in containers if active)),
            "Size": _size(sum(size for _, size, _ in containers)),
            "Reclaimable": _reclaimable(
                sum(size for _, size, active in containers if not active),
                sum(size for _, size, _ in containers),
            ),
        },
        {
            "Type": "Local Volumes",
            "TotalCount": str(len(volumes)),
            "Active": str(sum(1 for _, _, links in volumes if links)),
            "Size": _size(sum(size for _, size, _ in volumes)),
            "Reclaimable": _reclaimable(
                sum(size for _, size, links in volumes if not links),
                sum(size for _, size, _ in volumes),
            ),
        },
        {
            "Type": "Build Cache",
            "TotalCount": str(entries),
            "Active": "0",
            "Size": _size(cache_bytes),
            "Reclaimable": _size(cache_bytes),
        },
    ]
    try:
        sys.stdout.write(format_items(fmt, rows, _DF_HEADERS, default=_DF_FORMAT))
    except TemplateError as e:
        _fail(str(e))


def _verbose(engine: Any, usage: dict[str, Any]) -> str:
    """``system df -v``: the images, containers and volumes tables and the build cache
    total, as docker/cli's verbose disk usage writer lays them out."""
    import time

    from dockyard.cli.formatting import format_items
    from dockyard.cli.listing import IMAGE_HEADERS, image_rows, ps_row

    out = ["Images space usage:\n\n"]
    rows = []
    summaries = {s["Id"]: s for s in engine.image_list()}
    for img in usage["images"]:
        if img.id not in summaries:
            continue  # removed meanwhile
        sizes = usage["per_image"][img.id]
        for row in image_rows([summaries[img.id]], False, time.time()):
            row.update(
                Size=_size(sizes["size"]),
                SharedSize=_size(sizes["shared"]),
                UniqueSize=_size(sizes["size"] - sizes["shared"]),
                Containers=str(usage["image_containers"].get(img.id, 0)),
            )
            rows.append(row)
    out.append(
        format_items(
            "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
            "\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
            rows,
            IMAGE_HEADERS,
        )
    )
    out.append("\nContainers space usage:\n\n")
    crow = []
    sizes = {c.id: size for c, size, _ in usage["containers"]}
    now = time.time()
    for summary in engine.container_list(all=True):
        row = ps_row(summary, False, now)
        row["Size"] = _size(sizes.get(summary["Id"], 0))
        crow.append(row)
    out.append(
        format_items(
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}"
            "\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
            crow,
            {
                "ID": "CONTAINER ID",
                "Image": "IMAGE",
                "Command": "COMMAND",
                "LocalVolumes": "LOCAL VOLUMES",
                "Size": "SIZE",
                "RunningFor": "CREATED",
                "Status": "STATUS",
                "Names": "NAMES",
            },
        )
    )
    out.append("\nLocal Volumes space usage:\n\n")
    vrows = [
        {"Name": v.name, "Links": str(links), "Size": _size(size)}
        for v, size, links in usage["volumes"]
    ]
    out.append(
        format_items(
            "table {{.Name}}\t{{.Links}}\t{{.Size}}",
            vrows,
            {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"},
        )
    )
    out.append(f"\nBuild cache usage: {_size(usage['build_cache'][1])}\n\n")
    out.append(
        format_items(
            "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}"
            "\t{{.UsageCount}}\t{{.Shared}}",
            [_cache_row(r, now) for r in _cache_sorted(usage["build_cache_records"])],
            {
                "ID": "CACHE ID",
                "CacheType": "CACHE TYPE",
                "Size": "SIZE",
                "CreatedSince": "CREATED",
                "LastUsedSince": "LAST USED",
                "UsageCount": "USAGE",
                "Shared": "SHARED",
            },
        )
    )
    return "".join(out)


def _cache_sorted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """docker/cli's buildCacheSort: never-used entries first, then by last use, ties by
    ID."""
    from dockyard.timetypes import parse_time

    return sorted(
        records,
        key=lambda r: (
            r["LastUsedAt"] is not None,
            parse_time(r["LastUsedAt"]) if r["LastUsedAt"] else 0,
            r["ID"],
        ),
    )


def _cache_row(record: dict[str, Any], now: float) -> dict[str, str]:
    """One row of ``df -v``'s build cache table (docker/cli's buildCacheContext)."""
    from dockyard.humanize import human_duration, human_size
    from dockyard.timetypes import parse_time

    def since(stamp: str) -> str:
        return human_duration(now - parse_time(stamp) / 1e9) + " ago"

    return {
        "ID": record["ID"][:12] + ("*" if record["InUse"] else ""),
        "CacheType": record["Type"],
        "Size": human_size(record["Size"], 3),
        "CreatedSince": since(record["CreatedAt"]),
        "LastUsedSince": since(record["LastUsedAt"]) if record["LastUsedAt"] else "",
        "UsageCount": str(record["UsageCount"]),
        "Shared": "true" if record["Shared"] else "false",
    }
