"""Build latency of examples/busybox-site: Dockyard beside ``docker build`` and ``podman build``.

Usage (as root): ``python bench/build_latency.py [--runs 10] [--skip-install] [--only LIST]``.

Every engine builds the same copy of the context from a ``busybox`` base made of the same
tree (Dockyard's ``bootstrap busybox`` layer, imported into Podman and a private dockerd as
bench/run_latency.py does; see peers.py). Two figures per engine, medians of ``--runs`` runs
in milliseconds, each with its ratio to Dockyard's:

- cold: the image removed (``rmi site``), then ``build --no-cache -t site CONTEXT``;
- cached: ``build -t site CONTEXT`` again with nothing changed (every step from the cache).

Docker builds with BuildKit (``DOCKER_BUILDKIT=1``) when its buildx component works here and
with the classic builder (``DOCKER_BUILDKIT=0``) otherwise; the table says which. Everything it
made is removed at the end, on failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from peers import Unavailable  # noqa: E402

ENGINES = ("dockyard", "docker", "podman")
CONTEXT = peers.REPO / "examples" / "busybox-site"
TAG = "site"


@dataclass
class Builder:
    """One engine's build: its CLI prefix, extra environment and results (seconds)."""

    name: str
    cli: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    cold: list[float] = field(default_factory=list)
    cached: list[float] = field(default_factory=list)

    def build(self, context: Path, no_cache: bool) -> float:
        """Build ``context`` as ``site``; return the seconds it took. Raises Unavailable."""
        argv = [*self.cli, "build", *(["--no-cache"] if no_cache else []), "-t", TAG]
        start = time.perf_counter()
        peers.run([*argv, str(context)], env=self.env, timeout=120)
        return time.perf_counter() - start

    def remove_image(self) -> None:
        """``rmi site``; a missing image is fine."""
        subprocess.run(
            [*self.cli, "rmi", TAG],
            env={**os.environ, **self.env},
            capture_output=True,
            check=False,
        )


def set_up(work: Path, context: Path, only: set[str], dockerd: peers.Dockerd) -> list[Builder]:
    """Set up every selected engine with a ``busybox`` image under ``work``."""
    builders = []
    layer = None
    if "dockyard" in only:
        name = "dockyard build"
        try:
            layer = peers.setup_dockyard(work)
            builders.append(Builder(name, [peers.dockyard_binary()], peers.dockyard_env(work)))
        except Unavailable as e:
            builders.append(Builder(name, reason=str(e)))
    _, tarball = peers.make_rootfs(work, layer)
    if "docker" in only:
        builders.append(docker_builder(tarball, context, dockerd))
    if "podman" in only:
        name = "podman build"
        try:
            run = peers.setup_podman(work, tarball)
            # The private store's flags: everything before the timed ``run`` subcommand.
            cli = run.argv[: run.argv.index("run")]
            builders.append(Builder(name, cli, run.env))
        except Unavailable as e:
            builders.append(Builder(name, reason=str(e)))
    return builders


def docker_builder(tarball: Path, context: Path, dockerd: peers.Dockerd) -> Builder:
    """A private dockerd with busybox imported; BuildKit if it builds here, else classic."""
    try:
        dockerd.start()
        dockerd.command(tarball)  # imports the tarball as busybox
    except Unavailable as e:
        return Builder("docker build", reason=str(e))
    cli = ["docker", "-H", dockerd.socket]
    buildkit = Builder("docker build (BuildKit)", cli, {"DOCKER_BUILDKIT": "1"})
    try:
        peers.run(["docker", "buildx", "version"])
    except Unavailable:
        why = "the docker buildx plugin, which BuildKit needs, is not installed"
    else:
        try:
            buildkit.build(context, no_cache=True)
            return buildkit
        except Unavailable as e:
            why = str(e)
    print(f"docker BuildKit unavailable ({why}); timing the classic builder", file=sys.stderr)
    return Builder("docker build (classic, DOCKER_BUILDKIT=0)", cli, {"DOCKER_BUILDKIT": "0"})


def measure(builder: Builder, context: Path, runs: int) -> None:
    """Probe once, then time ``runs`` cold builds and ``runs`` cached rebuilds."""
    try:
        builder.remove_image()
        builder.build(context, no_cache=True)  # the probe, also warming the page cache
        for _ in range(runs):
            builder.remove_image()
            builder.cold.append(builder.build(context, no_cache=True))
        builder.build(context, no_cache=False)
        for _ in range(runs):
            builder.cached.append(builder.build(context, no_cache=False))
    except Unavailable as e:
        builder.reason = str(e)
        builder.cold.clear()
        builder.cached.clear()
    finally:
        builder.remove_image()


def report(builders: list[Builder], runs: int) -> None:
    """Print the table: median cold and cached build in ms, each as a ratio to Dockyard's."""
    timed = {b.name: b for b in builders if b.cold}
    base = next((b for b in builders if b.name == "dockyard build" and b.cold), None)
    print(f"\nexamples/busybox-site, medians of {runs} runs\n")
    print("| command | cold ms | ratio | cached ms | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for b in builders:
        if b.name not in timed:
            print(f"| `{b.name}` | unavailable: {b.reason} | | | |")
            continue
        cold, cached = (statistics.median(b.cold) * 1000, statistics.median(b.cached) * 1000)
        if base is None:
            ratios = ("", "")
        else:
            base_cold = statistics.median(base.cold) * 1000
            base_cached = statistics.median(base.cached) * 1000
            ratios = (f"{cold / base_cold:.2f}", f"{cached / base_cached:.2f}")
        print(f"| `{b.name}` | {cold:.1f} | {ratios[0]} | {cached:.1f} | {ratios[1]} |")
    if base is not None:
        cached = statistics.median(base.cached)
        verdict = "under" if cached < 1 else "NOT under"
        print(f"\nDockyard's cached rebuild: {cached * 1000:.1f} ms, {verdict} 1 s (issue 4).")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per figure")
    parser.add_argument("--skip-install", action="store_true", help="no apt-get install")
    parser.add_argument(
        "--only",
        default=",".join(ENGINES),
        help=f"comma-separated subset of {','.join(ENGINES)}",
    )
    args = parser.parse_args(argv)
    args.only = set(args.only.split(","))
    unknown = args.only - set(ENGINES)
    if unknown:
        parser.error(f"--only: unknown engine(s) {', '.join(sorted(unknown))}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when Dockyard's builds were timed (or not selected), else 1."""
    args = parse_args(argv)

    def body(work: Path, dockerd: peers.Dockerd) -> int:
        context = work / "context"
        shutil.copytree(CONTEXT, context)
        builders = set_up(work, context, args.only, dockerd)
        for builder in builders:
            if not builder.reason:
                print(f"timing {builder.name} ...", file=sys.stderr, flush=True)
                measure(builder, context, args.runs)
        report(builders, args.runs)
        ours = [b for b in builders if b.name == "dockyard build"]
        return 1 if ours and not ours[0].cold else 0

    return peers.run_session("build_latency.py", "mounts, dockerd", args.skip_install, body)


if __name__ == "__main__":
    sys.exit(main())
