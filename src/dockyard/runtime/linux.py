"""Dockyard's built-in OCI runtime: the parent side (OCI runtime spec runtime.md).

``LinuxRuntime(state_root)`` implements the runtime operations ``create``, ``start``,
``state``, ``kill`` and ``delete`` (plus ``list``) like runc: state lives in
``<state_root>/<id>/state.json`` (written atomically) next to an ``exec.fifo`` that
holds the container's PID 1 between ``create`` and ``start``, so the two can run in
different processes. The child side is :mod:`dockyard.runtime.init`.

``create`` sets PR_SET_CHILD_SUBREAPER on the calling process: the container's PID 1 is
forked by an intermediate process that exits at once, so PID 1 becomes the caller's
child and the caller reaps it with ``os.waitpid``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import signal
import time

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, RuntimeFailure
from dockyard.runtime import syscalls

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

_ID = re.compile(r"^[\w+\-.]+\Z")

#: runc's specconv AllowedDevices, appended after the spec's own device rules as runc does.
RUNC_ALLOWED_DEVICES: tuple[dict[str, Any], ...] = tuple(
    {"allow": True, "type": t, "major": ma, "minor": mi, "access": a}
    for t, ma, mi, a in (
        ("c", -1, -1, "m"),
        ("b", -1, -1, "m"),
        ("c", 1, 3, "rwm"),
        ("c", 1, 5, "rwm"),
        ("c", 1, 7, "rwm"),
        ("c", 5, 0, "rwm"),
        ("c", 1, 9, "rwm"),
        ("c", 1, 8, "rwm"),
        ("c", 136, -1, "rwm"),
        ("c", 5, 2, "rwm"),
        ("c", 10, 200, "rwm"),
    )
)


def _rule(r: dict[str, Any]) -> dict[str, Any]:
    # -1 is runc's wildcard; OCI spells it by leaving the field out.
    return {k: v for k, v in r.items() if not (k in ("major", "minor") and v == -1)}


def start_time(pid: int) -> int | None:
    """The start time of ``pid`` in clock ticks since boot, or None if it is gone/zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


class LinuxRuntime:
    """The built-in runtime; ``state_root`` is the directory holding per-container state."""

    def __init__(self, state_root: str) -> None:
        self.state_root = os.path.abspath(state_root)

    # ------------------------------------------------------------------ helpers

    def _dir(self, container_id: str) -> str:
        if not _ID.match(container_id) or container_id in (".", ".."):
            raise InvalidArgument(f"invalid id format: {container_id}")
        return os.path.join(self.state_root, container_id)

    def _load(self, container_id: str) -> dict[str, Any]:
        try:
            with open(os.path.join(self._dir(container_id), "state.json")) as f:
                state: dict[str, Any] = json.load(f)
        except FileNotFoundError:
            raise NotFound(f"container {container_id} does not exist") from None
        return state

    def _write_state(self, state: dict[str, Any]) -> None:
        path = os.path.join(self._dir(state["id"]), "state.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps(state))  # C encoder (json.dump's is pure Python)
        os.rename(tmp, path)

    def _status(self, state: dict[str, Any]) -> str:
        if start_time(state["pid"]) != state["start_time"]:
            return "stopped"
        fifo = os.path.join(self._dir(state["id"]), "exec.fifo")
        if os.path.exists(fifo):
            return "created"
        try:
            paused = _frozen(self._manager(state))
        except DockyardError:
            paused = False
        return "paused" if paused else "running"

    # ------------------------------------------------------------------ operations

    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        console_socket: str | None = None,
        pid_file: str | None = None,
    ) -> None:
        """Set up container ``container_id`` from ``<bundle>/config.json``; PID 1 waits
        for :meth:`start` before exec.

        Raises Conflict (id in use), InvalidArgument (bad id or config), RuntimeFailure
        with exit code 127/126 for a command that cannot be found or invoked (runc's
        texts) or 125 for any other set-up failure. On failure nothing is left behind:
        no process, cgroup or state directory.
        """
        from dockyard.runtime import cgroups
        from dockyard.runtime import init as _init

        state_dir = self._dir(container_id)
        bundle = os.path.abspath(bundle)
        try:
            with open(os.path.join(bundle, "config.json")) as f:
                spec = json.load(f)
        except OSError as e:
            raise InvalidArgument(f"cannot read {bundle}/config.json: {e.strerror}") from None
        except ValueError as e:
            raise InvalidArgument(f"invalid {bundle}/config.json: {e}") from None
        check_spec(spec, f"{bundle}/config.json")
        _warn_kernel_memory(spec)
        process = spec["process"]
        if process.get("terminal") and console_socket is None:
            raise InvalidArgument("process.terminal is set: --console-socket is required")
        rootfs = os.path.join(bundle, spec["root"]["path"])
        if not os.path.isdir(rootfs):
            raise InvalidArgument(f"rootfs {rootfs} is not a directory")
        linux = spec.get("linux") or {}
        seccomp = self._seccomp(linux)
        hook_spec = None
        if spec.get("hooks"):
            from dockyard.runtime import hooks as _hooks

            hook_spec = _hooks.check(spec["hooks"], f"{bundle}/config.json")
        new_userns = any(
            ns.get("type") == "user" and not ns.get("path") for ns in linux.get("namespaces") or []
        )
        if new_userns:
            _check_id_mappings(linux, f"{bundle}/config.json")
        # The init stops before pivot_root for the create-time hooks, and keeps the
        # state for startContainer: only when there are such hooks.
        sync_hooks = hook_spec is not None and any(
            hook_spec[k] for k in ("prestart", "createRuntime", "createContainer", "startContainer")
        )

        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        try:
            os.mkdir(state_dir, 0o711)
        except FileExistsError:
            raise Conflict(f"container with id exists: {container_id}") from None
        # Held until the state is written: a state directory without state.json whose
        # flock is free was left by a killed create (the garbage collector removes it).
        creating = os.open(state_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(creating, fcntl.LOCK_EX)

        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        manager = None
        sync_r = sync_w = console_fd = state_fd = hook_r = hook_w = userns_r = userns_w = -1
        pid1 = 0
        try:
            fifo = os.path.join(state_dir, "exec.fifo")
            os.mkfifo(fifo, 0o622)
            os.chmod(fifo, 0o622)  # past the umask: a non-root PID 1 must open it
            resources = dict(linux.get("resources") or {})
            if "devices" in resources:
                resources["devices"] = list(resources["devices"]) + [
                    _rule(r) for r in RUNC_ALLOWED_DEVICES
                ]
            cgroups_path = linux.get("cgroupsPath") or container_id
            manager = cgroups.create(cgroups_path, resources)
            layout = cgroups.detect()
            if console_socket is not None:
                console_fd = _connect(console_socket)
            state_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
            sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
            if sync_hooks:
                hook_r, hook_w = os.pipe2(os.O_CLOEXEC)
            ns_types = {ns.get("type") for ns in linux.get("namespaces") or []}
            if new_userns:
                userns_r, userns_w = os.pipe2(os.O_CLOEXEC)
            ctx: dict[str, Any] = {
                "rootfs": os.path.realpath(rootfs),
                "bundle": bundle,
                "sync_w": sync_w,
                "state_fd": state_fd,
                "console_fd": console_fd if console_fd >= 0 else None,
                "cgroup": manager,
                "cgroup_paths": dict(manager.paths),
                "cgroup_v2": layout.mode == "v2",
                "cgroup_v1": [(m.point, ",".join(m.controllers)) for m in layout.v1_mounts()],
                "cgroup_links": _cgroup_links(),
                "cgroupns": "cgroup" in ns_types,
                "id": container_id,
                "seccomp": seccomp,
                "hooks": hook_spec if sync_hooks else None,
                "hook_r": hook_r if hook_r >= 0 else None,
                "userns_r": userns_r if userns_r >= 0 else None,
            }
            ctx["keep_fds"] = [
                fd for fd in (sync_w, state_fd, console_fd, hook_r, userns_r) if fd >= 0
            ]
            child = os.fork()
            if child == 0:
                _init.stage1(spec, ctx)
            os.close(sync_w)
            sync_w = -1
            if hook_r >= 0:
                os.close(hook_r)
                hook_r = -1
            if userns_r >= 0:
                os.close(userns_r)
                userns_r = -1

            def on_userns(pid: int) -> None:
                # The init's new user namespace gets the spec's maps (written from here:
                # the writer needs CAP_SETUID/CAP_SETGID where the maps point).
                try:
                    for name, key in (("uid_map", "uidMappings"), ("gid_map", "gidMappings")):
                        lines = "".join(
                            f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in linux[key]
                        )
                        with open(f"/proc/{pid}/{name}", "w") as f:
                            f.write(lines)
                except OSError as e:
                    raise RuntimeFailure(
                        f"write the user namespace's {name}: {e.strerror}"
                    ) from None
                os.write(userns_w, b"1")

            def on_hooks(pid: int) -> None:
                # prestart and createRuntime, in the runtime's namespaces; then the init
                # gets the state (for createContainer and startContainer).
                assert hook_spec is not None
                hook_state = {
                    "ociVersion": spec.get("ociVersion", "1.0.0"),
                    "id": container_id,
                    "status": "created",
                    "pid": pid,
                    "bundle": bundle,
                    "annotations": spec.get("annotations") or {},
                }
                from dockyard.runtime.hooks import HookError, run_all

                try:
                    run_all("prestart", hook_spec["prestart"], hook_state)
                    run_all("createRuntime", hook_spec["createRuntime"], hook_state)
                except HookError as e:
                    raise RuntimeFailure(str(e)) from None
                os.write(hook_w, (json.dumps(hook_state) + "\n").encode())

            pid1 = self._await_ready(sync_r, child, on_hooks, on_userns)
            st = start_time(pid1)
            if st is None:
                raise RuntimeFailure(
                    f"container init exited before it was ready{_exit_detail(pid1)}"
                )
            state = {
                "ociVersion": spec.get("ociVersion", "1.0.0"),
                "id": container_id,
                "pid": pid1,
                "bundle": bundle,
                "rootfs": ctx["rootfs"],
                "start_time": st,
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "annotations": spec.get("annotations") or {},
                "cgroups_path": cgroups_path,
                "seccomp_flags": None if seccomp is None else seccomp[1],
                "hooks": {k: (hook_spec or {}).get(k) or [] for k in ("poststart", "poststop")},
            }
            if seccomp is not None:
                with open(os.path.join(state_dir, "seccomp.bpf"), "wb") as bpf:
                    bpf.write(seccomp[0])
            self._write_state(state)
            if pid_file:
                _write_atomic(pid_file, f"{pid1}")
        except BaseException as exc:
            if pid1:
                _kill_and_reap(pid1)
            if manager is not None:
                try:
                    manager.destroy(kill=True, parents=_removes_parents(spec))
                except DockyardError:
                    pass
            _remove_state_dir(state_dir)
            if isinstance(exc, OSError):
                raise RuntimeFailure(f"create {container_id}: {exc}") from None
            raise
        finally:
            for fd in (sync_r, sync_w, console_fd, state_fd, hook_r, hook_w, userns_r, userns_w):
                if fd >= 0:
                    os.close(fd)
            os.close(creating)

    def _seccomp(self, linux: dict[str, Any]) -> tuple[bytes, list[str]] | None:
        """The BPF program and flags for ``linux.seccomp``, compiled (or read from the
        cache in the state root) before any fork; raises InvalidArgument."""
        section = linux.get("seccomp")
        if not section:
            return None
        if not isinstance(section, dict):
            raise InvalidArgument("linux.seccomp must be an object")
        from dockyard.runtime.seccomp import cached_filter

        program = cached_filter(section, os.path.join(self.state_root, ".seccomp"))
        return program, list(section.get("flags") or [])

    def _await_ready(
        self, sync_r: int, child: int, on_hooks: Any = None, on_userns: Any = None
    ) -> int:
        """Read the sync pipe until PID 1 is ready and its pid known; returns that pid
        (caller's namespace).

        The two messages come from two processes, so either can come first: PID 1 can
        report "ready" before the first child, descheduled between its fork and its
        write, reports the pid (seen under load). Stopping at "ready" then took pid 0 for
        PID 1 and failed the create with "container init exited before it was ready".
        After an error it reads on to the end (both writers exit then) so that a PID 1
        that already exited is known and reaped.

        At the first child's ``userns`` message, ``on_userns(pid)`` writes its id maps;
        at PID 1's ``hooks`` message (once its pid is known), ``on_hooks(pid1)`` runs the
        create-time hooks. An error either raises stops the container and is raised."""
        buf = b""
        pid1 = 0
        error: dict[str, Any] | None = None
        ready = hooks_due = False
        while not (ready and pid1 and error is None):
            chunk = os.read(sync_r, 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                msg = json.loads(line)
                if msg["type"] == "pid":
                    pid1 = msg["pid"]
                elif msg["type"] == "userns" and on_userns is not None:
                    try:
                        on_userns(msg["pid"])
                    except BaseException:
                        # It waits for the maps: end it rather than wait.
                        os.kill(child, signal.SIGKILL)
                        os.waitpid(child, 0)
                        raise
                elif msg["type"] == "hooks" and on_hooks is not None:
                    hooks_due = True
                elif msg["type"] == "ready":
                    ready = True
                elif error is None:
                    error = msg
                if hooks_due and pid1:
                    hooks_due = False
                    try:
                        on_hooks(pid1)
                    except BaseException:
                        _kill_and_reap(pid1)
                        os.waitpid(child, 0)
                        raise
        os.waitpid(child, 0)
        if error is not None:
            if pid1:
                _kill_and_reap(pid1)
            raise RuntimeFailure(error["message"], error.get("code", 125))
        if not (ready and pid1):
            if pid1:
                _kill_and_reap(pid1)
            raise RuntimeFailure("container init exited before it was ready")
        return pid1

    def start(self, container_id: str) -> None:
        """Let a created container's PID 1 exec its process (opens the exec fifo).

        Raises NotFound, or Conflict if the container is not in the created state.
        """
        state = self._load(container_id)
        status = self._status(state)
        if status != "created":
            raise Conflict(
                f"cannot start a container that has {status}"
                if status == "stopped"
                else "cannot start an already running container"
            )
        fifo = os.path.join(self._dir(container_id), "exec.fifo")
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            _await_exec_fifo(fd, state, container_id)
        finally:
            os.close(fd)
        os.unlink(fifo)
        poststart = (state.get("hooks") or {}).get("poststart")
        if poststart:
            from dockyard.runtime.hooks import warn_all

            # The state as started: a short-lived process may have exited already.
            warn_all("poststart", poststart, self._public(state, "running"))

    def state(self, container_id: str) -> dict[str, Any]:
        """The OCI state (runtime.md "State") of ``container_id``; raises NotFound."""
        state = self._load(container_id)
        return self._public(state, self._status(state))

    @staticmethod
    def _public(state: dict[str, Any], status: str) -> dict[str, Any]:
        return {
            "ociVersion": state["ociVersion"],
            "id": state["id"],
            "status": status,
            "pid": state["pid"] if status != "stopped" else 0,
            "bundle": state["bundle"],
            "rootfs": state["rootfs"],
            "created": state["created"],
            "annotations": state["annotations"],
        }

    def kill(self, container_id: str, sig: int, all: bool = False) -> None:
        """Send signal number ``sig`` to PID 1, or with ``all`` to every process in the
        container's cgroup. Raises InvalidArgument for a signal outside 1..SIGRTMAX,
        NotFound, or Conflict if the container is stopped."""
        check_signal(sig)
        state = self._load(container_id)
        if all:
            self._manager(state).kill_all(sig)
            return
        if self._status(state) == "stopped":
            raise Conflict("container not running")
        try:
            os.kill(state["pid"], sig)
        except ProcessLookupError:
            raise Conflict("container not running") from None

    def delete(self, container_id: str, force: bool = False) -> None:
        """Remove a stopped container: its cgroup and state directory.

        One not stopped (created, running, paused) is refused (Conflict, runtime.md
        "delete"; runc deletes a created one) unless ``force``, which SIGKILLs it and
        waits until it is gone.
        """
        state = self._load(container_id)
        status = self._status(state)
        if status != "stopped" and not force:
            raise Conflict(f"cannot delete container {container_id} that is not stopped: {status}")
        manager = self._manager(state)
        if status != "stopped":
            _kill_and_reap(state["pid"], state["start_time"])
        manager.destroy(kill=True, parents=_removes_parents(state))
        _remove_state_dir(self._dir(container_id))
        poststop = (state.get("hooks") or {}).get("poststop")
        if poststop:
            from dockyard.runtime.hooks import warn_all

            warn_all("poststop", poststop, {**self._public(state, "stopped"), "pid": 0})

    def exec(
        self,
        container_id: str,
        process: dict[str, Any],
        *,
        console_socket: str | None = None,
        pid_file: str | None = None,
        setsid: bool = False,
    ) -> int:
        """Start OCI ``process`` (config.md "process": args, env, cwd, user, capabilities,
        rlimits, noNewPrivileges, terminal) in running container ``container_id``, like
        ``runc exec --detach``: it joins PID 1's cgroup and namespaces, is a child of the
        caller (PR_SET_CHILD_SUBREAPER) with the caller's stdio, or a pty sent to
        ``console_socket``. ``setsid`` gives it its own session. Returns its pid.

        Raises NotFound, Conflict (not running or paused), InvalidArgument (bad process),
        RuntimeFailure with exit code 127/126 (runc's texts) or 125.
        """
        from dockyard.runtime import init as _init

        state = self._load(container_id)
        status = self._status(state)
        if status != "running":
            raise Conflict(f"cannot exec in a {status} container")
        check_spec({"process": process, "root": {"path": "."}}, "process")
        if process.get("terminal") and console_socket is None:
            raise InvalidArgument("process.terminal is set: --console-socket is required")
        manager = self._manager(state)
        # The container's seccomp filter applies to every process in it (runc's).
        seccomp = None
        if state.get("seccomp_flags") is not None:
            with open(os.path.join(self._dir(container_id), "seccomp.bpf"), "rb") as f:
                seccomp = f.read(), state["seccomp_flags"]
        syscalls.prctl(syscalls.PR_SET_CHILD_SUBREAPER, 1)
        sync_r = sync_w = console_fd = -1
        try:
            if console_socket is not None:
                console_fd = _connect(console_socket)
            sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
            ctx: dict[str, Any] = {
                "sync_w": sync_w,
                "console_fd": console_fd if console_fd >= 0 else None,
                "cgroup": manager,
                "start_time": state["start_time"],
                "setsid": setsid,
                "id": container_id,
                "seccomp": seccomp,
                "keep_fds": [fd for fd in (sync_w, console_fd) if fd >= 0],
            }
            child = os.fork()
            if child == 0:
                _init.exec_stage1(state["pid"], process, ctx)
            os.close(sync_w)
            sync_w = -1
            pid = self._await_exec(sync_r, child)
        except OSError as e:
            raise RuntimeFailure(f"exec in {container_id}: {e}") from None
        finally:
            for fd in (sync_r, sync_w, console_fd):
                if fd >= 0:
                    os.close(fd)
        if pid_file:
            _write_atomic(pid_file, f"{pid}")
        return pid

    def _await_exec(self, sync_r: int, child: int) -> int:
        """Read the exec sync pipe to EOF (the process exec'd or failed); returns its pid."""
        buf = b""
        while chunk := os.read(sync_r, 65536):
            buf += chunk
        os.waitpid(child, 0)
        pid = 0
        error: dict[str, Any] | None = None
        for line in buf.splitlines():
            msg = json.loads(line)
            if msg["type"] == "pid":
                pid = msg["pid"]
            elif msg["type"] == "error":
                error = msg
        if error is not None or not pid:
            if pid:
                _kill_and_reap(pid)
            if error is None:
                raise RuntimeFailure("exec: the process exited before it started")
            raise RuntimeFailure(error["message"], error.get("code", 125))
        return pid

    def pause(self, container_id: str) -> None:
        """Freeze every process of a running container (cgroup freezer), like runc pause.

        Raises NotFound, or Conflict when it is not running."""
        state = self._load(container_id)
        if self._status(state) != "running":
            raise Conflict("container not running")
        self._manager(state).freeze()

    def resume(self, container_id: str) -> None:
        """Thaw a paused container, like runc resume; raises NotFound, or Conflict when
        it is not paused."""
        state = self._load(container_id)
        if self._status(state) != "paused":
            raise Conflict("container not paused")
        self._manager(state).thaw()

    def ps(self, container_id: str) -> list[int]:
        """The pids (host view) of every process in the container's cgroup, sorted."""
        pids: list[int] = self._manager(self._load(container_id)).pids()
        return pids

    def list(self) -> list[dict[str, Any]]:
        """The OCI states of every container under ``state_root``, sorted by id."""
        try:
            ids = sorted(os.listdir(self.state_root))
        except FileNotFoundError:
            return []
        out = []
        for cid in ids:
            if cid.startswith("."):
                continue  # the seccomp cache
            try:
                out.append(self.state(cid))
            except (NotFound, InvalidArgument, ValueError):
                continue
        return out

    def _manager(self, state: dict[str, Any]) -> Any:
        from dockyard.runtime import cgroups

        return cgroups.load(state["cgroups_path"])


def _removes_parents(spec_or_state: dict[str, Any]) -> bool:
    """Whether deleting the container removes the parents of its cgroup left empty:
    unless its annotations ask to keep them (``runtime.spec.KEEP_CGROUP_PARENTS``)."""
    from dockyard.runtime.spec import KEEP_CGROUP_PARENTS

    annotations = spec_or_state.get("annotations") or {}
    return annotations.get(KEEP_CGROUP_PARENTS) != "keep"


def check_signal(sig: int) -> None:
    """Raise InvalidArgument unless ``sig`` is a signal number, 1..SIGRTMAX."""
    if not 0 < sig <= signal.SIGRTMAX:
        raise InvalidArgument(f"invalid signal: {sig}")


def check_spec(spec: Any, name: str) -> None:
    """Check the shape of an OCI ``spec`` (config.md) in the fields this runtime reads.

    ``name`` names the file in messages. Checks: an object; ``process`` an object (config.md
    makes it optional but REQUIRED at start: refused at create, as runc's
    validateProcessSpec does) with
    ``args`` a non-empty list of strings, ``env`` a list of strings, ``cwd`` a string and
    ``user`` an object when present; ``root.path`` a string; ``mounts`` a list of objects
    with a string ``destination``; ``linux`` an object. Raises InvalidArgument naming the
    field.
    """

    def bad(field: str, what: str) -> InvalidArgument:
        return InvalidArgument(f"{name}: {field} must be {what}")

    def strings(value: Any) -> bool:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)

    if not isinstance(spec, dict):
        raise InvalidArgument(f"{name}: must be a JSON object")
    process = spec.get("process")
    if process is None:
        raise InvalidArgument(f"{name}: process property must not be empty")
    if not isinstance(process, dict):
        raise bad("process", "an object")
    if not strings(process.get("args")):
        raise bad("process.args", "a list of strings")
    if not process["args"]:
        raise InvalidArgument(f"{name}: process.args must not be empty")
    if process.get("env") is not None and not strings(process["env"]):
        raise bad("process.env", "a list of strings")
    if process.get("cwd") is not None and not isinstance(process["cwd"], str):
        raise bad("process.cwd", "a string")
    if process.get("user") is not None and not isinstance(process["user"], dict):
        raise bad("process.user", "an object")
    root = spec.get("root")
    if not isinstance(root, dict) or not isinstance(root.get("path"), str):
        raise bad("root.path", "a string")
    mounts = spec.get("mounts")
    if mounts is not None:
        if not isinstance(mounts, list):
            raise bad("mounts", "a list of objects")
        for i, m in enumerate(mounts):
            if not isinstance(m, dict) or not isinstance(m.get("destination"), str):
                raise bad(f"mounts[{i}].destination", "a string")
    if spec.get("linux") is not None and not isinstance(spec["linux"], dict):
        raise bad("linux", "an object")
    # Security modules this runtime does not drive: refused (as runc fails where the
    # module is off), never dropped.
    if process.get("apparmorProfile"):
        raise InvalidArgument(
            f"{name}: process.apparmorProfile {process['apparmorProfile']!r}: AppArmor "
            f"profiles are not supported by Dockyard's runtime{_lsm_state('apparmor')}"
        )
    for field, value in (
        ("process.selinuxLabel", process.get("selinuxLabel")),
        ("linux.mountLabel", (spec.get("linux") or {}).get("mountLabel")),
    ):
        if value:
            raise InvalidArgument(
                f"{name}: {field} {value!r}: SELinux labels are not supported by Dockyard's "
                f"runtime{_lsm_state('selinux')}"
            )


def _warn_kernel_memory(spec: dict[str, Any]) -> None:
    """``linux.resources.memory.kernel``/``kernelTCP`` (deprecated in runtime-spec 1.1;
    kernels since 6.1 have no kmem limits) are not applied: a warning on stderr naming
    the fields, with current runc's text (specconv's CreateCgroupConfig warns, never
    fails)."""
    import sys

    memory = ((spec.get("linux") or {}).get("resources") or {}).get("memory") or {}
    fields = [
        f"linux.resources.memory.{k}" for k in ("kernel", "kernelTCP") if memory.get(k) is not None
    ]
    if fields:
        print(
            f"warning: {', '.join(fields)}: Kernel memory settings are ignored and will be removed",
            file=sys.stderr,
        )


def _check_id_mappings(linux: dict[str, Any], name: str) -> None:
    """A new user namespace needs ``uidMappings`` and ``gidMappings`` (config-linux.md
    "User namespace mappings"): lists of {containerID, hostID, size} (non-negative
    integers, size > 0). Raises InvalidArgument as runc refuses them."""
    for key in ("uidMappings", "gidMappings"):
        maps = linux.get(key)
        if not maps:
            raise InvalidArgument(f"{name}: user namespaces enabled, but no {key} found")
        if not isinstance(maps, list):
            raise InvalidArgument(f"{name}: linux.{key} must be a list")
        for i, m in enumerate(maps):
            if not isinstance(m, dict) or not all(
                isinstance(m.get(k), int) and m[k] >= 0 for k in ("containerID", "hostID", "size")
            ):
                raise InvalidArgument(
                    f"{name}: linux.{key}[{i}] needs containerID, hostID and size (integers >= 0)"
                )
            if m["size"] == 0:
                raise InvalidArgument(f"{name}: linux.{key}[{i}].size must be more than 0")


def _lsm_state(module: str) -> str:
    """ " (not enabled on this host)" when the kernel has ``module`` off, else ""."""
    if module == "apparmor":
        try:
            with open("/sys/module/apparmor/parameters/enabled") as f:
                on = f.read().strip() == "Y"
        except OSError:
            on = False
    else:
        on = os.path.exists("/sys/fs/selinux/enforce")
    return (
        ""
        if on
        else f" ({'AppArmor' if module == 'apparmor' else 'SELinux'} is not enabled on this host)"
    )


def _remove_state_dir(path: str) -> None:
    """Remove a container's state directory (a few files: state.json, seccomp.bpf, the
    exec fifo), anything deeper with shutil, whose import (bz2, lzma) a ``run`` need
    not pay for; a missing directory is fine."""
    try:
        for name in os.listdir(path):
            os.unlink(os.path.join(path, name))
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        import shutil

        shutil.rmtree(path, ignore_errors=True)


def _await_exec_fifo(
    fd: int, state: dict[str, Any], container_id: str, timeout: float = 10
) -> None:
    """Wait until PID 1 of ``state`` writes its byte to the exec fifo open (non-blocking,
    for reading) on ``fd``: it was blocked opening the fifo for writing until this open.
    Sleeps in ``poll`` on the fifo and a pidfd of PID 1 (no polling loop: under load a
    0.5 ms sleep-and-check loop cost CPU and added up to its period to every start).
    Raises RuntimeFailure when PID 1 exits first or nothing comes within ``timeout`` s."""
    import select

    pid = state["pid"]
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = -1  # gone already (checked below), or a kernel before 5.3
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        if pidfd >= 0:
            poller.register(pidfd, select.POLLIN)
        deadline = time.monotonic() + timeout
        while True:
            # The start time is checked after the pidfd is open: a recycled pid is refused.
            alive = start_time(pid) == state["start_time"]
            try:
                if os.read(fd, 1):
                    return
            except BlockingIOError:
                pass
            if not alive:
                # It may have written, exec'd and exited since the read above.
                with contextlib.suppress(BlockingIOError):
                    if os.read(fd, 1):
                        return
                raise RuntimeFailure(f"container {container_id} exited before start")
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeFailure(f"container {container_id} did not start")
            if pidfd < 0:
                time.sleep(0.0005)
                continue
            events = poller.poll(max(1, int(left * 1000)))
            if any(ev & select.POLLHUP for f, ev in events if f == fd) and not any(
                ev & select.POLLIN for f, ev in events
            ):
                # A writer came and went without writing (never PID 1's way): do not spin.
                time.sleep(0.0005)
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def _frozen(manager: Any) -> bool:
    """Whether the cgroup is frozen (v1 ``freezer.state``, v2 ``cgroup.freeze``)."""
    for key, name, value in (("freezer", "freezer.state", "FROZEN"), ("", "cgroup.freeze", "1")):
        path = manager.paths.get(key)
        if path is None:
            continue
        try:
            with open(os.path.join(path, name)) as f:
                return f.read().strip() == value
        except OSError:
            return False
    return False


def _connect(path: str) -> int:
    import socket

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise RuntimeFailure(f"connect to --console-socket {path}: {e.strerror}") from None
    return sock.detach()


def _cgroup_links() -> list[tuple[str, str]]:
    """Symlinks the host keeps in /sys/fs/cgroup (``cpu -> cpu,cpuacct``)."""
    out = []
    try:
        with os.scandir("/sys/fs/cgroup") as it:
            for entry in it:
                if entry.is_symlink():
                    out.append((entry.name, os.readlink(entry.path)))
    except OSError:
        pass
    return out


def _write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def _exit_detail(pid: int) -> str:
    """How our exited child ``pid`` ended (reaping it), for an error message; "" when it
    is not ours to reap (a rare failure worth a clue, not a guess)."""
    try:
        got, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return ""
    if got != pid:
        return ""
    if os.WIFSIGNALED(status):
        return f" (killed by signal {os.WTERMSIG(status)})"
    return f" (exit status {os.waitstatus_to_exitcode(status)})"


def _kill_and_reap(pid: int, expected_start: int | None = None) -> None:
    """SIGKILL ``pid`` (if it is still the process that started at ``expected_start``)
    and wait until it is gone: reaped if it is our child, else no longer in /proc."""
    st = start_time(pid)
    if st is None or (expected_start is not None and st != expected_start):
        _reap(pid)
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if _reap(pid) or start_time(pid) is None:
            return
        time.sleep(0.002)


def _reap(pid: int) -> bool:
    try:
        return os.waitpid(pid, os.WNOHANG)[0] == pid
    except ChildProcessError:
        return False
