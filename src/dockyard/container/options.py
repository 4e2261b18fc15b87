"""What ``create``/``run`` were asked for, before it is turned into Docker's Config and
HostConfig (Docker CLI reference: docker container create)."""

from __future__ import annotations

from dataclasses import dataclass, field

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


# No __repr__/__eq__ (nothing compares or prints these): generating them for ~90 fields
# cost 0.7 ms of every run's start.
@dataclass(repr=False, eq=False)
class CreateOptions:
    """Options of ``dockyard create``/``run``. Sizes are bytes, ``cpus`` is a CPU count.

    ``command`` is the COMMAND ARG... after the image (empty: the image's Cmd);
    ``entrypoint`` None keeps the image's, ``[]`` or ``[""]`` clears it.
    """

    image: str
    command: list[str] = field(default_factory=list)
    entrypoint: list[str] | None = None
    name: str | None = None
    env: list[str] = field(default_factory=list)
    workdir: str | None = None
    user: str | None = None
    hostname: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "bridge"
    # The second and later --network values, attached as eth1, eth2, ... (Docker 25+).
    extra_networks: list[str] = field(default_factory=list)
    # Their endpoint settings (the API's EndpointsConfig): network -> {"ip": str | None,
    # "aliases": list[str], "mac": str | None, "options": {"Links", "DriverOpts",
    # "GwPriority"}, "ip6": str | None, "link_local": list[str]}; a network not in it
    # gets none.
    extra_endpoints: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The first network's EndpointSettings Links, DriverOpts and GwPriority.
    endpoint_options: dict[str, Any] = field(default_factory=dict)
    # Network flags: --ip, --ip6, --link-local-ip, --network-alias, --mac-address,
    # --add-host (name:ip), --dns, --dns-search, --dns-option, --link (name[:alias]).
    ip: str | None = None
    ip6: str | None = None
    link_local_ips: list[str] = field(default_factory=list)
    network_aliases: list[str] = field(default_factory=list)
    mac_address: str | None = None
    add_hosts: list[str] = field(default_factory=list)
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    tty: bool = False
    interactive: bool = False
    # Config.AttachStdin/AttachStdout/AttachStderr/StdinOnce (run -d: all false).
    attach_stdin: bool = False
    attach_stdout: bool = True
    attach_stderr: bool = True
    stdin_once: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False
    security_opt: list[str] = field(default_factory=list)
    ulimits: list[dict[str, Any]] = field(default_factory=list)
    memory: int = 0
    memory_swap: int = 0
    cpus: float = 0.0
    cpu_shares: int = 0
    pids_limit: int = 0
    cgroup_parent: str = ""
    runtime: str = "dockyard"
    # HostConfig.Isolation ("default" on Linux) and VolumeDriver ("local", or another
    # when the container names no volume), as asked: shown by inspect.
    isolation: str = ""
    volume_driver: str = ""
    auto_remove: bool = False
    init: bool = False
    restart_policy: dict[str, Any] = field(
        default_factory=lambda: {"Name": "no", "MaximumRetryCount": 0}
    )
    stop_signal: str | None = None
    stop_timeout: int | None = None
    # Docker's Healthcheck from --health-*/--no-healthcheck (None: the image's).
    healthcheck: dict[str, Any] | None = None
    # -p and --expose as port keys ("80/tcp") and HostConfig.PortBindings; -P.
    exposed_ports: list[str] = field(default_factory=list)
    port_bindings: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    publish_all: bool = False
    # -v values (relative ./ sources made absolute), --mount as Docker's API Mount objects,
    # --tmpfs as path -> options, --volumes-from as CONTAINER[:ro|rw] (dockyard.mountspec).
    volumes: list[str] = field(default_factory=list)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    tmpfs: dict[str, str] = field(default_factory=dict)
    volumes_from: list[str] = field(default_factory=list)
    domainname: str = ""
    # CPU bandwidth (microseconds), real-time scheduling budget, cpuset lists ("0-1,3").
    cpu_period: int = 0
    cpu_quota: int = 0
    cpu_rt_period: int = 0
    cpu_rt_runtime: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    blkio_weight: int = 0
    memory_reservation: int = 0
    # None: the kernel's default (Docker's -1).
    memory_swappiness: int | None = None
    oom_kill_disable: bool = False
    oom_score_adj: int = 0
    # --device as Docker's DeviceMapping objects; --device-cgroup-rule as "c 1:3 rwm".
    devices: list[dict[str, str]] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)
    # --group-add: group names or gids, resolved in the container's /etc/group at start.
    group_add: list[str] = field(default_factory=list)
    # /dev/shm size in bytes; 0: Docker's 64 MiB.
    shm_size: int = 0
    sysctls: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    # --ipc (private, shareable, none, host, container:<id>), --pid (host,
    # container:<id>), --uts (host), --cgroupns (host, private), --userns (host); "" is
    # the default (a namespace of the container's own).
    ipc_mode: str = ""
    pid_mode: str = ""
    uts_mode: str = ""
    cgroupns_mode: str = ""
    userns_mode: str = ""
    # --log-driver/--log-opt as Docker's LogConfig {Type, Config}; {}: json-file.
    log_config: dict[str, Any] = field(default_factory=dict)
    # --device-{read,write}-{bps,iops}: HostConfig key -> [{Path, Rate}].
    throttle: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    # --blkio-weight-device: HostConfig.BlkioWeightDevice [{Path, Weight}].
    weight_devices: list[dict[str, Any]] = field(default_factory=list)
