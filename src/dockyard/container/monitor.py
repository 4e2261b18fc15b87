"""The per-container monitor process (docs/architecture.md, process model), kept small.

One monitor process lives as long as its container and keeps one PID throughout; what
it runs changes by ``execve`` so that the long, idle part is a fresh interpreter with
almost nothing imported (about 8 MiB RSS, most of it shared; see docs/design.md):

1. *launch* (the engine's full code, :func:`dockyard.container.supervise.launch`):
   forked from the CLI, it mounts the rootfs, has the runtime create and start the
   container (PID 1 becomes its child: it is a child subreaper), binds the attach socket,
   reports to the CLI and execs phase 2.
2. *watch* (:class:`Watch`, this module, standard library C modules only): relays the
   container's output into its json-file log and to attach clients, feeds its stdin from
   them, runs health probes in forked children and waits for PID 1 (a pidfd); then goes
   on to phase 3 with the exit status, in the same interpreter (an exec when it served
   published ports or DNS, whose threads may outlive their close).
3. *finish* (:func:`dockyard.container.supervise.finish`): records the exit, cleans up,
   and either restarts the container (back to phase 2) or applies ``--rm`` and exits.

The start lock (``<runroot>/<id>.lock``, flock) is one open file passed through every
exec, so it is held from start until the exit is recorded. Phases pass their state as
``key=value`` arguments (this module avoids importing ``json``, which imports ``re``).
"""

from __future__ import annotations

import os
import struct
import sys
import time

from dockyard.container import fdwait

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import NoReturn

    from dockyard.container.jsonfile import JsonFileWriter

# Run by ``python -I -S -c``: isolated from the caller's environment and without site
# packages (the engine needs none); argv[1] is the directory holding the package.
_BOOT = (
    "import sys;sys.path.insert(0,sys.argv.pop(1));"
    "from dockyard.container.monitor import main;main(sys.argv[1:])"
)
# Client to monitor frames on the attach socket (see dockyard.container.attach).
FRAME = struct.Struct(">BxxxI")
STDIN, STDOUT, STDERR, RESIZE = 0, 1, 2, 4
DRAIN_TIMEOUT = 10.0  # seconds to wait for the last output once PID 1 has exited
SEND_TIMEOUT = 10.0  # seconds an attach client may stall the relay before it is dropped
PROBE_GRACE = 5.0  # seconds a probe running at the exit gets before it is killed
_HEALTH_EXIT = ("starting", "healthy", "unhealthy")  # a probe child's exit code -> status


def command(phase: str, args: Mapping[str, object]) -> list[str]:
    """The argv that turns the calling process into ``phase`` ("watch" or "finish") of
    a monitor with ``args`` (values without spaces or ``=`` in keys)."""
    import dockyard

    src = os.path.dirname(os.path.dirname(os.path.abspath(dockyard.__file__)))
    items = [f"{k}={v}" for k, v in args.items()]
    return [sys.executable, "-I", "-S", "-c", _BOOT, src, phase, *items]


def main(argv: list[str]) -> NoReturn:
    """The monitor's entry after an exec: ``argv`` is the phase then ``key=value``
    arguments (see :func:`command`). Never returns."""
    phase, args = argv[0], dict(a.split("=", 1) for a in argv[1:])
    if phase == "watch":
        Watch(args).run()
    from dockyard.container.supervise import finish

    finish(args)


def _ignore(_signum: int, _frame: object) -> None:
    """A SIGCHLD handler that only makes the signal wake the loop (set_wakeup_fd)."""


class Watch:
    """Phase 2: the idle life of the monitor, one ``select`` loop and no threads.

    ``args``: ``root``, ``runroot``, ``id``, ``pid`` (PID 1, a child of this process),
    ``lock``, ``out``/``err`` (read ends of the container's stdout/stderr, or its pty
    master as ``out``; -1: none), ``stdin`` (write end of its stdin, -1: none),
    ``stdin_once`` (0/1), ``attach`` (the listening attach socket), ``client`` (a
    connected attach client, served from the start; -1: none), health check
    durations in ns (``interval``, ``start_interval``, ``start_period``; absent: no check),
    ``ports``/``dns`` (sockets of its network services, see
    :func:`dockyard.network.services.serve_handed_off`; absent: none),
    ``started`` (CLOCK_MONOTONIC seconds of the start) and what phase 3 needs
    (``began``, ``restarts``, ``delay``), passed on unchanged.
    """

    def __init__(self, args: dict[str, str]) -> None:
        import _socket

        self.args = args
        self.pid = int(args["pid"])
        self.lock = int(args["lock"])
        os.set_inheritable(self.lock, False)
        self.sources: dict[int, str] = {}
        for key, stream in (("out", "stdout"), ("err", "stderr")):
            fd = int(args[key])
            if fd >= 0:
                os.set_inheritable(fd, False)
                self.sources[fd] = stream
        self.tty_master = int(args["out"]) if args.get("tty") == "1" else -1
        stdin = int(args["stdin"])
        self.stdin = stdin if stdin >= 0 else None
        if self.stdin is not None:
            os.set_inheritable(self.stdin, False)
            os.set_blocking(self.stdin, False)
        self.stdin_once = args["stdin_once"] == "1"
        self.pending = bytearray()  # client input the container has not read yet
        self.listen = _socket.socket(fileno=int(args["attach"]))
        os.set_inheritable(self.listen.fileno(), False)
        self.clients: dict[int, _socket.socket] = {}
        self.inputs: dict[int, bytearray] = {}  # client fd -> partial frame
        client = int(args.get("client", -1))
        if client >= 0:
            os.set_inheritable(client, False)
            self._add_client(client)
        self.writer: JsonFileWriter | None = None
        self.services = None
        if args.get("ports") or args.get("dns"):
            # Published ports and the embedded DNS, bound by the launch phase: served
            # here (threads), imported only by monitors of containers that have them.
            from dockyard.network.services import serve_handed_off
            from dockyard.paths import Paths

            paths = Paths(args["root"], args["runroot"])
            self.services = serve_handed_off(
                paths, args["id"], args.get("ports", ""), args.get("dns", "")
            )
        self.health = "interval" in args
        # The health check's durations in ns (health.next_delay's Healthcheck keys).
        self.hc = {
            key: int(args.get(name, 0))
            for key, name in (
                ("Interval", "interval"),
                ("StartInterval", "start_interval"),
                ("StartPeriod", "start_period"),
            )
        }
        self.started = float(args["started"])
        self.probe_pid = 0
        self.probe_fd = -1
        self.sigchld = -1
        self.health_status = "starting"
        self.next_probe = self._probe_delay() + time.monotonic() if self.health else 0.0
        if self.sources:
            from dockyard.container.jsonfile import JsonFileWriter

            # Last, then what the container wrote meanwhile is copied at once: a log
            # reader waits for the file to exist (the start returned before this phase
            # began) and then finds that output, as dockerd's copier, attached before
            # the start, has it.
            path = os.path.join(args["root"], "containers", args["id"], f"{args['id']}-json.log")
            if args.get("log_none") == "1":
                path = os.devnull  # --log-driver none: the output goes nowhere
            self.writer = JsonFileWriter(
                path,
                max_size=int(args.get("log_max_size") or 0),
                max_files=int(args.get("log_max_files") or 1),
            )
            readable, _ = fdwait.wait(list(self.sources), [], 0)
            for fd in readable:
                self._read_source(fd)

    # -- the loop -------------------------------------------------------------------------

    def run(self) -> NoReturn:
        """Serve until PID 1 exits, then exec phase 3 with its Docker exit status."""
        import _signal

        pidfd = os.pidfd_open(self.pid)
        # SIGCHLD wakes the loop to reap children nobody waits for (see _reap_strays).
        self.sigchld, wakeup = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        _signal.set_wakeup_fd(wakeup, warn_on_full_buffer=False)
        _signal.signal(_signal.SIGCHLD, _ignore)
        while True:
            timeout = None
            if self.health and not self.probe_pid:
                timeout = max(0.0, self.next_probe - time.monotonic())
            readable = [pidfd, self.sigchld, *self.sources, self.listen.fileno()]
            if not self.pending:
                readable += list(self.inputs)
            if self.probe_pid:
                readable.append(self.probe_fd)
            writable = [self.stdin] if self.pending and self.stdin is not None else []
            try:
                r, w = fdwait.wait(readable, writable, timeout)
            except InterruptedError:
                continue
            for fd in r:
                if fd in self.sources:
                    self._read_source(fd)
                elif fd in self.inputs:
                    self._read_client(fd)
                elif fd == self.listen.fileno():
                    self._accept()
                elif fd == self.probe_fd:
                    self._probe_done()
                elif fd == self.sigchld:
                    while True:  # drain the wakeup bytes
                        try:
                            if not os.read(self.sigchld, 512):
                                break
                        except BlockingIOError:
                            break
                    self._reap_strays()
            if w:
                self._write_stdin()
            if pidfd in r:
                break
            if self.health and not self.probe_pid and time.monotonic() >= self.next_probe:
                self._start_probe()
        _, wstatus = os.waitpid(self.pid, 0)
        os.close(pidfd)
        code = os.waitstatus_to_exitcode(wstatus)
        status = 128 - code if code < 0 else code
        self._wind_down()
        args: dict[str, object] = {
            k: self.args[k] for k in ("root", "runroot", "id", "began", "restarts", "delay")
        }
        args.update(lock=self.lock, status=status)
        if self.services is None:
            # Phase 3 in this process: an exec would start an interpreter only to import
            # the same modules (about 15 ms of CPU per container); the process is single-
            # threaded, its descriptors closed and the SIGCHLD handling undone.
            self._unwatch()
            from dockyard.container.supervise import finish

            finish({k: str(v) for k, v in args.items()})
        # The services' threads may outlive their close: a fresh process for phase 3,
        # which forks (a restart).
        os.set_inheritable(self.lock, True)
        argv = command("finish", args)
        os.execv(argv[0], argv)

    def _unwatch(self) -> None:
        """Undo what :meth:`run` set up for the loop: SIGCHLD back to its default, the
        wakeup pipe closed."""
        import _signal

        wakeup = _signal.set_wakeup_fd(-1)
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        for fd in (wakeup, self.sigchld):
            if fd >= 0:
                os.close(fd)
        self.sigchld = -1

    def _wind_down(self) -> None:
        """After PID 1's exit: the last output into the log (bounded: a process that
        escaped the container could hold a pipe open), the running probe ended, every
        client's stream closed, the attach socket removed."""
        if self.services is not None:
            self.services.close()  # the host ports are free before the exit is recorded
        deadline = time.monotonic() + DRAIN_TIMEOUT
        while self.sources and (left := deadline - time.monotonic()) > 0:
            r, _ = fdwait.wait(self.sources, timeout=left)
            for fd in r:
                self._read_source(fd)
        for fd in list(self.sources):
            self._close_source(fd)
        if self.writer is not None:
            self.writer.close()
        if self.probe_pid:
            r, _ = fdwait.wait([self.probe_fd], timeout=PROBE_GRACE)
            if not r:
                os.kill(self.probe_pid, 9)
            self._probe_done()
        self._reap_strays()
        for conn in self.clients.values():
            try:
                conn.shutdown(2)
            except OSError:
                pass
            conn.close()
        self.clients.clear()
        dirfd = os.open(self.args["runroot"], os.O_PATH | os.O_DIRECTORY)
        try:
            os.unlink(f"{self.args['id']}.attach", dir_fd=dirfd)
        except FileNotFoundError:
            pass
        os.close(dirfd)
        self.listen.close()
        if self.stdin is not None:
            os.close(self.stdin)

    def _reap_strays(self) -> None:
        """Reap every exited child but PID 1 and the running probe (whose pidfds the
        loop watches). As a child subreaper the monitor inherits the orphans of its
        probes (an exec'd process whose helper died first): unreaped, a zombie of the
        container's PID namespace keeps its PID 1 from finishing its exit (the kernel
        waits for the namespace's processes to be reaped), and the exit is never seen."""
        while True:
            try:
                info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return
            if info is None or info.si_pid in (self.pid, self.probe_pid):
                return
            os.waitpid(info.si_pid, 0)

    # -- output ---------------------------------------------------------------------------

    def _read_source(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the pty's other side is closed
            data = b""
        if not data:
            self._close_source(fd)
            return
        stream = self.sources[fd]
        if self.writer is not None:
            self.writer.feed(stream, data)
        message = FRAME.pack(STDERR if stream == "stderr" else STDOUT, len(data)) + data
        for cfd, conn in list(self.clients.items()):
            try:
                conn.sendall(message)
            except OSError:
                self._drop(cfd)

    def _close_source(self, fd: int) -> None:
        stream = self.sources.pop(fd)
        if self.writer is not None:
            self.writer.finish(stream)
        if fd == self.tty_master:
            self.tty_master = -1
        os.close(fd)

    # -- attach clients -------------------------------------------------------------------

    def _accept(self) -> None:
        try:
            fd, _ = self.listen._accept()  # type: ignore[attr-defined]
        except OSError:
            return
        self._add_client(fd)

    def _add_client(self, fd: int) -> None:
        import _socket

        conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM, 0, fd)
        conn.settimeout(SEND_TIMEOUT)
        self.clients[fd] = conn
        self.inputs[fd] = bytearray()

    def _drop(self, fd: int) -> None:
        conn = self.clients.pop(fd, None)
        self.inputs.pop(fd, None)
        if conn is not None:
            conn.close()

    def _read_client(self, fd: int) -> None:
        """A client's frames: stdin data (only with ``-i``), a tty size; its end of
        file is stdin's end when the container was created with StdinOnce."""
        try:
            data = self.clients[fd].recv(65536)
        except OSError:
            data = b""
        if not data:
            del self.inputs[fd]  # half-closed: it still gets the output
            # As moby's attach: the end of a client's input closes the container's
            # stdin with StdinOnce, never a tty's.
            if self.stdin_once and self.tty_master < 0:
                self._close_stdin()
            return
        buf = self.inputs[fd]
        buf += data
        while len(buf) >= FRAME.size:
            kind, size = FRAME.unpack_from(buf)
            if len(buf) < FRAME.size + size:
                break
            payload = bytes(buf[FRAME.size : FRAME.size + size])
            del buf[: FRAME.size + size]
            if kind == STDIN and self.stdin is not None:
                self.pending += payload
            elif kind == RESIZE and self.tty_master >= 0 and size == 4:
                self._resize(payload)
        if self.pending:
            self._write_stdin()

    def _resize(self, payload: bytes) -> None:
        import fcntl
        import termios

        rows, cols = struct.unpack(">HH", payload)
        try:
            fcntl.ioctl(self.tty_master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        except OSError:
            pass  # the container's side is gone

    def _write_stdin(self) -> None:
        if self.stdin is None:
            self.pending.clear()
            return
        try:
            written = os.write(self.stdin, self.pending)
        except BlockingIOError:
            return
        except OSError:  # the container closed its stdin or exited
            self.pending.clear()
            self._close_stdin()
            return
        del self.pending[:written]

    def _close_stdin(self) -> None:
        if self.stdin is not None:
            os.close(self.stdin)
        self.stdin = None
        self.pending.clear()

    # -- health probes --------------------------------------------------------------------

    def _probe_delay(self) -> float:
        from dockyard.container.health import next_delay

        return next_delay(self.hc, self.health_status, self._in_start_period())

    def _in_start_period(self) -> bool:
        return time.monotonic() - self.started < self.hc["StartPeriod"] / 1e9

    def _start_probe(self) -> None:
        """Fork a child that runs one probe in the container and records its result; its
        exit code is the status after it. The probe code is imported here once, on the
        first probe: monitors of containers without a health check never load it (nor
        anything else of the engine's)."""
        from dockyard.container import health

        health.load_probe_code()
        in_start_period = self._in_start_period()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked child
            code = 3
            try:
                import _signal

                _signal.set_wakeup_fd(-1)
                _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
                os.closerange(3, os.sysconf("SC_OPEN_MAX"))
                status = health.probe_and_record(
                    self.args["root"], self.args["runroot"], self.args["id"], in_start_period
                )
                code = _HEALTH_EXIT.index(status) if status in _HEALTH_EXIT else 3
            finally:
                os._exit(code)
        self.probe_pid = pid
        self.probe_fd = os.pidfd_open(pid)

    def _probe_done(self) -> None:
        _, wstatus = os.waitpid(self.probe_pid, 0)
        os.close(self.probe_fd)
        self.probe_pid, self.probe_fd = 0, -1
        code = os.waitstatus_to_exitcode(wstatus)
        if 0 <= code < len(_HEALTH_EXIT):
            self.health_status = _HEALTH_EXIT[code]
        self.next_probe = time.monotonic() + self._probe_delay()
