"""The facade's exec operations (Engine API v1.51, Exec): an exec instance is created, then
started (attached or detached), then inspected for its exit code, possibly by different
processes (the API service's requests), so each is a record in the run root,
``<runroot>/execs/<id>.json`` (ExecInspectResponse plus its ExecConfig), written to a
temporary file and renamed. Records of a removed container are dropped with the next
``exec_create``'s sweep.
"""

from __future__ import annotations

import contextlib
import json
import os

from dockyard.engine.base import EngineBase
from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def _exec_action(action: str, cmd: list[str]) -> str:
    """moby's exec event action: ``exec_create: <entrypoint> <args joined>`` (a command
    without arguments keeps the trailing space, as dockerd's)."""
    return f"{action}: {cmd[0]} {' '.join(cmd[1:])}"


def _strslice(value: Any) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


class ExecOperations(EngineBase):
    """Exec instances (Engine API: Exec)."""

    def _exec_dir(self) -> str:
        return os.path.join(self.paths.runroot, "execs")

    def _exec_path(self, exec_id: str) -> str:
        if not exec_id or "/" in exec_id or exec_id.startswith("."):
            raise NotFound(f"No such exec instance: {exec_id}")
        return os.path.join(self._exec_dir(), f"{exec_id}.json")

    def _exec_record(self, exec_id: str) -> dict[str, Any]:
        try:
            with open(self._exec_path(exec_id)) as f:
                return dict(json.load(f))
        except (FileNotFoundError, ValueError):
            raise NotFound(f"No such exec instance: {exec_id}") from None

    def _exec_save(self, record: dict[str, Any]) -> None:
        path = self._exec_path(record["ID"])
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(record, f)
        os.rename(tmp, path)

    def exec_create(self, id: str, config: dict[str, Any]) -> dict[str, str]:
        """``POST /containers/{id}/exec``: an exec instance of ``config`` (ExecConfig:
        ``Cmd``, ``Env``, ``User``, ``WorkingDir``, ``Privileged``, ``Tty``,
        ``AttachStdin/Stdout/Stderr``, ``DetachKeys``) in the running container ``id``.
        Returns ``{"Id"}``. Raises NotFound, Conflict (not running, paused),
        InvalidArgument (no command, a relative WorkingDir)."""
        cmd = _strslice(config.get("Cmd"))
        if not cmd:
            raise InvalidArgument("No exec command specified")
        workdir = config.get("WorkingDir") or ""
        if workdir and not workdir.startswith("/"):
            raise InvalidArgument(
                f"the working directory '{workdir}' is invalid, it needs to be an absolute path"
            )
        c = self.containers.reconcile(self.container_store.get(id))
        if not c.state.get("Running"):
            raise Conflict(f"container {c.id} is not running")
        if c.state.get("Paused"):
            # moby names the container as given (errExecPaused(name)).
            raise Conflict(f"Container {id} is paused, unpause the container before exec")
        os.makedirs(self._exec_dir(), mode=0o700, exist_ok=True)
        self._sweep_execs()
        import secrets

        exec_id = secrets.token_hex(32)
        self._exec_save(
            {
                "ID": exec_id,
                "Running": False,
                "ExitCode": None,
                "ProcessConfig": {
                    "tty": bool(config.get("Tty")),
                    "entrypoint": cmd[0],
                    "arguments": cmd[1:],
                    "privileged": bool(config.get("Privileged")),
                    "user": config.get("User") or "",
                },
                "OpenStdin": bool(config.get("AttachStdin")),
                "OpenStderr": bool(config.get("AttachStderr")),
                "OpenStdout": bool(config.get("AttachStdout")),
                "CanRemove": False,
                "ContainerID": c.id,
                "DetachKeys": config.get("DetachKeys") or "",
                "Pid": 0,
                "Config": {
                    "Cmd": cmd,
                    "Env": list(config.get("Env") or []),
                    # "" (what the docker CLI sends without -u) is the container's user.
                    "User": config.get("User") or None,
                    "WorkingDir": workdir or None,
                    "Privileged": bool(config.get("Privileged")),
                    "Tty": bool(config.get("Tty")),
                    "AttachStdin": bool(config.get("AttachStdin")),
                },
            }
        )
        self.containers.event(c, _exec_action("exec_create", cmd), execID=exec_id)
        return {"Id": exec_id}

    def _sweep_execs(self) -> None:
        """Drop the records of containers that no longer exist."""
        for name in os.listdir(self._exec_dir()):
            if not name.endswith(".json"):
                continue
            path = os.path.join(self._exec_dir(), name)
            with contextlib.suppress(OSError, ValueError, NotFound):
                with open(path) as f:
                    owner = json.load(f).get("ContainerID", "")
                try:
                    self.container_store.get(owner)
                except NotFound:
                    os.unlink(path)
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path + ".started")

    def exec_inspect(self, id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``: ExecInspectResponse (``ExitCode`` None until it has
        run to its end). Raises NotFound (``No such exec instance: <id>``)."""
        record = self._exec_record(id)
        record.pop("Config", None)
        return record

    def exec_start(self, id: str, detach: bool = False) -> int | None:
        """``POST /exec/{id}/start``: run the exec instance with this process's stdin,
        stdout and stderr (a front end gives it its own: the API service runs it in a
        child whose stdio is the client's stream), wait for it and return its exit code
        (0 at once with ``detach``), or None when the instance's ``DetachKeys``
        (Docker's syntax, ``ctrl-p,ctrl-q`` when empty) typed into its tty ended the
        session and the process runs on (docker/cli then says ``read escape
        sequence``). Raises NotFound, Conflict (started already, or the
        container not running), RuntimeFailure (127: not found, 126: cannot invoke)."""
        from dockyard.container.exec import ExecOptions, exec_in

        record = self._exec_record(id)
        # One start per instance, even for two requests at once: the marker's O_EXCL
        # creation decides.
        try:
            os.close(
                os.open(
                    self._exec_path(id) + ".started", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600
                )
            )
        except FileExistsError:
            record = self._exec_record(id)
            state = "has already run" if record["ExitCode"] is not None else "is already running"
            raise Conflict(f"Error: Exec command {id} {state}") from None
        cfg = record["Config"]
        opts = ExecOptions(
            command=cfg["Cmd"],
            env=cfg["Env"],
            user=cfg["User"],
            workdir=cfg["WorkingDir"],
            privileged=cfg["Privileged"],
            tty=cfg["Tty"] and not detach,
            interactive=cfg["AttachStdin"] and not detach,
            detach=detach,
            detach_keys=record.get("DetachKeys") or None,
        )
        record["Running"] = not detach
        self._exec_save(record)
        c = self.container_store.get(record["ContainerID"])
        self.containers.event(c, _exec_action("exec_start", cfg["Cmd"]), execID=id)
        code: int | None = 126
        try:
            code = exec_in(self.containers, record["ContainerID"], opts)
        except DockyardError as e:
            code = e.exit_code
            raise
        finally:
            # Detached by the keys: no exit is known (nothing here waits for it any more).
            record["Running"] = False
            record["ExitCode"] = None if detach else code
            self._exec_save(record)
            if not detach and code is not None:
                self.containers.event(c, "exec_die", execID=id, exitCode=str(code))
        return code
