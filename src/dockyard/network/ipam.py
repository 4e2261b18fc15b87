"""Address management (libnetwork's default IPAM driver): subnets, gateways, ``--ip-range``
and the pools automatic subnets come from. Pure functions over :mod:`ipaddress`."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dockyard.errors import Conflict, InvalidArgument

IPv4Network = ipaddress.IPv4Network
IPv4Address = ipaddress.IPv4Address

#: Docker's default address pools (daemon.json default-address-pools): 172.17.0.0/16 to
#: 172.31.0.0/16, then 192.168.0.0/16 cut in /20s. 172.17.0.0/16 is the default bridge's.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = tuple(
    (f"172.{i}.0.0/16", 16) for i in range(17, 32)
) + (("192.168.0.0/16", 20),)


@dataclass(frozen=True)
class Pool:
    """One network's IPv4 configuration: ``subnet``, ``gateway`` (an address inside it),
    ``ip_range`` (the part containers get automatic addresses from; the subnet if unset)
    and ``aux`` (``--aux-address`` name -> address: reserved, never given to a
    container, as libnetwork's AuxAddresses)."""

    subnet: IPv4Network
    gateway: IPv4Address
    ip_range: IPv4Network
    aux: tuple[tuple[str, IPv4Address], ...] = ()

    def reserved(self) -> set[IPv4Address]:
        """The addresses no container gets: network, broadcast, gateway, auxiliary."""
        return {
            self.subnet.network_address,
            self.subnet.broadcast_address,
            self.gateway,
            *(addr for _, addr in self.aux),
        }

    def to_config(self, explicit_range: bool) -> dict[str, Any]:
        """Docker's IPAM.Config entry."""
        cfg: dict[str, Any] = {"Subnet": str(self.subnet), "Gateway": str(self.gateway)}
        if explicit_range:
            cfg["IPRange"] = str(self.ip_range)
        if self.aux:
            cfg["AuxiliaryAddresses"] = {name: str(addr) for name, addr in self.aux}
        return cfg


def parse_subnet(text: str, flag: str = "--subnet") -> IPv4Network:
    """``10.1.0.0/16`` as a network. Raises InvalidArgument naming ``flag`` for a malformed
    value, an IPv6 one or one with host bits set (Docker's messages)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidArgument(
            f'invalid argument "{text}" for "{flag}" flag: invalid CIDR address: {text}'
        ) from None
    if net.version != 4:
        raise InvalidArgument(f"{flag} {text}: IPv6 networks are not supported by Dockyard")
    if str(net) != text and "/" in text:
        raise InvalidArgument(f"invalid {flag.lstrip('-')}: {text}: it should be {net}")
    assert isinstance(net, IPv4Network)
    return net


def parse_address(text: str, flag: str) -> IPv4Address:
    """An IPv4 address given to ``flag``; raises InvalidArgument."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidArgument(f"invalid {flag} address: {text}") from None
    if addr.version != 4:
        raise InvalidArgument(f"invalid {flag} address: {text}: IPv6 is not supported by Dockyard")
    assert isinstance(addr, IPv4Address)
    return addr


#: Ranges a subnet may not touch: the kernel takes them but no container can use them.
_UNUSABLE = (
    (IPv4Network("0.0.0.0/8"), '"this network" (RFC 1122)'),
    (IPv4Network("224.0.0.0/4"), "multicast"),
    (IPv4Network("255.255.255.255/32"), "the limited broadcast address"),
)


def make_pool(
    subnet: IPv4Network,
    gateway: str | None,
    ip_range: str | None,
    aux: Mapping[str, str] | None = None,
) -> Pool:
    """Check ``gateway``, ``ip_range`` (strings or None) and the ``aux`` addresses (name
    -> address) against ``subnet``; the gateway defaults to the subnet's first address,
    as Docker's. A subnet in 0.0.0.0/8, multicast or holding 255.255.255.255 is refused
    (Docker takes them). An auxiliary address on the network, broadcast or gateway
    address or another one is in use, as dockerd's. Raises InvalidArgument."""
    for special, what in _UNUSABLE:
        if subnet.overlaps(special):
            raise InvalidArgument(
                f"invalid subnet {subnet}: it overlaps {special}, {what}, which no interface can use"
            )
    gw = parse_address(gateway, "gateway") if gateway else subnet.network_address + 1
    if gw not in subnet:
        raise InvalidArgument(f"no matching subnet for gateway {gw}")
    if subnet.prefixlen > 30:
        raise InvalidArgument(f"subnet {subnet} is too small: it needs at least a /30")
    if gw in (subnet.network_address, subnet.broadcast_address):
        # The bridge would take the subnet's network or broadcast address.
        raise InvalidArgument(f"failed to allocate gateway ({gw}): Address already in use")
    rng = subnet
    if ip_range:
        rng = parse_subnet(ip_range, "--ip-range")
        if not rng.subnet_of(subnet):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
    reserved: list[tuple[str, IPv4Address]] = []
    for name, text in (aux or {}).items():
        addr = parse_address(text, "aux-address")
        if addr not in subnet:
            # docker/cli consolidateIpam.
            raise InvalidArgument(f"no matching subnet for aux-address {addr}")
        taken = {subnet.network_address, subnet.broadcast_address, gw}
        if addr in taken or any(addr == other for _, other in reserved):
            # libnetwork's ipamAllocateVersion: each is requested from the pool in turn.
            raise InvalidArgument(
                f"failed to allocate secondary ip address ({name}:{text}): Address already in use"
            )
        reserved.append((name, addr))
    return Pool(subnet, gw, rng, tuple(reserved))


def candidate_subnets(pools: Iterable[tuple[str, int]] = DEFAULT_POOLS) -> Iterator[IPv4Network]:
    """The subnets automatic allocation tries, in Docker's order; 172.17.0.0/16 is left to
    the default bridge even when it is configured elsewhere."""
    for base, size in pools:
        for net in ipaddress.ip_network(base).subnets(new_prefix=size):
            assert isinstance(net, IPv4Network)
            if str(net) != "172.17.0.0/16":
                yield net


def pick_subnet(taken: Iterable[IPv4Network]) -> IPv4Network:
    """The first candidate subnet overlapping none of ``taken`` (the engine's networks, the
    default bridge's subnet and the host's routes: so 172.18.0.0/16 for the first one).

    Raises Conflict with Docker's message when every pool is used up.
    """
    used = list(taken)
    for net in candidate_subnets():
        if not any(net.overlaps(t) for t in used):
            return net
    raise Conflict("all predefined address pools have been fully subnetted")


def first_free(pool: Pool, used: set[IPv4Address], network: str = "") -> IPv4Address:
    """The lowest address of the pool's range that is neither the subnet's network or
    broadcast address, nor the gateway, nor in ``used``. Raises Conflict when none is left,
    with libnetwork's message naming ``network`` (``NAME (ID)``)."""
    bad = pool.reserved()
    for addr in pool.ip_range:
        if addr not in bad and addr not in used:
            return addr
    raise Conflict(
        f"no available IPv4 addresses on this network's address pools: {network or pool.subnet}"
    )


def check_fixed(pool: Pool, addr: IPv4Address, used: set[IPv4Address]) -> None:
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


def mac_for(addr: IPv4Address) -> str:
    """Docker's MAC address for an IPv4 address: ``02:42`` then the four address bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in addr.packed)
