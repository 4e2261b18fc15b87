"""v1 ``memory`` controller: limits and OOM counters (kernel cgroup-v1/memory.rst)."""

from __future__ import annotations

import os

from dockyard.errors import DockyardError

from .. import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

LIMIT = "memory.limit_in_bytes"
MEMSW = "memory.memsw.limit_in_bytes"
# The kernel reports "no limit" as PAGE_COUNTER_MAX pages, just under 2**63.
_UNLIMITED = 1 << 62


def apply(path: str, mem: dict[str, Any]) -> None:
    """Write OCI ``memory`` {limit, swap, reservation} (bytes, -1 = unlimited, 0 = unset),
    ``swappiness`` (0-100, else DockyardError) and ``disableOOMKiller``
    (``memory.oom_control``). ``kernel``/``kernelTCP`` are left alone, as runc does
    (the runtime warns at create): kernels since 6.1 have no kmem limits to set.

    OCI ``swap`` is the memory+swap total (``memory.memsw.limit_in_bytes``). When swap
    accounting is off that file is absent and the swap limit is skipped, as Docker does.
    The two limits are written in the order the kernel accepts (memsw >= limit at every
    step), as runc's ``setMemoryAndSwap``.
    """
    limit = int(mem.get("limit") or 0)
    swap = int(mem.get("swap") or 0)
    if limit == -1 and swap == 0:
        swap = -1  # an unlimited memory limit lifts the swap limit too (runc)
    if swap and not fs.exists(os.path.join(path, MEMSW)):
        swap = 0
    if limit and swap:
        current = fs.read_int(os.path.join(path, LIMIT))
        if swap == -1 or (current is not None and current < swap):
            fs.write(os.path.join(path, MEMSW), swap)
            fs.write(os.path.join(path, LIMIT), limit)
        else:
            fs.write(os.path.join(path, LIMIT), limit)
            fs.write(os.path.join(path, MEMSW), swap)
    elif limit:
        fs.write(os.path.join(path, LIMIT), limit)
    elif swap:
        fs.write(os.path.join(path, MEMSW), swap)
    reservation = int(mem.get("reservation") or 0)
    if reservation:
        fs.write(os.path.join(path, "memory.soft_limit_in_bytes"), reservation)
    swappiness = mem.get("swappiness")
    if swappiness is not None:
        if not 0 <= int(swappiness) <= 100:
            raise DockyardError(f"invalid memory swappiness {swappiness}: the valid range is 0-100")
        fs.write(os.path.join(path, "memory.swappiness"), int(swappiness))
    if mem.get("disableOOMKiller"):
        fs.write(os.path.join(path, "memory.oom_control"), 1)


def oom_kill_count(path: str) -> int:
    """The ``oom_kill`` field of ``memory.oom_control``; 0 if absent."""
    return fs.read_keyed(os.path.join(path, "memory.oom_control")).get("oom_kill", 0)


def usage(path: str) -> int | None:
    """Current memory usage in bytes (``memory.usage_in_bytes``)."""
    return fs.read_int(os.path.join(path, "memory.usage_in_bytes"))


def limit(path: str) -> int | None:
    """The memory limit in bytes, ``None`` when unlimited or unavailable."""
    value = fs.read_int(os.path.join(path, LIMIT))
    return None if value is None or value >= _UNLIMITED else value
