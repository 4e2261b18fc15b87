"""v1 ``cpu`` and ``cpuacct`` controllers: shares, CFS bandwidth, usage (sched-bwc.rst)."""

from __future__ import annotations

import errno
import os
from typing import Any

from dockyard.errors import DockyardError

from .. import fs


def apply(path: str, cpu: dict[str, Any]) -> None:
    """Write OCI ``cpu`` {shares, quota, period} (quota/period in microseconds, 0 = unset,
    quota -1 = unlimited) to ``cpu.shares``, ``cpu.cfs_quota_us``, ``cpu.cfs_period_us``.

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


def usage_ns(path: str) -> int | None:
    """Total CPU time of the cgroup in nanoseconds (``cpuacct.usage``)."""
    return fs.read_int(os.path.join(path, "cpuacct.usage"))
