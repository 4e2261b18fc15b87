"""Dockyard's CLI as a client (``-H``/``DOCKER_HOST``) of its own Engine API service:
the same commands run in process and through the service give the same output and exit
codes (a differential check of the facade's two implementations), and commands not yet
available remotely are refused instead of run on the local engine."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path
from typing import Any

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
    ("container", "ls", "-a", "--format", PS_FORMAT),
    ("container", "inspect", "made"),
    ("image", "ls"),
    ("image", "inspect", "busybox"),
    ("image", "inspect", "nosuch"),
    ("history", "--no-trunc", "--format", "{{.ID}} {{.CreatedBy}} {{.Size}}", "busybox"),
    ("image", "history", "--format", "{{.ID}} {{.CreatedBy}} {{.Comment}}", "busybox"),
    ("history", "nosuch"),
    ("commit", "nosuch"),
    ("import", "/nonexistent/rootfs.tar"),
    ("import", "http://127.0.0.1:9/rootfs.tar"),
    ("commit", "made", "Bad:Name"),
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
        # `system`, `container` and `image` subcommands that cannot go remote are
        # refused, not run locally.
        for group, sub in (("system", "df"),):
            r = dy("-H", f"unix://{sock}", group, sub)
            assert r.returncode == 125, r
            assert f"dockyard {group} {sub}: not available with -H/DOCKER_HOST" in r.stderr
        r = dy("-H", f"unix://{sock}", "system", "info", "-f", "{{.Images}}")
        assert r.returncode == 0 and r.stdout == "1\n", r
        # The classic builder's POST /build has no exporter or session: refused as the
        # docker CLI 28.2.2 refuses them with DOCKER_BUILDKIT=0 (seen on this machine:
        # `unknown flag: --secret`, the usage line, exit 125; nothing built).
        (tmp_path / "ctx").mkdir()
        (tmp_path / "ctx" / "Dockerfile").write_text("FROM busybox\n")
        for flags, said in [
            (("-o", str(tmp_path / "out")), "unknown shorthand flag: 'o' in -o"),
            ((f"--output=type=local,dest={tmp_path}/out",), "unknown flag: --output"),
            (("--secret", "id=a,src=/etc/hostname"), "unknown flag: --secret"),
            (("--ssh", "default"), "unknown flag: --ssh"),
        ]:
            r = dy("-H", f"unix://{sock}", "build", *flags, str(tmp_path / "ctx"))
            assert (r.returncode, r.stdout) == (125, ""), r
            assert r.stderr == (
                f"{said}\n\nUsage:  dockyard build [OPTIONS] PATH | URL | -\n\n"
                "Run 'dockyard build --help' for more information\n"
            )
        assert not (tmp_path / "out").exists()
        assert dy("images", "-q").stdout.count("\n") == 1
    r = dy("-H", f"unix://{tmp_path}/nothing.sock", "ps")
    assert r.returncode == 1
    assert r.stderr.startswith(
        f"Cannot connect to the Docker daemon at unix://{tmp_path}/nothing.sock."
    )


PRUNES = [
    ("container", "prune", "-f"),
    ("container", "prune", "-f", "--filter", "bogus=1"),
    ("network", "prune", "-f"),
    ("volume", "prune", "-af"),
    ("image", "prune", "-f"),
    ("builder", "prune", "-af"),
    ("system", "prune", "-f", "--volumes"),
    ("system", "prune", "-f", "--volumes", "--filter", "until=1h"),
]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_prunes_in_process_and_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """Each prune command, run on the same objects made afresh, prints the same in
    process and through the service (the IDs of the containers and the anonymous
    volume made, which differ between the two runs, replaced by placeholders)."""
    sock = str(tmp_path / "run" / "docker.sock")

    def make() -> dict[str, str]:
        ids = {}
        for i, label in enumerate(("x=y", "x=z")):
            cid = dy("create", "--label", label, busybox, "true", check=True).stdout.strip()
            ids[cid] = f"<container {i}>"
        dy("network", "create", "--label", "x=y", "pnet", check=True)
        dy("volume", "create", "--label", "x=y", "pvol", check=True)
        dy("run", "-v", "/data", "--name", "anon", busybox, "true", check=True)
        dy("rm", "anon", check=True)
        for name in dy("volume", "ls", "-q", check=True).stdout.split():
            if name != "pvol":
                ids[name] = "<anonymous volume>"
        return ids

    def clean() -> None:
        dy("rm", "-f", *dy("ps", "-aq", check=True).stdout.split())
        dy("network", "rm", "pnet")
        dy("volume", "prune", "-af", check=True)

    with running_service(engine_env, sock):
        for args in PRUNES:
            results = []
            for via in ((), ("-H", f"unix://{sock}")):
                ids = make()
                r = dy(*via, *args)
                out = r.stdout
                for cid, placeholder in ids.items():
                    out = out.replace(cid, placeholder)
                results.append((r.returncode, out, r.stderr))
                clean()
            assert results[0] == results[1], args
            assert results[0][1] or results[0][0] != 0, results


def test_lifecycle_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """run -d, logs, stop, start, kill, wait, rm, run --rm, tag and rmi through -H; the
    in-process CLI sees what they did."""
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):

        def remote(*args: str, check: bool = True, **kw: Any) -> subprocess.CompletedProcess:
            return dy("-H", f"unix://{sock}", *args, check=check, **kw)

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
        remote("create", "--name", "c1", busybox, "true")
        iid = remote(
            "commit", "-c", "ENV A=b", "-m", "msg", "-a", "me", "c1", "committed:1"
        ).stdout.strip()
        assert iid.startswith("sha256:") and len(iid) == 71
        shown = dy(
            "image", "inspect", "-f", "{{.Id}} {{.Comment}} {{.Author}} {{.Config.Env}}",
            "committed:1", check=True,
        ).stdout  # fmt: skip
        assert shown.startswith(f"{iid} msg me [") and "A=b" in shown, shown
        remote("rm", "c1")
        remote("rmi", "committed:1")
        rootfs = tmp_path / "rootfs.tar"
        dy("export", "-o", str(rootfs), dy("create", busybox).stdout.strip(), check=True)
        iid = remote("import", "-c", 'CMD ["sh"]', "-m", "m", str(rootfs), "imp:1").stdout
        assert dy("images", "-q", "--no-trunc", "imp:1", check=True).stdout == iid
        out = remote("image", "import", "-", "imp:2", input=rootfs.read_bytes()).stdout
        assert dy("images", "-q", "--no-trunc", "imp:2", check=True).stdout == out.decode()
        remote("rmi", "imp:1", "imp:2")
        assert remote("volume", "create", "rvol").stdout == "rvol\n"
        assert remote("volume", "rm", "rvol").stdout == "rvol\n"


def _on_pty(args: list[str], env: dict[str, str], keys: list[bytes]) -> tuple[int, bytes]:
    """Run ``args`` with a new 30x90 pty as stdin/stdout, typing ``keys`` (0.7 s apart,
    after the first output); returns (exit status, everything it printed)."""
    import fcntl
    import os
    import select
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
    proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env)
    os.close(slave)
    out = b""
    pending = list(keys)
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.7)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the process has closed the terminal
                    break
                if not data:
                    break
                out += data
            elif pending and out:
                os.write(master, pending.pop(0))
        return proc.wait(timeout=15), out
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_interactive_commands_and_registries_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """run -i/-it, exec -i/-it, attach, pull and push through -H: stdin carried, the
    terminal raw and sized, exit codes and the daemon's errors as in process."""
    import os

    from conftest import DOCKYARD
    from registry_peer import Registry

    sock = str(tmp_path / "run" / "docker.sock")
    remote_args = [DOCKYARD, "-H", f"unix://{sock}"]
    env = {**os.environ, **engine_env}
    with running_service(engine_env, sock):

        def remote(*args: str, **kw: object) -> subprocess.CompletedProcess:
            return subprocess.run(
                [*remote_args, *args], env=env, capture_output=True, text=True, timeout=60, **kw
            )  # type: ignore[call-overload]

        piped = remote("run", "--rm", "-i", busybox, "sh", "-c", "cat; exit 2", input="in\n")
        assert (piped.returncode, piped.stdout) == (2, "in\n")
        assert remote("run", "-d", "-i", "--name", "ri", busybox, "cat").returncode == 0
        assert remote("exec", "-i", "ri", "cat", input="via exec\n").stdout == "via exec\n"
        ex = remote("exec", "ri", "sh", "-c", "echo out; echo err >&2; exit 5")
        assert (ex.returncode, ex.stdout, ex.stderr) == (5, "out\n", "err\n")
        local = dy("exec", "ri", "nosuch")
        missing = remote("exec", "ri", "nosuch")
        assert (missing.returncode, missing.stderr) == (local.returncode, local.stderr)
        assert missing.returncode == 127 and "OCI runtime exec failed" in missing.stderr
        status, out = _on_pty(
            [*remote_args, "exec", "-it", "ri", "sh"], env, [b"stty size\r", b"exit 7\r"]
        )
        assert status == 7 and b"30 90" in out
        status, out = _on_pty(
            [*remote_args, "run", "-it", "--rm", busybox, "sh"], env, [b"tty\r", b"exit 4\r"]
        )
        assert status == 4 and b"/dev/pts/0" in out
        remote("run", "-d", "-it", "--name", "rt", busybox, "sh")
        status, out = _on_pty([*remote_args, "attach", "rt"], env, [b"\x10\x11"])
        assert status == 1 and b"read escape sequence" in out
        assert dy("inspect", "-f", "{{.State.Running}}", "rt", check=True).stdout == "true\n"
        remote("rm", "-f", "ri", "rt")
        registry = Registry(tmp_path / "registry")
        try:
            name = f"{registry.host}/remote/busybox:1"
            dy("tag", busybox, name, check=True)
            pushed = remote("push", name)
            assert pushed.returncode == 0, pushed.stderr
            assert pushed.stdout.startswith(f"The push refers to repository [{name[:-2]}]\n")
            dy("rmi", name, check=True)
            pulled = remote("pull", name)
            assert pulled.returncode == 0 and pulled.stdout.endswith(f"\n{name}\n")
            assert name in dy("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
            bad = remote("pull", f"{registry.host}/remote/nosuch:1")
            assert bad.returncode == 1
            assert bad.stderr.startswith("Error response from daemon: ")
        finally:
            registry.stop()


def test_cp_and_build_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """cp both ways (a directory, a renamed file, a tar to stdout, a missing path) and a
    classic build (.dockerignore applied on this side, a Dockerfile outside the context,
    a failing step) through -H give what the in-process commands give."""
    ctx = tmp_path / "ctx"
    (ctx / "ign").mkdir(parents=True)
    (ctx / "keep").write_text("x\n")
    (ctx / "ign" / "no").write_text("y\n")
    (ctx / ".dockerignore").write_text("ign\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\nRUN ls -a /ctx\n")
    outside = tmp_path / "outside.Dockerfile"
    outside.write_text("FROM busybox\nCOPY . /ctx\nRUN ls -a /ctx\n")
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_text("one\n")
    (tree / "sub" / "b").write_text("two\n")
    (tree / "link").symlink_to("a")
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):

        def remote(*args: str, check: bool = False) -> subprocess.CompletedProcess:
            return dy("-H", f"unix://{sock}", *args, check=check)

        def steps(out: str) -> list[str]:
            # Without the IDs of intermediate containers and images.
            skip = (" ---> ", "Removing", "Successfully built")
            return [line for line in out.splitlines() if not line.startswith(skip)]

        for args in [
            ("build", "--no-cache", "-t", "b:1", str(ctx)),
            ("build", "--no-cache", "-f", str(outside), str(ctx)),
        ]:
            local, through = dy(*args), remote(*args)
            assert through.returncode == local.returncode == 0, through.stderr
            assert steps(through.stdout) == steps(local.stdout)
            assert "keep" in through.stdout and "ign\n" not in through.stdout
        assert ".dockerfile." not in remote(*args).stdout
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
        local, through = dy("build", str(ctx)), remote("build", str(ctx))
        assert (through.returncode, through.stderr) == (local.returncode, local.stderr)
        assert through.returncode == 1
        remote("run", "-d", "--name", "cpx", busybox, "sleep", "60", check=True)
        remote("cp", str(tree), "cpx:/tmp/", check=True)
        found = remote("exec", "cpx", "find", "/tmp/tree", check=True).stdout.split()
        assert sorted(found) == [
            "/tmp/tree", "/tmp/tree/a", "/tmp/tree/link", "/tmp/tree/sub", "/tmp/tree/sub/b"
        ]  # fmt: skip
        remote("cp", "cpx:/tmp/tree", str(tmp_path / "back"), check=True)
        assert (tmp_path / "back" / "sub" / "b").read_text() == "two\n"
        assert os.readlink(tmp_path / "back" / "link") == "a"
        remote("cp", "cpx:/tmp/tree/a", str(tmp_path / "renamed"), check=True)
        assert (tmp_path / "renamed").read_text() == "one\n"
        local, through = (
            dy("cp", "cpx:/nosuch", str(tmp_path)),
            remote("cp", "cpx:/nosuch", str(tmp_path)),
        )
        assert (through.returncode, through.stderr) == (local.returncode, local.stderr)
        assert through.returncode == 1
        remote("rm", "-f", "cpx", check=True)


@pytest.mark.timeout(120)
def test_signals_forwarded_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """Through -H, an attached run, start -a and attach send the signals the client gets
    to the container (docker/cli's ForwardAllSignals: POST /containers/{id}/kill), as the
    in-process CLI does; --sig-proxy=false counts SIGINTs instead (the third ends the
    client, exit 1, the container running on)."""
    import signal

    from conftest import DOCKYARD

    sock = str(tmp_path / "run" / "docker.sock")
    env = {**os.environ, **engine_env}
    # The shell traps the signal and says which; `wait` lets the trap run at once.
    trapping = "trap 'echo got $1; exit 4' {}; echo ready; sleep 60 & wait"

    def trap(sig: str) -> list[str]:
        return ["sh", "-c", trapping.format(sig).replace("$1", sig)]

    def client(*args: str) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [DOCKYARD, "-H", f"unix://{sock}", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None and proc.stdout.readline() == b"ready\n"
        return proc

    def ended(proc: subprocess.Popen[bytes]) -> tuple[int, bytes, bytes]:
        out, err = proc.communicate(timeout=30)
        return proc.returncode, out, err

    procs: list[subprocess.Popen[bytes]] = []
    with running_service(engine_env, sock):
        try:
            procs.append(p := client("run", "--name", "s1", busybox, *trap("INT")))
            p.send_signal(signal.SIGINT)
            assert ended(p) == (4, b"got INT\n", b"")
            procs.append(p := client("run", "--rm", busybox, *trap("USR1")))
            p.send_signal(signal.SIGUSR1)
            assert ended(p) == (4, b"got USR1\n", b"")
            dy("create", "--name", "s2", busybox, *trap("TERM"), check=True)
            procs.append(p := client("start", "-a", "s2"))
            p.send_signal(signal.SIGTERM)
            assert ended(p) == (4, b"got TERM\n", b"")
            dy("run", "-d", "--name", "s3", busybox, "sh", "-c",
               "trap 'echo got HUP; exit 4' HUP; sleep 1; echo ready; sleep 60 & wait",
               check=True)  # fmt: skip
            procs.append(p := client("attach", "s3"))
            p.send_signal(signal.SIGHUP)
            assert ended(p) == (4, b"got HUP\n", b"")
            procs.append(p := client("run", "--name", "s4", "--sig-proxy=false", busybox,
                                     *trap("INT")))  # fmt: skip
            for _ in range(3):
                p.send_signal(signal.SIGINT)
                time.sleep(0.2)
            assert ended(p) == (1, b"", b"\ngot 3 SIGTERM/SIGINTs, forcefully exiting\n")
            assert dy("inspect", "-f", "{{.State.Running}}", "s4").stdout == "true\n"
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
            dy("rm", "-f", "s1", "s2", "s3", "s4")


def test_pause_top_stats_port_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """pause, unpause, top, stats --no-stream and port through -H: the same output,
    errors and exit codes as in process."""
    sock = str(tmp_path / "run" / "docker.sock")
    dy("run", "-d", "--name", "p1", "-p", "127.0.0.1::80", "-p", "127.0.0.1::53/udp",
       busybox, "sleep", "60", check=True)  # fmt: skip
    dy("create", "--name", "p2", busybox, "true", check=True)
    with running_service(engine_env, sock):

        def both(*args: str) -> subprocess.CompletedProcess:
            local = dy(*args)
            remote = dy("-H", f"unix://{sock}", *args)
            assert (remote.returncode, remote.stdout, remote.stderr) == (
                local.returncode,
                local.stdout,
                local.stderr,
            ), args
            return remote

        try:
            assert "127.0.0.1:" in both("port", "p1").stdout
            both("port", "p1", "80")
            assert both("port", "p1", "81").returncode == 1
            assert both("port", "nosuch").returncode == 1
            assert "sleep" in both("top", "p1", "-o", "pid,comm").stdout
            assert both("top", "p2").returncode == 1
            assert both("top", "nosuch").returncode == 1
            stats = ("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}")
            assert both(*stats, "p1").stdout == "p1 1\n"
            assert both(*stats, "nosuch").returncode == 1
            remote = dy("-H", f"unix://{sock}", "pause", "p1")
            assert (remote.returncode, remote.stdout) == (0, "p1\n")
            assert dy("inspect", "-f", "{{.State.Status}}", "p1").stdout == "paused\n"
            assert both("pause", "p1").returncode == 1
            remote = dy("-H", f"unix://{sock}", "unpause", "p1")
            assert (remote.returncode, remote.stdout) == (0, "p1\n")
            assert dy("inspect", "-f", "{{.State.Status}}", "p1").stdout == "running\n"
            assert both("unpause", "p1").returncode == 1
            assert both("pause", "p2", "nosuch").returncode == 1
        finally:
            dy("rm", "-f", "p1", "p2")


def test_save_load_export_diff_through_the_service(
    engine_env: dict[str, str], tmp_path: Path, dy: Runner, busybox: str
) -> None:
    """save, load, export and diff through -H: the same archives, messages, errors and
    exit codes as in process."""
    import tarfile

    sock = str(tmp_path / "run" / "docker.sock")
    dy("run", "--name", "d1", busybox, "sh", "-c", "echo x > /made; rm /bin/true", check=True)
    (tmp_path / "bad.tar").write_bytes(b"not a tar")
    with running_service(engine_env, sock):

        def both(*args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
            local = dy(*args)
            remote = dy("-H", f"unix://{sock}", *args)
            assert (remote.returncode, remote.stderr) == (local.returncode, local.stderr), args
            return local, remote

        try:
            local, remote = both("diff", "d1")
            assert remote.stdout == local.stdout and "A /made" in remote.stdout
            assert both("diff", "nosuch")[1].returncode == 1
            both("export", "-o", str(tmp_path / "local.tar"), "d1")
            both("export", "-o", str(tmp_path / "nosuch.tar"), "nosuch")
            remote = dy("-H", f"unix://{sock}", "export", "-o", str(tmp_path / "r.tar"), "d1")
            assert remote.returncode == 0
            with tarfile.open(tmp_path / "r.tar") as r, tarfile.open(tmp_path / "local.tar") as lo:
                assert sorted(r.getnames()) == sorted(lo.getnames())
                assert "made" in r.getnames() and "bin/true" not in r.getnames()
            assert not (tmp_path / "nosuch.tar").exists()
            remote = dy("-H", f"unix://{sock}", "save", "-o", str(tmp_path / "s.tar"), busybox)
            assert remote.returncode == 0
            assert both("save", "-o", str(tmp_path / "n.tar"), "nosuch:1")[1].returncode == 1
            dy("rm", "d1", check=True)
            dy("rmi", busybox, check=True)
            remote = dy("-H", f"unix://{sock}", "load", "-i", str(tmp_path / "s.tar"))
            assert (remote.returncode, remote.stdout) == (0, "Loaded image: busybox:latest\n")
            local, remote = both("load", "-i", str(tmp_path / "s.tar"))
            assert remote.stdout == local.stdout
            assert both("load", "-i", str(tmp_path / "bad.tar"))[1].returncode == 1
        finally:
            dy("rm", "-f", "d1")
