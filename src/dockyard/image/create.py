"""Making single-layer images: ``docker import`` and the shared layer-to-image step.

The layer is read once: ``LayerStore.add`` unpacks it while hashing it and tees each byte
into a blob writer, so the stored layer blob (uncompressed,
``application/vnd.oci.image.layer.v1.tar``) and the unpacked layer come from one pass.
On any failure nothing is left behind: no blob, layer directory, image row or tag.
"""

from __future__ import annotations

import json
import os
import time

from dockyard import reference
from dockyard.digests import sha256
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.image.store import MEDIA_CONFIG, MEDIA_LAYER, MEDIA_MANIFEST, Image, ImageStore
from dockyard.platforms import check_platform, host_arch

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any, BinaryIO


def rfc3339_nano(ns: int) -> str:
    """``ns`` (nanoseconds since the epoch) as Go's RFC3339Nano in UTC."""
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def manifest_for(config: dict[str, Any], layers: list[dict[str, Any]]) -> tuple[bytes, bytes]:
    """The canonical bytes of an image ``config`` and of the OCI image manifest naming it and
    ``layers`` (descriptors: mediaType, digest, size), as ``(config, manifest)``
    (OCI image spec, manifest.md)."""
    config_bytes = json.dumps(config, separators=(",", ":")).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {
            "mediaType": MEDIA_CONFIG,
            "digest": "sha256:" + sha256(config_bytes).hexdigest(),
            "size": len(config_bytes),
        },
        "layers": layers,
    }
    return config_bytes, json.dumps(manifest, separators=(",", ":")).encode()


def image_from_layer(
    store: ImageStore,
    stream: BinaryIO,
    config: dict[str, Any],
    history: dict[str, Any],
    tag: reference.Reference | None = None,
) -> Image:
    """Store the uncompressed layer tar ``stream`` and an image made of it; returns it.

    ``config`` is the OCI image config without ``rootfs``/``history`` (they are added);
    ``history`` is its one history entry. ``tag`` (a full reference) is pointed at the new
    image. Raises ``InvalidArgument`` for a bad archive; cleans up on every failure.
    """
    from dockyard.snapshot import LayerStore

    layers = LayerStore(store.paths)
    diff_id: str | None = None
    blobs: list[str] = []
    with store.lease():
        writer = store.content.writer()
        try:
            try:
                diff_id, size = layers.add(stream, tee=writer)  # type: ignore[arg-type]
            except DockyardError:
                raise
            except Exception as e:  # decompressor errors (zlib, lzma, bz2, EOF) on a bad file
                raise InvalidArgument(f"invalid archive: {e}") from None
            layer_digest, layer_size = writer.commit(diff_id)
            blobs.append(layer_digest)
            full = {
                **config,
                "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                "history": [history],
            }
            config_bytes, manifest_bytes = manifest_for(
                full, [{"mediaType": MEDIA_LAYER, "digest": layer_digest, "size": layer_size}]
            )
            blobs.append("sha256:" + sha256(config_bytes).hexdigest())
            blobs.append("sha256:" + sha256(manifest_bytes).hexdigest())
            image = store.add(manifest_bytes, config_bytes, size)
            if tag is not None:
                store.tag(image.id, tag)
            return store.get(image.id)
        except BaseException:
            writer.abort()
            if diff_id is not None:
                store.discard_unreferenced(blobs, [diff_id])
            raise


# -- docker import ----------------------------------------------------------------------

_CHANGE_COMMANDS = (
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
)
_DOCKERFILE_COMMANDS = (
    *_CHANGE_COMMANDS,
    "ADD",
    "ARG",
    "COPY",
    "FROM",
    "HEALTHCHECK",
    "MAINTAINER",
    "RUN",
    "SHELL",
)


def _json_list(value: str) -> list[str] | None:
    if not value.startswith("["):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
        return parsed
    return None


def _pairs(command: str, value: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` (or the legacy ``k v`` form) as Dockerfile ENV/LABEL parse them."""
    import shlex

    try:
        words = shlex.split(value)
    except ValueError as e:
        raise InvalidArgument(f"{command} {value}: {str(e).lower()}") from None
    if not words:
        raise InvalidArgument(f"{command} requires at least one argument")
    if "=" not in words[0]:
        key, _, rest = value.strip().partition(" ")
        if not rest.strip():
            raise InvalidArgument(f"{command} must have two arguments")
        return [(key, rest.strip())]
    out = []
    for w in words:
        key, eq, val = w.partition("=")
        if not eq or not key:
            raise InvalidArgument(f"{command} names can not be blank: {w!r}")
        out.append((key, val))
    return out


def apply_changes(changes: list[str], config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Apply ``--change`` Dockerfile instructions to an OCI image ``config`` (a copy).

    Supports CMD, ENTRYPOINT (JSON or shell form; shell form becomes ``["/bin/sh", "-c",
    ...]``), ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME and WORKDIR, as ``docker
    import``/``commit``. Raises ``InvalidArgument`` naming the bad instruction.
    """
    cfg: dict[str, Any] = json.loads(json.dumps(config or {}))
    cmd_set = False
    for line, change in _instructions(changes):
        command, _, value = change.strip().partition(" ")
        if "\t" in command:
            command, _, rest = command.partition("\t")
            value = rest + " " + value
        upper = command.upper()
        value = value.strip()
        if upper not in _DOCKERFILE_COMMANDS:
            raise InvalidArgument(
                f"dockerfile parse error on line {line}: unknown instruction: {command}"
            )
        if upper not in _CHANGE_COMMANDS:
            raise InvalidArgument(f"{command.lower()} is not a valid change command")
        if not value:
            raise InvalidArgument(f"{upper} requires at least one argument")
        if upper in ("CMD", "ENTRYPOINT"):
            args = _json_list(value)
            cfg[upper.title()] = args if args is not None else ["/bin/sh", "-c", value]
            if upper == "CMD":
                cmd_set = True
            elif not cmd_set:
                cfg.pop("Cmd", None)  # Docker: a new ENTRYPOINT resets an inherited CMD
        elif upper == "ENV":
            env = list(cfg.get("Env") or [])
            for key, val in _pairs(upper, value):
                env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={val}"]
            cfg["Env"] = env
        elif upper == "LABEL":
            labels = dict(cfg.get("Labels") or {})
            labels.update(_pairs(upper, value))
            cfg["Labels"] = labels
        elif upper == "EXPOSE":
            ports = dict(cfg.get("ExposedPorts") or {})
            for p in value.split():
                ports[port_spec(p)] = {}
            cfg["ExposedPorts"] = ports
        elif upper == "VOLUME":
            vols = dict(cfg.get("Volumes") or {})
            for v in _json_list(value) or value.split():
                if not v.strip():  # moby's dispatchVolume; the image could not run
                    raise InvalidArgument("VOLUME specified can not be an empty string")
                vols[v] = {}
            cfg["Volumes"] = vols
        elif upper == "WORKDIR":
            cfg["WorkingDir"] = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", value))
        elif upper == "USER":
            cfg["User"] = value
        elif upper == "STOPSIGNAL":
            check_stop_signal(value)
            cfg["StopSignal"] = value
        elif upper == "ONBUILD":
            # moby's parseOnBuild, which commit and import changes go through too
            trigger = value.split()[0].upper()
            if trigger == "ONBUILD":
                raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
            if trigger in ("MAINTAINER", "FROM"):
                raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
            cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), value]
    return cfg


def _instructions(changes: list[str]) -> list[tuple[int, str]]:
    """The Dockerfile instructions in ``changes`` with their line numbers.

    Docker joins the changes with newlines and parses the result as a Dockerfile, so a
    change holding a newline is two instructions; blank and ``#`` lines are skipped and
    a line ending in a backslash continues on the next.
    """
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, text in enumerate("\n".join(changes).split("\n"), 1):
        stripped = text.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += text.rstrip()[:-1]
            continue
        out.append((start, pending + text))
        pending = ""
    if pending.strip():
        out.append((start, pending))
    return out


def port_spec(text: str) -> str:
    """An EXPOSE port as go-connections' ``ParsePortSpec`` checks it (1-65535, lo <= hi),
    as ``port[-port]/proto`` with tcp by default; raises ``InvalidArgument``."""
    port, _, proto = text.partition("/")
    proto = proto.lower() or "tcp"
    lo, dash, hi = port.partition("-")
    numbers = [lo, hi] if dash else [lo]
    if not all(n.isdigit() and 0 < int(n) <= 65535 for n in numbers) or (
        proto not in ("tcp", "udp", "sctp")
    ):
        raise InvalidArgument(f"invalid containerPort: {text}")
    if dash and int(hi) < int(lo):
        raise InvalidArgument(f"invalid containerPort: {text}: invalid range specified for port")
    return f"{port}/{proto}"


def check_stop_signal(text: str) -> None:
    """STOPSIGNAL: a number 1..SIGRTMAX or a signal name, with or without ``SIG``;
    raises ``InvalidArgument("Invalid signal: X")``."""
    import signal

    if text.isdigit():
        ok = 0 < int(text) <= signal.SIGRTMAX
    else:
        name = text.upper()
        ok = (name if name.startswith("SIG") else "SIG" + name) in signal.Signals.__members__
    if not ok:
        raise InvalidArgument(f"Invalid signal: {text}")


def import_image(
    store: ImageStore,
    stream: BinaryIO,
    repository: str | None = None,
    changes: list[str] | None = None,
    message: str = "",
    platform: str | None = None,
) -> Image:
    """``docker import``: make an image from the rootfs tarball ``stream`` (the request
    body: the docker CLI opens a file itself and sends it, as it sends stdin).

    The file may be plain, gzip, bzip2 or xz. ``repository`` (``name[:tag]``) is tagged;
    ``changes`` are ``--change`` instructions; ``message`` the history comment. Everything
    is validated before the archive is read. Raises ``InvalidArgument`` / ``NotFound``.
    """
    from dockyard.snapshot import open_decompressed

    check_platform(platform)
    cfg = apply_changes(changes or [])
    tag = reference.parse(repository) if repository else None
    if tag is not None and tag.digest is not None:
        raise InvalidArgument("refusing to create a tag with a digest reference")
    created = rfc3339_nano(time.time_ns())
    config: dict[str, Any] = {"created": created, "architecture": host_arch(), "os": "linux"}
    if cfg:
        config["config"] = cfg
    history: dict[str, Any] = {"created": created, "comment": message or "Imported from -"}
    if message:
        config["comment"] = message
    return image_from_layer(store, open_decompressed(stream), config, history, tag)
