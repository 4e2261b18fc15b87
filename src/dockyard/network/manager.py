"""Networks and container attachment (Docker networking docs: bridge, host, none, macvlan,
ipvlan; ``docker network`` commands).

A container's network namespace is a file, ``<runroot>/netns/<container id>``, made before the
runtime starts the container and given to it as the OCI ``linux.namespaces`` network path;
its interfaces are configured there first. Addresses are allocated when a container is
created or connected (so ``--ip`` and automatic addresses survive restarts) and released when
it is removed or disconnected. Every host interface Dockyard makes carries the alias
``dockyard <engine root>`` and every nftables chain that comment (the default bridge, shared
by the engines of one host as docker0 is: ``dockyard default bridge``), so only Dockyard's own
are ever changed, and a test can find exactly what it left.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
from collections.abc import Iterator, Mapping, Sequence

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound
from dockyard.network import ipam, linux, netlink
from dockyard.network.linux import NFT_TABLE, quote
from dockyard.network.store import Endpoint, Network, NetworkStore
from dockyard.timetypes import now

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.container.store import Container, ContainerStore
    from dockyard.paths import Paths
    from dockyard.state import StateDB

DEFAULT_BRIDGE = "dockyard0"
DEFAULT_BIP = "172.17.0.1/16"
#: Alias and chain comment of the default bridge, which belongs to no one engine root.
DEFAULT_BRIDGE_TAG = "dockyard default bridge"
#: Drivers a container can be attached to through an endpoint.
ENDPOINT_DRIVERS = ("bridge", "macvlan", "ipvlan")
_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
#: libnetwork's validateConfiguration, for a config-only network with operator fields.
CONFIG_ONLY_OPERATOR_FIELDS = (
    "configuration network can only contain network specific fields. Network operator "
    "fields like [ ingress | internal | attachable | scope ] are not supported."
)
#: libnetwork's CreateEndpoint on a config-only network.
CONFIG_ONLY_ENDPOINT = "cannot create endpoint on configuration-only network"


def default_bridge() -> tuple[str, ipaddress.IPv4Interface]:
    """The default ``bridge`` network's device name and gateway address with prefix, from
    ``$DOCKYARD_BRIDGE`` (default ``dockyard0``) and ``$DOCKYARD_BIP`` (default
    ``172.17.0.1/16``), like dockerd's ``--bridge`` and ``--bip``. Engine settings: every
    command of one engine must see the same values. Raises InvalidArgument."""
    name = os.environ.get("DOCKYARD_BRIDGE") or DEFAULT_BRIDGE
    text = os.environ.get("DOCKYARD_BIP") or DEFAULT_BIP
    try:
        bip = ipaddress.IPv4Interface(text)
    except ValueError:
        raise InvalidArgument(
            f"invalid DOCKYARD_BIP {text!r}: want an address/prefix such as {DEFAULT_BIP}"
        ) from None
    if len(name) > 15:
        raise InvalidArgument(f"invalid DOCKYARD_BRIDGE {name!r}: at most 15 characters")
    return name, bip


def prune_filter(nets: list[Network], filters: tuple[str, ...] | list[str]) -> list[Network]:
    """``network prune --filter``: Docker's ``until`` (a Go duration, RFC 3339 time or Unix
    seconds: created before it), ``label`` (every one must match) and ``label!`` (none may
    match); any other key is refused with Docker's message. Raises InvalidArgument."""
    import datetime

    from dockyard.timetypes import parse_time_arg

    def created_ns(net: Network) -> int:
        whole, _, frac = net.created.rstrip("Z").partition(".")
        t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
        return int(t.timestamp()) * 10**9 + int((frac + "000000000")[:9])

    def has_label(net: Network, v: str) -> bool:
        k, sep, val = v.partition("=")
        return k in net.labels and (not sep or net.labels[k] == val)

    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {f}")
        if key == "until":
            limit = parse_time_arg(value, "until")
            nets = [n for n in nets if created_ns(n) < limit]
        elif key == "label":
            nets = [n for n in nets if has_label(n, value)]
        elif key == "label!":
            nets = [n for n in nets if not has_label(n, value)]
        else:
            raise InvalidArgument(f"invalid filter '{key}'")
    return nets


class NetworkManager:
    """Networks of one engine (``paths``, state database ``db``) and the network side of
    its containers' lifecycles."""

    def __init__(self, paths: Paths, db: StateDB) -> None:
        self.paths = paths
        self.store = NetworkStore(db)
        # Marks every interface (alias) and nftables chain (comment) this engine makes.
        self.tag = f"dockyard {paths.root}"[:120]

    def _tag(self, net: Network) -> str:
        return DEFAULT_BRIDGE_TAG if net.name == "bridge" else self.tag

    def event(self, net: Network, action: str, **attributes: str) -> None:
        """Record the network event ``action`` of ``net`` (moby's
        LogNetworkEventWithAttributes: ``name`` and ``type``, over ``attributes``)."""
        from dockyard import events

        events.record(
            self.paths.root,
            "network",
            action,
            net.id,
            {**attributes, "name": net.name, "type": net.driver},
        )

    # -- networks -------------------------------------------------------------------------

    def full(self, net: Network) -> Network:
        """``net`` with the default bridge's settings filled in (they come from the
        environment, not the database)."""
        if net.name != "bridge":
            return net
        name, bip = default_bridge()
        net.config = {
            "subnet": str(bip.network),
            "gateway": str(bip.ip),
            "bridge": name,
            "options": {
                "com.docker.network.bridge.default_bridge": "true",
                "com.docker.network.bridge.enable_icc": "true",
                "com.docker.network.bridge.enable_ip_masquerade": "true",
                "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
                BRIDGE_NAME_OPTION: name,
                "com.docker.network.driver.mtu": "1500",
            },
        }
        return net

    def get(self, ref: str) -> Network:
        """A network by name, ID or ID prefix; raises NotFound ``network X not found``."""
        return self.full(self.store.get(ref))

    def list_networks(self) -> list[Network]:
        """Every network, the predefined ones included, oldest first."""
        return [self.full(n) for n in self.store.list_networks()]

    @staticmethod
    def bridge_name(net: Network) -> str:
        return str(net.config.get("bridge") or "br-" + net.id[:12])

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialises bridge creation, enslaving and removal among this engine's commands."""
        os.makedirs(self.paths.runroot, mode=0o700, exist_ok=True)
        fd = os.open(
            os.path.join(self.paths.runroot, "network.lock"), os.O_CREAT | os.O_RDWR, 0o600
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def create(
        self,
        name: str,
        driver: str = "bridge",
        *,
        subnet: str | None = None,
        gateway: str | None = None,
        ip_range: str | None = None,
        options: dict[str, str] | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        attachable: bool = False,
        aux_addresses: dict[str, str] | None = None,
        ipam_options_null: bool = False,
        ipv6: bool = False,
        ipv4: bool = True,
        subnet6: str | None = None,
        gateway6: str | None = None,
        ip_range6: str | None = None,
        aux_addresses6: dict[str, str] | None = None,
        pool6: tuple[str, int] | None = None,
        ipam_options: dict[str, str] | None = None,
        config_only: bool = False,
        config_from: str | None = None,
    ) -> Network:
        """``docker network create``: record the network and, for ``bridge``, make its
        bridge device and nftables chains. Addresses are CIDR/dotted strings; ``options``
        are ``-o`` pairs (``parent`` for macvlan and ipvlan); ``aux_addresses``
        (``--aux-address`` name -> address) are reserved in the subnet;
        ``ipam_options_null``: the request had no IPAM options (inspect shows null, as
        dockerd echoes the request's nil map, not {}). ``ipv6`` (``--ipv6``) gives the
        network IPv6 too (``ipv4`` false: only IPv6, Docker 28's ``--ipv4=false``):
        ``subnet6``, ``gateway6``, ``ip_range6`` and ``aux_addresses6``
        as the IPv4 ones, the subnet by default a free /64 of ``pool6`` (``(base, prefix
        length)``: :func:`dockyard.network.ipam.ula_pool`). ``ipam_options``
        (``--ipam-opt``) are recorded and shown, as moby's default IPAM driver does.
        ``config_only`` (``--config-only``): only the row, see :meth:`_create_config_only`;
        ``config_from``: the name of the config-only network the caller took the
        settings from (recorded; that network must still exist when the row is written).
        Raises InvalidArgument,
        Conflict (name taken, overlapping subnet), NotFound (unknown driver) or
        DockyardError (the kernel refused, e.g. no ipvlan support); nothing is left then."""
        options = dict(options or {})
        if not name.strip():
            # libnetwork's only rule (NewNetwork): any other name, spaces included, is fine.
            raise InvalidArgument("invalid name: name is empty")
        if config_only:
            return self._create_config_only(
                name,
                options=options,
                labels=dict(labels or {}),
                ipam_options=ipam_options,
                internal=internal,
                attachable=attachable,
                ipv4=ipv4,
                ipv6=ipv6,
                entries=[
                    (4, subnet, gateway, ip_range, aux_addresses),
                    (6, subnet6, gateway6, ip_range6, aux_addresses6),
                ],
            )
        if driver in ("host", "null"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver not in ENDPOINT_DRIVERS:
            raise NotFound(f'plugin "{driver}" not found')
        config: dict[str, Any] = {
            "internal": internal,
            "attachable": attachable,
            "labels": dict(labels or {}),
            "options": options,
        }
        if ipam_options_null:
            config["ipam_options_null"] = True
        if ipam_options:
            config["ipam_options"] = dict(ipam_options)
        if config_from:
            config["config_from"] = config_from
        if not ipv4:
            if not ipv6:
                raise InvalidArgument("IPv4 or IPv6 must be enabled")  # moby's bridge driver
            if subnet or gateway or ip_range or aux_addresses:
                raise InvalidArgument(
                    f"--subnet {subnet or ''}: an IPv4 subnet, gateway or range needs IPv4: "
                    "drop --ipv4=false (API: EnableIPv4)"
                )
            config["no_ipv4"] = True
        if subnet:
            pool = ipam.make_pool(_family(subnet, 4), gateway, ip_range, aux_addresses)
            self._check_subnet(pool.subnet, driver)
            config.update(subnet=str(pool.subnet), gateway=str(pool.gateway))
            if ip_range:
                config["ip_range"] = str(pool.ip_range)
            if pool.aux:
                config["aux_addresses"] = {name: str(addr) for name, addr in pool.aux}
        elif gateway or ip_range:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        elif aux_addresses:
            # docker/cli consolidateIpam: no subnet to hold them.
            addr = next(iter(aux_addresses.values()))
            raise InvalidArgument(f"no matching subnet for aux-address {addr}")
        if ipv6:
            self._ipv6_config(config, driver, subnet6, gateway6, ip_range6, aux_addresses6)
        elif subnet6 or gateway6 or ip_range6 or aux_addresses6:
            raise InvalidArgument(
                f"--subnet {subnet6 or ''}: an IPv6 subnet, gateway or range needs an IPv6 "
                "network: add --ipv6 (API: EnableIPv6)"
            )
        net = Network(os.urandom(32).hex(), name, driver, now(), config)
        if driver == "bridge":
            bridge = options.get(BRIDGE_NAME_OPTION) or "br-" + net.id[:12]
            if len(bridge) > 15 or not _NAME.match(bridge):
                raise InvalidArgument(
                    f"invalid bridge name {bridge!r}: at most 15 characters of [a-zA-Z0-9_.-]"
                )
            config["bridge"] = bridge
        else:
            parent = options.get("parent")
            if not parent:
                raise InvalidArgument(
                    f"the {driver} driver needs -o parent=INTERFACE (Dockyard makes no dummy parent)"
                )
            if not linux.link_exists(parent):
                raise InvalidArgument(f"-o parent={parent}: no such network interface on the host")
            if driver == "ipvlan":
                self._check_ipvlan(parent)
        taken = (
            [default_bridge()[1].network, *(r for r, _ in _host_routes())]
            if ipv4 and not subnet
            else []
        )
        if ipv6 and not subnet6:
            taken += [r for r, _ in _host_routes(6)]

        def choose(nets: list[ipam.IPNetwork], version: int) -> ipam.IPNetwork:
            if version == 6:
                if pool6 is None:
                    raise InvalidArgument("--ipv6 without --subnet needs an IPv6 address pool")
                return ipam.pick_subnet([*nets, *taken], [pool6])
            return ipam.pick_subnet([*nets, *taken])

        if driver != "bridge":
            self.store.add(net, choose_subnet=choose)
            self.event(net, "create")
            return net
        # Under the lock: two creates naming the same bridge must not both pass the check.
        with self._lock():
            self._check_bridge_name(name, config["bridge"])
            self.store.add(net, choose_subnet=choose)
            try:
                self._ensure_bridge(net)
            except BaseException:
                self.store.delete(net.id)
                raise
        self.event(net, "create")
        return net

    def _create_config_only(
        self,
        name: str,
        *,
        options: dict[str, str],
        labels: dict[str, str],
        ipam_options: dict[str, str] | None,
        internal: bool,
        attachable: bool,
        ipv4: bool,
        ipv6: bool,
        entries: list[tuple[int, str | None, str | None, str | None, dict[str, str] | None]],
    ) -> Network:
        """``docker network create --config-only``: a network that only holds settings
        for ``--config-from`` networks (libnetwork's configOnly: driver ``null``, scope
        local, no device, no rules, no address allocation). ``entries``: per IP version
        (4 or 6), the subnet, gateway, IP range and auxiliary addresses, checked as a
        network's are but recorded as given (``ipam_config``), so they reserve nothing.
        Raises InvalidArgument (libnetwork's validateConfiguration message for
        ``--internal``/``--attachable``, a bad address) or Conflict (name taken)."""
        if internal or attachable:
            raise InvalidArgument(CONFIG_ONLY_OPERATOR_FIELDS)
        ipam_config = []
        for version, subnet, gateway, ip_range, aux in entries:
            if subnet:
                pool = ipam.make_pool(_family(subnet, version), gateway, ip_range, aux)
                entry: dict[str, Any] = {"Subnet": str(pool.subnet)}
                if ip_range:
                    entry["IPRange"] = str(pool.ip_range)
                if gateway:
                    entry["Gateway"] = str(pool.gateway)
                if pool.aux:
                    entry["AuxiliaryAddresses"] = {n: str(a) for n, a in pool.aux}
                ipam_config.append(entry)
            elif gateway or ip_range:
                raise InvalidArgument("--gateway and --ip-range need --subnet")
            elif aux:
                raise InvalidArgument(
                    f"no matching subnet for aux-address {next(iter(aux.values()))}"
                )
        config: dict[str, Any] = {
            "config_only": True,
            "labels": labels,
            "options": options,
            "ipam_config": ipam_config,
        }
        if ipam_options:
            config["ipam_options"] = dict(ipam_options)
        if ipv6:
            config["ipv6"] = True
        if not ipv4:
            config["no_ipv4"] = True
        # The row is all there is: nothing to undo on any failure.
        net = self.store.add(Network(os.urandom(32).hex(), name, "null", now(), config))
        self.event(net, "create")
        return net

    def config_network(self, name: str) -> Network:
        """The config-only network named ``name`` (libnetwork's getConfigNetwork, by name
        only). Raises NotFound with moby's NewNetwork message."""
        for net in self.store.list_networks():
            if net.name == name and net.config.get("config_only"):
                return net
        raise NotFound(f'configuration network "{name}" does not exist')

    def _ipv6_config(
        self,
        config: dict[str, Any],
        driver: str,
        subnet6: str | None,
        gateway6: str | None,
        ip_range6: str | None,
        aux6: dict[str, str] | None,
    ) -> None:
        """Check an IPv6 network's settings into ``config`` (``ipv6``, ``subnet6``, ...).
        Refused where the host's kernel has no IPv6 (booted with ``ipv6.disable=1`` or
        built without it). Raises InvalidArgument or Conflict."""
        if not os.path.isdir("/proc/sys/net/ipv6"):
            raise InvalidArgument(
                "--ipv6: this host's kernel has IPv6 disabled (ipv6.disable=1) or lacks it, "
                "so no interface can have an IPv6 address"
            )
        config["ipv6"] = True
        if subnet6:
            pool = ipam.make_pool(_family(subnet6, 6), gateway6, ip_range6, aux6)
            self._check_subnet(pool.subnet, driver)
            config.update(subnet6=str(pool.subnet), gateway6=str(pool.gateway))
            if ip_range6:
                config["ip_range6"] = str(pool.ip_range)
            if pool.aux:
                config["aux_addresses6"] = {name: str(addr) for name, addr in pool.aux}
        elif gateway6 or ip_range6:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        elif aux6:
            raise InvalidArgument(f"no matching subnet for aux-address {next(iter(aux6.values()))}")

    def _check_subnet(self, subnet: ipam.IPNetwork, driver: str) -> None:
        """Refuse a ``--subnet`` (IPv4 or IPv6) overlapping the default bridge's or
        another network's (Docker's message) or, for a bridge, any route of the host: the
        bridge's address and route would take over the host's own traffic to it (its LAN,
        its gateway, loopback, another engine's bridge). Raises Conflict."""
        others: list[ipam.IPNetwork] = [default_bridge()[1].network]
        for n in self.store.list_networks():
            others += [p.subnet for p in (n.pool(), n.pool6()) if p is not None]
        if any(subnet.version == o.version and subnet.overlaps(o) for o in others):
            raise Conflict("Pool overlaps with other one on this address space")
        if driver != "bridge":
            return
        for dst, dev in _host_routes(subnet.version):
            if subnet.overlaps(dst):
                raise Conflict(
                    f"--subnet {subnet} overlaps the host's route to {dst} on {dev}: "
                    "choose a subnet the host does not use"
                )

    def _check_default_bridge(self, br: str, alias: str | None) -> None:
        """Refuse engine settings for the default bridge that cannot work, before a
        container is attached to it: ``$DOCKYARD_BRIDGE`` naming a host interface that is
        not a Dockyard default bridge; a bridge of that name that another engine made with
        another ``$DOCKYARD_BIP``; or, when the bridge is to be made, a ``$DOCKYARD_BIP``
        subnet overlapping one of this engine's networks or any host route (another
        bridge, another engine's default bridge, the LAN, loopback), as ``network create
        --subnet`` refuses it. Call under _lock. Raises InvalidArgument."""
        _, bip = default_bridge()
        if alias is not None and alias != DEFAULT_BRIDGE_TAG:
            raise InvalidArgument(
                f"DOCKYARD_BRIDGE {br}: the host has an interface of that name that is not "
                "a Dockyard default bridge; choose another name"
            )
        if alias is not None:
            have = linux.link_ipv4(br)
            if have is not None and ipaddress.IPv4Interface("/".join(have)) != bip:
                found = ipaddress.IPv4Interface("/".join(have))
                raise InvalidArgument(
                    f"DOCKYARD_BIP {bip} does not match {found}, the address of the default "
                    f"bridge {br} another engine made: use DOCKYARD_BIP={found} or another "
                    "DOCKYARD_BRIDGE"
                )
            return
        for other in self.store.list_networks():
            pool = other.pool()
            if other.name != "bridge" and pool is not None and pool.subnet.overlaps(bip.network):
                raise InvalidArgument(
                    f"DOCKYARD_BIP {bip} overlaps network {other.name} ({pool.subnet}): "
                    "choose a subnet no network uses"
                )
        for dst, dev in _host_routes():
            if dev != br and bip.network.overlaps(dst):
                raise InvalidArgument(
                    f"DOCKYARD_BIP {bip} overlaps the host's route to {dst} on {dev}: "
                    "choose a subnet the host does not use"
                )

    def _check_bridge_name(self, name: str, bridge: str) -> None:
        """Refuse a bridge device name another network or the host already uses: Dockyard
        would enslave containers to it and delete it at ``network rm``. Call under _lock.
        Raises Conflict."""
        for other in self.list_networks():
            if other.driver == "bridge" and self.bridge_name(other) == bridge:
                raise Conflict(
                    f"cannot create network {name}: conflicts with network {other.name} "
                    f"({other.short_id}): networks have same bridge name"
                )
        if linux.link_exists(bridge):
            raise Conflict(
                f"cannot create network {name}: the host already has an interface named "
                f"{bridge} ({BRIDGE_NAME_OPTION})"
            )

    def _check_ipvlan(self, parent: str) -> None:
        """Fail when the kernel cannot make ipvlan devices, naming the missing support."""
        probe = "dyipvl" + os.urandom(3).hex()
        try:
            linux.ip_batch([f"link add link {parent} name {probe} type ipvlan mode l2"])
        except DockyardError as e:
            raise DockyardError(
                "the ipvlan driver needs kernel support for ipvlan devices (CONFIG_IPVLAN, "
                f"module ipvlan), which this kernel lacks: {str(e).split(': ', 1)[-1]}"
            ) from None
        linux.ip_batch([f"link del {probe}"], force=True)

    def _ensure_bridge(self, net: Network) -> None:
        """Make ``net``'s nftables chains, then its bridge (gateway address, up), unless
        the bridge exists (an engine restart or reboot re-creates them). Call under _lock."""
        br = self.bridge_name(net)
        alias = linux.link_alias(br)
        if net.name == "bridge":
            self._check_default_bridge(br, alias)
        if alias == self._tag(net):
            return
        if alias is not None:
            raise DockyardError(
                f"network {net.name}: the host has an interface named {br} that Dockyard did "
                "not make; remove or rename it"
            )
        pool = net.pool()
        # The chains first: the bridge with its alias is what the check above takes as
        # made, so a kill between the two must leave chains (added again by the next
        # call) and never a bridge without its isolation rules.
        try:
            self._add_rules(net, br, pool)
            if not net.internal and pool is not None:
                linux.set_ip_forward()
        except BaseException:
            self._remove_bridge(net)
            raise
        lines = [
            f"link add {br} type bridge",
            f"link set {br} alias {quote(self._tag(net))}",
            *([f"addr add {pool.gateway}/{pool.subnet.prefixlen} dev {br}"] if pool else []),
            f"link set {br} up",
        ]
        pool6 = net.pool6()
        try:
            if pool6 is not None:
                # IPv6 is turned on for the bridge first (the host may default it off);
                # nodad: the gateway address is usable at once (moby's IFA_F_NODAD).
                linux.ip_batch(lines[:2])
                lines = lines[2:]
                linux.enable_ipv6(br)
                lines.insert(1, f"addr add {pool6.gateway}/{pool6.subnet.prefixlen} dev {br} nodad")
            linux.ip_batch(lines)
        except BaseException:
            linux.ip_batch([f"link del {br}"], force=True)
            self._remove_bridge(net)
            raise

    def _add_rules(self, net: Network, br: str, pool: ipam.Pool | None) -> None:
        """One filter and one nat chain per bridge (comment: the tag), so removing a
        network is deleting two chains: isolation from Dockyard's other bridges as Docker's
        DOCKER-ISOLATION chains, masquerade of outbound traffic, or for ``--internal`` no
        traffic beyond the bridge at all."""
        default = default_bridge()[0]
        t = f"ip {NFT_TABLE}"
        tag = quote(self._tag(net))
        lines = [
            f"add table {t}",
            f"add chain {t} fwd-{br} {{ type filter hook forward priority 0; comment {tag}; }}",
            f"flush chain {t} fwd-{br}",
            f"add chain {t} nat-{br} {{ type nat hook postrouting priority 100; comment {tag}; }}",
            f"flush chain {t} nat-{br}",
        ]
        if net.ipv6:
            # The same forward chain for IPv6 (isolation, --internal); no nat chain: IPv6
            # is not masqueraded, as Docker's default (ip6tables NAT is opt-in there).
            t6 = f"ip6 {NFT_TABLE}"
            lines += [
                f"add table {t6}",
                f"add chain {t6} fwd-{br} {{ type filter hook forward priority 0; comment {tag}; }}",
                f"flush chain {t6} fwd-{br}",
            ]
        for family in [t, f"ip6 {NFT_TABLE}"] if net.ipv6 else [t]:
            if net.internal:
                lines += [
                    f'add rule {family} fwd-{br} iifname "{br}" oifname != "{br}" drop',
                    f'add rule {family} fwd-{br} oifname "{br}" iifname != "{br}" drop',
                ]
            else:
                others = ['"br-*"'] + ([f'"{default}"'] if default != br else [])
                lines += [
                    f'add rule {family} fwd-{br} iifname "{br}" oifname != "{br}" oifname {o} drop'
                    for o in others
                ]
        if not net.internal and pool is not None:
            lines.append(
                f'add rule {t} nat-{br} ip saddr {pool.subnet} oifname != "{br}" masquerade'
            )
        linux.nft("\n".join(lines) + "\n")

    def _remove_bridge(self, net: Network) -> None:
        """Delete ``net``'s bridge and chains (what is missing is fine)."""
        br = self.bridge_name(net)
        # Only chains with this engine's comment: another engine's bridge may share the name.
        script = ""
        for family in ("ip", "ip6") if net.ipv6 else ("ip",):
            t = f"{family} {NFT_TABLE}"
            mine = {
                c["name"]
                for c in linux.nft_chains(family)
                if c.get("comment") == self._tag(net) and c["name"] in (f"fwd-{br}", f"nat-{br}")
            }
            script += "".join(f"flush chain {t} {c}\ndelete chain {t} {c}\n" for c in sorted(mine))
        if script:
            with contextlib.suppress(DockyardError):
                linux.nft(script)
        # Only a bridge this engine made (its alias), never a host interface of that name.
        if linux.link_alias(br) == self._tag(net):
            linux.ip_batch([f"link del {br}"], force=True)

    def remove(self, ref: str) -> Network:
        """``docker network rm``: refused for the predefined networks and while a container
        is attached (Docker's messages); removes the bridge and its rules."""
        net = self.get(ref)
        if net.predefined:
            raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
        self.store.delete(net.id, unused=True)
        if net.driver == "bridge":
            with self._lock():
                self._remove_bridge(net)
        self.event(net, "destroy")
        return net

    def sweep(self, repair: bool) -> list[str]:
        """Bridges and nftables chains this engine tagged that belong to no recorded
        network (a ``network rm`` killed after its row went): their names, deleted with
        ``repair``. Under the bridge lock, where ``network create`` makes its row and
        then its bridge."""
        with self._lock():
            ours = {
                self.bridge_name(n)
                for n in self.list_networks()
                if n.driver == "bridge" and not n.predefined
            }
            found = []
            for name in sorted(os.listdir("/sys/class/net")):
                if name in ours or not os.path.isdir(f"/sys/class/net/{name}/bridge"):
                    continue
                if linux.link_alias(name) == self.tag:
                    found.append(name)
                    if repair:
                        linux.ip_batch([f"link del {name}"], force=True)
            for family in ("ip", "ip6"):
                chains = [
                    c["name"]
                    for c in linux.nft_chains(family)
                    if c.get("comment") == self.tag
                    and c["name"].startswith(("fwd-", "nat-"))
                    and c["name"][4:] not in ours
                ]
                # An IPv6 chain is named with its family, so a report tells the two apart.
                found += chains if family == "ip" else [f"ip6 {c}" for c in chains]
                if repair and chains:
                    t = f"{family} {NFT_TABLE}"
                    with contextlib.suppress(DockyardError):
                        linux.nft(
                            "".join(f"flush chain {t} {c}\ndelete chain {t} {c}\n" for c in chains)
                        )
        return found

    def prune(self, candidates: list[Network] | None = None) -> list[Network]:
        """``docker network prune``: remove the user-defined networks among ``candidates``
        (default: all) that no container uses; returns them."""
        removed = []
        for net in self.list_networks() if candidates is None else candidates:
            if net.predefined:
                continue
            with contextlib.suppress(Conflict, NotFound):
                removed.append(self.remove(net.id))
        return removed

    # -- containers -----------------------------------------------------------------------

    def netns_path(self, container_id: str) -> str:
        return os.path.join(self.paths.runroot, "netns", container_id)

    def validate_mode(self, mode: str, containers: ContainerStore) -> str:
        """The NetworkMode to record for ``--network mode``: ``bridge`` for ``default``,
        ``container:<full id>`` for ``container:NAME``, a network's name as given.
        Raises NotFound (no such network or container)."""
        if mode in ("", "default"):
            return "bridge"
        if mode in ("host", "none", "bridge"):
            return mode
        if mode.startswith("container:"):
            ref = mode.partition(":")[2]
            if not ref:
                raise InvalidArgument("--network container: needs a container name or ID")
            return "container:" + containers.get(ref).id
        if self.get(mode).config.get("config_only"):
            # moby refuses it at start (CreateEndpoint); refused here, nothing is made.
            raise Conflict(CONFIG_ONLY_ENDPOINT)
        return mode

    def validate_modes(self, modes: Sequence[str], containers: ContainerStore) -> list[str]:
        """:meth:`validate_mode` for each ``--network`` of ``run``/``create`` (Docker 25+
        attaches them all, the first being NetworkMode). Several are refused as Docker
        refuses them: one named twice, built-in modes (bridge, host, none, container:X)
        mixed with user-defined networks (the CLI's parseNetworkOpts), or several built-in
        ones (the daemon's host/none/container conflicts). Raises InvalidArgument or
        NotFound."""
        if len(modes) <= 1:
            return [self.validate_mode(modes[0] if modes else "bridge", containers)]
        seen: set[str] = set()
        for mode in modes:
            if mode in seen:
                raise InvalidArgument(f'network "{mode}" is specified multiple times')
            seen.add(mode)
        builtin = [
            m
            for m in modes
            if m in ("", "default", "bridge", "host", "none") or m.startswith("container:")
        ]
        if builtin and len(builtin) < len(modes):
            raise InvalidArgument(
                "conflicting options: cannot attach both user-defined and non-user-defined "
                "network-modes"
            )
        if "host" in builtin:
            raise InvalidArgument(
                "container cannot be disconnected from host network or connected to host network"
            )
        if any(m.startswith("container:") for m in builtin):
            raise InvalidArgument(
                "conflicting options: container type network can't be used with other networks"
            )
        if "none" in builtin:
            raise InvalidArgument(
                "container cannot be connected to multiple networks with one of the networks "
                "in private (none) mode"
            )
        if builtin:  # bridge and its alias default
            raise InvalidArgument('network "bridge" is specified multiple times')
        return [self.validate_mode(m, containers) for m in modes]

    def allocate(
        self,
        container_id: str,
        mode: str,
        *,
        ip: str | None = None,
        aliases: list[str] | None = None,
        mac: str | None = None,
        options: Mapping[str, Any] | None = None,
        more: Sequence[str] = (),
        more_settings: Mapping[str, Mapping[str, Any]] | None = None,
        ip6: str | None = None,
        link_local: Sequence[str] = (),
    ) -> list[Endpoint]:
        """Record the endpoints of a container created with NetworkMode ``mode`` (none for
        host, none and container:X) and then on each network of ``more`` (names or IDs,
        checked by :meth:`validate_modes`), eth0 first. ``ip``, ``aliases`` and ``mac`` apply
        to ``mode``'s endpoint, as the Docker CLI applies ``--ip``, ``--network-alias`` and
        ``--mac-address`` to the first ``--network``, ``options`` (EndpointSettings
        ``Links``, ``DriverOpts``, ``GwPriority``: see :func:`endpoint_options`), ``ip6``
        (``--ip6``) and ``link_local`` (``--link-local-ip``) too; ``more_settings`` gives a
        network of ``more`` its own (``{"ip", "aliases", "mac", "options", "ip6",
        "link_local"}``, the API's EndpointsConfig). An address or alias needs a
        user-defined network (Docker's messages; link-local addresses do not). Raises
        InvalidArgument or Conflict; the caller frees what was recorded
        (:meth:`release`) if it raises."""
        if mode in ("host", "none") or mode.startswith("container:"):
            given = [("--ip", ip), ("--ip6", ip6), ("--link-local-ip", link_local)]
            given += [("--network-alias", aliases), ("--mac-address", mac)]
            given += [(f"EndpointSettings.{k}", v) for k, v in (options or {}).items()]
            for flag, value in given:
                if value:
                    raise InvalidArgument(
                        f"{flag} needs a network with addresses, not {mode.split(':')[0]}"
                    )
            return []
        eps = [
            self._allocate(self.get(mode), container_id, ip, aliases, mac, options, ip6, link_local)
        ]
        for ref in more:
            extra = (more_settings or {}).get(ref) or {}
            eps.append(
                self._allocate(
                    self.get(ref),
                    container_id,
                    extra.get("ip"),
                    extra.get("aliases"),
                    extra.get("mac"),
                    extra.get("options"),
                    extra.get("ip6"),
                    extra.get("link_local") or (),
                )
            )
        return eps

    def _allocate(
        self,
        net: Network,
        container_id: str,
        ip: str | None,
        aliases: list[str] | None,
        mac: str | None,
        options: Mapping[str, Any] | None = None,
        ip6: str | None = None,
        link_local: Sequence[str] = (),
    ) -> Endpoint:
        options = endpoint_options(net, options)
        if net.name == "bridge" and (ip or ip6):
            raise InvalidArgument(
                "user specified IP address is supported on user defined networks only"
            )
        if net.name == "bridge" and aliases:
            raise InvalidArgument(
                "network-scoped alias is supported only for containers in user defined networks"
            )
        if net.driver not in ENDPOINT_DRIVERS:
            raise InvalidArgument(
                f"container cannot be connected to network {net.name} ({net.driver})"
            )
        return self.store.allocate(
            net,
            net.pool(),
            container_id,
            address=ip,
            mac=mac and ipam.parse_mac(mac),
            aliases=aliases,
            options=options,
            address6=ip6,
            link_local=_link_locals(link_local),
        )

    def release(self, container_id: str) -> None:
        """Free every address of a removed container."""
        self.store.release_container(container_id)

    def endpoints(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        """The container's endpoints with their networks, eth0 first."""
        out = []
        for ep in self.store.endpoints(container_id=container_id):
            with contextlib.suppress(NotFound):
                out.append((self.get(ep.network_id), ep))
        return out

    def container_networks(self, c: Container) -> list[Network]:
        """The networks ``c`` is on (``ps``'s NETWORKS column and ``network`` filter): its
        endpoints' networks, or ``host``/``none`` for those modes; none for ``container:X``."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode in ("host", "none"):
            return [self.get(mode)]
        return [net for net, _ in self.endpoints(c.id)]

    def setup(self, c: Container, containers: ContainerStore) -> str | None:
        """Make the network namespace ``c`` runs in, before the runtime starts it.

        Returns the OCI namespace mode: ``"host"``, a namespace file path (its own, or the
        process of the container it joins with ``container:X``), or None (``none``: a new
        empty namespace the runtime makes). On failure nothing is left; raises
        DockyardError (``container:X`` not running, the kernel refused).
        """
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode in ("host", "none"):
            self.event(self.get(mode), "connect", container=c.id)
            return "host" if mode == "host" else None
        if mode.startswith("container:"):
            other = containers.get(mode.partition(":")[2])
            if not other.state.get("Running") or not other.state.get("Pid"):
                raise Conflict(f"cannot join network of a non running container: {other.id}")
            return f"/proc/{other.state['Pid']}/ns/net"
        path = self.netns_path(c.id)
        linux.remove_netns(path)  # a stale one from a crash
        inner = linux.create_netns(path, netlink=True)
        try:
            eps = self.endpoints(c.id)
            gateway = gateway_endpoint(eps)
            gateway6 = gateway_endpoint(eps, 6)
            for i, (net, ep) in enumerate(eps):
                is_gateway = gateway is not None and ep is gateway[1]
                route6 = gateway6 is not None and ep is gateway6[1]
                self._attach(
                    path, net, ep, first=i == 0, gateway=is_gateway, inner=inner, route6=route6
                )
            if not eps:
                batch = netlink.Batch()
                netlink.set_link(batch, "lo", up=True)
                batch.run(inner)
        except BaseException:
            self.teardown(c.id)
            raise
        finally:
            inner.close()
        for net, _ in eps:
            self.event(net, "connect", container=c.id)
        return path

    def disconnect_events(self, c: Container, ran: bool) -> None:
        """Record the ``disconnect`` events of a run of ``c`` that ended (as dockerd
        releases a stopped container's networks); call before :meth:`teardown`: with a
        namespace of its own they are recorded while it is there, with ``host`` or
        ``none`` when ``ran`` (the caller's sign that the run was not cleaned up yet), so
        a cleanup done twice reports once."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        if mode.startswith("container:"):
            return
        if mode in ("host", "none"):
            if not ran:
                return
            nets = [self.get(mode)]
        elif os.path.exists(self.netns_path(c.id)):
            nets = [net for net, _ in self.endpoints(c.id)]
        else:
            return
        for net in nets:
            self.event(net, "disconnect", container=c.id)

    def _attach(
        self,
        path: str,
        net: Network,
        ep: Endpoint,
        first: bool,
        gateway: bool = False,
        inner: Any = None,
        route6: bool = False,
    ) -> None:
        """Give the namespace at ``path`` the interface of ``ep``: a veth pair on the
        network's bridge, or a macvlan/ipvlan device on its parent; then its address, lo up
        (``first``) and, when ``gateway`` (see :func:`gateway_endpoint`), the default route
        via the network's gateway; its IPv6 address (IPv6 turned on for the interface, no
        duplicate address detection so it is usable at once, as moby's), link-local
        addresses, and with ``route6`` the IPv6 default route via the network's IPv6
        gateway.
        ``inner``: a netlink socket in that namespace (None: one is opened here). The
        bridge's veth pair and everything inside are made with one netlink batch each
        (dockyard.network.netlink), not by running ``ip``."""
        pool = net.pool()
        if net.driver == "bridge":
            with self._lock():
                self._ensure_bridge(net)
                # Left by the previous run of this container while the kernel destroys it.
                _delete_link(ep.host_ifname)
                self._add_veth(path, net, ep)
        else:
            ns = quote(path)
            parent = net.options["parent"]
            if net.driver == "macvlan":
                kind = f"address {ep.mac} netns {ns} type macvlan mode bridge"
            else:
                kind = f"netns {ns} type ipvlan mode l2"
            linux.ip_batch([f"link add link {parent} name {ep.ifname} {kind}"])
        pool6 = net.pool6()
        if ep.address6 or any(":" in a for a in ep.link_local):
            linux.in_netns(path, lambda: linux.enable_ipv6(ep.ifname))
        sock = inner if inner is not None else linux.in_netns(path, netlink.open_socket)
        try:
            index = netlink.link_index(sock, ep.ifname)
            batch = netlink.Batch()
            if pool is not None and ep.address:
                netlink.add_address(batch, index, ep.address, pool.subnet.prefixlen, ep.ifname)
            if ep.address6 and pool6 is not None:
                netlink.add_address(
                    batch, index, ep.address6, pool6.subnet.prefixlen, ep.ifname, nodad=True
                )
            for ll in ep.link_local:
                # libnetwork's CreateOptionIpam: /16 for IPv4, /64 for IPv6.
                netlink.add_address(
                    batch, index, ll, 64 if ":" in ll else 16, ep.ifname, nodad=":" in ll
                )
            netlink.set_link(batch, ep.ifname, index, up=True)
            if first:
                netlink.set_link(batch, "lo", up=True)
            if gateway and not net.internal and pool is not None:
                netlink.add_default_route(batch, str(pool.gateway), index, ep.ifname)
            if route6 and pool6 is not None:
                netlink.add_default_route(batch, str(pool6.gateway), index, ep.ifname)
            batch.run(sock)
        finally:
            if inner is None:
                sock.close()

    def _add_veth(self, path: str, net: Network, ep: Endpoint) -> None:
        """The veth pair of ``ep``: its host end tagged (alias), on ``net``'s bridge and up,
        the other in the namespace at ``path`` with the endpoint's MAC. Call under _lock."""
        import _socket

        try:
            bridge = _socket.if_nametoindex(self.bridge_name(net))
        except OSError as e:
            raise DockyardError(
                f"failed to set up the network: bridge {self.bridge_name(net)}: {e.strerror}"
            ) from None
        ns_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            sock = netlink.open_socket()
            try:
                batch = netlink.Batch()
                netlink.add_veth(batch, ep.host_ifname, ep.ifname, ep.mac, ns_fd)
                netlink.set_link(batch, ep.host_ifname, alias=self.tag, master=bridge, up=True)
                batch.run(sock)
            finally:
                sock.close()
        finally:
            os.close(ns_fd)

    @contextlib.contextmanager
    def sandbox(self, sandbox_id: str, network: str = "bridge") -> Iterator[str]:
        """A network namespace for a build step, BuildKit's default for ``RUN``: its own
        loopback and an endpoint on the default bridge (or on ``network``, a network's
        name or ID: the classic builder's ``networkmode``), so it reaches the outside
        through the bridge's masquerade but not the host's 127.0.0.1. Yields the
        namespace file (for the OCI ``network`` namespace ``path``); on exit the
        namespace is unmounted and the address freed. Raises DockyardError
        (InvalidArgument for bad default bridge settings or a network without
        addresses, NotFound)."""
        net = self.get(network)
        path = self.netns_path(sandbox_id)
        try:
            inner = linux.create_netns(path, netlink=True)
            try:
                ep = self._allocate(net, sandbox_id, None, None, None)
                self._attach(path, net, ep, first=True, gateway=True, inner=inner)
            finally:
                inner.close()
            yield path
        finally:
            # Both idempotent; the namespace goes first, so the address is never in use
            # twice on the bridge.
            self.teardown(sandbox_id)
            self.release(sandbox_id)

    def teardown(self, container_id: str) -> None:
        """Undo :meth:`setup` after the container stopped (or could not start): unmount its
        namespace file. The kernel then destroys the namespace with its interfaces, and so
        the host ends of their veth pairs, in the background (deleting a veth synchronously
        costs ~25 ms of RCU grace periods, a sixth of a ``run``). Idempotent: a killed
        monitor's leftovers are cleaned the same way."""
        linux.remove_netns(self.netns_path(container_id))

    def connect(
        self,
        c: Container,
        ref: str,
        *,
        ip: str | None = None,
        aliases: list[str] | None = None,
        mac: str | None = None,
        options: Mapping[str, Any] | None = None,
        ip6: str | None = None,
        link_local: Sequence[str] = (),
    ) -> Endpoint:
        """``docker network connect``: attach ``c`` to network ``ref`` now if it runs (the
        next interface, ethN), else from its next start; ``mac`` (``--mac-address``'s
        form), ``options`` (see :func:`endpoint_options`), ``ip6`` (``--ip6``) and
        ``link_local`` (``--link-local-ip``) as :meth:`allocate`'s. When the new endpoint
        becomes the gateway endpoint of a family (``--gw-priority``), that default route
        moves to it. Raises NotFound, Conflict or InvalidArgument with Docker's
        messages."""
        net = self.get(ref)
        if net.config.get("config_only"):
            raise Conflict(CONFIG_ONLY_ENDPOINT)
        mode = c.host_config.get("NetworkMode") or "bridge"
        if net.driver == "host" or mode == "host":
            raise Conflict(
                "container cannot be disconnected from host network or connected to host network"
            )
        if net.driver == "null" or mode == "none":
            raise Conflict(
                "container cannot be connected to multiple networks with one of the networks in private (none) mode"
            )
        if mode.startswith("container:"):
            raise Conflict(
                "conflicting options: container type network can't be used with other networks"
            )
        if net.name == "bridge" and (ip or ip6 or aliases):
            raise InvalidArgument(
                "user specified IP address is supported on user defined networks only"
                if ip or ip6
                else "network-scoped alias is supported only for containers in user defined networks"
            )
        ep = self._allocate(net, c.id, ip, aliases, mac, options, ip6, link_local)
        path = self.netns_path(c.id)
        if c.state.get("Running") and os.path.exists(path):
            try:
                eps = self.endpoints(c.id)
                rest = [e for e in eps if e[1].id != ep.id]
                before, before6 = gateway_endpoint(rest), gateway_endpoint(rest, 6)
                after, after6 = gateway_endpoint(eps), gateway_endpoint(eps, 6)
                self._attach(
                    path,
                    net,
                    ep,
                    first=len(eps) == 1,
                    gateway=before is None,
                    route6=before6 is None and after6 is not None and after6[1].id == ep.id,
                )
                if before is not None and after is not None and after[1].id == ep.id:
                    self._route_via(path, *after)
                if before6 is not None and after6 is not None and after6[1].id == ep.id:
                    self._route_via(path, *after6, version=6)
            except BaseException:
                self._detach(path, net, ep)
                self.store.release(ep.id)
                raise
            self.event(net, "connect", container=c.id)
        return ep

    def _detach(self, path: str, net: Network, ep: Endpoint) -> None:
        if net.driver == "bridge":
            with self._lock():
                _delete_link(ep.host_ifname)
        elif os.path.exists(path):
            with contextlib.suppress(OSError):
                linux.ip_batch([f"link del {ep.ifname}"], netns=path, force=True)

    def disconnect(self, c: Container, ref: str) -> None:
        """``docker network disconnect``: remove ``c``'s interface on network ``ref`` (now,
        if it runs) and free its address. Raises NotFound or Conflict."""
        net = self.get(ref)
        mode = c.host_config.get("NetworkMode") or "bridge"
        if net.driver == "host" or mode == "host":
            raise Conflict(
                "container cannot be disconnected from host network or connected to host network"
            )
        ep = next(
            (e for e in self.store.endpoints(container_id=c.id) if e.network_id == net.id), None
        )
        if ep is None:
            raise Conflict(f"container {c.id} is not connected to network {net.name}")
        path = self.netns_path(c.id)
        running = bool(c.state.get("Running")) and os.path.exists(path)
        before = self.endpoints(c.id) if running else []
        self._detach(path, net, ep)
        self.store.release(ep.id)
        if running:
            after = self.endpoints(c.id)
            for version in (4, 6):
                was, now_gw = gateway_endpoint(before, version), gateway_endpoint(after, version)
                if was is not None and was[1].id == ep.id and now_gw is not None:
                    # Its default route went with the interface: the next best supplies one.
                    with contextlib.suppress(DockyardError):
                        self._route_via(path, *now_gw, version=version)
            self.event(net, "disconnect", container=c.id)

    def _route_via(self, path: str, net: Network, ep: Endpoint, version: int = 4) -> None:
        """Point the default route of IP ``version`` of the namespace at ``path`` at
        ``net``'s gateway of that version through ``ep``'s interface (moby's
        Sandbox.updateGateway)."""
        pool = net.pool6() if version == 6 else net.pool()
        assert pool is not None
        # ip takes the route's family from the gateway address.
        linux.ip_batch([f"route replace default via {pool.gateway} dev {ep.ifname}"], netns=path)

    # -- inspect --------------------------------------------------------------------------

    def inspect(self, net: Network, containers: ContainerStore) -> dict[str, Any]:
        """Docker's ``docker network inspect`` object, with each attached container's
        name, endpoint, MAC and address."""
        pool = net.pool()
        pool6 = net.pool6()
        ipam_config: list[dict[str, str]] = []
        if pool is not None:
            ipam_config.append(pool.to_config(bool(net.config.get("ip_range"))))
        if pool6 is not None:
            ipam_config.append(pool6.to_config(bool(net.config.get("ip_range6"))))
        if net.config.get("config_only"):
            ipam_config = [dict(e) for e in net.config.get("ipam_config") or []]
        ipam_options: dict[str, str] | None = dict(net.config.get("ipam_options") or {})
        if not ipam_options and (net.predefined or net.config.get("ipam_options_null")):
            ipam_options = None
        attached: dict[str, Any] = {}
        for ep in self.store.endpoints(network_id=net.id):
            try:
                c = containers.get(ep.container_id)
            except NotFound:
                continue
            attached[c.id] = {
                "Name": c.name,
                "EndpointID": ep.id,
                "MacAddress": ep.mac,
                "IPv4Address": f"{ep.address}/{pool.subnet.prefixlen}"
                if pool and ep.address
                else "",
                "IPv6Address": (
                    f"{ep.address6}/{pool6.subnet.prefixlen}" if pool6 and ep.address6 else ""
                ),
            }
        return {
            "Name": net.name,
            "Id": net.id,
            "Created": net.created,
            "Scope": "local",
            "Driver": net.driver,
            "EnableIPv4": net.ipv4,
            "EnableIPv6": net.ipv6,
            "IPAM": {
                "Driver": "default",
                "Options": ipam_options,
                "Config": ipam_config,
            },
            "Internal": net.internal,
            "Attachable": bool(net.config.get("attachable")),
            "Ingress": False,
            "ConfigFrom": {"Network": net.config.get("config_from") or ""},
            "ConfigOnly": bool(net.config.get("config_only")),
            "Containers": attached,
            "Options": net.options,
            "Labels": net.labels,
        }

    def container_settings(self, c: Container) -> dict[str, Any]:
        """Docker's NetworkSettings of ``c``: one entry per network in ``Networks``, the
        default bridge's address also at the top level, as Docker shows it."""
        mode = c.host_config.get("NetworkMode") or "bridge"
        networks: dict[str, Any] = {}
        top = {"EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}
        for net, ep in self.endpoints(c.id):
            pool = net.pool()
            pool6 = net.pool6()
            # Docker's EndpointIPAMConfig: each field only when given (omitempty).
            ipam_config: dict[str, Any] = {}
            if ep.fixed:
                ipam_config["IPv4Address"] = ep.address
            if ep.fixed6:
                ipam_config["IPv6Address"] = ep.address6
            if ep.link_local:
                ipam_config["LinkLocalIPs"] = list(ep.link_local)
            entry = _endpoint_settings(
                NetworkID=net.id,
                EndpointID=ep.id,
                Gateway="" if net.internal or pool is None else str(pool.gateway),
                IPAddress=ep.address,
                IPPrefixLen=pool.subnet.prefixlen if pool is not None and ep.address else 0,
                MacAddress=ep.mac,
                Aliases=list(ep.aliases) or None,
                IPAMConfig=ipam_config or None,
                Links=ep.links or None,
                DriverOpts=ep.driver_opts or None,
                GwPriority=ep.gw_priority,
                DNSNames=[c.name, c.id[:12], *ep.aliases] if net.name != "bridge" else None,
            )
            if pool6 is not None and ep.address6:
                entry["IPv6Gateway"] = "" if net.internal else str(pool6.gateway)
                entry["GlobalIPv6Address"] = ep.address6
                entry["GlobalIPv6PrefixLen"] = pool6.subnet.prefixlen
            networks[net.name] = entry
            if net.name == "bridge":
                top = {k: entry[k] for k in top}
        if mode in ("host", "none"):
            with contextlib.suppress(NotFound):
                networks[mode] = _endpoint_settings(NetworkID=self.get(mode).id)
        sandbox = ""
        if c.state.get("Running") and not mode.startswith("container:") and mode != "host":
            path = self.netns_path(c.id)
            sandbox = path if os.path.exists(path) else ""
        return {
            "Bridge": "",
            "SandboxID": c.id if sandbox else "",
            "SandboxKey": sandbox,
            "HairpinMode": False,
            "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0,
            "Ports": {},
            "SecondaryIPAddresses": None,
            "SecondaryIPv6Addresses": None,
            **top,
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "IPv6Gateway": "",
            "Networks": networks,
        }


#: Endpoint driver options Docker's drivers act on that Dockyard does not: refused, not
#: ignored (any other key is kept and shown, as the built-in drivers ignore them).
_DRIVER_OPTS_REFUSED = {
    "com.docker.network.endpoint.ifname": "interface names",
    "com.docker.network.endpoint.sysctls": "per-interface sysctls",
}


def _link_locals(texts: Sequence[str]) -> list[str]:
    """``--link-local-ip`` values (``IPAMConfig.LinkLocalIPs``) checked by
    :func:`ipam.check_link_local`, each at most once: the second would fail the start
    with the kernel's "File exists". Raises InvalidArgument."""
    out: list[str] = []
    for text in texts:
        addr = str(ipam.check_link_local(text))
        if addr in out:
            raise InvalidArgument(
                f"invalid link-local IP address: {text}: given twice (--link-local-ip)"
            )
        out.append(addr)
    return out


def endpoint_options(net: Network, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The EndpointSettings ``Links`` (``NAME[:ALIAS]``, user-defined networks only: ALIAS
    then resolves to NAME in this container's embedded DNS), ``DriverOpts`` (strings)
    and ``GwPriority`` (a 64-bit int) of ``settings``, checked; empty ones dropped. Raises
    InvalidArgument."""
    settings = settings or {}
    links = list(settings.get("Links") or [])
    for link in links:
        # docker/cli opts.ParseLink
        parts = str(link).split(":")
        if not link or len(parts) > 2 or not all(parts):
            raise InvalidArgument(f"invalid link: bad format for links: {link}")
    if links and (net.predefined or net.driver not in ENDPOINT_DRIVERS):
        raise InvalidArgument(
            f"links on network {net.name}: EndpointSettings.Links (network connect --link) "
            "are for user-defined networks; the default bridge's are legacy links "
            "(HostConfig.Links, run --link)"
        )
    driver_opts = settings.get("DriverOpts") or {}
    if not isinstance(driver_opts, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in driver_opts.items()
    ):
        raise InvalidArgument("DriverOpts: an object of strings")
    for key, what in _DRIVER_OPTS_REFUSED.items():
        if key in driver_opts:
            raise InvalidArgument(f"driver option {key}: {what} are not supported by Dockyard")
    priority = settings.get("GwPriority") or 0
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise InvalidArgument("GwPriority: an integer")
    if not -(1 << 63) <= priority < 1 << 63:
        # Go's int (encoding/json's words): the route order compares them as int64.
        raise InvalidArgument(
            f"json: cannot unmarshal number {priority} into Go struct field "
            "EndpointSettings.GwPriority of type int (--gw-priority)"
        )
    out: dict[str, Any] = {}
    if links:
        out["Links"] = [str(link) for link in links]
    if driver_opts:
        out["DriverOpts"] = dict(driver_opts)
    if priority:
        out["GwPriority"] = priority
    return out


def gateway_endpoint(
    eps: Sequence[tuple[Network, Endpoint]], version: int = 4
) -> tuple[Network, Endpoint] | None:
    """Of a container's ``(Network, Endpoint)`` pairs, the one supplying its default
    gateway of IP ``version`` (4, or 6: an endpoint with an IPv6 address), as moby 28
    orders endpoints (libnetwork Endpoint.Less): the highest ``GwPriority``, then a
    dual-stack network before an IPv4-only one, then the network name; an
    ``--internal`` network never does. None if no endpoint can."""
    if version == 6:
        candidates = [(n, e) for n, e in eps if _gives_route6(n, e)]
    else:
        candidates = [(n, e) for n, e in eps if not n.internal and n.pool() is not None]
    return min(
        candidates,
        key=lambda ne: (-ne[1].gw_priority, -2 if ne[0].config.get("ipv6") else -1, ne[0].name),
        default=None,
    )


def _family(text: str, version: int) -> ipam.IPNetwork:
    """``text`` parsed as a subnet of IP ``version``; raises InvalidArgument."""
    net = ipam.parse_subnet(text)
    if net.version != version:
        raise InvalidArgument(f"--subnet {text}: expected an IPv{version} subnet")
    return net


def _host_routes(version: int = 4) -> list[tuple[ipam.IPNetwork, str]]:
    """The host's routes of IP ``version`` other than the default one, with their
    devices: the main table and the local addresses of the local table (loopback's
    127.0.0.0/8 and ::1 too)."""
    family = ["-6"] if version == 6 else []
    routes = linux.ip_json([*family, "route", "show", "table", "main"])
    routes += [
        r
        for r in linux.ip_json([*family, "route", "show", "table", "local"])
        if r.get("type") == "local"
    ]
    out = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default":
            with contextlib.suppress(ValueError):
                full = dst if "/" in dst else f"{dst}/{32 if version == 4 else 128}"
                net = ipaddress.ip_network(full, strict=False)
                if net.version == version:
                    out.append((net, str(route.get("dev", "?"))))
    return out


def _gives_route6(net: Network, ep: Endpoint) -> bool:
    """Whether ``ep`` can carry the container's IPv6 default route: it has an IPv6
    address on a network that is not ``--internal``."""
    return bool(ep.address6) and net.ipv6 and not net.internal


def _delete_link(name: str) -> None:
    """Delete the host interface ``name`` if it exists."""
    if linux.link_exists(name):
        linux.ip_batch([f"link del {name}"], force=True)


def _endpoint_settings(**values: Any) -> dict[str, Any]:
    """Docker's EndpointSettings with ``values`` over the empty defaults."""
    entry: dict[str, Any] = {
        "IPAMConfig": None,
        "Links": None,
        "Aliases": None,
        "MacAddress": "",
        "DriverOpts": None,
        "GwPriority": 0,
        "NetworkID": "",
        "EndpointID": "",
        "Gateway": "",
        "IPAddress": "",
        "IPPrefixLen": 0,
        "IPv6Gateway": "",
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "DNSNames": None,
    }
    entry.update(values)
    return entry
