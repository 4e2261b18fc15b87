"""``dockyard port`` (Docker CLI reference: docker container port)."""

from __future__ import annotations

import sys

import click

from dockyard.errors import InvalidArgument
from dockyard.paths import Paths


@click.command(context_settings={"help_option_names": ["--help"]})
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_obj
def port(paths: Paths, container: str, private_port: str | None) -> None:
    """List port mappings or a specific mapping for the container.

    Prints ``80/tcp -> 0.0.0.0:8080`` lines, or with PRIVATE_PORT[/PROTO] the host
    addresses alone; a port with no binding fails with Docker's message and exit 1.
    """
    from dockyard.cli.engine import open_engine
    from dockyard.cli.formatting import port_command_lines

    ports = open_engine(paths).container_inspect(container)["NetworkSettings"]["Ports"]
    try:
        lines = port_command_lines(ports, private_port, container)
    except InvalidArgument as e:
        print(e, file=sys.stderr)
        sys.exit(1)
    if lines:
        print("\n".join(lines))
