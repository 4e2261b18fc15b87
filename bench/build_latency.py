"""Build latency of examples/busybox-site: Dockyard beside ``docker build`` and ``podman build``.

Usage (as root): ``python bench/build_latency.py [--runs 10] [--skip-install] [--only LIST]``.

Every engine builds the same copy of the context from a ``busybox`` base made of the same
tree (Dockyard's ``bootstrap busybox`` layer, imported into Podman and a private dockerd as
bench/run_latency.py does; see peers.py). Two figures per engine, medians of ``--runs`` runs
in milliseconds, the engines taking turns run by run, each with its ratio to Dockyard's and
its CPU time (the command's and the children's it waited for, from ``wait4``, plus for
Docker the CPU its private dockerd's session used meanwhile: dockerd, containerd, runc):

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from peers import Unavailable  # noqa: E402

ENGINES = ("dockyard", "docker", "podman")
CONTEXT = peers.REPO / "examples" / "busybox-site"
TAG = "site"


def session_cpu(sid: int) -> float:
    """CPU seconds (user + system, with the waited-for children's) of every process in
    session ``sid``: a private dockerd and the containerd, shims and runc it starts."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue  # exited meanwhile
        # After the command name: state, ppid, pgrp, session, ... utime is the 12th.
        if int(fields[3]) == sid:
            total += sum(int(v) for v in fields[11:15])
    return total / tick


@dataclass
class Builder:
    """One engine's build: its CLI prefix, extra environment, results (seconds: wall and
    CPU per run) and ``daemon``: the session of the daemon doing its builds (Docker's)."""

    name: str
    cli: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    daemon: int | None = None
    cold: list[float] = field(default_factory=list)
    cached: list[float] = field(default_factory=list)
    cold_cpu: list[float] = field(default_factory=list)
    cached_cpu: list[float] = field(default_factory=list)

    def build(self, context: Path, no_cache: bool) -> tuple[float, float]:
        """Build ``context`` as ``site``; return the wall seconds it took and the CPU
        seconds of the command (with the children it waited for) and of the daemon.
        Raises Unavailable."""
        argv = [*self.cli, "build", *(["--no-cache"] if no_cache else []), "-t", TAG, str(context)]
        daemon_before = session_cpu(self.daemon) if self.daemon else 0.0
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **self.env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        assert proc.stderr is not None
        err = proc.stderr.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        proc.stderr.close()
        if proc.returncode != 0:
            last = (err.decode(errors="replace").strip().splitlines() or ["(no output)"])[-1]
            raise Unavailable(f"{' '.join(argv[:3])} ... exited {proc.returncode}: {last}")
        cpu = usage.ru_utime + usage.ru_stime
        if self.daemon:
            cpu += session_cpu(self.daemon) - daemon_before
        return wall, cpu

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
    sid = dockerd.proc.pid if dockerd.proc is not None else None  # its own session
    buildkit = Builder("docker build (BuildKit)", cli, {"DOCKER_BUILDKIT": "1"}, daemon=sid)
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
    return Builder(
        "docker build (classic, DOCKER_BUILDKIT=0)", cli, {"DOCKER_BUILDKIT": "0"}, daemon=sid
    )


def measure(builders: list[Builder], context: Path, runs: int) -> None:
    """Probe each engine once, then time ``runs`` cold builds and ``runs`` cached
    rebuilds, the engines taking turns run by run (load that comes and goes hits them
    alike)."""
    ready = [b for b in builders if not b.reason]

    def each(step: Callable[[Builder], None]) -> None:
        """``step`` for every engine still timed; one that fails drops out, its reason
        kept."""
        for builder in list(ready):
            try:
                step(builder)
            except Unavailable as e:
                builder.reason = str(e)
                builder.cold.clear()
                builder.cached.clear()
                ready.remove(builder)

    def probe(b: Builder) -> None:
        b.remove_image()
        b.build(context, no_cache=True)  # also warms the page cache

    def cold(b: Builder) -> None:
        b.remove_image()
        wall, cpu = b.build(context, no_cache=True)
        b.cold.append(wall)
        b.cold_cpu.append(cpu)

    def fill(b: Builder) -> None:
        b.build(context, no_cache=False)  # the image the cached rebuilds find

    def cached(b: Builder) -> None:
        wall, cpu = b.build(context, no_cache=False)
        b.cached.append(wall)
        b.cached_cpu.append(cpu)

    print("probing ...", file=sys.stderr, flush=True)
    each(probe)
    print(f"timing {', '.join(b.name for b in ready)} ...", file=sys.stderr, flush=True)
    for _ in range(runs):
        each(cold)
    each(fill)
    for _ in range(runs):
        each(cached)
    for builder in builders:
        builder.remove_image()


def report(builders: list[Builder], runs: int) -> None:
    """Print the table: median cold and cached build (wall and CPU ms), the wall times
    also as a ratio to Dockyard's."""
    timed = {b.name: b for b in builders if b.cold}
    base = next((b for b in builders if b.name == "dockyard build" and b.cold), None)
    print(f"\nexamples/busybox-site, medians of {runs} runs, engines taking turns\n")
    print("| command | cold ms | ratio | cached ms | ratio | cold CPU ms | cached CPU ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for b in builders:
        if b.name not in timed:
            print(f"| `{b.name}` | unavailable: {b.reason} | | | | | |")
            continue
        cold, cached = (statistics.median(b.cold) * 1000, statistics.median(b.cached) * 1000)
        if base is None:
            ratios = ("", "")
        else:
            base_cold = statistics.median(base.cold) * 1000
            base_cached = statistics.median(base.cached) * 1000
            ratios = (f"{cold / base_cold:.2f}", f"{cached / base_cached:.2f}")
        cpu = (statistics.median(b.cold_cpu) * 1000, statistics.median(b.cached_cpu) * 1000)
        print(
            f"| `{b.name}` | {cold:.1f} | {ratios[0]} | {cached:.1f} | {ratios[1]} "
            f"| {cpu[0]:.1f} | {cpu[1]:.1f} |"
        )
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
        measure(builders, context, args.runs)
        report(builders, args.runs)
        ours = [b for b in builders if b.name == "dockyard build"]
        return 1 if ours and not ours[0].cold else 0

    return peers.run_session("build_latency.py", "mounts, dockerd", args.skip_install, body)


if __name__ == "__main__":
    sys.exit(main())
