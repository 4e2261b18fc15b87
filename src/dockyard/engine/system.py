"""The facade's system operations: ``GET /_ping``, ``/version`` and ``/info`` (Engine API
v1.51, System).
"""

from __future__ import annotations

import os

from dockyard.engine.base import EngineBase

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine.prune import SystemPruneReport
    from dockyard.engine.types import Filters, Ping, SystemInfo, SystemVersion

#: The Engine API version Dockyard implements, and the oldest it answers (moby's
#: api.DefaultVersion and MinSupportedAPIVersion for Docker 28.3).
API_VERSION = "1.51"
MIN_API_VERSION = "1.24"


def _os_release() -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                key, eq, value = line.strip().partition("=")
                if eq:
                    values[key] = value.strip('"')
    except OSError:
        pass
    return values


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _mem_total() -> int:
    """Bytes of RAM (MemTotal of /proc/meminfo)."""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


class SystemOperations(EngineBase):
    """System information (Engine API: System)."""

    def system_recover(self) -> None:
        """Take over containers whose monitor died and collect what killed commands
        left (:func:`dockyard.engine.gc.recover`). It may start monitors (restart
        policies): a multi-threaded caller runs it in a process of its own."""
        from dockyard.engine import gc

        gc.recover(self)

    def build_prune(
        self, all: bool = False, filters: Filters | None = None, keep_storage: int = 0
    ) -> dict[str, Any]:
        """``POST /build/prune``: drop unused build cache entries (every one with
        ``all``; ``until`` in ``filters``; until at most ``keep_storage`` bytes remain).
        Returns ``{"CachesDeleted": [entry IDs] | None, "SpaceReclaimed": bytes}``.
        Raises InvalidArgument (a bad filter)."""
        from dockyard.engine import prune

        ids, reclaimed = prune.build_cache_prune(self, all, filters, keep_storage)  # type: ignore[arg-type]
        return {"CachesDeleted": ids or None, "SpaceReclaimed": reclaimed}

    def system_prune(
        self, all_images: bool = False, volumes: bool = False, filters: Filters | None = None
    ) -> SystemPruneReport:
        """``docker system prune`` (:func:`dockyard.engine.prune.system_prune`): stopped
        containers, unused networks, unused anonymous volumes (with ``volumes``), dangling
        images (every unused one with ``all_images``) and build cache. Raises
        InvalidArgument (Docker's messages) before removing anything."""
        from dockyard.engine import prune

        return prune.system_prune(self, all_images, volumes, filters)  # type: ignore[arg-type]

    def system_auth(self, auth_config: dict[str, Any]) -> dict[str, str]:
        """``POST /auth``: check an ``AuthConfig`` (``username``, ``password``,
        ``serveraddress``: Docker Hub when empty) against its registry, storing nothing
        (the client stores it). Returns ``{"Status": "Login Succeeded",
        "IdentityToken": ""}``. Raises RegistryError, Unreachable."""
        from dockyard.engine import distribution

        status = distribution.check_login(
            auth_config.get("serveraddress") or None,
            auth_config.get("username") or "",
            auth_config.get("password") or "",
        )
        return {"Status": status, "IdentityToken": ""}

    def system_ping(self) -> Ping:
        """What ``GET /_ping`` reports: the API version, OS type, experimental flag and
        builder version (1: the classic builder)."""
        return {
            "ApiVersion": API_VERSION,
            "OSType": "linux",
            "Experimental": False,
            "BuilderVersion": "1",
        }

    def system_version(self) -> SystemVersion:
        """``GET /version``'s SystemVersion: Dockyard's version as the ``Engine``
        component; ``GoVersion`` names the Python that runs it."""
        import platform

        from dockyard import __version__
        from dockyard.platforms import host_arch

        python = "python" + platform.python_version()
        details = {
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": python,
            "Os": "linux",
            "Arch": host_arch(),
            "KernelVersion": os.uname().release,
            "BuildTime": "",
        }
        return {
            "Platform": {"Name": f"Dockyard {__version__}"},
            "Components": [{"Name": "Engine", "Version": __version__, "Details": details}],
            "Version": __version__,
            "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION,
            "GitCommit": "",
            "GoVersion": python,
            "Os": "linux",
            "Arch": host_arch(),
            "KernelVersion": os.uname().release,
            "BuildTime": "",
        }

    def engine_id(self) -> str:
        """The engine root's ID (Docker's ``ID`` of ``docker info``): a UUID made on first
        use and kept in ``<root>/engine-id``."""
        import uuid

        path = os.path.join(self.paths.root, "engine-id")
        try:
            with open(path) as f:
                return f.read().strip()
        except FileNotFoundError:
            pass
        os.makedirs(self.paths.root, mode=0o711, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(str(uuid.uuid4()) + "\n")
        # A concurrent first use may have won: link fails then, and its ID is kept.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        with open(path) as f:
            return f.read().strip()

    def system_info(self) -> SystemInfo:
        """``GET /info``'s SystemInfo: counts of containers by state and of images, the
        storage and logging drivers, runtimes, the kernel, OS and resources, swarm
        inactive. Stale running records are reconciled first, as ``ps`` does."""
        from dockyard import __version__

        states = [c.state for c in self.containers.list_reconciled()]
        running = sum(1 for s in states if s.get("Running") and not s.get("Paused"))
        paused = sum(1 for s in states if s.get("Paused"))
        release = _os_release()
        cgroup2 = os.path.exists("/sys/fs/cgroup/cgroup.controllers")
        return {
            "ID": self.engine_id(),
            "Containers": len(states),
            "ContainersRunning": running,
            "ContainersPaused": paused,
            "ContainersStopped": len(states) - running - paused,
            "Images": len(self.images.list()),
            "Driver": "overlay",
            "DriverStatus": [],
            "DockerRootDir": self.paths.root,
            "Plugins": {
                "Volume": ["local"],
                "Network": ["bridge", "host", "ipvlan", "macvlan", "null"],
                "Authorization": None,
                "Log": ["json-file"],
            },
            "MemoryLimit": True,
            "SwapLimit": True,
            "KernelMemoryTCP": False,
            "CpuCfsPeriod": True,
            "CpuCfsQuota": True,
            "CPUShares": True,
            "CPUSet": True,
            "PidsLimit": True,
            "IPv4Forwarding": _read("/proc/sys/net/ipv4/ip_forward") == "1",
            "Debug": bool(os.environ.get("DOCKYARD_DEBUG")),
            "NFd": len(os.listdir("/proc/self/fd")),
            "OomKillDisable": False,
            "NGoroutines": 1,
            "SystemTime": _now_local(),
            "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs",
            "CgroupVersion": "2" if cgroup2 else "1",
            "NEventsListener": 0,
            "KernelVersion": os.uname().release,
            "OperatingSystem": release.get("PRETTY_NAME", "Linux"),
            "OSVersion": release.get("VERSION_ID", ""),
            "OSType": "linux",
            "Architecture": os.uname().machine,
            "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": {
                "AllowNondistributableArtifactsCIDRs": None,
                "AllowNondistributableArtifactsHostnames": None,
                "InsecureRegistryCIDRs": ["127.0.0.0/8", "::1/128"],
                "IndexConfigs": {
                    "docker.io": {
                        "Name": "docker.io",
                        "Mirrors": [],
                        "Secure": True,
                        "Official": True,
                    }
                },
                "Mirrors": None,
            },
            "NCPU": os.cpu_count() or 1,
            "MemTotal": _mem_total(),
            "GenericResources": None,
            "HttpProxy": os.environ.get("HTTP_PROXY", os.environ.get("http_proxy", "")),
            "HttpsProxy": os.environ.get("HTTPS_PROXY", os.environ.get("https_proxy", "")),
            "NoProxy": os.environ.get("NO_PROXY", os.environ.get("no_proxy", "")),
            "Name": os.uname().nodename,
            "Labels": [],
            "ExperimentalBuild": False,
            "ServerVersion": __version__,
            "Runtimes": {
                "dockyard": {"path": "dockyard-runtime"},
                "runc": {"path": "runc"},
                "crun": {"path": "crun"},
            },
            "DefaultRuntime": "dockyard",
            "Swarm": {
                "NodeID": "",
                "NodeAddr": "",
                "LocalNodeState": "inactive",
                "ControlAvailable": False,
                "Error": "",
                "RemoteManagers": None,
            },
            "LiveRestoreEnabled": True,
            "Isolation": "",
            "InitBinary": "docker-init",
            "ContainerdCommit": {"ID": ""},
            "RuncCommit": {"ID": ""},
            "InitCommit": {"ID": ""},
            "SecurityOptions": ["name=cgroupns"] if cgroup2 else [],
            "Warnings": [],
        }


def _now_local() -> str:
    """The current local time in RFC 3339 with nanoseconds and offset (SystemTime)."""
    import datetime

    t = datetime.datetime.now().astimezone()
    return (
        t.strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{t.microsecond:06d}000"
        + t.strftime("%z")[:3]
        + ":"
        + t.strftime("%z")[3:]
    )
