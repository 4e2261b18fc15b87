"""Hostile registries: small HTTP servers on 127.0.0.1 (written here, since a real
registry never misbehaves on purpose) serving a bad blob, a short layer, a huge
manifest, an unknown media type, endless 401s, a stalled layer, a redirect loop. Each
pull fails with one line and stores nothing."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner
from registry_peer import registry_env

pytestmark = pytest.mark.timeout(120)


def _layer() -> tuple[bytes, str]:
    """A gzip layer with one file, and its diff id."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"hello\n" * 10000
        info = tarfile.TarInfo("hello.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw), "sha256:" + hashlib.sha256(raw).hexdigest()


LAYER, DIFF_ID = _layer()
CONFIG = json.dumps(
    {
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers", "diff_ids": [DIFF_ID]},
    }
).encode()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(CONFIG),
            "size": len(CONFIG),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(LAYER),
                "size": len(LAYER),
            }
        ],
    }
).encode()


OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_MANIFEST_DOC = json.loads(MANIFEST)
_LAYER_DESC = _MANIFEST_DOC["layers"][0]
#: Manifests (content type, body) that are JSON objects of the wrong shape.
BAD_MANIFESTS = {
    "index-manifests-string": (OCI_INDEX, json.dumps({"manifests": "abc"}).encode()),
    "index-entry-string": (OCI_INDEX, json.dumps({"manifests": ["abc"]}).encode()),
    "layer-size-infinite": (
        OCI_MANIFEST,
        json.dumps({**_MANIFEST_DOC, "layers": [{**_LAYER_DESC, "size": 7}]})
        .replace('"size": 7', '"size": 1e400')
        .encode(),
    ),
    "layer-size-negative": (
        OCI_MANIFEST,
        json.dumps({**_MANIFEST_DOC, "layers": [{**_LAYER_DESC, "size": -1}]}).encode(),
    ),
    "layer-digest-md5": (
        OCI_MANIFEST,
        json.dumps(
            {**_MANIFEST_DOC, "layers": [{**_LAYER_DESC, "digest": "md5:" + "0" * 32}]}
        ).encode(),
    ),
    "layer-digest-traversal": (
        OCI_MANIFEST,
        json.dumps(
            {**_MANIFEST_DOC, "layers": [{**_LAYER_DESC, "digest": "sha256:../../x"}]}
        ).encode(),
    ),
    "config-digest-traversal": (
        OCI_MANIFEST,
        json.dumps(
            {**_MANIFEST_DOC, "config": {**_MANIFEST_DOC["config"], "digest": "sha256:../x"}}
        ).encode(),
    ),
}


class Hostile(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, mode: str) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.mode = mode
        self.stop = threading.Event()
        self.requests = 0


class Handler(BaseHTTPRequestHandler):
    server: Hostile

    def log_message(self, *args: Any) -> None:
        pass

    def _send(
        self, status: int, body: bytes = b"", ctype: str = "application/json", **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", headers.pop("length", str(len(body))))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        mode = self.server.mode
        self.server.requests += 1
        port = self.server.server_address[1]
        if mode == "endless-401":
            if self.path.startswith("/token"):
                return self._send(200, json.dumps({"token": "t", "expires_in": 300}).encode())
            challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="hostile"'
            return self._send(
                401,
                b'{"errors":[{"code":"UNAUTHORIZED","message":"go away"}]}',
                WWW_Authenticate=challenge,
            )
        if mode.startswith("token-"):
            if self.path.startswith("/token"):
                tokens = {
                    "token-expires-infinite": b'{"token": "t", "expires_in": 1e400}',
                    "token-not-json": b"<html>hello</html>",
                    "token-a-list": b"[1]",
                    "token-with-newline": b'{"token": "t\\r\\nX-Evil: 1"}',
                }
                return self._send(200, tokens[mode])
            if self.headers.get("Authorization") != "Bearer t":
                challenge = f'Bearer realm="http://127.0.0.1:{port}/token",service="hostile"'
                return self._send(401, b"", WWW_Authenticate=challenge)
        if self.path == "/v2/":
            return self._send(200, b"{}")
        if "/tags/list" in self.path and mode.startswith("tags-"):
            return self._send(200, {"tags-a-list": b"[1]", "tags-a-string": b'{"tags": "1"}'}[mode])
        if "/manifests/" in self.path:
            if mode == "huge-manifest":
                return self._send(
                    200,
                    b"{" + b" " * (5 * 1024 * 1024) + b"}",
                    "application/vnd.oci.image.manifest.v1+json",
                )
            if mode in BAD_MANIFESTS:
                return self._send(200, BAD_MANIFESTS[mode][1], BAD_MANIFESTS[mode][0])
            if mode == "unknown-media-type":
                body = json.dumps(
                    {"schemaVersion": 2, "mediaType": "application/x-unknown"}
                ).encode()
                return self._send(200, body, "application/x-unknown")
            if mode == "schema1":
                body = json.dumps(
                    {"schemaVersion": 1, "name": "x", "tag": "1", "fsLayers": []}
                ).encode()
                return self._send(
                    200, body, "application/vnd.docker.distribution.manifest.v1+prettyjws"
                )
            return self._send(200, MANIFEST, "application/vnd.oci.image.manifest.v1+json")
        if self.path.endswith(_digest(CONFIG)):
            return self._send(200, CONFIG, "application/octet-stream")
        if self.path.endswith(_digest(LAYER)):
            if mode == "redirect-loop":
                return self._send(307, Location=self.path)
            if mode == "bad-digest":
                return self._send(200, bytes(len(LAYER)), "application/octet-stream")
            if mode == "too-long":
                return self._send(200, LAYER + b"extra", "application/octet-stream")
            if mode == "truncated":
                self._send(
                    200,
                    LAYER[: len(LAYER) // 2],
                    "application/octet-stream",
                    length=str(len(LAYER)),
                )
                self.close_connection = True
                return
            if mode == "stall":
                self._send(
                    200,
                    LAYER[: len(LAYER) // 2],
                    "application/octet-stream",
                    length=str(len(LAYER)),
                )
                self.wfile.flush()
                self.server.stop.wait(30)
                return
            return self._send(200, LAYER, "application/octet-stream")
        self._send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}')

    do_HEAD = do_GET


@pytest.fixture
def hostile(request: pytest.FixtureRequest) -> Iterator[Hostile]:
    server = Hostile(request.param)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.stop.set()
    server.shutdown()
    server.server_close()
    thread.join(10)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)
    monkeypatch.setenv("DOCKYARD_REGISTRY_TIMEOUT", "1")


def _stored(root: str) -> list[str]:
    found = []
    for sub in ("blobs/sha256", "tmp", "layers"):
        path = os.path.join(root, sub)
        if os.path.isdir(path):
            found += [f"{sub}/{n}" for n in os.listdir(path) if n != "empty"]
    return found


CASES = {
    "bad-digest": f"filesystem layer verification failed for digest {_digest(LAYER)}",
    "too-long": f"filesystem layer verification failed for digest {_digest(LAYER)}",
    "truncated": "peer closed connection without sending complete message body",
    "huge-manifest": "manifest too large: 5242882 bytes is over the 4194304-byte limit",
    "unknown-media-type": "unsupported manifest media type and no default available: application/x-unknown",
    "schema1": "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has been removed.",
    "endless-401": "pull access denied for {host}/hostile/img, repository does not exist or may require 'docker login': unauthorized: go away",
    "stall": "net/http: timeout awaiting response (i/o timeout)",
    "redirect-loop": "stopped after 10 redirects",
    "index-manifests-string": "invalid manifest list: manifests is not a list of descriptors",
    "index-entry-string": "invalid manifest list: manifests is not a list of descriptors",
    "layer-size-infinite": "invalid manifest for {host}/hostile/img:1",
    "layer-size-negative": "filesystem layer verification failed for digest",
    "layer-digest-md5": "invalid digest 'md5:00000000000000000000000000000000'",
    "layer-digest-traversal": "invalid digest 'sha256:../../x'",
    "config-digest-traversal": "invalid digest 'sha256:../x'",
    "token-expires-infinite": "the token server sent an invalid expires_in",
    "token-not-json": "the token server sent no JSON",
    "token-a-list": "the token server sent no JSON",
    "token-with-newline": "Illegal header value",
}


@pytest.mark.parametrize("hostile", list(CASES), indirect=True)
def test_hostile_registry(dy: Runner, hostile: Hostile, engine_env: dict[str, str]) -> None:
    host = f"127.0.0.1:{hostile.server_address[1]}"
    p = dy("pull", f"{host}/hostile/img:1")
    assert p.returncode == 1, p.stdout
    lines = p.stderr.splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("Error response from daemon: ")
    assert CASES[hostile.mode].format(host=host) in lines[0]
    assert dy("images", "-q", check=True).stdout == ""
    assert _stored(engine_env["DOCKYARD_ROOT"]) == []
    if hostile.mode == "endless-401":
        assert hostile.requests < 10  # gave up, no loop


@pytest.mark.parametrize("hostile", ["good"], indirect=True)
def test_the_good_server_works(dy: Runner, hostile: Hostile) -> None:
    """The same server without a fault: the cases above fail for their fault alone."""
    host = f"127.0.0.1:{hostile.server_address[1]}"
    dy("pull", f"{host}/hostile/img:1", check=True)
    assert dy("images", "-q", check=True).stdout.strip() == _digest(CONFIG)[7:19]


class Storage(ThreadingHTTPServer):
    """Blob storage a registry redirects to: serves LAYER, records the Authorization
    headers it is sent."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), StorageHandler)
        self.authorization: list[str | None] = []


class StorageHandler(BaseHTTPRequestHandler):
    server: Storage

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.authorization.append(self.headers.get("Authorization"))
        if "/tags/list" in self.path:
            body = json.dumps({"name": "private/img", "tags": ["2"]}).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(LAYER)))
        self.end_headers()
        self.wfile.write(LAYER)


class Private(Hostile):
    """A registry that wants Basic auth and redirects blob downloads to ``storage``."""

    def __init__(self, storage: Storage) -> None:
        super().__init__("private")
        self.RequestHandlerClass = PrivateHandler
        self.storage = storage
        self.authorization: list[str | None] = []


class PrivateHandler(Handler):
    server: Private

    def do_GET(self) -> None:  # noqa: N802
        auth = self.headers.get("Authorization")
        self.server.authorization.append(auth)
        if auth != "Basic " + base64.b64encode(b"alice:s3cret").decode():
            return self._send(401, b"", WWW_Authenticate='Basic realm="private"')
        storage = f"http://127.0.0.1:{self.server.storage.server_address[1]}"
        if self.path.endswith(_digest(LAYER)):
            return self._send(307, Location=f"{storage}/layer")
        if self.path.startswith("/v2/private/img/tags/list"):
            # The next page on another host: a registry's Link must not get the login.
            body = json.dumps({"name": "private/img", "tags": ["1"]}).encode()
            link = f'<{storage}/v2/private/img/tags/list?last=1>; rel="next"'
            return self._send(200, body, Link=link)
        return super().do_GET()


def test_credentials_stay_with_the_registry_on_redirect(
    dy: Runner, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    """Registries redirect blob downloads to storage: followed, without Authorization."""
    storage = Storage()
    registry = Private(storage)
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in (storage, registry)]
    for t in threads:
        t.start()
    try:
        host = f"127.0.0.1:{registry.server_address[1]}"
        dy("login", "-u", "alice", "--password-stdin", host, input="s3cret\n", check=True)
        dy("pull", f"{host}/private/img:1", check=True)
        assert storage.authorization == [None]
        assert any(a and a.startswith("Basic ") for a in registry.authorization)
        # pull -a: the tag list's next page is on the storage host.
        dy("pull", "-a", f"{host}/private/img")
        assert storage.authorization[1:2] == [None], storage.authorization
    finally:
        for s in (storage, registry):
            s.shutdown()
            s.server_close()
        for t in threads:
            t.join(10)


def test_no_registry_answers(dy: Runner, engine_env: dict[str, str]) -> None:
    """Nothing listens: Docker's wording (the last endpoint tried, plain HTTP for a
    loopback host), and nothing stored."""
    from registry_peer import free_port

    port = free_port()
    p = dy("pull", f"127.0.0.1:{port}/nothing/here")
    assert p.returncode == 1
    assert p.stderr == (
        f'Error response from daemon: Get "http://127.0.0.1:{port}/v2/": '
        f"dial tcp 127.0.0.1:{port}: connect: connection refused\n"
    )
    assert p.stdout == "Using default tag: latest\n"
    assert _stored(engine_env["DOCKYARD_ROOT"]) == []


def test_host_name_idna_refuses(dy: Runner, engine_env: dict[str, str]) -> None:
    """A 70-character DNS label: Go's lookup says "no such host"; Python's IDNA codec
    refuses it before any lookup (so nothing leaves the machine), which was a traceback."""
    host = "a" * 70 + ".invalid"
    for args in (["pull", f"{host}/x"], ["login", "-u", "u", "--password-stdin", host]):
        p = dy(*args, input="pw\n")
        assert p.returncode == 1
        assert p.stderr == (
            f'Error response from daemon: Get "https://{host}/v2/": '
            f"dial tcp: lookup {host}: no such host\n"
        )
    assert _stored(engine_env["DOCKYARD_ROOT"]) == []


@pytest.mark.parametrize("hostile", ["tags-a-list", "tags-a-string"], indirect=True)
def test_hostile_tag_list(dy: Runner, hostile: Hostile, engine_env: dict[str, str]) -> None:
    host = f"127.0.0.1:{hostile.server_address[1]}"
    p = dy("pull", "-a", f"{host}/hostile/img")
    assert (p.returncode, p.stderr) == (
        1,
        f"Error response from daemon: invalid tag list for {host}/hostile/img\n",
    )
    assert _stored(engine_env["DOCKYARD_ROOT"]) == []
