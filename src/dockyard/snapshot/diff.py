"""Overlayfs upper directories turned into OCI layer tars (image spec layer.md, "Changesets").

An upper directory holds what a container (or a build step) changed on top of its lower
layers, in overlayfs form: a removed entry is a 0/0 character device, a directory that no
longer merges with the lower ones carries ``trusted.overlay.opaque=y``. The layer tar says
the same in the spec's form: ``.wh.NAME`` and ``.wh..wh..opq`` entries. Entries are written
in sorted order with whole-second mtimes and no user/group names, so one upper directory
always gives the same bytes (and the same diff id).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING, BinaryIO

from dockyard.errors import DockyardError
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


def _xattrs(path: str) -> dict[str, bytes]:
    """The extended attributes of ``path`` (not followed), ``{}`` where unsupported."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as e:
        if e.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    values = {}
    for name in names:
        try:
            values[name] = os.getxattr(path, name, follow_symlinks=False)
        except OSError as e:
            if e.errno != errno.ENODATA:  # removed meanwhile
                raise
    return values


class _Writer:
    """State of one ``write_layer`` call: the tar and the first name of each inode seen."""

    def __init__(self, root: str, tf: tarfile.TarFile) -> None:
        self.root = root
        self.tf = tf
        self.inodes: dict[tuple[int, int], str] = {}

    def walk(self, directory: str, prefix: str) -> None:
        for name in sorted(os.listdir(directory), key=os.fsencode):
            self.entry(os.path.join(directory, name), prefix + name)

    def entry(self, path: str, name: str) -> None:
        import tarfile

        st = os.lstat(path)
        mode = st.st_mode
        parent, _, base = name.rpartition("/")
        if stat.S_ISCHR(mode) and st.st_rdev == 0:
            # Overlayfs whiteout: NAME was removed from the lower layers.
            ti = self.info(
                f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base, st
            )
            ti.type, ti.mode = tarfile.REGTYPE, 0o600
            self.tf.addfile(ti)
            return
        if stat.S_ISSOCK(mode):
            return  # sockets cannot be archived (Docker skips them too)
        xattrs = _xattrs(path)
        for key in _UNSUPPORTED_XATTRS:
            if key in xattrs:
                raise DockyardError(f"cannot diff {path}: overlayfs {key} is not supported")
        ti = self.info(name, st)
        ti.pax_headers = {
            _PAX_XATTR + key: value.decode("utf-8", "surrogateescape")
            for key, value in sorted(xattrs.items())
            if not key.startswith(_OVERLAY_XATTR)
        }
        if stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.tf.addfile(ti)
            if xattrs.get(OPAQUE_XATTR) == b"y":
                opaque = self.info(f"{name}/{WHITEOUT_OPAQUE}", st)
                opaque.type, opaque.mode = tarfile.REGTYPE, stat.S_IMODE(mode) & 0o777
                self.tf.addfile(opaque)
            self.walk(path, name + "/")
            return
        if st.st_nlink > 1:
            first = self.inodes.setdefault((st.st_dev, st.st_ino), name)
            if first != name:
                ti.type, ti.linkname = tarfile.LNKTYPE, first
                self.tf.addfile(ti)
                return
        if stat.S_ISREG(mode):
            ti.type, ti.size = tarfile.REGTYPE, st.st_size
            with open(path, "rb") as f:
                self.tf.addfile(ti, f)
            return
        if stat.S_ISLNK(mode):
            ti.type, ti.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
        else:
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        self.tf.addfile(ti)

    @staticmethod
    def info(name: str, st: os.stat_result) -> tarfile.TarInfo:
        import tarfile

        ti = tarfile.TarInfo(name)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)  # whole seconds, as moby's archive: reproducible
        return ti


def write_layer(upper_dir: str, out: BinaryIO) -> None:
    """Write the changes recorded in overlayfs ``upper_dir`` to ``out`` as a layer tar.

    Implements the OCI image spec (layer.md) changeset format, PAX tar: a 0/0 character
    device becomes a ``.wh.NAME`` regular file; a directory with
    ``trusted.overlay.opaque=y`` is written followed by ``DIR/.wh..wh..opq``; other
    ``trusted.overlay.*`` xattrs are dropped and the rest (``security.capability``,
    ``user.*``, ...) kept as ``SCHILY.xattr.*``. Regular files, directories, symlinks,
    devices and fifos keep mode, uid/gid and mtime (whole seconds); an inode met again is a
    hard link to its first (sorted) name; sockets are skipped. Entries are in sorted order
    (parents first). Raises ``DockyardError`` if ``upper_dir`` cannot be read or uses
    overlayfs redirect_dir/metacopy.
    """
    import tarfile

    root = os.path.abspath(upper_dir)
    try:
        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
            _Writer(root, tf).walk(root, "")
    except OSError as e:
        where = e.filename or root
        raise DockyardError(f"reading layer changes in {where}: {e.strerror or e}") from e


def layer_from_upper(upper_dir: str, *, tmp_dir: str | None = None) -> BinaryIO:
    """The layer tar of ``upper_dir`` (see :func:`write_layer`) in an anonymous temporary
    file (in ``tmp_dir``, default the system's), positioned at 0; the caller closes it."""
    import tempfile

    out = tempfile.TemporaryFile(dir=tmp_dir)
    try:
        write_layer(upper_dir, out)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out
