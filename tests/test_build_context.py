"""Build contexts: directory, tar on stdin, stdin Dockerfile; sources, .dockerignore, hashes."""

from __future__ import annotations

import gzip
import io
import lzma
import os
import tarfile
from pathlib import Path

import pytest

from dockyard.build.context import Context
from dockyard.errors import InvalidArgument

NOT_FOUND = (
    "file not found in build context or excluded by .dockerignore: stat {}: file does not exist"
)


def make_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


@pytest.fixture
def ctx_dir(tmp_path: Path) -> Path:
    return make_tree(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\n",
            "a.txt": "a",
            "b.txt": "b",
            "c.log": "c",
            "dir/x.md": "x",
            "dir/yy.md": "yy",
            "dir/sub/deep.txt": "deep",
            "ab.c": "ab",
            "bb.c": "bb",
        },
    )


def rel(ctx: Context, paths: list[str]) -> list[str]:
    assert ctx.root is not None
    return [os.path.relpath(p, ctx.root) for p in paths]


def test_directory_default_and_lowercase_dockerfile(ctx_dir: Path) -> None:
    ctx = Context.from_directory(str(ctx_dir), None)
    assert ctx.root == str(ctx_dir)
    assert ctx.dockerfile_text() == "FROM busybox\n"
    (ctx_dir / "Dockerfile").rename(ctx_dir / "dockerfile")
    assert Context.from_directory(str(ctx_dir), None).dockerfile_text() == "FROM busybox\n"


def test_dockerfile_flag_is_relative_to_the_working_directory(
    ctx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "elsewhere.Dockerfile").write_text("FROM scratch\n")
    monkeypatch.chdir(tmp_path)
    ctx = Context.from_directory("ctx", "elsewhere.Dockerfile")
    assert ctx.dockerfile_text() == "FROM scratch\n"
    absolute = Context.from_directory(str(ctx_dir), str(ctx_dir / "Dockerfile"))
    assert absolute.dockerfile_text() == "FROM busybox\n"


def test_missing_dockerfile_and_context_messages(
    ctx_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (ctx_dir / "Dockerfile").unlink()
    with pytest.raises(InvalidArgument) as err:
        Context.from_directory(str(ctx_dir), None)
    assert str(err.value) == (
        "unable to prepare context: unable to evaluate symlinks in Dockerfile path: "
        f"lstat {ctx_dir}/Dockerfile: no such file or directory"
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidArgument) as err:
        Context.from_directory("ctx", "nodir/Dockerfile")
    assert str(err.value).endswith(f"lstat {tmp_path}/nodir: no such file or directory")
    with pytest.raises(InvalidArgument) as err:
        Context.from_directory("missing", None)
    assert str(err.value) == 'unable to prepare context: path "missing" not found'


def test_literal_sources_are_clamped_and_missing_ones_named(ctx_dir: Path) -> None:
    ctx = Context.from_directory(str(ctx_dir), None)
    assert rel(ctx, ctx.resolve_sources(["a.txt", "./dir/", "../../b.txt", "/dir/x.md", "."])) == [
        "a.txt",
        "dir",
        "b.txt",
        "dir/x.md",
        ".",
    ]
    with pytest.raises(InvalidArgument) as err:
        ctx.resolve_sources(["a.txt", "nope.txt"])
    assert str(err.value) == NOT_FOUND.format("nope.txt")


def test_symlinks_stay_inside_the_context(ctx_dir: Path) -> None:
    os.symlink("/etc/hostname", ctx_dir / "escape")
    os.symlink("../../a.txt", ctx_dir / "dir/up")
    os.symlink("/dir", ctx_dir / "abs-dir")
    ctx = Context.from_directory(str(ctx_dir), None)
    with pytest.raises(InvalidArgument, match="stat escape: file does not exist"):
        ctx.resolve_sources(["escape"])
    assert rel(ctx, ctx.resolve_sources(["dir/up", "abs-dir/x.md"])) == ["a.txt", "dir/x.md"]


def test_wildcards_follow_go_filepath_match(ctx_dir: Path) -> None:
    ctx = Context.from_directory(str(ctx_dir), None)
    assert rel(ctx, ctx.resolve_sources(["*.txt"])) == ["a.txt", "b.txt"]
    assert rel(ctx, ctx.resolve_sources(["dir/?.md"])) == ["dir/x.md"]
    assert rel(ctx, ctx.resolve_sources(["[a-b]b.c", "[^a]*.c"])) == ["ab.c", "bb.c", "bb.c"]
    assert rel(ctx, ctx.resolve_sources(["d*/s*"])) == ["dir/sub"]
    assert rel(ctx, ctx.resolve_sources(["*/*/*.txt"])) == ["dir/sub/deep.txt"]
    with pytest.raises(InvalidArgument, match="^no source files were specified$"):
        ctx.resolve_sources(["*.none"])
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        ctx.resolve_sources(["[a"])


def test_dockerignore_hides_files_and_the_build_files(ctx_dir: Path) -> None:
    # BuildKit reads the Dockerfile apart from the context: listed, it is hidden from COPY.
    (ctx_dir / ".dockerignore").write_text("*.log\ndir/sub\nDockerfile\n.dockerignore\n")
    ctx = Context.from_directory(str(ctx_dir), None)
    with pytest.raises(InvalidArgument) as err:
        ctx.resolve_sources(["c.log"])
    assert str(err.value) == NOT_FOUND.format("c.log")
    with pytest.raises(InvalidArgument):
        ctx.resolve_sources(["dir/sub/deep.txt"])
    with pytest.raises(InvalidArgument):
        ctx.resolve_sources(["Dockerfile"])
    assert rel(ctx, ctx.resolve_sources(["*.txt"])) == ["a.txt", "b.txt"]
    with pytest.raises(InvalidArgument, match="no source files"):
        ctx.resolve_sources(["*.log"])
    walked = rel(ctx, list(ctx.walk(ctx.resolve_sources(["."])[0])))
    assert "c.log" not in walked and "dir/sub" not in walked and "dir/x.md" in walked
    assert "Dockerfile" not in walked and ".dockerignore" not in walked
    assert ctx.dockerfile_text().startswith("FROM")


def test_dockerfile_specific_ignore_file_wins(ctx_dir: Path) -> None:
    (ctx_dir / ".dockerignore").write_text("a.txt\n")
    (ctx_dir / "Dockerfile.dockerignore").write_text("b.txt\n")
    ctx = Context.from_directory(str(ctx_dir), None)
    assert rel(ctx, ctx.resolve_sources(["*.txt"])) == ["a.txt"]


def test_exception_patterns_reach_below_excluded_dirs(ctx_dir: Path) -> None:
    (ctx_dir / ".dockerignore").write_text("dir\n!dir/sub/deep.txt\n")
    ctx = Context.from_directory(str(ctx_dir), None)
    walked = rel(ctx, list(ctx.walk(str(ctx_dir))))
    assert "dir/sub/deep.txt" in walked and "dir/x.md" not in walked


def test_content_hash_covers_content_and_metadata_not_times(ctx_dir: Path) -> None:
    ctx = Context.from_directory(str(ctx_dir), None)

    def key(*patterns: str) -> str:
        return ctx.content_hash(ctx.resolve_sources(list(patterns)))

    first = key("dir", "a.txt")
    os.utime(ctx_dir / "a.txt", (1, 1))
    os.utime(ctx_dir / "dir", (1, 1))
    assert key("dir", "a.txt") == first
    assert key("a.txt", "dir") != first  # order is part of the copy
    (ctx_dir / "dir/x.md").write_text("X")
    second = key("dir", "a.txt")
    assert second != first
    os.chmod(ctx_dir / "dir/x.md", 0o600)
    third = key("dir", "a.txt")
    assert third != second
    os.chown(ctx_dir / "a.txt", 1000, 1000)
    assert key("dir", "a.txt") != third
    (ctx_dir / "dir/new").write_text("")
    assert key("dir") != key("dir/x.md")
    (ctx_dir / ".dockerignore").write_text("dir/sub\n")
    ignored = Context.from_directory(str(ctx_dir), None)
    before = ignored.content_hash(ignored.resolve_sources(["dir"]))
    (ctx_dir / "dir/sub/deep.txt").write_text("changed, but ignored")
    assert ignored.content_hash(ignored.resolve_sources(["dir"])) == before
    os.symlink("a.txt", ctx_dir / "dir/link")
    with_link = ignored.content_hash(ignored.resolve_sources(["dir"]))
    os.remove(ctx_dir / "dir/link")
    os.symlink("b.txt", ctx_dir / "dir/link")
    assert ignored.content_hash(ignored.resolve_sources(["dir"])) != with_link


def tar_bytes(entries: dict[str, str], extra: list[tarfile.TarInfo] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, text in entries.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        for info in extra or []:
            tf.addfile(info)
    return buf.getvalue()


@pytest.mark.parametrize("compress", [bytes, gzip.compress, lzma.compress])
def test_tar_context_is_unpacked_and_removed(compress: object) -> None:
    link = tarfile.TarInfo("evil")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc"
    raw = tar_bytes({"Dockerfile": "FROM scratch\n", "../../outside.txt": "o"}, [link])
    data = compress(raw)  # type: ignore[operator]
    with Context.from_tar(io.BytesIO(data), None) as ctx:
        root = ctx.root
        assert root is not None and os.path.isdir(root)
        assert ctx.dockerfile_text() == "FROM scratch\n"
        assert rel(ctx, ctx.resolve_sources(["outside.txt"])) == ["outside.txt"]
        with pytest.raises(InvalidArgument, match="stat evil/hostname"):
            ctx.resolve_sources(["evil/hostname"])
    assert not os.path.exists(root)
    ctx.close()  # twice is fine


def test_tar_context_errors_leave_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(InvalidArgument, match="^Cannot locate specified Dockerfile: sub/Df$"):
        Context.from_tar(io.BytesIO(tar_bytes({"Dockerfile": ""})), "sub/Df")
    with pytest.raises(InvalidArgument, match="invalid build context archive"):
        Context.from_tar(io.BytesIO(gzip.compress(b"x" * 600)[:30]), None)
    with pytest.raises(InvalidArgument, match="invalid build context archive: invalid header"):
        Context.from_tar(io.BytesIO(b"y" * 1024), None)
    assert os.listdir(tmp_path) == []
    ctx = Context.from_tar(io.BytesIO(tar_bytes({"sub/Df": "FROM a\n"})), "sub/Df")
    with ctx:
        assert ctx.dockerfile_text() == "FROM a\n"


def test_stdin_is_a_dockerfile_or_an_archive() -> None:
    plain = Context.from_stdin(io.BytesIO(b"FROM busybox\nRUN true\n"), None)
    assert plain.root is None
    assert plain.dockerfile_text() == "FROM busybox\nRUN true\n"
    with pytest.raises(InvalidArgument) as err:
        plain.resolve_sources(["a"])
    assert str(err.value) == NOT_FOUND.format("a")
    with pytest.raises(InvalidArgument, match="no source files"):
        plain.resolve_sources(["*"])
    raw = tar_bytes({"Dockerfile": "FROM x\n", "f": "f"})
    for data in (raw, gzip.compress(raw)):
        with Context.from_stdin(io.BytesIO(data), None) as ctx:
            assert ctx.root is not None
            assert ctx.dockerfile_text() == "FROM x\n"
    with pytest.raises(InvalidArgument, match="^build context is not an archive$"):
        Context.from_stdin(io.BytesIO(b"FROM x\n"), "-")
    assert Context.from_stdin_dockerfile("FROM y\n").dockerfile_text() == "FROM y\n"
