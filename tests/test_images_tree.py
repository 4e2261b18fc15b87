"""``images --tree``: docker/cli 28's experimental tree view (the recorded outputs of
tests/data/images-tree/, made by the docker CLI 28.2.2 from the same image summaries)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from conftest import Runner
from dockyard.cli.imagetree import tree_text

DATA = Path(__file__).parent / "data" / "images-tree"


@pytest.mark.parametrize("all_", [False, True])
@pytest.mark.parametrize(("terminal", "width", "name"), [(False, 0, "plain"), (True, 100, "tty100"), (True, 30, "tty30")])  # fmt: skip
def test_tree_as_docker_cli(all_: bool, terminal: bool, width: int, name: str) -> None:
    images = json.loads((DATA / "images.json").read_text())
    if not all_:  # what the API lists without all=1
        images = [i for i in images if i["RepoTags"] or i["RepoDigests"]]
    expected = (DATA / f"{name}{'-a' if all_ else ''}.txt").read_text()
    assert tree_text(images, all_, terminal, width) == expected


def test_images_tree_command(dy: Runner, busybox: str) -> None:
    """The command lists the engine's images so; docker/cli's refusals (exit 1)."""
    out = dy("images", "--tree", busybox, check=True).stdout.splitlines()
    short = dy("inspect", "-f", "{{.Id}}", busybox, check=True).stdout[7:19]
    assert out[0].startswith("WARNING: This is an experimental feature.")
    assert re.sub("\x1b\\[[0-9;]*m", "", out[3]) == (
        "IMAGE            ID             DISK USAGE   CONTENT SIZE   EXTRA"
    )
    assert out[4].split()[:2] == ["busybox:latest", short] and out[4].split()[3] == "0B"
    assert len(out) == 5
    for flag, shown in (
        ("-q", "--quiet"),
        ("--digests", "--show-digest"),
        ("--format", "--format"),
    ):
        args = ["images", "--tree", flag] + (["x"] if flag == "--format" else [])
        p = dy(*args)
        assert (p.returncode, p.stderr) == (1, f"{shown} is not yet supported with --tree\n")
