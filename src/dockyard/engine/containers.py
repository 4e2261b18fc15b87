"""The facade's container operations (Engine API v1.51, Container): they take the API's
parameters and return its objects (ContainerSummary, ContainerInspectResponse...).
"""

from __future__ import annotations

import contextlib

from dockyard.engine.base import EngineBase
from dockyard.errors import DockyardError, InvalidArgument, NotFound

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    from dockyard.container.store import Container
    from dockyard.engine.types import (
        ContainerCreateResponse,
        ContainerInspectResponse,
        ContainerPruneResponse,
        ContainerSummary,
        ContainerTopResponse,
        ContainerWaitResponse,
        Filters,
    )

#: The ``filters`` keys of ``GET /containers/json`` (moby daemon/list.go acceptedPsFilterTags).
LIST_FILTERS = (
    "ancestor",
    "before",
    "exited",
    "expose",
    "health",
    "id",
    "is-task",
    "isolation",
    "label",
    "name",
    "network",
    "publish",
    "since",
    "status",
    "volume",
)
_HEALTH = ("starting", "healthy", "unhealthy", "none")
_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_STATE_KEYS = (
    "Status",
    "Running",
    "Paused",
    "Restarting",
    "OOMKilled",
    "Dead",
    "Pid",
    "ExitCode",
    "Error",
    "StartedAt",
    "FinishedAt",
)


def seconds_since(timestamp: str) -> float:
    """Seconds elapsed since an RFC 3339 ``timestamp`` (nanoseconds allowed)."""
    import datetime

    # Python parses at most microseconds: drop the extra nanosecond digits.
    head, _, frac = timestamp.rstrip("Z").partition(".")
    then = datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    return (datetime.datetime.now(datetime.UTC) - then).total_seconds()


def status_text(state: dict[str, Any]) -> str:
    """The daemon's one-line status of a container State (moby container.State.String):
    ``Up 3 seconds (Paused)``, ``Exited (0) 2 minutes ago``, ``Created``..."""
    from dockyard.humanize import human_duration

    def since(key: str) -> str:
        return human_duration(seconds_since(state[key]))

    health = (state.get("Health") or {}).get("Status")
    if state.get("Restarting"):
        return f"Restarting ({state['ExitCode']}) {since('FinishedAt')} ago"
    if state["Running"]:
        text = f"Up {since('StartedAt')}"
        if state.get("Paused"):
            return text + " (Paused)"
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return text + f" ({health})"
        return text
    if state["Status"] == "exited":
        return f"Exited ({state['ExitCode']}) {since('FinishedAt')} ago"
    return str(state["Status"]).capitalize()


def _host_config(c: Container) -> dict[str, Any]:
    """Docker's HostConfig: every key ``docker inspect`` always shows, in its order, with
    the container's values (Dockyard's own extra keys last)."""
    out: dict[str, Any] = {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "bridge",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "ConsoleSize": [0, 0],
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "host",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Runtime": "dockyard",
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": None,
        "Ulimits": None,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
    }
    out.update(c.host_config)
    if out.get("Init") is None:
        # A nil *bool with omitempty: Docker shows Init only when --init was given.
        out.pop("Init", None)
    return out


def _config(c: Container) -> dict[str, Any]:
    """Docker's Config: StopSignal, StopTimeout and Healthcheck only when set (omitempty)."""
    cfg = dict(c.config)
    for key in ("StopSignal", "StopTimeout", "Healthcheck"):
        if cfg.get(key) is None:
            cfg.pop(key, None)
    return cfg


def _command(c: Container) -> list[str]:
    return (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])


class ContainerOperations(EngineBase):
    """Containers (Engine API: Container)."""

    def _container(self, ref: str) -> Container:
        """The container ``ref`` (name, ID or ID prefix) as it really is (a lost exit
        recorded). Raises NotFound ``No such container: <ref>``."""
        return self.containers.reconcile(self.container_store.get(ref))

    # -- GET /containers/json -----------------------------------------------------------

    def container_list(
        self,
        all: bool = False,
        limit: int = -1,
        size: bool = False,
        filters: Filters | None = None,
    ) -> list[ContainerSummary]:
        """``GET /containers/json``: containers newest first, running ones only unless
        ``all`` (a ``limit`` > 0, the newest ``limit`` of every state, or a ``status``
        filter imply it); ``size`` adds SizeRw/SizeRootFs (bytes). ``filters`` as
        :data:`LIST_FILTERS`: values of one key are alternatives, keys all apply (every
        ``label`` value applies).

        Raises InvalidArgument for an unknown filter or value (Docker's messages),
        NotFound for a ``before``/``since`` container that does not exist.
        """
        filters = filters or {}
        every = found = self._list_reconciled()
        if not (all or limit > 0 or "status" in filters):
            found = [c for c in found if c.state["Running"]]
        if filters:
            found = self._select(found, filters)
        if limit > 0:
            found = found[:limit]
        out = [self._container_summary(c, size) for c in found]
        # A container linked to (legacy --link) is also named /PARENT/ALIAS, as moby's
        # name index answers; the links are stored as /<linked>:/<parent>/<alias>.
        linked: dict[str, list[str]] = {}
        for c in every:
            for link in c.host_config.get("Links") or []:
                target, _, name = link.partition(":")
                linked.setdefault(target.lstrip("/"), []).append(name)
        for summary, c in zip(out, found, strict=True):
            summary["Names"] += linked.get(c.name, [])
        return out

    def _list_reconciled(self) -> list[Container]:
        """Every container newest first, as the container manager's ``reconcile`` sees
        it; one removed meanwhile is left out. Only a container recorded running can
        need reconciling, so the manager (a tenth of a bare ``ps``'s CPU to import) is
        loaded only when there is one (``ContainerManager.list_reconciled``)."""
        found = []
        for c in self.container_store.list():
            if c.state["Running"]:
                try:
                    c = self.containers.reconcile(c)
                except NotFound:
                    continue
            found.append(c)
        return found

    def _select(self, containers: list[Container], filters: Filters) -> list[Container]:
        """The containers ``filters`` keep (moby daemon/list.go)."""
        import re

        from dockyard.container.operations import label_matches
        from dockyard.network.ports import port_filter

        for key, values in filters.items():
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
            for v in values:
                if key == "status" and v not in _STATUSES:
                    raise InvalidArgument(f"invalid filter 'status={v}'")
                if key == "exited" and not v.lstrip("-").isdigit():
                    raise InvalidArgument(f"invalid filter 'exited={v}'")
        for v in filters.get("health", []):
            if v not in _HEALTH:
                raise InvalidArgument(f"Unrecognised filter value for health: {v}")
        # before/since name containers; their creation times bound the list.
        before = [self.container_store.get(v).created for v in filters.get("before", [])]
        since = [self.container_store.get(v).created for v in filters.get("since", [])]
        published = port_filter("publish", filters.get("publish", []))
        exposed = port_filter("expose", filters.get("expose", []))
        ancestors: set[str] = set()
        for v in filters.get("ancestor", []):
            ancestors.add(v)
            try:
                ancestors.add(self.images.resolve(v).id)
            except NotFound:
                pass

        def keep(c: Container) -> bool:
            labels = c.config.get("Labels") or {}
            tests = {
                "name": lambda v: re.search(v, "/" + c.name) is not None,
                "id": lambda v: re.search(v, c.id) is not None,
                "status": lambda v: v == c.state["Status"],
                "exited": lambda v: c.state["Status"] == "exited" and int(v) == c.state["ExitCode"],
                "ancestor": lambda v: c.image_id in ancestors or c.config.get("Image") in ancestors,
                "network": lambda v: any(
                    v == net.name or net.id.startswith(v)
                    for net in self.networks.container_networks(c)
                ),
                "health": lambda v: v == ((c.state.get("Health") or {}).get("Status") or "none"),
                "isolation": lambda v: v in ("", "default"),
                "is-task": lambda v: v == "false",
                # A volume's name (a bind's source) or a mount's destination, as Docker's.
                "volume": lambda v: any(
                    v in (m.get("Name") or m["Source"], m["Destination"])
                    for m in self.volumes.container_mounts(c.id)
                ),
                # Any of the ports given (all values of the key, as Docker's one set).
                "publish": lambda v: bool(published & set(c.host_config.get("PortBindings") or {})),
                "expose": lambda v: bool(exposed & set(c.config.get("ExposedPorts") or {})),
            }
            if any(c.created >= t for t in before) or any(c.created <= t for t in since):
                return False
            for key, values in filters.items():
                if key in ("before", "since"):
                    continue
                if key == "label":
                    if not all(label_matches(labels, v) for v in values):
                        return False
                elif not any(tests[key](v) for v in values):
                    return False
            return True

        try:
            return [c for c in containers if keep(c)]
        except re.error as e:
            raise InvalidArgument(f"invalid filter: {e}") from None

    def _container_summary(self, c: Container, size: bool) -> ContainerSummary:
        from dockyard.container.operations import created_time
        from dockyard.network.ports import PortStore, api_ports

        settings = self.networks.container_settings(c)
        out: ContainerSummary = {
            "Id": c.id,
            "Names": ["/" + c.name],
            "Image": c.config.get("Image", ""),
            "ImageID": c.image_id,
            "Command": " ".join(_command(c)),
            "Created": int(created_time(c)),
            "Ports": api_ports(PortStore(self.db).ports(c)),  # type: ignore[typeddict-item]
        }
        if size:
            out["SizeRw"], out["SizeRootFs"] = self._sizes(c)
        out.update(
            {
                "Labels": c.config.get("Labels") or {},
                "State": c.state["Status"],
                "Status": status_text(c.state),
                "HostConfig": {"NetworkMode": c.host_config.get("NetworkMode") or "bridge"},
                "NetworkSettings": {"Networks": settings["Networks"]},
                "Mounts": self.volumes.inspect_mounts(c.id),
            }
        )
        return out

    def _sizes(self, c: Container) -> tuple[int, int]:
        """(SizeRw, SizeRootFs) of ``c`` in bytes: its writable layer, and that plus its
        image's layers."""
        from dockyard.container.operations import container_size

        rw = container_size(self.containers, c)
        try:
            image_size = int(self.images.get(c.image_id).size)
        except NotFound:
            image_size = 0
        return rw, rw + image_size

    # -- GET /containers/{id}/json ------------------------------------------------------

    def container_inspect(self, id: str, size: bool = False) -> ContainerInspectResponse:
        """``GET /containers/{id}/json`` of the container ``id`` (name, ID or ID prefix);
        ``size`` adds SizeRw and SizeRootFs (bytes). Raises NotFound."""
        import os

        from dockyard.container.logs import log_path
        from dockyard.network.ports import PortStore

        c = self._container(id)
        cdir = self.paths.container_dir(c.id)
        image = self.images.get(c.image_id)
        args = _command(c)
        layers = [self.layers.path(d) for d in reversed(image.diff_ids)]
        state = {k: c.state[k] for k in _STATE_KEYS if k in c.state}
        if c.config.get("Healthcheck") and "Health" in c.state:
            state["Health"] = c.state["Health"]
        # The json-file log once the container's monitor made it, else "" (as Docker).
        log = log_path(cdir, c.id)
        obj: ContainerInspectResponse = {
            "Id": c.id,
            "Created": c.created,
            "Path": args[0] if args else "",
            "Args": args[1:],
            "State": state,
            "Image": c.image_id,
            "ResolvConfPath": f"{cdir}/resolv.conf",
            "HostnamePath": f"{cdir}/hostname",
            "HostsPath": f"{cdir}/hosts",
            "LogPath": log if os.path.exists(log) else "",
            "Name": "/" + c.name,
            "RestartCount": c.state.get("RestartCount", 0),
            "Driver": "overlay",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": None,
            "HostConfig": _host_config(c),
            "GraphDriver": {
                "Name": "overlay",
                "Data": {
                    "LowerDir": ":".join(layers),
                    "UpperDir": f"{cdir}/upper",
                    "WorkDir": f"{cdir}/work",
                    "MergedDir": f"{cdir}/rootfs",
                },
            },
        }
        if size:
            obj["SizeRw"], obj["SizeRootFs"] = self._sizes(c)
        obj["Mounts"] = self.volumes.inspect_mounts(c.id)
        obj["Config"] = _config(c)
        settings = self.networks.container_settings(c)
        settings["Ports"] = PortStore(self.db).ports(c)
        obj["NetworkSettings"] = settings
        return obj

    # -- lifecycle ----------------------------------------------------------------------

    def container_create(
        self,
        config: dict[str, Any],
        host_config: dict[str, Any] | None = None,
        networking_config: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        keep_lock: bool = False,
    ) -> ContainerCreateResponse:
        """``POST /containers/create``: a container from ``config`` (the API's
        ContainerConfig), ``host_config`` (HostConfig) and ``networking_config``
        (NetworkingConfig: the first network is HostConfig.NetworkMode, later ones are
        attached in order), named ``name`` (a random name if None). The image's config
        fills what the request leaves out, as the daemon merges it. ``keep_lock``
        (in-process only: ``run``) keeps the container's start lock held by this process
        for the :meth:`container_start` or :meth:`container_run_attached` that follows,
        so no one (the garbage collector) takes it for an abandoned create.

        Raises NotFound (``No such image: <ref>``, a network or ``--volumes-from``
        container), InvalidArgument (a bad or unsupported field; see
        :mod:`dockyard.engine.create`), Conflict (the name is taken).
        """
        from dockyard.engine.create import create_options

        opts = create_options(config, host_config, networking_config, name)
        c = self.containers.create(opts, keep_lock=keep_lock)
        return {"Id": c.id, "Warnings": []}

    def container_start(self, id: str) -> None:
        """``POST /containers/{id}/start``: start the container in the background under
        its monitor and return once its process runs. Raises NotFound, NotModified (it
        runs already), RuntimeFailure (it cannot start: 400 for a command that cannot be
        found or invoked)."""
        import fcntl
        import os

        from dockyard.errors import NotModified

        c = self._container(id)
        # Two starts at once (two API requests): the second waits for the first and
        # then finds the container running, instead of queueing a second run behind it.
        os.makedirs(self.paths.runroot, mode=0o700, exist_ok=True)
        fd = os.open(
            os.path.join(self.paths.runroot, f"{c.id}.starting"), os.O_CREAT | os.O_RDWR, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            c = self._container(c.id)
            if c.state["Running"]:
                raise NotModified(f"container {c.id} is already running")
            self.containers.start_detached(c)
        finally:
            os.close(fd)

    def container_run_attached(
        self, id: str, detach_keys: str | None = None, sig_proxy: bool = True
    ) -> int:
        """Start the container with this process's stdio and wait for it (``run``
        without ``-d``, ``start -a``; in-process only: over the API a client attaches,
        then starts). Returns Docker's exit status, or 0 when ``detach_keys`` (Docker's
        ``ctrl-p,ctrl-q`` syntax, that default when None) ended a tty session and the
        container runs on (docker/cli's ``run`` and ``start -a`` print nothing then).

        A run that can outlive this process (a tty with stdin attached, which the detach
        keys may leave; ``sig_proxy`` false) starts the container under its monitor and
        attaches to it; any other is run by this process itself, its monitor (signals
        forwarded). Raises NotFound, InvalidArgument (bad detach keys), RuntimeFailure."""
        c = self.container_store.get(id)
        config = c.config
        if config.get("Tty"):
            monitored = bool(config.get("OpenStdin") and config.get("AttachStdin", True))
        else:
            monitored = not sig_proxy
        if detach_keys or monitored:
            # Not imported by the other runs (start-up time).
            from dockyard.container.attach import parse_detach_keys, run_monitored

            parse_detach_keys(detach_keys or "ctrl-p,ctrl-q")
        self.containers.event(c, "attach")  # as dockerd's: the client attaches, then starts
        if monitored:
            return run_monitored(self.containers, c, sig_proxy, detach_keys)
        return self.containers.run_attached(c)

    def container_attach(
        self,
        id: str,
        stdin: bool = True,
        sig_proxy: bool = True,
        detach_keys: str | None = None,
    ) -> int | None:
        """Attach this process's stdio to the running container ``id`` (``attach``,
        ``start -a`` of a running container; in-process, as
        :meth:`container_run_attached`): its output from now on, this process's stdin
        with ``stdin``, signals forwarded with ``sig_proxy`` (not for a tty),
        ``detach_keys`` as Docker's (default Ctrl-P Ctrl-Q). Returns the container's exit
        status, or None when the detach keys ended the session (docker/cli's ``attach``
        says ``read escape sequence`` and exits 1, ``start -a`` exits 0). Raises
        NotFound, Conflict (not running), InvalidArgument (bad detach keys)."""
        from dockyard.container.attach import attach

        c = self.container_store.get(id)
        state = c.state  # attach() refuses the others, which are no attach
        if state.get("Running") and not (state.get("Paused") or state.get("Restarting")):
            self.containers.event(c, "attach")
        return attach(
            self.containers, id, stdin=stdin, sig_proxy=sig_proxy, detach_keys=detach_keys
        )

    def container_stop(self, id: str, signal: str | None = None, t: int | None = None) -> None:
        """``POST /containers/{id}/stop``: send ``signal`` (default: the container's
        stop signal, else SIGTERM), wait ``t`` seconds (default: its stop timeout, else
        10; negative: forever), then SIGKILL. Raises NotFound, NotModified (not running),
        InvalidArgument (a bad signal)."""
        from dockyard.container import operations
        from dockyard.errors import NotModified
        from dockyard.sysignal import parse_signal

        sig = parse_signal(signal) if signal else None
        c = self._container(id)
        if not c.state["Running"]:
            raise NotModified(f"container {c.id} is not running")
        operations.stop(self.containers, c.id, timeout=t, sig=sig)

    def container_restart(self, id: str, signal: str | None = None, t: int | None = None) -> None:
        """``POST /containers/{id}/restart``: stop (as :meth:`container_stop`, if
        running), then start. Raises NotFound, InvalidArgument, RuntimeFailure."""
        from dockyard.container import operations
        from dockyard.sysignal import parse_signal

        sig = parse_signal(signal) if signal else None
        operations.restart(self.containers, id, timeout=t, sig=sig)

    def container_kill(self, id: str, signal: str = "SIGKILL") -> None:
        """``POST /containers/{id}/kill``: send ``signal`` (a name, with or without
        ``SIG``, or a number) to its PID 1. Raises NotFound, InvalidArgument (a bad
        signal), Conflict (``container <id> is not running``)."""
        import signal as signals

        from dockyard.sysignal import parse_signal

        sig = parse_signal(signal)
        c = self.containers.kill(id, sig)
        if sig == signals.SIGKILL:
            # As dockerd's Kill: SIGKILL returns once the container has stopped (or 10 s).
            with contextlib.suppress(DockyardError):
                self.containers.wait(c.id, timeout=10)

    def container_wait(
        self,
        id: str,
        condition: str = "not-running",
        alive: Callable[[], bool] | None = None,
    ) -> ContainerWaitResponse:
        """``POST /containers/{id}/wait``: block until the container is not running
        (``not-running``), until its next exit (``next-exit``: it is started first if it
        is not running yet) or until it is removed (``removed``), and return its exit
        code. ``alive()`` is checked between looks: once false (a streaming front end's
        client left) the wait ends with DockyardError. Raises NotFound, InvalidArgument
        (another condition)."""
        import time

        def check() -> None:
            if alive is not None and not alive():
                raise DockyardError("wait abandoned: the client has gone")

        if condition not in ("not-running", "next-exit", "removed", ""):
            raise InvalidArgument(f"invalid condition: {condition!r}")
        c = self.container_store.get(id)
        if condition in ("next-exit", "removed") and not c.state["Running"]:
            # Wait for the start (a client that attached before starting: docker run), or
            # with "removed" for the removal of a container that does not start again.
            started = c.state.get("StartedAt")
            while True:
                try:
                    current = self.container_store.get(c.id)
                except NotFound:
                    if condition != "removed":
                        raise
                    # Started, ended and removed between two looks (run --rm).
                    code = self.containers.removed_exit_code(c.id)
                    return {"StatusCode": code if code is not None else 0, "Error": None}
                if current.state["Running"] or current.state.get("StartedAt") != started:
                    break
                check()
                time.sleep(0.02)
        while True:
            try:
                code = self.containers.wait(c.id, timeout=None if alive is None else 0.5)
                break
            except NotFound:
                raise
            except DockyardError:  # the half-second look timed out
                check()
        if condition == "removed":
            while True:
                try:
                    self.container_store.get(c.id)
                except NotFound:
                    break
                check()
                time.sleep(0.02)
        return {"StatusCode": code, "Error": None}

    def container_delete(
        self, id: str, force: bool = False, v: bool = False, link: bool = False
    ) -> None:
        """``DELETE /containers/{id}``: remove the container; a running one only with
        ``force`` (killed first); ``v`` also removes the anonymous volumes only it used;
        ``link``: ``id`` is a link name (``/PARENT/ALIAS``), removed from its parent
        instead. Raises NotFound, Conflict (running), with Docker's messages."""
        if link:
            self.containers.remove_link(id)
            return
        self.containers.remove(id, force=force, volumes=v)

    def container_rename(self, id: str, name: str) -> None:
        """``POST /containers/{id}/rename``. Raises NotFound, InvalidArgument (an
        invalid name, or its current one), Conflict (the name is taken)."""
        from dockyard.container import operations

        operations.rename(self.containers, id, name)

    def container_update(self, id: str, update: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update`` (Engine API UpdateConfig: Resources fields at
        the top level and RestartPolicy): the new limits are stored and, when the container
        is running, written to its cgroup; the restart policy counts from the next exit.
        Returns ``{"Warnings": [...]}``. Raises NotFound, InvalidArgument (a bad value, or a
        field ``docker update`` cannot change in Dockyard), Conflict (moby's conflicting
        updates), RuntimeFailure (the kernel refused a limit: nothing changed)."""
        from dockyard.engine.create import update_request

        resources, restart_policy = update_request(update)
        self.containers.update(id, resources, restart_policy)
        return {"Warnings": []}

    def container_prune(self, filters: Filters | None = None) -> ContainerPruneResponse:
        """``POST /containers/prune``: remove every container that is not running and
        matches ``filters`` (``until``, ``label``, ``label!``). Returns the IDs removed
        and the bytes reclaimed. Raises InvalidArgument for another filter."""
        from dockyard.container import operations
        from dockyard.engine.events import prune_event

        removed = operations.prune(self.containers, filters or {})
        prune_event(self.paths.root, "container", sum(size for _, size in removed))
        return {
            "ContainersDeleted": [cid for cid, _ in removed] or None,
            "SpaceReclaimed": sum(size for _, size in removed),
        }

    def container_pause(self, id: str) -> None:
        """``POST /containers/{id}/pause``: freeze its processes. Raises NotFound,
        Conflict (not running, or paused already)."""
        from dockyard.container.exec import pause

        pause(self.containers, id)

    def container_unpause(self, id: str) -> None:
        """``POST /containers/{id}/unpause``. Raises NotFound, Conflict (not paused)."""
        from dockyard.container.exec import unpause

        unpause(self.containers, id)

    def container_top(self, id: str, ps_args: str = "-ef") -> ContainerTopResponse:
        """``GET /containers/{id}/top``: ``ps`` run on the host over the container's
        processes, ``ps_args`` split on spaces. Raises NotFound, Conflict (not running),
        InvalidArgument (ps failed)."""
        from dockyard.container.exec import top

        titles, rows = top(self.containers, id, ps_args.split())
        return {"Titles": titles, "Processes": rows}

    def container_logs(
        self,
        id: str,
        follow: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        since: int = 0,
        until: int = 0,
        timestamps: bool = False,
        tail: str = "all",
        alive: Callable[[], bool] | None = None,
    ) -> Iterator[tuple[str, bytes]]:
        """``GET /containers/{id}/logs``: the container's output from its json-file log
        as ``(stream, data)`` pairs, ``stream`` ``"stdout"`` or ``"stderr"``; ``data``
        is one line (with its newline), prefixed with its RFC 3339 nano time and a space
        when ``timestamps``. ``since``/``until`` are Unix times in nanoseconds (0: no
        bound); ``tail`` a number of lines from the end or ``all``; ``follow`` keeps
        reading while the container runs (and ``alive()``, checked between reads, is
        true: a streaming front end stops when its client leaves). Raises NotFound
        (before the first pair)."""
        from dockyard.container.logs import format_time, log_path, read_log

        c = self.container_store.get(id)
        if (c.host_config.get("LogConfig") or {}).get("Type") == "none":
            raise DockyardError("configured logging driver does not support reading")
        # Docker reads a tail that is not a number as "all".
        lines = int(tail) if str(tail).lstrip("-").isdigit() else -1

        def running() -> bool:
            try:
                return bool(self._container(c.id).state["Running"])
            except NotFound:
                return False

        wanted = {"stdout"} if stdout else set()
        if stderr:
            wanted.add("stderr")
        entries = read_log(
            log_path(self.paths.container_dir(c.id), c.id),
            tail=lines,
            since=since,
            until=until,
            follow=(lambda: running() and (alive is None or alive())) if follow else None,
            starting=running,
        )

        def generate() -> Iterator[tuple[str, bytes]]:
            try:
                for entry in entries:
                    if entry.stream not in wanted:
                        continue
                    data = entry.log
                    if timestamps:
                        data = format_time(entry.time, fixed=True).encode() + b" " + data
                    yield entry.stream, data
            except NotFound:  # removed while following
                return

        return generate()
