"""IPv6 on bridge networks (``network create --ipv6``, ``run --ip6``, ``--link-local-ip``,
``network connect --ip6``), as Docker's libnetwork bridge driver and default IPAM: the
addresses, routes, sysctls, /etc/hosts and DNS answers inside the container, the inspect
fields, isolation of ``--internal`` networks, and the refusals.

Every IPv6 prefix is a ULA one (fd00::/8) on bridges these tests make, with a per-process
part so concurrent test runs on one host never overlap; no traffic leaves them."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest

from conftest import Runner
from dockyard.errors import Conflict, InvalidArgument
from dockyard.network import ipam

#: fd00:dead:beef:XXXX::/64 prefixes of this test process.
_TAG = os.getpid() % 0xFF00


def prefix(n: int) -> str:
    return f"fd00:dead:{0xBE00 + n:x}:{_TAG:x}::"


def test_ipv6_pools_and_link_local_checks() -> None:
    pool = ipam.make_pool(ipaddress.ip_network("fd00:1:2:3::/126"), None, None)
    # IPv6 has no broadcast address: ::3 is usable; ::0 (the subnet) and ::1 (gateway) not.
    assert pool.reserved() == {ipaddress.ip_address("fd00:1:2:3::"), pool.gateway}
    used: set[ipam.IPAddress] = {ipaddress.ip_address("fd00:1:2:3::2")}
    assert str(ipam.first_free(pool, used)) == "fd00:1:2:3::3"
    with pytest.raises(Conflict, match="no available IPv6 addresses"):
        ipam.first_free(pool, {*used, ipaddress.ip_address("fd00:1:2:3::3")})
    ranged = ipam.make_pool(ipaddress.ip_network("fd00:1::/64"), "fd00:1::ffff", "fd00:1::/96")
    assert str(ranged.gateway) == "fd00:1::ffff" and str(ipam.first_free(ranged, set())) == (
        "fd00:1::1"
    )
    for subnet, gateway, rng, message in [
        ("fd00:1::/64", "fd00:2::1", None, "no matching subnet for gateway"),
        ("fd00:1::/64", "10.0.0.1", None, "invalid IPv6 address: 10.0.0.1"),
        ("fd00:1::/64", None, "fd00:2::/96", "no matching subnet for range"),
        ("fd00:1::/64", None, "10.1.0.0/24", "no matching subnet for range"),
        ("fd00:1::/127", None, None, "needs at least a /126"),
        ("fd00:1::/128", None, None, "needs at least a /126"),
        ("fe80::/64", None, None, "link-local addresses"),
        ("ff02::/64", None, None, "multicast"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            ipam.make_pool(ipaddress.ip_network(subnet), gateway, rng)
    # The engine's ULA /48 (moby's deriveULABaseNetwork): stable for one engine ID.
    base, size = ipam.ula_pool("0b1c3a2e-engine")
    assert ipam.ula_pool("0b1c3a2e-engine") == (base, size) and size == 64
    net = ipaddress.ip_network(base)
    assert net.prefixlen == 48 and net.subnet_of(ipaddress.ip_network("fd00::/8"))
    first = ipam.pick_subnet([], [(base, size)])
    assert first == next(net.subnets(new_prefix=64))
    assert ipam.pick_subnet([first, ipaddress.ip_network("10.0.0.0/8")], [(base, size)]) != first
    for good in ("169.254.8.8", "fe80::8"):
        assert str(ipam.check_link_local(good)) == good
    for bad in ("10.0.0.1", "fd00::8", "ff02::1", "nonsense"):
        with pytest.raises(InvalidArgument, match="invalid link.local IP address"):
            ipam.check_link_local(bad)


def test_cli_consolidates_subnets_as_docker_cli() -> None:
    from dockyard.cli.networks import _ipam_configs

    configs = _ipam_configs(
        ("10.50.0.0/24", "fd00:5::/64"),
        ("fd00:5::/96",),
        ("fd00:5::ffff", "10.50.0.254"),
        {"r4": "10.50.0.9", "r6": "fd00:5::9"},
    )
    assert configs == [
        {
            "Subnet": "10.50.0.0/24",
            "Gateway": "10.50.0.254",
            "AuxiliaryAddresses": {"r4": "10.50.0.9"},
        },
        {
            "Subnet": "fd00:5::/64",
            "IPRange": "fd00:5::/96",
            "Gateway": "fd00:5::ffff",
            "AuxiliaryAddresses": {"r6": "fd00:5::9"},
        },
    ]
    for args, message in [
        (((), (), ("10.0.0.1",), {}), "every ip-range or gateway must have a corresponding"),
        ((("fd00:5::/64", "fd00:5::/48"), (), (), {}), "multiple overlapping subnet"),
        ((("fd00:5::/64",), (), ("fd00:6::1",), {}), "no matching subnet for gateway"),
        ((("fd00:5::/64", "10.5.0.0/24"), (), ("fd00:5::1", "fd00:5::2"), {}), "multiple gateways"),
        ((("fd00:5::/64",), ("fd00:6::/96",), (), {}), "no matching subnet for range"),
    ]:
        with pytest.raises(InvalidArgument, match=message):
            _ipam_configs(*args)  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_ipv6_network_containers_and_internal_isolation(dy: Runner, busybox: str) -> None:
    p6 = prefix(1)
    dy(
        "network",
        "create",
        *("--ipv6", "--subnet", f"{p6}/64", "--ip-range", f"{p6}/96"),
        *("--gateway", f"{p6}ffff", "v6net"),
        check=True,
    )
    # An internal one with the IPv6 subnet left to the engine's ULA pool.
    dy("network", "create", "--ipv6", "--internal", "v6int", check=True)
    try:
        net = json.loads(dy("network", "inspect", "v6net", check=True).stdout)[0]
        assert net["EnableIPv6"] is True and net["EnableIPv4"] is True
        v4cfg, v6cfg = net["IPAM"]["Config"]
        assert ipaddress.ip_network(v4cfg["Subnet"]).version == 4
        assert v6cfg == {"Subnet": f"{p6}/64", "Gateway": f"{p6}ffff", "IPRange": f"{p6}/96"}
        internal = json.loads(dy("network", "inspect", "v6int", check=True).stdout)[0]
        auto6 = ipaddress.ip_network(internal["IPAM"]["Config"][1]["Subnet"])
        assert auto6.prefixlen == 64 and auto6.subnet_of(ipaddress.ip_network("fd00::/8"))
        ls = dy("network", "ls", "--filter", "name=v6net", "--format", "{{.IPv6}}", check=True)
        assert ls.stdout.split() == ["true"]

        dy("run", "-d", "--name", "c1", "--network", "v6net", "--ip6", f"{p6}99", busybox,
           "sleep", "60", check=True)  # fmt: skip
        dy("run", "-d", "--name", "c2", "--network", "v6net", busybox, "sleep", "60", check=True)
        s1 = json.loads(dy("inspect", "c1", check=True).stdout)[0]["NetworkSettings"]
        e1 = s1["Networks"]["v6net"]
        assert e1["IPAMConfig"] == {"IPv6Address": f"{p6}99"}
        assert (e1["GlobalIPv6Address"], e1["GlobalIPv6PrefixLen"]) == (f"{p6}99", 64)
        assert e1["IPv6Gateway"] == f"{p6}ffff"
        e2 = json.loads(dy("inspect", "c2", check=True).stdout)[0]["NetworkSettings"]
        # The first of the range that is neither the subnet's address nor taken.
        assert e2["Networks"]["v6net"]["GlobalIPv6Address"] == f"{p6}1"
        assert e2["Networks"]["v6net"]["IPAMConfig"] is None
        attached = json.loads(dy("network", "inspect", "v6net", check=True).stdout)[0]
        assert sorted(c["IPv6Address"] for c in attached["Containers"].values()) == [
            f"{p6}1/64",
            f"{p6}99/64",
        ]

        script = (
            "cat /proc/sys/net/ipv6/conf/eth0/disable_ipv6; ip -6 route show default;"
            " ip -6 -o addr show dev eth0 scope global; grep -v ^127 /etc/hosts | tail -n 2;"
            f" ping6 -c1 -W5 {p6}ffff >/dev/null && echo gw-ok;"
            " ping6 -c1 -W5 c2 >/dev/null && echo peer-ok; nslookup -type=AAAA c2;"
            f" nslookup {p6}1"
        )
        out = dy("exec", "c1", "sh", "-c", script, check=True).stdout
        lines = out.splitlines()
        assert lines[0] == "0"
        assert lines[1].startswith(f"default via {p6}ffff dev eth0")
        # Usable at once: no duplicate address detection (not "tentative").
        assert f"inet6 {p6}99/64" in lines[2] and "tentative" not in lines[2]
        assert lines[3].split()[0] == s1["Networks"]["v6net"]["IPAddress"]
        assert lines[4].split()[0] == f"{p6}99"
        assert "gw-ok" in out and "peer-ok" in out
        assert f"Address: {p6}1" in out  # the embedded DNS answers AAAA
        assert "c2.v6net" in out  # and PTR for IPv6 addresses (ip6.arpa)

        # Connected to the internal network while running: an address, no IPv6 route
        # through it, no gateway in inspect, and its bridge forwards nothing out.
        dy("network", "connect", "--ip6", f"{auto6.network_address + 0x42}", "v6int", "c1",
           check=True)  # fmt: skip
        e1i = json.loads(dy("inspect", "c1", check=True).stdout)[0]["NetworkSettings"]["Networks"][
            "v6int"
        ]
        assert e1i["GlobalIPv6Address"] == str(auto6.network_address + 0x42)
        assert e1i["IPv6Gateway"] == "" and e1i["Gateway"] == ""
        routes = dy("exec", "c1", "ip", "-6", "route", "show", "default", check=True).stdout
        assert routes.count("default") == 1 and "eth0" in routes
        dy("run", "-d", "--name", "c3", "--network", "v6int", busybox, "sleep", "60", check=True)
        out = dy("exec", "c3", "sh", "-c", "ip -6 route show default; echo end", check=True)
        assert out.stdout.split() == ["end"]  # internal: no default route at all
        p = dy("exec", "c3", "ping6", "-c1", "-W2", f"{p6}ffff")
        assert p.returncode != 0 and "unreachable" in p.stderr + p.stdout
        bridge = "br-" + internal["Id"][:12]
        from dockyard.network.linux import nft_chains

        assert f"fwd-{bridge}" in [c["name"] for c in nft_chains("ip6")]
        import subprocess

        rules = subprocess.run(
            ["nft", "list", "chain", "ip6", "dockyard", f"fwd-{bridge}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert f'iifname "{bridge}" oifname != "{bridge}" drop' in rules
        assert f'oifname "{bridge}" iifname != "{bridge}" drop' in rules
        # No NAT for IPv6 (Docker's ip6tables NAT is opt-in): no ip6 nat chain.
        assert f"nat-{bridge}" not in [c["name"] for c in nft_chains("ip6")]

        # Addresses are checked: taken, outside the subnet, the wrong family, the
        # default bridge, a network without IPv6.
        for args, message in [
            (["--network", "v6net", "--ip6", f"{p6}99"], f"Address already in use: {p6}99"),
            (["--network", "v6net", "--ip6", "fd00:9::1"], "no configured subnet or ip-range"),
            (["--network", "v6net", "--ip6", "10.1.2.3"], "invalid IPv6 address: 10.1.2.3"),
            (["--ip6", f"{p6}5"], "supported on user defined networks only"),
            (["--network", "v6net", "--ip6", "x"], 'invalid argument "x" for "--ip6" flag'),
        ]:
            p = dy("run", "--rm", *args, busybox, "true")
            assert p.returncode == 125 and message in p.stderr, (args, p.stderr)
    finally:
        dy("rm", "-f", "c1", "c2", "c3")
        dy("network", "rm", "v6net", "v6int")
    from dockyard.network.linux import nft_chains

    assert f"fwd-br-{internal['Id'][:12]}" not in [c["name"] for c in nft_chains("ip6")]


def test_link_local_ips_on_the_default_bridge(dy: Runner, busybox: str) -> None:
    p = dy(
        "run",
        "--rm",
        *("--link-local-ip", "169.254.8.8", "--link-local-ip", "fe80::8"),
        busybox,
        "ip",
        "-o",
        "addr",
        "show",
        "dev",
        "eth0",
    )
    assert p.returncode == 0, p.stderr
    assert "inet 169.254.8.8/16" in p.stdout and "inet6 fe80::8/64" in p.stdout
    dy("create", "--name", "ll", "--link-local-ip", "169.254.8.9", busybox, "true", check=True)
    try:
        settings = json.loads(dy("inspect", "ll", check=True).stdout)[0]["NetworkSettings"]
        assert settings["Networks"]["bridge"]["IPAMConfig"] == {"LinkLocalIPs": ["169.254.8.9"]}
    finally:
        dy("rm", "ll", check=True)
    p = dy("run", "--rm", "--link-local-ip", "10.0.0.9", busybox, "true")
    assert p.returncode == 125 and "invalid link local IP address: 10.0.0.9" in p.stderr
    p = dy("run", "--rm", "--network", "none", "--link-local-ip", "fe80::9", busybox, "true")
    assert p.returncode == 125 and "--link-local-ip needs a network with addresses" in p.stderr


def test_engine_api_ipv6_network(engine_env: dict[str, str]) -> None:
    from dockyard.engine import Engine
    from dockyard.paths import Paths

    p6 = prefix(3)
    engine = Engine(Paths.from_env())
    try:
        # docker-py's test_create_network_ipv6_enabled: only an IPv6 IPAM config.
        created = engine.network_create(
            {
                "Name": "apiv6",
                "EnableIPv6": True,
                "IPAM": {
                    "Driver": "default",
                    "Config": [
                        {"Subnet": f"{p6}/64", "IPRange": f"{p6}/96", "Gateway": f"{p6}ffff"}
                    ],
                },
            }
        )
        try:
            net = engine.network_inspect(created["Id"])
            assert net["EnableIPv6"] is True and len(net["IPAM"]["Config"]) == 2
            with pytest.raises(InvalidArgument, match="one IPv6 subnet"):
                engine.network_create(
                    {
                        "Name": "two6",
                        "EnableIPv6": True,
                        "IPAM": {"Config": [{"Subnet": "fd00:1::/64"}, {"Subnet": "fd00:2::/64"}]},
                    }
                )
            with pytest.raises(Conflict, match="Pool overlaps"):
                engine.network_create(
                    {
                        "Name": "dup6",
                        "EnableIPv6": True,
                        "IPAM": {"Config": [{"Subnet": f"{p6}/80"}]},
                    }
                )
        finally:
            engine.network_delete("apiv6")
    finally:
        if "db" in engine.__dict__:
            engine.db.close()


def test_ipv6_default_route_follows_the_gateway_endpoint(dy: Runner, busybox: str) -> None:
    # moby 28: the endpoint with the highest --gw-priority supplies each family's route.
    g1, g2 = prefix(4), prefix(5)
    dy("network", "create", "--ipv6", "--subnet", f"{g1}/64", "g1", check=True)
    dy("network", "create", "--ipv6", "--subnet", f"{g2}/64", "g2", check=True)
    try:
        dy("run", "-d", "--name", "gw", "--network", "g1", busybox, "sleep", "60", check=True)
        dy("network", "connect", "--gw-priority", "5", "g2", "gw", check=True)
        route = dy("exec", "gw", "ip", "-6", "route", "show", "default", check=True).stdout
        assert route.startswith(f"default via {g2}1 dev eth1"), route
        dy("network", "disconnect", "g2", "gw", check=True)
        route = dy("exec", "gw", "ip", "-6", "route", "show", "default", check=True).stdout
        assert route.startswith(f"default via {g1}1 dev eth0"), route
    finally:
        dy("rm", "-f", "gw")
        dy("network", "rm", "g1", "g2")


@pytest.mark.slow
def test_compose_ipv6_network_and_addresses(dy: Runner, busybox: str, tmp_path: Path) -> None:
    # Compose v2's keys: networks.N.enable_ipv6, ipam.config per family (aux_addresses
    # too), services.S.networks.N.ipv6_address and link_local_ips.
    p6 = prefix(6)
    (tmp_path / "compose.yaml").write_text(
        f"""services:
  web:
    image: {busybox}
    command: ["sleep", "60"]
    networks:
      v6:
        ipv6_address: "{p6}50"
        link_local_ips: ["169.254.6.6"]
networks:
  v6:
    enable_ipv6: true
    ipam:
      config:
        - subnet: "{p6}/64"
          aux_addresses: {{router: "{p6}2"}}
"""
    )
    try:
        dy("compose", "-p", "cv6", "up", "-d", cwd=tmp_path, check=True, timeout=90)
        net = json.loads(dy("network", "inspect", "cv6_v6", check=True).stdout)[0]
        assert net["EnableIPv6"] is True
        assert net["IPAM"]["Config"][-1]["AuxiliaryAddresses"] == {"router": f"{p6}2"}
        settings = json.loads(dy("inspect", "cv6-web-1", check=True).stdout)[0]["NetworkSettings"]
        endpoint = settings["Networks"]["cv6_v6"]
        assert endpoint["IPAMConfig"] == {"IPv6Address": f"{p6}50", "LinkLocalIPs": ["169.254.6.6"]}
        assert endpoint["GlobalIPv6Address"] == f"{p6}50"
        bad = tmp_path / "bad"
        bad.mkdir()
        (bad / "compose.yaml").write_text(
            f"services:\n  s:\n    image: {busybox}\n    networks: [n]\n"
            "networks:\n  n:\n    enable_ipv4: false\n"
        )
        p = dy("compose", "-p", "bad6", "up", "-d", cwd=bad)
        assert p.returncode != 0 and "IPv4 or IPv6 must be enabled" in p.stderr, p.stderr
    finally:
        dy("compose", "-p", "cv6", "down", cwd=tmp_path)
        dy("compose", "-p", "bad6", "down", cwd=tmp_path / "bad")


def test_ipv6_only_network(dy: Runner, busybox: str) -> None:
    # Docker 28's --ipv4=false: no IPv4 on the bridge or the container; a random MAC;
    # published ports reach the container's IPv6 address through the proxy.
    p6 = prefix(7)
    dy("network", "create", "--ipv4=false", "--ipv6", "--subnet", f"{p6}/64", "only6", check=True)
    try:
        net = json.loads(dy("network", "inspect", "only6", check=True).stdout)[0]
        assert (net["EnableIPv4"], net["EnableIPv6"]) == (False, True)
        assert net["IPAM"]["Config"] == [{"Subnet": f"{p6}/64", "Gateway": f"{p6}1"}]
        dy("run", "-d", "--name", "o1", "--network", "only6", "-p", "127.0.0.1::80", busybox,
           "sh", "-c", "echo hi > /i.html; exec httpd -f -p [::]:80 -h /", check=True)  # fmt: skip
        endpoint = json.loads(dy("inspect", "o1", check=True).stdout)[0]["NetworkSettings"][
            "Networks"
        ]["only6"]
        assert (endpoint["IPAddress"], endpoint["Gateway"], endpoint["IPPrefixLen"]) == ("", "", 0)
        assert endpoint["GlobalIPv6Address"] == f"{p6}2"
        assert not endpoint["MacAddress"].startswith("02:42:")
        out = dy(
            "run", "--rm", "--network", "only6", busybox, "sh", "-c",
            "ip -4 -o addr show dev eth0 | wc -l; ip -4 route | wc -l; wget -qO- http://o1/i.html",
            check=True,
        ).stdout.split()  # fmt: skip
        assert out == ["0", "0", "hi"]
        port = dy("port", "o1", "80", check=True).stdout.split(":")[-1].strip()
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/i.html", timeout=10) as r:
            assert r.read() == b"hi\n"
        p = dy("run", "--rm", "--network", "only6", "--ip", "10.1.1.1", busybox, "true")
        assert p.returncode == 125 and "has no IPv4 (network create --ipv4=false)" in p.stderr
    finally:
        dy("rm", "-f", "o1")
        dy("network", "rm", "only6")


def test_zoned_mapped_and_repeated_addresses_refused() -> None:
    # Python's ipaddress takes an IPv6 zone (fe80::1%eth0) and IPv4-mapped addresses,
    # which Go's netip refuses and no bridge can use: each is refused naming its field.
    from dockyard.network.manager import _link_locals

    for text, flag in [("fd00:1::%eth0/64", "--subnet"), ("fd00:1::%x/80", "--ip-range")]:
        with pytest.raises(InvalidArgument, match=f'for "{flag}" flag: invalid CIDR address'):
            ipam.parse_subnet(text, flag)
    subnet = ipaddress.ip_network("fd00:1::/64")
    with pytest.raises(InvalidArgument, match="invalid gateway address: fd00:1::1%eth0"):
        ipam.make_pool(subnet, "fd00:1::1%eth0", None)
    with pytest.raises(InvalidArgument, match="invalid aux-address address: fd00:1::7%eth0"):
        ipam.make_pool(subnet, None, None, {"a": "fd00:1::7%eth0"})
    # moby's validateIPv6Subnet.
    with pytest.raises(InvalidArgument, match="'::ffff:a00:0/120' is not a valid IPv6 subnet"):
        ipam.make_pool(ipaddress.ip_network("::ffff:10.0.0.0/120"), None, None)
    # moby's normalizeEndpointIPAMConfig.
    for text in ("fd00:1::5%eth0", "::ffff:1.2.3.4", "::"):
        with pytest.raises(InvalidArgument, match=r"invalid (--ip6 address|IPv6 address)"):
            ipam.parse_address(text, "--ip6", 6)
    with pytest.raises(InvalidArgument, match="invalid link-local IP address: fe80::5%eth0"):
        ipam.check_link_local("fe80::5%eth0")
    assert _link_locals(["fe80::5", "169.254.1.1"]) == ["fe80::5", "169.254.1.1"]
    with pytest.raises(InvalidArgument, match="fe80::05: given twice .--link-local-ip."):
        _link_locals(["fe80::5", "fe80::05"])


def test_zoned_ip6_refused_before_anything_is_made(dy: Runner, busybox: str) -> None:
    # It reached the netlink request: inet_pton's message, naming nothing.
    dy("network", "create", "--ipv6", "--subnet", f"{prefix(8)}/64", "zoned", check=True)
    try:
        for flag, value in [("--ip6", f"{prefix(8)}5%eth0"), ("--link-local-ip", "fe80::5%eth0")]:
            p = dy("run", "--rm", "--network", "zoned", flag, value, busybox, "true")
            assert p.returncode == 125 and value in p.stderr and "inet_pton" not in p.stderr
        dy("create", "--name", "z1", busybox, "true", check=True)
        p = dy("network", "create", "--ipv6", "--subnet", f"{prefix(9)}/64",
               "--gateway", f"{prefix(9)}1%eth0", "zoned2")  # fmt: skip
        assert p.returncode == 1 and p.stderr.strip() == (
            f"Error response from daemon: invalid gateway address: {prefix(9)}1%eth0"
        )
        p = dy("network", "connect", "--ip6", f"{prefix(8)}7%eth0", "zoned", "z1")
        assert p.returncode == 1 and "invalid --ip6 address" in p.stderr
        # Sharing z1's namespace: endpoint settings were ignored, as host's and none's are not.
        for flag, value in [
            ("--ip6", f"{prefix(8)}9"),
            ("--link-local-ip", "fe80::9"),
            ("--network-alias", "x"),
            ("--mac-address", "02:00:00:00:00:09"),
        ]:
            p = dy("create", "--network", "container:z1", flag, value, busybox, "true")
            assert p.returncode == 1 and p.stderr.strip() == (
                f"Error response from daemon: {flag} needs a network with addresses, "
                "not container"
            )  # fmt: skip
        assert dy("ps", "-aq", check=True).stdout.split() == [dy("inspect", "-f", "{{.Id}}", "z1",
            check=True).stdout.strip()[:12]]  # fmt: skip
    finally:
        dy("rm", "-f", "z1")
        dy("network", "rm", "zoned")


def test_network_create_killed_once_its_bridge_is_up_leaves_its_chains(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    # The bridge (with the engine's alias: what marks it made) came before its nftables
    # chains, and a bridge found made was never given them: a create killed between the
    # two left a network whose containers every other network reached. Killed here the
    # moment the bridge shows up; its chains must be there already.
    import signal
    import subprocess
    import time

    from conftest import DOCKYARD, network_tag
    from dockyard.network.linux import nft_chains

    tag = network_tag(engine_env["DOCKYARD_ROOT"])
    br = f"dyk{os.getpid()}"
    sysfs = f"/sys/class/net/{br}"
    proc = subprocess.Popen(
        [
            DOCKYARD,
            "network",
            "create",
            "--ipv6",
            "--subnet",
            f"{prefix(10)}/64",
            "-o",
            f"com.docker.network.bridge.name={br}",
            "killed",
        ],  # fmt: skip
        env={**os.environ, **engine_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not os.path.exists(sysfs) and proc.poll() is None and time.monotonic() < deadline:
            pass  # a busy poll: the window was an nft exec long
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert os.path.exists(sysfs), proc.stderr.read() if proc.stderr else ""
        for family in ("ip", "ip6"):
            chains = {c["name"] for c in nft_chains(family) if c["comment"] == tag}
            assert f"fwd-{br}" in chains, (family, chains)
        # The killed create's network works and goes away whole.
        dy("run", "--rm", "--network", "killed", busybox, "true", check=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        dy("network", "rm", "killed")
