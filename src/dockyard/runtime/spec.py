"""Docker's default OCI runtime spec (moby oci/defaults.go and daemon/oci_linux.go).

``build_spec(SpecOptions(...))`` returns a config.json dict (OCI runtime spec 1.1,
config.md and config-linux.md) with Docker's defaults plus what the options ask for.
"""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument
from dockyard.record import Record
from dockyard.runtime import caps as _caps

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

OCI_VERSION = "1.1.0"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: moby oci/defaults.go MaskedPaths.
MASKED_PATHS = (
    "/proc/asound",
    "/proc/acpi",
    "/proc/interrupts",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
)
#: moby oci/defaults.go ReadonlyPaths.
READONLY_PATHS = ("/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger")

#: The namespaces Docker gives a container by default, in Docker's order.
NAMESPACES = ("mount", "network", "uts", "pid", "ipc", "cgroup")


def _dev_rule(
    allow: bool, typ: str | None, major: int | None, minor: int | None, access: str = "rwm"
) -> dict[str, Any]:
    rule: dict[str, Any] = {"allow": allow}
    if typ is not None:
        rule["type"] = typ
    if major is not None:
        rule["major"] = major
    if minor is not None:
        rule["minor"] = minor
    rule["access"] = access
    return rule


#: moby oci/defaults.go Resources.Devices (runc appends its own AllowedDevices after).
DEVICE_RULES = (
    _dev_rule(False, None, None, None),
    _dev_rule(True, "c", 1, 5),
    _dev_rule(True, "c", 1, 3),
    _dev_rule(True, "c", 1, 9),
    _dev_rule(True, "c", 1, 8),
    _dev_rule(True, "c", 5, 0),
    _dev_rule(True, "c", 5, 1),
    _dev_rule(False, "c", 10, 229),
)


#: Annotation (runtime-specific, as crun's ``run.oci.*``) asking Dockyard's runtime to
#: leave the parents of the container's cgroup when it deletes it, as runc does, instead
#: of removing those left empty: the engine keeps its default parent for the next
#: container (made once, not in every hierarchy per run: bench/README.md).
KEEP_CGROUP_PARENTS = "org.dockyard.cgroup-parents"


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class SpecOptions(Record):
    """What a container asks for beyond Docker's defaults.

    ``user`` is (uid, gid); ``ulimits`` maps Docker names (``nofile``) to (soft, hard);
    ``namespaces`` maps an OCI namespace type to ``"private"`` (default), ``"host"`` (no
    entry: share the caller's) or an absolute path of a namespace file to join;
    ``resources`` is an OCI linux.resources dict; ``mounts`` are OCI mount dicts appended
    after the defaults; ``shm_size`` is bytes (0: no /dev/shm tmpfs, as ``--ipc none``
    or a /dev/shm bind mounted from elsewhere); ``console_size`` is (height, width);
    ``seccomp`` is a Docker seccomp profile (``seccomp.default_profile()``), turned into
    ``linux.seccomp`` for the container's bounding capabilities; None: no filter.
    ``devices`` are OCI ``linux.devices`` entries added to the defaults (their cgroup
    rules go in ``resources["devices"]``); ``oom_score_adj`` is ``process.oomScoreAdj``.
    """

    args: list[str]
    env: list[str]
    cwd: str
    root_path: str
    user: tuple[int, int]
    additional_gids: list[int]
    hostname: str
    terminal: bool
    console_size: tuple[int, int] | None
    privileged: bool
    cap_add: list[str]
    cap_drop: list[str]
    readonly_rootfs: bool
    no_new_privileges: bool
    ulimits: dict[str, tuple[int, int]]
    namespaces: dict[str, str]
    cgroups_path: str | None
    resources: dict[str, Any] | None
    mounts: list[dict[str, Any]]
    sysctl: dict[str, str]
    annotations: dict[str, str]
    shm_size: int
    seccomp: dict[str, Any] | None
    domainname: str
    devices: list[dict[str, Any]]
    oom_score_adj: int | None

    _FIELDS = (
        "args",
        "env",
        "cwd",
        "root_path",
        "user",
        "additional_gids",
        "hostname",
        "terminal",
        "console_size",
        "privileged",
        "cap_add",
        "cap_drop",
        "readonly_rootfs",
        "no_new_privileges",
        "ulimits",
        "namespaces",
        "cgroups_path",
        "resources",
        "mounts",
        "sysctl",
        "annotations",
        "shm_size",
        "seccomp",
        "domainname",
        "devices",
        "oom_score_adj",
    )

    def __init__(
        self,
        args: list[str],
        env: list[str] | None = None,
        cwd: str = "/",
        root_path: str = "rootfs",
        user: tuple[int, int] = (0, 0),
        additional_gids: list[int] | None = None,
        hostname: str = "",
        terminal: bool = False,
        console_size: tuple[int, int] | None = None,
        privileged: bool = False,
        cap_add: list[str] | None = None,
        cap_drop: list[str] | None = None,
        readonly_rootfs: bool = False,
        no_new_privileges: bool = False,
        ulimits: dict[str, tuple[int, int]] | None = None,
        namespaces: dict[str, str] | None = None,
        cgroups_path: str | None = None,
        resources: dict[str, Any] | None = None,
        mounts: list[dict[str, Any]] | None = None,
        sysctl: dict[str, str] | None = None,
        annotations: dict[str, str] | None = None,
        shm_size: int = 64 * 1024 * 1024,
        seccomp: dict[str, Any] | None = None,
        domainname: str = "",
        devices: list[dict[str, Any]] | None = None,
        oom_score_adj: int | None = None,
    ) -> None:
        self.args = args
        self.env = [f"PATH={DEFAULT_PATH}"] if env is None else env
        self.cwd = cwd
        self.root_path = root_path
        self.user = user
        self.additional_gids = [] if additional_gids is None else additional_gids
        self.hostname = hostname
        self.terminal = terminal
        self.console_size = console_size
        self.privileged = privileged
        self.cap_add = [] if cap_add is None else cap_add
        self.cap_drop = [] if cap_drop is None else cap_drop
        self.readonly_rootfs = readonly_rootfs
        self.no_new_privileges = no_new_privileges
        self.ulimits = {} if ulimits is None else ulimits
        self.namespaces = {} if namespaces is None else namespaces
        self.cgroups_path = cgroups_path
        self.resources = resources
        self.mounts = [] if mounts is None else mounts
        self.sysctl = {} if sysctl is None else sysctl
        self.annotations = {} if annotations is None else annotations
        self.shm_size = shm_size
        self.seccomp = seccomp
        self.domainname = domainname
        self.devices = [] if devices is None else devices
        self.oom_score_adj = oom_score_adj


def _default_mounts(opts: SpecOptions) -> list[dict[str, Any]]:
    shm_k = opts.shm_size // 1024
    sys_opt = "rw" if opts.privileged else "ro"
    mounts: list[dict[str, Any]] = [
        {
            "destination": "/proc",
            "type": "proc",
            "source": "proc",
            "options": ["nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev",
            "type": "tmpfs",
            "source": "tmpfs",
            "options": ["nosuid", "strictatime", "mode=755", "size=65536k"],
        },
        {
            "destination": "/dev/pts",
            "type": "devpts",
            "source": "devpts",
            "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"],
        },
        {
            "destination": "/sys",
            "type": "sysfs",
            "source": "sysfs",
            "options": ["nosuid", "noexec", "nodev", sys_opt],
        },
        {
            "destination": "/sys/fs/cgroup",
            "type": "cgroup",
            "source": "cgroup",
            "options": [sys_opt, "nosuid", "noexec", "nodev"],
        },
        {
            "destination": "/dev/mqueue",
            "type": "mqueue",
            "source": "mqueue",
            "options": ["nosuid", "noexec", "nodev"],
        },
    ]
    if shm_k:
        mounts.append(
            {
                "destination": "/dev/shm",
                "type": "tmpfs",
                "source": "shm",
                "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_k}k"],
            }
        )
    return mounts


def _host_devices() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every device node under the host's /dev (for --privileged), as OCI devices."""
    import stat

    devices = []
    skip = ("/dev/pts", "/dev/mqueue", "/dev/shm", "/dev/console", "/dev/ptmx")
    for dirpath, dirnames, filenames in os.walk("/dev"):
        if dirpath.startswith(skip):
            dirnames.clear()
            continue
        for name in filenames:
            path = os.path.join(dirpath, name)
            if path in skip:
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if not (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)):
                continue
            devices.append(
                {
                    "path": path,
                    "type": "c" if stat.S_ISCHR(st.st_mode) else "b",
                    "major": os.major(st.st_rdev),
                    "minor": os.minor(st.st_rdev),
                    "fileMode": stat.S_IMODE(st.st_mode),
                    "uid": st.st_uid,
                    "gid": st.st_gid,
                }
            )
    return devices, [_dev_rule(True, None, None, None)]


def _rlimits(ulimits: dict[str, tuple[int, int]]) -> list[dict[str, Any]]:
    import resource

    out = []
    for name, (soft, hard) in ulimits.items():
        kind = "RLIMIT_" + name.upper()
        if not hasattr(resource, kind):
            raise InvalidArgument(f"invalid ulimit type: {name}")
        if soft > hard:
            raise InvalidArgument(
                f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
            )
        out.append({"type": kind, "soft": soft, "hard": hard})
    return out


def build_spec(opts: SpecOptions) -> dict[str, Any]:
    """Build a config.json dict for ``opts`` (OCI runtime spec config.md/config-linux.md).

    Raises InvalidArgument for an unknown capability name (``unknown capability:
    "CAP_FOO"``), ulimit or namespace mode, or a seccomp profile moby would refuse.
    """
    cap_list = _caps.tweak(opts.cap_add, opts.cap_drop, opts.privileged)
    uid, gid = opts.user
    capabilities: dict[str, list[str]] = {"bounding": cap_list}
    if uid == 0:
        capabilities["effective"] = list(cap_list)
        capabilities["permitted"] = list(cap_list)
    # Docker 20.10+: a non-root user gets only the bounding set, as execve would give.

    process: dict[str, Any] = {
        "terminal": opts.terminal,
        "user": {"uid": uid, "gid": gid},
        "args": list(opts.args),
        "env": list(opts.env),
        "cwd": opts.cwd or "/",
        "capabilities": capabilities,
        "noNewPrivileges": opts.no_new_privileges,
    }
    if opts.additional_gids:
        process["user"]["additionalGids"] = list(opts.additional_gids)
    if opts.oom_score_adj is not None:
        process["oomScoreAdj"] = opts.oom_score_adj
    if opts.terminal and opts.console_size:
        process["consoleSize"] = {"height": opts.console_size[0], "width": opts.console_size[1]}
    rlimits = _rlimits(opts.ulimits)
    if rlimits:
        process["rlimits"] = rlimits

    namespaces = []
    for kind in NAMESPACES:
        mode = opts.namespaces.get(kind, "private")
        if mode == "host":
            continue
        if mode == "private":
            namespaces.append({"type": kind})
        elif os.path.isabs(mode):
            namespaces.append({"type": kind, "path": mode})
        else:
            raise InvalidArgument(f"invalid {kind} namespace mode: {mode}")
    unknown = set(opts.namespaces) - set(NAMESPACES)
    if unknown:
        raise InvalidArgument(f"unknown namespace type: {sorted(unknown)[0]}")

    resources: dict[str, Any] = dict(opts.resources or {})
    linux: dict[str, Any] = {"namespaces": namespaces}
    if opts.privileged:
        linux["devices"], resources["devices"] = _host_devices()
    else:
        resources["devices"] = [dict(r) for r in DEVICE_RULES] + list(
            (opts.resources or {}).get("devices", [])
        )
        if opts.devices:
            linux["devices"] = [dict(d) for d in opts.devices]
        linux["maskedPaths"] = list(MASKED_PATHS)
        linux["readonlyPaths"] = list(READONLY_PATHS)
    linux["resources"] = resources
    if opts.cgroups_path:
        linux["cgroupsPath"] = opts.cgroups_path
    if opts.sysctl:
        linux["sysctl"] = dict(opts.sysctl)
    if opts.seccomp is not None:
        from dockyard.runtime.seccomp import oci_seccomp

        section = oci_seccomp(opts.seccomp, cap_list)
        if section is not None:
            linux["seccomp"] = section

    spec: dict[str, Any] = {
        "ociVersion": OCI_VERSION,
        "process": process,
        "root": {"path": opts.root_path, "readonly": opts.readonly_rootfs},
        "mounts": _default_mounts(opts) + [dict(m) for m in opts.mounts],
        "linux": linux,
    }
    if opts.hostname:
        spec["hostname"] = opts.hostname
    if opts.domainname:
        spec["domainname"] = opts.domainname
    if opts.annotations:
        spec["annotations"] = dict(opts.annotations)
    return spec
