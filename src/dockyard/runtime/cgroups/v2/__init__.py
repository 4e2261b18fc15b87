"""The cgroup v2 backend: one directory in the unified hierarchy.

Controllers are enabled in ``cgroup.subtree_control`` of every ancestor below the mount
point (each one listed in that ancestor's ``cgroup.controllers``); a controller that the
requested limits need and that cannot be enabled is an error, the others are best effort.

OCI device rules become an eBPF ``BPF_PROG_TYPE_CGROUP_DEVICE`` program (see
:mod:`.devices`), since v2 has no devices controller.
"""

from __future__ import annotations

import errno
import os
import signal
import time
from typing import Any

from dockyard.errors import DockyardError

from .. import fs
from .. import pids as pids_ctl
from ..manager import Manager
from . import cpu, devices, memory

# Controllers enabled for a container cgroup when the parent offers them (as runc).
_WANTED = ("cpu", "cpuset", "io", "memory", "pids", "hugetlb")
_FREEZE_TIMEOUT = 5.0


def required_controllers(resources: dict[str, Any]) -> set[str]:
    """The v2 controllers the OCI ``resources`` need."""
    need = set()
    mem = resources.get("memory") or {}
    if any(mem.get(k) for k in ("limit", "swap", "reservation")):
        need.add("memory")
    cpu_res = resources.get("cpu") or {}
    if any(cpu_res.get(k) for k in ("shares", "quota", "period")):
        need.add("cpu")
    if cpu_res.get("cpus") or cpu_res.get("mems"):
        need.add("cpuset")
    if (resources.get("pids") or {}).get("limit"):
        need.add("pids")
    return need


def enable_controllers(mount: str, path: str, required: set[str]) -> None:
    """Enable controllers in ``cgroup.subtree_control`` of each ancestor of ``path`` from
    the mount point down, so that ``path`` gets them.

    Raises ``DockyardError`` when a ``required`` controller is unavailable or refused.
    """
    ancestors = []
    d = os.path.dirname(path)
    while d.startswith(mount + "/"):
        ancestors.append(d)
        d = os.path.dirname(d)
    ancestors.append(mount)
    for d in reversed(ancestors):
        available = set(fs.read(os.path.join(d, "cgroup.controllers")).split())
        missing = required - available
        if missing:
            raise DockyardError(
                f"cgroup: controller {','.join(sorted(missing))} is not available in"
                f" {os.path.join(d, 'cgroup.controllers')}"
            )
        subtree = os.path.join(d, "cgroup.subtree_control")
        enabled = set(fs.read(subtree).split())
        for c in _WANTED:
            if c not in available or c in enabled:
                continue
            try:
                fs.write(subtree, f"+{c}")
            except DockyardError as e:
                if c not in required:
                    continue
                cause = e.__cause__
                if isinstance(cause, OSError) and cause.errno == errno.EBUSY:
                    raise DockyardError(
                        f"{e} (the cgroup has processes of its own; use an absolute cgroup parent)"
                    ) from cause
                raise


class V2Manager(Manager):
    """A cgroup on cgroup v2: ``paths`` is ``{"": <dir>}``."""

    version = "v2"

    @property
    def path(self) -> str:
        """The absolute cgroup directory."""
        return self._hier[0].path

    def _setup(self, resources: dict[str, Any]) -> None:
        # Fields this backend does not write yet: refused, never dropped.
        mem = resources.get("memory") or {}
        unsupported = [
            k for k in ("blockIO", "hugepageLimits", "rdma", "unified") if resources.get(k)
        ]
        unsupported += [f"memory.{k}" for k in ("swappiness", "disableOOMKiller") if mem.get(k)]
        if (resources.get("network") or {}).get("classID") or (resources.get("network") or {}).get(
            "priorities"
        ):
            unsupported.append("network (no net_cls/net_prio on cgroup v2)")
        if unsupported:
            raise DockyardError(
                f"cgroup v2: linux.resources {', '.join(unsupported)} not supported by Dockyard"
            )
        h = self._hier[0]
        self._mkdirs(h)
        enable_controllers(h.mount, h.path, required_controllers(resources))
        if resources.get("cpu"):
            cpu.apply(h.path, resources["cpu"])
        if resources.get("memory"):
            memory.apply(h.path, resources["memory"])
        if resources.get("pids"):
            pids_ctl.apply(h.path, resources["pids"])
        if resources.get("devices") is not None:
            devices.attach(h.path, resources["devices"])

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process; SIGKILL uses ``cgroup.kill`` where the kernel
        has it (5.14+), which also covers processes forked meanwhile."""
        kill_file = os.path.join(self.path, "cgroup.kill")
        if sig == signal.SIGKILL and fs.exists(kill_file):
            fs.write(kill_file, 1)
            return
        super().kill_all(sig)

    def freeze(self) -> None:
        """Write 1 to ``cgroup.freeze`` and wait until ``cgroup.events`` says ``frozen 1``.

        Raises ``DockyardError`` (and thaws) after 5 seconds."""
        fs.write(os.path.join(self.path, "cgroup.freeze"), 1)
        events = os.path.join(self.path, "cgroup.events")
        deadline = time.monotonic() + _FREEZE_TIMEOUT
        while fs.read_keyed(events).get("frozen") != 1:
            if time.monotonic() > deadline:
                self.thaw()
                raise DockyardError(
                    f"cgroup: cannot freeze {self.path}: not frozen after {_FREEZE_TIMEOUT:g}s"
                )
            time.sleep(0.005)

    def thaw(self) -> None:
        """Write 0 to ``cgroup.freeze``."""
        fs.write(os.path.join(self.path, "cgroup.freeze"), 0)

    def oom_kill_count(self) -> int:
        """``oom_kill`` from ``memory.events``; 0 without the memory controller."""
        return memory.oom_kill_count(self.path)

    def stats(self) -> dict[str, int | None]:
        """See :meth:`Manager.stats`; read from ``memory.current``, ``memory.max``,
        ``cpu.stat`` and ``pids.current``."""
        return {
            "memory_usage": fs.read_int(os.path.join(self.path, "memory.current")),
            "memory_limit": fs.read_int(os.path.join(self.path, "memory.max")),
            "cpu_usage": cpu.usage_ns(self.path),
            "pids_current": pids_ctl.current(self.path),
        }
