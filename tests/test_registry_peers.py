"""Dockyard against independent clients on a real registry: skopeo copies images in
(gzip Docker schema2, zstd OCI) that Dockyard pulls and runs; Dockyard pushes, skopeo
sees the digest Dockyard records and copies the image to an OCI layout that umoci
unpacks to the tree Dockyard unpacked."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from conftest import Runner, need
from registry_peer import Registry, registry_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)


def _skopeo(*args: str) -> str:
    # Each test's own blob-info cache, so skopeo never reuses another run's blobs.
    return subprocess.run(
        [need("skopeo"), *args], capture_output=True, text=True, check=True, timeout=120
    ).stdout


def _tree(root: Path) -> dict[str, tuple]:
    """path -> (type, mode, size or link target) of a directory tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            rel = str(p.relative_to(root))
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("l", os.readlink(p))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("d", stat.S_IMODE(st.st_mode))
            else:
                out[rel] = ("f", stat.S_IMODE(st.st_mode), st.st_size)
    return out


def test_push_seen_by_skopeo_and_umoci(
    dy: Runner, busybox: str, registry: Registry, tmp_path: Path
) -> None:
    need("umoci")
    name = f"{registry.host}/peers/busybox:1"
    dy("tag", busybox, name, check=True)
    out = dy("push", name, check=True).stdout.splitlines()
    digest = out[-1].split()[2]
    seen = json.loads(_skopeo("inspect", "--tls-verify=false", f"docker://{name}"))
    assert seen["Digest"] == digest
    digests = dy("image", "inspect", "-f", "{{json .RepoDigests}}", name, check=True).stdout
    assert json.loads(digests) == [f"{registry.host}/peers/busybox@{seen['Digest']}"]
    # Built and bootstrapped layers are stored uncompressed: pushed as gzip, as Docker.
    raw = json.loads(_skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{name}"))
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert {layer["mediaType"] for layer in raw["layers"]} == {
        "application/vnd.docker.image.rootfs.diff.tar.gzip"
    }
    # The gzip blob's digest was remembered: another repository mounts it, no upload.
    other = f"{registry.host}/peers/other:1"
    dy("tag", busybox, other, check=True)
    assert ": Mounted from peers/busybox\n" in dy("push", other, check=True).stdout
    layout = tmp_path / "layout"
    _skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{name}", f"oci:{layout}:1")
    bundle = tmp_path / "bundle"
    subprocess.run(
        ["umoci", "unpack", "--image", f"{layout}:1", str(bundle)],
        capture_output=True, check=True, timeout=120,
    )  # fmt: skip
    upper = dy("image", "inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", name, check=True)
    assert _tree(bundle / "rootfs") == _tree(Path(upper.stdout.strip()))


@pytest.mark.parametrize(
    "compression,fmt,layer_type",
    [
        ("gzip", "v2s2", "application/vnd.docker.image.rootfs.diff.tar.gzip"),
        ("zstd", "oci", "application/vnd.oci.image.layer.v1.tar+zstd"),
    ],
)
def test_pull_what_skopeo_pushed(
    dy: Runner, busybox: str, tmp_path: Path, compression: str, fmt: str, layer_type: str
) -> None:
    """skopeo pushes a compressed image (Dockyard's busybox, saved as an OCI layout: no
    other network) to a registry of its own (so skopeo has no uncompressed copy there to
    reuse); Dockyard pulls and runs it."""
    layout = tmp_path / "layout"
    layout.mkdir()
    dy("save", "-o", str(tmp_path / "busybox.tar"), busybox, check=True)
    subprocess.run(
        ["tar", "-x", "-C", str(layout), "-f", str(tmp_path / "busybox.tar")], check=True
    )
    reg = Registry(tmp_path / "registry")
    try:
        target = f"{reg.host}/peers/{compression}:1"
        _skopeo(
            "copy", "-q", "--dest-tls-verify=false", f"--format={fmt}", "--dest-compress",
            f"--dest-compress-format={compression}", f"oci:{layout}:latest", f"docker://{target}",
        )  # fmt: skip
        raw = json.loads(_skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{target}"))
        assert [layer["mediaType"] for layer in raw["layers"]] == [layer_type]
        dy("rmi", busybox, check=True)
        dy("pull", target, check=True)
        run = dy("run", "--rm", target, "sh", "-c", "echo $0 via skopeo", check=True)
        assert run.stdout == "sh via skopeo\n"
    finally:
        reg.stop()
