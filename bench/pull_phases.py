"""Where the time of one ``dockyard pull`` goes: wall, CPU and scheduler figures per phase.

Usage (as root; the image is removed before each run, untimed)::

    python bench/pull_phases.py --runs 5 --root R --runroot RR 127.0.0.1:5000/bench/big:1

Each run is a fresh interpreter (``python -c``) that wraps the pull's functions
(``PHASES``) with timers, then calls ``dockyard.cli.main.main(["pull", "-q", IMAGE])``. A
phase runs on the thread named beside it (``layer``: each layer's thread, ``blob``: each
download's thread); its figures are inclusive of the phases it calls. ``CPU`` is the
thread's own (``time.thread_time``), ``waiting for a CPU`` the time it was runnable but
not running (``/proc/self/task/<tid>/schedstat``: the machine's load), and ``blocked``
the rest of its wall time (the network, the disk, the GIL, a condition). A phase that
runs once per layer is summed over the layers. ``interpreter start`` is the wall time
from the fork to ``main`` (the interpreter with ``site``, and importing the wrapped
modules), ``main`` from there to the atexit handlers (a pull ends with
``os._exit`` after them), ``exit`` the rest; the whole process's CPU is from
``wait4``. Prints medians over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

#: (label, module, attribute path) of the functions timed.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("resolve: ping + manifest", "dockyard.distribution.pull", "Puller.resolve"),
    ("  registry object (imports httpx)", "dockyard.distribution.pull", "connect"),
    ("  ping (client, HTTPS try, /v2/)", "dockyard.distribution.client", "Registry.ping"),
    ("config blob", "dockyard.distribution.pull", "Puller._config"),
    ("layers", "dockyard.distribution.pull", "Puller._layers"),
    ("  download (blob threads, summed)", "dockyard.distribution.pull", "_Download._run"),
    ("  unpack (layer threads, summed)", "dockyard.distribution.pull", "Puller._unpack"),
    ("image row, config + manifest blobs", "dockyard.image.store", "ImageStore.add"),
    ("tag", "dockyard.image.store", "ImageStore.tag"),
    ("RepoDigest", "dockyard.image.store", "ImageStore.add_repo_digest"),
)

CHILD = r"""
import atexit, functools, importlib, json, os, sys, threading, time
events = []

def sched():
    try:
        with open(f"/proc/self/task/{threading.get_native_id()}/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except OSError:
        return 0.0

def wrap(label, module, path):
    owner = importlib.import_module(module)
    *parents, name = path.split(".")
    for p in parents:
        owner = getattr(owner, p)
    inner = getattr(owner, name)

    @functools.wraps(inner)
    def timed(*a, **k):
        t, c, w = time.perf_counter(), time.thread_time(), sched()
        try:
            return inner(*a, **k)
        finally:
            events.append((label, time.perf_counter() - t, time.thread_time() - c, sched() - w))

    setattr(owner, name, timed)

for label, module, path in PHASES:
    wrap(label, module, path)

def dump():
    with open(OUT, "w") as f:
        json.dump({"events": events, "main": MAIN, "atexit": time.perf_counter()}, f)

atexit.register(dump)
from dockyard.cli.main import main
MAIN = time.perf_counter()
main(["pull", "-q", IMAGE])
"""


def one_run(image: str, env: dict[str, str]) -> dict[str, list[float]]:
    """Remove ``image`` (untimed), pull it once in a wrapped interpreter; returns label ->
    [wall, CPU, waiting for a CPU, blocked] in ms."""
    beside = os.path.join(os.path.dirname(sys.executable), "dockyard")
    dockyard = beside if os.path.exists(beside) else "dockyard"
    subprocess.run([dockyard, "rmi", image], env=env, capture_output=True)
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        code = f"PHASES = {PHASES!r}\nOUT = {out.name!r}\nIMAGE = {image!r}\n" + CHILD
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        if status != 0:
            sys.exit(f"pull_phases.py: the pull failed (status {status})")
        data = json.load(open(out.name))
    rows: dict[str, list[float]] = {}
    for label, w, c, q in data["events"]:
        row = rows.setdefault(label, [0.0, 0.0, 0.0, 0.0])
        for i, v in enumerate((w, c, q, max(0.0, w - c - q))):
            row[i] += v * 1000
    rows["interpreter start"] = [(data["main"] - start) * 1000, 0.0, 0.0, 0.0]
    rows["main"] = [(data["atexit"] - data["main"]) * 1000, 0.0, 0.0, 0.0]
    rows["exit"] = [(start + wall - data["atexit"]) * 1000, 0.0, 0.0, 0.0]
    rows["whole process (CPU: rusage)"] = [
        wall * 1000, (usage.ru_utime + usage.ru_stime) * 1000, 0.0, 0.0,
    ]  # fmt: skip
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--root", required=True, help="DOCKYARD_ROOT")
    parser.add_argument("--runroot", required=True, help="DOCKYARD_RUNROOT")
    parser.add_argument("image")
    args = parser.parse_args()
    env = {**os.environ, "DOCKYARD_ROOT": args.root, "DOCKYARD_RUNROOT": args.runroot}
    runs = [one_run(args.image, env) for _ in range(args.runs)]
    order = ["interpreter start", "main"] + [p[0] for p in PHASES] + ["exit"]
    order.append("whole process (CPU: rusage)")
    print(f"dockyard pull -q {args.image}: medians of {args.runs} runs, ms")
    print(f"{'phase':40s} {'wall':>8s} {'CPU':>8s} {'waiting for a CPU':>18s} {'blocked':>8s}")
    for label in order:
        values = [r[label] for r in runs if label in r]
        if not values:
            continue
        med = [statistics.median(v[i] for v in values) for i in range(4)]
        cells = [f"{med[0]:8.1f}", f"{med[1]:8.1f}" if med[1] else " " * 8]
        cells += [f"{med[2]:18.1f}", f"{med[3]:8.1f}"] if med[2] else []
        print(f"{label:40s} " + " ".join(cells))
    print(f"load average {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
