"""Signal proxying for processes the CLI waits on (Docker's ``--sig-proxy``), and the
detaching of the background processes it leaves behind."""

from __future__ import annotations

import contextlib
import os
import signal

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    import threading

# Docker's CLI forwards every signal but these to the container.
_NOT_PROXIED = {
    signal.SIGCHLD,
    signal.SIGPIPE,
    signal.SIGURG,
    signal.SIGWINCH,
    signal.SIGKILL,
    signal.SIGSTOP,
    signal.SIGTSTP,
    signal.SIGTTIN,
    signal.SIGTTOU,
}
PROXIED_SIGNALS = {
    sig
    for sig in signal.valid_signals()
    if isinstance(sig, signal.Signals) and sig not in _NOT_PROXIED
}

#: What a user or a supervisor sends to interrupt or end a command (Ctrl-C, Ctrl-\,
#: kill, a closed terminal): blocked where a fork must not be cut short.
INTERRUPTING_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT}


def wait_forwarding(
    pid: int, reap_others: bool = False, stop: threading.Event | None = None
) -> int:
    """Wait for child ``pid`` while forwarding :data:`PROXIED_SIGNALS` to it; returns
    Docker's exit status (the code, or 128+N when signal N ended it), or -1 once ``stop``
    is set (whoever sets it then sends this process a SIGCHLD to end the wait at once).

    With ``reap_others`` every other child that exits meanwhile is reaped too: a child
    subreaper running a container must, or an orphan of the container's PID namespace
    left a zombie keeps PID 1 from finishing its exit (see monitor.Watch._reap_strays).

    Signals are taken synchronously (``sigtimedwait``), not by handlers: a handler's
    signal arriving just before a blocking ``waitpid`` was lost until the next one (a
    SIGTERM right after the container's first line went unforwarded). The caller
    blocks the proxied signals and SIGCHLD in every thread (``pthread_sigmask``) from
    when ``pid`` exists, so none is lost before this call.
    """
    watched = PROXIED_SIGNALS | {signal.SIGCHLD}
    signal.pthread_sigmask(signal.SIG_BLOCK, watched)
    try:
        while (wstatus := _reaped(pid, reap_others)) is None:
            if stop is not None and stop.is_set():
                return -1
            # The timeout only bounds the wait should a SIGCHLD go to another thread.
            info = signal.sigtimedwait(watched, 1.0)
            if info is not None and info.si_signo != signal.SIGCHLD:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, info.si_signo)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, watched)
    code = os.waitstatus_to_exitcode(wstatus)
    return 128 - code if code < 0 else code


def _reaped(pid: int, reap_others: bool) -> int | None:
    """``pid``'s wait status if it has exited (reaping it, and with ``reap_others``
    every other exited child too), else None."""
    if not reap_others:
        done, wstatus = os.waitpid(pid, os.WNOHANG)
        return wstatus if done == pid else None
    while True:
        try:
            done, wstatus = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return None
        if done == 0:
            return None
        if done == pid:
            return wstatus


def detach_from_caller() -> None:
    """In a forked child: leave the caller's session and terminal (``setsid``, then fork
    again, the intermediate process exiting 0) and point fds 0-2 at /dev/null. Returns in
    the grandchild, which no terminal signal of the caller's reaches. Raises OSError."""
    os.setsid()
    if os.fork() != 0:
        os._exit(0)
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
