"""``dockyard build``'s container flags, as the classic builder applies them to its RUN
containers (moby builder/dockerfile hostConfigFromOptions): memory, CPU, cgroup parent,
/dev/shm, ulimits, extra hosts; and the flags dockerd refuses on Linux or BuildKit
ignores."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner

needs_v1 = pytest.mark.skipif(
    not os.path.exists("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
    reason="the paths read are cgroup v1's",
)


def _context(tmp_path: Path, run: str) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox\nRUN {run}\n")
    return str(ctx)


@needs_v1
def test_run_containers_get_the_limits(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = _context(
        tmp_path,
        "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes memory/memory.memsw.limit_in_bytes "
        "cpu/cpu.shares cpu/cpu.cfs_period_us cpu/cpu.cfs_quota_us cpuset/cpuset.cpus; "
        "df -k /dev/shm | tail -1; ulimit -n; grep myhost /etc/hosts",
    )
    p = dy(
        "build",
        "--progress",
        "plain",
        *("-m", "64m", "--memory-swap", "128m", "-c", "512"),
        *("--cpu-period", "50000", "--cpu-quota", "25000", "--cpuset-cpus", "0"),
        *("--shm-size", "8m", "--ulimit", "nofile=1024:2048", "--add-host", "myhost:10.1.2.3"),
        ctx,
    )
    assert p.returncode == 0, p.stderr
    out = p.stdout
    for value in ("67108864", "134217728", "512", "50000", "25000"):
        assert f"\n{value}\n" in out, out
    assert "\n0\n" in out  # cpuset
    assert " 8192 " in out  # /dev/shm, KiB
    assert "\n1024\n" in out
    assert "10.1.2.3\tmyhost" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "1m"], "Minimum memory limit allowed is 6MB"),
        (["--cpu-period", "10"], "CPU cfs period can not be less than 1ms"),
        (["--security-opt", "seccomp=unconfined"], "security options are not supported on linux"),
        (["--isolation", "hyperv"], 'unsupported isolation: "hyperv"'),
        (["--add-host", "nocolon"], 'invalid argument "nocolon" for "--add-host" flag'),
        (["--ulimit", "nofile=x"], 'invalid argument "nofile=x" for "--ulimit" flag'),
        (["--memory", "lots"], 'invalid argument "lots" for "-m, --memory" flag'),
        (["--memory-swap", "64x"], 'invalid argument "64x" for "--memory-swap" flag'),
        (["--shm-size", "lots"], 'invalid argument "lots" for "--shm-size" flag'),
    ],
)
def test_refused_before_building(
    dy: Runner, busybox: str, tmp_path: Path, args: list[str], message: str
) -> None:
    ctx = _context(tmp_path, "echo ran")
    p = dy("build", "-t", "never", *args, ctx)
    if message.startswith("invalid argument "):
        # docker/cli 28 refuses these values while parsing: pflag's error, usage, 125.
        assert p.returncode == 125
        assert p.stderr.endswith(
            "\n\nUsage:  dockyard build [OPTIONS] PATH | URL | -\n\n"
            "Run 'dockyard build --help' for more information\n"
        ), p.stderr
    else:
        assert p.returncode == 1
    assert message in p.stderr and "ran" not in p.stdout, p.stderr
    assert dy("images", "-q", "never", check=True).stdout == ""


def test_squash_warns_and_moot_flags_build(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = _context(tmp_path, "echo ran")
    p = dy(
        "build",
        *("--squash", "--compress", "--rm", "--force-rm", "--disable-content-trust"),
        *("--isolation", "default", "-q", ctx),
    )
    assert p.returncode == 0, p.stderr
    assert p.stderr.startswith("WARNING: experimental flag squash is removed with BuildKit.")
    assert p.stdout.startswith("sha256:")


def test_secret_and_ssh_mounts(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``--secret``/``--ssh`` with ``RUN --mount=type=secret|ssh`` as BuildKit: a 0400
    file under /run/secrets (or a variable), an agent socket named by SSH_AUTH_SOCK;
    none of it left in the image."""
    import socket

    secret = tmp_path / "token.txt"
    secret.write_text("s3cr3t")
    agent = socket.socket(socket.AF_UNIX)
    sock_path = str(tmp_path / "agent.sock")
    agent.bind(sock_path)
    agent.listen(1)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        "FROM busybox\n"
        "RUN --mount=type=secret,id=tok cat /run/secrets/tok; echo; stat -c 'mode=%a' /run/secrets/tok\n"
        "RUN --mount=type=secret,id=tok,env=TOK echo env=$TOK\n"
        "RUN --mount=type=secret,id=nope test ! -e /run/secrets/nope && echo absent\n"
        "RUN --mount=type=ssh test -S $SSH_AUTH_SOCK && echo agent=$SSH_AUTH_SOCK\n"
    )
    try:
        p = dy(
            "build",
            *("--secret", f"id=tok,src={secret}", "--ssh", f"default={sock_path}"),
            *("-t", "sec", str(ctx)),
        )
    finally:
        agent.close()
    assert p.returncode == 0, p.stdout + p.stderr
    for line in ("s3cr3t", "mode=400", "env=s3cr3t", "absent", "agent=/run/buildkit/ssh_agent.0"):
        assert f"\n{line}\n" in p.stdout, p.stdout
    p = dy("run", "--rm", "sec", "sh", "-c", "ls -a /run/secrets /run/buildkit 2>&1; echo end")
    assert "No such file or directory" in p.stdout and "s3cr3t" not in p.stdout, p.stdout
    assert "TOK" not in json.dumps(inspect_config(dy, "sec"))


def inspect_config(dy: Runner, name: str) -> dict:
    return json.loads(dy("image", "inspect", name, check=True).stdout)[0]["Config"]


@pytest.mark.parametrize(
    ("dockerfile", "args", "message"),
    [
        ("RUN --mount=type=secret,id=x,required true", [], "secret x: not found"),
        ("RUN --mount=type=ssh,required true", [], 'no SSH key "default" forwarded'),
        ("RUN true", ["--secret", "id=x,src=/nonexistent"], "failed to stat /nonexistent"),
        ("RUN true", ["--ssh", "default=/etc/hostname"], "SSH key files are not supported"),
    ],
)
def test_secret_and_ssh_errors(
    dy: Runner, busybox: str, tmp_path: Path, dockerfile: str, args: list[str], message: str
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox\n{dockerfile}\n")
    p = dy("build", *args, str(ctx))
    assert p.returncode == 1 and message in p.stdout + p.stderr, p.stdout + p.stderr


def test_runs_that_change_nothing(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """Two RUN steps with empty layers (one layer twice in the image) and a step above
    them: overlayfs refuses a lower directory given twice, so the mount names it once."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN true\nRUN true\nRUN echo third\n")
    p = dy("build", "-t", "empties", str(ctx))
    assert p.returncode == 0 and "\nthird\n" in p.stdout, p.stdout + p.stderr
    assert dy("run", "--rm", "empties", "echo", "ran", check=True).stdout == "ran\n"


def test_output_local_and_tar(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``-o type=local,dest=DIR`` unpacks the result's filesystem, ``-o type=tar`` and
    ``-o -`` write it as a tar (the build's lines then go to stderr)."""
    import io
    import tarfile

    ctx = _context(tmp_path, "mkdir -p /out && echo built > /out/f && chmod 640 /out/f")
    local = tmp_path / "local"
    dy("build", "-q", "-o", f"type=local,dest={local}", ctx, check=True)
    assert (local / "out" / "f").read_text() == "built\n"
    assert oct((local / "out" / "f").stat().st_mode & 0o777) == "0o640"
    assert (local / "bin" / "busybox").is_file()
    tar_path = tmp_path / "fs.tar"
    dy("build", "-o", f"type=tar,dest={tar_path}", ctx, check=True)
    with tarfile.open(tar_path) as tf:
        assert tf.extractfile("out/f").read() == b"built\n"  # type: ignore[union-attr]
    p = subprocess_bytes(dy, "build", "-o", "-", ctx)
    assert p.returncode == 0, p.stderr
    assert b"Successfully built" in p.stderr
    with tarfile.open(fileobj=io.BytesIO(p.stdout)) as tf:
        assert "out/f" in tf.getnames()
    p = dy("build", "-o", "type=registry", ctx)
    assert p.returncode == 1 and "output type 'registry' is not supported" in p.stderr
    # A symlink is followed, as BuildKit's os.Create; a device or FIFO is written to,
    # never replaced by a file (dest=/dev/null must leave /dev/null a device).
    target = tmp_path / "target.tar"
    target.write_bytes(b"old")
    (tmp_path / "link").symlink_to(target)
    dy("build", "-q", "-o", f"type=tar,dest={tmp_path / 'link'}", ctx, check=True)
    assert (tmp_path / "link").is_symlink() and tarfile.is_tarfile(target)
    null = tmp_path / "null"
    os.mknod(null, 0o600 | stat.S_IFCHR, os.makedev(1, 3))
    dy("build", "-q", "-o", f"type=tar,dest={null}", ctx, check=True)
    assert stat.S_ISCHR(null.stat().st_mode)
    # --iidfile too (--iidfile /dev/stdout, a symlink to a descriptor, is a common use).
    (tmp_path / "out").symlink_to(null)
    dy("build", "-q", "--iidfile", str(tmp_path / "out"), ctx, check=True)
    assert (tmp_path / "out").is_symlink() and stat.S_ISCHR(null.stat().st_mode)
    p = dy("build", "-q", "--iidfile", str(tmp_path / "nodir" / "iid"), ctx)
    assert (p.returncode, p.stderr) == (
        1,
        f"open {tmp_path / 'nodir' / 'iid'}: no such file or directory\n",
    )
    assert not [n for n in os.listdir(tmp_path) if ".tmp" in n]


def subprocess_bytes(dy: Runner, *args: str) -> Any:
    return dy(*args, input=b"")
