"""Timestamps as the Engine API and its clients write them (moby ``api/types/time``):
RFC 3339 times with any fraction and offset, Unix seconds, and Go durations before now
(``docker logs --since 10m``). Values in, values out; shared by front ends and engine.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import time

from dockyard.errors import InvalidArgument


def now() -> str:
    """The current time in RFC 3339 with nanoseconds, as Docker's timestamps."""
    t = datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


# re.ASCII: Go reads only ASCII digits ("٣s" is no duration).
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", re.ASCII)
#: strconv.ParseInt's bound: Unix seconds beyond it are no timestamp.
_INT64_MAX = (1 << 63) - 1


def _fits_int64(digits: str) -> bool:
    """Whether ASCII ``digits`` parse as a non-negative int64 (strconv.ParseInt)."""
    return len(digits.lstrip("0")) <= 19 and int(digits) <= _INT64_MAX


_UNITS_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def parse_time(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 time with any fraction and offset.

    Raises ValueError when ``text`` is not one.
    """
    m = re.fullmatch(
        r"(\d{4}-\d\d-\d\d)(?:[T ](\d\d:\d\d(?::\d\d)?)(?:\.(\d{1,9}))?)?(Z|[+-]\d\d:?\d\d)?",
        text,
        re.ASCII,
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

    now_ns = time.time_ns() if now_ns is None else now_ns
    if text != "0" and text and _DURATION.sub("", text) == "" and _DURATION.search(text):
        total = sum(float(n) * _UNITS_NS[u] for n, u in _DURATION.findall(text))
        return now_ns - int(total)
    with contextlib.suppress(ValueError):
        return parse_time(text)
    if re.fullmatch(r"\d+(\.\d{1,9})?", text, re.ASCII) and _fits_int64(text.partition(".")[0]):
        seconds, _, frac = text.partition(".")
        return int(seconds) * 1_000_000_000 + int(frac.ljust(9, "0") or 0)
    raise InvalidArgument(
        f'invalid value for "{flag}": failed to parse value as time or duration: "{text}"'
    )


def get_timestamp(value: str, now_ns: int | None = None) -> str:
    """A ``--since``/``--until`` value as the Engine API parameter the Docker CLI sends
    (moby ``api/types/time.GetTimestamp``): a Go duration before now as whole Unix
    seconds, an RFC 3339 time or date as ``<seconds>.<9-digit nanoseconds>``, Unix
    seconds as given. Raises InvalidArgument (``failed to parse value as time or
    duration: "<value>"``)."""
    now_ns = time.time_ns() if now_ns is None else now_ns
    body = value[1:] if value[:1] in "+-" else value
    if value != "0" and body and _DURATION.sub("", body) == "":
        ns = int(sum(float(n) * _UNITS_NS[u] for n, u in _DURATION.findall(body)))
        return str((now_ns - (-ns if value.startswith("-") else ns)) // 1_000_000_000)
    with contextlib.suppress(ValueError):
        ns = parse_time(value)
        return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"
    # Unix seconds as moby's parseTimestamp reads them (strconv.ParseInt: ASCII, int64).
    if re.fullmatch(r"\d+(\.\d+)?", value, re.ASCII) and all(
        _fits_int64(part) for part in value.split(".")
    ):
        return value
    raise InvalidArgument(f'failed to parse value as time or duration: "{value}"')


def parse_duration(text: str, flag: str) -> int:
    """A Go ``time.Duration`` (``200ms``, ``1m30s``, ``-1s``, ``0``) in nanoseconds.

    Raises InvalidArgument with the Docker CLI's flag-parse message naming ``flag``."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    if not body or _DURATION.sub("", body):
        reason = (
            f'time: missing unit in duration "{text}"'
            if re.fullmatch(r"\d+(\.\d*)?", body)
            else f'time: invalid duration "{text}"'
        )
        raise InvalidArgument(f'invalid argument "{text}" for "{flag}" flag: {reason}')
    ns = int(sum(float(n) * _UNITS_NS[u] for n, u in _DURATION.findall(body)))
    return -ns if text.startswith("-") else ns
