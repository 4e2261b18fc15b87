"""The click commands ``create`` and ``run`` (Docker CLI reference: docker container
create / run), their flags built from cli/runflags.py's table; what they do is
cli/run.py's. Flags after IMAGE belong to the container's command, as with Docker.
Imported only when click parses a ``run``/``create`` command line (help, errors, the
forms cli/fastrun.py leaves to click)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from dockyard.cli import runflags
from dockyard.paths import Paths

_SETTINGS = {"allow_interspersed_args": False, "help_option_names": ["--help"]}


def _options(
    flags: list[tuple[tuple[str, ...], str, str, object, str]],
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A decorator adding ``flags`` (cli/runflags.py's rows) as click options, in order."""

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        f = click.argument("command", nargs=-1, type=click.UNPROCESSED)(f)
        f = click.argument("image")(f)
        for names, param, kind, default, help_ in reversed(flags):
            extra: dict[str, Any] = {}
            if kind == runflags.BOOL:
                names = (f"{names[0]}/--no-{names[0][2:]}",)
                extra = {"is_flag": True, "default": default}
            elif kind == runflags.FLAG:
                extra = {"is_flag": True}
            elif kind == runflags.MULTI:
                extra = {"multiple": True}
            elif kind == runflags.INT:
                low_high = runflags.RANGES.get(param)
                extra = {"type": click.IntRange(*low_high) if low_high else int}
            if kind in (runflags.STR, runflags.INT) and default is not None:
                extra["default"] = default
            if param in runflags.ENVVARS:
                extra["envvar"] = runflags.ENVVARS[param]
            f = click.option(*names, param, help=help_, **extra)(f)
        return f

    return decorate


@click.command(context_settings=_SETTINGS)
@_options(runflags.CONTAINER)
@click.pass_obj
def create(paths: Paths, **kw: Any) -> None:
    """Create a new container."""
    from dockyard.cli import run as command

    command.create(paths, **kw)


@click.command(context_settings=_SETTINGS)
@_options(runflags.RUN_ONLY + runflags.CONTAINER)
@click.pass_obj
def run(paths: Paths, detach: bool, sig_proxy: bool, **kw: Any) -> None:
    """Create and run a new container from an image."""
    from dockyard.cli import run as command

    command.run(paths, detach, sig_proxy, **kw)
