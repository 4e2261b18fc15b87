"""The stores and managers of one engine root, opened lazily: what every area module of
the facade (containers, images, networks, volumes, system, exec...) works on.

Front ends use the facade's operations (:class:`dockyard.engine.Engine`), not these.
"""

from __future__ import annotations

from functools import cached_property

from dockyard.paths import Paths

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import ContainerStore
    from dockyard.image.store import ImageStore
    from dockyard.network.manager import NetworkManager
    from dockyard.snapshot import LayerStore
    from dockyard.state import StateDB
    from dockyard.volume.store import VolumeStore


_on_first_open: Callable[[Any], None] | None = None

#: What stopping and removing a container import: the manager, network and volume
#: tear-down, snapshot mounts, the runtime and its cgroups, events, the stop signal's
#: parser, the attach socket's name and the container directory's removal (see
#: :meth:`EngineBase.import_container_modules`).
STOP_MODULES = (
    "dockyard.container.manager",
    "dockyard.container.operations",
    "dockyard.network.manager",
    "dockyard.snapshot",
    "dockyard.volume.store",
    "dockyard.runtime.linux",
    "dockyard.runtime.cgroups",
    "dockyard.events",
    "dockyard.sysignal",
    "dockyard.container.attach",
    "dockyard.volume.copyup",
)
#: What creating and starting one imports besides: its options, network and log set-up,
#: the runtime's spec, seccomp and init, the monitor's launch phase and health checks.
START_MODULES = (
    "dockyard.engine.create",
    "dockyard.container.supervise",
    "dockyard.container.monitor",
    "dockyard.container.attach",
    "dockyard.container.health",
    "dockyard.container.logs",
    "dockyard.container.etcfiles",
    "dockyard.container.restart",
    "dockyard.container.users",
    "dockyard.network.services",
    "dockyard.runtime.spec",
    "dockyard.runtime.seccomp",
    "dockyard.runtime.init",
    "dockyard.snapshot.inroot",
    "dockyard.mountspec",
    "dockyard.units",
    "socket",
)


def on_first_open(hook: Callable[[Any], None]) -> None:
    """Run ``hook(engine)`` once, when the first engine of this process opens the state
    database (the CLI's crash recovery, ``gc.recover``: it shares the command's
    connection instead of opening its own, and commands that never open the database
    pay nothing)."""
    global _on_first_open
    _on_first_open = hook


class EngineBase:
    """Images, layers, containers, networks and volumes of one engine root (``paths``).

    Stores are opened on first use, so a command pays only for what it touches.
    """

    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    @cached_property
    def db(self) -> StateDB:
        from dockyard.state import StateDB

        db = self.__dict__["db"] = StateDB(self.paths.state_db)
        global _on_first_open
        if _on_first_open is not None:
            hook, _on_first_open = _on_first_open, None
            hook(self)
        return db

    def close_state(self) -> bool:
        """Close the state database connection if it is open, before this process forks
        children that use the engine (SQLite's per-process lock bookkeeping must not be
        inherited: see :meth:`dockyard.state.StateDB.close`). Returns whether it was
        open; :meth:`reopen_state` opens it again (in the parent, never in a child)."""
        db = self.__dict__.get("db")
        if db is None:
            return False
        db.close()
        return True

    def reopen_state(self) -> None:
        """Open again the connection :meth:`close_state` closed."""
        self.__dict__["db"].connect()

    def import_container_modules(self, start: bool = True) -> None:
        """Import :data:`STOP_MODULES` (and with ``start`` :data:`START_MODULES`) now, in
        a front end about to fork workers that each stop and remove (or create and
        start) containers (compose's parallel services): imported once here instead of
        once in every worker and monitor (ten workers importing them cost ten times the
        CPU). Lazily imported otherwise, so a command pays only for what it touches."""
        import importlib

        for name in STOP_MODULES + (START_MODULES if start else ()):
            importlib.import_module(name)
        from dockyard.runtime.cgroups import detect

        # The backend of this host's cgroup layout (the other is never imported).
        v2 = detect().mode == "v2"
        importlib.import_module(f"dockyard.runtime.cgroups.{'v2' if v2 else 'v1'}")

    @cached_property
    def layers(self) -> LayerStore:
        from dockyard.snapshot import LayerStore

        return LayerStore(self.paths)

    @cached_property
    def images(self) -> ImageStore:
        from dockyard.image.store import ImageStore

        return ImageStore(self.paths, self.db)

    @cached_property
    def container_store(self) -> ContainerStore:
        from dockyard.container.store import ContainerStore

        return ContainerStore(self.db)

    @cached_property
    def containers(self) -> ContainerManager:
        from dockyard.container.manager import ContainerManager

        manager = ContainerManager(self.paths, self.container_store, self.images, self.layers)
        if "volumes" in self.__dict__:
            # One volume store for both: its lock is re-entrant within one object only.
            manager.__dict__["volumes"] = self.__dict__["volumes"]
        return manager

    @cached_property
    def volumes(self) -> VolumeStore:
        """Volumes and the containers' mount points: the container manager's store, the
        same object whichever of the two is opened first (``volume ls`` does not import
        the manager)."""
        if "containers" in self.__dict__:
            return self.containers.volumes
        from dockyard.volume.store import VolumeStore

        return VolumeStore(self.paths, self.db)

    @property
    def networks(self) -> NetworkManager:
        """Networks and endpoints (the containers' manager's, so both share one view)."""
        return self.containers.networks
