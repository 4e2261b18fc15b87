"""LayerStore (digest, tee, atomicity) and overlayfs rootfs mounts, as root on real mounts."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.paths import Paths
from dockyard.snapshot import LayerStore, mount_rootfs, unmount
from test_snapshot_unpack import Layer


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(str(tmp_path / "root"), str(tmp_path / "run"))


@pytest.fixture
def store(paths: Paths) -> LayerStore:
    return LayerStore(paths)


def mounted(target: Path) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == str(target) for line in f)


@pytest.fixture
def rootfs(tmp_path: Path) -> Iterator[Path]:
    """The mount point; whatever a test mounts there is unmounted afterwards."""
    target = tmp_path / "rootfs"
    try:
        yield target
    finally:
        unmount(str(target))


def mount(tmp_path: Path, target: Path, lowers: list[str], **kw: bool) -> None:
    mount_rootfs(lowers, str(tmp_path / "upper"), str(tmp_path / "work"), str(target), **kw)


# --- LayerStore ---------------------------------------------------------------------------


def test_add_digest_size_and_tee(store: LayerStore, paths: Paths) -> None:
    raw = Layer().dir("etc").file("etc/hostname", "box\n").symlink("l", "/etc").bytes()
    tee = io.BytesIO()
    diff_id, size = store.add(io.BytesIO(raw), tee=tee)
    assert diff_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert size == len(raw)
    assert tee.getvalue() == raw
    assert store.exists(diff_id)
    assert store.path(diff_id) == os.path.join(paths.layers, diff_id[7:])
    layer = Path(store.path(diff_id))
    assert (layer / "etc/hostname").read_text() == "box\n"
    assert os.readlink(layer / "l") == "/etc"
    assert sorted(os.listdir(paths.layers)) == [diff_id[7:]]


def test_add_hashes_trailing_padding(store: LayerStore) -> None:
    raw = Layer().file("f", "x").bytes() + b"\0" * 10240
    diff_id, size = store.add(io.BytesIO(raw))
    assert (diff_id, size) == ("sha256:" + hashlib.sha256(raw).hexdigest(), len(raw))


def test_add_with_expected_diff_id(store: LayerStore) -> None:
    raw = Layer().file("f", "x").bytes()
    expected = "sha256:" + hashlib.sha256(raw).hexdigest()
    assert store.add(io.BytesIO(raw), expected_diff_id=expected) == (expected, len(raw))


def test_digest_mismatch_leaves_nothing(store: LayerStore, paths: Paths) -> None:
    raw = Layer().file("f", "x").bytes()
    wrong = "sha256:" + "0" * 64
    with pytest.raises(InvalidArgument, match=f"layer digest mismatch: expected {wrong}, got"):
        store.add(io.BytesIO(raw), expected_diff_id=wrong)
    assert os.listdir(paths.layers) == []
    assert not store.exists(wrong)


def test_failed_unpack_leaves_nothing(store: LayerStore, paths: Paths) -> None:
    raw = Layer().file("f", "x").hardlink("h", "missing").bytes()
    with pytest.raises(InvalidArgument, match="layer entry h"):
        store.add(io.BytesIO(raw))
    assert os.listdir(paths.layers) == []


def test_same_layer_added_twice(store: LayerStore, paths: Paths) -> None:
    raw = Layer().file("f", "one").bytes()
    first = store.add(io.BytesIO(raw))
    inode = os.stat(store.path(first[0])).st_ino
    assert store.add(io.BytesIO(raw)) == first
    assert os.listdir(paths.layers) == [first[0][7:]]
    assert os.stat(store.path(first[0])).st_ino == inode


def test_invalid_diff_ids(store: LayerStore) -> None:
    for bad in ("abc", "sha256:xyz", "sha512:" + "0" * 64, "sha256:" + "A" * 64):
        with pytest.raises(InvalidArgument, match="invalid layer diff id"):
            store.path(bad)
    with pytest.raises(InvalidArgument):
        store.add(io.BytesIO(b""), expected_diff_id="sha256:../../etc")


def test_remove(store: LayerStore, paths: Paths) -> None:
    diff_id, _ = store.add(io.BytesIO(Layer().file("f", "x").bytes()))
    store.remove(diff_id)
    assert not store.exists(diff_id)
    assert os.listdir(paths.layers) == []
    with pytest.raises(NotFound, match="No such layer"):
        store.remove(diff_id)


def test_empty_dir(store: LayerStore, paths: Paths) -> None:
    empty = store.empty_dir()
    assert empty == os.path.join(paths.layers, "empty")
    assert os.listdir(empty) == [] and store.empty_dir() == empty


# --- overlay mounts -----------------------------------------------------------------------


def test_mount_layers_with_upper(store: LayerStore, tmp_path: Path, rootfs: Path) -> None:
    lower, _ = store.add(
        io.BytesIO(Layer().file("a/x", "1").file("a/y", "1").file("b", "1").bytes())
    )
    upper_layer = Layer().file("a/.wh.x").file("b", "2").file("c/.wh..wh..opq").file("c/n", "n")
    top, _ = store.add(io.BytesIO(upper_layer.bytes()))
    mount(tmp_path, rootfs, [store.path(top), store.path(lower)])
    assert mounted(rootfs)
    assert sorted(os.listdir(rootfs)) == ["a", "b", "c"]
    assert os.listdir(rootfs / "a") == ["y"]
    assert (rootfs / "b").read_text() == "2"
    (rootfs / "new").write_text("container")
    (rootfs / "a/y").unlink()
    assert (tmp_path / "upper/new").read_text() == "container"
    assert (Path(store.path(lower)) / "a/y").exists()  # layers are never written
    unmount(str(rootfs))
    assert not mounted(rootfs)


def test_mount_readonly(store: LayerStore, tmp_path: Path, rootfs: Path) -> None:
    mount(tmp_path, rootfs, [store.empty_dir()], readonly=True)
    with pytest.raises(OSError) as err:
        (rootfs / "f").write_text("x")
    assert err.value.errno == errno.EROFS


def test_mount_single_empty_lower(store: LayerStore, tmp_path: Path, rootfs: Path) -> None:
    mount(tmp_path, rootfs, [store.empty_dir()])
    assert os.listdir(rootfs) == []
    (rootfs / "f").write_text("x")
    assert os.listdir(store.empty_dir()) == []


def test_128_layers_mounted_at_once(store: LayerStore, tmp_path: Path, rootfs: Path) -> None:
    lowers = []
    for i in range(128):
        diff_id, _ = store.add(
            io.BytesIO(Layer().file(f"f{i}", str(i)).file("top", str(i)).bytes())
        )
        lowers.append(store.path(diff_id))
    lowers.reverse()  # topmost first
    cwd = os.getcwd()
    # Absolute paths do not fit in one page: this takes the fd-relative path.
    assert len(":".join(lowers)) > os.sysconf("SC_PAGESIZE")
    mount(tmp_path, rootfs, lowers)
    assert os.getcwd() == cwd
    names = set(os.listdir(rootfs))
    assert names == {f"f{i}" for i in range(128)} | {"top"}
    assert (rootfs / "top").read_text() == "127"
    assert (rootfs / "f0").read_text() == "0"


def test_mount_errors(tmp_path: Path, rootfs: Path) -> None:
    with pytest.raises(InvalidArgument, match="no lower directories"):
        mount(tmp_path, rootfs, [])
    with pytest.raises(InvalidArgument, match="contains ',' or ':'"):
        mount(tmp_path, rootfs, [str(tmp_path / "a,b")])
    with pytest.raises(DockyardError, match=f"overlay mount at {rootfs}: No such file"):
        mount(tmp_path, rootfs, [str(tmp_path / "missing")])
    assert not mounted(rootfs)


def test_unmount_not_mounted_is_fine(tmp_path: Path) -> None:
    unmount(str(tmp_path))
    unmount(str(tmp_path / "does-not-exist"))


def test_whiteout_device_hides_lower_in_mount(
    store: LayerStore, tmp_path: Path, rootfs: Path
) -> None:
    lower, _ = store.add(io.BytesIO(Layer().dir("d").file("d/old", "o").file("f", "f").bytes()))
    top, _ = store.add(
        io.BytesIO(Layer().file(".wh.d").dir("d").file("d/new", "n").file(".wh.f").bytes())
    )
    mount(tmp_path, rootfs, [store.path(top), store.path(lower)])
    assert os.listdir(rootfs) == ["d"]
    assert os.listdir(rootfs / "d") == ["new"]
    assert stat.S_ISDIR(os.lstat(rootfs / "d").st_mode)
