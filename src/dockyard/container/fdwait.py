"""Waiting for file descriptors without select(2)'s limit.

``select.select`` fails on a descriptor number of 1024 or more (FD_SETSIZE); a monitor
that holds published-port sockets and their connections reaches that quickly, and one
failed wait ended the container. ``poll(2)`` has no such limit.
"""

from __future__ import annotations

import select

TYPE_CHECKING = False  # typing itself is not imported: the monitor's memory is measured
if TYPE_CHECKING:
    from collections.abc import Iterable

_READ = select.POLLIN | select.POLLPRI | select.POLLHUP | select.POLLERR | select.POLLNVAL
_WRITE = select.POLLOUT | select.POLLHUP | select.POLLERR | select.POLLNVAL


def wait(
    readable: Iterable[int], writable: Iterable[int] = (), timeout: float | None = None
) -> tuple[list[int], list[int]]:
    """Wait until a descriptor of ``readable`` can be read or one of ``writable`` written
    (hang-ups and errors count as ready, as with select), or ``timeout`` seconds pass
    (None: no limit). Returns the ready ones as ``(readable, writable)``, in
    ``select.select``'s shape. Raises OSError as poll(2) does (InterruptedError on EINTR
    only if a signal handler raised)."""
    poller = select.poll()
    want: dict[int, int] = {}
    for fd in readable:
        want[fd] = want.get(fd, 0) | select.POLLIN | select.POLLPRI
    for fd in writable:
        want[fd] = want.get(fd, 0) | select.POLLOUT
    for fd, mask in want.items():
        poller.register(fd, mask)
    events = poller.poll(None if timeout is None else max(0, int(timeout * 1000 + 0.999)))
    r = [fd for fd, ev in events if want[fd] & select.POLLIN and ev & _READ]
    w = [fd for fd, ev in events if want[fd] & select.POLLOUT and ev & _WRITE]
    return r, w
