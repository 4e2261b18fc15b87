"""Act on paths inside a root directory through file descriptors (the filesystem rule).

A path that an image, a build context or a running container controls may contain
symlinks, and a process in a running container may swap a component for a symlink at any
moment. So such a path is never resolved as a string on the host and used again later:
it is resolved once, from a directory fd of the root, and everything after acts on the
resulting fd:

- lookups use ``openat2(2)`` (Linux 5.6) with ``RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS``:
  the kernel interprets ``..`` and absolute symlinks as if the process were chrooted at the
  root, atomically against concurrent renames;
- creating missing directories (``mkdirs``) walks one component at a time with
  ``mkdirat``/``openat(O_NOFOLLOW)`` from fds it holds, following symlinks by their text
  inside the root (filepath-securejoin's ``MkdirAllHandle`` semantics);
- the last component of a path is acted on with ``*at`` calls that never follow it
  (``AT_SYMLINK_NOFOLLOW``, ``O_NOFOLLOW``), or through an fd (``fchown``, ``fchmod``,
  ``futimens``);
- mounting onto a resolved directory uses ``/proc/self/fd/N`` of its fd, as runc does
  since 1.0.0-rc95 (CVE-2021-30465).

Every function raises ``OSError`` with the errno of the call that failed and the
untrusted path as ``filename``. All fds returned are ``O_CLOEXEC``; the caller closes them.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Iterator

# openat2(2) resolve flags (linux/openat2.h).
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10
RESOLVE_CACHED = 0x20

#: The resolution every lookup inside a root uses.
IN_ROOT = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS

#: Symlinks followed by ``mkdirs`` before giving up (filepath-securejoin's limit; the
#: kernel's own limit for openat2 is 40).
MAX_LINK_HOPS = 255

#: openat2's number, the same on every architecture (the unified syscall table).
_SYS_OPENAT2 = 437
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


def openat2(dir_fd: int, path: str, flags: int, mode: int = 0, resolve: int = IN_ROOT) -> int:
    """``openat2(dir_fd, path, {flags | O_CLOEXEC, mode, resolve})`` -> a new fd.

    ``flags`` are ``os.O_*`` bits; ``mode`` only with ``O_CREAT``/``O_TMPFILE`` (else the
    kernel refuses it). ``EAGAIN`` (a rename raced a ``RESOLVE_IN_ROOT`` lookup, which the
    kernel refuses rather than risk an escape) is retried a bounded number of times.
    Raises ``OSError`` (``ENOSYS`` before Linux 5.6).
    """
    tmpfile = os.O_TMPFILE  # includes O_DIRECTORY's bit
    if not flags & os.O_CREAT and flags & tmpfile != tmpfile:
        mode = 0
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path)
    for _ in range(128):
        fd = _libc.syscall(
            ctypes.c_long(_SYS_OPENAT2),
            ctypes.c_int(dir_fd),
            ctypes.c_char_p(raw),
            ctypes.byref(how),
            ctypes.c_size_t(ctypes.sizeof(how)),
        )
        if fd >= 0:
            return int(fd)
        err = ctypes.get_errno()
        if err not in (errno.EAGAIN, errno.EINTR):
            raise OSError(err, os.strerror(err), path)
    raise OSError(errno.EAGAIN, os.strerror(errno.EAGAIN), path)


def open_root(path: str) -> int:
    """A directory fd (``O_RDONLY | O_DIRECTORY``) of a trusted root directory path.

    The root itself is the engine's (a rootfs mount point, a volume's ``_data``, a build
    context's copy), so it is opened as given. Raises ``OSError``.
    """
    return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def open_in(
    root_fd: int, path: str, flags: int = os.O_RDONLY, mode: int = 0o644, *, follow: bool = True
) -> int:
    """Open ``path`` resolved inside the root ``root_fd`` -> a new fd.

    ``path`` is untrusted: absolute or relative, ``..`` and symlinks are confined to the
    root (``RESOLVE_IN_ROOT``), magic links (``/proc/self/...``) refused (``ELOOP``). With
    ``follow=False`` a symlink as the last component is not followed (``O_NOFOLLOW``: with
    ``O_PATH`` the fd is the symlink itself, otherwise ``ELOOP``). ``""`` or ``/`` opens
    the root. Raises ``OSError``.
    """
    if not follow:
        flags |= os.O_NOFOLLOW
    return openat2(root_fd, path.lstrip("/") or ".", flags, mode)


def split(path: str) -> tuple[str, str]:
    """``path`` -> (parent, last component) as ``*at`` calls need them.

    ``"/a/b/"`` -> ``("/a", "b")``; the root (``"/"``, ``""``, ``"."``) -> ``("/", "")``.
    A last component of ``..`` or ``.`` is kept in the parent (``"a/.."`` -> ``("a/..", "")``)
    so it is resolved inside the root, never given to an ``*at`` call.
    """
    parts = [p for p in path.split("/") if p]
    if not parts or parts[-1] in (".", ".."):
        return "/" + "/".join(parts), ""
    return "/" + "/".join(parts[:-1]), parts[-1]


def open_parent(
    root_fd: int, path: str, *, create: bool = False, mode: int = 0o755
) -> tuple[int, str]:
    """Resolve the parent of ``path`` inside the root -> (directory fd, last component).

    The last component is returned as a name for ``*at`` calls on the directory fd
    (``os.stat(name, dir_fd=fd, follow_symlinks=False)``, ``os.unlink(name, dir_fd=fd)``,
    ``create``, ``set_meta``): it is never followed. With ``create`` missing parent
    directories are made (``mkdirs``, ``mode``). For the root itself the name is ``""``
    and the fd is the root's own (a new one). Raises ``OSError`` (``ENOENT``, ``ENOTDIR``,
    ``ELOOP``...).
    """
    parent, name = split(path)
    fd = (
        mkdirs(root_fd, parent, mode)
        if create
        else open_in(root_fd, parent, os.O_RDONLY | os.O_DIRECTORY)
    )
    return fd, name


def mkdirs(root_fd: int, path: str, mode: int = 0o755) -> int:
    """``mkdir -p`` of ``path`` inside the root -> an ``O_RDONLY | O_DIRECTORY`` fd of it.

    Walks one component at a time from fds it holds: an existing directory is entered with
    ``openat(O_NOFOLLOW | O_DIRECTORY)``, a missing one made with ``mkdirat`` (``mode``,
    minus the umask) and entered the same way, a symlink followed by its text inside the
    root (an absolute target restarts at the root, ``..`` never goes above it, a dangling
    target is created inside the root), as filepath-securejoin's ``MkdirAllHandle``. A
    component swapped for a symlink between the look and the open is looked at again; no
    step ever resolves a path string outside an fd already held. Raises ``OSError``:
    ``ENOTDIR`` when a component is not a directory, ``ELOOP`` after 255 symlinks.
    """
    stack = [os.dup(root_fd)]
    remaining = [p for p in reversed(path.split("/")) if p not in ("", ".")]
    hops = 0
    try:
        while remaining:
            part = remaining.pop()
            if part == "..":
                if len(stack) > 1:
                    os.close(stack.pop())
                continue
            stack.append(_enter(stack[-1], part, mode, path, remaining))
            if stack[-1] < 0:  # a symlink: its target went onto ``remaining``
                stack.pop()
                hops += 1
                if hops > MAX_LINK_HOPS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                if remaining and remaining[-1] == "\0/":
                    remaining.pop()
                    while len(stack) > 1:
                        os.close(stack.pop())
        result = stack.pop()
    finally:
        for fd in stack:
            os.close(fd)
    return result


def _enter(dir_fd: int, part: str, mode: int, path: str, remaining: list[str]) -> int:
    """One ``mkdirs`` step: an fd of directory ``part`` in ``dir_fd`` (made if missing), or
    -1 after pushing a symlink's target onto ``remaining`` (``"\\0/"`` marks an absolute one)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(64):
        try:
            return os.open(part, flags, dir_fd=dir_fd)
        except FileNotFoundError:
            try:
                os.mkdir(part, mode, dir_fd=dir_fd)
            except FileExistsError:
                pass  # made meanwhile, or a dangling symlink: look again
            continue
        except OSError as exc:
            if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise OSError(exc.errno, exc.strerror, path) from None
        try:
            target = os.readlink(part, dir_fd=dir_fd)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.EINVAL:  # not a symlink: a file in the way
                raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path) from None
            raise OSError(exc.errno, exc.strerror, path) from None
        remaining.extend(p for p in reversed(target.split("/")) if p not in ("", "."))
        if target.startswith("/"):
            remaining.append("\0/")
        return -1
    raise OSError(errno.EAGAIN, "path keeps changing", path)


def create(
    root_fd: int, path: str, mode: int = 0o644, *, replace: bool = True, dir_mode: int = 0o755
) -> int:
    """Create (or truncate) regular file ``path`` inside the root -> an ``O_WRONLY`` fd.

    Missing parents are made (``mkdirs``, ``dir_mode``). The file itself is opened with
    ``O_CREAT | O_NOFOLLOW``; with ``replace`` an existing entry that is not a regular file
    or a directory (a symlink, a device...) is unlinked first (``unlinkat``, never
    followed), as ``cp``/``tar`` replace it; a directory in the way is ``EISDIR``. The new
    file's mode is ``mode`` minus the umask (``fchmod`` the fd for an exact one).
    Raises ``OSError``.
    """
    dir_fd, name = open_parent(root_fd, path, create=True, mode=dir_mode)
    try:
        if not name:
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
        for _ in range(64):
            try:
                fd = os.open(name, flags, mode, dir_fd=dir_fd)
            except OSError as exc:
                if not replace or exc.errno not in (
                    errno.ELOOP,
                    errno.ENXIO,
                    errno.EEXIST,
                    errno.ETXTBSY,
                ):
                    raise OSError(exc.errno, exc.strerror, path) from None
                remove_entry(dir_fd, name)
                continue
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                os.set_blocking(fd, True)
                return fd
            os.close(fd)  # opened a FIFO or device swapped in: never write to it
            if not replace:
                raise OSError(errno.EEXIST, os.strerror(errno.EEXIST), path)
            remove_entry(dir_fd, name)
        raise OSError(errno.EAGAIN, "path keeps changing", path)
    finally:
        os.close(dir_fd)


def remove_entry(dir_fd: int, name: str) -> None:
    """Unlink ``name`` in ``dir_fd`` unless it is a directory (``unlinkat``, which never
    follows a symlink); a missing entry is fine. Raises ``OSError`` (``EISDIR``)."""
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        raise
    except PermissionError:
        # unlink(2) on a directory gives EISDIR on Linux, but EPERM on some filesystems.
        if stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), name) from None
        raise


def set_meta(
    dir_fd: int,
    name: str,
    *,
    uid: int = -1,
    gid: int = -1,
    mode: int | None = None,
    times_ns: tuple[int, int] | None = None,
) -> None:
    """Set owner, mode and times of entry ``name`` of ``dir_fd``, never following it.

    ``uid``/``gid`` (-1 leaves one unchanged) by ``fchownat(AT_SYMLINK_NOFOLLOW)``, then
    ``mode`` (permission bits incl. setuid/setgid/sticky; skipped for a symlink, which has
    none on Linux) through an ``O_PATH | O_NOFOLLOW`` fd's ``/proc/self/fd/N`` (Linux has
    no ``fchmodat`` flag for it before 6.6), then ``times_ns`` (atime, mtime in ns) by
    ``utimensat(AT_SYMLINK_NOFOLLOW)``. ``name == ""`` means ``dir_fd`` itself. Chown
    first, as it clears setuid bits. Raises ``OSError``.
    """
    if not name:
        if uid != -1 or gid != -1:
            os.fchown(dir_fd, uid, gid)
        if mode is not None:
            os.fchmod(dir_fd, mode)
        if times_ns is not None:
            os.utime(dir_fd, ns=times_ns)
        return
    if uid != -1 or gid != -1:
        os.chown(name, uid, gid, dir_fd=dir_fd, follow_symlinks=False)
    if mode is not None:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        try:
            if not stat.S_ISLNK(os.fstat(fd).st_mode):
                os.chmod(f"/proc/self/fd/{fd}", mode)
        finally:
            os.close(fd)
    if times_ns is not None:
        os.utime(name, ns=times_ns, dir_fd=dir_fd, follow_symlinks=False)


def set_xattr(dir_fd: int, name: str, key: str, value: bytes) -> None:
    """``setxattr`` on entry ``name`` of ``dir_fd`` (``""``: the directory), never following
    it: through an ``O_PATH | O_NOFOLLOW`` fd's ``/proc/self/fd/N``; a symlink is skipped
    (``user.*`` attributes are not allowed on symlinks). Raises ``OSError``."""
    fd = os.open(name or ".", os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        if not stat.S_ISLNK(os.fstat(fd).st_mode):
            os.setxattr(f"/proc/self/fd/{fd}", key, value)
    finally:
        os.close(fd)


def fd_path(fd: int) -> str:
    """``/proc/self/fd/N``: a path naming exactly the file ``fd`` refers to, for calls that
    take only a path (``mount(2)`` targets and sources, ``chmod`` of an ``O_PATH`` fd).
    Valid while ``fd`` is open, in this process."""
    return f"/proc/self/fd/{fd}"


def mount_target(root_fd: int, path: str, *, directory: bool = True, mode: int = 0o755) -> int:
    """Resolve (and create if missing) a mount destination inside the root -> an ``O_PATH``
    fd to mount onto with ``fd_path(fd)``.

    ``directory``: the target is a directory (``mkdirs``, ``mode``); otherwise a file: an
    existing entry is used as it is (symlinks followed inside the root), a missing one
    created empty with ``mode`` (runc's 0755), parents made. The fd pins the inode
    resolved inside the root, so a component swapped for a symlink after this call cannot
    redirect the mount (runc's rule since 1.0.0-rc95, CVE-2021-30465). After mounting,
    reopen the path (``open_in``) to reach the new mount, and check it is the one made.
    Raises ``OSError``.
    """
    if directory:
        fd = mkdirs(root_fd, path, mode)
        try:
            return os.open(".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=fd)
        finally:
            os.close(fd)
    try:
        return open_in(root_fd, path, os.O_PATH)
    except FileNotFoundError:
        pass
    dir_fd, name = open_parent(root_fd, path, create=True, mode=mode)
    try:
        if not name:
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            os.close(os.open(name, flags, mode, dir_fd=dir_fd))
        except FileExistsError:
            pass  # made meanwhile: whatever it is, it is not followed below
        return os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    finally:
        os.close(dir_fd)


def walk(root_fd: int, path: str = "/") -> Iterator[tuple[str, int, str, os.stat_result]]:
    """Walk the tree at ``path`` inside the root, never following a symlink -> entries
    ``(relative path, parent dir fd, name, lstat)``, parents before children, the top
    itself first as ``("", its parent's fd, its name, lstat)`` (name ``""`` for the root).

    Iterative (no recursion or PATH_MAX limit), at most three fds open at a time. Each
    directory is opened from the top's fd with ``openat2(RESOLVE_IN_ROOT |
    RESOLVE_NO_SYMLINKS)`` and checked to be the inode that was listed, so a directory
    swapped for a symlink or another directory meanwhile is skipped, never followed. The
    parent fd is valid only until the generator is resumed: open ``name`` from it
    (``os.open(name, O_RDONLY | O_NOFOLLOW, dir_fd=fd)``) to read a file. A symlink as
    ``path``'s last component is reported, not followed. Raises ``OSError``.
    """
    top_parent, top_name = open_parent(root_fd, path)
    try:
        st = os.stat(top_name or ".", dir_fd=top_parent, follow_symlinks=False)
        yield "", top_parent, top_name, st
        if not stat.S_ISDIR(st.st_mode):
            return
        top = _open_dir_checked(top_parent, top_name or ".", st)
    finally:
        os.close(top_parent)
    if top is None:
        return
    try:
        stack: list[tuple[str, os.stat_result]] = [("", st)]
        while stack:
            rel, dst = stack.pop()
            dir_fd = _open_dir_checked(top, rel or ".", dst, in_root=True)
            if dir_fd is None:
                continue
            try:
                subdirs = []
                for name in sorted(os.listdir(dir_fd)):
                    try:
                        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                    except FileNotFoundError:
                        continue
                    child = f"{rel}/{name}" if rel else name
                    yield child, dir_fd, name, st
                    if stat.S_ISDIR(st.st_mode):
                        subdirs.append((child, st))
                stack.extend(reversed(subdirs))
            finally:
                os.close(dir_fd)
    finally:
        os.close(top)


def _open_dir_checked(
    dir_fd: int, name: str, st: os.stat_result, *, in_root: bool = False
) -> int | None:
    """``name`` in ``dir_fd`` opened as a directory if it is still the inode ``st``, else
    None (gone, or swapped). ``in_root``: ``name`` is a relative path of several
    components, resolved with ``openat2`` refusing every symlink."""
    try:
        if in_root:
            fd = openat2(
                dir_fd, name, os.O_RDONLY | os.O_DIRECTORY, resolve=IN_ROOT | RESOLVE_NO_SYMLINKS
            )
        else:
            flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(name, flags, dir_fd=dir_fd)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise
    now = os.fstat(fd)
    if (now.st_dev, now.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        return None
    return fd
