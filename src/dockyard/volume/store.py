"""The local volume driver and the mounts of containers (Docker volumes docs; moby's
volume/local, volume/service and daemon/volumes*.go).

A volume is a row of the ``volumes`` table and a directory ``volumes/<name>/_data`` under
the engine root. A container's mount points (volumes, binds, ``--mount type=tmpfs``) are
rows of ``container_mounts``, which is also how "in use" is known: ``volume rm`` refuses
while any container, running or not, has a row naming the volume. The tables are in the
state database's schema (state.py), created with it.

One lock file, ``<runroot>/volumes.lock`` (flock), is held while a container's volumes are
created, recorded and copied up, while a volume is removed, and while a volume with driver
options (``-o type=tmpfs``) is mounted or unmounted: so ``volume rm`` and a container
being created on the same volume cannot both pass their checks, and two containers never
copy into the same empty volume.
"""

from __future__ import annotations

import contextlib
import datetime
import errno
import fcntl
import os
import stat

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.record import Record

# json, re, typing, dataclasses and mountspec are imported where used: `volume ls` needs none
# of them on an empty engine (bench/README.md, "CLI start-up").
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from contextlib import AbstractContextManager
    from typing import Any

    from dockyard.paths import Paths
    from dockyard.state import StateDB

#: Label Docker (23+) puts on the anonymous volumes it creates; ``volume prune`` without
#: ``-a`` removes only volumes that carry it.
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
#: Driver options of the local driver (moby volume/local validOpts).
LOCAL_OPTIONS = ("type", "device", "o", "size")
#: Where a bind mount may go inside /proc (runc's checkProcMount: files lxcfs emulates).
PROC_MOUNTS_ALLOWED = (
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
    "/proc/sys/crypto/fips_enabled",
)
#: File beside a volume's ``_data`` while image content is being copied into it: if it
#: is still there, a copy-up was cut short and ``_data`` holds only part of the content.
COPYUP_MARKER = "_copyup"
UMOUNT_NOFOLLOW = 8
#: Keys of Docker's container inspect ``Mounts`` entries.
_MOUNT_KEYS = ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW", "Propagation")


def _now() -> str:
    t = datetime.datetime.now().astimezone().replace(microsecond=0)
    text = t.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class Volume(Record):
    """One volume. ``labels``/``options`` are None when none were given (Docker's null);
    equal to another of the same fields."""

    _FIELDS = ("name", "driver", "created", "labels", "options", "mountpoint")

    def __init__(
        self,
        name: str,
        driver: str,
        created: str,
        labels: dict[str, str] | None,
        options: dict[str, str] | None,
        mountpoint: str,
    ) -> None:
        self.name = name
        self.driver = driver
        self.created = created
        self.labels = labels
        self.options = options
        self.mountpoint = mountpoint

    @property
    def anonymous(self) -> bool:
        return ANONYMOUS_LABEL in (self.labels or {})

    def inspect(self) -> dict[str, Any]:
        """Docker's ``volume inspect`` object (API Volume, keys in Docker's order)."""
        return {
            "CreatedAt": self.created,
            "Driver": self.driver,
            "Labels": self.labels,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": self.options,
            "Scope": "local",
        }


def inspect_mount(mp: dict[str, Any]) -> dict[str, Any]:
    """A mount point as an entry of container inspect's ``Mounts`` (Name and Driver only
    for volumes, as Docker's omitempty)."""
    out = {k: mp.get(k, "") for k in _MOUNT_KEYS}
    out["RW"] = bool(mp.get("RW"))
    if mp["Type"] != "volume":
        del out["Name"], out["Driver"]
    return out


def _labels_match(labels: dict[str, str], filters: dict[str, list[str]]) -> bool:
    """Whether ``labels`` pass the ``label`` (all must match) and ``label!`` (none may)
    filters of ``volume ls``/``volume prune``."""
    from dockyard.container.operations import label_matches

    return all(label_matches(labels, s) for s in filters.get("label", [])) and not any(
        label_matches(labels, s) for s in filters.get("label!", [])
    )


def _depth(mount: dict[str, Any]) -> int:
    return len([p for p in mount["destination"].split("/") if p])


class VolumeStore:
    """Volumes of one engine root and the mount points of its containers.

    ``paths`` gives ``<root>/volumes`` and the run root (lock file); ``db`` is the engine's
    state database (this class adds its tables).
    """

    def __init__(self, paths: Paths, db: StateDB) -> None:
        self.paths = paths
        self.db = db
        self._lock_depth = 0
        self._lock_fd: int | None = None

    @property
    def root(self) -> str:
        return os.path.join(self.paths.root, "volumes")

    def event(self, name: str, action: str, **attributes: str) -> None:
        """Record the volume event ``action`` of volume ``name`` (driver ``local``)."""
        from dockyard import events

        events.record(self.paths.root, "volume", action, name, {**attributes, "driver": "local"})

    def mountpoint(self, name: str) -> str:
        """``<root>/volumes/<name>/_data``."""
        return os.path.join(self.root, name, "_data")

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """The engine-wide volume lock (re-entrant within this object)."""
        if self._lock_depth == 0:
            os.makedirs(self.paths.runroot, mode=0o700, exist_ok=True)
            fd = os.open(
                os.path.join(self.paths.runroot, "volumes.lock"),
                os.O_CREAT | os.O_RDWR | os.O_CLOEXEC,
                0o600,
            )
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                os.close(fd)
                raise
            self._lock_fd = fd
        self._lock_depth += 1
        try:
            yield
        finally:
            self._lock_depth -= 1
            if self._lock_depth == 0 and self._lock_fd is not None:
                os.close(self._lock_fd)
                self._lock_fd = None

    # -- volumes --------------------------------------------------------------------------

    def _from_row(self, row: Any) -> Volume:
        import json

        return Volume(
            name=row["name"],
            driver=row["driver"],
            created=row["created"],
            labels=json.loads(row["labels"]),
            options=json.loads(row["options"]),
            mountpoint=self.mountpoint(row["name"]),
        )

    def get(self, name: str) -> Volume:
        """The volume ``name``; raises NotFound ``get <name>: no such volume``."""
        rows = self.db.query("SELECT * FROM volumes WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"get {name}: no such volume")
        return self._from_row(rows[0])

    def exists(self, name: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM volumes WHERE name = ?", (name,)))

    def all(self) -> list[Volume]:
        """All volumes, by name."""
        return [self._from_row(r) for r in self.db.query("SELECT * FROM volumes ORDER BY name")]

    def create(
        self,
        name: str | None = None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> Volume:
        """``docker volume create``: a new volume (a random 64-hex name when ``name`` is
        None), or the existing one of that name (its labels and options unchanged).

        ``options`` are the local driver's ``-o``: type, device, o (mounted on the
        volume's ``_data`` while a container uses it). Raises InvalidArgument for a bad
        name or option, NotFound for a driver other than ``local``.
        """
        with self.lock():
            return self._create(name, driver=driver, labels=labels, options=options)[0]

    def _create(
        self,
        name: str | None,
        *,
        driver: str = "local",
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> tuple[Volume, bool]:
        """Create or get; returns (volume, whether it was created). Caller holds the lock."""
        import json

        from dockyard import mountspec as spec

        shown = name or ""
        if driver != "local":
            raise NotFound(
                f"create {shown}: error looking up volume plugin {driver}: "
                f'plugin "{driver}" not found'
            )
        if name is None:
            name = os.urandom(32).hex()
        else:
            spec.validate_volume_name(name)
        if options:
            self._check_options(name, options)
        rows = self.db.query("SELECT * FROM volumes WHERE name = ?", (name,))
        if rows:
            return self._from_row(rows[0]), False
        from dockyard.volume.copyup import remove_tree

        vdir = os.path.join(self.root, name)
        if os.path.lexists(vdir):
            # No row, yet a directory (a removal or a create killed half-way): a new
            # volume starts empty, not with what was left of the old one.
            _unmount(os.path.join(vdir, "_data"))
            with contextlib.suppress(OSError):
                remove_tree(vdir)
        try:
            os.makedirs(self.root, mode=0o701, exist_ok=True)
            os.makedirs(os.path.join(vdir, "_data"), mode=0o755, exist_ok=True)
        except OSError as e:
            with contextlib.suppress(OSError):
                remove_tree(vdir)
            raise DockyardError(
                f"create {name}: error while creating volume root path '{vdir}': "
                f"{(e.strerror or str(e)).lower()}"
            ) from None
        try:
            with self.db.write() as conn:
                conn.execute(
                    "INSERT INTO volumes (name, driver, created, labels, options)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (name, driver, _now(), json.dumps(labels), json.dumps(options)),
                )
        except BaseException:
            with contextlib.suppress(OSError):
                remove_tree(vdir)
            raise
        self.event(name, "create")
        return self.get(name), True

    @staticmethod
    def _check_options(name: str, options: dict[str, str]) -> None:
        for key in options:
            if key not in LOCAL_OPTIONS:
                raise InvalidArgument(f'create {name}: invalid option key: "{key}"')
        if "size" in options:
            raise InvalidArgument(f"create {name}: quota size requested but no quota support")
        if options.get("type") and not options.get("device"):
            raise InvalidArgument(f'create {name}: missing required option: "device"')
        if options.get("device") and not options.get("type"):
            raise InvalidArgument(f'create {name}: missing required option: "type"')

    def users(self, name: str) -> list[str]:
        """IDs of the containers (any state) that have ``name`` mounted."""
        rows = self.db.query(
            "SELECT DISTINCT container_id FROM container_mounts WHERE volume = ?"
            " ORDER BY container_id",
            (name,),
        )
        return [r["container_id"] for r in rows]

    def remove(self, name: str, force: bool = False) -> None:
        """``docker volume rm``: delete the volume and its data.

        Raises Conflict ``remove <name>: volume is in use - [<ids>]`` while a container
        uses it (also with ``force``, as Docker), NotFound unless ``force``.
        """
        with self.lock():
            if not self.exists(name):
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            self._remove(name)

    def _remove(self, name: str) -> None:
        """Remove a volume nobody uses (caller holds the lock). Its rows go first, its
        files after (a kill in between leaves the volume gone and its directory
        unrecorded, which the collector and a later create of that name remove): the
        directory is then renamed aside (a short name: the volume's own may already be
        255 bytes), so it never stays half-deleted under its name, and its content,
        however deep a container made it, is removed without following symlinks."""
        from dockyard.volume.copyup import remove_tree

        with self.db.write() as conn:
            conn.execute("DELETE FROM volumes WHERE name = ?", (name,))
            conn.execute("DELETE FROM volume_activity WHERE volume = ?", (name,))
        self.event(name, "destroy")
        vdir = os.path.join(self.root, name)
        _unmount(os.path.join(vdir, "_data"))
        trash = os.path.join(self.root, f".removing-{os.urandom(8).hex()}")
        try:
            os.rename(vdir, trash)
        except FileNotFoundError:
            pass
        except OSError as e:
            raise DockyardError(f"remove {name}: {e.strerror}") from None
        # This one, and any a removal killed half-way left (removals hold the lock).
        for entry in os.listdir(self.root):
            if entry.startswith(".removing-"):
                with contextlib.suppress(OSError):
                    remove_tree(os.path.join(self.root, entry))

    def select(self, filters: dict[str, list[str]]) -> list[Volume]:
        """``volume ls --filter``: dangling (true/false), name (regular expression),
        driver, label (``key`` or ``key=value``, all must match), label! (none may).
        Raises InvalidArgument for an unknown key or a bad value."""
        if "name" in filters:
            import re
        for key, values in filters.items():
            if key not in ("dangling", "name", "driver", "label", "label!"):
                raise InvalidArgument(f"invalid filter '{key}'")
            if key == "dangling":
                for value in values:
                    if value.lower() not in ("true", "false", "1", "0"):
                        raise InvalidArgument(f"invalid filter 'dangling={value}'")
        used = {r["volume"] for r in self.db.query("SELECT DISTINCT volume FROM container_mounts")}
        out: list[Volume] = []
        for v in self.all():
            dangling = v.name not in used
            if any((d.lower() in ("true", "1")) != dangling for d in filters.get("dangling", [])):
                continue
            names = filters.get("name", [])
            try:
                if names and not any(re.search(n, v.name) for n in names):
                    continue
            except re.error as e:
                raise InvalidArgument(f"invalid filter: {e}") from None
            if filters.get("driver") and v.driver not in filters["driver"]:
                continue
            if not _labels_match(v.labels or {}, filters):
                continue
            out.append(v)
        return out

    def prune(
        self, all_volumes: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list[tuple[str, int]]:
        """``docker volume prune``: remove unused anonymous volumes (all unused ones with
        ``all_volumes`` or the filter ``all=true``) that match the ``label``/``label!``
        filters. Returns ``[(name, bytes reclaimed)]``. Raises InvalidArgument."""
        from dockyard.container.operations import dir_size

        filters = dict(filters or {})
        for key in filters:
            if key not in ("label", "label!", "all"):
                raise InvalidArgument(f"invalid filter '{key}'")
        for value in filters.pop("all", []):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'all={value}'")
            all_volumes = all_volumes or value.lower() in ("true", "1")
        removed = []
        with self.lock():
            for v in self.all():
                if not all_volumes and not v.anonymous:
                    continue
                if not _labels_match(v.labels or {}, filters):
                    continue
                if self.users(v.name):
                    continue
                size = dir_size(v.mountpoint)
                self._remove(v.name)
                removed.append((v.name, size))
        return removed

    # -- containers -----------------------------------------------------------------------

    def container_mounts(self, container_id: str) -> list[dict[str, Any]]:
        """The mount points of a container, by destination."""
        import json

        rows = self.db.query(
            "SELECT mount FROM container_mounts WHERE container_id = ? ORDER BY destination",
            (container_id,),
        )
        return [json.loads(r["mount"]) for r in rows]

    def inspect_mounts(self, container_id: str) -> list[dict[str, Any]]:
        """Docker's container inspect ``Mounts`` array."""
        return [inspect_mount(mp) for mp in self.container_mounts(container_id)]

    def plan(
        self,
        config: dict[str, Any],
        host_config: dict[str, Any],
        mounts_of: Callable[[str], list[dict[str, Any]]],
    ) -> list[dict[str, Any]]:
        """The mount points a new container gets, as moby's registerMountPoints: those
        of ``--volumes-from`` containers (``mounts_of(ref)`` gives them; ``:ro`` makes
        them read-only), then ``-v`` binds and named volumes (HostConfig.Binds), then
        ``--mount`` (HostConfig.Mounts), then an anonymous volume for each Config.Volumes
        path nothing else is mounted on. Nothing is created yet.

        Raises InvalidArgument (a bad spec, ``Duplicate mount point: <path>``), NotFound
        (a ``--volumes-from`` container).
        """
        from dockyard import mountspec as spec

        points: dict[str, dict[str, Any]] = {}
        tmpfs = set(host_config.get("Tmpfs") or {})
        for entry in host_config.get("VolumesFrom") or []:
            ref, mode = spec.parse_volumes_from(entry)
            for mp in mounts_of(ref):
                if mp["Type"] == "tmpfs":
                    continue
                copy = {**mp, "CopyData": False, "Mode": ""}
                copy["RW"] = bool(mp.get("RW")) and "ro" not in mode.split(",")
                points[mp["Destination"]] = copy
        taken: set[str] = set()
        user_points = [spec.mount_point_from_bind(b) for b in host_config.get("Binds") or []]
        user_points += [spec.mount_point_from_mount(m) for m in host_config.get("Mounts") or []]
        for mp in user_points:
            dest = mp["Destination"]
            if dest in taken or dest in tmpfs:
                raise InvalidArgument(f"Duplicate mount point: {dest}")
            taken.add(dest)
            points[dest] = mp
        for path in config.get("Volumes") or {}:
            dest = spec.clean_path(path)
            if dest in points or dest in tmpfs:
                continue
            points[dest] = spec.mount_point_from_bind(dest)
        return [points[d] for d in sorted(points)]

    def attach(
        self,
        container_id: str,
        points: list[dict[str, Any]],
        image_rootfs: Callable[[], AbstractContextManager[str]],
    ) -> list[dict[str, Any]]:
        """Create the volumes ``points`` (from :meth:`plan`) need, record them as the
        container's, and copy image content up into each new, empty volume that asks
        for it (``image_rootfs()`` mounts the container's root filesystem and yields its
        path; entered only if some copy is due). Returns the recorded mount points.

        On any error nothing is left: no row, and no volume this call created.
        """
        import json

        created: list[str] = []
        with self.lock():
            try:
                recorded = []
                for mp in points:
                    mp = dict(mp)
                    if mp["Type"] == "volume" and not mp.get("Source"):
                        labels = mp.pop("VolumeLabels", None)
                        if mp.get("Anonymous"):
                            labels = {**(labels or {}), ANONYMOUS_LABEL: ""}
                        v, new = self._create(
                            mp["Name"] or None,
                            labels=labels,
                            options=mp.pop("VolumeOptions", None),
                        )
                        if new:
                            created.append(v.name)
                        mp["Name"], mp["Source"] = v.name, v.mountpoint
                    recorded.append(mp)
                with self.db.write() as conn:
                    conn.executemany(
                        "INSERT INTO container_mounts (container_id, destination, volume, mount)"
                        " VALUES (?, ?, ?, ?)",
                        [
                            (
                                container_id,
                                mp["Destination"],
                                mp.get("Name") if mp["Type"] == "volume" else None,
                                json.dumps(mp),
                            )
                            for mp in recorded
                        ],
                    )
                self._copy_up(recorded, image_rootfs)
            except BaseException:
                with self.db.write() as conn:
                    conn.execute(
                        "DELETE FROM container_mounts WHERE container_id = ?", (container_id,)
                    )
                for name in created:
                    with contextlib.suppress(DockyardError, OSError):
                        self._remove(name)
                raise
        return recorded

    def _copy_up(
        self,
        points: list[dict[str, Any]],
        image_rootfs: Callable[[], AbstractContextManager[str]],
        cut_short_only: bool = False,
    ) -> None:
        """Copy image content into each new, empty volume of ``points`` that asks for it
        (unless ``cut_short_only``), and into a volume whose copy-up was cut short (its
        ``_copyup`` marker is still there: it is emptied and copied again), so a volume
        never keeps half of it. Caller holds the lock."""
        from dockyard.volume.copyup import copy_tree, is_empty, remove_tree

        due = []
        for mp in points:
            if mp["Type"] != "volume" or not mp.get("CopyData"):
                continue
            v = self.get(mp["Name"])
            # A volume with driver options is a mount of its own, made only while in use.
            if (v.options or {}).get("type"):
                continue
            data = self._data_dir(v)
            marker = os.path.join(os.path.dirname(data), COPYUP_MARKER)
            if os.path.lexists(marker) or (not cut_short_only and is_empty(data)):
                due.append((mp["Destination"], data, marker))
        if not due:
            return
        with image_rootfs() as rootfs:
            for dest, data, marker in due:
                source = _resolve(rootfs, dest)
                try:
                    if os.path.lexists(marker):
                        with os.scandir(data) as it:
                            for entry in list(it):
                                remove_tree(entry.path)
                    else:
                        os.close(os.open(marker, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
                    if os.path.isdir(source) and not os.path.islink(source):
                        copy_tree(source, data)
                    os.unlink(marker)
                except OSError as e:
                    raise DockyardError(
                        f"copy image content of {dest} into volume {data}: {e.strerror or e}"
                    ) from None

    def _data_dir(self, v: Volume) -> str:
        """The volume's ``_data``, checked to be a real directory: one replaced by a
        symlink would have the engine mount, copy into or unmount whatever it points
        at. Raises DockyardError."""
        try:
            st = os.lstat(v.mountpoint)
        except OSError as e:
            raise DockyardError(f"volume {v.name}: {v.mountpoint}: {e.strerror}") from None
        if not stat.S_ISDIR(st.st_mode):
            raise DockyardError(f"volume {v.name}: {v.mountpoint} is not a directory")
        return v.mountpoint

    def detach(self, container_id: str, remove_anonymous: bool = False) -> None:
        """Forget the container's mount points (it is being removed); with
        ``remove_anonymous`` (``rm -v``, ``run --rm``) also remove the anonymous volumes
        it mounted that no other container uses. Named volumes always stay."""
        with self.lock():
            points = self.container_mounts(container_id)
            with self.db.write() as conn:
                conn.execute("DELETE FROM container_mounts WHERE container_id = ?", (container_id,))
            if not remove_anonymous:
                return
            for mp in points:
                name = str(mp.get("Name") or "")
                anonymous = mp["Type"] == "volume" and mp.get("Anonymous") and name
                if anonymous and self.exists(name) and not self.users(name):
                    self._remove(name)

    # -- start ----------------------------------------------------------------------------

    def oci_mounts(
        self, container_id: str, tmpfs: dict[str, str], rootfs: str, undo: contextlib.ExitStack
    ) -> list[dict[str, Any]]:
        """The OCI ``mounts`` of the container's mount points and ``--tmpfs`` paths
        (``tmpfs``: path -> options), parents before children.

        Each destination is resolved inside the mounted ``rootfs`` (symlinks clamped, as
        securejoin) and its mount point created there, so the OCI destination has no
        symlink left and no runtime (built-in, runc, crun) can be led outside the rootfs.
        A ``-v`` bind source that does not exist is created as a directory (0755), as
        Docker does; a volume with driver options is mounted on its ``_data`` (unmounted,
        via ``undo``, once no running container uses it); a copy-up cut short is done
        again from ``rootfs``. Raises DockyardError."""
        from dockyard import mountspec as spec

        mounts: list[dict[str, Any]] = []
        option_volumes = []
        points = self.container_mounts(container_id)
        if any(mp["Type"] == "volume" and mp.get("CopyData") for mp in points):
            # A create killed during copy-up left its container: finish the copy now.
            with self.lock():
                self._copy_up(points, lambda: contextlib.nullcontext(rootfs), cut_short_only=True)
        for mp in points:
            if mp["Type"] == "tmpfs":
                data = spec.tmpfs_data(mp.get("TmpfsOptions") or {}, not mp.get("RW"))
                mounts.append(self._tmpfs(mp["Destination"], data))
                continue
            source = mp["Source"]
            if mp["Type"] == "bind" and mp.get("CreateSource") and not os.path.lexists(source):
                try:
                    _makedirs(source)
                except OSError as e:
                    raise DockyardError(
                        f"error while creating mount source path '{source}': {e.strerror}"
                    ) from None
            if mp["Type"] == "volume":
                v = self.get(mp["Name"])
                source = self._data_dir(v)
                if (v.options or {}).get("type"):
                    option_volumes.append(v)
                self.event(
                    v.name,
                    "mount",
                    container=container_id,
                    destination=mp["Destination"],
                    propagation=mp.get("Propagation") or "",
                    **{"read/write": "true" if mp.get("RW") else "false"},
                )
            options = ["rbind", mp.get("Propagation") or spec.DEFAULT_PROPAGATION]
            if not mp.get("RW"):
                options.append("ro")
            mounts.append(
                {
                    "destination": mp["Destination"],
                    "type": "bind",
                    "source": source,
                    "options": options,
                }
            )
        for path, data in tmpfs.items():
            mounts.append(self._tmpfs(path, data))
        for m in mounts:
            m["destination"] = _mount_point(rootfs, m["destination"], m["source"], m["type"])
        if option_volumes:
            undo.callback(self.deactivate, container_id)
            for v in option_volumes:
                self._activate(v, container_id)
        return sorted(mounts, key=_depth)

    @staticmethod
    def _tmpfs(dest: str, data: str) -> dict[str, Any]:
        from dockyard import mountspec as spec

        return {
            "destination": dest,
            "type": "tmpfs",
            "source": "tmpfs",
            "options": spec.tmpfs_options(data),
        }

    def _activate(self, v: Volume, container_id: str) -> None:
        """Mount the volume's driver options on its ``_data`` unless already mounted,
        and record ``container_id`` as using it."""
        from dockyard.runtime import syscalls as sc
        from dockyard.runtime.init import parse_mount_options

        opts = v.options or {}
        with self.lock():
            with self.db.write() as conn:
                conn.execute(
                    "INSERT OR IGNORE INTO volume_activity (volume, container_id) VALUES (?, ?)",
                    (v.name, container_id),
                )
            self._data_dir(v)
            if _is_mount_point(v.mountpoint):
                return
            flags, _prop, data = parse_mount_options((opts.get("o") or "").split(","))
            try:
                sc.mount(opts["device"], v.mountpoint, opts["type"], flags, data or None)
            except OSError as e:
                with self.db.write() as conn:
                    conn.execute(
                        "DELETE FROM volume_activity WHERE volume = ? AND container_id = ?",
                        (v.name, container_id),
                    )
                raise DockyardError(
                    f"error while mounting volume '{v.mountpoint}': failed to mount local "
                    f"volume: mount {opts['device']}:{v.mountpoint}, data: {opts.get('o', '')}"
                    f": {e.strerror}"
                ) from None

    def unmount_events(self, container_id: str) -> None:
        """Record the ``unmount`` event of each volume the container's run had mounted
        (as dockerd at the container's exit)."""
        for mp in self.container_mounts(container_id):
            if mp["Type"] == "volume" and mp.get("Name"):
                self.event(mp["Name"], "unmount", container=container_id)

    def deactivate(self, container_id: str) -> None:
        """The container stopped: unmount each volume with driver options that no other
        running container uses any more."""
        with self.lock():
            rows = self.db.query(
                "SELECT volume FROM volume_activity WHERE container_id = ?", (container_id,)
            )
            if not rows:
                return
            with self.db.write() as conn:
                conn.execute("DELETE FROM volume_activity WHERE container_id = ?", (container_id,))
            for row in rows:
                name = row["volume"]
                if not self.db.query("SELECT 1 FROM volume_activity WHERE volume = ?", (name,)):
                    _unmount(self.mountpoint(name))


def _mount_point(rootfs: str, dest: str, source: str, kind: str) -> str:
    """Resolve ``dest`` inside ``rootfs``, create it (a directory, or an empty file when
    ``source`` is a file; missing parents 0755) and return it as a path in the rootfs.
    A bind (``kind``) may not land on or in /proc, as runc refuses (a procfs root on
    /proc and the files lxcfs emulates excepted), so every runtime behaves alike.
    Raises DockyardError."""
    path = _resolve(rootfs, dest)
    inside = "/" + os.path.relpath(path, rootfs)
    if kind == "bind" and (inside == "/proc" or inside.startswith("/proc/")):
        where = f'error mounting "{source}" to rootfs at "{dest}": "{inside}" cannot be mounted'
        if inside == "/proc" and not _is_procfs_root(source):
            raise DockyardError(f"{where} because it is not of type proc")
        if inside != "/proc" and inside not in PROC_MOUNTS_ALLOWED:
            raise DockyardError(f"{where} because it is inside /proc")
    is_dir = os.path.isdir(source) or source == "tmpfs"
    if is_dir and os.path.lexists(path) and not os.path.isdir(path):
        # runc's message for a directory mounted over a file of the image.
        raise DockyardError(f'error mounting "{source}" to rootfs at "{dest}": not a directory')
    from dockyard.snapshot import inroot

    try:
        # Made from a directory fd of the rootfs (the filesystem rule), where the runtime
        # will find it again the same way.
        root_fd = inroot.open_root(rootfs)
        try:
            os.close(inroot.mount_target(root_fd, inside, directory=is_dir))
        finally:
            os.close(root_fd)
    except OSError as e:
        raise DockyardError(f"create mount point {dest} in the rootfs: {e.strerror}") from None
    return inside


def _resolve(rootfs: str, dest: str) -> str:
    """``dest`` resolved inside ``rootfs`` (securejoin). Raises DockyardError when the
    image's symlinks make it the root itself (``/data -> /``): a mount there would
    cover the container's whole filesystem, as ``-v x:/`` would, which Docker refuses."""
    from dockyard.snapshot import securejoin

    path = securejoin(rootfs, dest)
    if path == os.path.abspath(rootfs):
        raise DockyardError(
            f"invalid mount config: {dest} resolves to '/' in the image: "
            "invalid specification: destination can't be '/'"
        )
    return path


def _is_procfs_root(path: str) -> bool:
    real = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if (
                fields[3] == "/"
                and _mountinfo_path(fields[4]) == real
                and fields[sep + 1] == "proc"
            ):
                return True
    return False


def _unmount(path: str) -> None:
    """Detach every mount on a volume's ``_data`` (mounts stacked there too: removing
    the volume's files through one left behind would remove what it shows), without
    following a symlink there (never a mount the engine did not make); not mounted is
    fine. Raises DockyardError."""
    from dockyard.runtime import syscalls as sc

    for _ in range(64):
        try:
            sc.umount2(path, sc.MNT_DETACH | UMOUNT_NOFOLLOW)
        except OSError as e:
            if e.errno in (errno.EINVAL, errno.ENOENT):
                return
            raise DockyardError(f"unmount {path}: {e.strerror}") from None
    raise DockyardError(f"unmount {path}: still mounted")


def _makedirs(path: str) -> None:
    """``os.makedirs`` giving missing parents 0755 too (whatever the umask)."""
    if os.path.isdir(path):
        return
    _makedirs(os.path.dirname(path))
    try:
        os.mkdir(path, 0o755)
        os.chmod(path, 0o755)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def _mountinfo_path(field: str) -> str:
    """A path field of /proc/self/mountinfo: the kernel escapes space, tab, newline and
    backslash as octal (``\\040``)."""
    import re

    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _is_mount_point(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(_mountinfo_path(line.split()[4]) == path for line in f)
