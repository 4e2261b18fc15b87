"""A Compose service as the Engine API's container create request (Config, HostConfig,
NetworkingConfig), with Docker Compose v2's names and ``com.docker.compose.*`` labels
(docker/compose ``pkg/compose/create.go``, ``pkg/api/labels.go``)."""

from __future__ import annotations

import json
from typing import Any

from dockyard import __version__
from dockyard.compose.errors import ComposeError
from dockyard.compose.loader import Project, parse_bytes, parse_duration

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
NUMBER_LABEL = "com.docker.compose.container-number"
ONEOFF_LABEL = "com.docker.compose.oneoff"
HASH_LABEL = "com.docker.compose.config-hash"
FILES_LABEL = "com.docker.compose.project.config_files"
WORKDIR_LABEL = "com.docker.compose.project.working_dir"
VERSION_LABEL = "com.docker.compose.version"
DEPENDS_LABEL = "com.docker.compose.depends_on"
IMAGE_LABEL = "com.docker.compose.image"
NETWORK_LABEL = "com.docker.compose.network"
VOLUME_LABEL = "com.docker.compose.volume"
#: The version written in ``com.docker.compose.version``: Dockyard's own.
VERSION = __version__

# Keys whose change does not need a new container (compose's hash leaves them out).
_UNHASHED = ("scale", "deploy", "profiles", "pull_policy", "build")


def config_hash(svc: dict[str, Any]) -> str:
    """The ``com.docker.compose.config-hash`` of a normalised service (or network, or
    volume): SHA-256 of its JSON without the keys that do not shape a container (scale,
    profiles...); resource limits under ``deploy`` count."""
    data = {k: v for k, v in svc.items() if k not in _UNHASHED}
    data["deploy.resources"] = (svc.get("deploy") or {}).get("resources")
    import hashlib  # only up and config need it (with OpenSSL, a cost at every start)

    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def image_name(project: Project, service: str) -> str:
    """The service's image: its ``image``, else ``<project>-<service>`` (what Compose v2
    tags a built image as)."""
    return str(project.services[service].get("image") or f"{project.name}-{service}")


def container_name(project: Project, service: str, number: int) -> str:
    """``<project>-<service>-<n>``, or the service's ``container_name``."""
    svc = project.services[service]
    return str(svc.get("container_name") or f"{project.name}-{service}-{number}")


def project_labels(project: Project) -> dict[str, str]:
    return {PROJECT_LABEL: project.name, VERSION_LABEL: VERSION}


def _exposed(svc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for p in svc.get("ports") or []:
        out[f"{p['target']}/{p.get('protocol', 'tcp')}"] = {}
    for e in svc.get("expose") or []:
        # Compose v2 sends an expose entry as written ("9000", "9001/udp"); a range, per port.
        port, slash, proto = str(e).partition("/")
        lo, dash, hi = port.partition("-")
        if not dash:
            out[str(e)] = {}
            continue
        for n in range(int(lo), int(hi) + 1):
            out[f"{n}{slash}{proto}"] = {}
    return out


def _capabilities(names: list[str] | None) -> list[str]:
    """Capability names as Compose v2 sends them: ``CAP_``-prefixed, upper case (``ALL``
    as it is)."""
    out = []
    for n in names or []:
        n = str(n).upper()
        out.append(n if n == "ALL" or n.startswith("CAP_") else f"CAP_{n}")
    return out


def _restart_policy(value: str | None, key: str) -> dict[str, Any]:
    if not value:
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = value.partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise ComposeError(f"{key}: invalid restart policy {value!r}")
    return {"Name": name, "MaximumRetryCount": int(count or 0)}


def _healthcheck(hc: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if not hc:
        return None
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    test = hc.get("test")
    if isinstance(test, str):
        out["Test"] = ["CMD-SHELL", test]
    elif test is not None:
        out["Test"] = list(test)
    for k, api in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start_period", "StartPeriod"),
        ("start_interval", "StartInterval"),
    ):
        if k in hc:
            out[api] = parse_duration(hc[k], f"{key}.healthcheck.{k}")
    if "retries" in hc:
        out["Retries"] = int(hc["retries"])
    return out


def _file_references(
    project: Project, service: str
) -> list[tuple[str, dict[str, Any], dict[str, Any], str]]:
    """The service's ``secrets`` and ``configs``: ``(kind, reference, definition,
    target)``, the target made absolute as Compose v2 does (a secret under
    ``/run/secrets/``, a config under ``/``)."""
    svc = project.services[service]
    out = []
    for kind, default_dir in (("secrets", "/run/secrets/"), ("configs", "/")):
        for ref in svc.get(kind) or []:
            obj = getattr(project, kind)[ref["source"]]
            target = str(ref.get("target") or ref["source"])
            if not target.startswith("/"):
                target = default_dir + target
            out.append((kind, ref, obj, target))
    return out


def injected_files(project: Project, service: str) -> list[tuple[str, bytes, int, int, int]]:
    """The secrets and configs of ``service`` whose source is ``environment`` or
    ``content``, as Compose v2 copies them into the container after create
    (docker/compose ``pkg/compose/secrets.go``): ``(target, data, mode, uid, gid)``,
    mode 0444 unless given. Raises ComposeError naming the key for a variable that is
    not set, or a ``read_only`` service (nothing can be copied into its root)."""
    key = f"services.{service}"
    svc = project.services[service]
    out = []
    for kind, ref, obj, target in _file_references(project, service):
        if "file" in obj:
            continue
        if "content" in obj:
            data = str(obj["content"])
        else:
            var = str(obj["environment"])
            if var not in project.environment:
                raise ComposeError(
                    f'environment variable "{var}" required by {kind[:-1]} '
                    f'"{ref["source"]}" is not set'
                )
            data = project.environment[var]
        if svc.get("read_only"):
            raise ComposeError(
                f'{key}.{kind}: cannot create {kind[:-1]} "{ref["source"]}" in read-only '
                f"service {service}: `file` is the sole supported option"
            )
        mode = ref.get("mode", 0o444)
        if isinstance(mode, str):
            try:
                mode = int(mode, 8)
            except ValueError:
                raise ComposeError(f"{key}.{kind}.mode: invalid file mode {mode!r}") from None
        ids = []
        for k in ("uid", "gid"):
            try:
                ids.append(int(ref.get(k) or 0))
            except ValueError:
                raise ComposeError(f"{key}.{kind}.{k}: not a number: {ref[k]!r}") from None
        out.append((target, data.encode(), int(mode), ids[0], ids[1]))
    return out


def create_request(
    project: Project,
    service: str,
    number: int,
    *,
    name: str | None = None,
    oneoff: bool = False,
    image_id: str = "",
    network_mode: str | None = None,
    overrides: dict[str, Any] | None = None,
    reuse: dict[str, str] | None = None,
    modes: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """The create request of container ``number`` of ``service``: ``(config,
    host_config, networking_config, more_networks)``; ``more_networks`` are ``(network
    name, EndpointSettings)`` to connect after create (the API's create takes one).
    ``name`` is the container's (default ``<project>-<service>-<n>``), its first network
    alias. ``network_mode`` is the resolved mode (``container:<id>`` for ``service:X``).
    ``overrides`` (``run``): ``command``, ``entrypoint``, ``environment``, ``tty``,
    ``stdin_open``, ``ports`` (None: no published ports), ``user``, ``working_dir``.
    ``reuse`` (target -> volume name): the anonymous volumes of the container this one
    replaces, mounted again at their targets (Compose keeps their data on recreate).
    ``modes``: ``ipc`` and ``pid`` resolved (``container:<id>`` for ``service:X``).
    Raises ComposeError naming the key for a value Dockyard cannot honour."""
    svc = dict(project.services[service])
    svc.update(overrides or {})
    key = f"services.{service}"
    labels: dict[str, str] = dict(svc.get("labels") or {})
    labels.update(project_labels(project))
    labels.update(
        {
            SERVICE_LABEL: service,
            NUMBER_LABEL: str(number),
            ONEOFF_LABEL: "True" if oneoff else "False",
            HASH_LABEL: config_hash(project.services[service]),
            FILES_LABEL: ",".join(project.config_files),
            WORKDIR_LABEL: project.working_dir,
            DEPENDS_LABEL: ",".join(
                f"{d}:{spec['condition']}:{str(spec['restart']).lower()}"
                for d, spec in (svc.get("depends_on") or {}).items()
            ),
        }
    )
    if image_id:
        labels[IMAGE_LABEL] = image_id
    env = [f"{k}={v}" for k, v in sorted((svc.get("environment") or {}).items())]
    stop_timeout = None
    if "stop_grace_period" in svc:
        stop_timeout = parse_duration(svc["stop_grace_period"], f"{key}.stop_grace_period") // 10**9
    config: dict[str, Any] = {
        "Image": image_name(project, service),
        "Cmd": svc.get("command"),
        "Entrypoint": svc.get("entrypoint"),
        "Env": env,
        "Labels": labels,
        "Hostname": svc.get("hostname", ""),
        "Domainname": svc.get("domainname", ""),
        "User": str(svc.get("user", "")),
        "WorkingDir": svc.get("working_dir", ""),
        "Tty": bool(svc.get("tty")),
        "OpenStdin": bool(svc.get("stdin_open")),
        "AttachStdin": bool(svc.get("stdin_open")) and oneoff,
        "AttachStdout": oneoff,
        "AttachStderr": oneoff,
        "StopSignal": svc.get("stop_signal", ""),
        "StopTimeout": stop_timeout,
        "ExposedPorts": _exposed(svc),
        "Healthcheck": _healthcheck(svc.get("healthcheck"), key),
        "MacAddress": svc.get("mac_address", ""),
    }
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for i, vol in enumerate(svc.get("volumes") or []):
        target = vol["target"]
        ro = bool(vol.get("read_only"))
        if vol["type"] == "bind":
            if (vol.get("bind") or {}).get("create_host_path", True):
                binds.append(f"{vol['source']}:{target}:{'ro' if ro else 'rw'}")
            else:
                mounts.append(
                    {"Type": "bind", "Source": vol["source"], "Target": target, "ReadOnly": ro}
                )
        elif vol["type"] == "volume":
            m: dict[str, Any] = {"Type": "volume", "Target": target, "ReadOnly": ro}
            if vol.get("source"):
                m["Source"] = project.volumes[vol["source"]]["name"]
            elif target in (reuse or {}):
                m["Source"] = (reuse or {})[target]
            if (vol.get("volume") or {}).get("nocopy"):
                m["VolumeOptions"] = {"NoCopy": True}
            mounts.append(m)
        else:
            tm: dict[str, Any] = {"Type": "tmpfs", "Target": target, "ReadOnly": ro}
            size = (vol.get("tmpfs") or {}).get("size")
            if size:
                tm["TmpfsOptions"] = {
                    "SizeBytes": parse_bytes(size, f"{key}.volumes.{i}.tmpfs.size")
                }
            mounts.append(tm)
    taken = {v["target"] for v in svc.get("volumes") or []}
    for target, volume in sorted((reuse or {}).items()):
        if target not in taken:  # an image's VOLUME
            mounts.append({"Type": "volume", "Source": volume, "Target": target, "ReadOnly": False})
    for kind, ref, obj, target in _file_references(project, service):
        if "file" not in obj:
            continue  # environment or content: copied in after create (injected_files)
        for k in ("uid", "gid", "mode"):
            if k in ref:
                raise ComposeError(
                    f"{key}.{kind}.{k}: not supported by Dockyard for a file {kind[:-1]} "
                    "(bind-mounted as it is)"
                )
        binds.append(f"{obj['file']}:{target}:ro")
    tmpfs = {}
    for t in svc.get("tmpfs") or []:
        path, _, opts = str(t).partition(":")
        tmpfs[path] = opts
    port_bindings: dict[str, list[dict[str, str]]] = {}
    for p in svc.get("ports") or []:
        port_bindings.setdefault(f"{p['target']}/{p.get('protocol', 'tcp')}", []).append(
            {"HostIp": p.get("host_ip", ""), "HostPort": str(p.get("published") or "")}
        )
    limits = ((svc.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    memory = limits.get("memory", svc.get("mem_limit"))
    cpus = limits.get("cpus", svc.get("cpus"))
    pids = limits.get("pids", svc.get("pids_limit"))
    restart = svc.get("restart")
    policy = (svc.get("deploy") or {}).get("restart_policy")
    if policy:
        cond = {"none": "no", "on-failure": "on-failure", "any": "always"}[
            policy.get("condition", "any")
        ]
        restart = cond + (f":{policy['max_attempts']}" if "max_attempts" in policy else "")
    host_config: dict[str, Any] = {
        "Binds": binds,
        "Mounts": mounts,
        "Tmpfs": tmpfs,
        "PortBindings": port_bindings,
        "RestartPolicy": _restart_policy(restart, f"{key}.restart"),
        "Init": svc.get("init"),
        "Privileged": bool(svc.get("privileged")),
        "CapAdd": _capabilities(svc.get("cap_add")),
        "CapDrop": _capabilities(svc.get("cap_drop")),
        "ReadonlyRootfs": bool(svc.get("read_only")),
        "SecurityOpt": list(svc.get("security_opt") or []),
        "Dns": list(svc.get("dns") or []),
        "DnsSearch": list(svc.get("dns_search") or []),
        "DnsOptions": list(svc.get("dns_opt") or []),
        "ExtraHosts": [f"{h}:{ip}" for h, ip in (svc.get("extra_hosts") or {}).items()],
        "Ulimits": [
            {"Name": n, "Soft": v["soft"], "Hard": v["hard"]}
            for n, v in (svc.get("ulimits") or {}).items()
        ],
        "Memory": parse_bytes(memory, f"{key}.deploy.resources.limits.memory") if memory else 0,
        "MemorySwap": parse_bytes(svc["memswap_limit"], f"{key}.memswap_limit")
        if svc.get("memswap_limit")
        else 0,
        "NanoCpus": int(float(cpus) * 1e9) if cpus else 0,
        "CpuShares": int(svc.get("cpu_shares") or 0),
        "PidsLimit": int(pids) if pids else 0,
        "CgroupParent": svc.get("cgroup_parent", ""),
        "ShmSize": parse_bytes(svc["shm_size"], f"{key}.shm_size") if svc.get("shm_size") else 0,
        "Sysctls": dict(svc.get("sysctls") or {}),
        "Devices": [
            {
                "PathOnHost": d["source"],
                "PathInContainer": d["target"],
                "CgroupPermissions": d.get("permissions", "rwm"),
            }
            for d in svc.get("devices") or []
        ],
        "IpcMode": (modes or {}).get("ipc", svc.get("ipc", "")),
        "PidMode": (modes or {}).get("pid", svc.get("pid", "")),
        "Runtime": svc.get("runtime") or "dockyard",
        "NetworkMode": network_mode or "default",
    }
    endpoints: list[tuple[str, dict[str, Any]]] = []
    if network_mode is None:
        nets = svc.get("networks") or {}
        ordered = sorted(nets, key=lambda n: (-int((nets[n] or {}).get("priority", 0)), n))
        for n in ordered:
            spec = nets[n] or {}
            for k in spec:
                if k not in (
                    "aliases",
                    "ipv4_address",
                    "ipv6_address",
                    "link_local_ips",
                    "priority",
                ):
                    raise ComposeError(f"{key}.networks.{n}.{k} is not supported by Dockyard")
            # As Compose v2: the container's name, the service's, then the aliases.
            cname = name or container_name(project, service, number)
            settings: dict[str, Any] = {"Aliases": [cname, service, *spec.get("aliases", [])]}
            ipam = {
                key: spec[k]
                for k, key in (
                    ("ipv4_address", "IPv4Address"),
                    ("ipv6_address", "IPv6Address"),
                    ("link_local_ips", "LinkLocalIPs"),
                )
                if spec.get(k)
            }
            if ipam:
                settings["IPAMConfig"] = ipam
            endpoints.append((project.networks[n]["name"], settings))
        if endpoints:
            host_config["NetworkMode"] = endpoints[0][0]
    networking = {"EndpointsConfig": dict(endpoints[:1])}
    return config, host_config, networking, endpoints[1:]
