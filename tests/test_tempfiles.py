"""Leftovers of killed commands are recognised by their process ID and swept."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from conftest import DOCKYARD, Runner
from dockyard.tempfiles import sweep, temp_name


def dead_pid() -> int:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    return pid


def test_sweep_removes_only_dead_owners(tmp_path: Path) -> None:
    mine = tmp_path / temp_name(".tmp-")
    mine.mkdir()
    stale_dir = tmp_path / f".tmp-{dead_pid()}-abc"
    stale_dir.mkdir()
    (stale_dir / "f").write_text("x")
    stale_file = tmp_path / f".tmp-{dead_pid()}-def"
    stale_file.write_text("x")
    other = tmp_path / "unrelated"
    other.write_text("x")
    sweep(str(tmp_path), ".tmp-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([mine.name, "unrelated"])
    sweep(str(tmp_path / "missing"), ".tmp-")


def test_killed_import_is_swept_by_the_next(
    dy: Runner, engine_env: dict[str, str], tmp_path: Path
) -> None:
    root = Path(engine_env["DOCKYARD_ROOT"])
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.Popen(
            [DOCKYARD, "import", "-", "x"], stdin=zero, env={**os.environ, **engine_env}
        )
        deadline = time.monotonic() + 10
        while not list((root / "tmp").glob("blob-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert list((root / "tmp").glob("blob-*")), "the import never started writing"
    dy("bootstrap", "busybox", check=True)
    assert list((root / "tmp").glob("blob-*")) == []
    assert list((root / "layers").glob(".tmp-*")) == []


def test_sigterm_cleans_up_an_import(engine_env: dict[str, str]) -> None:
    root = Path(engine_env["DOCKYARD_ROOT"])
    with open("/dev/zero", "rb") as zero:
        proc = subprocess.Popen(
            [DOCKYARD, "import", "-", "x"], stdin=zero, env={**os.environ, **engine_env}
        )
        deadline = time.monotonic() + 10
        while not list((root / "tmp").glob("blob-*")) and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 143
    assert list((root / "tmp").glob("blob-*")) == []
    assert list((root / "layers").glob(".tmp-*")) == []


def test_a_writer_interrupted_before_its_with_block_leaves_no_blob(tmp_path: Path) -> None:
    """A SIGTERM (SystemExit) or Ctrl-C landing after a BlobWriter made its temporary file
    but before the ``with`` block that aborts it (test_sigterm_cleans_up_an_import hit that
    window under load): the process removes the file as it exits; a forked child exiting
    leaves its parent's alone."""
    import sys

    code = (
        "import os, sys\n"
        "from dockyard.paths import Paths\n"
        "from dockyard.image.store import ContentStore\n"
        "store = ContentStore(Paths(root=sys.argv[1], runroot=sys.argv[2]))\n"
        "w = store.writer()\n"
        "w.write(b'x')\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    sys.exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "assert os.path.exists(w.temp_path), 'the child removed its parent file'\n"
        "raise SystemExit(143)\n"
    )
    root, run = tmp_path / "root", tmp_path / "run"
    p = subprocess.run(
        [sys.executable, "-c", code, str(root), str(run)], capture_output=True, text=True
    )
    assert (p.returncode, p.stderr) == (143, "")
    assert list((root / "tmp").glob("blob-*")) == []
