"""``save`` and ``load``: Docker 25+'s save format, the older docker-archive and plain OCI
layouts (podman's, recorded in tests/data), bad archives leaving nothing behind, and a
live round trip with podman when it is installed."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from conftest import DOCKYARD, Runner, need
from test_image_import import state

DATA = Path(__file__).parent / "data"
PODMAN_DOCKER = DATA / "podman-docker-archive.tar.gz"
PODMAN_OCI = DATA / "podman-oci-archive.tar"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
PODMAN_ID = "sha256:d19389f0c7dd07c9c0b0394d777c9160b3ddd4fd1c18a4634b1d4526e0cb2e75"


def image_id(dy: Runner, name: str) -> str:
    return json.loads(dy("image", "inspect", name, check=True).stdout)[0]["Id"]


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tf:
        out = {}
        for m in tf.getmembers():
            f = tf.extractfile(m)
            out[m.name] = f.read() if f is not None else b""
        return out


def test_save_format(dy: Runner, busybox: str, tmp_path: Path) -> None:
    out = tmp_path / "bb.tar"
    dy("save", "-o", str(out), "busybox", check=True)
    files = members(out)
    iid = image_id(dy, "busybox")
    for name, data in files.items():
        if name.startswith("blobs/sha256/") and data:
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    assert files["oci-layout"] == b'{"imageLayoutVersion": "1.0.0"}'
    [item] = json.loads(files["manifest.json"])
    assert item["Config"] == f"blobs/sha256/{iid[7:]}"
    assert item["RepoTags"] == ["busybox:latest"]
    config = json.loads(files[item["Config"]])
    assert [f"blobs/sha256/{d[7:]}" for d in config["rootfs"]["diff_ids"]] == item["Layers"]
    index = json.loads(files["index.json"])
    assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
    [desc] = index["manifests"]
    assert desc["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    manifest = json.loads(files[f"blobs/sha256/{desc['digest'][7:]}"])
    assert manifest["config"]["digest"] == iid
    assert [layer["digest"] for layer in manifest["layers"]] == config["rootfs"]["diff_ids"]
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    top = config["rootfs"]["diff_ids"][-1][7:]
    assert json.loads(files["repositories"]) == {"busybox": {"latest": top}}
    # The same images give the same bytes.
    again = dy("save", "busybox", check=True, input=b"").stdout
    assert again == out.read_bytes()


def test_save_rmi_load_round_trip(dy: Runner, busybox: str, tmp_path: Path) -> None:
    dy("tag", "busybox", "other/box:v2", check=True)
    iid = image_id(dy, "busybox")
    out = tmp_path / "two.tar"
    dy("save", "-o", str(out), "busybox:latest", "other/box", check=True)
    assert len(json.loads(members(out)["index.json"])["manifests"]) == 2
    dy("rmi", "busybox", "other/box:v2", check=True)
    loaded = dy("load", "-i", str(out), check=True)
    assert loaded.stdout == "Loaded image: busybox:latest\nLoaded image: other/box:v2\n"
    assert image_id(dy, "other/box:v2") == iid
    assert dy("run", "--rm", "busybox", "echo", "loaded", check=True).stdout == "loaded\n"


def test_a_removal_during_a_load_leaves_the_layers_it_found(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict
) -> None:
    """A load pins the layers it finds here (another image's) until its image is
    recorded: an ``rmi`` of that image meanwhile deleted them and the load failed
    'layer sha256:... is missing'. Played in this process: the rmi runs at the load's
    first progress message, that of its second layer, after the first was found."""
    from dockyard.image.archive import load
    from dockyard.image.store import ImageStore
    from dockyard.paths import Paths
    from dockyard.state import StateDB

    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo child > /child\n")
    dy("build", "-q", "-t", "child", str(tmp_path), check=True)
    out = tmp_path / "child.tar"
    dy("save", "-o", str(out), "child", check=True)
    dy("rmi", "child", check=True)
    db = StateDB(Paths.from_env().state_db)
    removed: list[str] = []
    try:
        store = ImageStore(Paths.from_env(), db)
        with open(out, "rb") as f:
            for _message in load(store, f):
                if not removed:
                    removed.append(dy("rmi", busybox, check=True).stdout)
    finally:
        db.close()
    assert "Deleted: sha256:" in removed[0]
    assert dy("run", "--rm", "child", "cat", "/child", check=True).stdout == "child\n"
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout


def test_save_by_id_is_untagged(dy: Runner, busybox: str, tmp_path: Path) -> None:
    iid = image_id(dy, "busybox")
    out = tmp_path / "id.tar"
    dy("image", "save", "-o", str(out), iid[7:19], check=True)
    files = members(out)
    assert json.loads(files["manifest.json"])[0]["RepoTags"] is None
    assert "annotations" not in json.loads(files["index.json"])["manifests"][0]
    assert "repositories" not in files
    dy("rmi", "busybox", check=True)
    loaded = dy("image", "load", "-q", "-i", str(out), check=True)
    assert loaded.stdout == f"Loaded image ID: {iid}\n"


def test_load_moves_a_tag(dy: Runner, busybox: str, tmp_path: Path) -> None:
    dy("load", "-i", str(PODMAN_OCI), check=True)
    dy("tag", "busybox", "localhost/pbox:1.0", check=True)
    out = dy("load", "-i", str(PODMAN_OCI), check=True).stdout
    assert out == (
        "The image localhost/pbox:1.0 already exists, renaming the old one with ID "
        f"{image_id(dy, 'busybox')} to empty string\nLoaded image: localhost/pbox:1.0\n"
    )
    assert image_id(dy, "localhost/pbox:1.0") == PODMAN_ID


@pytest.mark.parametrize("path", [PODMAN_DOCKER, PODMAN_OCI], ids=["docker-archive", "oci"])
def test_load_podman_archives(dy: Runner, path: Path) -> None:
    """Archives made by ``podman save`` (see tests/data/README.md): the docker-archive
    (a symlinked layer.tar, gzip-compressed) and the oci-archive (gzip layers)."""
    out = dy("load", "-i", str(path), check=True).stdout
    assert out == "Loaded image: localhost/pbox:1.0\n"
    assert image_id(dy, "localhost/pbox:1.0") == PODMAN_ID
    run = dy("run", "--rm", "localhost/pbox:1.0", "busybox", "cat", "/etc/origin", check=True)
    assert run.stdout == "made by podman\n"


def test_load_from_stdin_gzip(dy: Runner, busybox: str, tmp_path: Path) -> None:
    data = dy("save", "busybox", check=True, input=b"").stdout
    dy("rmi", "busybox", check=True)
    out = dy("load", input=gzip.compress(data), check=True).stdout
    assert out == b"Loaded image: busybox:latest\n"


def test_load_oci_zstd_layers(dy: Runner, busybox: str) -> None:
    """An OCI layout whose layers are zstd-compressed
    (``application/vnd.oci.image.layer.v1.tar+zstd``, what ``podman push
    --compression-format zstd`` or ``skopeo copy --dest-compress-format zstd`` make)."""
    import zstandard

    iid = image_id(dy, "busybox")
    saved = dy("save", "busybox", check=True, input=b"").stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]
    [desc] = json.loads(files["index.json"])["manifests"]
    manifest = json.loads(files[f"blobs/sha256/{desc['digest'][7:]}"])
    oci = {k: v for k, v in files.items() if k not in ("manifest.json", "repositories")}
    for layer in manifest["layers"]:
        packed = zstandard.ZstdCompressor().compress(files[f"blobs/sha256/{layer['digest'][7:]}"])
        digest = hashlib.sha256(packed).hexdigest()
        oci[f"blobs/sha256/{digest}"] = packed
        layer.update(
            mediaType="application/vnd.oci.image.layer.v1.tar+zstd",
            digest=f"sha256:{digest}",
            size=len(packed),
        )
    data = json.dumps(manifest).encode()
    digest = hashlib.sha256(data).hexdigest()
    oci[f"blobs/sha256/{digest}"] = data
    desc.update(digest=f"sha256:{digest}", size=len(data))
    oci["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [desc]}).encode()
    dy("rmi", "busybox", check=True)
    assert dy("load", input=_tar(oci), check=True).stdout == b"Loaded image: busybox:latest\n"
    assert image_id(dy, "busybox") == iid
    assert dy("run", "--rm", "busybox", "echo", "zstd", check=True).stdout == "zstd\n"


def _tar(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in entries.items():
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _bad_archives(saved: bytes) -> dict[str, bytes]:
    """Broken variants of a good save: each must fail and store nothing."""
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        files = {m.name: tf.extractfile(m).read() for m in tf.getmembers() if m.isfile()}  # type: ignore[union-attr]
    [item] = json.loads(files["manifest.json"])
    layer = item["Layers"][0]
    config = json.loads(files[item["Config"]])
    wrong = dict(files)
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    wrong_config = json.dumps(config).encode()
    wrong_name = "blobs/sha256/" + hashlib.sha256(wrong_config).hexdigest()
    wrong[wrong_name] = wrong_config
    wrong["manifest.json"] = json.dumps([{**item, "Config": wrong_name}]).encode()
    # A second, good image before the bad one: it must not stay stored either.
    second = dict(wrong)
    second["manifest.json"] = json.dumps([item, {**item, "Config": wrong_name}]).encode()
    missing = {k: v for k, v in files.items() if k != layer}
    oci = {k: v for k, v in files.items() if k not in ("manifest.json", "repositories")}
    [desc] = json.loads(files["index.json"])["manifests"]

    def blob(data: bytes) -> tuple[str, str]:
        digest = hashlib.sha256(data).hexdigest()
        return f"blobs/sha256/{digest}", f"sha256:{digest}"

    def oci_with(manifest: bytes, media: str = desc["mediaType"]) -> bytes:
        name, digest = blob(manifest)
        index = {"manifests": [{"mediaType": media, "digest": digest, "size": len(manifest)}]}
        return _tar({**oci, name: manifest, "index.json": json.dumps(index).encode()})

    good_manifest = json.loads(files[f"blobs/sha256/{desc['digest'][7:]}"])
    sparse = io.BytesIO()
    with tarfile.open(fileobj=sparse, mode="w", format=tarfile.PAX_FORMAT) as tf:
        # A 1 TB file of holes: it must be refused, not written out.
        hole = tarfile.TarInfo("hole")
        hole.pax_headers = {"GNU.sparse.map": "0,0", "GNU.sparse.size": str(10**12)}
        tf.addfile(hole)
    return {
        "garbage": b"this is not an archive\n" * 100,
        "empty": b"",
        "truncated": saved[: len(saved) // 2],
        "truncated-gzip": gzip.compress(saved)[:5000],
        "no-manifest": _tar({"hello.txt": b"hi"}),
        "bad-json": _tar({"manifest.json": b"[{"}),
        "wrong-diff-id": _tar(wrong),
        "good-then-bad": _tar(second),
        "missing-layer": _tar(missing),
        "escaping-name": _tar({"../manifest.json": b"[]"}),
        "repo-tags-string": _tar(
            {**files, "manifest.json": json.dumps([{**item, "RepoTags": "evil"}]).encode()}
        ),
        "repo-tags-ints": _tar(
            {**files, "manifest.json": json.dumps([{**item, "RepoTags": [1]}]).encode()}
        ),
        "deep-json": _tar({**files, "manifest.json": b"[" * 100000 + b"]" * 100000}),
        "index-annotations-string": _tar(
            {
                **oci,
                "index.json": json.dumps({"manifests": [{**desc, "annotations": "x"}]}).encode(),
            }
        ),
        "index-entry-without-digest": _tar(
            {**oci, "index.json": json.dumps({"manifests": [{"mediaType": MEDIA_INDEX}]}).encode()}
        ),
        "nested-index-a-list": oci_with(b"[]", MEDIA_INDEX),
        "nested-index-bad-platform": oci_with(
            json.dumps({"manifests": [{"mediaType": MEDIA_INDEX, "platform": 3}]}).encode(),
            MEDIA_INDEX,
        ),
        "manifest-a-list": oci_with(b"[1, 2]"),
        "manifest-config-string": oci_with(json.dumps({**good_manifest, "config": "x"}).encode()),
        "manifest-layer-string": oci_with(json.dumps({**good_manifest, "layers": ["x"]}).encode()),
        "manifest-layers-object": oci_with(
            json.dumps({**good_manifest, "layers": {"a": 1}}).encode()
        ),
        "sparse-entry": sparse.getvalue(),
    }


def test_load_bad_archives_store_nothing(dy: Runner, busybox: str, engine_env: dict) -> None:
    saved = dy("save", "busybox", check=True, input=b"").stdout
    dy("rmi", "busybox", check=True)
    before = state(engine_env["DOCKYARD_ROOT"])
    for kind, data in _bad_archives(saved).items():
        r = dy("load", input=data)
        err = r.stderr.decode()
        assert r.returncode == 1, (kind, err)
        assert err.count("\n") == 1 and err.startswith("invalid archive: "), (kind, err)
        assert "Traceback" not in err
        assert state(engine_env["DOCKYARD_ROOT"]) == before, kind


def test_load_and_save_errors(dy: Runner, busybox: str, tmp_path: Path) -> None:
    r = dy("load", "-i", str(tmp_path / "nope.tar"))
    assert (r.returncode, r.stderr) == (1, f"open {tmp_path}/nope.tar: no such file or directory\n")
    r = dy("save", "-o", str(tmp_path / "no" / "x.tar"), "busybox")
    assert r.returncode == 1
    assert r.stderr == (
        f'failed to save image: invalid output path: directory "{tmp_path}/no" does not exist\n'
    )
    r = dy("save", "-o", str(tmp_path / "x.tar"), "nosuch:1")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: No such image: nosuch:1\n")
    assert os.listdir(tmp_path) == [] or "x.tar" not in os.listdir(tmp_path)


def _podman(tmp_path: Path, runroot: str) -> list[str]:
    root = str(tmp_path / "podman-root")
    # Podman refuses a runroot path longer than 50 characters.
    return ["podman", "--root", root, "--runroot", runroot, "--storage-driver", "vfs"]


@pytest.mark.timeout(180)
def test_live_podman_round_trip(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``dockyard save`` loads into podman with the same image ID, and what podman saves
    of it (docker-archive and oci-archive) loads back into Dockyard."""
    import tempfile

    need("podman")
    runroot = tempfile.mkdtemp(prefix="dy-podman-")
    podman = _podman(tmp_path, runroot)
    env = {**os.environ, "CONTAINERS_CONF": str(DATA / "podman-containers.conf")}

    def run(*args: str) -> str:
        r = subprocess.run([*podman, *args], env=env, capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, (args, r.stderr)
        return r.stdout

    try:
        iid = image_id(dy, "busybox")
        dy("save", "-o", str(tmp_path / "dy.tar"), "busybox", check=True)
        assert "busybox:latest" in run("load", "-i", str(tmp_path / "dy.tar"))
        assert run("image", "inspect", "--format", "{{.ID}}", "busybox") == iid[7:] + "\n"
        for fmt in ("docker-archive", "oci-archive"):
            out = tmp_path / f"{fmt}.tar"
            run("save", "--format", fmt, "-o", str(out), "docker.io/library/busybox:latest")
            dy("rmi", "busybox", check=True)
            loaded = dy("load", "-i", str(out), check=True).stdout
            assert loaded == "Loaded image: busybox:latest\n"
            assert image_id(dy, "busybox") == iid
    finally:
        subprocess.run([*podman, "system", "reset", "-f"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(tmp_path / "podman-root", ignore_errors=True)
        shutil.rmtree(runroot, ignore_errors=True)


def test_load_docker_20_10_save(dy: Runner, tmp_path: Path) -> None:
    """``docker save`` of Docker 20.10 (the format before 25: ``<id>/layer.tar``, one of
    them a symlink to the shared layer; see tests/data/README.md)."""
    out = dy("load", "-i", str(DATA / "docker-20.10-save.tar"), check=True).stdout
    assert out == "Loaded image: tiny:1\nLoaded image: tiny:2\n"
    assert image_id(dy, "tiny:1") == (
        "sha256:c63285a047f7c002a2def539fff6e594542860070f870d30ef4d1d32f39ac968"
    )
    info = json.loads(dy("image", "inspect", "tiny:2", check=True).stdout)[0]
    assert info["Id"] == "sha256:92acbda4e673d1d9a9f99e7ff2ced61970b09da6c0798537e8b87e8f5124882f"
    assert info["Config"]["Labels"] == {"made": "docker-20.10"}
    dy("create", "--name", "tiny", "tiny:2", check=True)
    data = dy("export", "tiny", check=True, input=b"").stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        assert tf.extractfile("hello").read() == b"made by docker\n"  # type: ignore[union-attr]
        assert tf.extractfile("x").read() == b"second\n"  # type: ignore[union-attr]


def test_save_loads_into_docker_20_10(dy: Runner, tmp_path: Path) -> None:
    """``dockyard save`` of the images of Docker 20.10's archive writes the bytes that
    Docker 20.10's ``docker load`` was seen to load (tests/data/README.md): the OCI layout
    with ``manifest.json`` beside it, no per-layer ``<id>/`` files, is enough for it."""
    dy("load", "-i", str(DATA / "docker-20.10-save.tar"), check=True)
    out = tmp_path / "tiny.tar"
    dy("save", "-o", str(out), "tiny:1", "tiny:2", check=True)
    assert out.read_bytes() == (DATA / "dockyard-save-tiny.tar").read_bytes()
    assert not [name for name in members(out) if name.endswith(("layer.tar", "/json", "VERSION"))]


def test_save_to_a_reader_that_goes_away(busybox: str, engine_env: dict[str, str]) -> None:
    """``save busybox | head -c 100``: the command ends without a traceback; the
    streaming tar left unclosed by the broken pipe flushed again when collected
    ('Exception ignored in: <function _Stream.__del__ ...> BrokenPipeError')."""
    proc = subprocess.Popen(
        [DOCKYARD, "save", busybox],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert len(proc.stdout.read(100)) == 100
    proc.stdout.close()
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) != 0
    assert "Traceback" not in err and "Exception ignored" not in err, err
