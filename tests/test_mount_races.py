"""Mount destinations racing a symlink swap (the CVE-2021-30465 class, issue 13): the
built-in runtime resolves and creates each destination through fds and mounts onto the fd,
so a directory of an earlier mount (a volume a running container shares) swapped for a
symlink to a host path never leads a mount or a mkdir out of the rootfs."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import racer
from conftest import Runner


@pytest.fixture(scope="module")
def racer_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return racer.build(tmp_path_factory.mktemp("racer"))


def _mount_rounds(rootfs: Path, rounds: int) -> int:
    """In a child with a private mount namespace: mount a tmpfs and a bind on
    /a/x/m<i>/n, ``rounds`` times. Returns how many setups the runtime refused."""
    from dockyard.runtime import init
    from dockyard.runtime import syscalls as sc

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            os.close(r)
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_REC | sc.MS_PRIVATE)
            refused = 0
            for i in range(rounds):
                for m in (
                    {"destination": f"/a/x/m{i}/t", "type": "tmpfs", "source": "tmpfs"},
                    {
                        "destination": f"/a/x/m{i}/b",
                        "type": "bind",
                        "source": str(rootfs.parent / "src"),
                        "options": ["rbind", "ro"],
                    },
                ):
                    try:
                        init._do_mount(str(rootfs), m, {"bundle": str(rootfs.parent)})
                    except (init.SetupError, OSError):
                        refused += 1
            os.write(w, str(refused).encode())
            code = 0
        finally:
            os._exit(code)
    os.close(w)
    try:
        out = b""
        while chunk := os.read(r, 100):
            out += chunk
    finally:
        os.close(r)
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return int(out)


@pytest.mark.timeout(90)
def test_runtime_mounts_race_a_swap(tmp_path: Path, racer_bin: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (tmp_path / "src").mkdir()
    rootfs = tmp_path / "rootfs"
    (rootfs / "a" / "x").mkdir(parents=True)
    os.symlink(str(host), rootfs / "a" / "s")
    start = time.monotonic()
    with racer.swapping(racer_bin, rootfs / "a" / "x", rootfs / "a" / "s"):
        _mount_rounds(rootfs, 300)
    assert time.monotonic() - start < 60
    assert os.listdir(host) == []
    # Without the racer every mount lands where asked.
    if (rootfs / "a" / "x").is_symlink():
        os.rename(rootfs / "a" / "x", rootfs / "a" / "tmp")
        os.rename(rootfs / "a" / "s", rootfs / "a" / "x")
    assert _mount_rounds(rootfs, 3) == 0


@pytest.mark.timeout(240)
def test_nested_mount_target_races_a_running_container(
    dy: Runner, busybox: str, tmp_path: Path, racer_bin: Path
) -> None:
    host = tmp_path / "hostdir"
    host.mkdir()
    dy("volume", "create", "shared", check=True)
    dy("volume", "create", "other", check=True)
    data = Path(dy("volume", "inspect", "-f", "{{.Mountpoint}}", "shared").stdout.strip())
    (data / "d").mkdir()
    os.symlink(str(host), data / "s")
    attacker = dy(
        "run", "-d", "-v", "shared:/v", "-v", f"{racer_bin.parent}:/r:ro",
        "busybox", "/r/racer", "swap", "/v/d", "/v/s", "120", check=True,
    ).stdout.strip()  # fmt: skip
    deadline = time.monotonic() + 150
    try:
        # Twenty nested targets a run, so each run races the swap twenty times.
        nested = [f for i in range(20) for f in ("-v", f"other:/a/d/c{i}")]
        for _ in range(20):
            out = dy("run", "--rm", "-v", "shared:/a", *nested, "-w", "/a/d/wd", busybox, "true")
            assert "Traceback" not in out.stderr
            assert os.listdir(host) == [], f"a mount point was made on the host: {out}"
            assert time.monotonic() < deadline
    finally:
        dy("rm", "-f", attacker)
    assert os.listdir(host) == []
