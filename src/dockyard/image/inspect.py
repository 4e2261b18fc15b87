"""``docker image inspect``'s JSON for an image (Docker Engine API ``ImageInspect``)."""

from __future__ import annotations

from typing import Any

from dockyard.image.store import Image
from dockyard.paths import Paths

ZERO_TIME = "0001-01-01T00:00:00Z"

# Docker's container.Config keys in its order, with the values an unset field shows.
_CONFIG_DEFAULTS: list[tuple[str, Any]] = [
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", None),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", None),
    ("Shell", None),
]
# Fields Docker omits when empty (omitempty).
_OMIT_EMPTY = {"ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "Shell"}


def docker_config(oci: dict[str, Any]) -> dict[str, Any]:
    """An OCI image config's ``config`` object in Docker's ``Config`` shape and casing."""
    out: dict[str, Any] = {}
    for key, default in _CONFIG_DEFAULTS:
        value = oci.get(key, default)
        if key in _OMIT_EMPTY and not value:
            continue
        out[key] = value
    return out


def inspect_image(paths: Paths, image: Image) -> dict[str, Any]:
    """The ``docker image inspect`` object of ``image`` (one element of the JSON array).

    ``GraphDriver.Data`` names the layer directories: ``UpperDir`` the top layer,
    ``LowerDir`` the ones below it (topmost first, ``:``-separated).
    """
    import os

    cfg = image.config
    layer_dirs = [os.path.join(paths.layers, d.removeprefix("sha256:")) for d in image.diff_ids]
    data: dict[str, Any] = {}
    if layer_dirs:
        data["UpperDir"] = layer_dirs[-1]
        if len(layer_dirs) > 1:
            data["LowerDir"] = ":".join(reversed(layer_dirs[:-1]))
    return {
        "Id": image.id,
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Parent": "",
        "Comment": cfg.get("comment", ""),
        "Created": cfg.get("created", ZERO_TIME),
        "DockerVersion": "",
        "Author": cfg.get("author", ""),
        "Config": docker_config(cfg.get("config") or {}),
        "Architecture": cfg.get("architecture", ""),
        **({"Variant": cfg["variant"]} if cfg.get("variant") else {}),
        "Os": cfg.get("os", ""),
        "Size": image.size,
        "GraphDriver": {"Data": data, "Name": "overlay"},
        "RootFS": {"Type": "layers", "Layers": image.diff_ids},
        "Metadata": {"LastTagTime": ZERO_TIME},
    }
