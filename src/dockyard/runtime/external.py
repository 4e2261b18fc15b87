"""runc-compatible runtime binaries (runc, crun) behind the same interface as LinuxRuntime.

Each operation runs ``<binary> --root <state_root> <command> ...`` (runc's command line).
crun 1.8 refuses the hybrid cgroup layout of hosts where a cgroup2 hierarchy is mounted
at ``/sys/fs/cgroup/unified`` beside the v1 controllers ("cgroups in hybrid mode not
supported"); for crun on such a host every command is run through ``unshare -m
--propagation private`` with that mount unmounted in the private mount namespace first,
which changes nothing on the host.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from typing import Any

from dockyard.errors import Conflict, NotFound, RuntimeFailure

_DECORATION = re.compile(r'^time="[^"]*"\s+level=\w+\s+msg="(.*)"\s*$')


def _hybrid_unified_mounted() -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            lines = f.read().splitlines()
    except OSError:
        return False
    has_v1 = has_unified = False
    for line in lines:
        fields = line.split()
        sep = fields.index("-")
        if fields[sep + 1] == "cgroup":
            has_v1 = True
        elif fields[sep + 1] == "cgroup2" and fields[4] == "/sys/fs/cgroup/unified":
            has_unified = True
    return has_v1 and has_unified


def clean_message(stderr: str) -> str:
    """The useful part of a runtime's stderr: the last error line without logrus's
    ``time=... level=error msg="..."`` decoration."""
    lines = [ln.strip() for ln in stderr.strip().splitlines() if ln.strip()]
    if not lines:
        return "runtime failed without a message"
    line = lines[-1]
    m = _DECORATION.match(line)
    if m:
        line = m.group(1).encode().decode("unicode_escape")
    for prefix in (
        "runc create failed: ",
        "runc run failed: ",
        "crun: ",
        "unable to start container process: ",
    ):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return line


def _log_error(path: str) -> str:
    """The last error message in a runc/crun JSON log file."""
    msg = ""
    try:
        with open(path) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal") and entry.get("msg"):
                    msg = entry["msg"]
    except OSError:
        pass
    return clean_message(msg) if msg else "runtime create failed without a message"


def exit_code_for(message: str) -> int:
    """Docker's exit code for a runtime error message: 127 (not found), 126 (permission
    denied) or 125. Matches runc's and crun's texts, case-insensitively."""
    text = message.lower()
    if (
        "not found in $path" in text
        or "executable file not found" in text
        or "no such file or directory" in text
    ):
        return 127
    if "permission denied" in text:
        return 126
    return 125


class ExternalRuntime:
    """A runc-compatible binary (absolute path) keeping state under ``state_root``."""

    def __init__(self, binary: str, state_root: str) -> None:
        self.binary = binary
        self.state_root = os.path.abspath(state_root)
        prefix: list[str] = []
        if os.path.basename(binary) == "crun" and _hybrid_unified_mounted():
            prefix = [
                "unshare",
                "-m",
                "--propagation",
                "private",
                "sh",
                "-c",
                'umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"',
                "crun",
            ]
        self._argv = [*prefix, binary, "--root", self.state_root]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        return subprocess.run([*self._argv, *args], capture_output=True, text=True, check=False)

    def _fail(self, what: str, proc: subprocess.CompletedProcess[str], container_id: str) -> None:
        msg = clean_message(proc.stderr)
        if "does not exist" in msg or "not found" in msg and "executable" not in msg:
            raise NotFound(f"container {container_id} does not exist")
        raise Conflict(f"{what} {container_id}: {msg}")

    def create(
        self,
        container_id: str,
        bundle: str,
        *,
        console_socket: str | None = None,
        pid_file: str | None = None,
    ) -> None:
        """``runtime create``; raises RuntimeFailure (127/126/125) with the runtime's
        message (see :func:`exit_code_for`)."""
        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        # The container inherits the runtime's stdio, so its errors are read from a log
        # file (runc/crun --log, JSON lines) rather than from a captured stderr.
        log = os.path.join(self.state_root, f".{container_id}.create.log")
        args = ["--log", log, "--log-format", "json", "create", "--bundle", os.path.abspath(bundle)]
        if console_socket:
            args += ["--console-socket", console_socket]
        if pid_file:
            args += ["--pid-file", pid_file]
        try:
            proc = subprocess.run([*self._argv, *args, container_id], check=False)
            if proc.returncode != 0:
                msg = _log_error(log)
                raise RuntimeFailure(msg, exit_code_for(msg))
        finally:
            try:
                os.unlink(log)
            except FileNotFoundError:
                pass

    def start(self, container_id: str) -> None:
        """``runtime start``; raises NotFound or Conflict."""
        proc = self._run("start", container_id)
        if proc.returncode != 0:
            self._fail("start", proc, container_id)

    def state(self, container_id: str) -> dict[str, Any]:
        """``runtime state`` as a dict (OCI state); raises NotFound."""
        proc = self._run("state", container_id)
        if proc.returncode != 0:
            raise NotFound(f"container {container_id} does not exist")
        state: dict[str, Any] = json.loads(proc.stdout)
        return state

    def kill(self, container_id: str, sig: int, all: bool = False) -> None:
        """``runtime kill ID SIG [--all]``; raises NotFound or Conflict."""
        args = ["kill", *(["--all"] if all else []), container_id, str(sig)]
        proc = self._run(*args)
        if proc.returncode != 0:
            self._fail("kill", proc, container_id)

    def delete(self, container_id: str, force: bool = False) -> None:
        """``runtime delete [--force] ID``; raises NotFound or Conflict."""
        proc = self._run("delete", *(["--force"] if force else []), container_id)
        if proc.returncode != 0:
            self._fail("delete", proc, container_id)

    def exec(
        self,
        container_id: str,
        process: dict[str, Any],
        *,
        console_socket: str | None = None,
        pid_file: str | None = None,
        setsid: bool = False,
    ) -> int:
        """``runtime exec --detach --process P`` with the caller as child subreaper, so
        the process (with the caller's stdio, or a pty sent to ``console_socket``) becomes
        the caller's child; returns its pid. ``setsid`` is accepted for interface parity
        (runc's exec'd process already has its own session). Raises RuntimeFailure
        (127/126/125, see :func:`exit_code_for`)."""
        import ctypes
        import tempfile

        ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        os.makedirs(self.state_root, mode=0o700, exist_ok=True)
        work = tempfile.mkdtemp(prefix=f".{container_id}.exec-", dir=self.state_root)
        try:
            process_file = os.path.join(work, "process.json")
            with open(process_file, "w") as f:
                json.dump(process, f)
            own_pid_file = os.path.join(work, "pid")
            log = os.path.join(work, "log")
            args = ["--log", log, "--log-format", "json", "exec", "--detach"]
            args += ["--pid-file", own_pid_file, "--process", process_file]
            if console_socket:
                args += ["--console-socket", console_socket]
            proc = subprocess.run([*self._argv, *args, container_id], check=False)
            if proc.returncode != 0:
                msg = _log_error(log)
                raise RuntimeFailure(msg, exit_code_for(msg))
            with open(own_pid_file) as f:
                pid = int(f.read().strip())
        finally:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
        if pid_file:
            tmp = f"{pid_file}.{os.getpid()}.tmp"
            with open(tmp, "w") as f:
                f.write(str(pid))
            os.rename(tmp, pid_file)
        return pid

    def pause(self, container_id: str) -> None:
        """``runtime pause ID``; raises NotFound or Conflict."""
        proc = self._run("pause", container_id)
        if proc.returncode != 0:
            self._fail("pause", proc, container_id)

    def resume(self, container_id: str) -> None:
        """``runtime resume ID``; raises NotFound or Conflict."""
        proc = self._run("resume", container_id)
        if proc.returncode != 0:
            self._fail("resume", proc, container_id)

    def ps(self, container_id: str) -> list[int]:
        """``runtime ps --format json ID``: the container's pids (host view)."""
        proc = self._run("ps", "--format", "json", container_id)
        if proc.returncode != 0:
            self._fail("ps", proc, container_id)
        return sorted(int(p) for p in json.loads(proc.stdout or "[]") or [])

    def list(self) -> list[dict[str, Any]]:
        """``runtime list --format json``: the containers' states."""
        proc = self._run("list", "--format", "json")
        if proc.returncode != 0:
            return []
        items: list[dict[str, Any]] = json.loads(proc.stdout or "[]") or []
        return items
