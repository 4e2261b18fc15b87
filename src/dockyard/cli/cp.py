"""``dockyard cp`` (docker container cp): the docker CLI's side of a copy (docker/cli
cli/command/container/cp.go and moby pkg/archive copy.go: which directory to extract to,
what the archive's top entry is named, the trailing ``/`` and ``/.`` rules and their
messages) over the engine's archive operations (``dockyard.engine.archives``:
``archive_stat``/``archive_get``/``archive_put``, the Engine API's container archive
endpoints).

The host side reads and writes through fds too (``dockyard.snapshot.tarcopy``): what a
container sends is extracted inside the destination directory, so a symlink in it cannot
send a later entry elsewhere on the host.
"""

from __future__ import annotations

import os
import posixpath
import stat
import sys
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

_GO_MODE_DIR = 1 << 31
_GO_MODE_SYMLINK = 1 << 27
_GO_MODE_TYPE = 0b1111_1111_1000 << 19  # every type bit of Go's FileMode


class CopyError(Exception):
    """A client-side refusal, printed as it is (no "Error response from daemon")."""


@dataclass
class CopyInfo:
    """moby archive.CopyInfo: a path, whether it exists and is a directory, and the name
    its archive's top entry should get."""

    path: str
    exists: bool = False
    is_dir: bool = False
    rebase_name: str = ""


def split_cp_arg(arg: str) -> tuple[str, str]:
    """``CONTAINER:PATH`` -> (container, path); a local path -> ("", path) (an absolute
    path, no ``:``, or a relative one starting with ``.``)."""
    if arg.startswith("/"):
        return "", arg
    container, sep, path = arg.partition(":")
    if not sep or container.startswith("."):
        return "", arg
    return container, path


def _specifies_current_dir(path: str) -> bool:
    return posixpath.basename(path) == "."


def _has_trailing_separator(path: str) -> bool:
    return path.endswith("/")


def split_path_dir_entry(path: str) -> tuple[str, str]:
    """moby archive.SplitPathDirEntry: (directory, entry), ``DIR/.`` -> (DIR, ".")."""
    cleaned = posixpath.normpath(path)
    if _specifies_current_dir(path):
        cleaned += "/."
    return posixpath.dirname(cleaned) or ".", posixpath.basename(cleaned)


def rebase_name(path: str, resolved: str) -> tuple[str, str]:
    """moby archive.GetRebaseName: ``resolved`` keeping ``path``'s trailing ``/`` or
    ``/.``, and the name to give the copy when following a link changed its base name."""
    if _specifies_current_dir(path) and not _specifies_current_dir(resolved):
        resolved += "/."
    if _has_trailing_separator(path) and not _has_trailing_separator(resolved):
        resolved += "/"
    name = ""
    if posixpath.basename(path.rstrip("/")) != posixpath.basename(resolved.rstrip("/")):
        name = posixpath.basename(path.rstrip("/"))
    return resolved, name


def prepare(src: CopyInfo, dst: CopyInfo) -> tuple[str, str]:
    """moby archive.PrepareArchiveCopy: (directory to extract into, name of the
    archive's top entry). Raises CopyError ("cannot copy directory", "no such
    directory")."""
    dst_dir, dst_base = split_path_dir_entry(dst.path)
    _, src_base = split_path_dir_entry(src.path)
    top = src.rebase_name or src_base
    if dst.exists and dst.is_dir:
        return dst.path, top
    if dst.exists and src.is_dir:
        raise CopyError("cannot copy directory")
    if dst.exists or src.is_dir:
        return dst_dir, dst_base
    if _specifies_current_dir(dst.path) or _has_trailing_separator(dst.path):
        raise CopyError("no such directory")
    return dst_dir, dst_base


def local_destination(path: str) -> CopyInfo:
    """moby archive.CopyInfoDestinationPath: ``path`` on the host, symlinks followed (at
    most 10); a missing path needs an existing parent directory. Raises CopyError."""
    original = path
    for n in range(12):
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            parent, _ = split_path_dir_entry(path)
            try:
                os.stat(parent)
            except OSError as e:
                raise CopyError(f"stat {parent}: {(e.strerror or str(e)).lower()}") from None
            if not os.path.isdir(parent):
                raise CopyError("not a directory") from None
            return CopyInfo(path)
        if not stat.S_ISLNK(st.st_mode):
            return CopyInfo(path, True, stat.S_ISDIR(st.st_mode))
        if n > 10:
            break
        target = os.readlink(path)
        if not target.startswith("/"):
            target = posixpath.join(split_path_dir_entry(path)[0], target)
        path = target
    raise CopyError(f"too many symlinks in {original}")


def local_source(path: str, follow: bool) -> CopyInfo:
    """moby archive.CopyInfoSourcePath: ``path`` on the host with the symlinks of its
    directory resolved (all of them with ``follow``). Raises CopyError."""
    if follow:
        resolved, name = rebase_name(path, os.path.realpath(path))
    else:
        directory, base = os.path.split(path)
        resolved = os.path.realpath(directory or ".") + "/" + base
        name = ""
        if _has_trailing_separator(path) and posixpath.basename(
            path.rstrip("/")
        ) != posixpath.basename(resolved.rstrip("/")):
            name = posixpath.basename(path.rstrip("/"))
    try:
        st = os.lstat(resolved)
    except OSError as e:
        raise CopyError(f"lstat {resolved}: {(e.strerror or str(e)).lower()}") from None
    return CopyInfo(resolved, True, stat.S_ISDIR(st.st_mode), name)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(1)


def _piped(produce: Any, consume: Any, *, engine_produces: bool) -> Any:
    """Run ``produce(writer)`` and ``consume(reader)`` over a pipe, the engine's side in
    this thread (its state database connection belongs to it) and the host's in another;
    returns what ``consume`` returns. The producer's error wins: the consumer then only
    saw a cut-off stream."""
    read_fd, write_fd = os.pipe()
    errors: dict[str, BaseException] = {}
    results: list[Any] = []

    def producer() -> None:
        try:
            with open(write_fd, "wb") as writer:
                produce(writer)
        except BrokenPipeError:
            pass  # the consumer stopped first and reports why
        except BaseException as e:
            errors["produce"] = e

    def consumer() -> None:
        try:
            with open(read_fd, "rb") as reader:
                results.append(consume(reader))
                while reader.read(65536):  # the tar's padding, so the producer can finish
                    pass
        except BaseException as e:
            errors["consume"] = e

    thread = threading.Thread(target=consumer if engine_produces else producer, daemon=True)
    thread.start()
    try:
        (producer if engine_produces else consumer)()
    finally:
        thread.join()
    if "produce" in errors:
        raise errors["produce"]
    if "consume" in errors:
        raise errors["consume"]
    return results[0]


def _done(quiet: bool, size: int, where: str) -> None:
    if quiet or not sys.stderr.isatty():
        return
    from dockyard.cli.formatting import human_size

    click.echo(f"Successfully copied {human_size(size, 3)} to {where}", err=True)


class _Archives:
    """The archive operations of ``engine``: the in-process ones
    (``dockyard.engine.archives``) or an endpoint's (``-H``: RemoteEngine's)."""

    def __init__(self, engine: Any, remote: bool) -> None:
        from dockyard.engine import archives

        self._engine = engine
        self._remote = remote
        self._local = archives

    def archive_stat(self, _engine: Any, container: str, path: str) -> dict[str, Any]:
        if self._remote:
            return dict(self._engine.container_archive_stat(container, path))
        return self._local.archive_stat(self._engine, container, path)

    def archive_get(
        self, _engine: Any, container: str, path: str, out: Any, name: str | None = None
    ) -> dict[str, Any]:
        if self._remote:
            return dict(self._engine.container_archive_get(container, path, out, name))
        return self._local.archive_get(self._engine, container, path, out, name)

    def archive_put(
        self, _engine: Any, container: str, path: str, stream: Any, copy_uid_gid: bool = False
    ) -> int:
        if self._remote:
            return int(self._engine.container_archive_put(container, path, stream, copy_uid_gid))
        return self._local.archive_put(self._engine, container, path, stream, copy_uid_gid)


def _copy_from(engine: Any, container: str, src: str, dst: str, opts: dict[str, bool]) -> None:
    from dockyard.snapshot.tarcopy import extract

    archives = engine
    name = ""
    if opts["follow"]:
        st = archives.archive_stat(engine, container, src)
        if st["mode"] & _GO_MODE_SYMLINK:
            target = st["linkTarget"]
            if not target.startswith("/"):
                target = posixpath.join(split_path_dir_entry(src)[0], target)
            src, name = rebase_name(src, target)
    if dst == "-":
        archives.archive_get(engine, container, src, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    # docker/cli resolveLocalPath: absolute, keeping a trailing "/" or "/.".
    trailing = "/." if _specifies_current_dir(dst) else "/" if dst.endswith("/") else ""
    dst = os.path.abspath(dst).rstrip("/") + trailing
    parent = os.path.dirname(os.path.normpath(dst))
    if not os.path.exists(parent):
        raise CopyError(f'invalid output path: directory "{parent}" does not exist')
    st = archives.archive_stat(engine, container, src)
    src_info = CopyInfo(src, True, bool(st["mode"] & _GO_MODE_DIR), name)
    dst_info = local_destination(dst)
    dst_dir, top = prepare(src_info, dst_info)
    dest_fd = os.open(dst_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        size = _piped(
            lambda w: archives.archive_get(engine, container, src, w, top),
            lambda r: extract(r, dest_fd, chown=opts["archive"]),
            engine_produces=True,
        )
    finally:
        os.close(dest_fd)
    _done(opts["quiet"], size, dst)


def _copy_to(engine: Any, container: str, src: str, dst: str, opts: dict[str, bool]) -> None:
    from dockyard.errors import NotFound

    archives = engine
    from dockyard.snapshot.tarcopy import write_resource

    dst_info = CopyInfo(dst)
    try:
        st: dict[str, Any] | None = archives.archive_stat(engine, container, dst)
    except NotFound:
        st = None
    if st is not None and st["mode"] & _GO_MODE_SYMLINK:
        target = st["linkTarget"]
        if not target.startswith("/"):
            target = posixpath.join(split_path_dir_entry(dst)[0], target)
        dst_info.path = target
        try:
            st = archives.archive_stat(engine, container, target)
        except NotFound:
            st = None
    if st is not None:
        kind = st["mode"] & _GO_MODE_TYPE
        if kind not in (0, _GO_MODE_DIR):
            raise CopyError(
                f'destination "{container}:{dst}" must be a directory or a regular file'
            )
        dst_info.exists, dst_info.is_dir = True, bool(st["mode"] & _GO_MODE_DIR)
    if src == "-":
        if not dst_info.is_dir:
            raise CopyError(f'destination "{container}:{dst}" must be a directory')
        size = archives.archive_put(
            engine, container, dst_info.path, sys.stdin.buffer, opts["archive"]
        )
        _done(opts["quiet"], size, f"{container}:{dst}")
        return
    src_info = local_source(src, opts["follow"])
    dst_dir, top = prepare(src_info, dst_info)
    directory, entry = split_path_dir_entry(src_info.path)
    # "DIR/.": the directory itself, archived under the name "." (its content).
    name = "" if entry == "." else entry
    parent_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        size = _piped(
            lambda w: write_resource(parent_fd, name, top, w),
            lambda r: archives.archive_put(engine, container, dst_dir, r, opts["archive"]),
            engine_produces=False,
        )
    finally:
        os.close(parent_fd)
    _done(opts["quiet"], size, f"{container}:{dst}")


@click.command("cp", context_settings={"help_option_names": ["--help"]})
@click.argument("source", metavar="SRC_PATH|CONTAINER:SRC_PATH")
@click.argument("dest", metavar="DEST_PATH|CONTAINER:DEST_PATH")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.pass_obj
def cp(paths: Paths, source: str, dest: str, archive: bool, follow_link: bool, quiet: bool) -> None:
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a directory
    destination in a container. Use '-' as the destination to stream a tar archive of a
    container source to stdout.
    """
    src_container, src_path = split_cp_arg(source)
    dst_container, dst_path = split_cp_arg(dest)
    opts = {"archive": archive, "follow": follow_link, "quiet": quiet}
    if src_container and dst_container:
        _fail("copying between containers is not supported")
    if not src_container and not dst_container:
        _fail("must specify at least one container source")
    if (src_container and not src_path) or (dst_container and not dst_path):
        _fail("empty container path")  # docker/cli: filepath "" is refused
    from dockyard.cli.engine import current_host, open_engine

    engine = _Archives(open_engine(paths), current_host() is not None)
    try:
        if src_container:
            _copy_from(engine, src_container, src_path, dst_path, opts)
        else:
            _copy_to(engine, dst_container, src_path, dst_path, opts)
    except CopyError as e:
        _fail(str(e))
    except DockyardError as e:
        _fail(f"Error response from daemon: {e}")
    except OSError as e:
        where = f" {e.filename}" if e.filename else ""
        _fail(f"{(e.strerror or str(e)).lower()}:{where}".rstrip(":"))
