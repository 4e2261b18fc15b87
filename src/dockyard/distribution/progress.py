"""Docker's JSON progress messages (moby ``pkg/jsonmessage``, ``pkg/progress``).

A message is a dict: ``{"status": "Downloading", "id": "a3ed95caeb02", "progressDetail":
{"current": 1200000, "total": 3400000}, "progress": "[==>   ] 1.2MB/3.4MB"}``; a status
line without an ``id`` (``Digest: ...``); or an error ``{"errorDetail": {"message": m},
"error": m}``. The Engine API streams them; the CLI renders them.
"""

from __future__ import annotations

import time
from typing import Any

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB")


def human_size(size: float) -> str:
    """go-units ``HumanSize`` (4 significant digits, decimal units): ``1.235MB``."""
    i = 0
    while size >= 1000.0 and i < len(_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def _go_duration(seconds: int) -> str:
    """Go's ``time.Duration.String`` for whole seconds: ``1m5s``, ``2h0m3s``, ``0s``."""
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{h}h{m}m{s}s"
    if m:
        return f"{m}m{s}s"
    return f"{s}s"


def bar(detail: dict[str, Any], width: int = 200, now: float | None = None) -> str:
    """``JSONProgress.String()``: ``[=====>     ]  1.2MB/3.4MB 2s`` for a terminal
    ``width`` columns wide (no bar at 110 or fewer, no time left at 50 or fewer)."""
    current = int(detail.get("current") or 0)
    total = int(detail.get("total") or 0)
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    percentage = min(int(current / total * 100) // 2, 50)
    box = ""
    if width > 110:
        box = f"[{'=' * percentage}>{' ' * max(50 - percentage, 0)}] "
    numbers = f"{human_size(current):>8}/{human_size(total)}"
    if current > total:
        numbers = f"{human_size(current):>8}"
    left = ""
    start = int(detail.get("start") or 0)
    if current > 0 and start > 0 and percentage < 50 and width > 50:
        elapsed = (now if now is not None else time.time()) - start
        remaining = int(elapsed / current * (total - current))
        left = " " + _go_duration(max(remaining, 0))
    return box + numbers + left


def status(text: str, id: str | None = None, layer: bool = True) -> dict[str, Any]:
    """A status message; a layer's line (``id`` and ``layer``) has ``progressDetail:
    {}``, so a terminal redraws it in place (``Pulling from`` has an id but is not one)."""
    msg: dict[str, Any] = {"status": text}
    if id is not None:
        if layer:
            msg["progressDetail"] = {}
        msg["id"] = id
    return msg


def progress(text: str, id: str, current: int, total: int, start: float) -> dict[str, Any]:
    """A ``Downloading``/``Extracting``/``Pushing`` message with its bar."""
    detail = {"current": current, "total": total}
    return {
        "status": text,
        "progressDetail": detail,
        "progress": bar({**detail, "start": int(start)}),
        "id": id,
    }


def error(message: str) -> dict[str, Any]:
    """An error message ending a stream."""
    return {"errorDetail": {"message": message}, "error": message}
