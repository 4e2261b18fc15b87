"""``run -d`` then ``rm -f`` of many containers: Dockyard beside Podman, in the same run.

Usage (as root): ``python bench/churn.py [--count 100] [--rounds 1] [--skip-install]
[--only dockyard,podman]``.

For each engine (set up as ``run_latency.py`` does, through peers.py: a private Dockyard
root with ``bootstrap busybox``, a private Podman store with the same tree imported), in
turn, ``--rounds`` times: ``--count`` x ``run -d --network none busybox sleep 600`` one
after another, then ``--count`` x ``rm -f ID``. Printed per engine (medians over rounds):
the total wall seconds of the starts and of the removals, wall ms per container for each,
and CPU ms per container, for the command lines alone (user + system from ``wait4``) and for
everything the engine ran for them (the commands, Dockyard's monitors, Podman's conmon and
the runtimes, and the containers themselves: ``cpuacct.usage`` of a cgroup made for the
round, in which every command starts; Podman's containers and conmon are put under it with
``--cgroup-parent``, Dockyard's nest there by default). The cgroup is removed at the end.
Podman's removals are ``rm -f -t 0``: Docker's (and Dockyard's) ``rm -f`` kills at once,
Podman's waits the stop timeout first (10 s for ``sleep``, which ignores SIGTERM as PID 1).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402
from peers import Unavailable  # noqa: E402

ENGINES = ("dockyard", "podman")
CPUACCT = "/sys/fs/cgroup/cpuacct"


class CpuGroup:
    """A cpuacct cgroup (v1) under this process's own, for one round of one engine."""

    def __init__(self, name: str) -> None:
        own = "/"
        with open("/proc/self/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                if "cpuacct" in controllers.split(","):
                    own = path
        if not os.path.isdir(CPUACCT):
            raise Unavailable(f"{CPUACCT} is not mounted (cgroup v1 cpuacct needed)")
        self.relative = os.path.join(own, name)  # as --cgroup-parent takes it
        self.path = os.path.join(CPUACCT, self.relative.lstrip("/"))
        os.mkdir(self.path)

    def enter(self) -> None:
        """Move the calling process into the group (a child's preexec_fn)."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write("0")

    def usage(self) -> float:
        """CPU seconds used in the group and below so far."""
        with open(os.path.join(self.path, "cpuacct.usage")) as f:
            return int(f.read()) / 1e9

    def remove(self) -> None:
        """Remove the group and what the engines left below it (bottom-up, best effort)."""
        remove_tree(self.path)


def remove_tree(path: str) -> None:
    """rmdir the cgroup ``path`` and those below it, deepest first, waiting up to 5 s for
    each to empty (best effort)."""
    for dirpath, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
        for _ in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


def timed(argv: list[str], env: dict[str, str], group: CpuGroup) -> tuple[str, float, float]:
    """Run ``argv`` in ``group``; (stdout, wall seconds, CPU seconds of it and its
    waited-for children). Raises Unavailable when it fails."""
    import tempfile

    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=subprocess.PIPE,
            stderr=err,
            preexec_fn=group.enter,
        )
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.stdout.close()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        if proc.returncode:
            err.seek(0)
            last = err.read().decode(errors="replace").strip().splitlines()[-1:] or [""]
            raise Unavailable(f"{' '.join(argv[:3])}...: exit {proc.returncode}: {last[0]}")
    return out.decode().strip(), wall, usage.ru_utime + usage.ru_stime


def one_round(
    name: str,
    base: list[str],
    env: dict[str, str],
    count: int,
    extra: list[str],
    rm_flags: list[str],
) -> dict[str, float]:
    """``count`` starts then ``count`` removals with the engine's command ``base``."""
    group = CpuGroup(f"dockyard-churn-{os.getpid()}-{name}")
    ids: list[str] = []
    try:
        used = group.usage()
        cli_cpu = 0.0
        start = time.perf_counter()
        for _ in range(count):
            argv = [*base, "run", "-d", *extra, "--network", "none", "busybox", "sleep", "600"]
            out, _, cpu = timed(argv, env, group)
            ids.append(out.splitlines()[-1])
            cli_cpu += cpu
        started = time.perf_counter() - start
        start = time.perf_counter()
        while ids:
            _, _, cpu = timed([*base, "rm", *rm_flags, ids[-1]], env, group)
            ids.pop()
            cli_cpu += cpu
        removed = time.perf_counter() - start
        total_cpu = group.usage() - used
    finally:
        for cid in ids:  # after a failure
            subprocess.run([*base, "rm", *rm_flags, cid], env={**os.environ, **env}, check=False)
        group.remove()
    return {
        "start_s": started,
        "rm_s": removed,
        "start_ms": started / count * 1000,
        "rm_ms": removed / count * 1000,
        "cli_cpu_ms": cli_cpu / count * 1000,
        "cpu_ms": total_cpu / count * 1000,
    }


def engines(work: Path, only: set[str]) -> dict[str, tuple[list[str], dict[str, str], list[str]]]:
    """(command prefix, environment, extra run flags) of each engine set up under ``work``."""
    out = {}
    layer = None
    if "dockyard" in only:
        layer = peers.setup_dockyard(work)
        out["dockyard"] = ([peers.dockyard_binary()], peers.dockyard_env(work), [])
    if "podman" in only:
        _, tarball = peers.make_rootfs(work, layer)
        command = peers.setup_podman(work, tarball)
        base = command.argv[: command.argv.index("run")]
        out["podman"] = (base, command.env, [])
    return out


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every selected engine was measured."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="containers per round (100)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per engine (1)")
    parser.add_argument("--skip-install", action="store_true", help="do not apt-get install")
    parser.add_argument("--only", default=",".join(ENGINES), help="dockyard,podman or one")
    args = parser.parse_args(argv)
    only = set(filter(None, args.only.split(",")))
    if not only <= set(ENGINES):
        parser.error(f"--only: unknown {','.join(sorted(only - set(ENGINES)))}")

    def body(work: Path, _dockerd: peers.Dockerd) -> int:
        try:
            setups = engines(work, only)
        except Unavailable as e:
            print(f"set-up failed: {e}", file=sys.stderr)
            return 1
        results: dict[str, list[dict[str, float]]] = {name: [] for name in setups}
        for _ in range(args.rounds):
            for name, (base, env, extra) in setups.items():
                rm_flags = ["-f"]
                if name == "podman":
                    # Its containers and conmon under the round's cgroup (see CpuGroup).
                    parent = f"dockyard-churn-{os.getpid()}-{name}"
                    extra = ["--cgroup-parent", f"/{parent}/podman"]
                    # Docker's rm -f kills at once; Podman's waits the stop timeout
                    # (10 s: sleep ignores SIGTERM as PID 1) unless told not to.
                    rm_flags = ["-f", "-t", "0"]
                try:
                    results[name].append(one_round(name, base, env, args.count, extra, rm_flags))
                except Unavailable as e:
                    print(f"{name}: {e}", file=sys.stderr)
        # Podman made its --cgroup-parent in every v1 hierarchy, not only cpuacct's.
        for top in os.listdir("/sys/fs/cgroup"):
            remove_tree(os.path.join("/sys/fs/cgroup", top, f"dockyard-churn-{os.getpid()}-podman"))
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(f"run -d then rm -f of {args.count} containers, {args.rounds} round(s), {when}")
        print(
            f"{'engine':<10} {'starts s':>9} {'rms s':>7} {'ms/start':>9} {'ms/rm':>7} "
            f"{'CLI CPU ms':>11} {'all CPU ms':>11}  (per container)"
        )
        for name, rows in results.items():
            if not rows:
                print(f"{name:<10} unavailable")
                continue
            m = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
            print(
                f"{name:<10} {m['start_s']:>9.2f} {m['rm_s']:>7.2f} {m['start_ms']:>9.1f} "
                f"{m['rm_ms']:>7.1f} {m['cli_cpu_ms']:>11.1f} {m['cpu_ms']:>11.1f}"
            )
        return 0 if all(results.values()) else 1

    return peers.run_session("churn.py", "containers, cgroups", args.skip_install, body)


if __name__ == "__main__":
    sys.exit(main())
