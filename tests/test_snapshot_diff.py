"""Upper dir -> layer tar (layer_from_upper / write_layer), round-tripped through real overlays."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import stat
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import DockyardError
from dockyard.paths import Paths
from dockyard.snapshot import LayerStore, layer_from_upper, mount_rootfs, unmount, write_layer
from test_snapshot_unpack import Layer

# security.capability v2 for cap_net_bind_service (bit 10) permitted+effective.
CAP_V2 = (0x02000001).to_bytes(4, "little") + (1 << 10).to_bytes(4, "little") + bytes(12)


@pytest.fixture
def mounts(tmp_path: Path) -> Iterator[list[Path]]:
    """Mount points to unmount after the test (those still mounted)."""
    points: list[Path] = []
    yield points
    for p in reversed(points):
        try:
            unmount(str(p))
        except DockyardError:
            pass


def lower_layer() -> bytes:
    return (
        Layer()
        .dir("etc")
        .file("etc/keep", "keep")
        .file("etc/modify", "old")
        .file("etc/delete", "bye")
        .dir("gone")
        .file("gone/a", "a")
        .dir("gone/sub")
        .file("gone/sub/b", "b")
        .dir("replace")
        .file("replace/old1", "1")
        .file("replace/old2", "2")
        .dir("moved")
        .file("moved/inner", "inner")
        .file("rename-me", "content")
        .file("bin/tool", "#!/bin/sh\n", mode=0o755)
        .symlink("link", "etc/keep")
        .bytes()
    )


def tree(root: Path) -> dict[str, tuple[object, ...]]:
    """What a process sees under ``root``: type, mode, owner, size, content, link, xattrs."""
    seen: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in [*dirnames, *sorted(filenames)]:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            content: object = None
            if stat.S_ISREG(st.st_mode):
                content = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                content = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                content = st.st_rdev
            xattrs = sorted(
                (k, os.getxattr(path, k, follow_symlinks=False))
                for k in os.listxattr(path, follow_symlinks=False)
            )
            mtime = None if stat.S_ISDIR(st.st_mode) else int(st.st_mtime)
            seen[os.path.relpath(path, root)] = (
                st.st_mode,
                st.st_uid,
                st.st_gid,
                content,
                xattrs,
                mtime,
            )
    return seen


def test_round_trip_through_overlay(tmp_path: Path, mounts: list[Path]) -> None:
    store = LayerStore(Paths(str(tmp_path / "root"), str(tmp_path / "run")))
    lower_id, _ = store.add(io.BytesIO(lower_layer()))
    lower = store.path(lower_id)
    upper, merged = tmp_path / "upper", tmp_path / "merged"
    mounts.append(merged)
    mount_rootfs([lower], str(upper), str(tmp_path / "work"), str(merged))

    m = merged
    (m / "new").mkdir()
    (m / "new/file").write_text("created")
    os.chown(m / "new/file", 1000, 1001)
    os.chmod(m / "new/file", 0o4750)
    (m / "etc/modify").write_text("new content")
    (m / "etc/delete").unlink()
    shutil.rmtree(m / "gone")
    shutil.rmtree(m / "replace")
    (m / "replace").mkdir()
    (m / "replace/fresh").write_text("fresh")
    os.rename(m / "rename-me", m / "renamed")
    shutil.move(str(m / "moved"), str(m / "moved-to"))  # EXDEV for a lower dir: a copy
    os.link(m / "new/file", m / "new/hardlink")
    os.symlink("/etc/keep", m / "new/abs-link")
    os.mkfifo(m / "new/fifo")
    os.mknod(m / "new/null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.setxattr(m / "bin/tool", "security.capability", CAP_V2)
    os.setxattr(m / "new/file", "user.note", b"\xff\x00binary")
    (m / "link").unlink()
    (m / "link").mkdir()  # a directory replaces a symlink
    os.utime(m / "etc/keep", (1_000_000, 1_000_000))
    expected = tree(merged)
    unmount(str(merged))

    with layer_from_upper(str(upper)) as layer:
        data = layer.read()
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = tf.getnames()
        headers = [k for member in tf.getmembers() for k in member.pax_headers]
        assert tf.getmember("new/hardlink").islnk()
        assert tf.getmember("new/hardlink").linkname == "new/file"
        assert tf.getmember("bin/tool").pax_headers["SCHILY.xattr.security.capability"]
    plain = [n for n in names if ".wh." not in n]
    assert plain == sorted(plain, key=lambda n: n.split("/"))  # sorted, parents first
    assert {"etc/.wh.delete", ".wh.gone", ".wh.rename-me", ".wh.moved"} <= set(names)
    assert "replace/.wh..wh..opq" in names
    assert "SCHILY.xattr.user.note" in headers
    assert not any("trusted.overlay" in k for k in headers)

    store2 = LayerStore(Paths(str(tmp_path / "root2"), str(tmp_path / "run2")))
    lower2, _ = store2.add(io.BytesIO(lower_layer()))
    top, _ = store2.add(io.BytesIO(data))
    again = tmp_path / "again"
    mounts.append(again)
    mount_rootfs(
        [store2.path(top), store2.path(lower2)],
        str(tmp_path / "upper2"),
        str(tmp_path / "work2"),
        str(again),
        readonly=True,
    )
    try:
        assert tree(again) == expected
        assert not (again / "replace/old1").exists()
        assert not (again / "gone").exists()
    finally:
        unmount(str(again))


def test_opaque_and_whiteouts_without_a_mount(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "dir").mkdir(parents=True)
    os.setxattr(upper / "dir", "trusted.overlay.opaque", b"y")
    os.setxattr(upper / "dir", "trusted.overlay.origin", b"x")
    os.chmod(upper / "dir", 0o750)
    os.mknod(upper / "dir/removed", stat.S_IFCHR, 0)
    (upper / "sock-parent").mkdir()
    import socket

    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(upper / "sock-parent/sock"))
    with layer_from_upper(str(upper)) as layer, tarfile.open(fileobj=layer) as tf:
        members = {m.name: m for m in tf.getmembers()}
    assert list(members) == ["dir", "dir/.wh..wh..opq", "dir/.wh.removed", "sock-parent"]
    assert members["dir"].pax_headers == {}
    assert members["dir/.wh..wh..opq"].isreg() and members["dir/.wh..wh..opq"].mode == 0o750
    assert members["dir/.wh.removed"].isreg() and members["dir/.wh.removed"].size == 0


def test_reproducible_bytes(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    for name in ("b", "a", "c/z", "c/y"):
        (upper / name).parent.mkdir(parents=True, exist_ok=True)
        (upper / name).write_text(name)
    outputs = []
    for fraction in (0.25, 0.75):  # sub-second mtimes do not change the bytes
        os.utime(upper / "a", (1_000.0, 5_000 + fraction))
        out = io.BytesIO()
        write_layer(str(upper), out)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    with tarfile.open(fileobj=io.BytesIO(outputs[0])) as tf:
        assert tf.getnames() == ["a", "b", "c", "c/y", "c/z"]
        assert tf.getmember("a").mtime == 5_000
        assert all(m.uname == "" for m in tf.getmembers())


def test_redirect_dir_is_refused(tmp_path: Path) -> None:
    upper = tmp_path / "upper"
    (upper / "d").mkdir(parents=True)
    os.setxattr(upper / "d", "trusted.overlay.redirect", b"/elsewhere")
    with pytest.raises(DockyardError, match=r"trusted.overlay.redirect is not supported"):
        write_layer(str(upper), io.BytesIO())


def test_missing_upper_names_it(tmp_path: Path) -> None:
    with pytest.raises(DockyardError, match=f"reading layer changes in {tmp_path}/nope"):
        layer_from_upper(str(tmp_path / "nope"))
