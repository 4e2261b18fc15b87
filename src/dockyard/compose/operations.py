"""Running a Compose project through the Engine facade: ``up``, ``down``, ``start``,
``stop``, ``run``, ``exec``, ``logs``... as Docker Compose v2 does them (docker/compose
``pkg/compose``), with its progress lines on stderr (`` Container p-web-1  Started``).

Containers belong to the project by their ``com.docker.compose.project`` label, to a
service by ``com.docker.compose.service``; a container whose ``config-hash`` label still
matches its service is left alone by ``up`` (a second ``up`` is a no-op).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import IO, TYPE_CHECKING, Any

from dockyard.compose import convert
from dockyard.compose.errors import ComposeError
from dockyard.compose.loader import Project, dependency_order, parse_bytes, service_references
from dockyard.errors import Conflict, NotFound, NotModified

if TYPE_CHECKING:
    from dockyard.engine import Engine

Summary = dict[str, Any]
#: The label Docker 23+ (and Dockyard) put on the anonymous volumes they create.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"


class Runner:
    """The operations of ``project`` on ``engine`` (a :class:`dockyard.engine.Engine`);
    progress lines go to ``out`` (stderr)."""

    def __init__(self, engine: Engine, project: Project, out: IO[str] | None = None) -> None:
        self.engine = engine
        self.project = project
        self.out = out or sys.stderr

    # -- helpers ---------------------------------------------------------------------------

    def event(self, kind: str, name: str, text: str) -> None:
        """One progress line, as Compose's plain progress output. Written in one call:
        stderr writes through, and print's separate newline let lines of parallel
        workers interleave."""
        self.out.write(f" {kind} {name}  {text}\n")
        self.out.flush()

    def containers(
        self, services: list[str] | None = None, oneoff: bool | None = False, all: bool = True
    ) -> list[Summary]:
        """The project's containers (``services`` only, if given), oldest first; by
        ``oneoff`` (``run`` containers: True; None: both)."""
        labels = [f"{convert.PROJECT_LABEL}={self.project.name}"]
        if oneoff is not None:
            labels.append(f"{convert.ONEOFF_LABEL}={'True' if oneoff else 'False'}")
        found: list[Summary] = [
            dict(c) for c in self.engine.container_list(all=all, filters={"label": labels})
        ]
        if services:
            found = [c for c in found if c["Labels"].get(convert.SERVICE_LABEL) in services]
        return sorted(found, key=lambda c: (c["Created"], c["Names"][0]))

    @staticmethod
    def name_of(c: Summary) -> str:
        return str(c["Names"][0].lstrip("/"))

    def with_dependencies(self, services: list[str]) -> list[str]:
        """``services`` and every service they depend on, in dependency order."""
        wanted: set[str] = set()
        todo = list(services)
        while todo:
            s = todo.pop()
            if s in wanted:
                continue
            wanted.add(s)
            svc = self.project.services[s]
            todo.extend(d for d in (svc.get("depends_on") or {}) if d in self.project.services)
            todo.extend(service_references(svc))
        return [s for s in dependency_order(self.project.services) if s in wanted]

    def selected(self, services: list[str] | None) -> list[str]:
        """``services`` (all of the project's when empty), checked, in dependency order."""
        for s in services or []:
            if s not in self.project.services:
                raise ComposeError(f"no such service: {s}")
        order = dependency_order(self.project.services)
        return [s for s in order if not services or s in services]

    def in_dependency_order(
        self,
        services: list[str],
        work: Callable[[Runner, str], list[str]],
        reverse: bool = False,
    ) -> list[str]:
        """Run ``work(runner, service)`` for each of ``services``: each once the services
        it depends on (with ``reverse``: those depending on it) among ``services`` are
        done, independent ones at the same time (docker/compose ``InDependencyOrder``,
        ``InReverseDependencyOrder``), at most ``COMPOSE_PARALLEL_LIMIT`` at once.

        Each runs in a child process with an engine of its own: starting a container
        forks its monitor, which a threaded process cannot do safely. One service, or a
        process that has threads already, runs them one after another here. Returns the
        names ``work`` returned, in ``services``' order (``services`` come in dependency
        order). After a failure no other service begins; the first failure is raised
        once the running ones have ended."""
        import os
        import selectors

        if len(services) < 2 or threading.active_count() > 1:
            out = []
            for s in reversed(services) if reverse else services:
                out.extend(work(self, s))
            return out
        everything = {**self.project.disabled, **self.project.services}
        waits: dict[str, set[str]] = {s: set() for s in services}
        for s in services:
            svc = everything.get(s) or {}
            for d in [*(svc.get("depends_on") or {}), *service_references(svc)]:
                if d in waits and d != s:
                    if reverse:
                        waits[d].add(s)
                    else:
                        waits[s].add(d)
        limit = _parallel_limit()
        pending = list(services)
        running: dict[int, tuple[str, int]] = {}  # a child's pipe -> (service, pid)
        chunks: dict[int, list[bytes]] = {}
        results: dict[str, list[str]] = {}
        failure: BaseException | None = None

        # Forward order creates and starts; reverse order stops and removes.
        self.engine.import_container_modules(start=not reverse)
        # Not inherited by the children: SQLite's per-process lock bookkeeping copied
        # into them made their connections (and their monitors') take no locks, so this
        # process, exiting first on Ctrl-C, deleted the WAL their last writes went to.
        reopen = self.engine.close_state()
        try:
            with selectors.DefaultSelector() as sel:
                while pending or running:
                    if failure is None:
                        # No Ctrl-C between a fork and the child's registration.
                        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
                        try:
                            for s in list(pending):
                                if limit and len(running) >= limit:
                                    break
                                if waits[s] <= set(results):
                                    rfd, pid = self._fork(s, work, mask)
                                    running[rfd] = (s, pid)
                                    chunks[rfd] = []
                                    sel.register(rfd, selectors.EVENT_READ)
                                    pending.remove(s)
                        finally:
                            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
                    if not running:
                        break
                    for key, _ in sel.select():
                        rfd = int(key.fd)
                        data = os.read(rfd, 65536)
                        if data:
                            chunks[rfd].append(data)
                            continue
                        sel.unregister(rfd)
                        os.close(rfd)
                        s, pid = running.pop(rfd)
                        _, status = os.waitpid(pid, 0)
                        ok, value = _result(b"".join(chunks.pop(rfd)), s, status)
                        if ok:
                            results[s] = value
                        elif failure is None:
                            failure = value
        except KeyboardInterrupt:
            _interrupt(running)
            raise
        finally:
            if reopen:
                self.engine.reopen_state()
        if failure is not None:
            raise failure
        if pending:  # a cycle the loader would have refused
            raise ComposeError(f"dependency cycle detected among {', '.join(pending)}")
        return [n for s in services for n in results.get(s, [])]

    def each_container(
        self, containers: list[Summary], action: Callable[[Runner, Summary], None]
    ) -> None:
        """``action(runner, c)`` for each of a service's ``containers`` (stopping or
        removing them) at the same time, as Compose's ``stopContainers`` and
        ``removeContainers``: a service of four replicas with a 10 s grace period stops
        in 10 s, not 40. In children as :meth:`in_dependency_order` runs services."""
        by_id = {str(c["Id"]): c for c in containers}

        def work(runner: Runner, cid: str) -> list[str]:
            action(runner, by_id[cid])
            return []

        self.in_dependency_order(list(by_id), work, reverse=True)

    def _fork(
        self,
        service: str,
        work: Callable[[Runner, str], list[str]],
        mask: set[int | signal.Signals],
    ) -> tuple[int, int]:
        """``work(runner, service)`` in a child process, with an engine of its own; its
        pickled outcome (``(True, names)`` or ``(False, exception)``) written to a pipe.
        Called with SIGINT blocked; ``mask`` is the signal mask the child restores once
        it takes one SIGINT only (a Ctrl-C reaches it from the terminal and again from
        this process: a second one would cut its unwinding short). Returns ``(read end,
        pid)``."""
        import os
        import pickle

        from dockyard.engine import Engine

        rfd, wfd = os.pipe()
        # What is buffered now would be written by the child too.
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            os.close(wfd)
            return rfd, pid
        try:  # the child: never returns
            os.close(rfd)
            signal.signal(signal.SIGINT, _interrupted_once)
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
            try:
                outcome: tuple[bool, Any] = (
                    True,
                    work(Runner(Engine(self.engine.paths), self.project, self.out), service),
                )
            except BaseException as e:  # handed to the parent, which raises it
                outcome = (False, e)
            try:
                data = pickle.dumps(outcome)
                pickle.loads(data)  # an exception whose arguments do not round-trip
            except Exception:
                data = pickle.dumps((False, ComposeError(str(outcome[1]))))
            view = memoryview(data)
            while view:
                view = view[os.write(wfd, view) :]
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(0)

    # -- networks and volumes --------------------------------------------------------------

    def ensure_networks(self, services: list[str]) -> None:
        used = {n for s in services for n in (self.project.services[s].get("networks") or {})}
        for key, net in self.project.networks.items():
            if key not in used:
                continue
            name = net["name"]
            try:
                self.engine.network_inspect(name)
                continue
            except NotFound:
                if net.get("external"):
                    raise ComposeError(
                        f"network {name} declared as external, but could not be found"
                    ) from None
            keys = {
                "subnet": "Subnet",
                "ip_range": "IPRange",
                "gateway": "Gateway",
                "aux_addresses": "AuxiliaryAddresses",
            }
            ipam_configs = [
                {keys[k]: v for k, v in cfg.items()}
                for cfg in (net.get("ipam") or {}).get("config") or []
            ]
            request = {
                "Name": name,
                "Driver": net.get("driver") or "bridge",
                "Options": {k: str(v) for k, v in (net.get("driver_opts") or {}).items()},
                "Internal": bool(net.get("internal")),
                "Labels": {
                    **{k: str(v) for k, v in _mapping(net.get("labels")).items()},
                    **convert.project_labels(self.project),
                    convert.NETWORK_LABEL: key,
                    convert.HASH_LABEL: convert.config_hash(net),
                },
                "IPAM": {
                    "Driver": "default",
                    "Config": ipam_configs,
                    "Options": {
                        k: str(v) for k, v in ((net.get("ipam") or {}).get("options") or {}).items()
                    },
                },
                "EnableIPv6": bool(net.get("enable_ipv6")),
                "EnableIPv4": net.get("enable_ipv4") is not False,
            }
            self.event("Network", name, "Creating")
            self.engine.network_create(request)
            self.event("Network", name, "Created")

    def ensure_volumes(self, services: list[str]) -> None:
        used = {
            v["source"]
            for s in services
            for v in self.project.services[s].get("volumes") or []
            if v["type"] == "volume" and v.get("source")
        }
        for key, vol in self.project.volumes.items():
            if key not in used:
                continue
            name = vol["name"]
            try:
                self.engine.volume_inspect(name)
                continue
            except NotFound:
                if vol.get("external"):
                    raise ComposeError(f'external volume "{name}" not found') from None
            self.event("Volume", name, "Creating")
            self.engine.volume_create(
                {
                    "Name": name,
                    "Driver": vol.get("driver") or "local",
                    "DriverOpts": {k: str(v) for k, v in (vol.get("driver_opts") or {}).items()},
                    "Labels": {
                        **{k: str(v) for k, v in _mapping(vol.get("labels")).items()},
                        **convert.project_labels(self.project),
                        convert.VOLUME_LABEL: key,
                        convert.HASH_LABEL: convert.config_hash(vol),
                    },
                }
            )
            self.event("Volume", name, "Created")

    # -- images ----------------------------------------------------------------------------

    def image_id(self, image: str) -> str | None:
        try:
            return str(self.engine.image_inspect(image)["Id"])
        except NotFound:
            return None

    def pull(self, services: list[str], policy: str = "missing", quiet: bool = False) -> None:
        """Pull the images of ``services`` (``missing``: only those not stored;
        ``always``; ``never``: a missing one is an error). Raises ComposeError naming the
        service."""
        from dockyard.engine import distribution

        for s in services:
            svc = self.project.services[s]
            image = convert.image_name(self.project, s)
            pol = svc.get("pull_policy", policy)
            if pol not in ("always", "missing", "never", "if_not_present"):
                raise ComposeError(f"services.{s}.pull_policy {pol!r} is not supported by Dockyard")
            if pol in ("missing", "if_not_present", "never") and self.image_id(image):
                continue
            if pol == "never":
                raise ComposeError(f"service {s!r}: no such image: {image} (pull_policy never)")
            if not quiet:
                self.event("", s, "Pulling")
            try:
                for _ in distribution.pull(self.engine, image):
                    pass
            except NotFound as e:
                raise ComposeError(f"service {s!r}: image {image}: {e}") from None
            except ComposeError:
                raise
            except Exception as e:
                if not hasattr(e, "status_code"):
                    raise
                raise ComposeError(f"service {s!r}: image {image}: {e}") from None
            if not quiet:
                self.event("", s, "Pulled")

    def build(
        self,
        services: list[str],
        *,
        no_cache: bool = False,
        pull: bool = False,
        quiet: bool = False,
    ) -> None:
        """Build the images of those of ``services`` that have a ``build`` section, each
        tagged as :func:`convert.image_name`; the builder's output goes to stderr."""
        for s in services:
            spec = self.project.services[s].get("build")
            if not spec:
                continue
            image = convert.image_name(self.project, s)
            if not quiet:
                self.event("Service", s, "Building")

            def line(text: str) -> None:
                if not quiet:
                    print(text, file=self.out, flush=True)

            self.engine.image_build_directory(
                spec["context"],
                spec.get("dockerfile"),
                tags=[image],
                buildargs=spec.get("args") or {},
                target=spec.get("target", ""),
                # As Compose v2's getImageBuildLabels: down --rmi local finds them by these.
                labels={
                    **(spec.get("labels") or {}),
                    **convert.project_labels(self.project),
                    convert.SERVICE_LABEL: s,
                },
                network=spec.get("network") or "default",
                pull=pull or bool(spec.get("pull")),
                nocache=no_cache or bool(spec.get("no_cache")),
                host_config=self.build_host_config(s),
                cache_from=spec.get("cache_from"),
                output=line,
            )
            if not quiet:
                self.event("Service", s, "Built")

    def build_host_config(self, service: str) -> dict[str, Any] | None:
        """The RUN containers' HostConfig of ``service``'s build: ``shm_size`` and
        ``extra_hosts`` of its ``build`` section (None: neither)."""
        spec = self.project.services[service].get("build") or {}
        out: dict[str, Any] = {}
        if spec.get("shm_size"):
            out["ShmSize"] = parse_bytes(spec["shm_size"], f"services.{service}.build.shm_size")
        if spec.get("extra_hosts"):
            out["ExtraHosts"] = [f"{h}:{ip}" for h, ip in spec["extra_hosts"].items()]
        return out or None

    def ensure_images(
        self, services: list[str], pull: str = "missing", build: bool | None = None
    ) -> None:
        """Build (``build`` True, or the image missing and ``build`` not False) or pull
        (by ``pull`` policy) each service's image."""
        to_build = [
            s
            for s in services
            if self.project.services[s].get("build")
            and build is not False
            and (build or not self.image_id(convert.image_name(self.project, s)))
        ]
        self.build(to_build)
        self.pull(
            [
                s
                for s in services
                if s not in to_build
                and not (self.project.services[s].get("build") and build is not False)
            ],
            pull,
        )

    # -- up --------------------------------------------------------------------------------

    def check_ports(self, services: list[str]) -> None:
        """Refuse two services (or replicas) publishing one host port, before anything is
        made (naming both)."""
        seen: dict[tuple[str, str, str], str] = {}
        for s in services:
            svc = self.project.services[s]
            for i, p in enumerate(svc.get("ports") or []):
                pub = str(p.get("published") or "")
                if not pub:
                    continue
                key = (p.get("host_ip") or "0.0.0.0", pub, p.get("protocol", "tcp"))
                if int(svc.get("scale", 1)) > 1:
                    raise ComposeError(
                        f"services.{s}.ports.{i}: host port {pub} cannot be published by "
                        f"{svc['scale']} replicas"
                    )
                for (ip, port, proto), other in seen.items():
                    if (
                        port == pub
                        and proto == key[2]
                        and "0.0.0.0" in (ip, key[0])
                        or ((ip, port, proto) == key)
                    ):
                        raise ComposeError(
                            f"services.{s}.ports.{i}: host port {pub}/{key[2]} is already "
                            f"published by service {other!r}"
                        )
                seen[key] = s

    def up(
        self,
        services: list[str] | None = None,
        *,
        no_deps: bool = False,
        force_recreate: bool = False,
        no_recreate: bool = False,
        remove_orphans: bool = False,
        no_start: bool = False,
        pull: str = "missing",
        build: bool | None = None,
        timeout: int | None = None,
        scale: dict[str, int] | None = None,
        renew_anon_volumes: bool = False,
    ) -> list[str]:
        """Create (or recreate, when its config hash changed) and start the containers of
        ``services`` (all when empty) and, unless ``no_deps``, of their dependencies, in
        dependency order, waiting for each ``depends_on`` condition. A service with a
        ``build`` section is built when ``build`` is True, or its image is missing and
        ``build`` is not False (``--no-build``: it is pulled). Returns the
        containers' names. Raises ComposeError, the engine's errors."""
        chosen = self.selected(services)
        if not no_deps:
            chosen = self.with_dependencies(chosen)
        for s, n in (scale or {}).items():
            if s not in self.project.services:
                raise ComposeError(f"no such service: {s}")
            self.project.services[s]["scale"] = n
        self.check_ports(chosen)
        for s in chosen:
            # Refuse what cannot be honoured before anything is made.
            convert.create_request(self.project, s, 1)
            convert.injected_files(self.project, s)
        self.orphans(remove_orphans, timeout)
        self.ensure_images(chosen, pull, build)
        self.ensure_networks(chosen)
        self.ensure_volumes(chosen)

        def work(runner: Runner, s: str) -> list[str]:
            if not no_start:  # `create`: nothing runs, so no condition can be met
                runner.wait_dependencies(s, chosen)
            return runner.converge(
                s,
                force_recreate=force_recreate,
                no_recreate=no_recreate,
                no_start=no_start,
                timeout=timeout,
                renew_anon_volumes=renew_anon_volumes,
            )

        return self.in_dependency_order(chosen, work)

    def orphans(self, remove: bool, timeout: int | None) -> None:
        """Containers of the project whose service is gone: removed with ``remove``, else
        Compose's warning."""
        known = set(self.project.services) | set(self.project.disabled)
        found = [
            c for c in self.containers() if c["Labels"].get(convert.SERVICE_LABEL) not in known
        ]
        if not found:
            return
        if not remove:
            print(
                f"WARN[0000] Found orphan containers ([{' '.join(self.name_of(c) for c in found)}])"
                f" for this project. If you removed or renamed this service in your compose file,"
                f" you can run this command with the --remove-orphans flag to clean it up.",
                file=self.out,
            )
            return
        for c in found:
            self.remove_container(c, timeout, stop=True)

    def wait_dependencies(self, service: str, started: list[str]) -> None:
        """Wait for ``service``'s ``depends_on`` conditions (``service_started``,
        ``service_healthy``, ``service_completed_successfully``). Raises ComposeError
        (``dependency failed to start: ...``)."""
        for dep, spec in (self.project.services[service].get("depends_on") or {}).items():
            if dep not in self.project.services:
                continue
            containers = self.containers([dep])
            if not containers and not spec["required"]:
                continue
            cond = spec["condition"]
            for c in containers:
                name = self.name_of(c)
                if cond == "service_healthy":
                    self.event("Container", name, "Waiting")
                    self.wait_healthy(c)
                    self.event("Container", name, "Healthy")
                elif cond == "service_completed_successfully":
                    self.event("Container", name, "Waiting")
                    code = self.engine.container_wait(c["Id"])["StatusCode"]
                    if code != 0:
                        raise ComposeError(
                            f'service "{dep}" didn\'t complete successfully: exit {code}'
                        )
                    self.event("Container", name, "Exited")

    def wait_healthy(self, c: Summary) -> None:
        name = self.name_of(c)
        while True:
            state = self.engine.container_inspect(c["Id"])["State"]
            health = (state.get("Health") or {}).get("Status")
            if health is None:
                raise ComposeError(
                    f"dependency failed to start: container {name} has no healthcheck configured"
                )
            if health == "healthy":
                return
            if health == "unhealthy":
                raise ComposeError(f"dependency failed to start: container {name} is unhealthy")
            if not state.get("Running"):
                raise ComposeError(
                    f"dependency failed to start: container {name} exited ({state.get('ExitCode')})"
                )
            time.sleep(0.1)

    def network_mode(self, service: str, key: str = "network_mode") -> str | None:
        """The service's ``network_mode`` (or ``ipc``, ``pid``: ``key``), ``service:X``
        resolved to ``container:<id>`` of X's first container. Raises ComposeError when
        X has none."""
        mode = self.project.services[service].get(key)
        if not mode:
            return None
        mode = str(mode)
        if mode.startswith("service:"):
            found = self.containers([mode[8:]])
            if not found:
                raise ComposeError(f"service {service!r}: no container of service {mode[8:]!r}")
            return f"container:{found[0]['Id']}"
        return mode

    def modes(self, service: str) -> dict[str, str]:
        """The service's ``ipc`` and ``pid`` modes, resolved as :meth:`network_mode`."""
        out = {}
        for key in ("ipc", "pid"):
            mode = self.network_mode(service, key)
            if mode is not None:
                out[key] = mode
        return out

    def inject_files(self, service: str, cid: str) -> None:
        """Copy the service's ``environment``/``content`` secrets and configs into the
        created container ``cid`` (as a tar at ``/``, as Compose v2 does)."""
        files = convert.injected_files(self.project, service)
        if not files:
            return
        import io
        import tarfile

        from dockyard.engine import archives

        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for target, data, mode, uid, gid in files:
                info = tarfile.TarInfo(target.lstrip("/"))
                info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
                info.mtime = int(time.time())
                tar.addfile(info, io.BytesIO(data))
        buf.seek(0)
        copy_ids = any(uid or gid for _, _, _, uid, gid in files)
        archives.archive_put(self.engine, cid, "/", buf, copy_uid_gid=copy_ids)

    def create_container(
        self, service: str, number: int, name: str | None = None, **kwargs: Any
    ) -> str:
        """Create container ``number`` of ``service`` (and connect it to its other
        networks); returns its ID. A failure removes what was made."""
        name = name or convert.container_name(self.project, service, number)
        config, host, networking, more = convert.create_request(
            self.project,
            service,
            number,
            name=name,
            image_id=self.image_id(convert.image_name(self.project, service)) or "",
            network_mode=self.network_mode(service),
            modes=self.modes(service),
            **kwargs,
        )
        self.event("Container", name, "Creating")
        cid = str(self.engine.container_create(config, host, networking, name)["Id"])
        try:
            for net, settings in more:
                self.engine.network_connect(net, cid, settings)
            self.inject_files(service, cid)
        except BaseException:
            self.engine.container_delete(cid, force=True)
            raise
        self.event("Container", name, "Created")
        return cid

    def converge(
        self,
        service: str,
        *,
        force_recreate: bool = False,
        no_recreate: bool = False,
        no_start: bool = False,
        timeout: int | None = None,
        renew_anon_volumes: bool = False,
    ) -> list[str]:
        """Make ``service``'s containers match its configuration (scale, config hash),
        then start them, its replicas at the same time; a recreated container gets its
        predecessor's anonymous volumes unless ``renew_anon_volumes`` (``-V``). Returns
        their names, in number order."""
        svc = self.project.services[service]
        want = int(svc.get("scale", 1))
        if svc.get("container_name") and want > 1:
            raise ComposeError(
                f'services.{service}: container_name "{svc["container_name"]}" cannot be '
                f"used with {want} replicas"
            )
        digest = convert.config_hash(svc)
        # A container of an older image (rebuilt, pulled anew) is recreated, as Compose's.
        image = self.image_id(convert.image_name(self.project, service))
        current = {
            int(c["Labels"].get(convert.NUMBER_LABEL, 0)): c for c in self.containers([service])
        }
        for number, c in sorted(current.items()):
            if number > want or number < 1:
                self.remove_container(c, timeout, stop=True)

        def one(runner: Runner, key: str) -> list[str]:
            number = int(key.lstrip("#"))
            existing = current.get(number)
            if existing is not None:
                c = existing
                stale = c["Labels"].get(convert.HASH_LABEL) != digest or c["Labels"].get(
                    convert.IMAGE_LABEL
                ) not in (None, image)
                if (stale or force_recreate) and not no_recreate:
                    name = runner.name_of(c)
                    runner.event("Container", name, "Recreate")
                    if c["State"] in ("running", "paused", "restarting"):
                        runner.engine.container_stop(c["Id"], t=timeout)
                    reuse = {} if renew_anon_volumes else runner.anonymous_volumes(c)
                    runner.engine.container_delete(c["Id"], force=True)
                    cid = runner.create_container(service, number, reuse=reuse)
                    runner.event("Container", name, "Recreated")
                else:
                    cid = c["Id"]
                    if not no_start and c["State"] in ("running", "paused"):
                        runner.event("Container", runner.name_of(c), "Running")
                        return [runner.name_of(c)]
            else:
                cid = runner.create_container(service, number)
            name = convert.container_name(runner.project, service, number)
            if not no_start:
                runner.start_container(cid, name)
            return [name]

        # The replicas at the same time, as Compose's ensureService ('#': no service
        # name has one, so none is taken for a dependency).
        return self.in_dependency_order([f"#{n}" for n in range(1, want + 1)], one)

    def anonymous_volumes(self, c: Summary) -> dict[str, str]:
        """The anonymous volumes mounted in container ``c``: target -> volume name (those
        labelled ``com.docker.volume.anonymous``, as Docker 23+ and Dockyard make them)."""
        out = {}
        for m in c.get("Mounts") or []:
            if m.get("Type") != "volume" or not m.get("Name"):
                continue
            try:
                labels = self.engine.volume_inspect(m["Name"]).get("Labels") or {}
            except NotFound:
                continue
            if ANONYMOUS_LABEL in labels:
                out[m["Destination"]] = m["Name"]
        return out

    def start_container(self, cid: str, name: str) -> None:
        self.event("Container", name, "Starting")
        try:
            self.engine.container_start(cid)
        except NotModified:
            pass
        self.event("Container", name, "Started")

    # -- stop, start, down -----------------------------------------------------------------

    def stop(self, services: list[str] | None = None, timeout: int | None = None) -> None:
        """Stop the running containers of ``services`` (all), dependents first,
        independent services at the same time."""

        def stop_one(runner: Runner, c: Summary) -> None:
            name = runner.name_of(c)
            runner.event("Container", name, "Stopping")
            try:
                runner.engine.container_stop(c["Id"], t=timeout)
            except NotModified:
                pass
            runner.event("Container", name, "Stopped")

        def work(runner: Runner, s: str) -> list[str]:
            running = ("running", "paused", "restarting")
            runner.each_container(
                [c for c in runner.containers([s]) if c["State"] in running], stop_one
            )
            return []

        self.in_dependency_order(self.selected(services), work, reverse=True)

    def start(self, services: list[str] | None = None) -> None:
        """Start the existing containers of ``services`` (all), in dependency order
        (independent services at the same time), each once its ``depends_on``
        conditions hold. Raises ComposeError when a named service has no container."""

        def work(runner: Runner, s: str) -> list[str]:
            found = runner.containers([s])
            if not found and services:
                raise ComposeError(f"service {s!r} has no container to start")
            runner.wait_dependencies(s, [])
            for c in found:
                if c["State"] != "running":
                    runner.start_container(c["Id"], runner.name_of(c))
            return []

        self.in_dependency_order(self.selected(services), work)

    def restart(self, services: list[str] | None = None, timeout: int | None = None) -> None:
        for s in self.selected(services):
            for c in self.containers([s]):
                name = self.name_of(c)
                self.event("Container", name, "Restarting")
                self.engine.container_restart(c["Id"], t=timeout)
                self.event("Container", name, "Started")

    def each(self, services: list[str] | None, action: str, states: tuple[str, ...]) -> None:
        """``kill``/``pause``/``unpause`` style: ``action`` on the containers of
        ``services`` whose state is in ``states``."""
        verbs = {
            "pause": ("Pausing", "Paused"),
            "unpause": ("Unpausing", "Unpaused"),
        }
        for s in self.selected(services):
            for c in self.containers([s]):
                if c["State"] not in states:
                    continue
                name = self.name_of(c)
                before, after = verbs.get(action, ("Killing", "Killed"))
                self.event("Container", name, before)
                getattr(self.engine, f"container_{action}")(c["Id"])
                self.event("Container", name, after)

    def kill(self, services: list[str] | None, signal: str = "SIGKILL") -> None:
        for s in self.selected(services):
            for c in self.containers([s]):
                if c["State"] not in ("running", "paused", "restarting"):
                    continue
                name = self.name_of(c)
                self.event("Container", name, "Killing")
                self.engine.container_kill(c["Id"], signal)
                self.event("Container", name, "Killed")

    def remove_container(
        self, c: Summary, timeout: int | None, stop: bool, volumes: bool = False
    ) -> None:
        name = self.name_of(c)
        if stop and c["State"] in ("running", "paused", "restarting"):
            self.event("Container", name, "Stopping")
            try:
                self.engine.container_stop(c["Id"], t=timeout)
            except NotModified:
                pass
            self.event("Container", name, "Stopped")
        self.event("Container", name, "Removing")
        try:
            self.engine.container_delete(c["Id"], force=True, v=volumes)
        except NotFound:
            pass
        self.event("Container", name, "Removed")

    def rm(
        self, services: list[str] | None, stop: bool, volumes: bool, timeout: int | None = None
    ) -> int:
        """Remove the stopped containers of ``services`` (running ones too with
        ``stop``). Returns how many were removed."""
        chosen = self.selected(services)
        found = [c for c in self.containers(chosen, oneoff=None)]
        if stop:
            self.stop(services, timeout)
            found = self.containers(chosen, oneoff=None)
        gone = [c for c in found if c["State"] not in ("running", "paused", "restarting")]
        for c in gone:
            self.remove_container(c, timeout, stop=False, volumes=volumes)
        return len(gone)

    def down(
        self,
        *,
        volumes: bool = False,
        remove_orphans: bool = False,
        timeout: int | None = None,
        rmi: str | None = None,
    ) -> None:
        """Stop and remove the project's containers (dependents first), then its
        networks, with ``rmi`` (``local``, ``all``) its images
        (:meth:`images_to_remove`), and with ``volumes`` its named volumes (never
        external ones) and the containers' anonymous volumes."""
        known = set(self.project.services) | set(self.project.disabled)
        if not self.project.config_files:
            # `down -p NAME` without the project's files: every container labelled with
            # the project is the project's (docker/compose down's project from labels).
            known = {
                c["Labels"].get(convert.SERVICE_LABEL, "") for c in self.containers(oneoff=None)
            }
        all_containers = self.containers(oneoff=None)
        orphans = [c for c in all_containers if c["Labels"].get(convert.SERVICE_LABEL) not in known]
        by_service: dict[str, list[Summary]] = {}
        for c in all_containers:
            if c not in orphans:
                by_service.setdefault(c["Labels"].get(convert.SERVICE_LABEL, ""), []).append(c)
        if orphans and not remove_orphans:
            print(
                f"WARN[0000] Found orphan containers ([{' '.join(self.name_of(c) for c in orphans)}])"
                f" for this project. If you removed or renamed this service in your compose file,"
                f" you can run this command with the --remove-orphans flag to clean it up.",
                file=self.out,
            )
        anonymous: set[str] = set()
        if volumes:
            for c in all_containers:
                if c not in orphans or remove_orphans:
                    anonymous.update(self.anonymous_volumes(c).values())

        def remove_one(runner: Runner, c: Summary) -> None:
            runner.remove_container(c, timeout, stop=True, volumes=volumes)

        def work(runner: Runner, s: str) -> list[str]:
            runner.each_container(
                sorted(by_service[s], key=lambda c: str(c["Names"][0])), remove_one
            )
            return []

        # Dependents first, independent services at the same time.
        order = dependency_order({**self.project.disabled, **self.project.services})
        ordered = [s for s in order if s in by_service]
        self.in_dependency_order(
            ordered + sorted(s for s in by_service if s not in ordered), work, reverse=True
        )
        for c in orphans if remove_orphans else []:
            self.remove_container(c, timeout, stop=True, volumes=volumes)
        # Anonymous volumes a recreated container took over are mounted by name: removed
        # here, as the anonymous volumes they are.
        for name in sorted(anonymous):
            try:
                self.engine.volume_delete(name)
            except NotFound:
                pass
        label = f"{convert.PROJECT_LABEL}={self.project.name}"
        nets = {n["Name"] for n in self.engine.network_list(filters={"label": [label]})} | {
            n["name"] for n in self.project.networks.values() if not n.get("external")
        }
        for name in sorted(nets):
            try:
                net = self.engine.network_inspect(name)
            except NotFound:
                continue
            if net.get("Labels", {}).get(convert.PROJECT_LABEL) != self.project.name:
                continue
            self.event("Network", name, "Removing")
            try:
                self.engine.network_delete(name)
            except Conflict as e:
                raise ComposeError(f"error while removing network {name}: {e}") from None
            self.event("Network", name, "Removed")
        if rmi:
            self.remove_images(self.images_to_remove(rmi, remove_orphans))
        if volumes and not self.project.config_files:
            label = f"{convert.PROJECT_LABEL}={self.project.name}"
            for info in self.engine.volume_list(filters={"label": [label]}).get("Volumes") or []:
                self.event("Volume", info["Name"], "Removing")
                self.engine.volume_delete(info["Name"])
                self.event("Volume", info["Name"], "Removed")
        if volumes:
            for vol in self.project.volumes.values():
                if vol.get("external"):
                    continue
                try:
                    info = self.engine.volume_inspect(vol["name"])
                except NotFound:
                    continue
                if (info.get("Labels") or {}).get(convert.PROJECT_LABEL) != self.project.name:
                    continue
                self.event("Volume", vol["name"], "Removing")
                self.engine.volume_delete(vol["name"])
                self.event("Volume", vol["name"], "Removed")

    def images_to_remove(self, mode: str, remove_orphans: bool = False) -> list[str]:
        """``down --rmi``: the images to remove (docker/compose ``ImagesToPrune``), in
        familiar form, sorted. ``local``: images built for the project's services (by
        their ``com.docker.compose.*`` labels, orphans' too with ``remove_orphans``) and
        the default-named images of services without ``image``; ``all`` adds every
        service's ``image``. Only images that exist are named."""
        from dockyard import reference

        services = {**self.project.disabled, **self.project.services}
        names = []
        if mode == "all":
            names += [str(svc["image"]) for svc in services.values() if svc.get("image")]
        label = f"{convert.PROJECT_LABEL}={self.project.name}"
        for img in self.engine.image_list(filters={"label": [label], "dangling": ["false"]}):
            service = (img.get("Labels") or {}).get(convert.SERVICE_LABEL)
            if img["RepoTags"] and (remove_orphans or service in services):
                names.append(img["RepoTags"][0])
        names += [f"{self.project.name}-{s}" for s, svc in services.items() if not svc.get("image")]
        out = set()
        for name in names:
            if name in out or self.image_id(name) is None and not name.startswith("sha256:"):
                continue
            try:
                out.add(reference.parse(name).familiar())
            except Exception:
                out.add(name)
        return sorted(out)

    def remove_images(self, names: list[str]) -> None:
        """Remove ``names`` as ``down --rmi`` does: an image still in use is a warning
        (``Resource is still in use``), a missing one a notice."""
        for name in names:
            self.event("Image", name, "Removing")
            try:
                self.engine.image_delete(name)
            except Conflict:
                self.event("Image", name, "Resource is still in use")
                continue
            except NotFound:
                self.event("Image", name, "Warning: No resource found to remove")
                continue
            self.event("Image", name, "Removed")

    def images(self, services: list[str] | None) -> list[dict[str, Any]]:
        """``images``: for each container of the project (of ``services``), sorted by
        name, the image it was created from: ``ContainerName``, ``ID``, ``Repository``,
        ``Tag`` (from the container's image reference), ``Platform``, ``Size`` (bytes),
        ``Created`` and ``LastTagTime`` (RFC 3339, or None)."""
        from dockyard import reference

        rows = []
        for c in self.containers(services or None, oneoff=None):
            repo, tag = "", ""
            if not str(c["Image"]).startswith("sha256:"):
                try:
                    ref = reference.parse(str(c["Image"]))
                    repo, tag = ref.familiar_name(), ref.tag or ""
                except Exception:
                    pass
            row: dict[str, Any] = {
                "ContainerName": self.name_of(c),
                "ID": c["ImageID"],
                "Repository": repo,
                "Tag": tag,
                "Platform": "",
                "Size": 0,
                "Created": None,
                "LastTagTime": None,
            }
            try:
                img = self.engine.image_inspect(str(c["Image"]))
            except NotFound:
                rows.append(row)
                continue
            row["ID"] = img["Id"]
            row["Platform"] = "/".join(
                p for p in (img.get("Os"), img.get("Architecture"), img.get("Variant")) if p
            )
            row["Size"] = int(img.get("Size") or 0)
            row["Created"] = img.get("Created") or None
            tagged = (img.get("Metadata") or {}).get("LastTagTime") or ""
            row["LastTagTime"] = None if tagged.startswith("0001-01-01") else tagged
            rows.append(row)
        return sorted(rows, key=lambda r: str(r["ContainerName"]))

    def push(self, services: list[str], ignore_failures: bool = False, quiet: bool = False) -> None:
        """``push``: the ``image`` of each of ``services`` that has both ``build`` and
        ``image`` (others are ``Skipped``, as Compose v2's push.go), ``build.tags`` not
        being supported. Raises ComposeError naming the service, unless
        ``ignore_failures`` (then a warning)."""
        from dockyard.engine import distribution

        for s in services:
            svc = self.project.services[s]
            if not svc.get("build") or not svc.get("image"):
                if not quiet:
                    self.event("", s, "Skipped")
                continue
            image = str(svc["image"])
            if not quiet:
                self.event("Image", image, "Pushing")
            try:
                for _ in distribution.push(self.engine, image):
                    pass
            except Exception as e:
                if not hasattr(e, "status_code"):
                    raise
                if not ignore_failures:
                    raise ComposeError(f"service {s!r}: pushing {image}: {e}") from None
                print(f"WARN[0000] service {s!r}: pushing {image}: {e}", file=self.out)
                continue
            if not quiet:
                self.event("Image", image, "Pushed")

    # -- run, exec, logs -------------------------------------------------------------------

    def find(self, service: str, index: int = 1) -> Summary:
        """Container ``index`` of ``service`` (running or not). Raises ComposeError."""
        if service not in self.project.services:
            raise ComposeError(f"no such service: {service}")
        for c in self.containers([service]):
            if c["Labels"].get(convert.NUMBER_LABEL) == str(index):
                return c
        raise ComposeError(f"service {service!r} is not running")

    def logs(
        self,
        services: list[str] | None,
        *,
        follow: bool = False,
        tail: str = "all",
        timestamps: bool = False,
        prefix: bool = True,
        color: bool = False,
        write: IO[str] | None = None,
        containers: list[Summary] | None = None,
        on_end: Callable[[Engine, Summary, str], None] | None = None,
        until: threading.Event | None = None,
        since: int = 0,
        until_time: int = 0,
    ) -> None:
        """Print the containers' logs, each line prefixed ``<service>-<n>  | `` (padded as
        Compose's, coloured with its rainbow when ``color``). With ``follow``, one thread
        per container (each with its own facade) until all have stopped (or ``until`` is
        set); ``on_end(engine, container, prefix)`` runs in a container's thread once its
        log has ended. ``since``/``until_time``: nanoseconds since the epoch (0: no
        bound), as the engine's ``container_logs`` takes them."""
        from dockyard.engine import Engine

        out = write or sys.stdout
        found = (
            containers
            if containers is not None
            else self.containers(self.selected(services), oneoff=None)
        )
        labels = [self.log_name(c) for c in found]
        width = max((len(n) for n in labels), default=0)
        lock = threading.Lock()

        def emit(c: Summary, label: str, colour: str, engine: Engine) -> None:
            # docker/compose cmd/formatter/logs.go: the name padded one past the longest.
            pre = f"{label:<{width + 1}} | " if prefix else ""
            if color and prefix:
                pre = f"\033[{colour}m{pre}\033[0m"
            if follow:
                # A container just started may not have its log file yet (its monitor
                # makes it): following a missing file would end at once.
                while True:
                    info = engine.container_inspect(c["Id"])
                    if info.get("LogPath") or not info["State"].get("Running"):
                        break
                    time.sleep(0.05)
            for _stream, data in engine.container_logs(
                c["Id"],
                follow=follow,
                tail=tail,
                timestamps=timestamps,
                since=since,
                until=until_time,
            ):
                text = data.decode("utf-8", "replace")
                with lock:
                    out.write(pre + text if text.endswith("\n") else pre + text + "\n")
                    out.flush()
            if on_end is not None:
                with lock:
                    on_end(engine, c, f"\033[{colour}m{label}\033[0m" if color else label)

        if not follow:
            for i, (c, label) in enumerate(zip(found, labels, strict=True)):
                emit(c, label, _RAINBOW[i % len(_RAINBOW)], self.engine)
            return
        threads = []
        for i, (c, label) in enumerate(zip(found, labels, strict=True)):

            def work(c: Summary = c, label: str = label, i: int = i) -> None:
                emit(c, label, _RAINBOW[i % len(_RAINBOW)], Engine(self.engine.paths))

            t = threading.Thread(target=work, daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            while t.is_alive() and not (until is not None and until.is_set()):
                t.join(0.1)

    def log_name(self, c: Summary) -> str:
        """A container's name in log prefixes: without the project (``web-1``)."""
        name = self.name_of(c)
        head = f"{self.project.name}-"
        return name[len(head) :] if name.startswith(head) else name

    def run(
        self,
        service: str,
        command: list[str] | None,
        *,
        rm: bool = False,
        detach: bool = False,
        no_deps: bool = False,
        name: str | None = None,
        entrypoint: list[str] | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        workdir: str | None = None,
        service_ports: bool = False,
        publish: list[dict[str, Any]] | None = None,
        tty: bool = False,
        interactive: bool = False,
        labels: dict[str, str] | None = None,
    ) -> int:
        """``run``: a one-off container of ``service`` (``<project>-<service>-run-<id>``,
        ``oneoff`` True, no published ports unless ``service_ports``/``publish``), its
        dependencies started first unless ``no_deps``; attached unless ``detach``.
        Returns its exit status (0 when detached)."""
        import secrets as _secrets

        if service not in self.project.services:
            raise ComposeError(f"no such service: {service}")
        if not no_deps:
            deps = [s for s in self.with_dependencies([service]) if s != service]
            if deps:
                self.up(deps)
        svc = self.project.services[service]
        self.ensure_images([service])
        self.ensure_networks([service])
        self.ensure_volumes([service])
        self.wait_dependencies(service, [])
        overrides: dict[str, Any] = {"tty": tty, "stdin_open": interactive}
        if command:
            overrides["command"] = command
        if entrypoint is not None:
            overrides["entrypoint"] = entrypoint
        if env:
            overrides["environment"] = {**(svc.get("environment") or {}), **env}
        if user is not None:
            overrides["user"] = user
        if workdir is not None:
            overrides["working_dir"] = workdir
        if labels:
            overrides["labels"] = {**(svc.get("labels") or {}), **labels}
        if not service_ports:
            overrides["ports"] = publish or []
        elif publish:
            overrides["ports"] = [*(svc.get("ports") or []), *publish]
        overrides["container_name"] = None
        cname = name or f"{self.project.name}-{service}-run-{_secrets.token_hex(6)}"
        config, host, networking, more = convert.create_request(
            self.project,
            service,
            1,
            oneoff=True,
            name=cname,
            image_id=self.image_id(convert.image_name(self.project, service)) or "",
            network_mode=self.network_mode(service),
            modes=self.modes(service),
            overrides=overrides,
        )
        if rm:
            host["AutoRemove"] = False  # removed below, after its status is read
        cid = str(self.engine.container_create(config, host, networking, cname)["Id"])
        try:
            for net, settings in more:
                self.engine.network_connect(net, cid, settings)
            self.inject_files(service, cid)
            if detach:
                self.engine.container_start(cid)
                print(cname)
                return 0
            return int(self.engine.container_run_attached(cid))
        finally:
            if rm and not detach:
                try:
                    self.engine.container_delete(cid, force=True, v=True)
                except NotFound:
                    pass

    def exec(
        self,
        service: str,
        command: list[str],
        *,
        index: int = 1,
        detach: bool = False,
        tty: bool = False,
        interactive: bool = True,
        user: str | None = None,
        workdir: str | None = None,
        env: list[str] | None = None,
        privileged: bool = False,
    ) -> int:
        """``exec``: ``command`` in container ``index`` of ``service`` with this
        process's stdio. Returns its exit status."""
        c = self.find(service, index)
        if c["State"] != "running":
            raise ComposeError(f"service {service!r} is not running")
        config = {
            "AttachStdin": interactive and not detach,
            "AttachStdout": not detach,
            "AttachStderr": not detach,
            "Tty": tty,
            "Cmd": command,
            "Env": env or [],
            "User": user or "",
            "WorkingDir": workdir or "",
            "Privileged": privileged,
        }
        eid = self.engine.exec_create(c["Id"], config)["Id"]
        code = self.engine.exec_start(eid, detach=detach)
        if code is None:  # the detach keys (docker/cli's RunExec: term.EscapeError)
            raise ComposeError("read escape sequence")
        return int(code)

    def projects(self) -> Iterator[tuple[str, str, str]]:
        """``ls``: (name, status such as ``running(2)``, config files) of every project
        with containers."""
        found = self.engine.container_list(all=True, filters={"label": [convert.PROJECT_LABEL]})
        by: dict[str, list[Summary]] = {}
        for summary in found:
            by.setdefault(summary["Labels"][convert.PROJECT_LABEL], []).append(dict(summary))
        for name in sorted(by):
            counts: dict[str, int] = {}
            files = ""
            for c in by[name]:
                counts[c["State"]] = counts.get(c["State"], 0) + 1
                files = files or c["Labels"].get(convert.FILES_LABEL, "")
            status = ", ".join(f"{s}({n})" for s, n in sorted(counts.items()))
            yield name, status, files


def _parallel_limit() -> int:
    """``COMPOSE_PARALLEL_LIMIT``: how many services are worked on at once (0: no limit,
    Compose's default)."""
    import os

    value = os.environ.get("COMPOSE_PARALLEL_LIMIT", "").strip()
    if not value:
        return 0
    try:
        return max(int(value), 0)
    except ValueError:
        raise ComposeError(f"COMPOSE_PARALLEL_LIMIT: invalid number {value!r}") from None


def _result(data: bytes, service: str, status: int) -> tuple[bool, Any]:
    """A worker's outcome from its pickled report; one that died without reporting is
    a failure naming the service and how it ended."""
    import os
    import pickle

    if not data:
        how = (
            f"signal {os.WTERMSIG(status)}"
            if os.WIFSIGNALED(status)
            else f"status {os.waitstatus_to_exitcode(status)}"
        )
        return False, ComposeError(f"service {service!r}: its worker ended by {how}")
    outcome: tuple[bool, Any] = pickle.loads(data)
    return outcome


def _mapping(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    out = {}
    for item in value or []:
        k, _, v = str(item).partition("=")
        out[k] = v
    return out


# Compose's log prefix colours (docker/compose cmd/formatter/colors.go ``rainbow``).
_RAINBOW = ["36", "33", "32", "35", "34", "36;1", "33;1", "32;1", "35;1", "34;1"]


def _interrupted_once(signum: int, frame: Any) -> None:
    """A forked worker's SIGINT handler: the first one raises KeyboardInterrupt, later
    ones are ignored, so the unwinding (undoing a half-made container) runs to its end."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _interrupt(running: dict[int, tuple[str, int]]) -> None:
    """On Ctrl-C in :meth:`Runner.in_dependency_order`: pass it on to the workers still
    running (one sent to this process alone must stop them too; each takes one only)
    and wait for them, so that the command ends with every container either started
    and recorded running or not started. A second Ctrl-C stops the waiting."""
    import os

    for _, pid in running.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    for rfd, (_, pid) in list(running.items()):
        os.close(rfd)  # its outcome is not wanted: a write to the pipe ends at once
        del running[rfd]
        os.waitpid(pid, 0)
