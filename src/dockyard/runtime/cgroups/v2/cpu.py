"""v2 ``cpu`` and ``cpuset`` controllers (kernel admin-guide/cgroup-v2.rst, "CPU")."""

from __future__ import annotations

import os
from typing import Any

from .. import fs


def weight(shares: int) -> int:
    """Convert v1 ``cpu.shares`` [2, 262144] to ``cpu.weight`` [1, 10000] as runc does:
    ``1 + ((shares - 2) * 9999) / 262142``; 0 stays 0 (unset)."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def max_text(quota: int, period: int) -> str:
    """``cpu.max`` for OCI quota/period (microseconds): ``"<quota> <period>"``, with
    ``max`` for a quota <= 0, and the period omitted when 0 (kept as is)."""
    text = str(quota) if quota > 0 else "max"
    return f"{text} {period}" if period else text


def apply(path: str, cpu: dict[str, Any]) -> None:
    """Write OCI ``cpu`` {shares, quota, period, cpus, mems} to ``cpu.weight``,
    ``cpu.max``, ``cpuset.cpus`` and ``cpuset.mems``."""
    w = weight(int(cpu.get("shares") or 0))
    if w:
        fs.write(os.path.join(path, "cpu.weight"), w)
    quota = int(cpu.get("quota") or 0)
    period = int(cpu.get("period") or 0)
    if quota or period:
        fs.write(os.path.join(path, "cpu.max"), max_text(quota, period))
    if cpu.get("cpus"):
        fs.write(os.path.join(path, "cpuset.cpus"), cpu["cpus"])
    if cpu.get("mems"):
        fs.write(os.path.join(path, "cpuset.mems"), cpu["mems"])


def usage_ns(path: str) -> int | None:
    """Total CPU time in nanoseconds (``usage_usec`` of ``cpu.stat`` times 1000)."""
    usec = fs.read_keyed(os.path.join(path, "cpu.stat")).get("usage_usec")
    return None if usec is None else usec * 1000
