"""The layer store: each layer unpacked once under ``layers/<diff id hex>/`` (docs/architecture.md)."""

from __future__ import annotations

import errno
import os

from dockyard.errors import InvalidArgument, NotFound
from dockyard.snapshot.unpack import apply_layer

TYPE_CHECKING = False  # typing is not imported on the build and run paths (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO

    from dockyard.paths import Paths

_EMPTY = "empty"
_TMP_PREFIX = ".tmp-"
_HEX_DIGITS = "0123456789abcdef"


class _HashingReader:
    """Hashes (sha256), counts and tees every byte read through it."""

    def __init__(self, raw: BinaryIO, tee: BinaryIO | None) -> None:
        self._raw = raw
        self._tee = tee
        import hashlib

        self.sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.sha.update(data)
        if self._tee is not None and data:
            self._tee.write(data)
        return data


def _hex(diff_id: str) -> str:
    algo, _, hexpart = diff_id.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or not set(hexpart) <= set(_HEX_DIGITS):
        raise InvalidArgument(f"invalid layer diff id {diff_id!r}: want sha256:<64 hex>")
    return hexpart


class LayerStore:
    """Unpacked layers shared by all images and containers, keyed by diff id.

    ``paths.layers/<hex>/`` is the layer's directory in overlayfs form (see
    ``apply_layer``); ``paths.layers/empty`` is a permanent empty lower directory for
    images without layers.
    """

    def __init__(self, paths: Paths) -> None:
        self._root = paths.layers

    def path(self, diff_id: str) -> str:
        """Directory of layer ``diff_id`` (``"sha256:<hex>"``); raises ``InvalidArgument``."""
        return os.path.join(self._root, _hex(diff_id))

    def exists(self, diff_id: str) -> bool:
        """Whether layer ``diff_id`` is unpacked."""
        return os.path.isdir(self.path(diff_id))

    def content_size(self, diff_id: str) -> int:
        """Bytes of the files and symlinks in the unpacked layer, each hardlinked inode
        once (what ``docker history`` counts, not the tar's size); 0 if it is missing."""
        total = 0
        seen: set[tuple[int, int]] = set()
        for dirpath, dirnames, filenames in os.walk(self.path(diff_id)):
            links = [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]
            for name in filenames + links:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except OSError:
                    continue
                if st.st_nlink > 1:
                    if (st.st_dev, st.st_ino) in seen:
                        continue
                    seen.add((st.st_dev, st.st_ino))
                total += st.st_size
        return total

    def empty_dir(self) -> str:
        """An empty directory to use as the only lower layer of a layerless image."""
        path = os.path.join(self._root, _EMPTY)
        if not os.path.isdir(path):
            os.makedirs(path, mode=0o755, exist_ok=True)
        return path

    def add(
        self,
        stream: BinaryIO,
        tee: BinaryIO | None = None,
        expected_diff_id: str | None = None,
        check: Callable[[], None] | None = None,
    ) -> tuple[str, int]:
        """Unpack the uncompressed layer tar ``stream``; return ``(diff_id, size in bytes)``.

        The diff id is the sha256 of every byte read (the stream is read to its end);
        each byte is also written to ``tee`` if given. The layer is unpacked into a
        temporary directory, checked against ``expected_diff_id`` and renamed into place;
        if the layer already exists the new copy is dropped. Raises ``InvalidArgument``
        ("layer digest mismatch: ...") or whatever ``apply_layer`` raises; nothing is
        left behind on failure. ``check`` is called once the layer is unpacked and its diff
        id matched, before it is renamed into place: what it raises aborts the add (a pull
        verifies and stores the compressed blob it streamed from there).
        """
        if expected_diff_id is not None:
            _hex(expected_diff_id)
        import shutil

        from dockyard.tempfiles import sweep, temp_name

        os.makedirs(self._root, mode=0o700, exist_ok=True)
        sweep(self._root, _TMP_PREFIX)
        tmp = os.path.join(self._root, temp_name(_TMP_PREFIX))
        os.mkdir(tmp, 0o700)
        try:
            os.chmod(tmp, 0o755)
            reader = _HashingReader(stream, tee)
            size = apply_layer(reader, tmp)  # type: ignore[arg-type]
            diff_id = "sha256:" + reader.sha.hexdigest()
            if expected_diff_id is not None and diff_id != expected_diff_id:
                raise InvalidArgument(
                    f"layer digest mismatch: expected {expected_diff_id}, got {diff_id}"
                )
            if check is not None:
                check()
            final = self.path(diff_id)
            if os.path.isdir(final):
                shutil.rmtree(tmp)
            else:
                try:
                    os.rename(tmp, final)
                except OSError as e:
                    if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                        raise
                    shutil.rmtree(tmp)  # another command stored it first
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return diff_id, size

    def remove(self, diff_id: str) -> None:
        """Delete layer ``diff_id`` (renamed away first, so it never appears half-deleted).

        The caller makes sure no image or container still uses it. Raises ``NotFound``.
        """
        doomed = self.discard(diff_id)
        if doomed is None:
            raise NotFound(f"No such layer: {diff_id}")
        self.delete_discarded(doomed)

    def discard(self, diff_id: str) -> str | None:
        """Rename layer ``diff_id`` out of the store (atomic) to a temporary name tied to
        this process, ``layers/.tmp-<pid>-<hex>``, and return that path (None: it was not
        there). Whatever a killed process leaves under such a name is swept by the next
        :meth:`add` and by the garbage collector."""
        from dockyard.tempfiles import temp_name

        doomed = os.path.join(self._root, temp_name(_TMP_PREFIX))
        try:
            os.rename(self.path(diff_id), doomed)
        except FileNotFoundError:
            return None
        return doomed

    def delete_discarded(self, path: str) -> None:
        """Delete a directory :meth:`discard` returned."""
        import shutil

        shutil.rmtree(path, ignore_errors=True)

    def temporary_entries(self) -> list[str]:
        """Paths of the store's temporary entries (``.tmp-*``: layers being unpacked or
        deleted)."""
        try:
            names = os.listdir(self._root)
        except FileNotFoundError:
            return []
        return [os.path.join(self._root, n) for n in names if n.startswith(_TMP_PREFIX)]

    def diff_ids(self) -> list[str]:
        """The diff ids of every layer in the store."""
        try:
            names = os.listdir(self._root)
        except FileNotFoundError:
            return []
        return ["sha256:" + n for n in names if len(n) == 64 and set(n) <= set(_HEX_DIGITS)]
