"""``export``, ``diff`` and ``commit`` of stopped and running containers (end to end)."""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from pathlib import Path

from conftest import Runner


def _names(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        return {m.name.rstrip("/"): m for m in tf.getmembers()}


CHANGE = "echo x > /tmp/new; rm /bin/ls; mkdir -p /a/b; echo y > /a/b/c; chmod 700 /home"


def test_diff_stopped(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "c1", "busybox", "sh", "-c", CHANGE, check=True)
    out = dy("diff", "c1", check=True).stdout
    # The engine's bind-mounted /etc files never show (Docker keeps them in its init layer).
    assert out == ("A /a\nA /a/b\nA /a/b/c\nC /bin\nD /bin/ls\nC /home\nC /tmp\nA /tmp/new\n")
    assert dy("container", "diff", "c1", check=True).stdout == out
    r = dy("diff", "nosuch")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: No such container: nosuch\n",
    )


def test_diff_replaced_directories(dy: Runner, busybox: str) -> None:
    """A directory removed and made again (overlayfs: opaque) is compared with the image's
    as moby's naive diff does: the same empty /usr is no change; /etc lost group and got
    a new passwd. Docker 20.10 printed C /etc, C /etc/passwd, D /etc/group for the same
    commands (its bind-mounted /etc files aside, and in another order)."""
    script = "rm -rf /usr /etc 2>/dev/null; mkdir -p /usr /etc; echo new > /etc/passwd"
    dy("run", "--name", "c2", "busybox", "sh", "-c", script)
    out = dy("diff", "c2", check=True).stdout
    assert out == "C /etc\nD /etc/group\nC /etc/passwd\n"


def test_diff_untouched_container_is_empty(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "c0", "busybox", "true", check=True)
    assert dy("diff", "c0", check=True).stdout == ""
    dy("start", "-a", "c0", check=True)
    assert dy("diff", "c0", check=True).stdout == ""


def test_export_stopped_and_running(dy: Runner, busybox: str, tmp_path: Path) -> None:
    dy("run", "--name", "c1", "busybox", "sh", "-c", CHANGE, check=True)
    out = tmp_path / "fs.tar"
    dy("export", "-o", str(out), "c1", check=True)
    names = _names(out.read_bytes())
    assert "a/b/c" in names and "tmp/new" in names and "bin/busybox" in names
    assert "bin/ls" not in names
    assert not any(n.startswith(".wh.") or "/.wh." in n for n in names)
    assert not os.path.ismount(Path(os.environ["DOCKYARD_ROOT"]) / "containers")
    dy(
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo hi > /live; sleep 60",
        check=True,
    )
    try:
        deadline = time.monotonic() + 10
        while "A /live" not in dy("diff", "live", check=True).stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        data = dy("container", "export", "live", check=True, input=b"").stdout
        with tarfile.open(fileobj=io.BytesIO(data)) as tf:
            f = tf.extractfile("live")
            assert f is not None and f.read() == b"hi\n"
    finally:
        dy("rm", "-f", "live", check=True)


def test_commit_stopped(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "c1", "busybox", "sh", "-c", CHANGE, check=True)
    image_id = dy(
        "commit",
        "-a",
        "Jo",
        "-m",
        "made it",
        "-c",
        'CMD ["cat", "/a/b/c"]',
        "-c",
        "ENV K=v",
        "c1",
        "mine:1",
        check=True,
    ).stdout.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert dy("run", "--rm", "mine:1", check=True).stdout == "y\n"
    assert dy("run", "--rm", "mine:1", "ls", "/bin/ls").returncode != 0
    info = json.loads(dy("image", "inspect", "mine:1", check=True).stdout)[0]
    assert info["Id"] == image_id
    assert info["Author"] == "Jo" and info["Comment"] == "made it"
    assert info["Config"]["Cmd"] == ["cat", "/a/b/c"]
    assert "K=v" in info["Config"]["Env"]
    base = json.loads(dy("image", "inspect", "busybox", check=True).stdout)[0]
    assert info["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"]
    # The layer holds the changes only, not the engine's /etc files.
    history = dy("history", "--format", "{{.Comment}}", "mine:1", check=True).stdout
    assert history.splitlines()[0] == "made it"


def test_commit_running_pauses_and_resumes(dy: Runner, busybox: str) -> None:
    dy(
        "run",
        "-d",
        "--name",
        "live",
        "busybox",
        "sh",
        "-c",
        "echo hi > /live; sleep 60",
        check=True,
    )
    try:
        deadline = time.monotonic() + 10
        while "A /live" not in dy("diff", "live", check=True).stdout:
            assert time.monotonic() < deadline
            time.sleep(0.1)
        untagged = dy("commit", "live", check=True).stdout.strip()
        state = json.loads(dy("inspect", "live", check=True).stdout)[0]["State"]
        assert state["Running"] and not state["Paused"]
        assert dy("run", "--rm", untagged, "cat", "/live", check=True).stdout == "hi\n"
        dy("commit", "--pause=false", "live", "nopause", check=True)
        assert dy("run", "--rm", "nopause", "cat", "/live", check=True).stdout == "hi\n"
    finally:
        dy("rm", "-f", "live", check=True)


def test_commit_errors_store_nothing(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "c1", "busybox", "true", check=True)
    before = dy("images", "-aq", check=True).stdout
    r = dy("commit", "-c", "RUN true", "c1", "x:1")
    assert (r.returncode, r.stderr) == (
        1,
        "Error response from daemon: run is not a valid change command\n",
    )
    r = dy("commit", "c1", "Bad:Name")
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert dy("images", "-aq", check=True).stdout == before
