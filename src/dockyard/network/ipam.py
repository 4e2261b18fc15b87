"""Address management (libnetwork's default IPAM driver): subnets, gateways, ``--ip-range``
and the pools automatic subnets come from. Pure functions over :mod:`ipaddress`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping

from dockyard.errors import Conflict, InvalidArgument
from dockyard.record import Record

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address
IPv6Network = ipaddress.IPv6Network
IPv6Address = ipaddress.IPv6Address
#: A subnet or address of either family.
IPNetwork = IPv4Network | IPv6Network
IPAddress = IPv4Address | IPv6Address

#: Docker's default address pools (daemon.json default-address-pools): 172.17.0.0/16 to
#: 172.31.0.0/16, then 192.168.0.0/16 cut in /20s. 172.17.0.0/16 is the default bridge's.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = tuple(
    (f"172.{i}.0.0/16", 16) for i in range(17, 32)
) + (("192.168.0.0/16", 20),)


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class Pool(Record):
    """One network's configuration of one address family: ``subnet``, ``gateway`` (an
    address inside it), ``ip_range`` (the part containers get automatic addresses from;
    the subnet if unset) and ``aux`` (``--aux-address`` name -> address: reserved, never
    given to a container, as libnetwork's AuxAddresses). IPv4 or IPv6, all of one family."""

    subnet: IPNetwork
    gateway: IPAddress
    ip_range: IPNetwork
    aux: tuple[tuple[str, IPAddress], ...]

    _FIELDS = ("subnet", "gateway", "ip_range", "aux")

    def __init__(
        self,
        subnet: IPNetwork,
        gateway: IPAddress,
        ip_range: IPNetwork,
        aux: tuple[tuple[str, IPAddress], ...] = (),
    ) -> None:
        self.subnet = subnet
        self.gateway = gateway
        self.ip_range = ip_range
        self.aux = aux

    def __hash__(self) -> int:  # type: ignore[override]
        # Hashable as the frozen dataclass it was (its fields are never reassigned).
        return hash((self.subnet, self.gateway, self.ip_range, self.aux))

    def reserved(self) -> set[IPAddress]:
        """The addresses no container gets: network, gateway, auxiliary and, for IPv4, the
        broadcast address (IPv6 has none: libnetwork's newPoolData, RFC 4291)."""
        out: set[IPAddress] = {
            self.subnet.network_address,
            self.gateway,
            *(addr for _, addr in self.aux),
        }
        if self.subnet.version == 4:
            out.add(self.subnet.broadcast_address)
        return out

    def to_config(self, explicit_range: bool) -> dict[str, Any]:
        """Docker's IPAM.Config entry."""
        cfg: dict[str, Any] = {"Subnet": str(self.subnet), "Gateway": str(self.gateway)}
        if explicit_range:
            cfg["IPRange"] = str(self.ip_range)
        if self.aux:
            cfg["AuxiliaryAddresses"] = {name: str(addr) for name, addr in self.aux}
        return cfg


def ip_address(text: str) -> IPAddress:
    """``text`` as an address, as Go's ``netip.ParseAddr`` without zones: Python takes an
    IPv6 scope (``fe80::1%eth0``) that no subnet, route or Docker field holds. Raises
    ValueError."""
    if "%" in text:
        raise ValueError(f"{text}: an IPv6 zone")
    return ipaddress.ip_address(text)


def parse_subnet(text: str, flag: str = "--subnet") -> IPNetwork:
    """``10.1.0.0/16`` or ``fd00:dead:beef::/64`` as a network. Raises InvalidArgument
    naming ``flag`` for a malformed value (a zone too, as Go's ``net.ParseCIDR``) or one
    with host bits set (Docker's messages)."""
    try:
        if "%" in text:
            raise ValueError(text)
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(
            f'invalid argument "{text}" for "{flag}" flag: invalid CIDR address: {text}'
        ) from None
    if "/" in text and ipaddress.ip_interface(text).ip != net.network_address:
        # Host bits set (the value, not its spelling: 2001:db8::0/64 is 2001:db8::/64).
        raise InvalidArgument(f"invalid {flag.lstrip('-')}: {text}: it should be {net}")
    return net


def parse_address(text: str, flag: str, version: int = 4) -> IPAddress:
    """An address of IP ``version`` (4 or 6) given to ``flag``; raises InvalidArgument
    (moby's normalizeEndpointIPAMConfig words for the other family, an IPv4-mapped or
    the unspecified IPv6 address)."""
    try:
        addr = ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {flag} address: {text}") from None
    if addr.version != version or (
        isinstance(addr, IPv6Address) and (addr.ipv4_mapped or addr.is_unspecified)
    ):
        raise InvalidArgument(f"invalid IPv{version} address: {text} ({flag})")
    return addr


#: Ranges a subnet may not touch: the kernel takes them but no container can use them.
_UNUSABLE: tuple[tuple[IPNetwork, str], ...] = (
    (IPv4Network("0.0.0.0/8"), '"this network" (RFC 1122)'),
    (IPv4Network("224.0.0.0/4"), "multicast"),
    (IPv4Network("255.255.255.255/32"), "the limited broadcast address"),
    (IPv6Network("::/127"), "the unspecified and loopback addresses"),
    (IPv6Network("fe80::/10"), "link-local addresses: each interface makes its own"),
    (IPv6Network("ff00::/8"), "multicast"),
)
#: The smallest subnet of each family with room for a container (network, gateway, one).
_MAX_PREFIX = {4: 30, 6: 126}


def make_pool(
    subnet: IPNetwork,
    gateway: str | None,
    ip_range: str | None,
    aux: Mapping[str, str] | None = None,
) -> Pool:
    """Check ``gateway``, ``ip_range`` (strings or None) and the ``aux`` addresses (name
    -> address) against ``subnet`` (IPv4 or IPv6, all of its family); the gateway
    defaults to the subnet's first address, as Docker's. A subnet in 0.0.0.0/8,
    multicast, holding 255.255.255.255, or for IPv6 in ::/127, fe80::/10 or ff00::/8 is
    refused (no interface can use it). An auxiliary address on the network, broadcast
    or gateway address or another one is in use, as dockerd's. Raises InvalidArgument."""
    if isinstance(subnet, IPv6Network) and subnet.network_address.ipv4_mapped:
        # moby's validateIPv6Subnet: ::ffff:0:0/96 is IPv4 written as IPv6.
        raise InvalidArgument(f"'{subnet}' is not a valid IPv6 subnet")
    for special, what in _UNUSABLE:
        if special.version == subnet.version and subnet.overlaps(special):
            raise InvalidArgument(
                f"invalid subnet {subnet}: it overlaps {special} ({what}), which no interface"
                " can use"
            )
    v = subnet.version
    if subnet.prefixlen > _MAX_PREFIX[v]:
        # Before the gateway: a /128's default gateway is outside it.
        raise InvalidArgument(
            f"subnet {subnet} is too small: it needs at least a /{_MAX_PREFIX[v]}"
        )
    gw = parse_address(gateway, "gateway", v) if gateway else subnet.network_address + 1
    if gw not in subnet:
        raise InvalidArgument(f"no matching subnet for gateway {gw}")
    edges = {subnet.network_address} | ({subnet.broadcast_address} if v == 4 else set())
    if gw in edges:
        # The bridge would take the subnet's network or broadcast address.
        raise InvalidArgument(f"failed to allocate gateway ({gw}): Address already in use")
    rng = subnet
    if ip_range:
        rng = parse_subnet(ip_range, "--ip-range")
        if rng.version != v or not rng.subnet_of(subnet):  # type: ignore[arg-type]
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    reserved: list[tuple[str, IPAddress]] = []
    for name, text in (aux or {}).items():
        try:
            addr = ip_address(text)
        except ValueError:
            raise InvalidArgument(f"invalid aux-address address: {text}") from None
        if addr not in subnet:
            # docker/cli consolidateIpam.
            raise InvalidArgument(f"no matching subnet for aux-address {addr}")
        taken = {*edges, gw}
        if addr in taken or any(addr == other for _, other in reserved):
            # libnetwork's ipamAllocateVersion: each is requested from the pool in turn.
            raise InvalidArgument(
                f"failed to allocate secondary ip address ({name}:{text}): Address already in use"
            )
        reserved.append((name, addr))
    return Pool(subnet, gw, rng, tuple(reserved))


def candidate_subnets(pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> Iterator[IPNetwork]:
    """The subnets automatic allocation tries, in Docker's order; 172.17.0.0/16 is left to
    the default bridge even when it is configured elsewhere."""
    for base, size in pools:
        for net in ipaddress.ip_network(base).subnets(new_prefix=size):
            if str(net) != "172.17.0.0/16":
                yield net


def ula_pool(host_id: str) -> tuple[str, int]:
    """The IPv6 pool automatic IPv6 subnets come from: a ULA /48 whose 40-bit global ID is
    derived from ``host_id`` (the engine's ID), split in /64s, as moby's
    deriveULABaseNetwork (RFC 4193 section 3.2.2), so it is stable for one engine."""
    import hashlib

    gid = int.from_bytes(hashlib.sha256(host_id.encode()).digest()[:8], "big") & ((1 << 40) - 1)
    base = IPv6Network((int(IPv6Address("fd00::")) + (gid << 80), 48))
    return str(base), 64


def pick_subnet(
    taken: Iterable[IPNetwork], pools: Iterable[tuple[str, int]] = DEFAULT_POOLS
) -> IPNetwork:
    """The first candidate subnet of ``pools`` overlapping none of ``taken`` (the
    engine's networks, the default bridge's subnet and the host's routes: so
    172.18.0.0/16 for the first IPv4 one).

    Raises Conflict with Docker's message when every pool is used up.
    """
    used = list(taken)
    for net in candidate_subnets(pools):
        if not any(net.version == t.version and net.overlaps(t) for t in used):
            return net
    raise Conflict("all predefined address pools have been fully subnetted")


def first_free(pool: Pool, used: set[IPAddress], network: str = "") -> IPAddress:
    """The lowest address of the pool's range that is neither the subnet's network or
    broadcast address, nor the gateway, nor in ``used``. Raises Conflict when none is left,
    with libnetwork's message naming ``network`` (``NAME (ID)``)."""
    bad = pool.reserved()
    for addr in pool.ip_range:
        if addr not in bad and addr not in used:
            return addr
    raise Conflict(
        f"no available IPv{pool.subnet.version} addresses on this network's address pools: "
        f"{network or pool.subnet}"
    )


def check_fixed(pool: Pool, addr: IPAddress, used: set[IPAddress]) -> None:
    """Check a ``--ip`` address: inside the subnet, not reserved, not taken.

    Raises InvalidArgument or Conflict with Docker's messages.
    """
    if addr not in pool.subnet:
        raise InvalidArgument(f"no configured subnet or ip-range contain the IP address {addr}")
    if addr in pool.reserved():
        raise Conflict(f"Address already in use: {addr} is reserved on network {pool.subnet}")
    if addr in used:
        raise Conflict(f"Address already in use: {addr}")


def parse_mac(text: str) -> str:
    """A ``--mac-address`` in the forms Go's ``net.ParseMAC`` takes for 48-bit addresses
    (``02:42:ac:11:00:02``, ``02-42-ac-11-00-02``, ``0242.ac11.0002``), as lower-case
    colon form. A multicast, broadcast or all-zero address is refused too: no interface
    can have one (the kernel refused it only at start). Raises InvalidArgument."""
    t = text.lower()
    if re.fullmatch(r"[0-9a-f]{4}(\.[0-9a-f]{4}){2}", t):
        t = t.replace(".", "")
        octets = [t[i : i + 2] for i in range(0, 12, 2)]
    elif re.fullmatch(r"[0-9a-f]{2}([:-][0-9a-f]{2}){5}", t) and len(set(t[2::3])) == 1:
        octets = re.split("[:-]", t)
    else:
        raise InvalidArgument(f"{text} is not a valid mac address")
    if int(octets[0], 16) & 1 or octets == ["00"] * 6:
        raise InvalidArgument(
            f"{text} is not a valid mac address for an interface: "
            + ("all zeros" if octets == ["00"] * 6 else "a multicast or broadcast address")
        )
    return ":".join(octets)


def check_link_local(text: str) -> IPAddress:
    """A ``--link-local-ip`` address: IPv4 in 169.254.0.0/16 or IPv6 in fe80::/10
    (libnetwork's createEndpoint: "invalid link local IP address"). Raises
    InvalidArgument."""
    try:
        addr = ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid link-local IP address: {text}") from None
    if not addr.is_link_local or addr.is_multicast:
        raise InvalidArgument(f"invalid link local IP address: {addr}")
    return addr


def random_mac() -> str:
    """A random locally administered unicast MAC (moby's netutils.GenerateRandomMAC), for
    an endpoint with no IPv4 address to derive one from."""
    import os

    raw = bytearray(os.urandom(6))
    raw[0] = (raw[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


def mac_for(addr: IPv4Address) -> str:
    """Docker's MAC address for an IPv4 address: ``02:42`` then the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)
