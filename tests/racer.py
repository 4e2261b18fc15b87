"""The symlink-swap attacker of the race tests: ``tests/data/racer.c`` built static.

``racer_binary()`` compiles it once per session (gcc and libc6-dev, in the Makefile's
DEB_PACKAGES); ``swapping(binary, a, b)`` runs ``racer swap`` on the host for the body of a
``with`` and stops it (by its PID) afterwards.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from conftest import need

_SOURCE = Path(__file__).parent / "data" / "racer.c"


def build(out_dir: Path) -> Path:
    """Compile ``racer.c`` static into ``out_dir/racer``; returns its path."""
    gcc = need("gcc")
    out = out_dir / "racer"
    if not out.exists():
        subprocess.run([gcc, "-O2", "-static", "-o", str(out), str(_SOURCE)], check=True)
    return out


@contextlib.contextmanager
def swapping(binary: Path, a: Path | str, b: Path | str, seconds: int = 60) -> Iterator[None]:
    """Exchange ``a`` and ``b`` in a loop (a host process) while the body runs."""
    proc = subprocess.Popen([str(binary), "swap", str(a), str(b), str(seconds)])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()
