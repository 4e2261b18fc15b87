"""Archive and container filesystem commands: ``save``, ``load``, ``export``, ``diff``,
``commit`` (docker image save/load, docker container export/diff/commit), with the Docker
CLI's flags, messages and exit codes. The work is in ``dockyard.engine.archives``."""

from __future__ import annotations

import os
import sys
from functools import partial
from typing import Any, BinaryIO, NoReturn

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def fail(message: str, code: int = 1) -> NoReturn:
    """``dockyard.cli.images.fail`` (imported late: ``image save`` loads this module
    while ``dockyard.cli.images`` is being imported)."""
    from dockyard.cli.images import fail as fail_

    fail_(message, code)


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


def _remote() -> bool:
    """Whether this command goes to an endpoint (-H/DOCKER_HOST): then the archive
    operations are the RemoteEngine's, not dockyard.engine.archives' over the local
    engine."""
    from dockyard.cli.engine import current_host

    return current_host() is not None


def write_output(path: str | None, what: str, produce: Any) -> None:
    """Run ``produce(out)`` into the file ``path`` (through a temporary file in the same
    directory, renamed when complete, as the docker CLI's CopyToFile) or into stdout
    (``path`` None; refused when it is a terminal, with the docker CLI's message).
    ``what`` names the command in the docker CLI's "failed to save image" wording."""
    if path is None:
        if sys.stdout.isatty():
            fail("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        sys.stdout.flush()
        produce(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        fail(f'failed to {what}: invalid output path: directory "{directory}" does not exist')
    if os.path.exists(path) and not os.path.isfile(path):
        fail(
            f'failed to {what}: invalid output path: "{path}" must be a directory or a regular file'
        )
    from dockyard.tempfiles import temp_name

    tmp = os.path.join(directory, temp_name(".dockyard_temp_"))
    try:
        with open(tmp, "xb") as out:
            produce(out)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


@click.command("save", context_settings=_SETTINGS)
@click.argument("names", nargs=-1, required=True, metavar="IMAGE [IMAGE...]")
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.option("--platform", default=None, help="Save only the given platform (host's only)")
@click.pass_obj
def save(paths: Paths, names: tuple[str, ...], output: str | None, platform: str | None) -> None:
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    from dockyard.engine import archives
    from dockyard.platforms import check_platform

    engine = _engine(paths)
    try:
        check_platform(platform)
        if _remote():
            write_output(output, "save image", lambda out: engine.image_save(list(names), out))
        else:
            write_output(output, "save image", lambda out: archives.save(engine, list(names), out))
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")


@click.command("load", context_settings=_SETTINGS)
@click.option(
    "-i", "--input", "input_", default=None, help="Read from tar archive file, instead of STDIN"
)
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.option("--platform", default=None, help="Load only the given platform (host's only)")
@click.pass_obj
def load(paths: Paths, input_: str | None, quiet: bool, platform: str | None) -> None:
    """Load an image from a tar archive or STDIN."""
    from dockyard.engine import archives
    from dockyard.platforms import check_platform

    try:
        check_platform(platform)
    except DockyardError as e:
        fail(str(e))
    source: BinaryIO
    if input_ is None:
        if sys.stdin.isatty():
            fail("requested load from stdin, but stdin is empty")
        source = sys.stdin.buffer
    else:
        try:
            source = open(input_, "rb")
        except FileNotFoundError:
            fail(f"open {input_}: no such file or directory")
        except OSError as e:
            fail(f"open {input_}: {(e.strerror or str(e)).lower()}")
    # Progress bars only on a terminal, as the docker CLI.
    terminal = sys.stdout.isatty()
    try:
        engine = _engine(paths)
        load_ = engine.image_load if _remote() else partial(archives.load, engine)
        with source:
            for message in load_(source, quiet or not terminal):
                _show(message, terminal)
    except DockyardError as e:
        fail(str(e))


def _show(message: dict[str, Any], terminal: bool) -> None:
    """Print one JSON message as the docker CLI's jsonmessage does."""
    if "stream" in message:
        sys.stdout.write(message["stream"])
    elif terminal:
        detail = message.get("progressDetail") or {}
        end = "\n" if detail.get("current") == detail.get("total") else ""
        sys.stdout.write(
            f"\r\x1b[2K{message.get('id')}: {message.get('status')} {message.get('progress', '')}{end}"
        )
    sys.stdout.flush()


@click.command("export", context_settings=_SETTINGS)
@click.argument("container_ref", metavar="CONTAINER")
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.pass_obj
def export(paths: Paths, container_ref: str, output: str | None) -> None:
    """Export a container's filesystem as a tar archive."""
    from dockyard.engine import archives

    engine = _engine(paths)
    try:
        export_ = engine.container_export if _remote() else partial(archives.export, engine)
        write_output(output, "export container", lambda out: export_(container_ref, out))
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")


@click.command("diff", context_settings=_SETTINGS)
@click.argument("container_ref", metavar="CONTAINER")
@click.pass_obj
def diff(paths: Paths, container_ref: str) -> None:
    """Inspect changes to files or directories on a container's filesystem."""
    from dockyard.engine import archives

    try:
        engine = _engine(paths)
        if _remote():
            found = engine.container_changes(container_ref)
        else:
            found = archives.changes(engine, container_ref)
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")
    sys.stdout.write("".join(f"{kind} {path}\n" for kind, path in found))


@click.command("commit", context_settings=_SETTINGS)
@click.argument("container_ref", metavar="CONTAINER")
@click.argument("repository", required=False, metavar="[REPOSITORY[:TAG]]")
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith")')
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction")
@click.option("-m", "--message", default="", help="Commit message")
@click.option(
    "-p",
    "--pause",
    type=click.BOOL,
    default=True,
    is_flag=False,
    flag_value=True,
    help="Pause container during commit (default true)",
)
@click.pass_obj
def commit(
    paths: Paths,
    container_ref: str,
    repository: str | None,
    author: str,
    changes: tuple[str, ...],
    message: str,
    pause: bool,
) -> None:
    """Create a new image from a container's changes."""
    try:
        created = _engine(paths).image_commit(
            container_ref,
            repository,
            author=author,
            message=message,
            changes=list(changes),
            pause=pause,
        )
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")
    click.echo(created["Id"])
