"""The container's side of ``create``: join/unshare namespaces, set up the rootfs, exec.

``stage1`` runs in the first child: it joins the cgroup, joins or unshares the namespaces
(cgroup namespace last, after joining the cgroup, so the container sees its cgroup as
root), forks PID 1 and exits. ``stage2`` is PID 1: it builds the rootfs in its mount
namespace (OCI config.md "mounts", config-linux.md "devices", "maskedPaths",
"readonlyPaths"), pivots into it, drops privileges, resolves the command inside the
container, reports "ready", waits on the exec fifo and execs (runc's standard init).

Messages to the parent are JSON lines on the sync pipe: ``{"type": "pid", "pid": N}``,
``{"type": "ready"}`` or ``{"type": "error", "message": ..., "code": 125|126|127}``.
Both stages are forked children of the caller: they must never return, and they import
nothing heavy (the parent's modules are already loaded).
"""

from __future__ import annotations

# The C module, not socket.py: its enum conversions and selectors import are paid by every
# run (a module imported here must be loaded before pivot_root: nothing is found after).
import _socket
import errno
import fcntl
import json
import os
import resource
import signal
import stat
import struct
from collections.abc import Callable

from dockyard.errors import DockyardError
from dockyard.runtime import caps as _caps
from dockyard.runtime import seccomp as _seccomp
from dockyard.runtime import syscalls as sc
from dockyard.snapshot import inroot
from dockyard.snapshot.securejoin import securejoin as _securejoin

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

NS_FLAGS = {
    "mount": sc.CLONE_NEWNS,
    "network": sc.CLONE_NEWNET,
    "uts": sc.CLONE_NEWUTS,
    "ipc": sc.CLONE_NEWIPC,
    "pid": sc.CLONE_NEWPID,
    "cgroup": sc.CLONE_NEWCGROUP,
    "time": sc.CLONE_NEWTIME,
    "user": sc.CLONE_NEWUSER,
}

# option -> (clear?, MS_* flag): runc's mount option table.
_MOUNT_FLAGS: dict[str, tuple[bool, int]] = {
    "async": (True, sc.MS_SYNCHRONOUS),
    "atime": (True, sc.MS_NOATIME),
    "bind": (False, sc.MS_BIND),
    "defaults": (False, 0),
    "dev": (True, sc.MS_NODEV),
    "diratime": (True, sc.MS_NODIRATIME),
    "dirsync": (False, sc.MS_DIRSYNC),
    "exec": (True, sc.MS_NOEXEC),
    "mand": (False, sc.MS_MANDLOCK),
    "noatime": (False, sc.MS_NOATIME),
    "nodev": (False, sc.MS_NODEV),
    "nodiratime": (False, sc.MS_NODIRATIME),
    "noexec": (False, sc.MS_NOEXEC),
    "nosuid": (False, sc.MS_NOSUID),
    "nomand": (True, sc.MS_MANDLOCK),
    "norelatime": (True, sc.MS_RELATIME),
    "nostrictatime": (True, sc.MS_STRICTATIME),
    "rbind": (False, sc.MS_BIND | sc.MS_REC),
    "relatime": (False, sc.MS_RELATIME),
    "remount": (False, sc.MS_REMOUNT),
    "ro": (False, sc.MS_RDONLY),
    "rw": (True, sc.MS_RDONLY),
    "strictatime": (False, sc.MS_STRICTATIME),
    "suid": (True, sc.MS_NOSUID),
    "sync": (False, sc.MS_SYNCHRONOUS),
    "lazytime": (False, sc.MS_LAZYTIME),
    "nosymfollow": (False, sc.MS_NOSYMFOLLOW),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE,
    "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED,
    "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE,
    "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE,
    "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# Flags the kernel locks on a bind mount: a remount must repeat them (statvfs ST_* bits
# have the same values as MS_*).
_LOCKED = (
    sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_NOATIME | sc.MS_NODIRATIME | sc.MS_RELATIME
)

# Docker's/runc's default device nodes: (path, major, minor), character devices 0666.
DEFAULT_DEVICES = (
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
)
DEV_SYMLINKS = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
)

TIOCSCTTY = 0x540E
TIOCSWINSZ = 0x5414
TIOCGPTN = 0x80045430
TIOCSPTLCK = 0x40045431
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1


class SetupError(Exception):
    """A setup step failed; ``code`` is the exit code the parent reports (125/126/127)."""

    def __init__(self, message: str, code: int = 125) -> None:
        super().__init__(message)
        self.code = code


def _step(what: str, err: OSError) -> SetupError:
    where = f" {err.filename}" if err.filename else ""
    return SetupError(f"{what}{where}: {err.strerror or err}")


def _send(fd: int, msg: dict[str, Any]) -> None:
    os.write(fd, (json.dumps(msg) + "\n").encode())


def securejoin(root: str, path: str) -> str:
    """``path`` resolved inside ``root`` (symlinks and ``..`` clamped), as SetupError."""
    try:
        return _securejoin(root, path)
    except DockyardError as e:
        raise SetupError(f"resolve {path} in rootfs: {e}") from None


def parse_mount_options(options: list[str]) -> tuple[int, int, str]:
    """OCI mount options -> (MS_* flags, propagation flags, data string)."""
    flags = prop = 0
    data = []
    for opt in options:
        if opt in _MOUNT_FLAGS:
            clear, bit = _MOUNT_FLAGS[opt]
            flags = flags & ~bit if clear else flags | bit
        elif opt in _PROPAGATION:
            prop |= _PROPAGATION[opt]
        else:
            data.append(opt)
    return flags, prop, ",".join(data)


def _locked_flags(path: str) -> int:
    return os.statvfs(path).f_flag & _LOCKED


def _remount_ro(path: str, extra: int = 0) -> None:
    flags = sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY | extra | _locked_flags(path)
    sc.mount(None, path, None, flags, None)


def _makedirs(path: str, mode: int = 0o755) -> None:
    # Parents get ``mode`` too (as runc's MkdirAll): os.makedirs would give them
    # 0777 & ~umask, and the umask is 0 here.
    if os.path.isdir(path):
        return
    parent = os.path.dirname(path)
    if parent != path:
        _makedirs(parent, mode)
    try:
        os.mkdir(path, mode)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def _touch(path: str) -> None:
    _makedirs(os.path.dirname(path))
    if not os.path.lexists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o755))


# ---------------------------------------------------------------- stage 1


def stage1(spec: dict[str, Any], ctx: dict[str, Any]) -> None:
    """First child: cgroup, namespaces, fork PID 1, exit. Never returns."""
    code = 1
    try:
        # Non-dumpable until the container's program is exec'd (runc's nsexec): no
        # process in the container may open /proc/<pid>/exe of this interpreter.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        _reset_signals()
        keep = sorted(ctx["keep_fds"])
        _close_fds_except(keep)
        manager = ctx.get("cgroup")
        if manager is not None:
            manager.add(os.getpid())
        adj = spec["process"].get("oomScoreAdj")
        if adj is not None:
            # Before the namespaces: lowering it needs CAP_SYS_RESOURCE in the host's.
            try:
                with open("/proc/self/oom_score_adj", "w") as f:
                    f.write(str(int(adj)))
            except OSError as e:
                raise _step(f"set oom_score_adj {adj}", e) from None
        linux = spec.get("linux") or {}
        namespaces = linux.get("namespaces") or []
        types = {ns.get("type") for ns in namespaces}
        # Open every namespace to join before joining any (paths are in the caller's view).
        join = []
        for ns in namespaces:
            if ns.get("path"):
                if ns["type"] not in NS_FLAGS:
                    raise SetupError(f"unknown namespace type {ns['type']}")
                try:
                    join.append((os.open(ns["path"], os.O_RDONLY | os.O_CLOEXEC), ns))
                except OSError as e:
                    raise _step(f"open {ns['type']} namespace", e) from None
        # A user namespace first (the others are then joined with its privileges), mount
        # last.
        order = {"user": 0, "mount": 2}
        for fd, ns in sorted(join, key=lambda j: order.get(j[1]["type"], 1)):
            try:
                sc.setns(fd, NS_FLAGS[ns["type"]])
            except OSError as e:
                raise SetupError(
                    f"join {ns['type']} namespace {ns['path']}: {e.strerror}"
                ) from None
            os.close(fd)
        flags = 0
        for ns in namespaces:
            if not ns.get("path"):
                if ns.get("type") not in NS_FLAGS:
                    raise SetupError(f"unknown namespace type {ns.get('type')}")
                flags |= NS_FLAGS[ns["type"]]
        if flags & sc.CLONE_NEWUSER:
            # First, alone, so the other namespaces belong to it; the runtime writes
            # its uid/gid maps (from outside), then this process becomes its root.
            try:
                sc.unshare(sc.CLONE_NEWUSER)
            except OSError as e:
                raise _step("unshare user namespace", e) from None
            _send(ctx["sync_w"], {"type": "userns", "pid": os.getpid()})
            if os.read(ctx["userns_r"], 1) != b"1":
                raise SetupError("the runtime could not write the user namespace's id maps")
            os.close(ctx["userns_r"])
            try:
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
            except OSError as e:
                raise _step("become root in the user namespace", e) from None
            flags &= ~sc.CLONE_NEWUSER
        ctx["userns"] = "user" in types
        try:
            sc.unshare(flags)
        except OSError as e:
            raise _step("unshare namespaces", e) from None
        # Without a mount namespace of its own the container is chrooted into the rootfs
        # (runc's rule), and nothing can be mounted: in the caller's namespace, mounts
        # would change the host's mount table (runc makes them there) and outlive it.
        ctx["mount_ns"] = "mount" in types
        if not ctx["mount_ns"] and (
            spec.get("mounts") or linux.get("maskedPaths") or linux.get("readonlyPaths")
        ):
            raise SetupError(
                "mounts, maskedPaths and readonlyPaths need a mount namespace of the "
                "container's own (linux.namespaces)"
            )
        pid = os.fork()
        if pid == 0:
            stage2(spec, ctx, new_net=bool(flags & sc.CLONE_NEWNET))
        _send(ctx["sync_w"], {"type": "pid", "pid": pid})
        code = 0
    except SetupError as e:
        _try_send(ctx["sync_w"], {"type": "error", "message": str(e), "code": e.code})
    except BaseException as e:  # noqa: BLE001 - a forked child must never unwind
        _try_send(ctx["sync_w"], {"type": "error", "message": f"init: {e!r}", "code": 125})
    finally:
        os._exit(code)


def _try_send(fd: int, msg: dict[str, Any]) -> None:
    try:
        _send(fd, msg)
    except OSError:
        pass


def _reset_signals() -> None:
    # Python ignores SIGPIPE and SIGXFSZ; ignored dispositions survive execve.
    for sig in signal.valid_signals():
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            signal.signal(sig, signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def _close_fds_except(keep: list[int]) -> None:
    low = 3
    for fd in keep:
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1
    os.closerange(low, 1 << 20)


# ---------------------------------------------------------------- stage 2 (PID 1)


def stage2(spec: dict[str, Any], ctx: dict[str, Any], new_net: bool) -> None:
    """PID 1 of the container: set up, report ready, wait for start, exec. Never returns."""
    sync_w = ctx["sync_w"]
    try:
        path, env = _setup(spec, ctx, new_net)
    except SetupError as e:
        _try_send(sync_w, {"type": "error", "message": str(e), "code": e.code})
        os._exit(1)
    except DockyardError as e:
        _try_send(sync_w, {"type": "error", "message": str(e), "code": 125})
        os._exit(1)
    except BaseException as e:  # noqa: BLE001 - a forked child must never unwind
        _try_send(sync_w, {"type": "error", "message": f"init: {e!r}", "code": 125})
        os._exit(1)
    try:
        _send(sync_w, {"type": "ready"})
        os.close(sync_w)
        # Blocks until `start` opens the fifo for reading (runc's exec fifo).
        # Opened relative to the state dir fd: after setuid /proc/self/fd is not ours.
        fifo = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=ctx["state_fd"])
        os.write(fifo, b"0")
        os.close(fifo)
        os.close(ctx["state_fd"])
        if ctx.get("hooks") and ctx["hooks"]["startContainer"]:
            _start_container_hooks(ctx)
        os.execve(path, spec["process"]["args"], env)
    except OSError as e:
        code = 126 if e.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC) else 127
        try:
            os.write(2, f"exec {path}: {e.strerror}\n".encode())
        except OSError:
            pass
        os._exit(code)
    except BaseException:  # noqa: BLE001
        os._exit(125)


def _start_container_hooks(ctx: dict[str, Any]) -> None:
    """startContainer hooks, in the container after start (paths resolve inside it); a
    failure stops the container before its program runs."""
    from dockyard.runtime.hooks import HookError, run_all

    try:
        run_all("startContainer", ctx["hooks"]["startContainer"], ctx["hook_state"])
    except HookError as e:
        try:
            os.write(2, f"{e}\n".encode())
        except OSError:
            pass
        os._exit(1)


def _create_hooks(ctx: dict[str, Any]) -> None:
    """Stop for the runtime's prestart and createRuntime hooks, then run the
    createContainer hooks here, in the container's namespaces before pivot_root."""
    from dockyard.runtime.hooks import HookError, run_all

    _send(ctx["sync_w"], {"type": "hooks"})
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(ctx["hook_r"], 65536)
        if not chunk:
            raise SetupError("create stopped by the runtime (a prestart or createRuntime hook)")
        data += chunk
    os.close(ctx["hook_r"])
    ctx["hook_state"] = json.loads(data)
    try:
        run_all("createContainer", ctx["hooks"]["createContainer"], ctx["hook_state"])
    except HookError as e:
        raise SetupError(str(e)) from None


def _parent_mount_propagation(path: str, flags: int) -> None:
    """Make the mount ``path`` is on private (slave when the asked propagation is a
    slave one), walking up past non-mount-points (EINVAL): runc's
    rootfsParentMountPropagation. pivot_root refuses a shared parent, and a bind under
    a shared parent would propagate to the caller's namespace."""
    while True:
        try:
            sc.mount(None, path, None, flags)
            return
        except OSError as e:
            if e.errno != errno.EINVAL or path == "/":
                raise
            path = os.path.dirname(path)


def _setup(spec: dict[str, Any], ctx: dict[str, Any], new_net: bool) -> tuple[str, dict[str, str]]:
    linux = spec.get("linux") or {}
    process = spec["process"]
    rootfs = ctx["rootfs"]
    os.umask(0)
    try:
        os.setsid()
    except OSError as e:
        raise _step("setsid", e) from None
    _join_keyring(ctx["id"], ctx.get("userns", False))
    if new_net:
        _loopback_up()
    if not ctx["mount_ns"]:
        if ctx.get("hook_r") is not None:
            _create_hooks(ctx)
        try:
            os.chroot(rootfs)
            os.chdir("/")
        except OSError as e:
            raise _step("chroot", e) from None
        _set_hostname_sysctl(spec)
        return _enter_process(process, ctx.get("seccomp"))

    propagation = linux.get("rootfsPropagation") or ""
    if propagation and propagation not in _PROPAGATION:
        raise SetupError(f"invalid linux.rootfsPropagation {propagation!r}")
    prop = _PROPAGATION.get(propagation, sc.MS_SLAVE | sc.MS_REC)
    try:
        sc.mount(None, "/", None, prop)
        _parent_mount_propagation(rootfs, sc.MS_SLAVE if prop & sc.MS_SLAVE else sc.MS_PRIVATE)
        sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)
    except OSError as e:
        raise _step("prepare rootfs", e) from None
    for m in spec.get("mounts") or []:
        _do_mount(rootfs, m, ctx)
    has_dev = any(
        os.path.normpath(m.get("destination", "")) == "/dev" for m in spec.get("mounts") or []
    )
    if has_dev:
        _create_devices(rootfs, linux.get("devices") or [])
    pty_number = None
    if process.get("terminal"):
        pty_number = _setup_console(rootfs, ctx, process.get("consoleSize"))
    cwd = process.get("cwd") or "/"
    try:
        # Through fds: a volume mounted above it may be shared with a running container.
        _in_rootfs(rootfs, lambda root_fd: os.close(inroot.mkdirs(root_fd, cwd)))
    except OSError as e:
        raise _step("create cwd", e) from None
    if ctx.get("hook_r") is not None:
        _create_hooks(ctx)

    try:
        os.chdir(rootfs)
        sc.pivot_root(".", ".")
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount2(".", sc.MNT_DETACH)
        os.chdir("/")
    except OSError as e:
        raise _step("pivot_root", e) from None
    if propagation and not prop & (sc.MS_PRIVATE | sc.MS_SLAVE):
        # shared or unbindable, on the new "/" (runc): the parent was made private above.
        try:
            sc.mount(None, "/", None, prop)
        except OSError as e:
            raise _step("apply rootfsPropagation", e) from None

    if pty_number is not None:
        _attach_console(pty_number)
    if has_dev:
        # Like runc: /dev is read-only only when asked, after devices are made.
        for m in spec.get("mounts") or []:
            if os.path.normpath(m.get("destination", "")) == "/dev" and "ro" in (
                m.get("options") or []
            ):
                _remount_ro("/dev")
    if (spec.get("root") or {}).get("readonly"):
        try:
            _remount_ro("/", sc.MS_REC)
        except OSError as e:
            raise _step("remount rootfs read-only", e) from None
    _set_hostname_sysctl(spec)
    for path in linux.get("readonlyPaths") or []:
        _readonly_path(path)
    for path in linux.get("maskedPaths") or []:
        _mask_path(path)
    return _enter_process(process, ctx.get("seccomp"))


def _set_hostname_sysctl(spec: dict[str, Any]) -> None:
    hostname = spec.get("hostname")
    if hostname:
        try:
            sc.sethostname(hostname)
        except OSError as e:
            raise _step(f"sethostname {hostname}", e) from None
    domainname = spec.get("domainname")
    if domainname:
        try:
            sc.setdomainname(domainname)
        except OSError as e:
            raise _step(f"setdomainname {domainname}", e) from None
    for key, value in ((spec.get("linux") or {}).get("sysctl") or {}).items():
        try:
            with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
                f.write(value)
        except OSError as e:
            raise _step(f"write sysctl {key}", e) from None


def _join_keyring(container_id: str, userns: bool = False) -> None:
    """A session keyring of the container's own, ``_ses.<id>``, searchable by its
    possessor (runc's standard init; by "other" in a user namespace, whose root is
    not the keyring's owner): not the caller's, which holds the host's keys."""
    try:
        serial = sc.join_session_keyring("_ses." + container_id)
        sc.keyring_add_perm(serial, sc.KEY_OTH_SEARCH if userns else sc.KEY_USR_SEARCH)
    except OSError as e:
        if e.errno != errno.ENOSYS:  # a kernel without keyrings: nothing to share
            raise _step("join session keyring", e) from None


def _load_seccomp(seccomp: tuple[bytes, list[str]]) -> None:
    # The module is imported with this one: after pivot_root or setns(mnt) the
    # engine's files are out of reach.
    try:
        _seccomp.load_filter(*seccomp)
    except OSError as e:
        raise _step("load seccomp filter", e) from None


def _enter_process(
    process: dict[str, Any], seccomp: tuple[bytes, list[str]] | None
) -> tuple[str, dict[str, str]]:
    """The last steps before execve, shared by create and exec: rlimits, no_new_privs,
    seccomp (``(BPF program, OCI flags)``), user and capabilities, cwd, PATH lookup inside
    the container, umask, signal dispositions. Returns the executable's path and the
    environment; raises SetupError."""
    _set_rlimits(process.get("rlimits") or [])
    nnp = bool(process.get("noNewPrivileges"))
    if seccomp is not None and not nnp:
        # Without no_new_privs loading a filter needs CAP_SYS_ADMIN: before the drop
        # (runc's order); with it, as late as possible.
        _load_seccomp(seccomp)
    if nnp:
        sc.prctl(sc.PR_SET_NO_NEW_PRIVS, 1)
    _finalize_user(process)
    cwd = process.get("cwd") or "/"
    try:
        os.chdir(cwd)
    except OSError as e:
        raise SetupError(
            f'chdir to cwd ("{cwd}") set in config.json failed: {(e.strerror or "").lower()}'
        ) from None
    env = _environ(process.get("env") or [])
    path = lookpath(process["args"][0], env.get("PATH", DEFAULT_PATH))
    os.umask(process.get("user", {}).get("umask", 0o022))
    _reset_signals()
    if seccomp is not None and nnp:
        _load_seccomp(seccomp)
    return path, env


def _environ(entries: list[str]) -> dict[str, str]:
    env = {}
    for entry in entries:
        key, sep, value = entry.partition("=")
        if sep:
            env[key] = value
    return env


def lookpath(name: str, path_var: str) -> str:
    """Go's exec.LookPath, as runc uses it: the texts and codes Docker reports.

    Raises SetupError: 127 ``exec: "x": executable file not found in $PATH`` or
    ``exec: "/x": stat /x: no such file or directory``; 126 ``exec: "/etc": permission
    denied`` for a directory or a file without execute bits.
    """

    def check(p: str) -> None:
        st = os.stat(p)
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise PermissionError(errno.EACCES, "permission denied", p)

    if "/" in name:
        try:
            check(name)
        except PermissionError:
            raise SetupError(f'exec: "{name}": permission denied', 126) from None
        except OSError as e:
            msg = (e.strerror or str(e)).lower()
            code = 126 if e.errno in (errno.EACCES, errno.EPERM) else 127
            raise SetupError(f'exec: "{name}": stat {name}: {msg}', code) from None
        return name
    for d in path_var.split(":"):
        candidate = os.path.join(d or ".", name)
        try:
            check(candidate)
            return candidate
        except OSError:
            continue
    raise SetupError(f'exec: "{name}": executable file not found in $PATH', 127)


def _loopback_up() -> None:
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        req = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))
    except OSError as e:
        raise _step("bring up lo", e) from None
    finally:
        sock.close()


def _do_mount(rootfs: str, m: dict[str, Any], ctx: dict[str, Any]) -> None:
    """One OCI mount. The destination is resolved and created inside the rootfs through
    fds (``snapshot.inroot``), the mount made onto ``/proc/self/fd/N`` of the resolved
    target, and the new mount found again and checked (its root is the bind source, or a
    new filesystem) before remounts and propagation are applied to it: an earlier mount
    (a volume shared with a running container) may hold a symlink that is swapped in at
    any moment, which a path string would follow out of the rootfs (CVE-2021-30465)."""
    dest_rel = m.get("destination", "")
    if not dest_rel.startswith("/"):
        raise SetupError(f"mount destination {dest_rel} is not absolute")
    mtype = m.get("type") or ""
    flags, prop, data = parse_mount_options(m.get("options") or [])
    source = m.get("source") or ""
    if mtype == "cgroup":
        dest = securejoin(rootfs, dest_rel)
        try:
            _mount_cgroup(dest, flags, ctx)
            if prop:
                sc.mount(None, dest, None, prop)
        except OSError as e:
            raise SetupError(f"mount cgroup {source} to {dest_rel}: {e.strerror}") from None
        return
    bind = mtype == "bind" or bool(flags & sc.MS_BIND)
    if bind and not os.path.isabs(source):
        source = os.path.join(ctx["bundle"], source)
    root_fd = target = mounted = -1
    try:
        root_fd = inroot.open_root(rootfs)
        if bind:
            want = os.stat(source)
            target = inroot.mount_target(root_fd, dest_rel, directory=stat.S_ISDIR(want.st_mode))
            sc.mount(source, inroot.fd_path(target), None, sc.MS_BIND | (flags & sc.MS_REC))
        else:
            target = inroot.mount_target(root_fd, dest_rel)
            sc.mount(
                source or mtype, inroot.fd_path(target), mtype, flags & ~sc.MS_REMOUNT, data or None
            )
        mounted = inroot.open_in(root_fd, dest_rel, os.O_PATH)
        now = os.fstat(mounted)
        if bind:
            # A bind mount's root is the source itself.
            ours = (now.st_dev, now.st_ino) == (want.st_dev, want.st_ino)
        else:
            ours = now.st_dev != os.fstat(target).st_dev  # a new filesystem on top
        if not ours:
            raise SetupError(
                f"mount {mtype or 'bind'} {source} to {dest_rel}: the mount point was "
                "replaced while being mounted (possibly malicious path)"
            )
        where = inroot.fd_path(mounted)
        # Other flags need a remount of a bind; the kernel ignores them on the first one.
        extra = flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT)
        if bind and extra:
            sc.mount(None, where, None, sc.MS_BIND | sc.MS_REMOUNT | extra | _locked_flags(where))
        if prop:
            sc.mount(None, where, None, prop)
    except OSError as e:
        raise SetupError(f"mount {mtype or 'bind'} {source} to {dest_rel}: {e.strerror}") from None
    finally:
        for fd in (mounted, target, root_fd):
            if fd >= 0:
                os.close(fd)


def _mount_cgroup(dest: str, flags: int, ctx: dict[str, Any]) -> None:
    """/sys/fs/cgroup: with a cgroup namespace, fresh cgroup mounts (the kernel shows
    the container's cgroup as root); without one, binds of the container's own dirs."""
    base = flags & ~(sc.MS_RDONLY | sc.MS_REMOUNT | sc.MS_BIND | sc.MS_REC)
    _makedirs(dest)
    paths: dict[str, str] = ctx["cgroup_paths"]
    if ctx["cgroup_v2"]:
        if ctx["cgroupns"]:
            sc.mount("cgroup", dest, "cgroup2", flags)
        elif "" in paths:
            sc.mount(paths[""], dest, None, sc.MS_BIND | sc.MS_REC)
            sc.mount(None, dest, None, sc.MS_BIND | sc.MS_REMOUNT | flags, None)
        return
    sc.mount("tmpfs", dest, "tmpfs", base, "mode=755")
    for point, controllers in ctx["cgroup_v1"]:
        sub = os.path.join(dest, os.path.basename(point))
        _makedirs(sub)
        if ctx["cgroupns"]:
            sc.mount("cgroup", sub, "cgroup", flags, controllers)
            continue
        own = paths.get(controllers.split(",")[0])
        if own is None:
            continue
        sc.mount(own, sub, None, sc.MS_BIND | sc.MS_REC)
        sc.mount(None, sub, None, sc.MS_BIND | sc.MS_REMOUNT | flags, None)
    for name, target in ctx["cgroup_links"]:
        os.symlink(target, os.path.join(dest, name))
    if flags & sc.MS_RDONLY:
        sc.mount(None, dest, None, sc.MS_REMOUNT | base | sc.MS_RDONLY, "mode=755")


def _in_rootfs(rootfs: str, fn: Callable[[int], None]) -> None:
    """``fn(root_fd)`` with a directory fd of ``rootfs``."""
    root_fd = inroot.open_root(rootfs)
    try:
        fn(root_fd)
    finally:
        os.close(root_fd)


def _create_device(root_fd: int, dev: dict[str, Any]) -> None:
    """One ``linux.devices`` node, made inside the rootfs through fds (its directory
    resolved with openat2, the node made with mknodat and never followed); without
    CAP_MKNOD the host's node is bound onto an empty file instead, as runc does."""
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}.get(
        dev.get("type", "c")
    )
    if kind is None:
        raise SetupError(f"device {dev['path']}: unknown type {dev.get('type')}")
    mode = dev.get("fileMode", 0o666) & 0o7777
    try:
        dir_fd, name = inroot.open_parent(root_fd, dev["path"], create=True)
        try:
            try:
                rdev = os.makedev(dev.get("major", 0), dev.get("minor", 0))
                os.mknod(name, kind | mode, rdev, dir_fd=dir_fd)
                inroot.set_meta(dir_fd, name, uid=dev.get("uid", 0), gid=dev.get("gid", 0))
            except PermissionError:
                target = inroot.mount_target(root_fd, dev["path"], directory=False)
                try:
                    sc.mount(dev["path"], inroot.fd_path(target), None, sc.MS_BIND)
                finally:
                    os.close(target)
        finally:
            os.close(dir_fd)
    except FileExistsError:
        return
    except OSError as e:
        raise _step(f"create device {dev['path']}", e) from None


def _create_devices(rootfs: str, devices: list[dict[str, Any]]) -> None:
    wanted: dict[str, dict[str, Any]] = {
        path: {
            "path": path,
            "type": "c",
            "major": ma,
            "minor": mi,
            "fileMode": 0o666,
            "uid": 0,
            "gid": 0,
        }
        for path, ma, mi in DEFAULT_DEVICES
    }
    for dev in devices:
        wanted[os.path.normpath(dev["path"])] = dev
    root_fd = inroot.open_root(rootfs)
    try:
        for dev in wanted.values():
            _create_device(root_fd, dev)
    finally:
        os.close(root_fd)
    for target, link in DEV_SYMLINKS:
        try:
            os.symlink(target, securejoin(rootfs, link))
        except FileExistsError:
            pass
    if os.path.exists("/proc/kcore"):
        try:
            os.symlink("/proc/kcore", securejoin(rootfs, "/dev/core"))
        except FileExistsError:
            pass


def _setup_console(rootfs: str, ctx: dict[str, Any], size: dict[str, int] | None) -> int:
    ptmx_path = securejoin(rootfs, "/dev/pts/ptmx")
    try:
        master = os.open(ptmx_path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
        if size:
            fcntl.ioctl(
                master,
                TIOCSWINSZ,
                struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0),
            )
        console = securejoin(rootfs, "/dev/console")
        _touch(console)
        sc.mount(securejoin(rootfs, f"/dev/pts/{number}"), console, None, sc.MS_BIND)
    except OSError as e:
        raise _step("set up console", e) from None
    sock_fd = ctx.get("console_fd")
    if sock_fd is None:
        raise SetupError("process.terminal is set but no --console-socket was given")
    sock = _socket.socket(fileno=sock_fd)
    try:
        _send_fd(sock, master)
    except OSError as e:
        raise _step("send console to --console-socket", e) from None
    finally:
        sock.close()
        os.close(master)
    return int(number)


def _send_fd(sock: Any, fd: int) -> None:
    """Send ``fd`` over the unix socket ``sock`` (SCM_RIGHTS), as socket.send_fds does."""
    rights = (_socket.SOL_SOCKET, _socket.SCM_RIGHTS, struct.pack("i", fd))
    sock.sendmsg([b"/dev/ptmx"], [rights])


def _attach_console(number: int) -> None:
    try:
        slave = os.open(f"/dev/pts/{number}", os.O_RDWR)
        fcntl.ioctl(slave, TIOCSCTTY, 0)
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        if slave > 2:
            os.close(slave)
    except OSError as e:
        raise _step("attach console", e) from None


def _readonly_path(path: str) -> None:
    try:
        sc.mount(path, path, None, sc.MS_BIND | sc.MS_REC)
        _remount_ro(path, sc.MS_REC)
    except FileNotFoundError:
        return
    except OSError as e:
        raise _step("make read-only", e) from None


def _mask_path(path: str) -> None:
    try:
        if os.path.isdir(path):
            sc.mount("tmpfs", path, "tmpfs", sc.MS_RDONLY)
        else:
            sc.mount("/dev/null", path, None, sc.MS_BIND)
    except (FileNotFoundError, NotADirectoryError):
        return
    except OSError as e:
        raise _step("mask path", e) from None


def _set_rlimits(rlimits: list[dict[str, Any]]) -> None:
    for rl in rlimits:
        kind = getattr(resource, rl["type"], None)
        if kind is None:
            raise SetupError(f"unknown rlimit {rl['type']}")
        try:
            resource.setrlimit(kind, (rl["soft"], rl["hard"]))
        except (OSError, ValueError) as e:
            raise SetupError(f"setrlimit {rl['type']} {rl['soft']}:{rl['hard']}: {e}") from None


def _finalize_user(process: dict[str, Any]) -> None:
    cap = process.get("capabilities")
    user = process.get("user") or {}
    uid, gid = user.get("uid", 0), user.get("gid", 0)
    try:
        if cap is not None:
            _caps.drop_bounding(_caps.mask(cap.get("bounding")))
        sc.prctl(sc.PR_SET_KEEPCAPS, 1)
        os.setgroups(user.get("additionalGids") or [])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
        sc.prctl(sc.PR_SET_KEEPCAPS, 0)
        if cap is not None:
            _caps.apply(
                _caps.mask(cap.get("effective")),
                _caps.mask(cap.get("permitted")),
                _caps.mask(cap.get("inheritable")),
                _caps.mask(cap.get("ambient")),
            )
    except OSError as e:
        raise _step(f"set user {uid}:{gid} and capabilities", e) from None


# ---------------------------------------------------------------- exec (runc exec)

#: Namespaces an exec'd process joins, mount last: after it, /proc paths name the
#: container's view (setns(2) also sets the root and cwd to the namespace's root).
EXEC_NAMESPACES = ("user", "ipc", "uts", "net", "pid", "cgroup", "mnt")


def _same_ns(a: str, b: str) -> bool:
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def exec_stage1(pid1: int, process: dict[str, Any], ctx: dict[str, Any]) -> None:
    """First child of exec: join PID 1's cgroup and namespaces, fork the process (so it is
    inside the PID namespace), report its pid and exit. Never returns.

    ``ctx``: ``sync_w`` (pipe), ``keep_fds``, ``cgroup`` (Manager), ``start_time`` (PID
    1's, to refuse a recycled pid), ``console_fd`` (or None), ``id`` (the container's),
    ``seccomp`` (BPF program and OCI flags, or None).
    """
    code = 1
    try:
        # Non-dumpable before it enters the container until the program's execve (runc's
        # rule, CVE-2019-5736): a process in the container cannot open /proc/<pid>/exe.
        sc.prctl(sc.PR_SET_DUMPABLE, 0)
        _reset_signals()
        _close_fds_except(sorted(ctx["keep_fds"]))
        ctx["cgroup"].add(os.getpid())
        join = []
        for name in EXEC_NAMESPACES:
            target = f"/proc/{pid1}/ns/{name}"
            try:
                if _same_ns(target, f"/proc/self/ns/{name}"):
                    continue
                join.append((name, os.open(target, os.O_RDONLY | os.O_CLOEXEC)))
            except FileNotFoundError:
                continue  # a namespace type this kernel lacks
            except OSError as e:
                raise _step(f"open {name} namespace", e) from None
        # Opened before this check: a pid recycled after it cannot swap namespaces in.
        with open(f"/proc/{pid1}/stat") as f:
            stat_text = f.read()
        if int(stat_text[stat_text.rfind(")") + 2 :].split()[19]) != ctx["start_time"]:
            raise SetupError("container init exited")
        for name, fd in join:
            try:
                sc.setns(fd, 0)
            except OSError as e:
                raise SetupError(f"join {name} namespace of pid {pid1}: {e.strerror}") from None
            os.close(fd)
        pid = os.fork()
        if pid == 0:
            exec_stage2(process, ctx)
        _send(ctx["sync_w"], {"type": "pid", "pid": pid})
        code = 0
    except SetupError as e:
        _try_send(ctx["sync_w"], {"type": "error", "message": str(e), "code": e.code})
    except BaseException as e:  # noqa: BLE001 - a forked child must never unwind
        _try_send(ctx["sync_w"], {"type": "error", "message": f"exec: {e!r}", "code": 125})
    finally:
        os._exit(code)


def exec_stage2(process: dict[str, Any], ctx: dict[str, Any]) -> None:
    """The exec'd process inside the container: console, rlimits, no_new_privs, user and
    capabilities, cwd, PATH lookup, execve. Errors go to the sync pipe (closed on exec).
    Never returns."""
    sync_w = ctx["sync_w"]
    try:
        if process.get("terminal"):
            _exec_console(ctx, process.get("consoleSize"))
        elif ctx.get("setsid"):
            os.setsid()
        _join_keyring(ctx["id"], ctx.get("userns", False))
        path, env = _enter_process(process, ctx.get("seccomp"))
        os.execve(path, process["args"], env)
    except SetupError as e:
        _try_send(sync_w, {"type": "error", "message": str(e), "code": e.code})
    except OSError as e:
        code = 126 if e.errno in (errno.EACCES, errno.EPERM, errno.ENOEXEC) else 127
        _try_send(sync_w, {"type": "error", "message": f"exec: {e.strerror}", "code": code})
    except BaseException as e:  # noqa: BLE001 - a forked child must never unwind
        _try_send(sync_w, {"type": "error", "message": f"exec: {e!r}", "code": 125})
    os._exit(1)


def _exec_console(ctx: dict[str, Any], size: dict[str, int] | None) -> None:
    """A pty from the container's devpts (/dev/pts/ptmx in its mount namespace): the
    master goes to the console socket, the slave becomes the controlling terminal."""
    sock_fd = ctx.get("console_fd")
    if sock_fd is None:
        raise SetupError("process.terminal is set but no --console-socket was given")
    try:
        master = os.open("/dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
        number = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, struct.pack("I", 0)))[0]
        if size:
            fcntl.ioctl(
                master,
                TIOCSWINSZ,
                struct.pack("HHHH", size.get("height", 0), size.get("width", 0), 0, 0),
            )
        sock = _socket.socket(fileno=sock_fd)
        try:
            _send_fd(sock, master)
        finally:
            sock.close()
            os.close(master)
        os.setsid()
    except OSError as e:
        raise _step("set up exec console", e) from None
    _attach_console(number)
