"""The content-addressed blob store and the image store (OCI image spec, Docker's image IDs).

Blobs live at ``blobs/sha256/<hex>``, written through a temporary file under ``tmp/`` and
renamed into place, and are verified against their digest on every read. An image is a
row in the ``images`` table keyed by its ID (the config digest, as Docker) pointing at its
manifest blob; tags are rows in ``tags`` keyed by the full normalised reference.
"""

from __future__ import annotations

import builtins
import contextlib
import os
from functools import cached_property

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound

# json, re, typing and reference are imported where used: `images` needs none of them on an
# empty engine (bench/README.md, "CLI start-up").
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType
    from typing import Any

    from dockyard import reference
    from dockyard.paths import Paths
    from dockyard.state import StateDB

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar"

#: The lock content writers hold shared (ImageStore.lease) and the collector exclusive.
CONTENT_LOCK = "{runroot}/content.lock"
#: A blob's or layer's pin (``Pins``), by the hex of its digest or diff id.
PIN_LOCK = "{runroot}/locks/pin-{hex}"
_DIGEST_RE = r"sha256:[a-f0-9]{64}"
_UNPINNED, _PENDING = -1, -2  # Pins' descriptors of digests not (yet) pinned
_ID_PREFIX_RE = r"(?:sha256:)?([a-f0-9]{1,64})"
#: Blobs below this many bytes are hashed without OpenSSL (see _sha256).
_SMALL_BLOB = 1 << 16


def _sha256(data: bytes | None = None) -> Any:
    # hashlib loads OpenSSL (milliseconds; `dockyard images` never hashes): a small blob
    # (a config or manifest, which `run` verifies) is hashed by the interpreter's own
    # SHA-256, a stream or large blob by OpenSSL's, much faster per byte.
    if data is not None and len(data) < _SMALL_BLOB:
        try:
            from _sha256 import sha256  # type: ignore[import-not-found, unused-ignore]
        except ImportError:  # Python 3.12+: _sha2
            from _sha2 import sha256  # type: ignore[import-not-found, unused-ignore]
        return sha256(data)
    import hashlib

    return hashlib.sha256(data or b"")


def _hex(digest: str) -> str:
    import re

    if not re.fullmatch(_DIGEST_RE, digest):
        raise InvalidArgument(f"invalid digest {digest!r}: want sha256:<64 hex>")
    return digest[7:]


def short_id(image_id: str) -> str:
    """The 12-hex-digit short form Docker prints of ``sha256:<hex>`` or a bare hex ID."""
    return image_id.removeprefix("sha256:")[:12]


def chain_ids(diff_ids: list[str]) -> list[str]:
    """OCI ChainIDs of a layer stack: ``chain[0] = diff[0]``, then sha256("<prev> <diff>")."""
    out: list[str] = []
    for d in diff_ids:
        out.append(d if not out else "sha256:" + _sha256(f"{out[-1]} {d}".encode()).hexdigest())
    return out


# Temporary blob files of this process not yet committed or aborted: removed at exit, so
# a SIGTERM or Ctrl-C that lands between a writer's creation and its ``with`` block (or
# anywhere its owner's clean-up cannot reach) leaves none behind. Each is kept with the
# PID that made it: a forked child (a monitor) exits without touching its parent's.
_unfinished: dict[str, int] = {}


def _remove_unfinished() -> None:
    for path, pid in list(_unfinished.items()):
        if pid != os.getpid():
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass


class BlobWriter:
    """A blob being written: ``write`` bytes, then ``commit`` (atomic rename) or ``abort``.

    Usable as a context manager that aborts unless committed. The temporary file is under
    ``paths.tmp`` (same filesystem as the blobs).
    """

    def __init__(self, paths: Paths) -> None:
        os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
        os.makedirs(paths.blobs, mode=0o700, exist_ok=True)
        self._blobs = paths.blobs
        from dockyard.tempfiles import sweep, temp_name

        sweep(paths.tmp, "blob-")
        self._tmp = os.path.join(paths.tmp, temp_name("blob-"))
        if not _unfinished:
            import atexit

            atexit.unregister(_remove_unfinished)
            atexit.register(_remove_unfinished)
        _unfinished[self._tmp] = os.getpid()
        self._file: Any = open(self._tmp, "xb")
        self._sha = _sha256()
        self.size = 0
        self.committed = False

    def write(self, data: bytes) -> int:
        """Append ``data``; returns its length in bytes."""
        self._file.write(data)
        self._sha.update(data)
        self.size += len(data)
        return len(data)

    @property
    def temp_path(self) -> str:
        """The temporary file being written (a reader may follow it while it grows; it
        is renamed on ``commit`` and removed on ``abort``)."""
        return self._tmp

    def flush(self) -> None:
        """Hand what ``write`` buffered to the file, so a reader of ``temp_path`` sees it."""
        self._file.flush()

    @property
    def digest(self) -> str:
        """The sha256 digest of the bytes written so far."""
        return "sha256:" + self._sha.hexdigest()

    def commit(self, expected: str | None = None) -> tuple[str, int]:
        """Rename into ``blobs/sha256/<hex>``; returns ``(digest, size in bytes)``.

        Raises ``InvalidArgument`` (and aborts) if ``expected`` is given and differs.
        """
        digest = "sha256:" + self._sha.hexdigest()
        if expected is not None and digest != expected:
            self.abort()
            raise InvalidArgument(f"blob digest mismatch: expected {expected}, got {digest}")
        # Durable before it is visible: a DB row may point at it right after.
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.rename(self._tmp, os.path.join(self._blobs, digest[7:]))
        _unfinished.pop(self._tmp, None)
        self.committed = True
        return digest, self.size

    def abort(self) -> None:
        """Drop the temporary file (a no-op after ``commit``)."""
        if self.committed:
            return
        self._file.close()
        try:
            os.unlink(self._tmp)
        except FileNotFoundError:
            pass
        _unfinished.pop(self._tmp, None)

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.abort()


class ContentStore:
    """Blobs by sha256 digest under ``paths.blobs`` (``blobs/sha256/<hex>``)."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    def path(self, digest: str) -> str:
        """The file of blob ``digest``; raises ``InvalidArgument`` for a malformed digest."""
        return os.path.join(self.paths.blobs, _hex(digest))

    def exists(self, digest: str) -> bool:
        """Whether blob ``digest`` is stored."""
        return os.path.isfile(self.path(digest))

    def writer(self) -> BlobWriter:
        """A new ``BlobWriter`` for streaming a blob of unknown digest."""
        return BlobWriter(self.paths)

    def put(self, data: bytes) -> str:
        """Store ``data`` (if not already stored); returns its digest."""
        digest = "sha256:" + _sha256(data).hexdigest()
        if not self.exists(digest):
            with self.writer() as w:
                w.write(data)
                w.commit(digest)
        return digest

    def read(self, digest: str) -> bytes:
        """The bytes of blob ``digest``, verified against it.

        Raises ``NotFound`` if missing, ``DockyardError`` if the content does not match.
        """
        try:
            with open(self.path(digest), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found") from None
        actual = "sha256:" + _sha256(data).hexdigest()
        if actual != digest:
            raise DockyardError(f"blob {digest} is corrupt: content hashes to {actual}")
        return data

    def remove(self, digest: str) -> None:
        """Delete blob ``digest`` if present."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            pass


class Pins:
    """Blobs and layers a writer relies on before its image row exists (a pull's layers
    that are here already, or that it fetched): a shared flock each on
    ``<runroot>/locks/pin-<hex>``, held until :meth:`release`. A removal deletes no
    pinned blob or layer (``ImageStore._collect`` takes the pin exclusively, without
    waiting, around the deletion), so a writer pins first and then checks that what it
    relies on exists. Thread-safe (a pull's layer threads share one)."""

    def __init__(self, runroot: str) -> None:
        import threading

        self._runroot = runroot
        self._fds: dict[str, int] = {}
        self._lock = threading.Lock()

    def hold(self, digest: str) -> bool:
        """Pin blob or layer ``digest`` (``sha256:<hex>``; waits while a removal of it
        is under way); returns whether it was not pinned here already."""
        import fcntl

        with self._lock:
            if self._fds.get(digest, _UNPINNED) != _UNPINNED:
                return False
            self._fds[digest] = _PENDING  # another thread's hold of it returns at once
        fd = lock_file(PIN_LOCK.format(runroot=self._runroot, hex=_hex(digest)), fcntl.LOCK_SH)
        with self._lock:
            self._fds[digest] = fd
        return True

    def drop(self, digests: builtins.list[str]) -> None:
        """Unpin ``digests`` (what a failed writer made, before it removes them)."""
        with self._lock:
            for digest in digests:
                self._unpin(digest)

    def release(self) -> None:
        """Drop every pin (again: nothing)."""
        with self._lock:
            for digest in self._fds:
                self._unpin(digest)

    def _unpin(self, digest: str) -> None:
        fd = self._fds.get(digest, _UNPINNED)
        if fd >= 0:
            self._fds[digest] = _UNPINNED
            unlock_file(PIN_LOCK.format(runroot=self._runroot, hex=_hex(digest)), fd)


@contextlib.contextmanager
def unpinned(runroot: str, digest: str) -> Iterator[bool]:
    """Yields whether blob or layer ``digest`` (``sha256:<hex>``) is pinned by nobody
    (``Pins``, under run root ``runroot``); if so, it stays unpinnable (an exclusive
    flock) until the block ends, so it can be deleted. Every removal of a blob or layer
    goes through it (``ImageStore._collect``, the garbage collector)."""
    import fcntl

    path = PIN_LOCK.format(runroot=runroot, hex=_hex(digest))
    try:
        fd = lock_file(path, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        yield False
        return
    try:
        yield True
    finally:
        unlock_file(path, fd)


def lock_file(path: str, operation: int) -> int:
    """Open (creating it and its directory) lock file ``path`` and flock it with
    ``operation`` (``fcntl.LOCK_SH`` or ``LOCK_EX``, maybe ``| LOCK_NB``: then raises
    ``BlockingIOError`` when it is held); returns the descriptor, the lock held. Lock
    files are removed when their last holder lets go (:func:`unlock_file`), so the lock
    is taken again when the file was removed while this waited for it: a lock on a file
    no longer at ``path`` excludes nobody."""
    import fcntl

    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            continue
        try:
            fcntl.flock(fd, operation)
        except BlockingIOError:
            if _is_at(path, fd):
                os.close(fd)
                raise
        else:
            if _is_at(path, fd):
                return fd
        os.close(fd)  # removed by its holder meanwhile: take the one at path now


def unlock_file(path: str, fd: int) -> None:
    """Let go of lock file ``path`` held through ``fd`` (from :func:`lock_file`), and
    remove it unless another process holds it or waits for it shared: the lock files
    of every digest ever pinned or fetched would otherwise pile up in the run root."""
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if _is_at(path, fd):
            os.unlink(path)
    except BlockingIOError:
        pass  # held by another: its last holder removes it
    finally:
        os.close(fd)


def _is_at(path: str, fd: int) -> bool:
    """Whether the file open at ``fd`` is still the one at ``path``."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    fs = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (fs.st_dev, fs.st_ino)


class Image:
    """An image in the store. ``id`` is ``sha256:<config hex>``; ``created`` RFC 3339;
    ``size`` bytes (uncompressed layers); ``tags`` full normalised references.

    ``manifest``, ``config`` (the OCI image config) and ``diff_ids`` are read from the
    content store on first use (verified).
    """

    def __init__(
        self,
        content: ContentStore,
        id: str,
        manifest_digest: str,
        created: str,
        size: int,
        tags: list[str],
        digests: list[str] | None = None,
    ) -> None:
        self._content = content
        #: RepoDigests, full form (``docker.io/library/busybox@sha256:...``).
        self.digests = sorted(digests or [])
        self.id = id
        self.manifest_digest = manifest_digest
        self.created = created
        self.size = size
        self.tags = sorted(tags)

    @property
    def repo_tags(self) -> list[str]:
        """Tags in Docker's familiar form, e.g. ``busybox:latest``."""
        from dockyard import reference

        return [reference.parse(t).familiar() for t in self.tags]

    @property
    def repo_digests(self) -> list[str]:
        """RepoDigests in Docker's familiar form, e.g. ``busybox@sha256:...``."""
        from dockyard import reference

        return [reference.parse(d).familiar() for d in self.digests]

    @cached_property
    def manifest(self) -> dict[str, Any]:
        import json

        result: dict[str, Any] = json.loads(self._content.read(self.manifest_digest))
        return result

    @cached_property
    def config(self) -> dict[str, Any]:
        import json

        result: dict[str, Any] = json.loads(self._content.read(self.id))
        return result

    @property
    def diff_ids(self) -> list[str]:
        """The uncompressed layer digests, bottom layer first."""
        return list(self.config.get("rootfs", {}).get("diff_ids") or [])

    def __repr__(self) -> str:
        return f"Image({self.id!r}, tags={self.tags!r})"


class ImageStore:
    """Images and tags in the state DB over a ``ContentStore`` and the layer store.

    ``db`` is an open ``StateDB``; the store does not close it.
    """

    def __init__(self, paths: Paths, db: StateDB) -> None:
        self.paths = paths
        self.db = db
        self.content = ContentStore(paths)

    def pins(self) -> Pins:
        """A new, empty set of pins (see ``Pins``) for a writer of this store."""
        return Pins(self.paths.runroot)

    @contextlib.contextmanager
    def lease(self) -> Iterator[None]:
        """Protect the blobs and layers this process writes until an image row references
        them: a shared flock on ``<runroot>/content.lock``, which the garbage collector
        takes exclusively (without waiting) before it sweeps unreferenced content.
        Hold it from the first blob or layer written until :meth:`add` returns (import,
        build, pull and commit do)."""
        import fcntl

        os.makedirs(self.paths.runroot, mode=0o700, exist_ok=True)
        fd = os.open(CONTENT_LOCK.format(runroot=self.paths.runroot), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield
        finally:
            os.close(fd)

    # -- lookups ------------------------------------------------------------------------
    def _images(self, where: str = "", params: tuple = ()) -> builtins.list[Image]:
        rows = self.db.query(
            "SELECT i.id, i.manifest_digest, i.created, i.size, t.name FROM images i "
            f"LEFT JOIN tags t ON t.image_id = i.id {where}",
            params,
        )
        found: dict[str, Image] = {}
        for r in rows:
            img = found.get(r["id"])
            if img is None:
                img = found[r["id"]] = Image(
                    self.content, r["id"], r["manifest_digest"], r["created"], r["size"], []
                )
            if r["name"] is not None:
                img.tags = sorted([*img.tags, r["name"]])
        if found:
            for r in self.db.query("SELECT name, image_id FROM repo_digests"):
                img = found.get(r["image_id"])
                if img is not None:
                    img.digests = sorted([*img.digests, r["name"]])
        return list(found.values())

    def get(self, image_id: str) -> Image:
        """The image with full ID ``image_id``; raises ``NotFound``."""
        found = self._images("WHERE i.id = ?", (image_id,))
        if not found:
            raise NotFound(f"No such image: {image_id}")
        return found[0]

    def list(self) -> builtins.list[Image]:
        """All images, newest first."""
        return sorted(self._images(), key=lambda i: (i.created, i.id), reverse=True)

    def lookup_tag(self, ref: reference.Reference) -> Image | None:
        """The image tagged ``ref`` (full normalised form), or ``None``."""

        rows = self.db.query("SELECT image_id FROM tags WHERE name = ?", (str(ref),))
        return self.get(rows[0]["image_id"]) if rows else None

    def lookup_digest(self, ref: reference.Reference) -> Image | None:
        """The image recorded under the RepoDigest ``ref`` (``name@sha256:...``; a tag in
        ``ref`` is ignored, as Docker does), or ``None``."""

        if ref.digest is None:
            return None
        name = f"{ref.name}@{ref.digest}"
        rows = self.db.query("SELECT image_id FROM repo_digests WHERE name = ?", (name,))
        return self.get(rows[0]["image_id"]) if rows else None

    def repo_digests(self, image_id: str) -> builtins.list[str]:
        """The image's RepoDigests in familiar form (``busybox@sha256:...``), sorted."""
        from dockyard import reference

        rows = self.db.query("SELECT name FROM repo_digests WHERE image_id = ?", (image_id,))
        return sorted(reference.parse(r["name"]).familiar() for r in rows)

    def add_repo_digest(self, image_id: str, ref: reference.Reference, manifest: bytes) -> None:
        """Record that ``ref.name`` serves ``image_id`` under manifest digest ``ref.digest``
        (after a push), ``manifest`` being that manifest's (or index's) bytes: stored as a
        blob, which the RepoDigest keeps. The blob is (re)stored under the write lock that
        removals decide under, so no removal deletes it before the row exists. Nothing is
        recorded when the image was removed meanwhile. Raises ``InvalidArgument`` without
        a digest or when ``manifest`` does not match it."""

        if ref.digest is None:
            raise InvalidArgument(f"{ref} has no digest")
        self.content.put(manifest)  # written (and synced) outside the write lock
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                self._insert_repo_digest(conn, image_id, ref, manifest)

    def _insert_repo_digest(
        self, conn: Any, image_id: str, ref: reference.Reference, manifest: bytes
    ) -> None:
        """Store ``manifest`` and record RepoDigest ``ref`` (``name@digest``) of
        ``image_id``, inside the caller's write transaction ``conn``."""
        if self.content.put(manifest) != ref.digest:
            raise InvalidArgument(f"{ref}: the manifest given has another digest")
        conn.execute(
            "INSERT OR REPLACE INTO repo_digests (name, image_id) VALUES (?, ?)",
            (f"{ref.name}@{ref.digest}", image_id),
        )

    def resolve(self, name_or_id: str) -> Image:
        """Find an image as Docker does: full ID, then tag, then unique ID prefix.

        Raises ``NotFound("No such image: <familiar name:tag>")``.
        """
        import re

        from dockyard import reference

        text = name_or_id
        if re.fullmatch(_DIGEST_RE, text) or re.fullmatch(r"[a-f0-9]{64}", text):
            full = text if text.startswith("sha256:") else "sha256:" + text
            found = self._images("WHERE i.id = ?", (full,))
            if found:
                return found[0]
            raise NotFound(f"No such image: {text}")
        shown = text
        try:
            ref = reference.parse(text)
        except InvalidArgument:
            ref = None
        if ref is not None:
            shown = ref.familiar()
            img = self.lookup_tag(ref) if ref.digest is None else self.lookup_digest(ref)
            if img is not None:
                return img
        m = re.fullmatch(_ID_PREFIX_RE, text)
        if m is not None:
            rows = self.db.query(
                "SELECT id FROM images WHERE substr(id, 8, ?) = ?", (len(m.group(1)), m.group(1))
            )
            if len(rows) == 1:
                return self.get(rows[0]["id"])
        raise NotFound(f"No such image: {shown}")

    # -- changes ------------------------------------------------------------------------
    def add(
        self,
        manifest: bytes,
        config: bytes,
        size: int | None = None,
        tag: reference.Reference | None = None,
        repo_digest: tuple[reference.Reference, bytes] | None = None,
    ) -> Image:
        """Store ``manifest`` and ``config`` blobs and record the image; returns it.

        Every layer blob the manifest names and every layer (diff id) the config names must
        already be stored. ``size`` is the uncompressed size in bytes (default: the sum of
        the manifest's layer sizes). Adding an existing image records no other image (it
        keeps its manifest). ``tag`` (a reference without digest) is pointed at the image
        and ``repo_digest`` (``(name@digest, the manifest or index bytes of that
        digest)``, what a pull was served) recorded in the same transaction as the image
        row, so no removal or prune sees the image untagged or the RepoDigest's blob
        unreferenced in between. Raises ``InvalidArgument`` for malformed documents,
        ``NotFound`` for missing layers.
        """
        import json

        from dockyard.snapshot import LayerStore

        try:
            m = json.loads(manifest)
            c = json.loads(config)
            layer_digests = [d["digest"] for d in m.get("layers", [])]
            diff_ids = list(c["rootfs"]["diff_ids"])
            layer_size = sum(int(d["size"]) for d in m.get("layers", []))
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidArgument(f"invalid image manifest or config: {e}") from None
        config_digest = self.content.put(config)
        if m.get("config", {}).get("digest") != config_digest:
            raise InvalidArgument(
                f"manifest names config {m.get('config', {}).get('digest')}, not {config_digest}"
            )
        manifest_digest = self.content.put(manifest)
        if repo_digest is not None:
            self.content.put(repo_digest[1])  # written (and synced) outside the write lock
        created = str(c.get("created") or "0001-01-01T00:00:00Z")
        layers = LayerStore(self.paths)
        with self.db.write() as conn:
            # Checked under the write lock: a concurrent remove cannot delete them now.
            # The documents are stored again if a removal deleted them since (a stat).
            self.content.put(config)
            self.content.put(manifest)
            for d in layer_digests:
                if not self.content.exists(d):
                    raise NotFound(f"layer blob {d} is missing")
            for d in diff_ids:
                if not layers.exists(d):
                    raise NotFound(f"layer {d} is missing")
            conn.execute(
                "INSERT OR IGNORE INTO images (id, manifest_digest, created, size) "
                "VALUES (?, ?, ?, ?)",
                (config_digest, manifest_digest, created, layer_size if size is None else size),
            )
            if tag is not None:
                if tag.digest is not None:
                    raise InvalidArgument("refusing to create a tag with a digest reference")
                conn.execute(
                    "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)",
                    (str(tag), config_digest),
                )
            if repo_digest is not None:
                self._insert_repo_digest(conn, config_digest, *repo_digest)
        return self.get(config_digest)

    def tag(self, image_id: str, ref: reference.Reference | str) -> None:
        """Point tag ``ref`` at ``image_id`` (moving it if it pointed elsewhere).

        Raises ``InvalidArgument`` for a digest reference, ``NotFound`` for a missing image.
        """
        from dockyard import reference

        if isinstance(ref, str):
            ref = reference.parse(ref)
        if ref.digest is not None:
            raise InvalidArgument("refusing to create a tag with a digest reference")
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM images WHERE id = ?", (image_id,)).fetchone():
                raise NotFound(f"No such image: {image_id}")
            conn.execute(
                "INSERT OR REPLACE INTO tags (name, image_id) VALUES (?, ?)", (str(ref), image_id)
            )

    def untag(self, ref: reference.Reference | str) -> None:
        """Delete tag ``ref``; raises ``NotFound`` if it does not exist."""
        from dockyard import reference

        if isinstance(ref, str):
            ref = reference.parse(ref)
        table, key = ("tags", str(ref))
        if ref.digest is not None:
            table, key = ("repo_digests", f"{ref.name}@{ref.digest}")
        with self.db.write() as conn:
            if conn.execute(f"DELETE FROM {table} WHERE name = ?", (key,)).rowcount == 0:
                raise NotFound(f"No such image: {ref.familiar()}")
        if ref.digest is not None:
            self._collect([ref.digest], [])  # the manifest that RepoDigest kept

    def _untag_repo_digests(self, image_id: str, name: str | None) -> builtins.list[str]:
        """Drop the image's RepoDigests (of repository ``name``, or all); returns them in
        familiar form. Docker drops them with the repository's last tag."""
        from dockyard import reference

        found = [
            r["name"]
            for r in self.db.query("SELECT name FROM repo_digests WHERE image_id = ?", (image_id,))
            if name is None or r["name"].split("@", 1)[0] == name
        ]
        with self.db.write() as conn:
            for n in found:
                conn.execute("DELETE FROM repo_digests WHERE name = ?", (n,))
        # Rows first, files after: a manifest pulled for this image goes with its digest.
        self._collect([n.rsplit("@", 1)[1] for n in found], [])
        return sorted(reference.parse(n).familiar() for n in found)

    def set_parent(self, image_id: str, parent_id: str) -> None:
        """Record that a build step made ``image_id`` from ``parent_id`` (Docker's image
        parent chain: intermediate images are the untagged parents of other images)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO image_parents (image_id, parent) VALUES (?, ?)",
                (image_id, parent_id),
            )

    def parent_chain(self, image_id: str) -> builtins.list[str]:
        """``image_id`` and the images it was built from, nearest first, as far as they
        still exist (``docker history`` shows their IDs)."""
        chain = [image_id]
        while True:
            row = self.db.query(
                "SELECT p.parent FROM image_parents p JOIN images i ON i.id = p.parent"
                " WHERE p.image_id = ?",
                (chain[-1],),
            )
            if not row or row[0]["parent"] in chain:
                return chain
            chain.append(row[0]["parent"])

    def intermediate_ids(self) -> set[str]:
        """IDs of untagged images that another image was built from: ``docker images``
        lists them only with ``-a``."""
        rows = self.db.query(
            "SELECT DISTINCT p.parent AS id FROM image_parents p"
            " JOIN images i ON i.id = p.image_id"
            " WHERE p.parent NOT IN (SELECT image_id FROM tags)"
        )
        return {r["id"] for r in rows}

    def _parent_to_prune(self, image_id: str) -> str | None:
        """The parent of a just-deleted ``image_id`` if it is now an unused intermediate:
        untagged, no other child, no container using it."""
        row = self.db.query("SELECT parent FROM image_parents WHERE image_id = ?", (image_id,))
        if not row:
            return None
        parent = row[0]["parent"]
        busy = self.db.query(
            "SELECT 1 FROM tags WHERE image_id = ?"
            " UNION ALL SELECT 1 FROM image_parents p JOIN images i ON i.id = p.image_id"
            " WHERE p.parent = ? AND p.image_id != ?"
            " UNION ALL SELECT 1 FROM containers WHERE image_id = ?",
            (parent, parent, image_id, parent),
        )
        exists = self.db.query("SELECT 1 FROM images WHERE id = ?", (parent,))
        return parent if exists and not busy else None

    def remove(self, image_id: str) -> builtins.list[str]:
        """Delete image ``image_id``, its tags, and the blobs and layers no other image uses.

        References first, files after: the rows go in one committed transaction, then
        the files nothing references any more (:meth:`_collect`), so a kill at any point
        leaves the image whole or gone, at worst with unreferenced files the garbage
        collector (``dockyard.engine.gc``) removes. The caller checks containers first
        (see ``delete``). Returns the diff ids of the layers removed. Raises ``NotFound``.
        """
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT manifest_digest FROM images WHERE id = ?", (image_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"No such image: {image_id}")
            blobs, diff_ids, _ = self._references_of(image_id, row["manifest_digest"], conn)
            conn.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM repo_digests WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM image_parents WHERE image_id = ?", (image_id,))
            conn.execute("DELETE FROM images WHERE id = ?", (image_id,))
        return self._collect(blobs, diff_ids)

    def discard_unreferenced(
        self, blobs: builtins.list[str], diff_ids: builtins.list[str]
    ) -> builtins.list[str]:
        """Delete those of ``blobs`` and layers ``diff_ids`` that no image references.

        For cleaning up after a failed import or pull. Returns the diff ids removed.
        """
        return self._collect(blobs, diff_ids)

    def referenced(self, conn: Any = None) -> tuple[set[str], set[str], dict[str, str]]:
        """(blob digests, layer diff ids, damaged images) the recorded images use: what
        the garbage collector keeps. Damaged images map an image ID to the digest of its
        blob that is missing or corrupt, the config's when both are: which blobs (its
        manifest names them) or layers (its config) such an image uses is not known, so
        while one is recorded no blob is unreferenced, nor any layer when it is the
        config. ``conn`` is a connection inside a transaction (default: the store's)."""
        conn = conn if conn is not None else self.db.conn
        keep_blobs: set[str] = set()
        keep_layers: set[str] = set()
        damaged: dict[str, str] = {}
        for other in conn.execute("SELECT id, manifest_digest FROM images").fetchall():
            other_blobs, other_diffs, unread = self._references_of(
                other["id"], other["manifest_digest"], conn
            )
            keep_blobs.update(other_blobs)
            keep_layers.update(other_diffs)
            if unread:
                damaged[other["id"]] = unread
        return keep_blobs, keep_layers, damaged

    def _collect(
        self, blobs: builtins.list[str], diff_ids: builtins.list[str]
    ) -> builtins.list[str]:
        """Delete those of ``blobs`` and layers ``diff_ids`` no recorded image uses; the
        callers have committed the removal of their references already.

        Decided under the database's write lock, which ``add`` holds while it checks that
        its layers exist and inserts its row, so an image added meanwhile keeps what it
        uses; nothing is written in that transaction, so a kill rolls nothing back.
        Layers are only renamed away there (``layers/.tmp-<pid>-...``, atomic) and
        deleted after it. Returns the diff ids removed."""
        from dockyard.snapshot import LayerStore

        layers = LayerStore(self.paths)
        runroot = self.paths.runroot
        removed = []
        doomed = []
        with self.db.write() as conn:
            keep_blobs, keep_layers, damaged = self.referenced(conn)
            unknown_blobs = bool(damaged)
            unknown_layers = any(d == i for i, d in damaged.items())  # a config is unread
            for d in dict.fromkeys(diff_ids):
                if d in keep_layers or unknown_layers:
                    continue
                with unpinned(runroot, d) as free:  # a pull in flight relies on it
                    moved = layers.discard(d) if free else None
                if moved is not None:
                    doomed.append(moved)
                    removed.append(d)
            for b in dict.fromkeys(blobs):
                if b in keep_blobs or unknown_blobs:
                    continue
                with unpinned(runroot, b) as free:
                    if free:
                        self.content.remove(b)
        for path in doomed:
            layers.delete_discarded(path)
        return removed

    def _references_of(
        self, image_id: str, manifest_digest: str, conn: Any
    ) -> tuple[builtins.list[str], builtins.list[str], str]:
        """(all blob digests, diff ids, unread) of an image, read from its blobs and,
        through ``conn`` (inside the caller's transaction), its RepoDigests: a pull of an
        image that was here already stores that registry's manifest (or index) beside
        the image's own. ``unread`` is the digest of the manifest or config blob that is
        missing or corrupt ("" when both were read): its layer blobs or diff ids are
        then not known, and the caller must keep every blob or layer.
        """
        import json

        blobs = [image_id, manifest_digest]
        rows = conn.execute("SELECT name FROM repo_digests WHERE image_id = ?", (image_id,))
        blobs.extend(r["name"].rsplit("@", 1)[1] for r in rows.fetchall())
        diff_ids: builtins.list[str] = []
        unread = ""
        try:
            m = json.loads(self.content.read(manifest_digest))
            blobs.extend(str(d["digest"]) for d in m.get("layers", []))
        except (DockyardError, ValueError, KeyError, TypeError, AttributeError):
            unread = manifest_digest
        try:
            c = json.loads(self.content.read(image_id))
            diff_ids = [str(d) for d in c["rootfs"]["diff_ids"]]
        except (DockyardError, ValueError, KeyError, TypeError, AttributeError):
            unread = image_id
        return blobs, diff_ids, unread

    def _containers_using(self, image_id: str) -> builtins.list[tuple[str, bool]]:
        """(container id, running) of every container created from ``image_id``."""
        import json

        out = []
        for r in self.db.query("SELECT id, state FROM containers WHERE image_id = ?", (image_id,)):
            try:
                state = json.loads(r["state"])
            except ValueError:
                state = {}
            running = bool(state.get("Running")) or state.get("Status") in (
                "running",
                "paused",
                "restarting",
            )
            out.append((r["id"], running))
        # Running containers first: they make the strongest conflict.
        return sorted(out, key=lambda c: not c[1])

    def delete(
        self, name_or_id: str, force: bool = False, noprune: bool = False
    ) -> builtins.list[tuple[str, str]]:
        """``docker rmi``: untag and/or delete an image; returns records in order. With
        ``noprune`` (``rmi --no-prune``) the untagged parents it was built from stay.

        Records are ``("Untagged", "busybox:latest")`` and ``("Deleted", "sha256:...")`` (the
        image ID, then the chain IDs of removed layers). A tag given by name is untagged;
        the image goes with its last tag unless a container uses it. An image given by ID
        loses all its tags; several tags need ``force``. An image used by a container is
        never deleted: ``force`` only untags it (Docker keeps it as ``<none>``). Raises
        ``NotFound`` and ``Conflict`` with Docker's messages.
        """
        from dockyard import reference

        img = self.resolve(name_or_id)
        records: builtins.list[tuple[str, str]] = []
        users = self._containers_using(img.id)
        by_id = _is_id_prefix(img.id, name_or_id)
        if not by_id:
            ref = reference.parse(name_or_id)
            if not force and len(img.tags) == 1 and users:
                raise Conflict(
                    f'conflict: unable to remove repository reference "{name_or_id}" '
                    f"(must force) - container {short_id(users[0][0])} is using its "
                    f"referenced image {short_id(img.id)}"
                )
            self.untag(ref)
            records.append(("Untagged", ref.familiar()))
            if ref.digest is None and not any(
                reference.parse(t).name == ref.name for t in img.tags if t != str(ref)
            ):
                records.extend(("Untagged", d) for d in self._untag_repo_digests(img.id, ref.name))
            if users or self.get(img.id).tags or self.repo_digests(img.id):
                return records
        else:
            if len(img.tags) > 1 and not force:
                raise Conflict(
                    f"conflict: unable to delete {short_id(img.id)} (must be forced) - "
                    "image is referenced in multiple repositories"
                )
            if users:
                cid, running = users[0]
                if running:
                    raise Conflict(
                        f"conflict: unable to delete {short_id(img.id)} (cannot be forced) - "
                        f"image is being used by running container {short_id(cid)}"
                    )
                if not force:
                    raise Conflict(
                        f"conflict: unable to delete {short_id(img.id)} (must be forced) - "
                        f"image is being used by stopped container {short_id(cid)}"
                    )
            for t in img.tags:
                self.untag(t)
                records.append(("Untagged", reference.parse(t).familiar()))
            records.extend(("Untagged", d) for d in self._untag_repo_digests(img.id, None))
            if users:
                return records
        # The image, then the intermediate images it was built from that nothing else needs.
        target: Image | None = img
        while target is not None:
            parent = None if noprune else self._parent_to_prune(target.id)
            diff_ids = target.diff_ids
            chains = dict(zip(diff_ids, chain_ids(diff_ids), strict=True))
            removed = self.remove(target.id)
            records.append(("Deleted", target.id))
            records.extend(("Deleted", chains[d]) for d in removed)
            target = self.get(parent) if parent else None
        return records


def _is_id_prefix(image_id: str, text: str) -> bool:
    """Whether ``text`` names ``image_id`` by ID (full, ``sha256:`` or a hex prefix)."""
    import re

    m = re.fullmatch(_ID_PREFIX_RE, text)
    return m is not None and image_id[7:].startswith(m.group(1))
