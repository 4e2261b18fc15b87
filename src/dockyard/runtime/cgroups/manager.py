"""The cgroup manager shared by the v1 and v2 backends, and ``create``/``load``.

``cgroups_path`` is the OCI ``linux.cgroupsPath`` (runtime-spec config-linux.md, "Cgroups
path"). As runc's cgroupfs driver does, a relative path is nested under the caller's own
cgroup (per hierarchy on v1) and an absolute one is taken from each hierarchy's mount point.
"""

from __future__ import annotations

import errno
import os
import signal
import time

from dockyard.errors import DockyardError, InvalidArgument

from . import fs
from .layout import Layout, Mount, detect, own_cgroup_paths

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

# How long destroy() waits for a cgroup to empty after its processes were killed.
_RMDIR_TIMEOUT = 2.0


class Hierarchy:
    """One directory to manage: ``keys`` are the controllers it serves (``""`` = cgroup2),
    ``path`` the absolute cgroup dir, ``mount`` its mount point, ``base`` the caller's own
    cgroup dir when ``path`` came from a relative cgroups path (``None`` when absolute)."""

    def __init__(self, keys: tuple[str, ...], path: str, mount: str, base: str | None):
        self.keys = keys
        self.path = path
        self.mount = mount
        self.base = base


def _check_path(cgroups_path: str) -> str:
    norm = os.path.normpath(cgroups_path) if cgroups_path else ""
    if not norm or norm in ("/", ".") or ":" in norm or ".." in norm.split("/"):
        raise InvalidArgument(
            f"cgroup: invalid cgroups path {cgroups_path!r}: want a relative or absolute"
            " directory path without '..' (the systemd 'slice:prefix:name' form is unsupported)"
        )
    return norm


def _own_dir(mount: Mount, own: str) -> str:
    """The caller's own cgroup dir in the hierarchy mounted at ``mount``."""
    root = mount.root.rstrip("/")
    if own != root and not own.startswith(root + "/"):
        raise DockyardError(
            f"cgroup: own cgroup {own} is outside the hierarchy mounted at {mount.point}"
        )
    rel = own[len(root) :].strip("/")
    return os.path.join(mount.point, rel) if rel else mount.point


def _hierarchy(keys: tuple[str, ...], mount: Mount, own: str | None, norm: str) -> Hierarchy:
    if norm.startswith("/"):
        return Hierarchy(keys, os.path.join(mount.point, norm.lstrip("/")), mount.point, None)
    base = _own_dir(mount, own or "/")
    return Hierarchy(keys, os.path.join(base, norm), mount.point, base)


def hierarchies(cgroups_path: str, layout: Layout) -> list[Hierarchy]:
    """Resolve ``cgroups_path`` to one directory per mounted hierarchy.

    Raises ``InvalidArgument`` for an empty path, ``..`` components or the systemd form,
    ``DockyardError`` if no cgroup hierarchy is mounted.
    """
    norm = _check_path(cgroups_path)
    own = own_cgroup_paths() if not norm.startswith("/") else {}
    if layout.mode == "v2":
        if layout.unified is None:
            raise DockyardError("cgroup: no cgroup2 hierarchy is mounted")
        return [_hierarchy(("",), layout.unified, own.get(""), norm)]
    out = [
        _hierarchy(m.controllers, m, own.get(m.controllers[0]), norm) for m in layout.v1_mounts()
    ]
    if not out:
        raise DockyardError("cgroup: no cgroup hierarchy is mounted (see /proc/self/mountinfo)")
    if layout.unified is not None:
        out.append(_hierarchy(("",), layout.unified, own.get(""), norm))
    return out


#: How often creating a cgroup walks its parents again when one vanished under it.
_MKDIR_ATTEMPTS = 5


class Manager:
    """A container's cgroup, in every hierarchy of one cgroup version.

    ``paths`` maps each controller (``memory``, ``cpu``, ``name=systemd``; ``""`` for the
    cgroup2 hierarchy) to its absolute cgroup dir. Build one with :func:`create` or
    :func:`load`.
    """

    version = ""

    def __init__(self, hierarchies: list[Hierarchy]) -> None:
        self._hier = hierarchies
        self.paths: dict[str, str] = {k: h.path for h in hierarchies for k in h.keys}
        self._created: list[str] = []

    # -- creation ------------------------------------------------------------------------

    def _mkdirs(self, h: Hierarchy) -> None:
        """Create ``h.path`` and any missing parents, recording what was created.

        A shared parent found present may be removed meanwhile by another container's
        :meth:`destroy` (it removes parents it leaves empty): then the walk starts again."""
        for attempt in range(_MKDIR_ATTEMPTS):
            missing = []
            d = h.path
            while not os.path.isdir(d):
                missing.append(d)
                d = os.path.dirname(d)
            for d in reversed(missing):
                try:
                    os.mkdir(d)
                except FileExistsError:
                    continue
                except FileNotFoundError as e:
                    if attempt + 1 < _MKDIR_ATTEMPTS:
                        break  # a parent went away under us: walk again
                    raise DockyardError(f"cgroup: cannot create {d}: {e.strerror}") from e
                except OSError as e:
                    raise DockyardError(f"cgroup: cannot create {d}: {e.strerror}") from e
                self._created.append(d)
                self._created_dir(h, d)
            else:
                return

    def _created_dir(self, h: Hierarchy, path: str) -> None:
        """Hook called for each directory this manager created, parents first."""

    def _setup(self, resources: dict[str, Any]) -> None:
        raise NotImplementedError

    def update(self, resources: dict[str, Any]) -> None:
        """Write OCI ``resources`` (config-linux.md "Control groups") to this existing
        cgroup, as ``runc update`` does for a running container. Raises DockyardError
        naming the file a write failed on."""
        self._setup(resources)

    def _undo_create(self) -> None:
        for d in reversed(self._created):
            try:
                os.rmdir(d)
            except OSError:
                pass
        self._created.clear()

    # -- processes -----------------------------------------------------------------------

    def add(self, pid: int) -> None:
        """Move process ``pid`` into this cgroup in every hierarchy (``cgroup.procs``).

        Raises ``DockyardError`` naming the file that refused it.
        """
        for h in self._hier:
            fs.write(os.path.join(h.path, "cgroup.procs"), pid)

    def pids(self) -> list[int]:
        """The PIDs (thread group ids) in this cgroup and its descendants, sorted."""
        found: set[int] = set()
        for h in self._hier:
            for dirpath, _, _ in os.walk(h.path):
                try:
                    with open(os.path.join(dirpath, "cgroup.procs")) as f:
                        found.update(int(x) for x in f.read().split())
                except OSError:
                    continue
        return sorted(found)

    def kill_all(self, sig: int) -> None:
        """Send ``sig`` to every process in the cgroup (processes already gone are skipped).

        For ``SIGKILL`` the cgroup is frozen first where possible, so nothing can fork
        a process the signal would miss (as runc's ``signalAllProcesses``).
        """
        frozen = False
        if sig == signal.SIGKILL:
            try:
                self.freeze()
                frozen = True
            except DockyardError:
                frozen = False
        try:
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
        finally:
            if frozen:
                self.thaw()

    def freeze(self) -> None:
        """Freeze every process in the cgroup; returns once they are frozen."""
        raise NotImplementedError

    def thaw(self) -> None:
        """Thaw the cgroup's processes."""
        raise NotImplementedError

    def oom_kill_count(self) -> int:
        """How many processes the kernel OOM killer killed in this cgroup; 0 if unknown."""
        raise NotImplementedError

    def stats(self) -> dict[str, int | None]:
        """Usage figures: ``memory_usage`` (bytes), ``memory_limit`` (bytes, ``None`` when
        unlimited), ``cpu_usage`` (nanoseconds), ``pids_current``; ``None`` if unavailable."""
        raise NotImplementedError

    # -- removal -------------------------------------------------------------------------

    def _rmtree(self, path: str, deadline: float, kill: bool) -> None:
        """Remove cgroup dir ``path`` and any child cgroups, bottom-up, retrying on EBUSY."""
        dirs = [d for d, _, _ in os.walk(path)]
        for d in reversed(dirs):
            while True:
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY or time.monotonic() > deadline:
                        raise DockyardError(f"cgroup: cannot remove {d}: {e.strerror}") from e
                    if kill:
                        self.kill_all(signal.SIGKILL)
                    time.sleep(0.02)

    def destroy(self, kill: bool = False, parents: bool = True) -> None:
        """Remove the cgroup dirs in every hierarchy.

        While a dir is busy, removal is retried for a short while; with ``kill=True`` the
        remaining processes are sent SIGKILL first. Then, with ``parents``, now-empty
        parents that a relative cgroups path placed under the caller's own cgroup are
        removed too (never the caller's own cgroup or anything above it; without it they
        stay, as runc leaves them). Raises ``DockyardError`` naming the first dir that
        could not be removed, after trying all of them.
        """
        if kill:
            self.kill_all(signal.SIGKILL)
        deadline = time.monotonic() + _RMDIR_TIMEOUT
        first: DockyardError | None = None
        for h in self._hier:
            try:
                self._rmtree(h.path, deadline, kill)
            except DockyardError as e:
                first = first or e
                continue
            if h.base is None or not parents:
                continue
            d = os.path.dirname(h.path)
            while d.startswith(h.base + "/"):
                try:
                    os.rmdir(d)
                except OSError:
                    break  # ENOTEMPTY/EBUSY: another container still uses it
                d = os.path.dirname(d)
        if first is not None:
            raise first


def _backend(layout: Layout) -> type[Manager]:
    if layout.mode == "v2":
        from .v2 import V2Manager

        return V2Manager
    from .v1 import V1Manager

    return V1Manager


def create(
    cgroups_path: str, resources: dict[str, Any] | None, *, layout: Layout | None = None
) -> Manager:
    """Create (or reuse) the cgroup ``cgroups_path`` and apply OCI ``linux.resources``.

    ``resources`` follows runtime-spec config-linux.md: ``memory`` {limit, swap
    (memory+swap total), reservation} in bytes (-1 = unlimited), ``cpu`` {shares, quota,
    period (microseconds), cpus, mems}, ``pids`` {limit}, ``devices`` [{allow, type, major,
    minor, access}]; on v1 also memory ``swappiness``/``disableOOMKiller``, ``blockIO``,
    ``hugepageLimits`` and ``network`` (an unmounted controller or a missing file is an
    error, as runc's). ``layout`` defaults to :func:`detect`. On any failure the dirs created
    so far are removed and ``DockyardError`` is raised naming the file and value
    (``InvalidArgument`` for a malformed path).
    """
    layout = layout or detect()
    mgr = _backend(layout)(hierarchies(cgroups_path, layout))
    try:
        mgr._setup(resources or {})
    except BaseException:
        mgr._undo_create()
        raise
    return mgr


def load(cgroups_path: str, *, layout: Layout | None = None) -> Manager:
    """Open the existing cgroup ``cgroups_path`` without writing anything.

    Used by ``delete``, OOM checks and stats in another process; paths resolve as in
    :func:`create`, so a relative path must be loaded from the same parent cgroup. Raises
    ``InvalidArgument`` for a malformed path.
    """
    layout = layout or detect()
    return _backend(layout)(hierarchies(cgroups_path, layout))
