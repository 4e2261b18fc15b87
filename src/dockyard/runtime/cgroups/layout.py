"""Where the cgroup hierarchies are mounted and where this process sits in them.

Implements the discovery half of runc's ``libcontainer/cgroups`` (``FindCgroupMountpoint``,
``ParseCgroupFile``): parse ``/proc/self/mountinfo`` (proc(5)) for ``cgroup`` and ``cgroup2``
mounts and ``/proc/self/cgroup`` (cgroups(7)) for the caller's own cgroup paths.
"""

from __future__ import annotations

import os
import re

from dockyard.record import Record

# Mount options of a v1 cgroup filesystem that are not controller names.
_NOT_CONTROLLERS = frozenset(
    {
        "rw",
        "ro",
        "xattr",
        "noprefix",
        "clone_children",
        "cpuset_v2_mode",
        "none",
        "all",
        "favordynmods",
    }
)
_OCTAL_ESCAPE = re.compile(r"\\([0-7]{3})")


class Mount(Record):
    """One mounted cgroup hierarchy.

    ``point`` is the absolute mount point, ``root`` the cgroup path (inside the hierarchy)
    that is mounted there (``/`` except inside containers), ``controllers`` the v1 controller
    names it carries (``("cpu", "cpuacct")``, ``("name=systemd",)``) or ``()`` for cgroup2.
    (A plain record: typing.NamedTuple would import typing on every run.)
    """

    _FIELDS = ("point", "root", "controllers")

    def __init__(self, point: str, root: str, controllers: tuple[str, ...] = ()) -> None:
        self.point = point
        self.root = root
        self.controllers = controllers


class Layout(Record):
    """The cgroup layout of this host as seen from this mount namespace.

    ``mode`` is ``"v2"`` when only the unified hierarchy is mounted and ``"v1"`` otherwise
    (including the hybrid layout, where v1 controllers sit next to a cgroup2 mount).
    ``v1`` maps each v1 controller (and named hierarchy such as ``name=systemd``) to its
    mount; ``unified`` is the cgroup2 mount, if any.
    """

    _FIELDS = ("mode", "v1", "unified")

    def __init__(self, mode: str, v1: dict[str, Mount], unified: Mount | None) -> None:
        self.mode = mode
        self.v1 = v1
        self.unified = unified

    def v1_mounts(self) -> list[Mount]:
        """The distinct v1 mounts (``cpu`` and ``cpuacct`` mounted together count once)."""
        seen: dict[str, Mount] = {}
        for m in self.v1.values():
            seen.setdefault(m.point, m)
        return list(seen.values())


def _unescape(text: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \040 style octal.
    return _OCTAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 8)), text)


def parse_mountinfo(text: str) -> Layout:
    """Build a :class:`Layout` from the text of a ``/proc/<pid>/mountinfo`` file.

    The first mount of each hierarchy wins (later ones are bind mounts of it).
    """
    v1: dict[str, Mount] = {}
    unified: Mount | None = None
    for line in text.splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 10:
            continue
        sep = fields.index("-")
        fstype, super_opts = fields[sep + 1], fields[sep + 3]
        root, point = _unescape(fields[3]), _unescape(fields[4])
        if fstype == "cgroup2":
            if unified is None:
                unified = Mount(point, root)
        elif fstype == "cgroup":
            names = tuple(
                o
                for o in super_opts.split(",")
                if o.startswith("name=") or (o not in _NOT_CONTROLLERS and "=" not in o)
            )
            if not names or any(n in v1 for n in names):
                continue
            mount = Mount(point, root, names)
            for n in names:
                v1[n] = mount
    has_controllers = any(not n.startswith("name=") for n in v1)
    if unified is not None and not has_controllers:
        return Layout("v2", {}, unified)
    return Layout("v1", v1, unified)


#: The last :func:`detect` result, keyed by the process and mount namespace it was
#: read in (a ``run`` asked five times, each parsing the whole mount table).
_detected: tuple[tuple[int, int], Layout] | None = None


def detect() -> Layout:
    """The cgroup layout of the calling process, from ``/proc/self/mountinfo``; read once
    per process and mount namespace (hierarchies are mounted at boot, not per command).

    Raises ``OSError`` if ``/proc`` is not mounted.
    """
    global _detected
    key = (os.getpid(), os.stat("/proc/self/ns/mnt").st_ino)
    if _detected is not None and _detected[0] == key:
        return _detected[1]
    with open("/proc/self/mountinfo") as f:
        layout = parse_mountinfo(f.read())
    _detected = (key, layout)
    return layout


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """Parse the text of ``/proc/<pid>/cgroup``: controller -> cgroup path.

    A line naming several controllers (``2:cpu,cpuacct:/x``) yields one entry per
    controller; the cgroup2 line (``0::/x``) yields the key ``""``.
    """
    paths: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if not controllers:
            paths[""] = path
        for c in controllers.split(","):
            if c:
                paths[c] = path
    return paths


def own_cgroup_paths() -> dict[str, str]:
    """The calling process's cgroups, from ``/proc/self/cgroup``: controller -> path.

    Keys are v1 controller names (``memory``, ``name=systemd``) and ``""`` for the cgroup2
    hierarchy; paths are as the kernel prints them (``/`` for the root). Raises ``OSError``
    if ``/proc`` is not mounted.
    """
    with open("/proc/self/cgroup") as f:
        return parse_proc_cgroup(f.read())
