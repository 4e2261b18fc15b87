"""Volumes against bad and hostile input: malformed specs, names at the limits, mount
targets at the root or in /proc, a volume whose ``_data`` became a symlink, trees deeper
than Python's recursion limit, special files, and a copy-up cut short."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner
from dockyard import mountspec as spec
from dockyard.engine import Engine
from dockyard.paths import Paths
from dockyard.volume import copyup
from dockyard.volume.store import COPYUP_MARKER


def _refused(out: subprocess.CompletedProcess, code: int, message: str) -> None:
    assert out.returncode == code, out
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    # One line; `run` adds docker/cli 28's "Run 'docker run --help' ..." after a blank line.
    lines = [line for line in out.stderr.splitlines() if not line.startswith("Run '")]
    assert len([line for line in lines if line]) <= 1, out.stderr


def test_root_and_malformed_targets_refused(dy: Runner, busybox: str) -> None:
    # "//" is the root for Go and the kernel: no volume or tmpfs over the container's /.
    for flags in (("-v", "v1://"), ("--mount", "type=volume,target=//"), ("--tmpfs", "//")):
        _refused(dy("run", "--rm", *flags, busybox, "true"), 125, "destination can't be '/'")
    _refused(dy("run", "--rm", "-v", ":/data", busybox, "true"), 125, "empty section")
    _refused(dy("run", "--rm", "-v", "/data:ro", busybox, "true"), 125, "invalid volume spec")
    _refused(dy("run", "--rm", "-v", "", busybox, "true"), 125, "invalid empty volume spec")
    assert dy("volume", "ls", "-q").stdout == ""
    assert dy("ps", "-aq").stdout == ""


def test_names_at_the_limits(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    longest = "v" * 255
    assert dy("volume", "create", longest, check=True).stdout == longest + "\n"
    dy("run", "--rm", "-v", f"{longest}:/d", busybox, "touch", "/d/f", check=True)
    # Its removal used to rename it to ".removing-<name>-<hex>", over NAME_MAX.
    assert dy("volume", "rm", longest, "nosuch", "-f").returncode == 0
    # What a removal killed between its rename and its delete left goes with the next.
    leftover = Path(engine_env["DOCKYARD_ROOT"]) / "volumes" / ".removing-0123456789abcdef"
    (leftover / "_data" / "sub").mkdir(parents=True)
    dy("volume", "create", "other", check=True)
    dy("volume", "rm", "other", check=True)
    _refused(dy("volume", "create", "v" * 256), 1, "file name too long")
    _refused(dy("volume", "create", "ab\n"), 1, "includes invalid characters")
    assert os.listdir(Path(engine_env["DOCKYARD_ROOT"]) / "volumes") == []


def test_proc_targets_refused_as_runc_does(dy: Runner, busybox: str, tmp_path: Path) -> None:
    image_dir = tmp_path / "ctx"
    image_dir.mkdir()
    (image_dir / "Dockerfile").write_text(
        "FROM busybox\nRUN ln -s /proc/sys /data && ln -s / /root2 && ln -s .. /up\n"
    )
    dy("build", "-q", "-t", "procsym", str(image_dir), check=True)
    cases = (
        (("-v", "v1:/proc"), "because it is not of type proc"),
        (("-v", f"{tmp_path}:/proc/sys"), "because it is inside /proc"),
        (("--mount", "type=volume,target=/proc/self/x"), "because it is inside /proc"),
    )
    for flags, message in cases:
        _refused(dy("run", "--rm", *flags, busybox, "true"), 125, message)
    # A symlink in the image to its root: no mount over the container's whole
    # filesystem (nor a copy of all of it into the volume first).
    for flags in (("-v", "v2:/root2"), ("-v", "v3:/up/"), ("-v", f"{tmp_path}:/root2")):
        _refused(dy("run", "--rm", *flags, "procsym", "true"), 125, "destination can't be '/'")
    # The failed creates took back the volumes they made (v1 is from the cases above).
    assert dy("volume", "ls", "-q").stdout.split() == ["v1"]
    # A directory over a file of the image.
    out = dy("run", "--rm", "-v", "v1:/etc/passwd", busybox, "true")
    _refused(out, 125, 'to rootfs at "/etc/passwd": not a directory')
    # A symlink in the image leading into /proc is followed inside the rootfs, then refused.
    _refused(dy("run", "--rm", "-v", "v1:/data", "procsym", "true"), 125, "inside /proc")
    # The files lxcfs emulates may be replaced.
    fake = tmp_path / "cpuinfo"
    fake.write_text("fake\n")
    out = dy("run", "--rm", "-v", f"{fake}:/proc/cpuinfo:ro", busybox, "cat", "/proc/cpuinfo")
    assert out.stdout == "fake\n"


@contextlib.contextmanager
def _tmpfs(path: Path) -> Iterator[None]:
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "dyvoltest", str(path)], check=True)
    try:
        yield
    finally:
        subprocess.run(["umount", str(path)], check=True)


def test_data_replaced_by_symlink(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """``_data`` replaced by a symlink: never mounted into a container, copied into, or
    unmounted (``volume rm`` used to detach the host mount it pointed at)."""
    host = Path(engine_env["DOCKYARD_ROOT"]).parent / "hostmount"
    dy("volume", "create", "victim", check=True)
    data = Path(engine_env["DOCKYARD_ROOT"]) / "volumes" / "victim" / "_data"
    with _tmpfs(host):
        (host / "secret").write_text("host\n")
        data.rmdir()
        data.symlink_to(host)
        out = dy("run", "--rm", "-v", "victim:/d", busybox, "cat", "/d/secret")
        _refused(out, 125, f"volume victim: {data} is not a directory")
        dy("volume", "rm", "victim", check=True)
        assert os.path.ismount(host)
        assert (host / "secret").read_text() == "host\n"
    assert dy("ps", "-aq").stdout == ""


def test_deep_volume_tree_removed(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """A container can nest directories past Python's recursion limit and paths past
    PATH_MAX; ``volume prune`` and ``rm -v`` still remove everything."""
    script = (
        "cd /d && echo data > top && i=0; while [ $i -lt 1200 ]; do mkdir a; cd a; i=$((i+1)); done; "
        f"i=0; while [ $i -lt 30 ]; do mkdir {'b' * 200}; cd {'b' * 200}; i=$((i+1)); done; "
        "echo x > f; ln -s / root"
    )
    dy("run", "--name", "deep", "-v", "deepv:/d", "-v", "/anon", busybox, "sh", "-c", script)
    dy("run", "--rm", "--volumes-from", "deep", busybox, "sh", "-c", script.replace("/d", "/anon"))
    dy("rm", "-v", "deep", check=True)
    # prune measures it first, as moby's directory.Size: lstat sizes of what is not a
    # directory, at any depth: "data\n" (5) + "x\n" past PATH_MAX (2) + the symlink "/" (1).
    out = dy("volume", "prune", "-a", "-f", check=True).stdout
    assert out.startswith("Deleted Volumes:\ndeepv\n")
    assert out.endswith("Total reclaimed space: 8B\n")
    assert os.listdir(Path(engine_env["DOCKYARD_ROOT"]) / "volumes") == []


def test_deep_writable_layer_removed(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    script = "cd /tmp && i=0; while [ $i -lt 1100 ]; do mkdir a; cd a; i=$((i+1)); done"
    dy("run", "--name", "deep", busybox, "sh", "-c", script, check=True)
    out = dy("rm", "deep")
    assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
    assert os.listdir(Path(engine_env["DOCKYARD_ROOT"]) / "containers") == []


def test_copy_tree_special_files_and_depth(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.mkdir()
    deep = src / "/".join(["d"] * 1100)
    src.mkdir()
    fd = os.open(src, os.O_RDONLY)
    for _ in range(1100):  # Path.mkdir(parents=True) recurses too deep itself
        os.mkdir("d", dir_fd=fd)
        fd, parent = os.open("d", os.O_RDONLY, dir_fd=fd), fd
        os.close(parent)
    os.close(os.open("f", os.O_CREAT | os.O_WRONLY, 0o644, dir_fd=fd))
    os.close(fd)
    os.mknod(src / "null", stat.S_IFCHR | 0o640, os.makedev(1, 3))
    os.mkfifo(src / "fifo", 0o600)
    (src / "h1").write_text("linked\n")
    os.link(src / "h1", src / "h2")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(src / "sock"))
    sock.close()
    copyup.copy_tree(str(src), str(dst))
    assert (dst / deep.relative_to(src) / "f").exists()
    st = os.lstat(dst / "null")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(st.st_mode) == 0o640
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.lstat(dst / "h1").st_ino == os.lstat(dst / "h2").st_ino
    assert not os.path.lexists(dst / "sock")  # sockets are skipped, as continuity does
    copyup.remove_tree(str(src))
    copyup.remove_tree(str(dst))
    assert not src.exists() and not dst.exists()


def _image_tree(tmp_path: Path) -> Path:
    image = tmp_path / "image"
    (image / "data").mkdir(parents=True)
    for i in range(20):
        (image / "data" / f"f{i:02}").write_text(f"{i}\n")
    return image


def _killed_during_copy_up(image: Path, volume: str, container_id: str) -> Path:
    """Attach ``volume`` at /data for ``container_id`` in a child process that dies
    (``_exit``, no cleanup at all, as a SIGKILL) after copying 7 of the 20 files."""
    pid = os.fork()
    if pid == 0:
        try:
            copied = []
            real_copy = copyup._copy_entry

            def dying_copy(*args: Any) -> None:
                if len(copied) == 7:
                    os._exit(9)
                copied.append(args)
                real_copy(*args)

            copyup._copy_entry = dying_copy  # type: ignore[assignment]
            store = Engine(Paths.from_env()).volumes
            store.attach(
                container_id,
                [spec.mount_point_from_bind(f"{volume}:/data")],
                lambda: contextlib.nullcontext(str(image)),
            )
        finally:
            os._exit(1)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 9
    data = Path(Engine(Paths.from_env()).volumes.mountpoint(volume))
    assert len(os.listdir(data)) == 7
    assert (data.parent / COPYUP_MARKER).exists()
    return data


def test_copy_up_cut_short_is_redone(engine_env: dict[str, str], tmp_path: Path) -> None:
    """A create killed half-way through a copy-up leaves its marker; the next container
    to mount the volume, or that container when started, empties it and copies again,
    rather than keeping half of the image's content."""
    image = _image_tree(tmp_path)
    want = [f"f{i:02}" for i in range(20)]
    store = Engine(Paths.from_env()).volumes
    # The next container created on the volume.
    data = _killed_during_copy_up(image, "half", "c1" * 32)
    points = [spec.mount_point_from_bind("half:/data")]
    store.attach("c2" * 32, points, lambda: contextlib.nullcontext(str(image)))
    assert sorted(os.listdir(data)) == want
    assert not (data.parent / COPYUP_MARKER).exists()
    # A volume with complete content is not copied into again.
    (data / "f00").unlink()
    store.attach("c3" * 32, points, lambda: contextlib.nullcontext(str(image)))
    assert len(os.listdir(data)) == 19
    # The killed create's own container, started.
    data = _killed_during_copy_up(image, "half2", "c4" * 32)
    assert store.users("half2") == ["c4" * 32]
    with contextlib.ExitStack() as undo:
        store.oci_mounts("c4" * 32, {}, str(image), undo)
    assert sorted(os.listdir(data)) == want
    assert not (data.parent / COPYUP_MARKER).exists()


def test_driver_option_volume_under_a_root_with_a_space(
    dy: Runner, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """mountinfo escapes a space as \\040: read raw, a mounted ``-o type=tmpfs`` volume
    looked unmounted, so a second container got a second tmpfs (not the first one's
    data) and one was left mounted after both stopped."""
    root = tmp_path / "my root"
    engine_env["DOCKYARD_ROOT"] = str(root)
    dy("bootstrap", "busybox", check=True)
    dy("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "shared", check=True)
    first = dy("run", "-d", "-v", "shared:/d", "busybox", "sh", "-c", "echo 1 > /d/f; sleep 60")
    assert first.returncode == 0, first.stderr
    out = dy("run", "--rm", "-v", "shared:/d", "busybox", "sh", "-c", "sleep 1; cat /d/f")
    assert out.stdout == "1\n"
    dy("rm", "-f", first.stdout.strip(), check=True)
    with open("/proc/self/mountinfo") as f:
        assert str(root).replace(" ", "\\040") not in f.read()
    dy("volume", "rm", "shared", check=True)


# -- races with a running container that shares the volume (issue 13) --------------------


@pytest.fixture(scope="module")
def racer_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import racer

    return racer.build(tmp_path_factory.mktemp("racer"))


def _attacker(dy: Runner, racer_bin: Path, volume: str, script: str) -> str:
    """A detached busybox container with ``volume`` on /v and the racer on /r/racer."""
    out = dy(
        "run", "-d", "-v", f"{volume}:/v", "-v", f"{racer_bin.parent}:/r:ro",
        "busybox", "sh", "-c", script, check=True,
    )  # fmt: skip
    return out.stdout.strip()


@pytest.mark.timeout(180)
def test_copy_up_races_a_symlink_swap(
    dy: Runner, busybox: str, tmp_path: Path, racer_bin: Path
) -> None:
    host = tmp_path / "hostdir"
    host.mkdir(mode=0o711)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    count = 300
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nRUN mkdir -m 0777 /v && for i in $(seq 0 "
        f"{count - 1}); do "
        "d=/v/d$(printf %03d $i); mkdir -m 0777 $d && echo x > $d/f && mkdir $d/sub; done\n"
    )
    dy("build", "-q", "-t", "many", str(ctx), check=True)
    dy("volume", "create", "shared", check=True)
    # The attacker exchanges each /v/dNNN, as soon as the copy-up has made it, with a
    # symlink to the host directory.
    script = f"exec /r/racer each /v/d {count} /v/l {host} 60"
    attacker = _attacker(dy, racer_bin, "shared", script)
    try:
        time.sleep(0.3)
        out = dy("create", "-v", "shared:/v", "many")
        assert out.returncode == 0, out.stderr
        # The copy went into the volume, through the directories it made.
        data = Path(dy("volume", "inspect", "-f", "{{.Mountpoint}}", "shared").stdout.strip())
        assert len(os.listdir(data)) == 2 * count
    finally:
        dy("rm", "-f", attacker)
    assert os.listdir(host) == []
    assert stat.S_IMODE(host.stat().st_mode) == 0o711
