"""``dockyard logs`` (Docker CLI reference: docker container logs): a container's output
from its json-file log, stdout entries to stdout and stderr entries to stderr."""

from __future__ import annotations

import sys

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option("--details", is_flag=True, help="Show extra details provided to logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option(
    "--since",
    help='Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")',
)
@click.option(
    "-n", "--tail", default="all", help="Number of lines to show from the end of the logs"
)
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option(
    "--until",
    help='Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m")',
)
@click.argument("container")
@click.pass_obj
def logs(
    paths: Paths,
    details: bool,
    follow: bool,
    since: str | None,
    tail: str,
    timestamps: bool,
    until: str | None,
    container: str,
) -> None:
    """Fetch the logs of a container."""
    from dockyard.cli.engine import open_engine
    from dockyard.timetypes import parse_time_arg

    try:
        since_ns = parse_time_arg(since, "since") if since else 0
        until_ns = parse_time_arg(until, "until") if until else 0
        entries = open_engine(paths).container_logs(
            container,
            follow=follow,
            since=since_ns,
            until=until_ns,
            timestamps=timestamps,
            tail=tail,
        )
    except DockyardError as e:
        print(f"Error response from daemon: {e}", file=sys.stderr)
        sys.exit(1)
    out = {"stdout": sys.stdout.buffer, "stderr": sys.stderr.buffer}
    try:
        for stream_name, data in entries:
            stream = out[stream_name]
            stream.write(data)
            if follow:
                stream.flush()
    except KeyboardInterrupt:
        sys.exit(130)
    sys.stdout.flush()
    sys.stderr.flush()
