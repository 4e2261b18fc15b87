"""``create``/``run`` resource, device and kernel flags turned into Config and HostConfig
fields, as docker/cli's ``cli/command/container/opts.go`` ``parse`` and its ``opts``
validators (ValidateSysctl, validateDevice, ValidateDeviceCgroupRule) do. The daemon's
range checks are the engine's (dockyard.container.manager)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported on the run path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any

# docker/cli opts.ValidateSysctl: the IPC ones by name, net.* and fs.mqueue.* by prefix.
_SYSCTL_NAMES = {
    "kernel.msgmax",
    "kernel.msgmnb",
    "kernel.msgmni",
    "kernel.sem",
    "kernel.shmall",
    "kernel.shmmax",
    "kernel.shmmni",
    "kernel.shm_rmid_forced",
}
_SYSCTL_PREFIXES = ("net.", "fs.mqueue.")
# docker/cli opts.ValidateDeviceCgroupRule.
_CGROUP_RULE = r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})\Z"


def check_content_trust(disabled: bool) -> None:
    """``--disable-content-trust=false`` asks for Docker Content Trust (Notary signature
    checks), which Dockyard does not have: refused rather than skipped. Raises
    InvalidArgument."""
    if not disabled:
        raise InvalidArgument(
            "content trust (--disable-content-trust=false) is not supported by Dockyard: "
            "it verifies no image signatures"
        )


def _bad(flag: str, value: str, why: str) -> InvalidArgument:
    """pflag's message for a value a flag's validator refused."""
    import json

    return InvalidArgument(
        f'invalid argument {json.dumps(value, ensure_ascii=False)} for "{flag}" flag: {why}'
    )


def _valid_device_mode(mode: str) -> bool:
    """docker/cli validDeviceMode: one to three of r, w, m, none twice."""
    return 0 < len(mode) <= 3 and all(c in "rwm" for c in mode) and len(set(mode)) == len(mode)


def parse_device(value: str) -> dict[str, str]:
    """``--device HOST[:CONTAINER][:PERMISSIONS]`` as a HostConfig DeviceMapping
    (docker/cli validateDevice + parseLinuxDevice). Raises InvalidArgument."""
    import posixpath

    if value.count(":") > 2 or not value.split(":", 1)[0]:
        raise _bad("--device", value, f"bad format for path: {value}")
    parts = value.split(":")
    src, dst, perms = parts[0], "", "rwm"
    if len(parts) == 3:
        dst, perms = parts[1], parts[2]
        if not _valid_device_mode(perms):
            raise _bad("--device", value, f"bad mode specified: {perms}")
    elif len(parts) == 2:
        if _valid_device_mode(parts[1]):
            perms = parts[1]
        else:
            dst = parts[1]
    container_path = dst or src
    if not posixpath.isabs(container_path):
        raise _bad("--device", value, f"{container_path} is not an absolute path")
    return {
        "PathOnHost": src,
        "PathInContainer": posixpath.normpath(container_path),
        "CgroupPermissions": perms,
    }


def parse_weight_device(value: str) -> dict[str, Any]:
    """``--blkio-weight-device PATH:WEIGHT`` as a HostConfig WeightDevice {Path, Weight}
    (docker/cli ValidateWeightDevice: a /dev/ path, a weight of 10 to 1000 or 0).
    Raises InvalidArgument with the CLI's messages."""
    flag = "--blkio-weight-device"
    path, sep, weight = value.partition(":")
    if not sep:
        raise _bad(flag, value, f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise _bad(flag, value, f"bad format for device path: {value}")
    if not weight.isdigit() or int(weight) > 65535:
        raise _bad(flag, value, f"invalid weight for device: {value}")
    if int(weight) > 0 and not 10 <= int(weight) <= 1000:
        raise _bad(flag, value, f"invalid weight for device: {value}")
    return {"Path": path, "Weight": int(weight)}


def parse_throttle(flag: str, value: str, iops: bool) -> dict[str, Any]:
    """``--device-{read,write}-{bps,iops} PATH:RATE`` as a HostConfig ThrottleDevice
    {Path, Rate} (docker/cli ValidateThrottleBpsDevice/IOpsDevice: a bps rate takes a
    size unit). Raises InvalidArgument with the CLI's messages."""
    from dockyard.units import ram_in_bytes

    path, sep, rate = value.partition(":")
    if not sep:
        raise _bad(flag, value, f"bad format: {value}")
    if not path.startswith("/dev/"):
        raise _bad(flag, value, f"bad format for device path: {value}")
    if iops:
        if not rate.isdigit():
            raise _bad(
                flag,
                value,
                f"invalid rate for device: {value}. The correct format is "
                "<device-path>:<number>. Number must be a positive integer",
            )
        return {"Path": path, "Rate": int(rate)}
    try:
        number = ram_in_bytes(rate, flag)
    except InvalidArgument:
        number = -1
    if number < 0 or not rate:
        raise _bad(
            flag,
            value,
            f"invalid rate for device: {value}. The correct format is "
            "<device-path>:<number>[<unit>]. Number must be a positive integer. Unit is "
            "optional and can be kb, mb, or gb",
        )
    return {"Path": path, "Rate": number}


def parse_sysctls(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``--sysctl KEY=VALUE`` as HostConfig.Sysctls (docker/cli opts.ValidateSysctl: the
    namespaced IPC keys by name, ``net.*`` and ``fs.mqueue.*``). Raises InvalidArgument."""
    out: dict[str, str] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not eq or not (key in _SYSCTL_NAMES or key.startswith(_SYSCTL_PREFIXES)):
            raise _bad("--sysctl", value, f"sysctl '{value}' is not allowed")
        out[key] = val
    return out


def _gpu_request(value: str) -> dict[str, Any]:
    """``--gpus`` as a HostConfig DeviceRequest (docker/cli opts.GpuOpts)."""
    request: dict[str, Any] = {
        "Driver": "",
        "Count": 0,
        "DeviceIDs": None,
        "Capabilities": [["gpu"]],
        "Options": {},
    }
    for field in value.split(","):
        key, eq, val = field.partition("=")
        if not eq and key == "all":
            request["Count"] = -1
        elif not eq and key.isdigit():
            request["Count"] = int(key)
        elif key == "count":
            request["Count"] = -1 if val == "all" else int(val) if val.isdigit() else 0
        elif key == "device":
            request["DeviceIDs"] = val.split(",")
        elif key == "driver":
            request["Driver"] = val
        elif key == "capabilities":
            request["Capabilities"] = [val.split(",")]
        else:
            raise _bad("--gpus", value, f"unexpected key '{key}' in '{value}'")
    return request


def apply_resource_flags(
    kw: dict[str, Any], config: dict[str, Any], host_config: dict[str, Any]
) -> None:
    """Add what the flags of :func:`resource_options` ask for to ``config`` and
    ``host_config`` (the Engine API's create request). Raises InvalidArgument with the
    docker CLI's messages."""
    from dockyard.units import parse_labels, ram_in_bytes, read_kv_file

    check_content_trust(kw["disable_content_trust"])
    for rule in kw["device_cgroup_rule"]:
        import re

        if not re.match(_CGROUP_RULE, rule):
            raise _bad("--device-cgroup-rule", rule, f"invalid device cgroup format '{rule}'")
    storage_opts: dict[str, str] = {}
    for opt in kw["storage_opt"]:
        key, eq, val = opt.partition("=")
        if not eq:
            raise InvalidArgument(f"invalid storage option {opt}")
        storage_opts[key] = val
    if kw["label_file"]:
        # File labels first: -l overrides them (docker/cli ReadKVStrings(files, override)).
        from_files: list[str] = []
        for path in kw["label_file"]:
            from_files.extend(read_kv_file(path, "label", from_environment=False))
        config["Labels"] = {**parse_labels(from_files), **(config.get("Labels") or {})}
    annotations: dict[str, str] = {}
    for item in kw["annotation"]:
        key, _, val = item.partition("=")
        if not key:
            raise _bad("--annotation", item, f"invalid key: {item}")
        annotations[key] = val
    _check_namespace_modes(kw)
    log_opts = dict(opt.partition("=")[::2] for opt in kw["log_opt"])
    if kw["log_driver"] == "none" and log_opts:
        # docker/cli parseLoggingOpts.
        raise InvalidArgument("invalid logging opts for driver none")
    config["Domainname"] = kw["domainname"]
    host_config.update(
        {
            "CpuPeriod": kw["cpu_period"],
            "CpuQuota": kw["cpu_quota"],
            "CpuRealtimePeriod": kw["cpu_rt_period"],
            "CpuRealtimeRuntime": kw["cpu_rt_runtime"],
            "CpusetCpus": kw["cpuset_cpus"],
            "CpusetMems": kw["cpuset_mems"],
            "BlkioWeight": kw["blkio_weight"],
            "MemoryReservation": ram_in_bytes(kw["memory_reservation"], "--memory-reservation")
            if kw["memory_reservation"] is not None
            else 0,
            "KernelMemory": ram_in_bytes(kw["kernel_memory"], "--kernel-memory")
            if kw["kernel_memory"] is not None
            else 0,
            "MemorySwappiness": kw["memory_swappiness"],
            "OomKillDisable": kw["oom_kill_disable"],
            "OomScoreAdj": kw["oom_score_adj"],
            "Devices": [parse_device(d) for d in kw["device"]],
            "DeviceCgroupRules": list(kw["device_cgroup_rule"]) or None,
            "DeviceRequests": [_gpu_request(kw["gpus"])] if kw["gpus"] else None,
            "GroupAdd": list(kw["group_add"]) or None,
            "ShmSize": ram_in_bytes(kw["shm_size"], "--shm-size")
            if kw["shm_size"] is not None
            else 0,
            "Sysctls": parse_sysctls(kw["sysctl"]) or None,
            "StorageOpt": storage_opts or None,
            "Isolation": kw["isolation"],
            "ContainerIDFile": kw["cidfile"],
            "Annotations": annotations or None,
            "LogConfig": {"Type": kw["log_driver"], "Config": log_opts},
            "BlkioWeightDevice": [parse_weight_device(v) for v in kw["blkio_weight_device"]]
            or None,
            "BlkioDeviceReadBps": [
                parse_throttle("--device-read-bps", v, False) for v in kw["device_read_bps"]
            ]
            or None,
            "BlkioDeviceWriteBps": [
                parse_throttle("--device-write-bps", v, False) for v in kw["device_write_bps"]
            ]
            or None,
            "BlkioDeviceReadIOps": [
                parse_throttle("--device-read-iops", v, True) for v in kw["device_read_iops"]
            ]
            or None,
            "BlkioDeviceWriteIOps": [
                parse_throttle("--device-write-iops", v, True) for v in kw["device_write_iops"]
            ]
            or None,
            "VolumeDriver": kw["volume_driver"],
            "IpcMode": kw["ipc"],
            "PidMode": kw["pid"],
            "UTSMode": kw["uts"],
            "CgroupnsMode": kw["cgroupns"],
            "UsernsMode": kw["userns"],
            # Windows' limits: the engine refuses them with dockerd's Linux messages.
            "CPUCount": kw["cpu_count"],
            "CPUPercent": kw["cpu_percent"],
            "IOMaximumBandwidth": ram_in_bytes(kw["io_maxbandwidth"], "--io-maxbandwidth")
            if kw["io_maxbandwidth"] is not None
            else 0,
            "IOMaximumIOps": kw["io_maxiops"],
        }
    )


def _container_mode(value: str) -> bool:
    return value.startswith("container:") and len(value) > len("container:")


def _check_namespace_modes(kw: dict[str, Any]) -> None:
    """The docker CLI's checks of --ipc, --pid, --uts, --userns and --cgroupns (the API
    types' Valid methods), with its messages. Raises InvalidArgument."""
    ipc = kw["ipc"]
    if ipc not in ("", "none", "private", "shareable", "host") and not _container_mode(ipc):
        raise InvalidArgument("--ipc: invalid IPC mode")
    if kw["pid"] not in ("", "host") and not _container_mode(kw["pid"]):
        raise InvalidArgument("--pid: invalid PID mode")
    if kw["uts"] not in ("", "host"):
        raise InvalidArgument("--uts: invalid UTS mode")
    if kw["userns"] not in ("", "host"):
        raise InvalidArgument("--userns: invalid USER mode")
    if kw["cgroupns"] not in ("", "host", "private"):
        raise InvalidArgument("--cgroupns: invalid CGROUP mode")
