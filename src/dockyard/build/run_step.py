"""RUN: a command in a temporary container whose writable layer becomes the step's layer.

The container's root is an overlay of the image's layers with a fresh upper directory
(``dockyard.snapshot.mount_rootfs``); it runs under the built-in runtime with Docker's
default isolation. As BuildKit, it runs in a network namespace of its own by default
(``netns``: loopback and an endpoint on the default bridge, made by the caller with
``NetworkManager.sandbox``), so it reaches the outside but not the host's loopback;
``network="host"`` shares the host's, ``network="none"`` gives it an empty one. Like Docker's
build containers it gets private copies of /etc/hosts, /etc/hostname and /etc/resolv.conf,
which are not part of the layer. As the classic builder's build containers (moby
builder/dockerfile/internals.go hostConfigFromOptions) it gets the build's resource
limits, cgroup parent, /dev/shm size, ulimits and extra hosts
(``RunRequest.host_config``), and Docker's default seccomp profile. Its stdout and
stderr are copied to the build output while it runs. Nothing is left behind: the
runtime state, cgroup and mount are removed whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dockyard.paths import Paths

#: Mount points the runtime creates in the root when missing; not part of the layer
#: (files first, then the directories that may have been made to hold them).
_MOUNT_POINTS = ("etc/hostname", "etc/hosts", "etc/resolv.conf", "proc", "dev", "sys", "etc")


@dataclass
class RunRequest:
    """One RUN: ``args`` (argv), ``env`` (``K=V``), ``cwd``, ``user`` (Docker's USER
    syntax, resolved in the rootfs), ``network`` (``default``, ``host`` or ``none``),
    ``netns`` (with ``default``: the namespace file to join), ``mounts`` (OCI mount dicts
    from ``RUN --mount``; their mount points are not part of the layer), ``host_config``
    (the Engine API's HostConfig fields a build sets on its containers: Memory,
    MemorySwap, CpuShares, CpuPeriod, CpuQuota, CpusetCpus, CpusetMems, CgroupParent,
    ShmSize in bytes, Ulimits, ExtraHosts)."""

    args: list[str]
    env: list[str]
    cwd: str = "/"
    user: str = ""
    network: str = "default"
    netns: str = ""
    mounts: list[dict[str, Any]] = field(default_factory=list)
    host_config: dict[str, Any] = field(default_factory=dict)
    #: On a user-defined network: resolv.conf names the embedded DNS (127.0.0.11).
    internal_dns: bool = False


def run_in_container(
    paths: Paths,
    container_id: str,
    lowers: list[str],
    upper: str,
    work: str,
    rootfs: str,
    request: RunRequest,
    write: Callable[[bytes], None],
    write_err: Callable[[bytes], None] | None = None,
) -> int:
    """Run ``request`` in container ``container_id`` over ``lowers`` (layer directories,
    topmost first) with writable ``upper``/``work``, mounted at ``rootfs``; ``write``
    gets the output as it comes, the standard error too unless ``write_err`` takes it
    (each from a thread of its own). Returns the exit status (128+n for signal n).

    The bundle is ``rootfs``'s parent directory. Raises ``RuntimeFailure`` when the
    command cannot be started (127 not found, 126 not executable), ``DockyardError``
    for set-up failures; the mount, container and cgroup are gone on return.
    """
    from dockyard.container.etcfiles import write_etc_files
    from dockyard.container.manager import (
        DEFAULT_SHM_SIZE,
        cgroups_path,
        oci_resources,
        seccomp_profile,
    )
    from dockyard.container.users import resolve_user
    from dockyard.errors import DockyardError
    from dockyard.runtime import get_runtime
    from dockyard.runtime.spec import KEEP_CGROUP_PARENTS, SpecOptions, build_spec
    from dockyard.snapshot import inroot, mount_rootfs, unmount

    bundle = os.path.dirname(rootfs)
    # A mount's point and the directories made to hold it (deepest first) are not part
    # of the layer.
    extra = sorted(
        {parent for m in request.mounts for parent in _with_parents(m["destination"].strip("/"))},
        key=lambda p: -p.count("/"),
    )
    mount_points = [*extra, *_MOUNT_POINTS]
    existed = {p for p in mount_points if _exists_in(lowers, p)}
    with contextlib.ExitStack() as undo:
        mount_rootfs(lowers, upper, work, rootfs)
        undo.callback(unmount, rootfs)
        user = resolve_user(rootfs, request.user)
        root_fd = inroot.open_root(rootfs)
        try:
            os.close(inroot.mkdirs(root_fd, request.cwd))
        finally:
            os.close(root_fd)
        if request.network == "default" and not request.netns:
            raise DockyardError("RUN with the default network needs its namespace")
        # The /etc files of a container on a bridge for the default network.
        network = {"default": "bridge"}.get(request.network, request.network)
        hc = request.host_config
        etc_files = write_etc_files(
            bundle,
            container_id[:12],
            network,
            extra_hosts=hc.get("ExtraHosts") or (),
            internal_dns=request.internal_dns,
        )
        namespaces = {
            "none": {},
            "host": {"network": "host"},
            "default": {"network": request.netns},
        }[request.network]
        env = list(request.env)
        if not any(e.startswith("HOME=") for e in env):
            env.append(f"HOME={user.home}")
        spec = build_spec(
            SpecOptions(
                args=request.args,
                env=env,
                cwd=request.cwd,
                user=(user.uid, user.gid),
                additional_gids=user.additional_gids,
                hostname=container_id[:12],
                namespaces=namespaces,
                cgroups_path=cgroups_path(container_id, hc.get("CgroupParent") or ""),
                # The default parent is kept, as for containers (container.manager).
                annotations={} if hc.get("CgroupParent") else {KEEP_CGROUP_PARENTS: "keep"},
                resources=oci_resources(hc) or None,
                shm_size=hc.get("ShmSize") or DEFAULT_SHM_SIZE,
                ulimits={u["Name"]: (u["Soft"], u["Hard"]) for u in hc.get("Ulimits") or []},
                seccomp=seccomp_profile(hc),
                mounts=[
                    {
                        "destination": dest,
                        "type": "bind",
                        "source": src,
                        "options": ["rbind", "rprivate"],
                    }
                    for dest, src in etc_files.items()
                ]
                + request.mounts,
            )
        )
        import json

        tmp = os.path.join(bundle, "config.json.tmp")
        with open(tmp, "w") as f:
            json.dump(spec, f)
        os.replace(tmp, os.path.join(bundle, "config.json"))
        runtime = get_runtime("dockyard", paths.runtime_state)
        pipes = [os.pipe() for _ in range(1 if write_err is None else 2)]
        for read_end, _ in pipes:
            os.set_inheritable(read_end, False)
        relays = [
            threading.Thread(target=_relay, args=(read_end, fn), daemon=True)
            for (read_end, _), fn in zip(pipes, (write, write_err), strict=False)
        ]
        relay_started = False
        try:
            # The runtime gives the container this process's fds 0-2 at create.
            saved = {fd: os.dup(fd) for fd in (0, 1, 2)}
            null = os.open(os.devnull, os.O_RDONLY)
            try:
                os.dup2(null, 0)
                os.dup2(pipes[0][1], 1)
                os.dup2(pipes[-1][1], 2)
                runtime.create(container_id, bundle)
            finally:
                for fd, copy in saved.items():
                    os.dup2(copy, fd)
                    os.close(copy)
                os.close(null)
                for _, write_end in pipes:
                    os.close(write_end)
            undo.callback(runtime.delete, container_id, True)
            for relay in relays:
                relay.start()
            relay_started = True
            pid = int(runtime.state(container_id)["pid"])
            runtime.start(container_id)
            _, wstatus = os.waitpid(pid, 0)
            code = os.waitstatus_to_exitcode(wstatus)
            for relay in relays:
                relay.join(10)
        finally:
            if not relay_started:
                for read_end, _ in pipes:
                    os.close(read_end)
    for name in mount_points:
        path = os.path.join(upper, name)
        if name in existed or not os.path.lexists(path):
            continue
        with contextlib.suppress(OSError):
            if os.path.isdir(path) and not os.path.islink(path):
                os.rmdir(path)  # only when empty
            elif os.path.isfile(path) and os.path.getsize(path) == 0:
                os.unlink(path)
    return 128 - code if code < 0 else code


def _with_parents(path: str) -> list[str]:
    """``a/b/c`` -> ``["a/b/c", "a/b", "a"]``."""
    out = []
    while path:
        out.append(path)
        path = os.path.dirname(path)
    return out


def _exists_in(lowers: list[str], name: str) -> bool:
    return any(os.path.lexists(os.path.join(d, name)) for d in lowers)


def _relay(fd: int, write: Callable[[bytes], None]) -> None:
    """Copy everything from ``fd`` to ``write`` until every writer has closed it."""
    try:
        while data := os.read(fd, 65536):
            write(data)
    finally:
        os.close(fd)
