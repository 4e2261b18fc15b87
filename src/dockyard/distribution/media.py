"""Media types of the OCI image spec and Docker's image manifest v2, and platforms.

``parse_platform`` and ``select_manifest`` follow containerd's ``platforms`` package as
Docker uses it: ``arm64`` is ``linux/arm64``, ``aarch64`` is ``arm64``, ``arm64/v8`` is
``arm64``, ``arm`` is ``arm/v7``.
"""

from __future__ import annotations

from typing import Any

from dockyard.errors import DockyardError, InvalidArgument

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
MANIFESTS = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEXES = (OCI_INDEX, DOCKER_LIST)
#: What a pull accepts, in the ``Accept`` header.
ACCEPT = ", ".join((*MANIFESTS, *INDEXES))

OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
CONFIGS = (OCI_CONFIG, DOCKER_CONFIG)
#: Layer media types and the compression each implies ("" for a plain tar).
LAYERS = {
    "application/vnd.oci.image.layer.v1.tar": "",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.diff.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}
#: Largest manifest or index read (moby's maxManifestBodySize).
MAX_MANIFEST = 4 * 1024 * 1024
#: Largest image config read (containerd reads configs whole; a bound keeps memory sane).
MAX_CONFIG = 8 * 1024 * 1024

_ARCH_ALIASES = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "i386": "386"}


def schema1_error(ref: str) -> DockyardError:
    """Docker 28's refusal of a schema 1 manifest."""
    return DockyardError(
        "Docker Image Format v1 and Docker Image manifest version 2, schema 1 support has "
        f"been removed. Suggest the author of {ref} to upgrade the image to the OCI Format or "
        "Docker Image manifest v2, schema 2. More information at "
        "https://docs.docker.com/go/deprecated-image-specs/"
    )


def normalise_platform(os_: str, arch: str, variant: str) -> tuple[str, str, str]:
    """``(os, architecture, variant)`` in containerd's normal form (``aarch64`` is
    ``arm64``, ``arm64/v8`` is ``arm64``, ``arm`` is ``arm/v7``)."""
    os_ = os_.lower()
    arch = _ARCH_ALIASES.get(arch.lower(), arch.lower())
    variant = variant.lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    if arch == "arm" and variant in ("", "7"):
        variant = "v7"
    if arch == "arm" and variant in ("5", "6", "8"):
        variant = "v" + variant
    return os_, arch, variant


def host_platform() -> tuple[str, str, str]:
    """``(os, architecture, variant)`` of this host, normalised."""
    from dockyard.image.create import host_arch

    return normalise_platform("linux", host_arch(), "")


def parse_platform(text: str | None) -> tuple[str, str, str]:
    """``--platform``'s value (``linux/arm64``, ``linux/arm/v7``, ``arm64``) as a
    normalised ``(os, architecture, variant)``; the host's when empty. Raises
    ``InvalidArgument`` as Docker: ``"x/y/z/w": unknown operating system or architecture``."""
    if not text:
        return host_platform()
    parts = text.split("/")
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(
            f'"{text}": unknown operating system or architecture: invalid argument'
        )
    if len(parts) == 1:
        if parts[0].lower() == "linux":
            return host_platform()
        return normalise_platform("linux", parts[0], "")
    return normalise_platform(parts[0], parts[1], parts[2] if len(parts) == 3 else "")


def format_platform(p: tuple[str, str, str]) -> str:
    """``linux/arm/v7`` (no trailing ``/`` without a variant)."""
    return "/".join(x for x in p if x)


def select_manifest(index: dict[str, Any], want: tuple[str, str, str]) -> dict[str, Any]:
    """The descriptor in ``index["manifests"]`` for platform ``want``: same OS and
    architecture, and the variant when one is asked for (else the first entry). Raises
    ``DockyardError`` with Docker's message, naming what the index offers."""
    offered: list[str] = []
    fallback: dict[str, Any] | None = None
    entries = index.get("manifests") or []
    if not isinstance(entries, list) or not all(isinstance(d, dict) for d in entries):
        raise DockyardError("invalid manifest list: manifests is not a list of descriptors")
    for desc in entries:
        plat = desc.get("platform") or {}
        if not isinstance(plat, dict):
            continue
        got = normalise_platform(
            str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
        )
        if got[0] == "unknown":  # attestation manifests (BuildKit)
            continue
        offered.append(format_platform(got))
        if got[:2] != want[:2]:
            continue
        if got[2] == want[2]:
            return dict(desc)
        if not want[2] and fallback is None:
            fallback = dict(desc)
    if fallback is not None:
        return fallback
    what = ", ".join(dict.fromkeys(offered)) or "nothing"
    raise DockyardError(
        f"no matching manifest for {format_platform(want)} in the manifest list entries "
        f"(the index offers {what})"
    )
