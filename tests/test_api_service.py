"""The Engine API service itself (``dockyard system service``): listening, the socket's
mode, routing with and without version prefixes, ping headers, errors as Docker returns
them, bad input (malformed JSON, wrong types, oversized bodies, slow clients), idle exit,
socket activation, and loopback-only TCP without TLS."""

from __future__ import annotations

import grp
import json
import os
import socket
import ssl
import stat
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from api_service import needs, raw_request, running_service, wait_for_socket
from conftest import DOCKYARD, Runner


@pytest.fixture
def sock(tmp_path: Path) -> str:
    return str(tmp_path / "run" / "api.sock")


def client(path: str) -> httpx.Client:
    return httpx.Client(
        transport=httpx.HTTPTransport(uds=path), base_url="http://docker", timeout=30
    )


def test_socket_mode_ping_version_info(engine_env: dict[str, str], sock: str) -> None:
    with running_service(engine_env, sock), client(sock) as c:
        st = os.stat(sock)
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        try:
            assert st.st_gid == grp.getgrnam("docker").gr_gid
        except KeyError:
            assert st.st_gid == 0
        for prefix in ("", "/v1.24", "/v1.41", "/v1.51"):
            r = c.get(f"{prefix}/_ping")
            assert r.status_code == 200, r.text
            assert r.text == "OK"
            assert r.headers["Api-Version"] == "1.51"
            assert r.headers["Builder-Version"] == "1"
            assert r.headers["Docker-Experimental"] == "false"
            assert r.headers["Ostype"] == "linux"
        r = c.head("/_ping")
        assert r.status_code == 200 and r.content == b""
        assert r.headers["Api-Version"] == "1.51"
        version = c.get("/v1.41/version").json()
        assert version["ApiVersion"] == "1.51" and version["MinAPIVersion"] == "1.24"
        info = c.get("/info").json()
        assert info["DockerRootDir"] == engine_env["DOCKYARD_ROOT"]
        assert info["Containers"] == 0
    assert not os.path.exists(sock), "the service removes its socket when it stops"


def test_errors_as_docker_answers_them(engine_env: dict[str, str], sock: str) -> None:
    with running_service(engine_env, sock), client(sock) as c:
        r = c.get("/v1.99/info")
        assert r.status_code == 400
        assert r.json() == {
            "message": "client version 1.99 is too new. Maximum supported API version is 1.51"
        }
        r = c.get("/v1.12/info")
        assert r.status_code == 400
        assert r.json()["message"].startswith(
            "client version 1.12 is too old. Minimum supported API version is 1.24"
        )
        r = c.get("/nothing/here")
        assert r.status_code == 404 and r.json() == {"message": "page not found"}
        r = c.get("/containers/nosuch/json")
        assert r.status_code == 404
        assert r.json()["message"] == "No such container: nosuch"
        r = c.post("/v1.41/session")
        assert r.status_code == 501
        assert r.json() == {"message": "POST /session: not implemented by Dockyard (Session)"}
        r = c.post("/containers/x/update", json={})
        assert r.status_code == 404 and r.json()["message"] == "No such container: x"
        r = c.post("/containers/x/update", json={"Memory": "lots"})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "invalid JSON: json: cannot unmarshal string into Go struct field "
            "UpdateConfig.Memory of type int64"
        )
        r = c.delete("/version")
        assert r.status_code == 405
        r = c.post("/swarm/leave", params={"force": "1"})
        assert r.status_code == 503
        assert r.json() == {"message": "This node is not part of a swarm"}
        assert c.get("/services").status_code == 503
        r = c.get("/containers/json", params={"filters": "{not json"})
        assert r.status_code == 400
        assert r.json()["message"].startswith("invalid filter")


def test_bad_bodies_make_nothing(engine_env: dict[str, str], sock: str, dy: Runner) -> None:
    with running_service(engine_env, sock), client(sock) as c:
        headers = {"Content-Type": "application/json"}
        r = c.post("/containers/create", content=b'{"Image": "busybox",', headers=headers)
        assert r.status_code == 400
        assert r.json()["message"].startswith("invalid JSON: ")
        r = c.post("/containers/create", content=b'{"Image": "busybox"} {}', headers=headers)
        assert r.status_code == 400 and r.json()["message"] == "unexpected content after JSON"
        r = c.post("/containers/create", json={"Image": "busybox", "Env": "A=1"})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "invalid JSON: json: cannot unmarshal string into Go struct field "
            "CreateRequest.Env of type []string"
        )
        r = c.post("/containers/create", json={"Image": "busybox", "HostConfig": {"Memory": "1g"}})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "invalid JSON: json: cannot unmarshal string into Go struct field "
            "CreateRequest.HostConfig.Memory of type int64"
        )
        r = c.post("/containers/create", json=[1, 2])
        assert r.status_code == 400
        r = c.post(
            "/containers/create", content=b"Image=busybox", headers={"Content-Type": "text/plain"}
        )
        assert r.status_code == 400
        assert (
            r.json()["message"] == "Content-Type specified (text/plain) must be 'application/json'"
        )
        big = b'{"Image": "busybox", "Env": ["' + b"x" * (11 * 1024 * 1024) + b'"]}'
        r = c.post("/containers/create", content=big, headers=headers)
        assert r.status_code == 413
        assert "too large" in r.json()["message"]
        r = c.post("/networks/create", json={"Name": 5})
        assert r.status_code == 400
        r = c.post("/volumes/create", json={"Name": "v", "Labels": {"a": 1}})
        assert r.status_code == 400
        # The connection still serves requests after each refusal.
        assert c.get("/_ping").status_code == 200
    ps = dy("ps", "-a", "-q", check=True)
    assert ps.stdout == ""
    assert dy("volume", "ls", "-q", check=True).stdout == ""


def test_slow_client_is_dropped_others_served(engine_env: dict[str, str], sock: str) -> None:
    with running_service(engine_env, sock, "--read-timeout", "1"), client(sock) as c:
        # Headers that never end: the connection is closed after the read timeout.
        slow = socket.socket(socket.AF_UNIX)
        slow.connect(sock)
        slow.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\n")
        # A body announced but never sent: 408, then the connection is closed.
        stalled = socket.socket(socket.AF_UNIX)
        stalled.connect(sock)
        stalled.sendall(
            b"POST /containers/create HTTP/1.1\r\nHost: d\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n{"
        )
        # Meanwhile another client is served at once.
        started = time.monotonic()
        assert c.get("/_ping").status_code == 200
        assert time.monotonic() - started < 1
        slow.settimeout(5)
        assert slow.recv(100) == b""
        stalled.settimeout(5)
        answer = b""
        while chunk := stalled.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 ")
        assert b'"message":"timeout reading the request body"' in answer
        slow.close()
        stalled.close()


def test_keep_alive_and_unread_body(engine_env: dict[str, str], sock: str) -> None:
    with running_service(engine_env, sock):
        # Two requests on one connection; the first has a body its route never reads.
        out = raw_request(
            sock,
            b"POST /v1.41/_ping HTTP/1.1\r\nHost: d\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n",
        )
        assert out.count(b"HTTP/1.1 ") == 2
        assert out.endswith(b"OK")


def test_idle_time_exit(engine_env: dict[str, str], sock: str) -> None:
    with running_service(engine_env, sock, idle="1") as proc:
        with client(sock) as c:
            assert c.get("/_ping").status_code == 200
        assert proc.wait(timeout=10) == 0
    assert not os.path.exists(sock)


def test_refuses_non_loopback_tcp_without_tls(engine_env: dict[str, str], dy: Runner) -> None:
    r = dy("system", "service", "tcp://0.0.0.0:23750")
    assert r.returncode == 125
    assert "refusing to listen on tcp://0.0.0.0:23750 without TLS client verification" in r.stderr
    r = dy("system", "service", "--tlsverify", "tcp://0.0.0.0:23750")
    assert r.returncode == 125
    assert "--tlscacert --tlscert --tlskey" in r.stderr
    r = dy("system", "service", "http://x")
    assert r.returncode == 125
    assert "unsupported scheme 'http'" in r.stderr


def test_loopback_tcp(engine_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [DOCKYARD, "system", "service", "--time", "0", f"tcp://127.0.0.1:{port}"],
        env={**os.environ, **engine_env},
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/_ping", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.05)
        assert r.status_code == 200 and r.text == "OK"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_tls_client_verification(engine_env: dict[str, str], tmp_path: Path) -> None:
    """A TCP listener with --tlsverify serves a client whose certificate the CA signed
    and refuses one without a certificate."""
    d = tmp_path / "tls"
    d.mkdir()

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)

    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "1",
        "-subj",
        "/CN=test-ca",
    )
    for name in ("server", "client"):
        openssl(
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            f"{name}.key",
            "-out",
            f"{name}.csr",
            "-subj",
            f"/CN={name}",
        )
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        openssl(
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
        )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            DOCKYARD,
            "system",
            "service",
            "--time",
            "0",
            "--tlsverify",
            f"--tlscacert={d}/ca.pem",
            f"--tlscert={d}/server.pem",
            f"--tlskey={d}/server.key",
            f"tcp://127.0.0.1:{port}",
        ],
        env={**os.environ, **engine_env},
        stderr=subprocess.PIPE,
    )
    try:
        url = f"https://127.0.0.1:{port}/_ping"
        with_cert = ssl.create_default_context(cafile=str(d / "ca.pem"))
        with_cert.load_cert_chain(str(d / "client.pem"), str(d / "client.key"))
        without_cert = ssl.create_default_context(cafile=str(d / "ca.pem"))
        deadline = time.monotonic() + 15
        while True:
            try:
                r = httpx.get(url, verify=with_cert, timeout=5)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert r.status_code == 200 and r.text == "OK"
        with pytest.raises(httpx.TransportError):
            httpx.get(url, verify=without_cert, timeout=5)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_socket_activation(engine_env: dict[str, str], sock: str) -> None:
    """systemd-socket-activate passes the listening socket (LISTEN_FDS) as systemd does
    for contrib/dockyard.socket; the service serves it and exits when idle."""
    tool = "/usr/bin/systemd-socket-activate"
    if not os.path.exists(tool):
        pytest.skip("systemd-socket-activate is not installed (package systemd)")
    os.makedirs(os.path.dirname(sock), exist_ok=True)
    # systemd-socket-activate passes only the variables named with -E.
    passed = [f"-E{key}={value}" for key, value in engine_env.items()]
    if "PYTHONPATH" in os.environ:
        passed.append(f"-EPYTHONPATH={os.environ['PYTHONPATH']}")
    proc = subprocess.Popen(
        [tool, "-l", sock, *passed, DOCKYARD, "system", "service", "--time", "1"],
        env={**os.environ, **engine_env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        wait_for_socket(sock)
        with client(sock) as c:
            r = c.get("/_ping")
            assert r.status_code == 200 and r.text == "OK"
            assert json.loads(c.get("/version").content)["ApiVersion"] == "1.51"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def _threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def _settles(pid: int, count: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _threads(pid) <= count:
            return True
        time.sleep(0.1)
    return False


@needs("container_create", "container_start", "container_logs", "container_delete")
def test_client_leaving_mid_stream_leaves_nothing(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """A client that goes away during ``logs -f``, an attach of a silent container or a
    wait leaves no thread in the service; the container runs on."""
    cid = dy("run", "-d", busybox, "sleep", "60", check=True).stdout.strip()
    try:
        with running_service(engine_env, sock) as proc, client(sock) as c:
            assert c.get("/_ping").status_code == 200
            baseline = _threads(proc.pid)
            for request in (
                f"GET /containers/{cid}/logs?follow=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n\r\n",
                f"POST /containers/{cid}/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: d\r\n"
                "Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
                f"POST /containers/{cid}/wait HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\n\r\n",
            ):
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock)
                s.sendall(request.encode())
                assert s.recv(4096).split(b"\r\n")[0] in (
                    b"HTTP/1.1 200 OK",
                    b"HTTP/1.1 101 UPGRADED",
                )
                assert _threads(proc.pid) > baseline
                s.close()
                assert _settles(proc.pid, baseline), request
            inspect = c.get(f"/containers/{cid}/json").json()
            assert inspect["State"]["Running"] is True
        # Stopping the service leaves the container running too.
        assert dy("inspect", "-f", "{{.State.Running}}", cid, check=True).stdout == "true\n"
    finally:
        dy("rm", "-f", cid, check=True)


@needs("container_create", "container_start", "container_delete", "exec_create", "exec_start")
def test_two_requests_on_one_container_at_once(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """Two starts of one container, two starts of one exec instance, two removals of
    one container at once: one succeeds, the other gets Docker's status; no half-made
    state is left."""
    from concurrent.futures import ThreadPoolExecutor

    with running_service(engine_env, sock), client(sock) as c, client(sock) as c2:
        r = c.post("/containers/create", json={"Image": busybox, "Cmd": ["sleep", "60"]})
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        with ThreadPoolExecutor(2) as pool:
            codes = sorted(
                f.result().status_code
                for f in [pool.submit(x.post, f"/containers/{cid}/start") for x in (c, c2)]
            )
        assert codes[0] == 204 and codes[1] in (204, 304, 409), codes
        assert c.get(f"/containers/{cid}/json").json()["State"]["Running"] is True
        r = c.post(f"/containers/{cid}/exec", json={"Cmd": ["sleep", "1"]})
        assert r.status_code == 201, r.text
        eid = r.json()["Id"]
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(x.post, f"/exec/{eid}/start", json={"Detach": True}) for x in (c, c2)
            ]
            codes = sorted(f.result().status_code for f in futures)
        assert codes == [200, 409], codes
        with ThreadPoolExecutor(2) as pool:
            futures = [
                pool.submit(x.delete, f"/containers/{cid}", params={"force": "1"}) for x in (c, c2)
            ]
            codes = sorted(f.result().status_code for f in futures)
        assert codes[0] == 204 and codes[1] in (204, 404, 409), codes
        assert c.get(f"/containers/{cid}/json").status_code == 404
    assert dy("ps", "-aq", check=True).stdout == ""


@needs("container_create", "container_start", "container_delete", "system_recover")
def test_service_recovers_a_container_whose_monitor_died(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """The service takes over a container whose monitor was killed (as every CLI command
    does), from a child process, within its housekeeping interval."""
    import signal

    cid = dy("run", "-d", busybox, "sleep", "60", check=True).stdout.strip()
    try:
        with running_service(engine_env, sock), client(sock) as c:
            pid = c.get(f"/containers/{cid}/json").json()["State"]["Pid"]
            with open(f"/proc/{pid}/stat") as f:
                monitor = int(f.read().rsplit(")", 1)[1].split()[1])
            os.kill(monitor, signal.SIGKILL)
            deadline = time.monotonic() + 15
            state: dict = {}
            while time.monotonic() < deadline:
                state = c.get(f"/containers/{cid}/json").json()["State"]
                if not state["Running"]:
                    break
                time.sleep(0.2)
            assert state["Running"] is False
            assert state["ExitCode"] == 137
    finally:
        dy("rm", "-f", cid, check=True)


def test_non_root_user_cannot_connect(engine_env: dict[str, str]) -> None:
    """The socket is root's and the docker group's (0660): another user's connect fails
    with EACCES from the kernel, before the service sees anything (the socket sits in a
    directory everyone may traverse, so only its own mode decides)."""
    import shutil
    import sys
    import tempfile

    if shutil.which("runuser") is None:
        pytest.skip("runuser is not installed (util-linux)")
    open_dir = tempfile.mkdtemp(prefix="dockyard-api-", dir="/tmp")
    try:
        os.chmod(open_dir, 0o755)
        sock = os.path.join(open_dir, "docker.sock")
        with running_service(engine_env, sock):
            probe = (
                "import socket, sys\n"
                "s = socket.socket(socket.AF_UNIX)\n"
                "try:\n"
                f"    s.connect({sock!r})\n"
                "except PermissionError:\n"
                "    sys.exit(3)\n"
            )
            r = subprocess.run(
                ["runuser", "-u", "nobody", "--", sys.executable, "-I", "-S", "-c", probe],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert r.returncode == 3, r.stderr
            # Root (the docker group's members alike) is served.
            with client(sock) as c:
                assert c.get("/_ping").text == "OK"
    finally:
        shutil.rmtree(open_dir, ignore_errors=True)


def test_create_on_several_networks_with_their_settings(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """Compose 2.40 sends every network of a service in EndpointsConfig (API 1.44+):
    each network's aliases and address apply to its own endpoint; older API versions
    get moby's error for more than one network."""
    dy("network", "create", "--subnet", "10.231.1.0/24", "n1", check=True)
    dy("network", "create", "--subnet", "10.231.2.0/24", "n2", check=True)
    body = {
        "Image": "busybox",
        "Cmd": ["true"],
        "HostConfig": {"NetworkMode": "n1"},
        "NetworkingConfig": {
            "EndpointsConfig": {
                "n1": {"Aliases": ["one"]},
                "n2": {"Aliases": ["two"], "IPAMConfig": {"IPv4Address": "10.231.2.9"}},
            }
        },
    }
    try:
        with running_service(engine_env, sock), client(sock) as c:
            r = c.post("/v1.43/containers/create", json=body, params={"name": "old"})
            assert r.status_code == 400
            assert r.json() == {
                "message": "Container cannot be connected to network endpoints: n1, n2"
            }
            r = c.post("/v1.44/containers/create", json=body, params={"name": "multi"})
            assert r.status_code == 201, r.text
            nets = c.get("/containers/multi/json").json()["NetworkSettings"]["Networks"]
            assert list(nets) == ["n1", "n2"]
            assert "one" in nets["n1"]["Aliases"] and "two" in nets["n2"]["Aliases"]
            assert nets["n2"]["IPAddress"] == "10.231.2.9"
            assert c.delete("/containers/multi").status_code == 204
    finally:
        dy("rm", "-f", "multi")
        dy("network", "rm", "n1", "n2")


def test_archive_put_refuses_entries_that_leave_the_destination(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """PUT /containers/{id}/archive: an entry, a symlink or a hard link leading out of the
    destination directory is refused with moby's go-archive breakout message (500), and
    nothing of the archive is extracted (moby leaves the entries before the bad one);
    an absolute symlink target stays inside, as moby resolves it, and is taken."""
    import io
    import tarfile

    def archive(*entries: tuple[str, str]) -> bytes:
        out = io.BytesIO()
        with tarfile.open(fileobj=out, mode="w") as tf:
            for name, link in entries:
                info = tarfile.TarInfo(name)
                if link.startswith("sym:"):
                    info.type, info.linkname = tarfile.SYMTYPE, link[4:]
                    tf.addfile(info)
                elif link.startswith("hard:"):
                    info.type, info.linkname = tarfile.LNKTYPE, link[5:]
                    tf.addfile(info)
                else:
                    info.size = len(link)
                    tf.addfile(info, io.BytesIO(link.encode()))
        return out.getvalue()

    dy("run", "-d", "--name", "arc", busybox, "sleep", "60", check=True)
    try:
        with running_service(engine_env, sock), client(sock) as c:
            for entries, message in [
                ((("ok", "x"), ("../escape", "y")), '"../escape" is outside of "/tmp"'),
                ((("ok", "x"), ("l", "sym:../../etc")), 'invalid symlink "/tmp/l" -> "../../etc"'),
                (
                    (("ok", "x"), ("h", "hard:../etc/passwd")),
                    'invalid hardlink "/etc/passwd" -> "../etc/passwd"',
                ),
            ]:
                r = c.put(
                    "/v1.51/containers/arc/archive",
                    params={"path": "/tmp"},
                    content=archive(*entries),
                )
                assert (r.status_code, r.json()["message"]) == (500, message)
                listed = dy("exec", "arc", "ls", "-A", "/tmp", "/", check=True).stdout
                assert "ok" not in listed.split() and "escape" not in listed.split()
            r = c.put(
                "/v1.51/containers/arc/archive",
                params={"path": "/tmp"},
                content=archive(("ok", "x"), ("abs", "sym:/etc/passwd")),
            )
            assert r.status_code == 200, r.text
            shown = dy("exec", "arc", "sh", "-c", "cat /tmp/ok; readlink /tmp/abs", check=True)
            assert shown.stdout == "x/etc/passwd\n"
    finally:
        dy("rm", "-f", "arc")


def test_unknown_fields_are_ignored(
    engine_env: dict[str, str], sock: str, dy: Runner, busybox: str
) -> None:
    """Fields and query parameters the API does not define are ignored, as moby's JSON
    decoding (no DisallowUnknownFields) and its form parsing ignore them."""
    with running_service(engine_env, sock), client(sock) as c:
        r = c.post(
            "/v1.51/containers/create",
            params={"name": "unk", "nosuchparam": "1"},
            json={"Image": busybox, "Cmd": ["true"], "NoSuchField": {"x": 1},
                  "HostConfig": {"NoSuchHostField": True}},
        )  # fmt: skip
        assert r.status_code == 201, r.text
        r = c.post("/v1.51/networks/create", json={"Name": "unknet", "NoSuchField": 1})
        assert r.status_code == 201, r.text
        r = c.post("/v1.51/volumes/create", json={"Name": "unkvol", "NoSuchField": 1})
        assert r.status_code == 201, r.text
    dy("rm", "unk", check=True)
    dy("network", "rm", "unknet", check=True)
    dy("volume", "rm", "unkvol", check=True)
