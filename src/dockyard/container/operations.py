"""``stop``, ``restart``, ``rename`` and ``container prune`` on top of ContainerManager
(Docker CLI reference: docker container stop / restart / rename / prune)."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import TYPE_CHECKING

from dockyard.container.store import Container
from dockyard.errors import Conflict, DiskFull, DockyardError, InvalidArgument, NotFound

if TYPE_CHECKING:
    from dockyard.container.manager import ContainerManager

#: Docker's grace period between the stop signal and SIGKILL, in seconds.
DEFAULT_STOP_TIMEOUT = 10
#: How long to wait for the exit to be recorded after SIGKILL, in seconds.
_KILL_GRACE = 30


def stop_signal(c: Container) -> int:
    """The signal ``stop`` sends to ``c``: its ``--stop-signal`` or the image's STOPSIGNAL
    (both recorded as Config.StopSignal), else SIGTERM."""
    from dockyard.sysignal import parse_signal

    configured = c.config.get("StopSignal")
    return parse_signal(configured) if configured else int(signal.SIGTERM)


def stop_timeout(c: Container) -> int:
    """Seconds ``stop`` waits before SIGKILL: ``--stop-timeout`` (Config.StopTimeout),
    else 10."""
    configured = c.config.get("StopTimeout")
    return int(configured) if configured is not None else DEFAULT_STOP_TIMEOUT


def stop(
    manager: ContainerManager, ref: str, timeout: int | None = None, sig: int | None = None
) -> Container:
    """Stop a container as ``docker stop``: send ``sig`` (default :func:`stop_signal`) to
    its PID 1, wait ``timeout`` seconds (default :func:`stop_timeout`; negative: forever),
    then SIGKILL. A container that is not running is left as it is.

    Returns the container as recorded after the stop. Raises NotFound, or DockyardError
    when even SIGKILL does not end it within 30 s.
    """
    c = manager.reconcile(manager.store.get(ref))
    if not c.state["Running"]:
        return c
    stopped = _stop(manager, c, timeout, sig)
    manager.event(c, "stop")
    return stopped


def _stop(
    manager: ContainerManager, c: Container, timeout: int | None, sig: int | None
) -> Container:
    # Before the signal: the monitor must see it when the exit comes, not restart it.
    manager.mark_stopped_by_user(c.id)
    if sig is None:
        sig = stop_signal(c)
    if timeout is None:
        timeout = stop_timeout(c)
    try:
        manager.kill(c.id, sig)
    except (Conflict, NotFound):
        # It exited (--rm may have removed it), or it is between two runs of its restart
        # policy: then its monitor sees the mark and records the exit at once.
        with contextlib.suppress(DockyardError):
            manager.wait(c.id, timeout=5)
        try:
            return manager.store.get(c.id)
        except NotFound:
            return c
    if c.state.get("Paused"):
        _thaw(manager, c)
    try:
        manager.wait(c.id, timeout=None if timeout < 0 else timeout)
    except DockyardError:
        # The grace period is over (or --rm removed it: NotFound, below).
        with contextlib.suppress(Conflict, NotFound):
            manager.kill(c.id, signal.SIGKILL)
        with contextlib.suppress(NotFound):
            manager.wait(c.id, timeout=_KILL_GRACE)
    try:
        return manager.store.get(c.id)
    except NotFound:
        return c


def _thaw(manager: ContainerManager, c: Container) -> None:
    """Unpause ``c`` so the signal just sent takes effect, as Docker does on stop.

    Recorded first: a frozen container cannot exit, so no exit record can be overwritten.
    """
    from dockyard.runtime import get_runtime

    c.state.update(Paused=False, Status="running")
    manager.store.save_state(c)
    runtime = get_runtime(c.host_config.get("Runtime") or "dockyard", manager.paths.runtime_state)
    with contextlib.suppress(DockyardError):
        runtime.resume(c.id)


def restart(
    manager: ContainerManager, ref: str, timeout: int | None = None, sig: int | None = None
) -> Container:
    """``docker restart``: :func:`stop` (if running, with ``timeout`` and ``sig`` as
    there), then start detached under a monitor.

    Raises NotFound, or RuntimeFailure when it cannot start again.
    """
    c = stop(manager, ref, timeout=timeout, sig=sig)
    manager.start_detached(manager.store.get(c.id))
    c = manager.store.get(c.id)
    manager.event(c, "restart")
    return c


def rename(manager: ContainerManager, ref: str, new_name: str) -> Container:
    """``docker rename``: give the container ``ref`` the name ``new_name``.

    Raises NotFound, InvalidArgument (an invalid name, or the same name as now) or
    Conflict (the name is taken), with Docker's messages.
    """
    from dockyard.container.names import validate_name

    c = manager.store.get(ref)
    name = validate_name(new_name)
    if name == c.name:
        raise InvalidArgument("Renaming a container with the same name as its current name")
    manager.store.rename(c.id, name)
    old, c.name = c.name, name
    manager.event(c, "rename", oldName="/" + old)
    return c


def dir_size(path: str) -> int:
    """Bytes under ``path`` as moby's ``directory.Size`` counts them (the size of a volume
    ``volume prune`` reports, a container's SizeRw): the lstat size of every entry that is
    not a directory (regular files, and symlinks by the length of their target), each
    inode once. 0 when ``path`` does not exist.

    Walks from directory file descriptors, one open at a time, climbing back through
    ``..``: a container can nest directories deeper than the recursion limit and make
    paths longer than PATH_MAX, which moby's path walk stops at but this one does not.
    Entries that vanish or cannot be read while walking are skipped."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    seen: set[tuple[int, int]] = set()
    total = 0

    def scan(fd: int) -> list[str]:
        nonlocal total
        subdirs: list[str] = []
        try:
            it = os.scandir(fd)
        except OSError:
            return subdirs
        with it:
            for entry in it:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        subdirs.append(entry.name)
                        continue
                    st = entry.stat(follow_symlinks=False)
                except OSError:
                    continue
                if st.st_size and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        return subdirs

    try:
        fd = os.open(path, flags)
    except OSError:
        return 0
    try:
        pending = [scan(fd)]  # per level entered, the subdirectories not yet walked
        while pending:
            if pending[-1]:
                try:
                    child = os.open(pending[-1].pop(), flags, dir_fd=fd)
                except OSError:
                    continue
                os.close(fd)
                fd = child
                pending.append(scan(fd))
                continue
            pending.pop()
            if pending:
                parent = os.open("..", flags, dir_fd=fd)
                os.close(fd)
                fd = parent
    finally:
        os.close(fd)
    return total


def container_size(manager: ContainerManager, c: Container) -> int:
    """Bytes in the container's own writable layer (Docker's SizeRw)."""
    return dir_size(os.path.join(manager.paths.container_dir(c.id), "upper"))


def _parse_until(value: str) -> float:
    """A prune ``until`` filter as a Unix time: a timestamp (RFC 3339, date, Unix
    seconds) or a Go duration before now (``10m``, ``1h30m``)."""
    import datetime
    import re
    import time

    if re.fullmatch(r"\d+(\.\d+)?", value):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", value)
    if parts and "".join(n + u for n, u in parts) == value:
        scale = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}
        return time.time() - sum(float(n) * scale[u] for n, u in parts)
    try:
        t = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidArgument(f'failed to parse value as time or duration: "{value}"') from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.UTC)
    return t.timestamp()


def created_time(c: Container) -> float:
    """``c.created`` (RFC 3339 with nanoseconds) as a Unix time."""
    import datetime

    head, _, frac = c.created.rstrip("Z").partition(".")
    t = datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    return t.timestamp()


def label_matches(labels: dict[str, str], spec: str) -> bool:
    """Docker's ``label=key`` / ``label=key=value`` filter test."""
    key, eq, value = spec.partition("=")
    if key not in labels:
        return False
    return not eq or labels[key] == value


def prune(manager: ContainerManager, filters: dict[str, list[str]]) -> list[tuple[str, int]]:
    """``docker container prune``: remove every container that is not running and
    matches ``filters`` (``until``: created before; ``label``/``label!``: labels).

    Returns ``[(id, bytes reclaimed)]``. Raises InvalidArgument for another filter key.
    """
    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    untils = [_parse_until(v) for v in filters.get("until", [])]
    removed = []
    for c in manager.list_reconciled():
        if c.state["Running"] or c.state.get("Paused"):
            continue
        labels = c.config.get("Labels") or {}
        if untils and not all(created_time(c) < u for u in untils):
            continue
        if not all(label_matches(labels, s) for s in filters.get("label", [])):
            continue
        if any(label_matches(labels, s) for s in filters.get("label!", [])):
            continue
        size = container_size(manager, c)
        try:
            manager.remove(c.id)
        except DiskFull:
            raise  # not one container's trouble: every other removal would fail too
        except DockyardError:
            continue
        removed.append((c.id, size))
    return removed
