"""Reading and writing cgroup control files, with Dockyard's one-line error messages."""

from __future__ import annotations

import os

from dockyard.errors import DockyardError


def write(path: str, value: str | int) -> None:
    """Write ``value`` to the control file ``path`` in one ``write(2)``.

    The file must exist (cgroupfs files are never created). Raises ``DockyardError``
    (``cgroup: cannot write <value> to <path>: <strerror>``).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, str(value).encode())
        finally:
            os.close(fd)
    except OSError as e:
        raise DockyardError(f"cgroup: cannot write {value} to {path}: {e.strerror}") from e


def read(path: str) -> str:
    """The content of control file ``path`` without the trailing newline.

    Raises ``DockyardError`` (``cgroup: cannot read <path>: <strerror>``).
    """
    try:
        with open(path) as f:
            return f.read().rstrip("\n")
    except OSError as e:
        raise DockyardError(f"cgroup: cannot read {path}: {e.strerror}") from e


def read_int(path: str) -> int | None:
    """An integer control file (``memory.current``); ``None`` if absent or ``max``."""
    try:
        text = read(path).strip()
    except DockyardError:
        return None
    return None if text == "max" else int(text)


def read_keyed(path: str) -> dict[str, int]:
    """A flat keyed file (``memory.events``, ``cpu.stat``): key -> integer; ``{}`` if absent."""
    try:
        text = read(path)
    except DockyardError:
        return {}
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def exists(path: str) -> bool:
    """Whether control file ``path`` exists (some depend on kernel options, like memsw)."""
    return os.path.exists(path)
