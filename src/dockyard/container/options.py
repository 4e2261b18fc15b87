"""What ``create``/``run`` were asked for, before it is turned into Docker's Config and
HostConfig (Docker CLI reference: docker container create)."""

from __future__ import annotations

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


# A plain class without __repr__/__eq__ (nothing compares or prints these): as a
# dataclass it cost every run's start the dataclasses module (with inspect) and the
# generated code, about 10 ms of CPU (bench/README.md).
class CreateOptions:
    """Options of ``dockyard create``/``run``. Sizes are bytes, ``cpus`` is a CPU count.

    ``command`` is the COMMAND ARG... after the image (empty: the image's Cmd);
    ``entrypoint`` None keeps the image's, ``[]`` or ``[""]`` clears it.
    """

    image: str
    command: list[str]
    entrypoint: list[str] | None
    name: str | None
    env: list[str]
    workdir: str | None
    user: str | None
    hostname: str | None
    labels: dict[str, str]
    network: str
    # The second and later --network values, attached as eth1, eth2, ... (Docker 25+).
    extra_networks: list[str]
    # Their endpoint settings (the API's EndpointsConfig): network -> {"ip": str | None,
    # "aliases": list[str], "mac": str | None, "options": {"Links", "DriverOpts",
    # "GwPriority"}, "ip6": str | None, "link_local": list[str]}; a network not in it
    # gets none.
    extra_endpoints: dict[str, dict[str, Any]]
    # The first network's EndpointSettings Links, DriverOpts and GwPriority.
    endpoint_options: dict[str, Any]
    # Network flags: --ip, --ip6, --link-local-ip, --network-alias, --mac-address,
    # --add-host (name:ip), --dns, --dns-search, --dns-option, --link (name[:alias]).
    ip: str | None
    ip6: str | None
    link_local_ips: list[str]
    network_aliases: list[str]
    mac_address: str | None
    add_hosts: list[str]
    dns: list[str]
    dns_search: list[str]
    dns_options: list[str]
    links: list[str]
    tty: bool
    interactive: bool
    # Config.AttachStdin/AttachStdout/AttachStderr/StdinOnce (run -d: all false).
    attach_stdin: bool
    attach_stdout: bool
    attach_stderr: bool
    stdin_once: bool
    privileged: bool
    cap_add: list[str]
    cap_drop: list[str]
    read_only: bool
    security_opt: list[str]
    ulimits: list[dict[str, Any]]
    memory: int
    memory_swap: int
    cpus: float
    cpu_shares: int
    pids_limit: int
    cgroup_parent: str
    runtime: str
    # HostConfig.Isolation ("default" on Linux) and VolumeDriver ("local", or another
    # when the container names no volume), as asked: shown by inspect.
    isolation: str
    volume_driver: str
    auto_remove: bool
    init: bool
    restart_policy: dict[str, Any]
    stop_signal: str | None
    stop_timeout: int | None
    # Docker's Healthcheck from --health-*/--no-healthcheck (None: the image's).
    healthcheck: dict[str, Any] | None
    # -p and --expose as port keys ("80/tcp") and HostConfig.PortBindings; -P.
    exposed_ports: list[str]
    port_bindings: dict[str, list[dict[str, str]]]
    publish_all: bool
    # -v values (relative ./ sources made absolute), --mount as Docker's API Mount objects,
    # --tmpfs as path -> options, --volumes-from as CONTAINER[:ro|rw] (dockyard.mountspec).
    volumes: list[str]
    mounts: list[dict[str, Any]]
    tmpfs: dict[str, str]
    volumes_from: list[str]
    domainname: str
    # CPU bandwidth (microseconds), real-time scheduling budget, cpuset lists ("0-1,3").
    cpu_period: int
    cpu_quota: int
    cpu_rt_period: int
    cpu_rt_runtime: int
    cpuset_cpus: str
    cpuset_mems: str
    blkio_weight: int
    memory_reservation: int
    # None: the kernel's default (Docker's -1).
    memory_swappiness: int | None
    oom_kill_disable: bool
    oom_score_adj: int
    # --device as Docker's DeviceMapping objects; --device-cgroup-rule as "c 1:3 rwm".
    devices: list[dict[str, str]]
    device_cgroup_rules: list[str]
    # --group-add: group names or gids, resolved in the container's /etc/group at start.
    group_add: list[str]
    # /dev/shm size in bytes; 0: Docker's 64 MiB.
    shm_size: int
    sysctls: dict[str, str]
    annotations: dict[str, str]
    # --ipc (private, shareable, none, host, container:<id>), --pid (host,
    # container:<id>), --uts (host), --cgroupns (host, private), --userns (host); "" is
    # the default (a namespace of the container's own).
    ipc_mode: str
    pid_mode: str
    uts_mode: str
    cgroupns_mode: str
    userns_mode: str
    # --log-driver/--log-opt as Docker's LogConfig {Type, Config}; {}: json-file.
    log_config: dict[str, Any]
    # --device-{read,write}-{bps,iops}: HostConfig key -> [{Path, Rate}].
    throttle: dict[str, list[dict[str, Any]]]
    # --blkio-weight-device: HostConfig.BlkioWeightDevice [{Path, Weight}].
    weight_devices: list[dict[str, Any]]

    def __init__(
        self,
        image: str,
        command: list[str] | None = None,
        entrypoint: list[str] | None = None,
        name: str | None = None,
        env: list[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        hostname: str | None = None,
        labels: dict[str, str] | None = None,
        network: str = "bridge",
        extra_networks: list[str] | None = None,
        extra_endpoints: dict[str, dict[str, Any]] | None = None,
        endpoint_options: dict[str, Any] | None = None,
        ip: str | None = None,
        ip6: str | None = None,
        link_local_ips: list[str] | None = None,
        network_aliases: list[str] | None = None,
        mac_address: str | None = None,
        add_hosts: list[str] | None = None,
        dns: list[str] | None = None,
        dns_search: list[str] | None = None,
        dns_options: list[str] | None = None,
        links: list[str] | None = None,
        tty: bool = False,
        interactive: bool = False,
        attach_stdin: bool = False,
        attach_stdout: bool = True,
        attach_stderr: bool = True,
        stdin_once: bool = False,
        privileged: bool = False,
        cap_add: list[str] | None = None,
        cap_drop: list[str] | None = None,
        read_only: bool = False,
        security_opt: list[str] | None = None,
        ulimits: list[dict[str, Any]] | None = None,
        memory: int = 0,
        memory_swap: int = 0,
        cpus: float = 0.0,
        cpu_shares: int = 0,
        pids_limit: int = 0,
        cgroup_parent: str = "",
        runtime: str = "dockyard",
        isolation: str = "",
        volume_driver: str = "",
        auto_remove: bool = False,
        init: bool = False,
        restart_policy: dict[str, Any] | None = None,
        stop_signal: str | None = None,
        stop_timeout: int | None = None,
        healthcheck: dict[str, Any] | None = None,
        exposed_ports: list[str] | None = None,
        port_bindings: dict[str, list[dict[str, str]]] | None = None,
        publish_all: bool = False,
        volumes: list[str] | None = None,
        mounts: list[dict[str, Any]] | None = None,
        tmpfs: dict[str, str] | None = None,
        volumes_from: list[str] | None = None,
        domainname: str = "",
        cpu_period: int = 0,
        cpu_quota: int = 0,
        cpu_rt_period: int = 0,
        cpu_rt_runtime: int = 0,
        cpuset_cpus: str = "",
        cpuset_mems: str = "",
        blkio_weight: int = 0,
        memory_reservation: int = 0,
        memory_swappiness: int | None = None,
        oom_kill_disable: bool = False,
        oom_score_adj: int = 0,
        devices: list[dict[str, str]] | None = None,
        device_cgroup_rules: list[str] | None = None,
        group_add: list[str] | None = None,
        shm_size: int = 0,
        sysctls: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        ipc_mode: str = "",
        pid_mode: str = "",
        uts_mode: str = "",
        cgroupns_mode: str = "",
        userns_mode: str = "",
        log_config: dict[str, Any] | None = None,
        throttle: dict[str, list[dict[str, Any]]] | None = None,
        weight_devices: list[dict[str, Any]] | None = None,
    ) -> None:
        self.image = image
        self.command = [] if command is None else command
        self.entrypoint = entrypoint
        self.name = name
        self.env = [] if env is None else env
        self.workdir = workdir
        self.user = user
        self.hostname = hostname
        self.labels = {} if labels is None else labels
        self.network = network
        self.extra_networks = [] if extra_networks is None else extra_networks
        self.extra_endpoints = {} if extra_endpoints is None else extra_endpoints
        self.endpoint_options = {} if endpoint_options is None else endpoint_options
        self.ip = ip
        self.ip6 = ip6
        self.link_local_ips = [] if link_local_ips is None else link_local_ips
        self.network_aliases = [] if network_aliases is None else network_aliases
        self.mac_address = mac_address
        self.add_hosts = [] if add_hosts is None else add_hosts
        self.dns = [] if dns is None else dns
        self.dns_search = [] if dns_search is None else dns_search
        self.dns_options = [] if dns_options is None else dns_options
        self.links = [] if links is None else links
        self.tty = tty
        self.interactive = interactive
        self.attach_stdin = attach_stdin
        self.attach_stdout = attach_stdout
        self.attach_stderr = attach_stderr
        self.stdin_once = stdin_once
        self.privileged = privileged
        self.cap_add = [] if cap_add is None else cap_add
        self.cap_drop = [] if cap_drop is None else cap_drop
        self.read_only = read_only
        self.security_opt = [] if security_opt is None else security_opt
        self.ulimits = [] if ulimits is None else ulimits
        self.memory = memory
        self.memory_swap = memory_swap
        self.cpus = cpus
        self.cpu_shares = cpu_shares
        self.pids_limit = pids_limit
        self.cgroup_parent = cgroup_parent
        self.runtime = runtime
        self.isolation = isolation
        self.volume_driver = volume_driver
        self.auto_remove = auto_remove
        self.init = init
        self.restart_policy = (
            {"Name": "no", "MaximumRetryCount": 0} if restart_policy is None else restart_policy
        )
        self.stop_signal = stop_signal
        self.stop_timeout = stop_timeout
        self.healthcheck = healthcheck
        self.exposed_ports = [] if exposed_ports is None else exposed_ports
        self.port_bindings = {} if port_bindings is None else port_bindings
        self.publish_all = publish_all
        self.volumes = [] if volumes is None else volumes
        self.mounts = [] if mounts is None else mounts
        self.tmpfs = {} if tmpfs is None else tmpfs
        self.volumes_from = [] if volumes_from is None else volumes_from
        self.domainname = domainname
        self.cpu_period = cpu_period
        self.cpu_quota = cpu_quota
        self.cpu_rt_period = cpu_rt_period
        self.cpu_rt_runtime = cpu_rt_runtime
        self.cpuset_cpus = cpuset_cpus
        self.cpuset_mems = cpuset_mems
        self.blkio_weight = blkio_weight
        self.memory_reservation = memory_reservation
        self.memory_swappiness = memory_swappiness
        self.oom_kill_disable = oom_kill_disable
        self.oom_score_adj = oom_score_adj
        self.devices = [] if devices is None else devices
        self.device_cgroup_rules = [] if device_cgroup_rules is None else device_cgroup_rules
        self.group_add = [] if group_add is None else group_add
        self.shm_size = shm_size
        self.sysctls = {} if sysctls is None else sysctls
        self.annotations = {} if annotations is None else annotations
        self.ipc_mode = ipc_mode
        self.pid_mode = pid_mode
        self.uts_mode = uts_mode
        self.cgroupns_mode = cgroupns_mode
        self.userns_mode = userns_mode
        self.log_config = {} if log_config is None else log_config
        self.throttle = {} if throttle is None else throttle
        self.weight_devices = [] if weight_devices is None else weight_devices
