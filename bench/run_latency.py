"""Start latency of ``dockyard run --rm busybox true`` beside runc, crun, Podman and Docker.

Usage (as root): ``python bench/run_latency.py [--runs 30] [--skip-install] [--only LIST]``.

Installs the peers from Debian's packages (unless ``--skip-install``), sets everything up in
one private temp dir (see peers.py), times each command ``--runs`` times after 3 warm-up runs
with ``hyperfine -N`` (or a Python loop if hyperfine is missing) and prints median, mean and
min in milliseconds with each median's ratio to Dockyard's, the CPU time (user + system of
the command and the children it waited for), plus the medians of ``dockyard --version`` and
``dockyard images``. Dockyard runs with ``--network none`` (as the peers) and on its default
bridge. The last lines compare Dockyard's medians with Podman's against the targets (0.5x
with ``--network none``, 0.6x on the bridge). Everything it made is removed at the end, on
failure and on Ctrl-C.
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
from peers import Command, Unavailable  # noqa: E402

PEERS = ("dockyard", "runc", "crun", "podman", "docker")
WARMUP = 3


@dataclass
class Row:
    """One line of the table: a command to time, or the reason it cannot be timed."""

    name: str
    command: Command | None = None
    reason: str = ""
    times: list[float] = field(default_factory=list)  # seconds
    cpu: list[float] = field(default_factory=list)  # seconds (user + system)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.times) * 1000


def attempt(name: str, make: Callable[[], Command]) -> Row:
    """A row for the command ``make`` sets up, or one called ``name`` saying why not."""
    try:
        command = make()
        return Row(command.name, command)
    except Unavailable as e:
        return Row(name, reason=str(e))


def set_up(work: Path, only: set[str], dockerd: peers.Dockerd) -> dict[str, Row]:
    """Set up every selected engine under ``work``; return rows keyed run/runc/.../images."""
    rows: dict[str, Row] = {}
    layer = None
    if "dockyard" in only:
        env = peers.dockyard_env(work)
        none_name = "dockyard run --rm --network none busybox true"
        run_name = "dockyard run --rm busybox true (bridge)"
        try:
            dockyard = peers.dockyard_binary()
        except Unavailable as e:
            for key, name in (
                ("dockyard", none_name),
                ("bridge", run_name),
                ("version", "dockyard --version"),
            ):
                rows[key] = Row(name, reason=str(e))
        else:
            try:
                layer = peers.setup_dockyard(work)
                argv = [dockyard, "run", "--rm", "--network", "none", "busybox", "true"]
                rows["dockyard"] = Row(none_name, Command(none_name, argv, env))
                argv = [dockyard, "run", "--rm", "busybox", "true"]
                rows["bridge"] = Row(run_name, Command(run_name, argv, env))
            except Unavailable as e:
                rows["dockyard"] = Row(none_name, reason=str(e))
                rows["bridge"] = Row(run_name, reason=str(e))
            for key, args in (("version", ["--version"]), ("images", ["images"])):
                name = f"dockyard {args[0]}"
                rows[key] = Row(name, Command(name, [dockyard, *args], env))
    rootfs, tarball = peers.make_rootfs(work, layer)
    if only & {"runc", "crun"}:
        try:
            bundle = peers.setup_bundle(work, rootfs)
        except Unavailable as e:
            for key in ("runc", "crun"):
                rows[key] = Row(f"{key} run", reason=str(e))
        else:
            if "runc" in only:
                rows["runc"] = attempt("runc run", lambda: peers.runc_command(work, bundle))
            if "crun" in only:
                rows["crun"] = attempt("crun run", lambda: peers.crun_command(work, bundle))
    if "podman" in only:
        rows["podman"] = attempt("podman run", lambda: peers.setup_podman(work, tarball))
    if "docker" in only:

        def docker() -> Command:
            dockerd.start()
            return dockerd.command(tarball)

        rows["docker"] = attempt("docker run", docker)
    order = ("dockyard", "bridge", "runc", "crun", "podman", "docker", "version", "images")
    return {key: rows[key] for key in order if key in rows}


def probe(rows: list[Row]) -> None:
    """Run each command once; one that fails becomes unavailable with the reason."""
    for row in rows:
        if row.command is not None:
            try:
                peers.run(row.command.argv, env=row.command.env, timeout=60)
            except Unavailable as e:
                row.command, row.reason = None, str(e)


def time_hyperfine(rows: list[Row], runs: int, work: Path) -> None:
    """Time the rows' commands in one ``hyperfine -N`` run; fill in ``times`` (seconds)."""
    import json
    import shlex

    env = dict(os.environ)
    for row in rows:
        assert row.command is not None
        env.update(row.command.env)
    out = work / "hyperfine.json"
    argv = ["hyperfine", "-N", "--warmup", str(WARMUP), "--runs", str(runs)]
    argv += ["--style", "basic", "--export-json", str(out)]
    argv += [shlex.join(row.command.argv) for row in rows if row.command is not None]
    # hyperfine's own report goes to stderr; the table is the script's output.
    subprocess.run(argv, env=env, stdout=sys.stderr, check=True)
    results = json.loads(out.read_text())["results"]
    for row, result in zip(rows, results, strict=True):
        row.times = result["times"]
        # hyperfine reports the mean only: getrusage(RUSAGE_CHILDREN) of each run.
        row.cpu = [result["user"] + result["system"]]


def time_loop(rows: list[Row], runs: int) -> None:
    """Time the rows' commands with ``time.perf_counter`` around subprocess.run."""
    for row in rows:
        assert row.command is not None
        env = {**os.environ, **row.command.env}
        for i in range(WARMUP + runs):
            start = time.perf_counter()
            proc = subprocess.Popen(row.command.argv, env=env, stdout=subprocess.DEVNULL)
            _, status, usage = os.wait4(proc.pid, 0)
            if status:
                raise subprocess.CalledProcessError(status, row.command.argv)
            if i >= WARMUP:
                row.times.append(time.perf_counter() - start)
                row.cpu.append(usage.ru_utime + usage.ru_stime)


def report(rows: dict[str, Row], runs: int, tool: str) -> None:
    """Print the table and the verdict against Podman's median."""
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"Start latency, {runs} runs each after {WARMUP} warm-up runs ({tool}), {when}")
    cpu_kind = "CPU ms (mean)" if tool.startswith("hyperfine") else "CPU ms (median)"
    print(f"{'command':<52} {'median':>8} {'mean':>8} {'min':>8}  {'ratio':>5}  {cpu_kind}")
    base = rows.get("dockyard")
    base_ms = base.median_ms if base is not None and base.times else None
    for row in rows.values():
        if not row.times:
            print(f"{row.name:<52} unavailable: {row.reason}")
            continue
        mean, low = statistics.mean(row.times) * 1000, min(row.times) * 1000
        ratio = f"{row.median_ms / base_ms:.2f}" if base_ms else "-"
        cpu = f"{statistics.median(row.cpu) * 1000:.1f}" if row.cpu else "-"
        print(f"{row.name:<52} {row.median_ms:>8.1f} {mean:>8.1f} {low:>8.1f}  {ratio:>5}  {cpu}")
    podman = rows.get("podman")
    if podman is None or not podman.times:
        print("Dockyard vs Podman: cannot compare (Podman was not measured)")
        return
    for key, target in (("dockyard", 0.5), ("bridge", 0.6)):
        row = rows.get(key)
        if row is None or not row.times:
            continue
        ratio = row.median_ms / podman.median_ms
        met = "met" if ratio <= target else "not met"
        print(
            f"{row.name}: {row.median_ms:.1f} ms vs Podman {podman.median_ms:.1f} ms: "
            f"{ratio:.2f}x (target {target}x: {met})"
        )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="timed runs per command (30)")
    parser.add_argument(
        "--skip-install", action="store_true", help="do not apt-get install the peers"
    )
    parser.add_argument(
        "--only", default=",".join(PEERS), help=f"comma-separated subset of {','.join(PEERS)}"
    )
    args = parser.parse_args(argv)
    args.only = set(filter(None, args.only.split(",")))
    if not args.only <= set(PEERS):
        parser.error(f"--only: unknown {','.join(sorted(args.only - set(PEERS)))}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when Dockyard's run was timed (or not selected), else 1."""
    args = parse_args(argv)

    def body(work: Path, dockerd: peers.Dockerd) -> int:
        try:
            rows = set_up(work, args.only, dockerd)
            probe(list(rows.values()))
            timed = [row for row in rows.values() if row.command is not None]
            tool = "hyperfine -N" if shutil.which("hyperfine") else "Python loop"
            if timed and tool == "hyperfine -N":
                time_hyperfine(timed, args.runs, work)
            elif timed:
                time_loop(timed, args.runs)
            report(rows, args.runs, tool)
            return 1 if "dockyard" in rows and not rows["dockyard"].times else 0
        except subprocess.CalledProcessError as e:
            print(f"timing failed: {e}", file=sys.stderr)
            return 1

    return peers.run_session(
        "run_latency.py", "containers, mounts, dockerd", args.skip_install, body
    )


if __name__ == "__main__":
    sys.exit(main())
