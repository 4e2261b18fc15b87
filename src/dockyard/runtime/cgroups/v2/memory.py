"""v2 ``memory`` controller (kernel admin-guide/cgroup-v2.rst, "Memory")."""

from __future__ import annotations

import os
from typing import Any

from dockyard.errors import DockyardError

from .. import fs


def _value(n: int) -> str:
    return "max" if n == -1 else str(n)


def swap_max(swap: int, limit: int) -> int:
    """Convert OCI ``swap`` (memory+swap total) to ``memory.swap.max`` (swap alone).

    Bytes; -1 = unlimited, 0 = unset. As runc's ``ConvertMemorySwapToCgroupV2Value``:
    ``swap - limit``. Raises ``DockyardError`` when swap is below the limit or set without
    a memory limit.
    """
    if limit == -1 and swap == 0:
        return -1
    if swap in (-1, 0):
        return swap
    if limit in (0, -1):
        raise DockyardError("cgroup: cannot set a swap limit without a memory limit")
    if swap < limit:
        raise DockyardError(f"cgroup: memory+swap limit {swap} should be >= memory limit {limit}")
    return swap - limit


def apply(path: str, mem: dict[str, Any]) -> None:
    """Write OCI ``memory`` {limit, swap, reservation} to ``memory.max``,
    ``memory.swap.max`` and ``memory.low`` (bytes; -1 = unlimited, 0 = unset).

    Without swap accounting ``memory.swap.max`` is absent and the swap limit is skipped.
    """
    limit = int(mem.get("limit") or 0)
    swap = int(mem.get("swap") or 0)
    converted = swap_max(swap, limit)
    swap_file = os.path.join(path, "memory.swap.max")
    if converted == 0 and swap > 0:
        converted_s: str | None = "0"  # swap total == limit: no swap at all
    else:
        converted_s = _value(converted) if converted else None
    if converted_s is not None and fs.exists(swap_file):
        fs.write(swap_file, converted_s)
    if limit:
        fs.write(os.path.join(path, "memory.max"), _value(limit))
    reservation = int(mem.get("reservation") or 0)
    if reservation:
        fs.write(os.path.join(path, "memory.low"), _value(reservation))


def oom_kill_count(path: str) -> int:
    """The ``oom_kill`` field of ``memory.events``; 0 if absent."""
    return fs.read_keyed(os.path.join(path, "memory.events")).get("oom_kill", 0)
