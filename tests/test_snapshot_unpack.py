"""securejoin, apply_layer and open_decompressed against real tar streams on a real fs."""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import os
import stat
import subprocess
import tarfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO, cast

import pytest

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.snapshot import apply_layer, open_decompressed, securejoin

MTIME = 1_700_000_000


class Layer:
    """Builds an uncompressed PAX tar layer entry by entry, names stored verbatim."""

    def __init__(self) -> None:
        self._buf = io.BytesIO()
        self._tar = tarfile.open(fileobj=self._buf, mode="w", format=tarfile.PAX_FORMAT)

    def _add(
        self,
        name: str,
        kind: bytes,
        data: bytes = b"",
        *,
        mode: int | None = None,
        mtime: float = MTIME,
        xattrs: dict[str, str] | None = None,
        **fields: Any,
    ) -> Layer:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mtime = mtime
        info.mode = mode if mode is not None else 0o755 if kind == tarfile.DIRTYPE else 0o644
        info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in (xattrs or {}).items()}
        for key, value in fields.items():
            setattr(info, key, value)
        info.size = len(data)
        self._tar.addfile(info, io.BytesIO(data) if data else None)
        return self

    def dir(self, name: str, **kw: Any) -> Layer:
        return self._add(name, tarfile.DIRTYPE, **kw)

    def file(self, name: str, data: str | bytes = b"", **kw: Any) -> Layer:
        return self._add(
            name, tarfile.REGTYPE, data.encode() if isinstance(data, str) else data, **kw
        )

    def symlink(self, name: str, target: str, **kw: Any) -> Layer:
        return self._add(name, tarfile.SYMTYPE, linkname=target, mode=0o777, **kw)

    def hardlink(self, name: str, target: str) -> Layer:
        return self._add(name, tarfile.LNKTYPE, linkname=target)

    def device(self, name: str, kind: bytes, major: int = 0, minor: int = 0, **kw: Any) -> Layer:
        return self._add(name, kind, devmajor=major, devminor=minor, **kw)

    def bytes(self) -> bytes:
        self._tar.close()
        return self._buf.getvalue()


def apply(dest: Path, layer: Layer | bytes, **kw: bool) -> int:
    data = layer.bytes() if isinstance(layer, Layer) else layer
    return apply_layer(io.BytesIO(data), str(dest), **kw)


def visible_names(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def is_whiteout(path: Path) -> bool:
    st = os.lstat(path)
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def opaque(path: Path) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque") == b"y"
    except OSError:
        return False


@pytest.fixture
def dest(tmp_path: Path) -> Path:
    d = tmp_path / "layer"
    d.mkdir()
    return d


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A host directory outside the layer that an unpack must never touch."""
    d = tmp_path / "outside"
    d.mkdir()
    (d / "victim").write_text("host\n")
    return d


# --- securejoin ---------------------------------------------------------------------------


def test_securejoin_plain_and_missing_components(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    assert securejoin(str(tmp_path), "a/b/c") == str(tmp_path / "a/b/c")
    assert securejoin(str(tmp_path), "") == str(tmp_path)
    assert securejoin(str(tmp_path), "/") == str(tmp_path)
    assert securejoin(str(tmp_path), "./a//./b/") == str(tmp_path / "a/b")


def test_securejoin_clamps_dotdot_in_path(tmp_path: Path) -> None:
    assert securejoin(str(tmp_path), "../../../etc/passwd") == str(tmp_path / "etc/passwd")
    assert securejoin(str(tmp_path), "a/../../b") == str(tmp_path / "b")


def test_securejoin_absolute_symlink_is_rooted(tmp_path: Path) -> None:
    (tmp_path / "usr/lib").mkdir(parents=True)
    (tmp_path / "usr/lib/x").symlink_to("/etc")
    assert securejoin(str(tmp_path), "usr/lib/x/cron.d/f") == str(tmp_path / "etc/cron.d/f")


def test_securejoin_relative_symlink_climbing_is_clamped(tmp_path: Path) -> None:
    (tmp_path / "a/b").mkdir(parents=True)
    (tmp_path / "a/b/esc").symlink_to("../../../../../../tmp")
    assert securejoin(str(tmp_path), "a/b/esc/f") == str(tmp_path / "tmp/f")
    (tmp_path / "a/up").symlink_to("b/..")
    assert securejoin(str(tmp_path), "a/up/z") == str(tmp_path / "a/z")


def test_securejoin_chained_and_final_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "l1").symlink_to("l2")
    (tmp_path / "l2").symlink_to("/real")
    assert securejoin(str(tmp_path), "l1") == str(tmp_path / "real")
    assert securejoin(str(tmp_path), "l1/x") == str(tmp_path / "real/x")
    (tmp_path / "dangling").symlink_to("/nowhere/deep")
    assert securejoin(str(tmp_path), "dangling/f") == str(tmp_path / "nowhere/deep/f")


def test_securejoin_loop_raises(tmp_path: Path) -> None:
    (tmp_path / "a").symlink_to("b")
    (tmp_path / "b").symlink_to("a")
    with pytest.raises(InvalidArgument, match="too many levels of symbolic links"):
        securejoin(str(tmp_path), "a/x")
    (tmp_path / "self").symlink_to("./self")
    with pytest.raises(InvalidArgument):
        securejoin(str(tmp_path), "self")


# --- apply_layer: names and escapes -------------------------------------------------------


def test_returns_bytes_read_and_drains_stream(dest: Path) -> None:
    data = Layer().file("f", "x").bytes() + b"\0" * 4096  # extra padding after the end
    stream = io.BytesIO(data)
    assert apply_layer(stream, str(dest)) == len(data)
    assert stream.read() == b""


def test_names_are_normalised_and_clamped(dest: Path) -> None:
    layer = (
        Layer()
        .dir("./", mode=0o750, uid=7, gid=8)
        .file("../../../../tmp/dotdot", "1")
        .file("/tmp/absolute", "2")
        .file("./tmp/dot-prefixed", "3")
        .file("a/../../b", "4")
    )
    apply(dest, layer)
    assert (dest / "tmp/dotdot").read_text() == "1"
    assert (dest / "tmp/absolute").read_text() == "2"
    assert (dest / "tmp/dot-prefixed").read_text() == "3"
    assert (dest / "b").read_text() == "4"
    st = dest.stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o750, 7, 8)
    # Parents created on the way are plain 0755 root directories.
    st = (dest / "tmp").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o755, 0)


def test_symlinks_out_are_followed_inside_only(dest: Path, outside: Path) -> None:
    layer = (
        Layer()
        .symlink("usr/lib/x", "/etc")
        .file("usr/lib/x/cron.d/f", "via-absolute")
        .symlink("esc", "../../../../../../" + str(outside).lstrip("/"))
        .file("esc/victim", "via-relative")
        .symlink("abs", str(outside))
        .file("abs/new", "via-abs-host-path")
    )
    apply(dest, layer)
    assert os.readlink(dest / "usr/lib/x") == "/etc"
    assert (dest / "etc/cron.d/f").read_text() == "via-absolute"
    assert (dest / str(outside).lstrip("/") / "victim").read_text() == "via-relative"
    assert (dest / str(outside).lstrip("/") / "new").read_text() == "via-abs-host-path"
    assert os.listdir(outside) == ["victim"]
    assert (outside / "victim").read_text() == "host\n"


def test_final_component_symlink_is_replaced_not_followed(dest: Path, outside: Path) -> None:
    victim = str(outside / "victim")
    layer = (
        Layer()
        .symlink("f", victim)
        .file("f", "mine")
        .symlink("d", str(outside))
        .dir("d", mode=0o700)
        .symlink("dev", victim)
        .device("dev", tarfile.FIFOTYPE)
    )
    apply(dest, layer)
    assert (dest / "f").read_text() == "mine" and not (dest / "f").is_symlink()
    assert (dest / "d").is_dir() and not (dest / "d").is_symlink()
    assert stat.S_ISFIFO(os.lstat(dest / "dev").st_mode)
    assert (outside / "victim").read_text() == "host\n"
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755


def test_symlink_target_is_stored_verbatim(dest: Path) -> None:
    apply(dest, Layer().symlink("l", "../../x/./y//z").symlink("m", "/abs"))
    assert os.readlink(dest / "l") == "../../x/./y//z"
    assert os.readlink(dest / "m") == "/abs"


# --- whiteouts ----------------------------------------------------------------------------


def test_whiteout_becomes_overlay_device(dest: Path) -> None:
    apply(dest, Layer().file(".wh.gone").dir("d").file("d/.wh.sub").file("d/.wh.missing"))
    for p in ("gone", "d/sub", "d/missing"):
        assert is_whiteout(dest / p), p
    assert not any(n.rsplit("/", 1)[-1].startswith(".wh.") for n in visible_names(dest))


def test_opaque_marker_keeps_this_layers_content(dest: Path) -> None:
    layer = (
        Layer()
        .dir("a")
        .file("a/new1.txt", "new1")
        .file("a/.wh..wh..opq")
        .dir("a/sub")
        .file("a/sub/new2.txt", "new2")
        .file("b/.wh..wh..opq")  # before its directory entry
        .dir("b", mode=0o711)
    )
    apply(dest, layer)
    assert opaque(dest / "a") and opaque(dest / "b")
    assert visible_names(dest) == {"a", "a/new1.txt", "a/sub", "a/sub/new2.txt", "b"}
    assert stat.S_IMODE((dest / "b").stat().st_mode) == 0o711


def test_whiteout_never_hides_own_layer_content(dest: Path) -> None:
    # OCI: a whiteout applies to lower layers only, whatever its position in the stream.
    layer = (
        Layer()
        .file("f", "mine")
        .file(".wh.f")
        .dir("d")
        .file("d/x", "x")
        .file(".wh.d")
        .file(".wh.w")
        .file(".wh.w")
    )
    apply(dest, layer)
    assert (dest / "f").read_text() == "mine"
    assert (dest / "d/x").read_text() == "x" and opaque(dest / "d")
    assert is_whiteout(dest / "w")


def test_entry_after_whiteout_replaces_it(dest: Path) -> None:
    layer = (
        Layer()
        .file(".wh.again")
        .file("again", "v2")
        .file(".wh.dir")
        .dir("dir")
        .file("dir/n", "n")
        .file(".wh.implicit")
        .file("implicit/child", "c")
    )
    apply(dest, layer)
    assert (dest / "again").read_text() == "v2"
    # A directory replacing a whiteout must still hide the lower one's content: opaque.
    assert opaque(dest / "dir") and (dest / "dir/n").read_text() == "n"
    assert opaque(dest / "implicit") and (dest / "implicit/child").read_text() == "c"
    assert not opaque(dest)


def test_whiteout_meta_entries_are_ignored(dest: Path) -> None:
    layer = (
        Layer()
        .dir(".wh..wh.plnk")
        .file(".wh..wh.plnk/123.456", "aufs")
        .file("x/.wh..wh.aufs")
        .file("x/.wh.y/z", "malformed")
    )
    apply(dest, layer)
    assert visible_names(dest) == {"x"}


# --- type replacement ---------------------------------------------------------------------


def test_entries_of_another_type_replace_existing_ones(dest: Path) -> None:
    first = Layer().file("f_to_dir", "f").dir("dir_to_file").file("dir_to_file/child", "c")
    first.symlink("link_to_file", "f_to_dir").file("file_to_link", "f").dir("d", mode=0o700)
    first.file("d/keep", "k")
    apply(dest, first)
    second = (
        Layer()
        .dir("f_to_dir")
        .file("f_to_dir/inner", "inner")
        .file("dir_to_file", "now-a-file")
        .file("link_to_file", "was-link")
        .symlink("file_to_link", "/target")
        .dir("d", mode=0o751, uid=3)
    )
    apply(dest, second)
    assert (dest / "f_to_dir/inner").read_text() == "inner"
    assert (dest / "dir_to_file").read_text() == "now-a-file"
    assert (dest / "link_to_file").read_text() == "was-link"
    assert not (dest / "link_to_file").is_symlink()
    assert os.readlink(dest / "file_to_link") == "/target"
    # A directory over a directory merges and takes the new metadata.
    assert (dest / "d/keep").read_text() == "k"
    st = (dest / "d").stat()
    assert (stat.S_IMODE(st.st_mode), st.st_uid) == (0o751, 3)


def test_file_over_hardlinked_file_does_not_change_the_other_name(dest: Path) -> None:
    apply(dest, Layer().file("a", "orig").hardlink("b", "a").file("b", "new"))
    assert (dest / "a").read_text() == "orig"
    assert (dest / "b").read_text() == "new"


def test_parent_that_is_a_file_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match="layer entry f/x"):
        apply(dest, Layer().file("f", "x").file("f/x", "y"))


# --- hardlinks ----------------------------------------------------------------------------


def test_hardlink_inside_layer(dest: Path) -> None:
    layer = (
        Layer()
        .file("etc/target.txt", "link-target")
        .hardlink("h1", "../../../etc/target.txt")
        .hardlink("h2", "/etc/target.txt")
        .symlink("s", "etc/target.txt")
        .hardlink("hs", "s")
    )
    apply(dest, layer)
    target = os.lstat(dest / "etc/target.txt")
    assert os.lstat(dest / "h1").st_ino == target.st_ino
    assert os.lstat(dest / "h2").st_ino == target.st_ino
    assert target.st_nlink == 3
    # A link to a symlink links the symlink itself.
    assert os.lstat(dest / "hs").st_ino == os.lstat(dest / "s").st_ino
    assert (dest / "hs").is_symlink()


def test_hardlink_to_missing_target_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match="layer entry h: hardlink target nope"):
        apply(dest, Layer().hardlink("h", "nope"))


def test_hardlink_out_of_the_layer_is_refused(dest: Path, outside: Path) -> None:
    layer = Layer().symlink("x", str(outside)).hardlink("h", "x/victim")
    with pytest.raises(InvalidArgument, match="layer entry h"):
        apply(dest, layer)
    with pytest.raises(InvalidArgument, match="layer entry h2"):
        apply(dest, Layer().hardlink("h2", str(outside / "victim")))
    assert os.lstat(outside / "victim").st_nlink == 1
    assert not (dest / "h").exists() and not (dest / "h2").exists()


def test_hardlink_to_directory_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match="is a directory"):
        apply(dest, Layer().dir("d").hardlink("h", "d"))


# --- devices, modes, owners, times, xattrs ------------------------------------------------


def devices_layer() -> Layer:
    return (
        Layer()
        .device("null", tarfile.CHRTYPE, 1, 3, mode=0o666)
        .device("loop9", tarfile.BLKTYPE, 7, 9, mode=0o660, gid=6)
        .device("fifo", tarfile.FIFOTYPE, mode=0o620)
        .device("wh", tarfile.CHRTYPE, 0, 0, mode=0o000)
    )


def test_devices_created_when_allowed(dest: Path) -> None:
    apply(dest, devices_layer(), allow_devices=True)
    null = os.lstat(dest / "null")
    assert stat.S_ISCHR(null.st_mode) and null.st_rdev == os.makedev(1, 3)
    assert stat.S_IMODE(null.st_mode) == 0o666
    loop = os.lstat(dest / "loop9")
    assert stat.S_ISBLK(loop.st_mode) and loop.st_rdev == os.makedev(7, 9) and loop.st_gid == 6
    fifo = os.lstat(dest / "fifo")
    assert stat.S_ISFIFO(fifo.st_mode) and stat.S_IMODE(fifo.st_mode) == 0o620
    assert is_whiteout(dest / "wh")


def test_devices_skipped_when_not_allowed(dest: Path) -> None:
    apply(dest, devices_layer().file("regular", "r"), allow_devices=False)
    assert visible_names(dest) == {"regular"}


def test_ownership_and_setuid_modes(dest: Path) -> None:
    layer = (
        Layer()
        .file("suid", "x", mode=0o4755, uid=1000, gid=1000)
        .file("sgid", "x", mode=0o2711, uid=0, gid=50)
        .dir("sticky", mode=0o1777, uid=12, gid=34)
        .symlink("link", "suid", uid=56, gid=78)
    )
    apply(dest, layer)

    def owner_mode(name: str) -> tuple[int, int, int]:
        st = os.lstat(dest / name)
        return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)

    assert owner_mode("suid") == (1000, 1000, 0o4755)
    assert owner_mode("sgid") == (0, 50, 0o2711)
    assert owner_mode("sticky") == (12, 34, 0o1777)
    assert owner_mode("link")[:2] == (56, 78)


def test_mtimes_including_directories_and_symlinks(dest: Path) -> None:
    layer = (
        Layer()
        .dir("d", mtime=1_000_000_000)
        .file("d/f", "x", mtime=1_100_000_000)
        .symlink("d/l", "f", mtime=1_200_000_000)
        .dir("d/sub", mtime=1_300_000_000)
        .file("d/sub/g", "g")
    )
    apply(dest, layer)
    assert os.lstat(dest / "d").st_mtime == 1_000_000_000
    assert os.lstat(dest / "d/f").st_mtime == 1_100_000_000
    assert os.lstat(dest / "d/l").st_mtime == 1_200_000_000
    assert os.lstat(dest / "d/sub").st_mtime == 1_300_000_000


def test_pax_xattrs(dest: Path) -> None:
    layer = (
        Layer()
        .file("f", "x", xattrs={"user.comment": "héllo", "trusted.overlay.opaque": "y"})
        .dir("d", xattrs={"user.dir": "1", "trusted.other": "t"})
        .symlink("l", "f", xattrs={"user.link": "unsupported on symlinks"})
    )
    apply(dest, layer)
    assert os.getxattr(dest / "f", "user.comment") == "héllo".encode()
    # Layers must not steer overlayfs through their archive.
    assert not opaque(dest / "f")
    assert os.getxattr(dest / "d", "user.dir") == b"1"
    assert os.getxattr(dest / "d", "trusted.other") == b"t"
    assert os.readlink(dest / "l") == "f"


def test_invalid_tar_is_refused(dest: Path) -> None:
    with pytest.raises(InvalidArgument, match="invalid layer tar"):
        apply(dest, b"this is not a tar archive" * 40)


def test_huge_pax_header_is_refused_before_it_is_read(dest: Path) -> None:
    """A PAX record over 1 MiB (Go's archive/tar limit) is refused: tarfile would read
    it whole into memory, and a few MB of gzip can hold gigabytes of one."""
    layer = Layer().file("f", b"x", xattrs={"user.big": "y" * (1 << 20)}).bytes()
    with pytest.raises(InvalidArgument, match="header field too long"):
        apply(dest, layer)
    assert not (dest / "f").exists()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("f")
        info.size = 1
        info.pax_headers = {"comment": "c" * 1_000_000}  # under the limit
        tf.addfile(info, io.BytesIO(b"x"))
    apply(dest, buf.getvalue())
    assert (dest / "f").read_bytes() == b"x"


def test_many_entries_are_not_all_kept_in_memory(dest: Path) -> None:
    """tarfile keeps a TarInfo of every entry read; apply_layer lets them go, so a tar
    bomb of tiny entries costs time, not memory (the entries here are skipped ones,
    under an aufs metadata directory, so that the test is fast)."""
    import tracemalloc

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for i in range(15000):
            tf.addfile(tarfile.TarInfo(f".wh..wh.plnk/{i}"))
    data = buf.getvalue()
    tracemalloc.start()
    try:
        apply(dest, data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 << 20, peak  # 15000 TarInfos kept are over 7 MiB


def test_garbage_where_a_header_should_be_is_refused(dest: Path) -> None:
    """tarfile ends the archive at a header that is not one as at the end blocks (the
    rest of the layer silently missing); Go's archive/tar refuses it, so does this."""
    layer = Layer().file("a", b"x" * 600).file("b", b"y").bytes()
    second = 512 + 1024  # a's header and content, then b's header
    broken = layer[:second] + b"\x01" * 512 + layer[second + 512 :]
    with pytest.raises(InvalidArgument, match="after a: archive/tar: invalid tar header"):
        apply(dest, broken)
    short = layer[:second] + b"\x01" * 100  # a partial header at the end
    with pytest.raises(InvalidArgument, match="invalid tar header"):
        (dest / "other").mkdir()
        apply(dest / "other", short)


def test_filesystem_failure_names_the_entry(tmp_path: Path) -> None:
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(small)], check=True)
    try:
        with pytest.raises(DockyardError, match="layer entry big/file: No space left"):
            apply(small, Layer().file("big/file", b"x" * (1 << 20)))
    finally:
        subprocess.run(["umount", str(small)], check=True)


class Pieces(io.RawIOBase):
    """Returns reads of the sizes given in turn (cycling), as a socket or a growing file
    may: entries' headers and content straddle them."""

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self._data, self._sizes, self._n, self._pos = data, sizes, 0, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        want = self._sizes[self._n % len(self._sizes)]
        self._n += 1
        end = self._pos + min(want, size if size >= 0 else want)
        chunk, self._pos = self._data[self._pos : end], min(end, len(self._data))
        return chunk


def test_content_across_uneven_reads_and_big_entries(dest: Path) -> None:
    big = os.urandom(3 << 20)  # over the 1 MiB chunks the reader takes
    layer = (
        Layer().file("a", b"x" * 700).file("big", big).file("b", b"").file("c", b"y" * 513).bytes()
    )
    for sizes in ([1 << 20], [1, 511, 7000, 300_000], [333]):
        target = dest / str(sizes[0])
        target.mkdir()
        assert apply_layer(cast(BinaryIO, Pieces(layer, sizes)), str(target)) == len(layer)
        assert (target / "big").read_bytes() == big
        assert (target / "a").read_bytes() == b"x" * 700
        assert (target / "b").read_bytes() == b""
        assert (target / "c").read_bytes() == b"y" * 513


def test_truncated_content_is_refused(dest: Path) -> None:
    layer = Layer().file("f", b"z" * 5000).bytes()
    with pytest.raises(InvalidArgument, match="invalid layer tar after f: unexpected end of data"):
        apply(dest, layer[: 512 + 3000])


# --- open_decompressed --------------------------------------------------------------------

TAR = Layer().file("f", "payload" * 1000).bytes()


@pytest.mark.parametrize(
    "compress",
    [lambda b: b, gzip.compress, bz2.compress, lzma.compress],
    ids=["plain", "gzip", "bzip2", "xz"],
)
def test_open_decompressed_detects_format(compress: Callable[[bytes], bytes], dest: Path) -> None:
    stream = open_decompressed(io.BytesIO(compress(TAR)))
    assert stream.read() == TAR
    assert apply_layer(open_decompressed(io.BytesIO(compress(TAR))), str(dest)) == len(TAR)
    assert (dest / "f").read_text() == "payload" * 1000


def test_open_decompressed_on_a_pipe() -> None:
    data = gzip.compress(TAR)
    r, w = os.pipe()

    def writer() -> None:
        with open(w, "wb", buffering=0) as out:
            out.write(data)

    thread = threading.Thread(target=writer)
    thread.start()
    with open(r, "rb") as pipe:
        assert open_decompressed(pipe).read() == TAR
    thread.join()


class Trickle(io.RawIOBase):
    """Returns one byte per read, as a slow pipe may: magic detection must not rely on peek."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk, self._data = self._data[:1], self._data[1:]
        return chunk


@pytest.mark.parametrize("compress", [gzip.compress, lzma.compress], ids=["gzip", "xz"])
def test_open_decompressed_with_one_byte_reads(compress: Callable[[bytes], bytes]) -> None:
    assert open_decompressed(cast(BinaryIO, Trickle(compress(TAR)))).read() == TAR


def test_open_decompressed_short_and_empty_input() -> None:
    assert open_decompressed(io.BytesIO(b"ab")).read() == b"ab"
    assert open_decompressed(io.BytesIO(b"")).read() == b""


def test_open_decompressed_zstd() -> None:
    import zstandard

    packed = zstandard.ZstdCompressor().compress(TAR)
    assert open_decompressed(cast(BinaryIO, Trickle(packed))).read() == TAR


# --- sparse entries and out-of-range times (hostile layers and cp streams) --------------------


def _sparse_tar(name: str, size: int, data: bytes = b"") -> bytes:
    """A PAX tar holding ``name``: ``size`` bytes, all a hole except ``data`` at offset 0
    (GNU sparse 0.1, which tarfile reads but cannot write)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.pax_headers = {"GNU.sparse.map": f"0,{len(data)}", "GNU.sparse.size": str(size)}
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.timeout(30)
def test_sparse_entry_stays_sparse(dest: Path) -> None:
    # 1 TB of holes: written out in full it would fill the disk (and take hours).
    apply(dest, _sparse_tar("hole", 10**12, b"head"))
    st = os.stat(dest / "hole")
    assert st.st_size == 10**12 and st.st_blocks * 512 < 1 << 20
    with open(dest / "hole", "rb") as f:
        assert f.read(6) == b"head\0\0"


@pytest.mark.timeout(30)
def test_cp_extract_sparse_entry_stays_sparse(dest: Path) -> None:
    from dockyard.snapshot.tarcopy import extract

    fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
    try:
        extract(io.BytesIO(_sparse_tar("hole", 10**12, b"head")), fd)
    finally:
        os.close(fd)
    st = os.stat(dest / "hole")
    assert st.st_size == 10**12 and st.st_blocks * 512 < 1 << 20


@pytest.mark.parametrize("mtime", ["1e400", "nan", "1e300", "abc"])
def test_out_of_range_times_are_refused(dest: Path, mtime: str) -> None:
    from dockyard.snapshot.tarcopy import extract

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        info = tarfile.TarInfo("f")
        info.pax_headers = {"mtime": "0", "atime": mtime} if mtime == "abc" else {"mtime": mtime}
        tf.addfile(info)
    with pytest.raises(InvalidArgument, match="invalid tar header: entry f has time"):
        apply(dest, buf.getvalue())
    if mtime != "abc":  # cp sets no atime
        fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY)
        try:
            with pytest.raises(InvalidArgument, match="invalid tar header: entry f has time"):
                extract(io.BytesIO(buf.getvalue()), fd)
        finally:
            os.close(fd)


def test_open_decompressed_gzip_members_padding_and_big_output() -> None:
    """Several members, zero padding between and after them (as gzip accepts), and a
    member inflating to many times the reader's chunk, read in small and whole reads."""
    big = os.urandom(1 << 16) * 40  # 2.5 MiB, compresses well: several inflate chunks
    packed = gzip.compress(big) + b"\0" * 7 + gzip.compress(b"tail") + b"\0" * 3
    assert open_decompressed(io.BytesIO(packed)).read() == big + b"tail"
    stream = open_decompressed(io.BytesIO(packed))
    got = bytearray()
    while chunk := stream.read(10240):
        assert len(chunk) <= 10240
        got += chunk
    assert bytes(got) == big + b"tail"
    assert open_decompressed(cast(BinaryIO, Trickle(gzip.compress(TAR) * 2))).read() == TAR * 2


def test_open_decompressed_gzip_errors_as_gzipfile_raises_them() -> None:
    """Truncated: EOFError; corrupt data or trailing garbage: gzip.BadGzipFile (an
    OSError without errno), the errors load and import turn into one-line messages."""
    packed = gzip.compress(TAR)
    with pytest.raises(EOFError):
        open_decompressed(io.BytesIO(packed[: len(packed) // 2])).read()
    corrupt = packed[:20] + bytes(b ^ 0x55 for b in packed[20:40]) + packed[40:]
    with pytest.raises(gzip.BadGzipFile):
        open_decompressed(io.BytesIO(corrupt)).read()
    with pytest.raises(gzip.BadGzipFile):
        open_decompressed(io.BytesIO(packed + b"garbage")).read()


@pytest.mark.timeout(60)
def test_deep_tree_unpacks_in_bounded_time(dest: Path) -> None:
    """A 600-level directory chain (what a container can commit): each parent is
    resolved from the one above it, not from the root (that cost depth cubed: a minute
    here, hours at a few thousand levels)."""
    import time

    depth = 600
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for n in range(1, depth + 1):
            info = tarfile.TarInfo("/".join(["d"] * n))
            info.type = tarfile.DIRTYPE
            tf.addfile(info)
    start = time.monotonic()
    try:
        apply(dest, buf.getvalue())
        assert time.monotonic() - start < 20
        assert (dest / "/".join(["d"] * depth)).is_dir()
    finally:
        # Deepest first: pytest's recursive rmtree cannot remove a chain this deep.
        for n in range(depth, 0, -1):
            with contextlib.suppress(FileNotFoundError):
                os.rmdir(dest / "/".join(["d"] * n))
