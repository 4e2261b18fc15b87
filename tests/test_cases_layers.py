"""Edge cases B01, B02, B04, B05: layers unpacked with LayerStore and mounted with
overlayfs must show exactly the tree a real Docker engine exported (observed.txt)."""

from __future__ import annotations

import glob
import os
import re
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.paths import Paths
from dockyard.snapshot import LayerStore, mount_rootfs, unmount

CASES = Path(__file__).resolve().parent / "data" / "cases"
# `tar tv` lines of the exported rootfs, e.g. "drwxr-xr-x 0/0   0 2023-11-14 22:13 a/".
LISTING = re.compile(
    r"^([-dlhcbp][rwxsStT-]{9}) (\d+)/(\d+) +(\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) (.+)$"
)
# Printed by the cases' supplementary check: "path: content".
CONTENT = re.compile(r"^([\w./-]+): (.+)$")
# Contents B04 and B05 print with `tar -xOf` (see their observed.txt), in order.
PRINTED = {
    "B04": {
        "etc/cron.d/b04-marker-7f3a": "via-absolute-link\n",
        "tmp/b04-marker-9c1e": "via-relative-link\n",
    },
    "B05": {
        "b05-hardlink": "link-target\n",
        "tmp/b05-absolute.txt": "absolute\n",
        "tmp/b05-dot-prefixed.txt": "dot-prefixed\n",
        "tmp/b05-dotdot.txt": "dotdot\n",
    },
}
HOST_PATHS = {
    "B04": ["/etc/cron.d/b04-marker-7f3a", "/tmp/b04-marker-9c1e"],
    "B05": ["/tmp/b05-*"],
}


def expected_tree(case: str) -> tuple[dict[str, dict[str, object]], dict[str, str]]:
    """Entries (path -> attributes) and file contents docker showed for ``case``."""
    entries: dict[str, dict[str, object]] = {}
    contents: dict[str, str] = dict(PRINTED.get(case, {}))
    supplementary = False
    for line in (CASES / case / "observed.txt").read_text().splitlines():
        if line.startswith("# ---- supplementary check"):
            supplementary = True
            continue
        m = LISTING.match(line)
        if m:
            perms, uid, gid, size, date, rest = m.groups()
            entry: dict[str, object] = {"mode": perms, "uid": int(uid), "gid": int(gid)}
            if perms[0] == "l":
                rest, entry["target"] = rest.split(" -> ", 1)
            elif perms[0] == "h":
                rest, entry["link"] = rest.split(" link to ", 1)
            elif perms[0] == "-":
                entry["size"] = int(size)
            if date.startswith("2023"):  # layer content; docker export stamps its own as now
                entry["date"] = date
            entries[rest.rstrip("/")] = entry
        elif (
            supplementary and (c := CONTENT.match(line)) and c.group(1) != "whiteout names visible"
        ):
            contents[c.group(1)] = c.group(2) + "\n"
    # `docker export` adds etc/mtab, and etc/ just to hold it.
    entries.pop("etc/mtab", None)
    if not any(p.startswith("etc/") for p in entries):
        entries.pop("etc", None)
    return entries, contents


def actual_tree(root: Path) -> dict[str, os.stat_result]:
    tree = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            tree[os.path.relpath(path, root)] = os.lstat(path)
    return tree


@pytest.fixture
def case_rootfs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    """The case's layers added to a fresh LayerStore and mounted with an upper in tmp."""
    case: str = request.param
    for pattern in HOST_PATHS.get(case, []):
        assert not glob.glob(pattern), f"{pattern} already exists on the host"
    store = LayerStore(Paths(str(tmp_path / "root"), str(tmp_path / "run")))
    lowers: list[str] = []
    for tar in sorted((CASES / case).glob("layer*.tar")):
        with open(tar, "rb") as f:
            diff_id, size = store.add(f)
        assert size == tar.stat().st_size
        lowers.insert(0, store.path(diff_id))
    target = tmp_path / "rootfs"
    mount_rootfs(lowers, str(tmp_path / "upper"), str(tmp_path / "work"), str(target))
    try:
        yield target
    finally:
        unmount(str(target))
    for pattern in HOST_PATHS.get(case, []):
        assert not glob.glob(pattern), f"unpacking wrote {pattern} on the host"


@pytest.mark.parametrize("case_rootfs", ["B01", "B02", "B04", "B05"], indirect=True)
def test_case_rootfs_matches_docker(case_rootfs: Path, request: pytest.FixtureRequest) -> None:
    case = request.node.callspec.params["case_rootfs"]
    entries, contents = expected_tree(case)
    tree = actual_tree(case_rootfs)
    assert sorted(tree) == sorted(entries)
    assert not [p for p in tree if os.path.basename(p).startswith(".wh.")]
    for path, want in entries.items():
        st = tree[path]
        perms = str(want["mode"])
        # tar shows a hardlink as "h"; on disk it is the regular file it links to.
        assert stat.filemode(st.st_mode)[1:] == perms[1:], path
        assert stat.filemode(st.st_mode)[0] == ("-" if perms[0] == "h" else perms[0]), path
        assert (st.st_uid, st.st_gid) == (want["uid"], want["gid"]), path
        if "size" in want:
            assert st.st_size == want["size"], path
        if "target" in want:
            assert os.readlink(case_rootfs / path) == want["target"], path
        if "link" in want:
            other = tree[str(want["link"])]
            assert (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino), path
        if "date" in want:
            assert time.strftime("%Y-%m-%d %H:%M", time.gmtime(st.st_mtime)) == want["date"], path
    assert contents, f"{case}: no expected contents parsed"
    for path, text in contents.items():
        assert (case_rootfs / path).read_text() == text, path
