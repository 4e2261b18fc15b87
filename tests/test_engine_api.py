"""The Engine facade returns the Docker Engine API's objects: the keys of each response
are the API's (v1.51, moby's api/swagger.yaml, recorded in data/engine_api_v1.51_keys.json),
its required keys are all there, and errors carry the API's HTTP status."""

from __future__ import annotations

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


def test_volume_inspect(engine: Engine, dy: Runner) -> None:
    dy("volume", "create", "v1", check=True)
    obj = engine.volume_inspect("v1")
    assert_shape(obj, "Volume")
    assert obj["Name"] == "v1"
    with pytest.raises(NotFound):
        engine.volume_inspect("v2")
    dy("volume", "rm", "v1", check=True)
