"""Docker CLI flags that only check or refuse on this host: Windows-only limits,
``--platform`` (Dockyard's images have one platform, this host's) and
``--disable-content-trust`` (Dockyard verifies no signatures: the default, as Docker's)."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from conftest import Runner
from dockyard.platforms import host_arch

OTHER = "s390x" if host_arch() != "s390x" else "amd64"


@pytest.mark.parametrize(
    ("flag", "message"),
    [
        (["--cpu-count", "2"], "linux does not support CPU count"),
        (["--cpu-percent", "50"], "linux does not support CPU percent"),
        (["--io-maxbandwidth", "10m"], "Invalid QoS settings: linux does not support Maximum IO"),
        (["--io-maxiops", "100"], "Invalid QoS settings: linux does not support Maximum IO"),
    ],
)
def test_windows_limits_are_refused(
    dy: Runner, busybox: str, flag: list[str], message: str
) -> None:
    # docker/cli's create returns the daemon's error as is: no program name, exit 1.
    p = dy("create", "--name", "w", *flag, busybox, "true")
    assert p.returncode == 1
    assert p.stderr.startswith(f"Error response from daemon: {message}"), p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""


def test_run_platform_and_content_trust(dy: Runner, busybox: str) -> None:
    p = dy("run", "--rm", "--platform", f"linux/{OTHER}", busybox, "true")
    assert p.returncode == 125
    assert f'invalid platform "linux/{OTHER}"' in p.stderr
    p = dy(
        "run",
        "--rm",
        *("--platform", f"linux/{host_arch()}", "--disable-content-trust"),
        *(busybox, "echo", "ok"),
    )
    assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr


def test_image_platform_must_match(dy: Runner, busybox: str) -> None:
    wrong = f"linux/{OTHER}"
    message = (
        f"image with reference {busybox} was found but does not match the specified "
        f"platform: wanted {wrong}, actual: linux/{host_arch()}"
    )
    p = dy("history", "--platform", wrong, busybox)
    assert p.returncode == 1 and message in p.stderr, p.stderr
    p = dy("push", "--platform", wrong, "127.0.0.1:1/x/busybox")
    assert p.returncode == 1
    dy("tag", busybox, "127.0.0.1:1/x/busybox", check=True)
    p = dy("push", "--platform", wrong, "127.0.0.1:1/x/busybox")
    assert p.returncode == 1 and "does not match the specified platform" in p.stderr, p.stderr
    p = dy("rmi", "--platform", wrong, busybox)
    assert p.returncode == 1 and message in p.stderr, p.stderr
    assert dy("history", "-q", "--platform", f"linux/{host_arch()}", busybox, check=True).stdout
    p = dy("rmi", "--platform", host_arch(), "127.0.0.1:1/x/busybox", check=True)
    assert p.stdout == "Untagged: 127.0.0.1:1/x/busybox:latest\n"
    # The image is still there under its other name.
    assert json.loads(dy("image", "inspect", busybox, check=True).stdout)[0]["Os"] == "linux"


def test_system_info_is_info(dy: Runner) -> None:
    fmt = ("--format", "{{.Driver}} {{.CgroupVersion}}")
    assert dy("system", "info", *fmt, check=True).stdout == dy("info", *fmt, check=True).stdout


def test_pflag_boolean_values(dy: Runner, busybox: str) -> None:
    """``--flag=true|false`` as pflag takes it; the command's own arguments untouched."""
    p = dy("run", "--rm=true", busybox, "echo", "--rm=false")
    assert (p.returncode, p.stdout) == (0, "--rm=false\n"), p.stderr
    assert dy("ps", "-aq", check=True).stdout == ""
    dy("run", "--rm=false", "--name", "kept", busybox, "true", check=True)
    assert dy("ps", "--all=false", "-q", check=True).stdout == ""
    assert dy("ps", "--all=1", "--format", "{{.Names}}", check=True).stdout == "kept\n"
    p = dy("run", "--rm=maybe", busybox, "true")
    assert p.returncode == 125 and p.stderr.startswith(
        'invalid argument "maybe" for "--rm" flag: '
        'strconv.ParseBool: parsing "maybe": invalid syntax\n\nUsage:  dockyard run '
    )
    p = dy("ps", "--all=", "-q")
    assert p.returncode == 125 and '"" for "-a, --all" flag: strconv.ParseBool' in p.stderr
    # Shorthands with '=' as pflag's: -w=/tmp is /tmp (click read "=/tmp"), -d=true, -it=false.
    p = dy("run", "--rm", "-w=/tmp", "-e=A=b", "-it=false", busybox, "sh", "-c", "pwd; echo $A")
    assert (p.returncode, p.stdout) == (0, "/tmp\nb\n"), p.stderr
    p = dy("run", "-d=true", "--rm=true", busybox, "true")
    assert p.returncode == 0 and len(p.stdout.strip()) == 64, p.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("run", "--disable-content-trust=false", "busybox", "true"),
        ("pull", "--disable-content-trust=false", "busybox"),
        ("push", "--disable-content-trust=false", "busybox"),
        ("build", "--disable-content-trust=false", "."),
    ],
)
def test_content_trust_is_refused(dy: Runner, args: tuple[str, ...]) -> None:
    p = dy(*args)
    assert p.returncode != 0
    assert "content trust (--disable-content-trust=false) is not supported" in p.stderr


def test_images_filter(dy: Runner, busybox: str) -> None:
    dy("tag", busybox, "other:1", check=True)
    fmt = ("--format", "{{.Repository}}:{{.Tag}}")
    out = dy("images", "--filter", "reference=oth*", *fmt, check=True).stdout
    assert out == "other:1\n"
    # The positional repository is one more reference filter (either may match).
    out = dy("images", "-f", "reference=oth*", busybox, *fmt, check=True).stdout
    assert sorted(out.split()) == ["busybox:latest", "other:1"]
    assert dy("images", "-f", "dangling=true", "-q", check=True).stdout == ""
    p = dy("images", "--filter", "bogus")
    assert p.returncode == 125 and p.stderr.startswith(
        'invalid argument "bogus" for "-f, --filter" flag: bad format of filter'
    )
    p = dy("images", "--filter", "color=red")
    assert p.returncode == 1 and "invalid filter 'color'" in p.stderr
    # Go's path.Match globs, as moby's reference filter (dockerd 20.10's answers).
    for pattern in ("busy\\box", "b[^x]sybox", "b[a-u]sybox", "bu?ybox:lat*"):
        out = dy("images", "-f", f"reference={pattern}", *fmt, check=True).stdout
        assert out == "busybox:latest\n", pattern
    assert dy("images", "-f", "reference=b[!x]sybox", "-q", check=True).stdout == ""
    for pattern in ("[", "busy[", "a\\", "[]"):
        p = dy("images", "-f", f"reference={pattern}")
        assert (p.returncode, p.stderr) == (
            1,
            "Error response from daemon: syntax error in pattern\n",
        )
    p = dy("images", "-f", "dangling=maybe")
    assert p.stderr == "Error response from daemon: invalid filter 'dangling=[maybe]'\n"


def test_swarm_and_criu_flags_are_refused(dy: Runner, busybox: str) -> None:
    p = dy("volume", "create", "--type", "mount", "--group", "g", "cv")
    assert p.returncode == 1
    assert "cluster volumes (--group, --type) need swarm mode" in p.stderr
    assert dy("volume", "ls", "-q", check=True).stdout == ""
    dy("volume", "create", "plain", check=True)
    out = dy("volume", "ls", "--cluster", check=True).stdout
    assert out.split() == ["VOLUME", "NAME", "GROUP", "DRIVER", "AVAILABILITY", "STATUS"]
    dy("create", "--name", "cp1", busybox, "true", check=True)
    p = dy("start", "--checkpoint", "c1", "cp1")
    assert p.returncode == 1 and "checkpoint and restore" in p.stderr
    assert json.loads(dy("inspect", "cp1", check=True).stdout)[0]["State"]["Status"] == "created"


def test_use_api_socket(
    dy: Runner,
    busybox: str,
    engine_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``--use-api-socket``: the API service's socket at /var/run/docker.sock and the
    client's logins in /run/secrets/docker/config.json (DOCKER_CONFIG), as docker/cli."""
    from api_service import running_service

    sock = os.path.join(engine_env["DOCKYARD_RUNROOT"], "docker.sock")
    p = dy("run", "--rm", "--use-api-socket", busybox, "true")
    assert p.returncode == 125 and "no Engine API socket at" in p.stderr
    client = tmp_path / "client"
    client.mkdir()
    auth = base64.b64encode(b"alice:pw").decode()
    (client / "config.json").write_text(json.dumps({"auths": {"reg.example:5000": {"auth": auth}}}))
    script = "test -S /var/run/docker.sock && echo sock; echo $DOCKER_CONFIG; cat $DOCKER_CONFIG/config.json"
    monkeypatch.setenv("DOCKER_CONFIG", str(client))
    with running_service(engine_env, sock):
        p = dy("run", "--rm", "--use-api-socket", busybox, "sh", "-c", script)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.split("\n", 2)
    assert lines[:2] == ["sock", "/run/secrets/docker"]
    assert json.loads(lines[2]) == {"auths": {"reg.example:5000": {"auth": auth}}}


def test_run_attach_streams(dy: Runner, busybox: str) -> None:
    """``-a``: only the named streams are shown; all of the output is logged."""
    script = ("sh", "-c", "echo out; echo err >&2")
    p = dy("run", "--name", "att", "-a", "stdout", busybox, *script)
    assert (p.returncode, p.stdout, p.stderr) == (0, "out\n", "")
    p = dy("run", "--rm", "-a", "STDERR", busybox, *script)
    assert (p.returncode, p.stdout, p.stderr) == (0, "", "err\n")
    logs = dy("logs", "att", check=True)
    assert (logs.stdout, logs.stderr) == ("out\n", "err\n")
    p = dy("run", "--rm", "-i", "-a", "stdout", busybox, "cat", input="fed\n")
    assert (p.returncode, p.stdout) == (0, "fed\n"), p.stderr  # -i attaches stdin too
    p = dy("run", "-d", "-a", "stdout", busybox, "true")
    assert p.returncode == 125 and "cannot specify both --attach and --detach" in p.stderr
    p = dy("run", "-a", "bogus", busybox, "true")
    assert p.returncode == 125 and "valid streams are STDIN, STDOUT and STDERR" in p.stderr


def test_detach_keys_and_sig_proxy(dy: Runner, busybox: str) -> None:
    """Accepted and checked; without a tty nothing reads keys to detach on (as Docker:
    the daemon's copyEscapable only with a tty; empty keys are the default ones);
    ``--sig-proxy=false`` runs the container under its monitor, attached (test_attach
    has the tty sessions and the signals)."""
    p = dy("run", "-d", "--name", "dk", "--detach-keys", "ctrl-a,x", busybox, "sleep", "30")
    assert p.returncode == 0, p.stderr
    p = dy("run", "-d", "--detach-keys", "ctrl-", busybox, "true")
    assert p.returncode == 125 and "Invalid detach keys" in p.stderr, p.stderr
    p = dy("run", "--rm", "-i", "--detach-keys", "ctrl-a,x", busybox, "cat", input="a\x01x\n")
    assert (p.returncode, p.stdout) == (0, "a\x01x\n"), p.stderr
    for keys in ("ctrl-a,x", ""):  # as docker run without -i (dockerd 20.10: exit 0)
        p = dy("run", "--rm", "--detach-keys", keys, busybox, "echo", "ok")
        assert (p.returncode, p.stdout) == (0, "ok\n"), p.stderr
    p = dy(
        "run", "--rm", "--sig-proxy=false", busybox, "sh", "-c", "echo out; echo err >&2; exit 3"
    )
    assert (p.returncode, p.stdout, p.stderr) == (3, "out\n", "err\n")
    assert dy("run", "--rm", "--sig-proxy=true", busybox, "echo", "x", check=True).stdout == "x\n"
    assert dy("ps", "-aq", check=True).stdout.split() == [
        dy("inspect", "-f", "{{.Id}}", "dk").stdout.strip()[:12]
    ]
    p = dy("exec", "-d", "--detach-keys", "ctrl-a,x", "dk", "true")
    assert p.returncode == 0, p.stderr
    p = dy("exec", "-i", "--detach-keys", "ctrl-a,x", "dk", "cat", input="b\x01x\n")
    assert (p.returncode, p.stdout) == (0, "b\x01x\n"), p.stderr
    assert dy("exec", "--detach-keys", "ctrl-a,x", "dk", "echo", "y", check=True).stdout == "y\n"
    dy("rm", "-f", "dk", check=True)


def test_rm_link(dy: Runner, busybox: str) -> None:
    """``rm --link /PARENT/ALIAS`` drops the link from the parent; both containers stay."""
    dy("create", "--name", "db", busybox, "true", check=True)
    dy("create", "--name", "web", "--link", "db:dbalias", busybox, "true", check=True)
    # A linked container is also named PARENT/ALIAS: docker ps shows it with --no-trunc.
    names = dy("ps", "-a", "--no-trunc", "--format", "{{.Names}}", check=True).stdout
    assert sorted(names.split()) == ["db,web/dbalias", "web"]
    names = dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout
    assert sorted(names.split()) == ["db", "web"]
    p = dy("rm", "--link", "/web/dbalias")
    assert (p.returncode, p.stdout) == (0, "/web/dbalias\n"), p.stderr
    assert json.loads(dy("inspect", "web", check=True).stdout)[0]["HostConfig"]["Links"] is None
    assert sorted(dy("ps", "-a", "--format", "{{.Names}}", check=True).stdout.split()) == [
        "db",
        "web",
    ]
    p = dy("rm", "--link", "/web/dbalias")
    assert p.returncode == 1 and "No such container: /web/dbalias" in p.stderr
    p = dy("rm", "--link", "db")
    assert p.returncode == 1 and "cannot remove the default link name" in p.stderr


def test_blkio_weight_device(dy: Runner, busybox: str) -> None:
    """``--blkio-weight-device PATH:WEIGHT``: docker/cli's checks; applied where the host
    has a weight-aware I/O scheduler, refused where it has none (dockerd would drop it)."""
    p = dy("create", "--blkio-weight-device", "/dev/sda:5", busybox, "true")
    assert p.returncode == 125 and "invalid weight for device: /dev/sda:5" in p.stderr
    p = dy("create", "--blkio-weight-device", "sda:500", busybox, "true")
    assert p.returncode == 125 and "bad format for device path" in p.stderr
    disks = sorted(os.listdir("/sys/block"))
    device = f"/dev/{disks[0]}" if disks and os.path.exists(f"/dev/{disks[0]}") else "/dev/null"
    p = dy("run", "--rm", "--blkio-weight-device", f"{device}:500", busybox, "true")
    supported = any(
        os.path.exists(f"/sys/fs/cgroup/blkio/{name}")
        for name in ("blkio.weight", "blkio.bfq.weight")
    )
    if supported:
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode == 125 and "--blkio-weight-device cannot be honoured" in p.stderr


def test_filter_without_equals_is_a_flag_error(dy: Runner) -> None:
    """docker/cli's FilterOpt refuses it while parsing the flags: exit 125 with the usage
    (it was an engine error, exit 1, and `system prune` asked first)."""
    for args, shown in [
        (("ps", "-f", "nokey"), "-f, --filter"),
        (("images", "--filter=nokey"), "-f, --filter"),
        (("volume", "ls", "-f", "nokey"), "-f, --filter"),
        (("network", "prune", "-f", "--filter", "nokey"), "--filter"),
        (("events", "-f", "nokey"), "-f, --filter"),
        (("builder", "prune", "-f", "--filter", "nokey"), "--filter"),
        (("system", "prune", "-f", "--filter", "nokey"), "--filter"),
    ]:
        p = dy(*args, input="")
        assert p.returncode == 125, (args, p.stderr)
        assert p.stderr.startswith(
            f'invalid argument "nokey" for "{shown}" flag: bad format of filter (expected '
            "name=value)\n\nUsage:  dockyard "
        ), p.stderr


def test_sizes_as_pflag(dy: Runner) -> None:
    """--keep-storage '' is an invalid size (it pruned everything, as if not given), a bad
    size is a flag error (exit 125), and sizes take ASCII digits only (go-units)."""
    for value in ("", "abc", "-5"):
        p = dy("builder", "prune", "-f", "--keep-storage", value)
        assert p.returncode == 125, p.stderr
        assert p.stderr.startswith(
            f'invalid argument "{value}" for "--keep-storage" flag: invalid size: \'{value}\''
            "\n\nUsage:  dockyard builder prune"
        ), p.stderr
    p = dy("create", "-m", "٥١٢m", "busybox")
    assert p.returncode == 125 and "invalid size" in p.stderr, p.stderr
    # A size given empty is an invalid size, as pflag's opts.MemBytes ('' was "no limit").
    for args in (
        ("create", "--shm-size", "", "busybox"),
        ("create", "-m", "", "busybox"),
        ("create", "--memory-swap", "", "busybox"),
        ("update", "--memory-reservation", "", "x"),
        ("build", "--shm-size", "", "."),
    ):
        p = dy(*args)
        assert p.returncode in (1, 125) and "invalid size: ''" in p.stderr, (args, p.stderr)
