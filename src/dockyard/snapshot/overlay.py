"""Overlayfs root filesystems: read-only shared layers below, one upper dir per container."""

from __future__ import annotations

import errno
import functools
import os

from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False  # typing is not imported on the build and run paths (bench/README.md)
if TYPE_CHECKING:
    from typing import Any

MS_RDONLY = 1
MNT_DETACH = 2
# mount(2) copies at most one page of option data.
_PAGE_SIZE = os.sysconf("SC_PAGESIZE")


@functools.cache
def _libc() -> Any:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_char_p,
        ctypes.c_ulong,
        ctypes.c_char_p,
    ]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()


def mount_rootfs(
    lower_dirs: list[str],
    upper: str,
    work: str,
    target: str,
    *,
    readonly: bool = False,
    volatile: bool = False,
) -> None:
    """Mount overlayfs at ``target`` with ``lower_dirs`` (topmost first), ``upper``, ``work``.

    ``upper``, ``work`` and ``target`` are created if missing; ``readonly`` adds
    ``MS_RDONLY`` to the whole mount (for ``docker run --read-only`` the runtime should
    rather remount the root read-only after creating mount points). When the option string
    does not fit in one page, a forked child opens the lower dirs, ``chdir``s to
    ``/proc/self/fd`` and names them by fd number (Docker overlay2's ``mountFrom`` idea),
    leaving this process's cwd alone. ``volatile`` skips overlayfs's sync of the upper
    layer at unmount (Linux 5.10+): for writable layers that are thrown away after one run
    (``--rm``), where that sync is most of the unmount's cost. A directory given twice (one
    layer twice in an image, e.g. the empty layers of two RUN steps that changed nothing)
    is kept only where it is topmost: overlayfs refuses a lower used twice (ELOOP), and
    the lower copy adds nothing the upper one does not. Raises ``InvalidArgument`` for no
    lower dirs or paths containing ``,`` or ``:``, ``DockyardError`` if mount(2) fails.
    """
    if not lower_dirs:
        raise InvalidArgument(f"overlay mount at {target}: no lower directories")
    lowers = list(dict.fromkeys(os.path.abspath(d) for d in lower_dirs))
    upper, work, target = (os.path.abspath(p) for p in (upper, work, target))
    for p in (*lowers, upper, work):
        if "," in p or ":" in p:
            raise InvalidArgument(f"overlay mount at {target}: path {p} contains ',' or ':'")
    for d in (upper, work, target):
        os.makedirs(d, exist_ok=True)
    flags = MS_RDONLY if readonly else 0
    rest = f",upperdir={upper},workdir={work}" + (",volatile" if volatile else "")
    data = os.fsencode("lowerdir=" + ":".join(lowers) + rest)
    if len(data) >= _PAGE_SIZE:
        err = _mount_by_fd(lowers, rest, target, flags)
    elif _libc().mount(b"overlay", os.fsencode(target), b"overlay", flags, data) != 0:
        err = _errno()
    else:
        err = 0
    if err:
        raise DockyardError(f"overlay mount at {target}: {os.strerror(err)}")


def _mount_by_fd(lowers: list[str], rest: str, target: str, flags: int) -> int:
    """Mount from a child whose cwd is /proc/self/fd, naming lowers by fd; returns errno."""
    libc = _libc()
    fds: list[int] = []
    try:
        for d in lowers:
            fds.append(os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        data = os.fsencode("lowerdir=" + ":".join(map(str, fds)) + rest)
        if len(data) >= _PAGE_SIZE:
            raise InvalidArgument(f"overlay mount at {target}: too many layers ({len(lowers)})")
        target_b = os.fsencode(target)
        pid = os.fork()
        if pid == 0:
            try:
                os.chdir("/proc/self/fd")
                rc = libc.mount(b"overlay", target_b, b"overlay", flags, data)
                os._exit(0 if rc == 0 else _errno())
            finally:
                os._exit(errno.EIO)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)
    finally:
        for fd in fds:
            os.close(fd)


def unmount(target: str) -> None:
    """Detach the mount at ``target`` (MNT_DETACH); a path that is not mounted is fine.

    Raises ``DockyardError`` for any other umount2(2) failure.
    """
    if _libc().umount2(os.fsencode(target), MNT_DETACH) != 0:
        err = _errno()
        if err not in (errno.EINVAL, errno.ENOENT):
            raise DockyardError(f"unmount {target}: {os.strerror(err)}")


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` (this mount namespace's mountinfo)."""
    import re

    unescape = re.compile(r"\\([0-7]{3})")  # mountinfo escapes space, tab, newline, \\
    try:
        with open("/proc/self/mountinfo") as f:
            points = [unescape.sub(lambda m: chr(int(m[1], 8)), ln.split()[4]) for ln in f]
    except OSError:
        return []
    return [p for p in points if p == path or p.startswith(path + "/")]


def unmount_under(path: str) -> None:
    """Detach every mount at or below ``path``, deepest first, so that removing the
    directory cannot reach into a mounted file system (what a killed build or run
    leaves mounted). Failures are left for the caller's removal to report."""
    for point in sorted(mounts_under(path), key=len, reverse=True):
        try:
            unmount(point)
        except DockyardError:
            continue
