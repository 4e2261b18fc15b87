"""Image archives: ``docker save`` and ``docker load`` (moby image/tarexport).

``save`` writes Docker 25+'s format: an OCI image layout (``oci-layout``, ``index.json``,
``blobs/sha256/``: each image's OCI manifest, its config and its uncompressed layer tars
named by diff id) with Docker's ``manifest.json`` and ``repositories`` beside it, so both
Docker's loaders and OCI tools (podman, skopeo, umoci) read it. ``load`` reads that, the
older docker-archive (``manifest.json`` naming ``<id>.json`` and ``<dir>/layer.tar``, with
symlinked duplicate layers) and a plain OCI image layout (``index.json`` only, what
``podman save --format oci-archive`` and ``skopeo copy ... oci-archive:`` write), plain
or compressed (gzip, bzip2, xz), from a file or a pipe; OCI layers may be plain, gzip or
zstd.

A loaded image is stored as an imported one is: its config bytes unchanged (so its ID is
the same as in the archive), every layer unpacked once and kept as an uncompressed blob,
and an OCI manifest over those blobs. A load checks the whole archive (documents, digests,
diff ids) and stores nothing unless every image in it is stored; tags move last.
"""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image.store import (
    MEDIA_CONFIG,
    MEDIA_LAYER,
    MEDIA_MANIFEST,
    Image,
    ImageStore,
    chain_ids,
)

MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ANNOTATION_IMAGE_NAME = "io.containerd.image.name"
ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"
OCI_LAYOUT = b'{"imageLayoutVersion": "1.0.0"}'
#: The largest JSON document (manifest.json, index, manifest, config) a load reads.
MAX_DOCUMENT = 16 * 1024 * 1024
_LAYER_TYPES = {
    MEDIA_LAYER,
    MEDIA_LAYER + "+gzip",
    MEDIA_LAYER + "+zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    "application/vnd.docker.image.rootfs.diff.tar",
}
_CHUNK = 1024 * 1024

#: A progress message of a load, as the Engine API streams them (JSON message fields).
Message = dict[str, Any]


def _go_json(value: Any) -> bytes:
    """JSON as Go's encoding/json writes it (compact, ``<>&`` escaped)."""
    text = json.dumps(value, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


# -- save -------------------------------------------------------------------------------


@dataclass
class _Saved:
    image: Image
    refs: list[reference.Reference] = field(default_factory=list)


def _select(store: ImageStore, names: list[str]) -> list[_Saved]:
    """The images ``names`` pick, in order, each with the tags to record (moby's
    parseNames): ``repo:tag`` that tag, a bare ``repo`` every tag of it, an ID (or a
    name matching no tag) the image untagged. Raises ``NotFound``."""
    chosen: dict[str, _Saved] = {}
    for name in names:
        tagged = ":" in name.rsplit("/", 1)[-1] or "@" in name
        refs: list[reference.Reference] = []
        try:
            ref = reference.parse(name)
        except InvalidArgument:
            ref = None
        if ref is not None and ref.digest is None and not tagged:
            for img in store.list():
                for t in img.tags:
                    r = reference.parse(t)
                    if r.name == ref.name:
                        chosen.setdefault(img.id, _Saved(img)).refs.append(r)
                        refs.append(r)
            if refs:
                continue
        img = store.resolve(name)
        entry = chosen.setdefault(img.id, _Saved(img))
        if ref is not None and tagged and ref.digest is None and str(ref) in img.tags:
            entry.refs.extend([ref] if ref not in entry.refs else [])
    return list(chosen.values())


def _platform(config: dict[str, Any]) -> dict[str, str]:
    out = {"architecture": str(config.get("architecture") or ""), "os": str(config.get("os"))}
    if config.get("variant"):
        out["variant"] = str(config["variant"])
    return out


def _layer_source(store: ImageStore, image: Image, index: int, diff_id: str) -> tuple[str, bool]:
    """The file holding layer ``index`` of ``image`` as an uncompressed tar: the layer blob
    itself when it is stored uncompressed, else a temporary decompressed copy (second item
    True: the caller deletes it). Raises ``DockyardError`` if it does not hash to
    ``diff_id``."""
    layers = image.manifest.get("layers") or []
    digest = layers[index]["digest"] if index < len(layers) else diff_id
    if digest == diff_id:
        return store.content.path(digest), False
    from dockyard.snapshot import open_decompressed
    from dockyard.tempfiles import temp_name

    os.makedirs(store.paths.tmp, mode=0o700, exist_ok=True)
    tmp = os.path.join(store.paths.tmp, temp_name("save-"))
    sha = hashlib.sha256()
    try:
        with open(store.content.path(digest), "rb") as src, open(tmp, "xb") as dst:
            stream = open_decompressed(src)
            while chunk := stream.read(_CHUNK):
                sha.update(chunk)
                dst.write(chunk)
    except BaseException:
        _unlink_quietly(tmp)
        raise
    if "sha256:" + sha.hexdigest() != diff_id:
        _unlink_quietly(tmp)
        raise DockyardError(f"layer {digest} of image {image.id} does not match {diff_id}")
    return tmp, True


def _unlink_quietly(path: str) -> None:
    """Remove ``path`` if it exists."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class _UntilFailed:
    """``out`` whose writes after a failed one are dropped: a streaming tarfile left
    unclosed by that failure (a reader gone: ``save | head``, a client hung up) flushes
    its buffer again when collected, a traceback on stderr ('Exception ignored in
    _Stream.__del__'); the first failure is raised as it happens."""

    def __init__(self, out: BinaryIO) -> None:
        self._out, self._failed = out, False

    def write(self, data: bytes) -> int:
        if self._failed:
            return len(data)
        try:
            return self._out.write(data)
        except BaseException:
            self._failed = True
            raise


class _TarOut:
    """Entries written to a streaming tar with fixed owner and mtime 0 (same bytes for
    the same images)."""

    def __init__(self, out: BinaryIO) -> None:
        sink = cast(BinaryIO, _UntilFailed(out))  # a stream tarfile only writes to
        self.tf = tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT)

    def _info(self, name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.mtime = kind, mode, size, 0
        return ti

    def directory(self, name: str) -> None:
        self.tf.addfile(self._info(name, tarfile.DIRTYPE, 0o755))

    def data(self, name: str, data: bytes) -> None:
        import io

        self.tf.addfile(self._info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))

    def blob_file(self, name: str, path: str, digest: str) -> None:
        """Add the file ``path``, checking while it is copied that it hashes to ``digest``."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            reader = _VerifyingReader(f)
            self.tf.addfile(self._info(name, tarfile.REGTYPE, 0o644, size), reader)
        if reader.digest() != digest:
            raise DockyardError(f"blob {digest} is corrupt: content hashes to {reader.digest()}")

    def close(self) -> None:
        self.tf.close()


class _VerifyingReader:
    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self._sha = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._sha.update(data)
        return data

    def digest(self) -> str:
        return "sha256:" + self._sha.hexdigest()


def _manifest(config: bytes, layers: list[dict[str, Any]], platform: Any = None) -> bytes:
    """An OCI image manifest over the config bytes ``config`` and layer descriptors
    ``layers``; ``platform`` goes into the config descriptor, as moby's save writes it."""
    config_desc: dict[str, Any] = {
        "mediaType": MEDIA_CONFIG,
        "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
        "size": len(config),
    }
    if platform is not None:
        config_desc["platform"] = platform
    return _go_json(
        {"schemaVersion": 2, "mediaType": MEDIA_MANIFEST, "config": config_desc, "layers": layers}
    )


def save(store: ImageStore, names: list[str], out: BinaryIO) -> None:
    """``docker save``: write the images ``names`` pick to ``out`` as one tar (Docker
    25+'s format, see the module docstring; Engine API ``GET /images/get``).

    Every name is resolved before anything is written; entries are in name order with
    mtime 0, so the same images give the same bytes. Raises ``NotFound`` for a missing
    image, ``DockyardError`` for a corrupt blob (``out`` then holds a partial tar: write
    to a temporary file and rename, as the CLI does).
    """
    if not names:
        raise InvalidArgument("no image names given")
    saved = _select(store, names)
    data_blobs: dict[str, bytes] = {}  # digest -> bytes (configs, manifests)
    layer_files: dict[str, str] = {}  # diff id -> uncompressed layer tar
    temps: list[str] = []
    try:
        for entry in saved:
            for i, diff_id in enumerate(entry.image.diff_ids):
                if diff_id not in layer_files:
                    path, temporary = _layer_source(store, entry.image, i, diff_id)
                    temps.extend([path] if temporary else [])
                    layer_files[diff_id] = path
        items: list[dict[str, Any]] = []
        descriptors: list[dict[str, Any]] = []
        repositories: dict[str, dict[str, str]] = {}
        for entry in saved:
            img, diff_ids = entry.image, entry.image.diff_ids
            config = store.content.read(img.id)
            platform = _platform(json.loads(config))
            layers = [
                {"mediaType": MEDIA_LAYER, "digest": d, "size": os.path.getsize(layer_files[d])}
                for d in diff_ids
            ]
            manifest = _manifest(config, layers, platform)
            digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            data_blobs[img.id], data_blobs[digest] = config, manifest
            desc = {"mediaType": MEDIA_MANIFEST, "digest": digest, "size": len(manifest)}
            for r in entry.refs:
                tag = r.tag or "latest"
                annotations = {ANNOTATION_IMAGE_NAME: str(r), ANNOTATION_REF_NAME: tag}
                descriptors.append({**desc, "annotations": annotations, "platform": platform})
                if diff_ids:
                    repositories.setdefault(r.familiar_name(), {})[tag] = diff_ids[-1][7:]
            if not entry.refs:
                descriptors.append({**desc, "platform": platform})
            items.append(
                {
                    "Config": f"blobs/sha256/{img.id[7:]}",
                    "RepoTags": [r.familiar() for r in entry.refs] or None,
                    "Layers": [f"blobs/sha256/{d[7:]}" for d in diff_ids],
                }
            )
        tar = _TarOut(out)
        tar.directory("blobs/")
        tar.directory("blobs/sha256/")
        for digest in sorted({*data_blobs, *layer_files}):
            name = f"blobs/sha256/{digest[7:]}"
            if digest in data_blobs:
                tar.data(name, data_blobs[digest])
            else:
                tar.blob_file(name, layer_files[digest], digest)
        index = {"schemaVersion": 2, "mediaType": MEDIA_INDEX, "manifests": descriptors}
        tar.data("index.json", _go_json(index))
        tar.data("manifest.json", _go_json(items) + b"\n")
        tar.data("oci-layout", OCI_LAYOUT)
        if repositories:
            tar.data("repositories", _go_json(repositories) + b"\n")
        tar.close()
    finally:
        for path in temps:
            _unlink_quietly(path)


# -- load -------------------------------------------------------------------------------


class _Archive:
    """The regular files of an archive extracted under ``tmp`` (each to a numbered file,
    so no name from the archive becomes a path on the host), and its links, resolved
    by name inside the archive."""

    def __init__(self, tmp: str) -> None:
        self.tmp = tmp
        self.files: dict[str, str] = {}
        self.links: dict[str, tuple[bool, str]] = {}  # name -> (symbolic, target)

    @staticmethod
    def clean(name: str) -> str:
        """``name`` relative to the archive root; raises InvalidArgument above it."""
        cleaned = posixpath.normpath(name.lstrip("/") or ".")
        if cleaned == ".." or cleaned.startswith("../"):
            raise InvalidArgument(f"invalid archive: entry {name!r} points outside the archive")
        return "" if cleaned == "." else cleaned

    def extract(self, stream: BinaryIO) -> None:
        try:
            tf = tarfile.open(fileobj=stream, mode="r|")
            for member in tf:
                name = self.clean(member.name)
                if member.issparse():
                    # No archive writer makes one; its holes would be written out in full.
                    raise InvalidArgument(f"invalid archive: entry {name!r} is a sparse file")
                if member.isreg():
                    path = os.path.join(self.tmp, str(len(self.files)))
                    src = tf.extractfile(member)
                    assert src is not None
                    with open(path, "xb") as dst:
                        shutil.copyfileobj(src, dst, _CHUNK)
                    self.files[name] = path
                    self.links.pop(name, None)
                elif member.issym() or member.islnk():
                    self.links[name] = (member.issym(), member.linkname)
                    self.files.pop(name, None)
        except tarfile.ReadError as e:
            text = str(e)
            if text == "empty file":
                raise InvalidArgument("invalid archive: the file is empty") from None
            raise InvalidArgument(f"invalid archive: {text}") from None
        except (EOFError, OSError, ValueError) as e:
            # Truncated data (tarfile, gzip), bad compressed data (zlib, lzma, bz2).
            if isinstance(e, OSError) and e.errno is not None:
                raise
            raise InvalidArgument(f"invalid archive: {e or 'unexpected end of file'}") from None
        if not self.files:
            raise InvalidArgument("invalid archive: no files in it")

    def path(self, name: str) -> str:
        """The extracted file of entry ``name``, links followed inside the archive.

        Raises InvalidArgument when there is none.
        """
        current = self.clean(name)
        for _ in range(40):
            if current in self.files:
                return self.files[current]
            link = self.links.get(current)
            if link is None:
                break
            symbolic, target = link
            base = posixpath.dirname(current) if symbolic and not target.startswith("/") else ""
            current = self.clean(posixpath.join(base, target))
        raise InvalidArgument(f"invalid archive: {name} is missing")

    def has(self, name: str) -> bool:
        try:
            self.path(name)
        except InvalidArgument:
            return False
        return True

    def document(self, name: str, digest: str | None = None) -> tuple[bytes, Any]:
        """The bytes and parsed JSON of entry ``name`` (checked against ``digest``)."""
        path = self.path(name)
        if os.path.getsize(path) > MAX_DOCUMENT:
            raise InvalidArgument(f"invalid archive: {name} is larger than {MAX_DOCUMENT} bytes")
        with open(path, "rb") as f:
            data = f.read()
        if digest is not None and "sha256:" + hashlib.sha256(data).hexdigest() != digest:
            raise InvalidArgument(f"invalid archive: {name} does not match its digest {digest}")
        try:
            return data, json.loads(data)
        except ValueError as e:
            raise InvalidArgument(f"invalid archive: {name}: {e}") from None
        except RecursionError:
            raise InvalidArgument(f"invalid archive: {name}: JSON nested too deeply") from None

    def blob_name(self, digest: Any) -> str:
        algo, _, hexpart = str(digest).partition(":")
        if algo != "sha256" or len(hexpart) != 64:
            raise InvalidArgument(f"invalid archive: unsupported digest {digest!r}")
        return f"blobs/sha256/{hexpart}"


@dataclass
class _Planned:
    """One image of an archive: its config bytes, its layers (archive entry, expected
    diff id, blob digest to verify or None) and its tags."""

    config: bytes
    layers: list[tuple[str, str, str | None]]  # (archive entry, diff id, blob digest)
    tags: list[reference.Reference]

    @property
    def image_id(self) -> str:
        return "sha256:" + hashlib.sha256(self.config).hexdigest()


def _object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object; raises InvalidArgument naming ``where``."""
    if not isinstance(value, dict):
        raise InvalidArgument(f"invalid archive: {where} is not a JSON object")
    return value


def _config_diff_ids(config: Any, where: str) -> list[str]:
    try:
        diff_ids = [str(d) for d in config["rootfs"]["diff_ids"] or []]
    except (KeyError, TypeError):
        raise InvalidArgument(f"invalid archive: {where} has no rootfs.diff_ids") from None
    return diff_ids


def _parse_tag(text: str, where: str) -> reference.Reference:
    try:
        ref = reference.parse(text)
    except InvalidArgument:
        raise InvalidArgument(f"invalid archive: {where} names an invalid tag {text!r}") from None
    if ref.digest is not None:
        raise InvalidArgument(f"invalid archive: {where} names a digest, not a tag: {text!r}")
    return ref


def _plan_docker(archive: _Archive) -> list[_Planned]:
    """The images of a docker-archive's ``manifest.json``."""
    _, items = archive.document("manifest.json")
    if not isinstance(items, list):
        raise InvalidArgument("invalid archive: manifest.json is not a list")
    planned = []
    for n, item in enumerate(items):
        where = f"manifest.json entry {n}"
        if not isinstance(item, dict) or not isinstance(item.get("Config"), str):
            raise InvalidArgument(f"invalid archive: {where} has no Config")
        config_bytes, config = archive.document(item["Config"])
        diff_ids = _config_diff_ids(config, item["Config"])
        layers = item.get("Layers") or []
        if not isinstance(layers, list) or len(layers) != len(diff_ids):
            raise InvalidArgument(
                f"invalid archive: {where} names {len(layers) if isinstance(layers, list) else 0}"
                f" layers, its config {len(diff_ids)}"
            )
        for name in layers:
            archive.path(str(name))
        repo_tags = item.get("RepoTags") or []
        if not isinstance(repo_tags, list) or not all(isinstance(t, str) for t in repo_tags):
            raise InvalidArgument(
                f"invalid archive: {where} has RepoTags that is not a list of strings"
            )
        tags = [_parse_tag(t, where) for t in repo_tags]
        planned.append(
            _Planned(
                config_bytes,
                [(str(n), d, None) for n, d in zip(layers, diff_ids, strict=True)],
                tags,
            )
        )
    return planned


def _host_match(descriptors: list[Any]) -> Any:
    from dockyard.platforms import host_arch

    for n, d in enumerate(descriptors):
        p = _object(
            _object(d, f"index entry {n}").get("platform") or {}, f"index entry {n} platform"
        )
        if p.get("os", "linux") == "linux" and p.get("architecture", host_arch()) == host_arch():
            return d
    offered = ", ".join(
        f"{(d.get('platform') or {}).get('os')}/{(d.get('platform') or {}).get('architecture')}"
        for d in descriptors
    )
    raise InvalidArgument(
        f"invalid archive: no image for linux/{host_arch()} in it (it has {offered})"
    )


def _plan_oci(archive: _Archive) -> list[_Planned]:
    """The images of an OCI image layout's ``index.json`` (nested indexes: the host's
    platform)."""
    _, index = archive.document("index.json")
    if not isinstance(index, dict) or not isinstance(index.get("manifests"), list):
        raise InvalidArgument("invalid archive: index.json has no manifests")
    by_manifest: dict[str, _Planned] = {}
    for n, desc in enumerate(index["manifests"]):
        where = f"index.json entry {n}"
        if not isinstance(desc, dict):
            raise InvalidArgument(f"invalid archive: {where} is not a descriptor")
        annotations = _object(desc.get("annotations") or {}, f"{where} annotations")
        for _ in range(4):
            if desc.get("mediaType") not in (MEDIA_INDEX, DOCKER_MANIFEST_LIST):
                break
            name = archive.blob_name(desc.get("digest"))
            _, nested = archive.document(name, desc["digest"])
            nested_manifests = _object(nested, name).get("manifests") or []
            if not isinstance(nested_manifests, list):
                raise InvalidArgument(f"invalid archive: {name} manifests is not a list")
            desc = _host_match(nested_manifests)
        if desc.get("mediaType") not in (MEDIA_MANIFEST, DOCKER_MANIFEST):
            raise InvalidArgument(
                f"invalid archive: {where} has unsupported media type {desc.get('mediaType')!r}"
            )
        digest = str(desc.get("digest"))
        if digest not in by_manifest:
            _, manifest = archive.document(archive.blob_name(digest), digest)
            manifest = _object(manifest, f"manifest {digest}")
            config_desc = _object(manifest.get("config") or {}, f"manifest {digest} config")
            config_bytes, config = archive.document(
                archive.blob_name(config_desc.get("digest")), config_desc.get("digest")
            )
            diff_ids = _config_diff_ids(config, f"config {config_desc.get('digest')}")
            layer_descs = manifest.get("layers") or []
            if not isinstance(layer_descs, list) or len(layer_descs) != len(diff_ids):
                raise InvalidArgument(
                    f"invalid archive: manifest {digest} names"
                    f" {len(layer_descs) if isinstance(layer_descs, list) else 0} layers,"
                    f" its config {len(diff_ids)}"
                )
            layers: list[tuple[str, str, str | None]] = []
            for ld, diff_id in zip(layer_descs, diff_ids, strict=True):
                ld = _object(ld, f"manifest {digest} layer")
                if ld.get("mediaType") not in _LAYER_TYPES:
                    raise InvalidArgument(
                        f"invalid archive: layer {ld.get('digest')} has unsupported media type"
                        f" {ld.get('mediaType')!r}"
                    )
                name = archive.blob_name(ld.get("digest"))
                archive.path(name)
                layers.append((name, diff_id, str(ld["digest"])))
            by_manifest[digest] = _Planned(config_bytes, layers, [])
        image_name = str(annotations.get(ANNOTATION_IMAGE_NAME) or "")
        ref_name = str(annotations.get(ANNOTATION_REF_NAME) or "")
        if not image_name and ("/" in ref_name or ":" in ref_name):
            image_name = ref_name  # podman and skopeo write the whole reference here
        if image_name:
            tag = _parse_tag(image_name, where)
            if tag not in by_manifest[digest].tags:
                by_manifest[digest].tags.append(tag)
    return list(by_manifest.values())


def _file_digest(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


class _Progress:
    """Reads a layer file, reporting ``Loading layer`` progress as moby's loader does."""

    def __init__(self, f: BinaryIO, total: int, ident: str, report: Callable[[Message], None]):
        self._f, self._total, self._id, self._report = f, total, ident, report
        self._done = 0
        self._shown = -1

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        self._done += len(data)
        # At most ~100 messages a layer.
        if self._done == self._total or self._done - self._shown >= max(self._total // 100, 1):
            self._shown = self._done
            self._report(progress_message("Loading layer", self._id, self._done, self._total))
        return data


def progress_message(status: str, ident: str, current: int, total: int) -> Message:
    """A JSON progress message (jsonmessage.JSONMessage): ``status``, ``id``,
    ``progressDetail`` (bytes) and the rendered ``progress`` bar."""
    return {
        "status": status,
        "progressDetail": {"current": current, "total": total},
        "progress": progress_bar(current, total),
        "id": ident,
    }


def _human_size(size: float) -> str:
    # go-units HumanSize: decimal units, 4 significant digits.
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while size >= 1000.0 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}"


def progress_bar(current: int, total: int) -> str:
    """Docker's progress text for a wide terminal (jsonmessage.JSONProgress.String):
    ``[=====>      ]    1.2MB/3.4MB``, 50 columns of bar."""
    done = min(int(current / total * 100) // 2, 50) if total > 0 else 0
    return f"[{'=' * done}>{' ' * (50 - done)}] {_human_size(current):>8}/{_human_size(total)}"


def load(store: ImageStore, stream: BinaryIO, quiet: bool = False) -> Iterator[Message]:
    """``docker load``: store the images of the archive ``stream`` (any format in the
    module docstring, compressed or not); Engine API ``POST /images/load``.

    Yields JSON messages as moby's loader streams them: ``Loading layer`` progress
    (unless ``quiet``), a ``The image X already exists, renaming the old one with ID ...
    to empty string`` line when a tag moves, and ``Loaded image: NAME:TAG`` for each tag
    (``Loaded image ID: sha256:...`` for an untagged image), each as ``{"stream": text}``.
    Raises ``InvalidArgument`` for a malformed, truncated or mismatching archive; then
    nothing of it is stored.
    """
    from dockyard.snapshot import LayerStore, open_decompressed
    from dockyard.tempfiles import sweep, temp_name

    os.makedirs(store.paths.tmp, mode=0o700, exist_ok=True)
    sweep(store.paths.tmp, "load-")
    tmp = os.path.join(store.paths.tmp, temp_name("load-"))
    os.mkdir(tmp, 0o700)
    try:
        archive = _Archive(tmp)
        try:
            archive.extract(open_decompressed(stream))
        except InvalidArgument:
            raise
        except DockyardError as e:
            raise InvalidArgument(f"invalid archive: {e}") from None
        if archive.has("manifest.json"):
            planned = _plan_docker(archive)
        elif archive.has("index.json"):
            planned = _plan_oci(archive)
        else:
            raise InvalidArgument(
                "invalid archive: no manifest.json or index.json in it"
                " (not a docker save or OCI image layout tarball)"
            )
        for p in planned:
            for name, _, digest in p.layers:
                if digest is not None and _file_digest(archive.path(name)) != digest:
                    raise InvalidArgument(f"invalid archive: {name} does not match its digest")
        layers = LayerStore(store.paths)
        existing = {img.id for img in store.list()}
        added_images: list[str] = []
        blobs: list[str] = []
        diff_ids: list[str] = []
        messages: list[Message] = []
        # A layer here already (another image's) is pinned before it is looked for, until
        # the image row exists: a removal of that image meanwhile leaves it.
        pins = store.pins()
        try:
            for p in planned:
                sizes = []
                descriptors = []
                chains = chain_ids([d for _, d, _ in p.layers])
                for (name, diff_id, _), chain in zip(p.layers, chains, strict=True):
                    report = None if quiet else messages.append
                    pins.hold(diff_id)  # the layer and its (uncompressed) blob
                    size = _store_layer(
                        store, layers, archive.path(name), diff_id, chain[7:19], report
                    )
                    diff_ids.append(diff_id)
                    blobs.append(diff_id)
                    sizes.append(size)
                    descriptors.append({"mediaType": MEDIA_LAYER, "digest": diff_id, "size": size})
                    yield from messages
                    messages.clear()
                manifest = _manifest(p.config, descriptors)
                blobs.append("sha256:" + hashlib.sha256(manifest).hexdigest())
                blobs.append(p.image_id)
                image = store.add(manifest, p.config, sum(sizes))
                if image.id not in existing:
                    added_images.append(image.id)
        except BaseException:
            pins.release()
            for image_id in added_images:
                try:
                    store.remove(image_id)
                except NotFound:
                    pass
            store.discard_unreferenced(blobs, diff_ids)
            raise
        pins.release()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in planned:
        for tag in p.tags:
            old = store.lookup_tag(tag)
            if old is not None and old.id != p.image_id:
                yield {
                    "stream": f"The image {tag.familiar()} already exists, renaming the old one"
                    f" with ID {old.id} to empty string\n"
                }
            store.tag(p.image_id, tag)
            yield {"stream": f"Loaded image: {tag.familiar()}\n"}
        if not p.tags:
            yield {"stream": f"Loaded image ID: {p.image_id}\n"}


def _store_layer(
    store: ImageStore,
    layers: Any,
    path: str,
    diff_id: str,
    ident: str,
    report: Callable[[Message], None] | None,
) -> int:
    """Unpack the layer file ``path`` (compressed or not) and keep its uncompressed blob,
    unless both are stored already; returns its uncompressed size in bytes. Progress
    goes to ``report`` under ``ident`` (moby: the short chain ID)."""
    from dockyard.snapshot import open_decompressed

    if layers.exists(diff_id) and store.content.exists(diff_id):
        return os.path.getsize(store.content.path(diff_id))
    with open(path, "rb") as f:
        raw: Any = f
        if report is not None:
            raw = _Progress(f, os.fstat(f.fileno()).st_size, ident, report)
        try:
            stream = open_decompressed(raw)
        except DockyardError as e:
            raise InvalidArgument(f"invalid archive: layer {diff_id}: {e}") from None
        with store.content.writer() as writer:
            try:
                _, size = layers.add(stream, tee=writer, expected_diff_id=diff_id)
            except DockyardError as e:
                raise InvalidArgument(f"invalid archive: layer {diff_id}: {e}") from None
            except (EOFError, ValueError, OSError) as e:
                if isinstance(e, OSError) and e.errno is not None:
                    raise
                raise InvalidArgument(f"invalid archive: layer {diff_id}: {e}") from None
            writer.commit(diff_id)
    return size
