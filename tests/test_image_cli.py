"""Image CLI output: images and its formats, tag, rmi, image inspect (end to end)."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path

import pytest

from conftest import Runner

HEADER = "REPOSITORY   TAG       IMAGE ID       CREATED        SIZE"


def image_id(dy: Runner, name: str = "busybox") -> str:
    return json.loads(dy("image", "inspect", name, check=True).stdout)[0]["Id"]


def test_images_table(dy: Runner, busybox: str) -> None:
    full = image_id(dy)
    out = dy("images", check=True).stdout.splitlines()
    # Docker's tabwriter: widest cell + 3 spaces, at least 10; the last column unpadded.
    assert out[0] == HEADER
    m = re.fullmatch(r"busybox      latest    ([0-9a-f]{12})   (\d+ \w+ ago) +(\S+)", out[1])
    assert m is not None, out[1]
    assert m.group(1) == full[7:19]
    assert re.fullmatch(r"\d(\.\d+)?MB", m.group(3))
    assert len(out) == 2
    assert dy("image", "ls", check=True).stdout == dy("images").stdout
    assert dy("image", "list", check=True).stdout == dy("images").stdout
    assert dy("images", "-a", check=True).stdout == dy("images").stdout


def test_images_quiet_notrunc_digests(dy: Runner, busybox: str) -> None:
    full = image_id(dy)
    dy("tag", "busybox", "mine:1", check=True)
    assert dy("images", "-q").stdout == full[7:19] + "\n"  # one line per image
    assert dy("images", "-q", "--no-trunc").stdout == full + "\n"
    lines = dy("images", "--no-trunc").stdout.splitlines()
    assert full in lines[1] and lines[0].startswith("REPOSITORY   TAG       IMAGE ID    ")
    lines = dy("images", "--digests").stdout.splitlines()
    assert re.split(r"\s{2,}", lines[0])[:4] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE ID"]
    assert lines[1].split()[:4] == ["busybox", "latest", "<none>", full[7:19]]
    assert lines[2].split()[:2] == ["mine", "1"]
    only = dy("images", "mine").stdout.splitlines()
    assert len(only) == 2 and only[1].startswith("mine ")
    assert len(dy("images", "busybox:nope").stdout.splitlines()) == 1


def test_images_formats(dy: Runner, busybox: str) -> None:
    full = image_id(dy)
    out = dy("images", "--format", "{{.Repository}}:{{.Tag}}|{{.ID}}|{{.Digest}}").stdout
    assert out == f"busybox:latest|{full[7:19]}|<none>\n"
    row = json.loads(dy("images", "--format", "{{json .}}").stdout)
    assert json.loads(dy("images", "--format", "json").stdout) == row
    assert sorted(row) == [
        "Containers",
        "CreatedAt",
        "CreatedSince",
        "Digest",
        "ID",
        "Repository",
        "SharedSize",
        "Size",
        "Tag",
        "UniqueSize",
        "VirtualSize",
    ]
    assert row["ID"] == full[7:19] and row["Repository"] == "busybox"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \w+", row["CreatedAt"])
    table = dy("images", "--format", "table {{.ID}}\\t{{.Repository}}").stdout
    assert table == f"IMAGE ID       REPOSITORY\n{full[7:19]}   busybox\n"
    proc = dy("images", "--format", "{{.Nope}}")
    assert proc.returncode == 1
    assert "can't evaluate field Nope" in proc.stderr
    proc = dy("images", "--format", "{{json}}")
    assert (proc.returncode, proc.stderr) == (
        1,
        'template: :1:2: executing "" at <json>: wrong number of args for json: want 1 got 0\n',
    )
    # image inspect renders maps as Docker's raw-JSON fallback does: absent keys are <no value>.
    fmt = "{{.Config.StopSignal}}|{{.Config.StopSignal.X}}"
    assert dy("image", "inspect", "-f", fmt, "busybox").stdout == "<no value>|<no value>\n"


def test_tag_and_rmi(dy: Runner, busybox: str) -> None:
    full = image_id(dy)
    short = full[7:19]
    dy("tag", "busybox", "localhost:5000/a/b:v2", check=True)
    dy("tag", short, "other", check=True)
    info = json.loads(dy("image", "inspect", "other", check=True).stdout)[0]
    # Docker sorts references by their full form (docker.io/... before localhost:5000/...).
    assert info["RepoTags"] == ["busybox:latest", "other:latest", "localhost:5000/a/b:v2"]
    proc = dy("rmi", short)
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error response from daemon: conflict: unable to delete {short} (must be forced) - "
        "image is referenced in multiple repositories\n"
    )
    assert dy("rmi", "other", check=True).stdout == "Untagged: other:latest\n"
    assert dy("image", "rm", "localhost:5000/a/b:v2", check=True).stdout == (
        "Untagged: localhost:5000/a/b:v2\n"
    )
    out = dy("rmi", "busybox", check=True).stdout.splitlines()
    assert out[:2] == ["Untagged: busybox:latest", f"Deleted: {full}"]
    assert out[2].startswith("Deleted: sha256:")  # its only layer
    assert dy("images", "-q").stdout == ""
    proc = dy("rmi", "busybox", "nope")
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        "Error response from daemon: No such image: busybox:latest",
        "Error response from daemon: No such image: nope:latest",
    ]


def test_rmi_force_with_many_tags(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    full = image_id(dy)
    dy("tag", "busybox", "b2", check=True)
    out = dy("rmi", "-f", full[7:19], check=True).stdout.splitlines()
    assert out == ["Untagged: b2:latest", "Untagged: busybox:latest", f"Deleted: {full}"] + out[3:]
    root = engine_env["DOCKYARD_ROOT"]
    assert os.listdir(os.path.join(root, "blobs", "sha256")) == []
    assert [d for d in os.listdir(os.path.join(root, "layers")) if d != "empty"] == []


def test_rmi_image_used_by_container(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    full = image_id(dy)
    cid = "c" * 64
    # The container package owns this table: a bare row inserted directly is enough for the
    # in-use rules, without creating a real container.
    db = sqlite3.connect(os.path.join(engine_env["DOCKYARD_ROOT"], "state.db"))
    with db:
        db.execute(
            "INSERT INTO containers (id, name, image_id, created, config, host_config, state) "
            "VALUES (?, 'c1', ?, '2024-01-01T00:00:00Z', '{}', '{}', ?)",
            (cid, full, json.dumps({"Status": "exited", "Running": False})),
        )
    proc = dy("rmi", "busybox")
    assert proc.returncode == 1
    assert proc.stderr == (
        'Error response from daemon: conflict: unable to remove repository reference "busybox" '
        f"(must force) - container {cid[:12]} is using its referenced image {full[7:19]}\n"
    )
    proc = dy("rmi", full[7:19])
    assert "(must be forced) - image is being used by stopped container cccccccccccc" in proc.stderr
    assert dy("rmi", "-f", "busybox", check=True).stdout == "Untagged: busybox:latest\n"
    lines = dy("images").stdout.splitlines()
    assert lines[1].split()[:3] == ["<none>", "<none>", full[7:19]]
    with db:
        db.execute("UPDATE containers SET state = ?", (json.dumps({"Status": "running"}),))
    db.close()
    proc = dy("rmi", "-f", full[7:19])
    assert proc.returncode == 1
    assert proc.stderr == (
        f"Error response from daemon: conflict: unable to delete {full[7:19]} (cannot be forced) "
        f"- image is being used by running container {cid[:12]}\n"
    )


def test_rmi_no_prune_keeps_untagged_parents(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``rmi --no-prune`` (the API's ``noprune``, which Docker Compose's ``down --rmi``
    sends) removes the image and leaves the untagged build steps under it; plain ``rmi``
    of the next one takes them."""
    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo a >/a\nRUN echo b >/b\n")
    dy("build", "-q", "-t", "np", str(tmp_path), check=True)
    before = dy("images", "-aq", "--no-trunc", check=True).stdout.split()
    out = dy("rmi", "--no-prune", "np", check=True).stdout.splitlines()
    assert out[0] == "Untagged: np:latest" and out[1].startswith("Deleted: sha256:")
    after = dy("images", "-aq", "--no-trunc", check=True).stdout.split()
    assert set(before) - set(after) == {out[1].removeprefix("Deleted: ")}  # np's image alone
    busybox_id = dy("images", "-q", "--no-trunc", busybox, check=True).stdout.strip()
    (parent,) = set(after) - {busybox_id}  # RUN echo a's image, dangling now
    dy("rmi", parent, check=True)
    assert dy("images", "-aq", "--no-trunc", check=True).stdout.split() == [busybox_id]


def test_image_inspect_shape(dy: Runner, busybox: str) -> None:
    out = dy("image", "inspect", "busybox", check=True).stdout
    assert out.startswith("[\n    {\n")
    (info,) = json.loads(out)
    assert list(info) == [
        "Id",
        "RepoTags",
        "RepoDigests",
        "Parent",
        "Comment",
        "Created",
        "DockerVersion",
        "Author",
        "Config",
        "Architecture",
        "Os",
        "Size",
        "GraphDriver",
        "RootFS",
        "Metadata",
    ]
    assert list(info["Config"]) == [
        "Hostname",
        "Domainname",
        "User",
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "Tty",
        "OpenStdin",
        "StdinOnce",
        "Env",
        "Cmd",
        "Image",
        "Volumes",
        "WorkingDir",
        "Entrypoint",
        "OnBuild",
        "Labels",
    ]
    assert info["RepoDigests"] == [] and info["Parent"] == ""
    assert info["GraphDriver"]["Name"] == "overlay"
    assert info["RootFS"]["Type"] == "layers" and len(info["RootFS"]["Layers"]) == 1
    assert info["Metadata"] == {"LastTagTime": "0001-01-01T00:00:00Z"}
    fmt = dy("image", "inspect", "-f", "{{.Os}}/{{.Architecture}} {{json .Config.Cmd}}", "busybox")
    assert fmt.stdout == f'linux/{info["Architecture"]} ["sh"]\n'
    assert dy("image", "inspect", "-f", "{{.Nope}}", "busybox").stdout == "<no value>\n"


@pytest.mark.parametrize("name", ["nope", "busybox:2", "0123456789ab"])
def test_image_inspect_missing(dy: Runner, busybox: str, name: str) -> None:
    proc = dy("image", "inspect", name)
    assert proc.returncode == 1
    assert proc.stdout == "[]\n"
    assert proc.stderr == f"Error: No such image: {name}\n"
    proc = dy("image", "inspect", "busybox", name)
    assert proc.returncode == 1 and len(json.loads(proc.stdout)) == 1


def test_tag_errors(dy: Runner, busybox: str) -> None:
    proc = dy("tag", "busybox", "Upper")
    assert proc.returncode == 1
    assert proc.stderr == (
        'Error parsing reference: "Upper" is not a valid repository/tag: invalid reference '
        "format: repository name (library/Upper) must be lowercase\n"
    )
    proc = dy("tag", "nope", "x")
    assert proc.returncode == 1
    assert proc.stderr == "Error response from daemon: No such image: nope:latest\n"
