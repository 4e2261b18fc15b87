"""Networks end to end: the default bridge, user-defined bridges, IPAM, connectivity, the
host/none/container/macvlan/ipvlan drivers, connect/disconnect and cleanup.

Traffic goes only to containers on bridges the test made, after ``ip route get`` shows the
route to them goes through that bridge; nothing is sent off the machine.
"""

from __future__ import annotations

import concurrent.futures
import ipaddress
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import DEFAULT_BIP, DEFAULT_BRIDGE, Runner, need, network_tag

pytestmark = pytest.mark.slow


def subnet(n: int) -> str:
    """A /24 of this test run's own (10.250-255.<pid>.0/24), so concurrent runs on one machine
    never make bridges with overlapping subnets."""
    return f"10.{250 + n}.{os.getpid() % 256}.0/24"


def host(net: str, last: int) -> str:
    return str(ipaddress.ip_network(net).network_address + last)


def inspect(dy: Runner, name: str, fmt: str) -> str:
    return dy("inspect", "-f", fmt, name, check=True).stdout.strip()


def networks(dy: Runner, name: str) -> dict:
    return dict(json.loads(inspect(dy, name, "{{json .NetworkSettings.Networks}}")))


def address(dy: Runner, name: str, network: str) -> str:
    return str(networks(dy, name)[network]["IPAddress"])


def bridge_of(dy: Runner, network: str) -> str:
    net = json.loads(dy("network", "inspect", network, check=True).stdout)[0]
    return net["Options"].get("com.docker.network.bridge.name") or "br-" + net["Id"][:12]


def route_dev(addr: str) -> str:
    out = subprocess.run(
        ["ip", "-json", "route", "get", addr], capture_output=True, text=True, check=True
    )
    return str(json.loads(out.stdout)[0]["dev"])


def host_ping(addr: str, bridge: str) -> bool:
    """Ping a container from the host, once the route to it is known to use ``bridge``."""
    assert route_dev(addr) == bridge
    busybox = need("busybox")
    return (
        subprocess.run([busybox, "ping", "-c", "1", "-W", "2", addr], check=False).returncode == 0
    )


def nft_table() -> str:
    return subprocess.run(
        ["nft", "list", "table", "ip", "dockyard"], capture_output=True, text=True, check=False
    ).stdout


def our_interfaces(tag: str) -> list[str]:
    """Host interfaces whose alias is ``tag``."""
    found = []
    for name in os.listdir("/sys/class/net"):
        try:
            if Path(f"/sys/class/net/{name}/ifalias").read_text().strip() == tag:
                found.append(name)
        except OSError:
            continue
    return found


def until(cond: Callable[[], bool], timeout: float = 5) -> bool:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def test_default_bridge(dy: Runner, busybox: str) -> None:
    gateway = DEFAULT_BIP.split("/")[0]
    subnet = ipaddress.ip_network(DEFAULT_BIP, strict=False)
    p = dy(
        "run",
        "--rm",
        busybox,
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route; cat /etc/hosts",
        check=True,
    )
    addr = p.stdout.split("inet ")[1].split("/")[0]
    assert ipaddress.ip_address(addr) in subnet
    assert f"default via {gateway} dev eth0" in p.stdout
    assert p.stdout.rstrip().endswith(f"{addr}\t" + p.stdout.rstrip().split("\t")[-1])
    # Made on first use; like docker0 it stays, shared by the engines of the host.
    alias = Path(f"/sys/class/net/{DEFAULT_BRIDGE}/ifalias").read_text().strip()
    assert alias == "dockyard default bridge"

    dy("run", "-d", "--name", "web1", busybox, "sleep", "60", check=True)
    try:
        _check_web1(dy, gateway, subnet)
    finally:
        dy("rm", "-f", "web1", check=True)


def _check_web1(dy: Runner, gateway: str, subnet: ipaddress.IPv4Network) -> None:
    addr = address(dy, "web1", "bridge")
    assert inspect(dy, "web1", "{{.NetworkSettings.IPAddress}}") == addr
    assert inspect(dy, "web1", "{{.NetworkSettings.Gateway}}") == gateway
    mac = "02:42:" + ":".join(f"{int(b):02x}" for b in addr.split("."))
    assert inspect(dy, "web1", "{{.NetworkSettings.MacAddress}}") == mac
    assert inspect(dy, "web1", "{{.HostConfig.NetworkMode}}") == "bridge"
    assert host_ping(addr, DEFAULT_BRIDGE)
    net = json.loads(dy("network", "inspect", "bridge", check=True).stdout)[0]
    assert net["IPAM"]["Config"] == [{"Subnet": str(subnet), "Gateway": gateway}]
    (cid,) = net["Containers"]
    assert net["Containers"][cid]["IPv4Address"] == f"{addr}/{subnet.prefixlen}"
    assert f'ip saddr {subnet} oifname != "{DEFAULT_BRIDGE}" masquerade' in nft_table()


def test_user_network_connectivity_and_isolation(dy: Runner, busybox: str) -> None:
    netid = dy("network", "create", "front", check=True).stdout.strip()
    dy("network", "create", "back", check=True)
    try:
        ls = dy("network", "ls", check=True).stdout.splitlines()
        assert ls[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
        assert [line.split()[1] for line in ls[1:]] == ["back", "bridge", "front", "host", "none"]
        assert netid[:12] in dy("network", "ls", "-q", check=True).stdout.split()
        front = json.loads(dy("network", "inspect", "front", check=True).stdout)[0]
        back = json.loads(dy("network", "inspect", "back", check=True).stdout)[0]
        s1 = ipaddress.ip_network(front["IPAM"]["Config"][0]["Subnet"])
        s2 = ipaddress.ip_network(back["IPAM"]["Config"][0]["Subnet"])
        assert not s1.overlaps(s2) and s1.prefixlen == 16

        dy("run", "-d", "--name", "f1", "--network", "front", busybox, "sleep", "60", check=True)
        dy("run", "-d", "--name", "b1", "--network", "back", busybox, "sleep", "60", check=True)
        f1, b1 = address(dy, "f1", "front"), address(dy, "b1", "back")
        assert ipaddress.ip_address(f1) in s1 and ipaddress.ip_address(b1) in s2
        p = dy("run", "--rm", "--network", "front", busybox, "ping", "-c", "1", "-W", "2", f1)
        assert p.returncode == 0, p.stdout + p.stderr
        assert (
            "nameserver 127.0.0.11"
            in dy(
                "run", "--rm", "--network", "front", busybox, "cat", "/etc/resolv.conf", check=True
            ).stdout
        )
        assert host_ping(f1, "br-" + netid[:12])
        # Bridge networks are isolated from each other, as Docker's.
        p = dy("exec", "b1", "ping", "-c", "1", "-W", "1", f1)
        assert p.returncode != 0
        table = nft_table()
        assert (
            f'iifname "br-{netid[:12]}" oifname != "br-{netid[:12]}" oifname "br-*" drop' in table
        )
        assert f'ip saddr {s1} oifname != "br-{netid[:12]}" masquerade' in table

        p = dy("network", "rm", "front")
        assert p.returncode == 1
        assert "has active endpoints" in p.stderr
        assert dy("network", "rm", "bridge").stderr.strip() == (
            "Error response from daemon: bridge is a pre-defined network and cannot be removed"
        )
        dy("rm", "-f", "f1", "b1", check=True)
        assert dy("network", "rm", "front", "back", check=True).stdout.split() == ["front", "back"]
        assert not link_exists("br-" + netid[:12])
        assert f"br-{netid[:12]}" not in nft_table()
    finally:
        dy("rm", "-f", "f1", "b1")
        dy("network", "rm", "front", "back")


def test_create_options_filters_and_prune(dy: Runner, busybox: str) -> None:
    sub = subnet(0)
    rng = host(sub, 64) + "/26"
    dy(
        "network",
        "create",
        "--subnet",
        sub,
        "--gateway",
        host(sub, 254),
        "--ip-range",
        rng,
        "--label",
        "tier=db",
        "--internal",
        "inner",
        check=True,
    )
    try:
        net = json.loads(dy("network", "inspect", "inner", check=True).stdout)[0]
        assert net["IPAM"]["Config"] == [{"Subnet": sub, "Gateway": host(sub, 254), "IPRange": rng}]
        assert net["Internal"] is True and net["Labels"] == {"tier": "db"}
        p = dy("network", "create", "--subnet", host(sub, 128) + "/25", "other")
        assert p.returncode == 1 and "Pool overlaps" in p.stderr
        p = dy("network", "create", "inner")
        assert "network with name inner already exists" in p.stderr
        p = dy(
            "run",
            "--rm",
            "--network",
            "inner",
            busybox,
            "sh",
            "-c",
            "ip -o -4 addr show eth0; ip route",
        )
        assert f"inet {host(sub, 64)}/24" in p.stdout and "default" not in p.stdout
        p = dy(
            "run",
            "--rm",
            "--network",
            "inner",
            "--ip",
            host(sub, 9),
            busybox,
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
            "eth0",
        )
        assert f"inet {host(sub, 9)}/24" in p.stdout
        table = nft_table()
        br = bridge_of(dy, "inner")
        assert f'iifname "{br}" oifname != "{br}" drop' in table
        assert f"ip saddr {sub}" not in table  # no masquerade on --internal
        names = dy(
            "network", "ls", "--filter", "label=tier=db", "--format", "{{.Name}}", check=True
        )
        assert names.stdout == "inner\n"
        assert (
            dy(
                "network",
                "ls",
                "-f",
                "type=custom",
                "--format",
                "{{.Name}} {{.Internal}}",
                check=True,
            ).stdout
            == "inner true\n"
        )
        assert (
            dy("network", "ls", "-f", "driver=null", "--format", "{{.Name}}", check=True).stdout
            == "none\n"
        )
        dy("create", "--name", "holder", "--network", "inner", busybox, "true", check=True)
        assert dy("network", "prune", "-f", check=True).stdout == ""
        dy("rm", "holder", check=True)
        assert dy("network", "prune", "-f", check=True).stdout == "Deleted Networks:\ninner\n"
        assert not link_exists(br)
    finally:
        dy("rm", "-f", "holder")
        dy("network", "rm", "inner")


def test_fixed_and_released_addresses(dy: Runner, busybox: str) -> None:
    sub = subnet(1)
    dy("network", "create", "--subnet", sub, "fixed", check=True)
    try:
        dy(
            "create",
            "--name",
            "c1",
            "--network",
            "fixed",
            "--ip",
            host(sub, 50),
            busybox,
            "true",
            check=True,
        )
        p = dy(
            "create", "--name", "c2", "--network", "fixed", "--ip", host(sub, 50), busybox, "true"
        )
        assert p.returncode == 1 and "Address already in use" in p.stderr
        assert dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout == "c1\n"
        p = dy("create", "--network", "fixed", "--ip", "10.9.9.9", busybox, "true")
        assert p.returncode == 1 and "no configured subnet" in p.stderr
        p = dy("create", "--ip", "172.17.0.9", busybox, "true")
        assert "user specified IP address is supported on user defined networks only" in p.stderr
        dy("create", "--name", "c3", "--network", "fixed", busybox, "true", check=True)
        assert address(dy, "c3", "fixed") == host(sub, 2)
        dy("rm", "c3", check=True)
        dy("create", "--name", "c4", "--network", "fixed", busybox, "true", check=True)
        assert address(dy, "c4", "fixed") == host(sub, 2)  # released by rm, handed out again
        dy("rm", "c1", "c4", check=True)
    finally:
        dy("rm", "-f", "c1", "c3", "c4")
        dy("network", "rm", "fixed")


def test_twenty_concurrent_runs_get_distinct_addresses(dy: Runner, busybox: str) -> None:
    dy("network", "create", "many", check=True)
    names = [f"many{i}" for i in range(20)]
    try:
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            procs = list(
                pool.map(
                    lambda n: dy(
                        "run",
                        "-d",
                        "--name",
                        n,
                        "--network",
                        "many",
                        busybox,
                        "sleep",
                        "60",
                        timeout=120,
                    ),
                    names,
                )
            )
        assert all(p.returncode == 0 for p in procs), [p.stderr for p in procs if p.returncode]
        addrs = [address(dy, n, "many") for n in names]
        assert len(set(addrs)) == 20
        net = json.loads(dy("network", "inspect", "many", check=True).stdout)[0]
        assert len(net["Containers"]) == 20
        macs = {c["MacAddress"] for c in net["Containers"].values()}
        assert len(macs) == 20
    finally:
        dy("rm", "-f", *names, timeout=120)
        dy("network", "rm", "many")


def test_connect_and_disconnect_running_container(dy: Runner, busybox: str) -> None:
    sub = subnet(2)
    dy("network", "create", "--subnet", sub, "extra", check=True)
    try:
        dy("run", "-d", "--name", "cc", busybox, "sleep", "60", check=True)
        dy("network", "connect", "--ip", host(sub, 7), "--alias", "db", "extra", "cc", check=True)
        p = dy("exec", "cc", "ip", "-o", "-4", "addr", "show", "eth1", check=True)
        assert f"inet {host(sub, 7)}/24" in p.stdout
        assert networks(dy, "cc")["extra"]["Aliases"] == ["db"]
        ps = dy("ps", "--format", "{{.Names}} {{.Networks}}", "-f", "network=extra", check=True)
        assert ps.stdout == "cc bridge,extra\n"
        p = dy("network", "connect", "extra", "cc")
        assert p.returncode == 1 and "already exists" in p.stderr
        assert host_ping(host(sub, 7), bridge_of(dy, "extra"))
        dy("network", "disconnect", "extra", "cc", check=True)
        assert dy("exec", "cc", "ls", "/sys/class/net", check=True).stdout.split() == ["eth0", "lo"]
        p = dy("network", "disconnect", "extra", "cc")
        assert p.returncode == 1 and "is not connected to network extra" in p.stderr
        # A stopped container gets the interface at its next start.
        dy("create", "--name", "later", "--network", "none", busybox, "true", check=True)
        p = dy("network", "connect", "extra", "later")
        assert p.returncode == 1 and "private (none) mode" in p.stderr
        dy("create", "--name", "later2", busybox, "ls", "/sys/class/net", check=True)
        dy("network", "connect", "extra", "later2", check=True)
        assert dy("start", "-a", "later2", check=True).stdout.split() == ["eth0", "eth1", "lo"]
        dy("rm", "-f", "cc", "later", "later2", check=True)
    finally:
        dy("rm", "-f", "cc", "later", "later2")
        dy("network", "rm", "extra")


def test_run_with_several_networks(dy: Runner, busybox: str) -> None:
    """Docker 25+: every --network is attached in order (eth0 is the first, with the default
    route); --ip and --network-alias go to the first; built-in modes do not mix."""
    sub, sub2 = subnet(3), subnet(4)
    dy("network", "create", "--subnet", sub, "tnet", check=True)
    dy("network", "create", "--subnet", sub2, "tnet2", check=True)
    try:
        dy(
            "run",
            "-d",
            "--name",
            "multi",
            "--network",
            "tnet",
            "--network",
            "tnet2",
            "--ip",
            host(sub, 9),
            "--network-alias",
            "m",
            busybox,
            "sleep",
            "60",
            check=True,
        )
        nets = networks(dy, "multi")
        assert sorted(nets) == ["tnet", "tnet2"]
        assert nets["tnet"]["IPAddress"] == host(sub, 9)
        assert "m" in nets["tnet"]["Aliases"] and "m" not in (nets["tnet2"]["Aliases"] or [])
        assert inspect(dy, "multi", "{{.HostConfig.NetworkMode}}") == "tnet"
        for ifname, addr in (("eth0", host(sub, 9)), ("eth1", address(dy, "multi", "tnet2"))):
            p = dy("exec", "multi", "ip", "-o", "-4", "addr", "show", ifname, check=True)
            assert f"inet {addr}/24" in p.stdout
        p = dy("exec", "multi", "ip", "route", "show", "default", check=True)
        assert p.stdout.split()[:5] == ["default", "via", host(sub, 1), "dev", "eth0"]
        assert host_ping(address(dy, "multi", "tnet2"), bridge_of(dy, "tnet2"))
        ps = dy("ps", "--format", "{{.Networks}}", "-f", "name=multi", check=True)
        assert ps.stdout == "tnet,tnet2\n"
        refusals = [
            (["tnet", "tnet"], 'network "tnet" is specified multiple times'),
            (["tnet", "host"], "cannot attach both user-defined and non-user-defined"),
            (["bridge", "tnet"], "cannot attach both user-defined and non-user-defined"),
            (["host", "none"], "connected to host network"),
            (["bridge", "none"], "private (none) mode"),
            (["container:multi", "bridge"], "container type network can't be used"),
        ]
        for modes, message in refusals:
            flags = [arg for mode in modes for arg in ("--network", mode)]
            p = dy("create", "--name", "refused", *flags, busybox, "true")
            # The CLI's own refusals exit 125, the daemon's errors to create 1.
            code = 125 if p.stderr.startswith("dockyard: ") else 1
            assert p.returncode == code and message in p.stderr, (modes, p.stderr)
        assert "refused" not in dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout
        dy("rm", "-f", "multi", check=True)
        assert not dy("network", "inspect", "-f", "{{json .Containers}}", "tnet2").stdout.count(
            "multi"
        )
    finally:
        dy("rm", "-f", "multi", "refused")
        dy("network", "rm", "tnet", "tnet2")


def test_host_network_has_the_hosts_name_and_hosts_file(dy: Runner, busybox: str) -> None:
    """Docker: --network host gives the host's hostname (unless -h) and /etc/hosts."""
    p = dy("run", "--rm", "--network", "host", busybox, "cat", "/etc/hostname", check=True)
    assert p.stdout == socket.gethostname() + "\n"
    p = dy("run", "--rm", "--network", "host", busybox, "hostname", check=True)
    assert p.stdout == socket.gethostname() + "\n"
    p = dy("run", "--rm", "--network", "host", busybox, "cat", "/etc/hosts", check=True)
    assert p.stdout == Path("/etc/hosts").read_text()
    p = dy("run", "--rm", "--network", "host", "-h", "own", busybox, "cat", "/etc/hostname")
    assert p.stdout == "own\n"
    dy("create", "--name", "hostnet", "--network", "host", busybox, "true", check=True)
    try:
        assert inspect(dy, "hostnet", "{{.Config.Hostname}}") == socket.gethostname()
    finally:
        dy("rm", "-f", "hostnet")


def test_host_none_and_container_modes(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "--network", "none", busybox, "ls", "/sys/class/net", check=True)
    assert p.stdout.split() == ["lo"]
    # The host's namespace (its interface list changes under concurrent test runs).
    p = dy("run", "--rm", "--network", "host", busybox, "readlink", "/proc/self/ns/net", check=True)
    assert p.stdout.strip() == os.readlink("/proc/self/ns/net")
    dy("run", "-d", "--name", "owner", busybox, "sleep", "60", check=True)
    try:
        addr = address(dy, "owner", "bridge")
        p = dy(
            "run",
            "--rm",
            "--network",
            "container:owner",
            busybox,
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
            "eth0",
            check=True,
        )
        assert f"inet {addr}/" in p.stdout
        owner_id = inspect(dy, "owner", "{{.Id}}")
        dy(
            "create",
            "--name",
            "joiner",
            "--network",
            "container:owner",
            busybox,
            "true",
            check=True,
        )
        assert inspect(dy, "joiner", "{{.HostConfig.NetworkMode}}") == f"container:{owner_id}"
        p = dy("create", "--network", "container:owner", "--hostname", "x", busybox, "true")
        assert p.returncode == 1 and "conflicting options" in p.stderr
        dy("stop", "-t", "0", "owner", check=True)
        p = dy("start", "joiner")
        assert p.returncode != 0 and "non running container" in p.stderr
    finally:
        dy("rm", "-f", "owner", "joiner")


def test_etc_files_flags(dy: Runner, busybox: str) -> None:
    dy("run", "-d", "--name", "db1", busybox, "sleep", "60", check=True)
    try:
        db = address(dy, "db1", "bridge")
        db_id = inspect(dy, "db1", "{{.Id}}")
        p = dy(
            "run",
            "--rm",
            "--hostname",
            "box",
            "--add-host",
            "extra.example:10.1.2.3",
            "--dns",
            "10.0.0.53",
            "--dns-search",
            "corp.example",
            "--dns-option",
            "ndots:2",
            "--link",
            "db1:db",
            busybox,
            "sh",
            "-c",
            "cat /etc/hosts /etc/resolv.conf; hostname",
            check=True,
        )
        assert "10.1.2.3\textra.example\n" in p.stdout
        assert f"{db}\tdb {db_id[:12]} db1\n" in p.stdout
        assert "nameserver 10.0.0.53\nsearch corp.example\noptions ndots:2\n" in p.stdout
        assert p.stdout.endswith("box\n")
        p = dy(
            "run", "--rm", "--mac-address", "02:42:0A:0B:0C:0D", busybox,
            "cat", "/sys/class/net/eth0/address",
            check=True,
        )  # fmt: skip
        assert p.stdout == "02:42:0a:0b:0c:0d\n"
        p = dy("run", "--rm", "--add-host", "bad", busybox, "true")
        assert p.returncode == 125 and '"--add-host"' in p.stderr
        p = dy("run", "--rm", "--dns", "nope", busybox, "true")
        assert p.returncode == 125 and "IP address is not correctly formatted: nope" in p.stderr
    finally:
        dy("rm", "-f", "db1")


def test_cleanup_after_killed_monitor_and_restart(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    from test_monitor import _monitor_pid

    dy("network", "create", "--subnet", subnet(3), "life", check=True)
    try:
        dy(
            "run",
            "-d",
            "--name",
            "lv",
            "--network",
            "life",
            "--restart",
            "always",
            busybox,
            "sleep",
            "60",
            check=True,
        )
        addr = address(dy, "lv", "life")
        cid = inspect(dy, "lv", "{{.Id}}")
        netns = Path(engine_env["DOCKYARD_RUNROOT"]) / "netns" / cid
        assert netns.exists()
        dy("restart", "-t", "0", "lv", check=True)
        assert address(dy, "lv", "life") == addr
        assert (
            dy("exec", "lv", "ip", "-o", "-4", "addr", "show", "eth0", check=True).stdout.count(
                addr
            )
            == 1
        )
        os.kill(_monitor_pid(engine_env["DOCKYARD_RUNROOT"], cid), signal.SIGKILL)
        assert dy("system", "boot", check=True).stdout.split() == ["lv"]
        assert (
            dy("exec", "lv", "ip", "-o", "-4", "addr", "show", "eth0", check=True).stdout.count(
                addr
            )
            == 1
        )
        assert host_ping(addr, bridge_of(dy, "life"))
        os.kill(_monitor_pid(engine_env["DOCKYARD_RUNROOT"], cid), signal.SIGKILL)
        dy("rm", "-f", "lv", check=True)
        assert not netns.exists()
        # The kernel destroys the namespace, and with it the veth pair, in the background.
        tag = network_tag(engine_env["DOCKYARD_ROOT"])
        assert until(lambda: not [n for n in our_interfaces(tag) if n.startswith("veth")])
    finally:
        dy("rm", "-f", "lv")
        dy("network", "rm", "life")


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_external_runtimes_join_the_namespace(dy: Runner, busybox: str, runtime: str) -> None:
    need(runtime)
    p = dy(
        "run",
        "--rm",
        "--runtime",
        runtime,
        busybox,
        "ip",
        "-o",
        "-4",
        "addr",
        "show",
        "eth0",
        check=True,
    )
    addr = p.stdout.split("inet ")[1].split("/")[0]
    assert ipaddress.ip_address(addr) in ipaddress.ip_network(DEFAULT_BIP, strict=False)


@pytest.fixture
def parent_veth() -> Iterator[str]:
    """A veth pair made for the test (its first end is the parent interface)."""
    name = f"dyp{os.getpid() % 100000}"
    subprocess.run(
        ["ip", "link", "add", name, "type", "veth", "peer", "name", name + "b"], check=True
    )
    # Both ends up: a veth without its peer up has no carrier, nor do macvlans on it.
    subprocess.run(["ip", "link", "set", name + "b", "up"], check=True)
    subprocess.run(["ip", "link", "set", name, "up"], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "link", "del", name], check=False)


def test_macvlan_on_a_veth_parent(dy: Runner, busybox: str, parent_veth: str) -> None:
    sub = subnet(4)
    dy(
        "network",
        "create",
        "-d",
        "macvlan",
        "-o",
        f"parent={parent_veth}",
        "--subnet",
        sub,
        "mv",
        check=True,
    )
    try:
        dy("run", "-d", "--name", "m1", "--network", "mv", busybox, "sleep", "60", check=True)
        m1 = address(dy, "m1", "mv")
        assert m1 == host(sub, 2)
        p = dy(
            "run",
            "--rm",
            "--network",
            "mv",
            busybox,
            "sh",
            "-c",
            f"ip -o link show eth0; ping -c 1 -W 2 {m1}",
        )
        assert p.returncode == 0, p.stdout + p.stderr
        assert "macvlan" in p.stdout or "@" in p.stdout
        p = dy("network", "create", "-d", "macvlan", "-o", "parent=nosuchif0", "mv2")
        assert p.returncode == 1 and "parent=nosuchif0" in p.stderr
        dy("rm", "-f", "m1", check=True)
    finally:
        dy("rm", "-f", "m1")
        dy("network", "rm", "mv")


def _ipvlan_supported(parent: str) -> bool:
    probe = subprocess.run(
        ["ip", "link", "add", "link", parent, "name", "dyprobe0", "type", "ipvlan", "mode", "l2"],
        capture_output=True,
        check=False,
    )
    if probe.returncode == 0:
        subprocess.run(["ip", "link", "del", "dyprobe0"], check=False)
    return probe.returncode == 0


def test_ipvlan_without_kernel_support_fails_clearly(dy: Runner, parent_veth: str) -> None:
    if _ipvlan_supported(parent_veth):
        pytest.skip("this kernel has ipvlan: the missing-support error cannot happen")
    p = dy("network", "create", "-d", "ipvlan", "-o", f"parent={parent_veth}", "iv")
    assert p.returncode == 1
    assert "ipvlan driver needs kernel support for ipvlan devices (CONFIG_IPVLAN" in p.stderr
    assert "iv" not in dy("network", "ls", "--format", "{{.Name}}", check=True).stdout.split()


def test_ipvlan_l2(dy: Runner, busybox: str, parent_veth: str) -> None:
    if not _ipvlan_supported(parent_veth):
        pytest.skip("this kernel has no ipvlan support (CONFIG_IPVLAN)")
    sub = subnet(5)
    dy(
        "network",
        "create",
        "-d",
        "ipvlan",
        "-o",
        f"parent={parent_veth}",
        "--subnet",
        sub,
        "iv",
        check=True,
    )
    try:
        p = dy(
            "run",
            "--rm",
            "--network",
            "iv",
            busybox,
            "ip",
            "-o",
            "-4",
            "addr",
            "show",
            "eth0",
            check=True,
        )
        assert f"inet {host(sub, 2)}/24" in p.stdout
    finally:
        dy("network", "rm", "iv")
