"""``docker push``: blobs the registry lacks, then the manifest (OCI distribution spec,
"Pushing blobs" and "Pushing manifests").

Each layer is checked with ``HEAD`` (``Layer already exists``), mounted from another
repository of the same registry when the image was pulled from or pushed to one
(``Mounted from ...``), else uploaded: one ``PUT`` for blobs up to 32 MiB, ``PATCH``
chunks of 16 MiB and a closing ``PUT`` above.

Layers stored uncompressed (what Dockyard builds, commits, imports and loads) are pushed
gzip-compressed, as moby's push_v2 does: the compressed blob's digest is remembered per
diff id and repository (the ``pushed_layers`` table, moby's v2 metadata service), so the
next push checks it with ``HEAD`` or mounts it from another repository without
compressing again; the gzip file is a temporary one (``<root>/tmp/push-*``, swept when its
process is gone), not kept. Such an image is pushed with a new manifest: Docker's schema 2
(``application/vnd.docker.image.rootfs.diff.tar.gzip`` layers) as moby writes it, or an
OCI manifest with ``+gzip`` layers when a layer is zstd (schema 2 has no zstd). An image
whose layers are all compressed already is pushed with its stored manifest, byte for
byte, so the registry's digest is the image's manifest digest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlencode, urljoin

from dockyard import reference
from dockyard.distribution import media
from dockyard.distribution import progress as msg
from dockyard.distribution.client import Registry, RegistryError, connect
from dockyard.distribution.config import RegistryConfig
from dockyard.distribution.credentials import Credentials
from dockyard.errors import DockyardError, NotFound
from dockyard.image.store import Image, ImageStore

Emit = Callable[[dict[str, Any]], None]
MONOLITHIC_MAX = 32 * 1024 * 1024
#: Go's gzip.DefaultCompression, what moby's push compresses with.
GZIP_LEVEL = 6
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 16 * 1024 * 1024
_READ = 1 << 20


class Pusher:
    """One ``docker push`` of images from ``store`` with settings ``cfg``; ``emit``
    receives Docker's JSON progress messages (from several threads)."""

    def __init__(
        self, store: ImageStore, cfg: RegistryConfig, emit: Emit, login: Credentials | None = None
    ) -> None:
        #: Credentials for the registry instead of the stored login.
        self.login = login
        self.store = store
        self.cfg = cfg
        self._emit = emit
        self._lock = threading.Lock()
        self._registries: list[Registry] = []
        self._aborted = False

    def abort(self) -> None:
        """Cut the push's connections, now and to come (from any thread, for Ctrl-C)."""
        with self._lock:
            self._aborted = True
            registries = list(self._registries)
        for reg in registries:
            reg.abort()

    def _send(self, m: dict[str, Any]) -> None:
        with self._lock:
            self._emit(m)

    def push(self, ref: reference.Reference, all_tags: bool = False) -> None:
        """Push the image tagged ``ref`` (every local tag of ``ref.name`` with
        ``all_tags``). Raises ``NotFound`` (Docker's ``An image does not exist locally
        with the tag: ...``), ``RegistryError``, ``Unreachable``."""
        if all_tags:
            rows = self.store.db.query(
                "SELECT name FROM tags WHERE name LIKE ? ORDER BY name", (ref.name + ":%",)
            )
            refs = [reference.parse(r["name"]) for r in rows]
            refs = [r for r in refs if r.name == ref.name]
        else:
            refs = [ref] if self.store.lookup_tag(ref) is not None else []
        if not refs:
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name()}")
        self._send(msg.status(f"The push refers to repository [{ref.name}]"))
        reg = connect(ref.domain, self.cfg, login=self.login)
        with self._lock:
            self._registries.append(reg)
            if self._aborted:
                reg.abort()
        try:
            for r in refs:
                image = self.store.lookup_tag(r)
                if image is None:
                    raise NotFound(f"An image does not exist locally with the tag: {r.familiar()}")
                self._push_image(reg, r, image)
        finally:
            reg.close()

    def _mount_source(self, ref: reference.Reference, blob: str) -> str | None:
        """A repository of the same registry that has blob ``blob``, from the RepoDigests
        of the local images that use it."""
        for img in self.store.list():
            if blob not in [d.get("digest") for d in img.manifest.get("layers", [])]:
                continue
            for name in self.store.db.query(
                "SELECT name FROM repo_digests WHERE image_id = ?", (img.id,)
            ):
                other = reference.parse(name["name"])
                if other.domain == ref.domain and other.name != ref.name:
                    return other.path
        return None

    def _known_uploads(self, diff_id: str) -> list[tuple[str, int, str]]:
        """``(digest, size, repository)`` of the gzip blobs pushed before for ``diff_id``."""
        rows = self.store.db.query(
            "SELECT digest, size, repository FROM pushed_layers WHERE diff_id = ?", (diff_id,)
        )
        return [(str(r["digest"]), int(r["size"]), str(r["repository"])) for r in rows]

    def _push_image(self, reg: Registry, ref: reference.Reference, image: Image) -> None:
        manifest_bytes = self.store.content.read(image.manifest_digest)
        manifest = json.loads(manifest_bytes)
        layers = list(manifest.get("layers") or [])
        diff_ids = image.diff_ids
        shorts = [
            (diff_ids[i] if i < len(diff_ids) else d["digest"])[7:19] for i, d in enumerate(layers)
        ]
        kinds = [media.LAYERS.get(str(d.get("mediaType"))) for d in layers]
        plain = [kind == "" for kind in kinds]
        order = list(reversed(range(len(layers))))  # Docker lists the top layer first
        for i in order:
            self._send(msg.status("Preparing", shorts[i]))
        for n, i in enumerate(order):
            if n >= self.cfg.max_uploads:
                self._send(msg.status("Waiting", shorts[i]))
        scopes = (f"repository:{ref.path}:pull,push",)
        # Looked up here: the state DB connection belongs to this thread.
        sources = {str(d["digest"]): self._mount_source(ref, str(d["digest"])) for d in layers}
        known = {str(d["digest"]): self._known_uploads(str(d["digest"])) for d in layers}
        if any(plain):
            from dockyard.tempfiles import sweep

            os.makedirs(self.store.paths.tmp, mode=0o700, exist_ok=True)
            sweep(self.store.paths.tmp, "push-")
        pushed: dict[int, tuple[str, int]] = {}

        def job(i: int) -> None:
            digest = str(layers[i]["digest"])
            if plain[i]:
                pushed[i] = self._push_plain(reg, ref, digest, shorts[i], scopes, known[digest])
            else:
                self._push_blob(reg, ref, layers[i], shorts[i], scopes, sources[digest])

        with ThreadPoolExecutor(max_workers=self.cfg.max_uploads) as pool:
            for f in [pool.submit(job, i) for i in order]:
                f.result()
        if pushed:
            with self.store.db.write() as conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO pushed_layers (diff_id, repository, digest, size)"
                    " VALUES (?, ?, ?, ?)",
                    [(layers[i]["digest"], ref.name, d, n) for i, (d, n) in pushed.items()],
                )
            manifest_bytes = _gzip_manifest(manifest, kinds, pushed)
            manifest = json.loads(manifest_bytes)
        self._push_blob(reg, ref, manifest["config"], None, scopes, None)
        mt = manifest.get("mediaType") or media.OCI_MANIFEST
        tag = ref.tag or reference.DEFAULT_TAG
        digest = "sha256:" + hashlib.sha256(manifest_bytes).hexdigest()
        with reg.request(
            "PUT",
            f"/v2/{ref.path}/manifests/{tag}",
            scopes,
            {"Content-Type": mt},
            content=manifest_bytes,
            ok=(200, 201, 202),
        ):
            pass
        self.store.add_repo_digest(
            image.id, reference.Reference(ref.name, None, digest), manifest_bytes
        )
        self._send(msg.status(f"{tag}: digest: {digest} size: {len(manifest_bytes)}"))
        self._send(
            {
                "progressDetail": {},
                "aux": {"Tag": tag, "Digest": digest, "Size": len(manifest_bytes)},
            }
        )

    def _exists(
        self, reg: Registry, ref: reference.Reference, digest: str, scopes: tuple[str, ...]
    ) -> bool:
        """Whether the repository has blob ``digest`` (``HEAD``)."""
        try:
            with reg.request("HEAD", f"/v2/{ref.path}/blobs/{digest}", scopes, ok=(200,)):
                return True
        except RegistryError as e:
            if e.status != 404:
                raise
            return False

    def _start_upload(
        self,
        reg: Registry,
        ref: reference.Reference,
        scopes: tuple[str, ...],
        mount: tuple[str, str] | None,
    ) -> str | None:
        """Open an upload session (``POST``), asking to mount ``(digest, repository path)``
        when given; None when the registry mounted it (201), else the upload URL."""
        query = {"mount": mount[0], "from": mount[1]} if mount else {}
        mount_scopes = (*scopes, f"repository:{mount[1]}:pull") if mount else scopes
        path = f"/v2/{ref.path}/blobs/uploads/" + (f"?{urlencode(query)}" if query else "")
        with reg.request("POST", path, mount_scopes, content=b"", ok=(201, 202)) as resp:
            status = resp.status_code
            location = resp.headers.get("location", "")
            base = str(resp.url)
        if status == 201:
            return None
        if not location:
            raise RegistryError("registry sent no upload location", 202)
        return urljoin(base, location)

    def _push_plain(
        self,
        reg: Registry,
        ref: reference.Reference,
        diff_id: str,
        short: str,
        scopes: tuple[str, ...],
        known: list[tuple[str, int, str]],
    ) -> tuple[str, int]:
        """Push the uncompressed layer ``diff_id`` as gzip (moby's push_v2): a blob pushed
        for it before is checked in this repository, then mounted from another of the same
        registry; else the layer is compressed to a temporary file and uploaded. Returns
        the gzip blob's ``(digest, size)``."""
        for digest, size, repo in known:
            if repo == ref.name and self._exists(reg, ref, digest, scopes):
                self._send(msg.status("Layer already exists", short))
                return digest, size
        location = None
        for digest, size, repo in known:
            other = reference.parse(repo)
            if other.domain != ref.domain or other.name == ref.name:
                continue
            location = self._start_upload(reg, ref, scopes, (digest, other.path))
            if location is None:
                self._send(msg.status(f"Mounted from {other.path}", short))
                return digest, size
            break
        from dockyard.tempfiles import temp_name

        if not self.store.content.exists(diff_id):
            raise NotFound(f"blob {diff_id} is missing from the local store")
        tmp = os.path.join(self.store.paths.tmp, temp_name("push-"))
        try:
            start, last = time.time(), [0.0]
            total = os.path.getsize(self.store.content.path(diff_id))

            def report(done: int) -> None:
                now = time.monotonic()
                if now - last[0] >= 0.1:
                    last[0] = now
                    self._send(msg.progress("Pushing", short, done, total, start))

            # Progress over the layer's own bytes while it is compressed (Docker counts
            # the uncompressed bytes it reads too), then over the gzip blob's upload.
            digest, size = _compress(self.store.content.path(diff_id), tmp, report)
            if location is None:
                if self._exists(reg, ref, digest, scopes):
                    self._send(msg.status("Layer already exists", short))
                    return digest, size
                location = self._start_upload(reg, ref, scopes, None)
                assert location is not None  # no mount asked: never 201
            self._send_file(reg, location, scopes, tmp, digest, size, short)
        finally:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
        self._send(msg.status("Pushed", short))
        return digest, size

    def _push_blob(
        self,
        reg: Registry,
        ref: reference.Reference,
        desc: dict[str, Any],
        short: str | None,
        scopes: tuple[str, ...],
        source: str | None,
    ) -> None:
        digest, size = str(desc["digest"]), int(desc["size"])
        if self._exists(reg, ref, digest, scopes):
            if short:
                self._send(msg.status("Layer already exists", short))
            return
        location = self._start_upload(reg, ref, scopes, (digest, source) if source else None)
        if location is None:
            if short:
                self._send(msg.status(f"Mounted from {source}", short))
            return
        if not self.store.content.exists(digest):
            raise NotFound(f"blob {digest} is missing from the local store")
        self._send_file(reg, location, scopes, self.store.content.path(digest), digest, size, short)
        if short:
            self._send(msg.status("Pushed", short))

    def _send_file(
        self,
        reg: Registry,
        location: str,
        scopes: tuple[str, ...],
        path: str,
        digest: str,
        size: int,
        short: str | None,
    ) -> None:
        """Upload the file ``path`` (blob ``digest``, ``size`` bytes) to the session at
        ``location``: one ``PUT`` up to ``MONOLITHIC_MAX``, ``PATCH`` chunks above."""
        with open(path, "rb") as f:
            start = time.time()
            done = [0]
            last = [0.0]

            def chunks(limit: int) -> Iterator[bytes]:
                sent = 0
                while sent < limit:
                    data = f.read(min(_READ, limit - sent))
                    if not data:
                        raise DockyardError(f"blob {digest} is shorter than {size} bytes")
                    sent += len(data)
                    done[0] += len(data)
                    now = time.monotonic()
                    if short and now - last[0] >= 0.1:
                        last[0] = now
                        self._send(msg.progress("Pushing", short, done[0], size, start))
                    yield data

            if size > MONOLITHIC_MAX:
                offset = 0
                while offset < size:
                    n = min(CHUNK, size - offset)
                    headers = {
                        "Content-Type": "application/octet-stream",
                        "Content-Range": f"{offset}-{offset + n - 1}",
                        "Content-Length": str(n),
                    }
                    with reg.request(
                        "PATCH", location, scopes, headers, chunks(n), ok=(202,)
                    ) as resp:
                        location = urljoin(location, resp.headers.get("location", location))
                    offset += n
                body: Any = b""
                length = 0
            else:
                body, length = chunks(size), size
            sep = "&" if "?" in location else "?"
            headers = {"Content-Type": "application/octet-stream", "Content-Length": str(length)}
            with reg.request(
                "PUT",
                f"{location}{sep}{urlencode({'digest': digest})}",
                scopes,
                headers,
                body,
                ok=(201,),
            ):
                pass


class _HashingFile:
    """A write-only file that hashes and counts what goes through it."""

    def __init__(self, f: Any) -> None:
        self.f = f
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: Any) -> int:
        self.sha.update(data)
        self.size += len(data)
        return int(self.f.write(data))

    def flush(self) -> None:
        self.f.flush()


def _compress(src: str, dest: str, report: Callable[[int], None]) -> tuple[str, int]:
    """gzip the file ``src`` into the new file ``dest`` (level ``GZIP_LEVEL``, no name, mtime
    0: the same layer always compresses to the same bytes); returns its ``(digest,
    size)``. ``report`` gets the bytes of ``src`` read so far, after each MiB."""
    done = 0
    with open(src, "rb") as f, open(dest, "xb") as out:
        hashing = _HashingFile(out)
        with gzip.GzipFile(
            filename="", mode="wb", compresslevel=GZIP_LEVEL, fileobj=hashing, mtime=0
        ) as z:
            while data := f.read(_READ):
                z.write(data)
                done += len(data)
                report(done)
    return "sha256:" + hashing.sha.hexdigest(), hashing.size


def _gzip_manifest(
    manifest: dict[str, Any], kinds: list[str | None], pushed: dict[int, tuple[str, int]]
) -> bytes:
    """The manifest pushed for an image whose layers ``pushed`` (index -> gzip ``(digest,
    size)``) went compressed: Docker's schema 2 as moby's manifest builder writes it (3-space
    indent), unless a layer is zstd (then OCI with ``+gzip`` layers, annotations kept)."""
    layers = []
    docker = all(kind in ("", "gzip") for kind in kinds)
    for i, desc in enumerate(manifest.get("layers") or []):
        if i in pushed:
            digest, size = pushed[i]
            mt = DOCKER_LAYER_GZIP if docker else OCI_LAYER_GZIP
            layers.append({"mediaType": mt, "size": size, "digest": digest})
        elif docker:
            layers.append(
                {"mediaType": DOCKER_LAYER_GZIP, "size": desc["size"], "digest": desc["digest"]}
            )
        else:
            layers.append(desc)
    config = manifest["config"]
    if not docker:
        return json.dumps({**manifest, "layers": layers}, separators=(",", ":")).encode()
    out = {
        "schemaVersion": 2,
        "mediaType": media.DOCKER_MANIFEST,
        "config": {
            "mediaType": media.DOCKER_CONFIG,
            "size": config["size"],
            "digest": config["digest"],
        },
        "layers": layers,
    }
    return json.dumps(out, indent=3).encode()
