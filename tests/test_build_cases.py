"""The Dockerfile cases B08, B09, B10, B12, B15 and B16 built and run end to end,
compared with what a real Docker engine printed (expected.txt / observed.txt)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from conftest import Runner

CASES = Path(__file__).resolve().parent / "data" / "cases"


def case_dir(name: str) -> Path:
    return CASES / name


def copy_context(src: Path, dest: Path) -> Path:
    """The case's files with a umask-022 checkout's modes (whatever the checkout's umask)."""
    shutil.copytree(src, dest)
    for top, _dirs, files in os.walk(dest):
        os.chmod(top, 0o755)
        for name in files:
            os.chmod(os.path.join(top, name), 0o644)
    return dest


def build(dy: Runner, *args: str) -> None:
    dy("build", "-q", *args, check=True)


def run(dy: Runner, *args: str) -> str:
    return str(dy("run", "--rm", *args, check=True).stdout)


def test_b08_arg_scoping(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = copy_context(case_dir("B08"), tmp_path / "ctx")
    build(dy, "-t", "b08", str(ctx))
    assert run(dy, "b08") == (
        "before-redeclare:[]\nafter-redeclare:[hello-global]\nsecond-stage:[][]\n"
    )
    build(dy, "-t", "b08-cli", "--build-arg", "GREETING=from-cli", str(ctx))
    assert run(dy, "b08-cli") == (
        "before-redeclare:[]\nafter-redeclare:[from-cli]\nsecond-stage:[][]\n"
    )
    env = dy("image", "inspect", "-f", "{{json .Config.Env}}", "b08", check=True).stdout
    assert env.strip() == '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]'


def test_b09_expansion(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = copy_context(case_dir("B09"), tmp_path / "ctx")
    build(dy, "-t", "b09", str(ctx))
    assert run(dy, "b09") == (ctx / "expected.txt").read_text()


def test_b10_entrypoint_cmd(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = copy_context(case_dir("B10"), tmp_path / "ctx")
    for v in "abcd":
        build(dy, "-t", f"b10-{v}", "-f", str(ctx / f"Dockerfile.{v}"), str(ctx))
    assert run(dy, "b10-a") == "\n"
    assert run(dy, "b10-a", 'echo "$0-$1"', "x", "y") == "x-y\n"
    assert run(dy, "b10-b") == "argv0=[c1] rest=[c2]\n"
    assert run(dy, "b10-b", "x", "y", "z") == "argv0=[x] rest=[y z]\n"
    assert run(dy, "b10-c") == "entry\n"
    assert run(dy, "b10-c", "one", "two") == "entry one two\n"
    assert run(dy, "b10-d") == "/bin/sh -c echo from-cmd\n"
    assert run(dy, "--entrypoint", "echo", "b10-d") == "\n"
    fmt = "{{json .Config.Entrypoint}} {{json .Config.Cmd}}"
    out = dy("image", "inspect", "-f", fmt, *(f"b10-{v}" for v in "abcd"), check=True).stdout
    assert out.splitlines() == [
        '["sh","-c"] ["echo","hello"]',
        '["/bin/sh","-c","echo \\"argv0=[$0] rest=[$*]\\""] ["c1","c2"]',
        '["echo","entry"] null',
        '["echo"] ["/bin/sh","-c","echo from-cmd"]',
    ]


def test_b12_copy_directories_and_chown(dy: Runner, busybox: str, tmp_path: Path) -> None:
    case = case_dir("B12")
    ctx = copy_context(case / "ctx", tmp_path / "ctx")
    build(dy, "-t", "b12", str(ctx))
    assert run(dy, "b12") == (case / "expected.txt").read_text()


def test_b15_continuations_and_escape(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = copy_context(case_dir("B15"), tmp_path / "ctx")
    expected = {
        "continuation": "one\ntwo\nthree\nfive six\n",
        "escape-directive": "first second\nC:\\dir\\sub\n",
        "directive-too-late": "C:dirsub\n",
    }
    for v, output in expected.items():
        build(dy, "-t", f"b15-{v}", "-f", str(ctx / f"Dockerfile.{v}"), str(ctx))
        assert run(dy, f"b15-{v}") == output
    hist = dy("history", "--no-trunc", "--format", "{{.CreatedBy}}", "b15-continuation")
    assert sum("RUN " in line for line in hist.stdout.splitlines()) == 3


def test_b16_heredocs(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = copy_context(case_dir("B16"), tmp_path / "ctx")
    build(dy, "-t", "b16", str(ctx))
    assert run(dy, "b16") == (ctx / "expected.txt").read_text()
    assert run(dy, "-e", "NAME=runtime", "b16", "sh", "/script.sh") == "deferred [runtime]\n"
