"""The monitor's two phases that need the whole engine: *launch* (start the container,
then exec the small watch phase) and *finish* (record its exit, clean up, restart it or
apply ``--rm``). See :mod:`dockyard.container.monitor` for the process as a whole."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from dockyard.container.signals import PROXIED_SIGNALS
from dockyard.errors import DiskFull, DockyardError, NotFound

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import NoReturn

    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container

#: Seconds a monitor keeps trying to record an exit on a disk too full for the state
#: database, before it gives up (the next command then records the exit as lost).
DISK_FULL_WAIT = 600.0


def launch(
    manager: ContainerManager,
    c: Container,
    lock: int,
    report_fd: int | None = None,
    restarts: int = 0,
    delay: float = 0.0,
    client: int | None = None,
) -> NoReturn:
    """Start ``c`` with its stdio captured, bind its attach socket, then exec the watch
    phase with them; this process (a child subreaper) stays PID 1's parent.

    ``lock`` is the held start lock (fd); ``report_fd`` gets ``{}`` once the container
    runs (a first start); ``restarts``/``delay`` are the restart policy's count and
    back-off in seconds so far; ``client`` (fd of a connected stream socket) is an attach
    client the watch phase serves from its first read of the output (an attached ``run``
    that has the container under a monitor: nothing it prints is missed). Raises DockyardError (RuntimeFailure with 125/126/127)
    when the container cannot start, with everything made undone.
    """
    from dockyard.container import monitor
    from dockyard.container.attach import listen
    from dockyard.container.health import mark_starting, probe_command

    began = time.monotonic()
    with contextlib.ExitStack() as undo:
        _, pid, stdio = manager._launch(c, undo, capture=True)
        manager.done_creating(c.id)  # it runs: no longer half-made if the CLI dies now
        sock = listen(manager.paths.runroot, c.id)
        undo.callback(sock.close)
        args: dict[str, object] = {
            "root": manager.paths.root,
            "runroot": manager.paths.runroot,
            "id": c.id,
            "pid": pid,
            "lock": lock,
            "out": -1,
            "err": -1,
            "tty": int(stdio.master is not None),
            "stdin": -1 if stdio.stdin is None else stdio.stdin,
            "stdin_once": int(bool(c.config.get("StdinOnce"))),
            "attach": sock.fileno(),
            "started": began,
            "began": began,
            "restarts": restarts,
            "delay": delay,
            "client": -1 if client is None else client,
        }
        for fd, stream in stdio.sources:
            args["out" if stream == "stdout" else "err"] = fd
        from dockyard.container.logs import log_limits

        limits = log_limits(c.host_config)
        if limits is None:
            args["log_none"] = 1
        else:
            args["log_max_size"], args["log_max_files"] = limits
        hc = c.config.get("Healthcheck") or {}
        if probe_command(hc) is not None:
            from dockyard.container.health import durations

            args["interval"], args["start_interval"], args["start_period"] = durations(hc)
            mark_starting(manager.store, c.id)
        args.update(manager.service_handoff)
        argv = monitor.command("watch", args)
        keep = [lock, sock.fileno(), *(fd for fd, _ in stdio.sources)]
        keep += _handoff_fds(manager.service_handoff)
        if stdio.stdin is not None:
            keep.append(stdio.stdin)
        if client is not None:
            keep.append(client)
        for fd in keep:
            os.set_inheritable(fd, True)
        undo.pop_all()  # from here on, the watch phase and then finish() own it all
    if report_fd is not None:
        # The CLI may have been killed: the container runs on under this monitor.
        with contextlib.suppress(OSError):
            os.write(report_fd, b"{}")
        os.close(report_fd)
    manager.store.db.close()
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PROXIED_SIGNALS | {signal.SIGCHLD})
    os.execv(argv[0], argv)


def _handoff_fds(handoff: dict[str, str]) -> list[int]:
    """The socket fds named in the watch arguments ``ports`` (``fd/proto/port/ip,...``)
    and ``dns`` (``udpfd/tcpfd/upstreams``)."""
    fds = [int(item.split("/", 1)[0]) for item in filter(None, handoff.get("ports", "").split(","))]
    if handoff.get("dns"):
        fds += [int(fd) for fd in handoff["dns"].split("/")[:2]]
    return fds


def finish(args: dict[str, str]) -> NoReturn:
    """The monitor after PID 1 exited (``args`` from the watch phase: ``root``,
    ``runroot``, ``id``, ``lock``, ``status`` (Docker's exit status), ``began``,
    ``restarts``, ``delay``): mark the health unhealthy, clean up the run, record the
    exit, then restart the container as its policy says (exec'ing the watch phase again)
    or apply ``--rm``. Never returns."""
    from dockyard.container.health import mark_stopped, probe_command
    from dockyard.container.manager import ContainerManager
    from dockyard.container.restart import RestartManager
    from dockyard.paths import Paths

    # Orphans of probes reparented to this subreaper since the watch phase's last reap.
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    manager = ContainerManager.open(Paths(args["root"], args["runroot"]))
    lock = int(args["lock"])
    os.set_inheritable(lock, False)
    status = int(args["status"])
    try:
        c = manager.store.get(args["id"])
    except NotFound:
        os._exit(0)  # removed meanwhile: `rm -f` cleaned up when the exit came late
    if probe_command(c.config.get("Healthcheck")) is not None:
        _until_written(manager, lambda: mark_stopped(manager.store, c.id))
    oom = manager.oom_killed(c)
    _until_written(manager, lambda: manager.cleanup_run(c))
    _until_written(manager, lambda: manager.record_exit(c, status, oom))
    restart = RestartManager(
        c.host_config.get("RestartPolicy") or {}, int(args["restarts"]), float(args["delay"])
    )
    ran_for = time.monotonic() - float(args["began"])
    wait = restart.should_restart(status, manager.stopped_by_user(c.id), ran_for)
    if wait is not None and manager._wait_restart(c, wait, restart.restart_count):
        try:
            launch(manager, c, lock, None, restart.restart_count, restart.delay)
        except DockyardError:
            # A restart that cannot start leaves the container exited.
            c.state.update(Status="exited", Running=False, Restarting=False)
            manager.store.save_state(c)
            os._exit(0)
    os.close(lock)  # the exit is recorded: nobody runs the container any more
    if c.host_config.get("AutoRemove"):
        with contextlib.suppress(NotFound):
            manager.remove(c.id, force=True, volumes=True)
    os._exit(0)


def _until_written(manager: ContainerManager, step: Callable[[], None]) -> None:
    """Run ``step``, database writes of the exit that must not be lost; while the disk is
    too full for them (DiskFull) try again every second for up to DISK_FULL_WAIT seconds,
    with the database closed in between: opened in exclusive locking mode on a full disk,
    it would keep every other command waiting."""
    deadline = time.monotonic() + DISK_FULL_WAIT
    db = manager.store.db
    while True:
        try:
            step()
            return
        except DiskFull:
            if time.monotonic() > deadline:
                raise
        db.close()
        while True:
            time.sleep(1)
            try:
                db.connect()
                break
            except DiskFull:
                if time.monotonic() > deadline:
                    raise
