"""``cp`` both ways, on stopped and running containers, with docker cp's rules for
trailing ``/`` and ``/.``, ``-`` tar streams, ``-a`` and ``-L``; and the CVE-2018-15664
class: a container swapping a path component for a symlink to a host directory while
copies run (a racer, bounded in time) never makes one read or write the host."""

from __future__ import annotations

import io
import json
import os
import struct
import tarfile
import time
from pathlib import Path

import pytest

import racer
from conftest import Runner

SETUP = "mkdir -p /d/sub && echo a > /d/a && echo b > /d/sub/b && ln -s /d/a /lnk"


def tree(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*"))


@pytest.fixture
def c1(dy: Runner, busybox: str) -> str:
    dy("run", "--name", "c1", "busybox", "sh", "-c", SETUP, check=True)
    return "c1"


def test_copy_from_container(dy: Runner, c1: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dy("cp", "c1:/d", str(out), check=True)  # an existing directory: copied into it
    assert tree(out) == ["d", "d/a", "d/sub", "d/sub/b"]
    dy("cp", "c1:/d", str(out / "renamed"), check=True)  # a new name
    assert tree(out / "renamed") == ["a", "sub", "sub/b"]
    dy("cp", "c1:/d/.", str(out / "renamed"), check=True)  # content into an existing dir
    dy("cp", "c1:/d/a", str(out / "file"), check=True)
    assert (out / "file").read_text() == "a\n"
    dy("cp", "c1:/d/sub/b", str(out / "file"), check=True)  # overwrites a file
    assert (out / "file").read_text() == "b\n"
    dy("cp", "c1:/lnk", str(out), check=True)
    assert os.readlink(out / "lnk") == "/d/a"
    dy("container", "cp", "-L", "c1:/lnk", str(out / "followed"), check=True)
    assert (out / "followed").read_text() == "a\n"
    data = dy("cp", "c1:/d/sub", "-", check=True, input=b"").stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert sorted(m.name for m in tf.getmembers()) == ["sub", "sub/b"]


def test_copy_from_container_errors(dy: Runner, c1: str, tmp_path: Path) -> None:
    def refused(*args: str) -> str:
        r = dy("cp", *args)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        return str(r.stderr)

    assert refused("c1:/nosuch", str(tmp_path)) == (
        "Error response from daemon: Could not find the file /nosuch in container c1\n"
    )
    assert "not a directory" in refused("c1:/d/a/", str(tmp_path / "x"))
    assert refused("c1:/d", str(tmp_path / "no" / "x")) == (
        f'invalid output path: directory "{tmp_path}/no" does not exist\n'
    )
    (tmp_path / "file").write_text("")
    assert refused("c1:/d", str(tmp_path / "file")) == "cannot copy directory\n"
    assert refused("c1:/d/a", str(tmp_path / "newdir") + "/") == "no such directory\n"
    assert refused("c1:/d", "c1:/x") == "copying between containers is not supported\n"
    assert refused(str(tmp_path), str(tmp_path)) == "must specify at least one container source\n"
    assert refused("nosuch:/d", str(tmp_path)).endswith("No such container: nosuch\n")


def test_copy_to_container(dy: Runner, c1: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "in").mkdir(parents=True)
    (src / "in" / "h").write_text("hello\n")
    (src / "file").write_text("f\n")
    os.chown(src / "file", 1234, 5678)
    dy("cp", str(src), "c1:/", check=True)
    dy("cp", str(src / "file"), "c1:/d/renamed", check=True)
    dy("cp", str(src) + "/.", "c1:/contents", check=True)
    dy("cp", "-a", str(src / "file"), "c1:/kept", check=True)
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w") as tf:
        info = tarfile.TarInfo("streamed")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"tar"))
    dy("cp", "-", "c1:/tmp", input=tar.getvalue(), check=True)
    r = dy("cp", "-", "c1:/d/a", input=tar.getvalue())
    assert (r.returncode, r.stderr) == (1, b'destination "c1:/d/a" must be a directory\n')
    r = dy("cp", str(src), "c1:/d/a")
    assert (r.returncode, r.stderr) == (1, "cannot copy directory\n")
    script = (
        "cat /src/in/h /d/renamed /contents/file /tmp/streamed; echo;"
        " stat -c '%u:%g' /src/file /kept"
    )
    dy("commit", "c1", "copied", check=True)
    out = dy("run", "--rm", "copied", "sh", "-c", script, check=True).stdout
    assert out == "hello\nf\nf\ntar\n0:0\n1234:5678\n"


def test_copy_running_container_and_volume(dy: Runner, busybox: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("into a volume\n")
    dy("run", "-d", "--name", "live", "-v", "/vol", "busybox", "sleep", "60", check=True)
    try:
        dy("cp", str(tmp_path / "file"), "live:/vol/", check=True)
        out = dy("exec", "live", "cat", "/vol/file", check=True).stdout
        assert out == "into a volume\n"
        dy("cp", "live:/vol/file", str(tmp_path / "back"), check=True)
        assert (tmp_path / "back").read_text() == "into a volume\n"
        r = dy("cp", str(tmp_path / "file"), "live:/dev/null")
        assert r.returncode == 1
        assert r.stderr == 'destination "live:/dev/null" must be a directory or a regular file\n'
    finally:
        dy("rm", "-f", "-v", "live", check=True)


# security.capability of cap_net_raw+ep (VFS_CAP_REVISION_2: magic, permitted,
# inheritable, and the upper 32 capabilities' pair).
NET_RAW = struct.pack("<5I", 0x02000001, 1 << 13, 0, 0, 0)


def test_copy_keeps_xattrs(dy: Runner, c1: str, tmp_path: Path) -> None:
    """``user.*`` and ``security.capability`` go into the container and back out (PAX
    ``SCHILY.xattr`` records, as moby's pkg/archive), the capability surviving the chown."""
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "ping").write_bytes(b"binary\n")
    os.setxattr(src / "ping", "user.note", b"hello")
    os.setxattr(src / "ping", "security.capability", NET_RAW)
    os.setxattr(src / "d", "user.dir", b"\xff\x00bytes")
    dy("cp", str(src), "c1:/x", check=True)
    upper = dy("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "c1", check=True)
    inside = Path(upper.stdout.strip()) / "x"
    assert os.getxattr(inside / "ping", "user.note") == b"hello"
    assert os.getxattr(inside / "ping", "security.capability") == NET_RAW
    assert os.getxattr(inside / "d", "user.dir") == b"\xff\x00bytes"
    dy("cp", "c1:/x", str(tmp_path / "back"), check=True)
    back = tmp_path / "back"
    assert os.getxattr(back / "ping", "user.note") == b"hello"
    assert os.getxattr(back / "ping", "security.capability") == NET_RAW
    assert os.getxattr(back / "d", "user.dir") == b"\xff\x00bytes"


def test_read_only_rootfs_refused(dy: Runner, busybox: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    dy("create", "--name", "ro", "--read-only", "busybox", "true", check=True)
    r = dy("cp", str(tmp_path / "f"), "ro:/")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: container rootfs is marked read-only\n",
    )


def test_host_side_extraction_stays_in_destination(tmp_path: Path) -> None:
    """A hostile archive (a symlink to a host directory, then a file below it) is
    extracted inside the destination."""
    from dockyard.snapshot.tarcopy import extract

    host = tmp_path / "host"
    host.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        link = tarfile.TarInfo("x")
        link.type, link.linkname = tarfile.SYMTYPE, str(host)
        tf.addfile(link)
        for name in ("x/pwned", "../escaped"):
            info = tarfile.TarInfo(name)
            info.size = 2
            tf.addfile(info, io.BytesIO(b"no"))
    buf.seek(0)
    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        extract(buf, fd)
    finally:
        os.close(fd)
    assert os.listdir(host) == []
    assert (dest / str(host).lstrip("/") / "pwned").read_bytes() == b"no"
    assert (dest / "escaped").read_bytes() == b"no"


@pytest.fixture(scope="module")
def racer_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return racer.build(tmp_path_factory.mktemp("racer"))


@pytest.mark.timeout(180)
def test_symlink_swap_race(
    dy: Runner, busybox: str, tmp_path: Path, racer_bin: Path, engine_env: dict[str, str]
) -> None:
    """Inside a running container, /w/d (a directory) and /w/l (a symlink to a host
    directory's path) are exchanged in a loop while copies go in and out of /w/d:
    the host directory is never read or written."""
    from dockyard.engine import Engine, archives
    from dockyard.errors import DockyardError
    from dockyard.paths import Paths

    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_text("HOST SECRET\n")
    script = (
        f"mkdir -p /w/d && echo container > /w/d/f && ln -s {host} /w/l"
        " && exec /r/racer swap /w/d /w/l 120"
    )
    dy(
        "run",
        "-d",
        "--name",
        "racy",
        "-v",
        f"{racer_bin.parent}:/r:ro",
        "busybox",
        "sh",
        "-c",
        script,
        check=True,
    )
    engine = Engine(Paths(engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]))
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tf:
        info = tarfile.TarInfo("planted")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"bad"))
    got = {"read": 0, "wrote": 0, "refused": 0}
    try:
        deadline = time.monotonic() + 60
        rounds = 0
        while rounds < 300 and time.monotonic() < deadline:
            rounds += 1
            out = io.BytesIO()
            try:
                archives.archive_get(engine, "racy", "/w/d/f", out)
                with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tf:
                    f = tf.extractfile("f")
                    assert f is not None and f.read() == b"container\n"
                got["read"] += 1
            except DockyardError:
                got["refused"] += 1  # the symlink was in place: its target is not in the root
            try:
                archives.archive_put(engine, "racy", "/w/d", io.BytesIO(payload.getvalue()))
                got["wrote"] += 1
            except DockyardError:
                got["refused"] += 1
        assert rounds >= 50
        # Both states of the swap were met: copies went through and were refused.
        assert got["read"] > 0 and got["wrote"] > 0 and got["refused"] > 0, got
        assert sorted(os.listdir(host)) == ["f"]
        assert (host / "f").read_text() == "HOST SECRET\n"
        state = json.loads(dy("inspect", "racy", check=True).stdout)[0]["State"]
        assert state["Running"]
    finally:
        dy("rm", "-f", "racy", check=True)


def test_copy_stopped_container_volumes(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """As Docker mounts a stopped container's volumes for a copy: into and out of a named
    volume, a bind mount, and a read-only volume refused; nothing stays mounted."""
    bind = tmp_path / "bind"
    bind.mkdir()
    (tmp_path / "f").write_text("via cp\n")
    dy(
        "create",
        "--name",
        "stopped",
        "-v",
        "vol:/data",
        "-v",
        f"{bind}:/b",
        "-v",
        "rovol:/ro:ro",
        "busybox",
        "true",
        check=True,
    )
    dy("cp", str(tmp_path / "f"), "stopped:/data/", check=True)
    dy("cp", str(tmp_path / "f"), "stopped:/b/copied", check=True)
    assert (bind / "copied").read_text() == "via cp\n"
    r = dy("cp", str(tmp_path / "f"), "stopped:/ro/")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: mounted volume is marked read-only\n",
    )
    out = dy("run", "--rm", "-v", "vol:/v", "busybox", "cat", "/v/f", check=True).stdout
    assert out == "via cp\n"
    dy("cp", "stopped:/data/f", str(tmp_path / "back"), check=True)
    assert (tmp_path / "back").read_text() == "via cp\n"
    dy("rm", "-v", "stopped", check=True)


def test_copy_stopped_container_etc_files(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """A stopped container's /etc/hosts, /etc/hostname and /etc/resolv.conf are its own
    files, as Docker's mountVolumes binds them for a copy (not the empty mount points in
    its layer); a volume at /etc is under them, as when it runs (moby's sortMounts); a
    start writes them afresh."""
    dy("run", "--name", "eh", "--net", "none", "-h", "named", "-v", "etcvol:/etc:nocopy",
       busybox, "sh", "-c", "echo '5.5.5.5 mine' >> /etc/hosts; ls /etc", check=True)  # fmt: skip
    try:
        assert dy("logs", "eh", check=True).stdout == "hostname\nhosts\nresolv.conf\n"
        dy("cp", "eh:/etc/hosts", str(tmp_path / "hosts"), check=True)
        assert (tmp_path / "hosts").read_text().endswith("\n5.5.5.5 mine\n")
        dy("cp", "eh:/etc/hostname", str(tmp_path / "hostname"), check=True)
        assert (tmp_path / "hostname").read_text() == "named\n"
        # Written afresh at each start, as Docker's: the second run adds its line again.
        dy("start", "-a", "eh", check=True)
        dy("cp", "eh:/etc/hosts", str(tmp_path / "again"), check=True)
        assert (tmp_path / "again").read_text() == (tmp_path / "hosts").read_text()
    finally:
        dy("rm", "-v", "eh", check=True)


@pytest.mark.timeout(180)
def test_symlink_swap_race_export_and_commit(
    dy: Runner, busybox: str, tmp_path: Path, racer_bin: Path, engine_env: dict[str, str]
) -> None:
    """The same swapping container exported and committed (without pausing) over and
    over: no archive or layer ever holds the host directory's file."""
    from dockyard.engine import Engine, archives
    from dockyard.errors import DockyardError
    from dockyard.paths import Paths

    host = tmp_path / "host"
    host.mkdir()
    (host / "f").write_text("HOST SECRET\n")
    script = (
        f"mkdir -p /w/d && echo container > /w/d/f && ln -s {host} /w/l"
        " && exec /r/racer swap /w/d /w/l 120"
    )
    dy(
        "run",
        "-d",
        "--name",
        "racy",
        "-v",
        f"{racer_bin.parent}:/r:ro",
        "busybox",
        "sh",
        "-c",
        script,
        check=True,
    )
    engine = Engine(Paths(engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]))
    seen: set[bytes] = set()

    def contents(data: bytes) -> None:
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            for m in tf.getmembers():
                f = tf.extractfile(m) if m.isfile() else None
                if f is not None and m.name.startswith("w/"):
                    seen.add(f.read())

    try:
        deadline = time.monotonic() + 60
        for i in range(40):
            out = io.BytesIO()
            archives.export(engine, "racy", out)
            contents(out.getvalue())
            if i % 4 == 0:
                try:
                    image = archives.commit(engine, "racy", pause=False)
                except DockyardError:
                    continue
                layer = image.diff_ids[-1]
                with open(engine.images.content.path(layer), "rb") as f:
                    contents(f.read())
                engine.images.delete(image.id[7:])
            assert time.monotonic() < deadline
        assert b"container\n" in seen
        assert b"HOST SECRET\n" not in seen
    finally:
        dy("rm", "-f", "racy", check=True)
