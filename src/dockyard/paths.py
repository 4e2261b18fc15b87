"""Where the engine keeps its files (see docs/architecture.md, on-disk layout)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_ROOT = "/var/lib/dockyard"
DEFAULT_RUNROOT = "/run/dockyard"
DEFAULT_CGROUP_PARENT = "dockyard"


def default_cgroup_parent() -> str:
    """The cgroup parent of containers without ``--cgroup-parent``: ``$DOCKYARD_CGROUP_PARENT``
    or ``dockyard``, relative to the engine process's own cgroup (docs/architecture.md, rules).

    Like ``$DOCKYARD_ROOT`` it is an engine setting: every command of one engine must see the
    same value (the test suite gives each run its own, so concurrent runs stay apart).
    """
    return os.environ.get("DOCKYARD_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT


@dataclass(frozen=True)
class Paths:
    """The engine root (persistent state) and run root (pids, sockets, locks).

    ``root`` defaults to ``$DOCKYARD_ROOT`` or ``/var/lib/dockyard``; ``runroot`` to
    ``$DOCKYARD_RUNROOT`` or ``/run/dockyard``. Both are absolute paths.
    """

    root: str
    runroot: str

    @classmethod
    def from_env(cls, root: str | None = None, runroot: str | None = None) -> Paths:
        """Build from explicit values, else the environment, else the defaults."""
        root = root or os.environ.get("DOCKYARD_ROOT") or DEFAULT_ROOT
        runroot = runroot or os.environ.get("DOCKYARD_RUNROOT") or DEFAULT_RUNROOT
        return cls(os.path.abspath(root), os.path.abspath(runroot))

    @property
    def blobs(self) -> str:
        return os.path.join(self.root, "blobs", "sha256")

    @property
    def layers(self) -> str:
        return os.path.join(self.root, "layers")

    @property
    def containers(self) -> str:
        return os.path.join(self.root, "containers")

    @property
    def tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    @property
    def state_db(self) -> str:
        return os.path.join(self.root, "state.db")

    def container_dir(self, container_id: str) -> str:
        return os.path.join(self.containers, container_id)

    @property
    def runtime_state(self) -> str:
        """Directory the built-in OCI runtime keeps container state in."""
        return os.path.join(self.runroot, "runtime")
