"""``image prune``, ``builder prune``, ``system prune`` and ``system df`` (end to end)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from conftest import Runner


def image_id(dy: Runner, name: str) -> str:
    return json.loads(dy("image", "inspect", name, check=True).stdout)[0]["Id"]


def chain_of(dy: Runner, name: str) -> str:
    """The chain ID of the image's top layer (what rmi/prune report as deleted)."""
    import hashlib

    layers = json.loads(dy("image", "inspect", name, check=True).stdout)[0]["RootFS"]["Layers"]
    chain = layers[0]
    for d in layers[1:]:
        chain = "sha256:" + hashlib.sha256(f"{chain} {d}".encode()).hexdigest()
    return chain


TOTAL = re.compile(r"Total reclaimed space: \d+(\.\d+)?[kMG]?B\n")


def test_image_prune_dangling(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "c1", "busybox", "sh", "-c", "echo one > /f", check=True)
    dy("commit", "c1", "x:1", check=True)
    old, old_chain = image_id(dy, "x:1"), chain_of(dy, "x:1")
    dy("rm", "c1", check=True)
    dy("run", "--name", "c2", "busybox", "sh", "-c", "echo two > /f", check=True)
    dy("commit", "c2", "x:1", check=True)  # the tag moves: the old image dangles
    r = dy("image", "prune", input="n\n", check=True)
    assert r.stdout == (
        "WARNING! This will remove all dangling images.\nAre you sure you want to continue? [y/N] "
    )
    assert image_id(dy, old[7:19]) == old
    out = dy("image", "prune", "-f", check=True).stdout
    head, _, total = out.partition("\n\n")
    assert head == f"Deleted Images:\ndeleted: {old}\ndeleted: {old_chain}"
    assert total == "Total reclaimed space: 10.24kB\n"  # the layer tar: one 10 KiB tar record
    assert dy("image", "prune", "-f", check=True).stdout == "Total reclaimed space: 0B\n"
    # Tagged and in-use images stay.
    assert dy("images", "-q", check=True).stdout.count("\n") == 2


def test_image_prune_skips_an_image_removed_since_its_listing(
    dy: Runner, busybox: str, engine_env: dict
) -> None:
    """An image another command removes between prune's listing and its removal is
    skipped (moby's prune skips what is gone): prune failed 'blob sha256:... not found'
    reading its config. Played in this process: the rmi runs right after the listing."""
    from dockyard.image.prune import prune_images
    from dockyard.image.store import ImageStore
    from dockyard.paths import Paths
    from dockyard.state import StateDB

    dy("tag", busybox, "gone:1", check=True)
    dy("tag", busybox, "other:1", check=True)
    gone = image_id(dy, "gone:1")
    db = StateDB(Paths.from_env().state_db)
    try:
        store = ImageStore(Paths.from_env(), db)
        listing = store.list

        def listed() -> list:
            images = listing()
            dy("rmi", "-f", gone, check=True)
            return images

        store.list = listed  # type: ignore[method-assign]
        records, reclaimed = prune_images(store, all_images=True)
    finally:
        db.close()
    assert (records, reclaimed) == ([], 0)
    assert dy("images", "-q", check=True).stdout == ""


def test_image_prune_all_and_filters(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "c1", "busybox", "true", check=True)
    dy("commit", "-c", "LABEL keep=yes", "c1", "kept:1", check=True)
    dy("commit", "-c", "LABEL keep=no", "c1", "gone:1", check=True)
    dy("rm", "c1", check=True)
    dy("create", "--name", "user", "kept:1", "true", check=True)
    r = dy("image", "prune", "-a", "--filter", "nosuch=1", "-f")
    assert (r.returncode, r.stderr) == (1, "Error response from daemon: invalid filter 'nosuch'\n")
    out = dy("image", "prune", "-af", "--filter", "label=keep=no", check=True).stdout
    assert out.startswith("Deleted Images:\nuntagged: gone:1\ndeleted: sha256:")
    assert TOTAL.search(out)
    out = dy("image", "prune", "-af", "--filter", "until=2000-01-01", check=True).stdout
    assert out == "Total reclaimed space: 0B\n"
    # busybox goes (its only container was removed); kept:1 has a container, so it is
    # skipped whole: its other tag stays too (it was untagged before).
    dy("tag", "kept:1", "kept:2", check=True)
    out = dy("image", "prune", "-a", input="y\n", check=True).stdout
    assert out.startswith(
        "WARNING! This will remove all images without at least one container associated to"
        " them.\nAre you sure you want to continue? [y/N] Deleted Images:\n"
    )
    assert "kept" not in out
    images = dy("images", "--format", "{{.Repository}}:{{.Tag}}", check=True).stdout
    assert sorted(images.split()) == ["kept:1", "kept:2"]


def _build(dy: Runner, tmp_path: Path, tag: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo cached > /f\nCMD cat /f\n")
    dy("build", "-q", "-t", tag, str(ctx), check=True)


def _cache_rows(engine_env: dict[str, str]) -> int:
    db = sqlite3.connect(Path(engine_env["DOCKYARD_ROOT"]) / "state.db")
    try:
        return int(db.execute("SELECT COUNT(*) FROM build_cache").fetchone()[0])
    finally:
        db.close()


def _cache_table(dy: Runner) -> list[dict[str, str]]:
    """The build cache rows of ``system df -v``, cut at its header's column starts."""
    verbose = dy("system", "df", "-v", check=True).stdout
    table = verbose.split("\nBuild cache usage: ", 1)[1].split("\n\n", 1)[1]
    header, *lines = table.splitlines()
    names = ["CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED"]
    assert re.split(r"\s{3,}", header.rstrip()) == names
    starts = [header.index(n) for n in names] + [None]
    return [
        {n: line[a:b].strip() for n, a, b in zip(names, starts, starts[1:], strict=False)}
        for line in lines
    ]


def test_system_df_verbose_build_cache(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``df -v`` lists each build cache entry as docker/cli's build cache table: a step a
    later build reuses shows its use; an entry whose image only the cache keeps is not
    shared."""
    _build(dy, tmp_path, "site:1")  # RUN and CMD: two entries, never used
    rows = _cache_table(dy)
    assert len(rows) == 2
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{12}", row["CACHE ID"]) and row["CACHE TYPE"] == "regular"
        assert row["CREATED"].endswith(" ago")
        assert (row["LAST USED"], row["USAGE"], row["SHARED"]) == ("", "0", "true")
    assert sorted(r["SIZE"] for r in rows) == ["0B", "10.2kB"]  # CMD; RUN's one-file layer
    run = next(r["CACHE ID"] for r in rows if r["SIZE"] != "0B")
    old_cmd = next(r["CACHE ID"] for r in rows if r["SIZE"] == "0B")
    (tmp_path / "ctx" / "Dockerfile").write_text(
        "FROM busybox\nRUN echo cached > /f\nCMD cat /f /f\n"
    )
    dy("build", "-q", "-t", "site:1", str(tmp_path / "ctx"), check=True)
    rows = _cache_table(dy)
    by_id = {r["CACHE ID"]: r for r in rows}
    assert len(rows) == 3 and rows[-1]["CACHE ID"] == run  # used last: listed last
    assert by_id[run]["LAST USED"].endswith(" ago") and by_id[run]["USAGE"] == "1"
    # The old CMD step's image lost its tag: only the cache keeps it.
    assert (by_id[old_cmd]["USAGE"], by_id[old_cmd]["SHARED"]) == ("0", "false")


def test_build_cache_sizes_agree(dy: Runner, busybox: str, tmp_path: Path) -> None:
    """``system df``'s build cache size, ``df -v``'s usage line and the sum of its
    unshared rows (as docker/cli sums BuildCache records) and what ``builder prune -af``
    reclaims are one figure: an untagged build's chain only the cache keeps counts, a
    layer a tagged image also has (the same file copied) does not."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("hi\n")
    (ctx / "Dockerfile").write_text("FROM busybox\nCOPY f /f\nCMD x\n")
    dy("build", "-q", "-t", "kept", str(ctx), check=True)
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo a > /a\nCOPY f /f\nRUN echo b > /b\n")
    dy("build", "-q", str(ctx), check=True)  # untagged: only the cache keeps it
    size = dy("system", "df", "--format", "{{.Type}}={{.Size}}", check=True).stdout
    size = next(line for line in size.splitlines() if line.startswith("Build Cache="))[12:]
    verbose = dy("system", "df", "-v", check=True).stdout
    assert f"\nBuild cache usage: {size}\n" in verbose
    rows = _cache_table(dy)
    unshared = [r for r in rows if r["SHARED"] == "false"]
    assert len(rows) == 5 and len(unshared) == 2  # RUN echo a, RUN echo b
    assert all(r["SIZE"] == "10.2kB" for r in unshared) and size == "20.48kB"
    out = dy("builder", "prune", "-af", check=True).stdout
    assert out.endswith(f"Total reclaimed space: {size}\n"), out


def test_builder_prune(dy: Runner, busybox: str, tmp_path: Path, engine_env: dict) -> None:
    _build(dy, tmp_path, "site:1")
    rows = _cache_rows(engine_env)
    assert rows >= 1
    df = dy("system", "df", "--format", "{{.Type}}={{.TotalCount}}", check=True).stdout
    assert f"Build Cache={rows}\n" in df
    # In use by a tagged image: the dangling prune keeps it.
    r = dy("builder", "prune", input="y\n", check=True)
    assert r.stdout == (
        "WARNING! This will remove all dangling build cache. Are you sure you want to"
        " continue? [y/N] Total reclaimed space: 0B\n"
    )
    assert _cache_rows(engine_env) == rows
    dy("rmi", "site:1", check=True)
    out = dy("builder", "prune", "-f", check=True).stdout
    assert out.startswith("Deleted build cache objects:\n")
    assert len(out.split("\n\n")[0].splitlines()) == rows + 1
    assert _cache_rows(engine_env) == 0
    _build(dy, tmp_path, "site:2")
    out = dy("builder", "prune", "-af", check=True).stdout
    assert out.startswith("Deleted build cache objects:\n") and TOTAL.search(out)
    assert _cache_rows(engine_env) == 0
    assert dy("run", "--rm", "site:2", check=True).stdout == "cached\n"


def test_builder_prune_filter_and_keep_storage(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict
) -> None:
    _build(dy, tmp_path, "site:1")
    dy("rmi", "site:1", check=True)
    rows = _cache_rows(engine_env)
    # Made just now: an `until` an hour ago keeps them; so does room for all of them.
    out = dy("builder", "prune", "-f", "--filter", "until=1h", check=True).stdout
    assert out == "Total reclaimed space: 0B\n" and _cache_rows(engine_env) == rows
    out = dy("builder", "prune", "-f", "--keep-storage", "1g", check=True).stdout
    assert out == "Total reclaimed space: 0B\n" and _cache_rows(engine_env) == rows
    p = dy("builder", "prune", "-f", "--filter", "color=red")
    assert p.returncode == 1 and "invalid filter 'color'" in p.stderr
    out = dy("builder", "prune", "-f", "--keep-storage", "0", "--filter", "until=0s").stdout
    assert out.startswith("Deleted build cache objects:\n") and _cache_rows(engine_env) == 0


def test_system_prune(dy: Runner, busybox: str, engine_env: dict) -> None:
    dy(
        "run",
        "--name",
        "stopped",
        "-v",
        "/anon",
        "busybox",
        "sh",
        "-c",
        "echo x > /anon/f",
        check=True,
    )
    cid = json.loads(dy("inspect", "stopped", check=True).stdout)[0]["Id"]
    dy("network", "create", "unused", check=True)
    dy("volume", "create", "named", check=True)
    r = dy("system", "prune", "--volumes", "--filter", "until=1h")
    assert (r.returncode, r.stderr) == (
        1,
        'Error response from daemon: The "until" filter is not supported with "--volumes"\n',
    )
    r = dy("system", "prune", "--volumes", input="n\n", check=True)
    assert r.stdout == (
        "WARNING! This will remove:\n"
        "  - all stopped containers\n"
        "  - all networks not used by at least one container\n"
        "  - all anonymous volumes not used by at least one container\n"
        "  - all dangling images\n"
        "  - unused build cache\n"
        "\nAre you sure you want to continue? [y/N] "
    )
    out = dy("system", "prune", "-f", "--volumes", check=True).stdout
    sections = out.split("\n\n")
    assert sections[0] == f"Deleted Containers:\n{cid}"
    assert sections[1] == "Deleted Networks:\nunused"
    assert sections[2].startswith("Deleted Volumes:\n") and len(sections[2].splitlines()) == 2
    assert TOTAL.fullmatch(sections[3])
    assert dy("volume", "ls", "-q", check=True).stdout == "named\n"
    assert dy("images", "-q", check=True).stdout != ""  # busybox is tagged: not dangling
    out = dy("system", "prune", "-af", check=True).stdout
    assert out.startswith("Deleted Images:\nuntagged: busybox:latest\n")


def test_system_df(dy: Runner, busybox: str) -> None:
    dy(
        "run",
        "--name",
        "c1",
        "-v",
        "vol:/data",
        "busybox",
        "sh",
        "-c",
        "echo 12345 > /data/f; echo abc > /g",
        check=True,
    )
    dy("volume", "create", "idle", check=True)
    out = dy("system", "df", check=True).stdout.splitlines()
    assert out[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert re.fullmatch(r"Images\s+1\s+1\s+\S+MB\s+0B \(0%\)", out[1]), out[1]
    # Its writable layer holds the engine's /etc files, whose size depends on the host.
    assert re.fullmatch(r"Containers\s+1\s+0\s+(\S+)\s+\1 \(100%\)", out[2]), out[2]
    assert re.fullmatch(r"Local Volumes\s+2\s+1\s+6B\s+0B \(0%\)", out[3]), out[3]
    assert re.fullmatch(r"Build Cache\s+0\s+0\s+0B\s+0B", out[4]), out[4]
    verbose = dy("system", "df", "-v", check=True).stdout
    assert verbose.startswith("Images space usage:\n\nREPOSITORY ")
    assert "\nContainers space usage:\n\nCONTAINER ID " in verbose
    assert re.search(r"\nLocal Volumes space usage:\n\nVOLUME NAME +LINKS +SIZE\n", verbose)
    assert re.search(r"\nvol +1 +6B\n", verbose)
    assert verbose.endswith(
        "\nBuild cache usage: 0B\n\nCACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE"
        "     SHARED\n"
    )
