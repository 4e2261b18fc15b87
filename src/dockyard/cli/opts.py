"""Flags turned into the Engine API's request values, as docker/cli's ``opts`` package
does (``--filter key=value`` into the ``filters`` parameter...)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


def parse_filters(values: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """``--filter key=value`` flags as ``{key: [values]}`` (opts.FilterOpt).

    Raises InvalidArgument ``bad format of filter (expected name=value)``."""
    out: dict[str, list[str]] = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not eq:
            raise InvalidArgument("bad format of filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(value.strip())
    return out
