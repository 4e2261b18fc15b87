"""Linux cgroup management for Dockyard's OCI runtime (runtime-spec config-linux.md).

One :class:`Manager` interface, two backends: ``v1`` (a directory per mounted hierarchy,
including the hybrid layout, where the process also joins the unified hierarchy) and
``v2`` (one directory in the unified hierarchy, controllers enabled in each ancestor).

- :func:`detect` / :func:`own_cgroup_paths`: the mounts and the caller's own cgroups.
- :func:`create` (make dirs, write limits) and :func:`load` (open an existing cgroup).
- :func:`resources_from_docker`: ``docker run`` flags -> OCI ``linux.resources``.

Relative cgroups paths nest under the caller's own cgroup (per hierarchy on v1, runc's
rule); absolute ones sit under each mount point. Device rules use the v1 devices controller
or, on v2, an eBPF device program.
"""

from __future__ import annotations

from .docker import resources_from_docker
from .layout import Layout, Mount, detect, own_cgroup_paths
from .manager import Manager, create, load

__all__ = [
    "Layout",
    "Manager",
    "Mount",
    "create",
    "detect",
    "load",
    "own_cgroup_paths",
    "resources_from_docker",
]
