"""Signal names and numbers as moby/sys/signal parses them (``docker kill -s``,
``--stop-signal``, ``STOPSIGNAL``, the API's ``signal`` parameters): shared by front ends
and engine."""

from __future__ import annotations

import signal

from dockyard.errors import InvalidArgument


def parse_signal(text: str) -> int:
    """A signal given as a number, ``KILL`` or ``SIGKILL`` (``docker kill -s``,
    ``--stop-signal``, ``STOPSIGNAL``). Raises InvalidArgument ``Invalid signal: <text>``."""
    if text.isdigit():
        number = int(text)
        if not 0 < number <= signal.SIGRTMAX:
            raise InvalidArgument(f"Invalid signal: {text}")
        return number
    name = text.upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"Invalid signal: {text}") from None
