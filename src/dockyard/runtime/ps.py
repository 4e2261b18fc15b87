"""The host's ``ps`` over a container's processes (``docker top``, ``dockyard-runtime
ps``)."""

from __future__ import annotations

from dockyard.errors import DockyardError


def ps_lines(pids: list[int], args: list[str]) -> tuple[str, list[str]]:
    """Run the host's ``ps ARGS`` and keep the header and the lines of ``pids`` (matched
    in its PID column), as Docker's ``top`` does. Raises DockyardError when ps fails or
    prints no PID column."""
    import os
    import subprocess

    # procps cuts lines to $COLUMNS; dockerd's ps runs without it, so lines are whole.
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.run(["ps", *args], capture_output=True, text=True, check=False, env=env)
    if proc.returncode != 0:
        raise DockyardError(f"ps: {proc.stderr.strip() or f'exit status {proc.returncode}'}")
    lines = proc.stdout.splitlines()
    if not lines:
        raise DockyardError("ps printed nothing")
    titles = lines[0].split()
    if "PID" not in titles:
        raise DockyardError("Couldn't find PID field in ps output")
    column = titles.index("PID")
    wanted = {str(p) for p in pids}
    kept = [
        line for line in lines[1:] if len(line.split()) > column and line.split()[column] in wanted
    ]
    return lines[0], kept
