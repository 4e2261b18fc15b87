"""``docker pull``: manifests, platform selection, parallel verified layer downloads.

Docker's order of events for each layer (``Pulling fs layer``, ``Waiting``,
``Downloading``, ``Verifying Checksum``, ``Download complete``, ``Extracting``, ``Pull
complete``, or ``Already exists``), then ``Digest:`` and ``Status:``. Crash safety: a
layer blob is streamed to a temporary file, checked against its size and digest and
renamed into ``blobs/``; it is unpacked into a temporary directory, checked against the
config's diff id and renamed into ``layers/``; the image row and tag come last. A pull
killed at any point leaves only complete, verified blobs and layers (reused by the next
pull) and temporary files of a dead process (swept by the next writer). Each layer is
fetched under a lock on its digest, so two pulls racing for it store it once.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard import reference
from dockyard.distribution import media
from dockyard.distribution import progress as msg
from dockyard.distribution.client import Registry, RegistryError, Unreachable, connect
from dockyard.distribution.config import RegistryConfig
from dockyard.distribution.credentials import Credentials
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image.store import Image, ImageStore, lock_file, unlock_file

Emit = Callable[[dict[str, Any]], None]
_CHUNK = 1 << 20
_PROGRESS_EVERY = 0.1  # seconds between progress messages of one layer


@dataclass
class PullResult:
    """What a pull stored: the ``image``, the manifest ``digest`` the registry served
    (the index's for a multi-platform image), and whether the tag or image is new."""

    image: Image
    digest: str
    updated: bool


def _scopes(ref: reference.Reference) -> tuple[str, ...]:
    return (f"repository:{ref.path}:pull",)


def _read_limited(resp: Any, limit: int, what: str) -> bytes:
    length = resp.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise DockyardError(f"{what} too large: {length} bytes is over the {limit}-byte limit")
    data = bytearray()
    for chunk in resp.iter_bytes():
        data += chunk
        if len(data) > limit:
            raise DockyardError(f"{what} too large: over the {limit}-byte limit")
    return bytes(data)


def _media_type(content_type: str, body: dict[str, Any]) -> str:
    """The manifest's media type: the Content-Type, else the body's ``mediaType``, else
    what its shape says (distribution's ``UnmarshalManifest`` with OCI's fallbacks)."""
    ct = content_type.split(";", 1)[0].strip().lower()
    known = (*media.MANIFESTS, *media.INDEXES, media.DOCKER_SCHEMA1, media.DOCKER_SCHEMA1_SIGNED)
    if ct in known:
        return ct
    declared = body.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if ct in ("", "application/json", "text/plain", "application/octet-stream"):
        if body.get("schemaVersion") == 1:
            return media.DOCKER_SCHEMA1
        if "manifests" in body:
            return media.OCI_INDEX
        if "config" in body and "layers" in body:
            return media.OCI_MANIFEST
    return ct


def fetch_manifest(reg: Registry, ref: reference.Reference, target: str) -> tuple[bytes, str, str]:
    """GET the manifest ``target`` (a tag or digest) of ``ref``'s repository; returns
    ``(bytes, media type, digest)``, the digest verified when ``target`` is one.

    Raises ``NotFound`` with Docker's messages for a missing tag or repository,
    ``DockyardError`` for a manifest over 4 MiB, a digest mismatch, schema 1 or an
    unknown media type.
    """
    path = f"/v2/{ref.path}/manifests/{target}"
    try:
        with reg.request("GET", path, _scopes(ref), {"Accept": media.ACCEPT}) as resp:
            data = _read_limited(resp, media.MAX_MANIFEST, "manifest")
            content_type = resp.headers.get("content-type", "")
            served = resp.headers.get("docker-content-digest", "")
    except RegistryError as e:
        if e.status == 404 and e.code in ("MANIFEST_UNKNOWN", ""):
            shown = ref.familiar_name() + (
                f"@{target}" if target.startswith("sha256:") else f":{target}"
            )
            raise NotFound(f"manifest for {shown} not found: {e}") from None
        if e.status in (401, 403, 404) and not isinstance(e, Unreachable):
            raise NotFound(
                f"pull access denied for {ref.familiar_name()}, repository does not exist or "
                f"may require 'docker login': {e}"
            ) from None
        raise
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if target.startswith("sha256:") and digest != target:
        raise DockyardError(f"manifest verification failed for digest {target}")
    if served.startswith("sha256:") and not target.startswith("sha256:") and served != digest:
        raise DockyardError(f"manifest verification failed for digest {served}")
    try:
        body = json.loads(data)
    except ValueError:
        raise DockyardError(f"invalid manifest for {ref.familiar()}: not JSON") from None
    if not isinstance(body, dict):
        raise DockyardError(f"invalid manifest for {ref.familiar()}: not a JSON object")
    mt = _media_type(content_type, body)
    if mt in (media.DOCKER_SCHEMA1, media.DOCKER_SCHEMA1_SIGNED):
        raise media.schema1_error(str(ref))
    if mt not in (*media.MANIFESTS, *media.INDEXES):
        raise DockyardError(f"unsupported manifest media type and no default available: {mt}")
    return data, mt, digest


class _LayerLock:
    """An exclusive flock on ``<runroot>/locks/blob-<hex>`` for one layer's fetch (the
    file is removed after it: see ``image.store.lock_file``)."""

    def __init__(self, runroot: str, digest: str) -> None:
        self._path = os.path.join(runroot, "locks", "blob-" + digest[7:])
        self._fd = -1

    def __enter__(self) -> _LayerLock:
        self._fd = lock_file(self._path, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        unlock_file(self._path, self._fd)


class _ProgressReader:
    """Reads a file, emitting ``Extracting`` progress at most every 0.1 s."""

    def __init__(self, f: Any, emit: Emit, short: str, total: int) -> None:
        self._f, self._emit, self._short, self._total = f, emit, short, total
        self._done = 0
        self._start = time.time()
        self._last = 0.0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._f.read(size)
        self._done += len(data)
        now = time.monotonic()
        if now - self._last >= _PROGRESS_EVERY and data:
            self._last = now
            self._emit(
                msg.progress("Extracting", self._short, self._done, self._total, self._start)
            )
        return data


class Puller:
    """One ``docker pull``: ``store`` is the image store, ``cfg`` the registry settings,
    ``emit`` receives Docker's JSON progress messages (called from several threads),
    ``runroot`` holds the layer locks, ``login`` replaces the stored login."""

    def __init__(
        self,
        store: ImageStore,
        cfg: RegistryConfig,
        emit: Emit,
        runroot: str,
        login: Credentials | None = None,
    ) -> None:
        #: Credentials for the image's registry instead of the stored login.
        self.login = login
        self.store = store
        self.cfg = cfg
        self.emit = emit
        self.runroot = runroot
        self._emit_lock = threading.Lock()
        self._registries: list[Registry] = []
        self._aborted = False

    def _send(self, m: dict[str, Any]) -> None:
        with self._emit_lock:
            self.emit(m)

    def abort(self) -> None:
        """Cut the pull's connections, now and to come (from any thread, for Ctrl-C):
        its threads' requests fail at once, and they unwind."""
        with self._emit_lock:
            self._aborted = True
            registries = list(self._registries)
        for reg in registries:
            reg.abort()

    # -- endpoints ------------------------------------------------------------------------
    def endpoints(self, ref: reference.Reference) -> list[Registry]:
        """Registries to try for ``ref``: Docker Hub's mirrors first, then the registry."""
        out = []
        if ref.domain == reference.DEFAULT_DOMAIN:
            out += [connect(ref.domain, self.cfg, base=m) for m in self.cfg.mirrors]
        out.append(connect(ref.domain, self.cfg, login=self.login))
        with self._emit_lock:
            self._registries += out
            aborted = self._aborted
        if aborted:
            for reg in out:
                reg.abort()
        return out

    def resolve(self, ref: reference.Reference, target: str) -> tuple[Registry, bytes, str, str]:
        """The first endpoint that serves manifest ``target``, and the manifest. A mirror
        that fails or lacks it is skipped, as dockerd does."""
        regs = self.endpoints(ref)
        last: DockyardError | None = None
        for i, reg in enumerate(regs):
            mirror = i < len(regs) - 1
            try:
                data, mt, digest = fetch_manifest(reg, ref, target)
            except (RegistryError, NotFound) as e:
                reg.close()
                last = e
                if mirror:
                    continue
                raise
            except BaseException:
                reg.close()
                raise
            for other in regs[i + 1 :]:
                other.close()
            return reg, data, mt, digest
        assert last is not None
        raise last

    # -- pull -----------------------------------------------------------------------------
    def pull(self, ref: reference.Reference, platform: str | None = None) -> PullResult:
        """Pull ``ref`` (a tag or digest reference) for ``platform`` (``--platform``; the
        host's by default), tag it and record its RepoDigest. Raises ``DockyardError``
        subclasses with one-line messages; nothing half-made is left recorded."""
        want = media.parse_platform(platform)
        target = ref.digest or ref.tag or reference.DEFAULT_TAG
        reg, data, mt, top_digest = self.resolve(ref, target)
        tag = ref if ref.tag is not None and ref.digest is None else None
        try:
            self._send(msg.status(f"Pulling from {ref.path}", target, layer=False))
            manifest_bytes = data
            if mt in media.INDEXES:
                desc = media.select_manifest(json.loads(data), want)
                manifest_bytes, mt, _ = fetch_manifest(reg, ref, str(desc.get("digest", "")))
                if mt in media.INDEXES:
                    raise DockyardError("invalid manifest: an index inside an index")
            previous = self.store.lookup_tag(tag) if tag is not None else None
            repo_digest = (reference.Reference(ref.name, None, top_digest), data)
            image, updated = self._pull_manifest(
                reg, ref, manifest_bytes, want if platform else None, tag, repo_digest
            )
        finally:
            reg.close()
        if tag is not None:
            updated = updated or previous is None or previous.id != image.id
        self._send(msg.status(f"Digest: {top_digest}"))
        return PullResult(image, top_digest, updated)

    def _pull_manifest(
        self,
        reg: Registry,
        ref: reference.Reference,
        manifest_bytes: bytes,
        platform: tuple[str, str, str] | None,
        tag: reference.Reference | None,
        repo_digest: tuple[reference.Reference, bytes],
    ) -> tuple[Image, bool]:
        """Fetch what the image of ``manifest_bytes`` lacks and record it, with ``tag``
        and ``repo_digest`` (see ``ImageStore.add``); returns ``(image, whether it is
        new)``. The layers it relies on are pinned until the image row exists; those no
        image uses then (it failed, or the image was here under another manifest) are
        removed, unless another pull pins them."""
        try:
            m = json.loads(manifest_bytes)
            config_desc = m["config"]
            layers = list(m.get("layers") or [])
            config_digest = str(config_desc["digest"])
            config_size = int(config_desc.get("size", 0))
            for d in layers:
                str(d["digest"]), int(d["size"])
        except (ValueError, KeyError, TypeError, OverflowError):  # OverflowError: size 1e400
            raise DockyardError(f"invalid manifest for {ref.familiar()}") from None
        for d in layers:
            if d.get("mediaType") not in media.LAYERS:
                raise DockyardError(f"unsupported layer media type {d.get('mediaType')!r}")
        try:
            existing = self.store.get(config_digest)
        except (NotFound, InvalidArgument):
            existing = None
        config_bytes = self._config(reg, ref, config_digest, config_size)
        try:
            config = json.loads(config_bytes)
            diff_ids = [str(x) for x in config["rootfs"]["diff_ids"]]
            actual = media.normalise_platform(
                str(config.get("os", "")),
                str(config.get("architecture", "")),
                str(config.get("variant", "")),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise DockyardError(f"invalid image config {config_digest}") from None
        if platform is not None and (
            actual[:2] != platform[:2] or (platform[2] and actual[2] != platform[2])
        ):
            # A single-platform image is what it is: --platform asked for another.
            raise DockyardError(
                f"image with reference {ref.familiar()} was found but does not match the "
                f"specified platform: wanted {media.format_platform(platform)}, actual: "
                f"{media.format_platform(actual)}"
            )
        if len(diff_ids) != len(layers):
            raise DockyardError(
                f"invalid image {config_digest}: {len(layers)} layers, {len(diff_ids)} diff ids"
            )
        pins = self.store.pins()
        blobs = [str(d["digest"]) for d in layers]
        try:
            sizes = self._layers(reg, ref, layers, diff_ids, pins)
            image = self.store.add(
                manifest_bytes, config_bytes, sum(sizes), tag=tag, repo_digest=repo_digest
            )
        except BaseException:
            pins.release()
            self.store.discard_unreferenced(blobs, diff_ids)
            raise
        pins.release()
        if image.manifest_digest != "sha256:" + hashlib.sha256(manifest_bytes).hexdigest():
            # The image was stored before under another manifest (other compression):
            # it keeps that one, and the layer blobs of this one are not needed.
            self.store.discard_unreferenced(blobs, [])
        return image, existing is None

    def _config(self, reg: Registry, ref: reference.Reference, digest: str, size: int) -> bytes:
        content = self.store.content
        if content.exists(digest):
            try:
                return content.read(digest)
            except DockyardError:
                pass
        with reg.request("GET", f"/v2/{ref.path}/blobs/{digest}", _scopes(ref)) as resp:
            data = _read_limited(resp, media.MAX_CONFIG, "image config")
        got = "sha256:" + hashlib.sha256(data).hexdigest()
        if got != digest or (size and len(data) != size):
            raise DockyardError(f"image config verification failed for digest {digest}")
        return data

    def _layers(
        self,
        reg: Registry,
        ref: reference.Reference,
        layers: list[dict[str, Any]],
        diff_ids: list[str],
        pins: Any,
    ) -> list[int]:
        """Fetch and unpack the layers, each on a thread of its own, ``max_downloads``
        downloading and as many unpacking at a time; returns their uncompressed sizes
        in bytes, in order. Download slots go to the layers in manifest order (this
        thread takes one, then starts the layer's thread with it), as Docker's
        ``Waiting`` lines say. When a layer fails, layers not started yet are not,
        those under way are let finish, and the first failed layer's error (in
        manifest order) is raised. Each blob and layer is pinned in ``pins`` (an
        ``image.store.Pins``) before it is looked for, so that no removal deletes it
        before the image row exists."""
        from dockyard.snapshot import LayerStore

        layer_store = LayerStore(self.store.paths)
        content = self.store.content
        sizes = [0] * len(layers)
        todo: list[int] = []
        for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            short = desc["digest"][7:19]
            pins.hold(desc["digest"])
            pins.hold(diff_id)
            if content.exists(desc["digest"]) and layer_store.exists(diff_id):
                self._send(msg.status("Already exists", short))
                sizes[i] = layer_store.content_size(diff_id)
            else:
                self._send(msg.status("Pulling fs layer", short))
                todo.append(i)
        for n, i in enumerate(todo):
            if n >= self.cfg.max_downloads:
                self._send(msg.status("Waiting", layers[i]["digest"][7:19]))
        if not todo:
            return sizes
        limits = _Limits(self.cfg.max_downloads)
        errors: dict[int, BaseException] = {}

        def job(i: int, slot: _Slot) -> None:
            try:
                sizes[i] = self._layer(reg, ref, layers[i], diff_ids[i], layer_store, limits, slot)
            except BaseException as e:  # handed to the pulling thread
                limits.failed.set()
                errors[i] = e
            finally:
                slot.release()

        if len(todo) == 1:
            job(todo[0], _Slot(limits.downloads))  # on this thread: one thread fewer
        else:
            threads = []
            for i in todo:
                slot = _Slot(limits.downloads)
                if limits.failed.is_set():
                    slot.release()
                    break
                t = threading.Thread(
                    target=job, args=(i, slot), name=f"dockyard-layer-{i}", daemon=True
                )
                t.start()
                threads.append(t)
            for t in threads:
                t.join()
        if errors:
            raise errors[min(errors)]
        return sizes

    def _layer(
        self,
        reg: Registry,
        ref: reference.Reference,
        desc: dict[str, Any],
        diff_id: str,
        layer_store: Any,
        limits: _Limits,
        slot: _Slot,
    ) -> int:
        """One layer: unpacked while it downloads (unless stored), blob and layer each
        verified before they are renamed into place. ``slot`` is the layer's download
        slot, released as soon as it is not needed. Returns the uncompressed size."""
        digest, size = str(desc["digest"]), int(desc["size"])
        short = digest[7:19]
        content = self.store.content
        with _LayerLock(self.runroot, digest):
            have_blob = content.exists(digest)
            if layer_store.exists(diff_id):
                if not have_blob:
                    _Download(self, reg, ref, digest, size, short, slot, follow=False).run()
                self._send(msg.status("Pull complete", short))
                return int(layer_store.content_size(diff_id))
            if have_blob:
                slot.release()
                self._send(msg.status("Download complete", short))
                with limits.unpacks, open(content.path(digest), "rb") as f:
                    reader = _ProgressReader(f, self._send, short, size)
                    unpacked = self._unpack(reader, diff_id, layer_store, None)
            else:
                unpacked = self._fetch_and_unpack(
                    reg, ref, digest, size, short, diff_id, layer_store, limits, slot
                )
            self._send(msg.status("Pull complete", short))
            return unpacked

    def _unpack(
        self, reader: Any, diff_id: str, layer_store: Any, check: Callable[[], None] | None
    ) -> int:
        """Unpack the compressed layer ``reader`` into the layer store (``check`` runs
        before it is renamed into place); returns its uncompressed size."""
        from dockyard.snapshot import open_decompressed

        try:
            _, unpacked = layer_store.add(
                open_decompressed(reader), expected_diff_id=diff_id, check=check
            )
        except InvalidArgument as e:
            if "layer digest mismatch" in str(e):
                raise DockyardError(
                    f"failed to register layer: layer {diff_id} does not match its content"
                ) from None
            raise DockyardError(f"failed to register layer: {e}") from None
        except DockyardError:
            raise
        except Exception as e:  # decompressor errors (zlib, zstd, EOF) on a corrupt blob
            raise DockyardError(f"failed to register layer: {e or type(e).__name__}") from None
        return int(unpacked)

    def _fetch_and_unpack(
        self,
        reg: Registry,
        ref: reference.Reference,
        digest: str,
        size: int,
        short: str,
        diff_id: str,
        layer_store: Any,
        limits: _Limits,
        slot: _Slot,
    ) -> int:
        """Download blob ``digest`` on a thread of its own while this one unpacks the
        temporary blob file as it grows (so the download slot is free as soon as the
        body is in, and downloading and unpacking use a core each). The blob is
        verified and stored before the layer is renamed into place. Returns the
        uncompressed size."""
        download = _Download(self, reg, ref, digest, size, short, slot, follow=True)
        spool = download.spool
        assert spool is not None
        try:
            download.start()

            def check() -> None:
                download.join()  # the blob is verified and stored, or its error is raised
                self._send(msg.progress("Extracting", short, size, size, time.time()))

            with limits.unpacks:
                try:
                    return self._unpack(spool, diff_id, layer_store, check)
                except DockyardError:
                    # The blob of a layer that did not unpack is verified, not stored (one
                    # stored before it was told not to goes with the failed pull's). A
                    # blob that is not what the manifest says, or a download that failed,
                    # explains the failure best.
                    download.keep = False
                    download.join()
                    raise
        finally:
            download.wait()
            spool.close()


class _Limits:
    """Downloads and unpacks running at once (``max-concurrent-downloads`` of each), and
    whether a layer of the pull failed."""

    def __init__(self, n: int) -> None:
        self.downloads = threading.Semaphore(n)
        self.unpacks = threading.Semaphore(n)
        self.failed = threading.Event()


class _Slot:
    """One download slot of ``downloads``, taken (waiting for one) when made; released
    once, by whichever of the layer's thread and its download is done with it first."""

    def __init__(self, downloads: threading.Semaphore) -> None:
        downloads.acquire()
        self._downloads = downloads
        self._lock = threading.Lock()
        self._held = True

    def release(self) -> None:
        with self._lock:
            if self._held:
                self._held = False
                self._downloads.release()


class _DownloadFailed(DockyardError):
    """The download a spool follows failed (its own error says why)."""


class _Spool:
    """The temporary file a blob is downloaded into, read while it grows.

    The downloader calls ``grew`` after each write and ``end`` once the body is in (or
    failed). ``read(n)`` returns up to ``n`` written bytes, waiting on a condition (no
    polling) while there are none yet, b"" at the end of a complete body, and raises
    ``_DownloadFailed`` once the download failed. Reading the file back from the page
    cache lets the download run ahead of the unpacking instead of waiting for it.
    """

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self._cond = threading.Condition()
        self._size = 0
        self._ended = False
        self._failed = False
        self._pos = 0

    def grew(self, size: int) -> None:
        """The file now holds ``size`` bytes."""
        with self._cond:
            self._size = size
            self._cond.notify()

    def end(self, failed: bool) -> None:
        """No more bytes will come; ``failed``: the download failed."""
        with self._cond:
            self._ended = True
            self._failed = self._failed or failed
            self._cond.notify()

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            return b"".join(iter(lambda: self.read(_CHUNK), b""))
        with self._cond:
            while self._pos >= self._size and not self._ended and not self._failed:
                self._cond.wait()
            if self._failed:
                raise _DownloadFailed("the layer's download failed")
            n = min(n, self._size - self._pos)
        if n <= 0:
            return b""
        data = os.pread(self._fd, n, self._pos)
        self._pos += len(data)
        return data

    def close(self) -> None:
        """Close the file (the downloader owns its name)."""
        os.close(self._fd)


class _Download:
    """Blob ``digest`` fetched into a temporary blob file, its size and digest verified
    and the blob stored; on the calling thread (``run``) or a thread of its own
    (``start``, then ``join``). Releases the download ``slot`` when done.
    With ``follow``, ``spool`` reads the file while it is written.

    ``Downloading`` progress is sent at most every 0.1 s; socket reads (64 KiB) are
    joined into pieces of about 1 MiB before they are hashed and written, so each of
    those C calls runs long without the GIL (small ones make threads hand the GIL back
    and forth). Transport errors become one-line ``Unreachable`` errors.
    """

    def __init__(
        self,
        puller: Puller,
        reg: Registry,
        ref: reference.Reference,
        digest: str,
        size: int,
        short: str,
        slot: _Slot,
        follow: bool,
    ) -> None:
        self._puller, self._reg, self._ref = puller, reg, ref
        self._digest, self._size, self._short, self._slot = digest, size, short, slot
        self.error: BaseException | None = None
        #: Whether a verified blob is stored; False (set before ``join``) only verifies it.
        self.keep = True
        self._thread: threading.Thread | None = None
        self._writer = puller.store.content.writer()
        try:
            self.spool = _Spool(self._writer.temp_path) if follow else None
        except BaseException:
            self._writer.abort()
            raise

    def start(self) -> None:
        """Run on a thread of its own."""
        self._thread = threading.Thread(
            target=self._run, name=f"dockyard-blob-{self._short}", daemon=True
        )
        self._thread.start()

    def run(self) -> None:
        """Run on this thread; raises what ``join`` would."""
        self._run()
        if self.error is not None:
            raise self.error

    @property
    def stored(self) -> bool:
        """Whether the blob was verified and stored."""
        return self._writer.committed

    def wait(self) -> None:
        """Wait for the download to end."""
        if self._thread is not None:
            self._thread.join()

    def join(self) -> None:
        """Wait for the download to end; raises its error."""
        self.wait()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            with self._writer:
                self._fetch()
        except OSError as e:  # writing the temporary blob file (ENOSPC, EIO), as moby says it
            self.error = DockyardError(f"write {self._writer.temp_path}: {e.strerror or e}")
        except BaseException as e:  # handed to the thread that joins
            self.error = e
        finally:
            self._slot.release()
            if self.spool is not None:
                self.spool.end(failed=self.error is not None)

    def _fetch(self) -> None:
        import httpx

        from dockyard.distribution.client import transport_error

        digest, size, short, send = self._digest, self._size, self._short, self._puller._send
        writer, spool = self._writer, self.spool
        # Identity: the body is the blob as is, read without httpx's decoder.
        headers = {"Accept-Encoding": "identity"}
        path = f"/v2/{self._ref.path}/blobs/{digest}"
        with self._reg.request("GET", path, _scopes(self._ref), headers) as resp:
            url = str(resp.url)
            encoding = resp.headers.get("content-encoding", "identity").strip().lower()
            # A server that encodes anyway: httpx decodes, as Go's client does.
            chunks = resp.iter_raw() if encoding == "identity" else resp.iter_bytes()
            start, last = time.time(), 0.0
            parts: list[bytes] = []
            got = 0
            try:
                for part in chunks:
                    parts.append(part)
                    got += len(part)
                    if got < _CHUNK:
                        continue
                    writer.write(parts[0] if len(parts) == 1 else b"".join(parts))
                    parts, got = [], 0
                    if writer.size > size:
                        raise DockyardError(
                            f"filesystem layer verification failed for digest {digest}: "
                            f"more than the {size} bytes the manifest gives"
                        )
                    if spool is not None:
                        writer.flush()
                        spool.grew(writer.size)
                    now = time.monotonic()
                    if now - last >= _PROGRESS_EVERY:
                        last = now
                        send(msg.progress("Downloading", short, writer.size, size, start))
            except httpx.HTTPError as e:
                raise transport_error("GET", url, e) from None
        if parts:
            writer.write(b"".join(parts))
        send(msg.status("Verifying Checksum", short))
        if writer.size != size:
            raise DockyardError(
                f"filesystem layer verification failed for digest {digest}: "
                + (
                    f"unexpected EOF after {writer.size} of {size} bytes"
                    if writer.size < size
                    else f"more than the {size} bytes the manifest gives"
                )
            )
        if spool is not None:
            writer.flush()
            spool.grew(writer.size)
            spool.end(failed=False)  # the unpacker may finish while the blob is stored
        if not self.keep:
            if writer.digest != digest:
                raise DockyardError(f"filesystem layer verification failed for digest {digest}")
            return  # the writer drops the file
        try:
            writer.commit(digest)
        except InvalidArgument:
            raise DockyardError(
                f"filesystem layer verification failed for digest {digest}"
            ) from None
        send(msg.status("Download complete", short))


def list_tags(reg: Registry, ref: reference.Reference) -> list[str]:
    """Every tag of ``ref``'s repository (``GET /v2/<name>/tags/list``, following the
    ``Link`` header's pages)."""
    tags: list[str] = []
    path: str | None = f"/v2/{ref.path}/tags/list"
    while path:
        try:
            with reg.request("GET", path, _scopes(ref)) as resp:
                body = json.loads(_read_limited(resp, media.MAX_MANIFEST, "tag list"))
                link = resp.headers.get("link", "")
        except RegistryError as e:
            if e.status in (401, 403, 404):
                raise NotFound(
                    f"pull access denied for {ref.familiar_name()}, repository does not exist "
                    f"or may require 'docker login': {e}"
                ) from None
            raise
        except ValueError:
            raise DockyardError(f"invalid tag list for {ref.familiar_name()}") from None
        page = body.get("tags") if isinstance(body, dict) else None
        if not isinstance(body, dict) or not isinstance(page or [], list):
            raise DockyardError(f"invalid tag list for {ref.familiar_name()}")
        tags += [str(t) for t in page or []]
        path = None
        if link.startswith("<") and ">" in link:
            path = link[1 : link.index(">")]
    return tags
