"""Image commands: ``images``/``image ls``, ``image inspect``, ``tag``, ``rmi``, ``import`` and
``bootstrap``, with the Docker CLI's flags, output and exit codes (1 on an engine error).

The engine work is in ``dockyard.image``; this module parses flags and prints.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, NoReturn, TypeVar

import click

from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError
from dockyard.paths import Paths

F = TypeVar("F", bound=Callable[..., Any])


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``message`` to stderr and exit with ``code``.

    ``SystemExit`` rather than ``click.exceptions.Exit``: in non-standalone mode click
    turns the latter into a return value that ``main`` does not use.
    """
    click.echo(message, err=True)
    sys.exit(code)


def engine_errors(func: F) -> F:
    """Report ``DockyardError`` as the Docker CLI reports daemon errors, exit code 1."""
    from dockyard.cli.formatting import TemplateError

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except TemplateError as e:
            fail(str(e), e.exit_code)
        except DockyardError as e:
            fail(f"Error response from daemon: {e}")

    return wrapper  # type: ignore[return-value]


# -- images -----------------------------------------------------------------------------


@click.command(
    "images", context_settings={"help_option_names": ["--help"]}, short_help="List images"
)
@click.argument("repository", required=False)
@click.option("-a", "--all", "all_", is_flag=True, help="Show all images.")
@click.option("--digests", is_flag=True, help="Show digests.")
@click.option(
    "-f",
    "--filter",
    "filter_",
    multiple=True,
    callback=check_filters,
    help="Filter output based on conditions provided.",
)
@click.option("--format", "fmt", default="", help="Format output using a Go template.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--tree", is_flag=True, help="List multi-platform images as a tree (EXPERIMENTAL)")
@click.pass_obj
@engine_errors
def images(
    paths: Paths,
    repository: str | None,
    all_: bool,
    digests: bool,
    filter_: tuple[str, ...],
    fmt: str,
    no_trunc: bool,
    quiet: bool,
    tree: bool,
) -> None:
    """List images."""
    from dockyard.cli.engine import open_engine
    from dockyard.cli.listing import images_text
    from dockyard.cli.opts import parse_filters

    try:
        filters = parse_filters(filter_)
    except DockyardError as e:
        fail(str(e), 125)
    if tree:
        # docker/cli 28's runImages: these are refused with --tree (exit 1).
        for given, flag in (
            (quiet, "--quiet"),
            (no_trunc, "--no-trunc"),
            (digests, "--show-digest"),
            (fmt, "--format"),
        ):
            if given:
                fail(f"{flag} is not yet supported with --tree", 1)
        from dockyard.cli.imagetree import terminal_width, tree_text

        if repository:
            filters.setdefault("reference", []).append(repository)
        terminal, width = terminal_width()
        found = open_engine(paths).image_list(all=all_, filters=filters)
        sys.stdout.write(tree_text(found, all_, terminal, width))
        return
    text = images_text(
        open_engine(paths),
        filters,
        repository=repository,
        all_=all_,
        digests=digests,
        fmt=fmt,
        no_trunc=no_trunc,
        quiet=quiet,
    )
    sys.stdout.write(text)


# -- image inspect ----------------------------------------------------------------------


@click.command("inspect", context_settings={"help_option_names": ["--help"]})
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("-f", "--format", "fmt", default="", help="Format output using a Go template.")
@click.option("--platform", default=None, help="Inspect a specific platform.")
@click.pass_obj
@engine_errors
def image_inspect(paths: Paths, names: tuple[str, ...], fmt: str, platform: str | None) -> None:
    """Display detailed information on one or more images."""
    from dockyard.cli.engine import open_engine
    from dockyard.cli.formatting import print_inspect
    from dockyard.errors import NotFound
    from dockyard.platforms import check_platform

    check_platform(platform)
    engine = open_engine(paths)
    found: list[Any] = []
    errors: list[str] = []
    for name in names:
        try:
            found.append(engine.image_inspect(name))
        except NotFound as e:
            errors.append(f"Error: {e}")
    print_inspect(fmt, found, errors)


# -- tag, rmi ---------------------------------------------------------------------------


@click.command("tag", context_settings={"help_option_names": ["--help"]})
@click.argument("source", metavar="SOURCE_IMAGE[:TAG]")
@click.argument("target", metavar="TARGET_IMAGE[:TAG]")
@click.pass_obj
@engine_errors
def tag(paths: Paths, source: str, target: str) -> None:
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    from dockyard import reference
    from dockyard.cli.engine import open_engine

    try:
        ref = reference.parse(target)
    except DockyardError as e:
        fail(f'Error parsing reference: "{target}" is not a valid repository/tag: {e}')
    if ref.digest:
        open_engine(paths).image_tag(source, target)
    else:
        open_engine(paths).image_tag(source, ref.familiar_name(), ref.tag)


@click.command("rmi", context_settings={"help_option_names": ["--help"]})
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("-f", "--force", is_flag=True, help="Force removal of the image.")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents.")
@click.option("--platform", default="", help="Remove only the given platform variant.")
@click.pass_obj
def rmi(paths: Paths, names: tuple[str, ...], force: bool, no_prune: bool, platform: str) -> None:
    """Remove one or more images."""
    from dockyard.cli.engine import open_engine
    from dockyard.platforms import check_image_platform

    engine = open_engine(paths)
    errors = []
    for name in names:
        try:
            if platform:
                check_image_platform(name, engine.image_inspect(name), platform)
            items = engine.image_delete(name, force=force, noprune=no_prune)
        except DockyardError as e:
            errors.append(f"Error response from daemon: {e}")
            continue
        for item in items:
            for kind, value in item.items():
                click.echo(f"{kind}: {value}")
    if errors:
        fail("\n".join(errors))


# -- import, bootstrap ------------------------------------------------------------------


@click.command("import", context_settings={"help_option_names": ["--help"]})
@click.argument("source", metavar="file|-")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction.")
@click.option("-m", "--message", default="", help="Set commit message for imported image.")
@click.option("--platform", default=None, help="Set platform (linux/<host arch> only).")
@click.pass_obj
@engine_errors
def import_(
    paths: Paths,
    source: str,
    repository: str | None,
    changes: tuple[str, ...],
    message: str,
    platform: str | None,
) -> None:
    """Import the contents from a tarball to create a filesystem image."""
    from dockyard.cli.engine import open_engine
    from dockyard.errors import InvalidArgument

    if source.startswith(("http://", "https://")):
        raise InvalidArgument(f"importing from a URL is not supported: {source}")
    if source == "-":
        image_id = open_engine(paths).image_import(
            sys.stdin.buffer, repository, list(changes), message, platform
        )
    else:
        # The docker CLI opens the file itself and sends it as the request body.
        try:
            f = open(source, "rb")
        except FileNotFoundError:
            raise InvalidArgument(f"open {source}: no such file or directory") from None
        except OSError as e:
            raise InvalidArgument(f"open {source}: {e.strerror}") from None
        with f:
            if not os.path.isfile(source):
                raise InvalidArgument(f"{source} is not a regular file")
            image_id = open_engine(paths).image_import(
                f, repository, list(changes), message, platform
            )
    click.echo(image_id)


@click.command("bootstrap", context_settings={"help_option_names": ["--help"]})
@click.argument("name", metavar="busybox[:TAG]|debian[:bookworm]")
@click.pass_obj
@engine_errors
def bootstrap(paths: Paths, name: str) -> None:
    """Create a base image from host files (busybox) or Debian's archive (debian)."""
    from dockyard import reference
    from dockyard.engine import Engine

    made = Engine(paths).image_bootstrap(name)
    shown = reference.parse(name).familiar()
    click.echo(f"{shown}: {made['Source']}, 1 layer, {made['Size']} bytes")
    click.echo(made["Id"])


# -- the image noun ---------------------------------------------------------------------


@click.group("image", context_settings={"help_option_names": ["--help"]})
@click.pass_context
def image(ctx: click.Context) -> None:
    """Manage images."""
    from dockyard.cli.main import check_remote_subcommand

    check_remote_subcommand(ctx)


image.add_command(images, "ls")
image.add_command(images, "list")
image.add_command(image_inspect, "inspect")
image.add_command(rmi, "rm")
image.add_command(rmi, "remove")
image.add_command(tag, "tag")
image.add_command(import_, "import")
image.add_command(importlib.import_module("dockyard.cli.archives").save, "save")
image.add_command(importlib.import_module("dockyard.cli.archives").load, "load")
# Adds `image pull` and `image push` (that module imports this one for its helpers).
importlib.import_module("dockyard.cli.registry")
image.add_command(importlib.import_module("dockyard.cli.prune").image_prune, "prune")
image.add_command(importlib.import_module("dockyard.cli.build").history, "history")
image.add_command(importlib.import_module("dockyard.cli.build").build, "build")
