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
from dockyard.image.store import Image, ImageStore

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
    """An exclusive flock on ``<runroot>/locks/blob-<hex>`` for one layer's fetch."""

    def __init__(self, runroot: str, digest: str) -> None:
        directory = os.path.join(runroot, "locks")
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self._fd = os.open(
            os.path.join(directory, "blob-" + digest[7:]), os.O_RDWR | os.O_CREAT, 0o600
        )

    def __enter__(self) -> _LayerLock:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        os.close(self._fd)


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

    def _send(self, m: dict[str, Any]) -> None:
        with self._emit_lock:
            self.emit(m)

    # -- endpoints ------------------------------------------------------------------------
    def endpoints(self, ref: reference.Reference) -> list[Registry]:
        """Registries to try for ``ref``: Docker Hub's mirrors first, then the registry."""
        out = []
        if ref.domain == reference.DEFAULT_DOMAIN:
            out += [connect(ref.domain, self.cfg, base=m) for m in self.cfg.mirrors]
        out.append(connect(ref.domain, self.cfg, login=self.login))
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
        try:
            self._send(msg.status(f"Pulling from {ref.path}", target, layer=False))
            manifest_bytes = data
            if mt in media.INDEXES:
                desc = media.select_manifest(json.loads(data), want)
                manifest_bytes, mt, _ = fetch_manifest(reg, ref, str(desc.get("digest", "")))
                if mt in media.INDEXES:
                    raise DockyardError("invalid manifest: an index inside an index")
            image, updated = self._pull_manifest(
                reg, ref, manifest_bytes, want if platform else None
            )
        finally:
            reg.close()
        if ref.tag is not None and ref.digest is None:
            previous = self.store.lookup_tag(ref)
            updated = updated or previous is None or previous.id != image.id
            self.store.tag(image.id, ref)
        self.store.add_repo_digest(image.id, reference.Reference(ref.name, None, top_digest))
        self._send(msg.status(f"Digest: {top_digest}"))
        return PullResult(self.store.get(image.id), top_digest, updated)

    def _pull_manifest(
        self,
        reg: Registry,
        ref: reference.Reference,
        manifest_bytes: bytes,
        platform: tuple[str, str, str] | None,
    ) -> tuple[Image, bool]:
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
        made_blobs: list[str] = []
        made_layers: list[str] = []
        try:
            sizes = self._layers(reg, ref, layers, diff_ids, made_blobs, made_layers)
            image = self.store.add(manifest_bytes, config_bytes, sum(sizes))
        except BaseException:
            self.store.discard_unreferenced(made_blobs, made_layers)
            raise
        if image.manifest_digest != "sha256:" + hashlib.sha256(manifest_bytes).hexdigest():
            # The image was stored before under another manifest (other compression):
            # it keeps that one, and the blobs fetched for this one are not needed.
            self.store.discard_unreferenced(made_blobs, made_layers)
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
        made_blobs: list[str],
        made_layers: list[str],
    ) -> list[int]:
        """Fetch and unpack the layers (``max_downloads`` at a time); returns their
        uncompressed sizes in bytes, in order."""
        from dockyard.snapshot import LayerStore

        layer_store = LayerStore(self.store.paths)
        content = self.store.content
        sizes = [0] * len(layers)
        todo: list[int] = []
        for i, (desc, diff_id) in enumerate(zip(layers, diff_ids, strict=True)):
            short = desc["digest"][7:19]
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
        made_lock = threading.Lock()

        def job(i: int) -> None:
            size, new_blob, new_layer = self._layer(reg, ref, layers[i], diff_ids[i], layer_store)
            sizes[i] = size
            with made_lock:
                if new_blob:
                    made_blobs.append(layers[i]["digest"])
                if new_layer:
                    made_layers.append(diff_ids[i])

        if len(todo) == 1:
            # One layer: no pool, no thread to start and hand the work to.
            job(todo[0])
            return sizes
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=self.cfg.max_downloads) as pool:
            futures = [pool.submit(job, i) for i in todo]
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            for f in pending:
                f.cancel()
            for f in futures:
                if f.done() and not f.cancelled() and f.exception() is not None:
                    # Let running downloads end before the caller cleans up after them.
                    wait(futures)
                    raise f.exception()  # type: ignore[misc]
        return sizes

    def _layer(
        self,
        reg: Registry,
        ref: reference.Reference,
        desc: dict[str, Any],
        diff_id: str,
        layer_store: Any,
    ) -> tuple[int, bool, bool]:
        """One layer: unpacked while it downloads (unless stored), blob and layer each
        verified before they are renamed into place. Returns ``(uncompressed size, blob
        new, layer new)``."""
        digest, size = str(desc["digest"]), int(desc["size"])
        short = digest[7:19]
        content = self.store.content
        with _LayerLock(self.runroot, digest):
            have_blob = content.exists(digest)
            if layer_store.exists(diff_id):
                if not have_blob:
                    self._stream_layer(reg, ref, digest, size, short, diff_id, None)
                self._send(msg.status("Pull complete", short))
                return layer_store.content_size(diff_id), not have_blob, False
            if have_blob:
                self._send(msg.status("Download complete", short))
                with open(content.path(digest), "rb") as f:
                    reader = _ProgressReader(f, self._send, short, size)
                    unpacked = self._unpack(reader, diff_id, layer_store, None)
            else:
                unpacked = self._stream_layer(reg, ref, digest, size, short, diff_id, layer_store)
            self._send(msg.status("Pull complete", short))
            return unpacked, not have_blob, True

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

    def _stream_layer(
        self,
        reg: Registry,
        ref: reference.Reference,
        digest: str,
        size: int,
        short: str,
        diff_id: str,
        layer_store: Any,
    ) -> int:
        """Download blob ``digest`` into a temporary blob file, unpacking it on the way
        (unless ``layer_store`` is None); the blob's size and digest are checked and it is
        stored before the layer is renamed into place. Returns the uncompressed size."""
        path = f"/v2/{ref.path}/blobs/{digest}"
        # Identity: the body is the blob as is, read without httpx's decoder.
        headers = {"Accept-Encoding": "identity"}
        with (
            self.store.content.writer() as writer,
            reg.request("GET", path, _scopes(ref), headers) as resp,
        ):
            blob = _BlobStream(resp, writer, digest, size, short, self._send)

            def finish() -> None:
                blob.drain()
                self._send(msg.status("Verifying Checksum", short))
                if writer.size != size:
                    raise DockyardError(
                        f"filesystem layer verification failed for digest {digest}: "
                        f"unexpected EOF after {writer.size} of {size} bytes"
                    )
                try:
                    writer.commit(digest)
                except InvalidArgument:
                    raise DockyardError(
                        f"filesystem layer verification failed for digest {digest}"
                    ) from None
                self._send(msg.status("Download complete", short))
                self._send(msg.progress("Extracting", short, size, size, time.time()))

            if layer_store is None:
                finish()
                return 0
            try:
                unpacked = self._unpack(blob, diff_id, layer_store, finish)
            except Unreachable:
                raise
            except DockyardError as e:
                # A blob that is not what the manifest says explains the failure best.
                raise blob.mismatch() or e from None
        return unpacked


class _BlobStream:
    """A blob's HTTP body as a file: every byte read is written to ``writer`` (which
    hashes it), more than ``size`` bytes is an error, ``Downloading`` progress is sent at
    most every 0.1 s, and transport errors become one-line ``Unreachable`` errors.
    ``read`` hands out the body's chunks as they come off the socket (no re-chunking,
    and no copy when the whole chunk is wanted)."""

    def __init__(
        self, resp: Any, writer: Any, digest: str, size: int, short: str, send: Emit
    ) -> None:
        self._url = str(resp.url)
        encoding = resp.headers.get("content-encoding", "identity").strip().lower()
        # A server that encodes anyway: httpx decodes, as Go's client does.
        self._chunks = resp.iter_raw() if encoding == "identity" else resp.iter_bytes()
        self._writer, self._digest, self._size, self._short, self._send = (
            writer, digest, size, short, send,
        )  # fmt: skip
        self._chunk = b""
        self._pos = 0
        self._start = time.time()
        self._last = 0.0

    def _next(self) -> bool:
        import httpx

        from dockyard.distribution.client import transport_error

        # Socket reads (64 KiB) joined into chunks of about _CHUNK: hashing, writing and
        # inflating in big pieces lets each C call run long without the GIL, where small
        # ones make the layer threads hand the GIL back and forth.
        parts: list[bytes] = []
        got = 0
        try:
            for part in self._chunks:
                parts.append(part)
                got += len(part)
                if got >= _CHUNK:
                    break
        except httpx.HTTPError as e:
            raise transport_error("GET", self._url, e) from None
        if not got:
            return False
        chunk = parts[0] if len(parts) == 1 else b"".join(parts)
        self._writer.write(chunk)
        if self._writer.size > self._size:
            raise DockyardError(
                f"filesystem layer verification failed for digest {self._digest}: "
                f"more than the {self._size} bytes the manifest gives"
            )
        now = time.monotonic()
        if now - self._last >= _PROGRESS_EVERY:
            self._last = now
            self._send(
                msg.progress("Downloading", self._short, self._writer.size, self._size, self._start)
            )
        self._chunk, self._pos = chunk, 0
        return True

    def read(self, n: int = -1) -> bytes:
        while self._pos >= len(self._chunk):
            if not self._next():
                return b""
        chunk, pos = self._chunk, self._pos
        if pos == 0 and (n < 0 or n >= len(chunk)):
            self._chunk = b""
            return bytes(chunk)
        end = len(chunk) if n < 0 else pos + n
        self._pos = min(end, len(chunk))
        return bytes(chunk[pos:end])

    def drain(self) -> None:
        """Read (and store) the rest of the body."""
        self._chunk, self._pos = b"", 0
        while self._next():
            self._chunk = b""

    def mismatch(self) -> DockyardError | None:
        """After a failed unpack: the verification error if the whole body is not the
        blob the manifest names, else None."""
        try:
            self.drain()
        except DockyardError as e:
            return e
        if self._writer.size != self._size or self._writer.digest != self._digest:
            return DockyardError(f"filesystem layer verification failed for digest {self._digest}")
        return None


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
