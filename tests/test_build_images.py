"""Intermediate images of a build: hidden by ``images``, shown by ``images -a``, removed
with the image built from them (Docker's parent chain)."""

from __future__ import annotations

from pathlib import Path

from conftest import Runner


def test_intermediate_images(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f.txt").write_text("x\n")
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nCOPY f.txt /f.txt\nRUN echo built > /b\nENV A=b\nCMD ["cat", "/b"]\n'
    )
    dy("build", "-q", "-t", "app:1", str(ctx), check=True)
    shown = dy("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout.split()
    assert sorted(shown) == ["app:1", "busybox:latest"]
    everything = dy("images", "-a", "-q", check=True).stdout.split()
    # Plus an image per step, as the classic builder's: COPY, RUN, ENV (CMD's is app:1).
    assert len(everything) == 2 + 3
    out = dy("rmi", "app:1", check=True).stdout.splitlines()
    assert out[0] == "Untagged: app:1"
    deleted = [line for line in out if line.startswith("Deleted: ")]
    assert len(deleted) >= 4  # the image and its three intermediates (plus layers)
    assert dy("images", "-a", "--format", "{{.Repository}}", check=True).stdout.split() == [
        "busybox"
    ]
    # A rebuild after that starts from scratch again and still works.
    p = dy("build", "-t", "app:1", str(ctx), check=True)
    assert "Using cache" not in p.stdout
    assert dy("run", "--rm", "app:1", check=True).stdout == "built\n"


def test_copy_of_a_file_reincluded_in_an_ignored_directory(
    dy: Runner, busybox: str, tmp_path: Path
) -> None:
    """``.dockerignore``: ``docs`` then ``!docs/README.md`` copies only that file (found by a
    user trial: the parent directory was never created)."""
    ctx = tmp_path / "ctx"
    (ctx / "docs").mkdir(parents=True)
    (ctx / "docs" / "README.md").write_text("readme\n")
    (ctx / "docs" / "other.md").write_text("other\n")
    (ctx / ".dockerignore").write_text("docs\n!docs/README.md\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx\n")
    dy("build", "-q", "-t", "ign", str(ctx), check=True)
    p = dy("run", "--rm", "ign", "sh", "-c", "ls /ctx/docs; cat /ctx/docs/README.md", check=True)
    assert p.stdout == "README.md\nreadme\n"
    dy("rmi", "ign", check=True)


def test_history_shows_step_ids_and_content_sizes(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """Each step's image ID while it exists, ``<missing>`` below the base image's top
    entry; SIZE counts file bytes (hardlinks once), 0B for metadata steps."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nWORKDIR /app\nRUN echo hi > /app/x\nENV A=b\n")
    image_id = dy("build", "-q", "-t", "h:1", str(ctx), check=True).stdout.strip()
    rows = dy(
        "history", "--format", "{{.ID}}|{{.Size}}|{{.CreatedBy}}", "h:1", check=True
    ).stdout.splitlines()
    ids = [r.split("|")[0] for r in rows]
    sizes = [r.split("|")[1] for r in rows]
    assert ids[0] == image_id.removeprefix("sha256:")[:12]
    assert all(i != "<missing>" for i in ids[:4])
    base = dy("images", "-q", "busybox", check=True).stdout.strip()
    assert ids[3] == base
    assert sizes[:3] == ["0B", "3B", "0B"]
    assert sizes[3].endswith("MB") and float(sizes[3][:-2]) < 3  # busybox once, not 269 times
    dy("rmi", "h:1", check=True)


def _step_images(output: str) -> list[str]:
    """The ``---> ID`` of each step of a classic build output ("" for a step without)."""
    ids: list[str] = []
    for line in output.splitlines():
        if line.startswith("Step "):
            ids.append("")
        elif ids and line.startswith(" ---> ") and line[6:] != "Using cache":
            ids[-1] = ids[-1] if line.startswith(" ---> Running in ") else line[6:]
    return ids


def test_an_image_per_step_as_the_classic_builder(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """Every step prints its image and ``history`` shows each step's image on its own
    row, as Docker's classic builder; only a run of more than 100 metadata steps makes
    one image (at its end), its other rows ``<missing>``, never another step's ID."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "index.html").write_text("hi\n")
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nADD . /www\nEXPOSE 80\nENV A=b\nENTRYPOINT ["httpd"]\n'
    )
    first = dy("build", "-t", "steps", str(ctx), check=True).stdout
    ids = _step_images(first)
    assert len(ids) == 5 and all(ids), first
    assert len(set(ids)) == 5
    history = dy("history", "-q", "steps", check=True).stdout.split()
    assert history[:5] == ids[::-1]
    again = dy("build", "-t", "steps", str(ctx), check=True).stdout
    assert _step_images(again) == ids
    assert again.count(" ---> Using cache") == 4

    long_run = "".join(f"ARG a{i}=v\n" for i in range(101))
    (ctx / "Dockerfile").write_text(f"FROM busybox\n{long_run}CMD x\nUSER nobody\n")
    out = dy("build", "-t", "longrun", str(ctx), check=True).stdout
    ids = _step_images(out)
    assert len(ids) == 104
    assert ids[0] and ids[103] and all(ids[i] == "" for i in range(1, 103))
    rows = dy("history", "-q", "longrun", check=True).stdout.split()
    assert rows[0] == ids[103]
    assert rows[1:103] == ["<missing>"] * 102
    assert rows[103] == ids[0]
    dy("rmi", "steps", "longrun", check=True)
