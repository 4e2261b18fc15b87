"""The docker CLI 28 (/usr/local/bin/docker, unchanged) driving Dockyard's Engine API
service through ``DOCKER_HOST=unix://...``: the everyday commands, their output and exit
codes, and that the service and the in-process CLI see the same objects."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from api_service import needs, running_service
from conftest import Runner

DOCKER = "/usr/local/bin/docker"

pytestmark = [
    pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed"),
    pytest.mark.timeout(240),
]

Docker = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def docker(
    engine_env: dict[str, str], tmp_path: Path, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Docker]:
    """Run the docker CLI against a service on this test's engine root (registry
    settings of its own: no daemon.json, an empty certs.d)."""
    from registry_peer import registry_env

    registry_env(monkeypatch, tmp_path)
    sock = str(tmp_path / "run" / "docker.sock")
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{sock}",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "DOCKER_CLI_HINTS": "false",
        # The classic builder's API (POST /build); BuildKit's session API is not served.
        "DOCKER_BUILDKIT": "0",
    }
    env.pop("DOCKER_CONTEXT", None)

    def run(
        *args: str, check: bool = True, input: str | None = None, timeout: float = 60
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [DOCKER, *args], env=env, capture_output=True, text=True, input=input, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    with running_service(engine_env, sock):
        try:
            yield run
        finally:
            ids = run("ps", "-aq", check=False).stdout.split()
            if ids:
                run("rm", "-f", *ids, check=False)


def test_version_and_info(docker: Docker) -> None:
    out = docker("version", "--format", "{{json .Server}}").stdout
    server = json.loads(out)
    assert server["ApiVersion"] == "1.51"
    assert server["Os"] == "linux"
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    assert info["Images"] == 1
    assert info["OSType"] == "linux"


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
def test_run_ps_logs_exec_stop_rm(docker: Docker, dy: Runner) -> None:
    out = docker(
        "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert out.returncode == 3
    assert out.stdout == "out\n"
    assert out.stderr == "err\n"
    cid = docker(
        "run", "-d", "--name", "web", "busybox", "sh", "-c", "echo started; sleep 60"
    ).stdout.strip()
    assert len(cid) == 64
    ps = docker("ps", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.Status}}").stdout.split("\n")
    assert ps[0].startswith(f"{cid[:12]} web busybox Up ")
    # The in-process CLI sees the same container.
    assert dy("ps", "-q", check=True).stdout.strip() == cid[:12]
    assert docker("logs", "web").stdout == "started\n"
    ex = docker("exec", "web", "sh", "-c", "echo in; echo ein >&2; exit 5", check=False)
    assert (ex.returncode, ex.stdout, ex.stderr) == (5, "in\n", "ein\n")
    inspect = json.loads(docker("inspect", "web").stdout)
    assert inspect[0]["Id"] == cid and inspect[0]["State"]["Running"] is True
    assert docker("stop", "-t", "1", "web").stdout == "web\n"
    state = json.loads(docker("inspect", "web").stdout)[0]["State"]
    assert state["Running"] is False
    assert docker("rm", "web").stdout == "web\n"
    assert docker("ps", "-aq").stdout == ""
    # Piped stdin (attached before the start; the monitor's attach socket comes a moment
    # after the start is recorded) reaches the container, and its end closes it.
    piped = docker(
        "run", "--rm", "-i", "busybox", "sh", "-c", "cat; exit 2", input="in\n", check=False
    )
    assert (piped.returncode, piped.stdout) == (2, "in\n")
    docker("run", "-d", "-i", "--name", "cat", "busybox", "cat")
    assert docker("exec", "-i", "cat", "cat", input="via exec\n").stdout == "via exec\n"
    docker("rm", "-f", "cat")


@needs("container_create", "container_start", "container_kill", "container_delete")
def test_kill_and_rm_force(docker: Docker) -> None:
    docker("run", "-d", "--name", "kk", "busybox", "sleep", "60")
    assert docker("kill", "kk").stdout == "kk\n"
    assert docker("wait", "kk").stdout == "137\n"
    assert json.loads(docker("inspect", "kk").stdout)[0]["State"]["ExitCode"] == 137
    docker("start", "kk")
    assert docker("rm", "-f", "kk").stdout == "kk\n"
    assert docker("ps", "-aq").stdout == ""
    err = docker("rm", "nosuch", check=False)
    assert err.returncode == 1
    assert err.stderr.strip() == "Error response from daemon: No such container: nosuch"


@needs("image_tag", "image_delete")
def test_images_tag_rmi(docker: Docker) -> None:
    lines = docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()
    assert lines == ["busybox:latest"]
    docker("tag", "busybox", "mybox:1")
    assert sorted(docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.split()) == [
        "busybox:latest",
        "mybox:1",
    ]
    assert docker("rmi", "mybox:1").stdout == "Untagged: mybox:1\n"
    err = docker("rmi", "nosuch:1", check=False)
    assert err.returncode == 1
    assert "No such image: nosuch:1" in err.stderr


@needs(
    "network_create",
    "network_list",
    "network_delete",
    "volume_create",
    "volume_list",
    "volume_delete",
)
def test_networks_and_volumes(docker: Docker) -> None:
    nid = docker("network", "create", "--subnet", "10.231.0.0/24", "apinet").stdout.strip()
    assert len(nid) == 64
    names = docker("network", "ls", "--format", "{{.Name}}").stdout.split()
    assert "apinet" in names and "bridge" in names
    assert docker("network", "rm", "apinet").stdout == "apinet\n"
    # The docker CLI's --config-only/--config-from/--ipam-opt reach the API as theirs.
    flags = ("--config-only", "--subnet", "10.231.1.0/24", "--ipam-opt", "a=b")
    docker("network", "create", *flags, "apicfg")
    docker("network", "create", "--config-from", "apicfg", "apifrom")
    fmt = "{{.ConfigFrom.Network}} {{.IPAM.Options}} {{(index .IPAM.Config 0).Subnet}}"
    shown = docker("network", "inspect", "--format", fmt, "apifrom").stdout
    assert shown == "apicfg map[a:b] 10.231.1.0/24\n"
    busy = docker("network", "rm", "apicfg", check=False)
    assert busy.returncode == 1 and 'configuration network "apicfg" is in use' in busy.stderr
    assert docker("network", "rm", "apifrom", "apicfg").stdout == "apifrom\napicfg\n"
    assert docker("volume", "create", "apivol").stdout == "apivol\n"
    assert docker("volume", "ls", "--format", "{{.Name}}").stdout.split() == ["apivol"]
    assert docker("volume", "rm", "apivol").stdout == "apivol\n"
    assert docker("volume", "ls", "-q").stdout == ""
    # inspect looks for a container, an image, a network and a volume in turn.
    missing = docker("inspect", "nothing", check=False)
    assert missing.returncode == 1
    assert "No such object: nothing" in missing.stderr


def test_save_and_load(docker: Docker, tmp_path: Path, dy: Runner) -> None:
    archive = tmp_path / "busybox.tar"
    docker("save", "-o", str(archive), "busybox")
    assert archive.stat().st_size > 100_000
    err = docker("save", "-o", str(tmp_path / "none.tar"), "nosuch:1", check=False)
    assert err.returncode == 1
    assert "No such image: nosuch:1" in err.stderr
    image_id = dy("images", "-q", "--no-trunc", check=True).stdout.strip()
    dy("rmi", "busybox", check=True)
    assert docker("load", "-i", str(archive)).stdout == "Loaded image: busybox:latest\n"
    assert dy("images", "-q", "--no-trunc", check=True).stdout.strip() == image_id
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar")
    err = docker("load", "-i", str(bad), check=False)
    assert err.returncode == 1
    assert "invalid archive" in err.stderr


def test_push_and_pull(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    """docker push and pull through the service, against a loopback registry."""
    from registry_peer import Registry

    registry = Registry(tmp_path / "registry")
    try:
        name = f"{registry.host}/api/busybox:1"
        dy("tag", "busybox", name, check=True)
        out = docker("push", name).stdout
        assert out.startswith(f"The push refers to repository [{registry.host}/api/busybox]\n")
        assert "1: digest: sha256:" in out.splitlines()[-1]
        dy("rmi", name, check=True)
        out = docker("pull", name).stdout
        assert f"Status: Downloaded newer image for {name}" in out
        assert out.endswith(f"{name}\n")
        assert (
            name.rsplit(":", 1)[0] in dy("images", "--format", "{{.Repository}}", check=True).stdout
        )
        err = docker("pull", f"{registry.host}/api/nosuch:1", check=False)
        assert err.returncode == 1
        assert err.stderr.startswith("Error response from daemon: ")
        # Distribution inspect (GET /distribution/{name}/json): the registry's descriptor
        # of the manifest and its platform (from the config of a single manifest).
        import httpx

        digest = out.split("Digest: ", 1)[1].split()[0]
        transport = httpx.HTTPTransport(uds=str(tmp_path / "run" / "docker.sock"))
        with httpx.Client(transport=transport, base_url="http://docker") as api:
            info = api.get(f"/v1.41/distribution/{name}/json").json()
            assert info["Descriptor"]["digest"] == digest
            # busybox (bootstrapped: an uncompressed layer) went as gzip in schema 2.
            assert info["Descriptor"]["mediaType"] == (
                "application/vnd.docker.distribution.manifest.v2+json"
            )
            assert [p["os"] for p in info["Platforms"]] == ["linux"]
            missing = api.get(f"/distribution/{registry.host}/api/nosuch:1/json")
            assert missing.status_code == 404
            assert api.get("/distribution/UPPER/json").status_code == 400
    finally:
        registry.stop()


def test_login_then_push(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    """docker login checks the login (POST /auth), docker push sends it in
    X-Registry-Auth, which the engine uses for that push; without it the registry's 401
    is reported."""
    import base64
    import subprocess

    import httpx

    from conftest import need
    from registry_peer import Registry

    need("htpasswd")
    d = tmp_path / "auth"
    d.mkdir()
    line = subprocess.run(
        ["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (d / "htpasswd").write_text(line + "\n")
    registry = Registry(
        d / "reg", f"auth:\n  htpasswd:\n    realm: dockyard-test\n    path: {d}/htpasswd\n"
    )
    try:
        bad = docker("login", "-u", "alice", "-p", "wrong", registry.host, check=False)
        assert bad.returncode == 1
        assert "401 Unauthorized" in bad.stderr
        assert (
            "Login Succeeded"
            in docker("login", "-u", "alice", "-p", "s3cret", registry.host).stdout
        )
        name = f"{registry.host}/api/busybox:1"
        dy("tag", "busybox", name, check=True)
        out = docker("push", name).stdout
        assert "1: digest: sha256:" in out.splitlines()[-1]
        sock = tmp_path / "run" / "docker.sock"
        wrong = base64.urlsafe_b64encode(b'{"username": "alice", "password": "nope"}').decode()
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://d") as c:
            r = c.post(
                f"/images/{registry.host}/api/busybox/push",
                params={"tag": "1"},
                headers={"X-Registry-Auth": wrong},
            )
            assert r.status_code in (200, 401, 500), r.text
            assert "401" in r.text or "unauthorized" in r.text.lower()
    finally:
        registry.stop()


def test_system_df_and_image_prune(docker: Docker, dy: Runner) -> None:
    lines = docker("system", "df", "--format", "{{.Type}} {{.TotalCount}} {{.Active}}").stdout
    assert lines.splitlines()[0] == "Images 1 0"
    assert "Volumes 0 0" in lines
    dy("tag", "busybox", "spare:1", check=True)
    dy("rmi", "busybox", check=True)
    out = docker("image", "prune", "-af").stdout
    assert "untagged: spare:1" in out
    assert out.strip().endswith("B") and "Total reclaimed space:" in out
    assert dy("images", "-q", check=True).stdout == ""


def test_system_df_verbose_build_cache(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    """The docker CLI 28 renders the service's BuildCache records as Dockyard's own
    ``system df -v`` does (the build cache table, from ``GET /system/df``)."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\nRUN echo x > /f\n")
    dy("build", "-q", "-t", "cached:1", str(tmp_path / "ctx"), check=True)
    dy("build", "-q", "-t", "cached:1", str(tmp_path / "ctx"), check=True)

    def cache_table(text: str) -> list[list[str]]:
        # Cells split on the table's padding; times ("3 seconds ago") may tick between
        # the two commands.
        rows = text.split("\nBuild cache usage: ", 1)[1].splitlines()
        cells = [re.split(r"\s{3,}", row.strip()) for row in rows if row]
        return [[re.sub(r".* ago$", "ago", c) for c in row] for row in cells]

    ours = cache_table(dy("system", "df", "-v", check=True).stdout)
    theirs = cache_table(docker("system", "df", "-v").stdout)
    assert ours == theirs, (ours, theirs)
    assert ours[2][1:] == ["regular", "10.2kB", "ago", "ago", "1", "true"], ours


def test_export_diff_commit(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    dy("run", "--name", "fs", "busybox", "sh", "-c", "echo x > /made", check=True)
    assert "A /made" in docker("diff", "fs").stdout.splitlines()
    out = tmp_path / "fs.tar"
    docker("export", "-o", str(out), "fs")
    import tarfile

    with tarfile.open(out) as tf:
        assert "made" in tf.getnames()
    image_id = docker("commit", "-m", "snap", "-c", "ENV A=1", "fs", "snap:1").stdout.strip()
    assert image_id.startswith("sha256:")
    env = dy("inspect", "-f", "{{.Config.Env}}", "snap:1", check=True).stdout
    assert "A=1" in env
    err = docker("diff", "nosuch", check=False)
    assert err.returncode == 1 and "No such container: nosuch" in err.stderr
    dy("rm", "fs", check=True)
    dy("rmi", "snap:1", check=True)


def test_cp_both_ways(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    dy("create", "--name", "cpbox", "busybox", "true", check=True)
    src = tmp_path / "in.txt"
    src.write_text("from the host\n")
    docker("cp", str(src), "cpbox:/tmp/in.txt")
    out = tmp_path / "out"
    out.mkdir()
    docker("cp", "cpbox:/tmp/in.txt", str(out / "back.txt"))
    assert (out / "back.txt").read_text() == "from the host\n"
    err = docker("cp", "cpbox:/nosuch", str(out), check=False)
    assert err.returncode == 1
    assert "Could not find the file /nosuch in container cpbox" in err.stderr
    dy("rm", "cpbox", check=True)


def test_import(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    import tarfile

    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "imported").write_text("yes\n")
    archive = tmp_path / "rootfs.tar"
    with tarfile.open(archive, "w") as tf:
        tf.add(root / "etc", arcname="etc")
    out = docker("import", "-c", 'CMD ["/bin/true"]', "-m", "via api", str(archive), "imp:1").stdout
    assert out.startswith("sha256:")
    assert (
        dy("inspect", "-f", "{{.Config.Cmd}} {{.Comment}}", "imp:1", check=True).stdout
        == "[/bin/true] via api\n"
    )
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"nonsense")
    err = docker("import", str(bad), "imp:2", check=False)
    assert err.returncode == 1
    assert dy("images", "-q", "imp:2", check=True).stdout == ""
    dy("rmi", "imp:1", check=True)


def test_stats(docker: Docker, dy: Runner) -> None:
    cid = dy(
        "run", "-d", "--name", "st", "-m", "64m", "busybox", "sleep", "60", check=True
    ).stdout.strip()
    try:
        out = docker(
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.MemUsage}} {{.PIDs}} {{.CPUPerc}}",
            "st",
        ).stdout.split()
        assert out[0] == "st"
        assert out[3] == "64MiB" and out[4] == "1"
        assert out[5].endswith("%")
        err = docker("stats", "--no-stream", "nosuch", check=False)
        assert err.returncode == 1 and "No such container: nosuch" in err.stderr
    finally:
        dy("rm", "-f", cid, check=True)


def test_classic_build(docker: Docker, dy: Runner, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\nARG WHO=nobody\nCOPY hello.txt /hello.txt\nRUN echo built-for-$WHO > /f\nCMD cat /f\n"
    )
    (ctx / "hello.txt").write_text("hi\n")
    env_build = ["build", "--build-arg", "WHO=api", "-t", "apib:1", str(ctx)]
    out = docker(*env_build).stdout
    assert "Step 1/5 : FROM busybox" in out
    assert "Successfully tagged apib:1" in out
    assert dy("run", "--rm", "apib:1", check=True).stdout == "built-for-api\n"
    # --add-host reaches the RUN containers; their limits are taken (and checked).
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN grep -q '10.1.2.3\tapi.test' /etc/hosts\n")
    limited = ["build", "--no-cache", "--add-host", "api.test:10.1.2.3", "-m", "64m", str(ctx)]
    docker(*limited)
    bad = docker("build", "--cpuset-cpus", "4096", str(ctx), check=False)
    assert bad.returncode == 1 and "Requested CPUs are not available" in bad.stderr
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 7\n")
    bad = docker("build", str(ctx), check=False)
    assert bad.returncode == 7  # the errorDetail's code: the RUN's status (docker/cli)
    assert "returned a non-zero code: 7" in bad.stderr
    dy("rmi", "apib:1", check=True)


def test_ports_volumes_env_top_logs_follow_tty_signals_and_prune(
    docker: Docker, dy: Runner, tmp_path: Path
) -> None:
    """The rest of issue 11's docker CLI list: run -d -p -v -e --name (the published
    port answers on loopback), top, logs -f to the end, run -it and exec -it on a
    terminal, the docker CLI's own signal forwarding (an attached run and attach: its
    POST /containers/{id}/kill), and system prune."""
    import signal
    import urllib.request

    from test_api_remote_cli import _on_pty

    sock = str(tmp_path / "run" / "docker.sock")
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{sock}",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
        "DOCKER_CLI_HINTS": "false",
    }
    env.pop("DOCKER_CONTEXT", None)
    script = "mkdir /www; echo $GREETING > /data/said; cp /data/said /www/i; httpd -f -p 80 -h /www"
    docker("run", "-d", "--name", "web", "-p", "127.0.0.1::80", "-v", "apivol:/data",
           "-e", "GREETING=hello", "busybox", "sh", "-c", script)  # fmt: skip
    port = docker("port", "web", "80").stdout.strip().rpartition(":")[2]
    deadline = time.monotonic() + 10
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/i", timeout=5) as response:
                assert response.read() == b"hello\n"
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    top = docker("top", "web").stdout.splitlines()
    assert top[0].split()[:2] == ["UID", "PID"] and "httpd -f -p 80 -h /www" in top[1]
    said = docker("run", "--rm", "-v", "apivol:/data", "busybox", "cat", "/data/said")
    assert said.stdout == "hello\n"
    docker("run", "-d", "--name", "lf", "busybox", "sh", "-c", "echo a; sleep 1; echo b")
    assert docker("logs", "-f", "lf").stdout == "a\nb\n"
    status, out = _on_pty(
        [DOCKER, "run", "-it", "--rm", "busybox", "sh"], env, [b"echo $((6*7))\r", b"exit 3\r"]
    )
    assert status == 3 and b"42" in out
    status, out = _on_pty([DOCKER, "exec", "-it", "web", "sh"], env, [b"stty size\r", b"exit 7\r"])
    assert status == 7 and b"30 90" in out
    trapping = "trap 'echo got {0}; exit 4' {0}; echo ready; sleep 60 & wait"
    run = subprocess.Popen(
        [DOCKER, "run", "--name", "sig", "busybox", "sh", "-c", trapping.format("INT")],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert run.stdout is not None and run.stdout.readline() == b"ready\n"
        run.send_signal(signal.SIGINT)
        assert run.communicate(timeout=30) == (b"got INT\n", b"") and run.returncode == 4
        docker("run", "-d", "--name", "sig2", "busybox", "sh", "-c", trapping.format("USR1"))
        run = subprocess.Popen(
            [DOCKER, "attach", "sig2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        time.sleep(1.5)  # attached (attach shows no earlier output to wait for)
        run.send_signal(signal.SIGUSR1)
        assert run.communicate(timeout=30) == (b"got USR1\n", b"") and run.returncode == 4
    finally:
        if run.poll() is None:
            run.kill()
        run.wait()
    stopped = docker("ps", "-aq", "--no-trunc", "--filter", "status=exited").stdout.split()
    assert len(stopped) == 3  # lf, sig, sig2
    pruned = docker("system", "prune", "-f").stdout
    assert pruned.startswith("Deleted Containers:\n")
    assert sorted(pruned.split("\n\n")[0].split("\n")[1:]) == sorted(stopped)
    assert re.search(r"\nTotal reclaimed space: [0-9.]+k?M?G?B\n$", pruned), pruned
    web = docker("inspect", "-f", "{{.Id}}", "web").stdout.strip()
    assert docker("ps", "-aq").stdout.split() == [web[:12]]
    docker("rm", "-f", "web")
    docker("volume", "rm", "apivol")
