"""Docker's ``json-file`` log format: ``containers/<id>/<id>-json.log``, one JSON object a
line, ``{"log":"line\\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}``
(moby ``daemon/logger/jsonfilelog``), written by the container's monitor and read by
``dockyard logs``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dockyard.container.jsonfile import PARTIAL_SIZE, JsonFileWriter, format_time
from dockyard.timetypes import parse_time

__all__ = [
    "PARTIAL_SIZE",
    "JsonFileWriter",
    "LogEntry",
    "format_time",
    "log_path",
    "parse_time",
    "read_log",
]


def log_path(container_dir: str, container_id: str) -> str:
    """The json-file log of a container (inspect's ``LogPath``)."""
    return os.path.join(container_dir, f"{container_id}-json.log")


@dataclass
class LogEntry:
    """One json-file entry: ``log`` bytes, ``stream`` name, ``time`` in ns since the epoch."""

    log: bytes
    stream: str
    time: int


def _decode(line: bytes) -> LogEntry | None:
    try:
        obj = json.loads(line)
        return LogEntry(obj["log"].encode(), obj["stream"], parse_time(obj["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn or foreign line is skipped, as Docker's decoder resyncs


def read_log(
    path: str,
    tail: int = -1,
    since: int = 0,
    until: int = 0,
    follow: Callable[[], bool] | None = None,
    poll: float = 0.1,
) -> Iterator[LogEntry]:
    """The entries of a json-file log: the last ``tail`` (-1: all), then only those at or
    after ``since`` and not after ``until`` (ns since the epoch; 0: no bound). With
    ``follow``, keep reading new entries while ``follow()`` is true, then the rest."""
    try:
        f = open(path, "rb")  # noqa: SIM115 - closed below, kept open while following
    except FileNotFoundError:
        return
    with f:
        lines = f.read().split(b"\n")
        pending = lines.pop()  # an incomplete last line, finished by a later write
        if tail >= 0:
            lines = lines[len(lines) - tail :] if tail else []
        while True:
            for raw in lines:
                entry = _decode(raw)
                if entry is None or (since and entry.time < since):
                    continue
                if until and entry.time > until:
                    return
                yield entry
            if follow is None:
                return
            lines = []
            alive = follow()
            data = f.read()
            if not data:
                if not alive:
                    return
                time.sleep(poll)
                continue
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
