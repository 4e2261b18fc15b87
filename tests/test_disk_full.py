"""The engine root on a small filesystem (a 64 MiB tmpfs under the test's directory) that
fills up: commands fail with one line naming what could not be written, never a
traceback; the read-only commands and those that free space keep working; the state
database stays openable (state.py: the reserve, then exclusive locking mode)."""

from __future__ import annotations

import errno
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Runner

pytestmark = pytest.mark.slow


def fill(path: Path) -> None:
    """Write zeros to ``path`` until the filesystem is full."""
    chunk = b"\0" * (1 << 20)
    with open(path, "ab", buffering=0) as f:
        while True:
            try:
                f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
    with open(path, "ab", buffering=0) as f:  # the last partial block
        for size in (65536, 4096, 512, 1):
            while True:
                try:
                    f.write(b"\0" * size)
                except OSError:
                    break


@pytest.fixture
def small(tmp_path: Path, engine_env: dict[str, str], dy: Runner) -> Iterator[Path]:
    """A 64 MiB tmpfs holding the engine root; everything removed and unmounted after."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mnt)], check=True)
    engine_env["DOCKYARD_ROOT"] = str(mnt / "root")
    try:
        yield mnt
    finally:
        for name in os.listdir(mnt):
            if name.startswith("filler"):
                os.unlink(mnt / name)
        ids = dy("ps", "-aq").stdout.split()
        if ids:
            dy("rm", "-f", *ids)
        dy("volume", "prune", "-af")
        dy("network", "prune", "-f")
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)
            raise AssertionError(f"{mnt} was still in use after the test")


def bootstrap(dy: Runner) -> str:
    """busybox in the engine root on the small filesystem (the ``busybox`` fixture would
    put it in the default root)."""
    dy("bootstrap", "busybox", check=True)
    return "busybox"


def one_line_error(p: subprocess.CompletedProcess, what: str) -> None:
    assert p.returncode != 0, p.stdout
    assert "Traceback" not in p.stderr, p.stderr
    lines = p.stderr.splitlines()
    # `run` adds Docker's "Run 'docker run --help' for more information" after a blank line.
    assert len(lines) == 1 or (len(lines) == 3 and lines[2].startswith("Run '")), p.stderr
    assert what in lines[0] and "no space left on device" in lines[0].lower(), p.stderr


def test_full_disk_reads_removals_and_refusals(dy: Runner, small: Path, tmp_path: Path) -> None:
    busybox = bootstrap(dy)
    dy(
        "run",
        "--name",
        "wrote",
        "--label",
        "keep",
        busybox,
        "sh",
        "-c",
        "head -c 100000 /dev/zero > /f",
        check=True,
    )
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /x\n")
    dy("volume", "create", "v1", check=True)
    dy("volume", "create", "v2", check=True)
    dy("run", "--name", "done", busybox, "echo", "hi", check=True)
    dy("run", "--name", "done2", busybox, "true", check=True)
    keep = dy("run", "-d", "--name", "keep", busybox, "sleep", "300", check=True).stdout.strip()
    dy("tag", busybox, "b2", check=True)
    dy("tag", busybox, "b3", check=True)
    assert os.path.exists(small / "root" / "state.db-reserve")
    fill(small / "filler")

    def reads() -> None:
        assert dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split() == [
            "keep",
            "done2",
            "done",
            "wrote",
        ]
        assert dy("inspect", "-f", "{{.State.Status}}", "keep", check=True).stdout == "running\n"
        assert dy("logs", "done", check=True).stdout == "hi\n"
        assert "b2" in dy("images", check=True).stdout
        assert dy("volume", "ls", "-q", check=True).stdout.split() == ["v1", "v2"]

    # The first command releases the reserve; the removals work.
    reads()
    assert not os.path.exists(small / "root" / "state.db-reserve")
    assert dy("rm", "done", check=True).stdout == "done\n"
    dy("volume", "rm", "-f", "v1", check=True)
    assert dy("rmi", "b2", check=True).stdout == "Untagged: b2:latest\n"
    done2 = dy("inspect", "-f", "{{.Id}}", "done2", check=True).stdout.strip()
    assert dy("container", "prune", "-f", "--filter", "label!=keep", check=True).stdout.startswith(
        f"Deleted Containers:\n{done2}\n"
    )
    dy("image", "prune", "-f", check=True)
    dy("system", "prune", "-f", "--filter", "label!=keep", check=True)

    # Full again and no reserve left: still readable; what adds to the state fails cleanly.
    fill(small / "filler2")
    wrote = dy("inspect", "-f", "{{.Id}}", "wrote", check=True).stdout.strip()
    assert dy("ps", "-aq", check=True).stdout.split() == [keep[:12], wrote[:12]]
    assert dy("volume", "ls", "-q", check=True).stdout.split() == ["v2"]
    db = str(small / "root" / "state.db")
    upper = small / "root" / "containers" / wrote / "upper"
    one_line_error(
        dy("commit", "wrote", "img"), f"cannot write the layer of the changes in {upper}"
    )
    one_line_error(dy("build", "-q", str(ctx)), "")
    for args in (
        ("run", "--rm", busybox, "true"),
        ("run", "-d", busybox, "true"),
        ("create", busybox),
        ("volume", "create", "v3"),
        ("network", "create", "n1"),
        ("tag", busybox, "b4"),
        ("volume", "rm", "v2"),
        ("rmi", "b3"),
    ):
        one_line_error(dy(*args), f"cannot write the state database {db}")
    assert dy("ps", "-aq", check=True).stdout.split() == [keep[:12], wrote[:12]]
    assert dy("volume", "ls", "-q", check=True).stdout.split() == ["v2"]
    assert dy("images", "-q", "img", check=True).stdout == ""
    # The refused volume rm kept the volume's data under its name.
    assert os.listdir(small / "root" / "volumes") == ["v2"]
    # rm makes the room its record's removal needs from the container's own layer.
    assert dy("rm", "wrote").stdout == "wrote\n"
    assert dy("ps", "-aq", check=True).stdout.split() == [keep[:12]]
    assert not os.path.exists(small / "root" / "containers" / wrote)

    # Space comes back: the reserve is made again at the next open.
    os.unlink(small / "filler2")
    os.unlink(small / "filler")
    dy("ps", check=True)
    assert os.path.getsize(small / "root" / "state.db-reserve") == 4 << 20


# The container fills the disk through its own writable layer, writes on, then frees it.
FILLS_ITSELF = (
    "dd if=/dev/zero of=/big bs=1M 2>/dev/null; i=0; while [ $i -lt 30 ]; do "
    "echo after-full $i; i=$((i+1)); sleep 0.05; done; rm /big; echo freed; exit 5"
)
AFTER_FULL = "".join(f"after-full {i}\n" for i in range(30)) + "freed\n"


def wait_gone_or_exited(dy: Runner, name: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        p = dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
        if p.returncode != 0 or p.stdout.startswith("exited"):
            return p.stdout.strip()
        time.sleep(0.2)
    raise AssertionError(f"{name} still running")


def test_log_writes_failing_on_a_full_disk(dy: Runner, small: Path) -> None:
    """An attached run and a monitor survive log writes failing on a full disk: the
    output still reaches the attached caller, what cannot be logged is dropped whole and
    said once, the exit is recorded, --rm applied and the rootfs unmounted."""
    busybox = bootstrap(dy)
    p = dy("run", "--rm", "--name", "att", busybox, "sh", "-c", FILLS_ITSELF)
    assert p.returncode == 5, p.stderr
    assert p.stdout == AFTER_FULL
    assert "Traceback" not in p.stderr
    assert p.stderr.count("cannot write the log") == 1, p.stderr
    assert "No space left on device; output is not logged" in p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""

    dy("run", "-d", "--name", "det", busybox, "sh", "-c", FILLS_ITSELF, check=True)
    assert wait_gone_or_exited(dy, "det") == "exited 5"
    logs = dy("logs", "det", check=True)
    assert logs.stdout.endswith("freed\n")  # logged again once there was space
    dropped = [ln for ln in logs.stderr.splitlines() if "dropped" in ln]
    assert len(dropped) == 1 and dropped[0].endswith(
        "log entries dropped: no space left on device"
    ), logs.stderr
    assert not [m for m in open("/proc/self/mounts") if str(small) + "/root/containers" in m]

    dy("run", "-d", "--rm", "--name", "detrm", busybox, "sh", "-c", FILLS_ITSELF, check=True)
    assert wait_gone_or_exited(dy, "detrm") == ""
    assert dy("ps", "-aq", check=True).stdout.split() != []  # det stays
    assert "detrm" not in dy("ps", "-a", check=True).stdout


def test_copy_of_a_file_too_big_for_the_disk(dy: Runner, small: Path, tmp_path: Path) -> None:
    bootstrap(dy)
    ctx = tmp_path / "ctx"
    (ctx / "sub").mkdir(parents=True)
    with open(ctx / "sub" / "big.bin", "wb") as f:
        f.truncate(80 << 20)  # sparse here, 80 MiB written into the image
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY sub /data/\n")
    p = dy("build", "-q", "-t", "big", str(ctx))
    assert p.returncode == 1
    assert p.stderr == (
        f"cannot copy {ctx}/sub/big.bin to /data/big.bin: no space left on device\n"
    )
    assert os.listdir(small / "root" / "tmp") == []
    assert dy("images", "-q", "big").stdout == ""


def test_monitor_records_the_exit_once_there_is_room(dy: Runner, small: Path) -> None:
    """A container exits while the disk is too full even for the database: its monitor
    keeps trying (the database closed in between, so other commands go on) and records
    the true exit status once there is space, instead of dying and leaving a lost exit."""
    busybox = bootstrap(dy)
    dy("run", "-d", "--name", "ww", busybox, "sh", "-c", "sleep 2; exit 7", check=True)
    fill(small / "filler")
    dy("ps", check=True)  # releases the reserve
    fill(small / "filler2")
    time.sleep(4)
    # Still readable meanwhile, and shown running: the exit is not recorded yet.
    assert dy("inspect", "-f", "{{.State.Running}}", "ww", check=True).stdout == "true\n"
    os.unlink(small / "filler2")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        state = dy("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", "ww").stdout
        if not state.startswith("running"):
            break
        time.sleep(0.2)
    assert state == "exited 7\n"
