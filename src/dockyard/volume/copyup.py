"""Copy-up: seeding an empty volume with the image's content at its mount point.

Docker's rule (moby container.CopyImagePathContent and copyExistingContents): only when the
volume is empty; every entry keeps its owner, mode, times, extended attributes and hard
links (continuity's fs.CopyDir); then the volume's root directory takes the owner and mode
of the image directory.
"""

from __future__ import annotations

import contextlib
import os
import stat


def is_empty(path: str) -> bool:
    """Whether directory ``path`` has no entries (False if it is missing)."""
    try:
        with os.scandir(path) as it:
            return next(it, None) is None
    except FileNotFoundError:
        return False


def _xattrs(dir_fd: int, name: str, st: os.stat_result) -> list[tuple[str, bytes]]:
    """The extended attributes of entry ``name`` of ``dir_fd`` (none for a symlink or a
    socket), overlayfs's own left out: they do not describe the file."""
    if stat.S_ISLNK(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        return []
    found = []
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError:
        return []
    try:
        path = f"/proc/self/fd/{fd}"
        for key in os.listxattr(path):
            if key.startswith("trusted.overlay."):
                continue
            with contextlib.suppress(OSError):
                found.append((key, os.getxattr(path, key)))
    except OSError:
        pass
    finally:
        os.close(fd)
    return found


def _set_xattrs(fd: int, attrs: list[tuple[str, bytes]]) -> None:
    for key, value in attrs:
        with contextlib.suppress(OSError):
            os.setxattr(fd, key, value)


class _Dest:
    """The destination side of a copy: directories reopened from the root's fd by their
    relative path with no symlink allowed (openat2 RESOLVE_IN_ROOT|RESOLVE_NO_SYMLINKS)
    and checked to be the inode made for them, so a directory a running container swaps
    for a symlink is never written through; one swapped away is skipped."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        st = os.fstat(root_fd)
        self.made: dict[str, tuple[int, int]] = {"": (st.st_dev, st.st_ino)}
        self.rel: str | None = None
        self.fd = -1

    def open(self, rel: str) -> int | None:
        """A directory fd of ``rel`` (kept until another is asked for), or None."""
        if rel == self.rel:
            return self.fd if self.fd >= 0 else None
        self.close()
        self.rel = rel
        fd = self.reopen(rel)
        self.fd = -1 if fd is None else fd
        return fd

    def reopen(self, rel: str) -> int | None:
        """A new directory fd of ``rel`` if it is still the directory made, else None."""
        from dockyard.snapshot import inroot

        want = self.made.get(rel)
        if want is None:
            return None
        try:
            fd = inroot.openat2(
                self.root_fd,
                rel or ".",
                os.O_RDONLY | os.O_DIRECTORY,
                resolve=inroot.IN_ROOT | inroot.RESOLVE_NO_SYMLINKS,
            )
        except OSError:
            return None
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != want:
            os.close(fd)
            return None
        return fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
        self.fd, self.rel = -1, None


def _copy_entry(
    src_dir: int, dst_dir: int, name: str, st: os.stat_result, xattrs: list[tuple[str, bytes]]
) -> None:
    """Copy one non-directory entry (regular file, symlink, device, fifo) from ``src_dir``
    to ``dst_dir`` under ``name``, with its metadata, through fds: nothing is followed."""
    from dockyard.snapshot import inroot

    mode = st.st_mode
    if stat.S_ISREG(mode):
        fin = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fout = os.open(name, flags, 0o600, dir_fd=dst_dir)
            try:
                import shutil

                with os.fdopen(os.dup(fin), "rb") as r, os.fdopen(os.dup(fout), "wb") as w:
                    shutil.copyfileobj(r, w, 1 << 20)
                os.fchown(fout, st.st_uid, st.st_gid)
                # After chown, which clears set-user-ID and set-group-ID bits.
                os.fchmod(fout, stat.S_IMODE(mode))
                _set_xattrs(fout, xattrs)
                os.utime(fout, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fout)
        finally:
            os.close(fin)
        return
    if stat.S_ISLNK(mode):
        os.symlink(os.readlink(name, dir_fd=src_dir), name, dir_fd=dst_dir)
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
        os.mknod(name, mode, st.st_rdev, dir_fd=dst_dir)
    else:
        return  # a socket: skipped, as continuity does
    inroot.set_meta(dst_dir, name, uid=st.st_uid, gid=st.st_gid)
    if not stat.S_ISLNK(mode):
        inroot.set_meta(dst_dir, name, mode=stat.S_IMODE(mode))
        if xattrs:
            fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dst_dir)
            try:
                for key, value in xattrs:
                    with contextlib.suppress(OSError):
                        os.setxattr(f"/proc/self/fd/{fd}", key, value)
            finally:
                os.close(fd)
    inroot.set_meta(dst_dir, name, times_ns=(st.st_atime_ns, st.st_mtime_ns))


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of directory ``src`` into the existing directory ``dst`` with
    owners, modes, times, xattrs and hard links, then give ``dst`` the owner and mode of
    ``src``. Iterative (no recursion limit). Symlinks are copied as links, never
    followed, on either side: ``dst`` may be a volume a running container writes to, so
    every write goes through directory fds made by the copy (``_Dest``), never through a
    path string a container could redirect with a symlink (issue 13). A directory of
    ``dst`` replaced meanwhile is skipped with what it would have held. Raises OSError."""
    from dockyard.snapshot import inroot

    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    src_fd = os.open(src, flags)
    try:
        dst_fd = os.open(dst, flags)
    except OSError:
        os.close(src_fd)
        raise
    dest = _Dest(dst_fd)
    links: dict[tuple[int, int], tuple[str, str]] = {}
    dirs: list[tuple[str, os.stat_result, list[tuple[str, bytes]]]] = []
    try:
        for rel, src_dir, name, st in inroot.walk(src_fd, "/"):
            if not rel:
                continue
            parent = os.path.dirname(rel)
            dst_dir = dest.open(parent)
            if dst_dir is None:
                continue
            xattrs = _xattrs(src_dir, name, st)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(name, 0o700, dir_fd=dst_dir)
                made = os.stat(name, dir_fd=dst_dir, follow_symlinks=False)
                dest.made[rel] = (made.st_dev, made.st_ino)
                dirs.append((rel, st, xattrs))
                continue
            if st.st_nlink > 1:
                first = links.get((st.st_dev, st.st_ino))
                if first is not None:
                    first_dir = dest.reopen(first[0])
                    if first_dir is not None:
                        try:
                            os.link(
                                first[1],
                                name,
                                src_dir_fd=first_dir,
                                dst_dir_fd=dst_dir,
                                follow_symlinks=False,
                            )
                        finally:
                            os.close(first_dir)
                    continue
                links[(st.st_dev, st.st_ino)] = (parent, name)
            _copy_entry(src_dir, dst_dir, name, st, xattrs)
        dest.close()
        # Directories last, children before parents, so their times are not changed by
        # their entries (each directory is listed after its parent).
        for rel, st, xattrs in reversed(dirs):
            fd = dest.reopen(rel)
            if fd is None:
                continue
            try:
                inroot.set_meta(fd, "", uid=st.st_uid, gid=st.st_gid, mode=stat.S_IMODE(st.st_mode))
                _set_xattrs(fd, xattrs)
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(fd)
        root = os.fstat(src_fd)
        os.fchown(dst_fd, root.st_uid, root.st_gid)
        os.fchmod(dst_fd, stat.S_IMODE(root.st_mode))
    finally:
        dest.close()
        os.close(dst_fd)
        os.close(src_fd)


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
