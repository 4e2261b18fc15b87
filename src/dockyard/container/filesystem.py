"""A container's filesystem from the outside: ``docker export``, ``diff`` and ``commit``.

Whatever a container controls (its root filesystem, its writable layer) is read through
directory fds opened from a trusted directory with ``O_NOFOLLOW`` and acted on by fd
(``dockyard.snapshot.diff.TreeWriter``), never by re-resolving a path string, so a
container swapping a path component for a symlink while it is read cannot make the
engine read a host file (CVE-2018-15664).

A stopped container's root filesystem is mounted for the operation with its start lock
held, so a ``start`` meanwhile waits instead of mounting the same upper directory twice;
a running container's is its live mount.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.errors import Conflict, DockyardError, InvalidArgument

if TYPE_CHECKING:
    from dockyard.container.manager import ContainerManager
    from dockyard.container.store import Container
    from dockyard.image.store import Image

#: Files the engine bind-mounts over the container's own (Docker keeps them in the
#: container's "-init" layer, so they never show in diff, export's changes or commit).
ENGINE_FILES = frozenset({"etc/hosts", "etc/hostname", "etc/resolv.conf"})
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@contextlib.contextmanager
def mounted_rootfs(
    manager: ContainerManager, ref: str, *, volumes: bool = False
) -> Iterator[tuple[Container, str]]:
    """``(container, rootfs path)``: the container's merged root filesystem for the
    duration, the live mount of a running container or a mount made for a stopped one
    (under its start lock, unmounted afterwards; with ``volumes`` its volumes and binds
    mounted in it too, as for ``docker cp``). Raises ``NotFound``, ``DockyardError``, or
    ``Conflict`` when a start is under way for more than 10 s."""
    from dockyard.snapshot import mount_rootfs, unmount

    c = manager.store.get(ref)
    cdir = manager.paths.container_dir(c.id)
    rootfs = os.path.join(cdir, "rootfs")
    os.makedirs(manager.paths.runroot, mode=0o700, exist_ok=True)
    lock = os.open(
        os.path.join(manager.paths.runroot, f"{c.id}.lock"), os.O_CREAT | os.O_RDWR, 0o600
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                # Someone runs it: use the live mount once it is recorded running.
                c = manager.store.get(c.id)
                if c.state["Running"] and os.path.ismount(rootfs):
                    yield c, rootfs
                    return
                if time.monotonic() > deadline:
                    raise Conflict(f"container {c.id} is starting or stopping") from None
                time.sleep(0.02)
                continue
            break
        c = manager.store.get(c.id)
        volume_undo = contextlib.ExitStack()
        try:
            mount_rootfs(
                manager._lower_dirs(c),
                os.path.join(cdir, "upper"),
                os.path.join(cdir, "work"),
                rootfs,
            )
            try:
                if volumes:
                    _mount_volumes(manager, c, rootfs, volume_undo)
                yield c, rootfs
            finally:
                unmount(rootfs)  # MNT_DETACH: the volumes' binds below it go too
        finally:
            volume_undo.close()
    finally:
        os.close(lock)


def _mount_volumes(
    manager: ContainerManager, c: Container, rootfs: str, undo: contextlib.ExitStack
) -> None:
    """Bind the container's volumes and bind mounts (not its tmpfs mounts, which hold
    nothing while it is stopped), then its /etc/hosts, /etc/hostname and
    /etc/resolv.conf files, onto their destinations in the mounted ``rootfs``, as its
    start would (moby's mountVolumes: the sorted mounts, then the network files not
    mounted over); each destination is resolved inside the root right before it is
    mounted on, through its fd (``snapshot.inroot``), and checked after. Raises
    ``DockyardError``."""
    from dockyard.container.manager import mount_depth
    from dockyard.runtime import syscalls as sc
    from dockyard.snapshot import inroot

    binds = [m for m in manager.volumes.oci_mounts(c.id, {}, rootfs, undo) if m["type"] == "bind"]
    binds.sort(key=lambda m: mount_depth(m["destination"]))
    cdir = manager.paths.container_dir(c.id)
    ro = ["ro"] if c.host_config.get("ReadonlyRootfs") else []
    taken = {os.path.normpath(m["destination"]) for m in binds}
    for name in ("resolv.conf", "hostname", "hosts"):
        if f"/etc/{name}" not in taken and os.path.isfile(os.path.join(cdir, name)):
            binds.append(
                {"destination": f"/etc/{name}", "source": os.path.join(cdir, name), "options": ro}
            )
    root_fd = inroot.open_root(rootfs)
    try:
        for m in binds:
            dest, source = m["destination"], m["source"]
            target = mounted = -1
            try:
                want = os.stat(source)
                target = inroot.mount_target(root_fd, dest, directory=stat.S_ISDIR(want.st_mode))
                sc.mount(source, inroot.fd_path(target), None, sc.MS_BIND | sc.MS_REC)
                mounted = inroot.open_in(root_fd, dest, os.O_PATH)
                now = os.fstat(mounted)
                if (now.st_dev, now.st_ino) != (want.st_dev, want.st_ino):
                    raise DockyardError(f"mount {source} to {dest}: the mount point was replaced")
                if "ro" in m["options"]:
                    where = inroot.fd_path(mounted)
                    sc.mount(None, where, None, sc.MS_BIND | sc.MS_REMOUNT | sc.MS_RDONLY)
            except OSError as e:
                raise DockyardError(f"mount {source} to {dest}: {e.strerror or e}") from None
            finally:
                for fd in (mounted, target):
                    if fd >= 0:
                        os.close(fd)
    finally:
        os.close(root_fd)


def export(manager: ContainerManager, ref: str, out: BinaryIO) -> None:
    """``docker export``: write container ``ref``'s root filesystem (image layers and its
    changes, without volumes and the engine's bind-mounted files' content) to ``out`` as
    a tar (Engine API ``GET /containers/{id}/export``). Raises ``NotFound``,
    ``DockyardError``."""
    import tarfile

    from dockyard.snapshot.diff import TreeWriter

    with mounted_rootfs(manager, ref) as (_, rootfs):
        fd = os.open(rootfs, _DIR_FLAGS)
        try:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                TreeWriter(tf, layer=False).walk(fd, "")
        except BrokenPipeError:
            raise
        except OSError as e:
            raise DockyardError(f"export: {e.strerror or e}") from e
        finally:
            os.close(fd)


# -- diff -------------------------------------------------------------------------------


def _lower_lookup(lower_fds: list[int], parts: list[str]) -> os.stat_result | None:
    """The stat of ``parts`` (a path's components) in the merged lower layers (topmost
    first), following overlayfs' rules: a whiteout hides what is below, an opaque
    directory hides lower directories' entries. Symlinks are never followed."""
    from dockyard.snapshot.unpack import OPAQUE_XATTR

    for fd in lower_fds:
        current = os.dup(fd)
        try:
            opaque = False
            for i, part in enumerate(parts):
                try:
                    st = os.stat(part, dir_fd=current, follow_symlinks=False)
                except (FileNotFoundError, NotADirectoryError):
                    break
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return None  # whited out here
                if i == len(parts) - 1:
                    return st
                if not stat.S_ISDIR(st.st_mode):
                    break
                nxt = os.open(part, _DIR_FLAGS, dir_fd=current)
                os.close(current)
                current = nxt
                with contextlib.suppress(OSError):
                    if os.getxattr(f"/proc/self/fd/{current}", OPAQUE_XATTR) == b"y":
                        opaque = True
            if opaque:
                return None
        finally:
            os.close(current)
    return None


def check_working_dir(lower_dirs: list[str], workdir: str) -> None:
    """Refuse, as moby's SetupWorkingDirectory at create does, a working directory the
    image has as something else than a directory: DockyardError("Cannot mkdir: X is
    not a directory"). ``lower_dirs``: the image's layer directories, topmost first.
    A path through a symlink is left to the runtime (which resolves it in the root)."""
    parts = [p for p in os.path.normpath(workdir).split("/") if p]
    if not parts:
        return
    fds = [os.open(d, _DIR_FLAGS) for d in lower_dirs]
    try:
        for depth in range(1, len(parts) + 1):
            st = _lower_lookup(fds, parts[:depth])
            if st is None or stat.S_ISLNK(st.st_mode):
                return  # missing (made at start) or through a symlink
            if stat.S_ISDIR(st.st_mode):
                continue
            if depth == len(parts):
                raise DockyardError(f"Cannot mkdir: {workdir} is not a directory")
            return  # below a file: the runtime's error
    finally:
        for fd in fds:
            os.close(fd)


def _lower_names(lower_fds: list[int], parts: list[str]) -> set[str]:
    """The names in directory ``parts`` of the merged lower layers (topmost first; a
    whiteout hides a name below it, an opaque directory every layer below it)."""
    from dockyard.snapshot.unpack import OPAQUE_XATTR

    names: set[str] = set()
    hidden: set[str] = set()
    for fd in lower_fds:
        current = os.dup(fd)
        try:
            try:
                for part in parts:
                    nxt = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=current)
                    os.close(current)
                    current = nxt
            except OSError:
                continue  # not a directory in this layer
            for name in os.listdir(current):
                st = os.stat(name, dir_fd=current, follow_symlinks=False)
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    hidden.add(name)
                elif name not in hidden:
                    names.add(name)
            with contextlib.suppress(OSError):
                if os.getxattr(f"/proc/self/fd/{current}", OPAQUE_XATTR) == b"y":
                    break
        finally:
            os.close(current)
    return names


def changes(manager: ContainerManager, ref: str) -> list[tuple[str, str]]:
    """``docker diff``: the container's changes to its image as ``(kind, path)`` pairs,
    kind ``A`` (added), ``C`` (changed) or ``D`` (deleted), in moby's order (a walk of
    the writable layer, parents before children; Engine API ``GET
    /containers/{id}/changes`` kinds 1, 0, 2). A directory is changed when an entry below
    it is, or its mode or owner differ from the image's (moby's naive diff ignores a
    directory's size and mtime); what a directory replaced whole (overlayfs' opaque
    directory) no longer has is deleted. Raises ``NotFound``."""
    from dockyard.snapshot.unpack import OPAQUE_XATTR

    c = manager.store.get(ref)
    upper = os.path.join(manager.paths.container_dir(c.id), "upper")
    lower_fds = [os.open(d, _DIR_FLAGS) for d in manager._lower_dirs(c)]
    out: list[tuple[str, str]] = []
    try:
        try:
            root = os.open(upper, _DIR_FLAGS)
        except FileNotFoundError:
            return []
        # Depth-first over directory fds; a directory's "C" is emitted when its first
        # changed descendant is found (or for its own metadata).
        stack: list[tuple[int, list[str], list[str], bool]] = [
            (root, [], sorted(os.listdir(root), key=os.fsencode, reverse=True), True)
        ]
        reported: list[bool] = [True]
        try:
            while stack:
                fd, parts, pending, _ = stack[-1]
                if not pending:
                    os.close(fd)
                    stack.pop()
                    reported.pop()
                    continue
                name = pending.pop()
                path = [*parts, name]
                rel = "/".join(path)
                if rel in ENGINE_FILES:
                    continue
                try:
                    st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    continue
                whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
                below = _lower_lookup(lower_fds, path)
                if whiteout:
                    kind = "D" if below is not None else ""
                elif below is None:
                    kind = "A"
                elif stat.S_ISDIR(st.st_mode) and stat.S_ISDIR(below.st_mode):
                    same = (st.st_mode, st.st_uid, st.st_gid) == (
                        below.st_mode,
                        below.st_uid,
                        below.st_gid,
                    )
                    kind = "" if same else "C"
                else:
                    kind = "C"
                if kind:
                    _report_parents(stack, reported, out)
                    out.append((kind, "/" + rel))
                if stat.S_ISDIR(st.st_mode) and not whiteout:
                    try:
                        sub = os.open(name, _DIR_FLAGS, dir_fd=fd)
                    except OSError as e:
                        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
                            continue  # replaced meanwhile by a running container
                        raise
                    opaque = b""
                    with contextlib.suppress(OSError):
                        opaque = os.getxattr(f"/proc/self/fd/{sub}", OPAQUE_XATTR)
                    children = sorted(os.listdir(sub), key=os.fsencode, reverse=True)
                    stack.append((sub, path, children, bool(kind)))
                    reported.append(bool(kind))
                    if opaque == b"y" and below is not None:
                        # Replaced whole: what the image had there and it lacks is gone.
                        gone = _lower_names(lower_fds, path) - set(children)
                        gone -= {n for n in gone if f"{rel}/{n}" in ENGINE_FILES}
                        for n in sorted(gone, key=os.fsencode):
                            _report_parents(stack, reported, out)
                            out.append(("D", f"/{rel}/{n}"))
        finally:
            for fd, _, _, _ in stack:
                os.close(fd)
    finally:
        for fd in lower_fds:
            os.close(fd)
    return out


def _report_parents(
    stack: list[tuple[int, list[str], list[str], bool]],
    reported: list[bool],
    out: list[tuple[str, str]],
) -> None:
    """Emit ``C`` for each open directory not yet reported (a descendant changed)."""
    for i, (_, parts, _, _) in enumerate(stack):
        if not reported[i]:
            reported[i] = True
            out.append(("C", "/" + "/".join(parts)))


# -- commit -----------------------------------------------------------------------------

#: Container Config keys that an image config keeps (OCI image config ``config``).
_IMAGE_CONFIG_KEYS = (
    "User",
    "ExposedPorts",
    "Env",
    "Entrypoint",
    "Cmd",
    "Healthcheck",
    "ArgsEscaped",
    "Volumes",
    "WorkingDir",
    "Labels",
    "OnBuild",
    "StopSignal",
    "Shell",
)


def commit(
    manager: ContainerManager,
    ref: str,
    repository: str | None = None,
    *,
    author: str = "",
    message: str = "",
    changes: list[str] | None = None,
    pause: bool = True,
) -> Image:
    """``docker commit``: a new image of container ``ref``'s image plus its changes as
    one layer (Engine API ``POST /commit``). ``repository`` (``name[:tag]``) is tagged;
    ``changes`` are Dockerfile instructions applied to the container's config (as
    ``import --change``); a running container is paused while its layer is read unless
    ``pause`` is False. Everything is validated first; on failure nothing is stored.
    Raises ``NotFound``, ``InvalidArgument``, ``DockyardError``."""
    from dockyard import reference
    from dockyard.container import exec as container_exec
    from dockyard.image.create import apply_changes, manifest_for, rfc3339_nano
    from dockyard.snapshot import LayerStore
    from dockyard.snapshot.diff import layer_from_upper

    c = manager.store.get(ref)
    tag = reference.parse(repository) if repository else None
    if tag is not None and tag.digest is not None:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    base = {k: c.config[k] for k in _IMAGE_CONFIG_KEYS if c.config.get(k) not in (None, "", [], {})}
    cfg = apply_changes(changes or [], base)
    store = manager.images
    parent = store.get(c.image_id)
    upper = os.path.join(manager.paths.container_dir(c.id), "upper")
    os.makedirs(manager.paths.tmp, mode=0o700, exist_ok=True)
    paused = False
    c = manager.reconcile(c)
    if pause and c.state["Running"] and not c.state.get("Paused"):
        try:
            container_exec.pause(manager, c.id)
            paused = True
        except Conflict:
            # Its process exited since the state was read (the monitor may not have
            # recorded it yet): nothing writes to the layer any more, nothing to pause.
            pass
    try:
        if not os.path.isdir(upper):
            os.makedirs(upper, mode=0o755, exist_ok=True)
        layer = layer_from_upper(upper, tmp_dir=manager.paths.tmp, exclude=ENGINE_FILES)
    finally:
        if paused:
            with contextlib.suppress(DockyardError):
                container_exec.unpause(manager, c.id)
    layers = LayerStore(manager.paths)
    writer = store.content.writer()
    made: list[str] = []
    diff_id = None
    try:
        with layer:
            diff_id, size = layers.add(layer, tee=writer)  # type: ignore[arg-type]
        blob, blob_size = writer.commit(diff_id)
        made.append(blob)
        created = rfc3339_nano(time.time_ns())
        pcfg: dict[str, Any] = json.loads(store.content.read(parent.id))
        history = list(pcfg.get("history") or [])
        entry: dict[str, Any] = {
            "created": created,
            "created_by": " ".join(c.config.get("Cmd") or []),
        }
        if author:
            entry["author"] = author
        if message:
            entry["comment"] = message
        history.append(entry)
        config: dict[str, Any] = {
            "architecture": pcfg.get("architecture"),
            "os": pcfg.get("os", "linux"),
            "created": created,
            "config": cfg,
            "container": c.id,
            "rootfs": {"type": "layers", "diff_ids": [*parent.diff_ids, diff_id]},
            "history": history,
        }
        if pcfg.get("variant"):
            config["variant"] = pcfg["variant"]
        if author:
            config["author"] = author
        if message:
            config["comment"] = message
        parent_layers = list(parent.manifest.get("layers") or [])
        from dockyard.image.store import MEDIA_LAYER

        config_bytes, manifest_bytes = manifest_for(
            config,
            [*parent_layers, {"mediaType": MEDIA_LAYER, "digest": blob, "size": blob_size}],
        )
        import hashlib

        made.append("sha256:" + hashlib.sha256(config_bytes).hexdigest())
        made.append("sha256:" + hashlib.sha256(manifest_bytes).hexdigest())
        image = store.add(manifest_bytes, config_bytes, parent.size + size)
        store.set_parent(image.id, parent.id)
        if tag is not None:
            store.tag(image.id, tag)
        return store.get(image.id)
    except BaseException:
        writer.abort()
        if diff_id is not None:
            store.discard_unreferenced(made, [diff_id])
        raise
