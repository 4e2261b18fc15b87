"""Endpoint settings beyond addresses, as Docker 28 has them: legacy link environment
variables (only with DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS=1), links on a
user-defined network (DNS aliases only the linking container resolves), driver options
kept and shown, and ``--gw-priority`` choosing the
endpoint that supplies the default route."""

from __future__ import annotations

import json

import pytest

from conftest import Runner
from dockyard.errors import InvalidArgument
from test_network import address, host, networks, subnet

pytestmark = pytest.mark.timeout(180)


def test_legacy_link_env_only_when_asked(
    dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    dy(
        "run", "-d", "--name", "db", "-e", "FOO=1", "--expose", "5432", "--expose", "5433",
        "--expose", "53/udp", busybox, "sleep", "60",
        check=True,
    )  # fmt: skip
    try:
        p = dy("run", "--rm", "--link", "db:my-db", busybox, "env", check=True)
        assert "MY_DB_" not in p.stdout  # Docker 28 sets none by default
        monkeypatch.setenv("DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS", "1")
        p = dy("run", "--rm", "--name", "web", "--link", "db:my-db", busybox, "env", check=True)
        db = address(dy, "db", "bridge")
        lines = p.stdout.splitlines()
        # moby's links.ToEnv, in its order: TCP first; a run of ports gets START/END
        # once the next port breaks it (here the UDP one).
        assert [line for line in lines if line.startswith("MY_DB_")] == [
            f"MY_DB_PORT=tcp://{db}:5432",
            f"MY_DB_PORT_5432_TCP=tcp://{db}:5432",
            f"MY_DB_PORT_5432_TCP_ADDR={db}",
            "MY_DB_PORT_5432_TCP_PORT=5432",
            "MY_DB_PORT_5432_TCP_PROTO=tcp",
            f"MY_DB_PORT_5433_TCP=tcp://{db}:5433",
            f"MY_DB_PORT_5433_TCP_ADDR={db}",
            "MY_DB_PORT_5433_TCP_PORT=5433",
            "MY_DB_PORT_5433_TCP_PROTO=tcp",
            f"MY_DB_PORT_53_UDP=udp://{db}:53",
            f"MY_DB_PORT_53_UDP_ADDR={db}",
            "MY_DB_PORT_53_UDP_PORT=53",
            "MY_DB_PORT_53_UDP_PROTO=udp",
            f"MY_DB_PORT_5432_TCP_START=tcp://{db}:5432",
            "MY_DB_PORT_5432_TCP_PORT_START=5432",
            f"MY_DB_PORT_5432_TCP_END=tcp://{db}:5433",
            "MY_DB_PORT_5432_TCP_PORT_END=5433",
            "MY_DB_NAME=/web/my-db",
            "MY_DB_ENV_FOO=1",
        ]
    finally:
        dy("rm", "-f", "db")


def test_endpoint_links_driver_opts_mac_and_gw_priority(dy: Runner, busybox: str) -> None:
    sub_a, sub_b = subnet(0), subnet(1)
    dy("network", "create", "--subnet", sub_a, "neta", check=True)
    dy("network", "create", "--subnet", sub_b, "netb", check=True)
    try:
        # --link on a user-defined network: the endpoint's Links, an alias in the DNS of
        # this container only; the target need not exist yet.
        dy(
            "run", "-d", "--name", "app", "--network", "netb", "--link", "upstream:up",
            busybox, "sleep", "60",
            check=True,
        )  # fmt: skip
        assert networks(dy, "app")["netb"]["Links"] == ["upstream:up"]
        assert json.loads(dy("inspect", "app", check=True).stdout)[0]["HostConfig"]["Links"] is None
        dy(
            "run",
            "-d",
            "--name",
            "upstream",
            "--network",
            "netb",
            busybox,
            "sleep",
            "60",
            check=True,
        )
        p = dy("exec", "app", "nslookup", "up", check=True)
        assert address(dy, "upstream", "netb") in p.stdout
        p = dy("run", "--rm", "--network", "netb", busybox, "nslookup", "up")
        assert p.returncode != 0  # nobody else resolves the alias
        # Driver options Dockyard's drivers do not act on are kept, as Docker's built-in
        # drivers keep and ignore them; the ones they act on and Dockyard does not are refused.
        p = dy("network", "connect", "--driver-opt", "com.docker.network.endpoint.ifname=x0",
               "neta", "app")  # fmt: skip
        assert p.returncode == 1 and "interface names are not supported" in p.stderr
        # A higher gateway priority takes the default route from netb (it sorts after
        # neta by name, but neta's endpoint was not there yet).
        gw_b = host(sub_b, 1)
        assert default_route(dy, "app")[:3] == ["default", "via", gw_b]
        dy("network", "connect", "--driver-opt", "k=v", "--gw-priority", "-1", "neta", "app",
           check=True)  # fmt: skip
        assert default_route(dy, "app")[:3] == ["default", "via", gw_b]  # priority -1 < 0
        nets = networks(dy, "app")
        assert (nets["neta"]["DriverOpts"], nets["neta"]["GwPriority"]) == ({"k": "v"}, -1)
        dy("network", "disconnect", "netb", "app", check=True)
        assert default_route(dy, "app")[:5] == ["default", "via", host(sub_a, 1), "dev", "eth1"]
        dy("network", "connect", "--gw-priority", "5", "netb", "app", check=True)
        assert default_route(dy, "app")[:3] == ["default", "via", gw_b]
        # At start the order is moby's: priority, then the network's name.
        dy("restart", "-t", "0", "app", check=True)
        assert default_route(dy, "app")[:3] == ["default", "via", gw_b]
    finally:
        dy("rm", "-f", "app", "upstream")
        dy("network", "rm", "neta", "netb")


def default_route(dy: Runner, container: str) -> list[str]:
    """The words of ``container``'s default route (busybox ``ip route`` lists them all)."""
    p = dy("exec", container, "ip", "route", check=True)
    return next((line.split() for line in p.stdout.splitlines() if line.startswith("default")), [])


def test_system_check_removes_options_of_gone_endpoints(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """An endpoint's options row whose endpoint was deleted (a killed removal) is debris
    ``system check`` reports and ``--repair`` deletes."""
    import sqlite3
    from pathlib import Path

    dy("network", "create", "--subnet", subnet(2), "ck", check=True)
    try:
        dy(
            "create",
            "--name",
            "cc",
            "--network",
            "ck",
            "--link",
            "x:y",
            busybox,
            "true",
            check=True,
        )
        with sqlite3.connect(Path(engine_env["DOCKYARD_ROOT"]) / "state.db") as db:
            db.execute("DELETE FROM endpoints WHERE container_id IN (SELECT id FROM containers)")
        p = dy("system", "check")
        assert "endpoint_options" in p.stdout, p.stdout
        dy("system", "check", "--repair")
        p = dy("system", "check")
        assert "endpoint_options" not in p.stdout, p.stdout
    finally:
        dy("rm", "-f", "cc")
        dy("network", "rm", "ck")


def test_driver_opts_and_gw_priority_refused_as_docker_cli() -> None:
    # docker/cli's convertDriverOpt over pflag's comma-separated string slice: a value
    # without "=" was kept as KEY with an empty value.
    from dockyard.cli.networks import _driver_opts
    from dockyard.network.manager import endpoint_options
    from dockyard.network.store import Network

    assert _driver_opts(("a=1,b = 2", '"c= x,y "')) == {"a": "1", "b": "2", "c": "x,y"}
    for bad in ("bad", "=v", " =v", "a=1,b"):
        with pytest.raises(InvalidArgument, match="invalid key/value pair format in driver"):
            _driver_opts((bad,))
    net = Network("n" * 64, "n", "bridge", "2026-01-01T00:00:00Z")
    assert endpoint_options(net, {"GwPriority": -(1 << 63)}) == {"GwPriority": -(1 << 63)}
    for huge in (1 << 63, -(1 << 63) - 1, 99999999999999999999):
        with pytest.raises(InvalidArgument, match="GwPriority of type int .--gw-priority."):
            endpoint_options(net, {"GwPriority": huge})


def test_gw_priority_out_of_range_flag(dy: Runner) -> None:
    p = dy("network", "connect", "--gw-priority", "99999999999999999999", "n", "c")
    assert p.returncode == 125 and "'--gw-priority'" in p.stderr and "range" in p.stderr


def test_endpoint_settings_and_ipam_config_of_the_wrong_json_type() -> None:
    # They reached the engine unchecked: an internal error (TypeError, AttributeError),
    # or worse Aliases "x" taken as the list of its characters.
    from dockyard.api import schema

    def message(call: object, body: object) -> str:
        with pytest.raises(InvalidArgument) as e:
            call(body)  # type: ignore[operator]
        return str(e.value)

    prefix = "invalid JSON: json: cannot unmarshal "
    for settings, field, go in [
        ({"IPAMConfig": {"IPv6Address": 5}}, "IPAMConfig.IPv6Address", "number"),
        ({"IPAMConfig": "x"}, "IPAMConfig", "string"),
        ({"MacAddress": 5}, "MacAddress", "number"),
        ({"Aliases": "x"}, "Aliases", "string"),
        ({"Links": [5]}, "Links", "number"),
        ({"DriverOpts": []}, "DriverOpts", "array"),
        ({"GwPriority": 1 << 63}, "GwPriority", f"number {1 << 63}"),
    ]:
        body = {"Container": "c", "EndpointConfig": settings}
        assert message(schema.network_connect, body).startswith(
            f"{prefix}{go} into Go struct field ConnectRequest.EndpointConfig.{field} "
        )
        body = {"Image": "i", "NetworkingConfig": {"EndpointsConfig": {"n": settings}}}
        assert message(schema.create_request, body).startswith(
            f"{prefix}{go} into Go struct field CreateRequest.NetworkingConfig.EndpointsConfig."
            f"{field} "
        )
    body = {"Image": "i", "NetworkingConfig": {"EndpointsConfig": {"n": "x"}}}
    assert "EndpointsConfig of type struct" in message(schema.create_request, body)
    for config, field in [
        ([{"Subnet": 5}], "IPAM.Config.Subnet of type string"),
        ([{"AuxiliaryAddresses": "x"}], "IPAM.Config.AuxiliaryAddresses of type map"),
        (["x"], "IPAM.Config of type struct"),
        ({"Subnet": "fd00::/64"}, "IPAM.Config of type []struct"),
    ]:
        body = {"Name": "n", "IPAM": {"Config": config}}
        assert field in message(schema.network_create, body)
    ok = {"Name": "n", "IPAM": {"Config": [{"Subnet": "fd00::/64", "AuxiliaryAddresses": {}}]}}
    assert schema.network_create(ok) == ok
