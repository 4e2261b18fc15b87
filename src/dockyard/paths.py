"""Where the engine keeps its files (see docs/architecture.md, on-disk layout)."""

from __future__ import annotations

import os

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


class Paths:
    """The engine root (persistent state) and run root (pids, sockets, locks): an
    immutable value, equal to another of the same two paths.

    ``root`` defaults to ``$DOCKYARD_ROOT`` or ``/var/lib/dockyard``; ``runroot`` to
    ``$DOCKYARD_RUNROOT`` or ``/run/dockyard``. Both are absolute paths.
    """

    # A plain class, not a frozen dataclass: every command imports this module, and
    # dataclasses (with inspect and re) cost a listing a fifth of its CPU time.
    root: str
    runroot: str

    def __init__(self, root: str, runroot: str) -> None:
        object.__setattr__(self, "root", root)
        object.__setattr__(self, "runroot", runroot)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r}")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Paths)
        return (self.root, self.runroot) == (other.root, other.runroot)

    def __hash__(self) -> int:
        return hash((self.root, self.runroot))

    def __repr__(self) -> str:
        return f"Paths(root={self.root!r}, runroot={self.runroot!r})"

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
