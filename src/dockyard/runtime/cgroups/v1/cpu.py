"""v1 ``cpu`` and ``cpuacct`` controllers: shares, CFS bandwidth, usage (sched-bwc.rst)."""

from __future__ import annotations

import errno
import os

from dockyard.errors import DockyardError

from .. import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def apply(path: str, cpu: dict[str, Any]) -> None:
    """Write OCI ``cpu`` {shares, quota, period, realtimePeriod, realtimeRuntime}
    (microseconds, 0 = unset, quota -1 = unlimited) to ``cpu.shares``,
    ``cpu.cfs_quota_us``, ``cpu.cfs_period_us``, ``cpu.rt_period_us``, ``cpu.rt_runtime_us``.

    As runc: a smaller period may be refused (EINVAL) until the new quota is in place, so
    it is then retried after the quota.
    """
    shares = int(cpu.get("shares") or 0)
    if shares:
        fs.write(os.path.join(path, "cpu.shares"), shares)
    quota = int(cpu.get("quota") or 0)
    period = int(cpu.get("period") or 0)
    retry_period = False
    if period:
        try:
            fs.write(os.path.join(path, "cpu.cfs_period_us"), period)
        except DockyardError as e:
            cause = e.__cause__
            if not quota or not isinstance(cause, OSError) or cause.errno != errno.EINVAL:
                raise
            retry_period = True
    if quota:
        fs.write(os.path.join(path, "cpu.cfs_quota_us"), quota)
        if retry_period:
            fs.write(os.path.join(path, "cpu.cfs_period_us"), period)
    # Real-time group scheduling (sched-rt-group.rst): the period first, as runc.
    rt_period = int(cpu.get("realtimePeriod") or 0)
    if rt_period:
        fs.write(os.path.join(path, "cpu.rt_period_us"), rt_period)
    rt_runtime = int(cpu.get("realtimeRuntime") or 0)
    if rt_runtime:
        try:
            fs.write(os.path.join(path, "cpu.rt_runtime_us"), rt_runtime)
        except DockyardError as e:
            cause = e.__cause__
            if not isinstance(cause, OSError) or cause.errno != errno.EINVAL:
                raise
            raise DockyardError(
                f"cgroup: cannot give {path} a real-time runtime of {rt_runtime}us: its "
                "parent cgroup's cpu.rt_runtime_us budget is smaller (dockerd needs "
                "--cpu-rt-runtime for this too)"
            ) from None


def usage_ns(path: str) -> int | None:
    """Total CPU time of the cgroup in nanoseconds (``cpuacct.usage``)."""
    return fs.read_int(os.path.join(path, "cpuacct.usage"))
