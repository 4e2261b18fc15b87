"""dockyard.snapshot.inroot: lookups confined to a root, mkdir -p and file creation that
never leave it, metadata set without following the last component, a walk that follows
no symlink, and each of them racing a symlink swap hundreds of times."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import racer
from dockyard.snapshot import inroot
from dockyard.volume import copyup


@pytest.fixture(scope="module")
def racer_bin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return racer.build(tmp_path_factory.mktemp("racer"))


@pytest.fixture
def root(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    path = tmp_path / "root"
    path.mkdir()
    fd = inroot.open_root(str(path))
    yield path, fd
    os.close(fd)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A host directory holding a file, which nothing may reach through the root."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "file").write_text("host\n")
    os.chmod(host / "file", 0o600)
    os.chmod(host, 0o700)
    return host


def _read(fd: int) -> str:
    try:
        return os.read(fd, 100).decode()
    finally:
        os.close(fd)


def test_open_in_stays_in_the_root(root: tuple[Path, int], victim: Path) -> None:
    path, fd = root
    (path / "etc").mkdir()
    (path / "etc" / "file").write_text("inside\n")
    os.symlink("../../../../etc", path / "up")
    os.symlink("/etc", path / "abs")
    for name in ("/etc/file", "../../etc/file", "abs/file", "up/file", "/abs/../etc/file"):
        assert _read(inroot.open_in(fd, name)) == "inside\n", name
    # A symlink to the host directory by its host path resolves inside the root: absent.
    os.symlink(str(victim), path / "tohost")
    with pytest.raises(FileNotFoundError):
        inroot.open_in(fd, "tohost/file")
    # The last component not followed: O_PATH gives the symlink itself, else ELOOP.
    link = inroot.open_in(fd, "tohost", os.O_PATH, follow=False)
    assert stat.S_ISLNK(os.fstat(link).st_mode)
    os.close(link)
    with pytest.raises(OSError) as err:
        inroot.open_in(fd, "tohost", follow=False)
    assert err.value.errno == errno.ELOOP
    assert err.value.filename == "tohost"
    # The root itself.
    whole = inroot.open_in(fd, "/", os.O_RDONLY | os.O_DIRECTORY)
    assert os.fstat(whole).st_ino == path.stat().st_ino
    os.close(whole)


def test_magic_links_refused() -> None:
    host_root = inroot.open_root("/")
    try:
        with pytest.raises(OSError) as err:
            inroot.open_in(host_root, "/proc/self/root/etc", os.O_PATH)
        assert err.value.errno == errno.ELOOP
    finally:
        os.close(host_root)


def test_mkdirs_follows_symlinks_inside_the_root(root: tuple[Path, int], victim: Path) -> None:
    path, fd = root
    os.symlink(str(victim), path / "abs")  # absolute: means <root><victim>
    os.symlink("../../..", path / "up")
    os.symlink("nowhere/yet", path / "dangling")
    for name, expected in (
        ("a/b/c", path / "a/b/c"),
        ("abs/x", path / str(victim).lstrip("/") / "x"),
        ("up/u", path / "u"),
        ("dangling/d", path / "nowhere/yet/d"),
        ("/a/../a/b/./e/", path / "a/b/e"),
    ):
        dfd = inroot.mkdirs(fd, name, 0o750)
        assert os.fstat(dfd).st_ino == expected.stat().st_ino, name
        os.close(dfd)
    assert sorted(os.listdir(victim)) == ["file"]
    (path / "file").write_text("")
    with pytest.raises(NotADirectoryError):
        inroot.mkdirs(fd, "file/sub")
    os.symlink("loop", path / "loop")
    with pytest.raises(OSError) as err:
        inroot.mkdirs(fd, "loop/x")
    assert err.value.errno == errno.ELOOP


def test_create_replaces_what_is_in_the_way(root: tuple[Path, int], victim: Path) -> None:
    path, fd = root
    os.symlink(str(victim / "file"), path / "f")
    os.mkfifo(path / "fifo")
    for name in ("f", "fifo", "new/dir/g"):
        out = inroot.create(fd, name, 0o640)
        os.write(out, b"ours\n")
        os.close(out)
        assert (path / name).read_text() == "ours\n"
        assert not (path / name).is_symlink()
    assert (victim / "file").read_text() == "host\n"
    (path / "d").mkdir()
    with pytest.raises(IsADirectoryError):
        inroot.create(fd, "d")
    os.symlink(str(victim / "file"), path / "keep")
    with pytest.raises(OSError) as err:
        inroot.create(fd, "keep", replace=False)
    assert err.value.errno == errno.ELOOP


def test_set_meta_never_follows(root: tuple[Path, int], victim: Path) -> None:
    path, fd = root
    os.symlink(str(victim / "file"), path / "link")
    (path / "reg").write_text("")
    before = os.stat(victim / "file")
    dfd, name = inroot.open_parent(fd, "/link")
    inroot.set_meta(dfd, name, uid=4242, gid=4242, mode=0o777, times_ns=(10**9, 10**9))
    assert os.lstat(path / "link").st_uid == 4242
    assert os.lstat(path / "link").st_mtime_ns == 10**9
    inroot.set_meta(dfd, "reg", uid=4242, gid=4243, mode=0o4755, times_ns=(0, 2 * 10**9))
    os.close(dfd)
    after = os.stat(victim / "file")
    assert (after.st_mode, after.st_uid, after.st_mtime_ns) == (
        before.st_mode,
        before.st_uid,
        before.st_mtime_ns,
    )
    st = os.stat(path / "reg")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid, st.st_mtime_ns) == (
        0o4755,
        4242,
        4243,
        2 * 10**9,
    )
    inroot.set_xattr(fd, "reg", "user.k", b"v")
    assert os.getxattr(path / "reg", "user.k") == b"v"


def test_walk_lists_without_following(root: tuple[Path, int], victim: Path) -> None:
    path, fd = root
    (path / "a/b").mkdir(parents=True)
    (path / "a/b/f").write_text("x")
    os.symlink(str(victim), path / "a/l")
    os.symlink("/", path / "a/b/r")
    seen = [(rel, name, stat.S_IFMT(st.st_mode)) for rel, _d, name, st in inroot.walk(fd, "/a")]
    assert seen == [
        ("", "a", stat.S_IFDIR),
        ("b", "b", stat.S_IFDIR),
        ("l", "l", stat.S_IFLNK),
        ("b/f", "f", stat.S_IFREG),
        ("b/r", "r", stat.S_IFLNK),
    ]
    # Reading a file through the parent fd a walk gives.
    for rel, dir_fd, name, _st in inroot.walk(fd, "/"):
        if rel == "a/b/f":
            assert _read(os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=dir_fd)) == "x"
    # A deep tree: no recursion limit.
    deep = inroot.mkdirs(fd, "/".join(["d"] * 1200))
    os.close(deep)
    assert sum(1 for _ in inroot.walk(fd, "d")) == 1200
    copyup.remove_tree(str(path / "d"))  # pytest's own cleanup recurses


def test_mount_onto_the_resolved_fd(root: tuple[Path, int], victim: Path) -> None:
    from dockyard.runtime import syscalls

    path, fd = root
    os.symlink(str(victim), path / "abs")
    target = inroot.mount_target(fd, "abs/m")
    try:
        syscalls.mount("tmpfs", inroot.fd_path(target), "tmpfs", 0, "size=64k")
    finally:
        os.close(target)
    where = path / str(victim).lstrip("/") / "m"
    try:
        assert os.path.ismount(where)
        assert sorted(os.listdir(victim)) == ["file"]
    finally:
        syscalls.umount2(str(where), syscalls.MNT_DETACH)
    ftarget = inroot.mount_target(fd, "etc/hostname", directory=False)
    assert stat.S_ISREG(os.fstat(ftarget).st_mode)
    os.close(ftarget)


# The races: a host process exchanges a directory of the root with a symlink to the
# host directory (renameat2 RENAME_EXCHANGE) while the primitive works on paths through it.
ROUNDS = 400


def _swap_pair(path: Path, victim: Path) -> tuple[Path, Path]:
    (path / "x").mkdir()
    os.symlink(str(victim), path / "swap")
    return path / "x", path / "swap"


@pytest.mark.timeout(60)
def test_mkdirs_and_create_race_a_swap(
    root: tuple[Path, int], victim: Path, racer_bin: Path
) -> None:
    path, fd = root
    a, b = _swap_pair(path, victim)
    deadline = time.monotonic() + 30
    with racer.swapping(racer_bin, a, b):
        for i in range(ROUNDS):
            for name in (f"x/d{i}", f"swap/d{i}"):
                try:
                    os.close(inroot.mkdirs(fd, name))
                except OSError:
                    pass
                try:
                    os.close(inroot.create(fd, f"{name}/f"))
                except OSError:
                    pass
                try:
                    dfd, base = inroot.open_parent(fd, f"{name}/../file")
                    inroot.set_meta(dfd, base, uid=4242, mode=0o777, times_ns=(0, 0))
                    os.close(dfd)
                except OSError:
                    pass
            assert time.monotonic() < deadline
    assert sorted(os.listdir(victim)) == ["file"]
    st = os.stat(victim / "file")
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o600, 0)
    # Whatever was made went inside the root, under one of the two names.
    made = os.listdir(path / "x") + os.listdir(path / str(victim).lstrip("/"))
    assert made


@pytest.mark.timeout(60)
def test_walk_races_a_swap(root: tuple[Path, int], victim: Path, racer_bin: Path) -> None:
    path, fd = root
    a, b = _swap_pair(path, victim)
    (a / "inner").mkdir()
    (victim / "secret").mkdir()
    deadline = time.monotonic() + 30
    with racer.swapping(racer_bin, a, b):
        for _ in range(ROUNDS):
            for rel, _d, _n, _st in inroot.walk(fd, "/"):
                assert "secret" not in rel
                assert not rel.startswith(("x/file", "swap/file")), rel
            assert time.monotonic() < deadline
