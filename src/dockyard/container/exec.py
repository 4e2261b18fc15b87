"""``docker exec``, ``top``, ``stats``, ``pause`` and ``unpause`` on running containers.

Exec builds an OCI process from the container's bundle (capabilities, rlimits,
no_new_privileges as its PID 1 has them) and the exec options, and has the container's
runtime start it (``runtime.exec``); the caller waits for it and forwards signals.
Pause and unpause freeze and thaw the container's cgroup (runtime ``pause``/``resume``)
and record State.Paused. Docker CLI reference: docker container exec/top/stats/pause.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.container.signals import detach_from_caller
from dockyard.errors import Conflict, DockyardError, RuntimeFailure

if TYPE_CHECKING:
    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container


@dataclass
class ExecOptions:
    """``docker exec`` options: ``command`` (argv), ``env`` (``KEY=VAL`` entries added to
    the container's), ``user`` (``user[:group]``, None: the container's), ``workdir``
    (None: the container's WorkingDir), ``privileged`` (all capabilities), ``tty``,
    ``interactive`` (pass stdin), ``detach`` (do not wait), ``detach_keys`` (Docker's
    ``ctrl-p,ctrl-q`` syntax, that default when None; typed into a tty with
    ``interactive``, they leave the process running)."""

    command: list[str]
    env: list[str] = field(default_factory=list)
    user: str | None = None
    workdir: str | None = None
    privileged: bool = False
    tty: bool = False
    interactive: bool = False
    detach: bool = False
    detach_keys: str | None = None


def _runtime(manager: ContainerManager, c: Container) -> Any:
    from dockyard.runtime import get_runtime

    return get_runtime(c.host_config.get("Runtime") or "dockyard", manager.paths.runtime_state)


def running_container(manager: ContainerManager, ref: str) -> Container:
    """The container ``ref``, which must be running; raises NotFound or Conflict
    (``container <id> is not running``, Docker's text)."""
    c = manager.reconcile(manager.store.get(ref))
    if not c.state["Running"]:
        raise Conflict(f"container {c.id} is not running")
    return c


def build_process(manager: ContainerManager, c: Container, opts: ExecOptions) -> dict[str, Any]:
    """The OCI process for ``opts`` in ``c``: the user resolved in the container's
    /etc/passwd and /etc/group, env = the container's plus ``opts.env``, cwd = workdir or
    WorkingDir, capabilities/rlimits/noNewPrivileges from its config.json (all
    capabilities with ``privileged``). Raises RuntimeFailure (126) for an unknown user."""
    from dockyard.container.manager import DEFAULT_PATH, _terminal_size
    from dockyard.container.users import process_user
    from dockyard.runtime import caps
    from dockyard.units import merge_env

    cdir = manager.paths.container_dir(c.id)
    with open(os.path.join(cdir, "config.json")) as f:
        spec = json.load(f)
    base = spec["process"]
    user_spec = opts.user if opts.user is not None else c.config.get("User") or ""
    try:
        user = process_user(os.path.join(cdir, "rootfs"), user_spec, c.host_config.get("GroupAdd"))
    except RuntimeFailure as e:
        raise RuntimeFailure(str(e), 126) from None
    env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={c.config['Hostname']}"]
    if opts.tty:
        env.append("TERM=xterm")
    env = merge_env(env, c.config.get("Env") or [])
    env = merge_env(env, opts.env)
    if not any(e.startswith("HOME=") for e in env):
        env.append(f"HOME={user.home}")
    capabilities = base.get("capabilities")
    if opts.privileged:
        every = caps.all_caps()
        capabilities = {"bounding": every, "effective": every, "permitted": every}
    process: dict[str, Any] = {
        "terminal": opts.tty,
        "user": {"uid": user.uid, "gid": user.gid, "additionalGids": user.additional_gids},
        "args": list(opts.command),
        "env": env,
        "cwd": opts.workdir or c.config.get("WorkingDir") or "/",
        "rlimits": base.get("rlimits") or [],
        "noNewPrivileges": bool(base.get("noNewPrivileges")),
    }
    if capabilities is not None:
        process["capabilities"] = capabilities
    size = _terminal_size() if opts.tty else None
    if size:
        process["consoleSize"] = {"height": size[0], "width": size[1]}
    return process


def exec_in(manager: ContainerManager, ref: str, opts: ExecOptions) -> int | None:
    """Run ``opts.command`` in running container ``ref`` (``docker exec``).

    Returns the command's exit status (128+N when killed by signal N; 0 at once with
    ``detach``), or None when the detach keys ended the session (the process runs on,
    its output read and dropped by a background process, as dockerd drops the output
    of a detached exec). Signals to the caller are forwarded to the process. Raises NotFound,
    Conflict (not running, paused), RuntimeFailure 127 (command not found) or 126 (any
    other exec failure, as Docker's "OCI runtime exec failed").
    """
    c = running_container(manager, ref)
    if c.state.get("Paused"):
        # moby names the container as given (errExecPaused(name)).
        raise Conflict(f"Container {ref} is paused, unpause the container before exec")
    process = build_process(manager, c, opts)
    runtime = _runtime(manager, c)
    if opts.detach:
        process["terminal"] = False
        return _exec_detached(runtime, c.id, process)
    try:
        return _exec_attached(manager, runtime, c, process, opts)
    finally:
        _reap_orphans()


def _reap_orphans() -> None:
    """Reap processes of the runtime reparented to this (subreaper) process: left as
    zombies, they would keep the container's PID namespace from ending."""
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass


def _exec_detached(runtime: Any, container_id: str, process: dict[str, Any]) -> int:
    """``exec -d``: a double-forked reaper in its own session starts the process with
    stdio on /dev/null, reports, and waits for it (so its exit is reaped by a process
    outside the container, whatever this caller's ancestors do). Returns 0 once it runs."""
    read_fd, write_fd = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        code = 0
        try:
            os.close(read_fd)
            detach_from_caller()
            try:
                pid = runtime.exec(container_id, process)
            except DockyardError as e:
                os.write(write_fd, json.dumps({"error": str(e), "code": e.exit_code}).encode())
                os._exit(1)
            os.write(write_fd, b"{}")
            os.close(write_fd)
            os.waitpid(pid, 0)
            _reap_orphans()
        except BaseException:  # noqa: BLE001 - a forked child must never unwind
            code = 1
        os._exit(code)
    os.close(write_fd)
    os.waitpid(child, 0)
    with os.fdopen(read_fd, "rb") as f:
        report = f.read()
    result = json.loads(report or b'{"error": "exec: the reaper exited early", "code": 126}')
    if result.get("error"):
        raise RuntimeFailure(result["error"], 127 if result["code"] == 127 else 126)
    return 0


def _exec_attached(
    manager: ContainerManager,
    runtime: Any,
    c: Container,
    process: dict[str, Any],
    opts: ExecOptions,
) -> int | None:
    from dockyard.container.signals import PROXIED_SIGNALS, wait_forwarding

    with contextlib.ExitStack() as undo:
        console = None
        if opts.tty:
            from dockyard.container.tty import ConsoleSocket

            console = undo.enter_context(ConsoleSocket(manager.paths.runroot, c.id))
        # Without -i the process's stdin is /dev/null.
        redirect = [0] if not opts.interactive or opts.tty else []
        saved = [(fd, os.dup(fd)) for fd in redirect]
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in redirect:
            os.dup2(devnull, fd)
        os.close(devnull)
        held = PROXIED_SIGNALS | {signal.SIGCHLD}  # taken by wait_forwarding
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        undo.callback(signal.pthread_sigmask, signal.SIG_UNBLOCK, held)
        try:
            pid = runtime.exec(
                c.id, process, console_socket=console.path if console else None, setsid=True
            )
        except RuntimeFailure as e:
            raise RuntimeFailure(str(e), 127 if e.exit_code == 127 else 126) from None
        except DockyardError as e:
            raise RuntimeFailure(str(e), 126) from None
        finally:
            for fd, copy in saved:
                os.dup2(copy, fd)
                os.close(copy)
        if console is None:
            return wait_forwarding(pid)
        escape = None
        if opts.interactive:
            from dockyard.container.attach import (
                DEFAULT_DETACH_KEYS,
                EscapeFilter,
                parse_detach_keys,
            )

            escape = EscapeFilter(parse_detach_keys(opts.detach_keys or DEFAULT_DETACH_KEYS))
        master = console.receive()
        undo.callback(console.close)
        console.relay_start(opts.interactive, escape=escape)
        status = wait_forwarding(pid, stop=console.detached)
        if not console.detached.is_set():
            return status
        _keep_draining(master)
        return None


def _keep_draining(master: int) -> None:
    """After the detach keys: a double-forked process in its own session holds the pty
    ``master`` and drops what the process writes until it ends (closed, the process
    would get SIGHUP; unread, it would block once the pty's buffer is full)."""
    child = os.fork()
    if child == 0:  # pragma: no cover - runs in the forked child
        try:
            detach_from_caller()
            os.closerange(3, master)
            os.closerange(master + 1, os.sysconf("SC_OPEN_MAX"))
            while os.read(master, 65536):
                pass
        except BaseException:  # noqa: BLE001, S110 - a forked child must never unwind
            pass
        os._exit(0)
    os.waitpid(child, 0)


# -- pause / unpause ------------------------------------------------------------------------


def pause(manager: ContainerManager, ref: str) -> Container:
    """Freeze container ``ref`` and record State.Paused/Status "paused" (``docker pause``).

    Raises NotFound, or Conflict with Docker's ``Container <id> is not running`` /
    ``Container <id> is already paused``."""
    c = manager.reconcile(manager.store.get(ref))
    if not c.state["Running"]:
        raise Conflict(f"Container {c.id} is not running")
    if c.state.get("Paused"):
        raise Conflict(f"Container {c.id} is already paused")
    _runtime(manager, c).pause(c.id)
    return _record_paused(manager, c, True)


def unpause(manager: ContainerManager, ref: str) -> Container:
    """Thaw container ``ref`` and record it running (``docker unpause``).

    Raises NotFound, or Conflict ``Container <id> is not paused``."""
    c = manager.reconcile(manager.store.get(ref))
    if not c.state["Running"] or not c.state.get("Paused"):
        raise Conflict(f"Container {c.id} is not paused")
    _runtime(manager, c).resume(c.id)
    return _record_paused(manager, c, False)


def _record_paused(manager: ContainerManager, c: Container, paused: bool) -> Container:
    # Re-read: the monitor may have recorded an exit meanwhile, which must win.
    c = manager.store.get(c.id)
    if c.state["Running"]:
        c.state.update(Paused=paused, Status="paused" if paused else "running")
        manager.store.save_state(c)
        manager.event(c, "pause" if paused else "unpause")
    return c


# -- top ----------------------------------------------------------------------------------


def top(
    manager: ContainerManager, ref: str, ps_args: list[str]
) -> tuple[list[str], list[list[str]]]:
    """``docker top``: (titles, rows) of ``ps ps_args`` (default ``-ef``) for the
    container's processes; the last column keeps its spaces. Raises NotFound, Conflict
    (not running) or DockyardError (ps failed)."""
    c = running_container(manager, ref)
    from dockyard.runtime.ps import ps_lines

    header, lines = ps_lines(_runtime(manager, c).ps(c.id), ps_args or ["-ef"])
    manager.event(c, "top")
    titles = header.split()
    rows = []
    for line in lines:
        fields = line.split()
        rows.append([*fields[: len(titles) - 1], " ".join(fields[len(titles) - 1 :])])
    return titles, rows


# -- stats --------------------------------------------------------------------------------


def _cgroup(manager: ContainerManager, c: Container) -> Any:
    """The container's cgroup as its PID 1 is in it (runtimes differ in where a relative
    cgroupsPath goes: crun ignores the caller's own cgroup), else as configured."""
    from dockyard.runtime import cgroups

    try:
        with open(f"/proc/{int(c.state.get('Pid') or 0)}/cgroup") as f:
            paths = cgroups.layout.parse_proc_cgroup(f.read())
    except OSError:
        paths = {}
    wanted = {paths.get(k) for k in ("memory", "cpuacct", "pids", "blkio") if k in paths}
    if len(wanted) == 1 and None not in wanted:
        return cgroups.load(wanted.pop() or "/")
    if not wanted and paths.get("", "/") != "/":
        return cgroups.load(paths[""])
    return cgroups.load(manager._cgroups_path(c))


def _read_keyed(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit():
                    out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def _block_io(cg: Any) -> tuple[int, int]:
    """(read, written) bytes: v1 blkio.throttle.io_service_bytes, v2 io.stat."""
    read = written = 0
    blkio = cg.paths.get("blkio")
    if blkio:
        try:
            with open(os.path.join(blkio, "blkio.throttle.io_service_bytes")) as f:
                for line in f:
                    parts = line.split()
                    if len(parts) == 3 and parts[1] == "Read":
                        read += int(parts[2])
                    elif len(parts) == 3 and parts[1] == "Write":
                        written += int(parts[2])
        except OSError:
            pass
        return read, written
    unified = cg.paths.get("")
    if unified:
        try:
            with open(os.path.join(unified, "io.stat")) as f:
                for line in f:
                    for kv in line.split()[1:]:
                        key, _, value = kv.partition("=")
                        if key == "rbytes":
                            read += int(value)
                        elif key == "wbytes":
                            written += int(value)
        except OSError:
            pass
    return read, written


def sample(manager: ContainerManager, ref: str) -> dict[str, Any]:
    """Raw usage of the running container ``ref`` now, for Docker's stats JSON:
    ``container`` (the record), ``cpu_usage`` (ns), ``memory_usage``/``memory_limit``
    (bytes; limit None when unlimited), ``memory_stat`` (memory.stat's keys), ``pids``,
    ``networks`` ({interface: /proc/net/dev's 16 counters}), ``block_read`` /
    ``block_written`` (bytes). Raises NotFound, Conflict (not running)."""
    c = running_container(manager, ref)
    out: dict[str, Any] = {
        "container": c,
        "cpu_usage": 0,
        "memory_usage": 0,
        "memory_limit": None,
        "memory_stat": {},
        "pids": 0,
        "networks": {},
        "block_read": 0,
        "block_written": 0,
    }
    try:
        cg = _cgroup(manager, c)
    except DockyardError:
        return out
    st = cg.stats()
    out["cpu_usage"] = st.get("cpu_usage") or 0
    out["memory_usage"] = st.get("memory_usage") or 0
    out["memory_limit"] = st.get("memory_limit")
    path = cg.paths.get("memory") or cg.paths.get("")
    if path:
        out["memory_stat"] = _read_keyed(os.path.join(path, "memory.stat"))
    pids = st.get("pids_current")
    out["pids"] = pids if pids is not None else len(cg.pids())
    out["block_read"], out["block_written"] = _block_io(cg)
    if c.host_config.get("NetworkMode") != "host":
        try:
            with open(f"/proc/{int(c.state.get('Pid') or 0)}/net/dev") as f:
                lines = f.read().splitlines()[2:]
        except OSError:
            lines = []
        for line in lines:
            name, _, data = line.partition(":")
            fields = data.split()
            if name.strip() != "lo" and len(fields) >= 16:
                out["networks"][name.strip()] = [int(x) for x in fields[:16]]
    return out
