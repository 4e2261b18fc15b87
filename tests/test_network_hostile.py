"""Networks against bad and hostile input: subnets the host or another network uses, bridge
names of interfaces Dockyard did not make, bad MAC addresses, a full subnet, ``rm -f``
racing ``start``. Each leaves nothing behind (the autouse leak check: interfaces and nft
chains with this engine's tag, mounts, processes).

No traffic is sent: these tests only make, inspect and remove.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import DEFAULT_BIP, Runner, network_tag

pytestmark = pytest.mark.slow


def subnet(n: int) -> str:
    """A /24 of this test run's own (see tests/test_network.py)."""
    return f"10.{250 + n}.{os.getpid() % 256}.0/24"


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def names(dy: Runner, *args: str) -> list[str]:
    return dy(
        *args, "--format", "{{.Name}}" if args[0] == "network" else "{{.Names}}"
    ).stdout.split()


def test_subnet_overlapping_default_bridge_host_route_or_bad_gateway_refused(
    dy: Runner,
) -> None:
    for sub, message in (
        (DEFAULT_BIP.replace(".1/", ".0/"), "Pool overlaps with other one on this address space"),
        ("127.0.0.0/24", "overlaps the host's route to 127.0.0.0/8 on lo"),
    ):
        p = dy("network", "create", "--subnet", sub, "n1")
        assert p.returncode == 1, p.stderr
        assert p.stderr.strip() == f"Error response from daemon: {message}" or message in p.stderr
        assert len(p.stderr.strip().splitlines()) == 1
    sub = subnet(0)
    first, last = sub.replace(".0/24", ".0"), sub.replace(".0/24", ".255")
    for gw in (first, last):
        p = dy("network", "create", "--subnet", sub, "--gateway", gw, "n1")
        assert p.returncode == 1
        assert p.stderr.strip() == (
            f"Error response from daemon: failed to allocate gateway ({gw}): Address already in use"
        )
    assert names(dy, "network", "ls") == ["bridge", "host", "none"]


def test_bridge_name_of_a_foreign_interface_is_never_taken_or_deleted(
    dy: Runner, busybox: str
) -> None:
    opt = "com.docker.network.bridge.name"
    p = dy("network", "create", "-o", f"{opt}=lo", "n1")
    assert p.returncode == 1 and "already has an interface named lo" in p.stderr
    bridge = f"dyh{os.getpid() % 100000}"
    dy("network", "create", "--subnet", subnet(0), "-o", f"{opt}={bridge}", "n1", check=True)
    try:
        p = dy("network", "create", "--subnet", subnet(1), "-o", f"{opt}={bridge}", "n2")
        assert p.returncode == 1 and "networks have same bridge name" in p.stderr
        assert "n2" not in names(dy, "network", "ls")
        # The bridge is gone (a reboot) and someone else's interface took its name.
        subprocess.run(["ip", "link", "del", bridge], check=True)
        subprocess.run(
            ["ip", "link", "add", bridge, "type", "veth", "peer", "name", bridge + "b"], check=True
        )
        try:
            p = dy("run", "--rm", "--network", "n1", busybox, "true")
            assert p.returncode == 125
            assert f"the host has an interface named {bridge} that Dockyard did not make" in (
                p.stderr
            )
            assert not os.listdir(os.environ["DOCKYARD_RUNROOT"] + "/netns")
            assert dy("network", "rm", "n1", check=True).stdout.split() == ["n1"]
            assert link_exists(bridge)  # not Dockyard's: left alone
        finally:
            subprocess.run(["ip", "link", "del", bridge], check=False)
    finally:
        dy("network", "rm", "n1")


def test_network_rm_leaves_another_engines_bridge_and_chains(
    dy: Runner, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    """A record naming another engine's bridge (made before bridge names were checked)
    must not take that bridge or its chains down with it."""
    from dockyard.engine import Engine
    from dockyard.network.linux import nft_chains
    from dockyard.network.store import Network, now
    from dockyard.paths import Paths

    bridge = f"dyo{os.getpid() % 100000}"
    opt = f"com.docker.network.bridge.name={bridge}"
    dy("network", "create", "--subnet", subnet(0), "-o", opt, "mine", check=True)
    other = Paths(str(tmp_path / "other"), str(tmp_path / "other-run"))
    engine = Engine(other)
    config = {"subnet": subnet(1), "gateway": subnet(1).replace(".0/24", ".1"), "bridge": bridge}
    engine.networks.store.add(Network(os.urandom(32).hex(), "old", "bridge", now(), config))
    try:
        p = subprocess.run(
            [str(Path(sys.executable).parent / "dockyard"), "network", "rm", "old"],
            env={**os.environ, "DOCKYARD_ROOT": other.root, "DOCKYARD_RUNROOT": other.runroot},
            capture_output=True,
            text=True,
            check=False,
        )
        assert p.returncode == 0, p.stderr
        assert link_exists(bridge)
        tag = network_tag(engine_env["DOCKYARD_ROOT"])
        assert {c["name"] for c in nft_chains() if c["comment"] == tag} >= {
            f"fwd-{bridge}",
            f"nat-{bridge}",
        }
    finally:
        dy("network", "rm", "mine")


def test_mac_address_forms(dy: Runner, busybox: str) -> None:
    dy("network", "create", "--subnet", subnet(0), "n1", check=True)
    try:
        for mac in ("01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00", "02:42:zz"):
            p = dy("create", "--network", "n1", "--mac-address", mac, busybox, "true")
            assert p.returncode == (125 if p.stderr.startswith("dockyard: ") else 1), p.stderr
            assert f"{mac} is not a valid mac address" in p.stderr
        assert names(dy, "ps", "-a") == []
        p = dy(
            "run",
            "--rm",
            "--network",
            "n1",
            "--mac-address",
            "02-42-AA-BB-CC-0D",
            busybox,
            "cat",
            "/sys/class/net/eth0/address",
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.strip() == "02:42:aa:bb:cc:0d"
    finally:
        dy("network", "rm", "n1")


def test_full_subnet_and_connect_twice(dy: Runner, busybox: str) -> None:
    net_id = dy(
        "network", "create", "--subnet", subnet(0).replace("/24", "/29"), "tiny", check=True
    )
    try:
        for i in range(5):  # .2 to .6: .0, .1 (gateway) and .7 are reserved
            dy("create", "--name", f"c{i}", "--network", "tiny", busybox, "true", check=True)
        p = dy("run", "--name", "over", "--network", "tiny", busybox, "true")
        assert p.returncode == 125
        assert (
            "Error response from daemon: no available IPv4 addresses on this network's "
            f"address pools: tiny ({net_id.stdout.strip()})"
        ) in p.stderr
        assert "over" not in names(dy, "ps", "-a")
        assert not os.path.exists(os.environ["DOCKYARD_RUNROOT"] + "/netns") or not os.listdir(
            os.environ["DOCKYARD_RUNROOT"] + "/netns"
        )
        containers = json.loads(dy("network", "inspect", "tiny", check=True).stdout)[0]
        assert len(containers["Containers"]) == 5
        p = dy("network", "connect", "tiny", "c0")
        assert p.returncode == 1
        assert p.stderr.strip() == (
            "Error response from daemon: endpoint with name c0 already exists in network tiny"
        )
    finally:
        dy("rm", "-f", *(f"c{i}" for i in range(5)))
        dy("network", "rm", "tiny")


def test_rm_force_during_start_leaves_nothing(dy: Runner, busybox: str) -> None:
    """``rm -f`` while ``start`` is between taking the container's lock and recording it
    running used to find it not running, remove its record and leave the started process,
    its monitor and its veth behind."""
    dy("network", "create", "--subnet", subnet(0), "n1", check=True)
    try:
        for i, delay in enumerate(k * 0.03 for k in range(12)):
            dy("create", "--name", f"r{i}", "--network", "n1", busybox, "sleep", "60", check=True)
            start = subprocess.Popen(
                [str(Path(sys.executable).parent / "dockyard"), "start", f"r{i}"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(delay)
            dy("rm", "-f", f"r{i}", check=True)
            start.wait(timeout=30)
        assert names(dy, "ps", "-a") == []
    finally:
        dy("rm", "-f", *(f"r{i}" for i in range(12)))
        dy("network", "rm", "n1")


def test_link_bad_format_or_off_the_default_bridge(dy: Runner, busybox: str) -> None:
    for link in ("a:b:c", ":x", "a:"):
        p = dy("create", "--link", link, busybox, "true")
        assert p.returncode == 125
        assert f'invalid argument "{link}" for "--link" flag: bad format for links: {link}' in (
            p.stderr
        )
        assert "Traceback" not in p.stderr
    dy("network", "create", "--subnet", subnet(0), "n1", check=True)
    try:
        dy("create", "--name", "onhost", "--network", "host", busybox, "true", check=True)
        dy("create", "--name", "onnet", "--network", "n1", busybox, "true", check=True)
        dy("create", "--name", "onbridge", busybox, "sleep", "60", check=True)
        for target in ("onhost", "onnet"):
            p = dy("create", "--link", f"{target}:t", busybox, "true")
            assert p.returncode == 1
            assert (
                f"Cannot link to /{target}, as it does not belong to the default network"
                in p.stderr
            )
        # A link to a container that does not run fails at start, as moby's.
        p = dy("run", "--rm", "--name", "lk", "--link", "onbridge:t", busybox, "true")
        assert p.returncode == 125
        assert "Cannot link to a non running container: /onbridge AS /lk/t" in p.stderr
        dy("start", "onbridge", check=True)
        p = dy("run", "--rm", "--link", "onbridge:t", busybox, "grep", "-w", "t", "/etc/hosts")
        assert p.returncode == 0, p.stderr
        assert names(dy, "ps", "-a") == ["onbridge", "onnet", "onhost"]
    finally:
        dy("rm", "-f", "onhost", "onnet", "onbridge")
        dy("network", "rm", "n1")


def test_prune_filters_until_and_labels(dy: Runner) -> None:
    dy("network", "create", "--subnet", subnet(0), "--label", "keep=1", "n1", check=True)
    dy("network", "create", "--subnet", subnet(1), "--label", "tier=a", "n2", check=True)
    try:
        p = dy("network", "prune", "-f", "--filter", "name=n1")
        assert p.returncode == 1
        assert p.stderr.strip() == "Error response from daemon: invalid filter 'name'"
        p = dy("network", "prune", "-f", "--filter", "until")  # docker/cli 28's flag error
        assert p.returncode == 125 and p.stderr.startswith(
            'invalid argument "until" for "--filter" flag: bad format of filter '
            "(expected name=value)\n\nUsage:  dockyard network prune [OPTIONS]\n"
        )
        assert dy("network", "prune", "-f", "--filter", "until=1h", check=True).stdout == ""
        p = dy("network", "prune", "-f", "--filter", "label!=keep", check=True)
        assert p.stdout == "Deleted Networks:\nn2\n"
        p = dy("network", "prune", "-f", "--filter", "label=keep=1", "--filter", "until=0s")
        assert p.stdout == "Deleted Networks:\nn1\n"
        assert names(dy, "network", "ls") == ["bridge", "host", "none"]
    finally:
        dy("network", "rm", "n1", "n2")


def test_default_bridge_settings_that_cannot_work_refused(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """``$DOCKYARD_BIP``/``$DOCKYARD_BRIDGE`` (dockerd's --bip/--bridge) overlapping a host
    route, another bridge, another engine's default bridge or a network are refused when
    a container would use the default bridge, with one clear error; nothing is made."""
    own_bridge, own_bip = engine_env["DOCKYARD_BRIDGE"], engine_env["DOCKYARD_BIP"]
    dy("run", "--rm", busybox, "true", check=True)  # this run's default bridge exists
    dy("network", "create", "--subnet", subnet(0), "n1", check=True)
    bridge = f"dyb{os.getpid() % 100000}"
    own_net = own_bip.replace(".1/24", ".0/24")
    try:
        for name, bip, message in (
            (bridge, "127.0.0.1/24", "overlaps the host's route to 127.0.0.0/8 on lo"),
            (
                bridge,
                own_bip.replace(".1/24", ".129/25"),
                f"overlaps the host's route to {own_net} on {own_bridge}",
            ),
            (bridge, subnet(0).replace(".0/24", ".1/16"), f"overlaps network n1 ({subnet(0)})"),
            (
                own_bridge,
                own_bip.replace("/24", "/25"),
                f"does not match {own_bip}, the address of the default bridge {own_bridge}",
            ),
            ("lo", subnet(1).replace(".0/", ".1/"), "DOCKYARD_BRIDGE lo: the host has an"),
        ):
            engine_env.update(DOCKYARD_BRIDGE=name, DOCKYARD_BIP=bip)
            p = dy("run", "--rm", busybox, "true")
            assert p.returncode == 125, p.stderr
            first = p.stderr.splitlines()[0]
            assert message in first and "Traceback" not in p.stderr, p.stderr
            assert first.startswith("dockyard: Error response from daemon: DOCKYARD_"), first
            assert not link_exists(bridge)
            assert dy("ps", "-aq", check=True).stdout == ""
            assert not os.listdir(engine_env["DOCKYARD_RUNROOT"] + "/netns")
    finally:
        engine_env.update(DOCKYARD_BRIDGE=own_bridge, DOCKYARD_BIP=own_bip)
        dy("network", "rm", "n1")
