"""Cases B24 (copy-up into named volumes) and B26 (bind sources that do not exist):
each case's run.sh runs with ``docker`` being Dockyard, its /tmp paths moved into the
test's own directory, and must print what a real Docker engine printed (observed.txt)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from conftest import DOCKYARD, Runner
from test_cases_lifecycle import CASES

# `ls -l` dates are the time of the run.
_LS_DATE = re.compile(r"\b[A-Z][a-z]{2} [ \d]\d \d\d:\d\d\b")


def observed_output(case: str) -> list[str]:
    """The output section of the case's observed.txt."""
    lines = (CASES / case / "observed.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# ---- output"))
    end = next(i for i, line in enumerate(lines) if line.startswith("# ---- script exit"))
    return lines[start + 1 : end]


def run_case(case: str, tmp_path: Path, env: dict[str, str]) -> list[str]:
    """Run the case's run.sh with Dockyard as ``docker`` and /tmp/<name> as
    <tmp_path>/<name>; returns its output lines with the paths put back."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "docker").symlink_to(DOCKYARD)
    work = tmp_path / "work"
    work.mkdir()
    script = (CASES / case / "run.sh").read_text().replace("/tmp/", f"{work}/")
    proc = subprocess.run(
        ["sh", "-c", script],
        cwd=CASES / case,
        env={**os.environ, **env, "PATH": f"{bindir}:{os.environ['PATH']}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout
    out = proc.stdout.replace(f"{work}/", "/tmp/").replace("dockyard", "docker")
    # observed.txt has the docker 20.10 client's form of a run error; Dockyard prints the
    # docker CLI 28's (no final dot, a blank line, "Run '... --help' for more information").
    out = _CLI28_ERROR.sub(r"\1.\nSee '\2 --help'.", out)
    return out.splitlines()


_CLI28_ERROR = re.compile(
    r"^(docker: .*)\n\nRun '(docker [a-z]+) --help' for more information$", re.M
)


def normalise(lines: list[str]) -> list[str]:
    return [_LS_DATE.sub("<date>", line) for line in lines]


@pytest.mark.slow
def test_b24_copy_up(dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path) -> None:
    try:
        assert normalise(run_case("B24", tmp_path, engine_env)) == normalise(observed_output("B24"))
    finally:
        dy("volume", "rm", "-f", "b24-vol", "b24-auto", "b24-nocopy")
        dy("rmi", "bugcorpus/b24", "bugcorpus/b24-other")
    assert dy("volume", "ls", "-q", check=True).stdout == ""


@pytest.mark.slow
def test_b26_missing_bind_sources(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    assert run_case("B26", tmp_path, engine_env) == observed_output("B26")
    assert dy("volume", "ls", "-q", check=True).stdout == ""
    assert dy("ps", "-aq", check=True).stdout == ""
