"""Port publishing specs and their displays, as Docker's CLI and daemon shape them.

Parsing follows go-connections' ``nat.ParsePortSpec`` (what ``docker run -p`` uses) and the
Docker CLI's ``--expose`` and long ``--publish`` handling; the displays follow the CLI's
``DisplayablePorts`` (``ps`` PORTS column) and ``docker port``. Port keys are Docker's
``"<port>/<proto>"`` strings; bindings are ``{"HostIp": str, "HostPort": str}`` dicts, as in
HostConfig.PortBindings and NetworkSettings.Ports. :class:`PortStore` records which host
ports running containers hold; the sockets themselves are :mod:`dockyard.network.proxy`'s.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dockyard.errors import InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")
_UINT16 = re.compile(r"[0-9]+")


def _uint16(text: str) -> int | None:
    """Go's ``strconv.ParseUint(text, 10, 16)``: None when it fails."""
    if not _UINT16.fullmatch(text) or int(text) > 65535:
        return None
    return int(text)


def parse_port_range(text: str) -> tuple[int, int]:
    """``"80"`` or ``"8000-8002"`` as (first, last), nat.ParsePortRange's rules.

    Raises ``ValueError`` with go-connections' message when it is not a range of uint16.
    """
    if not text:
        raise ValueError("empty string specified for ports")
    if "-" not in text:
        port = _uint16(text)
        if port is None:
            raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
        return port, port
    parts = text.split("-")
    start, end = _uint16(parts[0]), _uint16(parts[1])
    if start is None or end is None:
        bad = parts[0] if start is None else parts[1]
        raise ValueError(f'strconv.ParseUint: parsing "{bad}": invalid syntax')
    if end < start:
        raise ValueError(f"invalid range specified for port: {text}")
    return start, end


def split_proto_port(text: str) -> tuple[str, str]:
    """nat.SplitProtoPort: ``"80/udp"`` -> ("udp", "80"), ``"80"`` -> ("tcp", "80")."""
    parts = text.split("/")
    if not text or not parts[0]:
        return "", ""
    if len(parts) == 1 or not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _split_parts(text: str) -> tuple[str, str, str]:
    """nat's splitParts: (ip, host port, container port); the IP may hold colons."""
    parts = text.split(":")
    n = len(parts)
    if n == 1:
        return "", "", parts[0]
    if n == 2:
        return "", parts[0], parts[1]
    if n == 3:
        return parts[0], parts[1], parts[2]
    return ":".join(parts[: n - 2]), parts[n - 2], parts[n - 1]


def _standard_notation(spec: str) -> str:
    """The CLI's convertToStandardNotation: ``published=8080,target=80[,protocol=udp]``
    as ``8080:80/udp``; other specs unchanged."""
    if "=" not in spec:
        return spec
    params = {"protocol": "tcp"}
    for param in spec.split(","):
        key, sep, value = param.partition("=")
        if not sep or not key:
            raise InvalidArgument(
                f"invalid publish opts format (should be name=value but got '{param}')"
            )
        params[key] = value
    return f"{params.get('published', '')}:{params.get('target', '')}/{params['protocol']}"


def parse_port_spec(spec: str) -> list[tuple[str, dict[str, str]]]:
    """One ``-p`` value as ``[(port key, binding), ...]``, one per container port.

    ``8000-8002:8000-8002`` maps each port; ``8000-8002:80`` keeps the host range as the
    range to allocate from (HostPort ``"8000-8002"``); ``80`` has HostPort ``""`` (any
    free port). IPv6 addresses may be bracketed. Raises InvalidArgument with Docker's
    messages (``invalid containerPort: x``, ``invalid hostPort: x``, ``invalid IP address:
    x``, ``invalid proto: x``, ``invalid ranges specified ...``).
    """
    raw = _standard_notation(spec)
    ip, host_port, container_port = _split_parts(raw)
    proto, container_port = split_proto_port(container_port)
    if ip.startswith("["):
        # net.SplitHostPort(ip + ":") strips the brackets of "[::1]".
        if not ip.endswith("]"):
            raise InvalidArgument(f"invalid IP address {ip}: address {ip}:: missing ']' in address")
        if "[" in ip[1:] or "]" in ip[:-1]:
            raise InvalidArgument(
                f"invalid IP address {ip}: address {ip}:: unexpected '[' in address"
            )
        ip = ip[1:-1]
    if ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {ip}") from None
    if not container_port:
        raise InvalidArgument(f"no port specified: {raw}<empty>")
    try:
        start, end = parse_port_range(container_port)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {container_port}") from None
    host_start = host_end = 0
    if host_port:
        try:
            host_start, host_end = parse_port_range(host_port)
        except ValueError:
            raise InvalidArgument(f"invalid hostPort: {host_port}") from None
    if host_port and end - start != host_end - host_start and end != start:
        raise InvalidArgument(
            "invalid ranges specified for container and host Ports: "
            f"{container_port} and {host_port}"
        )
    if proto.lower() not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    out = []
    for i in range(end - start + 1):
        hp = str(host_start + i) if host_port else ""
        if start == end and host_start != host_end:
            hp = f"{hp}-{host_end}"
        out.append((f"{start + i}/{proto.lower()}", {"HostIp": ip, "HostPort": hp}))
    return out


def parse_publish(specs: list[str]) -> tuple[list[str], dict[str, list[dict[str, str]]]]:
    """``-p`` values as (exposed port keys, HostConfig.PortBindings), nat.ParsePortSpecs.

    Raises InvalidArgument as :func:`parse_port_spec`.
    """
    exposed: list[str] = []
    bindings: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for key, binding in parse_port_spec(spec):
            if key not in exposed:
                exposed.append(key)
            bindings.setdefault(key, []).append(binding)
    return exposed, bindings


def parse_expose(specs: list[str]) -> list[str]:
    """``--expose`` values (``80``, ``80/udp``, ``8000-8010``) as port keys, one per port.

    Raises InvalidArgument with the Docker CLI's messages.
    """
    out: list[str] = []
    for spec in specs:
        if ":" in spec:
            raise InvalidArgument(f"invalid port format for --expose: {spec}")
        proto, port = split_proto_port(spec)
        try:
            start, end = parse_port_range(port)
        except ValueError as e:
            raise InvalidArgument(
                f"invalid range format for --expose: {spec}, error: {e}"
            ) from None
        for p in range(start, end + 1):
            key = f"{p}/{proto}"
            if key not in out:
                out.append(key)
    return out


def port_sort_key(key: str) -> tuple[int, str]:
    """Order of port keys by number, then protocol."""
    port, _, proto = key.partition("/")
    return int(port.split("-")[0]), proto


@dataclass(frozen=True)
class Mapping:
    """One host socket to open at start: ``proto`` ``tcp``/``udp``/``sctp``, ``host_ip``
    ("" for every address), host ports ``host_first``..``host_last`` to pick one from (0..0
    for any free port) and the container's ``port``."""

    proto: str
    port: int
    host_ip: str
    host_first: int
    host_last: int

    @property
    def key(self) -> str:
        return f"{self.port}/{self.proto}"


def planned_mappings(config: dict[str, Any], host_config: dict[str, Any]) -> list[Mapping]:
    """What the container publishes when it starts: HostConfig.PortBindings, plus every
    port of Config.ExposedPorts without a binding when PublishAllPorts (``-P``)."""
    bindings = dict(host_config.get("PortBindings") or {})
    if host_config.get("PublishAllPorts"):
        for key in config.get("ExposedPorts") or {}:
            bindings.setdefault(key, [{"HostIp": "", "HostPort": ""}])
    out = []
    for key in sorted(bindings, key=port_sort_key):
        port, _, proto = key.partition("/")
        for b in bindings[key] or [{"HostIp": "", "HostPort": ""}]:
            host = b.get("HostPort") or ""
            first, last = parse_port_range(host) if host else (0, 0)
            out.append(Mapping(proto or "tcp", int(port), b.get("HostIp") or "", first, last))
    return out


def join_host_port(ip: str, port: str | int) -> str:
    """Go's net.JoinHostPort: IPv6 addresses in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def api_ports(ports: dict[str, list[dict[str, str]] | None]) -> list[dict[str, Any]]:
    """NetworkSettings.Ports as the Engine API's container list ``Ports`` entries
    (``{"IP", "PrivatePort", "PublicPort", "Type"}``; no IP or PublicPort when unpublished)."""
    out: list[dict[str, Any]] = []
    for key, bindings in ports.items():
        port, _, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto})
            continue
        for b in bindings:
            out.append(
                {
                    "IP": b["HostIp"],
                    "PrivatePort": int(port),
                    "PublicPort": int(b["HostPort"]),
                    "Type": proto,
                }
            )
    return out


def _form_group(key: str, first: int, last: int) -> str:
    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        return f"{join_host_port(ip, group)}->{group}/{proto}"
    return f"{group}/{proto}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """The ``ps`` PORTS column (docker/cli formatter.DisplayablePorts): consecutive ports
    published on the same number grouped (``0.0.0.0:8000-8002->8000-8002/tcp``), others as
    ``IP:PUBLIC->PRIVATE/proto``, unpublished ones as ``80/tcp``."""
    ordered = sorted(
        ports,
        key=lambda p: (p["PrivatePort"], p.get("IP", ""), p.get("PublicPort", 0), p["Type"]),
    )
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    host_mappings: list[str] = []
    for p in ordered:
        current = p["PrivatePort"]
        key = p["Type"]
        if p.get("IP", "") != "":
            if p["PublicPort"] != current:
                host_mappings.append(
                    f"{join_host_port(p['IP'], p['PublicPort'])}->{current}/{p['Type']}"
                )
                continue
            key = f"{p['IP']}/{p['Type']}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [current, current]
    result.extend(_form_group(key, g[0], g[1]) for key, g in groups.items())
    result.extend(host_mappings)
    return ", ".join(result)


def _natural_key(text: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def port_command_lines(
    ports: dict[str, list[dict[str, str]] | None], private: str | None, container: str
) -> list[str]:
    """The lines ``docker port CONTAINER [PRIVATE_PORT[/PROTO]]`` prints, naturally sorted.

    Raises InvalidArgument (``Error: invalid port (x)``) for a bad PRIVATE_PORT and
    NotFound-like InvalidArgument ``Error: No public port '80/tcp' published for c``.
    """
    out: list[str] = []
    if private is not None:
        port, _, proto = private.partition("/")
        if _uint16(port) is None:
            raise InvalidArgument(
                f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": invalid syntax'
            )
        frontends = ports.get(f"{port}/{proto or 'tcp'}")
        if not frontends:
            raise InvalidArgument(f"Error: No public port '{private}' published for {container}")
        out = [join_host_port(f["HostIp"], f["HostPort"]) for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                out.append(f"{key} -> {join_host_port(f['HostIp'], f['HostPort'])}")
    return sorted(out, key=_natural_key)


PORTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS published_ports (
    container_id TEXT NOT NULL,
    port TEXT NOT NULL,               -- container port, "80/tcp"
    host_ip TEXT NOT NULL,            -- "0.0.0.0", "::", or the -p address
    host_port INTEGER NOT NULL,       -- the port the container's proxy holds
    seq INTEGER NOT NULL              -- order of the bindings of one container
);
"""


def _wildcard(ip: str) -> bool:
    return ip in ("", "0.0.0.0", "::")


def _overlaps(a: str, b: str) -> bool:
    """Whether host addresses ``a`` and ``b`` share a socket address space of one family."""
    if (":" in a) != (":" in b):
        return False
    return a == b or _wildcard(a) or _wildcard(b)


class PortStore:
    """The host ports each running container's proxy holds (``published_ports`` in the
    state database), for NetworkSettings.Ports, ``ps``, ``port`` and Docker's "port is
    already allocated". Rows of containers no longer running are ignored and replaced."""

    def __init__(self, db: Any) -> None:
        self.db = db
        db.conn.executescript(PORTS_SCHEMA)

    def record(self, container_id: str, ports: dict[str, list[dict[str, str]]]) -> None:
        """Replace the container's rows with ``ports`` (NetworkSettings.Ports shape)."""
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM published_ports WHERE container_id = ? OR container_id NOT IN "
                "(SELECT id FROM containers)",
                (container_id,),
            )
            seq = 0
            for key, bindings in ports.items():
                for b in bindings:
                    conn.execute(
                        "INSERT INTO published_ports VALUES (?, ?, ?, ?, ?)",
                        (container_id, key, b["HostIp"], int(b["HostPort"]), seq),
                    )
                    seq += 1

    def clear(self, container_id: str) -> None:
        """Forget the container's ports (its proxy closed)."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM published_ports WHERE container_id = ?", (container_id,))

    def _rows(self, where: str, params: tuple) -> list[Any]:
        return self.db.query(
            "SELECT p.* FROM published_ports p JOIN containers c ON c.id = p.container_id "
            f"WHERE json_extract(c.state, '$.Running') AND {where} ORDER BY p.seq",
            params,
        )

    def taken(self, container_id: str) -> Callable[[str, int, str], bool]:
        """A ``taken(ip, port, proto)`` test: whether another running container holds it."""
        held = [
            (r["host_ip"], r["host_port"], r["port"].partition("/")[2])
            for r in self._rows("p.container_id != ?", (container_id,))
        ]
        return lambda ip, port, proto: any(
            port == p and proto == pr and _overlaps(ip, i) for i, p, pr in held
        )

    def ports(self, c: Any) -> dict[str, list[dict[str, str]] | None]:
        """NetworkSettings.Ports of container ``c``: while it runs, each exposed port
        (``None`` when not published) with the bindings its proxy holds, keys in Go's map
        order; ``{}`` when it does not run or has no network namespace of its own."""
        mode = c.host_config.get("NetworkMode") or ""
        if not c.state.get("Running") or mode in ("host", "none") or mode.startswith("container:"):
            return {}
        out: dict[str, list[dict[str, str]] | None] = {
            k: None for k in c.config.get("ExposedPorts") or {}
        }
        for r in self._rows("p.container_id = ?", (c.id,)):
            bindings = out.get(r["port"]) or []
            bindings.append({"HostIp": r["host_ip"], "HostPort": str(r["host_port"])})
            out[r["port"]] = bindings
        return dict(sorted(out.items()))


def port_filter(key: str, values: list[str]) -> set[str]:
    """The port keys ``ps --filter publish=``/``expose=`` values name (``80``, ``80/udp``,
    ``8000-8080/tcp``), as the daemon's portOp. Raises InvalidArgument with its messages."""
    out: set[str] = set()
    for value in values:
        if ":" in value:
            raise InvalidArgument(f"filter for '{key}' should not contain ':': {value}")
        proto, port = split_proto_port(value)
        try:
            start, end = parse_port_range(port)
        except ValueError as e:
            raise InvalidArgument(f"error while looking up for {key} {port}: {e}") from None
        out.update(f"{p}/{proto}" for p in range(start, end + 1))
    return out
