"""Signal proxying for processes the CLI waits on (Docker's ``--sig-proxy``)."""

from __future__ import annotations

import contextlib
import os
import signal

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


def wait_forwarding(pid: int, reap_others: bool = False) -> int:
    """Wait for child ``pid`` while forwarding :data:`PROXIED_SIGNALS` to it; returns
    Docker's exit status (the code, or 128+N when signal N ended it).

    With ``reap_others`` every other child that exits meanwhile is reaped too: a child
    subreaper running a container must, or an orphan of the container's PID namespace
    left a zombie keeps PID 1 from finishing its exit (see monitor.Watch._reap_strays).

    The caller blocks those signals (``pthread_sigmask``) from when ``pid`` exists until
    this call, so none sent in between is lost; they are delivered here, after the
    forwarding handlers are installed.
    """

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)

    previous = {}
    for sig in PROXIED_SIGNALS:
        with contextlib.suppress(OSError, ValueError):
            previous[sig] = signal.signal(sig, forward)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, PROXIED_SIGNALS)
    try:
        while True:
            done, wstatus = os.wait() if reap_others else os.waitpid(pid, 0)
            if done == pid:
                break
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    code = os.waitstatus_to_exitcode(wstatus)
    return 128 - code if code < 0 else code
