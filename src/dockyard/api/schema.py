"""Type checks of request bodies, as Go's ``encoding/json`` does them when moby decodes a
body into the API's structs: a value of the wrong JSON type is a 400 ``invalid JSON: json:
cannot unmarshal <kind> into Go struct field <Struct>.<Field> of type <type>``; ``null``
is every type's zero value; unknown fields are ignored (as Go ignores them); a field
named in another case is the struct's field (Go's case-insensitive match), renamed.

Only the decoding is checked here; what the values mean is the facade's to validate.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import InvalidArgument

# Type codes (Go's type names, used in the message): "string", "bool", "int64", "int",
# "uint16", "[]string", "strslice" (a string or []string: Docker's StrSlice),
# "map[string]string", "object" (any JSON object), "[]object", "[2]uint"; a nested Spec
# is a struct, ("[]", Spec) an array of structs, ("map", Spec) an object of structs.
Spec = dict[str, Any]

_INT_RANGES = {
    "int": (-(2**63), 2**63 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint16": (0, 2**16 - 1),
    "uint": (0, 2**64 - 1),
}

HEALTHCHECK: Spec = {
    "Test": "[]string",
    "Interval": "int64",
    "Timeout": "int64",
    "Retries": "int",
    "StartPeriod": "int64",
    "StartInterval": "int64",
}

CONFIG: Spec = {
    "Hostname": "string",
    "Domainname": "string",
    "User": "string",
    "AttachStdin": "bool",
    "AttachStdout": "bool",
    "AttachStderr": "bool",
    "ExposedPorts": "object",
    "Tty": "bool",
    "OpenStdin": "bool",
    "StdinOnce": "bool",
    "Env": "[]string",
    "Cmd": "strslice",
    "Healthcheck": HEALTHCHECK,
    "ArgsEscaped": "bool",
    "Image": "string",
    "Volumes": "object",
    "WorkingDir": "string",
    "Entrypoint": "strslice",
    "NetworkDisabled": "bool",
    "MacAddress": "string",
    "OnBuild": "[]string",
    "Labels": "map[string]string",
    "StopSignal": "string",
    "StopTimeout": "int",
    "Shell": "strslice",
}

HOST_CONFIG: Spec = {
    "Binds": "[]string",
    "ContainerIDFile": "string",
    "LogConfig": {"Type": "string", "Config": "map[string]string"},
    "NetworkMode": "string",
    "PortBindings": "object",
    "RestartPolicy": {"Name": "string", "MaximumRetryCount": "int"},
    "AutoRemove": "bool",
    "VolumeDriver": "string",
    "VolumesFrom": "[]string",
    "ConsoleSize": "[2]uint",
    "Annotations": "map[string]string",
    "CapAdd": "strslice",
    "CapDrop": "strslice",
    "CgroupnsMode": "string",
    "Dns": "[]string",
    "DnsOptions": "[]string",
    "DnsSearch": "[]string",
    "ExtraHosts": "[]string",
    "GroupAdd": "[]string",
    "IpcMode": "string",
    "Cgroup": "string",
    "Links": "[]string",
    "OomScoreAdj": "int",
    "PidMode": "string",
    "Privileged": "bool",
    "PublishAllPorts": "bool",
    "ReadonlyRootfs": "bool",
    "SecurityOpt": "[]string",
    "StorageOpt": "map[string]string",
    "Tmpfs": "map[string]string",
    "UTSMode": "string",
    "UsernsMode": "string",
    "ShmSize": "int64",
    "Sysctls": "map[string]string",
    "Runtime": "string",
    "Isolation": "string",
    "CpuShares": "int64",
    "Memory": "int64",
    "NanoCpus": "int64",
    "CgroupParent": "string",
    "BlkioWeight": "uint16",
    "CpuPeriod": "int64",
    "CpuQuota": "int64",
    "CpuRealtimePeriod": "int64",
    "CpuRealtimeRuntime": "int64",
    "CpusetCpus": "string",
    "CpusetMems": "string",
    "Devices": "[]object",
    "DeviceCgroupRules": "[]string",
    "KernelMemory": "int64",
    "KernelMemoryTCP": "int64",
    "MemoryReservation": "int64",
    "MemorySwap": "int64",
    "MemorySwappiness": "int64",
    "OomKillDisable": "bool",
    "PidsLimit": "int64",
    "Ulimits": "[]object",
    "CpuCount": "int64",
    "CpuPercent": "int64",
    "Init": "bool",
    "Mounts": "[]object",
    "MaskedPaths": "[]string",
    "ReadonlyPaths": "[]string",
}

#: EndpointSettings (container create's NetworkingConfig.EndpointsConfig values, network
#: connect's EndpointConfig): the fields a client sends and those inspect shows.
ENDPOINT_SETTINGS: Spec = {
    "IPAMConfig": {"IPv4Address": "string", "IPv6Address": "string", "LinkLocalIPs": "[]string"},
    "Links": "[]string",
    "Aliases": "[]string",
    "DriverOpts": "map[string]string",
    "GwPriority": "int",
    "MacAddress": "string",
    "NetworkID": "string",
    "EndpointID": "string",
    "Gateway": "string",
    "IPAddress": "string",
    "IPPrefixLen": "int",
    "IPv6Gateway": "string",
    "GlobalIPv6Address": "string",
    "GlobalIPv6PrefixLen": "int",
    "DNSNames": "[]string",
}

NETWORKING_CONFIG: Spec = {"EndpointsConfig": ("map", ENDPOINT_SETTINGS)}

CREATE_REQUEST: Spec = {
    **CONFIG,
    "HostConfig": HOST_CONFIG,
    "NetworkingConfig": NETWORKING_CONFIG,
}

#: UpdateConfig: the Resources part of HostConfig and RestartPolicy.
UPDATE_CONFIG: Spec = {
    key: HOST_CONFIG[key]
    for key in (
        "CpuShares", "Memory", "CgroupParent", "BlkioWeight", "CpuPeriod", "CpuQuota",
        "CpuRealtimePeriod", "CpuRealtimeRuntime", "CpusetCpus", "CpusetMems", "Devices",
        "DeviceCgroupRules", "KernelMemory", "KernelMemoryTCP", "MemoryReservation",
        "MemorySwap", "MemorySwappiness", "NanoCpus", "OomKillDisable", "PidsLimit",
        "Ulimits", "CpuCount", "CpuPercent", "RestartPolicy",
    )
}  # fmt: skip

NETWORK_CREATE: Spec = {
    "Name": "string",
    "Driver": "string",
    "Scope": "string",
    "Internal": "bool",
    "Attachable": "bool",
    "Ingress": "bool",
    "ConfigOnly": "bool",
    "ConfigFrom": "object",
    "EnableIPv4": "bool",
    "EnableIPv6": "bool",
    "CheckDuplicate": "bool",
    "IPAM": {
        "Driver": "string",
        "Config": (
            "[]",
            {
                "Subnet": "string",
                "IPRange": "string",
                "Gateway": "string",
                "AuxiliaryAddresses": "map[string]string",
            },
        ),
        "Options": "map[string]string",
    },
    "Options": "map[string]string",
    "Labels": "map[string]string",
}

VOLUME_CREATE: Spec = {
    "Name": "string",
    "Driver": "string",
    "DriverOpts": "map[string]string",
    "Labels": "map[string]string",
    "ClusterVolumeSpec": "object",
}

EXEC_CONFIG: Spec = {
    "AttachStdin": "bool",
    "AttachStdout": "bool",
    "AttachStderr": "bool",
    "ConsoleSize": "[2]uint",
    "DetachKeys": "string",
    "Tty": "bool",
    "Env": "[]string",
    "Cmd": "strslice",
    "Privileged": "bool",
    "User": "string",
    "WorkingDir": "string",
}

EXEC_START: Spec = {"Detach": "bool", "Tty": "bool", "ConsoleSize": "[2]uint"}

AUTH_CONFIG: Spec = {
    "username": "string",
    "password": "string",
    "email": "string",
    "serveraddress": "string",
    "auth": "string",
    "identitytoken": "string",
    "registrytoken": "string",
}

NETWORK_CONNECT: Spec = {"Container": "string", "EndpointConfig": ENDPOINT_SETTINGS}
NETWORK_DISCONNECT: Spec = {"Container": "string", "Force": "bool"}


def _kind(value: Any, gotype: str) -> str:
    """Go's name for a JSON value in an UnmarshalTypeError: ``string``, ``bool``,
    ``array``, ``object``, ``number`` (``number 1.5`` when it does not fit an integer)."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {value}" if gotype in _INT_RANGES else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fail(value: Any, where: str, gotype: str) -> None:
    raise InvalidArgument(
        f"invalid JSON: json: cannot unmarshal {_kind(value, gotype)} into Go struct field "
        f"{where} of type {gotype}"
    )


def _check(value: Any, spec: Spec | tuple[str, Spec] | str, where: str) -> None:
    if value is None:
        return
    if isinstance(spec, tuple):
        kind, struct = spec
        if kind == "[]" and not isinstance(value, list):
            _fail(value, where, "[]struct")
        if kind == "map" and not isinstance(value, dict):
            _fail(value, where, "map[string]struct")
        for item in value if kind == "[]" else value.values():
            _check(item, struct, where)
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            _fail(value, where, "struct")
        # Go matches field names case-insensitively when no key matches exactly
        # (docker-py sends ExecConfig's DetachKeys as "detachKeys").
        folded = {key.lower(): key for key in spec}
        for key in [k for k in value if k not in spec and k.lower() in folded]:
            value.setdefault(folded[key.lower()], value.pop(key))
        for key, sub in spec.items():
            if key in value:
                _check(value[key], sub, f"{where}.{key}")
        return
    if spec == "string":
        ok = isinstance(value, str)
    elif spec == "bool":
        ok = isinstance(value, bool)
    elif spec in _INT_RANGES:
        low, high = _INT_RANGES[spec]
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
    elif spec == "[]string":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
    elif spec == "strslice":
        ok = isinstance(value, str) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
    elif spec == "map[string]string":
        ok = isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    elif spec == "object":
        ok = isinstance(value, dict)
    elif spec == "[]object":
        ok = isinstance(value, list) and all(isinstance(v, dict) for v in value)
    elif spec == "[2]uint":
        ok = isinstance(value, list) and all(
            isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value
        )
    else:  # pragma: no cover - a typo in the tables above
        raise AssertionError(spec)
    if not ok:
        if isinstance(value, list) and spec in ("[]string", "strslice"):
            # Go names the element that failed.
            bad = next((v for v in value if not isinstance(v, str)), value)
            _fail(bad, where, "string")
        if isinstance(value, dict) and spec == "map[string]string":
            bad = next(v for v in value.values() if not isinstance(v, str))
            _fail(bad, where, "string")
        _fail(value, where, "[]string" if spec == "strslice" else spec)


def check(body: Any, spec: Spec, struct: str) -> dict[str, Any]:
    """``body`` (a decoded JSON value) checked against ``spec``; returns it as a dict.
    Raises InvalidArgument with Go's message naming ``struct.Field``."""
    if not isinstance(body, dict):
        kind = _kind(body, "").split()[0]
        raise InvalidArgument(
            f"invalid JSON: json: cannot unmarshal {kind} into Go value of type {struct}"
        )
    _check(body, spec, struct)
    return body


def create_request(body: Any) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """``POST /containers/create``'s body split into (Config, HostConfig,
    NetworkingConfig), each type-checked (absent ones are {})."""
    body = check(body, CREATE_REQUEST, "CreateRequest")
    # Fields the API does not define are dropped, as Go's decoding into moby's structs
    # drops them (the engine refuses the defined ones it cannot honour).
    config = {
        k: v
        for k, v in body.items()
        if k in CREATE_REQUEST and k not in ("HostConfig", "NetworkingConfig")
    }
    host_config = body.get("HostConfig") or {}
    if isinstance(host_config, dict):
        known = HOST_CONFIG.keys() | _HOST_CONFIG_UNCHECKED
        host_config = {k: v for k, v in host_config.items() if k in known}
    return config, host_config, body.get("NetworkingConfig") or {}


#: HostConfig fields of the API (v1.51's swagger) not type-checked by HOST_CONFIG: kept
#: for the engine, which refuses them when set.
_HOST_CONFIG_UNCHECKED = frozenset(
    {
        "BlkioDeviceReadBps",
        "BlkioDeviceReadIOps",
        "BlkioDeviceWriteBps",
        "BlkioDeviceWriteIOps",
        "BlkioWeightDevice",
        "DeviceRequests",
        "IOMaximumBandwidth",
        "IOMaximumIOps",
    }
)


def network_create(body: Any) -> dict[str, Any]:
    """``POST /networks/create``'s body (NetworkCreateRequest), type-checked."""
    return check(body, NETWORK_CREATE, "CreateRequest")


def network_connect(body: Any) -> dict[str, Any]:
    """``POST /networks/{id}/connect``'s body, type-checked; ``Container`` required."""
    body = check(body, NETWORK_CONNECT, "ConnectRequest")
    if not body.get("Container"):
        raise InvalidArgument("container ID or name must be specified")
    return body


def network_disconnect(body: Any) -> dict[str, Any]:
    """``POST /networks/{id}/disconnect``'s body, type-checked; ``Container`` required."""
    body = check(body, NETWORK_DISCONNECT, "DisconnectRequest")
    if not body.get("Container"):
        raise InvalidArgument("container ID or name must be specified")
    return body


def volume_create(body: Any) -> dict[str, Any]:
    """``POST /volumes/create``'s body (VolumeCreateOptions), type-checked."""
    return check(body, VOLUME_CREATE, "CreateOptions")


def exec_config(body: Any) -> dict[str, Any]:
    """``POST /containers/{id}/exec``'s body (ExecConfig), type-checked; ``Cmd`` required
    (moby's "No exec command specified")."""
    body = check(body, EXEC_CONFIG, "ExecOptions")
    if not body.get("Cmd"):
        raise InvalidArgument("No exec command specified")
    return body


def exec_start(body: Any) -> dict[str, Any]:
    """``POST /exec/{id}/start``'s body (ExecStartConfig), type-checked."""
    return check(body if body is not None else {}, EXEC_START, "ExecStartOptions")


def check_platform(platform: str) -> None:
    """A ``platform`` query parameter (``os[/arch[/variant]]``): only this machine's
    (``linux``, ``linux/<arch>``) can be honoured; InvalidArgument for another."""
    if not platform:
        return
    import platform as host

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(host.machine(), host.machine())
    if platform not in ("linux", f"linux/{arch}"):
        raise InvalidArgument(
            f"platform {platform!r} is not supported: Dockyard runs linux/{arch} only"
        )
