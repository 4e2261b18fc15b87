"""``dockyard bootstrap debian``: a real minbase Debian from the archive (mmdebstrap)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import Runner, need

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_bootstrap_debian_runs_bash_and_apt(dy: Runner) -> None:
    need("mmdebstrap")
    proc = dy("bootstrap", "debian", check=True, timeout=600)
    progress, image_id = proc.stdout.splitlines()
    assert progress.startswith("debian:latest: Debian bookworm minbase (mmdebstrap), 1 layer, ")
    info = json.loads(dy("image", "inspect", "debian:bookworm", check=True).stdout)[0]
    assert info["Id"] == image_id
    assert sorted(info["RepoTags"]) == ["debian:bookworm", "debian:latest"]
    assert info["Config"]["Env"] == [PATH] and info["Config"]["Cmd"] == ["bash"]
    assert len(info["RootFS"]["Layers"]) == 1
    layer = Path(info["GraphDriver"]["Data"]["UpperDir"])
    assert list(layer.glob("dev/*")) == []  # device nodes come from the runtime
    assert (layer / "usr/bin/apt-get").is_file()
    version = dy("run", "--rm", "debian:bookworm", "cat", "/etc/debian_version", check=True)
    assert version.stdout.startswith("12.")
    apt = dy("run", "--rm", "debian:bookworm", "apt-get", "--version", check=True)
    assert apt.stdout.startswith("apt 2.6")
    shell = dy("run", "--rm", "debian", check=True)  # Cmd bash, stdin closed: exits 0
    assert shell.stdout == ""


def test_missing_mmdebstrap_names_the_package(
    dy: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    proc = dy("bootstrap", "debian:bookworm")
    assert proc.returncode == 1
    assert "mmdebstrap not found: install Debian's mmdebstrap package" in proc.stderr
    assert proc.stdout == ""
    assert dy("images", "-q", check=True).stdout == ""
