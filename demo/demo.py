"""Dockyard's demo: make a base image offline, then run isolated containers.

Each step prints the command it runs (as a user would type it) and the real output.
It uses the normal engine root (``$DOCKYARD_ROOT`` or /var/lib/dockyard).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# The dockyard installed beside this interpreter (the project's venv), else the one on PATH.
_BESIDE = os.path.join(os.path.dirname(sys.executable), "dockyard")
DOCKYARD = _BESIDE if os.path.exists(_BESIDE) else (shutil.which("dockyard") or "dockyard")


def step(title: str, *args: str) -> None:
    """Print a heading and the command, run it, and show its output and exit code."""
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}")
    print("$ dockyard " + " ".join(_quote(a) for a in args), flush=True)
    proc = subprocess.run([DOCKYARD, *args])
    if proc.returncode != 0:
        print(f"(exit code {proc.returncode})", flush=True)


def _quote(arg: str) -> str:
    return arg if arg and all(c.isalnum() or c in "-_./:=%" for c in arg) else repr(arg)


def memory_limit_file() -> str:
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    return "/sys/fs/cgroup/memory.max"


def main() -> None:
    step("Make busybox:latest from the host's busybox-static, offline", "bootstrap", "busybox")
    step("The image store", "images")
    step("A container gets its own hostname (its short ID)", "run", "--rm", "busybox", "hostname")
    step("... or the one you give it", "run", "--rm", "--hostname", "demo", "busybox", "hostname")
    step(
        "The command is PID 1 in its own PID namespace",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo my PID is $$; ps",
    )
    step(
        "Its own mounts: overlayfs root, /proc, a tmpfs /dev, read-only /sys",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/mounts",
    )
    step(
        "Docker's 14 default capabilities (a80425fb), bounding set included",
        "run",
        "--rm",
        "busybox",
        "grep",
        "^Cap",
        "/proc/self/status",
    )
    step(
        "--cap-drop ALL leaves none",
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "busybox",
        "grep",
        "^CapEff",
        "/proc/self/status",
    )
    step(
        "A 64 MiB memory limit, enforced by its cgroup",
        "run",
        "--rm",
        "-m",
        "64m",
        "busybox",
        "cat",
        memory_limit_file(),
    )
    step(
        "Past the limit the OOM killer ends it: exit code 137",
        "run",
        "--rm",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "tail /dev/zero",
    )
    step(
        "The container's exit code is run's exit code",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    )
    step("A missing command: exit code 127", "run", "--rm", "busybox", "nosuchcommand")
    step(
        "A detached container, under its own monitor",
        "run",
        "-d",
        "--name",
        "demo-bg",
        "busybox",
        "sleep",
        "300",
    )
    step("It is listed as running", "ps")
    step("docker kill sends SIGKILL", "kill", "demo-bg")
    step("... and wait reports the exit code, 128+9", "wait", "demo-bg")
    step("Remove it", "rm", "demo-bg")
    print("\nDemo finished.")


if __name__ == "__main__":
    main()
