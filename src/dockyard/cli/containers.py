"""Container commands besides create/run: ``start``, ``rm``, ``ps``, ``inspect`` and the
``container`` noun group (Docker CLI reference: docker container ...)."""

from __future__ import annotations

import re
import sys
from typing import Any

import click

from dockyard.errors import DockyardError, NotFound
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}


def _engine(paths: Paths) -> Any:
    from dockyard.engine import Engine

    return Engine(paths)


@click.command(context_settings=_SETTINGS)
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def start(paths: Paths, attach: bool, interactive: bool, containers: tuple[str, ...]) -> None:
    """Start one or more stopped containers."""
    engine = _engine(paths)
    if attach or interactive:
        if len(containers) > 1:
            raise click.UsageError("you cannot start and attach multiple containers at once")
        try:
            c = engine.containers.reconcile(engine.container_store.get(containers[0]))
            if c.state["Running"]:
                from dockyard.container.attach import attach as attach_to

                status = attach_to(engine.containers, c.id, stdin=interactive)
            else:
                status = engine.containers.run_attached(c)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            print(f"Error: failed to start containers: {containers[0]}", file=sys.stderr)
            sys.exit(1)
        sys.exit(status)
    failed = []
    for ref in containers:
        try:
            c = engine.container_store.get(ref)
            if not c.state["Running"]:
                engine.containers.start_detached(c)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed.append(ref)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


def parse_signal(text: str) -> int:
    """A signal given as a number, ``KILL`` or ``SIGKILL`` (``docker kill -s``)."""
    from dockyard.container.operations import parse_signal as parse

    return parse(text)


@click.command(context_settings=_SETTINGS)
@click.option("-s", "--signal", "signal_", default="KILL", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def kill(paths: Paths, signal_: str, containers: tuple[str, ...]) -> None:
    """Kill one or more running containers."""
    engine = _engine(paths)
    sig = parse_signal(signal_)
    failed = False
    for ref in containers:
        try:
            engine.containers.kill(ref, sig)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=_SETTINGS)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def wait(paths: Paths, containers: tuple[str, ...]) -> None:
    """Block until one or more containers stop, then print their exit codes."""
    engine = _engine(paths)
    failed = False
    for ref in containers:
        try:
            print(engine.containers.wait(ref), flush=True)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


def _stop_options(f: Any) -> Any:
    f = click.option(
        "-t",
        "--timeout",
        "--time",
        "timeout",
        type=int,
        default=None,
        help="Seconds to wait before killing the container",
    )(f)
    return click.option("-s", "--signal", "signal_", help="Signal to send to the container")(f)


@click.command(context_settings=_SETTINGS)
@_stop_options
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def stop(
    paths: Paths, signal_: str | None, timeout: int | None, containers: tuple[str, ...]
) -> None:
    """Stop one or more running containers."""
    _stop_or_restart("stop", paths, signal_, timeout, containers)


def _stop_or_restart(
    action: str,
    paths: Paths,
    signal_: str | None,
    timeout: int | None,
    containers: tuple[str, ...],
) -> None:
    """``stop``/``restart`` each container; prints the names as given, exits 1 if any
    failed (Docker's behaviour)."""
    from dockyard.container import operations

    run = operations.stop if action == "stop" else operations.restart
    engine = _engine(paths)
    sig = parse_signal(signal_) if signal_ else None
    failed = False
    for ref in containers:
        try:
            run(engine.containers, ref, timeout=timeout, sig=sig)
            print(ref, flush=True)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


@click.command(context_settings=_SETTINGS)
@_stop_options
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def restart(
    paths: Paths, signal_: str | None, timeout: int | None, containers: tuple[str, ...]
) -> None:
    """Restart one or more containers."""
    _stop_or_restart("restart", paths, signal_, timeout, containers)


@click.command(context_settings=_SETTINGS)
@click.argument("old")
@click.argument("new")
@click.pass_obj
def rename(paths: Paths, old: str, new: str) -> None:
    """Rename a container."""
    from dockyard.container import operations

    if not old.strip() or not new.strip():
        print("Error: Neither old nor new names may be empty", file=sys.stderr)
        sys.exit(1)
    operations.rename(_engine(paths).containers, old, new)


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option(
    "--filter", "filters", multiple=True, help='Provide filter values (e.g. "until=<timestamp>")'
)
@click.pass_obj
def prune(paths: Paths, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all stopped containers."""
    from dockyard.cli.formatting import human_size
    from dockyard.container import operations

    parsed = operations.parse_filters(filters)
    if not force:
        sys.stdout.write(
            "WARNING! This will remove all stopped containers.\n"
            "Are you sure you want to continue? [y/N] "
        )
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return
    removed = operations.prune(_engine(paths).containers, parsed)
    if removed:
        print("Deleted Containers:")
        for container_id, _size in removed:
            print(container_id)
        print()
    print(f"Total reclaimed space: {human_size(sum(size for _, size in removed), 4)}")


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container")
@click.option(
    "-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container"
)
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def rm(paths: Paths, force: bool, volumes: bool, containers: tuple[str, ...]) -> None:
    """Remove one or more containers."""
    engine = _engine(paths)
    failed = False
    for ref in containers:
        try:
            engine.containers.remove(ref, force=force, volumes=volumes)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    sys.exit(1 if failed else 0)


def human_duration_since(timestamp: str) -> str:
    """go-units HumanDuration of the time elapsed since an RFC 3339 ``timestamp``."""
    import datetime

    from dockyard.cli.formatting import human_duration

    # Python parses at most microseconds: drop the extra nanosecond digits.
    head, _, frac = timestamp.rstrip("Z").partition(".")
    then = datetime.datetime.fromisoformat(f"{head}.{(frac + '000000')[:6]}+00:00")
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _status_text(state: dict[str, Any]) -> str:
    """Docker's STATUS column: ``Up 3 seconds (Paused)``, ``Exited (0) 2 minutes ago``..."""
    health = (state.get("Health") or {}).get("Status")
    if state.get("Restarting"):
        return f"Restarting ({state['ExitCode']}) {human_duration_since(state['FinishedAt'])} ago"
    if state["Running"]:
        text = f"Up {human_duration_since(state['StartedAt'])}"
        if state.get("Paused"):
            return text + " (Paused)"
        if health == "starting":
            return text + " (health: starting)"
        if health in ("healthy", "unhealthy"):
            return text + f" ({health})"
        return text
    if state["Status"] == "exited":
        return f"Exited ({state['ExitCode']}) {human_duration_since(state['FinishedAt'])} ago"
    return state["Status"].capitalize()


def _command_text(c: Any, no_trunc: bool) -> str:
    args = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    text = " ".join(args)
    if not no_trunc and len(text) > 20:
        text = text[:19] + "…"
    return f'"{text}"'


PS_FILTERS = (
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
PS_HEALTH = ("starting", "healthy", "unhealthy", "none")
PS_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}
PS_DEFAULT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
# {{.Label "key"}} is a method call in Docker's template context; here an index of a map.
_LABEL_CALL = re.compile(r'(?<![\w.])\.Label\s+("(?:[^"\\]|\\.)*"|`[^`]*`)')


def _ps_select(engine: Any, containers: list[Any], filters: dict[str, list[str]]) -> list[Any]:
    """Docker's ``ps --filter``: values of one key are alternatives, keys all apply
    (``label`` values all apply). Raises InvalidArgument for an unknown key or status."""
    from dockyard.container.operations import label_matches
    from dockyard.errors import InvalidArgument

    for key, values in filters.items():
        if key not in PS_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        for v in values:
            if key == "status" and v not in PS_STATUSES:
                raise InvalidArgument(f"invalid filter 'status={v}'")
            if key == "exited" and not v.lstrip("-").isdigit():
                raise InvalidArgument(f"invalid filter 'exited={v}'")
    for v in filters.get("health", []):
        if v not in PS_HEALTH:
            raise InvalidArgument(f"Unrecognised filter value for health: {v}")
    # before/since name containers; their creation times bound the list.
    before = [engine.container_store.get(v).created for v in filters.get("before", [])]
    since = [engine.container_store.get(v).created for v in filters.get("since", [])]
    from dockyard.network.ports import port_filter

    published = port_filter("publish", filters.get("publish", []))
    exposed = port_filter("expose", filters.get("expose", []))
    ancestors: set[str] = set()
    for v in filters.get("ancestor", []):
        ancestors.add(v)
        try:
            ancestors.add(engine.images.resolve(v).id)
        except NotFound:
            pass

    def keep(c: Any) -> bool:
        labels = c.config.get("Labels") or {}
        tests = {
            "name": lambda v: re.search(v, "/" + c.name) is not None,
            "id": lambda v: re.search(v, c.id) is not None,
            "label": None,
            "status": lambda v: v == c.state["Status"],
            "exited": lambda v: c.state["Status"] == "exited" and int(v) == c.state["ExitCode"],
            "ancestor": lambda v: c.image_id in ancestors or c.config.get("Image") in ancestors,
            "network": lambda v: any(
                v == net.name or net.id.startswith(v)
                for net in engine.networks.container_networks(c)
            ),
            "health": lambda v: v == ((c.state.get("Health") or {}).get("Status") or "none"),
            "isolation": lambda v: v in ("", "default"),
            "is-task": lambda v: v == "false",
            # A volume's name (a bind's source) or a mount's destination, as Docker's.
            "volume": lambda v: any(
                v in (m.get("Name") or m["Source"], m["Destination"])
                for m in engine.volumes.container_mounts(c.id)
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
            elif not any(tests[key](v) for v in values):  # type: ignore[misc]
                return False
        return True

    try:
        return [c for c in containers if keep(c)]
    except re.error as e:
        raise InvalidArgument(f"invalid filter: {e}") from None


def _ps_row(engine: Any, c: Any, no_trunc: bool, with_size: bool) -> dict[str, Any]:
    import datetime

    from dockyard.cli.formatting import human_size
    from dockyard.network.ports import PortStore, api_ports, displayable_ports

    labels = c.config.get("Labels") or {}
    created = datetime.datetime.fromtimestamp(_created_time(c)).astimezone()
    mounts = engine.volumes.container_mounts(c.id)
    # Docker's ps Mounts: volume names (bind sources), each cut to 15 characters.
    mount_names = [m.get("Name") or m["Source"] for m in mounts]
    if not no_trunc:
        mount_names = [n if len(n) <= 15 else n[:12] + "..." for n in mount_names]
    row: dict[str, Any] = {
        "Command": _command_text(c, no_trunc),
        "CreatedAt": created.strftime("%Y-%m-%d %H:%M:%S %z %Z"),
        "ID": c.id if no_trunc else c.short_id,
        "Image": c.config.get("Image", ""),
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(sum(m.get("Driver") == "local" for m in mounts)),
        "Mounts": ",".join(mount_names),
        "Names": c.name,
        "Networks": ",".join(n.name for n in engine.networks.container_networks(c)),
        "Ports": displayable_ports(api_ports(PortStore(engine.db).ports(c))),
        "RunningFor": human_duration_since(c.created) + " ago",
        "Size": "",
        "State": c.state["Status"],
        "Status": _status_text(c.state),
        "Label": _Labels(labels),
    }
    if with_size:
        from dockyard.container.operations import container_size

        rw = container_size(engine.containers, c)
        virtual = rw + _image_size(engine, c)
        row["Size"] = (
            f"{human_size(rw)} (virtual {human_size(virtual)})" if virtual else human_size(rw)
        )
    return row


def _created_time(c: Any) -> float:
    from dockyard.container.operations import created_time

    return created_time(c)


def _image_size(engine: Any, c: Any) -> int:
    try:
        return int(engine.images.get(c.image_id).size)
    except NotFound:
        return 0


class _Labels(dict[str, str]):
    """A container's labels for ``{{.Label "key"}}``: a missing key is "" as in Go."""

    def get(self, key: str, default: Any = "") -> Any:
        return super().get(key, default)


class _LabelHeader(dict[str, str]):
    """``{{.Label "key"}}`` in a table header row."""

    def get(self, key: str, default: Any = None) -> Any:
        return "LABEL"


def _ps_output(fmt: str, rows: list[dict[str, Any]]) -> str:
    """Render ``rows`` with a ``ps --format`` value (``table ...``, ``json`` or a template)."""
    from dockyard.cli.formatting import HEADER_FUNCS, TABLE_PREFIX, Template, normalize, tabwrite

    is_table = fmt.startswith(TABLE_PREFIX)
    body = normalize(fmt[len(TABLE_PREFIX) :] if is_table else fmt)
    if body == "json":
        body = "{{json .}}"
        rows = [{k: v for k, v in r.items() if k != "Label"} for r in rows]
    body = _LABEL_CALL.sub(r"index .Label \1", body)
    tmpl = Template(body)
    out = "".join(tmpl.execute(r) + "\n" for r in rows)
    if not is_table:
        return out
    header = tmpl.execute({**PS_HEADERS, "Label": _LabelHeader()}, strict=False, funcs=HEADER_FUNCS)
    return tabwrite(header + "\n" + out)


@click.command(context_settings=_SETTINGS)
@click.option(
    "-a", "--all", "all_", is_flag=True, help="Show all containers (default shows just running)"
)
@click.option(
    "-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided"
)
@click.option("--format", "format_", default="", help="Format output using a custom template")
@click.option(
    "-n",
    "--last",
    type=int,
    default=-1,
    help="Show n last created containers (includes all states)",
)
@click.option(
    "-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)"
)
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.pass_obj
def ps(
    paths: Paths,
    all_: bool,
    filters: tuple[str, ...],
    format_: str,
    last: int,
    latest: bool,
    no_trunc: bool,
    quiet: bool,
    size: bool,
) -> None:
    """List containers."""
    from dockyard.container.operations import parse_filters

    engine = _engine(paths)
    parsed = parse_filters(filters)
    found = engine.containers.list_reconciled()
    if latest:
        last = 1
    if not (all_ or last > 0 or "status" in parsed):
        found = [c for c in found if c.state["Running"]]
    found = _ps_select(engine, found, parsed)
    if last > 0:
        found = found[:last]
    if quiet and format_ in ("", "table"):
        format_ = "{{.ID}}"
    elif format_ in ("", "table"):
        format_ = PS_DEFAULT + ("\t{{.Size}}" if size else "")
    with_size = size or ".Size" in format_ or format_.strip() == "json"
    rows = [_ps_row(engine, c, no_trunc, with_size) for c in found]
    sys.stdout.write(_ps_output(format_, rows))


STATE_KEYS = (
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


def _host_config(c: Any) -> dict[str, Any]:
    """Docker's HostConfig: every key ``docker inspect`` always shows, in its order, with
    the container's values (Dockyard's own extra keys last)."""
    hc = c.host_config
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
    out.update(hc)
    if out.get("Init") is None:
        # A nil *bool with omitempty: Docker shows Init only when --init was given.
        out.pop("Init", None)
    return out


def _config(c: Any) -> dict[str, Any]:
    """Docker's Config: StopSignal and StopTimeout only when set (omitempty)."""
    cfg = dict(c.config)
    for key in ("StopSignal", "StopTimeout", "Healthcheck"):
        if cfg.get(key) is None:
            cfg.pop(key, None)
    return cfg


def _log_path(engine: Any, c: Any) -> str:
    """The json-file log once the container's monitor made it, else "" (as Docker)."""
    import os

    from dockyard.container.logs import log_path

    path = log_path(engine.paths.container_dir(c.id), c.id)
    return path if os.path.exists(path) else ""


def container_inspect_json(engine: Any, c: Any, size: bool = False) -> dict[str, Any]:
    """Docker's ``docker container inspect`` object for ``c``; with ``size`` also SizeRw
    and SizeRootFs (bytes: the writable layer, and that plus the image)."""
    cdir = engine.paths.container_dir(c.id)
    image = engine.images.get(c.image_id)
    args = (c.config.get("Entrypoint") or []) + (c.config.get("Cmd") or [])
    layers = [engine.layers.path(d) for d in reversed(image.diff_ids)]
    state = {k: c.state[k] for k in STATE_KEYS if k in c.state}
    if c.config.get("Healthcheck") and "Health" in c.state:
        state["Health"] = c.state["Health"]
    obj: dict[str, Any] = {
        "Id": c.id,
        "Created": c.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": state,
        "Image": c.image_id,
        "ResolvConfPath": f"{cdir}/resolv.conf",
        "HostnamePath": f"{cdir}/hostname",
        "HostsPath": f"{cdir}/hosts",
        "LogPath": _log_path(engine, c),
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
        from dockyard.container.operations import container_size

        rw = container_size(engine.containers, c)
        obj["SizeRw"] = rw
        obj["SizeRootFs"] = rw + int(image.size)
    obj["Mounts"] = engine.volumes.inspect_mounts(c.id)
    obj["Config"] = _config(c)
    obj["NetworkSettings"] = engine.networks.container_settings(c)
    from dockyard.network.ports import PortStore

    obj["NetworkSettings"]["Ports"] = PortStore(engine.db).ports(c)
    return obj


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--format", "format_", help="Format output using a Go template")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["container", "image", "volume"]),
    help="Only inspect objects of the given type",
)
@click.option(
    "-s", "--size", is_flag=True, help="Display total file sizes if the type is container"
)
@click.argument("names", nargs=-1, required=True)
@click.pass_obj
def inspect(
    paths: Paths, format_: str | None, type_: str | None, size: bool, names: tuple[str, ...]
) -> None:
    """Return low-level information on containers or images."""
    from dockyard.cli.formatting import print_inspect

    engine = _engine(paths)
    results: list[dict[str, Any]] = []
    errors: list[str] = []
    for name in names:
        obj = None
        if type_ in (None, "container"):
            try:
                c = engine.containers.reconcile(engine.container_store.get(name))
                obj = container_inspect_json(engine, c, size)
            except NotFound:
                pass
        if obj is None and type_ in (None, "image"):
            try:
                from dockyard.image.inspect import inspect_image

                obj = inspect_image(engine.paths, engine.images.resolve(name))
            except NotFound:
                pass
        if obj is None and type_ in (None, "volume"):
            try:
                obj = engine.volumes.get(name).inspect()
            except NotFound:
                pass
        if obj is None:
            errors.append(f"Error: No such object: {name}")
            continue
        results.append(obj)
    print_inspect(format_ or "", results, errors)


@click.group(context_settings=_SETTINGS)
def container() -> None:
    """Manage containers."""


def _register() -> None:
    from dockyard.cli import exec as exec_cmds
    from dockyard.cli.run import create, run

    container.add_command(create)
    container.add_command(run)
    container.add_command(start)
    container.add_command(kill)
    container.add_command(wait)
    container.add_command(rm)
    container.add_command(rm, "remove")
    container.add_command(ps, "ls")
    container.add_command(ps, "list")
    container.add_command(ps, "ps")
    container.add_command(inspect)
    container.add_command(exec_cmds.exec_)
    container.add_command(exec_cmds.top)
    container.add_command(exec_cmds.stats)
    container.add_command(exec_cmds.pause)
    container.add_command(exec_cmds.unpause)
    container.add_command(stop)
    container.add_command(restart)
    container.add_command(rename)
    container.add_command(prune)
    from dockyard.cli.attach import attach

    container.add_command(attach)
    from dockyard.cli.port import port

    container.add_command(port)
    from dockyard.cli import archives

    container.add_command(archives.export)
    container.add_command(archives.diff)
    container.add_command(archives.commit)


_register()
