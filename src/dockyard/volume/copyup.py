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
    ``src``. Symlinks are copied as links, never followed. Iterative, so an image tree
    of any depth is copied (no recursion limit). Raises OSError."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, str, os.stat_result]] = []
    pending = [(src, dst)]
    while pending:
        s, d = pending.pop()
        with os.scandir(s) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            sp, dp = entry.path, os.path.join(d, entry.name)
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(dp, 0o700)
                pending.append((sp, dp))
                dirs.append((sp, dp, st))
            else:
                _copy_entry(sp, dp, st, links)
    # Directories last, children before parents, so their times are not changed by
    # their entries (each directory is listed after its parent).
    for sp, dp, st in reversed(dirs):
        _copy_meta(sp, dp, st)
    root = os.stat(src)
    os.chown(dst, root.st_uid, root.st_gid)
    os.chmod(dst, stat.S_IMODE(root.st_mode))


def remove_tree(path: str) -> None:
    """Remove ``path`` and everything under it without following symlinks, whatever the
    depth or the length of the paths inside (a container can make both exceed what
    ``shutil.rmtree`` survives: its recursion limit, PATH_MAX). Works from directory
    file descriptors, one open at a time, climbing back up through ``..``. A missing
    ``path`` is fine. Raises OSError."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        os.unlink(path)
        return
    names: list[str] = []  # the directories entered below ``path``, outermost first
    try:
        while True:
            child = None
            unlinked = False
            with os.scandir(fd) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        child = entry.name
                        break
                    os.unlink(entry.name, dir_fd=fd)
                    unlinked = True
            if child is not None:
                new = os.open(child, flags, dir_fd=fd)
                os.close(fd)
                fd = new
                names.append(child)
                continue
            if unlinked:
                # Read it again: a listing changed while read may have skipped entries.
                continue
            if not names:
                break
            parent = os.open("..", flags, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(names.pop(), dir_fd=fd)
    finally:
        os.close(fd)
    os.rmdir(path)
