"""Published ports, as Docker's daemon keeps them: the mappings a container asks for,
the Engine API's ``Ports`` lists, the ``ps`` port filters, and :class:`PortStore`, which
records which host ports running containers hold (the sockets themselves are
:mod:`dockyard.network.proxy`'s). Port specs are parsed by :mod:`dockyard.nat`.
"""

from __future__ import annotations

from collections.abc import Callable

from dockyard.errors import InvalidArgument
from dockyard.nat import parse_port_range, port_sort_key, split_proto_port
from dockyard.record import Record

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class Mapping(Record):
    """One host socket to open at start: ``proto`` ``tcp``/``udp``/``sctp``, ``host_ip``
    ("" for every address), host ports ``host_first``..``host_last`` to pick one from (0..0
    for any free port) and the container's ``port``."""

    proto: str
    port: int
    host_ip: str
    host_first: int
    host_last: int

    _FIELDS = ("proto", "port", "host_ip", "host_first", "host_last")

    def __init__(
        self,
        proto: str,
        port: int,
        host_ip: str,
        host_first: int,
        host_last: int,
    ) -> None:
        self.proto = proto
        self.port = port
        self.host_ip = host_ip
        self.host_first = host_first
        self.host_last = host_last

    def __hash__(self) -> int:  # type: ignore[override]
        # Hashable as the frozen dataclass it was (its fields are never reassigned).
        return hash((self.proto, self.port, self.host_ip, self.host_first, self.host_last))

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
