"""CLI start-up: ``dockyard --version``, ``ps``, ``images`` and ``volume ls`` beside Docker's.

Usage (as root): ``python bench/cli_latency.py [--runs 30] [--skip-install] [--no-breakdown]``.

Dockyard runs on an empty private engine root; Docker's CLI (the ``docker`` on PATH) runs
``--version`` and, against a private dockerd with nothing in it (peers.py, started with
start-dockerd.sh's flags), ``ps``, ``images`` and ``volume ls``; ``python3 -I -S -c pass``
(the interpreter alone) is the floor. Every command runs once as a probe, then all of them
take turns ``--runs`` times (interleaved, so load that comes and goes hits them alike).
Each run is timed as wall time and as CPU time (user + system of the process and the
children it waited for, from ``wait4``; dockerd's work for Docker's commands is not in it):
on a busy machine the CPU time moves far less. Prints medians and each as a ratio to
Docker's reference (``docker --version`` for ``--version``, ``docker ps`` for the others),
then whether the targets of issue 16 hold (``--version`` at most 1.5x, the listings at most
2x). Then, unless ``--no-breakdown``, where a bare command's CPU goes: the interpreter the
launcher runs (``make install``'s, tools/launchers.py) importing one more thing per row
(STEPS), timed in the same interleaved runs. Everything it made is removed at the end, on
failure and on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
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

#: Dockyard's commands: (arguments, key of the Docker row it is held against, target ratio).
DOCKYARD = (
    (["--version"], "docker --version", 1.5),
    (["ps"], "docker ps", 2.0),
    (["images"], "docker ps", 2.0),
    (["volume", "ls"], "docker ps", 2.0),
)
DOCKER = (["--version"], ["ps"], ["images"], ["volume", "ls"])
#: The breakdown: the launcher's interpreter (python -S with its sys.path) importing one
#: more thing each; each row's CPU minus the first row's is what that import costs.
STEPS = (
    ("pass", ""),
    ("site (python without -S)", ""),
    ("import re", "import re"),
    ("import sqlite3", "import sqlite3"),
    ("import click", "import click"),
    ("import dockyard.cli.main", "import dockyard.cli.main"),
    ("import dockyard.engine", "import dockyard.engine"),
    ("import dockyard.cli.main, dockyard.engine", "import dockyard.cli.main, dockyard.engine"),
)


@dataclass
class Row:
    """One timed command (``argv`` with ``env`` added), or the reason it cannot run."""

    name: str
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    reason: str = ""
    wall: list[float] = field(default_factory=list)  # ms
    cpu: list[float] = field(default_factory=list)  # ms


def once(row: Row) -> tuple[float, float, int]:
    """Run ``row`` once: (wall ms, user + system CPU ms, exit status)."""
    env = {**os.environ, **row.env}
    start = time.perf_counter()
    p = subprocess.Popen(row.argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    return wall, (usage.ru_utime + usage.ru_stime) * 1000, os.waitstatus_to_exitcode(status)


def set_up(work: Path, dockerd: peers.Dockerd) -> list[Row]:
    """The rows: the floor, Docker's commands (dockerd started here) and Dockyard's."""
    rows = [Row("python3 -I -S -c pass", [sys.executable, "-I", "-S", "-c", "pass"])]
    docker = shutil.which("docker")
    if docker is None:
        rows += [Row(f"docker {' '.join(a)}", reason="docker is not installed") for a in DOCKER]
    else:
        rows.append(Row("docker --version", [docker, "--version"]))
        try:
            dockerd.start()
            for args in DOCKER[1:]:
                argv = [docker, "-H", dockerd.socket, *args]
                rows.append(Row(f"docker {' '.join(args)}", argv))
        except Unavailable as e:
            rows += [Row(f"docker {' '.join(a)}", reason=str(e)) for a in DOCKER[1:]]
    try:
        dockyard = peers.dockyard_binary()
    except Unavailable as e:
        return rows + [Row(f"dockyard {' '.join(a)}", reason=str(e)) for a, _, _ in DOCKYARD]
    env = peers.dockyard_env(work)
    for args, _, _ in DOCKYARD:
        rows.append(Row(f"dockyard {' '.join(args)}", [dockyard, *args], env))
    return rows


def breakdown_rows(dockyard: str) -> list[Row]:
    """The STEPS as rows, run by the launcher's interpreter with the launcher's
    ``sys.path`` (read from the launcher ``make install`` wrote; none for pip's script)."""
    with open(dockyard) as f:
        lines = f.read().splitlines()
    python = lines[0][2:].split()[0]
    setup = next((line for line in lines if line.startswith("sys.path +=")), "")
    if not setup:
        return [Row("breakdown", reason=f"{dockyard} is not a tools/launchers.py launcher")]
    rows = []
    for name, code in STEPS:
        flags = [] if name.startswith("site") else ["-S"]
        argv = [python, *flags, "-c", f"import sys; {setup}; {code or 'pass'}"]
        rows.append(Row(f"python3 {'-S ' if flags else ''}+ {name}", argv))
    return rows


def probe(rows: list[Row]) -> None:
    """Run each row once; a failing one gets its reason and is not timed."""
    for row in rows:
        if row.reason:
            continue
        try:
            _, _, status = once(row)
        except OSError as e:
            row.reason = f"cannot run: {e}"
            continue
        if status != 0:
            row.reason = f"exit status {status}"


def report_breakdown(rows: list[Row]) -> None:
    """Print the breakdown: each step's CPU and its difference to the first step's."""
    if not rows or rows[0].reason:
        print(f"breakdown: {rows[0].reason if rows else 'none'}")
        return
    base = statistics.median(rows[0].cpu)
    print("| launcher's interpreter | CPU | over `-S` alone |")
    print("| --- | ---: | ---: |")
    for r in rows:
        if r.reason:
            print(f"| {r.name} | unavailable: {r.reason} | |")
            continue
        cpu = statistics.median(r.cpu)
        print(f"| {r.name} | {cpu:.1f} | {cpu - base:+.1f} |")


def report(rows: list[Row], runs: int) -> bool:
    """Print the table and the targets; returns whether every target holds (CPU time)."""
    by_name = {r.name: r for r in rows}
    print(f"CLI start-up, medians of {runs} interleaved runs (ms); ratios to Docker's")
    print("| command | wall | CPU | wall ratio | CPU ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    refs = {f"dockyard {' '.join(a)}": (ref, target) for a, ref, target in DOCKYARD}
    for r in rows:
        if r.reason:
            print(f"| `{r.name}` | unavailable: {r.reason} | | | |")
            continue
        wall, cpu = statistics.median(r.wall), statistics.median(r.cpu)
        ratios = ["", ""]
        ref = by_name.get(refs.get(r.name, ("",))[0])
        if ref is not None and ref.wall:
            ratios = [
                f"{wall / statistics.median(ref.wall):.2f}",
                f"{cpu / statistics.median(ref.cpu):.2f}",
            ]
        print(f"| `{r.name}` | {wall:.1f} | {cpu:.1f} | {ratios[0]} | {ratios[1]} |")
    held = True
    for name, (ref_name, target) in refs.items():
        mine, ref = by_name[name], by_name.get(ref_name)
        if mine.reason or ref is None or ref.reason:
            print(f"{name}: target {target}x `{ref_name}` not measured")
            held = False
            continue
        ratio = statistics.median(mine.cpu) / statistics.median(ref.cpu)
        wall_ratio = statistics.median(mine.wall) / statistics.median(ref.wall)
        ok = ratio <= target
        held = held and ok
        print(
            f"{name}: {ratio:.2f}x `{ref_name}` CPU ({wall_ratio:.2f}x wall), "
            f"target {target}x: {'met' if ok else 'NOT met'}"
        )
    return held


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="runs per command (default 30)")
    parser.add_argument(
        "--skip-install", action="store_true", help="do not apt-get install the peers"
    )
    parser.add_argument(
        "--no-breakdown", action="store_true", help="do not time the import breakdown"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every Dockyard command was timed, else 1 (a target
    not met is reported, not an error: the machine's load decides too much of it)."""
    args = parse_args(argv)

    def body(work: Path, dockerd: peers.Dockerd) -> int:
        rows = set_up(work, dockerd)
        steps = []
        if not args.no_breakdown:
            with contextlib.suppress(Unavailable, OSError):
                steps = breakdown_rows(peers.dockyard_binary())
        probe(rows + steps)
        timed = [r for r in rows + steps if not r.reason]
        for _ in range(args.runs):
            for r in timed:
                wall, cpu, _ = once(r)
                r.wall.append(wall)
                r.cpu.append(cpu)
        report(rows, args.runs)
        if steps:
            report_breakdown(steps)
        return 1 if any(r.reason for r in rows if r.name.startswith("dockyard")) else 0

    return peers.run_session("cli_latency.py", "dockerd", args.skip_install, body)


if __name__ == "__main__":
    sys.exit(main())
