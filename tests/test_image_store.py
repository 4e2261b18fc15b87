"""The content store and the image store, in process (no CLI)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.image.create import image_from_layer
from dockyard.image.store import ContentStore, ImageStore, chain_ids
from dockyard.paths import Paths
from dockyard.state import StateDB


@pytest.fixture
def paths(tmp_path: Path) -> Paths:
    return Paths(str(tmp_path / "root"), str(tmp_path / "run"))


@pytest.fixture
def store(paths: Paths) -> Iterator[ImageStore]:
    db = StateDB(paths.state_db)
    yield ImageStore(paths, db)
    db.close()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def make_image(store: ImageStore, files: dict[str, bytes], tag: str | None = None, n: int = 0):
    from dockyard import reference

    config = {"created": f"2024-01-0{n + 1}T00:00:00Z", "architecture": "amd64", "os": "linux"}
    ref = reference.parse(tag) if tag else None
    return image_from_layer(store, io.BytesIO(layer_tar(files)), config, {"comment": "t"}, ref)


def test_put_read_and_atomic_writer(paths: Paths) -> None:
    cs = ContentStore(paths)
    digest = cs.put(b"hello")
    assert digest == "sha256:" + hashlib.sha256(b"hello").hexdigest()
    assert cs.read(digest) == b"hello" and cs.exists(digest)
    assert cs.path(digest) == os.path.join(paths.root, "blobs", "sha256", digest[7:])
    # A writer's bytes are invisible until commit; abort leaves nothing behind.
    w = cs.writer()
    w.write(b"partial")
    assert os.listdir(paths.blobs) == [digest[7:]]
    w.abort()
    assert os.listdir(paths.tmp) == []
    with cs.writer() as w2:
        w2.write(b"ab")
        w2.write(b"c")
        d2, size = w2.commit()
    assert (d2, size) == ("sha256:" + hashlib.sha256(b"abc").hexdigest(), 3)
    assert os.listdir(paths.tmp) == []


def test_commit_checks_expected_digest(paths: Paths) -> None:
    cs = ContentStore(paths)
    w = cs.writer()
    w.write(b"x")
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        w.commit("sha256:" + "0" * 64)
    assert os.listdir(paths.tmp) == [] and os.listdir(paths.blobs) == []


def test_read_verifies(paths: Paths) -> None:
    cs = ContentStore(paths)
    digest = cs.put(b"good")
    with open(cs.path(digest), "wb") as f:
        f.write(b"evil")
    with pytest.raises(DockyardError, match="is corrupt"):
        cs.read(digest)
    with pytest.raises(NotFound):
        cs.read("sha256:" + "1" * 64)
    with pytest.raises(InvalidArgument):
        cs.read("sha256:xyz")


def test_add_resolve_tag_untag(store: ImageStore) -> None:
    img = make_image(store, {"a": b"1"}, "busybox")
    assert img.repo_tags == ["busybox:latest"]
    assert img.tags == ["docker.io/library/busybox:latest"]
    assert img.config["rootfs"]["diff_ids"] == img.diff_ids
    assert img.manifest["layers"][0]["digest"] == img.diff_ids[0]
    assert img.id == "sha256:" + hashlib.sha256(store.content.read(img.id)).hexdigest()
    for name in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        img.id,
        img.id[7:],
        img.id[7:19],
        img.id[:12],
    ):
        assert store.resolve(name).id == img.id, name
    with pytest.raises(NotFound, match="No such image: busybox:other"):
        store.resolve("busybox:other")
    store.tag(img.id, "localhost:5000/x:1")
    assert store.get(img.id).repo_tags == ["busybox:latest", "localhost:5000/x:1"]
    store.untag("busybox")
    assert store.get(img.id).repo_tags == ["localhost:5000/x:1"]
    with pytest.raises(NotFound):
        store.untag("busybox")
    with pytest.raises(InvalidArgument, match="digest"):
        store.tag(img.id, "x@sha256:" + "a" * 64)


def test_add_requires_layers(store: ImageStore) -> None:
    config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + "2" * 64]}})
    digest = "sha256:" + hashlib.sha256(config.encode()).hexdigest()
    manifest = json.dumps({"config": {"digest": digest, "size": len(config)}, "layers": []})
    with pytest.raises(NotFound, match="layer sha256:2222"):
        store.add(manifest.encode(), config.encode())
    assert store.list() == []


def test_remove_collects_only_unshared(store: ImageStore, paths: Paths) -> None:
    shared = make_image(store, {"a": b"1"}, "one", n=0)
    twin = make_image(store, {"a": b"1"}, "two", n=1)  # same layer, other config
    other = make_image(store, {"b": b"2"}, "three", n=2)
    assert shared.id != twin.id and shared.diff_ids == twin.diff_ids
    assert [i.id for i in store.list()] == [other.id, twin.id, shared.id]
    assert store.remove(shared.id) == []
    assert os.path.isdir(os.path.join(paths.layers, twin.diff_ids[0][7:]))
    assert not store.content.exists(shared.id)
    assert not store.content.exists(shared.manifest_digest)
    assert store.content.exists(twin.diff_ids[0])
    assert store.remove(twin.id) == twin.diff_ids
    assert not os.path.exists(os.path.join(paths.layers, twin.diff_ids[0][7:]))
    assert not store.content.exists(twin.diff_ids[0])
    store.remove(other.id)
    assert os.listdir(paths.blobs) == []
    assert [d for d in os.listdir(paths.layers) if not d.startswith(".")] == []
    with pytest.raises(NotFound):
        store.remove(other.id)


def add_container(store: ImageStore, image_id: str, running: bool) -> str:
    # The container package owns this table; a bare row is enough for the in-use rules.
    cid = hashlib.sha256(os.urandom(8)).hexdigest()
    state = {"Status": "running" if running else "exited", "Running": running}
    with store.db.write() as conn:
        conn.execute(
            "INSERT INTO containers (id, name, image_id, created, config, host_config, state) "
            "VALUES (?, ?, ?, ?, '{}', '{}', ?)",
            (cid, cid[:8], image_id, "2024-01-01T00:00:00Z", json.dumps(state)),
        )
    return cid


def test_delete_rules(store: ImageStore) -> None:
    img = make_image(store, {"a": b"1"}, "busybox")
    store.tag(img.id, "busybox:other")
    short = img.id[7:19]
    with pytest.raises(Conflict) as e:
        store.delete(short)
    assert str(e.value) == (
        f"conflict: unable to delete {short} (must be forced) - "
        "image is referenced in multiple repositories"
    )
    assert store.delete("busybox:other") == [("Untagged", "busybox:other")]
    chain = chain_ids(img.diff_ids)
    assert store.delete(short) == [
        ("Untagged", "busybox:latest"),
        ("Deleted", img.id),
        ("Deleted", chain[0]),
    ]
    assert store.list() == []


def test_delete_with_containers(store: ImageStore) -> None:
    img = make_image(store, {"a": b"1"}, "busybox")
    short = img.id[7:19]
    stopped = add_container(store, img.id, running=False)
    with pytest.raises(Conflict) as e:
        store.delete("busybox")
    assert str(e.value) == (
        'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container {stopped[:12]} is using its referenced image {short}"
    )
    with pytest.raises(Conflict, match=f"must be forced.*stopped container {stopped[:12]}"):
        store.delete(short)
    # -f untags only: the image stays, as <none>, while a container uses it.
    assert store.delete("busybox", force=True) == [("Untagged", "busybox:latest")]
    assert store.get(img.id).tags == []
    running = add_container(store, img.id, running=True)
    with pytest.raises(Conflict) as e:
        store.delete(short, force=True)
    assert str(e.value) == (
        f"conflict: unable to delete {short} (cannot be forced) - "
        f"image is being used by running container {running[:12]}"
    )
    assert store.get(img.id).id == img.id


def test_chain_ids() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    second = "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()
    assert chain_ids([a, b]) == [a, second]
