"""Linux capabilities: names, Docker's name rules, and applying an OCI capability set.

Names follow capabilities(7); numbers are the kernel's bit positions.
"""

from __future__ import annotations

from dockyard.errors import InvalidArgument

#: Capability names by number (capability.h, Linux 5.9+).
NAMES: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
NUMBERS: dict[str, int] = {name: i for i, name in enumerate(NAMES)}

#: Docker's default set (moby oci/defaults.go DefaultCapabilities), in Docker's order.
DEFAULT: tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
)


def last_cap() -> int:
    """The highest capability number this kernel knows (/proc/sys/kernel/cap_last_cap)."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return min(int(f.read()), len(NAMES) - 1)
    except OSError:
        return len(NAMES) - 1


def all_caps() -> list[str]:
    """Every capability the running kernel supports (Docker's GetAllCapabilities) that
    this process's bounding set still has: a container cannot be given the others
    (runc, like the built-in runtime, fails then), so ``--privileged`` asks for what the
    host can give (this machine's sandbox lacks CAP_SYS_RESOURCE)."""
    from dockyard.runtime import syscalls

    return [
        NAMES[n] for n in range(last_cap() + 1) if syscalls.prctl(syscalls.PR_CAPBSET_READ, n) == 1
    ]


def normalize(names: list[str]) -> list[str]:
    """Docker's NormalizeLegacyCapabilities: upper-case, add ``CAP_``, keep ``ALL``.

    Raises InvalidArgument(``unknown capability: "CAP_FOO"``) for a name the kernel table
    lacks.
    """
    out = []
    for name in names:
        up = name.upper()
        if up == "ALL":
            out.append("ALL")
            continue
        if not up.startswith("CAP_"):
            up = "CAP_" + up
        if up not in NUMBERS:
            raise InvalidArgument(f'unknown capability: "{up}"')
        out.append(up)
    return out


def tweak(adds: list[str], drops: list[str], privileged: bool) -> list[str]:
    """Docker's TweakCapabilities: the default set with ``--cap-add``/``--cap-drop`` applied.

    ``ALL`` in adds means every capability except the drops; ``ALL`` in drops means only the
    adds. Privileged containers get every capability.
    """
    if privileged:
        return all_caps()
    if not adds and not drops:
        return list(DEFAULT)
    cap_drop, cap_add = normalize(drops), normalize(adds)
    if "ALL" in cap_add:
        return [c for c in all_caps() if c not in cap_drop]
    if "ALL" in cap_drop:
        return [c for c in cap_add if c != "ALL"]
    caps = [c for c in DEFAULT if c not in cap_drop]
    caps += [c for c in cap_add if c not in caps]
    return caps


def mask(names: list[str] | None) -> int:
    """A 64-bit mask of capability ``names``; raises InvalidArgument for unknown names."""
    bits = 0
    for name in names or ():
        num = NUMBERS.get(name.upper())
        if num is None:
            raise InvalidArgument(f'unknown capability: "{name}"')
        bits |= 1 << num
    return bits


def drop_bounding(keep: int) -> None:
    """Drop every capability not in ``keep`` from the bounding set (PR_CAPBSET_DROP)."""
    from dockyard.runtime import syscalls

    for num in range(last_cap() + 1):
        if not keep & (1 << num) and syscalls.prctl(syscalls.PR_CAPBSET_READ, num) == 1:
            syscalls.prctl(syscalls.PR_CAPBSET_DROP, num)


def apply(effective: int, permitted: int, inheritable: int, ambient: int) -> None:
    """Set this thread's capability sets (capset) and raise the ``ambient`` ones.

    A capability the calling process does not hold cannot be granted: that is an error
    (``OSError`` EPERM, runc's "unable to apply caps"), never a silent drop.
    """
    from dockyard.runtime import syscalls

    _, have, _ = syscalls.capget()
    missing = (effective | permitted | inheritable | ambient) & ~have
    if missing:
        names = [NAMES[n] for n in range(len(NAMES)) if missing & (1 << n)]
        raise OSError(1, f"unable to apply caps: not held by the runtime: {', '.join(names)}")
    syscalls.capset(effective & permitted, permitted, inheritable)
    syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_CLEAR_ALL)
    for num in range(last_cap() + 1):
        if ambient & (1 << num) and permitted & inheritable & (1 << num):
            syscalls.prctl(syscalls.PR_CAP_AMBIENT, syscalls.PR_CAP_AMBIENT_RAISE, num)
