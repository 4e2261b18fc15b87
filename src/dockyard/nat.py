"""Port specs as go-connections' ``nat`` package parses them (``docker run -p``,
``--expose``; shared by the CLI, which turns flags into HostConfig.PortBindings and
Config.ExposedPorts, and the daemon side). Port keys are Docker's ``"<port>/<proto>"``
strings; bindings are ``{"HostIp": str, "HostPort": str}`` dicts, as in
HostConfig.PortBindings and NetworkSettings.Ports. Values in, values out.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument

PROTOCOLS = ("tcp", "udp", "sctp")
_UINT16 = re.compile(r"[0-9]+")


def uint16(text: str) -> int | None:
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
        port = uint16(text)
        if port is None:
            raise ValueError(f'strconv.ParseUint: parsing "{text}": invalid syntax')
        return port, port
    parts = text.split("-")
    start, end = uint16(parts[0]), uint16(parts[1])
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
        import ipaddress

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


def join_host_port(ip: str, port: str | int) -> str:
    """Go's net.JoinHostPort: IPv6 addresses in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"
