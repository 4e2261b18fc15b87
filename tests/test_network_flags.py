"""``network create``/``connect``/``inspect`` flags: auxiliary addresses, the IPAM driver
and scope Docker defaults to, ``inspect --verbose``, IPAM options, configuration-only
networks and networks made from them; and the swarm and endpoint options Dockyard refuses
(nothing made then)."""

from __future__ import annotations

import json
from pathlib import Path

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


def test_config_only_and_config_from(dy: Runner, busybox: str) -> None:
    dy(
        "network",
        "create",
        "--config-only",
        *("--subnet", "10.76.0.0/24", "--gateway", "10.76.0.254", "--ipam-opt", "foo=bar"),
        *("--label", "k=v", "-o", "com.docker.network.bridge.name=dycfgfrom0", "cfg"),
        check=True,
    )
    try:
        cfg = json.loads(dy("network", "inspect", "cfg", check=True).stdout)[0]
        assert (cfg["ConfigOnly"], cfg["Driver"], cfg["Scope"]) == (True, "null", "local")
        assert cfg["IPAM"]["Config"] == [{"Subnet": "10.76.0.0/24", "Gateway": "10.76.0.254"}]
        assert cfg["IPAM"]["Options"] == {"foo": "bar"} and cfg["Labels"] == {"k": "v"}
        assert "cfg" in dy("network", "ls", "--format", "{{.Name}}", check=True).stdout.split()
        p = dy("run", "--rm", "--network", "cfg", busybox, "true")
        assert p.returncode == 125
        assert "cannot create endpoint on configuration-only network" in p.stderr, p.stderr
        dy("network", "create", "--config-from", "cfg", "net1", check=True)
        try:
            net = json.loads(dy("network", "inspect", "net1", check=True).stdout)[0]
            assert (net["ConfigFrom"], net["ConfigOnly"]) == ({"Network": "cfg"}, False)
            assert net["Driver"] == "bridge" and net["Labels"] == {"k": "v"}
            assert net["IPAM"]["Options"] == {"foo": "bar"}
            assert net["IPAM"]["Config"][0]["Gateway"] == "10.76.0.254"
            assert net["Options"] == {"com.docker.network.bridge.name": "dycfgfrom0"}
            p = dy("run", "--rm", "--network", "net1", busybox, "ip", "-4", "-o", "addr")
            assert p.returncode == 0 and "10.76.0." in p.stdout, p.stderr
            p = dy("network", "rm", "cfg")
            assert p.returncode == 1
            assert 'configuration network "cfg" is in use' in p.stderr, p.stderr
        finally:
            dy("network", "rm", "net1", check=True)
        dy("network", "rm", "cfg", check=True)
    finally:
        for name in ("net1", "cfg"):
            dy("network", "rm", name)


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
        (["--scope", "swarm"], "scope 'swarm' is not supported"),
        (["--subnet", "fd00:dead:beef:77::/64"], "needs an IPv6 network: add --ipv6"),
        (["--ipv4=false"], "IPv4 or IPv6 must be enabled"),
        (["--ipv4=false", "--ipv6", "--subnet", "10.78.0.0/24"], "needs IPv4: drop --ipv4=false"),
        (["--ingress"], "swarm mode"),
        (["--config-from", "other"], 'configuration network "other" does not exist'),
        (["--config-only", "--internal"], "Network operator fields like [ ingress | internal"),
        (["--config-only", "--scope", "local"], "Network operator fields like"),
        (["--config-only", "--config-from", "x"], "cannot depend on another configuration"),
        (["--config-from", "x", "--subnet", "10.78.0.0/24"], "user specified configurations"),
        (["--config-from", "x", "--ipam-opt", "a=b"], "user specified configurations"),
        (["--config-from", "x", "--label", "a=b"], "user specified configurations"),
        (["--config-from", "x", "-o", "a=b"], "network driver options are not supported if"),
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


def test_compose_ipam_options(dy: Runner, busybox: str, tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        f"""services:
  c:
    image: {busybox}
    command: ["true"]
    networks: [n]
networks:
  n:
    ipam:
      options: {{foo: bar}}
      config:
        - subnet: 10.75.0.0/24
"""
    )
    try:
        dy("compose", "-p", "cipam", "up", "-d", cwd=tmp_path, check=True, timeout=90)
        net = json.loads(dy("network", "inspect", "cipam_n", check=True).stdout)[0]
        assert net["IPAM"]["Options"] == {"foo": "bar"}
    finally:
        dy("compose", "-p", "cipam", "down", cwd=tmp_path)
