"""``POST /containers/create``'s request (Config, HostConfig, NetworkingConfig; Engine API
v1.51) checked and turned into the container manager's CreateOptions.

Fields Dockyard implements are mapped; any other field is accepted only at its zero value
or Docker's default (the docker CLI sends every HostConfig field), and refused otherwise:
a setting Dockyard cannot honour is never silently dropped. Unknown keys are ignored, as
the daemon's JSON decoding ignores them.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.container.options import CreateOptions

# HostConfig fields Dockyard does not implement, with the values that mean "not set"
# besides zero values (None, 0, "", false, empty lists and objects).
_HOST_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "ContainerIDFile": (),  # the client's own file: any value
    "ConsoleSize": (),  # the client's terminal size at create: any value
    "Isolation": ("default",),
    "VolumeDriver": ("local",),  # the only driver: the default
}
_ANY_VALUE = {"ContainerIDFile", "ConsoleSize"}
_HOST_MAPPED = {
    "Binds",
    "VolumeDriver",
    "Mounts",
    "Tmpfs",
    "VolumesFrom",
    "NetworkMode",
    "PortBindings",
    "PublishAllPorts",
    "Dns",
    "DnsOptions",
    "DnsSearch",
    "ExtraHosts",
    "Links",
    "Privileged",
    "CapAdd",
    "CapDrop",
    "ReadonlyRootfs",
    "SecurityOpt",
    "Ulimits",
    "Memory",
    "MemorySwap",
    "NanoCpus",
    "CpuShares",
    "PidsLimit",
    "CgroupParent",
    "Runtime",
    "AutoRemove",
    "Init",
    "RestartPolicy",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "BlkioWeight",
    "MemoryReservation",
    "MemorySwappiness",
    "OomKillDisable",
    "OomScoreAdj",
    "Devices",
    "DeviceCgroupRules",
    "GroupAdd",
    "ShmSize",
    "Sysctls",
    "Annotations",
    "LogConfig",
    "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps",
    "BlkioDeviceReadIOps",
    "BlkioDeviceWriteIOps",
    "BlkioWeightDevice",
    "IpcMode",
    "PidMode",
    "UTSMode",
    "CgroupnsMode",
    "UsernsMode",
}
# Fields no Linux host of Dockyard's can honour: refused with the daemon's messages.
_HOST_REFUSED = {
    "KernelMemory": "Specifying a kernel memory limit is not supported: kernels since 6.1 "
    "have no kernel memory limits (Docker deprecated --kernel-memory and ignores it since API 1.42)",
    "DeviceRequests": 'could not select device driver "" with capabilities: [[gpu]]',
    "StorageOpt": "--storage-opt is supported only for overlay over xfs with 'pquota' mount option",
    # Windows-only limits. dockerd ignores CPUCount and drops CPUPercent with a warning on
    # Linux; Dockyard refuses what it cannot honour.
    "CPUCount": "linux does not support CPU count (a Windows container limit)",
    "CPUPercent": "linux does not support CPU percent (a Windows container limit)",
    "IOMaximumBandwidth": "Invalid QoS settings: linux does not support Maximum IO Bandwidth "
    "or Maximum IO IOps",
    "IOMaximumIOps": "Invalid QoS settings: linux does not support Maximum IO Bandwidth "
    "or Maximum IO IOps",
}
# Config fields that only images use, or only Windows: ignored as Docker ignores them.
_CONFIG_IGNORED = {"OnBuild", "Shell", "ArgsEscaped"}
_CONFIG_MAPPED = {
    "Hostname",
    "Domainname",
    "User",
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "ExposedPorts",
    "Tty",
    "OpenStdin",
    "StdinOnce",
    "Env",
    "Cmd",
    "Healthcheck",
    "Image",
    "Volumes",
    "WorkingDir",
    "Entrypoint",
    "NetworkDisabled",
    "MacAddress",
    "Labels",
    "StopSignal",
    "StopTimeout",
}
_ENDPOINT_MAPPED = {"IPAMConfig", "Aliases", "MacAddress", "Links", "DriverOpts", "GwPriority"}
_ENDPOINT_OPTIONS = ("Links", "DriverOpts", "GwPriority")


def _is_zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_is_zero(v) for v in value.values())
    return value in (None, 0, "", False, [], [0, 0])


def _unset(key: str, value: Any) -> bool:
    if key in _ANY_VALUE or _is_zero(value):
        return True
    return value in _HOST_DEFAULTS.get(key, ())


def _strings(value: Any, field: str) -> list[str] | None:
    """A strslice field (``Cmd``, ``Entrypoint``): a list of strings, one string, or
    null."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InvalidArgument(f"json: cannot unmarshal {field}: a string or an array of strings")


def link_local_ips(value: Any) -> list[str]:
    """``IPAMConfig.LinkLocalIPs`` as a list of strings. Raises InvalidArgument for
    another type."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument("json: cannot unmarshal LinkLocalIPs: an array of strings")
    return list(value)


def _makes_volumes(config: dict[str, Any], hc: dict[str, Any]) -> bool:
    """Whether the create names a volume (anonymous or named: Config.Volumes, a Binds
    entry whose source is not a host path, a Mounts entry of type volume), for which the
    volume driver would be looked up."""
    if not isinstance(config, dict):
        return False
    if config.get("Volumes"):
        return True
    for bind in hc.get("Binds") or []:
        if isinstance(bind, str) and not (bind.startswith("/") and ":" in bind):
            return True
    return any(isinstance(m, dict) and m.get("Type") == "volume" for m in hc.get("Mounts") or [])


def create_options(
    config: dict[str, Any],
    host_config: dict[str, Any] | None,
    networking_config: dict[str, Any] | None,
    name: str | None,
) -> CreateOptions:
    """The CreateOptions of a create request. Raises InvalidArgument for a malformed or
    unsupported field (its name in the message)."""
    from dockyard.container.options import CreateOptions

    if not isinstance(config, dict):
        raise InvalidArgument("config: must be an object")
    hc: dict[str, Any] = host_config or {}
    for key, value in hc.items():
        if key in _HOST_REFUSED and not _is_zero(value):
            raise InvalidArgument(_HOST_REFUSED[key])
        if key == "VolumeDriver" and not _unset(key, value) and _makes_volumes(config, hc):
            # moby volume service: no plugin by that name (asked only for a volume).
            raise InvalidArgument(
                f'error looking up volume plugin {value}: plugin "{value}" not found'
            )
        if key == "Isolation" and not _unset(key, value):
            # moby runconfig validateIsolation.
            raise InvalidArgument(f"Invalid isolation: \"{value}\" - linux only supports 'default'")
        if key not in _HOST_MAPPED and not _unset(key, value):
            raise InvalidArgument(f"HostConfig.{key} is not supported by Dockyard")
    if config.get("NetworkDisabled"):
        raise InvalidArgument("Config.NetworkDisabled is not supported by Dockyard")
    image = config.get("Image")
    if not image or not isinstance(image, str):
        raise InvalidArgument("Config.Image: an image must be given")
    mode = hc.get("NetworkMode") or "default"
    if mode == "default":
        mode = "bridge"
    endpoints = dict((networking_config or {}).get("EndpointsConfig") or {})
    first = endpoints.pop(mode, None) or endpoints.pop("default", None) or {}
    # Several networks (API 1.44+, Compose's services on several networks): each one's
    # aliases, address and MAC apply to its own endpoint, attached in order.
    for net, settings in [(mode, first), *endpoints.items()]:
        for key, value in (settings or {}).items():
            if key in _ENDPOINT_MAPPED:
                continue
            if not _is_zero(value):
                raise InvalidArgument(
                    f"NetworkingConfig.EndpointsConfig.{net}.{key} is not supported by Dockyard"
                )
    ipam = first.get("IPAMConfig") or {}
    extra_endpoints = {
        net: {
            "ip": ((settings or {}).get("IPAMConfig") or {}).get("IPv4Address") or None,
            "aliases": list((settings or {}).get("Aliases") or []),
            "mac": (settings or {}).get("MacAddress") or None,
            "options": {k: (settings or {}).get(k) for k in _ENDPOINT_OPTIONS},
            "ip6": ((settings or {}).get("IPAMConfig") or {}).get("IPv6Address") or None,
            "link_local": link_local_ips(
                ((settings or {}).get("IPAMConfig") or {}).get("LinkLocalIPs")
            ),
        }
        for net, settings in endpoints.items()
    }
    stop_signal = config.get("StopSignal") or None
    if stop_signal is not None:
        from dockyard.sysignal import parse_signal

        parse_signal(str(stop_signal))
    env = config.get("Env") or []
    if not isinstance(env, list) or not all(isinstance(e, str) for e in env):
        raise InvalidArgument("Config.Env: an array of strings")
    restart = dict(hc.get("RestartPolicy") or {})
    restart["Name"] = restart.get("Name") or "no"
    restart.setdefault("MaximumRetryCount", 0)
    nano = hc.get("NanoCpus") or 0
    binds = list(hc.get("Binds") or [])
    volumes = [*binds, *(p for p in config.get("Volumes") or {} if p not in binds)]
    return CreateOptions(
        image=image,
        command=_strings(config.get("Cmd"), "Cmd") or [],
        entrypoint=_strings(config.get("Entrypoint"), "Entrypoint"),
        name=name or None,
        env=list(env),
        workdir=config.get("WorkingDir") or None,
        user=config.get("User") or None,
        hostname=config.get("Hostname") or None,
        labels=dict(config.get("Labels") or {}),
        network=mode,
        extra_networks=list(endpoints),
        extra_endpoints=extra_endpoints,
        ip=ipam.get("IPv4Address") or None,
        ip6=ipam.get("IPv6Address") or None,
        link_local_ips=link_local_ips(ipam.get("LinkLocalIPs")),
        network_aliases=list(first.get("Aliases") or []),
        mac_address=first.get("MacAddress") or config.get("MacAddress") or None,
        endpoint_options={k: first.get(k) for k in _ENDPOINT_OPTIONS},
        add_hosts=list(hc.get("ExtraHosts") or []),
        dns=list(hc.get("Dns") or []),
        dns_search=list(hc.get("DnsSearch") or []),
        dns_options=list(hc.get("DnsOptions") or []),
        links=list(hc.get("Links") or []),
        tty=bool(config.get("Tty")),
        interactive=bool(config.get("OpenStdin")),
        attach_stdin=bool(config.get("AttachStdin")),
        attach_stdout=bool(config.get("AttachStdout")),
        attach_stderr=bool(config.get("AttachStderr")),
        stdin_once=bool(config.get("StdinOnce")),
        privileged=bool(hc.get("Privileged")),
        cap_add=list(hc.get("CapAdd") or []),
        cap_drop=list(hc.get("CapDrop") or []),
        read_only=bool(hc.get("ReadonlyRootfs")),
        security_opt=list(hc.get("SecurityOpt") or []),
        ulimits=list(hc.get("Ulimits") or []),
        memory=int(hc.get("Memory") or 0),
        memory_swap=int(hc.get("MemorySwap") or 0),
        cpus=nano / 1e9,
        cpu_shares=int(hc.get("CpuShares") or 0),
        pids_limit=int(hc.get("PidsLimit") or 0),
        cgroup_parent=hc.get("CgroupParent") or "",
        runtime=hc.get("Runtime") or "dockyard",
        auto_remove=bool(hc.get("AutoRemove")),
        init=bool(hc.get("Init")),
        restart_policy=restart,
        stop_signal=stop_signal,
        stop_timeout=config.get("StopTimeout"),
        healthcheck=config.get("Healthcheck"),
        exposed_ports=[_port_key(k) for k in config.get("ExposedPorts") or {}],
        port_bindings=dict(hc.get("PortBindings") or {}),
        publish_all=bool(hc.get("PublishAllPorts")),
        volumes=volumes,
        mounts=list(hc.get("Mounts") or []),
        tmpfs=dict(hc.get("Tmpfs") or {}),
        volumes_from=list(hc.get("VolumesFrom") or []),
        domainname=config.get("Domainname") or "",
        cpu_period=int(hc.get("CpuPeriod") or 0),
        cpu_quota=int(hc.get("CpuQuota") or 0),
        cpu_rt_period=int(hc.get("CpuRealtimePeriod") or 0),
        cpu_rt_runtime=int(hc.get("CpuRealtimeRuntime") or 0),
        cpuset_cpus=hc.get("CpusetCpus") or "",
        cpuset_mems=hc.get("CpusetMems") or "",
        blkio_weight=int(hc.get("BlkioWeight") or 0),
        memory_reservation=int(hc.get("MemoryReservation") or 0),
        memory_swappiness=_swappiness(hc.get("MemorySwappiness")),
        oom_kill_disable=bool(hc.get("OomKillDisable")),
        oom_score_adj=int(hc.get("OomScoreAdj") or 0),
        devices=[_device(d) for d in hc.get("Devices") or []],
        device_cgroup_rules=[str(r) for r in hc.get("DeviceCgroupRules") or []],
        group_add=[str(g) for g in hc.get("GroupAdd") or []],
        shm_size=int(hc.get("ShmSize") or 0),
        sysctls={str(k): str(v) for k, v in (hc.get("Sysctls") or {}).items()},
        annotations={str(k): str(v) for k, v in (hc.get("Annotations") or {}).items()},
        log_config=dict(hc.get("LogConfig") or {}),
        isolation=str(hc.get("Isolation") or ""),
        volume_driver=str(hc.get("VolumeDriver") or ""),
        weight_devices=[_weight_device(d) for d in hc.get("BlkioWeightDevice") or []],
        throttle={
            key: [_throttle(key, t) for t in hc.get(key) or []]
            for key in (
                "BlkioDeviceReadBps",
                "BlkioDeviceWriteBps",
                "BlkioDeviceReadIOps",
                "BlkioDeviceWriteIOps",
            )
            if hc.get(key)
        },
        ipc_mode=str(hc.get("IpcMode") or ""),
        pid_mode=str(hc.get("PidMode") or ""),
        uts_mode=str(hc.get("UTSMode") or ""),
        cgroupns_mode=str(hc.get("CgroupnsMode") or ""),
        userns_mode=str(hc.get("UsernsMode") or ""),
    )


def _port_key(key: str) -> str:
    """An ExposedPorts key as ``"<port>/<proto>"``: ``"9000"`` is ``"9000/tcp"``
    (nat.SplitProtoPort; Compose sends expose entries as written). Raises
    InvalidArgument (moby's ``invalid port specification``) for a bad port."""
    from dockyard.nat import parse_port_range, split_proto_port

    proto, port = split_proto_port(str(key))
    try:
        parse_port_range(port)
    except ValueError:
        raise InvalidArgument(f'invalid port specification: "{port}"') from None
    return f"{port}/{proto}"


def _throttle(key: str, value: Any) -> dict[str, Any]:
    """A HostConfig ThrottleDevice {Path, Rate}."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("Path"), str)
        or not isinstance(value.get("Rate"), int)
        or value["Rate"] < 0
    ):
        raise InvalidArgument(f"HostConfig.{key}: objects with a Path and a Rate >= 0")
    return {"Path": value["Path"], "Rate": value["Rate"]}


def _weight_device(value: Any) -> dict[str, Any]:
    """A HostConfig WeightDevice {Path, Weight}."""
    if (
        not isinstance(value, dict)
        or not isinstance(value.get("Path"), str)
        or not isinstance(value.get("Weight"), int)
    ):
        raise InvalidArgument("HostConfig.BlkioWeightDevice: objects with a Path and a Weight")
    return {"Path": value["Path"], "Weight": value["Weight"]}


def _swappiness(value: Any) -> int | None:
    """HostConfig.MemorySwappiness: None or -1 is unset (the kernel's default)."""
    return None if value is None or int(value) == -1 else int(value)


def _device(value: Any) -> dict[str, str]:
    """A HostConfig DeviceMapping {PathOnHost, PathInContainer, CgroupPermissions}."""
    if not isinstance(value, dict) or not isinstance(value.get("PathOnHost"), str):
        raise InvalidArgument("HostConfig.Devices: objects with a PathOnHost")
    host = value["PathOnHost"]
    return {
        "PathOnHost": host,
        "PathInContainer": value.get("PathInContainer") or host,
        "CgroupPermissions": value.get("CgroupPermissions") or "rwm",
    }


# UpdateConfig fields ``docker update`` changes (moby container.UpdateContainer).
_UPDATABLE = (
    "BlkioWeight",
    "CpuShares",
    "NanoCpus",
    "CpuPeriod",
    "CpuQuota",
    "CpuRealtimePeriod",
    "CpuRealtimeRuntime",
    "CpusetCpus",
    "CpusetMems",
    "Memory",
    "MemoryReservation",
    "MemorySwap",
    "PidsLimit",
)


def update_request(update: Any) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """``POST /containers/{id}/update``'s body as (HostConfig resource fields to change,
    RestartPolicy or None). A field left at its zero value is unchanged; any other
    Resources field that is set is refused (moby ignores those: accept-and-ignore).
    Raises InvalidArgument."""
    if not isinstance(update, dict):
        raise InvalidArgument("update: must be an object")
    if update.get("KernelMemory"):
        raise InvalidArgument(_HOST_REFUSED["KernelMemory"])
    resources: dict[str, Any] = {}
    for key, value in update.items():
        if key == "RestartPolicy":
            continue
        if key in _UPDATABLE:
            if key in ("CpusetCpus", "CpusetMems"):
                if not isinstance(value, str | None):
                    raise InvalidArgument(f"{key}: must be a string")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                raise InvalidArgument(f"{key}: must be an integer")
            if value:
                resources[key] = value
        elif not _is_zero(value) and value not in _HOST_DEFAULTS.get(key, ()) + (-1,):
            raise InvalidArgument(f"{key} cannot be changed by docker update in Dockyard")
    policy = update.get("RestartPolicy")
    if policy is not None and not isinstance(policy, dict):
        raise InvalidArgument("RestartPolicy: must be an object")
    if policy and policy.get("Name"):
        policy = {"Name": policy["Name"], "MaximumRetryCount": policy.get("MaximumRetryCount") or 0}
    else:
        policy = None
    return resources, policy
