"""``dockyard attach`` (Docker CLI reference: docker container attach)."""

from __future__ import annotations

import sys

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


@click.command(context_settings=_SETTINGS)
@click.option("--detach-keys", help="Override the key sequence for detaching a container")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option(
    "--sig-proxy",
    type=click.BOOL,
    default=True,
    help="Proxy all received signals to the process (default true)",
)
@click.argument("container")
@click.pass_obj
def attach(
    paths: Paths, detach_keys: str | None, no_stdin: bool, sig_proxy: bool, container: str
) -> None:
    """Attach local standard input, output, and error streams to a running container."""
    from dockyard.cli.engine import open_engine
    from dockyard.cli.run import detach_keys_option

    try:
        status = open_engine(paths).container_attach(
            container,
            stdin=not no_stdin,
            sig_proxy=sig_proxy,
            detach_keys=detach_keys_option(detach_keys),
        )
    except DockyardError as e:
        print(f"Error response from daemon: {e}", file=sys.stderr)
        sys.exit(1)
    if status is None:  # the detach keys: docker/cli's term.EscapeError
        print("read escape sequence", file=sys.stderr)
        sys.exit(1)
    sys.exit(status)
