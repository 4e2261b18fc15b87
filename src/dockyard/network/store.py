"""Network and endpoint records in the state database, and address allocation inside its
write transactions (so 20 concurrent ``run`` never get the same address)."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.network import ipam
from dockyard.record import Record
from dockyard.timetypes import now

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.state import StateDB


#: Docker's predefined networks: name -> driver.
PREDEFINED = {"bridge": "bridge", "host": "host", "none": "null"}


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class Network(Record):
    """A network record. ``config`` keys: ``subnet``, ``gateway``, ``ip_range`` (strings,
    the range only when given), ``internal``, ``attachable`` (bools), ``labels`` and
    ``options`` (dicts of strings; ``parent`` for macvlan/ipvlan); an IPv6 network
    (``--ipv6``) has ``ipv6`` true and ``subnet6``, ``gateway6``, ``ip_range6``,
    ``aux_addresses6``, its IPv6 pool's."""

    id: str
    name: str
    driver: str
    created: str
    config: dict[str, Any]

    _FIELDS = ("id", "name", "driver", "created", "config")

    def __init__(
        self,
        id: str,
        name: str,
        driver: str,
        created: str,
        config: dict[str, Any] | None = None,
    ) -> None:
        self.id = id
        self.name = name
        self.driver = driver
        self.created = created
        self.config = {} if config is None else config

    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def internal(self) -> bool:
        return bool(self.config.get("internal"))

    @property
    def options(self) -> dict[str, str]:
        return dict(self.config.get("options") or {})

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.config.get("labels") or {})

    @property
    def ipv6(self) -> bool:
        """Whether the network has IPv6 (``--ipv6``)."""
        return bool(self.config.get("ipv6"))

    @property
    def ipv4(self) -> bool:
        """Whether the network has IPv4 (all but ``--ipv4=false`` ones)."""
        return not self.config.get("no_ipv4")

    def pool(self) -> ipam.Pool | None:
        """The network's IPv4 IPAM pool (None for host and none)."""
        return self._pool("")

    def pool6(self) -> ipam.Pool | None:
        """The network's IPv6 IPAM pool (None unless ``--ipv6``)."""
        return self._pool("6") if self.ipv6 else None

    def _pool(self, suffix: str) -> ipam.Pool | None:
        config = self.config
        if not config.get("subnet" + suffix):
            return None
        return ipam.Pool(
            ipaddress_network(config["subnet" + suffix]),
            ipaddress.ip_address(config["gateway" + suffix]),
            ipaddress_network(config.get("ip_range" + suffix) or config["subnet" + suffix]),
            tuple(
                (name, ipaddress.ip_address(addr))
                for name, addr in (config.get("aux_addresses" + suffix) or {}).items()
            ),
        )


def ipaddress_network(text: str) -> ipam.IPNetwork:
    return ipaddress.ip_network(text, strict=False)


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class Endpoint(Record):
    """A container's attachment to a network: its ``address`` (IPv4, no prefix), ``mac``,
    interface name inside the container and ``aliases``; on an IPv6 network its
    ``address6`` (no prefix; ``fixed6``: given with ``--ip6``), and the
    ``link_local`` addresses given with ``--link-local-ip``."""

    id: str
    network_id: str
    container_id: str
    address: str
    mac: str
    ifname: str
    fixed: bool
    aliases: list[str]
    #: EndpointSettings kept as given: ``Links`` ("NAME:ALIAS" on a user-defined
    #: network), ``DriverOpts`` and ``GwPriority`` (see :attr:`links` ...).
    options: dict[str, Any]
    address6: str
    fixed6: bool
    link_local: list[str]

    _FIELDS = (
        "id",
        "network_id",
        "container_id",
        "address",
        "mac",
        "ifname",
        "fixed",
        "aliases",
        "options",
        "address6",
        "fixed6",
        "link_local",
    )

    def __init__(
        self,
        id: str,
        network_id: str,
        container_id: str,
        address: str,
        mac: str,
        ifname: str,
        fixed: bool,
        aliases: list[str],
        options: dict[str, Any] | None = None,
        address6: str = "",
        fixed6: bool = False,
        link_local: list[str] | None = None,
    ) -> None:
        self.id = id
        self.network_id = network_id
        self.container_id = container_id
        self.address = address
        self.mac = mac
        self.ifname = ifname
        self.fixed = fixed
        self.aliases = aliases
        self.options = {} if options is None else options
        self.address6 = address6
        self.fixed6 = fixed6
        self.link_local = [] if link_local is None else link_local

    @property
    def links(self) -> list[str]:
        """``--link NAME:ALIAS`` of a user-defined network: ALIAS resolves to NAME."""
        return list(self.options.get("Links") or [])

    @property
    def driver_opts(self) -> dict[str, str]:
        """The endpoint's driver options (``--driver-opt``)."""
        return dict(self.options.get("DriverOpts") or {})

    @property
    def gw_priority(self) -> int:
        """``--gw-priority``: the endpoint with the highest one supplies the default
        gateway (moby 28's Endpoint.Less)."""
        return int(self.options.get("GwPriority") or 0)

    @property
    def host_ifname(self) -> str:
        """The host side of a bridge endpoint's veth pair (Docker: ``veth`` + 7 hex)."""
        return "veth" + self.id[:7]


class NetworkStore:
    """Network and endpoint rows of one state database (``db``); the predefined
    ``bridge``, ``host`` and ``none`` networks are recorded on first use."""

    def __init__(self, db: StateDB) -> None:
        self.db = db
        if len(db.query("SELECT id FROM networks WHERE name IN ('bridge', 'host', 'none')")) < 3:
            with db.write() as conn:
                for name, driver in PREDEFINED.items():
                    conn.execute(
                        "INSERT OR IGNORE INTO networks (id, name, driver, created, config)"
                        " VALUES (?, ?, ?, ?, ?)",
                        (os.urandom(32).hex(), name, driver, now(), "{}"),
                    )

    @staticmethod
    def _network(row: Any) -> Network:
        return Network(
            row["id"], row["name"], row["driver"], row["created"], json.loads(row["config"])
        )

    @staticmethod
    def _endpoint(row: Any) -> Endpoint:
        return Endpoint(
            row["id"],
            row["network_id"],
            row["container_id"],
            "" if ":" in row["address"] else row["address"],
            row["mac"],
            row["ifname"],
            bool(row["fixed"]),
            json.loads(row["aliases"]),
            json.loads(row["options"] or "{}"),
            row["address6"] or "",
            bool(row["fixed6"]),
            json.loads(row["link_local"] or "[]"),
        )

    # -- networks -------------------------------------------------------------------------

    def list_networks(self) -> list[Network]:
        """All networks, oldest first."""
        return [self._network(r) for r in self.db.query("SELECT * FROM networks ORDER BY created")]

    def get(self, ref: str) -> Network:
        """Find by full ID, name or unique ID prefix, as Docker. Raises NotFound
        ``network <ref> not found``."""
        rows = self.db.query("SELECT * FROM networks WHERE id = ? OR name = ?", (ref, ref))
        if not rows and ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.db.query("SELECT * FROM networks WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise NotFound(
                    f"network {ref} is ambiguous ({len(rows)} matches found based on ID prefix)"
                )
        if not rows:
            raise NotFound(f"network {ref} not found")
        rows.sort(key=lambda r: r["name"] != ref)
        return self._network(rows[0])

    def add(
        self,
        net: Network,
        choose_subnet: Callable[[list[ipam.IPNetwork], int], ipam.IPNetwork] | None = None,
    ) -> Network:
        """Record ``net``. Without ``net.config["subnet"]`` (or ``subnet6`` on an IPv6
        network), ``choose_subnet`` (given the subnets of that IP version, 4 or 6, of every
        network, and the version) picks one inside the write transaction, so two concurrent
        creates never get the same one; the gateway is then its first address.
        Raises Conflict when the name is taken or the subnet overlaps another network's,
        NotFound when ``config["config_from"]`` names no config-only network (checked in
        the transaction, so a concurrent ``network rm`` of it cannot slip between)."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM networks WHERE name = ?", (net.name,)).fetchone():
                raise Conflict(f"network with name {net.name} already exists")
            rows = conn.execute("SELECT name, config FROM networks").fetchall()
            configs = [json.loads(r["config"]) for r in rows]
            source = net.config.get("config_from")
            if source and not any(
                r["name"] == source and c.get("config_only")
                for r, c in zip(rows, configs, strict=True)
            ):
                raise NotFound(f'configuration network "{source}" does not exist')
            for suffix in [sfx for sfx, on in (("", net.ipv4), ("6", net.ipv6)) if on]:
                taken = [
                    ipaddress_network(c["subnet" + suffix])
                    for c in configs
                    if c.get("subnet" + suffix) and (not suffix or c.get("ipv6"))
                ]
                if choose_subnet is not None and not net.config.get("subnet" + suffix):
                    subnet = choose_subnet(taken, int(suffix or 4))
                    net.config["subnet" + suffix] = str(subnet)
                    net.config["gateway" + suffix] = str(subnet.network_address + 1)
                elif net.config.get("subnet" + suffix):
                    mine = ipaddress_network(net.config["subnet" + suffix])
                    if any(mine.version == t.version and mine.overlaps(t) for t in taken):
                        raise Conflict("Pool overlaps with other one on this address space")
            conn.execute(
                "INSERT INTO networks (id, name, driver, created, config) VALUES (?, ?, ?, ?, ?)",
                (net.id, net.name, net.driver, net.created, json.dumps(net.config)),
            )
        return net

    def delete(self, network_id: str, unused: bool = False) -> None:
        """Forget a network. With ``unused``, only if no recorded container has an endpoint
        on it, checked in the same write transaction (so a concurrent ``create`` cannot slip
        onto a network being removed; endpoints of containers gone in a crash go with it):
        raises Conflict with Docker's "has active endpoints" message, or libnetwork's "is
        in use" one for a config-only network another network was made from."""
        with self.db.write() as conn:
            if unused:
                row = conn.execute(
                    "SELECT name, config FROM networks WHERE id = ?", (network_id,)
                ).fetchone()
                if row and json.loads(row["config"]).get("config_only"):
                    for (other,) in conn.execute("SELECT config FROM networks"):
                        if json.loads(other).get("config_from") == row["name"]:
                            raise Conflict(f'configuration network "{row["name"]}" is in use')
                row = conn.execute(
                    "SELECT name FROM networks WHERE id = ? AND EXISTS (SELECT 1 FROM endpoints"
                    " JOIN containers ON containers.id = endpoints.container_id"
                    " WHERE network_id = ?)",
                    (network_id, network_id),
                ).fetchone()
                if row:
                    raise Conflict(
                        f"error while removing network: network {row[0]} id {network_id} "
                        "has active endpoints"
                    )
                # Rows of containers that are gone (a crash) must not pin the network.
                conn.execute(
                    "DELETE FROM endpoint_options WHERE endpoint_id IN"
                    " (SELECT id FROM endpoints WHERE network_id = ?)",
                    (network_id,),
                )
                conn.execute("DELETE FROM endpoint_addresses WHERE network_id = ?", (network_id,))
                conn.execute("DELETE FROM endpoints WHERE network_id = ?", (network_id,))
            conn.execute("DELETE FROM networks WHERE id = ?", (network_id,))

    # -- endpoints ------------------------------------------------------------------------

    def allocate(
        self,
        net: Network,
        pool: ipam.Pool | None,
        container_id: str,
        *,
        address: str | None = None,
        mac: str | None = None,
        aliases: list[str] | None = None,
        options: dict[str, Any] | None = None,
        address6: str | None = None,
        link_local: list[str] | None = None,
    ) -> Endpoint:
        """Record ``container_id``'s endpoint on ``net`` with the fixed ``address`` (``--ip``)
        or the first free one of ``pool`` (the IPv4 pool; None on an IPv6-only network:
        no IPv4 address); the MAC is ``mac``, derived from the IPv4 address as Docker's,
        or random without one. On an IPv6 network also an IPv6 address: the fixed ``address6``
        (``--ip6``) or the first free one of its IPv6 pool; ``link_local`` addresses
        (``--link-local-ip``, checked by the caller) are recorded as given. Raises Conflict
        (already connected, address taken, pool exhausted), InvalidArgument (address
        outside the subnet, ``address6`` on a network without IPv6) or NotFound (network
        removed)."""
        with self.db.write() as conn:
            if not conn.execute("SELECT 1 FROM networks WHERE id = ?", (net.id,)).fetchone():
                raise NotFound(f"network {net.name} not found")  # removed meanwhile
            if conn.execute(
                "SELECT 1 FROM endpoints WHERE network_id = ? AND container_id = ?",
                (net.id, container_id),
            ).fetchone():
                raise Conflict(
                    f"endpoint with name {self._container_name(conn, container_id)} already "
                    f"exists in network {net.name}"
                )
            addr: ipam.IPAddress | None = None
            if pool is not None:
                used: set[ipam.IPAddress] = {
                    ipam.IPv4Address(r["address"])
                    for r in conn.execute(
                        "SELECT address FROM endpoints WHERE network_id = ?", (net.id,)
                    )
                }
                if address:
                    addr = ipam.parse_address(address, "--ip")
                    ipam.check_fixed(pool, addr, used)
                else:
                    addr = ipam.first_free(pool, used, f"{net.name} ({net.id})")
            elif address:
                raise InvalidArgument(
                    f"no configured subnet contains IP address {address}: network "
                    f"{net.name} has no IPv4 (network create --ipv4=false)"
                )
            addr6 = self._allocate6(conn, net, address6)
            if addr is None and addr6 is None:
                raise InvalidArgument(f"network {net.name} has no address pool")
            names = {
                r["ifname"]
                for r in conn.execute(
                    "SELECT ifname FROM endpoints WHERE container_id = ?", (container_id,)
                )
            }
            ifname = next(f"eth{i}" for i in range(len(names) + 1) if f"eth{i}" not in names)
            ep = Endpoint(
                os.urandom(32).hex(),
                net.id,
                container_id,
                str(addr or ""),
                mac or (ipam.mac_for(ipam.IPv4Address(addr)) if addr else ipam.random_mac()),
                ifname,
                bool(address),
                list(aliases or []),
                {k: v for k, v in (options or {}).items() if v},
                str(addr6 or ""),
                bool(address6),
                list(link_local or []),
            )
            conn.execute(
                "INSERT INTO endpoints (id, network_id, container_id, address, mac, ifname, fixed,"
                " aliases) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ep.id,
                    ep.network_id,
                    ep.container_id,
                    # An IPv6-only endpoint keeps its IPv6 address here (NOT NULL, UNIQUE
                    # per network); :meth:`_endpoint` reads it back as no IPv4 address.
                    ep.address or ep.address6,
                    ep.mac,
                    ep.ifname,
                    int(ep.fixed),
                    json.dumps(ep.aliases),
                ),
            )
            if ep.options:
                conn.execute(
                    "INSERT INTO endpoint_options (endpoint_id, options) VALUES (?, ?)",
                    (ep.id, json.dumps(ep.options)),
                )
            if ep.address6 or ep.link_local:
                conn.execute(
                    "INSERT INTO endpoint_addresses (endpoint_id, network_id, address6, fixed6,"
                    " link_local) VALUES (?, ?, ?, ?, ?)",
                    (
                        ep.id,
                        ep.network_id,
                        ep.address6 or None,
                        int(ep.fixed6),
                        json.dumps(ep.link_local),
                    ),
                )
        return ep

    @staticmethod
    def _allocate6(conn: Any, net: Network, address6: str | None) -> ipam.IPAddress | None:
        """The IPv6 address of a new endpoint on ``net``: ``address6`` checked, or the
        first free one; None on a network without IPv6 (``address6`` is refused there,
        as libnetwork's "no configured subnet contains IP address")."""
        pool6 = net.pool6()
        if pool6 is None:
            if address6:
                raise InvalidArgument(
                    f"no configured subnet contains IP address {address6}: network "
                    f"{net.name} has no IPv6 (network create --ipv6)"
                )
            return None
        used = {
            ipaddress.ip_address(r[0])
            for r in conn.execute(
                "SELECT address6 FROM endpoint_addresses WHERE network_id = ?"
                " AND address6 IS NOT NULL",
                (net.id,),
            )
        }
        if address6:
            addr = ipam.parse_address(address6, "--ip6", 6)
            ipam.check_fixed(pool6, addr, used)
            return addr
        return ipam.first_free(pool6, used, f"{net.name} ({net.id})")

    @staticmethod
    def _container_name(conn: Any, container_id: str) -> str:
        """The container's name, as Docker names endpoints (its short ID if unrecorded)."""
        row = conn.execute("SELECT name FROM containers WHERE id = ?", (container_id,)).fetchone()
        return str(row[0]) if row else container_id[:12]

    def endpoints(
        self, *, container_id: str | None = None, network_id: str | None = None
    ) -> list[Endpoint]:
        """Endpoints of one container and/or one network, in interface order."""
        sql = (
            "SELECT endpoints.*, o.options, a.address6, a.fixed6, a.link_local FROM endpoints"
            " LEFT JOIN endpoint_options o ON o.endpoint_id = endpoints.id"
            " LEFT JOIN endpoint_addresses a ON a.endpoint_id = endpoints.id WHERE 1"
        )
        params: list[str] = []
        if container_id is not None:
            sql += " AND endpoints.container_id = ?"
            params.append(container_id)
        if network_id is not None:
            sql += " AND endpoints.network_id = ?"
            params.append(network_id)
        rows = self.db.query(sql + " ORDER BY length(ifname), ifname", tuple(params))
        return [self._endpoint(r) for r in rows]

    def release(self, endpoint_id: str) -> None:
        """Forget an endpoint, freeing its address."""
        with self.db.write() as conn:
            conn.execute("DELETE FROM endpoint_options WHERE endpoint_id = ?", (endpoint_id,))
            conn.execute("DELETE FROM endpoint_addresses WHERE endpoint_id = ?", (endpoint_id,))
            conn.execute("DELETE FROM endpoints WHERE id = ?", (endpoint_id,))

    def release_container(self, container_id: str) -> None:
        """Forget every endpoint of a removed container."""
        with self.db.write() as conn:
            conn.execute(
                "DELETE FROM endpoint_options WHERE endpoint_id IN"
                " (SELECT id FROM endpoints WHERE container_id = ?)",
                (container_id,),
            )
            conn.execute(
                "DELETE FROM endpoint_addresses WHERE endpoint_id IN"
                " (SELECT id FROM endpoints WHERE container_id = ?)",
                (container_id,),
            )
            conn.execute("DELETE FROM endpoints WHERE container_id = ?", (container_id,))
