"""Health checks (Docker's HEALTHCHECK / ``--health-*``): the Healthcheck config from the
flags and the image, and the probe loop a container's monitor runs while it runs.

Semantics follow moby ``daemon/health.go``: the first probe runs one interval after the
start (StartInterval while in the start period), exit 0 is healthy and anything else a
failure; ``Retries`` consecutive failures make the container unhealthy, failures before the
first success inside the start period do not count; a probe exceeding the timeout is killed
and recorded with exit -1; the last 5 results are kept in ``State.Health.Log``; when the
monitor stops, the status becomes unhealthy ("for compatibility reasons").
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time

from dockyard.container import fdwait
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container, ContainerStore

DEFAULT_INTERVAL = 30 * 10**9
DEFAULT_TIMEOUT = 30 * 10**9
DEFAULT_START_INTERVAL = 5 * 10**9
DEFAULT_RETRIES = 3
MAX_LOG_ENTRIES = 5
MAX_OUTPUT = 4096
_MINIMUM_NS = 10**6  # Docker's container.MinimumDuration (1ms)


def format_duration(ns: int) -> str:
    """Go's ``Duration.String``: ``200ms``, ``30s``, ``1m30s``, ``1.5s``."""
    if ns == 0:
        return "0s"
    if ns < 10**3:
        return f"{ns}ns"
    if ns < 10**6:
        return f"{ns / 1e3:g}µs"
    if ns < 10**9:
        return f"{ns / 1e6:g}ms"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".") + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    return f"{minutes}m{seconds}" if minutes else seconds


def merge(user: dict[str, Any] | None, image: dict[str, Any] | None) -> dict[str, Any] | None:
    """The container's Healthcheck: the user's, with the image's Test and durations where
    the user left them unset (moby ``merge``); validated as the daemon does (1ms minimum,
    retries not negative). Raises InvalidArgument."""
    if user is None:
        return dict(image) if image else None
    out = dict(user)
    if image:
        if not out.get("Test"):
            out["Test"] = image.get("Test")
        for key in ("Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
            if not out.get(key):
                out[key] = image.get(key, 0)
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        value = out.get(key) or 0
        if value and value < _MINIMUM_NS:
            raise InvalidArgument(f"{key} in Healthcheck cannot be less than 1ms")
    if (out.get("Retries") or 0) < 0:
        raise InvalidArgument("Retries in Healthcheck cannot be negative")
    return out


def probe_command(healthcheck: dict[str, Any] | None) -> list[str] | None:
    """The argv a Healthcheck runs, or None for no check (absent, empty or ``NONE``).

    ``["CMD", args...]`` runs args; ``["CMD-SHELL", text]`` runs ``/bin/sh -c text``."""
    test = (healthcheck or {}).get("Test") or []
    if not test or test[0] == "NONE":
        return None
    if test[0] == "CMD":
        return list(test[1:]) or None
    if test[0] == "CMD-SHELL":
        return ["/bin/sh", "-c", " ".join(test[1:])]
    return None


def _now() -> str:
    from dockyard.timetypes import now

    return now()


def durations(healthcheck: dict[str, Any]) -> tuple[int, int, int]:
    """(Interval, StartInterval, StartPeriod) of a Healthcheck in ns, defaults applied."""
    return (
        healthcheck.get("Interval") or DEFAULT_INTERVAL,
        healthcheck.get("StartInterval") or DEFAULT_START_INTERVAL,
        healthcheck.get("StartPeriod") or 0,
    )


def next_delay(healthcheck: dict[str, Any], status: str, in_start_period: bool) -> float:
    """Seconds until the next probe: StartInterval while ``starting`` inside the start
    period, else Interval (moby ``daemon/health.go``)."""
    interval, start_interval, _ = durations(healthcheck)
    if status == "starting" and in_start_period:
        return min(start_interval, interval) / 1e9
    return interval / 1e9


def mark_starting(store: ContainerStore, container_id: str) -> None:
    """Record ``Health.Status = "starting"`` for a new run (the log of earlier runs kept)."""

    def starting(h: dict[str, Any]) -> dict[str, Any]:
        return {"Status": "starting", "FailingStreak": 0, "Log": h.get("Log") or []}

    store.update_health(container_id, starting)


def mark_stopped(store: ContainerStore, container_id: str) -> None:
    """Record the status unhealthy once the probes stop, as moby does "for compatibility
    reasons"; nothing when the container is gone."""

    def stopped(h: dict[str, Any]) -> dict[str, Any]:
        return {**h, "Status": "unhealthy"}

    from dockyard.errors import NotFound

    with contextlib.suppress(NotFound):
        store.update_health(container_id, stopped)


def record(
    store: ContainerStore,
    container_id: str,
    retries: int,
    result: dict[str, Any],
    in_start_period: bool,
    root: str,
) -> str:
    """Add a probe's ``result`` to State.Health (the last 5 kept) and apply Docker's
    state machine with ``retries`` (failures before the first success inside the start
    period do not count); returns the new status. A changed status is a
    ``health_status: <status>`` event in the log of the engine rooted at ``root``.
    Raises NotFound."""
    before: list[str] = []

    def apply(h: dict[str, Any]) -> dict[str, Any]:
        log = (h.get("Log") or [])[-(MAX_LOG_ENTRIES - 1) :] + [result]
        streak = h.get("FailingStreak") or 0
        status = h.get("Status") or "starting"
        before.append(status)
        if result["ExitCode"] == 0:
            streak, status = 0, "healthy"
        elif not (status == "starting" and in_start_period):
            streak += 1
            if streak >= retries:
                status = "unhealthy"
        return {"Status": status, "FailingStreak": streak, "Log": log}

    health = store.update_health(container_id, apply)
    status = str((health or {}).get("Status") or "starting")
    if before and before[-1] != status:
        from dockyard import events

        c = store.get(container_id)
        events.record(
            root,
            "container",
            f"health_status: {status}",
            c.id,
            events.container_attributes(c.name, c.config),
        )
    return status


class _ProbeEvents:
    """The exec events dockerd records for each health probe (moby ``daemon/health.go``
    runs probes as execs): ``exec_create: <command>`` and ``exec_start: <command>``
    before it, ``exec_die`` with its exit code after."""

    def __init__(self, root: str, c: Container, command: list[str]) -> None:
        from dockyard import events

        self.root, self.c = root, c
        self.exec_id = os.urandom(32).hex()
        self.line = f"{command[0]} {' '.join(command[1:])}" if command else ""
        for action in ("exec_create", "exec_start"):
            self._record(f"{action}: {self.line}", events)

    def died(self, code: int) -> None:
        from dockyard import events

        self._record("exec_die", events, exitCode=str(code))

    def _record(self, action: str, events: Any, **extra: str) -> None:
        attributes = events.container_attributes(
            self.c.name, self.c.config, execID=self.exec_id, **extra
        )
        events.record(self.root, "container", action, self.c.id, attributes)


def load_probe_code() -> None:
    """Import what :func:`probe_and_record` needs, so that a monitor imports it once and
    each forked probe finds it loaded."""
    import dockyard.container.exec
    import dockyard.container.manager
    import dockyard.events
    import dockyard.image.store
    import dockyard.runtime.init  # noqa: F401 - what runtime.exec imports


def probe_and_record(root: str, runroot: str, container_id: str, in_start_period: bool) -> str:
    """Run the container's health check once in it and record the result; returns the
    status after it. For a single-threaded process of its own (the monitor forks one per
    probe): the probe's stdio is this process's. Raises NotFound when the container is
    gone."""
    from dockyard.container.exec import ExecOptions, _runtime, build_process
    from dockyard.container.manager import ContainerManager
    from dockyard.paths import Paths

    manager = ContainerManager.open(Paths(root, runroot))
    c = manager.store.get(container_id)
    hc = c.config.get("Healthcheck") or {}
    command = probe_command(hc)
    timeout_ns = hc.get("Timeout") or DEFAULT_TIMEOUT
    start = _now()
    execs = _ProbeEvents(root, c, command or [])
    try:
        process = build_process(manager, c, ExecOptions(command=command or []))
        outcome = _helper(_runtime(manager, c), c.id, process, timeout_ns / 1e9, timeout_ns)
    except Exception as e:  # noqa: BLE001 - any failure to probe is a failed probe
        outcome = {"code": -1, "output": str(e)}
    execs.died(outcome["code"])
    result = {
        "Start": start,
        "End": _now(),
        "ExitCode": outcome["code"],
        "Output": outcome["output"],
    }
    retries = hc.get("Retries") or DEFAULT_RETRIES
    return record(manager.store, c.id, retries, result, in_start_period, root)


class HealthMonitor:
    """The probe loop of one run of an attached container (``run`` without ``-d``), in
    a thread; a detached container's monitor schedules its probes itself.

    ``start()`` records ``Health.Status = "starting"`` and begins probing; ``stop()``
    ends the loop, kills a running probe and records the status unhealthy. Every write
    goes through :meth:`ContainerStore.update_health`, which changes only the Health
    key, so it never undoes what the exit recording writes.
    """

    def __init__(self, manager: ContainerManager, c: Container, command: list[str]) -> None:
        self.hc = c.config.get("Healthcheck") or {}
        self.manager = manager
        self.c = c
        self.command = command
        self.timeout_ns = self.hc.get("Timeout") or DEFAULT_TIMEOUT
        self.start_period = (self.hc.get("StartPeriod") or 0) / 1e9
        self.retries = self.hc.get("Retries") or DEFAULT_RETRIES
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = 0.0

    def start(self) -> None:
        """Record the starting status and run the probe loop in a daemon thread."""
        self._started = time.monotonic()
        mark_starting(self.manager.store, self.c.id)
        self._thread = threading.Thread(
            target=self._loop, name=f"health-{self.c.short_id}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """End the loop (a probe in flight is killed) and record the status unhealthy."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        mark_stopped(self.manager.store, self.c.id)

    def _in_start_period(self) -> bool:
        return time.monotonic() - self._started < self.start_period

    def _loop(self) -> None:
        # A connection of its own: SQLite connections are not shared between threads.
        from dockyard.container.store import ContainerStore
        from dockyard.state import StateDB

        db = StateDB(self.manager.store.db.path)
        try:
            self._probe_loop(ContainerStore(db))
        finally:
            db.close()

    def _probe_loop(self, store: ContainerStore) -> None:
        status = "starting"
        while True:
            if self._stop.wait(next_delay(self.hc, status, self._in_start_period())):
                return
            in_start_period = self._in_start_period()
            result = self._probe()
            if self._stop.is_set():
                return
            try:
                status = record(
                    store, self.c.id, self.retries, result, in_start_period, self.manager.paths.root
                )
            except DockyardError:  # removed meanwhile
                return

    def _probe(self) -> dict[str, Any]:
        """Run the check once in the container; its ``{Start, End, ExitCode, Output}``."""
        start = _now()
        execs = _ProbeEvents(self.manager.paths.root, self.c, self.command)
        try:
            code, output = self._run_probe()
        except Exception as e:  # noqa: BLE001 - any failure to probe is a failed probe
            code, output = -1, str(e)
        execs.died(code)
        return {"Start": start, "End": _now(), "ExitCode": code, "Output": output}

    def _run_probe(self) -> tuple[int, str]:
        """Fork a helper that execs the command in the container (its stdout and stderr
        one pipe), kills it after the timeout and reports ``{code, output}``: a helper
        process, so the caller's own stdio is never swapped under its other threads."""
        from dockyard.container.exec import ExecOptions, _runtime, build_process

        process = build_process(self.manager, self.c, ExecOptions(command=self.command))
        runtime = _runtime(self.manager, self.c)
        timeout = self.timeout_ns / 1e9
        report_r, report_w = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked helper
            code = 0
            try:
                os.close(report_r)
                result = _helper(runtime, self.c.id, process, timeout, self.timeout_ns)
                os.write(report_w, json.dumps(result).encode())
            except BaseException as e:  # noqa: BLE001 - a forked helper must never unwind
                with contextlib.suppress(BaseException):
                    os.write(report_w, json.dumps({"code": -1, "output": str(e)}).encode())
                code = 1
            os._exit(code)
        os.close(report_w)
        chunks = []
        with os.fdopen(report_r, "rb") as f:
            while data := f.read(65536):
                chunks.append(data)
        with contextlib.suppress(ChildProcessError):  # reaped by run's wait (reap_others)
            os.waitpid(child, 0)
        result = json.loads(b"".join(chunks) or b'{"code": -1, "output": "probe helper died"}')
        return int(result["code"]), str(result["output"])


def _helper(
    runtime: Any, container_id: str, process: dict[str, Any], timeout: float, timeout_ns: int
) -> dict[str, Any]:
    """The forked helper's work: exec with stdio on a pipe, read it until the process
    ends or ``timeout`` seconds pass (then SIGKILL, exit -1, Docker's message)."""
    out_r, out_w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(out_w, 1)
    os.dup2(out_w, 2)
    os.close(devnull)
    os.close(out_w)
    try:
        pid = runtime.exec(container_id, process, setsid=True)
    except DockyardError as e:
        return {"code": -1, "output": str(e)}
    finally:
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
    deadline = time.monotonic() + timeout
    output = bytearray()
    status: int | None = None
    open_fd = True
    while True:
        if status is None:
            done, wstatus = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(wstatus)
        left = deadline - time.monotonic()
        if status is not None and not open_fd:
            break
        if left <= 0:
            break
        if open_fd:
            ready, _ = fdwait.wait([out_r], timeout=min(left, 0.05))
            if ready:
                data = os.read(out_r, 65536)
                if data:
                    if len(output) < MAX_OUTPUT:
                        output += data[: MAX_OUTPUT - len(output)]
                else:
                    open_fd = False
            elif status is not None:
                break  # exited; something it left behind keeps the pipe open
        else:
            time.sleep(0.01)
    os.close(out_r)
    if status is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        return {
            "code": -1,
            "output": f"Health check exceeded timeout ({format_duration(timeout_ns)})",
        }
    return {
        "code": 128 - status if status < 0 else status,
        "output": output.decode("utf-8", "replace"),
    }
