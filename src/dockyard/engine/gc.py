"""Garbage collection and crash recovery, in containerd's style (issue 14).

The database is the truth: :func:`collect` marks what its records reference and sweeps
the rest, the leftovers of commands killed at any point (kill -9 runs no cleanup):
containers whose creating command died, runs left half-started, container and runtime
directories without a record, cgroups, network namespaces, veths and attach sockets of
containers that do not run, rows naming removed containers or images, and blobs, layers
and temporary directories nothing references (mounts under them unmounted first).

Nothing an operation in flight holds is touched: a container's start lock
(``<runroot>/<id>.lock``, held by whoever creates, starts or runs it) is taken without
waiting before anything of it goes; cgroup parents are swept under
``<runroot>/cgroups.lock``; content only while no writer holds
``<runroot>/content.lock`` (``ImageStore.lease``); a build's scratch directory while its
build holds a flock on it; temporary names carry their process ID
(``dockyard.tempfiles``). Collectors exclude each other with ``<runroot>/gc.lock``.

:func:`recover` is the cheap part every command runs first: containers recorded running
whose monitor is gone are taken over (``ContainerManager.reconcile``: lost exit, restart
policy, ``--rm``), and a full :func:`collect` runs only when a command that registered
itself with :func:`register_command` died (its marker under ``<runroot>/commands/`` is no
longer locked). ``dockyard system check [--repair]`` reports (and repairs) what
:func:`collect` finds; ``system prune`` runs it at its end.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

from dockyard.errors import DockyardError, NotFound

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    import re
    from collections.abc import Iterator

    from dockyard.engine.base import EngineBase as Engine
    from dockyard.paths import Paths

# Patterns, compiled on first use by ``re`` (its import is left to the full collection).
_ID = r"[0-9a-f]{64}"
_TEMP = r"(?P<prefix>[a-z]+-|\.tmp-)(?P<pid>\d+)-[0-9a-f]+(?:\.\w+)?"


def _fullmatch(pattern: str, text: str) -> re.Match[str] | None:
    import re

    return re.fullmatch(pattern, text)


#: Seconds a lock file or a runtime directory without state must have existed before it
#: counts as left behind (closes the window between a file's creation and its flock).
GRACE = 60.0
_COMMANDS_DIR = "commands"


class Finding:
    """One thing left behind: ``kind`` (container, container-dir, runtime, cgroup,
    netns, veth, network, attach, lock, rows, blob, layer, temp, volume-trash),
    ``name`` (an ID, path or interface), ``action`` (what repairing does or did) and
    ``size`` (bytes freed on disk, 0 when not counted)."""

    __slots__ = ("action", "kind", "name", "size")

    # A plain class: a dataclass costs every command about half a millisecond to import.
    def __init__(self, kind: str, name: str, action: str, size: int = 0) -> None:
        self.kind, self.name, self.action, self.size = kind, name, action, size

    def __repr__(self) -> str:
        return f"Finding({self.kind!r}, {self.name!r}, {self.action!r}, {self.size})"


# -- commands in flight ---------------------------------------------------------------

_registered: list[int] = []


def register_command(paths: Paths) -> None:
    """Mark this process as a command in flight until it exits: a file
    ``<runroot>/commands/<pid>-<hex>`` it holds a flock on and removes at a normal exit
    (``atexit``). A marker found unlocked means a command was killed: :func:`recover`
    then collects. A few system calls (under half a millisecond measured here)."""
    import atexit

    from dockyard.tempfiles import temp_name

    directory = os.path.join(paths.runroot, _COMMANDS_DIR)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = temp_name("")
    # Locked under a hidden name first: a marker is never seen unlocked while alive.
    hidden = os.path.join(directory, "." + name)
    fd = os.open(hidden, os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    path = os.path.join(directory, name)
    os.rename(hidden, path)
    _registered.append(fd)
    pid = os.getpid()

    def done() -> None:
        # Not in a forked child that returned to Python, nor after an interrupt.
        if os.getpid() == pid and not _interrupted:
            with contextlib.suppress(OSError):
                os.unlink(path)

    atexit.register(done)


_interrupted: list[bool] = []


def command_interrupted() -> None:
    """Leave this command's marker at its exit, as a killed command's: an interrupt
    (Ctrl-C) may have cut short what it made (``run --rm`` just after the create left a
    half-made container), and the next command's :func:`recover` then collects."""
    _interrupted.append(True)


def _dead_commands(paths: Paths) -> list[str]:
    """Markers of registered commands that died (their flock is free)."""
    directory = os.path.join(paths.runroot, _COMMANDS_DIR)
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    dead = []
    for name in names:
        path = os.path.join(directory, name)
        if name.startswith("."):
            if _age(path) >= GRACE:  # killed between its creation and the rename
                dead.append(path)
        elif _lock_free(path):
            dead.append(path)
    return dead


def _lock_free(path: str) -> bool:
    """Whether nobody holds a flock on ``path`` (a missing file counts as free)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return True
    except IsADirectoryError:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


# -- the cheap pass -------------------------------------------------------------------


def recover(engine: Engine) -> None:
    """What every command runs first (cheap: one query, a flock attempt per running
    container, one directory listing): take over containers recorded running whose
    monitor is gone (lost exit, restart policy, ``--rm``) and, when a registered
    command died since, run a full :func:`collect`. Errors are not the command's: they
    are left for ``system check`` to report."""
    import sqlite3

    with contextlib.suppress(DockyardError, OSError, sqlite3.Error):
        rows = engine.db.query("SELECT id FROM containers WHERE json_extract(state, '$.Running')")
        # The container manager (a costly import) only when a container is recorded running.
        for row in rows:
            manager = engine.containers
            with contextlib.suppress(NotFound):
                manager.reconcile(manager.store.get(row["id"]))
    if not _dead_commands(engine.paths):
        return
    with (
        contextlib.suppress(DockyardError, OSError, sqlite3.Error),
        _collector_lock(engine.paths, False) as mine,
    ):
        if mine:
            _collect(engine, repair=True)


def needs_recovery(engine: Engine) -> bool:
    """Whether :func:`recover` has work: a container recorded running whose monitor is
    gone, or a registered command that died. Reads only (it never forks), for a
    multi-threaded front end (the API service) to decide when to run :func:`recover`
    in a process of its own."""
    for row in engine.db.query("SELECT id FROM containers WHERE json_extract(state, '$.Running')"):
        if _lock_free(os.path.join(engine.paths.runroot, f"{row['id']}.lock")):
            return True
    return bool(_dead_commands(engine.paths))


def defer_recovery() -> None:
    """For a multi-threaded, long-lived front end (the API service): containers whose
    monitor is gone are no longer taken over inside its requests (a restart forks a
    monitor, which a multi-threaded process must not). The front end then watches with
    :func:`needs_recovery` (reads only) and has :func:`recover` run in a child process
    (the facade's ``system_recover``)."""
    from dockyard.container import manager

    manager.RECOVER_IN_PROCESS = False


@contextlib.contextmanager
def _collector_lock(paths: Paths, wait: bool) -> Iterator[bool]:
    """``<runroot>/gc.lock``, exclusive: yields whether it was taken (``wait``: block)."""
    os.makedirs(paths.runroot, mode=0o700, exist_ok=True)
    fd = os.open(
        os.path.join(paths.runroot, "gc.lock"), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600
    )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


# -- the full collection --------------------------------------------------------------


def collect(engine: Engine, repair: bool = True) -> list[Finding]:
    """Find (and with ``repair`` remove) everything killed commands left: mark from the
    database, sweep the rest, in an order where each step's removals free the next
    one's (containers, then their directories, runtime state, cgroups, namespaces,
    interfaces, runroot files, rows, content). Returns the findings. ``system prune``
    calls it at its end; ``system check`` with ``repair`` False reports only."""
    with _collector_lock(engine.paths, wait=True):
        return _collect(engine, repair)


def _collect(engine: Engine, repair: bool) -> list[Finding]:
    dead = _dead_commands(engine.paths)  # before: one dying meanwhile waits for next time
    found: list[Finding] = []
    for step in (
        _containers,
        _container_dirs,
        _runtime_dirs,
        _cgroups,
        _namespaces,
        _veths,
        _bridges,
        _runroot_files,
        _rows,
        _content,
        _volume_trash,
    ):
        found += step(engine, repair)
    if repair:
        for path in dead:
            with contextlib.suppress(OSError):
                os.unlink(path)
    return found


def _containers(engine: Engine, repair: bool) -> list[Finding]:
    """Recorded containers nobody holds: creating command died (removed, init
    killed), monitor gone (taken over), a start killed half-way (cleaned up)."""
    manager = engine.containers
    found = []
    for c in manager.store.list():
        lock = manager.try_lock(c.id)
        if lock is None:
            continue
        try:
            try:
                c = manager.store.get(c.id)
            except NotFound:
                continue
            if manager.being_created(c.id):
                found.append(Finding("container", c.id, "removed: its creating command died"))
                if repair:
                    if c.state["Running"] or manager.run_leftovers(c):
                        manager.cleanup_run(c)
                    manager.discard(c, volumes=True)
            elif c.state["Running"]:
                if repair:
                    action = manager.recover(c, lock)
                    lock = -1
                else:
                    action = "record the lost exit, apply its restart policy (monitor gone)"
                found.append(Finding("container", c.id, action))
            elif leftovers := manager.run_leftovers(c):
                found.append(
                    Finding("container", c.id, f"cleaned up a stopped run: {', '.join(leftovers)}")
                )
                if repair:
                    manager.cleanup_run(c)
        finally:
            if lock >= 0:
                os.close(lock)
    return found


def _running(engine: Engine, container_id: str) -> bool:
    rows = engine.db.query(
        "SELECT json_extract(state, '$.Running') AS running FROM containers WHERE id = ?",
        (container_id,),
    )
    return bool(rows and rows[0]["running"])


def _hold(engine: Engine, container_id: str) -> int | None:
    """The start lock of an ID that may have no container: its fd, -1 when there is
    no lock file (nobody can hold it: a creating command makes it first), or None while
    someone holds it."""
    path = os.path.join(engine.paths.runroot, f"{container_id}.lock")
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _release(fd: int) -> None:
    if fd >= 0:
        os.close(fd)


def _recorded(engine: Engine) -> set[str]:
    return {r["id"] for r in engine.db.query("SELECT id FROM containers")}


def _container_dirs(engine: Engine, repair: bool) -> list[Finding]:
    """``containers/<id>`` without a record whose lock is free: a removal killed after
    the record went, or a create killed before it was made."""
    try:
        names = os.listdir(engine.paths.containers)
    except FileNotFoundError:
        return []
    recorded = _recorded(engine)
    found = []
    for name in names:
        if name in recorded or not _fullmatch(_ID, name):
            continue
        lock = _hold(engine, name)
        if lock is None:
            continue
        try:
            if engine.db.query("SELECT 1 FROM containers WHERE id = ?", (name,)):
                continue
            path = engine.paths.container_dir(name)
            found.append(Finding("container-dir", path, "removed (no record)", _size(path)))
            if repair:
                from dockyard.snapshot.overlay import unmount_under
                from dockyard.volume.copyup import remove_tree

                unmount_under(path)

                with contextlib.suppress(OSError):
                    remove_tree(path)
        finally:
            _release(lock)
    return found


def _runtime_dirs(engine: Engine, repair: bool) -> list[Finding]:
    """``<runroot>/runtime/<id>`` of no recorded container (a removal or a build
    killed): its processes killed, its cgroup and state removed. A build's RUN
    container is left while its build holds its scratch directory."""
    root = engine.paths.runtime_state
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        return []
    recorded = _recorded(engine)
    found = []
    for name in names:
        path = os.path.join(root, name)
        if name in recorded or name.startswith(".") or not os.path.isdir(path):
            continue
        bundle = _runtime_bundle(path)
        if bundle is None:
            # No state yet: a create in progress (the built-in runtime flocks the
            # directory until it writes the state; another's, give it time) or killed.
            if not _lock_free(path) or (
                not os.path.exists(os.path.join(path, "exec.fifo")) and _age(path) < GRACE
            ):
                continue
        elif bundle.startswith(engine.paths.tmp + "/"):
            scratch = os.path.join(
                engine.paths.tmp, bundle[len(engine.paths.tmp) + 1 :].split("/")[0]
            )
            if os.path.isdir(scratch) and not _lock_free(scratch):
                continue  # its build runs
        lock = _hold(engine, name)
        if lock is None:
            continue
        try:
            found.append(Finding("runtime", path, "killed and deleted (no container)"))
            if repair:
                _delete_runtime_container(engine, name)
        finally:
            _release(lock)
    return found


def _runtime_bundle(state_dir: str) -> str | None:
    import json

    try:
        with open(os.path.join(state_dir, "state.json")) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    bundle = state.get("bundle") or (state.get("config") or {}).get("rootfs")
    return bundle if isinstance(bundle, str) else None


def _delete_runtime_container(engine: Engine, container_id: str) -> None:
    """Kill and delete runtime container ``container_id`` with whichever runtime's
    state it has (the built-in one's, else runc's or crun's), then its directory."""
    import shutil

    from dockyard.runtime import get_runtime

    for name in ("dockyard", "runc", "crun"):
        with contextlib.suppress(DockyardError, OSError, KeyError, ValueError):
            runtime = get_runtime(name, engine.paths.runtime_state)
            with engine.containers._cgroup_parent_lock(exclusive=True):
                runtime.delete(container_id, force=True)
            break
    shutil.rmtree(os.path.join(engine.paths.runtime_state, container_id), ignore_errors=True)


def _cgroups(engine: Engine, repair: bool) -> list[Finding]:
    """Cgroups under the engine's default parent named by a container ID that neither
    a live container nor a live build's RUN owns: processes killed, removed; then the
    parent if empty."""
    from dockyard.paths import default_cgroup_parent
    from dockyard.runtime import cgroups

    manager = engine.containers
    found = []
    with manager._cgroup_parent_lock(exclusive=True):
        try:
            parents = list(cgroups.load(default_cgroup_parent()).paths.values())
        except (DockyardError, OSError):
            return []
        ids: set[str] = set()
        for parent in parents:
            with contextlib.suppress(OSError):
                ids.update(n for n in os.listdir(parent) if _fullmatch(_ID, n))
        for cid in sorted(ids):
            if os.path.isdir(os.path.join(engine.paths.runtime_state, cid)):
                continue  # a live container's or build's (swept above if neither)
            lock = _hold(engine, cid)
            if lock is None:
                continue
            try:
                if _running(engine, cid):
                    continue
                found.append(
                    Finding(
                        "cgroup", f"{default_cgroup_parent()}/{cid}", "processes killed, removed"
                    )
                )
                if repair:
                    with contextlib.suppress(DockyardError, OSError):
                        cgroups.load(f"{default_cgroup_parent()}/{cid}").destroy(kill=True)
            finally:
                _release(lock)
        if repair:
            for parent in parents:
                with contextlib.suppress(OSError):
                    os.rmdir(parent)
    return found


def _namespaces(engine: Engine, repair: bool) -> list[Finding]:
    """Network namespace files of containers that do not run (nobody holds them)."""
    directory = os.path.join(engine.paths.runroot, "netns")
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    manager = engine.containers
    found = []
    for name in names:
        lock = _hold(engine, name) if _fullmatch(_ID, name) else None
        if lock is None:
            continue
        try:
            if _running(engine, name):
                continue
            found.append(Finding("netns", os.path.join(directory, name), "unmounted, removed"))
            if repair:
                with contextlib.suppress(DockyardError, OSError):
                    manager.networks.teardown(name)
        finally:
            _release(lock)
    return found


def _veths(engine: Engine, repair: bool) -> list[Finding]:
    """Host ends of veths the engine tagged whose endpoint's container does not run
    (the kernel deletes them with the namespace, unless a process still held it)."""
    networks = engine.containers.networks
    owners = {ep.host_ifname: ep.container_id for ep in networks.store.endpoints()}
    running = {
        r["id"]
        for r in engine.db.query("SELECT id FROM containers WHERE json_extract(state, '$.Running')")
    }
    candidates = []
    try:
        names = os.listdir("/sys/class/net")
    except OSError:
        return []
    for name in names:
        if not name.startswith("veth"):
            continue
        try:
            with open(f"/sys/class/net/{name}/ifalias") as f:
                if f.read().strip() != networks.tag:
                    continue
        except OSError:
            continue
        owner = owners.get(name)
        if owner in running:
            continue
        if owner is not None and not _lock_free(
            os.path.join(engine.paths.runroot, f"{owner}.lock")
        ):
            continue
        candidates.append(name)
    # The kernel deletes a stopped container's veth in the background (~30 ms after its
    # namespace went): only one still there after a moment is left behind.
    deadline = time.monotonic() + 1.0
    while candidates and time.monotonic() < deadline:
        time.sleep(0.05)
        candidates = [n for n in candidates if os.path.exists(f"/sys/class/net/{n}")]
    found = []
    for name in candidates:
        found.append(Finding("veth", name, "deleted"))
        if repair:
            from dockyard.network import linux

            with contextlib.suppress(DockyardError, OSError):
                linux.ip_batch([f"link del {name}"], force=True)
    return found


def _bridges(engine: Engine, repair: bool) -> list[Finding]:
    """Bridges and firewall chains of networks no longer recorded."""
    try:
        names = engine.containers.networks.sweep(repair)
    except (DockyardError, OSError):
        return []
    return [Finding("network", name, "deleted (no network)") for name in names]


def _runroot_files(engine: Engine, repair: bool) -> list[Finding]:
    """Attach sockets of containers that do not run, lock files of containers that
    are gone, stale console socket directories."""
    from dockyard.container.attach import socket_name

    runroot = engine.paths.runroot
    try:
        names = os.listdir(runroot)
    except FileNotFoundError:
        return []
    recorded = _recorded(engine)
    found = []
    for name in names:
        path = os.path.join(runroot, name)
        cid, _, ext = name.partition(".")
        if ext == "attach" and _fullmatch(_ID, cid):
            lock = _hold(engine, cid)
            if lock is None:
                continue
            _release(lock)
            if name != socket_name(cid):
                continue
            found.append(Finding("attach", path, "removed (no monitor)"))
        elif ext == "lock" and _fullmatch(_ID, cid):
            if cid in recorded or os.path.isdir(engine.paths.container_dir(cid)):
                continue
            if _age(path) < GRACE or not _lock_free(path):
                continue
            found.append(Finding("lock", path, "removed (no container)"))
        elif name.startswith("console-") and os.path.isdir(path) and _age(path) >= GRACE:
            found.append(Finding("temp", path, "removed (stale console socket)"))
        else:
            continue
        if repair:
            import shutil

            if os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)
    return found


def _rows(engine: Engine, repair: bool) -> list[Finding]:
    """Rows naming removed containers (endpoints, volume mount points, published
    ports) or removed images (parents, build cache): a removal killed half-way."""
    from dockyard.network.ports import PortStore

    manager = engine.containers
    # Opening the stores makes their tables exist.
    _ = manager.networks, manager.volumes
    PortStore(engine.db)
    found = []
    for table in ("endpoints", "container_mounts", "published_ports", "volume_activity"):
        rows = engine.db.query(
            f"SELECT DISTINCT container_id FROM {table} "
            "WHERE container_id NOT IN (SELECT id FROM containers)"
        )
        for r in rows:
            cid = r["container_id"]
            if not _lock_free(os.path.join(engine.paths.runroot, f"{cid}.lock")):
                continue  # being created: rows first, then the record
            found.append(Finding("rows", f"{table}:{cid[:12]}", "deleted (no container)"))
            if repair:
                with engine.db.write() as conn:
                    conn.execute(
                        f"DELETE FROM {table} WHERE container_id = ? "
                        "AND container_id NOT IN (SELECT id FROM containers)",
                        (cid,),
                    )
    rows = engine.db.query(
        "SELECT COUNT(*) AS n FROM endpoint_options WHERE endpoint_id NOT IN"
        " (SELECT id FROM endpoints)"
    )
    if rows[0]["n"]:
        found.append(Finding("rows", "endpoint_options", f"deleted {rows[0]['n']} (no endpoint)"))
        if repair:
            with engine.db.write() as conn:
                conn.execute(
                    "DELETE FROM endpoint_options WHERE endpoint_id NOT IN"
                    " (SELECT id FROM endpoints)"
                )
    # Build cache rows whose image was removed are not debris: they are the dangling
    # build cache that `builder prune` reports and removes, as Docker's.
    rows = engine.db.query(
        "SELECT COUNT(*) AS n FROM image_parents WHERE image_id NOT IN (SELECT id FROM images)"
    )
    if rows[0]["n"]:
        found.append(Finding("rows", "image_parents", f"deleted {rows[0]['n']} (no image)"))
        if repair:
            with engine.db.write() as conn:
                conn.execute(
                    "DELETE FROM image_parents WHERE image_id NOT IN (SELECT id FROM images)"
                )
    return found


def _content(engine: Engine, repair: bool) -> list[Finding]:
    """Blobs and layers no image references, the layer store's temporary entries and
    the engine's temporary directory's, whose process is gone (mounts under them
    unmounted first) — only while no content writer holds its lease."""
    from dockyard.image.store import CONTENT_LOCK

    paths = engine.paths
    os.makedirs(paths.runroot, mode=0o700, exist_ok=True)
    fd = os.open(
        CONTENT_LOCK.format(runroot=paths.runroot), os.O_CREAT | os.O_RDWR | os.O_CLOEXEC, 0o600
    )
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return []  # an import, build or pull is writing: next time
        return _sweep_content(engine, repair)
    finally:
        os.close(fd)


def _sweep_content(engine: Engine, repair: bool) -> list[Finding]:
    from dockyard.image.store import unpinned

    paths = engine.paths
    images = engine.images
    layers = engine.layers
    found = []
    with engine.db.write() as conn:  # add() checks and inserts under this lock
        keep_blobs, keep_layers, damaged = images.referenced(conn)
        for image_id, missing in sorted(damaged.items()):
            what = "config" if missing == image_id else "manifest"
            found.append(
                Finding(
                    "image",
                    image_id,
                    f"damaged: {what} blob {missing} is missing or corrupt, so no blob"
                    + (" or layer" if what == "config" else "")
                    + " is collected (remove the image, pull or build it again)",
                )
            )
        for r in conn.execute("SELECT name FROM repo_digests ORDER BY name").fetchall():
            # A RepoDigest names the manifest (or index) the registry served: kept as a blob.
            digest = r["name"].rsplit("@", 1)[1]
            if _fullmatch(_ID, digest[7:]) and not os.path.isfile(
                os.path.join(paths.blobs, digest[7:])
            ):
                found.append(Finding("rows", f"repo_digests:{r['name']}", "deleted (no blob)"))
                if repair:
                    conn.execute("DELETE FROM repo_digests WHERE name = ?", (r["name"],))
        # What a writer pins (a build's base layers after an rmi of its image, a pull's
        # or load's layers found here) is in use, not debris: neither reported nor deleted.
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(paths.blobs):
                digest = "sha256:" + name
                if damaged:
                    break  # which blobs a damaged image uses is not known
                if _fullmatch(_ID, name) and digest not in keep_blobs:
                    with unpinned(paths.runroot, digest) as free:
                        if not free:
                            continue
                        path = os.path.join(paths.blobs, name)
                        found.append(Finding("blob", digest, "deleted (no image)", _size(path)))
                        if repair:
                            with contextlib.suppress(OSError):
                                os.unlink(path)
        doomed = []
        unknown_layers = any(missing == image_id for image_id, missing in damaged.items())
        for diff_id in layers.diff_ids():
            if diff_id not in keep_layers and not unknown_layers:
                with unpinned(paths.runroot, diff_id) as free:
                    if not free:
                        continue
                    path = layers.path(diff_id)
                    found.append(Finding("layer", diff_id, "deleted (no image)", _size(path)))
                    if repair:
                        moved = layers.discard(diff_id)
                        if moved is not None:
                            doomed.append(moved)
    from dockyard.volume.copyup import remove_tree

    for path in doomed:
        with contextlib.suppress(OSError):
            remove_tree(path)
    for path in layers.temporary_entries() + _entries(paths.tmp):
        if path in doomed or not _owner_gone(path):
            continue
        found.append(Finding("temp", path, "removed (its process is gone)", _size(path)))
        if repair:
            from dockyard.snapshot.overlay import unmount_under

            unmount_under(path)
            with contextlib.suppress(OSError):
                remove_tree(path)
    return found


def _volume_trash(engine: Engine, repair: bool) -> list[Finding]:
    """Volume directories a killed ``volume rm`` left: renamed to ``.removing-*``, or
    still under the volume's name with its row gone (rows go first; a killed create
    leaves the same). Under the volume lock, so no create or removal is half-way."""
    volumes = engine.containers.volumes
    found = []
    with volumes.lock():
        recorded = {r["name"] for r in volumes.db.query("SELECT name FROM volumes")}
        for path in _entries(volumes.root):
            if os.path.basename(path) not in recorded:
                found.append(Finding("volume-trash", path, "removed", _size(path)))
                if repair:
                    from dockyard.snapshot.overlay import unmount_under
                    from dockyard.volume.copyup import remove_tree

                    unmount_under(path)

                    with contextlib.suppress(OSError):
                        remove_tree(path)
    return found


# -- helpers --------------------------------------------------------------------------


def _entries(directory: str) -> list[str]:
    try:
        return [os.path.join(directory, n) for n in os.listdir(directory)]
    except FileNotFoundError:
        return []


def _owner_gone(path: str) -> bool:
    """Whether the process that made temporary entry ``path`` is gone: the PID in its
    name (``dockyard.tempfiles``) no longer exists, or (a build's scratch directory)
    nobody holds its flock. A name without a PID (older versions' removals) is gone."""
    m = _fullmatch(_TEMP, os.path.basename(path))
    if m is None:
        return os.path.basename(path).startswith(".tmp-")
    if m["prefix"] == "build-" and os.path.isdir(path):
        return _lock_free(path)
    try:
        os.kill(int(m["pid"]), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _age(path: str) -> float:
    try:
        return time.time() - os.lstat(path).st_mtime
    except OSError:
        return 0.0


def _size(path: str) -> int:
    """Bytes of ``path`` and everything under it (lstat sizes; no symlink followed)."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        return st.st_size
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for n in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, n)).st_size
    return total
