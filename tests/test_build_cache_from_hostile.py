"""``build --cache-from`` against bad cache sources: an image whose ``dockyard.cache.v0``
or history is malformed, a registry (a small static server on 127.0.0.1, written here:
a real registry never misbehaves on purpose) whose manifest names layers it does not
serve or serves wrong, a layer cut off mid-download, a local cache-from image removed
while the build runs. Each build goes on without the bad step (a warning line at most,
never a traceback), every result is right (no wrong cache hit), and ``system check``
finds nothing half-stored."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import tarfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import DOCKYARD, Runner
from registry_peer import registry_env

pytestmark = pytest.mark.timeout(300)

DOCKERFILE = """FROM busybox
ENV GREETING=hi
COPY a.txt /a.txt
RUN echo ran > /ran
COPY b.txt /b.txt
RUN cat /a.txt /b.txt /ran > /ab
"""
#: What /ab holds in every correct build of DOCKERFILE with the context of _context.
AB = "ay\nbee\nran\n"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)
    monkeypatch.setenv("DOCKYARD_REGISTRY_TIMEOUT", "2")


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _context(path: Path, dockerfile: str = DOCKERFILE) -> Path:
    path.mkdir(exist_ok=True)
    (path / "Dockerfile").write_text(dockerfile)
    (path / "a.txt").write_text("ay\n")
    (path / "b.txt").write_text("bee\n")
    return path


class Source:
    """An image built with DOCKERFILE, as ``save`` wrote it: its OCI ``manifest``,
    ``config`` and ``blobs`` (digest -> bytes, layers only)."""

    def __init__(self, dy: Runner, ctx: Path, tmp: Path) -> None:
        dy("build", "-t", "src", str(ctx), check=True)
        archive = tmp / "src.tar"
        dy("save", "-o", str(archive), "src", check=True)
        with tarfile.open(archive) as tf:

            def read(name: str) -> bytes:
                f = tf.extractfile(name)
                assert f is not None
                return f.read()

            index = json.loads(read("index.json"))
            self.manifest = json.loads(read("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
            self.config = json.loads(read("blobs/sha256/" + self.manifest["config"]["digest"][7:]))
            self.blobs = {
                d["digest"]: read("blobs/sha256/" + d["digest"][7:])
                for d in self.manifest["layers"]
            }
        # Gone with its build's cache entries: only --cache-from can give hits now.
        dy("rmi", "src", check=True)


class Static(ThreadingHTTPServer):
    """A registry serving one image, ``cf/src:1``: ``files`` maps a path under
    ``/v2/cf/src/`` to (content type, body); a blob in ``cut`` is sent half, then the
    connection is closed."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, tuple[str, bytes]] = {}
        self.cut: set[str] = set()
        self.host = f"127.0.0.1:{self.server_address[1]}"

    def serve(
        self, manifest: dict[str, Any], config: dict[str, Any], blobs: dict[str, bytes]
    ) -> None:
        """Serve ``manifest`` (its config descriptor pointed at ``config``) and ``blobs``."""
        config_bytes = json.dumps(config).encode()
        manifest = copy.deepcopy(manifest)
        manifest["config"]["digest"] = _digest(config_bytes)
        manifest["config"]["size"] = len(config_bytes)
        body = json.dumps(manifest).encode()
        mt = "application/vnd.oci.image.manifest.v1+json"
        self.files = {"manifests/1": (mt, body), f"manifests/{_digest(body)}": (mt, body)}
        self.files[f"blobs/{_digest(config_bytes)}"] = ("application/octet-stream", config_bytes)
        for digest, data in blobs.items():
            self.files[f"blobs/{digest}"] = ("application/octet-stream", data)


class _Handler(BaseHTTPRequestHandler):
    server: Static

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/v2/":
            return self._send(200, "application/json", b"{}")
        found = self.server.files.get(self.path.removeprefix("/v2/cf/src/"))
        if found is None:
            return self._send(404, "application/json", b'{"errors":[{"code":"BLOB_UNKNOWN"}]}')
        ctype, body = found
        if self.path.rsplit("/", 1)[-1] in self.server.cut:
            self._send(200, ctype, body[: len(body) // 2], length=len(body))
            self.close_connection = True
            return
        self._send(200, ctype, body)

    do_HEAD = do_GET

    def _send(self, status: int, ctype: str, body: bytes, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        if self.path.startswith("/v2/cf/src/manifests/") and status == 200:
            self.send_header("Docker-Content-Digest", _digest(body))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


@pytest.fixture
def static() -> Iterator[Static]:
    server = Static()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(10)


def _set_history(field: str, value: Any) -> Callable[[Source], None]:
    def change(s: Source) -> None:
        s.config["history"][2][field] = value

    return change


def _layer_digest(s: Source, i: int) -> str:
    return str(s.manifest["layers"][i]["digest"])


#: Ways to spoil the source (it is changed in place before it is served), and the
#: steps of DOCKERFILE that may still hit (2/6 ENV has no layer and is never spoiled).
SPOILED: dict[str, Callable[[Source], None]] = {
    # The registry names a layer it does not serve (404 when the step takes it).
    "layer-not-served": lambda s: s.blobs.pop(_layer_digest(s, 1)),
    # A layer whose bytes are not its digest's.
    "layer-wrong-bytes": lambda s: s.blobs.update(
        {_layer_digest(s, 1): bytes(len(s.blobs[_layer_digest(s, 1)]))}
    ),
    # The config's diff ID is not the layer's.
    "diff-id-wrong": lambda s: s.config["rootfs"]["diff_ids"].__setitem__(1, "sha256:" + "a" * 64),
    # Malformed manifest descriptors.
    "layer-without-digest": lambda s: s.manifest["layers"][1].pop("digest"),
    "layer-digest-traversal": lambda s: s.manifest["layers"][1].__setitem__(
        "digest", "sha256:../../x"
    ),
    # More layers than diff IDs.
    "extra-layer": lambda s: s.manifest["layers"].append(s.manifest["layers"][1]),
    # Malformed cache records and history.
    "records-not-a-list": lambda s: s.config.__setitem__("dockyard.cache.v0", {"a": 1}),
    "records-wrong-types": lambda s: s.config.__setitem__(
        "dockyard.cache.v0", [[1, 2, 3], ["k", "1", 2], ["k", True, 1], [None], "x", 5]
    ),
    "records-past-layers": lambda s: s.config.__setitem__(
        "dockyard.cache.v0", [[k, n + 10, h + 10] for k, n, h in s.config["dockyard.cache.v0"]]
    ),
    "history-not-a-list": lambda s: s.config.__setitem__("history", 5),
    "history-entry-not-an-object": lambda s: s.config["history"].__setitem__(1, "x"),
    "history-created-an-object": _set_history("created", {"x": 1}),
    "history-comment-a-list": _set_history("comment", [1]),
    "history-empty-layer-on-a-layer": _set_history("empty_layer", True),
}


@pytest.mark.slow
def test_spoiled_registry_sources_never_give_a_wrong_hit(
    dy: Runner, busybox: str, static: Static, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """One build from the source as built (every step hits), then one from each
    spoiled copy, and one whose COPY layer stops half-way (the import's warning, the
    step runs): each succeeds with the right files, no stored config has a time or
    comment that is not a string, and nothing is left half-stored."""
    root = Path(engine_env["DOCKYARD_ROOT"])
    ctx = _context(tmp_path / "ctx")
    built = Source(dy, ctx, tmp_path)
    ref = f"type=registry,ref={static.host}/cf/src:1"
    cases: list[tuple[str, Callable[[Source], None]]] = [("unspoiled", lambda s: None)]
    cases += sorted(SPOILED.items())
    cases.append(("layer-cut-off", lambda s: static.cut.add(_layer_digest(s, 1))))
    for name, spoil in cases:
        source = copy.deepcopy(built)
        static.cut.clear()
        spoil(source)
        static.serve(source.manifest, source.config, source.blobs)
        out = dy("build", "--cache-from", ref, "-t", "out", str(ctx))
        assert out.returncode == 0, f"{name}: {out.stdout}{out.stderr}"
        if name == "unspoiled":
            assert out.stdout.count(" ---> Using cache") == 5, out.stdout
        if name == "layer-cut-off":
            assert f"WARNING: importing cache from {static.host}/cf/src:1: " in out.stdout
        assert dy("run", "--rm", "out", "cat", "/ab", check=True).stdout == AB, name
        for image in dy("images", "-aq", "--no-trunc", check=True).stdout.split():
            config = json.loads((root / "blobs" / "sha256" / image[7:]).read_bytes())
            assert isinstance(config["created"], str), f"{name}: {config}"
            for entry in config["history"]:
                for key in ("created", "comment"):
                    assert isinstance(entry.get(key, ""), str), f"{name}: {entry}"
        check = dy("system", "check")
        assert check.returncode == 0, f"{name}: {check.stdout}"
        # With its untagged parents: the next build has no local cache again.
        dy("rmi", "out", check=True)


def test_a_local_source_removed_while_the_build_runs(
    dy: Runner, busybox: str, tmp_path: Path
) -> None:
    """``rmi`` of the --cache-from image after the build read it and before a step takes
    its layers: a warning, the steps run, the build succeeds (it failed with "layer blob
    ... is missing" and left the step's config and manifest blobs behind)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    # The first stage runs (only the target stage's steps are in the image's records)
    # while the image is removed; the COPY --from is in the records: its key takes the
    # first stage's key and the files' contents, not its image.
    (ctx / "Dockerfile").write_text(
        "FROM busybox AS slow\nRUN sleep 1 && echo s > /s\n"
        "FROM busybox\nCOPY a.txt /a.txt\nCOPY --from=slow /s /s\n"
    )
    (ctx / "a.txt").write_text("ay\n")
    dy("build", "-t", "src", str(ctx), check=True)
    archive = tmp_path / "src.tar"
    dy("save", "-o", str(archive), "src", check=True)
    dy("rmi", "src", check=True)
    dy("builder", "prune", "-af", check=True)
    dy("load", "-i", str(archive), check=True)
    build = subprocess.Popen(
        [DOCKYARD, "build", "--cache-from", "src", "-t", "out", str(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert build.stdout is not None
        head = ""
        while " ---> Running in " not in head:  # the build has read src: it sleeps
            line = build.stdout.readline()
            assert line, head
            head += line
        dy("rmi", "src", check=True)
        out, _ = build.communicate(timeout=60)
        out = head + out
    finally:
        build.kill()
        build.wait()
    assert build.returncode == 0, out
    assert "WARNING: importing cache from src: layer blob sha256:" in out
    assert dy("run", "--rm", "out", "cat", "/a.txt", "/s", check=True).stdout == "ay\ns\n"
    assert dy("system", "check").returncode == 0


def test_a_layer_taken_from_a_source_stays_while_later_steps_run(
    dy: Runner, busybox: str, tmp_path: Path
) -> None:
    """The COPY is taken from the --cache-from image; while the RUN after it runs, the
    image and the cache (the COPY's image) are removed: the RUN's image is stored on
    the COPY's layer all the same (it was pinned only until the COPY's image row
    existed: 'layer blob ... is missing')."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nCOPY a.txt /a.txt\nARG N\nRUN echo $N > /n && sleep 1\n"
    )
    (ctx / "a.txt").write_text("ay\n")
    dy("build", "--build-arg", "N=1", "-t", "src", str(ctx), check=True)
    archive = tmp_path / "src.tar"
    dy("save", "-o", str(archive), "src", check=True)
    dy("rmi", "src", check=True)
    dy("load", "-i", str(archive), check=True)
    build = subprocess.Popen(
        [DOCKYARD, "build", "--cache-from", "src", "--build-arg", "N=2", "-t", "out", str(ctx)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert build.stdout is not None
        head = ""
        while " ---> Running in " not in head:  # the COPY was taken from src
            line = build.stdout.readline()
            assert line, head
            head += line
        assert "COPY a.txt /a.txt\n ---> Using cache" in head, head
        dy("rmi", "src", check=True)
        pruned = dy("builder", "prune", "-af", check=True).stdout
        out, _ = build.communicate(timeout=60)
    finally:
        build.kill()
        build.wait()
    assert "Deleted build cache objects:" in pruned, pruned  # the COPY's image went
    assert build.returncode == 0, head + out
    assert dy("run", "--rm", "out", "cat", "/a.txt", "/n", check=True).stdout == "ay\n2\n"
    assert dy("system", "check").returncode == 0
