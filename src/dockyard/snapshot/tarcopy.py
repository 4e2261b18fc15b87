"""Tar streams in and out of a directory tree through fds only: what ``docker cp`` moves
(moby pkg/archive TarResource/Untar), on either side of a container.

Writing walks from directory fds (:class:`dockyard.snapshot.diff.TreeWriter`); extracting
resolves every archive name inside the destination's fd (``dockyard.snapshot.inroot``:
openat2 ``RESOLVE_IN_ROOT``, ``*at`` calls that never follow the last component), so
neither a symlink in the tree (one the archive made, or one a running container swaps in)
nor a ``..`` in a name can take a read or a write outside the tree.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import InvalidArgument
from dockyard.snapshot import inroot
from dockyard.snapshot.unpack import copy_content, time_ns

if TYPE_CHECKING:
    import tarfile

_PAX_XATTR = "SCHILY.xattr."


def write_resource(parent_fd: int, name: str, arcname: str, out: BinaryIO) -> None:
    """Write entry ``name`` of the directory ``parent_fd`` (``""``: that directory
    itself) to ``out`` as a tar whose top entry is ``arcname``, a directory with all
    below it. Symlinks are archived as symlinks, never followed. Raises ``OSError``."""
    import tarfile

    from dockyard.snapshot.diff import TreeWriter

    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        writer = TreeWriter(tf, layer=False)
        if not name:
            ti = writer.info(arcname, os.fstat(parent_fd))
            ti.type = tarfile.DIRTYPE
            tf.addfile(ti)
            writer.walk(parent_fd, arcname.rstrip("/") + "/")
            return
        sub = writer.entry(parent_fd, name, arcname)
        if sub is not None:
            try:
                writer.walk(sub, arcname.rstrip("/") + "/")
            finally:
                os.close(sub)


def _clean(name: str) -> str:
    cleaned = posixpath.normpath("/" + name).lstrip("/")
    return "" if cleaned == "." else cleaned


def extract(
    stream: BinaryIO,
    dest_fd: int,
    *,
    chown: bool = True,
    owner: tuple[int, int] | None = None,
) -> int:
    """Extract the tar ``stream`` into the directory ``dest_fd``; returns the bytes of
    file content written.

    Names are resolved inside ``dest_fd`` (missing parents made, symlinks followed only
    inside it). An existing directory is never replaced by a non-directory nor the other
    way round (moby's ``NoOverwriteDirNonDir``: ``InvalidArgument`` with its message);
    another existing entry is replaced. Mode and mtime come from the archive; owners too
    unless ``owner`` (uid, gid) is given, and none is set without ``chown``; extended
    attributes from its PAX ``SCHILY.xattr.*`` records (``user.*``,
    ``security.capability``...), set after the owner as moby's createTarFile does (a
    chown clears ``security.capability``), skipped where the filesystem does not support
    them or refuses them to this process (ENOTSUP, EPERM: moby's BestEffortXattrs). Raises
    ``InvalidArgument`` for a malformed archive, ``OSError`` for what the filesystem
    refuses.
    """
    import tarfile

    written = 0
    directories: list[tuple[str, tarfile.TarInfo]] = []
    try:
        tf = tarfile.open(fileobj=stream, mode="r|")
        for member in tf:
            name = _clean(member.name)
            if not name:
                continue  # the destination itself ("./")
            written += _extract_one(tf, member, name, dest_fd, chown, owner)
            if member.isdir():
                directories.append((name, member))
    except tarfile.ReadError as e:
        raise InvalidArgument(f"invalid tar archive: {e}") from None
    except EOFError:
        raise InvalidArgument("invalid tar archive: unexpected end of data") from None
    # Directories' times last: creating their entries changed them.
    for name, member in reversed(directories):
        parent_fd, base = inroot.open_parent(dest_fd, name)
        try:
            _set_meta(parent_fd, base, member, chown, owner)
        finally:
            os.close(parent_fd)
    return written


def _extract_one(
    tf: tarfile.TarFile,
    member: tarfile.TarInfo,
    name: str,
    dest_fd: int,
    chown: bool,
    owner: tuple[int, int] | None,
) -> int:
    parent_fd, base = inroot.open_parent(dest_fd, name, create=True)
    written = 0
    try:
        try:
            existing = os.stat(base, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            is_dir = stat.S_ISDIR(existing.st_mode)
            if is_dir and not member.isdir():
                raise InvalidArgument(
                    f'cannot overwrite directory "/{name}" with non-directory "{member.name}"'
                )
            if not is_dir and member.isdir():
                raise InvalidArgument(
                    f'cannot overwrite non-directory "/{name}" with directory "{member.name}"'
                )
            if not is_dir:
                inroot.remove_entry(parent_fd, base)
        if member.isdir():
            if existing is None:
                os.mkdir(base, 0o700, dir_fd=parent_fd)
            return 0
        if member.isreg():
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(base, flags, 0o600, dir_fd=parent_fd)
            with open(fd, "wb") as dst:
                written = copy_content(tf.extractfile(member), member, dst)
        elif member.issym():
            os.symlink(member.linkname, base, dir_fd=parent_fd)
        elif member.islnk():
            link_parent, link_base = inroot.open_parent(dest_fd, _clean(member.linkname))
            try:
                os.link(
                    link_base,
                    base,
                    src_dir_fd=link_parent,
                    dst_dir_fd=parent_fd,
                    follow_symlinks=False,
                )
            finally:
                os.close(link_parent)
            return 0  # the same inode: its metadata came with its first name
        elif member.isfifo():
            os.mkfifo(base, 0o600, dir_fd=parent_fd)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            device = os.makedev(member.devmajor, member.devminor)
            os.mknod(base, kind | 0o600, device, dir_fd=parent_fd)
        else:
            return 0
        _set_meta(parent_fd, base, member, chown, owner)
    finally:
        os.close(parent_fd)
    return written


def _set_meta(
    parent_fd: int,
    base: str,
    member: tarfile.TarInfo,
    chown: bool,
    owner: tuple[int, int] | None,
) -> None:
    uid, gid = owner if owner is not None else (member.uid, member.gid)
    mtime = time_ns(member, member.mtime)
    mode = None if member.issym() else member.mode & 0o7777
    inroot.set_meta(parent_fd, base, uid=uid if chown else -1, gid=gid if chown else -1)
    for key, value in member.pax_headers.items():
        # Overlayfs' own attributes are never taken from an archive (an opaque or
        # redirect mark would change what the layers below show).
        if (
            key.startswith(_PAX_XATTR)
            and not key.startswith(_PAX_XATTR + "trusted.overlay.")
            and not member.issym()
        ):
            try:
                inroot.set_xattr(
                    parent_fd,
                    base,
                    key[len(_PAX_XATTR) :],
                    value.encode("utf-8", "surrogateescape"),
                )
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
    inroot.set_meta(parent_fd, base, mode=mode, times_ns=(mtime, mtime))
