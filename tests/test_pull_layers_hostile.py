"""Pulls whose layers are hostile: a small HTTP server on 127.0.0.1 written here (a real
registry serves what it is given, but cannot stall or cut a body on demand) serving
one image of the layers a test makes. A layer that does not unpack leaves nothing
stored (no blob, no layer, no temporary file)."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import subprocess
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner
from registry_peer import registry_env

pytestmark = pytest.mark.timeout(60)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def tar_of(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for info, data in entries:
            info.size = len(data) if info.isreg() else 0
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = link
    info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
    return info


class Image:
    """Manifest, config and blobs of an image of ``tars`` (uncompressed layer tars)."""

    def __init__(self, tars: list[bytes]) -> None:
        self.blobs = [gzip.compress(t, compresslevel=1) for t in tars]
        self.config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {},
                "rootfs": {"type": "layers", "diff_ids": [_digest(t) for t in tars]},
            }
        ).encode()
        self.manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": _digest(self.config),
                    "size": len(self.config),
                },
                "layers": [
                    {
                        "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                        "digest": _digest(b),
                        "size": len(b),
                    }
                    for b in self.blobs
                ],
            }
        ).encode()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, image: Image, blob: Callable[[Handler, bytes], None] | None) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.image = image
        self.blob = blob  # serves a layer blob its own way (None: as is)
        self.stop = threading.Event()
        self.served = threading.Event()  # a layer's body was sent in full
        self.host = f"127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, *args: Any) -> None:
        pass

    def send(self, body: bytes, length: int | None = None) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        image = self.server.image
        if self.path == "/v2/":
            return self.send(b"{}")
        if "/manifests/" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
            self.send_header("Content-Length", str(len(image.manifest)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(image.manifest)
            return None
        if self.path.endswith(_digest(image.config)):
            return self.send(image.config)
        for b in image.blobs:
            if self.path.endswith(_digest(b)):
                if self.server.blob is not None:
                    return self.server.blob(self, b)
                return self.send(b)
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return None

    do_HEAD = do_GET


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    servers: list[tuple[Server, threading.Thread]] = []

    def start(image: Image, blob: Callable[[Handler, bytes], None] | None = None) -> Server:
        server = Server(image, blob)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server

    yield start
    for server, thread in servers:
        server.stop.set()
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)
    monkeypatch.setenv("DOCKYARD_REGISTRY_TIMEOUT", "5")


def stored(root: str) -> list[str]:
    found = []
    for sub in ("blobs/sha256", "tmp", "layers"):
        path = os.path.join(root, sub)
        if os.path.isdir(path):
            found += [f"{sub}/{n}" for n in os.listdir(path) if n != "empty"]
    return found


BAD_TARS = {
    # A hardlink to a name outside the layer: clamped inside, where nothing is.
    "hardlink-outside": (
        tar_of((entry("a"), b"x"), (entry("b", tarfile.LNKTYPE, "../../../../etc/passwd"), b"")),
        "hardlink target ../../../../etc/passwd does not exist in the layer",
    ),
    "hardlink-to-directory": (
        tar_of((entry("d", tarfile.DIRTYPE), b""), (entry("l", tarfile.LNKTYPE, "d"), b"")),
        "hardlink target d is a directory",
    ),
    "file-under-a-file": (
        tar_of((entry("f"), b"x"), (entry("f/g"), b"y")),
        "a parent is not a directory",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TARS))
def test_a_layer_that_does_not_unpack_stores_nothing(
    case: str, dy: Runner, serve: Callable[..., Server], engine_env: dict[str, str]
) -> None:
    """The blob is what the manifest says (digest and size), its tar is not a layer."""
    tar, message = BAD_TARS[case]
    server = serve(Image([tar]))
    p = dy("pull", f"{server.host}/bad/tar:1")
    assert p.returncode == 1, p.stdout
    assert message in p.stderr, p.stderr
    assert len(p.stderr.splitlines()) == 1, p.stderr
    assert stored(engine_env["DOCKYARD_ROOT"]) == []


def test_a_full_disk_is_one_line_and_stores_nothing(
    tmp_path: Path, dy: Runner, serve: Callable[..., Server], engine_env: dict[str, str]
) -> None:
    """The root on a 2 MiB tmpfs, a layer of 4 MiB: the blob's write fails as moby
    reports it (Error response from daemon: write <temporary file>: ...), exit 1."""
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(small)], check=True)
    try:
        engine_env["DOCKYARD_ROOT"] = str(small / "root")
        server = serve(Image([tar_of((entry("big"), os.urandom(4 << 20)))]))
        p = dy("pull", f"{server.host}/big/layer:1")
        assert p.returncode == 1, p.stderr
        assert p.stderr.startswith("Error response from daemon: write "), p.stderr
        assert p.stderr.endswith(": No space left on device\n"), p.stderr
        assert len(p.stderr.splitlines()) == 1, p.stderr
        assert stored(engine_env["DOCKYARD_ROOT"]) == []
    finally:
        subprocess.run(["umount", str(small)], check=True)


def test_names_that_climb_out_stay_in_the_layer(
    tmp_path: Path, dy: Runner, serve: Callable[..., Server], engine_env: dict[str, str]
) -> None:
    """``../``, absolute names, a symlink to / and a file through it, a device node
    (the layer is at tmp_path/root/layers/X: three levels up is tmp_path):
    the pull (streamed through the growing blob file) writes all of them inside the
    layer's directory, nothing beside the engine root."""
    tar = tar_of(
        (entry("../../../escaped-dotdot"), b"a"),
        (entry(str(tmp_path / "escaped-absolute")), b"b"),
        (entry("s", tarfile.SYMTYPE, "/"), b""),
        (entry(f"s{tmp_path}/escaped-through-symlink"), b"c"),
        (entry("up", tarfile.SYMTYPE, "../../.."), b""),
        (entry("up/escaped-up"), b"d"),
        (entry("null", tarfile.CHRTYPE), b""),
    )
    server = serve(Image([tar]))
    dy("pull", f"{server.host}/climb/out:1", check=True)
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("escaped")) == []
    layers = Path(engine_env["DOCKYARD_ROOT"]) / "layers"
    (layer,) = [p for p in layers.iterdir() if not p.name.startswith(".")]
    assert (layer / "escaped-dotdot").read_bytes() == b"a"
    assert (layer / str(tmp_path)[1:] / "escaped-absolute").read_bytes() == b"b"
    assert (layer / str(tmp_path)[1:] / "escaped-through-symlink").read_bytes() == b"c"
    assert (layer / "escaped-up").read_bytes() == b"d"
    assert os.readlink(layer / "s") == "/"
    assert (layer / "null").is_char_device()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupted_pull_removes_its_temporary_files(
    sig: signal.Signals, serve: Callable[..., Server], engine_env: dict[str, str]
) -> None:
    """Ctrl-C (or SIGTERM) while three layers download and unpack: the pull exits as the
    docker CLI does (128 + the signal) and leaves no temporary blob or layer."""
    from conftest import DOCKYARD

    def slow(handler: Handler, blob: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blob)))
        handler.end_headers()
        for i in range(0, len(blob), 1 << 16):
            if handler.server.stop.is_set():
                return
            handler.wfile.write(blob[i : i + (1 << 16)])
            time.sleep(0.05)

    tars = [tar_of((entry(f"f{i}"), os.urandom(3 << 20))) for i in range(3)]
    server = serve(Image(tars), slow)
    root = engine_env["DOCKYARD_ROOT"]
    proc = subprocess.Popen(
        [DOCKYARD, "pull", f"{server.host}/slow/img:1"],
        env={**os.environ, **engine_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while len([n for n in stored(root) if n.startswith("layers/.tmp")]) < 3:
            assert time.monotonic() < deadline and proc.poll() is None, stored(root)
            time.sleep(0.05)
        time.sleep(0.3)  # the unpackers are into the blobs
        proc.send_signal(sig)
        assert proc.wait(10) == 128 + sig
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    proc.stderr.close()
    assert stored(root) == []


def test_ctrl_c_against_a_silent_registry_exits_at_once(
    serve: Callable[..., Server], engine_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C while the registry sends nothing more (a layer's body stops after its first
    bytes; a server that never answers at all): the pull cuts its connections and exits
    130 at once, not after the read timeout, with its temporary files removed."""
    import socket

    from conftest import DOCKYARD

    monkeypatch.setenv("DOCKYARD_REGISTRY_TIMEOUT", "60")
    env = {**os.environ, **engine_env}
    root = engine_env["DOCKYARD_ROOT"]

    def silent(handler: Handler, blob: bytes) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(blob)))
        handler.end_headers()
        handler.wfile.write(blob[:4096])
        handler.wfile.flush()
        handler.server.stop.wait(60)

    server = serve(Image([tar_of((entry("f"), os.urandom(1 << 20)))]), silent)
    mute = socket.socket()
    mute.bind(("127.0.0.1", 0))
    mute.listen(8)  # connections complete in the kernel; nothing is ever read or sent
    try:
        for name, ready in (
            (
                f"{server.host}/silent/img:1",
                lambda: any(n.startswith("tmp/") for n in stored(root)),
            ),
            (f"127.0.0.1:{mute.getsockname()[1]}/mute/img:1", lambda: True),
        ):
            proc = subprocess.Popen(
                [DOCKYARD, "pull", name], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            try:
                deadline = time.monotonic() + 20
                while not ready():
                    assert time.monotonic() < deadline and proc.poll() is None, stored(root)
                    time.sleep(0.05)
                time.sleep(0.5)  # blocked reading the socket
                start = time.monotonic()
                proc.send_signal(signal.SIGINT)
                assert proc.wait(10) == 130
                took = time.monotonic() - start
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            assert proc.stderr is not None
            proc.stderr.close()
            # It waited 2 s for its threads, then left them and their files behind.
            assert took < 1.5, took
            assert stored(root) == []
    finally:
        mute.close()
