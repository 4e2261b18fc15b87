"""Thin ctypes wrappers for the kernel calls the runtime needs and Python lacks.

Every wrapper raises ``OSError(errno, strerror, path)`` on failure, so callers can name
the path that failed. Where the ``os`` module has the call (setresuid, setgroups, mknod,
setsid, ...) the runtime uses ``os`` directly.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)

# clone(2)/unshare(2) flags.
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# mount(2) flags.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MS_LAZYTIME = 1 << 25

MNT_DETACH = 2

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_READ = 23
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4

_PIVOT_ROOT_NR = {"x86_64": 155, "aarch64": 41, "armv7l": 218, "ppc64le": 203, "s390x": 217}
_KEYCTL_NR = {"x86_64": 250, "aarch64": 219, "armv7l": 311, "ppc64le": 271, "s390x": 280}
KEYCTL_SETPERM = 5
KEYCTL_DESCRIBE = 6
KEYCTL_JOIN_SESSION_KEYRING = 1
#: KEY_USR_SEARCH: the possessor's uid may search the keyring (keyutils.h).
KEY_USR_SEARCH = 0x00080000
#: KEY_OTH_SEARCH: any process may search it (runc's choice in a user namespace).
KEY_OTH_SEARCH = 0x00000008

_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.setdomainname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [
    ctypes.c_int,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
    ctypes.c_ulong,
]
_libc.syscall.restype = ctypes.c_long


def _check(ret: int, path: str | None = None) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def mount(
    source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None
) -> None:
    """mount(2). ``flags`` are MS_* bits; ``data`` the filesystem's option string."""
    _check(_libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)), target)


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2); ``flags`` e.g. MNT_DETACH."""
    _check(_libc.umount2(_b(target), flags), target)


def unshare(flags: int) -> None:
    """unshare(2) with CLONE_NEW* ``flags``."""
    _check(_libc.unshare(flags))


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace open at ``fd`` (``nstype`` 0 accepts any type)."""
    _check(_libc.setns(fd, nstype))


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2) through syscall(2): glibc has no wrapper."""
    nr = _PIVOT_ROOT_NR.get(os.uname().machine)
    if nr is None:
        raise OSError(38, "pivot_root: unsupported architecture " + os.uname().machine)
    _check(_libc.syscall(ctypes.c_long(nr), _b(new_root), _b(put_old)), new_root)


def sethostname(name: str) -> None:
    """sethostname(2) in the current UTS namespace."""
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)))


def setdomainname(name: str) -> None:
    """setdomainname(2) (the NIS domain name) in the current UTS namespace."""
    raw = name.encode()
    _check(_libc.setdomainname(raw, len(raw)))


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    """prctl(2); returns its (non-negative) result."""
    return _check(_libc.prctl(option, arg2, arg3, arg4, arg5))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


_LINUX_CAPABILITY_VERSION_3 = 0x20080522


def capget() -> tuple[int, int, int]:
    """capget(2) of this thread: (effective, permitted, inheritable) as 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_libc.capget(ctypes.byref(hdr), data))
    eff, prm, inh = (
        getattr(data[0], f) | (getattr(data[1], f) << 32)
        for f in ("effective", "permitted", "inheritable")
    )
    return eff, prm, inh


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """capset(2) of this thread from 64-bit masks."""
    hdr = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    for i in range(2):
        shift = 32 * i
        data[i].effective = (effective >> shift) & 0xFFFFFFFF
        data[i].permitted = (permitted >> shift) & 0xFFFFFFFF
        data[i].inheritable = (inheritable >> shift) & 0xFFFFFFFF
    _check(_libc.capset(ctypes.byref(hdr), data))


def _keyctl(*args: int | bytes | ctypes.Array[ctypes.c_char]) -> int:
    nr = _KEYCTL_NR.get(os.uname().machine)
    if nr is None:
        raise OSError(38, "keyctl: unsupported architecture " + os.uname().machine)
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return _check(_libc.syscall(ctypes.c_long(nr), *conv))


def join_session_keyring(name: str) -> int:
    """keyctl(KEYCTL_JOIN_SESSION_KEYRING, name): a new (or the named, if searchable)
    session keyring for this process; returns its serial number."""
    return _keyctl(KEYCTL_JOIN_SESSION_KEYRING, name.encode())


def keyring_add_perm(serial: int, bits: int) -> None:
    """Add permission ``bits`` (KEY_* masks) to key ``serial`` (KEYCTL_DESCRIBE, then
    KEYCTL_SETPERM), as runc's ModKeyringPerm."""
    buf = ctypes.create_string_buffer(512)
    n = _keyctl(KEYCTL_DESCRIBE, serial, buf, len(buf))
    # "type;uid;gid;perm;description", perm in hex.
    perm = int(buf.raw[: max(n - 1, 0)].split(b";")[3], 16)
    _keyctl(KEYCTL_SETPERM, serial, perm | bits)
