"""Where the time of one Dockyard command goes: wall and CPU milliseconds per phase.

Usage (as root; the engine root must exist, with ``busybox`` bootstrapped for ``run``)::

    python bench/run_breakdown.py --runs 20 --root R --runroot RR -- run --rm --network none busybox true

Each run is a fresh interpreter (``python -c``) that wraps a list of the engine's functions
(``PHASES``) with timers, then calls ``dockyard.cli.entry.main`` (the console script's entry point:
the click-free fast path, else click's ``dockyard.cli.main``) with the arguments. A
phase's figures are inclusive of the phases it calls (the indentation shows the nesting);
``imports`` is the time spent importing modules while the command ran (outside the
phases' own work: an import inside a phase counts in both), measured around
``importlib._bootstrap._find_and_load``. ``interpreter start`` is the wall time from the
parent's fork to ``main`` (interpreter, ``site``, the entry point's own imports),
``exit`` from ``main``'s return to the process's end (finalization: atexit, closing the
database; a command that ends with ``os._exit`` has its open phases closed by its atexit
handlers). CPU is this process's (``time.process_time``); ``children`` is the CPU of the
processes it waited for (the runtime's forks and the container's own process). Prints
medians over ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

#: (label, module, attribute path) of the functions timed, outermost first.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("main", "dockyard.cli.entry", "main"),
    ("  create request (flags)", "dockyard.cli.run", "_create_request"),
    ("  image present (--pull)", "dockyard.cli.run", "_pull_image"),
    ("  container create", "dockyard.engine.containers", "ContainerOperations.container_create"),
    ("    configs", "dockyard.container.manager", "ContainerManager._configs"),
    (
        "    network allocate + etc files",
        "dockyard.container.manager",
        "ContainerManager._create_network",
    ),
    ("  run attached", "dockyard.container.manager", "ContainerManager.run_attached"),
    ("    launch", "dockyard.container.manager", "ContainerManager._launch"),
    ("      mount rootfs", "dockyard.snapshot", "mount_rootfs"),
    ("      network set-up", "dockyard.network.manager", "NetworkManager.setup"),
    ("      OCI spec", "dockyard.container.manager", "ContainerManager._spec"),
    ("      runtime create", "dockyard.runtime.linux", "LinuxRuntime.create"),
    ("        seccomp program", "dockyard.runtime.linux", "LinuxRuntime._seccomp"),
    ("        cgroup create", "dockyard.runtime.cgroups", "create"),
    ("        fork to ready", "dockyard.runtime.linux", "LinuxRuntime._await_ready"),
    ("      runtime start", "dockyard.runtime.linux", "LinuxRuntime.start"),
    ("      output relay", "dockyard.container.manager", "ContainerManager._relay_attached"),
    ("    wait for exit", "dockyard.container.manager", "wait_forwarding"),
    (
        "    clean-up: runtime delete",
        "dockyard.container.manager",
        "ContainerManager._release_runtime",
    ),
    ("    network teardown", "dockyard.network.manager", "NetworkManager.teardown"),
    ("    record exit", "dockyard.container.manager", "ContainerManager.record_exit"),
    ("    remove (--rm)", "dockyard.container.manager", "ContainerManager.remove"),
)

_CHILD = r"""
import json, os, sys, time, importlib
t_enter = time.time()
cpu_enter = time.process_time()
phases = json.loads(sys.argv[1])
out = sys.argv[2]
sys.argv = ["dockyard", *sys.argv[3:]]
acc = {}
def add(label, wall, cpu):
    w, c, n = acc.get(label, (0.0, 0.0, 0))
    acc[label] = (w + wall, c + cpu, n + 1)
import importlib._bootstrap as boot
depth = [0]
orig_load = boot._find_and_load
pending = {}
for label, module, attr in phases:
    pending.setdefault(module, []).append((label, attr))
running = []
def wrap(label, fn):
    def timed(*a, **k):
        w, c = time.perf_counter(), time.process_time()
        running.append((label, w, c))
        try:
            return fn(*a, **k)
        finally:
            running.pop()
            add(label, time.perf_counter() - w, time.process_time() - c)
    timed.__wrapped__ = fn
    return timed
def patch(module):
    for label, attr in pending.pop(module.__name__, []):
        *owner_path, name = attr.split(".")
        owner = module
        for part in owner_path:
            owner = getattr(owner, part, None)
        if owner is not None and hasattr(owner, name):
            setattr(owner, name, wrap(label, getattr(owner, name)))
def find_and_load(name, import_):
    if depth[0]:
        module = orig_load(name, import_)
    else:
        depth[0] += 1
        w, c = time.perf_counter(), time.process_time()
        try:
            module = orig_load(name, import_)
        finally:
            depth[0] -= 1
            add("imports", time.perf_counter() - w, time.process_time() - c)
    if name in pending:
        patch(module)
    return module
boot._find_and_load = find_and_load
import dockyard.cli.entry as cli_entry
def report():
    # Phases still running: the command ends with os._exit (cli.engine.exit_now).
    for label, w, c in running:
        add(label, time.perf_counter() - w, time.process_time() - c)
    t = os.times()
    acc["children"] = (0.0, t.children_user + t.children_system, 1)
    acc["_main_end"] = (time.time(), 0.0, 1)
    with open(out, "w") as f:
        json.dump(acc, f)
import atexit
atexit.register(report)
if "imports" in acc:
    acc["entry imports (before main)"] = acc.pop("imports")
cli_entry.main()
"""


def one_run(python: str, args: list[str], env: dict[str, str], out: str) -> dict[str, list[float]]:
    """One command in a fresh interpreter; returns {label: [wall ms, cpu ms]}."""
    start = time.time()
    phases = json.dumps(PHASES)
    proc = subprocess.Popen(
        [python, "-c", _CHILD, phases, out, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, _, usage = os.wait4(proc.pid, 0)
    end = time.time()
    with open(out) as f:
        acc = json.load(f)
    result = {label: [w * 1000, c * 1000] for label, (w, c, _) in acc.items() if label[0] != "_"}
    main_wall = result.get("main", [0.0, 0.0])[0]
    main_end = acc["_main_end"][0]
    start_ms = (main_end - start) * 1000 - main_wall
    result["interpreter start (to main)"] = [start_ms, float("nan")]
    result["exit (after main)"] = [(end - main_end) * 1000, float("nan")]
    result["whole command"] = [(end - start) * 1000, (usage.ru_utime + usage.ru_stime) * 1000]
    return result


def main() -> None:
    """Parse the command line, run the command ``--runs`` times, print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs (default 20)")
    parser.add_argument("--root", required=True, help="DOCKYARD_ROOT")
    parser.add_argument("--runroot", required=True, help="DOCKYARD_RUNROOT")
    parser.add_argument("--python", default=sys.executable, help="the venv's python")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="-- and the command's arguments")
    opts = parser.parse_args()
    args = opts.args[1:] if opts.args[:1] == ["--"] else opts.args
    env = dict(os.environ, DOCKYARD_ROOT=opts.root, DOCKYARD_RUNROOT=opts.runroot)
    out = os.path.join(opts.runroot, f"breakdown-{os.getpid()}.json")
    runs = []
    try:
        for _ in range(opts.runs):
            runs.append(one_run(opts.python, args, env, out))
    finally:
        if os.path.exists(out):
            os.unlink(out)
    labels = ["whole command", "interpreter start (to main)", "entry imports (before main)"]
    labels += ["imports"]
    labels += [label for label, _, _ in PHASES] + ["children", "exit (after main)"]
    print(f"dockyard {' '.join(args)}: medians of {opts.runs} runs, ms")
    print(f"{'phase':<40} {'wall':>7} {'cpu':>7}")
    for label in labels:
        values = [r[label] for r in runs if label in r]
        if not values:
            continue
        wall = statistics.median(v[0] for v in values)
        cpus = [v[1] for v in values if v[1] == v[1]]
        cpu = f"{statistics.median(cpus):7.1f}" if cpus else "      -"
        print(f"{label:<40} {wall:7.1f} {cpu}")


if __name__ == "__main__":
    main()
