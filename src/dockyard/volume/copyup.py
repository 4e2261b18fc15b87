"""Copy-up: seeding an empty volume with the image's content at its mount point.

Docker's rule (moby container.CopyImagePathContent and copyExistingContents): only when the
volume is empty; every entry keeps its owner, mode, times, extended attributes and hard
links (continuity's fs.CopyDir); then the volume's root directory takes the owner and mode
of the image directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat


def is_empty(path: str) -> bool:
    """Whether directory ``path`` has no entries (False if it is missing)."""
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return False


def _copy_xattrs(src: str, dst: str) -> None:
    with contextlib.suppress(OSError):
        for name in os.listxattr(src, follow_symlinks=False):
            # overlayfs's own attributes do not describe the file.
            if name.startswith("trusted.overlay."):
                continue
            with contextlib.suppress(OSError):
                value = os.getxattr(src, name, follow_symlinks=False)
                os.setxattr(dst, name, value, follow_symlinks=False)


def _copy_entry(src: str, dst: str, st: os.stat_result, links: dict[tuple[int, int], str]) -> None:
    """Copy one non-directory entry (regular file, symlink, device, fifo); sockets are
    skipped as continuity does. Hard links within the tree stay hard links."""
    mode = st.st_mode
    if not stat.S_ISDIR(mode) and st.st_nlink > 1:
        first = links.get((st.st_dev, st.st_ino))
        if first is not None:
            os.link(first, dst)
            return
        links[(st.st_dev, st.st_ino)] = dst
    if stat.S_ISREG(mode):
        with open(src, "rb") as fin, open(dst, "wb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
    elif stat.S_ISLNK(mode):
        os.symlink(os.readlink(src), dst)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(dst, mode, st.st_rdev)
    else:
        return
    _copy_meta(src, dst, st)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    if not stat.S_ISLNK(st.st_mode):
        # After chown, which clears set-user-ID and set-group-ID bits.
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    _copy_xattrs(src, dst)
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of directory ``src`` into the existing directory ``dst`` with
    owners, modes, times, xattrs and hard links, then give ``dst`` the owner and mode of
    ``src``. Symlinks are copied as links, never followed. Raises OSError."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, str, os.stat_result]] = []

    def walk(s: str, d: str) -> None:
        with os.scandir(s) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            sp, dp = entry.path, os.path.join(d, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(dp, 0o700)
                walk(sp, dp)
                dirs.append((sp, dp, st))
            else:
                _copy_entry(sp, dp, st, links)

    walk(src, dst)
    # Directories last (deepest first), so their times are not changed by their entries.
    for sp, dp, st in dirs:
        _copy_meta(sp, dp, st)
    root = os.stat(src)
    os.chown(dst, root.st_uid, root.st_gid)
    os.chmod(dst, stat.S_IMODE(root.st_mode))
