"""IPAM and the /etc files, without containers."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest

from dockyard.container import etcfiles
from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.network import ipam


def net(text: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(text)


def test_automatic_subnets_follow_dockers_pools() -> None:
    assert ipam.pick_subnet([]) == net("172.18.0.0/16")
    assert ipam.pick_subnet([net("172.18.0.0/16"), net("172.19.5.0/24")]) == net("172.20.0.0/16")
    taken = [net("172.16.0.0/12")]
    assert ipam.pick_subnet(taken) == net("192.168.0.0/20")
    with pytest.raises(Conflict, match="fully subnetted"):
        ipam.pick_subnet([net("172.16.0.0/12"), net("192.168.0.0/16")])


def test_first_free_skips_network_gateway_broadcast_and_used() -> None:
    pool = ipam.make_pool(net("10.9.0.0/29"), None, None)
    assert pool.gateway == ipaddress.IPv4Address("10.9.0.1")
    used = {ipaddress.IPv4Address("10.9.0.2")}
    assert str(ipam.first_free(pool, used)) == "10.9.0.3"
    used |= {ipaddress.IPv4Address(f"10.9.0.{i}") for i in range(3, 7)}
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        ipam.first_free(pool, used)


def test_ip_range_and_gateway_are_checked() -> None:
    pool = ipam.make_pool(net("10.9.0.0/16"), "10.9.255.254", "10.9.4.0/24")
    assert str(ipam.first_free(pool, set())) == "10.9.4.0"
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway 10.8.0.1"):
        ipam.make_pool(net("10.9.0.0/16"), "10.8.0.1", None)
    with pytest.raises(InvalidArgument, match="no matching subnet for range"):
        ipam.make_pool(net("10.9.0.0/16"), None, "10.10.0.0/24")
    with pytest.raises(InvalidArgument, match='"--subnet"'):
        ipam.parse_subnet("10.9.0.0/33")


def test_fixed_addresses() -> None:
    pool = ipam.make_pool(net("10.9.0.0/24"), None, None)
    ipam.check_fixed(pool, ipaddress.IPv4Address("10.9.0.50"), set())
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.check_fixed(pool, ipaddress.IPv4Address("10.9.0.1"), set())
    with pytest.raises(Conflict, match="Address already in use"):
        ipam.check_fixed(
            pool, ipaddress.IPv4Address("10.9.0.50"), {ipaddress.IPv4Address("10.9.0.50")}
        )
    with pytest.raises(InvalidArgument, match="no configured subnet"):
        ipam.check_fixed(pool, ipaddress.IPv4Address("10.10.0.5"), set())


def test_mac_is_dockers_02_42_plus_address() -> None:
    assert ipam.mac_for(ipaddress.IPv4Address("172.17.0.2")) == "02:42:ac:11:00:02"


def test_hosts_file_order_is_dockers() -> None:
    text = etcfiles.hosts_file(
        own=[("172.17.0.3", "web")],
        extra_hosts=["db.local:10.0.0.5"],
        links=[("172.17.0.2", "db 0123456789ab db1")],
    )
    assert text.startswith(etcfiles.DEFAULT_HOSTS)
    assert text[len(etcfiles.DEFAULT_HOSTS) :] == (
        "10.0.0.5\tdb.local\n172.17.0.2\tdb 0123456789ab db1\n172.17.0.3\tweb\n"
    )


def test_resolv_conf_on_default_bridge_and_user_networks() -> None:
    host = "search corp.example\nnameserver 127.0.0.53\nnameserver 10.1.1.1\n"
    bridge = etcfiles.container_resolv_conf(host)
    assert "127.0.0.53" not in bridge and "nameserver 10.1.1.1" in bridge
    assert etcfiles._override(bridge, ["9.9.9.9"], ["a.example"], ["ndots:2"]) == (
        "nameserver 9.9.9.9\nsearch a.example\noptions ndots:2\n"
    )
    internal = etcfiles.internal_resolv_conf(host, [], [], [])
    assert internal.startswith("nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0\n")
    assert internal.endswith("\n# ExtServers: [host(127.0.0.53) host(10.1.1.1)]\n")
    custom = etcfiles.internal_resolv_conf(host, ["9.9.9.9"], ["."], ["ndots:3", "rotate"])
    assert custom.startswith("nameserver 127.0.0.11\noptions ndots:3 rotate\n")
    assert custom.endswith("\n# ExtServers: [9.9.9.9]\n")


def test_parse_mac_takes_go_forms_and_refuses_group_addresses() -> None:
    for text in ("02:42:AC:11:00:02", "02-42-ac-11-00-02", "0242.ac11.0002"):
        assert ipam.parse_mac(text) == "02:42:ac:11:00:02"
    for bad in ("02:42:ac:11:00", "02:42-ac:11:00:02", "zz:42:ac:11:00:02", "02:42:ac:11:00:02:"):
        with pytest.raises(InvalidArgument, match="is not a valid mac address$"):
            ipam.parse_mac(bad)
    for group in (
        "01:00:5e:00:00:01",
        "ff:ff:ff:ff:ff:ff",
        "33:33:00:00:00:01",
        "00:00:00:00:00:00",
    ):
        with pytest.raises(InvalidArgument, match="not a valid mac address for an interface"):
            ipam.parse_mac(group)


def test_gateway_on_network_or_broadcast_address_refused() -> None:
    for gw in ("10.9.0.0", "10.9.0.255"):
        with pytest.raises(InvalidArgument, match=rf"failed to allocate gateway \({gw}\)"):
            ipam.make_pool(net("10.9.0.0/24"), gw, None)


def test_network_removal_and_allocation_exclude_each_other(tmp_path: Path) -> None:
    """``network rm`` checks for endpoints and deletes in one transaction, and an address
    is only allocated on a network still recorded: a ``run`` racing ``network rm`` either
    blocks the removal or fails, never leaving an endpoint on a removed network."""
    from dockyard.network.store import Network, NetworkStore, now
    from dockyard.state import StateDB

    db = StateDB(str(tmp_path / "state.db"))
    try:
        store = NetworkStore(db)
        n = Network(
            "a" * 64, "n1", "bridge", now(), {"subnet": "10.9.0.0/24", "gateway": "10.9.0.1"}
        )
        store.add(n)
        pool = n.pool()
        assert pool is not None
        with db.write() as conn:
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created, config, host_config, state)"
                " VALUES (?, 'c', '', '', '{}', '{}', '{}')",
                ("c" * 64,),
            )
        store.allocate(n, pool, "c" * 64)
        store.allocate(n, pool, "e" * 64)  # of a container gone in a crash: no row
        with pytest.raises(Conflict, match="network n1 id a+ has active endpoints"):
            store.delete(n.id, unused=True)
        store.release_container("c" * 64)
        store.delete(n.id, unused=True)  # the orphan endpoint does not pin it
        with pytest.raises(NotFound, match="network n1 not found"):
            store.allocate(n, pool, "d" * 64)
        assert store.endpoints(network_id=n.id) == []
    finally:
        db.close()


def test_unusable_subnets_refused() -> None:
    for text in ("0.0.0.0/8", "224.0.0.0/24", "239.1.0.0/16", "255.255.255.0/24", "0.0.0.0/0"):
        with pytest.raises(InvalidArgument, match=f"invalid subnet {text}: it overlaps"):
            ipam.make_pool(net(text), None, None)
    assert str(ipam.make_pool(net("169.254.0.0/16"), None, None).gateway) == "169.254.0.1"
