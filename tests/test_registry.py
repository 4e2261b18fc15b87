"""Pull and push against a real registry (Debian's docker-registry on 127.0.0.1):
round trips, RepoDigests, multi-platform indexes, mirrors, all tags, racing and killed
pulls."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import DOCKYARD, Runner
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


def _push(dy: Runner, source: str, target: str) -> str:
    """Tag ``source`` as ``target``, push it; returns the manifest digest pushed."""
    dy("tag", source, target, check=True)
    out = dy("push", target, check=True).stdout
    last = out.strip().splitlines()[-1]
    tag = target.rsplit(":", 1)[1]
    assert last.startswith(f"{tag}: digest: sha256:") and " size: " in last, out
    return last.split()[2]


def _blobs(root: str) -> list[str]:
    return sorted(os.listdir(os.path.join(root, "blobs", "sha256")))


def test_pull_of_an_image_already_here_leaves_no_debris(
    dy: Runner, busybox: str, registry: Registry
) -> None:
    """Pulling back an image that is here under another name stores the registry's
    manifest beside the image's own: its RepoDigest keeps it, so `system check` finds
    nothing, and removing the image takes it along."""
    name = f"{registry.host}/again/busybox:1"
    digest = _push(dy, busybox, name)
    dy("rmi", name, check=True)
    dy("pull", "-q", name, check=True)
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert Path(os.environ["DOCKYARD_ROOT"], "blobs", "sha256", digest.split(":")[1]).exists()
    # Untagged by digest: the manifest goes with it.
    by_digest = f"{name.rsplit(':', 1)[0]}@{digest}"
    dy("rmi", by_digest, check=True)
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    dy("pull", "-q", by_digest, check=True)
    dy("rmi", name, busybox, check=True)
    blob = Path(os.environ["DOCKYARD_ROOT"], "blobs", "sha256", digest.split(":")[1])
    assert not blob.exists()
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout + check.stderr


def test_push_rmi_pull_run(dy: Runner, busybox: str, registry: Registry, engine_env: dict) -> None:
    name = f"{registry.host}/rt/busybox:1"
    out = dy("push", name).stderr
    assert (
        out
        == f"Error response from daemon: An image does not exist locally with the tag: {registry.host}/rt/busybox\n"
    )
    digest = _push(dy, busybox, name)
    lines = dy("push", name, check=True).stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{registry.host}/rt/busybox]"
    assert any(line.endswith(": Layer already exists") for line in lines), lines
    # busybox's layer is stored uncompressed (bootstrap): it went gzip-compressed, in
    # Docker's schema 2 manifest, as docker push sends a layer it has no blob of.
    resp = httpx.get(
        f"http://{registry.host}/v2/rt/busybox/manifests/1",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    assert "sha256:" + hashlib.sha256(resp.content).hexdigest() == digest
    pushed = json.loads(resp.content)
    assert pushed["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert pushed["config"]["mediaType"] == "application/vnd.docker.container.image.v1+json"
    assert pushed["config"]["digest"] == json.loads(
        dy("image", "inspect", "-f", "{{json .Id}}", name, check=True).stdout
    )
    [layer] = pushed["layers"]
    assert layer["mediaType"] == "application/vnd.docker.image.rootfs.diff.tar.gzip"
    blob = httpx.get(f"http://{registry.host}/v2/rt/busybox/blobs/{layer['digest']}").content
    assert (
        "sha256:" + hashlib.sha256(gzip.decompress(blob)).hexdigest()
        == (json.loads(dy("image", "inspect", name, check=True).stdout)[0]["RootFS"]["Layers"][0])
    )
    dy("rmi", name, busybox, check=True)
    assert dy("images", "-q", check=True).stdout == ""
    pulled = dy("pull", name, check=True)
    lines = pulled.stdout.splitlines()
    assert lines[0] == "1: Pulling from rt/busybox"
    assert any(line.endswith(": Pull complete") for line in lines)
    assert not any("[=" in line for line in lines)  # no progress bars off a terminal
    assert lines[-3:] == [
        f"Digest: {digest}",
        f"Status: Downloaded newer image for {name}",
        name,
    ]
    again = dy("pull", name, check=True).stdout.splitlines()
    assert any(line.endswith(": Already exists") for line in again)
    assert again[-2] == f"Status: Image is up to date for {name}"
    assert dy("pull", "-q", name, check=True).stdout == name + "\n"
    by_digest = f"{registry.host}/rt/busybox@{digest}"
    inspect = json.loads(dy("image", "inspect", name, check=True).stdout)[0]
    assert inspect["RepoDigests"] == [by_digest]
    table = dy("images", "--digests", check=True).stdout.splitlines()
    assert table[1].split()[:3] == [f"{registry.host}/rt/busybox", "1", digest]
    assert dy("run", "--rm", by_digest, "echo", "by digest", check=True).stdout == "by digest\n"
    # Pushed to another repository of the registry: the layer is mounted, not uploaded.
    dy("tag", name, f"{registry.host}/rt/copy:1", check=True)
    mounted = dy("push", f"{registry.host}/rt/copy:1", check=True).stdout
    assert ": Mounted from rt/busybox\n" in mounted, mounted
    dy("rmi", f"{registry.host}/rt/copy:1", check=True)
    removed = dy("rmi", name, check=True).stdout.splitlines()
    assert removed[:2] == [f"Untagged: {name}", f"Untagged: {by_digest}"]
    # By digest alone, then `run` pulls what is missing.
    dy("pull", by_digest, check=True)
    run = dy("run", "--rm", name, "echo", "pulled by run", check=True)
    assert run.stdout == "pulled by run\n"
    assert f"Unable to find image '{name}' locally" in run.stderr
    assert "Status: Downloaded newer image" in run.stderr
    never = dy("run", "--rm", "--pull", "never", f"{registry.host}/rt/nothing", "true")
    assert never.returncode == 125 and "Unable to find" not in never.stderr
    missing = dy("pull", f"{registry.host}/rt/busybox:nope")
    assert missing.returncode == 1
    assert missing.stderr == (
        f"Error response from daemon: manifest for {registry.host}/rt/busybox:nope not found: "
        "manifest unknown: manifest unknown\n"
    )


def _put_blob(host: str, repo: str, data: bytes) -> dict:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    start = httpx.post(f"http://{host}/v2/{repo}/blobs/uploads/")
    assert start.status_code == 202
    loc = httpx.URL(f"http://{host}").join(start.headers["location"])
    put = httpx.put(loc.copy_merge_params({"digest": digest}), content=data)
    assert put.status_code == 201, put.text
    return {"digest": digest, "size": len(data)}


def _put_manifest(host: str, repo: str, ref: str, data: bytes, media_type: str) -> str:
    resp = httpx.put(
        f"http://{host}/v2/{repo}/manifests/{ref}",
        content=data,
        headers={"Content-Type": media_type},
    )
    assert resp.status_code == 201, resp.text
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_multi_platform_index(dy: Runner, busybox: str, registry: Registry) -> None:
    """An index made here (amd64 + arm64 entries): the host's platform by default,
    ``--platform linux/arm64`` the other, and a platform it lacks is refused."""
    from dockyard.image.create import host_arch

    other = "arm64" if host_arch() != "arm64" else "amd64"
    base = f"{registry.host}/mp/busybox"
    _push(dy, busybox, f"{base}:host")
    # Pushed as Docker's schema 2 (busybox's layer is stored uncompressed: it went gzip).
    manifest = httpx.get(
        f"http://{registry.host}/v2/mp/busybox/manifests/host",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    ).content
    m = json.loads(manifest)
    config = json.loads(
        httpx.get(f"http://{registry.host}/v2/mp/busybox/blobs/{m['config']['digest']}").content
    )
    config["architecture"] = other
    cfg_desc = _put_blob(registry.host, "mp/busybox", json.dumps(config).encode())
    m["config"] = {**m["config"], **cfg_desc}
    other_bytes = json.dumps(m).encode()
    oci = "application/vnd.docker.distribution.manifest.v2+json"
    other_digest = _put_manifest(registry.host, "mp/busybox", "other", other_bytes, oci)
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {
                "mediaType": oci,
                "digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
                "size": len(manifest),
                "platform": {"os": "linux", "architecture": host_arch()},
            },
            {
                "mediaType": oci,
                "digest": other_digest,
                "size": len(other_bytes),
                "platform": {"os": "linux", "architecture": other},
            },
        ],
    }
    index_bytes = json.dumps(index).encode()
    index_digest = _put_manifest(
        registry.host, "mp/busybox", "multi", index_bytes, index["mediaType"]
    )
    dy("rmi", f"{base}:host", check=True)
    pulled = dy("pull", f"{base}:multi", check=True).stdout
    assert f"Digest: {index_digest}" in pulled
    arch = dy("image", "inspect", "-f", "{{.Architecture}}", f"{base}:multi", check=True)
    assert arch.stdout.strip() == host_arch()
    dy("pull", "--platform", f"linux/{other}", f"{base}:multi", check=True)
    arch = dy("image", "inspect", "-f", "{{.Architecture}}", f"{base}:multi", check=True)
    assert arch.stdout.strip() == other
    bad = dy("pull", "--platform", "linux/s390x", f"{base}:multi")
    assert bad.returncode == 1
    assert bad.stderr == (
        "Error response from daemon: no matching manifest for linux/s390x in the manifest "
        f"list entries (the index offers linux/{host_arch()}, linux/{other})\n"
    )


def test_registry_mirror_serves_docker_hub_names(
    dy: Runner, busybox: str, registry: Registry, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``registry-mirrors`` makes ``pull busybox`` (docker.io/library/busybox:latest)
    come from the loopback registry, with no other network."""
    registry_env(
        monkeypatch, tmp_path, json.dumps({"registry-mirrors": [f"http://{registry.host}"]})
    )
    dy("tag", busybox, f"{registry.host}/library/busybox", check=True)
    pushed = dy("push", f"{registry.host}/library/busybox", check=True).stdout.splitlines()
    assert pushed[:2] == [
        "Using default tag: latest",
        f"The push refers to repository [{registry.host}/library/busybox]",
    ]
    dy("rmi", "busybox", f"{registry.host}/library/busybox:latest", check=True)
    out = dy("pull", "busybox", check=True).stdout.splitlines()
    assert out[0] == "Using default tag: latest"
    assert out[1] == "latest: Pulling from library/busybox"
    assert out[-2:] == [
        "Status: Downloaded newer image for busybox:latest",
        "docker.io/library/busybox:latest",
    ]
    digests = dy("image", "inspect", "-f", "{{json .RepoDigests}}", "busybox", check=True)
    assert json.loads(digests.stdout)[0].startswith("busybox@sha256:")
    bad = tmp_path / "daemon.json"
    bad.write_text('{"registry-mirrors": ["ftp://x"]}')
    refused = dy("pull", "busybox")
    assert refused.returncode == 1
    assert refused.stderr.startswith(f"Error response from daemon: {bad}: invalid mirror")


def test_all_tags(dy: Runner, busybox: str, registry: Registry) -> None:
    base = f"{registry.host}/tags/busybox"
    for tag in ("a", "b"):
        _push(dy, busybox, f"{base}:{tag}")
    dy("rmi", f"{base}:a", f"{base}:b", check=True)
    tagged = dy("pull", "-a", f"{base}:a")
    assert tagged.returncode == 1 and tagged.stderr == "tag can't be used with --all-tags/-a\n"
    out = dy("pull", "-a", base, check=True).stdout.splitlines()
    assert "a: Pulling from tags/busybox" in out and "b: Pulling from tags/busybox" in out
    assert out[-2:] == [f"Status: Downloaded newer image for {base}", base]
    assert {f"{base}:a", f"{base}:b"} <= set(
        dy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    )
    assert dy("push", "-a", f"{base}:a").stderr == "tag can't be used with --all-tags/-a\n"
    pushed = dy("push", "-a", base, check=True).stdout
    assert "a: digest: sha256:" in pushed and "b: digest: sha256:" in pushed


def _big_image(dy: Runner, busybox: str, tmp_path: Path, name: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN head -c 30000000 /dev/urandom > /one\n"
        "RUN head -c 34000000 /dev/urandom > /two\n"  # over 32 MiB: a chunked upload
    )
    dy("build", "-q", "-t", name, str(ctx), check=True)


def test_racing_and_killed_pulls(
    dy: Runner, busybox: str, registry: Registry, tmp_path: Path, engine_env: dict
) -> None:
    """Two pulls racing store each layer once; a pull killed with SIGKILL at any moment
    leaves the store whole and the next pull completes it."""
    name = f"{registry.host}/race/big:1"
    _big_image(dy, busybox, tmp_path, name)
    _push(dy, name, name)
    dy("rmi", name, busybox, check=True)
    root = engine_env["DOCKYARD_ROOT"]
    env = {**os.environ, **engine_env}
    procs = [
        subprocess.Popen(
            [DOCKYARD, "pull", "-q", name], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    layers = [d for d in os.listdir(os.path.join(root, "layers")) if len(d) == 64]
    assert len(layers) == 3
    assert os.listdir(os.path.join(root, "tmp")) == []
    for delay in (0.05, 0.3, 0.6, 1.0):
        dy("rmi", name, check=True)
        p = subprocess.Popen(
            [DOCKYARD, "pull", name], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        time.sleep(delay)
        p.send_signal(signal.SIGKILL)
        p.wait()
        listed = dy("images", "-q", check=True).stdout.split()
        assert len(listed) <= 1
        if listed:  # the kill came after the image was recorded: it is whole
            assert dy("run", "--rm", name, "ls", "/one", "/two", check=True)
        dy("pull", name, check=True)
        run = dy("run", "--rm", name, "sh", "-c", "wc -c < /one; wc -c < /two", check=True)
        assert run.stdout.split() == ["30000000", "34000000"]
        assert os.listdir(os.path.join(root, "tmp")) == []


def test_build_and_aliases_pull(
    dy: Runner, busybox: str, registry: Registry, tmp_path: Path
) -> None:
    """``build`` pulls a missing FROM image (every one with ``--pull``); ``image pull``
    and ``push -q`` as Docker's; ``--platform`` naming another platform than a
    single-platform image's is refused."""
    from dockyard.image.create import host_arch

    base = f"{registry.host}/build/busybox:1"
    dy("tag", busybox, base, check=True)
    assert dy("push", "-q", base, check=True).stdout == base + "\n"
    dy("rmi", base, busybox, check=True)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base}\nRUN echo built > /built\n")
    out = dy("build", "-t", "built", str(ctx), check=True).stdout
    assert f"Step 1/2 : FROM {base}\n1: Pulling from build/busybox\n" in out
    assert f"Status: Downloaded newer image for {base}\n" in out
    again = dy("build", "--pull", "-t", "built", str(ctx), check=True).stdout
    assert f"Status: Image is up to date for {base}\n" in again
    assert dy("run", "--rm", "built", "cat", "/built", check=True).stdout == "built\n"
    assert dy("image", "pull", "-q", base, check=True).stdout == base + "\n"
    other = "arm64" if host_arch() != "arm64" else "amd64"
    wrong = dy("pull", "--platform", f"linux/{other}", base)
    assert wrong.returncode == 1
    assert wrong.stderr == (
        f"Error response from daemon: image with reference {base} was found but does not "
        f"match the specified platform: wanted linux/{other}, actual: linux/{host_arch()}\n"
    )


def test_gzip_manifest_families() -> None:
    """The manifest pushed for an image with uncompressed layers: Docker's schema 2 as
    moby builds it, or OCI (``+gzip``, annotations kept) when a layer is zstd, which
    schema 2 cannot name."""
    from dockyard.distribution.push import _gzip_manifest

    oci = "application/vnd.oci.image.layer.v1"
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": "sha256:c",
            "size": 9,
        },
        "layers": [
            {"mediaType": f"{oci}.tar+gzip", "digest": "sha256:a", "size": 1},
            {"mediaType": f"{oci}.tar", "digest": "sha256:b", "size": 2},
        ],
        "annotations": {"k": "v"},
    }
    docker = _gzip_manifest(manifest, ["gzip", ""], {1: ("sha256:bz", 3)})
    gz = "application/vnd.docker.image.rootfs.diff.tar.gzip"
    assert docker.decode() == json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 9,
                "digest": "sha256:c",
            },
            "layers": [
                {"mediaType": gz, "size": 1, "digest": "sha256:a"},
                {"mediaType": gz, "size": 3, "digest": "sha256:bz"},
            ],
        },
        indent=3,
    )
    manifest["layers"][0]["mediaType"] = f"{oci}.tar+zstd"
    mixed = json.loads(_gzip_manifest(manifest, ["zstd", ""], {1: ("sha256:bz", 3)}))
    assert mixed["mediaType"] == manifest["mediaType"] and mixed["annotations"] == {"k": "v"}
    assert mixed["layers"] == [
        manifest["layers"][0],
        {"mediaType": f"{oci}.tar+gzip", "size": 3, "digest": "sha256:bz"},
    ]


def _pull_here(
    name: str,
    on_message: Callable[[dict], None] | None = None,
    after_write: Callable[[], None] | None = None,
) -> None:
    """Pull ``name`` in this process, as ``dockyard pull`` does (a lease, a state DB
    connection of its own), calling ``on_message`` with each progress message and
    ``after_write`` after each of its write transactions: the points where a test makes
    another command run, to play one interleaving of a race deterministically."""
    from dockyard import reference
    from dockyard.distribution import config
    from dockyard.distribution.pull import Puller
    from dockyard.image.store import ImageStore
    from dockyard.paths import Paths
    from dockyard.state import StateDB

    paths = Paths.from_env()
    db = StateDB(paths.state_db)
    if after_write is not None:
        write = db.write

        @contextlib.contextmanager
        def hooked() -> Iterator[Any]:
            with write() as conn:
                yield conn
            after_write()

        db.write = hooked  # type: ignore[method-assign]
    try:
        store = ImageStore(paths, db)
        with store.lease():
            Puller(store, config.load(), on_message or (lambda m: None), paths.runroot).pull(
                reference.parse(name)
            )
    finally:
        db.close()


def test_a_removal_during_a_pull_leaves_its_repo_digest_whole(
    dy: Runner, busybox: str, registry: Registry, engine_env: dict
) -> None:
    """The RepoDigest a pull records goes in with the image row: an ``rmi`` of the last
    other RepoDigest naming the same manifest, right after that transaction, leaves the
    manifest blob to the new RepoDigest (it deleted it when the row came later)."""
    one, two = f"{registry.host}/rda/one", f"{registry.host}/rda/two"
    digest = _push(dy, busybox, f"{one}:1")
    assert _push(dy, busybox, f"{two}:1") == digest  # the same gzip bytes, the same manifest
    dy("rmi", f"{two}:1", f"{one}:1", check=True)
    dy("pull", "-q", f"{one}:1", check=True)  # busybox is here: only the RepoDigest is new
    dy("rmi", f"{one}:1", check=True)
    dy("pull", "-q", f"{one}@{digest}", check=True)
    removed: list[str] = []

    def rmi_the_other() -> None:
        if not removed:
            removed.append(dy("rmi", f"{one}@{digest}", check=True).stdout)

    _pull_here(f"{two}:1", after_write=rmi_the_other)
    assert removed == [f"Untagged: {one}@{digest}\n"]
    blob = Path(engine_env["DOCKYARD_ROOT"], "blobs", "sha256", digest[7:])
    assert blob.exists()
    digests = dy("image", "inspect", "-f", "{{json .RepoDigests}}", f"{two}:1", check=True)
    assert json.loads(digests.stdout) == [f"{two}@{digest}"]
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout


def test_a_layer_a_pull_relies_on_is_not_removed_under_it(
    dy: Runner, busybox: str, registry: Registry, tmp_path: Path, engine_env: dict
) -> None:
    """A pull pins the layers it found here until its image is recorded: neither
    another pull that is done with a blob (an image here under another manifest
    discards the layer blobs it fetched) nor an ``rmi`` of the image that had them
    deletes them under it (it failed 'layer blob sha256:... is missing')."""
    base = f"{registry.host}/pin/base:1"
    _push(dy, busybox, base)
    # Two pulls of an image that is here (busybox, stored uncompressed): the first
    # fetches the gzip blob and, done, discards it while the second relies on it.
    fetched, seen, first_done = threading.Event(), threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def first(m: dict) -> None:
        if m.get("status") == "Pull complete":
            fetched.set()
            seen.wait(30)

    def second(m: dict) -> None:
        if m.get("status") == "Already exists":
            seen.set()
            first_done.wait(30)

    def run(name: str, hook: Callable[[dict], None], done: threading.Event | None) -> None:
        try:
            _pull_here(name, on_message=hook)
        except BaseException as e:
            failures.append(e)
        finally:
            seen.set()
            if done is not None:
                done.set()

    t1 = threading.Thread(target=run, args=(base, first, first_done))
    t1.start()
    assert fetched.wait(30)
    run(base, second, None)
    t1.join()
    assert failures == []
    check = dy("system", "check")  # the blob nobody uses went with the last pull
    assert check.returncode == 0, check.stdout
    # An `rmi` of the image whose layer a pull of another image finds here.
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {base}\nRUN echo child > /child\n")
    child = f"{registry.host}/pin/child:1"
    dy("build", "-q", "-t", child, str(ctx), check=True)
    _push(dy, child, child)
    dy("rmi", child, base, busybox, check=True)
    dy("pull", "-q", base, check=True)
    removed: list[str] = []

    def rmi_base(m: dict) -> None:
        if m.get("status") == "Already exists" and not removed:
            removed.append(dy("rmi", base, check=True).stdout)

    _pull_here(child, on_message=rmi_base)
    assert removed and removed[0].startswith(f"Untagged: {base}\n")
    assert "Deleted: sha256:" in removed[0]
    run_child = dy("run", "--rm", child, "cat", "/child", check=True)
    assert run_child.stdout == "child\n"
    check = dy("system", "check")
    assert check.returncode == 0, check.stdout
    # The pins and layer locks were let go of, and their files removed with them: one
    # file per digest ever pulled piled up in the run root.
    assert os.listdir(Path(engine_env["DOCKYARD_RUNROOT"]) / "locks") == []


def test_a_pin_taken_while_a_removal_holds_it_is_on_the_file_that_stays(
    engine_env: dict,
) -> None:
    """Lock files go with their last holder (``image.store.unlock_file``): a pin that
    waited for a removal holding the file takes it again on the file at the path, which
    the next removal sees; a removal that finds no file makes it (a pin made meanwhile
    must be seen), and the file goes when the pin is let go of."""
    from dockyard.image.store import PIN_LOCK, Pins, unpinned

    runroot = engine_env["DOCKYARD_RUNROOT"]
    digest = "sha256:" + "ab" * 32
    path = PIN_LOCK.format(runroot=runroot, hex=digest[7:])
    pins = Pins(runroot)
    holding = threading.Event()
    with unpinned(runroot, digest) as free:
        assert free and os.path.exists(path)
        waiter = threading.Thread(target=lambda: holding.set() if pins.hold(digest) else None)
        waiter.start()
        time.sleep(0.2)
        assert not holding.is_set()  # waits for the removal
    waiter.join(10)
    assert holding.is_set()
    with unpinned(runroot, digest) as free:
        assert not free  # the pin is on the file the removal opens
    pins.release()
    assert not os.path.exists(path)
    with unpinned(runroot, digest) as free:
        assert free
    assert not os.path.exists(path)


def test_system_check_with_a_manifest_blob_missing(
    dy: Runner, busybox: str, registry: Registry, engine_env: dict
) -> None:
    """A RepoDigest whose manifest blob is gone is reported and dropped by ``--repair``;
    an image whose own manifest blob is gone is reported, and its layer blob (which only
    that manifest names) is neither reported nor deleted."""
    blobs = Path(engine_env["DOCKYARD_ROOT"], "blobs", "sha256")
    name = f"{registry.host}/gone/busybox:1"
    digest = _push(dy, busybox, name)
    dy("rmi", name, check=True)
    dy("pull", "-q", name, check=True)  # busybox is here: the registry's manifest beside it
    (blobs / digest[7:]).unlink()
    check = dy("system", "check")
    assert check.returncode == 1
    assert check.stdout.splitlines() == [
        f"rows\trepo_digests:{name.rsplit(':', 1)[0]}@{digest}\tdeleted (no blob)",
        "1 found; Reclaimable space: 0B",
    ]
    dy("system", "check", "--repair", check=True)
    assert dy("system", "check", check=True).stdout.startswith("0 found")
    assert dy("images", "--digests", "--format", "{{.Digest}}", name, check=True).stdout == (
        "<none>\n"
    )
    # Pulled as a new image: its own manifest names the gzip layer blob.
    dy("rmi", name, busybox, check=True)
    dy("pull", "-q", name, check=True)
    manifest = json.loads((blobs / digest[7:]).read_bytes())
    layer_blob = blobs / manifest["layers"][0]["digest"][7:]
    image_id = dy("image", "inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
    (blobs / digest[7:]).unlink()
    check = dy("system", "check")
    assert check.returncode == 1
    lines = check.stdout.splitlines()
    assert lines[0].startswith(f"image\t{image_id}\tdamaged: manifest blob {digest} is missing")
    assert not any(line.startswith(("blob\t", "layer\t")) for line in lines), lines
    dy("system", "check", "--repair", check=True)
    assert layer_blob.exists()
    assert dy("run", "--rm", name, "true").returncode == 0
