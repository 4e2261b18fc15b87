"""``dockyard compose`` with real containers: up/ps/logs/stop/start/down of a web + db pair
(web reaches db by its service name), a second ``up`` that changes nothing, a changed
service recreated alone, ``run --rm``/``exec``, and bad projects that start nothing.

Traffic goes only to the containers' own addresses on the project network and to a port
published on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import DOCKYARD, Runner

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "compose"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def project(tmp_path: Path, dy: Runner, busybox: str) -> Iterator[Path]:
    """tests/data/compose/webdb copied; whatever a failing test left of project ``shop``
    is taken down after it."""
    d = tmp_path / "webdb"
    shutil.copytree(DATA / "webdb", d)
    yield d
    dy("compose", "-p", "shop", "down", "-v", "-t", "0", "--remove-orphans", cwd=d)


def use_port(monkeypatch: pytest.MonkeyPatch, port: int) -> None:
    """The project's interpolated settings: a subnet of this run's own, the web port."""
    monkeypatch.setenv("SUBNET", f"10.249.{os.getpid() % 256}.0/24")
    monkeypatch.setenv("WEB_PORT", str(port))


def ids(dy: Runner, *args: str) -> list[str]:
    return sorted(dy(*args, check=True).stdout.split())


@pytest.mark.timeout(180)
def test_web_db_up_ps_logs_noop_recreate_down(
    project: Path, dy: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    use_port(monkeypatch, port)
    # create makes the containers without waiting for db's health (nothing runs).
    dy("compose", "-p", "shop", "create", cwd=project, check=True)
    made = dy("compose", "-p", "shop", "ps", "-a", "--format", "json", cwd=project, check=True)
    assert [json.loads(x)["State"] for x in made.stdout.splitlines()] == ["created", "created"]
    up = dy("compose", "-p", "shop", "up", "-d", cwd=project, timeout=90)
    assert up.returncode == 0, up.stderr
    assert " Container shop-db-1  Healthy" in up.stderr
    assert up.stderr.index("shop-db-1  Started") < up.stderr.index("shop-web-1  Starting")

    ps = dy("compose", "-p", "shop", "ps", "--format", "json", cwd=project, check=True)
    rows = [json.loads(line) for line in ps.stdout.splitlines()]
    assert [(r["Name"], r["Service"], r["State"]) for r in rows] == [
        ("shop-db-1", "db", "running"),
        ("shop-web-1", "web", "running"),
    ]
    labels = rows[1]["Labels"]
    assert labels["com.docker.compose.project"] == "shop"
    assert labels["com.docker.compose.service"] == "web"
    assert labels["com.docker.compose.container-number"] == "1"
    assert labels["com.docker.compose.oneoff"] == "False"
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:false"
    assert labels["com.docker.compose.project.config_files"] == str(project / "compose.yaml")
    assert labels["com.docker.compose.project.working_dir"] == str(project)
    net = json.loads(dy("network", "inspect", "shop_default", check=True).stdout)[0]
    assert net["Labels"]["com.docker.compose.network"] == "default"
    vol = json.loads(dy("volume", "inspect", "shop_data", check=True).stdout)[0]
    assert vol["Labels"]["com.docker.compose.volume"] == "data"
    table = dy("compose", "-p", "shop", "ps", cwd=project, check=True).stdout
    assert table.splitlines()[0].split() == [
        "NAME",
        "IMAGE",
        "COMMAND",
        "SERVICE",
        "CREATED",
        "STATUS",
        "PORTS",
    ]
    assert f"127.0.0.1:{port}->80/tcp" in table
    where = dy("compose", "-p", "shop", "port", "web", "80", cwd=project, check=True)
    assert where.stdout == f"127.0.0.1:{port}\n"
    top = dy("compose", "-p", "shop", "top", "db", cwd=project, check=True).stdout.splitlines()
    assert top[0] == "db-1" and top[1].split()[:2] == ["UID", "PID"]
    assert any("httpd -f -p 9000" in line for line in top)

    # web reaches db by its service name: db's page names db's hostname.
    deadline = time.monotonic() + 20
    while "web-1  | db-ok database" not in (
        logs := dy("compose", "-p", "shop", "logs", "web", cwd=project, check=True).stdout
    ):
        assert time.monotonic() < deadline, logs
        time.sleep(0.3)
    both = dy("compose", "-p", "shop", "logs", "--tail", "1", cwd=project, check=True)
    assert {line.split("|")[0].strip() for line in both.stdout.splitlines()} == {"db-1", "web-1"}
    bare = dy("compose", "-p", "shop", "logs", "--no-log-prefix", "db", cwd=project)
    assert bare.stdout.splitlines()[0] == "db up"

    before = ids(dy, "ps", "-aq", "--no-trunc")
    again = dy("compose", "-p", "shop", "up", "-d", cwd=project, check=True)
    assert "Creating" not in again.stderr and "Recreate" not in again.stderr
    assert " Container shop-web-1  Running" in again.stderr
    assert ids(dy, "ps", "-aq", "--no-trunc") == before

    # A changed web (another published port) is recreated; db is left as it was.
    port2 = free_port()
    use_port(monkeypatch, port2)
    db_id = dy("inspect", "-f", "{{.Id}}", "shop-db-1", check=True).stdout.strip()
    changed = dy("compose", "-p", "shop", "up", "-d", cwd=project, check=True)
    assert " Container shop-web-1  Recreated" in changed.stderr
    assert dy("inspect", "-f", "{{.Id}}", "shop-db-1", check=True).stdout.strip() == db_id
    assert dy("port", "shop-web-1", check=True).stdout == f"80/tcp -> 127.0.0.1:{port2}\n"

    stop = dy("compose", "-p", "shop", "stop", "-t", "1", cwd=project, check=True)
    assert stop.stderr.index("shop-web-1  Stopped") < stop.stderr.index("shop-db-1  Stopping")
    assert dy("compose", "-p", "shop", "ps", "-q", cwd=project, check=True).stdout == ""
    dy("compose", "-p", "shop", "start", cwd=project, check=True)
    assert len(dy("compose", "-p", "shop", "ps", "-q", cwd=project, check=True).stdout.split()) == 2
    ls = dy("compose", "ls", check=True).stdout
    assert "shop" in ls and "running(2)" in ls

    # A one-off container: by name on the network, its status passed on, removed (--rm).
    run = dy("compose", "-p", "shop", "run", "--rm", "-T", "web", "sh", "-c", "wget -q -O- http://db:9000/; exit 3", cwd=project)  # fmt: skip
    assert (run.returncode, run.stdout) == (3, "db-ok database\n"), run.stderr
    assert len(dy("ps", "-aq", check=True).stdout.split()) == 2
    ex = dy("compose", "-p", "shop", "exec", "-T", "db", "cat", "/www/index.html", cwd=project)
    assert (ex.returncode, ex.stdout) == (0, "db-ok database\n"), ex.stderr

    down = dy("compose", "-p", "shop", "down", "-v", "-t", "1", cwd=project, check=True)
    assert " Volume shop_data  Removed" in down.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
    assert "shop_default" not in dy("network", "ls", check=True).stdout
    assert dy("volume", "ls", "-q", check=True).stdout == ""


BAD = {
    "port twice": (
        "services:\n  a:\n    image: busybox\n    ports: ['127.0.0.1:{port}:80']\n"
        "  b:\n    image: busybox\n    ports: ['{port}:81']\n",
        "services.b.ports.0: host port {port}/tcp is already published by service 'a'",
    ),
    "cycle": (
        "services:\n  a:\n    image: busybox\n    depends_on: [b]\n"
        "  b:\n    image: busybox\n    depends_on: [a]\n",
        "dependency cycle detected: a -> b -> a",
    ),
    "missing variable": (
        "services:\n  a:\n    image: busybox\n    command: echo ${{NEEDED:?set NEEDED}}\n",
        "error while interpolating services.a.command: required variable NEEDED is missing a "
        "value: set NEEDED",
    ),
    "unsupported key": (
        "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    volumes_from: [a]\n",
        "services.b.volumes_from is not supported by Dockyard",
    ),
    "unset secret variable": (
        "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    secrets: [token]\n"
        "secrets:\n  token:\n    environment: DY_UNSET_TOKEN\n",
        'environment variable "DY_UNSET_TOKEN" required by secret "token" is not set',
    ),
    "missing image": (
        "services:\n  a:\n    image: busybox\n  b:\n    image: nosuchimage:1\n    pull_policy: never\n",
        "service 'b': no such image: nosuchimage:1 (pull_policy never)",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_project_starts_nothing(tmp_path: Path, dy: Runner, busybox: str, case: str) -> None:
    port = free_port()
    text, message = BAD[case]
    (tmp_path / "compose.yaml").write_text(text.format(port=port))
    out = dy("compose", "-p", "bad", "up", "-d", cwd=tmp_path)
    assert out.returncode == 1
    assert message.format(port=port) in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
    assert "bad_default" not in dy("network", "ls", check=True).stdout


@pytest.mark.timeout(120)
def test_attached_up_external_volume_orphans(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """``up`` without ``-d`` prints each service's output prefixed and returns once they
    exit; ``down -v`` keeps an external volume; a service dropped from the file is an
    orphan, removed with ``--remove-orphans``."""
    dy("volume", "create", "keepme", check=True)
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  one:\n    image: busybox\n    command: sh -c 'echo from one; cat /v/f'\n"
        "    volumes: [kept:/v]\n    network_mode: none\n"
        "  two:\n    image: busybox\n    command: echo from two\n    network_mode: none\n"
        "volumes:\n  kept:\n    external: true\n    name: keepme\n"
    )
    dy("run", "--rm", "-v", "keepme:/v", "busybox", "sh", "-c", "echo stored > /v/f", check=True)
    up = dy("compose", "-p", "att", "up", "--no-color", cwd=tmp_path, timeout=90)
    assert up.returncode == 0, up.stderr
    lines = up.stdout.splitlines()
    assert lines[0] == "Attaching to one-1, two-1"
    assert {"one-1  | from one", "one-1  | stored", "two-1  | from two"} <= set(lines)
    assert {"one-1 exited with code 0", "two-1 exited with code 0"} <= set(lines)

    (tmp_path / "compose.yaml").write_text(
        "services:\n  one:\n    image: busybox\n    command: 'true'\n    network_mode: none\n"
    )
    warn = dy("compose", "-p", "att", "down", "-v", cwd=tmp_path, check=True)
    assert "Found orphan containers ([att-two-1])" in warn.stderr
    assert dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout == "att-two-1\n"
    dy("compose", "-p", "att", "down", "-v", "--remove-orphans", cwd=tmp_path, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
    assert dy("volume", "ls", "-q", check=True).stdout == "keepme\n"
    dy("volume", "rm", "keepme", check=True)


@pytest.mark.timeout(180)
def test_build_when_missing_or_asked(
    tmp_path: Path, dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A service with ``build`` is built when its image is missing (tagged
    ``<project>-<service>``), not again on the next ``up``; ``up --build`` rebuilds and
    recreates its container; ``run --rm`` uses the built image."""
    project = tmp_path / "bld"
    shutil.copytree(DATA / "build", project)
    try:
        first = dy("compose", "up", "--no-color", cwd=project, timeout=120)
        assert first.returncode == 0, first.stderr
        assert " Service app  Built" in first.stderr
        assert "app-1  | hello" in first.stdout.splitlines()
        assert dy("images", "-q", "bld-app", check=True).stdout.strip()
        again = dy("compose", "up", "--no-color", cwd=project, check=True)
        assert "Building" not in again.stderr and "Recreate" not in again.stderr
        monkeypatch.setenv("GREETING", "rebuilt")
        rebuilt = dy("compose", "up", "--build", "--no-color", cwd=project, check=True)
        assert " Container bld-app-1  Recreated" in rebuilt.stderr
        assert "app-1  | rebuilt" in rebuilt.stdout.splitlines()
        run = dy("compose", "run", "--rm", "-T", "app", cwd=project)
        assert (run.returncode, run.stdout) == (0, "rebuilt\n"), run.stderr
    finally:
        dy("compose", "down", "-t", "0", cwd=project, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


@pytest.mark.timeout(120)
def test_build_cache_from_takes_an_images_steps(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """``build.cache_from`` reaches the builder (``build --cache-from``): with the local
    build cache pruned, the steps an image named there recorded are taken from it; without
    it they run again."""
    app = tmp_path / "app"
    app.mkdir()
    (app / "Dockerfile").write_text("FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b\n")
    (app / "a.txt").write_text("ay\n")
    dy("build", "-q", "-t", "cachesrc", str(app), check=True)
    service = "services:\n  web:\n    image: cf-{n}\n    build:\n      context: ./app\n"
    (tmp_path / "compose.yaml").write_text(service.format(n=1) + "      cache_from: [cachesrc]\n")
    dy("builder", "prune", "-af", check=True)
    hit = dy("compose", "build", cwd=tmp_path, check=True)
    assert hit.stderr.count(" ---> Using cache") == 2, hit.stderr
    dy("builder", "prune", "-af", check=True)
    (tmp_path / "compose.yaml").write_text(service.format(n=2))
    miss = dy("compose", "build", cwd=tmp_path, check=True)
    assert " ---> Using cache" not in miss.stderr, miss.stderr
    dy("rmi", "cf-1", "cf-2", "cachesrc", check=True)


@pytest.mark.timeout(120)
def test_service_keys_reach_the_container(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """user, working_dir, hostname, env_file under environment, a secret and a config as
    files, tmpfs, extra_hosts, ulimits, init, read_only and resource limits, as the
    container sees them (tests/data/compose/keys)."""
    project = tmp_path / "keys"
    shutil.copytree(DATA / "keys", project)
    try:
        up = dy("compose", "up", "--no-color", cwd=project, timeout=90)
        assert up.returncode == 0, up.stderr
        lines = [x.split("| ", 1)[1] for x in up.stdout.splitlines() if "| " in x]
        assert lines == [
            "user=1000:1000 cwd=/tmp host=probe-host",
            "env=yes,by-environment,plain",
            "secret=s3cret config=setting=1",
            "tmpfs=1",
            "hosts=1",
            "nofile=1024",
            "pid1=docker-init",
            "rootfs=ro",
        ]
        fmt = "{{.HostConfig.Memory}} {{.HostConfig.NanoCpus}} {{.HostConfig.PidsLimit}} {{.Config.Labels.probe}}"  # fmt: skip
        assert dy("inspect", "-f", fmt, "keys-probe-1", check=True).stdout.split() == [
            "67108864",
            "500000000",
            "50",
            "yes",
        ]
    finally:
        dy("compose", "down", "-t", "0", cwd=project, check=True)


STDIN_PROJECT = """\
services:
  peer:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    network_mode: none
    ipc: shareable
    shm_size: 16m
  probe:
    image: busybox
    network_mode: none
    pid: service:peer
    ipc: service:peer
    domainname: example.test
    sysctls: [net.ipv4.ip_forward=1]
    secrets: [token]
    configs:
      - source: greeting
        target: /etc/greeting
        mode: 0440
        uid: "1000"
    command:
      - sh
      - -c
      - |
        echo "sysctl=$$(cat /proc/sys/net/ipv4/ip_forward) domain=$$(cat /proc/sys/kernel/domainname)"
        echo "peer's shm=$$(grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k')"
        echo "pid1=$$(cat /proc/1/cmdline | tr '\\0' ' ')"
        [ "$$(readlink /proc/1/ns/ipc)" = "$$(readlink /proc/self/ns/ipc)" ] && echo ipc=shared
        echo "token=$$(cat /run/secrets/token) $$(stat -c '%a %u' /run/secrets/token)"
        echo "greeting=$$(cat /etc/greeting) $$(stat -c '%a %u' /etc/greeting)"
secrets:
  token:
    environment: DY_TOKEN
configs:
  greeting:
    content: hello ${WHO}
"""


@pytest.mark.timeout(120)
def test_stdin_file_namespaces_and_injected_files(
    tmp_path: Path, dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``-f -`` reads the file from stdin (the project named after the working
    directory); sysctls, shm_size, domainname, ``pid``/``ipc: service:X``, a secret from
    the environment and a config from inline content (mode, uid) reach the container."""
    monkeypatch.setenv("DY_TOKEN", "t0ken")
    monkeypatch.setenv("WHO", "world")
    project = tmp_path / "stdinproj"
    project.mkdir()
    try:
        up = dy("compose", "-f", "-", "up", "--no-color", "probe", input=STDIN_PROJECT, cwd=project, timeout=90)  # fmt: skip
        assert up.returncode == 0, up.stderr
        assert " Container stdinproj-peer-1  Started" in up.stderr  # pid/ipc: a dependency
        lines = [x.split("| ", 1)[1] for x in up.stdout.splitlines() if "| " in x]
        assert lines == [
            "sysctl=1 domain=example.test",
            "peer's shm=size=16384k",
            "pid1=sleep 300 ",
            "ipc=shared",
            "token=t0ken 444 0",
            "greeting=hello world 440 1000",
        ]
        files = dy("inspect", "-f", '{{index .Config.Labels "com.docker.compose.project.config_files"}}', "stdinproj-probe-1", check=True)  # fmt: skip
        assert files.stdout == "-\n"
    finally:
        dy("compose", "-f", "-", "down", "-t", "0", input=STDIN_PROJECT, cwd=project, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


PARALLEL_PROJECT = """\
services:
  a-job:
    image: busybox
    network_mode: none
    volumes: [shared:/shared]
    command: sh -c 'for i in $$(seq 100); do [ -f /shared/ready ] && exit 0; sleep 0.1; done; exit 1'
  b-app:
    image: busybox
    network_mode: none
    command: sleep 300
    stop_grace_period: 3s
    depends_on:
      a-job: {condition: service_completed_successfully}
  z-writer:
    image: busybox
    network_mode: none
    volumes: [shared:/shared]
    command: sh -c 'touch /shared/ready; exec sleep 300'
    stop_grace_period: 3s
volumes:
  shared:
"""


@pytest.mark.timeout(120)
def test_independent_services_start_and_stop_together(
    tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """a-job waits for a file z-writer makes; b-app waits for a-job to complete. One
    after another (a-job, b-app, z-writer) b-app would wait for ever; with independent
    services started together it starts. ``stop``: the two sleepers (which ignore
    SIGTERM for their 3 s grace) are both asked before either has stopped."""
    (tmp_path / "compose.yaml").write_text(PARALLEL_PROJECT)
    try:
        up = dy("compose", "-p", "par", "up", "-d", cwd=tmp_path, timeout=90)
        assert up.returncode == 0, up.stderr
        assert " Container par-a-job-1  Exited" in up.stderr
        states = dy(
            "compose", "-p", "par", "ps", "-a", "--format", "json", cwd=tmp_path, check=True
        )
        assert {
            json.loads(x)["Service"]: json.loads(x)["State"] for x in states.stdout.splitlines()
        } == {
            "a-job": "exited",
            "b-app": "running",
            "z-writer": "running",
        }
        stop = dy("compose", "-p", "par", "stop", cwd=tmp_path, check=True, timeout=60)
        events = [line.split()[-1] for line in stop.stderr.splitlines() if "Container" in line]
        assert events == ["Stopping", "Stopping", "Stopped", "Stopped"], stop.stderr
    finally:
        dy("compose", "-p", "par", "down", "-v", "-t", "0", cwd=tmp_path, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


REPLICAS_PROJECT = """\
services:
  slow:
    image: busybox
    command: sh -c 'trap "" TERM; while :; do sleep 0.1; done'
    stop_grace_period: 1s
    network_mode: none
    scale: 3
"""


@pytest.mark.timeout(120)
def test_a_services_replicas_stop_and_go_together(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """As Compose's stopContainers/removeContainers: the three replicas of a service that
    ignores SIGTERM (1 s grace) are all asked to stop before any has stopped, by ``stop``
    and by ``down`` (one after another, down took three grace periods)."""
    (tmp_path / "compose.yaml").write_text(REPLICAS_PROJECT)

    def events(out: subprocess.CompletedProcess) -> list[str]:
        return [line.split()[-1] for line in out.stderr.splitlines() if "Container" in line]

    try:
        dy("compose", "-p", "rep", "up", "-d", cwd=tmp_path, check=True, timeout=90)
        stop = dy("compose", "-p", "rep", "stop", cwd=tmp_path, check=True, timeout=60)
        assert events(stop) == ["Stopping"] * 3 + ["Stopped"] * 3, stop.stderr
        dy("compose", "-p", "rep", "start", cwd=tmp_path, check=True, timeout=90)
        down = dy("compose", "-p", "rep", "down", cwd=tmp_path, check=True, timeout=60)
        stops = [e for e in events(down) if e.startswith("Stop")]
        assert stops == ["Stopping"] * 3 + ["Stopped"] * 3, down.stderr
        assert events(down).count("Removed") == 3
    finally:
        dy("compose", "-p", "rep", "down", "-t", "0", cwd=tmp_path, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""


COMMANDS_PROJECT = """\
services:
  web:
    build: ./app
    image: ${REGISTRY}/cmd/web:1
    command: sleep 300
    stop_signal: SIGKILL
    network_mode: none
  db:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    network_mode: none
  talker:
    image: busybox
    network_mode: none
    command: sh -c 'until [ -f /tmp/go ]; do sleep 0.1; done; for i in $$(seq 10); do echo said-$$i; sleep 0.2; done'
"""


@pytest.mark.timeout(180)
def test_images_cp_scale_stats_wait_attach_push_down_rmi(
    tmp_path: Path, dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The commands over the docker CLI's: ``images``, ``cp`` both ways, ``scale``,
    ``stats``, ``wait``, ``attach``, ``push`` (to a loopback registry) and ``down --rmi
    local`` (the built image goes, busybox stays)."""
    from registry_peer import Registry, registry_env

    registry = Registry(tmp_path / "registry")
    registry_env(monkeypatch, tmp_path)
    monkeypatch.setenv("REGISTRY", registry.host)
    project = tmp_path / "cmd"
    (project / "app").mkdir(parents=True)
    (project / "app" / "Dockerfile").write_text("FROM busybox\nRUN echo built > /built\n")
    (project / "compose.yaml").write_text(COMMANDS_PROJECT)

    def compose(*args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return dy("compose", *args, cwd=project, **kw)  # type: ignore[no-any-return]

    try:
        compose("up", "-d", check=True, timeout=90)
        table = compose("images", check=True).stdout.splitlines()
        assert table[0].split() == ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE", "ID", "SIZE", "CREATED"]  # fmt: skip
        rows = sorted(line.split()[:4] for line in table[1:])
        assert rows == [
            ["cmd-db-1", "busybox", "latest", "linux/amd64"],
            ["cmd-talker-1", "busybox", "latest", "linux/amd64"],
            ["cmd-web-1", f"{registry.host}/cmd/web", "1", "linux/amd64"],
        ]
        assert len(set(compose("images", "-q", check=True).stdout.split())) == 2

        (tmp_path / "in.txt").write_text("copied in\n")
        compose("cp", str(tmp_path / "in.txt"), "db:/tmp/in.txt", check=True)
        assert compose("exec", "-T", "db", "cat", "/tmp/in.txt", check=True).stdout == "copied in\n"
        compose("cp", "web:/built", str(tmp_path / "out.txt"), check=True)
        assert (tmp_path / "out.txt").read_text() == "built\n"
        across = compose("cp", "web:/built", "db:/built")
        assert (
            across.returncode == 1 and "copying between services is not supported" in across.stderr
        )

        compose("scale", "db=2", check=True, timeout=60)
        stats = compose("stats", "--no-stream", "--format", "{{.Name}}", "db", check=True)
        assert sorted(stats.stdout.split()) == ["cmd-db-1", "cmd-db-2"]

        attach = subprocess.Popen(
            [DOCKYARD, "compose", "attach", "--no-stdin", "talker"],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(1)  # attached before the container starts talking
        compose("exec", "-T", "talker", "touch", "/tmp/go", check=True)
        out, err = attach.communicate(timeout=30)
        assert attach.returncode == 0, err
        assert "said-10" in out.splitlines()

        waiter = subprocess.Popen(
            [DOCKYARD, "compose", "wait", "db"],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        time.sleep(0.5)
        compose("kill", "db", check=True)
        out, err = waiter.communicate(timeout=30)
        assert waiter.returncode == 137, err
        assert len(out.splitlines()) == 2 and out.endswith("exited with status code 137\n")

        pushed = compose("push", check=True, timeout=60)
        assert f" Image {registry.host}/cmd/web:1  Pushed" in pushed.stderr
        assert " db  Skipped" in pushed.stderr  # no build section: nothing to push

        down = compose("down", "--rmi", "local", check=True, timeout=60)
        assert f" Image {registry.host}/cmd/web:1  Removed" in down.stderr
        assert dy("images", "--format", "{{.Repository}}", check=True).stdout == "busybox\n"
    finally:
        compose("down", "-t", "0", "--rmi", "local")
        registry.stop()
    assert dy("ps", "-aq", check=True).stdout == ""


@pytest.mark.timeout(120)
def test_exit_code_from_and_logs_since(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """``up --exit-code-from job`` stops the others when a container exits and exits with
    job's status; ``logs --since`` an hour ago shows job's line, since a future time
    nothing."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n"
        "  job:\n    image: busybox\n    network_mode: none\n"
        "    command: sh -c 'sleep 0.5; echo done; exit 3'\n"
        "  idle:\n    image: busybox\n    network_mode: none\n    command: sleep 300\n"
        "    stop_signal: SIGKILL\n"
    )
    try:
        up = dy("compose", "-p", "ec", "up", "--exit-code-from", "job", cwd=tmp_path, timeout=90)
        assert up.returncode == 3, up.stderr
        assert "Aborting on container exit..." in up.stdout
        states = dy("compose", "-p", "ec", "ps", "-a", "--format", "json", cwd=tmp_path, check=True)
        assert {json.loads(x)["State"] for x in states.stdout.splitlines()} == {"exited"}
        logs = ["compose", "-p", "ec", "logs", "--no-log-prefix", "job"]
        assert dy(*logs, "--since", "1h", cwd=tmp_path, check=True).stdout == "done\n"
        late = dy(*logs, "--since", "2099-01-01T00:00:00Z", cwd=tmp_path, check=True)
        assert late.stdout == ""
    finally:
        dy("compose", "-p", "ec", "down", "-t", "0", cwd=tmp_path, check=True)


@pytest.mark.timeout(120)
def test_build_shm_size_and_extra_hosts(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """``build.shm_size`` and ``build.extra_hosts`` reach the RUN containers."""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN grep ' /dev/shm ' /proc/mounts | grep -o 'size=[0-9]*k' >/shm"
        " && grep -c 'build.test' /etc/hosts >/hosts\n"
    )
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    build:\n      context: .\n      shm_size: 16m\n"
        "      extra_hosts: ['build.test=10.0.0.9']\n    network_mode: none\n"
    )
    try:
        dy("compose", "-p", "bo", "build", cwd=tmp_path, check=True, timeout=90)
        out = dy("run", "--rm", "--network", "none", "bo-app", "cat", "/shm", "/hosts", check=True)
        assert out.stdout == "size=16384k\n1\n"
    finally:
        dy("rmi", "bo-app")


@pytest.mark.timeout(120)
def test_scale_up_and_down(tmp_path: Path, dy: Runner, busybox: str) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  worker:\n    image: busybox\n    command: sleep 300\n"
        "    stop_signal: SIGKILL\n    network_mode: none\n    deploy: {replicas: 2}\n"
    )
    try:
        dy("compose", "-p", "sc", "up", "-d", cwd=tmp_path, check=True)
        names = dy("compose", "-p", "sc", "ps", "--format", "json", cwd=tmp_path, check=True)
        assert [json.loads(x)["Name"] for x in names.stdout.splitlines()] == [
            "sc-worker-1",
            "sc-worker-2",
        ]
        down = dy(
            "compose", "-p", "sc", "up", "-d", "--scale", "worker=1", cwd=tmp_path, check=True
        )
        assert " Container sc-worker-2  Removed" in down.stderr
        assert dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout == "sc-worker-1\n"
    finally:
        dy("compose", "-p", "sc", "down", "-t", "0", cwd=tmp_path, check=True)


@pytest.mark.timeout(120)
def test_lifecycle_commands_and_down_by_name(tmp_path: Path, dy: Runner, busybox: str) -> None:
    """pause/unpause/restart/kill/rm on services (one enabled by its profile when named),
    then ``down -p NAME`` from elsewhere, without the files, removes the project by label."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: busybox\n    command: sleep 300\n    network_mode: none\n"
        "    stop_signal: SIGKILL\n  b:\n    image: busybox\n    command: sleep 300\n"
        "    network_mode: none\n    depends_on: [a]\n    profiles: [extra]\n"
    )

    def states() -> dict[str, str]:
        out = dy("compose", "-p", "lc", "ps", "-a", "--format", "json", cwd=tmp_path, check=True)
        return {json.loads(x)["Service"]: json.loads(x)["State"] for x in out.stdout.splitlines()}

    try:
        dy("compose", "-p", "lc", "--profile", "extra", "up", "-d", cwd=tmp_path, check=True)
        assert states() == {"a": "running", "b": "running"}
        dy("compose", "-p", "lc", "pause", "a", cwd=tmp_path, check=True)
        assert states()["a"] == "paused"
        dy("compose", "-p", "lc", "unpause", cwd=tmp_path, check=True)
        dy("compose", "-p", "lc", "restart", "-t", "0", "a", cwd=tmp_path, check=True)
        dy("compose", "-p", "lc", "kill", "b", cwd=tmp_path, check=True)
        assert states() == {"a": "running", "b": "exited"}
        dy("compose", "-p", "lc", "rm", "-f", "b", cwd=tmp_path, check=True)
        assert states() == {"a": "running"}
        assert "running(1)" in dy("compose", "ls", check=True).stdout
    finally:
        down = dy("compose", "-p", "lc", "down", "-t", "0", cwd="/", check=True)
    assert " Container lc-a-1  Removed" in down.stderr
    assert dy("ps", "-aq", check=True).stdout == ""


@pytest.mark.timeout(120)
def test_recreate_keeps_anonymous_volumes(
    tmp_path: Path, dy: Runner, busybox: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recreated container gets its predecessor's anonymous volume (its data kept), ``-V``
    a new one; ``down -v`` leaves no volume behind."""
    (tmp_path / "compose.yaml").write_text(
        "services:\n  keep:\n    image: busybox\n    network_mode: none\n"
        "    command: sh -c 'cat /anon/f 2>/dev/null || echo $$V > /anon/f; sleep 300'\n"
        "    environment: {V: '${V}'}\n    volumes: ['/anon']\n    stop_signal: SIGKILL\n"
    )

    def content() -> str:
        return str(dy("exec", "ano-keep-1", "cat", "/anon/f", check=True).stdout)

    try:
        monkeypatch.setenv("V", "first")
        dy("compose", "-p", "ano", "up", "-d", cwd=tmp_path, check=True)
        assert content() == "first\n"
        monkeypatch.setenv("V", "second")
        again = dy("compose", "-p", "ano", "up", "-d", cwd=tmp_path, check=True)
        assert " Container ano-keep-1  Recreated" in again.stderr
        assert content() == "first\n"
        assert len(dy("volume", "ls", "-q", check=True).stdout.split()) == 1
        monkeypatch.setenv("V", "third")
        dy("compose", "-p", "ano", "up", "-d", "-V", cwd=tmp_path, check=True)
        assert content() == "third\n"
    finally:
        dy("compose", "-p", "ano", "down", "-v", "-t", "0", cwd=tmp_path, check=True)
    assert dy("ps", "-aq", check=True).stdout == ""
    # -V's predecessor volume is dangling, as Compose leaves it; down -v removed the rest.
    assert len(dy("volume", "ls", "-q", check=True).stdout.split()) == 1
    dy("volume", "prune", "-f", check=True)


@pytest.mark.timeout(60)
def test_sysctls_without_a_namespace_of_their_own_are_refused(
    tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """A host-wide sysctl, or an IPC one with ``ipc: host``, is refused as runc refuses it
    (Compose sends sysctls past the CLI's --sysctl check). The value asked is the host's
    own, so the test changes nothing should the refusal be missing."""
    swappiness = Path("/proc/sys/vm/swappiness").read_text().strip()
    shmmax = Path("/proc/sys/kernel/shmmax").read_text().strip()
    for sysctls, ipc, message in (
        (f"{{vm.swappiness: {swappiness}}}", "private", "is not in a separate kernel namespace"),
        (f"{{kernel.shmmax: {shmmax}}}", "host", "is not allowed in the hosts ipc namespace"),
    ):
        (tmp_path / "compose.yaml").write_text(
            f"services:\n  a:\n    image: {busybox}\n    sysctls: {sysctls}\n    ipc: {ipc}\n"
        )
        try:
            out = dy("compose", "-p", "sy", "up", "-d", cwd=tmp_path)
            assert out.returncode == 1, out.stderr
            assert message in out.stderr
            assert dy("ps", "-aq", check=True).stdout == ""
        finally:
            dy("compose", "-p", "sy", "down", cwd=tmp_path)


@pytest.mark.timeout(60)
def test_dependency_condition_failures_as_compose_words_them(
    tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """``service_healthy`` on a service without a healthcheck and a failed
    ``service_completed_successfully`` end ``up`` with Compose v2's messages
    (convergence.go waitDependencies: the service name in Go's %q)."""
    for dep, condition, message in (
        ("sleep 30", "service_healthy",
         "dependency failed to start: container dc-dep-1 has no healthcheck configured"),
        ("sh -c 'exit 3'", "service_completed_successfully",
         "service \"dep\" didn't complete successfully: exit 3"),
    ):  # fmt: skip
        (tmp_path / "compose.yaml").write_text(
            f"services:\n  dep:\n    image: {busybox}\n    command: {dep}\n"
            f"  a:\n    image: {busybox}\n    command: sleep 30\n"
            f"    depends_on: {{dep: {{condition: {condition}}}}}\n"
        )
        try:
            out = dy("compose", "-p", "dc", "up", "-d", cwd=tmp_path)
            assert out.returncode == 1
            assert out.stderr.strip().splitlines()[-1] == message
        finally:
            dy("compose", "-p", "dc", "down", "-t", "0", cwd=tmp_path)


INTERRUPTED_PROJECT = """\
services:
  a:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    scale: 4
  b:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    scale: 4
  c:
    image: busybox
    command: sleep 300
    stop_signal: SIGKILL
    depends_on: [a, b]
"""


def _engine_processes(root: str) -> dict[int, str]:
    """Processes whose command line names the engine root ``root`` (monitors), by pid."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace").replace("\0", " ")
        except OSError:
            continue
        if f"root={root} " in cmd:
            found[int(pid)] = cmd
    return found


def _lock_held(path: str) -> bool:
    """Whether someone (a container's monitor: its start lock) holds a flock on ``path``."""
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


@pytest.mark.timeout(240)
def test_interrupted_parallel_up_leaves_every_container_started_or_not(
    tmp_path: Path, dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it) at several points of a
    parallel ``up -d``: every container is either running (recorded so, its monitor
    alive) or not started (no monitor, no attach socket), and ``down`` then leaves
    nothing. The compose process used to exit before its workers, whose forked SQLite
    connections had taken no locks: it deleted the WAL their monitors' "running" went
    to, so containers ran behind a ``Created`` record and ``down`` left them running."""
    (tmp_path / "compose.yaml").write_text(INTERRUPTED_PROJECT)
    root, runroot = engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]
    # After the n-th container progress line (Creating, Created, Starting, Started).
    for lines in (2, 5, 8, 13, 19):
        up = subprocess.Popen(
            [DOCKYARD, "compose", "-p", "ci", "up", "-d"],
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env={**os.environ, **engine_env},
        )
        assert up.stderr is not None
        seen = []
        while len(seen) < lines:
            line = up.stderr.readline()
            if not line:
                break
            if " Container " in line:
                seen.append(line.strip())
        with contextlib.suppress(ProcessLookupError):  # a fast machine: up is done
            os.killpg(up.pid, signal.SIGINT)
        rest = up.communicate(timeout=60)[1]
        assert up.returncode in (0, 130), rest
        listed = dy("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}")
        for row in listed.stdout.splitlines():
            cid, name, state = row.split()
            watched = _lock_held(os.path.join(runroot, f"{cid}.lock"))
            assert (state == "running") == watched, (lines, name, state, watched, seen)
            if state != "running":
                assert not os.path.exists(os.path.join(runroot, f"{cid}.attach")), (lines, name)
        dy("compose", "-p", "ci", "down", "-t", "0", cwd=tmp_path, check=True, timeout=90)
        assert dy("ps", "-aq", check=True).stdout == ""
        deadline = time.monotonic() + 5
        while _engine_processes(root) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _engine_processes(root) == {}, lines
        assert [n for n in os.listdir(runroot) if n.endswith(".attach")] == [], lines


def test_invalid_project_name_as_compose_refuses_it(
    tmp_path: Path, dy: Runner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """compose-go's WithName refuses an invalid -p (or COMPOSE_PROJECT_NAME) when the files
    are loaded: down with -f (the fast path), up and ps (click); ``down -p`` alone loads
    nothing in docker compose (projectOrName), so it is no error."""
    (tmp_path / "compose.yaml").write_text("services:\n  s:\n    image: busybox\n")
    why = (
        'invalid project name "Bad!": must consist only of lowercase alphanumeric '
        "characters, hyphens, and underscores as well as start with a letter or number\n"
    )
    for args in (["-f", "compose.yaml", "down"], ["up", "-d"], ["-f", "compose.yaml", "ps"]):
        p = dy("compose", "-p", "Bad!", *args, cwd=tmp_path)
        assert (p.returncode, p.stderr) == (1, why), args
    assert dy("compose", "-p", "Bad!", "down", cwd=tmp_path).returncode == 0
    monkeypatch.setenv("COMPOSE_PROJECT_NAME", "Bad!")
    p = dy("compose", "up", "-d", cwd=tmp_path)
    assert (p.returncode, p.stderr) == (1, why)
    assert dy("ps", "-aq", check=True).stdout == ""
