"""Dockyard's CLI as a client (``-H``/``DOCKER_HOST``) of its own Engine API service:
the same commands run in process and through the service give the same output and exit
codes (a differential check of the facade's two implementations), and commands not yet
available remotely are refused instead of run on the local engine."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from api_service import running_service
from conftest import Runner

pytestmark = pytest.mark.timeout(240)

# Output that does not depend on when it is asked (no "2 seconds ago").
PS_FORMAT = "{{.ID}} {{.Image}} {{.Command}} {{.Names}} {{.Ports}} {{.State}} {{.Labels}}"

COMMANDS = [
    ("ps",),
    ("ps", "-a", "--format", PS_FORMAT),
    ("ps", "-aq", "--no-trunc"),
    ("ps", "-a", "--filter", "status=exited", "--format", PS_FORMAT),
    ("ps", "-a", "--filter", "name=nosuch"),
    ("ps", "--filter", "bogus=1"),
    ("inspect", "ran"),
    (
        "inspect",
        "--format",
        "{{.State.Status}} {{.Config.Cmd}} {{.HostConfig.NetworkMode}}",
        "ran",
        "made",
    ),
    ("inspect", "busybox"),
    ("inspect", "nosuch"),
    ("images",),
    ("images", "-q"),
    ("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}"),
    ("images", "--filter", "reference=busy*"),
    ("info", "--format", "{{.Containers}} {{.ContainersRunning}} {{.Images}} {{.DockerRootDir}}"),
    ("version", "--format", "{{.Server.ApiVersion}} {{.Server.Version}}"),
    ("network", "ls"),
    ("network", "ls", "--filter", "driver=bridge", "--format", "{{.Name}} {{.Driver}} {{.Scope}}"),
    ("network", "inspect", "bridge", "--format", "{{.Name}} {{.Driver}} {{.IPAM.Driver}}"),
    ("network", "inspect", "nosuch"),
    ("volume", "ls"),
    ("volume", "inspect", "kept"),
    ("volume", "inspect", "nosuch"),
]


def test_same_output_in_process_and_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    dy("create", "--name", "made", "--label", "a=b", busybox, "true", check=True)
    dy("run", "--name", "ran", busybox, "sh", "-c", "exit 3")
    dy("volume", "create", "--label", "x=y", "kept", check=True)
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):
        for args in COMMANDS:
            local = dy(*args)
            remote = dy("-H", f"unix://{sock}", *args)
            assert (remote.returncode, remote.stdout, remote.stderr) == (
                local.returncode,
                local.stdout,
                local.stderr,
            ), args
        dy("rm", "made", "ran", check=True)
        dy("volume", "rm", "kept", check=True)


def test_docker_host_and_refusals(
    engine_env: dict[str, str],
    tmp_path: Path,
    dy: Runner,
    busybox: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):
        with monkeypatch.context() as m:
            m.setenv("DOCKER_HOST", f"unix://{sock}")
            r = dy("images", "-q")
            assert r.returncode == 0 and len(r.stdout.split()) == 1
        r = dy("-H", f"unix://{sock}", "bootstrap", "busybox")
        assert r.returncode == 125
        assert "not available with -H/DOCKER_HOST" in r.stderr
    r = dy("-H", f"unix://{tmp_path}/nothing.sock", "ps")
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"Cannot connect to the Docker daemon at unix://{tmp_path}/nothing.sock."
    )


def test_lifecycle_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """run -d, logs, stop, start, kill, wait, rm, run --rm, tag and rmi through -H; the
    in-process CLI sees what they did."""
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):

        def remote(*args: str, check: bool = True) -> subprocess.CompletedProcess:
            return dy("-H", f"unix://{sock}", *args, check=check)

        cid = remote(
            "run", "-d", "--name", "r1", busybox, "sh", "-c", "echo hi; sleep 60"
        ).stdout.strip()
        assert len(cid) == 64
        assert dy("ps", "-q", "--no-trunc", check=True).stdout.strip() == cid
        deadline = time.monotonic() + 10
        while remote("logs", "r1").stdout != "hi\n" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert remote("logs", "r1").stdout == "hi\n"
        assert remote("stop", "-t", "1", "r1").stdout == "r1\n"
        assert dy("inspect", "-f", "{{.State.Running}}", "r1", check=True).stdout == "false\n"
        assert remote("start", "r1").stdout == "r1\n"
        assert remote("kill", "r1").stdout == "r1\n"
        assert remote("wait", "r1").stdout == "137\n"
        assert remote("rm", "r1").stdout == "r1\n"
        err = remote("rm", "r1", check=False)
        assert (err.returncode, err.stderr) == (
            1,
            "Error response from daemon: No such container: r1\n",
        )
        run = remote(
            "run", "--rm", busybox, "sh", "-c", "echo out; echo err >&2; exit 3", check=False
        )
        assert (run.returncode, run.stdout, run.stderr) == (3, "out\n", "err\n")
        assert dy("ps", "-aq", check=True).stdout == ""
        remote("tag", busybox, "remote:1")
        assert "remote" in dy("images", "--format", "{{.Repository}}", check=True).stdout
        assert remote("rmi", "remote:1").stdout == "Untagged: remote:1\n"
        assert (
            len(remote("network", "create", "--subnet", "10.232.0.0/24", "rnet").stdout.strip())
            == 64
        )
        remote("run", "-d", "--name", "r2", "--network", "rnet", busybox, "sleep", "60")
        assert (
            dy(
                "inspect", "-f", "{{.NetworkSettings.Networks.rnet.IPAddress}}", "r2", check=True
            ).stdout
            == "10.232.0.2\n"
        )
        remote("rm", "-f", "r2")
        assert remote("network", "rm", "rnet").stdout == "rnet\n"
        assert remote("volume", "create", "rvol").stdout == "rvol\n"
        assert remote("volume", "rm", "rvol").stdout == "rvol\n"
