"""Pull time: ``dockyard pull`` beside ``podman pull``, ``docker pull`` and ``skopeo copy``.

Usage (as root): ``python bench/pull.py [--runs 5] [--skip-install] [--only LIST]``.

One private temp dir (see peers.py) holds a loopback registry (Debian's docker-registry on
a free 127.0.0.1 port) with two images, both gzip-compressed Docker schema 2 images pushed
by skopeo from Dockyard's own (``dockyard save``, so no other network is used):

- ``bench/busybox:1``: ``dockyard bootstrap busybox``, one layer;
- ``bench/big:1``: five layers, busybox and four of 25 MB each (half random bytes, half
  base64 text, so gzip has something to do): about 100 MB unpacked.

Each engine pulls each image ``--runs`` times into an empty store (the image removed
before each run, untimed), the engines taking turns within a run: Dockyard (its own
engine root), Podman (private storage), Docker (a private dockerd; 127.0.0.0/8 is an
insecure registry to dockerd by default) and ``skopeo copy`` to a directory (download
only, no unpacking: the floor). Prints medians in seconds and ratios to Dockyard's, and
the CPU seconds each pulling process used (on a busy machine wall time mostly measures
how much of the CPU each engine's threads were given).
Everything it made is removed at the end, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from peers import Unavailable  # noqa: E402

ENGINES = ("dockyard", "podman", "docker", "skopeo")
IMAGES = ("busybox", "big")
EXTRA_PACKAGES = ["docker-registry", "skopeo"]
BIG_DOCKERFILE = "FROM busybox\n" + "".join(
    f"RUN head -c 12500000 /dev/urandom > /r{i} && head -c 9375000 /dev/urandom | base64 > /t{i}\n"
    for i in range(4)
)


@dataclass
class Engine:
    """How one engine pulls an image (argv) and forgets it again (clean), or why not."""

    name: str
    pull: Callable[[str], list[str]] | None = None
    clean: Callable[[str], None] | None = None
    env: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    times: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)


class Registry:
    """docker-registry serving ``<work>/registry`` on a free loopback port."""

    def __init__(self, work: Path) -> None:
        if shutil.which("docker-registry") is None:
            raise Unavailable("docker-registry is not installed")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.host = f"127.0.0.1:{s.getsockname()[1]}"
        self.dir = work / "registry"
        self.dir.mkdir()
        (self.dir / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {self.dir}/storage\n"
            f"http:\n  addr: {self.host}\n"
        )
        log = open(self.dir / "registry.log", "wb")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(self.dir / "config.yml")], stdout=log, stderr=log
        )
        log.close()
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise Unavailable("docker-registry did not answer")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)


def publish(work: Path, registry: Registry) -> dict[str, str]:
    """Make the two images with Dockyard and push them with skopeo (gzip, schema 2);
    returns image name -> reference."""
    dockyard = peers.dockyard_binary()
    env = {**peers.dockyard_env(work)}
    peers.run([dockyard, "bootstrap", "busybox"], env=env)
    ctx = work / "big-context"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(BIG_DOCKERFILE)
    peers.run([dockyard, "build", "-q", "-t", "big", str(ctx)], env=env, timeout=900)
    refs = {}
    for name, local in (("busybox", "busybox"), ("big", "big")):
        layout = work / f"layout-{name}"
        layout.mkdir()
        peers.run([dockyard, "save", "-o", str(work / f"{name}.tar"), local], env=env)
        peers.run(["tar", "-x", "-C", str(layout), "-f", str(work / f"{name}.tar")])
        refs[name] = f"{registry.host}/bench/{name}:1"
        peers.run(
            ["skopeo", "copy", "-q", "--dest-tls-verify=false", "--format=v2s2",
             "--dest-compress", f"oci:{layout}:latest", f"docker://{refs[name]}"],
            timeout=900,
        )  # fmt: skip
    return refs


def compile_dockyard() -> None:
    """Byte-compile the ``dockyard`` package being timed, as ``make install`` and a wheel
    install do: under ``PYTHONDONTWRITEBYTECODE`` (set on this machine) an editable tree
    has no ``.pyc`` for modules no run wrote, and every pull would compile them from
    source again (about 0.1 CPU seconds of a busybox pull)."""
    import compileall
    import importlib.util

    spec = importlib.util.find_spec("dockyard")
    if spec is None or spec.origin is None:
        raise Unavailable("the dockyard package is not importable from this interpreter")
    compileall.compile_dir(os.path.dirname(spec.origin), quiet=1)


def dockyard_engine(work: Path) -> Engine:
    dockyard = peers.dockyard_binary()
    compile_dockyard()
    root = work / "dockyard-pull"
    env = {"DOCKYARD_ROOT": str(root / "root"), "DOCKYARD_RUNROOT": str(root / "run")}

    def clean(ref: str) -> None:
        subprocess.run([dockyard, "rmi", ref], env={**os.environ, **env}, capture_output=True)

    return Engine("dockyard pull", lambda ref: [dockyard, "pull", "-q", ref], clean, env)


def podman_engine(work: Path) -> Engine:
    if shutil.which("podman") is None:
        raise Unavailable("podman is not installed")
    base = work / "podman"
    podman = [
        "podman",
        "--root", str(base / "root"),
        "--runroot", str(base / "run"),
        "--tmpdir", str(base / "tmp"),
        "--storage-driver", "overlay",
    ]  # fmt: skip
    env = {"CONTAINERS_CONF": str(peers.PEER_FILES / "containers.conf")}

    def clean(ref: str) -> None:
        subprocess.run([*podman, "rmi", "-f", ref], env={**os.environ, **env}, capture_output=True)

    return Engine(
        "podman pull", lambda ref: [*podman, "pull", "-q", "--tls-verify=false", ref], clean, env
    )


def docker_engine(dockerd: peers.Dockerd) -> Engine:
    dockerd.start()
    docker = ["docker", "-H", dockerd.socket]

    def clean(ref: str) -> None:
        subprocess.run([*docker, "rmi", ref], capture_output=True)

    return Engine("docker pull", lambda ref: [*docker, "pull", "-q", ref], clean)


def skopeo_engine(work: Path) -> Engine:
    if shutil.which("skopeo") is None:
        raise Unavailable("skopeo is not installed")
    target = work / "skopeo-dir"

    def clean(ref: str) -> None:
        shutil.rmtree(target, ignore_errors=True)

    return Engine(
        "skopeo copy (to dir:, no unpack)",
        lambda ref: [
            "skopeo",
            "copy",
            "-q",
            "--src-tls-verify=false",
            f"docker://{ref}",
            f"dir:{target}",
        ],
        clean,
    )


def attempt(name: str, make: Callable[[], Engine]) -> Engine:
    try:
        return make()
    except Unavailable as e:
        return Engine(name, reason=str(e))


def time_pull(engine: Engine, ref: str, image: str) -> None:
    """Clean, then time one pull: wall seconds into ``engine.times[image]``, the CPU
    seconds (user + system) of the pulling process and its children into
    ``engine.cpu[image]``. Raises Unavailable if it fails."""
    assert engine.pull is not None and engine.clean is not None
    engine.clean(ref)
    start = time.perf_counter()
    proc = subprocess.Popen(
        engine.pull(ref),
        env={**os.environ, **engine.env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    if proc.returncode != 0:
        last = err.strip().splitlines() or ["(no output)"]
        raise Unavailable(f"exited {proc.returncode}: {last[-1]}")
    engine.times.setdefault(image, []).append(elapsed)
    engine.cpu.setdefault(image, []).append(usage.ru_utime + usage.ru_stime)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="pulls per engine and image")
    parser.add_argument("--skip-install", action="store_true", help="do not apt-get install")
    parser.add_argument("--only", default=",".join(ENGINES), help="engines, comma-separated")
    args = parser.parse_args()
    only = set(args.only.split(","))
    if not args.skip_install:
        peers.APT_PACKAGES.extend(EXTRA_PACKAGES)

    def body(work: Path, dockerd: peers.Dockerd) -> int:
        try:
            registry = Registry(work)
        except Unavailable as e:
            print(f"cannot run: {e}", file=sys.stderr)
            return 1
        try:
            return measure(work, dockerd, registry, only, args.runs)
        finally:
            registry.stop()

    return peers.run_session(
        "pull.py", "podman, docker and overlay mounts", args.skip_install, body
    )


def measure(
    work: Path, dockerd: peers.Dockerd, registry: Registry, only: set[str], runs: int
) -> int:
    try:
        refs = publish(work, registry)
    except Unavailable as e:
        print(f"cannot make the images: {e}", file=sys.stderr)
        return 1
    makers: dict[str, Callable[[], Engine]] = {
        "dockyard": lambda: dockyard_engine(work),
        "podman": lambda: podman_engine(work),
        "docker": lambda: docker_engine(dockerd),
        "skopeo": lambda: skopeo_engine(work),
    }
    engines = [attempt(n, makers[n]) for n in ENGINES if n in only]
    for _ in range(runs):
        for image in IMAGES:
            for engine in engines:
                if engine.reason:
                    continue
                try:
                    time_pull(engine, refs[image], image)
                except Unavailable as e:
                    engine.reason = f"{engine.name} {image}: {e}"
    base = {
        image: statistics.median(engines[0].times[image])
        for image in IMAGES
        if engines and engines[0].name == "dockyard pull" and engines[0].times.get(image)
    }
    print(f"\n{runs} pulls each, medians in seconds; ratio = engine / Dockyard (wall time);")
    print("CPU = user + system seconds of the pulling process (docker: the CLI only)\n")
    print("| command | busybox (1 layer) | ratio | CPU | big (5 layers, ~100 MB) | ratio | CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for engine in engines:
        if engine.reason:
            print(f"| {engine.name} | unavailable: {engine.reason} | | | | | |")
            continue
        cells = []
        for image in IMAGES:
            median = statistics.median(engine.times[image])
            ratio = f"{median / base[image]:.2f}" if image in base else "-"
            cells += [f"{median:.3f}", ratio, f"{statistics.median(engine.cpu[image]):.2f}"]
        print(f"| {engine.name} | " + " | ".join(cells) + " |")
    return 0 if base else 1


if __name__ == "__main__":
    sys.exit(main())
