"""Docker's ``json-file`` log format: ``containers/<id>/<id>-json.log``, one JSON object a
line, ``{"log":"line\\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}``
(moby ``daemon/logger/jsonfilelog``), written by the container's monitor and read by
``dockyard logs``."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from dockyard.container.jsonfile import PARTIAL_SIZE, JsonFileWriter, format_time

__all__ = [
    "PARTIAL_SIZE",
    "JsonFileWriter",
    "LogEntry",
    "format_time",
    "log_path",
    "parse_time",
    "parse_time_arg",
    "read_log",
]

_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_UNITS_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def log_path(container_dir: str, container_id: str) -> str:
    """The json-file log of a container (inspect's ``LogPath``)."""
    return os.path.join(container_dir, f"{container_id}-json.log")


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with any fraction and offset.

    Raises ValueError when ``text`` is not one.
    """
    m = re.fullmatch(
        r"(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?)?(Z|[+-]\d\d:?\d\d)?", text
    )
    if m is None:
        raise ValueError(text)
    date, clock, frac, zone = m.groups()
    stamp = datetime.datetime.fromisoformat(f"{date}T{clock or '00:00:00'}")
    if zone in (None, ""):
        stamp = stamp.astimezone()  # no zone: local time, as Docker reads it
    else:
        offset = zone if zone != "Z" else "+00:00"
        stamp = datetime.datetime.fromisoformat(f"{stamp.isoformat()}{offset}")
    return int(stamp.timestamp()) * 1_000_000_000 + int((frac or "0").ljust(9, "0"))


def parse_time_arg(text: str, flag: str, now_ns: int | None = None) -> int:
    """``--since``/``--until`` as nanoseconds since the epoch: a Go duration before now
    (``10m``, ``1h30m``), an RFC 3339 time or date, or Unix seconds (``1700000000.5``),
    as Docker's ``timetypes.GetTimestamp``. Raises InvalidArgument naming ``flag``."""
    from dockyard.errors import InvalidArgument

    now_ns = time.time_ns() if now_ns is None else now_ns
    if text != "0" and text and _DURATION.sub("", text) == "" and _DURATION.search(text):
        total = sum(float(n) * _UNITS_NS[u] for n, u in _DURATION.findall(text))
        return now_ns - int(total)
    with contextlib.suppress(ValueError):
        return parse_time(text)
    if re.fullmatch(r"\d+(\.\d{1,9})?", text):
        seconds, _, frac = text.partition(".")
        return int(seconds) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)
    raise InvalidArgument(
        f'invalid value for "{flag}": failed to parse value as time or duration: "{text}"'
    )


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
