"""Overlayfs upper directories turned into OCI layer tars (image spec layer.md, "Changesets").

An upper directory holds what a container (or a build step) changed on top of its lower
layers, in overlayfs form: a removed entry is a 0/0 character device, a directory that no
longer merges with the lower ones carries ``trusted.overlay.opaque=y``. The layer tar says
the same in the spec's form: ``.wh.NAME`` and ``.wh..wh..opq`` entries. Entries are written
in sorted order with whole-second mtimes and no user/group names, so one upper directory
always gives the same bytes (and the same diff id).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import DiskFull, DockyardError
from dockyard.snapshot.unpack import (
    OPAQUE_XATTR,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
)

if TYPE_CHECKING:
    import tarfile

_OVERLAY_XATTR = "trusted.overlay."
_PAX_XATTR = "SCHILY.xattr."
# Overlayfs features whose upper dirs do not hold the full content of a changed entry.
_UNSUPPORTED_XATTRS = ("trusted.overlay.redirect", "trusted.overlay.metacopy")


def _xattrs(dir_fd: int, name: str) -> dict[str, bytes]:
    """The extended attributes of entry ``name`` of the directory ``dir_fd`` (not
    followed), ``{}`` where unsupported. The path goes through the directory's fd
    (``/proc/self/fd/N/NAME``): no component is resolved by name but ``name``."""
    path = f"/proc/self/fd/{dir_fd}/{name}"
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    values = {}
    for key in names:
        try:
            values[key] = os.getxattr(path, key, follow_symlinks=False)
        except OSError as e:
            if e.errno != errno.ENODATA:  # removed meanwhile
                raise
    return values


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# What opening an entry gives when a running container removed or replaced it after it
# was listed (a symlink now: ELOOP; a file now: ENOTDIR; a FIFO or socket: ENXIO).
_CHANGED = (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.ENXIO)


def open_directory(dir_fd: int, name: str) -> int:
    """An fd of the directory ``name`` in ``dir_fd``, never through a symlink (ELOOP or
    ENOTDIR if ``name`` is not a directory, as when it was swapped meanwhile)."""
    return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


class TreeWriter:
    """Writes a directory tree to a tar, resolving nothing by path: every directory is
    opened from its parent's fd with ``O_NOFOLLOW``, every file read through its own fd,
    so a tree that changes while it is read (a running container swapping a directory for
    a symlink) can never make it read outside the tree; an entry removed or replaced
    between its listing and its opening is left out.

    ``layer=True`` converts overlayfs whiteouts and opaque directories into the OCI
    layer forms (see :func:`write_layer`); otherwise entries are written as they are.
    ``tf`` is an open tar; the first name of each inode seen is remembered for hard links.
    Entries whose archive name is in ``exclude`` are left out.
    """

    def __init__(
        self, tf: tarfile.TarFile, *, layer: bool = True, exclude: frozenset[str] = frozenset()
    ) -> None:
        self.tf = tf
        self.layer = layer
        self.exclude = exclude
        self.inodes: dict[tuple[int, int], str] = {}

    def walk(self, dir_fd: int, prefix: str) -> None:
        """Write every entry of the directory ``dir_fd``, recursively, named ``prefix +
        name`` (``prefix`` empty or ending in ``/``), in sorted order."""
        # A stack of open directories, not recursion: trees can nest deeper than the
        # recursion limit.
        stack: list[tuple[int, str, list[str]]] = []
        names = sorted(os.listdir(dir_fd), key=os.fsencode, reverse=True)
        stack.append((os.dup(dir_fd), prefix, names))
        try:
            while stack:
                fd, pre, pending = stack[-1]
                if not pending:
                    os.close(fd)
                    stack.pop()
                    continue
                name = pending.pop()
                sub = self.entry(fd, name, pre + name)
                if sub is not None:
                    try:
                        children = sorted(os.listdir(sub), key=os.fsencode, reverse=True)
                    except BaseException:
                        os.close(sub)
                        raise
                    stack.append((sub, pre + name + "/", children))
        finally:
            for fd, _, _ in stack:
                os.close(fd)

    def entry(self, dir_fd: int, name: str, arcname: str) -> int | None:
        """Write the entry ``name`` of ``dir_fd`` as ``arcname``; for a directory return
        an open fd of it (the caller walks and closes it), else None."""
        import tarfile

        if arcname in self.exclude:
            return None
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None  # removed meanwhile
        mode = st.st_mode
        parent, _, base = arcname.rpartition("/")
        if self.layer and stat.S_ISCHR(mode) and st.st_rdev == 0:
            # Overlayfs whiteout: NAME was removed from the lower layers.
            ti = self.info(
                f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base, st
            )
            ti.type, ti.mode = tarfile.REGTYPE, 0o600
            self.tf.addfile(ti)
            return None
        if stat.S_ISSOCK(mode):
            return None  # sockets cannot be archived (Docker skips them too)
        try:
            xattrs = _xattrs(dir_fd, name)
        except FileNotFoundError:
            return None  # removed since its lstat
        for key in _UNSUPPORTED_XATTRS:
            if key in xattrs:
                raise DockyardError(f"cannot diff {arcname}: overlayfs {key} is not supported")
        ti = self.info(arcname, st)
        ti.pax_headers = {
            _PAX_XATTR + key: value.decode("utf-8", "surrogateescape")
            for key, value in sorted(xattrs.items())
            if not key.startswith(_OVERLAY_XATTR)
        }
        if stat.S_ISDIR(mode):
            try:
                sub = open_directory(dir_fd, name)
            except OSError as e:
                if e.errno in _CHANGED:
                    return None  # removed or replaced since its lstat
                raise
            ti.type = tarfile.DIRTYPE
            self.tf.addfile(ti)
            if self.layer and xattrs.get(OPAQUE_XATTR) == b"y":
                opaque = self.info(f"{arcname}/{WHITEOUT_OPAQUE}", st)
                opaque.type, opaque.mode = tarfile.REGTYPE, stat.S_IMODE(mode) & 0o777
                self.tf.addfile(opaque)
            return sub
        if st.st_nlink > 1:
            first = self.inodes.setdefault((st.st_dev, st.st_ino), arcname)
            if first != arcname:
                ti.type, ti.linkname = tarfile.LNKTYPE, first
                self.tf.addfile(ti)
                return None
        if stat.S_ISREG(mode):
            try:
                # O_NONBLOCK: a FIFO swapped in must not block the open (the inode
                # check below then leaves it out).
                flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
                fd = os.open(name, flags, dir_fd=dir_fd)
            except OSError as e:
                if e.errno in _CHANGED:
                    return None  # removed or replaced since its lstat
                raise
            with open(fd, "rb") as f:
                now = os.fstat(fd)
                if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
                    return None  # replaced since its lstat: another inode now
                ti.type, ti.size = tarfile.REGTYPE, now.st_size
                self.tf.addfile(ti, _Exactly(f, now.st_size))
            return None
        if stat.S_ISLNK(mode):
            try:
                target = os.readlink(name, dir_fd=dir_fd)
            except OSError as e:
                if e.errno in (errno.EINVAL, errno.ENOENT):
                    return None  # no longer a symlink: replaced since its lstat
                raise
            ti.type, ti.linkname = tarfile.SYMTYPE, target
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        self.tf.addfile(ti)
        return None

    @staticmethod
    def info(name: str, st: os.stat_result) -> tarfile.TarInfo:
        import tarfile

        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)  # whole seconds, as moby's archive: reproducible
        return ti


class _Exactly:
    """Reads exactly ``size`` bytes of ``f``: zeros for what was cut off meanwhile (a file
    truncated while it is archived must not break the tar's framing)."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self._f, self._left = f, size

    def read(self, n: int = -1) -> bytes:
        n = self._left if n < 0 else min(n, self._left)
        data = self._f.read(n)
        if len(data) < n:
            data += b"\0" * (n - len(data))
        self._left -= len(data)
        return data


def write_layer(upper_dir: str, out: BinaryIO, exclude: frozenset[str] = frozenset()) -> None:
    """Write the changes recorded in overlayfs ``upper_dir`` to ``out`` as a layer tar.

    Implements the OCI image spec (layer.md) changeset format, PAX tar: a 0/0 character
    device becomes a ``.wh.NAME`` regular file; a directory with
    ``trusted.overlay.opaque=y`` is written followed by ``DIR/.wh..wh..opq``; other
    ``trusted.overlay.*`` xattrs are dropped and the rest (``security.capability``,
    ``user.*``, ...) kept as ``SCHILY.xattr.*``. Regular files, directories, symlinks,
    devices and fifos keep mode, uid/gid and mtime (whole seconds); an inode met again is a
    hard link to its first (sorted) name; sockets are skipped. Entries are in sorted order
    (parents first); paths in ``exclude`` (``etc/hosts``) are left out. Raises
    ``DockyardError`` if ``upper_dir`` cannot be read or uses overlayfs redirect_dir/metacopy.
    """
    import tarfile

    root = os.path.abspath(upper_dir)
    try:
        fd = os.open(root, _DIR_FLAGS)
        try:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                TreeWriter(tf, exclude=exclude).walk(fd, "")
        finally:
            os.close(fd)
    except OSError as e:
        if e.errno in (errno.ENOSPC, errno.EDQUOT):
            raise DiskFull(
                f"cannot write the layer of the changes in {root}: no space left on device"
            ) from None
        where = e.filename or root
        raise DockyardError(f"reading layer changes in {where}: {e.strerror or e}") from e


def layer_from_upper(
    upper_dir: str, *, tmp_dir: str | None = None, exclude: frozenset[str] = frozenset()
) -> BinaryIO:
    """The layer tar of ``upper_dir`` (see :func:`write_layer`) in an anonymous temporary
    file (in ``tmp_dir``, default the system's), positioned at 0; the caller closes it."""
    import tempfile

    out = tempfile.TemporaryFile(dir=tmp_dir)
    try:
        write_layer(upper_dir, out, exclude)
        out.seek(0)  # flushes the last of it
    except OSError as e:
        with contextlib.suppress(OSError):  # its buffer cannot be flushed either
            out.close()
        if e.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise DiskFull(
            f"cannot write the layer of the changes in {upper_dir}: no space left on device"
        ) from None
    except BaseException:
        out.close()
        raise
    return out
