"""The per-container /etc/hostname, /etc/hosts and /etc/resolv.conf, written as Docker writes
them (libnetwork's etchosts and resolvconf packages) and bind-mounted by the runtime."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

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
#: The embedded DNS server's address on user-defined networks (Docker's).
INTERNAL_DNS = "127.0.0.11"
_LOCAL_NS = re.compile(r"^\s*nameserver\s+(127\.\d+\.\d+\.\d+|::1)\s*$", re.MULTILINE)


def _write(path: str, content: str) -> None:
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(content)
    except OSError as e:  # a write or close error names no file: name it
        raise OSError(e.errno, e.strerror, e.filename or tmp) from None
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


def _directives(conf: str, key: str) -> list[str]:
    """The words of every ``key`` line of a resolv.conf text (``nameserver``: addresses)."""
    words: list[str] = []
    for line in conf.splitlines():
        parts = line.split()
        if parts and parts[0] == key:
            words.extend(parts[1:])
    return words


def _override(conf: str, dns: Sequence[str], search: Sequence[str], options: Sequence[str]) -> str:
    """``conf`` with its nameserver, search and options lines replaced by ``--dns``,
    ``--dns-search`` and ``--dns-option`` where given (``--dns-search .`` clears search)."""
    lines = conf.splitlines()
    if dns:
        lines = [ln for ln in lines if ln.split()[:1] != ["nameserver"]]
        lines += [f"nameserver {ns}" for ns in dns]
    if search:
        lines = [ln for ln in lines if ln.split()[:1] not in (["search"], ["domain"])]
        if list(search) != ["."]:
            lines.append("search " + " ".join(search))
    if options:
        lines = [ln for ln in lines if ln.split()[:1] != ["options"]]
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n" if lines else ""


def internal_resolv_conf(
    host_conf: str, dns: Sequence[str], search: Sequence[str], options: Sequence[str]
) -> str:
    """Docker's resolv.conf on a user-defined network: the embedded DNS server (127.0.0.11)
    with ``options ndots:0``, the search domains of the host (or ``--dns-search``), and a
    ``# ExtServers: [...]`` comment naming the servers it forwards to: ``--dns`` servers, else
    the host's (``host(ADDR)``: reached from the host's namespace, loopback ones included).
    The comment is for people, as Docker's: the engine never reads it back (the container
    can rewrite the file); see ``network.services.upstream_servers``."""
    ext = [str(ns) for ns in dns] or [f"host({ns})" for ns in _directives(host_conf, "nameserver")]
    searches = list(search) if search else _directives(host_conf, "search")
    if searches == ["."]:
        searches = []
    opts = list(options)
    if not any(o.startswith("ndots:") for o in opts):
        opts.insert(0, "ndots:0")
    out = f"nameserver {INTERNAL_DNS}\n"
    if searches:
        out += "search " + " ".join(searches) + "\n"
    out += "options " + " ".join(opts) + "\n"
    out += "\n# ExtServers: [" + " ".join(ext) + "]\n"
    return out


def hosts_file(
    own: Sequence[tuple[str, str]] = (),
    extra_hosts: Sequence[str] = (),
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """Docker's /etc/hosts: the defaults, each ``--add-host name:ip`` as ``ip\\tname``, each
    link ``(ip, "alias id name")``, then the container's own ``(ip, names)`` records."""
    out = DEFAULT_HOSTS
    for entry in extra_hosts:
        name, _, addr = entry.partition(":") if "=" not in entry else entry.partition("=")
        out += f"{addr}\t{name}\n"
    for addr, names in links:
        out += f"{addr}\t{names}\n"
    for addr, names in own:
        out += f"{addr}\t{names}\n"
    return out


def write_etc_files(
    container_dir: str,
    hostname: str,
    network: str,
    *,
    own: Sequence[tuple[str, str]] = (),
    extra_hosts: Sequence[str] = (),
    links: Sequence[tuple[str, str]] = (),
    dns: Sequence[str] = (),
    dns_search: Sequence[str] = (),
    dns_options: Sequence[str] = (),
    internal_dns: bool = False,
) -> dict[str, str]:
    """Write ``hostname``, ``hosts`` and ``resolv.conf`` into ``container_dir``.

    ``network`` is the container's network mode. With ``host`` the host's own files are
    copied (plus ``extra_hosts``). Otherwise /etc/hosts gets Docker's defaults, ``extra_hosts``
    (``name:ip``), ``links`` and ``own`` (see :func:`hosts_file`); resolv.conf is the host's
    filtered for a private namespace, or with ``internal_dns`` (user-defined networks) the
    embedded DNS server's (:func:`internal_resolv_conf`); ``dns``, ``dns_search`` and
    ``dns_options`` override as Docker's ``--dns*`` flags do. Returns
    ``{"/etc/hostname": path, ...}`` for the bind mounts.
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
        _write(
            paths["/etc/hosts"], hosts + hosts_file(extra_hosts=extra_hosts)[len(DEFAULT_HOSTS) :]
        )
        _write(paths["/etc/resolv.conf"], _override(host_resolv, dns, dns_search, dns_options))
        return paths
    _write(paths["/etc/hosts"], hosts_file(own, extra_hosts, links))
    if internal_dns:
        resolv = internal_resolv_conf(host_resolv, dns, dns_search, dns_options)
    else:
        resolv = _override(container_resolv_conf(host_resolv), dns, dns_search, dns_options)
    _write(paths["/etc/resolv.conf"], resolv)
    return paths
