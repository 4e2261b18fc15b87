"""Port specs, ``--expose`` and the displays, against the Docker CLI's own results."""

from __future__ import annotations

import pytest

from dockyard.cli.formatting import displayable_ports, port_command_lines
from dockyard.errors import InvalidArgument
from dockyard.nat import parse_expose, parse_port_spec, parse_publish
from dockyard.network.ports import Mapping, api_ports, planned_mappings


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("80", [("80/tcp", "", "")]),
        ("8080:80", [("80/tcp", "", "8080")]),
        ("127.0.0.1:8080:80", [("80/tcp", "127.0.0.1", "8080")]),
        ("127.0.0.1::80", [("80/tcp", "127.0.0.1", "")]),
        ("53:53/udp", [("53/udp", "", "53")]),
        ("53:53/UDP", [("53/udp", "", "53")]),
        ("80/", [("80/tcp", "", "")]),
        (":80", [("80/tcp", "", "")]),
        ("[::1]:8080:80", [("80/tcp", "::1", "8080")]),
        ("::1:8080:80", [("80/tcp", "::1", "8080")]),
        ("[::1]::80", [("80/tcp", "::1", "")]),
        (
            "8000-8002:9000-9002",
            [("9000/tcp", "", "8000"), ("9001/tcp", "", "8001"), ("9002/tcp", "", "8002")],
        ),
        ("8000-8002:80", [("80/tcp", "", "8000-8002")]),
        ("7000-7001", [("7000/tcp", "", ""), ("7001/tcp", "", "")]),
        ("published=8080,target=80", [("80/tcp", "", "8080")]),
        ("published=53,target=53,protocol=udp", [("53/udp", "", "53")]),
    ],
)
def test_port_spec_forms(spec: str, expected: list[tuple[str, str, str]]) -> None:
    got = [(k, b["HostIp"], b["HostPort"]) for k, b in parse_port_spec(spec)]
    assert got == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        # The messages `docker run -p SPEC` (Docker CLI 28) prints.
        ("abc", "invalid containerPort: abc"),
        ("65536", "invalid containerPort: 65536"),
        ("80-79", "invalid containerPort: 80-79"),
        ("1:2:3:4", "invalid IP address: 1:2"),
        ("1.2.3:80:80", "invalid IP address: 1.2.3"),
        (
            "8000-8002:80-81",
            "invalid ranges specified for container and host Ports: 80-81 and 8000-8002",
        ),
        ("80/xyz", "invalid proto: xyz"),
        ("8000-7000:80", "invalid hostPort: 8000-7000"),
        ("x=1,y", "invalid publish opts format (should be name=value but got 'y')"),
        ("8080:", "no port specified: 8080:<empty>"),
        ("[::1:80:80", "invalid IP address [::1: address [::1:: missing ']' in address"),
    ],
)
def test_port_spec_errors(spec: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        parse_port_spec(spec)
    assert str(e.value) == message


def test_publish_merges_bindings_per_port() -> None:
    exposed, bindings = parse_publish(["8080:80", "127.0.0.1:9090:80", "53/udp"])
    assert exposed == ["80/tcp", "53/udp"]
    assert bindings == {
        "80/tcp": [
            {"HostIp": "", "HostPort": "8080"},
            {"HostIp": "127.0.0.1", "HostPort": "9090"},
        ],
        "53/udp": [{"HostIp": "", "HostPort": ""}],
    }


def test_expose() -> None:
    assert parse_expose(["80", "53/udp", "9000-9002", "80"]) == [
        "80/tcp",
        "53/udp",
        "9000/tcp",
        "9001/tcp",
        "9002/tcp",
    ]
    with pytest.raises(InvalidArgument, match=r"^invalid port format for --expose: 1:2$"):
        parse_expose(["1:2"])
    with pytest.raises(InvalidArgument) as e:
        parse_expose(["9-8"])
    assert str(e.value) == (
        "invalid range format for --expose: 9-8, error: invalid range specified for port: 9-8"
    )


def test_planned_mappings_with_publish_all() -> None:
    config = {"ExposedPorts": {"80/tcp": {}, "443/tcp": {}, "53/udp": {}}}
    host_config = {
        "PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8000-8002"}]},
        "PublishAllPorts": True,
    }
    assert planned_mappings(config, host_config) == [
        Mapping("udp", 53, "", 0, 0),
        Mapping("tcp", 80, "127.0.0.1", 8000, 8002),
        Mapping("tcp", 443, "", 0, 0),
    ]
    assert planned_mappings(config, {"PortBindings": {}}) == []


def _ports(*items: tuple[str, str, str] | str) -> list[dict]:
    ports: dict[str, list[dict[str, str]] | None] = {}
    for item in items:
        if isinstance(item, str):
            ports[item] = None
        else:
            key, ip, hp = item
            ports.setdefault(key, []).append({"HostIp": ip, "HostPort": hp})  # type: ignore[union-attr]
    return api_ports(ports)


def test_ps_ports_column() -> None:
    assert displayable_ports(_ports(("80/tcp", "0.0.0.0", "8080"))) == "0.0.0.0:8080->80/tcp"
    assert (
        displayable_ports(_ports(("80/tcp", "0.0.0.0", "8080"), ("80/tcp", "::", "8080")))
        == "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp"
    )
    # Same numbers on both sides group into one range.
    ranged = _ports(*((f"{p}/tcp", "0.0.0.0", str(p)) for p in (8000, 8001, 8002)))
    assert displayable_ports(ranged) == "0.0.0.0:8000-8002->8000-8002/tcp"
    assert displayable_ports(_ports("80/tcp", "81/tcp", "53/udp")) == "53/udp, 80-81/tcp"
    assert displayable_ports([]) == ""


def test_port_command_lines() -> None:
    ports = {
        "80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}, {"HostIp": "::", "HostPort": "8080"}],
        "9/udp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}],
        "443/tcp": None,
    }
    assert port_command_lines(ports, None, "c") == [
        "9/udp -> 0.0.0.0:32768",
        "80/tcp -> 0.0.0.0:8080",
        "80/tcp -> [::]:8080",
    ]
    assert port_command_lines(ports, "80", "c") == ["0.0.0.0:8080", "[::]:8080"]
    assert port_command_lines(ports, "9/udp", "c") == ["0.0.0.0:32768"]
    with pytest.raises(InvalidArgument) as e:
        port_command_lines(ports, "443", "c")
    assert str(e.value) == "Error: No public port '443' published for c"
    with pytest.raises(InvalidArgument, match=r"^Error: invalid port \(x\)"):
        port_command_lines(ports, "x", "c")
