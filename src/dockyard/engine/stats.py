"""The facade's stats operation (Engine API v1.51: ContainerStats): samples of a running
container's cgroup and network counters in Docker's StatsResponse shape (what ``docker
stats`` computes its CPU %, memory and I/O columns from)."""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Iterator

from dockyard.engine.base import EngineBase

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

_ZERO_TIME = "0001-01-01T00:00:00Z"
#: Seconds between two samples of a stream.
INTERVAL = 1.0


def _system_cpu_usage() -> int:
    """Host CPU time in nanoseconds (the sum of /proc/stat's first line, as moby's
    getSystemCPUUsage)."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    ticks = sum(int(x) for x in fields)
    return ticks * 1_000_000_000 // os.sysconf("SC_CLK_TCK")


def _now() -> str:
    t = datetime.datetime.now(datetime.UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z"


def _cpu(raw: dict[str, Any] | None) -> dict[str, Any]:
    if raw is None:
        return {
            "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
        }
    return {
        "cpu_usage": {
            "total_usage": raw["cpu_usage"],
            "usage_in_kernelmode": 0,
            "usage_in_usermode": 0,
        },
        "system_cpu_usage": raw["system"],
        "online_cpus": os.cpu_count() or 1,
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _response(raw: dict[str, Any], pre: dict[str, Any] | None) -> dict[str, Any]:
    c = raw["container"]
    limit = raw["memory_limit"]
    if limit is None:
        with open("/proc/meminfo") as f:
            limit = next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))
    nets = {
        name: {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }
        for name, v in raw["networks"].items()
    }  # fmt: skip
    response: dict[str, Any] = {
        "name": "/" + c.name,
        "id": c.id,
        "read": raw["read"],
        "preread": pre["read"] if pre else _ZERO_TIME,
        "pids_stats": {"current": raw["pids"]},
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 0, "minor": 0, "op": "read", "value": raw["block_read"]},
                {"major": 0, "minor": 0, "op": "write", "value": raw["block_written"]},
            ]
        },
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _cpu(raw),
        "precpu_stats": _cpu(pre),
        "memory_stats": {"usage": raw["memory_usage"], "stats": raw["memory_stat"], "limit": limit},
    }
    if nets:
        response["networks"] = nets
    return response


class StatsOperations(EngineBase):
    """Container stats (Engine API: Container)."""

    def _stats_sample(self, id: str) -> dict[str, Any]:
        from dockyard.container.exec import sample

        raw = sample(self.containers, id)
        raw["system"] = _system_cpu_usage()
        raw["read"] = _now()
        return raw

    def container_stats(
        self, id: str, stream: bool = True, one_shot: bool = False
    ) -> Iterator[dict[str, Any]]:
        """``GET /containers/{id}/stats``: StatsResponse objects, one a second while the
        container runs with ``stream``; else one, with ``precpu_stats`` from a sample a
        second earlier (none with ``one_shot``). Raises NotFound, Conflict (not running)
        before the first."""
        first = self._stats_sample(id)
        cid = first["container"].id

        def generate() -> Iterator[dict[str, Any]]:
            from dockyard.errors import DockyardError

            pre: dict[str, Any] | None = None
            raw = first
            if not stream and not one_shot:
                time.sleep(INTERVAL)
                pre, raw = first, self._stats_sample(cid)
            while True:
                yield _response(raw, pre)
                if not stream:
                    return
                time.sleep(INTERVAL)
                try:
                    pre, raw = raw, self._stats_sample(cid)
                except DockyardError:  # stopped or removed: the stream ends
                    return

        return generate()
