"""-p/-P/--expose through create and inspect, and ``port`` of a container not running."""

from __future__ import annotations

import json

from conftest import Runner


def test_create_records_exposed_ports_and_bindings(dy: Runner, busybox: str) -> None:
    dy(
        "create",
        "--name",
        "pt",
        "-p",
        "8080:80",
        "-p",
        "127.0.0.1::53/udp",
        "-p",
        "[::1]:9000-9001:9000-9001",
        "--expose",
        "7000",
        "-P",
        busybox,
        "true",
        check=True,
    )
    obj = json.loads(dy("inspect", "pt", check=True).stdout)[0]
    assert obj["Config"]["ExposedPorts"] == {
        "53/udp": {},
        "7000/tcp": {},
        "80/tcp": {},
        "9000/tcp": {},
        "9001/tcp": {},
    }
    # Go's maps marshal sorted by key.
    assert list(obj["Config"]["ExposedPorts"]) == sorted(obj["Config"]["ExposedPorts"])
    assert obj["HostConfig"]["PortBindings"] == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "9000/tcp": [{"HostIp": "::1", "HostPort": "9000"}],
        "9001/tcp": [{"HostIp": "::1", "HostPort": "9001"}],
    }
    assert obj["HostConfig"]["PublishAllPorts"] is True
    # Not running: no ports held, nothing listed, as Docker.
    assert obj["NetworkSettings"]["Ports"] == {}
    out = dy("port", "pt")
    assert (out.returncode, out.stdout, out.stderr) == (0, "", "")
    out = dy("container", "port", "pt", "80")
    assert out.returncode == 1
    assert out.stderr == "Error: No public port '80' published for pt\n"
    ps = dy("ps", "-a", "--format", "{{.Ports}}|{{.Names}}", check=True)
    assert ps.stdout == "|pt\n"
    dy("rm", "pt", check=True)


def test_without_ports_config_has_no_exposed_ports(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "np", busybox, "true", check=True)
    obj = json.loads(dy("inspect", "np", check=True).stdout)[0]
    assert "ExposedPorts" not in obj["Config"]
    assert obj["HostConfig"]["PortBindings"] == {}
    assert obj["HostConfig"]["PublishAllPorts"] is False
    dy("rm", "np", check=True)


def test_bad_specs_fail_before_anything_is_made(dy: Runner, busybox: str) -> None:
    for args, message in [
        (["-p", "abc"], "invalid containerPort: abc"),
        (["-p", "1.2.3:80:80"], "invalid IP address: 1.2.3"),
        (["-p", "80/xyz"], "invalid proto: xyz"),
        (["--expose", "1:2"], "invalid port format for --expose: 1:2"),
    ]:
        out = dy("run", *args, busybox, "true")
        assert out.returncode == 125, out.stderr
        assert out.stderr.splitlines()[0] == f"dockyard: {message}"
    assert dy("ps", "-aq", check=True).stdout == ""


def test_ps_filters_publish_and_expose(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "pub", "-p", "8080:80", busybox, "true", check=True)
    dy("create", "--name", "exp", "--expose", "8080/udp", busybox, "true", check=True)

    def names(*filters: str) -> list[str]:
        args = [a for f in filters for a in ("--filter", f)]
        return dy("ps", "-a", *args, "--format", "{{.Names}}", check=True).stdout.split()

    assert names("publish=80") == ["pub"]
    assert names("publish=70-90/tcp") == ["pub"]
    assert names("publish=8080") == []
    assert names("expose=80") == ["pub"]
    assert names("expose=8080/udp") == ["exp"]
    out = dy("ps", "--filter", "publish=1:2")
    assert out.returncode == 1
    assert "filter for 'publish' should not contain ':': 1:2" in out.stderr
    dy("rm", "pub", "exp", check=True)
