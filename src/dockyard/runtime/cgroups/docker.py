"""Docker's resource flags converted to OCI ``linux.resources`` (as dockerd does)."""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

# dockerd's minimum for --memory (linuxMinMemory).
MIN_MEMORY = 6 * 1024 * 1024


def resources_from_docker(
    memory: int | None,
    memory_swap: int | None,
    cpus: float | None,
    cpu_shares: int | None,
    pids_limit: int | None,
    cpu_period: int = 100000,
) -> dict[str, Any]:
    """OCI ``linux.resources`` for ``docker run`` flags (runtime-spec config-linux.md).

    ``memory``/``memory_swap`` are bytes (``--memory``/``--memory-swap``; swap is the
    memory+swap total, -1 = unlimited, ``None``/0 = unset: then swap = 2 * memory, as
    Docker's "--memory-swap details"); ``cpus`` is ``--cpus`` (1.5 -> quota 150000 per
    ``cpu_period`` 100000 microseconds); ``cpu_shares`` is ``--cpu-shares`` (0 = unset);
    ``pids_limit`` <= 0 means unlimited (-1), ``None`` unset. Unset sections are omitted.

    Raises ``InvalidArgument`` with dockerd's messages for a memory limit under 6 MB, a
    memory+swap limit below the memory limit or without one, and ``--cpus`` out of range.
    """
    res: dict[str, Any] = {}
    if memory:
        if memory < MIN_MEMORY:
            raise InvalidArgument("Minimum memory limit allowed is 6MB")
        if not memory_swap:
            swap = 2 * memory
        elif memory_swap == -1:
            swap = -1
        elif memory_swap < memory:
            raise InvalidArgument(
                "Minimum memoryswap limit should be larger than memory limit, see usage"
            )
        else:
            swap = memory_swap
        res["memory"] = {"limit": memory, "swap": swap}
    elif memory_swap and memory_swap > 0:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    cpu: dict[str, Any] = {}
    if cpu_shares:
        cpu["shares"] = cpu_shares
    if cpus:
        ncpu = len(os.sched_getaffinity(0))  # as Go's runtime.NumCPU, which dockerd uses
        nano = int(round(cpus * 1e9))
        if nano < 0 or nano > ncpu * 10**9:
            raise InvalidArgument(
                f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )
        cpu["quota"] = nano * cpu_period // 10**9
        cpu["period"] = cpu_period
    if cpu:
        res["cpu"] = cpu
    if pids_limit is not None:
        res["pids"] = {"limit": pids_limit if pids_limit > 0 else -1}
    return res
