"""The Engine facade returns the Docker Engine API's objects: the keys of each response
are the API's (v1.51, moby's api/swagger.yaml, recorded in data/engine_api_v1.51_keys.json),
its required keys are all there, and errors carry the API's HTTP status."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner
from dockyard.engine import Engine
from dockyard.errors import Conflict, InvalidArgument, NotFound, NotModified, RuntimeFailure
from dockyard.paths import Paths

KEYS = json.loads((Path(__file__).parent / "data" / "engine_api_v1.51_keys.json").read_text())


def assert_shape(obj: dict[str, Any], name: str) -> None:
    """``obj`` has only keys the API defines for ``name``, and all its required ones."""
    spec = KEYS[name]
    extra = set(obj) - set(spec["properties"])
    assert not extra, f"{name}: keys the API does not define: {sorted(extra)}"
    missing = set(spec["required"]) - set(obj)
    assert not missing, f"{name}: required keys missing: {sorted(missing)}"


@pytest.fixture
def engine(engine_env: dict[str, str]) -> Iterator[Engine]:
    e = Engine(Paths.from_env())
    yield e
    if "db" in e.__dict__:
        e.db.close()


def test_errors_carry_the_api_status() -> None:
    assert NotFound("x").status_code == 404
    assert Conflict("x").status_code == 409
    assert InvalidArgument("x").status_code == 400
    assert NotModified("x").status_code == 304
    assert RuntimeFailure("exec failed", 127).status_code == 400
    assert RuntimeFailure("runtime died").status_code == 500


def test_system_objects(engine: Engine, dy: Runner, busybox: str) -> None:
    version = engine.system_version()
    assert_shape(version, "SystemVersion")
    assert version["ApiVersion"] == "1.51"
    assert version["Components"][0]["Name"] == "Engine"
    dy("create", "--name", "s1", busybox, "true", check=True)
    info = engine.system_info()
    assert_shape(info, "SystemInfo")
    assert (info["Containers"], info["ContainersStopped"], info["Images"]) == (1, 1, 1)
    assert info["ID"] == engine.system_info()["ID"] != ""
    assert engine.system_ping()["ApiVersion"] == "1.51"


def test_container_list_and_inspect(engine: Engine, dy: Runner, busybox: str) -> None:
    dy("create", "--name", "c1", "-p", "8080:80", "-l", "k=v", busybox, "true", check=True)
    assert engine.container_list() == []
    (summary,) = engine.container_list(all=True, size=True)
    assert_shape(summary, "ContainerSummary")
    assert summary["Names"] == ["/c1"]
    assert (summary["State"], summary["Status"]) == ("created", "Created")
    assert summary["Command"] == "true"
    assert summary["Labels"] == {"k": "v"}
    assert summary["SizeRw"] == 0 and summary["SizeRootFs"] > 0
    assert list(summary["NetworkSettings"]["Networks"]) == ["bridge"]
    assert engine.container_list(all=True, filters={"label": ["k=w"]}) == []
    with pytest.raises(InvalidArgument, match="invalid filter 'color'"):
        engine.container_list(filters={"color": ["red"]})

    obj = engine.container_inspect("c1")
    assert_shape(obj, "ContainerInspectResponse")
    assert_shape(obj["State"], "ContainerState")
    assert obj["Id"] == summary["Id"]
    assert obj["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert "SizeRw" not in obj and "SizeRw" in engine.container_inspect("c1", size=True)
    with pytest.raises(NotFound) as err:
        engine.container_inspect("nope")
    assert err.value.status_code == 404
    dy("rm", "c1", check=True)


def test_image_objects(engine: Engine, busybox: str) -> None:
    (summary,) = engine.image_list()
    assert_shape(summary, "ImageSummary")
    assert set(summary) == set(KEYS["ImageSummary"]["required"])
    assert summary["RepoTags"] == ["busybox:latest"]
    assert engine.image_list(filters={"reference": ["busy*"]}) == [summary]
    assert engine.image_list(filters={"reference": ["alpine"]}) == []
    assert engine.image_list(filters={"dangling": ["true"]}) == []
    obj = engine.image_inspect("busybox")
    assert_shape(obj, "ImageInspect")
    assert obj["Id"] == summary["Id"]
    with pytest.raises(NotFound, match="No such image: nope"):
        engine.image_inspect("nope")
    (item,) = engine.image_history("busybox")
    assert_shape(item, "HistoryResponseItem")
    assert (item["Id"], item["Tags"]) == (summary["Id"], ["busybox:latest"])
    engine.image_tag("busybox", "example.org/box", "1")
    assert engine.image_inspect("example.org/box:1")["Id"] == summary["Id"]
    assert engine.image_delete("example.org/box:1") == [{"Untagged": "example.org/box:1"}]
    with pytest.raises(NotFound):
        engine.image_tag("nope", "x")


def test_volume_objects(engine: Engine) -> None:
    created = engine.volume_create({"Name": "v1", "Labels": {"k": "v"}})
    assert_shape(created, "Volume")
    obj = engine.volume_inspect("v1")
    assert obj == created and obj["Labels"] == {"k": "v"}
    listed = engine.volume_list(filters={"label": ["k=v"]})
    assert_shape(listed, "VolumeListResponse")
    assert [v["Name"] for v in listed["Volumes"]] == ["v1"]
    with pytest.raises(NotFound):
        engine.volume_inspect("v2")
    with pytest.raises(InvalidArgument, match="cluster volumes"):
        engine.volume_create({"Name": "v3", "ClusterVolumeSpec": {"Group": "g"}})
    assert engine.volume_prune() == {"VolumesDeleted": None, "SpaceReclaimed": 0}
    assert engine.volume_prune({"all": ["true"]})["VolumesDeleted"] == ["v1"]


def test_network_objects(engine: Engine, busybox: str) -> None:
    request = {
        "Name": "n1",
        "Labels": {"k": "v"},
        "IPAM": {"Config": [{"Subnet": "10.231.78.0/24"}]},
    }
    created = engine.network_create(request)
    assert_shape(created, "NetworkCreateResponse")
    try:
        obj = engine.network_inspect("n1")
        assert_shape(obj, "Network")
        assert obj["Id"] == created["Id"] and obj["IPAM"]["Config"][0]["Subnet"] == "10.231.78.0/24"
        # No IPAM options in the request: null, as dockerd echoes the request's nil map.
        assert obj["IPAM"]["Options"] is None
        listed = engine.network_list(filters={"label": ["k=v"]})
        assert [n["Name"] for n in listed] == ["n1"] and listed[0]["Containers"] == {}
        with pytest.raises(InvalidArgument, match="needs an IPv6 network: add --ipv6"):
            engine.network_create({"Name": "n2", "IPAM": {"Config": [{"Subnet": "fd00:1::/64"}]}})
        engine.container_create({"Image": "busybox", "Cmd": ["true"]}, name="c1")
        engine.network_connect("n1", "c1", {"IPAMConfig": {"IPv4Address": "10.231.78.9"}})
        nets = engine.container_inspect("c1")["NetworkSettings"]["Networks"]
        assert nets["n1"]["IPAddress"] == "10.231.78.9"
        with pytest.raises(Conflict):
            engine.network_delete("n1")
        engine.network_disconnect("n1", "c1")
        engine.container_delete("c1")
        assert engine.network_prune({"label": ["k=v"]}) == {"NetworksDeleted": ["n1"]}
    finally:
        with contextlib.suppress(NotFound):
            engine.container_delete("c1", force=True)
        with contextlib.suppress(NotFound):
            engine.network_delete("n1")


def test_network_config_only_and_ipam_options(engine: Engine) -> None:
    engine.network_create(
        {
            "Name": "cfg",
            "ConfigOnly": True,
            "IPAM": {"Config": [{"Subnet": "10.231.79.0/24"}], "Options": {"o": "1"}},
        }
    )
    try:
        engine.network_create({"Name": "n2", "ConfigFrom": {"Network": "cfg"}})
        obj = engine.network_inspect("n2")
        assert_shape(obj, "Network")
        assert obj["ConfigFrom"] == {"Network": "cfg"} and obj["IPAM"]["Options"] == {"o": "1"}
        assert obj["IPAM"]["Config"][0]["Subnet"] == "10.231.79.0/24"
        with pytest.raises(Conflict, match='configuration network "cfg" is in use'):
            engine.network_delete("cfg")
        with pytest.raises(InvalidArgument, match="user specified configurations"):
            engine.network_create(
                {"Name": "n3", "ConfigFrom": {"Network": "cfg"}, "IPAM": {"Options": {"a": "b"}}}
            )
        assert engine.network_inspect("cfg")["ConfigOnly"] is True
    finally:
        with contextlib.suppress(NotFound):
            engine.network_delete("n2")
        engine.network_delete("cfg")


CLI_REQUESTS = json.loads(
    (Path(__file__).parent / "data" / "docker-cli-28-create.json").read_text()
)["requests"]


def _split(body: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    config = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    return config, body["HostConfig"], body["NetworkingConfig"]


def test_container_create_takes_the_docker_cli_request(engine: Engine, busybox: str) -> None:
    body = CLI_REQUESTS[0]["body"]  # docker run --rm busybox true
    created = engine.container_create(*_split(body), name="r1")
    assert_shape(created, "ContainerCreateResponse")
    obj = engine.container_inspect("r1")
    assert obj["Id"] == created["Id"]
    assert obj["HostConfig"]["AutoRemove"] is True
    assert obj["HostConfig"]["NetworkMode"] == "bridge"
    assert (obj["Path"], obj["Args"]) == ("true", [])
    assert engine.container_wait("r1", "not-running") == {"StatusCode": 0, "Error": None}
    engine.container_delete("r1")
    with pytest.raises(NotFound):
        engine.container_inspect("r1")

    # -it, -e, -p, -v, --entrypoint "", --restart; its network n1 does not exist.
    config, host_config, networking = _split(CLI_REQUESTS[1]["body"])
    with pytest.raises(NotFound, match="n1"):
        engine.container_create(config, host_config, networking, name="x1")
    host_config = {**host_config, "NetworkMode": "default"}
    created = engine.container_create(config, host_config, {}, name="x1")
    obj = engine.container_inspect("x1")
    assert obj["Config"]["Entrypoint"] is None and obj["Config"]["Cmd"] == ["sh", "-c", "echo"]
    assert obj["Config"]["Tty"] and obj["Config"]["OpenStdin"] and "A=1" in obj["Config"]["Env"]
    assert obj["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert obj["HostConfig"]["PortBindings"] == {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]}
    assert {m["Destination"] for m in obj["Mounts"]} == {"/x", "/anon"}
    engine.container_delete("x1", v=True)


def test_exposed_ports_without_protocol_are_tcp(engine: Engine, busybox: str) -> None:
    """Compose sends ``expose: ["9000"]`` as written; the key is ``9000/tcp`` as moby's."""
    config = {"Image": "busybox", "ExposedPorts": {"9000": {}, "53/udp": {}}}
    engine.container_create(config, {}, name="e1")
    exposed = engine.container_inspect("e1")["Config"]["ExposedPorts"]
    assert exposed == {"53/udp": {}, "9000/tcp": {}}
    engine.container_delete("e1")
    with pytest.raises(InvalidArgument, match='invalid port specification: "x"'):
        engine.container_create({**config, "ExposedPorts": {"x": {}}}, {}, name="e2")


@pytest.mark.parametrize(
    ("config", "host_config", "message"),
    [
        ({"NetworkDisabled": True}, {}, "Config.NetworkDisabled is not supported"),
        ({}, {"UTSMode": "private"}, "invalid UTS mode: private"),
        (
            {"Volumes": {"/data": {}}},
            {"VolumeDriver": "nfs"},
            'error looking up volume plugin nfs: plugin "nfs" not found',
        ),
        ({}, {"VolumeDriver": "nfs", "Binds": ["v:/data"]}, "error looking up volume plugin nfs"),
        ({}, {"VolumeRequest": 1}, "HostConfig.VolumeRequest is not supported"),
        ({}, {"KernelMemory": 1 << 20}, "Specifying a kernel memory limit is not supported"),
        ({}, {"Isolation": "hyperv"}, "Invalid isolation"),
        ({}, {"OomScoreAdj": 1001}, "range for oom score adj"),
        ({}, {"Devices": [{"PathInContainer": "/dev/x"}]}, "objects with a PathOnHost"),
        ({"StopSignal": "SIGNOPE"}, {}, "Invalid signal: SIGNOPE"),
    ],
)
def test_container_create_refuses_what_it_cannot_honour(
    engine: Engine, busybox: str, config: dict[str, Any], host_config: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        engine.container_create({"Image": "busybox", **config}, host_config, name="no")
    assert err.value.status_code == 400
    assert engine.container_list(all=True) == []


def test_container_lifecycle(engine: Engine, busybox: str) -> None:
    engine.container_create({"Image": "busybox", "Cmd": ["sleep", "30"]}, name="l1")
    engine.container_start("l1")
    with pytest.raises(NotModified):
        engine.container_start("l1")
    (summary,) = engine.container_list()
    assert summary["State"] == "running" and summary["Status"].startswith("Up ")
    top = engine.container_top("l1")
    assert_shape(top, "ContainerTopResponse")
    assert any("sleep 30" in row[-1] for row in top["Processes"])
    with pytest.raises(InvalidArgument, match="Invalid signal: NOPE"):
        engine.container_kill("l1", "NOPE")
    engine.container_stop("l1", signal="KILL", t=0)
    with pytest.raises(NotModified):
        engine.container_stop("l1")
    with pytest.raises(Conflict):
        engine.container_kill("l1")
    assert engine.container_wait("l1")["StatusCode"] == 137
    engine.container_rename("l1", "l2")
    assert [line for _, line in engine.container_logs("l2")] == []
    report = engine.container_prune()
    assert report == {"ContainersDeleted": [summary["Id"]], "SpaceReclaimed": 0}


def test_commit_of_a_container_removed_meanwhile(
    engine: Engine, dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A container removed (a real ``rm -f``) just as its commit's image is made: the
    image is the result, not 'No such container' for an image that exists (seen with
    commit and rm -f racing through -H). The wrapper only fixes the moment of the race."""
    import dockyard.container.filesystem as filesystem

    cid = dy("create", busybox, "true", check=True).stdout.strip()
    real = filesystem.commit

    def commit_then_rm(*args: Any, **kwargs: Any) -> Any:
        image = real(*args, **kwargs)
        dy("rm", "-f", cid, check=True)
        return image

    monkeypatch.setattr(filesystem, "commit", commit_then_rm)
    image = engine.image_commit(cid, "gone:v1")
    assert engine.image_inspect("gone:v1")["Id"] == image["Id"]
