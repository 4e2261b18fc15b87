"""The engine's event log: Docker's events (moby ``daemon/events``, ``api/types/events``)
shared by every process of one engine root.

Dockyard has no daemon to hold Docker's in-memory ring of 256 events, so each event is one
JSON line appended to ``<root>/events/events.log`` by whichever process causes it (a CLI
command, a container's monitor, the API service). A line is the Engine API's event message
without the legacy fields (``Type``, ``Action``, ``Actor{ID, Attributes}``, ``scope``,
``time``, ``timeNano``); the facade adds those when it serves them.

- **Bounded.** Once the file holds ``MAX_BYTES`` it is renamed to ``events.log.1``
  (replacing the previous one) and a new file begun: between ``MAX_BYTES`` and twice that
  of the latest events are kept (thousands; Docker keeps 256).
- **Concurrent writers** hold ``events/lock`` (flock) for the append (one ``write``) and
  for the rotation, so no line is torn by another writer and none is written into a file
  already rotated away. A writer killed in the middle of its ``write`` (or one cut short
  by a full disk) leaves a line without its newline: the next writer starts a new line
  first, and readers skip what does not parse.
- **Durability.** Lines are written after the state they report is committed, without
  ``fsync`` (as Docker's events, they are a record of what happened, not the state; a
  power loss may lose the last ones).
- **Followers** are woken by inotify on the ``events`` directory (a write, a new file, a
  rotation), never by a busy loop; where inotify is unavailable (no watches left) they
  look every ``POLL_FALLBACK`` seconds.
- Recording never fails the operation that caused the event: an event that cannot be
  written (a full disk, a read-only root) is lost, as an event a slow subscriber misses
  is in Docker.

Only the standard library: a container's monitor records events too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

#: Size (bytes) at which events.log is rotated to events.log.1.
MAX_BYTES = 1 << 20
#: Seconds between looks at the log when inotify cannot be used.
POLL_FALLBACK = 0.25

LOG_NAME = "events.log"
OLD_NAME = "events.log.1"


def events_dir(root: str) -> str:
    """The directory of the event log of the engine rooted at ``root``."""
    return os.path.join(root, "events")


def record(
    root: str,
    type: str,
    action: str,
    actor_id: str,
    attributes: dict[str, str] | None = None,
) -> None:
    """Append one event (``type``: container, image, network, volume...; ``action``:
    create, start, ``exec_create: sh -c x``...; the actor's ID and string attributes)
    to the log of the engine rooted at ``root``, stamped now. Never raises: an event
    that cannot be written is dropped (see the module's notes)."""
    now = time.time_ns()
    message = {
        "Type": type,
        "Action": action,
        "Actor": {"ID": actor_id, "Attributes": dict(attributes or {})},
        "scope": "local",
        "time": now // 1_000_000_000,
        "timeNano": now,
    }
    line = json.dumps(message, separators=(",", ":")).encode() + b"\n"
    with contextlib.suppress(OSError):
        _append(events_dir(root), line)


def container_attributes(name: str, config: dict[str, Any], **extra: str) -> dict[str, str]:
    """A container event's attributes as moby's LogContainerEventWithAttributes: the
    container's labels, ``image`` (Config.Image, as the user gave it) and ``name``
    (without the leading ``/``), over ``extra`` (exitCode, signal...)."""
    attributes = dict(extra)
    attributes.update(config.get("Labels") or {})
    if config.get("Image"):
        attributes["image"] = config["Image"]
    attributes["name"] = name.lstrip("/")
    return attributes


def _append(directory: str, line: bytes) -> None:
    flags = os.O_CREAT | os.O_RDWR | os.O_CLOEXEC
    try:
        lock = os.open(os.path.join(directory, "lock"), flags, 0o600)
    except FileNotFoundError:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        lock = os.open(os.path.join(directory, "lock"), flags, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = os.path.join(directory, LOG_NAME)
        fd = os.open(path, flags | os.O_APPEND, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size >= MAX_BYTES:
                os.rename(path, os.path.join(directory, OLD_NAME))
                os.close(fd)
                fd = os.open(path, flags | os.O_APPEND, 0o600)
                size = 0
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a torn line before: this one starts afresh
            os.write(fd, line)
        finally:
            os.close(fd)
    finally:
        os.close(lock)


def _parse(lines: list[bytes]) -> Iterator[dict[str, Any]]:
    for raw in lines:
        try:
            message = json.loads(raw)
        except ValueError:
            continue  # a line torn by a killed writer
        if _well_formed(message):
            yield message


def _well_formed(message: Any) -> bool:
    """Whether a parsed line has the shape ``record`` writes (a corrupt or foreign line
    that happens to be JSON is skipped as a torn one is, not a reader's KeyError)."""
    if not isinstance(message, dict) or not isinstance(message.get("timeNano"), int):
        return False
    actor = message.get("Actor")
    if not (
        isinstance(message.get("Type"), str)
        and isinstance(message.get("Action"), str)
        and isinstance(actor, dict)
        and isinstance(actor.get("ID"), str)
    ):
        return False
    attributes = actor.get("Attributes")
    return isinstance(attributes, dict) and all(isinstance(v, str) for v in attributes.values())


class _Reader:
    """Complete lines of one log file from an offset on (a partial last line waits)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.ino = os.fstat(fd).st_ino
        self.rest = b""

    def lines(self) -> list[bytes]:
        chunks = []
        while True:
            data = os.read(self.fd, 1 << 16)
            if not data:
                break
            chunks.append(data)
        data = self.rest + b"".join(chunks)
        *lines, self.rest = data.split(b"\n")
        return lines

    def close(self) -> None:
        os.close(self.fd)


def _open(path: str) -> _Reader | None:
    try:
        return _Reader(os.open(path, os.O_RDONLY | os.O_CLOEXEC))
    except FileNotFoundError:
        return None


def read(root: str) -> list[dict[str, Any]]:
    """Every event kept in the log of the engine rooted at ``root``, oldest first."""
    return list(_Follower(root).backlog())


def follow(
    root: str,
    backlog: bool = True,
    stop: Callable[[], bool] | None = None,
    idle: float = 1.0,
) -> Iterator[dict[str, Any] | None]:
    """With ``backlog`` the events kept in the log (oldest first), then each new one as
    it is written, until the caller stops iterating. Yields None after ``idle`` seconds
    without an event (so a caller can check its client or a deadline) and ends once
    ``stop()`` is true (checked at those moments). The subscription starts with this
    call (not the first iteration): an event written after it returns is never missed."""
    follower = _Follower(root)
    if not backlog:
        follower.skip()

    def generate() -> Iterator[dict[str, Any] | None]:
        try:
            if backlog:
                yield from follower.backlog()
            while stop is None or not stop():
                got = False
                for message in follower.new():
                    got = True
                    yield message
                if not got and not follower.wait(idle):
                    yield None
        finally:
            follower.close()

    return generate()


class _Follower:
    """Reads events.log.1 then events.log, and follows events.log across rotations."""

    def __init__(self, root: str) -> None:
        self.dir = events_dir(root)
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        self.path = os.path.join(self.dir, LOG_NAME)
        self.current: _Reader | None = None
        # Watching before reading: a write between a read and the wait still wakes it.
        self.notify = _Inotify.watch(self.dir)

    def backlog(self) -> Iterator[dict[str, Any]]:
        # Opened before the old file is read: a rotation meanwhile moves what this one
        # held into events.log.1, read next, and new() then notices the new file.
        self.current = _open(self.path)
        old = _open(os.path.join(self.dir, OLD_NAME))
        if old is not None:
            seen_ino = self.current.ino if self.current is not None else None
            if old.ino != seen_ino:
                yield from _parse(old.lines())
            old.close()
        yield from self.new()

    def skip(self) -> None:
        """Start at the end of the log: only events written from now on."""
        self.current = _open(self.path)
        if self.current is not None:
            os.lseek(self.current.fd, 0, os.SEEK_END)

    def new(self) -> Iterator[dict[str, Any]]:
        if self.current is None:
            self.current = _open(self.path)
            if self.current is None:
                return
        yield from _parse(self.current.lines())
        try:
            ino = os.stat(self.path).st_ino
        except FileNotFoundError:
            return
        if ino != self.current.ino:
            # Rotated: every write into the old file came before the rename (writers
            # hold the lock across both), so one more read of it is complete.
            yield from _parse(self.current.lines())
            held = self.current.ino
            self.current.close()
            # More than one rotation since the last look (a follower far behind): the
            # file between is events.log.1 now; older ones are lost, as events a slow
            # subscriber misses are in Docker.
            between = _open(os.path.join(self.dir, OLD_NAME))
            if between is not None:
                if between.ino != held:
                    yield from _parse(between.lines())
                between.close()
            self.current = _open(self.path)
            if self.current is not None:
                yield from _parse(self.current.lines())

    def wait(self, timeout: float) -> bool:
        """Sleep until the log directory changes or ``timeout`` seconds pass; True if
        something changed (or may have: the polling fallback)."""
        import select

        if self.notify is None:
            time.sleep(min(timeout, POLL_FALLBACK))
            return True
        ready, _, _ = select.select([self.notify.fd], [], [], timeout)
        if ready:
            self.notify.drain()
        return bool(ready)

    def close(self) -> None:
        if self.current is not None:
            self.current.close()
            self.current = None
        if self.notify is not None:
            self.notify.close()
            self.notify = None


class _Inotify:
    """An inotify instance watching one directory for writes, new and renamed files."""

    # <sys/inotify.h>
    IN_MODIFY, IN_MOVED_TO, IN_CREATE = 0x2, 0x80, 0x100
    IN_NONBLOCK, IN_CLOEXEC = 0o4000, 0o2000000

    def __init__(self, fd: int) -> None:
        self.fd = fd

    @classmethod
    def watch(cls, directory: str) -> _Inotify | None:
        """A watch on ``directory``, or None where inotify cannot be used."""
        import ctypes
        import ctypes.util

        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            fd = libc.inotify_init1(cls.IN_NONBLOCK | cls.IN_CLOEXEC)
        except (OSError, AttributeError):
            return None
        if fd < 0:
            return None
        mask = cls.IN_MODIFY | cls.IN_MOVED_TO | cls.IN_CREATE
        if libc.inotify_add_watch(fd, os.fsencode(directory), mask) < 0:
            os.close(fd)
            return None
        return cls(fd)

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 4096):
                pass

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self.fd)
