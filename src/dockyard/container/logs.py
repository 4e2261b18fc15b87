"""Docker's ``json-file`` log format: ``containers/<id>/<id>-json.log``, one JSON object a
line, ``{"log":"line\\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}``
(moby ``daemon/logger/jsonfilelog``), written by the container's monitor and read by
``dockyard logs``."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator

from dockyard.container.jsonfile import PARTIAL_SIZE, JsonFileWriter, format_time
from dockyard.record import Record
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


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class LogEntry(Record):
    """One json-file entry: ``log`` bytes, ``stream`` name, ``time`` in ns since the epoch."""

    log: bytes
    stream: str
    time: int

    _FIELDS = ("log", "stream", "time")

    def __init__(
        self,
        log: bytes,
        stream: str,
        time: int,
    ) -> None:
        self.log = log
        self.stream = stream
        self.time = time


def _decode(line: bytes) -> LogEntry | None:
    try:
        obj = json.loads(line)
        return LogEntry(obj["log"].encode(), obj["stream"], parse_time(obj["time"]))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # a torn or foreign line is skipped, as Docker's decoder resyncs


# Log drivers Docker has that Dockyard does not (moby daemon/logdrivers_linux.go).
_OTHER_DRIVERS = {
    "awslogs",
    "fluentd",
    "gcplogs",
    "gelf",
    "journald",
    "local",
    "logentries",
    "splunk",
    "syslog",
    "etwlogs",
}
_JSON_FILE_OPTS = {
    "max-file",
    "max-size",
    "compress",
    "labels",
    "labels-regex",
    "env",
    "env-regex",
    "tag",
}


def human_size(text: str) -> int | None:
    """go-units FromHumanSize: decimal units (``10k`` is 10000 bytes); None if malformed."""
    import re

    m = re.match(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$", text)
    if m is None:
        return None
    power = " kmgtp".index((m.group(2) or " ").lower())
    return int(float(m.group(1)) * 1000**power)


def check_log_config(config: dict | None) -> dict:
    """HostConfig.LogConfig checked as dockerd checks it (its messages): ``json-file``
    (the default) with ``max-size``/``max-file``, or ``none``; Docker's other drivers and
    the json-file options Dockyard does not implement (``compress=true``, ``labels``,
    ``env``, ``tag``...) are refused. Returns the LogConfig to store. Raises
    InvalidArgument."""
    from dockyard.errors import InvalidArgument

    config = config or {}
    driver = config.get("Type") or "json-file"
    opts = {str(k): str(v) for k, v in (config.get("Config") or {}).items()}
    if driver == "none":
        if opts:
            raise InvalidArgument("invalid logging opts for driver none")
        return {"Type": "none", "Config": {}}
    if driver in _OTHER_DRIVERS:
        raise InvalidArgument(
            f'log driver "{driver}" is not supported by Dockyard (json-file and none are)'
        )
    if driver != "json-file":
        # moby's logger.ValidateLogOpts at create: an unknown driver is looked up as a plugin.
        raise InvalidArgument(
            f'error looking up logging plugin {driver}: plugin "{driver}" not found'
        )
    for key, value in opts.items():
        if key not in _JSON_FILE_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for json-file log driver")
        if key == "compress" and value.lower() in ("1", "t", "true"):
            raise InvalidArgument("log opt compress=true is not supported by Dockyard")
        if key not in ("max-size", "max-file", "compress") and value:
            raise InvalidArgument(f"log opt {key} is not supported by Dockyard")
    if "max-size" in opts:
        size = human_size(opts["max-size"])
        if size is None:
            raise InvalidArgument(f"invalid size: '{opts['max-size']}'")
        if size <= 0:
            raise InvalidArgument("max-size must be a positive number")
    if "max-file" in opts:
        try:
            files = int(opts["max-file"])
        except ValueError:
            raise InvalidArgument(
                f'strconv.Atoi: parsing "{opts["max-file"]}": invalid syntax'
            ) from None
        if files < 1:
            raise InvalidArgument("max-file cannot be less than 1")
    return {"Type": "json-file", "Config": opts}


def log_limits(host_config: dict) -> tuple[int, int] | None:
    """(max-size bytes or 0, max-file) of a container's HostConfig.LogConfig; None for
    the ``none`` driver (nothing logged)."""
    config = host_config.get("LogConfig") or {}
    if config.get("Type") == "none":
        return None
    opts = config.get("Config") or {}
    size = human_size(opts.get("max-size") or "") or 0
    return (size, int(opts.get("max-file") or 1))


def _rotated(path: str) -> list[str]:
    """The rotated files of the log ``path``, oldest first (<path>.N ... <path>.1)."""
    n = 1
    while os.path.exists(f"{path}.{n}"):
        n += 1
    return [f"{path}.{i}" for i in range(n - 1, 0, -1)]


#: Seconds a follow waits for a log file that does not exist yet (see read_log).
FOLLOW_OPEN_WAIT = 10.0


def read_log(
    path: str,
    tail: int = -1,
    since: int = 0,
    until: int = 0,
    follow: Callable[[], bool] | None = None,
    poll: float = 0.1,
    starting: Callable[[], bool] | None = None,
) -> Iterator[LogEntry]:
    """The entries of a json-file log: the last ``tail`` (-1: all), then only those at or
    after ``since`` and not after ``until`` (ns since the epoch; 0: no bound). With
    ``follow``, keep reading new entries while ``follow()`` is true, then the rest; a
    log not there yet (the monitor creates it as the container starts, after the start
    returned) is waited for while ``follow()`` (or, not following, ``starting()``: the
    container runs) is true, at most FOLLOW_OPEN_WAIT seconds."""
    deadline = time.monotonic() + FOLLOW_OPEN_WAIT
    waiting = follow or starting
    while True:
        try:
            f = open(path, "rb")  # noqa: SIM115 - closed below, kept open while following
            break
        except FileNotFoundError:
            if waiting is None or time.monotonic() >= deadline or not waiting():
                return
            # Not following, an answer is due: the copier begins within milliseconds.
            time.sleep(poll if follow is not None else 0.01)
    try:
        older = b""
        for name in _rotated(path):  # --log-opt max-file: the rotated files first
            try:
                with open(name, "rb") as r:
                    older += r.read()
            except FileNotFoundError:
                continue
        lines = (older + f.read()).split(b"\n")
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
                try:
                    rotated = os.stat(path).st_ino != os.fstat(f.fileno()).st_ino
                except FileNotFoundError:
                    rotated = False
                if rotated:  # the writer moved on to a new file: follow it
                    f.close()
                    f = open(path, "rb")  # noqa: SIM115
                    continue
                if not alive:
                    return
                time.sleep(poll)
                continue
            lines = (pending + data).split(b"\n")
            pending = lines.pop()
    finally:
        f.close()
