"""CPU time of Dockyard commands, several builds compared in one interleaved run.

Usage (as root for ``run``; the engine root must exist, with ``busybox`` bootstrapped for
``run``)::

    python bench/startup_cpu.py --runs 30 --root /tmp/r --runroot /tmp/rr \\
        /old/.venv/bin/dockyard,.venv/bin/dockyard -- ps

Each run of each build is one child process; its CPU time is the user + system time
``wait4`` reports for it (its own and its waited-for children's), which load on the
machine disturbs far less than wall time (also printed, as a median). Builds alternate run by run, so load that
comes and goes hits them alike. Prints the median, mean and min in ms per build.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time


def cpu_ms(binary: str, args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """User + system CPU milliseconds and wall milliseconds of one ``binary args...``
    (output discarded)."""
    started = time.perf_counter()
    p = subprocess.Popen(
        [binary, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env
    )
    _, _, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - started) * 1000
    return (usage.ru_utime + usage.ru_stime) * 1000, wall


def main() -> None:
    """Parse the command line, time each build ``--runs`` times, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs per build (default 20)")
    parser.add_argument("--root", required=True, help="DOCKYARD_ROOT for every build")
    parser.add_argument("--runroot", required=True, help="DOCKYARD_RUNROOT for every build")
    parser.add_argument("builds", help="dockyard executables, comma-separated")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- and the command's arguments")
    opts = parser.parse_args()
    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args
    env = dict(os.environ, DOCKYARD_ROOT=opts.root, DOCKYARD_RUNROOT=opts.runroot)
    builds = opts.builds.split(",")
    times: dict[str, list[float]] = {b: [] for b in builds}
    walls: dict[str, list[float]] = {b: [] for b in builds}
    for _ in range(opts.runs):
        for b in builds:
            cpu, wall = cpu_ms(b, args, env)
            times[b].append(cpu)
            walls[b].append(wall)
    print(
        f"dockyard {' '.join(args)}: CPU ms over {opts.runs} runs (median, mean, min), "
        "wall ms (median)"
    )
    for b in builds:
        t = times[b]
        print(
            f"  {b}: {statistics.median(t):.1f} {statistics.mean(t):.1f} {min(t):.1f}, "
            f"wall {statistics.median(walls[b]):.1f}"
        )


if __name__ == "__main__":
    main()
