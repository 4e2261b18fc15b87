"""Registry settings: Docker's daemon.json keys, the certs.d directory, timeouts.

``/etc/dockyard/daemon.json`` (or the file ``$DOCKYARD_DAEMON_CONFIG`` names) holds the
keys dockerd reads from its own daemon.json: ``registry-mirrors``,
``insecure-registries``, ``max-concurrent-downloads``, ``max-concurrent-uploads``. Other
keys are refused (a setting Dockyard cannot honour must not be silently ignored).
"""

from __future__ import annotations

import ipaddress
import json
import os
from dataclasses import dataclass, field

from dockyard.errors import InvalidArgument

DEFAULT_DAEMON_CONFIG = "/etc/dockyard/daemon.json"
DEFAULT_CERTS_D = "/etc/docker/certs.d"
#: Docker's registry for ``docker.io`` names, and the key its logins are stored under.
DOCKER_HUB_HOST = "registry-1.docker.io"
DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/"
_KNOWN_KEYS = {
    "registry-mirrors",
    "insecure-registries",
    "max-concurrent-downloads",
    "max-concurrent-uploads",
}


@dataclass
class RegistryConfig:
    """What ``daemon.json`` says about registries, with dockerd's defaults.

    ``mirrors``: base URLs (``https://mirror.example``) tried first for ``docker.io``
    pulls; ``insecure``: hosts (``host[:port]``) and CIDR networks reached over plain HTTP
    or unverified TLS; ``max_downloads``/``max_uploads``: layers in flight per pull/push.
    ``certs_d`` is the directory of per-registry TLS files (``$DOCKYARD_CERTS_D`` or
    ``/etc/docker/certs.d``); ``timeout`` the seconds a connection may take to open or
    stay silent (``$DOCKYARD_REGISTRY_TIMEOUT``, default 30).
    """

    mirrors: list[str] = field(default_factory=list)
    insecure: list[str] = field(default_factory=list)
    max_downloads: int = 3
    max_uploads: int = 5
    certs_d: str = DEFAULT_CERTS_D
    timeout: float = 30.0

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (``name[:port]``) may be reached over plain HTTP: loopback
        addresses and ``localhost`` always, as dockerd, and what ``insecure-registries``
        names (a host, or a network its address is in)."""
        if host in self.insecure:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        name = name.strip("[]")
        if name == "localhost":
            return True
        try:
            addr = ipaddress.ip_address(name)
        except ValueError:
            return False
        if addr.is_loopback:
            return True
        for entry in self.insecure:
            try:
                if addr in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


def _positive_int(data: dict, key: str, default: int, where: str) -> int:
    value = data.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"{where}: {key} must be a positive integer, not {value!r}")
    return value


def _mirror(url: object, where: str) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidArgument(
            f"{where}: invalid mirror: {url!r} must start with http:// or https://"
        )
    rest = url.split("://", 1)[1].rstrip("/")
    if not rest or "/" in rest or "?" in rest or "#" in rest:
        raise InvalidArgument(f"{where}: invalid mirror: path, query or fragment in {url!r}")
    return url.rstrip("/")


def load(path: str | None = None) -> RegistryConfig:
    """Read the daemon configuration file (``path``, else ``$DOCKYARD_DAEMON_CONFIG``,
    else ``/etc/dockyard/daemon.json``); a missing file means the defaults.

    Raises ``InvalidArgument`` naming the file for bad JSON, unknown keys and bad values.
    """
    path = path or os.environ.get("DOCKYARD_DAEMON_CONFIG") or DEFAULT_DAEMON_CONFIG
    cfg = RegistryConfig(certs_d=os.environ.get("DOCKYARD_CERTS_D") or DEFAULT_CERTS_D)
    timeout = os.environ.get("DOCKYARD_REGISTRY_TIMEOUT")
    if timeout:
        try:
            cfg.timeout = float(timeout)
        except ValueError:
            raise InvalidArgument(
                f"DOCKYARD_REGISTRY_TIMEOUT: not a number of seconds: {timeout!r}"
            ) from None
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return cfg
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"{path}: invalid JSON: {e}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"{path}: want a JSON object")
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise InvalidArgument(
            f"{path}: unsupported key {unknown[0]!r} (Dockyard reads {', '.join(sorted(_KNOWN_KEYS))})"
        )
    mirrors = data.get("registry-mirrors", [])
    insecure = data.get("insecure-registries", [])
    if not isinstance(mirrors, list) or not isinstance(insecure, list):
        raise InvalidArgument(f"{path}: registry-mirrors and insecure-registries must be lists")
    cfg.mirrors = [_mirror(m, path) for m in mirrors]
    for entry in insecure:
        if not isinstance(entry, str) or not entry or "://" in entry:
            raise InvalidArgument(
                f"{path}: invalid insecure registry {entry!r}: want host[:port] or CIDR"
            )
    cfg.insecure = list(insecure)
    cfg.max_downloads = _positive_int(data, "max-concurrent-downloads", 3, path)
    cfg.max_uploads = _positive_int(data, "max-concurrent-uploads", 5, path)
    return cfg


def registry_host(domain: str) -> str:
    """The host to contact for a reference's domain (``docker.io`` is Docker Hub's
    ``registry-1.docker.io``)."""
    return DOCKER_HUB_HOST if domain == "docker.io" else domain


def auth_key(domain: str) -> str:
    """The ``auths`` key of config.json for a domain, as the docker CLI writes it."""
    return DOCKER_HUB_AUTH_KEY if domain in ("docker.io", DOCKER_HUB_HOST) else domain
