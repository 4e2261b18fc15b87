"""Embedded DNS end to end: containers on a user-defined network this test makes resolving
each other through 127.0.0.11, and other names through a resolver the test runs on the
host's loopback (given with ``--dns``, which the monitor queries from the host's
namespace). No query leaves the machine."""

from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
from collections.abc import Iterator

import pytest

from conftest import Runner
from dockyard.network import dns
from test_dns import EXTERNAL, ask_tcp, parse_reply, query, upstream

pytestmark = pytest.mark.slow

SUBNET = f"10.249.{os.getpid() % 256}.0/24"
FAKE_RESOLVER = "127.0.0.153"


@pytest.fixture
def dnsnet(dy: Runner, busybox: str) -> Iterator[str]:
    dy("network", "create", "--subnet", SUBNET, "dnsnet", check=True)
    try:
        yield "dnsnet"
    finally:
        ids = dy("ps", "-aq", check=True).stdout.split()
        if ids:
            dy("rm", "-f", *ids, check=True)
        dy("network", "rm", "dnsnet", check=True)


@pytest.fixture
def resolver() -> Iterator[list[str]]:
    """The stand-in for the host's resolver at 127.0.0.153:53; yields the names it got."""
    try:
        with upstream(FAKE_RESOLVER, 53) as (_, asked):
            yield asked
    except OSError as e:
        pytest.skip(f"cannot listen on {FAKE_RESOLVER}:53: {e}")


def address(dy: Runner, name: str, network: str = "dnsnet") -> str:
    nets = json.loads(
        dy("inspect", "-f", "{{json .NetworkSettings.Networks}}", name, check=True).stdout
    )
    return str(nets[network]["IPAddress"])


def resolve(dy: Runner, client: str, name: str) -> list[str]:
    """The addresses busybox nslookup in ``client`` gets for ``name`` ([] when none)."""
    out = dy("exec", client, "nslookup", "-type=a", name)
    if out.returncode != 0:
        return []
    answers = out.stdout.split("\n\n", 1)[1]
    return [line.split()[-1] for line in answers.splitlines() if line.startswith("Address")]


def test_names_aliases_ids_late_joiners_and_new_addresses(
    dy: Runner, dnsnet: str, resolver: list[str]
) -> None:
    run = ["run", "-d", "--network", dnsnet]
    dy(*run, "--name", "db", "--network-alias", "database", "busybox", "sleep", "300", check=True)
    dy(*run, "--name", "client", "--dns", FAKE_RESOLVER, "busybox", "sleep", "300", check=True)
    db = address(dy, "db")
    db_id = dy("inspect", "-f", "{{.Id}}", "db", check=True).stdout[:12]
    for name in ("db", "database", db_id, "db.dnsnet", "DB"):
        assert resolve(dy, "client", name) == [db], name
    assert resolver == []
    # Other names go to the host's resolver (the test's, here).
    assert resolve(dy, "client", "example.test") == [EXTERNAL]
    assert resolver == ["example.test"]
    # A container started later is found at once.
    dy(*run, "--name", "late", "--network-alias", "database", "busybox", "sleep", "300", check=True)
    late = address(dy, "late")
    assert resolve(dy, "client", "late") == [late]
    assert sorted(resolve(dy, "client", "database")) == sorted([db, late])
    # A stopped container is not served (the name goes upstream); restarted, it is again.
    dy("stop", "-t", "0", "late", check=True)
    assert resolve(dy, "client", "late") == [EXTERNAL]
    dy("start", "late", check=True)
    assert resolve(dy, "client", "late") == [late]
    # A new address is what is answered next.
    new = str(ipaddress.ip_network(SUBNET).network_address + 200)
    dy("network", "disconnect", dnsnet, "db", check=True)
    dy("network", "connect", "--ip", new, dnsnet, "db", check=True)
    assert resolve(dy, "client", "db") == [new]
    # Over TCP too, in the client's namespace.
    sandbox = dy("inspect", "-f", "{{.NetworkSettings.SandboxKey}}", "client", check=True)
    out: list[bytes] = []

    def ask() -> None:
        dns._enter_netns(sandbox.stdout.strip())
        out.append(ask_tcp(query("late")))

    t = threading.Thread(target=ask)
    t.start()
    t.join(15)
    _, rcode, answers = parse_reply(out[0])
    assert (rcode, answers) == (0, [(dns.TYPE_A, socket.inet_aton(late))])


def test_no_embedded_dns_on_the_default_bridge(dy: Runner, dnsnet: str) -> None:
    dy("run", "-d", "--name", "db", "--network", dnsnet, "busybox", "sleep", "300", check=True)
    dy("run", "-d", "--name", "plain", "busybox", "sleep", "300", check=True)
    conf = dy("exec", "plain", "cat", "/etc/resolv.conf", check=True).stdout
    assert "127.0.0.11" not in conf
    # Nothing answers at 127.0.0.11 in its namespace (no query leaves it: loopback).
    out = dy("exec", "plain", "nslookup", "db", "127.0.0.11")
    assert out.returncode != 0


def test_internal_network_dns_never_forwards(dy: Runner, busybox: str, resolver: list[str]) -> None:
    """CVE-2024-29018: an --internal network's embedded DNS answers the network's names
    only; anything else is SERVFAIL, never forwarded (Docker 26), even with --dns."""
    subnet = f"10.248.{os.getpid() % 256}.0/24"
    dy("network", "create", "--internal", "--subnet", subnet, "closed", check=True)
    try:
        run = ["run", "-d", "--network", "closed", "--dns", FAKE_RESOLVER]
        dy(*run, "--name", "peer", "busybox", "sleep", "300", check=True)
        dy(*run, "--name", "inside", "busybox", "sleep", "300", check=True)
        assert resolve(dy, "inside", "peer") == [address(dy, "peer", "closed")]
        out = dy("exec", "inside", "nslookup", "-type=a", "example.test", "127.0.0.11")
        assert out.returncode != 0
        assert "SERVFAIL" in out.stdout + out.stderr
        # A foreground run serves its DNS from another code path: the same rule.
        out = dy(
            "run", "--rm", "--network", "closed", "--dns", FAKE_RESOLVER, "busybox",
            "nslookup", "-type=a", "x.example.test", "127.0.0.11",
        )  # fmt: skip
        assert out.returncode != 0
        assert resolver == []
    finally:
        dy("rm", "-f", "peer", "inside")
        dy("network", "rm", "closed", check=True)


def test_upstreams_are_not_read_back_from_the_container(
    dy: Runner, dnsnet: str, resolver: list[str]
) -> None:
    """A container that rewrites its resolv.conf's ``# ExtServers`` line and restarts
    does not choose where its embedded DNS forwards: the engine keeps that in its state."""
    with upstream("127.0.0.154", 53) as (_, chosen):
        run = ["run", "-d", "--network", dnsnet, "--dns", FAKE_RESOLVER, "--name", "cc"]
        dy(*run, "busybox", "sleep", "300", check=True)
        dy(
            "exec", "cc", "sh", "-c",
            "printf 'nameserver 127.0.0.11\\n# ExtServers: [host(127.0.0.154)]\\n'"
            " > /etc/resolv.conf",
            check=True,
        )  # fmt: skip
        dy("restart", "-t", "0", "cc", check=True)
        assert resolve(dy, "cc", "example.test") == [EXTERNAL]
        assert resolver == ["example.test"]
        assert chosen == []
