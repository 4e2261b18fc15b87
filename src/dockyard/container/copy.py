"""The container side of ``docker cp``: the Engine API's ``HEAD``, ``GET`` and ``PUT
/containers/{id}/archive`` (moby daemon/archive.go).

Every path is resolved inside the container's root from a directory fd (openat2
``RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS``, ``dockyard.snapshot.inroot``) and acted on
through the fds it gives, so a container that swaps a path component for a symlink while
a copy runs cannot make it read or write a host file (CVE-2018-15664). A running
container's root is its init process's ``/proc/PID/root`` (its own mounts, volumes
included), checked to be the container's root filesystem mount; a stopped container's is
its root filesystem mounted for the copy under its start lock, with its volumes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import Conflict, DockyardError, NotFound
from dockyard.snapshot import inroot

if TYPE_CHECKING:
    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC

# Go's os.FileMode type bits, which the API's path stat carries.
GO_MODE_DIR = 1 << 31
GO_MODE_SYMLINK = 1 << 27
GO_MODE_DEVICE = 1 << 26
GO_MODE_NAMED_PIPE = 1 << 25
GO_MODE_SOCKET = 1 << 24
GO_MODE_SETUID = 1 << 23
GO_MODE_SETGID = 1 << 22
GO_MODE_CHAR_DEVICE = 1 << 21
GO_MODE_STICKY = 1 << 20


def go_mode(mode: int) -> int:
    """A Unix ``st_mode`` as Go's ``os.FileMode`` (os.fillFileStatFromSys)."""
    out = mode & 0o777
    kind = stat.S_IFMT(mode)
    out |= {
        stat.S_IFBLK: GO_MODE_DEVICE,
        stat.S_IFCHR: GO_MODE_DEVICE | GO_MODE_CHAR_DEVICE,
        stat.S_IFDIR: GO_MODE_DIR,
        stat.S_IFIFO: GO_MODE_NAMED_PIPE,
        stat.S_IFLNK: GO_MODE_SYMLINK,
        stat.S_IFSOCK: GO_MODE_SOCKET,
    }.get(kind, 0)
    if mode & stat.S_ISGID:
        out |= GO_MODE_SETGID
    if mode & stat.S_ISUID:
        out |= GO_MODE_SETUID
    if mode & stat.S_ISVTX:
        out |= GO_MODE_STICKY
    return out


@contextlib.contextmanager
def container_root(manager: ContainerManager, ref: str) -> Iterator[tuple[Container, int]]:
    """``(container, directory fd of its root)`` for the duration. Raises NotFound,
    Conflict (a start or stop under way)."""
    from dockyard.container.filesystem import mounted_rootfs

    with mounted_rootfs(manager, ref, volumes=True) as (c, rootfs):
        pid = int(c.state.get("Pid") or 0)
        fd = -1
        if c.state["Running"] and pid > 0:
            # Its own view (volumes, tmpfs), if PID still is its init: the root we opened
            # must be the very mount of its root filesystem.
            with contextlib.suppress(OSError):
                fd = os.open(f"/proc/{pid}/root", _DIR_FLAGS)
                mine, want = os.fstat(fd), os.stat(rootfs)
                if (mine.st_dev, mine.st_ino) != (want.st_dev, want.st_ino):
                    os.close(fd)
                    fd = -1
            if fd < 0:
                raise Conflict(f"container {c.id} is stopping")
        else:
            fd = os.open(rootfs, _DIR_FLAGS)
        try:
            yield c, fd
        finally:
            os.close(fd)


def _abs(path: str) -> str:
    """``path`` made absolute in the container, keeping a trailing ``/`` or ``/.``
    (moby's PreserveTrailingDotOrSeparator)."""
    import posixpath

    cleaned = posixpath.normpath("/" + path.lstrip("/"))
    if path.endswith("/.") and cleaned != "/":
        return cleaned + "/."
    if path.endswith("/") and cleaned != "/":
        return cleaned + "/"
    return cleaned


def resolve_text(root_fd: int, path: str) -> str:
    """``path`` with every symlink followed inside the root, as an absolute path string
    (the API's ``linkTarget``; moby's symlink-scoped evaluation). Missing components are
    kept as given. Raises ``OSError`` (ELOOP after 40 links)."""
    resolved: list[str] = []
    remaining = [p for p in reversed(path.split("/")) if p not in ("", ".")]
    hops = 0
    while remaining:
        part = remaining.pop()
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        prefix = inroot.openat2(
            root_fd,
            "/".join(resolved) or ".",
            os.O_PATH | os.O_DIRECTORY,
            resolve=inroot.IN_ROOT | inroot.RESOLVE_NO_SYMLINKS,
        )
        try:
            try:
                target = os.readlink(part, dir_fd=prefix)
            except (FileNotFoundError, NotADirectoryError):
                resolved.append(part)
                resolved.extend(reversed(remaining))
                break
            except OSError as e:
                if e.errno != errno.EINVAL:
                    raise
                resolved.append(part)  # not a symlink
                continue
        finally:
            os.close(prefix)
        hops += 1
        if hops > 40:
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
        if target.startswith("/"):
            resolved.clear()
        remaining.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
    return "/" + "/".join(resolved)


def _not_found(c: Container, path: str) -> NotFound:
    return NotFound(f"Could not find the file {path} in container {c.name}")


def _lookup(c: Container, root_fd: int, path: str) -> tuple[int, str, os.stat_result]:
    """(parent fd, name, lstat) of ``path`` in the root; the name is ``""`` when ``path``
    names a directory by ``/.`` or is the root (then the fd is that directory).
    Raises NotFound (moby's message) or DockyardError."""
    try:
        parent, name = inroot.open_parent(root_fd, path)
    except FileNotFoundError:
        raise _not_found(c, path) from None
    except OSError as e:
        raise DockyardError(f"{path}: {os.strerror(e.errno or errno.EIO).lower()}") from None
    try:
        st = os.stat(name or ".", dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        os.close(parent)
        raise _not_found(c, path) from None
    if path.endswith("/") and not stat.S_ISDIR(st.st_mode):
        os.close(parent)
        raise DockyardError(f"lstat {path}: not a directory")
    return parent, name, st


def _stat_dict(root_fd: int, path: str, name: str, st: os.stat_result) -> dict[str, Any]:
    from dockyard.image.create import rfc3339_nano

    link = ""
    if stat.S_ISLNK(st.st_mode):
        link = resolve_text(root_fd, path.rstrip("/"))
    return {
        "name": name or os.path.basename(path.rstrip("/.")) or "/",
        "size": st.st_size,
        "mode": go_mode(st.st_mode),
        "mtime": rfc3339_nano(st.st_mtime_ns),
        "linkTarget": link,
    }


def stat_path(manager: ContainerManager, ref: str, path: str) -> dict[str, Any]:
    """``HEAD /containers/{id}/archive``: the stat of ``path`` (not followed) as the API's
    ``X-Docker-Container-Path-Stat``: ``name``, ``size`` (bytes), ``mode`` (Go FileMode),
    ``mtime`` (RFC 3339), ``linkTarget`` (a symlink's target resolved inside the
    container, absolute). Raises NotFound ("Could not find the file ...")."""
    path = _abs(path)
    with container_root(manager, ref) as (c, root):
        parent, name, st = _lookup(c, root, path)
        try:
            return _stat_dict(root, path, name, st)
        finally:
            os.close(parent)


def archive_get(
    manager: ContainerManager, ref: str, path: str, out: BinaryIO, name: str | None = None
) -> dict[str, Any]:
    """``GET /containers/{id}/archive``: write ``path`` (a file, or a directory with all
    below it; ``DIR/.`` its content) to ``out`` as a tar whose top entry is the path's
    base name (or ``name``); returns its stat (see :func:`stat_path`). Nothing is
    followed: a symlink is archived as one. Raises NotFound, DockyardError."""
    from dockyard.snapshot.tarcopy import write_resource

    path = _abs(path)
    with container_root(manager, ref) as (c, root):
        parent, entry, st = _lookup(c, root, path)
        try:
            info = _stat_dict(root, path, entry, st)
            arcname = name or ("." if path.endswith("/.") else info["name"])
            try:
                write_resource(parent, entry, arcname, out)
            except BrokenPipeError:
                raise
            except OSError as e:
                reason = os.strerror(e.errno or errno.EIO).lower()
                raise DockyardError(f"copying {path} from {c.name}: {reason}") from None
            return info
        finally:
            os.close(parent)


def _checked_spool(stream: BinaryIO, dest: str, tmp_dir: str) -> BinaryIO:
    """The tar ``stream`` copied into an anonymous temporary file in ``tmp_dir``, its
    entries checked before any is extracted to the container's directory ``dest``, and
    the file returned at its start (the caller closes it). An entry that would land
    outside ``dest``, a symlink or hard link whose target would, fails as moby's
    archive.Unpack fails it (go-archive's breakout errors: ``"../x" is outside of
    "/dest"``, ``invalid symlink "/dest/l" -> "../.."``, ``invalid hardlink "/x" ->
    "../x"``), DockyardError (500); but here before anything is written, where moby
    leaves the entries before it extracted. A malformed archive is left to extract()."""
    import json
    import posixpath
    import shutil
    import tarfile
    import tempfile

    def q(text: str) -> str:  # Go's %q, for the names an archive can carry
        return json.dumps(text, ensure_ascii=False)

    def join(*parts: str) -> str:  # Go's filepath.Join: an absolute part does not reset
        return posixpath.normpath("/".join(parts))

    dest = posixpath.normpath(dest)

    spool = tempfile.TemporaryFile(dir=tmp_dir)  # noqa: SIM115 - returned, or closed below
    try:
        shutil.copyfileobj(stream, spool, 1 << 20)
        spool.seek(0)
        try:
            with tarfile.open(fileobj=spool, mode="r|*") as tf:
                for member in tf:
                    name = posixpath.normpath(member.name)
                    target = join(dest, name)
                    if posixpath.relpath(target, dest).startswith("../"):
                        raise DockyardError(f"{q(name)} is outside of {q(dest)}")
                    if member.issym():
                        linked = join(posixpath.dirname(target), member.linkname)
                        if not linked.startswith(dest):
                            raise DockyardError(
                                f"invalid symlink {q(target)} -> {q(member.linkname)}"
                            )
                    elif member.islnk():
                        linked = join(dest, member.linkname)
                        if not linked.startswith(dest):
                            raise DockyardError(
                                f"invalid hardlink {q(linked)} -> {q(member.linkname)}"
                            )
        except (tarfile.TarError, EOFError):
            pass  # extract() refuses it, with the entries before the damage (as moby)
        spool.seek(0)
        return spool
    except BaseException:
        spool.close()
        raise


def archive_put(
    manager: ContainerManager,
    ref: str,
    path: str,
    stream: BinaryIO,
    *,
    copy_uid_gid: bool = False,
) -> int:
    """``PUT /containers/{id}/archive``: extract the tar ``stream`` into the directory
    ``path`` of the container; returns the bytes of file content written. Files are
    owned by root unless ``copy_uid_gid`` (``cp -a``: the archive's owners). A directory
    never replaces a non-directory nor the other way round. Raises NotFound, Conflict
    (read-only root filesystem), InvalidArgument, DockyardError (a filesystem refusal,
    e.g. a read-only volume)."""
    from dockyard.snapshot.tarcopy import extract

    path = _abs(path)
    os.makedirs(manager.paths.tmp, exist_ok=True)
    stream = _checked_spool(stream, path, manager.paths.tmp)
    with stream, container_root(manager, ref) as (c, root):
        if c.host_config.get("ReadonlyRootfs"):
            raise Conflict("container rootfs is marked read-only")
        try:
            dest = inroot.open_in(root, path, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise _not_found(c, path) from None
        except NotADirectoryError:
            raise DockyardError("extraction point is not a directory") from None
        except OSError as e:
            raise DockyardError(f"{path}: {os.strerror(e.errno or errno.EIO).lower()}") from None
        try:
            return extract(stream, dest, owner=None if copy_uid_gid else (0, 0))
        except OSError as e:
            if e.errno == errno.EROFS:
                # The root filesystem is writable (checked above): a read-only mount.
                raise Conflict("mounted volume is marked read-only") from None
            where = f" {e.filename}" if e.filename else ""
            reason = os.strerror(e.errno or errno.EIO).lower()
            raise DockyardError(f"copying to {c.name}:{path}:{where} {reason}") from None
        finally:
            os.close(dest)
