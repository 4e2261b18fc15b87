"""go-units' human-readable durations and sizes (github.com/docker/go-units), shared by
the engine (``ps`` STATUS text is the daemon's) and the front ends: values in, text out."""

from __future__ import annotations


def human_duration(seconds: float) -> str:
    """go-units ``HumanDuration``: ``seconds`` as "About an hour", "3 days", "2 years"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


_DECIMAL_UNITS = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]


def human_size(size: float, precision: int = 3) -> str:
    """go-units ``HumanSizeWithPrecision``: bytes in decimal units, e.g. ``4.26MB``."""
    i = 0
    while size >= 1000.0 and i < len(_DECIMAL_UNITS) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.{precision}g}{_DECIMAL_UNITS[i]}"


_BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def bytes_size(size: float) -> str:
    """go-units ``BytesSize``: binary units with 4 significant digits, e.g. ``1.5MiB``."""
    i = 0
    while size >= 1024.0 and i < len(_BINARY_UNITS) - 1:
        size /= 1024.0
        i += 1
    return f"{size:.4g}{_BINARY_UNITS[i]}"
