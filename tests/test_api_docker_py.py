"""docker-py 7 (PyPI ``docker``, unchanged) against Dockyard's Engine API service: the
core of what programs built on it do (version, info, run with output, detached run, logs,
exec, stop, kill, remove, images, tag, networks, volumes) and its errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_service import needs, running_service

docker = pytest.importorskip("docker")

pytestmark = pytest.mark.timeout(240)


@pytest.fixture
def client(engine_env: dict[str, str], tmp_path: Path, busybox: str) -> Iterator[object]:
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):
        c = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=60)
        try:
            yield c
        finally:
            for container in c.containers.list(all=True):
                container.remove(force=True)
            c.close()


def test_version_info_ping(client: docker.DockerClient) -> None:
    assert client.ping() is True
    assert client.version()["ApiVersion"] == "1.51"
    assert client.api.api_version == "1.51"
    assert client.info()["Images"] == 1


@needs(
    "container_create",
    "container_start",
    "container_wait",
    "container_logs",
    "container_stop",
    "container_delete",
    "exec_create",
    "exec_start",
    "exec_inspect",
)
def test_run_with_output_and_errors(client: docker.DockerClient) -> None:
    out = client.containers.run("busybox", ["sh", "-c", "echo hello"], remove=True)
    assert out == b"hello\n"
    with pytest.raises(docker.errors.ContainerError) as e:
        client.containers.run(
            "busybox", ["sh", "-c", "echo bad >&2; exit 4"], remove=True, stderr=True
        )
    assert e.value.exit_status == 4
    assert b"bad" in e.value.stderr
    with pytest.raises(docker.errors.NotFound):
        client.containers.get("nosuch")
    with pytest.raises(docker.errors.ImageNotFound):
        client.images.get("nosuch:1")


@needs(
    "container_create",
    "container_start",
    "container_wait",
    "container_logs",
    "container_stop",
    "container_delete",
    "exec_create",
    "exec_start",
    "exec_inspect",
)
def test_detached_lifecycle(client: docker.DockerClient) -> None:
    c = client.containers.run("busybox", ["sh", "-c", "echo up; sleep 60"], detach=True, name="py")
    assert c.name == "py"
    c.reload()
    assert c.status == "running"
    assert [x.name for x in client.containers.list()] == ["py"]
    exit_code, output = c.exec_run(["sh", "-c", "echo from-exec"])
    assert (exit_code, output) == (0, b"from-exec\n")
    deadline_logs = c.logs()
    assert deadline_logs == b"up\n"
    c.stop(timeout=1)
    c.reload()
    assert c.status == "exited"
    c.start()
    c.kill()
    assert c.wait()["StatusCode"] == 137
    c.remove()
    assert client.containers.list(all=True) == []


@needs(
    "image_tag",
    "image_delete",
    "network_create",
    "network_list",
    "network_delete",
    "volume_create",
    "volume_list",
    "volume_delete",
)
def test_images_networks_volumes(client: docker.DockerClient) -> None:
    image = client.images.get("busybox")
    assert "busybox:latest" in image.tags
    assert image.tag("pybox", "2") is True
    assert "pybox:2" in client.images.get("busybox").tags
    client.images.remove("pybox:2")
    assert "pybox:2" not in client.images.get("busybox").tags
    net = client.networks.create("pynet")
    assert net.name == "pynet"
    assert "pynet" in [n.name for n in client.networks.list()]
    net.remove()
    vol = client.volumes.create("pyvol", labels={"a": "b"})
    assert vol.attrs["Labels"] == {"a": "b"}
    assert [v.name for v in client.volumes.list()] == ["pyvol"]
    vol.remove()
    assert client.volumes.list() == []


def test_attach_over_websocket(client: docker.DockerClient, tmp_path: Path) -> None:
    """GET /containers/{id}/attach/ws with websocket-client (docker-py's own ws=True path
    builds an http+docker:// URL websocket-client cannot dial on a unix socket, so the
    connection is made here and handed to it)."""
    import socket

    websocket = pytest.importorskip("websocket")
    sock_path = str(tmp_path / "run" / "docker.sock")

    def connect(container: str, query: str, version: str = "1.41") -> object:
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock_path)
        url = f"ws://localhost/v{version}/containers/{container}/attach/ws?{query}"
        return websocket.create_connection(url, socket=s, timeout=20)

    api = client.api
    # Attached before the start: the whole output, as one unframed binary message.
    c = api.create_container("busybox", "sh -c 'printf out; printf err >&2'")
    ws = connect(c["Id"], "stdout=1&stderr=1&stream=1&logs=1")
    api.start(c)
    got = b""
    while len(got) < 6:
        frame = ws.recv_data()
        assert frame[0] == websocket.ABNF.OPCODE_BINARY
        got += frame[1]
    assert sorted([got[:3], got[3:]]) == [b"err", b"out"]
    assert ws.recv() == ""  # the server closes once the container has exited
    # stdin: the client's messages; API 1.27 gets text messages.
    c = api.create_container("busybox", "cat", stdin_open=True)
    api.start(c)
    ws = connect(c["Id"], "stdin=1&stdout=1&stream=1", version="1.27")
    ws.send("hello\n")
    frame = ws.recv_data()
    assert frame == (websocket.ABNF.OPCODE_TEXT, b"hello\n")
    ws.close()
    assert api.inspect_container(c)["State"]["Running"] is True  # cat runs on
    # Not a websocket handshake: 400; no such container: 404.
    with pytest.raises(docker.errors.APIError) as err:
        api._result(api._get(api._url("/containers/{0}/attach/ws", c["Id"])))
    assert err.value.status_code == 400
    with pytest.raises(websocket.WebSocketBadStatusException) as bad:
        connect("nosuch", "stdout=1")
    assert bad.value.status_code == 404


def test_network_name_with_space_and_link_names(client: docker.DockerClient) -> None:
    """Names are percent-decoded from the path (a network "test 01", as libnetwork allows
    any name that is not blank); ``DELETE /containers/PARENT/ALIAS?link=1`` removes a
    legacy link, which ``GET /containers/json`` lists among the linked container's Names."""
    api = client.api
    net = api.create_network("test 01")
    assert api.inspect_network("test 01")["Id"] == net["Id"]
    api.remove_network("test 01")
    with pytest.raises(docker.errors.APIError, match="name is empty"):
        api.create_network(" ")
    target = api.create_container("busybox", "true", name="target")
    parent = api.create_container(
        "busybox", "true", name="parent", host_config=api.create_host_config(links={"target": "db"})
    )
    names = {c["Id"]: c["Names"] for c in api.containers(all=True)}
    assert names[target["Id"]] == ["/target", "/parent/db"]
    api.remove_container("parent/db", link=True)
    assert api.inspect_container(parent)["HostConfig"]["Links"] is None
    assert [c["Names"] for c in api.containers(all=True, filters={"name": "target"})] == [
        ["/target"]
    ]
    with pytest.raises(docker.errors.NotFound):
        api.remove_container("parent/db", link=True)


def test_endpoint_settings(client: docker.DockerClient) -> None:
    """EndpointSettings through docker-py: DriverOpts and Links at create, MacAddress at
    connect (a created container), each shown by inspect."""
    api = client.api
    api.create_network("epnet")
    try:
        c = api.create_container(
            "busybox",
            "true",
            host_config=api.create_host_config(network_mode="epnet"),
            networking_config=api.create_networking_config(
                {"epnet": api.create_endpoint_config(links=[("up", "u")], driver_opt={"a": "1"})}
            ),
        )
        net = api.inspect_container(c)["NetworkSettings"]["Networks"]["epnet"]
        assert (net["Links"], net["DriverOpts"]) == (["up:u"], {"a": "1"})
        made = api.create_container("busybox", "true")
        api.connect_container_to_network(made, "epnet", mac_address="02:42:ac:11:00:02")
        net = api.inspect_container(made)["NetworkSettings"]["Networks"]["epnet"]
        assert net["MacAddress"] == "02:42:ac:11:00:02"
        with pytest.raises(docker.errors.APIError, match="for user-defined networks"):
            api.connect_container_to_network(made, "bridge", links=[("up", "u")])
    finally:
        for container in client.containers.list(all=True):
            container.remove(force=True)
        api.remove_network("epnet")


def test_logs_right_after_start(client: docker.DockerClient) -> None:
    """``logs`` at once after ``start`` has what the container wrote by then: the
    monitor's copier begins after the start returned, and the log is waited for."""
    api = client.api
    for _ in range(3):
        c = api.create_container("busybox", ["echo", "hi"])
        api.start(c)
        assert api.logs(c) == b"hi\n"


def test_build_stream_stderr_in_red(client: docker.DockerClient) -> None:
    """The classic build's JSON stream has a RUN's standard error in red, each write
    wrapped, as moby's streamformatter.NewStderrWriter."""
    import io

    script = io.BytesIO(b'FROM busybox\nRUN sh -c "echo out; sleep 0.1; echo err >&2"\n')
    stream = [c.get("stream") for c in client.api.build(fileobj=script, decode=True, rm=True)]
    assert "out\n" in stream
    assert "\x1b[91merr\n\x1b[0m" in stream


def test_build_on_a_user_defined_network(client: docker.DockerClient) -> None:
    """The classic builder's ``networkmode`` may name a user-defined network: its RUN
    steps join it and resolve its containers through the embedded DNS."""
    import io

    api = client.api
    net = api.create_network("bnet")["Id"]
    try:
        c = api.create_container(
            "busybox",
            ["sleep", "60"],
            host_config=api.create_host_config(network_mode="bnet"),
            networking_config=api.create_networking_config(
                {"bnet": api.create_endpoint_config(aliases=["target.docker"])}
            ),
        )
        api.start(c)
        script = io.BytesIO(b"FROM busybox\nRUN ping -c1 -W5 target.docker\n")
        out = list(api.build(fileobj=script, network_mode=net, tag="bnet-built", decode=True))
        assert "errorDetail" not in out[-1], out
        script.seek(0)
        out = list(api.build(fileobj=script, network_mode="none", nocache=True, decode=True))
        assert "errorDetail" in out[-1]
        # Looked up by the RUN steps only, as moby's classic builder.
        out = list(api.build(fileobj=io.BytesIO(b"FROM busybox\n"), network_mode="no", decode=True))
        assert "errorDetail" not in out[-1], out
        script.seek(0)
        out = list(api.build(fileobj=script, network_mode="no", nocache=True, decode=True))
        assert out[-1]["errorDetail"]["message"] == "network no not found"
    finally:
        for container in client.containers.list(all=True):
            container.remove(force=True)
        with contextlib.suppress(docker.errors.NotFound):
            api.remove_image("bnet-built")
        api.remove_network(net)


def test_build_error_before_any_output_is_the_status(client: docker.DockerClient) -> None:
    """A build that fails before it writes anything (an empty Dockerfile) answers with an
    error status, not a 200 stream, as moby's postBuild; later errors stay in the stream."""
    import io

    with pytest.raises(docker.errors.APIError) as e:
        list(client.api.build(fileobj=io.BytesIO(b""), tag="a/b/c"))
    assert e.value.status_code == 400, e.value
    # Linux has the default isolation only (moby's newImageBuildOptions).
    list(client.api.build(fileobj=io.BytesIO(b"FROM busybox\n"), isolation="default"))
    with pytest.raises(docker.errors.APIError, match='unsupported isolation: "hyperv"'):
        list(client.api.build(fileobj=io.BytesIO(b"FROM busybox\n"), isolation="hyperv"))
    out = list(client.api.build(fileobj=io.BytesIO(b"FROM busybox\nRUN exit 3\n"), decode=True))
    # moby's JSONError for a RUN: its exit status as the code.
    assert out[-1]["errorDetail"] == {
        "code": 3,
        "message": "The command '/bin/sh -c exit 3' returned a non-zero code: 3",
    }
