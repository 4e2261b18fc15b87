"""The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, written as Docker writes
them (libnetwork's etchosts and resolvconf packages) and bind-mounted by the runtime."""

from __future__ import annotations

import os
import re

DEFAULT_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
# Docker's fallback when the host only has loopback resolvers, which a container cannot reach.
DEFAULT_NAMESERVERS = ["8.8.8.8", "8.8.4.4"]
_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$", re.MULTILINE)


def _write(path: str, content: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(content)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def container_resolv_conf(host_conf: str) -> str:
    """Filter the host's resolv.conf for a container with its own network namespace: drop
    loopback nameservers (unreachable from the container) and fall back to Docker's public
    defaults when none remain. ``host_conf`` is the host file's text."""
    filtered = _LOCAL_NS.sub("", host_conf)
    filtered = re.sub(r"\n{2,}", "\n", filtered).lstrip("\n")
    if not re.search(r"^\s*nameserver\s", filtered, re.MULTILINE):
        filtered += "".join(f"nameserver {ns}\n" for ns in DEFAULT_NAMESERVERS)
    return filtered


def write_etc_files(container_dir: str, hostname: str, network: str) -> dict[str, str]:
    """Write ``hostname``, ``hosts`` and ``resolv.conf`` into ``container_dir``.

    ``network`` is the container's network mode (``none`` or ``host``). With ``host`` the
    host's own files are copied. Returns ``{"/etc/hostname": path, ...}`` for the bind
    mounts.
    """
    paths = {
        "/etc/hostname": os.path.join(container_dir, "hostname"),
        "/etc/hosts": os.path.join(container_dir, "hosts"),
        "/etc/resolv.conf": os.path.join(container_dir, "resolv.conf"),
    }
    try:
        with open("/etc/resolv.conf") as f:
            host_resolv = f.read()
    except OSError:
        host_resolv = ""
    _write(paths["/etc/hostname"], hostname + "\n")
    if network == "host":
        try:
            with open("/etc/hosts") as f:
                hosts = f.read()
        except OSError:
            hosts = DEFAULT_HOSTS
        _write(paths["/etc/hosts"], hosts)
        _write(paths["/etc/resolv.conf"], host_resolv)
    else:
        _write(paths["/etc/hosts"], DEFAULT_HOSTS)
        _write(paths["/etc/resolv.conf"], container_resolv_conf(host_resolv))
    return paths
