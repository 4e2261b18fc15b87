"""Container lifecycle: create, start attached to the caller's terminal, remove.

A container's files live in ``containers/<id>/``: ``config.json`` (the OCI bundle config),
``rootfs`` (the overlayfs mount point, mounted only while it runs), ``upper`` and ``work``
(its own writable layer) and the ``hostname``, ``hosts`` and ``resolv.conf`` files the
runtime bind-mounts. Every step that makes something registers its undo, so a failure at any
point leaves nothing behind (docs/architecture.md, rules that keep it safe).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import json
import os
import signal
from collections.abc import Iterator
from functools import cached_property

from dockyard.container.names import random_name, validate_name
from dockyard.container.options import CreateOptions
from dockyard.container.signals import (
    INTERRUPTING_SIGNALS,
    PROXIED_SIGNALS,
    detach_from_caller,
    wait_forwarding,
)
from dockyard.container.store import ZERO_TIME, Container, ContainerStore, initial_state
from dockyard.errors import (
    Conflict,
    DiskFull,
    DockyardError,
    InvalidArgument,
    NotFound,
    RuntimeFailure,
)
from dockyard.paths import Paths
from dockyard.record import Record
from dockyard.timetypes import now

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from dockyard.image.store import Image, ImageStore
    from dockyard.network.manager import NetworkManager
    from dockyard.snapshot import LayerStore
    from dockyard.volume.store import VolumeStore

PR_SET_CHILD_SUBREAPER = 36
MIN_MEMORY = 6 * 1024 * 1024
# Docker's /dev/shm size when --shm-size is not given (64 MiB).
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# Options that ask for no confinement, which is what Dockyard applies (no seccomp, AppArmor
# or SELinux profile yet).
_ACCEPTED_SECURITY_OPTS = {
    ("seccomp", "unconfined"),
    ("seccomp", "builtin"),
    ("apparmor", "unconfined"),
    ("label", "disable"),
}
TINI_PATHS = ("/usr/bin/tini-static", "/usr/bin/tini")
#: File in a container's directory while the command creating it is not done with it.
CREATING_MARKER = "creating"
#: Whether :meth:`ContainerManager.reconcile` takes over a container whose monitor is
#: gone in this process. The API service sets it False (``engine.gc.defer_recovery``):
#: a restart forks a monitor, which a multi-threaded process must not; its own
#: recovery thread has it done in a child process instead.
RECOVER_IN_PROCESS = True
INIT_PATH = "/sbin/docker-init"


def _annotations(hc: dict[str, Any]) -> dict[str, str]:
    """The OCI annotations of a container with HostConfig ``hc``: its ``--annotation``
    values, and under the default cgroup parent the runtime's instruction to leave that
    parent when the container's cgroup goes (it is made once and kept, as dockerd keeps
    its ``docker`` cgroup: bench/README.md; ``system check --repair`` removes it empty)."""
    from dockyard.runtime.spec import KEEP_CGROUP_PARENTS

    annotations = dict(hc.get("Annotations") or {})
    if not hc.get("CgroupParent"):
        annotations[KEEP_CGROUP_PARENTS] = "keep"
    return annotations


def cgroups_path(container_id: str, parent: str) -> str:
    """The OCI ``linux.cgroupsPath``: relative (nested under the engine process's own
    cgroup) unless ``--cgroup-parent`` is absolute."""
    from dockyard.paths import default_cgroup_parent

    return os.path.join(parent or default_cgroup_parent(), container_id)


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class Stdio(Record):
    """The container's side of its stdio kept by whoever runs it: ``sources`` the read
    ends of its output as ``(fd, "stdout"|"stderr")`` (a pty master is ``stdout``),
    ``stdin`` the write end of its input (None: none), ``master`` its pty master, also
    in ``sources`` (None: no pty)."""

    sources: list[tuple[int, str]]
    stdin: int | None
    master: int | None

    _FIELDS = ("sources", "stdin", "master")

    def __init__(
        self,
        sources: list[tuple[int, str]] | None = None,
        stdin: int | None = None,
        master: int | None = None,
    ) -> None:
        self.sources = [] if sources is None else sources
        self.stdin = stdin
        self.master = master

    def close(self) -> None:
        """Close every fd still held."""
        for fd in [fd for fd, _ in self.sources] + [self.stdin]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.sources, self.stdin, self.master = [], None, None


def mount_depth(destination: str) -> int:
    """The number of components of a mount's ``destination``: moby's sortMounts orders
    mounts by it, so that a mount is made before those below it."""
    return len(os.path.normpath(destination).split(os.sep))


def _terminal_size() -> tuple[int, int] | None:
    """(rows, columns) of the caller's terminal, if it has one."""
    for fd in (0, 1):
        try:
            size = os.get_terminal_size(fd)
        except OSError:
            continue
        return size.lines, size.columns
    return None


class ContainerManager:
    """Creates, runs and removes containers on one engine root.

    ``images`` resolves image references; ``layers`` gives each layer's unpacked directory.
    """

    def __init__(
        self, paths: Paths, store: ContainerStore, images: ImageStore, layers: LayerStore
    ) -> None:
        self.paths = paths
        self.store = store
        self.images = images
        self.layers = layers
        # The running container's published ports and DNS server, released by the
        # launch's undo (a monitor's: by its watch phase and cleanup_run) before the exit
        # is recorded: whoever waits for that can bind the ports again.
        self._services: contextlib.ExitStack | None = None
        # The monitor's watch arguments naming the bound service sockets of the
        # container _launch last started with capture (network.services.start_services).
        self.service_handoff: dict[str, str] = {}
        # Start locks create(keep_lock=True) took, by container ID, for the start that
        # follows in this process.
        self._held_locks: dict[str, int] = {}
        #: Exit statuses this manager recorded for containers whose monitor was gone.
        self.lost_exits: dict[str, int] = {}
        #: A tty's first size (rows, columns) when not this process's terminal's: a
        #: monitor's, taken from its CLI's terminal before leaving it (Docker's CLI sends
        #: its terminal's size at create, HostConfig.ConsoleSize).
        self.console_size: tuple[int, int] | None = None

    @classmethod
    def open(cls, paths: Paths) -> ContainerManager:
        """A manager of the engine rooted at ``paths`` on a state database connection of
        its own (a monitor's phases, a health probe: processes with no facade)."""
        from dockyard.image.store import ImageStore
        from dockyard.snapshot import LayerStore
        from dockyard.state import StateDB

        db = StateDB(paths.state_db)
        return cls(paths, ContainerStore(db), ImageStore(paths, db), LayerStore(paths))

    def event(self, c: Container, action: str, **attributes: str) -> None:
        """Record the container event ``action`` of ``c`` in the engine's event log
        (:mod:`dockyard.events`), with its labels, image and name and ``attributes``."""
        from dockyard import events

        events.record(
            self.paths.root,
            "container",
            action,
            c.id,
            events.container_attributes(c.name, c.config, **attributes),
        )

    @cached_property
    def volumes(self) -> VolumeStore:
        """The engine's volumes and the containers' mount points."""
        from dockyard.volume.store import VolumeStore

        return VolumeStore(self.paths, self.store.db)

    # -- create ---------------------------------------------------------------------------

    def create(self, opts: CreateOptions, keep_lock: bool = False) -> Container:
        """Record a new container from ``opts``; nothing runs yet.

        With ``keep_lock`` (``run``) the container's start lock stays held for the
        :meth:`run_attached` or :meth:`start_detached` that follows in this process, and
        the container counts as being created until that start is under way (see
        :meth:`being_created`); :meth:`release_lock` lets go of it otherwise. Raises
        NotFound (image), InvalidArgument (a bad value) or Conflict (name taken); on any
        error nothing is left: no directory and no state row.
        """
        image = self.images.resolve(opts.image)
        name = validate_name(opts.name) if opts.name else random_name()
        config, host_config = self._configs(opts, image, name)
        container_id = os.urandom(32).hex()
        if not config["Hostname"]:
            # Docker: a host-network container has the host's name, others their short ID.
            host = host_config["NetworkMode"] == "host"
            config["Hostname"] = os.uname().nodename if host else container_id[:12]
        c = Container(container_id, name, image.id, now(), config, host_config, initial_state())
        if config.get("WorkingDir") not in (None, "", "/"):
            from dockyard.container.filesystem import check_working_dir

            check_working_dir(self._lower_dirs(c), config["WorkingDir"])
        points = self.volumes.plan(config, host_config, self._mount_points_of)
        cdir = self.paths.container_dir(container_id)
        # The start lock from the first file on: the garbage collector leaves alone what
        # a live command holds, and removes what a killed one left (its lock is free).
        lock = self._acquire_start_lock(container_id)
        added = False
        try:
            os.makedirs(self.paths.containers, mode=0o710, exist_ok=True)
            os.mkdir(cdir, 0o710)
            # Until the creating command is done with it (``run``: until it started):
            # a container left with this marker and a free lock is half-made.
            with open(os.path.join(cdir, CREATING_MARKER), "w"):
                pass
            # Under the volume lock: a volume rm cannot slip between creating the
            # container's volumes and recording it as their user.
            with self.volumes.lock():
                # Set first: an interrupt (Ctrl-C) just after the record's commit must
                # remove it too (it was left without its directory).
                added = True
                self._add_record(c, generated_name=not opts.name)
                self._create_network(c, opts)
                if points:
                    self.volumes.attach(c.id, points, lambda: self._mounted_rootfs(c))
        except BaseException:
            if added:
                self.networks.release(c.id)
                with contextlib.suppress(NotFound):
                    self.store.delete(c.id)
            import shutil

            shutil.rmtree(cdir, ignore_errors=True)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._lock_path(container_id))
            os.close(lock)
            raise
        if keep_lock:
            self._held_locks[c.id] = lock
        else:
            self.done_creating(c.id)
            os.close(lock)
        self.event(c, "create")
        return c

    def done_creating(self, container_id: str) -> None:
        """Mark the container as made: its creating command reported it (``create``) or
        started it (``run``), so the garbage collector must not remove it."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.paths.container_dir(container_id), CREATING_MARKER))

    def being_created(self, container_id: str) -> bool:
        """Whether the command creating the container has not finished with it (see
        :meth:`done_creating`); with the start lock free, that command died."""
        return os.path.exists(os.path.join(self.paths.container_dir(container_id), CREATING_MARKER))

    def release_lock(self, container_id: str) -> None:
        """Let go of the start lock :meth:`create` kept (``keep_lock``), if still held."""
        fd = self._held_locks.pop(container_id, None)
        if fd is not None:
            os.close(fd)

    def _lock_path(self, container_id: str) -> str:
        return os.path.join(self.paths.runroot, f"{container_id}.lock")

    def _add_record(self, c: Container, generated_name: bool) -> None:
        """Insert ``c``; a ``generated_name`` someone else took meanwhile is replaced by
        another, as moby retries (20 concurrent ``run -d`` collided once). Raises
        Conflict for a name the user chose."""
        for attempt in range(6):
            try:
                self.store.add(c)
                return
            except Conflict:
                if not generated_name or attempt == 5:
                    raise
                old, c.name = c.name, random_name()
                links = c.host_config.get("Links") or []
                c.host_config["Links"] = [
                    link.replace(f":/{old}/", f":/{c.name}/") for link in links
                ] or None

    def _mount_points_of(self, ref: str) -> list[dict[str, Any]]:
        """The mount points of container ``ref`` (for ``--volumes-from``)."""
        return self.volumes.container_mounts(self.store.get(ref).id)

    def _lower_dirs(self, c: Container) -> list[str]:
        image = self.images.get(c.image_id)
        return [self.layers.path(d) for d in reversed(image.diff_ids)] or [self.layers.empty_dir()]

    @contextlib.contextmanager
    def _mounted_rootfs(self, c: Container) -> Iterator[str]:
        """The container's root filesystem mounted for the duration (copy-up at create,
        as Docker mounts it then)."""
        from dockyard.snapshot import mount_rootfs, unmount

        cdir = self.paths.container_dir(c.id)
        rootfs = os.path.join(cdir, "rootfs")
        self.service_handoff = {}
        mount_rootfs(
            self._lower_dirs(c), os.path.join(cdir, "upper"), os.path.join(cdir, "work"), rootfs
        )
        try:
            yield rootfs
        finally:
            unmount(rootfs)

    @cached_property
    def networks(self) -> NetworkManager:
        from dockyard.network.manager import NetworkManager

        return NetworkManager(self.paths, self.store.db)

    def _create_network(self, c: Container, opts: CreateOptions) -> None:
        """Allocate the new container's address (inside the state database's write lock)
        and write its hostname, hosts and resolv.conf files."""
        mode = c.host_config["NetworkMode"]
        eps = self.networks.allocate(
            c.id,
            mode,
            ip=opts.ip,
            aliases=opts.network_aliases,
            mac=opts.mac_address,
            options=opts.endpoint_options,
            more=opts.extra_networks,
            more_settings=opts.extra_endpoints,
            ip6=opts.ip6,
            link_local=opts.link_local_ips,
        )
        if mode.startswith("container:"):
            # It shares the other container's namespace, so its view of the network too;
            # allocate only refused endpoint settings it would have ignored (none recorded).
            self._write_etc_files(c)
            return
        self._write_etc_files(c, eps)

    def _write_etc_files(self, c: Container, eps: list[Any] | None = None) -> None:
        """Write ``c``'s hostname, hosts and resolv.conf files from its configuration and
        its endpoints ``eps`` (None: those recorded), a ``container:`` mode's copied from
        the other container's. At create, and again at each later start: Docker writes
        them afresh at every start (libnetwork's sandbox, BuildHostnameFile), so an edit
        of the running container's /etc/hosts does not outlive it."""
        from dockyard.container.etcfiles import write_etc_files

        cdir = self.paths.container_dir(c.id)
        mode = c.host_config["NetworkMode"]
        if mode.startswith("container:"):  # the other container's, as it has them now
            import shutil

            other = self.paths.container_dir(mode.partition(":")[2])
            for name in ("hostname", "hosts", "resolv.conf"):
                shutil.copyfile(os.path.join(other, name), os.path.join(cdir, name))
            return
        if eps is None:
            eps = [ep for _, ep in self.networks.endpoints(c.id)]
        hostname = c.config["Hostname"]
        # Each endpoint's IPv4 and IPv6 address (moby's getEtcHostsAddrs).
        own = [(addr, hostname) for ep in eps for addr in (ep.address, ep.address6) if addr]
        links = []
        for link in c.host_config.get("Links") or []:
            target, alias = (part.rpartition("/")[2] for part in link.split(":"))
            try:
                linked = self.store.get(target)
            except NotFound:
                continue  # gone since: the start refuses the link (_link_env)
            for _, lep in self.networks.endpoints(linked.id)[:1]:
                names = " ".join(dict.fromkeys([alias, linked.id[:12], linked.name]))
                links.append((lep.address or lep.address6, names))
        internal_dns = bool(eps) and mode != "bridge"
        write_etc_files(
            cdir,
            hostname,
            mode,
            own=own,
            extra_hosts=c.host_config.get("ExtraHosts") or [],
            links=links,
            dns=c.host_config.get("Dns") or [],
            dns_search=c.host_config.get("DnsSearch") or [],
            dns_options=c.host_config.get("DnsOptions") or [],
            internal_dns=internal_dns,
        )

    def _configs(self, opts: CreateOptions, image: Image, name: str) -> tuple[dict, dict]:
        img = image.config.get("config") or {}
        _check_name_fields(opts)
        _check_resources(opts)
        network_mode = self.networks.validate_modes(
            [opts.network, *opts.extra_networks], self.store
        )[0]
        if network_mode.startswith("container:") and (
            opts.hostname or opts.dns or opts.dns_search or opts.dns_options or opts.add_hosts
        ):
            raise InvalidArgument(
                "conflicting options: hostname, dns and add-host cannot be used with a "
                "container type network"
            )
        if network_mode.startswith("container:") and (opts.port_bindings or opts.publish_all):
            raise InvalidArgument(
                "conflicting options: port publishing and the container type network mode"
            )
        if network_mode.startswith("container:") and opts.exposed_ports:
            raise InvalidArgument(
                "conflicting options: port exposing and the container type network mode"
            )
        modes = self._namespace_modes(opts)
        links = []
        # On a user-defined network legacy links are not made (moby's registerLinks):
        # the Docker CLI sends --link there as the endpoint's Links, which alias names
        # in the container's embedded DNS.
        user_defined = network_mode not in ("bridge", "host", "none") and not (
            network_mode.startswith("container:")
        )
        if opts.links and network_mode == "host":
            raise InvalidArgument(
                "conflicting options: host type networking can't be used with links. "
                "This would result in undefined behavior"
            )
        if opts.links and network_mode.startswith("container:"):
            raise InvalidArgument(
                "conflicting options: container type network can't be used with links. "
                "This would result in undefined behavior"
            )
        for link in [] if user_defined else opts.links:
            target, _, alias = link.partition(":")
            if network_mode != "bridge":
                raise InvalidArgument("--link is only supported on the default bridge network")
            try:
                linked = self.store.get(target)
            except NotFound:
                raise InvalidArgument(f"could not get container for {target}") from None
            if not any(n.name == "bridge" for n, _ in self.networks.endpoints(linked.id)):
                # Its /etc/hosts entry would have no address (Docker's check and message).
                raise InvalidArgument(
                    f"Cannot link to /{linked.name}, as it does not belong to the default network"
                )
            links.append(f"/{linked.name}:/{name}/{alias or linked.name}")
        no_new_privs = check_security_opts(opts.security_opt)
        if opts.workdir and not opts.workdir.startswith("/"):
            # moby's verifyContainerSettings
            raise InvalidArgument(
                f"the working directory '{opts.workdir}' is invalid, it needs to be an absolute path"
            )
        from dockyard.container.restart import validate_restart_policy

        validate_restart_policy(opts.restart_policy)
        if opts.init and not any(os.path.exists(p) for p in TINI_PATHS):
            raise InvalidArgument("--init needs tini: install Debian's tini package")

        if opts.entrypoint is not None:
            entrypoint = opts.entrypoint if any(opts.entrypoint) else None
            cmd = opts.command or None
        else:
            entrypoint = img.get("Entrypoint")
            cmd = opts.command or img.get("Cmd")
        if not (entrypoint or cmd):
            raise InvalidArgument("No command specified")
        # moby's merge (daemon/commit.go): the user's entries as given, then the image's
        # whose names the user did not set.
        env = list(opts.env)
        given = {e.partition("=")[0] for e in env}
        env += [e for e in img.get("Env") or [] if e.partition("=")[0] not in given]
        labels = dict(img.get("Labels") or {})
        labels.update(opts.labels)
        # A bare `-v /path` is an anonymous volume in Config.Volumes, as the Docker CLI
        # puts it; the image's VOLUMEs are merged in as the daemon does.
        volumes = dict(img.get("Volumes") or {})
        volumes.update({v: {} for v in opts.volumes if ":" not in v})
        binds = [v for v in opts.volumes if ":" in v]
        config = {
            "Hostname": opts.hostname or "",
            "Domainname": opts.domainname,
            "User": opts.user if opts.user is not None else img.get("User", ""),
            "AttachStdin": opts.attach_stdin,
            "AttachStdout": opts.attach_stdout,
            "AttachStderr": opts.attach_stderr,
        }
        exposed: dict[str, dict] = {
            k: {} for k in [*(img.get("ExposedPorts") or {}), *opts.exposed_ports]
        }
        if exposed:
            config["ExposedPorts"] = dict(sorted(exposed.items()))
        config |= {
            "Tty": opts.tty,
            "OpenStdin": opts.interactive,
            "StdinOnce": opts.stdin_once,
            "Env": env,
            "Cmd": cmd,
            "Image": opts.image,
            "Volumes": volumes or None,
            "WorkingDir": opts.workdir if opts.workdir is not None else img.get("WorkingDir", ""),
            "Entrypoint": entrypoint,
            "OnBuild": img.get("OnBuild"),
            "Labels": labels,
            "StopSignal": opts.stop_signal or img.get("StopSignal"),
        }
        if opts.stop_timeout is not None:
            config["StopTimeout"] = opts.stop_timeout
        from dockyard.container.health import merge

        healthcheck = merge(opts.healthcheck, img.get("Healthcheck"))
        if healthcheck:
            config["Healthcheck"] = healthcheck
        host_config = {
            "NetworkMode": network_mode,
            "PortBindings": opts.port_bindings,
            "Dns": list(opts.dns),
            "DnsOptions": list(opts.dns_options),
            "DnsSearch": list(opts.dns_search),
            "ExtraHosts": list(opts.add_hosts) or None,
            "Links": links or None,
            "Privileged": opts.privileged,
            "CapAdd": opts.cap_add or None,
            "CapDrop": opts.cap_drop or None,
            "ReadonlyRootfs": opts.read_only,
            "SecurityOpt": opts.security_opt or None,
            "NoNewPrivileges": no_new_privs,
            "Ulimits": opts.ulimits or None,
            "Memory": opts.memory,
            "MemorySwap": opts.memory_swap,
            "NanoCpus": int(round(opts.cpus * 1e9)),
            "CpuShares": opts.cpu_shares,
            "PidsLimit": opts.pids_limit or None,
            "CgroupParent": opts.cgroup_parent,
            "Runtime": opts.runtime,
            "AutoRemove": opts.auto_remove,
            "Init": opts.init or None,
            "RestartPolicy": dict(opts.restart_policy),
            "PublishAllPorts": opts.publish_all,
            "Binds": binds or None,
            "VolumesFrom": opts.volumes_from or None,
            "CpuPeriod": opts.cpu_period,
            "CpuQuota": opts.cpu_quota,
            "CpuRealtimePeriod": opts.cpu_rt_period,
            "CpuRealtimeRuntime": opts.cpu_rt_runtime,
            "CpusetCpus": opts.cpuset_cpus,
            "CpusetMems": opts.cpuset_mems,
            "BlkioWeight": opts.blkio_weight,
            "MemoryReservation": opts.memory_reservation,
            "MemorySwappiness": opts.memory_swappiness,
            "OomKillDisable": opts.oom_kill_disable,
            "OomScoreAdj": opts.oom_score_adj,
            "Devices": opts.devices,
            "DeviceCgroupRules": opts.device_cgroup_rules or None,
            "GroupAdd": opts.group_add or None,
            "ShmSize": opts.shm_size or DEFAULT_SHM_SIZE,
            "Sysctls": opts.sysctls or None,
        }
        if opts.annotations:
            host_config["Annotations"] = opts.annotations
        if opts.isolation:
            host_config["Isolation"] = opts.isolation
        if opts.volume_driver:
            host_config["VolumeDriver"] = opts.volume_driver
        host_config.update(modes)
        from dockyard.container.logs import check_log_config

        host_config["LogConfig"] = check_log_config(opts.log_config)
        host_config.update(opts.throttle)
        if opts.weight_devices:
            host_config["BlkioWeightDevice"] = opts.weight_devices
        if opts.mounts:
            host_config["Mounts"] = opts.mounts
        if opts.tmpfs:
            host_config["Tmpfs"] = opts.tmpfs
        # Fail at create, not start, on a capability or value the runtime would refuse.
        from dockyard.runtime import caps

        caps.tweak(opts.cap_add, opts.cap_drop, opts.privileged)
        return config, host_config

    # -- update ---------------------------------------------------------------------------

    def update(
        self, ref: str, resources: dict[str, Any], restart_policy: dict[str, Any] | None = None
    ) -> Container:
        """``docker update``: merge HostConfig resource fields ``resources`` (Docker's
        names; 0/absent: unchanged, as moby's container.UpdateContainer) and a restart
        policy into the container's HostConfig, and write the limits to its cgroup when it
        is running (a later start applies them otherwise; the restart policy counts from
        the next exit). Returns the updated container.

        Raises NotFound, InvalidArgument (dockerd's range checks) and Conflict (moby's
        conflicting updates), each ``Cannot update container <id>: ...``, or
        RuntimeFailure when the cgroup refuses a value (the old record and limits are
        put back)."""
        from dockyard.container.restart import validate_restart_policy

        c = self.store.get(ref)

        def fail(kind: type[DockyardError], why: str) -> NoReturn:
            raise kind(f"Cannot update container {c.id}: {why}")

        def merge(hc: dict[str, Any]) -> dict[str, Any]:
            for new, old_field, what in (
                ("NanoCpus", "CpuPeriod", "CPU Period"),
                ("NanoCpus", "CpuQuota", "CPU Quota"),
                ("CpuPeriod", "NanoCpus", "CPU Period"),
                ("CpuQuota", "NanoCpus", "CPU Quota"),
            ):
                if resources.get(new) and hc.get(old_field):
                    fail(
                        Conflict,
                        f"Conflicting options: {what} cannot be updated as NanoCPUs has "
                        "already been set",
                    )
            memory = resources.get("Memory") or 0
            swap = hc.get("MemorySwap") or 0
            if memory and swap > 0 and memory > swap and not resources.get("MemorySwap"):
                fail(
                    Conflict,
                    "Memory limit should be smaller than already set memoryswap limit, "
                    "update the memoryswap at the same time",
                )
            for key, value in resources.items():
                if value:
                    hc[key] = value
            if restart_policy and restart_policy.get("Name"):
                if restart_policy["Name"] != "no" and hc.get("AutoRemove"):
                    fail(
                        Conflict,
                        "Restart policy cannot be updated because AutoRemove is enabled "
                        "for the container",
                    )
                try:
                    validate_restart_policy(restart_policy)
                except InvalidArgument as e:
                    fail(InvalidArgument, str(e))
                hc["RestartPolicy"] = dict(restart_policy)
            try:
                _check_resources(_resource_options(hc))
            except InvalidArgument as e:
                fail(InvalidArgument, str(e))
            return hc

        old, new = self.store.update_host_config(c.id, merge)
        c.host_config = new
        if self._cgroup_exists(c):
            try:
                self._apply_resources(c, new)
            except DockyardError as e:
                self.store.update_host_config(c.id, lambda _: old)
                c.host_config = old
                with contextlib.suppress(DockyardError):
                    self._apply_resources(c, old)
                fail(RuntimeFailure, str(e))
        self.event(c, "update")
        return c

    def remove_link(self, name: str) -> None:
        """``docker rm --link /PARENT/ALIAS``: drop the legacy link ALIAS from container
        PARENT's HostConfig.Links, as moby's rmLink (the linked container stays; the
        parent's next start writes /etc/hosts without it). Raises Conflict for a bare
        container name, NotFound (no such parent or link), with moby's messages."""
        full = "/" + name.strip("/")
        parent, _, alias = full.rpartition("/")
        if not parent:
            raise Conflict("Conflict, cannot remove the default link name of the container")
        try:
            c = self.store.get(parent.lstrip("/"))
        except NotFound:
            raise NotFound(f"Cannot get parent {parent} for link name {full}") from None
        removed: list[str] = []

        def drop(hc: dict[str, Any]) -> dict[str, Any]:
            kept: list[str] = []
            for link in hc.get("Links") or []:
                # Stored as /<linked>:/<parent>/<alias>.
                (removed if link.rpartition("/")[2] == alias else kept).append(link)
            if not removed:
                raise NotFound(f"No such container: {full}")
            return {**hc, "Links": kept or None}

        self.store.update_host_config(c.id, drop)

    def _apply_resources(self, c: Container, hc: dict[str, Any]) -> None:
        """Write the limits of HostConfig ``hc`` to the running container's cgroup."""
        from dockyard.runtime import cgroups

        resources = cgroups.resources_from_docker(
            memory=hc.get("Memory") or None,
            memory_swap=hc.get("MemorySwap") or None,
            cpus=(hc.get("NanoCpus") or 0) / 1e9 or None,
            cpu_shares=hc.get("CpuShares") or None,
            pids_limit=hc.get("PidsLimit") or None,
        )
        _more_resources(resources, hc, [])
        cgroups.load(self._cgroups_path(c)).update(resources)

    def _namespace_modes(self, opts: CreateOptions) -> dict[str, str]:
        """HostConfig IpcMode, PidMode, UTSMode, CgroupnsMode and UsernsMode of ``opts``
        (a ``container:`` mode names the container by full ID), checked as dockerd
        checks them. Raises InvalidArgument, NotFound (no such container)."""
        ipc = opts.ipc_mode or "private"
        if ipc not in ("none", "private", "shareable", "host") and not ipc.startswith("container:"):
            raise InvalidArgument(f"invalid IPC mode: {ipc}")
        pid = opts.pid_mode
        if pid not in ("", "host") and not pid.startswith("container:"):
            raise InvalidArgument(f"invalid PID mode: {pid}")
        if opts.uts_mode not in ("", "host"):
            raise InvalidArgument(f"invalid UTS mode: {opts.uts_mode}")
        if opts.uts_mode == "host" and opts.hostname:
            raise InvalidArgument("conflicting options: hostname and the UTS mode")
        if opts.cgroupns_mode not in ("", "host", "private"):
            raise InvalidArgument(f"invalid cgroup namespace mode: {opts.cgroupns_mode}")
        if opts.userns_mode not in ("", "host"):
            # No user namespace remapping in the engine: "host" is what every container has.
            raise InvalidArgument(f"invalid USER mode: {opts.userns_mode}")
        out = {"IpcMode": ipc, "PidMode": pid, "UTSMode": opts.uts_mode}
        for key in ("IpcMode", "PidMode"):
            if out[key].startswith("container:"):
                ref = out[key].partition(":")[2]
                if not ref:
                    raise InvalidArgument(f"invalid {key[:3].upper()} mode: {out[key]}")
                out[key] = "container:" + self.store.get(ref).id
        if opts.cgroupns_mode:
            out["CgroupnsMode"] = opts.cgroupns_mode
        if opts.userns_mode:
            out["UsernsMode"] = opts.userns_mode
        return out

    def _joined_pid(self, mode: str, kind: str) -> tuple[int, Container]:
        """The PID and record of the running container a ``container:<id>`` mode joins.
        Raises Conflict with dockerd's ``cannot join <kind> of a non running container``."""
        try:
            other = self.store.get(mode.partition(":")[2])
        except NotFound:
            raise Conflict(f"cannot join {kind} of a non running container: {mode[10:]}") from None
        if not other.state.get("Running") or not other.state.get("Pid"):
            raise Conflict(f"cannot join {kind} of a non running container: {other.id}")
        return int(other.state["Pid"]), other

    def _namespaces(
        self, c_id: str, hc: dict[str, Any], netns: str | None
    ) -> tuple[dict[str, str], list[dict[str, Any]], bool]:
        """The OCI namespace modes of HostConfig ``hc`` (see SpecOptions.namespaces), the
        /dev/shm bind mount an IPC mode asks for, and whether the container has a
        /dev/shm tmpfs of its own (moby's setupIpcDirs)."""
        namespaces: dict[str, str] = {"network": netns} if netns else {}
        shm: list[dict[str, Any]] = []
        own_shm = True
        ipc = hc.get("IpcMode") or "private"
        if ipc == "host":
            namespaces["ipc"] = "host"
            shm.append(_bind("/dev/shm", "/dev/shm"))
            own_shm = False
        elif ipc == "shareable":
            shm.append(_bind(os.path.join(self.paths.container_dir(c_id), "shm"), "/dev/shm"))
            own_shm = False
        elif ipc.startswith("container:"):
            pid, other = self._joined_pid(ipc, "IPC")
            donor = other.host_config.get("IpcMode") or "private"
            if donor not in ("shareable", "host"):
                raise Conflict(
                    "non-shareable IPC (hint: use IpcMode:shareable for the donor container)"
                )
            namespaces["ipc"] = f"/proc/{pid}/ns/ipc"
            source = "/dev/shm"
            if donor == "shareable":
                source = os.path.join(self.paths.container_dir(other.id), "shm")
            shm.append(_bind(source, "/dev/shm"))
            own_shm = False
        elif ipc == "none":
            own_shm = False
        pid_mode = hc.get("PidMode") or ""
        if pid_mode == "host":
            namespaces["pid"] = "host"
        elif pid_mode.startswith("container:"):
            namespaces["pid"] = f"/proc/{self._joined_pid(pid_mode, 'PID')[0]}/ns/pid"
        if hc.get("UTSMode") == "host":
            namespaces["uts"] = "host"
        if hc.get("CgroupnsMode") == "host":
            namespaces["cgroup"] = "host"
        return namespaces, shm, own_shm

    # -- start ----------------------------------------------------------------------------

    def _open_lock_file(self, name: str) -> int:
        """An fd of the lock file ``<runroot>/<name>``, created (mode 0600) if missing."""
        os.makedirs(self.paths.runroot, mode=0o700, exist_ok=True)
        return os.open(os.path.join(self.paths.runroot, name), os.O_CREAT | os.O_RDWR, 0o600)

    def try_lock(self, container_id: str) -> int | None:
        """The container's start lock taken without waiting (its fd), or None while
        someone holds it (a monitor, an attached ``run``, a command creating it)."""
        fd = self._open_lock_file(f"{container_id}.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def _acquire_start_lock(self, container_id: str) -> int:
        """Take the container's start lock (blocking) and return its fd. Whoever runs the
        container holds it from start until the exit is recorded; it is released when
        every process sharing the open file has closed it or died. One :meth:`create`
        kept for this process is handed over instead."""
        held = self._held_locks.pop(container_id, None)
        if held is not None:
            return held
        fd = self._open_lock_file(f"{container_id}.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        return fd

    def _begin_start(self, container_id: str) -> Container:
        """The container a user (or ``system boot``) starts, with the start lock held.

        Raises NotFound, or Conflict when it runs already. A start by the user begins a
        new restart history, as Docker's."""
        c = self.store.get(container_id)
        if c.state["Running"]:
            raise Conflict(f"container {c.id} is already running")
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._stopped_marker(c.id))
        c.state["RestartCount"] = 0
        return c

    def oom_killed(self, c: Container) -> bool:
        """Whether the kernel's OOM killer killed a process of the running (or just
        exited, cgroup not yet removed) container ``c``."""
        from dockyard.runtime import cgroups

        with contextlib.suppress(DockyardError, OSError):
            return bool(cgroups.load(self._cgroups_path(c)).oom_kill_count() > 0)
        return False

    def record_exit(self, c: Container, status: int, oom: bool) -> None:
        """Record that ``c`` exited with Docker exit status ``status`` (``oom``: killed
        by the OOM killer)."""
        c.state.update(
            Status="exited", Running=False, Pid=0, ExitCode=status, OOMKilled=oom, FinishedAt=now()
        )
        self.store.save_state(c)
        if oom:
            self.event(c, "oom")
        self._die_event(c, status)
        self.volumes.unmount_events(c.id)

    def _die_event(self, c: Container, status: int) -> None:
        """The ``die`` event of a run of ``c`` that ended with ``status``, with moby's
        ``execDuration`` (whole seconds since the start)."""
        import time

        from dockyard.timetypes import parse_time

        attributes = {"exitCode": str(status)}
        with contextlib.suppress(ValueError, KeyError, TypeError):
            started = parse_time(c.state["StartedAt"])
            attributes["execDuration"] = str(max(0, (time.time_ns() - started) // 1_000_000_000))
        self.event(c, "die", **attributes)

    def _wait_restart(self, c: Container, delay: float, count: int) -> bool:
        """Show ``c`` as restarting (Docker keeps Running true) for ``delay`` seconds.

        Returns False, with the container recorded as exited, when the user stopped or
        removed it meanwhile.
        """
        import time

        c.state.update(Status="restarting", Running=True, Restarting=True, RestartCount=count)
        self.store.save_state(c)
        deadline = time.monotonic() + delay
        while True:
            if self.stopped_by_user(c.id):
                with contextlib.suppress(NotFound):
                    self.store.get(c.id)
                    c.state.update(Status="exited", Running=False, Restarting=False)
                    self.store.save_state(c)
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                c.state.update(Running=False, Restarting=False)
                return True
            time.sleep(min(left, 0.05))

    def _stopped_marker(self, container_id: str) -> str:
        # A file rather than a State field: set by other commands while the monitor
        # rewrites State, it can never be lost to a concurrent save.
        return os.path.join(self.paths.container_dir(container_id), "stopped-by-user")

    def mark_stopped_by_user(self, ref: str) -> None:
        """Record that the user stopped, killed or removed the container (Docker's
        HasBeenManuallyStopped): its monitor does not restart it, and ``system boot``
        does not start it if its policy is ``unless-stopped``. Cleared by the next start.
        Call before signalling it. Raises NotFound."""
        c = self.store.get(ref)
        with contextlib.suppress(FileNotFoundError), open(self._stopped_marker(c.id), "w"):
            pass

    def stopped_by_user(self, container_id: str) -> bool:
        """Whether :meth:`mark_stopped_by_user` was called since the last start (a
        removed container counts as stopped)."""
        marker = self._stopped_marker(container_id)
        return os.path.exists(marker) or not os.path.isdir(os.path.dirname(marker))

    def run_attached(self, c: Container) -> int:
        """Start ``c`` with the caller's stdio (a pty relay with ``Tty``) and wait for it.

        Returns Docker's exit status: the container's own code, or 128+N when signal N
        killed it. Signals sent to the caller are forwarded to the container. Raises
        RuntimeFailure (exit 125/126/127) when the process cannot be started; the
        container then keeps status ``created`` with that exit code, as Docker records it.
        The run is cleaned up before its exit is recorded, then ``--rm`` applied.
        """
        lock = self._acquire_start_lock(c.id)
        try:
            with contextlib.ExitStack() as undo:
                try:
                    c = self._begin_start(c.id)
                    _, pid, _ = self._launch(c, undo)
                finally:
                    self.done_creating(c.id)
                from dockyard.container.health import HealthMonitor, probe_command

                probe = probe_command(c.config.get("Healthcheck"))
                if probe is not None:
                    health = HealthMonitor(self, c, probe)
                    health.start()
                    undo.callback(health.stop)
                status = wait_forwarding(pid, reap_others=True)
                oom = self.oom_killed(c)
            # Cleaned up before the exit is recorded: whoever waits for it finds nothing
            # of the run left.
            self.record_exit(c, status, oom)
        finally:
            os.close(lock)
        if c.host_config.get("AutoRemove"):
            self.remove(c.id, force=True, volumes=True)
        return status

    def start_detached(
        self, c: Container, restarts: int | None = None, client: int | None = None
    ) -> None:
        """Start ``c`` in the background under a monitor process and return once its
        process runs.

        The monitor is a double-forked child in its own session (see
        :mod:`dockyard.container.monitor`): it holds the container's stdio (pipes, or the
        pty with ``Tty``, copied to ``containers/<id>/<id>-json.log``), waits for it,
        records the exit status, applies the restart policy and ``--rm``. ``restarts``:
        a start by the restart policy, the count it reached (None: the user's start,
        which begins a new count). ``client``: fd of a connected stream socket the
        monitor serves as an attach client from the container's first output (see
        :func:`dockyard.container.attach.run_monitored`). Raises RuntimeFailure as
        :meth:`run_attached` does when the process cannot be started.
        """
        # A start lock create() kept is let go of once the monitor exists (it takes the
        # lock itself, so /proc/locks names it): from then on a killed CLI leaves a
        # container that is no longer half-made, which the monitor starts.
        held = self._held_locks.pop(c.id, None)
        # Ctrl-C, a kill or a hang-up waits until the monitor exists and this side's part
        # is done: raised between the fork and here, it left the forked child unwinding
        # the caller's stack, this side's database closed, or the held lock open (the
        # monitor waited for it while the caller, unwinding, removed the container).
        # From the fork on the container is the monitor's: it runs (recorded running)
        # or fails (its error recorded), and the caller waits for which (_read_report).
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTING_SIGNALS)
        try:
            read_fd, write_fd = os.pipe()
            # SQLite's per-process lock bookkeeping must not be inherited (StateDB.close).
            self.store.db.close()
            pid = os.fork()
            if pid == 0:  # pragma: no cover - runs in the forked child
                os.close(read_fd)
                if held is not None:
                    os.close(held)
                self._become_monitor(c.id, write_fd, restarts, mask, client)
            self.store.db.connect()
            os.close(write_fd)
            if held is not None:
                self.done_creating(c.id)
                os.close(held)
            os.waitpid(pid, 0)  # the intermediate child: it exits once it has forked
        except BaseException:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            raise
        report = _read_report(read_fd, mask)
        if not report:
            raise DockyardError(f"container {c.id}: the monitor exited before starting it")
        result = json.loads(report)
        if result.get("error"):
            raise RuntimeFailure(result["error"], result["code"])

    def _become_monitor(
        self,
        container_id: str,
        report_fd: int,
        restarts: int | None = None,
        mask: set[int | signal.Signals] | None = None,
        client: int | None = None,
    ) -> NoReturn:
        """The forked monitor: leaves the caller's session, launches the container and
        execs the monitor's watch phase; reports ``{}`` once the container runs, or the
        error that stopped it, on ``report_fd``. ``restarts``, ``client``: see
        :meth:`start_detached`; ``mask``: the signal mask to restore once out of the
        caller's session (the caller blocked its interrupting signals around the fork).
        Never returns."""
        try:
            size = _terminal_size()
            detach_from_caller()
            if mask is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            # Nothing else of the caller's (a pipe a shell reads to its end, say) may
            # stay open for the container's lifetime: closed at the exec. Not closed
            # here, where an object of the CLI's could still close its fd's number
            # once that number is reused.
            for name in os.listdir("/proc/self/fd"):
                with contextlib.suppress(OSError):
                    os.set_inheritable(int(name), False)
            from dockyard.container.supervise import launch

            manager = ContainerManager.open(self.paths)
            manager.console_size = size
            lock = manager._acquire_start_lock(container_id)
            c = manager._begin_start(container_id)
            if restarts is not None:
                c.state["RestartCount"] = restarts
            launch(manager, c, lock, report_fd, restarts or 0, client=client)
        except BaseException as e:  # noqa: BLE001 - a forked monitor must never unwind
            exit_code = e.exit_code if isinstance(e, DockyardError) else 125
            with contextlib.suppress(OSError):
                os.write(
                    report_fd, json.dumps({"error": str(e) or repr(e), "code": exit_code}).encode()
                )
        os._exit(1)

    def kill(self, ref: str, sig: int) -> Container:
        """Send signal number ``sig`` to the container's PID 1 (``docker kill``).

        Raises NotFound, or Conflict when it is not running (Docker's message).
        """
        from dockyard.runtime import get_runtime

        c = self.store.get(ref)
        if not c.state["Running"]:
            raise Conflict(f"cannot kill container: {ref}: container {c.id} is not running")
        # Docker cancels the restart policy when the signal is meant to stop it.
        if sig in (signal.SIGKILL, self._stop_signal(c)):
            self.mark_stopped_by_user(c.id)
        runtime = get_runtime(c.host_config.get("Runtime") or "dockyard", self.paths.runtime_state)
        try:
            runtime.kill(c.id, sig)
        except DockyardError:
            raise Conflict(
                f"cannot kill container: {ref}: container {c.id} is not running"
            ) from None
        self.event(c, "kill", signal=str(sig))
        return c

    @staticmethod
    def _stop_signal(c: Container) -> int:
        """The container's stop signal number (Config.StopSignal, else SIGTERM)."""
        text = (c.config.get("StopSignal") or "SIGTERM").upper()
        if text.isdigit():
            return int(text)
        try:
            return int(signal.Signals[text if text.startswith("SIG") else "SIG" + text])
        except KeyError:
            return int(signal.SIGTERM)

    def wait(self, ref: str, timeout: float | None = None) -> int:
        """Block until the container is not running and return its exit code
        (``docker wait``). ``timeout`` is seconds (None: forever); raises NotFound, or
        DockyardError when the timeout passes."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        c = self.store.get(ref)
        delay = 0.01
        # The monitor's pidfd: its exit (once the exit is recorded, for a container that
        # does not restart) ends a sleep at once instead of at the next look.
        monitor = -2
        started = c.state.get("StartedAt")
        try:
            while c.state["Running"]:
                if c.state.get("Restarting") or c.state.get("StartedAt") != started:
                    # The run ended and its restart policy started another (or is about
                    # to): Docker's wait returns at that exit too.
                    return int(c.state.get("ExitCode") or 0)
                if deadline is not None and time.monotonic() > deadline:
                    raise DockyardError(f"timed out waiting for container {c.id}")
                if not self._monitor_alive(c):
                    c = self.reconcile(c)
                    if c.id in self.lost_exits:  # taken over here (maybe restarted)
                        return self.lost_exits[c.id]
                    if not c.state["Running"]:
                        break
                    # Left to the API service's recovery (RECOVER_IN_PROCESS False).
                elif monitor == -2:
                    monitor = self._monitor_pidfd(c)
                if monitor < 0:
                    time.sleep(delay)
                elif _readable(monitor, delay):
                    # It exited: from now on plain sleeps (a pidfd stays readable).
                    os.close(monitor)
                    monitor = -1
                delay = min(delay * 2, 0.1)
                c = self.store.get(c.id)
        except NotFound:
            # Removed while we waited (--rm): remove() left the exit code behind.
            code = self.removed_exit_code(c.id)
            if code is None:
                raise NotFound(f"No such container: {ref}") from None
            return code
        finally:
            if monitor >= 0:
                os.close(monitor)
        return int(c.state["ExitCode"])

    def _monitor_pidfd(self, c: Container) -> int:
        """A pidfd of the process holding ``c``'s start lock (its monitor), found in
        /proc/locks by the lock file's device and inode; -1 when there is none (or no
        pidfd support). A recycled pid at worst wakes a bounded sleep early."""
        try:
            st = os.stat(os.path.join(self.paths.runroot, f"{c.id}.lock"))
            want = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
            with open("/proc/locks") as f:
                for line in f:
                    # "1: FLOCK  ADVISORY  WRITE 4242 fe:00:1234 0 EOF" ("1: -> FLOCK ..."
                    # for a waiter).
                    fields = line.split()
                    if len(fields) > 5 and fields[1] == "FLOCK" and fields[5] == want:
                        return os.pidfd_open(int(fields[4]))
        except (OSError, ValueError):
            pass
        return -1

    # Seconds an exit code outlives its removed container for waiters still polling.
    REMOVED_EXIT_TTL = 60.0

    def _removed_exits_dir(self) -> str:
        return os.path.join(self.paths.runroot, "exits")

    def _keep_removed_exit_code(self, container_id: str, code: int) -> None:
        """Leave ``code`` under ``<runroot>/exits/<id>`` (temp file + rename) for
        :meth:`wait` callers still polling a container being removed, and drop records
        older than ``REMOVED_EXIT_TTL`` seconds."""
        import time

        directory = self._removed_exits_dir()
        os.makedirs(directory, exist_ok=True)
        cutoff = time.time() - self.REMOVED_EXIT_TTL
        with os.scandir(directory) as entries:
            for entry in entries:
                with contextlib.suppress(OSError):
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
        path = os.path.join(directory, container_id)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            f.write(str(code))
        os.rename(tmp, path)

    def removed_exit_code(self, container_id: str) -> int | None:
        """The exit code :meth:`remove` kept for ``container_id``, or None."""
        try:
            with open(os.path.join(self._removed_exits_dir(), container_id)) as f:
                return int(f.read())
        except (OSError, ValueError):
            return None

    def reconcile(self, c: Container, apply_policy: bool = True) -> Container:
        """``c`` as it really is. A container recorded as running whose monitor (or
        attached ``run``) is gone is taken over, as containerd cleans up after a dead
        shim: PID 1 is killed if it still runs (exit 137, else 255: the exit was lost),
        the run cleaned up and the exit recorded; then, with ``apply_policy``, its
        restart policy restarts it under a new monitor or ``--rm`` removes it (see
        :meth:`recover`). Returns the up-to-date record; raises NotFound when it is
        removed (``--rm``). Without ``RECOVER_IN_PROCESS`` it is left as recorded. On a
        disk too full to record the takeover (DiskFull) the record is returned as it is:
        reading commands still work, and a later command takes over once there is room."""
        if c.state["Running"] and RECOVER_IN_PROCESS and not self._monitor_alive(c):
            lock = self.try_lock(c.id)
            if lock is None:
                return self.store.get(c.id)  # someone took over meanwhile
            try:
                c = self.store.get(c.id)
                if c.state["Running"]:
                    held, lock = lock, -1  # recover() lets go of it, whatever happens
                    self.recover(c, held, apply_policy)
            except DiskFull:
                return c
            finally:
                if lock >= 0:
                    os.close(lock)
            c = self.store.get(c.id)
        return c

    def recover(self, c: Container, lock: int, apply_policy: bool = True) -> str:
        """Take over ``c``, recorded running with no monitor, holding its start lock
        ``lock`` (an fd this call closes or hands to a new monitor): record the lost
        exit (:meth:`_record_lost_exit`), then, with ``apply_policy``, restart it as
        its restart policy says (Docker restarts a container whose shim died) or remove
        it (``--rm``). Returns what was done, for reports."""
        try:
            status = self._record_lost_exit(c)
            done = f"exit {status} recorded (monitor gone)"
            if not apply_policy:
                return done
            from dockyard.container.restart import RestartManager

            count = int(c.state.get("RestartCount") or 0)
            policy = RestartManager(c.host_config.get("RestartPolicy") or {}, count)
            if policy.should_restart(status, self.stopped_by_user(c.id), 0.0) is not None:
                self._held_locks[c.id] = lock
                lock = -1
                try:
                    self.start_detached(self.store.get(c.id), restarts=policy.restart_count)
                except DockyardError as e:
                    return f"{done}, restart failed: {e}"
                return f"{done}, restarted"
            if c.host_config.get("AutoRemove"):
                self.discard(c, volumes=True)
                return f"{done}, removed (--rm)"
            return done
        finally:
            self.release_lock(c.id)
            if lock >= 0:
                os.close(lock)

    def list_reconciled(self) -> list[Container]:
        """Every container as :meth:`reconcile` sees it, newest first; one removed
        meanwhile (a ``--rm`` container whose monitor just finished) is left out."""
        found = []
        for c in self.store.list():
            with contextlib.suppress(NotFound):
                found.append(self.reconcile(c))
        return found

    def _record_lost_exit(self, c: Container) -> int:
        """Clean up after a container whose monitor is gone and mark it exited; returns
        the status recorded: 137 when its PID 1 still ran and was killed here (as
        containerd reports a task whose shim died), else 255 (the exit was lost)."""
        from dockyard.runtime import get_runtime

        status = 255
        runtime = get_runtime(c.host_config.get("Runtime") or "dockyard", self.paths.runtime_state)
        with contextlib.suppress(DockyardError, OSError, KeyError, ValueError):
            if runtime.state(c.id)["status"] in ("running", "paused", "created"):
                status = 128 + signal.SIGKILL
        self.cleanup_run(c)
        self.lost_exits[c.id] = status
        c.state.update(
            Status="exited",
            Running=False,
            Paused=False,
            Restarting=False,
            Pid=0,
            ExitCode=status,
            FinishedAt=now(),
        )
        self.store.save_state(c)
        self._die_event(c, status)
        self.volumes.unmount_events(c.id)
        return status

    def cleanup_run(self, c: Container) -> None:
        """Undo what :meth:`_launch` made for a run of ``c``, from the record alone and
        idempotently: kill and delete the runtime's container, remove the cgroup
        directories it leaves, unmount the rootfs, release its volumes' mounts, tear
        down its network namespace and forget its published ports.

        A detached container's monitor calls it after the exit (in another process image
        than the one that launched: nothing registered on the launch's undo stack
        survives there), and so do ``rm -f`` and lost exits, where there is no monitor.
        Whatever ``_launch`` sets up must be undone here too.

        What needs no free space (processes, cgroups, the rootfs mount, the network
        namespace) is undone first, so a full disk failing the database writes after
        it (DiskFull, raised at the end) still leaves nothing mounted or running."""
        from dockyard.container.attach import socket_name
        from dockyard.snapshot import unmount

        known = os.path.isdir(os.path.join(self.paths.runtime_state, c.id))
        self._disconnect_events(c, ran=known)
        with self._cgroup_parent_lock(exclusive=True):
            self._kill_and_reap(c)
            if not known and self._cgroup_exists(c):
                # A create killed before the runtime wrote its state: no runtime record
                # to delete by, but maybe its PID 1 in the cgroup.
                from dockyard.runtime import cgroups

                with contextlib.suppress(DockyardError, OSError):
                    cgroups.load(self._cgroups_path(c)).destroy(kill=True)
            self._remove_noted_cgroup_dirs(c)
        unmount(os.path.join(self.paths.container_dir(c.id), "rootfs"))
        unmount(os.path.join(self.paths.container_dir(c.id), "shm"))
        with contextlib.suppress(DockyardError, OSError):
            self.networks.teardown(c.id)
        from dockyard.network.ports import PortStore

        # A killed monitor's; a live one removes its own at the exit, before this.
        with contextlib.suppress(OSError):
            os.unlink(os.path.join(self.paths.runroot, socket_name(c.id)))
        failed: DockyardError | None = None
        for step in (self.volumes.deactivate, PortStore(self.store.db).clear):
            try:
                step(c.id)
            except DockyardError as e:
                failed = failed or e
        if failed is not None:
            raise failed

    def _disconnect_events(self, c: Container, ran: bool) -> None:
        """The network ``disconnect`` events of a run of ``c`` that ended (``ran``: its
        runtime state was still there, so this cleanup is the first)."""
        with contextlib.suppress(DockyardError, OSError):
            self.networks.disconnect_events(c, ran)

    def _launch(
        self, c: Container, undo: contextlib.ExitStack, capture: bool = False
    ) -> tuple[Any, int, Stdio]:
        """Mount the rootfs, write the bundle, create and start the container process;
        returns the runtime, PID 1's pid and the container's stdio kept here.

        With ``capture`` (a monitor) the container's stdout and stderr are pipes (its pty
        with ``Tty``) and its stdin, with ``-i``, a pipe, whose other ends are returned;
        else the caller's stdio is passed through (relayed through the pty with ``Tty``).
        Everything made is registered on ``undo`` (closing it cleans up the run); on
        success the caller keeps it until the container exits.
        """
        from dockyard.runtime import get_runtime
        from dockyard.snapshot import mount_rootfs, unmount

        cdir = self.paths.container_dir(c.id)
        rootfs = os.path.join(cdir, "rootfs")
        self.service_handoff = {}
        if c.state.get("StartedAt") not in (None, "", ZERO_TIME):
            # Started before: its /etc files are written afresh, as Docker's are (create
            # wrote them for the first start).
            self._write_etc_files(c)
        mount_rootfs(
            self._lower_dirs(c),
            os.path.join(cdir, "upper"),
            os.path.join(cdir, "work"),
            rootfs,
            volatile=bool(c.host_config.get("AutoRemove")),
        )
        undo.callback(unmount, rootfs)
        volume_mounts = self.volumes.oci_mounts(
            c.id, c.host_config.get("Tmpfs") or {}, rootfs, undo
        )
        if (c.host_config.get("IpcMode") or "private") == "shareable":
            # moby's setupIpcDirs: a shareable /dev/shm lives in the host's mount
            # namespace, where a container joining the IPC namespace can bind it too.
            from dockyard.runtime import syscalls as sc

            shm = os.path.join(cdir, "shm")
            os.makedirs(shm, mode=0o700, exist_ok=True)
            size = c.host_config.get("ShmSize") or DEFAULT_SHM_SIZE
            sc.mount(
                "shm",
                shm,
                "tmpfs",
                sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC,
                f"mode=1777,size={size}",
            )
            undo.callback(unmount, shm)
        netns = self.networks.setup(c, self.store)
        if netns == self.networks.netns_path(c.id):
            undo.callback(self.networks.teardown, c.id)
        # Before the teardown (undone in reverse): it looks for the namespace.
        undo.callback(self._disconnect_events, c, True)
        if netns == self.networks.netns_path(c.id):
            from dockyard.network.services import start_services

            self._services = undo.enter_context(contextlib.ExitStack())
            eps = self.networks.endpoints(c.id)
            # A monitor serves them only after its exec: bound here, handed over then.
            self.service_handoff = start_services(
                self.paths, self.store.db, c, netns, eps, self._services, serve=not capture
            )
        spec = self._spec(c, rootfs, volume_mounts, netns)
        tmp = os.path.join(cdir, "config.json.tmp")
        with open(tmp, "w") as f:
            # dumps, not dump: json.dump encodes in pure Python (iterencode), dumps in C.
            f.write(json.dumps(spec))
        os.replace(tmp, os.path.join(cdir, "config.json"))

        runtime = get_runtime(c.host_config.get("Runtime") or "dockyard", self.paths.runtime_state)
        ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        console = None
        if c.config["Tty"]:
            from dockyard.container.tty import ConsoleSocket

            console = undo.enter_context(ConsoleSocket(self.paths.runroot, c.id))
        created: list[bool] = []
        undo.callback(self._release_runtime, c, runtime, created)
        if c.host_config.get("Runtime") == "crun":
            self._note_cgroup_dirs(c)
        # The runtime gives the container this process's fds 0-2: point them at what
        # the container gets for the duration of create, then put them back.
        replaced: dict[int, int] = {}
        stdio = Stdio()
        undo.callback(stdio.close)
        if not c.config["OpenStdin"] or c.config["Tty"]:
            # Without -i the container's stdin is /dev/null, as with Docker.
            replaced[0] = os.open(os.devnull, os.O_RDONLY)
        elif capture or not c.config.get("AttachStdin", True):
            # A monitor's pipe; or (`run -i -a stdout`) stdin open but not attached:
            # nothing is written to it, it stays open until the container ends.
            replaced[0], write_end = os.pipe()
            os.set_inheritable(write_end, False)
            stdio.stdin = write_end
        if not c.config["Tty"]:
            # Pipes also for an attached run: its output is logged (and relayed) too.
            for fd, stream in ((1, "stdout"), (2, "stderr")):
                read_end, replaced[fd] = os.pipe()
                os.set_inheritable(read_end, False)
                stdio.sources.append((read_end, stream))
        saved = {fd: os.dup(fd) for fd in replaced}
        try:
            for fd, target in replaced.items():
                os.dup2(target, fd)
                os.close(target)
            with self._cgroup_parent_lock(exclusive=False):
                runtime.create(c.id, cdir, console_socket=console.path if console else None)
            created.append(True)
        except RuntimeFailure as e:
            c.state.update(ExitCode=e.exit_code, Error=str(e))
            self.store.save_state(c)
            raise
        finally:
            for fd, copy in saved.items():
                os.dup2(copy, fd)
                os.close(copy)
        pid = int(runtime.state(c.id)["pid"])
        # Hold signals meant for the container until they are forwarded: one sent as soon
        # as it prints its first line must reach it, not end this process.
        # SIGCHLD too: wait_forwarding takes it synchronously, and a thread started from
        # here on must not swallow it (its default action is to discard it).
        held = PROXIED_SIGNALS | {signal.SIGCHLD}
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        undo.callback(signal.pthread_sigmask, signal.SIG_UNBLOCK, held)
        if console is not None:
            master = console.receive()
            # Its socket served its purpose; a monitor's undo is dropped at its exec, so
            # nothing would remove it later (a console-* directory left per tty start).
            console.remove()
            if capture:
                stdio.sources.append((master, "stdout"))
                stdio.master = master
                console.master = None  # the monitor owns it now
                if c.config["OpenStdin"]:
                    stdio.stdin = os.dup(master)
        # Recorded as running before it runs: if this process dies from here on, the
        # record says running with no monitor, which reconcile() turns into a lost exit
        # and a cleanup, instead of an orphan behind a "created" record.
        before = dict(c.state)
        c.state.update(
            Status="running",
            Running=True,
            Pid=pid,
            ExitCode=0,
            Error="",
            StartedAt=now(),
            FinishedAt="0001-01-01T00:00:00Z",
            OOMKilled=False,
        )
        self.store.save_state(c)
        if not capture:
            # Made, as far as a killed CLI goes, once recorded running: its output can
            # reach the caller as soon as it starts, and a CLI killed then must leave a
            # container (the collector removes those still marked as being created).
            self.done_creating(c.id)
        try:
            runtime.start(c.id)
        except DockyardError as e:
            c.state = {**before, "Error": str(e)}
            self.store.save_state(c)
            raise
        self.event(c, "start")
        if not capture:
            self._relay_attached(c, undo, stdio, console)
        elif console is not None:
            undo.callback(console.close)
        return runtime, pid, stdio

    def _relay_attached(
        self, c: Container, undo: contextlib.ExitStack, stdio: Stdio, console: Any
    ) -> None:
        """Copy an attached run's output to the caller's stdout/stderr and into its
        json-file log (Docker logs attached containers too), in a thread; the undo joins
        it first, so the last output is out before anything is torn down."""
        from dockyard.container.jsonfile import JsonFileWriter
        from dockyard.container.logs import log_limits, log_path

        path = log_path(self.paths.container_dir(c.id), c.id)
        limits = log_limits(c.host_config)
        if limits is None:
            path, limits = os.devnull, (0, 1)  # --log-driver none

        def log_failed(e: OSError) -> None:
            # Said once on the caller's stderr; the output itself goes on.
            message = f"dockyard: cannot write the log {path}: {e.strerror}; output is not logged\n"
            with contextlib.suppress(OSError):
                os.write(2, message.encode())

        writer = JsonFileWriter(path, on_error=log_failed, max_size=limits[0], max_files=limits[1])
        undo.callback(writer.close)
        if console is not None:
            undo.callback(console.close)
            console.relay_start(c.config["OpenStdin"], log=writer)
            return
        import threading

        sources, stdio.sources = stdio.sources, []  # the thread closes them at their end
        # `run -a`: a stream not attached is logged, not shown.
        broken: set[int] = {
            fd
            for fd, key in ((1, "AttachStdout"), (2, "AttachStderr"))
            if not c.config.get(key, True)
        }

        def write_out(stream: str, data: bytes) -> None:
            fd = 2 if stream == "stderr" else 1
            view = memoryview(data)
            while view and fd not in broken:
                try:
                    view = view[os.write(fd, view) :]
                except OSError:  # the reader went away: keep logging
                    broken.add(fd)

        thread = threading.Thread(target=writer.relay, args=(sources, write_out), daemon=True)
        thread.start()
        undo.callback(thread.join, 10)

    @contextlib.contextmanager
    def _cgroup_parent_lock(self, exclusive: bool) -> Iterator[None]:
        """Shared while a runtime creates a container's cgroup (with its parents),
        exclusive while one is removed with the parents left empty: without it, the
        removal of an empty parent races another container's create, which then fails
        with ENOENT."""
        fd = self._open_lock_file("cgroups.lock")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    def _release_runtime(self, c: Container, runtime: Any, created: list[bool]) -> None:
        """Delete the runtime's container (``created``: it exists) with its cgroup, and
        the cgroup parents it leaves empty."""
        with self._cgroup_parent_lock(exclusive=True):
            if created:
                with contextlib.suppress(DockyardError):
                    runtime.delete(c.id, True)
            self._remove_noted_cgroup_dirs(c)

    def _cgroups_path(self, c: Container) -> str:
        path = cgroups_path(c.id, c.host_config.get("CgroupParent") or "")
        if c.host_config.get("Runtime") == "crun" and not path.startswith("/"):
            # crun puts a relative cgroupsPath under each hierarchy's root, outside the
            # engine's own cgroup; give it the absolute path runc's rule would produce
            # when one own cgroup path contains all the others (the common case).
            from dockyard.runtime import cgroups

            own = [p.rstrip("/") for p in cgroups.own_cgroup_paths().values()]
            deepest = max(own, key=len)
            if all(deepest == p or deepest.startswith(p + "/") for p in own):
                path = f"{deepest}/{path}"
        return path

    def _cgroup_dirs_to_remove(self, c: Container) -> list[str]:
        """The directories above an absolute cgroupsPath that do not exist yet in any
        hierarchy (deepest first): what an external runtime creates and leaves behind,
        and so what the engine removes after the container, and nothing else."""
        path = self._cgroups_path(c)
        if not path.startswith("/"):
            return []
        from dockyard.runtime import cgroups

        layout = cgroups.detect()
        points = [m.point for m in layout.v1_mounts()]
        if layout.unified is not None:
            points.append(layout.unified.point)
        parts = path.strip("/").split("/")[:-1]
        missing = [
            os.path.join(point, *parts[:i])
            for point in points
            for i in range(len(parts), 0, -1)
            if not os.path.isdir(os.path.join(point, *parts[:i]))
        ]
        return sorted(missing, key=len, reverse=True)

    def _note_cgroup_dirs(self, c: Container) -> None:
        """Write down (``containers/<id>/cgroup-dirs``) the cgroup directories an
        external runtime is about to create and leave behind, for whichever process
        cleans up after the container (the monitor, ``rm -f``) to remove."""
        path = os.path.join(self.paths.container_dir(c.id), "cgroup-dirs")
        with open(path + ".tmp", "w") as f:
            json.dump(self._cgroup_dirs_to_remove(c), f)
        os.replace(path + ".tmp", path)

    def _remove_noted_cgroup_dirs(self, c: Container) -> None:
        path = os.path.join(self.paths.container_dir(c.id), "cgroup-dirs")
        try:
            with open(path) as f:
                dirs = json.load(f)
        except (OSError, ValueError):
            return
        for d in dirs:
            with contextlib.suppress(OSError):
                os.rmdir(d)
        with contextlib.suppress(OSError):
            os.unlink(path)

    def _link_env(self, c: Container) -> list[str]:
        """Check that the containers ``c`` links to (legacy links) run, as moby's
        setupLinkedContainers at each start (its message), and return their environment
        (``ALIAS_NAME``, ``ALIAS_PORT_...``, ``ALIAS_ENV_...``: moby's links.EnvVars) only
        when the engine's environment has ``DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS=1``:
        Docker 28 sets them no more unless asked so. Raises DockyardError."""
        keep = os.environ.get("DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS") == "1"
        env: list[str] = []
        for link in c.host_config.get("Links") or []:
            target, _, name = link.partition(":")  # /<linked>:/<parent>/<alias>
            try:
                child = self.store.get(target.lstrip("/"))
            except NotFound:
                continue
            if not child.state.get("Running"):
                raise DockyardError(
                    f"Cannot link to a non running container: /{child.name} AS {name}"
                )
            if not keep:
                continue
            address = next(
                (
                    ep.address
                    for net, ep in self.networks.endpoints(child.id)
                    if net.name == "bridge"
                ),
                "",
            )
            env += legacy_link_env(
                name, address, child.config.get("Env") or [], child.config.get("ExposedPorts") or {}
            )
        return env

    def _spec(
        self,
        c: Container,
        rootfs: str,
        volume_mounts: list[dict[str, Any]],
        netns: str | None,
    ) -> dict[str, Any]:
        """The OCI config of ``c``; ``volume_mounts`` (OCI mounts of its volumes, binds and
        tmpfs) come last and replace the engine's files at the same destination; ``netns``
        is the network namespace mode (see NetworkManager.setup)."""
        from dockyard.container.users import process_user
        from dockyard.runtime import cgroups
        from dockyard.runtime.spec import SpecOptions, build_spec

        cfg, hc = c.config, c.host_config
        user = process_user(rootfs, cfg.get("User") or "", hc.get("GroupAdd"))
        from dockyard.units import merge_env

        env = [f"PATH={DEFAULT_PATH}", f"HOSTNAME={cfg['Hostname']}"]
        if cfg["Tty"]:
            env.append("TERM=xterm")
        env += self._link_env(c)
        env = merge_env(env, cfg.get("Env") or [])
        if not any(e.startswith("HOME=") for e in env):
            env.append(f"HOME={user.home}")
        args = (cfg.get("Entrypoint") or []) + (cfg.get("Cmd") or [])
        cdir = self.paths.container_dir(c.id)
        # Read-only with the root filesystem (moby's NetworkMounts: Writable is
        # !ReadonlyRootfs).
        ro = ["ro"] if hc.get("ReadonlyRootfs") else []
        mounts = [
            {
                "destination": dest,
                "type": "bind",
                "source": os.path.join(cdir, src),
                "options": ["rbind", "rprivate", *ro],
            }
            for dest, src in (
                ("/etc/resolv.conf", "resolv.conf"),
                ("/etc/hostname", "hostname"),
                ("/etc/hosts", "hosts"),
            )
            if dest not in {m["destination"] for m in volume_mounts}
        ]
        if hc.get("Init"):
            tini = next(p for p in TINI_PATHS if os.path.exists(p))
            mounts.append(
                {
                    "destination": INIT_PATH,
                    "type": "bind",
                    "source": tini,
                    "options": ["bind", "ro"],
                }
            )
            args = [INIT_PATH, "--", *args]
        namespaces, shm_mounts, own_shm = self._namespaces(c.id, hc, netns)
        mounts += shm_mounts
        mounts += volume_mounts
        # moby's sortMounts: by depth (stable), so a volume at /etc is mounted before,
        # not over, the engine's /etc/hosts.
        mounts.sort(key=lambda m: mount_depth(str(m["destination"])))
        uts_host = namespaces.get("uts") == "host"
        resources = cgroups.resources_from_docker(
            memory=hc.get("Memory") or None,
            memory_swap=hc.get("MemorySwap") or None,
            cpus=(hc.get("NanoCpus") or 0) / 1e9 or None,
            cpu_shares=hc.get("CpuShares") or None,
            pids_limit=hc.get("PidsLimit") or None,
        )
        devices, device_rules = _devices(hc)
        _more_resources(resources, hc, device_rules)
        opts = SpecOptions(
            args=args,
            env=env,
            cwd=cfg.get("WorkingDir") or "/",
            user=(user.uid, user.gid),
            additional_gids=user.additional_gids,
            # The host's UTS namespace keeps the host's names.
            hostname="" if uts_host else cfg["Hostname"],
            terminal=bool(cfg["Tty"]),
            console_size=(self.console_size or _terminal_size()) if cfg["Tty"] else None,
            readonly_rootfs=bool(hc.get("ReadonlyRootfs")),
            privileged=bool(hc.get("Privileged")),
            cap_add=hc.get("CapAdd") or [],
            cap_drop=hc.get("CapDrop") or [],
            no_new_privileges=bool(hc.get("NoNewPrivileges")),
            ulimits={u["Name"]: (u["Soft"], u["Hard"]) for u in hc.get("Ulimits") or []},
            namespaces=namespaces,
            resources=resources,
            cgroups_path=self._cgroups_path(c),
            mounts=mounts,
            seccomp=_seccomp_profile(hc),
            domainname="" if uts_host else cfg.get("Domainname") or "",
            devices=devices,
            oom_score_adj=hc.get("OomScoreAdj") or None,
            shm_size=(hc.get("ShmSize") or DEFAULT_SHM_SIZE) if own_shm else 0,
            sysctl=dict(hc.get("Sysctls") or {}),
            annotations=_annotations(hc),
        )
        return build_spec(opts)

    # -- remove ---------------------------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> Container:
        """Remove a container and its files. A running one needs ``force`` (then killed);
        ``volumes`` (``rm -v``) also removes the anonymous volumes only it used.

        Raises NotFound or Conflict with Docker's messages.
        """
        c = self.store.get(ref)
        if not c.state["Running"] and self._monitor_alive(c):
            # A start is under way (its monitor holds the lock, Running not yet recorded):
            # removing now would leave its process, veth and mounts with no record and
            # fail the start half-way (``container prune`` beside ``run``). Docker's rm
            # waits for the container's lock too, then finds it running.
            c = self._await_start(c, stop=force)
            if not force and not c.state["Running"] and self._monitor_alive(c):
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is being started: '
                    "wait for it or force remove"
                )
        if c.state["Running"] and self._monitor_alive(c):
            if not force:
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is running: '
                    "stop the container before removing or force remove"
                )
            from dockyard.runtime import get_runtime

            runtime = get_runtime(
                c.host_config.get("Runtime") or "dockyard", self.paths.runtime_state
            )
            # A restart policy must not bring it back while it is being removed.
            self.mark_stopped_by_user(c.id)
            with contextlib.suppress(DockyardError):
                runtime.kill(c.id, signal.SIGKILL, all=True)
                self.event(c, "kill", signal=str(int(signal.SIGKILL)))
            # Its monitor records the exit and cleans up (and removes a --rm container);
            # wait() takes over if it dies.
            try:
                self.wait(c.id, timeout=10)
            except NotFound:
                return c
            except DockyardError:
                # The monitor is alive but did not record the exit in time: do its cleanup
                # here so that rm -f never leaves a mount, cgroup or process behind.
                self.cleanup_run(c)
        elif c.state["Running"]:
            self._record_lost_exit(c)
        elif not self._monitor_alive(c) and self.run_leftovers(c):
            # A start killed before it recorded the container running: its PID 1 may
            # still wait on exec.fifo, holding a cgroup, a veth and a mount namespace.
            self.cleanup_run(c)
        self.discard(c, volumes)
        return c

    def discard(self, c: Container, volumes: bool = False) -> None:
        """Remove what a stopped container ``c`` owns: its rootfs mount, network
        namespace, addresses, record (its exit code kept for waiters), volumes' mount
        points (``volumes``: and its anonymous volumes), files and start lock file. The
        record goes before the files, so a kill leaves files without a record, which the
        garbage collector removes. Idempotent.

        On a disk so full that even the record's removal cannot be written (DiskFull), the
        container's writable layer is removed first to make the room, then the record:
        a kill in between leaves a record without its files, which ``rm`` removes."""
        from dockyard.snapshot import unmount
        from dockyard.volume.copyup import remove_tree

        cdir = self.paths.container_dir(c.id)
        unmount(os.path.join(cdir, "rootfs"))
        with contextlib.suppress(DockyardError, OSError):
            self.networks.teardown(c.id)
        try:
            self._discard_records(c, volumes)
        except DiskFull:
            remove_tree(os.path.join(cdir, "upper"))
            self._discard_records(c, volumes)
        # Not shutil.rmtree: it recurses, and a container can nest its writable layer
        # deeper than the recursion limit (rm crashed, leaving the directory).
        with contextlib.suppress(OSError):
            remove_tree(cdir)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._lock_path(c.id))
        # The start lock of the facade's container_start (two starts at once).
        with contextlib.suppress(FileNotFoundError):
            os.unlink(os.path.join(self.paths.runroot, f"{c.id}.starting"))

    def _discard_records(self, c: Container, volumes: bool) -> None:
        """The database side of :meth:`discard` (each step idempotent)."""
        self.networks.release(c.id)
        with contextlib.suppress(NotFound):
            # Before the row goes, so that a waiter never finds neither (docker wait on
            # a --rm container prints its exit code).
            self._keep_removed_exit_code(c.id, int(self.store.get(c.id).state["ExitCode"]))
        if self.store.delete(c.id):
            self.event(c, "destroy")
        # A --rm container's anonymous volumes go with it however it is removed.
        self.volumes.detach(c.id, remove_anonymous=volumes or bool(c.host_config.get("AutoRemove")))
        # Its monitor may not have finished its own cleanup yet.
        self.volumes.deactivate(c.id)

    def _await_start(self, c: Container, timeout: float = 10, stop: bool = True) -> Container:
        """``c`` re-read once a start in progress has recorded it running or given up
        (its monitor let go of the start lock), waiting at most ``timeout`` seconds.
        ``stop``: mark it stopped by the user first (``rm -f``: no restart brings it back)."""
        import time

        if stop:
            self.mark_stopped_by_user(c.id)
        deadline = time.monotonic() + timeout
        while not c.state["Running"] and self._monitor_alive(c) and time.monotonic() < deadline:
            time.sleep(0.02)
            c = self.store.get(c.id)
        return c

    def run_leftovers(self, c: Container) -> list[str]:
        """What a run of ``c`` left that only a running container should have (a few
        stat calls): ``runtime`` (the runtime's state directory), ``rootfs`` (mounted),
        ``netns`` (its namespace file), ``attach`` (its attach socket). Meaningful when
        nobody holds its start lock."""
        from dockyard.container.attach import socket_name

        found = []
        if os.path.isdir(os.path.join(self.paths.runtime_state, c.id)):
            found.append("runtime")
        if os.path.ismount(os.path.join(self.paths.container_dir(c.id), "rootfs")):
            found.append("rootfs")
        if os.path.exists(self.networks.netns_path(c.id)):
            found.append("netns")
        if os.path.lexists(os.path.join(self.paths.runroot, socket_name(c.id))):
            found.append("attach")
        # No cgroup check (milliseconds): the runtime makes its state directory before
        # the cgroup, and the collector sweeps cgroups on their own.
        return found

    def _cgroup_exists(self, c: Container) -> bool:
        from dockyard.runtime import cgroups

        try:
            paths = cgroups.load(self._cgroups_path(c)).paths.values()
        except (DockyardError, OSError):
            return False
        return any(os.path.isdir(p) for p in paths)

    def _monitor_alive(self, c: Container) -> bool:
        """Whether a monitor (or an attached ``run``) holds the container's start lock,
        which it keeps from start until the exit is recorded."""
        path = os.path.join(self.paths.runroot, f"{c.id}.lock")
        try:
            fd = os.open(path, os.O_RDWR)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False

    def _kill_and_reap(self, c: Container) -> None:
        from dockyard.runtime import get_runtime

        runtime = get_runtime(c.host_config.get("Runtime") or "dockyard", self.paths.runtime_state)
        with contextlib.suppress(DockyardError):
            runtime.kill(c.id, signal.SIGKILL, all=True)
        with contextlib.suppress(DockyardError):
            runtime.delete(c.id, force=True)


def _read_report(fd: int, mask: set[int | signal.Signals]) -> bytes:
    """Everything a monitor writes on ``fd`` (its start report) until it closes it; ``fd``
    is closed. The signal mask is set to ``mask`` first (letting through the signals
    :meth:`ContainerManager.start_detached` held back). A Ctrl-C (or a signal handler's
    SystemExit) meanwhile is raised once the report is in: the monitor starts the
    container whatever happens here, and the caller must not end before it is recorded
    running or not (a ``compose down`` run next found it still starting). A second one
    is raised at once."""
    chunks = []
    interrupted: BaseException | None = None
    try:
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        except (KeyboardInterrupt, SystemExit) as e:  # held back, handled on unblocking
            interrupted = e
        while True:
            try:
                data = os.read(fd, 65536)
            except (KeyboardInterrupt, SystemExit) as e:
                if interrupted is not None:
                    raise
                interrupted = e
                continue
            if not data:
                break
            chunks.append(data)
    finally:
        os.close(fd)
    if interrupted is not None:
        raise interrupted
    return b"".join(chunks)


def _readable(fd: int, timeout: float) -> bool:
    """Whether ``fd`` becomes readable within ``timeout`` seconds (a pidfd: its process
    exited)."""
    import select

    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(max(1, int(timeout * 1000))))


def _bind(source: str, destination: str) -> dict[str, Any]:
    """An OCI recursive bind mount."""
    return {
        "destination": destination,
        "type": "bind",
        "source": source,
        "options": ["rbind", "rprivate"],
    }


def _cpu_list(text: str) -> set[int] | None:
    """The numbers of a cpuset list (``0-2,4``); None when malformed."""
    out: set[int] = set()
    for part in text.split(","):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            return None
        first, last = int(lo), int(hi) if dash else int(lo)
        if last < first or last > 8191:
            return None
        out.update(range(first, last + 1))
    return out


def _list_text(numbers: list[int]) -> str:
    """Sorted numbers as a cpuset list (``[0, 1, 2, 5]`` -> ``0-2,5``), as the kernel
    prints ``cpuset.cpus``."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


def _online_nodes() -> str:
    """The host's memory nodes (``/sys/devices/system/node/online``, ``0`` without NUMA)."""
    try:
        with open("/sys/devices/system/node/online") as f:
            return f.read().strip() or "0"
    except OSError:
        return "0"


def _realtime_supported() -> bool:
    """Whether this host has real-time group scheduling (v1 ``cpu.rt_period_us``; cgroup
    v2 has none)."""
    from dockyard.runtime.cgroups import layout

    mount = layout.detect().v1.get("cpu")
    return mount is not None and os.path.exists(os.path.join(mount.point, "cpu.rt_period_us"))


def _blkio_weight_supported() -> bool:
    """Whether this host can set a block I/O weight (a weight-aware I/O scheduler: the
    v1 blkio controller's ``blkio.weight``/``blkio.bfq.weight``, v2's ``io`` weights)."""
    from dockyard.runtime.cgroups import layout

    found = layout.detect()
    if found.mode == "v1":
        mount = found.v1.get("blkio")
        return mount is not None and any(
            os.path.exists(os.path.join(mount.point, name))
            for name in ("blkio.weight", "blkio.bfq.weight")
        )
    return found.unified is not None and any(
        os.path.exists(os.path.join(found.unified.point, "sys", name))
        for name in ("io.weight", "io.bfq.weight")
    )


def _resource_options(hc: dict[str, Any]) -> CreateOptions:
    """The resource settings of a stored HostConfig as CreateOptions, to check them."""
    return CreateOptions(
        image="",
        memory=hc.get("Memory") or 0,
        memory_swap=hc.get("MemorySwap") or 0,
        cpus=(hc.get("NanoCpus") or 0) / 1e9,
        cpu_period=hc.get("CpuPeriod") or 0,
        cpu_quota=hc.get("CpuQuota") or 0,
        cpu_rt_period=hc.get("CpuRealtimePeriod") or 0,
        cpu_rt_runtime=hc.get("CpuRealtimeRuntime") or 0,
        cpuset_cpus=hc.get("CpusetCpus") or "",
        cpuset_mems=hc.get("CpusetMems") or "",
        blkio_weight=hc.get("BlkioWeight") or 0,
        memory_reservation=hc.get("MemoryReservation") or 0,
        network=hc.get("NetworkMode") or "bridge",
    )


def _check_resources(opts: CreateOptions) -> None:
    """dockerd's checks of the resource and kernel settings (daemon_unix.go
    verifyPlatformContainerResources/Settings), with its messages. Raises InvalidArgument."""
    if opts.memory and opts.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if opts.memory_swap > 0 and opts.memory and opts.memory_swap < opts.memory:
        raise InvalidArgument(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if opts.memory_swap > 0 and not opts.memory:
        raise InvalidArgument(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    ncpu = os.cpu_count() or 1
    if opts.cpus and not 0.01 <= opts.cpus <= ncpu:
        raise InvalidArgument(
            f"Range of CPUs is from 0.01 to {ncpu:.2f}, as there are only {ncpu} CPUs available"
        )
    if opts.memory_reservation and opts.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if opts.memory and opts.memory_reservation and opts.memory < opts.memory_reservation:
        raise InvalidArgument(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if opts.memory_swappiness is not None and not 0 <= opts.memory_swappiness <= 100:
        raise InvalidArgument(
            f"Invalid value: {opts.memory_swappiness}, valid memory swappiness range is 0-100"
        )
    if not -1000 <= opts.oom_score_adj <= 1000:
        raise InvalidArgument(
            f"Invalid value {opts.oom_score_adj}, range for oom score adj is [-1000, 1000]"
        )
    if opts.cpus and opts.cpu_period:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    if opts.cpus and opts.cpu_quota:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be set")
    if opts.cpu_period and not 1000 <= opts.cpu_period <= 1000000:
        raise InvalidArgument(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    if 0 < opts.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if opts.cpu_rt_period and opts.cpu_rt_runtime and opts.cpu_rt_runtime > opts.cpu_rt_period:
        raise InvalidArgument("cpu-rt-runtime cannot be higher than cpu-rt-period")
    if (opts.cpu_rt_period or opts.cpu_rt_runtime) and not _realtime_supported():
        # cgroup v2 has no real-time group scheduling (runc refuses it there too).
        raise InvalidArgument("Your kernel does not support CPU real-time scheduler")
    for value, available, what, kind in (
        (opts.cpuset_cpus, sorted(os.sched_getaffinity(0)), "CPUs", "cpus"),
        (opts.cpuset_mems, None, "memory nodes", "mems"),
    ):
        if not value:
            continue
        wanted = _cpu_list(value)
        if wanted is None:
            raise InvalidArgument(f"Invalid value {value} for cpuset {kind}")
        if available is None:
            online = _online_nodes()
            have = _cpu_list(online) or {0}
        else:
            have = set(available)
            online = _list_text(available)
        if not wanted <= have:
            raise InvalidArgument(
                f"Requested {what} are not available - requested {value}, available: {online}"
            )
    if opts.blkio_weight and not 10 <= opts.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    for wd in opts.weight_devices:
        if wd["Weight"] and not 10 <= wd["Weight"] <= 1000:
            raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    if opts.weight_devices and not _blkio_weight_supported():
        # dockerd warns and drops it; Dockyard refuses what it cannot honour.
        raise InvalidArgument(
            "Your kernel does not support Block I/O weight_device or the cgroup is not "
            "mounted (no weight-aware I/O scheduler): --blkio-weight-device cannot be honoured"
        )
    if opts.blkio_weight and not _blkio_weight_supported():
        # dockerd warns and drops the weight; Dockyard refuses what it cannot honour.
        raise InvalidArgument(
            "Your kernel does not support Block I/O weight or the cgroup is not mounted "
            "(no weight-aware I/O scheduler): --blkio-weight cannot be honoured"
        )
    if opts.shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    for rule in opts.device_cgroup_rules:
        _device_rule(rule)
    for key in opts.sysctls:
        _check_sysctl(key, opts)


# The IPC-namespaced sysctls besides fs.mqueue.* (runc's validator.sysctl).
_IPC_SYSCTLS = frozenset(
    ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
     "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced")
)  # fmt: skip


def _check_sysctl(key: str, opts: CreateOptions) -> None:
    """Refuse a sysctl the container has no namespace of its own for, as runc's
    validator does: written from inside, it would change the host's value (the CLI's
    --sysctl check does not cover API and Compose clients). Raises InvalidArgument."""
    if key in _IPC_SYSCTLS or key.startswith("fs.mqueue."):
        if opts.ipc_mode == "host":
            raise InvalidArgument(f'sysctl "{key}" is not allowed in the hosts ipc namespace')
        return
    if key.startswith("net."):
        if opts.network == "host":
            raise InvalidArgument(f'sysctl "{key}" not allowed in host network namespace')
        return
    if opts.uts_mode != "host":
        if key == "kernel.domainname":
            return
        if key == "kernel.hostname":
            raise InvalidArgument(
                f'sysctl "{key}" is not allowed as it conflicts with the OCI "hostname" field'
            )
    raise InvalidArgument(f'sysctl "{key}" is not in a separate kernel namespace')


def _device_rule(rule: str) -> dict[str, Any]:
    """A ``--device-cgroup-rule`` (``c 1:3 rwm``, ``a *:* m``) as an OCI device cgroup
    rule. Raises InvalidArgument (docker/cli's message)."""
    import re

    m = re.match(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})\Z", rule)
    if m is None:
        raise InvalidArgument(f"invalid device cgroup format '{rule}'")
    typ, major, minor, access = m.groups()
    return {
        "allow": True,
        "type": typ,
        "major": None if major == "*" else int(major),
        "minor": None if minor == "*" else int(minor),
        "access": access,
    }


def _devices(hc: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The OCI ``linux.devices`` and device cgroup rules of HostConfig.Devices and
    DeviceCgroupRules, as moby's oci.DevicesFromPath: a host device node (symlinks
    followed), or every device under a host directory. Raises RuntimeFailure with
    dockerd's ``error gathering device information ...`` message."""
    import stat

    devices: list[dict[str, Any]] = []
    rules = [
        {k: v for k, v in _device_rule(r).items() if v is not None}
        for r in hc.get("DeviceCgroupRules") or []
    ]

    def add(host: str, dest: str, perms: str, st: os.stat_result) -> None:
        typ = "c" if stat.S_ISCHR(st.st_mode) else "b"
        major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
        devices.append(
            {
                "path": dest,
                "type": typ,
                "major": major,
                "minor": minor,
                "fileMode": stat.S_IMODE(st.st_mode),
                "uid": st.st_uid,
                "gid": st.st_gid,
            }
        )
        rules.append({"allow": True, "type": typ, "major": major, "minor": minor, "access": perms})

    for mapping in hc.get("Devices") or []:
        host, dest = mapping["PathOnHost"], mapping["PathInContainer"]
        perms = mapping.get("CgroupPermissions") or "rwm"
        resolved = os.path.realpath(host)
        try:
            st = os.stat(resolved)
        except OSError as e:
            raise RuntimeFailure(
                f'error gathering device information while adding custom device "{host}": '
                f"{(e.strerror or str(e)).lower()}"
            ) from None
        if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
            add(host, dest, perms, st)
        elif stat.S_ISDIR(st.st_mode):
            for top, dirs, files in os.walk(resolved):
                dirs.sort()
                for name in sorted(files):
                    path = os.path.join(top, name)
                    sub = os.lstat(path)
                    if stat.S_ISCHR(sub.st_mode) or stat.S_ISBLK(sub.st_mode):
                        add(path, os.path.join(dest, os.path.relpath(path, resolved)), perms, sub)
        else:
            raise RuntimeFailure(
                f'error gathering device information while adding custom device "{host}": '
                "not a device node"
            )
    return devices, rules


def check_security_opts(values: list[str]) -> bool:
    """Check HostConfig.SecurityOpt ``values`` (``no-new-privileges[=bool]``,
    ``seccomp=unconfined|builtin|<profile JSON>``, ``apparmor=unconfined``,
    ``label=disable``); returns whether no-new-privileges is asked for. Raises
    InvalidArgument for anything else (a profile accepted and not applied would lie)."""
    no_new_privs = False
    for so in values:
        key, _, value = so.replace("=", ":", 1).partition(":")
        if key == "no-new-privileges":
            if value not in ("", "true", "false"):
                raise InvalidArgument(f"invalid --security-opt 2: {so!r}")
            no_new_privs = value != "false"
        elif key == "seccomp" and value.startswith("{"):
            # A profile's content (the client read the file, as Docker's CLI does).
            from dockyard.runtime.seccomp import parse_profile

            parse_profile(value, "--security-opt seccomp")
        elif (key, value) not in _ACCEPTED_SECURITY_OPTS:
            raise InvalidArgument(
                f'invalid --security-opt "{so}": Dockyard supports only '
                "no-new-privileges, seccomp=unconfined|builtin|PROFILE, "
                "apparmor=unconfined and label=disable"
            )
    return no_new_privs


def seccomp_profile(hc: dict[str, Any]) -> dict[str, Any] | None:
    """The Docker seccomp profile HostConfig ``hc`` asks for (see _seccomp_profile)."""
    return _seccomp_profile(hc)


def oci_resources(hc: dict[str, Any]) -> dict[str, Any]:
    """OCI ``linux.resources`` of HostConfig ``hc``'s resource fields (Memory,
    MemorySwap, NanoCpus, CpuShares, PidsLimit, CpuPeriod/Quota, cpusets, ...), checked
    as dockerd checks a container's (its messages). Raises InvalidArgument."""
    from dockyard.runtime import cgroups

    _check_resources(_resource_options(hc))
    resources = cgroups.resources_from_docker(
        memory=hc.get("Memory") or None,
        memory_swap=hc.get("MemorySwap") or None,
        cpus=(hc.get("NanoCpus") or 0) / 1e9 or None,
        cpu_shares=hc.get("CpuShares") or None,
        pids_limit=hc.get("PidsLimit") or None,
    )
    _more_resources(resources, hc, [])
    return resources


def _more_resources(
    resources: dict[str, Any], hc: dict[str, Any], device_rules: list[dict[str, Any]]
) -> None:
    """Add HostConfig's CPU bandwidth and real-time budget, cpusets, memory reservation,
    swappiness, OOM killer, block I/O weight and device rules to OCI ``resources``
    (runtime-spec config-linux.md "Control groups"), as moby's oci_linux.go does."""
    cpu = resources.setdefault("cpu", {})
    for key, field_name in (
        ("CpuPeriod", "period"),
        ("CpuQuota", "quota"),
        ("CpuRealtimePeriod", "realtimePeriod"),
        ("CpuRealtimeRuntime", "realtimeRuntime"),
        ("CpusetCpus", "cpus"),
        ("CpusetMems", "mems"),
    ):
        if hc.get(key):
            cpu[field_name] = hc[key]
    if not cpu:
        del resources["cpu"]
    memory = resources.setdefault("memory", {})
    if hc.get("MemoryReservation"):
        memory["reservation"] = hc["MemoryReservation"]
    if hc.get("MemorySwappiness") is not None:
        memory["swappiness"] = hc["MemorySwappiness"]
    if hc.get("OomKillDisable"):
        memory["disableOOMKiller"] = True
    if not memory:
        del resources["memory"]
    if hc.get("BlkioWeight"):
        resources["blockIO"] = {"weight": hc["BlkioWeight"]}
    for wd in hc.get("BlkioWeightDevice") or []:
        try:
            rdev = os.stat(wd["Path"]).st_rdev
        except OSError as e:
            raise RuntimeFailure(
                f"BlkioWeightDevice: stat {wd['Path']}: {(e.strerror or str(e)).lower()}"
            ) from None
        resources.setdefault("blockIO", {}).setdefault("weightDevice", []).append(
            {"major": os.major(rdev), "minor": os.minor(rdev), "weight": wd["Weight"]}
        )
    for key, field_name in (
        ("BlkioDeviceReadBps", "throttleReadBpsDevice"),
        ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
        ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
        ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice"),
    ):
        for throttle in hc.get(key) or []:
            # moby getBlkioThrottleDevices: the device's numbers, from the host's path.
            try:
                rdev = os.stat(throttle["Path"]).st_rdev
            except OSError as e:
                raise RuntimeFailure(
                    f"{key}: stat {throttle['Path']}: {(e.strerror or str(e)).lower()}"
                ) from None
            resources.setdefault("blockIO", {}).setdefault(field_name, []).append(
                {"major": os.major(rdev), "minor": os.minor(rdev), "rate": throttle["Rate"]}
            )
    if device_rules:
        resources["devices"] = device_rules


def _seccomp_profile(hc: dict[str, Any]) -> dict[str, Any] | None:
    """The Docker seccomp profile for HostConfig ``hc`` (moby daemon WithSeccomp): none
    with ``seccomp=unconfined``, or ``--privileged`` without an explicit profile; the
    given profile (``seccomp=<JSON>``); else Docker's default. Raises InvalidArgument."""
    from dockyard.runtime import seccomp

    given = ""
    for so in hc.get("SecurityOpt") or []:
        key, _, value = so.replace("=", ":", 1).partition(":")
        if key == "seccomp":
            given = value
    if given == "unconfined" or (hc.get("Privileged") and given in ("", "builtin")):
        return None
    if given.startswith("{"):
        return seccomp.parse_profile(given, "--security-opt seccomp")
    return seccomp.default_profile()


def _has_nul(value: Any) -> bool:
    """Whether a string in ``value`` (a string, or lists and dicts of them) holds a NUL."""
    if isinstance(value, str):
        return "\0" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return any(_has_nul(v) for v in value)
    return False


#: The kernel's limit for a host name (HOST_NAME_MAX, sethostname(2)), in bytes.
def legacy_link_env(
    name: str, address: str, env: list[str], exposed_ports: dict[str, Any]
) -> list[str]:
    """moby's links.Link.ToEnv: the variables of the legacy link ``name``
    (``/PARENT/ALIAS``) to a container at ``address`` with environment ``env`` and
    ``exposed_ports`` (``"80/tcp"`` keys): ``ALIAS_PORT`` (the first port),
    ``ALIAS_PORT_<n>_<PROTO>[_ADDR|_PORT|_PROTO]`` for each, ``_START``/``_END`` for runs
    of consecutive ports, ``ALIAS_NAME`` and ``ALIAS_ENV_<VAR>`` (not HOME or PATH)."""
    alias = name.rpartition("/")[2].upper().replace("-", "_")
    ports: list[tuple[int, str]] = []
    for key in exposed_ports:
        port, _, proto = key.partition("/")
        ports.append((int(port.partition("-")[0]), proto or "tcp"))
    # TCP first, then by number (moby's withTCPPriority).
    ports.sort(key=lambda p: (p[1] != "tcp", p[1] if p[1] != "tcp" else "", p[0]))
    out: list[str] = []
    start = end = ports[0] if ports else (0, "")
    for i, (number, proto) in enumerate(ports):
        if i == 0:
            out.append(f"{alias}_PORT={proto}://{address}:{number}")
        prefix = f"{alias}_PORT_{number}_{proto.upper()}"
        out += [
            f"{prefix}={proto}://{address}:{number}",
            f"{prefix}_ADDR={address}",
            f"{prefix}_PORT={number}",
            f"{prefix}_PROTO={proto}",
        ]
        if number == end[0] + 1 and proto == end[1]:
            end = (number, proto)
            if i < len(ports) - 1:
                continue
        if end != start:
            prefix = f"{alias}_PORT_{start[0]}_{start[1].upper()}"
            out += [
                f"{prefix}_START={start[1]}://{address}:{start[0]}",
                f"{prefix}_PORT_START={start[0]}",
                f"{prefix}_END={end[1]}://{address}:{end[0]}",
                f"{prefix}_PORT_END={end[0]}",
            ]
        start = end = (number, proto)
    out.append(f"{alias}_NAME={name}")
    for entry in env:
        key, sep, value = entry.partition("=")
        if sep and key not in ("HOME", "PATH"):
            out.append(f"{alias}_ENV_{key}={value}")
    return out


HOSTNAME_MAX = 64


def _check_name_fields(opts: CreateOptions) -> None:
    """Refuse at create what would break the container's /etc/hostname, /etc/hosts or
    resolv.conf, or its start: a line break in ``--hostname``, ``--dns``,
    ``--dns-search`` or ``--dns-option`` (each adds lines to those files; Docker's CLI
    refuses it in search domains only, and writes a broken /etc/hosts for a host name),
    and a host name longer than the kernel's 64 bytes (Docker fails only at start,
    printing all of it). Raises InvalidArgument with a short message.

    Beyond Docker: a NUL byte in any field (an API client can send ``\u0000``; no
    syscall takes it, so the container was made and failed at start with a Python
    message), and a line break in an ``--add-host`` name (a line of its own in
    /etc/hosts), are refused too."""
    from dockyard.errors import InvalidArgument

    for field_name, value in vars(opts).items():  # in the order of the fields
        if _has_nul(value):
            raise InvalidArgument(f"invalid {field_name}: NUL bytes are not allowed")
    name = opts.hostname or ""
    if len(name.encode()) > HOSTNAME_MAX:
        raise InvalidArgument(
            f'invalid hostname {json.dumps(name[:20])[:-1]}...": {len(name.encode())} bytes, '
            f"over the limit of {HOSTNAME_MAX}"
        )
    fields = [("hostname", [name]), ("--dns", opts.dns), ("--dns-search", opts.dns_search)]
    fields.append(("--dns-option", opts.dns_options))
    fields.append(("--add-host", opts.add_hosts))
    for what, values in fields:
        for value in values or []:
            if "\n" in value or "\r" in value:
                shown = value if len(value) <= 40 else value[:40] + "..."
                raise InvalidArgument(
                    f"invalid {what} {json.dumps(shown)}: line breaks are not allowed"
                )
