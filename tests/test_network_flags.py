"""``network create``/``connect``/``inspect`` flags: auxiliary addresses, the IPAM driver
and scope Docker defaults to, ``inspect --verbose``; and the IPv6-only, swarm,
configuration network and endpoint options Dockyard refuses (nothing made then)."""

from __future__ import annotations

import json

import pytest

from conftest import Runner


def test_aux_addresses_are_reserved(dy: Runner, busybox: str) -> None:
    dy(
        "network",
        "create",
        *("--subnet", "10.77.0.0/29", "--aux-address", "router=10.77.0.2"),
        *("--ipam-driver", "default", "--scope", "local", "--ipv4", "auxnet"),
        check=True,
    )
    try:
        net = json.loads(dy("network", "inspect", "auxnet", check=True).stdout)[0]
        assert net["IPAM"]["Config"][0]["AuxiliaryAddresses"] == {"router": "10.77.0.2"}
        assert net["Scope"] == "local" and net["IPAM"]["Driver"] == "default"
        verbose = json.loads(dy("network", "inspect", "--verbose", "auxnet", check=True).stdout)
        assert verbose == [net]
        p = dy("run", "--rm", "--network", "auxnet", busybox, "ip", "-4", "-o", "addr", "show")
        assert p.returncode == 0, p.stderr
        assert "10.77.0.3/29" in p.stdout  # .1 gateway, .2 the router's
        p = dy("run", "--rm", "--network", "auxnet", "--ip", "10.77.0.2", busybox, "true")
        assert p.returncode == 125 and "Address already in use" in p.stderr, p.stderr
    finally:
        dy("network", "rm", "auxnet", check=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--subnet", "10.78.0.0/24", "--aux-address", "a=10.9.0.1"], "no matching subnet"),
        (["--aux-address", "a=10.9.0.1"], "no matching subnet for aux-address 10.9.0.1"),
        # dockerd 20.10: each of these is "Address already in use".
        (["--subnet", "10.78.0.0/24", "--aux-address", "a=10.78.0.1"], "(a:10.78.0.1): Address"),
        (["--subnet", "10.78.0.0/24", "--aux-address", "a=10.78.0.0"], "already in use"),
        (["--subnet", "10.78.0.0/24", "--aux-address", "a=10.78.0.255"], "already in use"),
        (
            [
                "--subnet",
                "10.78.0.0/24",
                "--aux-address",
                "a=10.78.0.9",
                "--aux-address",
                "b=10.78.0.9",
            ],
            "failed to allocate secondary ip address (b:10.78.0.9): Address already in use",
        ),
        (["--ipam-driver", "foo"], 'plugin "foo" not found'),
        (["--ipam-opt", "a=b"], "IPAM options (--ipam-opt) are not supported"),
        (["--scope", "swarm"], "scope 'swarm' is not supported"),
        (["--subnet", "fd00:dead:beef:77::/64"], "needs an IPv6 network: add --ipv6"),
        (["--ipv4=false"], "IPv4 or IPv6 must be enabled"),
        (["--ipv4=false", "--ipv6", "--subnet", "10.78.0.0/24"], "needs IPv4: drop --ipv4=false"),
        (["--ingress"], "swarm mode"),
        (["--config-only"], "configuration-only networks"),
        (["--config-from", "other"], "(ConfigFrom, --config-from) are not supported"),
        (["-d", "overlay"], "multi-host networking, which is for an orchestrator"),
    ],
)
def test_refused_create_makes_nothing(dy: Runner, args: list[str], message: str) -> None:
    before = dy("network", "ls", "-q", check=True).stdout
    p = dy("network", "create", *args, "refused")
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert dy("network", "ls", "-q", check=True).stdout == before


def test_refused_endpoint_options(dy: Runner, busybox: str) -> None:
    dy("network", "create", "--subnet", "10.79.0.0/24", "epnet", check=True)
    try:
        dy("create", "--name", "cc", busybox, "true", check=True)
        for args, message in [
            (["--ip6", "2001:db8::3"], "network epnet has no IPv6 (network create --ipv6)"),
            (["--link-local-ip", "10.79.0.9"], "invalid link local IP address: 10.79.0.9"),
            (["--link", "cc:a:b"], "bad format for links: cc:a:b"),
            (["--driver-opt", "com.docker.network.endpoint.sysctls=x"], "per-interface sysctls"),
        ]:
            p = dy("network", "connect", *args, "epnet", "cc")
            assert p.returncode == 1 and message in p.stderr, (args, p.stderr)
        p = dy("run", "--rm", "--network", "epnet", "--ip6", "2001:db8::3", busybox, "true")
        assert p.returncode == 125 and "network epnet has no IPv6" in p.stderr
        assert (
            json.loads(dy("network", "inspect", "epnet", check=True).stdout)[0]["Containers"] == {}
        )
    finally:
        dy("rm", "-f", "cc")
        dy("network", "rm", "epnet", check=True)
