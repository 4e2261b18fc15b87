"""``dockyard build`` and ``dockyard history`` with the Docker CLI's flags and output.

``build``'s flags are parsed here (or, in their plain forms, by :mod:`.fastbuild`
without click); what it does then is :func:`dockyard.cli.buildrun.run_build`.
"""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
DEFAULT_HISTORY_FORMAT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


@click.command("build", context_settings={"help_option_names": ["--help"]})
@click.argument("context", metavar="PATH | URL | -")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag.")
@click.option("-f", "--file", "dockerfile", default=None, help="Name of the Dockerfile.")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables.")
@click.option("--target", default="", help="Set the target build stage to build.")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID.")
@click.option(
    "--network",
    default="default",
    type=click.Choice(["default", "host", "none"]),
    help="Networking mode for the RUN instructions during build.",
)
@click.option("--iidfile", default="", help="Write the image ID to the file.")
@click.option(
    "--progress",
    default="auto",
    type=click.Choice(["auto", "plain", "tty"]),
    help="Type of progress output.",
)
@click.option(
    "--platform",
    default=None,
    envvar="DOCKER_DEFAULT_PLATFORM",  # docker/cli's build: the flag's default
    help="Set platform if server is multi-platform capable.",
)
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image.")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    help='Output destination (format: "type=local,dest=path" or "type=tar,dest=file|-").',
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]").',
)
@click.option(
    "--ssh",
    multiple=True,
    help='SSH agent socket to expose to the build (format: "default|<id>[=<socket>]").',
)
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    help='External cache sources (e.g., "user/app:cache", "type=registry,ref=user/app").',
)
@click.option("--add-host", "add_hosts", multiple=True, help="Add a custom host-to-IP mapping.")
@click.option("--cgroup-parent", default="", help="Parent cgroup for the RUN instructions.")
@click.option("--cpu-period", type=int, default=0, help="Limit the CPU CFS period.")
@click.option("--cpu-quota", type=int, default=0, help="Limit the CPU CFS quota.")
@click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight).")
@click.option("--cpuset-cpus", default="", help="CPUs in which to allow execution.")
@click.option("--cpuset-mems", default="", help="MEMs in which to allow execution.")
@click.option("-m", "--memory", default=None, help="Memory limit.")
@click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap.")
@click.option("--shm-size", default=None, help="Size of /dev/shm.")
@click.option("--ulimit", "ulimits", multiple=True, help="Ulimit options.")
@click.option("--security-opt", "security_opts", multiple=True, help="Security options.")
@click.option("--isolation", default="", help="Container isolation technology.")
@click.option(
    "--rm/--no-rm",
    "remove",
    is_flag=True,
    default=True,
    help="Remove intermediate containers (always done).",
)
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers.")
@click.option("--squash", is_flag=True, help="Ignored with a warning, as BuildKit does.")
@click.option("--compress", is_flag=True, help="Compress the build context (nothing to send).")
@click.option(
    "--disable-content-trust/--no-disable-content-trust",
    is_flag=True,
    default=True,
    help="Skip image verification (Dockyard verifies no signatures).",
)
@click.pass_obj
def build(
    paths: Paths,
    context: str,
    tags: tuple[str, ...],
    dockerfile: str | None,
    build_args: tuple[str, ...],
    target: str,
    no_cache: bool,
    labels: tuple[str, ...],
    quiet: bool,
    network: str,
    iidfile: str,
    progress: str,
    platform: str | None,
    pull: bool,
    secrets: tuple[str, ...],
    ssh: tuple[str, ...],
    outputs: tuple[str, ...],
    cache_from: tuple[str, ...],
    **limits: Any,
) -> None:
    """Build an image from a Dockerfile."""
    from dockyard.cli.buildrun import run_build
    from dockyard.cli.engine import current_host, open_engine

    if current_host() and (outputs or secrets or ssh):
        _refuse_session_flags("--output" if outputs else "--secret" if secrets else "--ssh")
    run_build(
        lambda: open_engine(paths),
        context,
        tags=tags,
        dockerfile=dockerfile,
        build_args=build_args,
        target=target,
        no_cache=no_cache,
        labels=labels,
        quiet=quiet,
        network=network,
        iidfile=iidfile,
        progress=progress,
        platform=platform,
        pull=pull,
        secrets=secrets,
        ssh=ssh,
        outputs=outputs,
        cache_from=cache_from,
        limits=limits,
        command=click.get_current_context().command_path,
    )


def _refuse_session_flags(given: str) -> NoReturn:
    """Through -H/DOCKER_HOST a build is the classic builder's ``POST /build``, which has
    no exporter and no session for secrets and ssh agents: ``-o``/``--output``,
    ``--secret`` and ``--ssh`` are refused as docker/cli 28's build with
    ``DOCKER_BUILDKIT=0`` refuses them (its legacy command has none of them): pflag's
    error for the first one on the command line (``unknown flag: --secret``,
    ``unknown shorthand flag: 'o' in -o``; ``given``, one of the three long names, when
    the command line shows none plainly), the usage line, exit 125."""
    from dockyard.cli.help import usage_error

    message = f"unknown flag: {given}"
    for arg in sys.argv[1:]:
        if arg == "--":
            break
        name = arg.partition("=")[0]
        if name in ("--output", "--secret", "--ssh"):
            message = f"unknown flag: {name}"
            break
        if arg.startswith("-o"):
            message = f"unknown shorthand flag: 'o' in {arg}"
            break
    print(usage_error(message, click.get_current_context()), file=sys.stderr)
    sys.exit(125)


@click.command("history", context_settings={"help_option_names": ["--help"]})
@click.argument("name", metavar="IMAGE")
@click.option("--format", "fmt", default="", help="Format output using a Go template.")
@click.option("-H", "--human", default=True, type=bool, help="Print sizes and dates in human form.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--platform", default="", help="Show history for the given platform.")
@click.pass_obj
def history(
    paths: Paths, name: str, fmt: str, human: bool, no_trunc: bool, quiet: bool, platform: str
) -> None:
    """Show the history of an image."""
    import time

    from dockyard.cli.engine import open_engine
    from dockyard.cli.formatting import TemplateError, format_items
    from dockyard.cli.images import fail
    from dockyard.platforms import check_image_platform

    try:
        engine = open_engine(paths)
        if platform:
            check_image_platform(name, engine.image_inspect(name), platform)
        items = engine.image_history(name)
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")
    rows = history_rows(items, no_trunc, human, time.time())
    if quiet and fmt in ("", "table"):
        fmt = "{{.ID}}"
    try:
        text = format_items(fmt, rows, HISTORY_HEADERS, default=DEFAULT_HISTORY_FORMAT)
    except TemplateError as e:
        fail(str(e), e.exit_code)
    sys.stdout.write(text)


def history_rows(items: list[Any], no_trunc: bool, human: bool, now: float) -> list[dict[str, str]]:
    """``docker history`` rows of ``GET /images/{name}/history``'s ``items``, newest
    first: CREATED BY cut to 45 characters with ``…`` unless ``no_trunc``, sizes and
    times in human form with ``human``."""
    from dockyard.cli.formatting import human_duration, human_size

    rows = []
    for item in items:
        created = item["Created"]
        created_by = item["CreatedBy"]
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        image_id = item["Id"]
        rows.append(
            {
                "ID": image_id if no_trunc else image_id.removeprefix("sha256:")[:12],
                "CreatedSince": human_duration(now - created) + " ago"
                if human
                else time_text(created),
                "CreatedAt": time_text(created),
                "CreatedBy": created_by,
                "Size": human_size(item["Size"]) if human else str(item["Size"]),
                "Comment": item["Comment"],
            }
        )
    return rows


def time_text(epoch: int) -> str:
    """RFC 3339 local time as ``docker history --human=false`` prints it."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))
