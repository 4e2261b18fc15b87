"""Set-up of Dockyard and the peer engines the start-latency benchmark compares it with.

Everything lives under one private work directory: Dockyard's engine root, the busybox rootfs
and its tarball, the OCI bundle for runc and crun, Podman's storage and a private dockerd.
crun runs through ``bench/peer-files/crun-hybrid`` (hybrid cgroups), Podman reads
``bench/peer-files/containers.conf`` (no CAP_SYS_RESOURCE), dockerd leaves
the host's network alone, and every peer container runs with ``--network none``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PEER_FILES = REPO / "bench" / "peer-files"
APT_PACKAGES = [
    "runc",
    "crun",
    "podman",
    "docker.io",
    "containerd",
    "busybox-static",
    "hyperfine",
    "catatonit",
    "conmon",
    "podman-compose",
]
# Parent cgroups dockerd and Podman create under each v1 controller; removed at the end only
# if this run created them and they are empty again.
PEER_CGROUPS = ("docker", "libpod_parent")
# Host paths the peers create whatever their flags say: Podman's blob-info cache, crun's
# default state dir, dockerd's plugin dir, trust key and shim-socket dir, CNI's lock file.
# Removed at the end if this run created them; directories other than Podman's cache only
# while empty.
HOST_LEFTOVERS = (
    "/var/lib/containers",
    "/run/crun",
    "/run/docker",
    "/run/containerd",
    "/etc/docker/key.json",
    "/etc/cni/net.d/cni.lock",
)


class Unavailable(Exception):
    """A peer that cannot be set up or run here; the message is the reason, one line."""


@dataclass
class Command:
    """One timed command: a table label, its argv and the extra environment it needs."""

    name: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


def run(argv: list[str], env: dict[str, str] | None = None, timeout: float = 300) -> str:
    """Run ``argv`` to completion and return its stdout.

    ``env`` adds to the current environment; ``timeout`` is in seconds. Raises Unavailable
    naming the command and the last line of its stderr if it is missing, fails or hangs.
    """
    full_env = {**os.environ, **(env or {})}
    try:
        done = subprocess.run(
            argv, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as e:
        raise Unavailable(f"{argv[0]} not found") from e
    except subprocess.TimeoutExpired as e:
        raise Unavailable(f"{' '.join(argv[:3])} ... took more than {timeout:.0f} s") from e
    if done.returncode != 0:
        lines = (done.stderr or done.stdout).strip().splitlines() or ["(no output)"]
        raise Unavailable(f"{' '.join(argv[:3])} ... exited {done.returncode}: {lines[-1]}")
    return done.stdout


def install_packages() -> None:
    """Install the peers from Debian's packages with apt-get; a failure is only reported."""
    print(f"installing {' '.join(APT_PACKAGES)} ...", file=sys.stderr, flush=True)
    argv = ["apt-get", "install", "-y", "--no-install-recommends", *APT_PACKAGES]
    try:
        run(argv, env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=900)
    except Unavailable as e:
        print(f"warning: {e}; using what is installed", file=sys.stderr)


def dockyard_binary() -> str:
    """The ``dockyard`` beside the running interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).parent / "dockyard"
    if beside.exists():
        return str(beside)
    found = shutil.which("dockyard")
    if found is None:
        raise Unavailable("dockyard not found beside the interpreter or on PATH")
    return found


def dockyard_env(work: Path) -> dict[str, str]:
    """The environment giving Dockyard a private engine root and run root under ``work``."""
    return {
        "DOCKYARD_ROOT": str(work / "dockyard" / "root"),
        "DOCKYARD_RUNROOT": str(work / "dockyard" / "run"),
    }


def setup_dockyard(work: Path) -> Path:
    """Bootstrap the busybox image into Dockyard's private root; return its single layer dir.

    Raises Unavailable if the bootstrap fails or the image has other than one layer.
    """
    env = dockyard_env(work)
    run([dockyard_binary(), "bootstrap", "busybox"], env=env)
    layers = Path(env["DOCKYARD_ROOT"]) / "layers"
    found = [p for p in layers.iterdir() if p.is_dir()] if layers.is_dir() else []
    if len(found) != 1:
        raise Unavailable(f"expected one layer under {layers}, found {len(found)}")
    return found[0]


def make_rootfs(work: Path, layer: Path | None) -> tuple[Path, Path]:
    """Make the busybox rootfs all peers run and its tarball; return (rootfs dir, tarball).

    With ``layer`` (Dockyard's unpacked busybox layer) the rootfs is a copy of it, so every
    engine runs the same tree; without, it is built from ``/bin/busybox`` and its applets.
    """
    import tarfile

    rootfs = work / "rootfs"
    if layer is not None:
        rootfs.mkdir()
        run(["cp", "-a", f"{layer}/.", str(rootfs)])
    else:
        busybox = shutil.which("busybox") or "/bin/busybox"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2(busybox, rootfs / "bin" / "busybox")
        for applet in run([busybox, "--list"]).split():
            if applet != "busybox":
                (rootfs / "bin" / applet).symlink_to("busybox")
    tarball = work / "rootfs.tar"
    with tarfile.open(tarball, "w") as tar:
        for entry in sorted(rootfs.iterdir()):
            tar.add(entry, arcname=entry.name)
    return rootfs, tarball


def setup_bundle(work: Path, rootfs: Path) -> Path:
    """Write an OCI bundle (``runc spec``, else ``crun spec``) that runs ``/bin/true`` in rootfs.

    Raises Unavailable if neither runtime is installed.
    """
    bundle = work / "bundle"
    bundle.mkdir()
    tool = shutil.which("runc") or shutil.which("crun")
    if tool is None:
        raise Unavailable("neither runc nor crun is installed")
    run([tool, "spec", "--bundle", str(bundle)])
    config_path = bundle / "config.json"
    config = json.loads(config_path.read_text())
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    config["root"]["path"] = str(rootfs)
    config_path.write_text(json.dumps(config, indent=2))
    return bundle


def runc_command(work: Path, bundle: Path) -> Command:
    """``runc run`` of the bundle with its state under ``work``."""
    if shutil.which("runc") is None:
        raise Unavailable("runc is not installed")
    state = str(work / "runc-state")
    argv = ["runc", "--root", state, "run", "--bundle", str(bundle), "dockyard-bench-runc"]
    return Command("runc run (same rootfs)", argv)


def crun_command(work: Path, bundle: Path) -> Command:
    """``crun run`` of the bundle through ``crun-hybrid``, its state under ``work``."""
    wrapper = PEER_FILES / "crun-hybrid"
    if shutil.which("crun") is None:
        raise Unavailable("crun is not installed")
    if not wrapper.exists():
        raise Unavailable(f"{wrapper} is missing (crun refuses hybrid cgroups without it)")
    state = str(work / "crun-state")
    argv = [str(wrapper), "--root", state, "run", "--bundle", str(bundle), "dockyard-bench-crun"]
    return Command("crun run (same rootfs, crun-hybrid)", argv)


def setup_podman(work: Path, tarball: Path) -> Command:
    """Import the rootfs tarball as ``busybox`` into a private Podman store.

    Podman runs crun through ``crun-hybrid`` with ``CONTAINERS_CONF`` from bench/peer-files.
    Raises Unavailable if Podman, those files or the import fail.
    """
    conf = PEER_FILES / "containers.conf"
    wrapper = PEER_FILES / "crun-hybrid"
    for needed in (conf, wrapper):
        if not needed.exists():
            raise Unavailable(f"{needed} is missing")
    base = work / "podman"
    podman = [
        "podman",
        "--root", str(base / "root"),
        "--runroot", str(base / "run"),
        "--tmpdir", str(base / "tmp"),
        "--network-config-dir", str(base / "networks"),
        "--storage-driver", "overlay",
        "--runtime", str(wrapper),
        "--runtime-flag", f"root={base / 'crun'}",
    ]  # fmt: skip
    env = {"CONTAINERS_CONF": str(conf)}
    run([*podman, "import", "--quiet", str(tarball), "busybox"], env=env)
    argv = [*podman, "run", "--rm", "--network", "none", "busybox", "true"]
    return Command("podman run --rm --network none busybox true", argv, env)


class Dockerd:
    """A private dockerd: data root, exec root, socket and pidfile under ``<work>/docker``.

    Started with start-dockerd.sh's flags, which leave the host's network alone.
    """

    def __init__(self, work: Path) -> None:
        self.dir = work / "docker"
        self.socket = f"unix://{self.dir / 'docker.sock'}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> None:
        """Start dockerd and wait (``timeout`` seconds) until it answers; raise Unavailable."""
        if shutil.which("dockerd") is None or shutil.which("docker") is None:
            raise Unavailable("dockerd or docker is not installed")
        self.dir.mkdir()
        argv = [
            "dockerd",
            "--iptables=false", "--ip6tables=false", "--bridge=none",
            "--ip-forward=false", "--ip-masq=false",
            "--storage-driver", "overlay2",
            "--data-root", str(self.dir / "root"),
            "--exec-root", str(self.dir / "exec"),
            "--pidfile", str(self.dir / "docker.pid"),
            "-H", self.socket,
        ]  # fmt: skip
        log = open(self.dir / "dockerd.log", "wb")
        # Its own session, so a Ctrl-C reaches only us and we stop it in order.
        self.proc = subprocess.Popen(argv, stdout=log, stderr=log, start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise Unavailable(f"dockerd exited {self.proc.returncode}; see {log.name}")
            try:
                run(["docker", "-H", self.socket, "version"], timeout=10)
                return
            except Unavailable:
                if time.monotonic() > deadline:
                    raise Unavailable(f"dockerd did not answer in {timeout:.0f} s") from None
                time.sleep(0.1)

    def stop(self, timeout: float = 30) -> None:
        """Stop dockerd (the PID in its pidfile, which is our child) and wait for it.

        Then stops the containerd it started if that outlived it (matched by its pidfile and
        a command line naming our directory). Waits ``timeout`` seconds before SIGKILL.
        """
        if self.proc is None:
            return
        pidfile = self.dir / "docker.pid"
        if pidfile.exists() and pidfile.read_text().strip() != str(self.proc.pid):
            print(f"warning: {pidfile} does not name our dockerd", file=sys.stderr)
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        _stop_if_ours(self.dir / "exec" / "containerd" / "containerd.pid", self.dir)

    def command(self, tarball: Path) -> Command:
        """Import the tarball as ``busybox`` and return the timed ``docker run``."""
        run(["docker", "-H", self.socket, "import", str(tarball), "busybox"])
        argv = ["docker", "-H", self.socket, "run", "--rm", "--network", "none", "busybox", "true"]
        return Command("docker run --rm --network none busybox true", argv)


def _stop_if_ours(pidfile: Path, ours: Path) -> None:
    """SIGTERM then SIGKILL the process in ``pidfile`` if its command line names ``ours``."""
    try:
        pid = int(pidfile.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (OSError, ValueError):
        return
    if str(ours).encode() not in cmdline:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        for _ in range(100):
            if not Path(f"/proc/{pid}").exists():
                return
            time.sleep(0.1)


def peer_cgroups() -> set[Path]:
    """The peers' parent cgroups (docker, libpod_parent) under each v1 controller now."""
    found = set()
    for controller in Path("/sys/fs/cgroup").iterdir():
        for name in PEER_CGROUPS:
            if (controller / name).is_dir():
                found.add(controller / name)
    return found


def remove_cgroups(cgroups: set[Path]) -> None:
    """rmdir each cgroup and its empty children, deepest first; busy ones are left alone."""
    for top in cgroups:
        subdirs = [p for p in top.rglob("*") if p.is_dir()]
        for path in sorted(subdirs, key=lambda p: len(p.parts), reverse=True) + [top]:
            try:
                path.rmdir()
            except OSError:
                pass


def missing_host_paths() -> set[str]:
    """The HOST_LEFTOVERS that do not exist now."""
    return {path for path in HOST_LEFTOVERS if not os.path.lexists(path)}


def remove_host_leftovers(paths: set[str]) -> None:
    """Remove those of ``paths`` (HOST_LEFTOVERS this run created) that exist now."""
    for path in paths:
        if path == "/var/lib/containers":
            shutil.rmtree(path, ignore_errors=True)
        elif os.path.isdir(path) and not os.path.islink(path):
            for parent, _, _ in os.walk(path, topdown=False):
                try:
                    os.rmdir(parent)
                except OSError:
                    pass
        elif os.path.lexists(path):
            os.unlink(path)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or under ``path`` in this mount namespace, deepest first."""
    prefix = str(path)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_work(work: Path) -> None:
    """Unmount everything under ``work`` (lazily), then remove it; problems are reported."""
    for point in mounts_under(work):
        done = subprocess.run(["umount", "-l", point], capture_output=True, text=True)
        if done.returncode != 0:
            print(f"warning: umount {point}: {done.stderr.strip()}", file=sys.stderr)
    if mounts_under(work):
        print(f"warning: mounts remain under {work}; leaving it in place", file=sys.stderr)
        return
    shutil.rmtree(work, ignore_errors=True)
    if work.exists():
        print(f"warning: could not remove all of {work}", file=sys.stderr)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run_session(
    script: str, why_root: str, skip_install: bool, body: Callable[[Path, Dockerd], int]
) -> int:
    """Run ``body(work, dockerd)`` for a benchmark script: as root only, the peers installed
    unless ``skip_install``, in a fresh temp ``work`` dir; on return, failure, Ctrl-C (exit
    130) or SIGTERM, stop the dockerd it may have started and remove the work dir, the peers'
    new cgroups and the host paths they created. Returns ``body``'s exit status."""
    if os.geteuid() != 0:
        print(f"{script} must run as root ({why_root})", file=sys.stderr)
        return 1
    if not skip_install:
        install_packages()
    signal.signal(signal.SIGTERM, _interrupt)
    cgroups_before = peer_cgroups()
    host_missing = missing_host_paths()
    work = Path(tempfile.mkdtemp(prefix="dockyard-bench-"))
    dockerd = Dockerd(work)
    try:
        return body(work, dockerd)
    except KeyboardInterrupt:
        print("interrupted; cleaning up", file=sys.stderr)
        return 130
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        dockerd.stop()
        remove_work(work)
        remove_cgroups(peer_cgroups() - cgroups_before)
        remove_host_leftovers(host_missing)
