"""``dockyard bootstrap busybox``: layout, config and reproducibility."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import Runner, need

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def test_bootstrap_busybox(dy: Runner, engine_env: dict[str, str]) -> None:
    busybox = need("busybox")
    proc = dy("bootstrap", "busybox", check=True)
    progress, image_id = proc.stdout.splitlines()
    assert progress.startswith("busybox:latest: /bin/busybox with ")
    assert image_id.startswith("sha256:") and len(image_id) == 71
    info = json.loads(dy("image", "inspect", "busybox", check=True).stdout)[0]
    assert info["Id"] == image_id and info["RepoTags"] == ["busybox:latest"]
    assert info["Config"]["Env"] == [PATH] and info["Config"]["Cmd"] == ["sh"]
    assert info["Config"]["Entrypoint"] is None
    mtime = int(os.stat("/bin/busybox").st_mtime)
    import time

    assert info["Created"] == time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    layer = Path(info["GraphDriver"]["Data"]["UpperDir"])
    applets = subprocess.run([busybox, "--list"], capture_output=True, text=True).stdout.split()
    binary = os.stat(layer / "bin/busybox")
    assert binary.st_size == os.stat("/bin/busybox").st_size
    for name in applets:
        st = os.stat(layer / "bin" / name)
        assert (st.st_ino, st.st_mode & 0o777) == (binary.st_ino, 0o755), name
    assert binary.st_nlink == len(set(applets) | {"busybox"})
    assert (layer / "etc/passwd").read_text() == (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    )
    group = (layer / "etc/group").read_text().splitlines()
    assert "root:x:0:" in group and "nogroup:x:65534:" in group
    for d in ("bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "var"):
        assert (layer / d).is_dir(), d
    assert os.stat(layer / "tmp").st_mode & 0o7777 == 0o1777
    assert int(os.stat(layer / "etc/passwd").st_mtime) == mtime


def test_bootstrap_is_reproducible(dy: Runner, engine_env: dict[str, str]) -> None:
    need("busybox")
    first = dy("bootstrap", "busybox", check=True).stdout.splitlines()[-1]
    dy("rmi", "busybox", check=True)
    assert dy("images", "-q").stdout == ""
    second = dy("bootstrap", "busybox:1.35", check=True).stdout.splitlines()
    assert second[0].startswith("busybox:1.35: ")
    assert second[-1] == first
    third = dy("bootstrap", "busybox", check=True).stdout.splitlines()[-1]
    assert third == first
    assert dy("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout.splitlines() == [
        f"busybox:1.35 {first[7:19]}",
        f"busybox:latest {first[7:19]}",
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("debian:sid", 'cannot bootstrap "debian:sid": supported debian tags are latest, bookworm'),
        ("alpine:3", 'cannot bootstrap "alpine:3": supported images are busybox'),
        ("example.com/busybox", "supported images are busybox"),
        ("Busybox", "repository name (library/Busybox) must be lowercase"),
    ],
)
def test_bootstrap_unknown(dy: Runner, name: str, message: str) -> None:
    proc = dy("bootstrap", name)
    assert proc.returncode == 1
    assert message in proc.stderr
    assert dy("images", "-q").stdout == ""


def test_busybox_binary_checks(tmp_path: Path) -> None:
    from dockyard.errors import NotFound
    from dockyard.image.bootstrap import busybox_layer

    with pytest.raises(NotFound, match="install Debian's busybox-static package"):
        busybox_layer(str(tmp_path / "busybox"))
    with pytest.raises(NotFound, match="dynamically linked: install Debian's busybox-static"):
        busybox_layer(os.path.realpath("/bin/ls"))
