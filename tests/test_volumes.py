"""Mounts in running containers: binds, named and anonymous volumes, VOLUME, --mount,
--tmpfs, --volumes-from, copy-up, read-only mounts, symlinked targets, sharing, concurrent
use, volumes with driver options, and the three runtimes."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import Runner, need


def build(dy: Runner, tmp_path: Path, tag: str, dockerfile: str) -> str:
    ctx = tmp_path / f"ctx-{tag}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    dy("build", "-q", "-t", tag, str(ctx), check=True)
    return tag


def sh(dy: Runner, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """``run --rm`` with the last argument as an ``sh -c`` script."""
    *flags, script = args
    return dy("run", "--rm", *flags, "sh", "-c", script, check=check)


def test_bind_mounts_rw_ro(dy: Runner, busybox: str, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "in").write_text("from host\n")
    out = sh(dy, "-v", f"{host}:/h", busybox, "cat /h/in; echo back > /h/out")
    assert out.stdout == "from host\n"
    assert (host / "out").read_text() == "back\n"
    # :ro, ,Z (labels accepted), --mount readonly: writes fail with EROFS.
    for flags in (
        ("-v", f"{host}:/h:ro"),
        ("-v", f"{host}:/h:ro,Z"),
        ("--mount", f"type=bind,source={host},target=/h,readonly"),
    ):
        out = sh(dy, *flags, busybox, "cat /h/in; echo x > /h/new", check=False)
        assert out.returncode == 1, flags
        assert out.stdout == "from host\n"
        assert "Read-only file system" in out.stderr
    assert not (host / "new").exists()
    # A file can be bind-mounted onto a file path.
    out = sh(dy, "-v", f"{host / 'in'}:/etc/motd:ro", busybox, "cat /etc/motd")
    assert out.stdout == "from host\n"
    # Relative sources starting with "." are host paths, relative to the caller's cwd.
    out = dy("run", "--rm", "-v", "./host:/h", busybox, "cat", "/h/in", cwd=tmp_path, check=True)
    assert out.stdout == "from host\n"


def test_mount_flag_and_inspect_mounts(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    host = tmp_path / "host"
    host.mkdir()
    dy("create", "--name", "mc", "-v", f"{host}:/b", "-v", "named:/n:ro", "-v", "/anon",
       "--mount", "type=volume,source=mv,target=/mv,volume-nocopy",
       "--mount", f"type=bind,src={host},dst=/mb,bind-propagation=rslave",
       "--mount", "type=tmpfs,target=/mt,tmpfs-size=1m",
       "--tmpfs", "/tt:size=2m", busybox, check=True)  # fmt: skip
    try:
        obj = json.loads(dy("inspect", "mc", check=True).stdout)[0]
        root = engine_env["DOCKYARD_ROOT"]
        mounts = {m["Destination"]: m for m in obj["Mounts"]}
        anon = mounts["/anon"]["Name"]
        assert mounts == {
            "/anon": {
                "Type": "volume",
                "Name": anon,
                "Source": f"{root}/volumes/{anon}/_data",
                "Destination": "/anon",
                "Driver": "local",
                "Mode": "",
                "RW": True,
                "Propagation": "",
            },
            "/b": {
                "Type": "bind",
                "Source": str(host),
                "Destination": "/b",
                "Mode": "",
                "RW": True,
                "Propagation": "rprivate",
            },
            "/mb": {
                "Type": "bind",
                "Source": str(host),
                "Destination": "/mb",
                "Mode": "",
                "RW": True,
                "Propagation": "rslave",
            },
            "/mt": {
                "Type": "tmpfs",
                "Source": "",
                "Destination": "/mt",
                "Mode": "",
                "RW": True,
                "Propagation": "",
            },
            "/mv": {
                "Type": "volume",
                "Name": "mv",
                "Source": f"{root}/volumes/mv/_data",
                "Destination": "/mv",
                "Driver": "local",
                "Mode": "z",
                "RW": True,
                "Propagation": "",
            },
            "/n": {
                "Type": "volume",
                "Name": "named",
                "Source": f"{root}/volumes/named/_data",
                "Destination": "/n",
                "Driver": "local",
                "Mode": "ro",
                "RW": False,
                "Propagation": "",
            },
        }
        hc = obj["HostConfig"]
        assert hc["Binds"] == [f"{host}:/b", "named:/n:ro"]
        assert hc["Tmpfs"] == {"/tt": "size=2m"}
        assert [m["Type"] for m in hc["Mounts"]] == ["volume", "bind", "tmpfs"]
        assert hc["Mounts"][2]["TmpfsOptions"] == {"SizeBytes": 1048576}
        assert obj["Config"]["Volumes"] == {"/anon": {}}
        dy("start", "-a", "mc", check=True)
    finally:
        dy("rm", "-v", "mc", check=True)
    assert sorted(dy("volume", "ls", "-q").stdout.split()) == ["mv", "named"]
    dy("volume", "rm", "mv", "named", check=True)


def test_mount_errors(dy: Runner, busybox: str, tmp_path: Path) -> None:
    bad = dy("run", "--rm", "--mount", "type=bind,target=/x", busybox, "true")
    assert bad.returncode == 125
    assert bad.stderr == (
        'dockyard: Error response from daemon: invalid mount config for type "bind": '
        "field Source must not be empty\n\nRun 'dockyard run --help' for more information\n"
    )
    bad = dy("run", "--rm", "--mount", "type=,target=/x", busybox, "true")
    assert (bad.returncode, bad.stderr) == (
        125,
        'invalid argument "type=,target=/x" for "--mount" flag: type is required\n\n'
        "Usage:  dockyard run [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
        "Run 'dockyard run --help' for more information\n",
    )
    bad = dy("run", "--rm", "-v", f"{tmp_path}:/x", "--tmpfs", "/x", busybox, "true")
    assert bad.returncode == 125 and "Duplicate mount point: /x" in bad.stderr
    bad = dy("run", "--rm", "-v", "va:/x", "--mount", "type=volume,target=/x", busybox, "true")
    assert bad.returncode == 125 and "Duplicate mount point: /x" in bad.stderr
    bad = dy("run", "--rm", "--volumes-from", "nosuch", busybox, "true")
    assert bad.returncode == 125 and "No such container: nosuch" in bad.stderr
    # Nothing was left behind by the refused runs.
    assert dy("ps", "-aq").stdout == "" and dy("volume", "ls", "-q").stdout == ""


def test_tmpfs_size_limit_and_options(dy: Runner, busybox: str) -> None:
    script = (
        "dd if=/dev/zero of={p}/fill bs=1k count=2048 2>&1 | grep -o 'No space left on device'; "
        "stat -c %a {p}; grep ' {p} ' /proc/mounts"
    )
    out = sh(dy, "--tmpfs", "/t:size=1m,mode=1770", busybox, script.format(p="/t"))
    lines = out.stdout.splitlines()
    assert lines[0] == "No space left on device"
    assert lines[1] == "1770"
    assert lines[2].startswith("tmpfs /t tmpfs rw,nosuid,nodev,noexec,")
    assert "size=1024k" in lines[2]
    out = sh(dy, "--mount", "type=tmpfs,target=/m,tmpfs-size=512k,tmpfs-mode=0700", busybox,
             script.format(p="/m"))  # fmt: skip
    assert out.stdout.splitlines()[:2] == ["No space left on device", "700"]
    assert "size=512k" in out.stdout
    # A read-only tmpfs refuses writes.
    out = sh(dy, "--mount", "type=tmpfs,target=/r,readonly", busybox, "touch /r/x", check=False)
    assert out.returncode == 1 and "Read-only file system" in out.stderr


COPY_UP_IMAGE = """FROM busybox
RUN mkdir -p /app/sub /app/empty && echo data > /app/f && echo x > /app/sub/g \\
 && ln -s f /app/link && ln /app/f /app/hard && mkfifo /app/fifo \\
 && chown 1000:2000 /app/f && chmod 0604 /app/f && chown 33:33 /app/sub && chmod 2710 /app/sub \\
 && chmod 4755 /app/sub/g && chown -R 7:8 /app/empty && chown 123:456 /app && chmod 0711 /app
VOLUME /app
"""


def test_copy_up_keeps_owners_and_modes(dy: Runner, busybox: str, tmp_path: Path) -> None:
    image = build(dy, tmp_path, "copyup", COPY_UP_IMAGE)
    listing = (
        "cd /app && for p in . f sub sub/g empty link hard fifo; do "
        "stat -c '%n %F %u:%g %a %h' $p; done; readlink link; cat hard"
    )
    want = [
        ". directory 123:456 711 4",
        "f regular file 1000:2000 604 2",
        "sub directory 33:33 2710 2",
        "sub/g regular file 0:0 4755 1",
        "empty directory 7:8 755 2",
        "link symbolic link 0:0 777 1",
        "hard regular file 1000:2000 604 2",
        "fifo fifo 0:0 644 1",
        "f",
        "data",
    ]
    # The image's own VOLUME (anonymous), a new named volume, --mount type=volume.
    for flags in (
        (),
        ("-v", "named:/app"),
        ("--mount", "type=volume,source=mnt,target=/app"),
    ):
        out = sh(dy, *flags, image, listing)
        assert out.stdout.splitlines() == want, flags
    # nocopy, and a bind mount, get nothing; a non-empty volume is not copied into.
    for flags in (
        ("-v", "nocopy:/app:nocopy"),
        ("--mount", "type=volume,source=nocopy2,target=/app,volume-nocopy"),
        ("-v", f"{tmp_path / 'bind'}:/app"),
    ):
        assert sh(dy, *flags, image, "ls -A /app | wc -l").stdout.strip() == "0", flags
    sh(dy, "-v", "named:/app", busybox, "rm /app/f")
    assert "f" not in sh(dy, "-v", "named:/app", image, "ls /app").stdout.split()
    assert dy("volume", "ls", "-q").stdout.split() == ["mnt", "named", "nocopy", "nocopy2"]
    dy("volume", "rm", "mnt", "named", "nocopy", "nocopy2", check=True)


def test_user_mount_replaces_image_volume(dy: Runner, busybox: str, tmp_path: Path) -> None:
    image = build(dy, tmp_path, "withvol", "FROM busybox\nVOLUME /data /other\n")
    dy("create", "--name", "cc", "-v", "mine:/data", "--tmpfs", "/other", image, check=True)
    try:
        mounts = json.loads(dy("inspect", "-f", "{{json .Mounts}}", "cc", check=True).stdout)
        assert [(m["Destination"], m["Name"]) for m in mounts] == [("/data", "mine")]
    finally:
        dy("rm", "-v", "cc", check=True)
    dy("volume", "rm", "mine", check=True)
    assert dy("volume", "ls", "-q").stdout == ""


@pytest.mark.parametrize("runtime", ["dockyard", "runc", "crun"])
def test_symlinked_target_stays_in_rootfs(
    dy: Runner, busybox: str, tmp_path: Path, runtime: str
) -> None:
    if runtime != "dockyard":
        need(runtime)
    escape = tmp_path / "escape"
    image = build(
        dy,
        tmp_path,
        "symlinks",
        f"FROM busybox\nRUN ln -s /../../..{escape}/abs /data && ln -s ../../../..{escape}/rel "
        "/rel && mkdir /real && ln -s /real /inner\n",
    )
    host = tmp_path / "host"
    host.mkdir()
    script = (
        f"echo hi > /data/f; echo hi > /rel/f; ls {escape}/abs {escape}/rel /real; "
        "grep -c ' /real tmpfs ' /proc/mounts"
    )
    out = sh(dy, "--runtime", runtime, "-v", "vd:/data", "-v", f"{host}:/rel",
             "--tmpfs", "/inner", image, script)  # fmt: skip
    assert out.stdout.split() == ["/real:", f"{escape}/abs:", "f", f"{escape}/rel:", "f", "1"]
    # The mounts landed inside the rootfs (the symlinks' targets taken from there):
    # nothing was made on the host outside the bind source.
    assert not escape.exists()
    assert (host / "f").read_text() == "hi\n"
    dy("volume", "rm", "vd", check=True)


def test_volumes_from(dy: Runner, busybox: str, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    try:
        dy("create", "--name", "src", "-v", "/anon", "-v", "shared:/s", "-v", f"{host}:/h",
           "--tmpfs", "/t", busybox, check=True)  # fmt: skip
        out = sh(dy, "--volumes-from", "src", busybox,
                 "echo 1 > /anon/f; echo 2 > /s/f; echo 3 > /h/f; grep -c ' /t ' /proc/mounts",
                 check=False)  # fmt: skip
        assert out.stdout == "0\n"  # --tmpfs is not shared
        out = sh(dy, "--volumes-from", "src:ro", busybox, "cat /anon/f /s/f /h/f; touch /s/x",
                 check=False)  # fmt: skip
        assert out.stdout == "1\n2\n3\n" and "Read-only file system" in out.stderr
        # The anonymous volume stays while "src" uses it (run --rm removed only its user).
        dy("rm", "-v", "src", check=True)
        assert dy("volume", "ls", "-q").stdout == "shared\n"
    finally:
        dy("rm", "-f", "src")
    dy("volume", "rm", "shared", check=True)


def test_two_running_containers_share_a_volume(dy: Runner, busybox: str) -> None:
    try:
        dy("run", "-d", "--name", "ca", "-v", "both:/v", busybox, "sh", "-c",
           "echo from-a > /v/a; while [ ! -f /v/b ]; do sleep 0.1; done; cat /v/b > /v/seen-by-a;"
           " sleep 300", check=True)  # fmt: skip
        dy("run", "-d", "--name", "cb", "-v", "both:/v", busybox, "sh", "-c",
           "while [ ! -f /v/a ]; do sleep 0.1; done; cat /v/a > /v/seen-by-b; echo from-b > /v/b;"
           " sleep 300", check=True)  # fmt: skip
        deadline = time.monotonic() + 20
        script = "cat /v/seen-by-a /v/seen-by-b 2>/dev/null"
        while time.monotonic() < deadline:
            out = dy("exec", "ca", "sh", "-c", script).stdout
            if out == "from-b\nfrom-a\n":
                break
            time.sleep(0.2)
        assert out == "from-b\nfrom-a\n"
    finally:
        dy("rm", "-f", "ca", "cb")
    dy("volume", "rm", "both", check=True)


def test_concurrent_use(dy: Runner, busybox: str, tmp_path: Path) -> None:
    image = build(dy, tmp_path, "seeded", "FROM busybox\nRUN mkdir /d && echo seed > /d/f\n")
    # Eight containers created at once on one new volume: it is created and seeded once.
    with ThreadPoolExecutor(8) as pool:
        outs = list(
            pool.map(
                lambda i: sh(dy, "-v", "race:/d", image, f"echo {i} > /d/c{i}; ls /d | wc -l"),
                range(8),
            )
        )
    assert all(o.returncode == 0 for o in outs)
    files = sh(dy, "-v", "race:/d", busybox, "ls /d").stdout.split()
    assert files == ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7", "f"]

    # volume rm racing container creation: either the rm wins (and the container gets a
    # new, empty volume) or the container does (and the rm is refused), or another rm won
    # first (no such volume); never a container whose volume is gone.
    def create(i: int) -> subprocess.CompletedProcess:
        return dy("create", "--name", f"r{i}", "-v", "race:/d", busybox)

    with ThreadPoolExecutor(4) as pool:
        creates = [pool.submit(create, i) for i in range(3)]
        removes = [pool.submit(dy, "volume", "rm", "race") for _ in range(3)]
        results = [f.result() for f in creates + removes]
    assert all(r.returncode == 0 for r in results[:3])
    for r in results[3:]:
        assert r.returncode == 0 or any(
            m in r.stderr for m in ("volume is in use", "no such volume")
        ), r.stderr
    assert dy("volume", "ls", "-q").stdout == "race\n"
    dy("rm", "r0", "r1", "r2", check=True)
    dy("volume", "rm", "race", check=True)


def test_volume_with_driver_options(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict[str, str]
) -> None:
    dy("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=1m,mode=0700",
       "tv", check=True)  # fmt: skip
    mountpoint = f"{engine_env['DOCKYARD_ROOT']}/volumes/tv/_data"
    try:
        dy("run", "-d", "--name", "t1", "-v", "tv:/v", busybox, "sleep", "300", check=True)
        dy("run", "-d", "--name", "t2", "-v", "tv:/v", busybox, "sleep", "300", check=True)
        out = dy("exec", "t1", "sh", "-c", "echo x > /v/f; grep ' /v ' /proc/mounts", check=True)
        assert out.stdout.startswith("tmpfs /v tmpfs ") and "size=1024k" in out.stdout
        assert dy("exec", "t2", "cat", "/v/f", check=True).stdout == "x\n"
        dy("rm", "-f", "t1", check=True)
        # Still mounted for t2, unmounted once nothing runs on it.
        assert dy("exec", "t2", "cat", "/v/f", check=True).stdout == "x\n"
        assert os.path.ismount(mountpoint)
        dy("rm", "-f", "t2", check=True)
        assert not os.path.ismount(mountpoint)
    finally:
        dy("rm", "-f", "t1", "t2")
    bad = dy("volume", "create", "-o", "type=tmpfs", "nodevice")
    assert (
        bad.stderr
        == 'Error response from daemon: create nodevice: missing required option: "device"\n'
    )
    dy("volume", "rm", "tv", check=True)


@pytest.mark.parametrize("runtime", ["runc", "crun"])
def test_external_runtimes(dy: Runner, busybox: str, tmp_path: Path, runtime: str) -> None:
    need(runtime)
    host = tmp_path / "host"
    out = sh(dy, "--runtime", runtime, "-v", f"{host}:/h", "-v", "rv:/v:ro", "--tmpfs",
             "/t:size=64k", busybox,
             "echo h > /h/f; touch /v/x 2>/dev/null || echo ro; "
             "dd if=/dev/zero of=/t/z bs=1k count=100 2>&1 | grep -c 'No space'")  # fmt: skip
    assert out.stdout == "ro\n1\n"
    assert (host / "f").read_text() == "h\n"
    assert oct(host.stat().st_mode & 0o777) == "0o755"
    dy("volume", "rm", "rv", check=True)
