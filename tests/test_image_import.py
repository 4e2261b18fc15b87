"""``dockyard import``: formats, --change, and failures that leave nothing behind."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import sqlite3
import tarfile
from pathlib import Path

import pytest

from conftest import Runner


def rootfs_tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("etc/hello", b"hi\n"), ("bin/tool", b"#!/bin/sh\n")):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o755
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TAR = rootfs_tar()
COMPRESSORS = {"tar": lambda b: b, "gz": gzip.compress, "xz": lzma.compress, "bz2": bz2.compress}


def inspect(dy: Runner, name: str) -> dict:
    out = dy("image", "inspect", name, check=True).stdout
    return json.loads(out)[0]


def state(root: str) -> tuple[list[str], list[tuple], list[tuple]]:
    """Every file under the engine root (the DB aside) and the image and tag rows."""
    files = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.relpath(os.path.join(dirpath, n), root)
            if not p.startswith("state.db"):
                files.append(p)
    db = sqlite3.connect(os.path.join(root, "state.db"))
    try:
        images = db.execute("SELECT * FROM images ORDER BY id").fetchall()
        tags = db.execute("SELECT * FROM tags ORDER BY name").fetchall()
    finally:
        db.close()
    return sorted(files), images, tags


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_import_formats(dy: Runner, tmp_path: Path, engine_env: dict[str, str], kind: str) -> None:
    src = tmp_path / f"rootfs.{kind}"
    src.write_bytes(COMPRESSORS[kind](TAR))
    out = dy("import", str(src), "myimg:v1", check=True).stdout.strip()
    assert out.startswith("sha256:") and len(out) == 71
    info = inspect(dy, "myimg:v1")
    assert info["Id"] == out and info["RepoTags"] == ["myimg:v1"]
    assert info["Os"] == "linux" and info["Architecture"] in ("amd64", "arm64")
    assert info["Size"] == len(TAR)
    layer = info["GraphDriver"]["Data"]["UpperDir"]
    assert Path(layer, "etc/hello").read_bytes() == b"hi\n"
    # The layer blob is the uncompressed tar, stored under its diff id.
    root = engine_env["DOCKYARD_ROOT"]
    diff_id = info["RootFS"]["Layers"][0]
    assert Path(root, "blobs/sha256", diff_id[7:]).read_bytes() == TAR
    config = json.loads(Path(root, "blobs/sha256", out[7:]).read_bytes())
    assert config["rootfs"] == {"type": "layers", "diff_ids": [diff_id]}
    assert config["history"][0]["created"] == config["created"]


def test_import_stdin_and_manifest(dy: Runner, engine_env: dict[str, str]) -> None:
    image_id = dy("import", "-", input=gzip.compress(TAR), check=True).stdout.decode().strip()
    root = engine_env["DOCKYARD_ROOT"]
    db = sqlite3.connect(os.path.join(root, "state.db"))
    (manifest_digest,) = db.execute("SELECT manifest_digest FROM images").fetchone()
    assert db.execute("SELECT count(*) FROM tags").fetchone() == (0,)
    db.close()
    manifest = json.loads(Path(root, "blobs/sha256", manifest_digest[7:]).read_bytes())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    assert manifest["config"]["digest"] == image_id
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar"
    assert manifest["layers"][0]["size"] == len(TAR)
    lines = dy("images").stdout.splitlines()
    assert lines[1].split()[:3] == ["<none>", "<none>", image_id[7:19]]


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (["CMD echo hi"], {"Cmd": ["/bin/sh", "-c", "echo hi"]}),
        (['CMD ["echo", "hi"]'], {"Cmd": ["echo", "hi"]}),
        (
            ['ENTRYPOINT ["/bin/tool"]', "CMD --help"],
            {"Entrypoint": ["/bin/tool"], "Cmd": ["/bin/sh", "-c", "--help"]},
        ),
        (["entrypoint top -b"], {"Entrypoint": ["/bin/sh", "-c", "top -b"]}),
        (['ENV A=1 B="x y"', "ENV C 3 4", "ENV A=2"], {"Env": ["B=x y", "C=3 4", "A=2"]}),
        (["WORKDIR /app", "WORKDIR sub"], {"WorkingDir": "/app/sub"}),
        (["USER nobody:nogroup"], {"User": "nobody:nogroup"}),
        (["EXPOSE 80 53/udp"], {"ExposedPorts": {"80/tcp": {}, "53/udp": {}}}),
        (['LABEL a=b "c d"=e'], {"Labels": {"a": "b", "c d": "e"}}),
        (['VOLUME ["/data"]', "VOLUME /x /y"], {"Volumes": {"/data": {}, "/x": {}, "/y": {}}}),
        (["STOPSIGNAL SIGINT"], {"StopSignal": "SIGINT"}),
        (["STOPSIGNAL 9"], {"StopSignal": "9"}),
        (["EXPOSE 1-65535/udp"], {"ExposedPorts": {"1-65535/udp": {}}}),
        # Docker parses the changes joined by newlines as a Dockerfile.
        (
            ["ENV A=1\nUSER u", "# note", "CMD echo \\\n hi"],
            {"Env": ["A=1"], "User": "u", "Cmd": ["/bin/sh", "-c", "echo  hi"]},
        ),
    ],
)
def test_import_changes(dy: Runner, tmp_path: Path, changes: list[str], expected: dict) -> None:
    src = tmp_path / "r.tar"
    src.write_bytes(TAR)
    args = [a for c in changes for a in ("-c", c)]
    dy("import", *args, str(src), "x", check=True)
    config = inspect(dy, "x")["Config"]
    for key, value in expected.items():
        assert config[key] == value, key


def test_import_message(dy: Runner, tmp_path: Path, engine_env: dict[str, str]) -> None:
    src = tmp_path / "r.tar"
    src.write_bytes(TAR)
    image_id = dy("import", "-m", "first import", str(src), "x", check=True).stdout.strip()
    assert inspect(dy, "x")["Comment"] == "first import"
    config = json.loads(Path(engine_env["DOCKYARD_ROOT"], "blobs/sha256", image_id[7:]).read_text())
    assert config["history"][0]["comment"] == "first import"


@pytest.mark.parametrize(
    ("args", "data", "message"),
    [
        (["-c", "RUN true"], TAR, "run is not a valid change command"),
        (["-c", "BOGUS x"], TAR, "unknown instruction: BOGUS"),
        (["-c", "CMD"], TAR, "CMD requires at least one argument"),
        (["-c", "EXPOSE http"], TAR, "invalid containerPort: http"),
        (["-c", "EXPOSE 99999"], TAR, "invalid containerPort: 99999"),
        (["-c", "EXPOSE 0/udp"], TAR, "invalid containerPort: 0/udp"),
        (["-c", "EXPOSE 80-70"], TAR, "invalid containerPort: 80-70: invalid range"),
        # An empty volume path made an image no run could start.
        (["-c", 'VOLUME ["/a", ""]'], TAR, "VOLUME specified can not be an empty string"),
        (["-c", "STOPSIGNAL NOPE"], TAR, "Invalid signal: NOPE"),
        (["-c", "STOPSIGNAL 99"], TAR, "Invalid signal: 99"),
        # moby's parseOnBuild: an image whose trigger no build could run
        (["-c", "ONBUILD onbuild RUN x"], TAR, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't"),
        (["-c", "ONBUILD from scratch"], TAR, "FROM isn't allowed as an ONBUILD trigger"),
        (["-c", "ONBUILD MAINTAINER me"], TAR, "MAINTAINER isn't allowed as an ONBUILD trigger"),
        (["-c", "CMD x\ny"], TAR, "parse error on line 2: unknown instruction: y"),
        (["-c", "CMD x", "-c", "\nBOGUS"], TAR, "parse error on line 3: unknown instruction"),
        (["--platform", "linux/s390x"], TAR, "invalid platform"),
        ([], b"this is not a tar archive" * 40, "invalid layer tar"),
        ([], gzip.compress(TAR, mtime=0)[:60], "invalid archive"),
        ([], lzma.compress(TAR)[:-20], "invalid archive"),
        ([], TAR[:700], "invalid layer tar"),
    ],
)
def test_failed_import_leaves_nothing(
    dy: Runner,
    tmp_path: Path,
    engine_env: dict[str, str],
    args: list[str],
    data: bytes,
    message: str,
) -> None:
    dy("bootstrap", "busybox", check=True)
    root = engine_env["DOCKYARD_ROOT"]
    before = state(root)
    src = tmp_path / "bad"
    src.write_bytes(data)
    proc = dy("import", *args, str(src), "bad:1")
    assert proc.returncode == 1
    assert message in proc.stderr
    assert state(root) == before
    proc = dy("import", *args, "-", "bad:1", input=data)
    assert proc.returncode == 1 and state(root) == before


def test_import_missing_file(dy: Runner, tmp_path: Path) -> None:
    proc = dy("import", str(tmp_path / "nope.tar"))
    assert proc.returncode == 1
    assert f"open {tmp_path / 'nope.tar'}: no such file or directory" in proc.stderr
