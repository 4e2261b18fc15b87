"""``docker push``: blobs the registry lacks, then the manifest (OCI distribution spec,
"Pushing blobs" and "Pushing manifests").

Each layer is checked with ``HEAD`` (``Layer already exists``), mounted from another
repository of the same registry when the image was pulled from or pushed to one
(``Mounted from ...``), else uploaded: one ``PUT`` for blobs up to 32 MiB, ``PATCH``
chunks of 16 MiB and a closing ``PUT`` above. The manifest is the stored one, byte for
byte, so the registry's digest is the image's manifest digest.
"""

from __future__ import annotations

import json
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

    def _push_image(self, reg: Registry, ref: reference.Reference, image: Image) -> None:
        manifest_bytes = self.store.content.read(image.manifest_digest)
        manifest = json.loads(manifest_bytes)
        layers = list(manifest.get("layers") or [])
        diff_ids = image.diff_ids
        shorts = [
            (diff_ids[i] if i < len(diff_ids) else d["digest"])[7:19] for i, d in enumerate(layers)
        ]
        order = list(reversed(range(len(layers))))  # Docker lists the top layer first
        for i in order:
            self._send(msg.status("Preparing", shorts[i]))
        for n, i in enumerate(order):
            if n >= self.cfg.max_uploads:
                self._send(msg.status("Waiting", shorts[i]))
        scopes = (f"repository:{ref.path}:pull,push",)
        # Looked up here: the state DB connection belongs to this thread.
        sources = {str(d["digest"]): self._mount_source(ref, str(d["digest"])) for d in layers}

        def job(i: int) -> None:
            digest = str(layers[i]["digest"])
            self._push_blob(reg, ref, layers[i], shorts[i], scopes, sources[digest])

        with ThreadPoolExecutor(max_workers=self.cfg.max_uploads) as pool:
            for f in [pool.submit(job, i) for i in order]:
                f.result()
        self._push_blob(reg, ref, manifest["config"], None, scopes, None)
        mt = manifest.get("mediaType") or media.OCI_MANIFEST
        tag = ref.tag or reference.DEFAULT_TAG
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
            image.id, reference.Reference(ref.name, None, image.manifest_digest)
        )
        self._send(
            msg.status(f"{tag}: digest: {image.manifest_digest} size: {len(manifest_bytes)}")
        )
        self._send(
            {
                "progressDetail": {},
                "aux": {"Tag": tag, "Digest": image.manifest_digest, "Size": len(manifest_bytes)},
            }
        )

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
        try:
            with reg.request("HEAD", f"/v2/{ref.path}/blobs/{digest}", scopes, ok=(200,)):
                pass
            if short:
                self._send(msg.status("Layer already exists", short))
            return
        except RegistryError as e:
            if e.status != 404:
                raise
        query = {"mount": digest, "from": source} if source else {}
        mount_scopes = (*scopes, f"repository:{source}:pull") if source else scopes
        path = f"/v2/{ref.path}/blobs/uploads/" + (f"?{urlencode(query)}" if query else "")
        with reg.request("POST", path, mount_scopes, content=b"", ok=(201, 202)) as resp:
            status = resp.status_code
            location = resp.headers.get("location", "")
            base = str(resp.url)
        if status == 201:
            if short:
                self._send(msg.status(f"Mounted from {source}", short))
            return
        if not location:
            raise RegistryError("registry sent no upload location", 202)
        location = urljoin(base, location)
        if not self.store.content.exists(digest):
            raise NotFound(f"blob {digest} is missing from the local store")
        with open(self.store.content.path(digest), "rb") as f:
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
        if short:
            self._send(msg.status("Pushed", short))
