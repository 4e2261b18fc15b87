"""The cgroup v1 backend: one directory per mounted hierarchy, one module per controller.

In the hybrid layout (v1 controllers next to a cgroup2 mount) the process also joins the
same path in the unified hierarchy, as runc does; no limits are written there.
"""

from __future__ import annotations

import os

from dockyard.errors import DockyardError

from .. import fs
from .. import pids as pids_ctl
from ..manager import Hierarchy, Manager
from . import blkio, cpu, cpuset, devices, freezer, memory

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


class V1Manager(Manager):
    """A cgroup on cgroup v1: ``paths`` has one entry per controller (and ``""`` for the
    unified hierarchy in hybrid mode)."""

    version = "v1"

    def _controller(self, name: str, purpose: str) -> str:
        path = self.paths.get(name)
        if path is None:
            raise DockyardError(
                f"cgroup: the {name} controller is not mounted (needed for {purpose})"
            )
        return path

    def _created_dir(self, h: Hierarchy, path: str) -> None:
        if "cpuset" in h.keys:
            cpuset.init_dir(path)

    def _setup(self, resources: dict[str, Any]) -> None:
        for h in self._hier:
            self._mkdirs(h)
        cpu_res = resources.get("cpu") or {}
        # runc's order: cpuset, devices, memory, cpu, pids.
        if cpu_res.get("cpus") or cpu_res.get("mems"):
            cpuset.apply(self._controller("cpuset", "cpu.cpus/mems"), cpu_res)
        if resources.get("devices") is not None:
            devices.apply(self._controller("devices", "devices"), resources["devices"])
        if resources.get("memory"):
            memory.apply(self._controller("memory", "memory limits"), resources["memory"])
        if any(
            cpu_res.get(k)
            for k in ("shares", "quota", "period", "realtimePeriod", "realtimeRuntime")
        ):
            cpu.apply(self._controller("cpu", "cpu shares/quota"), cpu_res)
        if resources.get("pids"):
            pids_ctl.apply(self._controller("pids", "pids.limit"), resources["pids"])
        if resources.get("blockIO"):
            blkio.apply(self._controller("blkio", "blockIO"), resources["blockIO"])
        for limit in resources.get("hugepageLimits") or []:
            hugetlb = self._controller("hugetlb", "hugepageLimits")
            name = f"hugetlb.{limit['pageSize']}.limit_in_bytes"
            if not fs.exists(os.path.join(hugetlb, name)):
                raise DockyardError(f"cgroup: no hugetlb page size {limit['pageSize']} here")
            fs.write(os.path.join(hugetlb, name), int(limit["limit"]))
        network = resources.get("network") or {}
        if network.get("classID"):
            path = self._controller("net_cls", "network.classID")
            fs.write(os.path.join(path, "net_cls.classid"), int(network["classID"]))
        for prio in network.get("priorities") or []:
            path = self._controller("net_prio", "network.priorities")
            fs.write(os.path.join(path, "net_prio.ifpriomap"), f"{prio['name']} {prio['priority']}")
        if resources.get("rdma"):
            raise DockyardError("cgroup: rdma limits are not supported by Dockyard")
        if resources.get("unified"):
            raise DockyardError("cgroup: linux.resources.unified needs cgroup v2")

    def freeze(self) -> None:
        """Freeze every process (``freezer.state``); raises ``DockyardError`` without a
        freezer hierarchy or if the processes do not freeze within 5 seconds."""
        freezer.freeze(self._controller("freezer", "freeze"))

    def thaw(self) -> None:
        """Thaw the processes (``freezer.state`` = ``THAWED``)."""
        freezer.thaw(self._controller("freezer", "thaw"))

    def oom_kill_count(self) -> int:
        """``oom_kill`` from ``memory.oom_control``; 0 without a memory hierarchy."""
        path = self.paths.get("memory")
        return memory.oom_kill_count(path) if path else 0

    def stats(self) -> dict[str, int | None]:
        """See :meth:`Manager.stats`; read from memory, cpuacct and pids files."""
        mem = self.paths.get("memory")
        acct = self.paths.get("cpuacct")
        pids = self.paths.get("pids")
        return {
            "memory_usage": memory.usage(mem) if mem else None,
            "memory_limit": memory.limit(mem) if mem else None,
            "cpu_usage": cpu.usage_ns(acct) if acct else None,
            "pids_current": pids_ctl.current(pids) if pids else None,
        }
