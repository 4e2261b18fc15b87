"""Safe layer unpacking into overlayfs form (OCI image spec, "Applying Changesets").

Each layer is unpacked alone into its own directory; whiteouts become what overlayfs reads:
``.wh.NAME`` a 0/0 character device at ``NAME``, ``.wh..wh..opq`` the xattr
``trusted.overlay.opaque=y`` on its directory. Names are resolved inside the layer
directory as if chrooted there (``securejoin``), so no entry is written outside it.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import stat

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.snapshot.securejoin import securejoin

TYPE_CHECKING = False  # typing is not imported on the build and run paths (bench/README.md)
if TYPE_CHECKING:
    import tarfile
    from typing import IO, BinaryIO, cast
else:

    def cast(_type: object, value: object) -> object:
        return value


WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"
_PAX_XATTR = "SCHILY.xattr."
# Xattrs that steer overlayfs itself; a layer must not set them through its archive.
_OVERLAY_XATTR = "trusted.overlay."
_COPY_CHUNK = 1 << 20
_WRITE_BUFFER = 1 << 16
# The largest PAX header or GNU long name tarfile may read into memory, as Go's
# archive/tar (maxSpecialFileSize): a tiny gzip of a huge header is not gigabytes.
_MAX_SPECIAL = 1 << 20

_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _TarSource:
    """An uncompressed tar stream as ``tarfile``'s file object, forward only.

    It does what tarfile's own stream reader (``mode="r|"``) does: ``read(n)`` returns
    ``n`` bytes (fewer only at the end), ``seek`` moves forward by reading (backwards
    raises ``tarfile.StreamError``). But it takes the underlying stream's chunks as
    they come (1 MiB from the decompressors) where tarfile's reader pulls 10 KiB pieces
    and copies each twice, and ``copy`` writes an entry's content from those chunks
    without copying it (``extractfile``'s buffers copy it twice more). ``pos`` counts
    the bytes consumed.
    """

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._chunk = b""
        self._off = 0
        self.pos = 0
        #: What the last ``read`` returned: at the end, the header that ended the archive.
        self.last = b""

    def _fill(self) -> bool:
        """Make unread bytes available; False at the end of the stream."""
        while self._off >= len(self._chunk):
            chunk = self._raw.read(_COPY_CHUNK)
            if not chunk:
                return False
            self._chunk, self._off = chunk, 0
        return True

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (fewer only at the end). tarfile reads headers and PAX or
        GNU long-name records with it (content goes through ``copy``, sparse content in
        pieces of ``_COPY_CHUNK``): raises ``tarfile.ReadError`` past ``_MAX_SPECIAL``."""
        if size < 0 or size > _MAX_SPECIAL:
            import tarfile

            raise tarfile.ReadError(
                f"archive/tar: header field too long (over {_MAX_SPECIAL} bytes)"
            )
        parts: list[bytes] = []
        want = size
        while want > 0 and self._fill():
            chunk, off = self._chunk, self._off
            n = min(want, len(chunk) - off)
            parts.append(chunk if off == 0 and n == len(chunk) else chunk[off : off + n])
            self._off = off + n
            want -= n
        data = parts[0] if len(parts) == 1 else b"".join(parts)
        self.pos += len(data)
        self.last = data
        return data

    def tell(self) -> int:
        return self.pos

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        import tarfile

        if whence != io.SEEK_SET or pos < self.pos:
            raise tarfile.StreamError("seeking backwards is not allowed")
        self.skip(pos - self.pos)
        return self.pos

    def skip(self, size: int) -> int:
        """Consume up to ``size`` bytes; returns how many there were."""
        done = 0
        while done < size and self._fill():
            n = min(size - done, len(self._chunk) - self._off)
            self._off += n
            done += n
        self.pos += done
        return done

    def copy(self, size: int, out: BinaryIO) -> int:
        """Write the next ``size`` bytes to ``out``; returns how many there were."""
        done = 0
        while done < size and self._fill():
            chunk, off = self._chunk, self._off
            n = min(size - done, len(chunk) - off)
            out.write(chunk if off == 0 and n == len(chunk) else memoryview(chunk)[off : off + n])
            self._off = off + n
            done += n
        self.pos += done
        return done


def _normalise(name: str) -> str:
    """Entry name relative to the layer root: leading ``/`` and ``./`` gone, ``..`` clamped.

    Returns ``""`` for the root itself.
    """
    return posixpath.normpath("/" + name).lstrip("/")


def _is_whiteout_device(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def time_ns(member: tarfile.TarInfo, value: object) -> int:
    """The tar time ``value`` (seconds, a number or a PAX decimal string) of ``member`` in
    nanoseconds. Raises ``InvalidArgument`` for one that is not a number or whose seconds
    do not fit an int64 (Go's tar reader refuses them too)."""
    import math

    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        seconds = math.nan
    if not math.isfinite(seconds) or abs(seconds) >= 2.0**63:
        raise InvalidArgument(f"invalid tar header: entry {member.name} has time {value!s:.40}")
    return round(seconds * 1_000_000_000)


def copy_content(src: IO[bytes] | None, member: tarfile.TarInfo, out: BinaryIO) -> int:
    """Copy the content of the regular entry ``member`` (``src``: its ``extractfile``) to
    the seekable file ``out``; returns the bytes of data written. A sparse entry's holes
    stay holes (seek, then truncate to its size), as Go's tar reader writes them, so a
    tiny archive cannot make a terabyte of zeros. Raises ``InvalidArgument`` for a
    sparse map that is out of order or beyond the data."""
    import tarfile

    written = 0
    if src is None:
        return 0
    if not member.sparse:
        while chunk := src.read(_COPY_CHUNK):
            out.write(chunk)
            written += len(chunk)
        return written
    raw = cast("BinaryIO", getattr(src, "raw", src))  # unbuffered: seeks only move its position
    sparse = cast("list[tuple[int, int]]", member.sparse)  # typeshed says bytes
    try:
        for offset, size in sparse:
            if size <= 0:
                continue
            raw.seek(offset)
            out.seek(offset)
            while size > 0:
                chunk = raw.read(min(_COPY_CHUNK, size))
                if not chunk:
                    raise InvalidArgument(f"invalid tar: sparse entry {member.name} is truncated")
                out.write(chunk)
                size -= len(chunk)
                written += len(chunk)
    except tarfile.StreamError:
        raise InvalidArgument(f"invalid tar: sparse entry {member.name} is out of order") from None
    out.truncate(member.size)
    return written


class _Unpacker:
    """State of one ``apply_layer`` call: the root, deferred directory times, parent cache."""

    def __init__(self, root: str, allow_devices: bool, source: _TarSource) -> None:
        self.root = root
        self.allow_devices = allow_devices
        self.source = source
        # Directory mtimes are set last: creating children changes them.
        self.dir_times: list[tuple[str, int, int]] = []
        # Normalised parent name -> resolved existing directory. Resolution only visits
        # existing entries, so it stays valid until a directory or symlink is removed.
        self.parents: dict[str, str] = {}

    def apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        rel = _normalise(m.name)
        if not rel:
            if m.isdir():
                self._set_meta(self.root, m)
            return
        parent_rel, _, base = rel.rpartition("/")
        if any(part.startswith(WHITEOUT_PREFIX) for part in parent_rel.split("/")):
            # Inside aufs metadata dirs (.wh..wh.plnk) or a malformed whiteout path.
            return
        parent = self._parent_dir(parent_rel, m.name)
        if base.startswith(WHITEOUT_PREFIX):
            if base == WHITEOUT_OPAQUE:
                os.setxattr(parent, OPAQUE_XATTR, b"y", follow_symlinks=False)
            elif not base.startswith(WHITEOUT_META_PREFIX):
                self._whiteout(os.path.join(parent, base[len(WHITEOUT_PREFIX) :]), m)
            return
        path = os.path.join(parent, base)
        if m.isdir():
            self._make_dir(path)
            self._set_meta(path, m)
        elif m.isreg():
            self._remove(path)
            fd = os.open(
                path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600
            )
            # An explicit buffer size: io.open asks isatty (an ioctl) of every file otherwise.
            with open(fd, "wb", buffering=_WRITE_BUFFER) as out:
                if m.sparse:
                    copy_content(tf.extractfile(m), m, out)
                else:
                    self.source.seek(m.offset_data)
                    if self.source.copy(m.size, out) != m.size:
                        import tarfile

                        raise tarfile.ReadError("unexpected end of data")
            self._set_meta(path, m)
        elif m.issym():
            self._remove(path)
            os.symlink(m.linkname, path)
            self._set_meta(path, m)
        elif m.islnk():
            self._hardlink(path, m)
        elif m.ischr() or m.isblk() or m.isfifo():
            if not self.allow_devices:
                return
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK if m.isblk() else stat.S_IFIFO
            self._remove(path)
            os.mknod(path, kind | 0o600, os.makedev(m.devmajor, m.devminor))
            self._set_meta(path, m)
        else:
            raise InvalidArgument(f"layer entry {m.name}: unsupported tar entry type {m.type!r}")

    def _parent_dir(self, parent_rel: str, name: str) -> str:
        """Resolve (securejoin) and create the parent directory of an entry."""
        cached = self.parents.get(parent_rel)
        if cached is not None:
            return cached
        # One component below a resolved parent: a directory (or nothing yet) needs no
        # resolution from the root, which made a deep tree cost the cube of its depth.
        head, _, last = parent_rel.rpartition("/")
        base = self.parents.get(head) if head else self.root
        if base is not None and last:
            candidate = os.path.join(base, last)
            try:
                st: os.stat_result | None = os.lstat(candidate)
            except FileNotFoundError:
                st = None
                os.mkdir(candidate)
                os.chmod(candidate, 0o755)
            if st is None or stat.S_ISDIR(st.st_mode):
                self.parents[parent_rel] = candidate
                return candidate
        resolved = securejoin(self.root, parent_rel)
        current = self.root
        for part in resolved[len(self.root) :].split("/"):
            if not part:
                continue
            current = os.path.join(current, part)
            try:
                st = os.lstat(current)
            except FileNotFoundError:
                os.mkdir(current)
                os.chmod(current, 0o755)
                continue
            if stat.S_ISDIR(st.st_mode):
                continue
            if not _is_whiteout_device(st):
                raise InvalidArgument(f"layer entry {name}: a parent is not a directory")
            self._make_dir(current)
        self.parents[parent_rel] = resolved
        return resolved

    def _remove(self, path: str) -> None:
        """Remove whatever non-directory or tree is at ``path`` (nothing if absent)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            import shutil

            shutil.rmtree(path)
            self.parents.clear()
        else:
            os.unlink(path)
            if stat.S_ISLNK(st.st_mode):
                self.parents.clear()

    def _make_dir(self, path: str) -> None:
        """Make ``path`` a directory; one replacing a whiteout becomes opaque (as overlayfs)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mkdir(path, 0o700)
            return
        if stat.S_ISDIR(st.st_mode):
            return
        self._remove(path)
        os.mkdir(path, 0o700)
        if _is_whiteout_device(st):
            # Lower layers' entries under this name stay hidden, as the whiteout said.
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)

    def _whiteout(self, path: str, m: tarfile.TarInfo) -> None:
        """Hide ``path`` of lower layers; what this layer wrote there stays (OCI spec)."""
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            os.mknod(path, stat.S_IFCHR, 0)
            os.chown(path, m.uid, m.gid, follow_symlinks=False)
            return
        if stat.S_ISDIR(st.st_mode):
            # This layer's directory keeps its own content but no longer merges with lower ones.
            os.setxattr(path, OPAQUE_XATTR, b"y", follow_symlinks=False)
        # Any other entry of this layer already hides the lower one.

    def _hardlink(self, path: str, m: tarfile.TarInfo) -> None:
        target_rel = _normalise(m.linkname)
        t_parent, _, t_base = target_rel.rpartition("/")
        if not t_base:
            target = self.root
        else:
            # The target's directory is usually one an earlier entry resolved already.
            t_dir = self.parents.get(t_parent) if t_parent else self.root
            target = os.path.join(t_dir or securejoin(self.root, t_parent), t_base)
        try:
            st = os.lstat(target)
        except OSError:
            raise InvalidArgument(
                f"layer entry {m.name}: hardlink target {m.linkname} does not exist in the layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise InvalidArgument(
                f"layer entry {m.name}: hardlink target {m.linkname} is a directory"
            )
        if target == path:
            return
        self._remove(path)
        os.link(target, path, follow_symlinks=False)

    def _set_meta(self, path: str, m: tarfile.TarInfo) -> None:
        """Owner, then mode (after chown so setuid bits stay), xattrs, then times."""
        os.chown(path, m.uid, m.gid, follow_symlinks=False)
        if not m.issym():
            os.chmod(path, m.mode & 0o7777)
        for key, value in m.pax_headers.items():
            if not key.startswith(_PAX_XATTR):
                continue
            name = key[len(_PAX_XATTR) :]
            if name.startswith(_OVERLAY_XATTR):
                continue
            try:
                # tarfile decoded the value as UTF-8 with surrogateescape; this is lossless.
                os.setxattr(
                    path, name, value.encode("utf-8", "surrogateescape"), follow_symlinks=False
                )
            except OSError as e:
                if e.errno not in (errno.ENOTSUP, errno.EPERM):
                    raise
        mtime = time_ns(m, m.mtime)
        atime = time_ns(m, m.pax_headers["atime"]) if "atime" in m.pax_headers else mtime
        if m.isdir():
            self.dir_times.append((path, atime, mtime))
        else:
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)

    def finish(self) -> None:
        for path, atime, mtime in reversed(self.dir_times):
            try:
                if not stat.S_ISDIR(os.lstat(path).st_mode):
                    continue  # replaced later in the layer
            except FileNotFoundError:
                continue
            os.utime(path, ns=(atime, mtime), follow_symlinks=False)


def apply_layer(stream: BinaryIO, dest: str, *, allow_devices: bool = True) -> int:
    """Unpack the uncompressed tar ``stream`` into directory ``dest`` in overlayfs form.

    Implements OCI image spec "Applying Changesets" for one layer directory: entry names are
    normalised and resolved inside ``dest`` (symlinks, absolute names and ``..`` are
    clamped at ``dest``), an entry replaces an existing one of another type, ``.wh.NAME``
    becomes a whiteout device and ``.wh..wh..opq`` the opaque xattr (both hide only lower
    layers, never what this layer wrote), hardlinks must point at an entry already in
    ``dest``; devices and fifos are created only if ``allow_devices``. Ownership, mode,
    times and ``SCHILY.xattr.*`` PAX xattrs are applied. The stream is read to its end.

    Returns the number of bytes read from ``stream``. Raises ``InvalidArgument`` for a
    malformed archive or entry, ``DockyardError`` for a filesystem failure (naming the entry).
    """
    import tarfile

    source = _TarSource(stream)
    unpacker = _Unpacker(os.path.abspath(dest), allow_devices, source)
    name = ""
    try:
        # What tarfile.open(mode="r|") makes, over a faster stream reader.
        with tarfile.TarFile(fileobj=cast("BinaryIO", source), mode="r") as tf:
            for member in tf:
                name = member.name
                unpacker.apply(tf, member)
                # tarfile keeps every member it read: a layer of millions of tiny entries
                # (a few MB of gzip) would hold a TarInfo of each. Hardlinks are resolved
                # in dest, so none is needed again; its iterator reads on after this.
                tf.members.clear()  # type: ignore[attr-defined]
            if source.last.strip(b"\0"):
                # tarfile ends an archive at a header that is not one (a bad checksum,
                # garbage) as at the zero blocks; Go's archive/tar refuses it, as here.
                raise tarfile.ReadError("archive/tar: invalid tar header")
        name = ""
        unpacker.finish()
    except tarfile.TarError as e:
        raise InvalidArgument(f"invalid layer tar{' after ' + name if name else ''}: {e}") from e
    except OSError as e:
        where = f"layer entry {name}" if name else f"layer in {dest}"
        raise DockyardError(f"unpacking {where}: {e.strerror or e}") from e
    while source.skip(_COPY_CHUNK):
        pass
    return source.pos


class _PrefixedReader(io.RawIOBase):
    """``prefix`` followed by the rest of ``raw``: magic bytes peeked from any stream."""

    def __init__(self, prefix: bytes, raw: BinaryIO) -> None:
        self._prefix = prefix
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._prefix:
            n = min(len(buffer), len(self._prefix))
            buffer[:n] = self._prefix[:n]
            self._prefix = self._prefix[n:]
            return n
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class _GzipStream:
    """The decompressed content of gzip members (RFC 1952) read from ``raw`` after
    ``head``. zlib inflates up to ``_COPY_CHUNK`` bytes at a time and ``read(n)`` hands
    out slices of that chunk, or the chunk itself: ``gzip.GzipFile`` passes every byte
    through three Python buffering layers (about a third of a layer pull's CPU). Zero
    padding between and after members is skipped, as ``gzip`` does. Raises ``EOFError``
    for a truncated stream and ``gzip.BadGzipFile`` (an ``OSError``) for corrupt data,
    as ``GzipFile`` does. ``read`` may return fewer bytes than asked (b"" at the end)."""

    def __init__(self, head: bytes, raw: BinaryIO) -> None:
        import zlib

        self._zlib = zlib
        self._head, self._raw = head, raw
        self._inflate = zlib.decompressobj(31)  # 31: a gzip header and trailer (CRC, size)
        self._buf = b""
        self._pos = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _input(self) -> bytes:
        if self._head:
            data, self._head = self._head, b""
            return data
        return self._raw.read(_COPY_CHUNK)

    def _fill(self) -> bool:
        """Inflate the next chunk into ``_buf``; False at the end of the last member."""
        while not self._done:
            inflate = self._inflate
            if inflate.eof:
                data = inflate.unused_data.lstrip(b"\0")
                while not data:
                    data = self._input()
                    if not data:
                        self._done = True
                        return False
                    data = data.lstrip(b"\0")
                inflate = self._inflate = self._zlib.decompressobj(31)
            elif inflate.unconsumed_tail:
                data = inflate.unconsumed_tail
            else:
                data = self._input()
                if not data:
                    raise EOFError(
                        "Compressed file ended before the end-of-stream marker was reached"
                    )
            try:
                out = inflate.decompress(data, _COPY_CHUNK)
            except self._zlib.error as e:
                import gzip

                raise gzip.BadGzipFile(f"invalid gzip data: {e}") from None
            if out:
                self._buf, self._pos = out, 0
                return True
        return False

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buf[self._pos :]]
            while self._fill():
                parts.append(self._buf)
            self._buf, self._pos = b"", 0
            return b"".join(parts)
        if self._pos >= len(self._buf) and not self._fill():
            return b""
        buf, pos = self._buf, self._pos
        if pos == 0 and size >= len(buf):
            self._buf = b""
            return buf
        out = buf[pos : pos + size]
        self._pos = pos + len(out)
        return out

    def close(self) -> None:
        self._buf = b""


def open_decompressed(fileobj: BinaryIO) -> BinaryIO:
    """Return a stream of the decompressed content of ``fileobj``.

    gzip, bzip2, xz and zstd are detected by their magic bytes; anything else passes
    through unchanged (a plain tar). Works on unseekable streams (pipes, stdin).
    """
    head = b""
    while len(head) < len(_XZ_MAGIC):
        chunk = fileobj.read(len(_XZ_MAGIC) - len(head))
        if not chunk:
            break
        head += chunk
    if head.startswith(_GZIP_MAGIC):
        return cast("BinaryIO", _GzipStream(head, fileobj))
    stream = cast("BinaryIO", io.BufferedReader(_PrefixedReader(head, fileobj), _COPY_CHUNK))
    if head.startswith(_BZIP2_MAGIC):
        import bz2

        return cast("BinaryIO", bz2.BZ2File(stream))
    if head.startswith(_XZ_MAGIC):
        import lzma

        return cast("BinaryIO", lzma.LZMAFile(stream))
    if head.startswith(_ZSTD_MAGIC):
        import zstandard

        return cast("BinaryIO", zstandard.ZstdDecompressor().stream_reader(stream, closefd=False))
    return stream
