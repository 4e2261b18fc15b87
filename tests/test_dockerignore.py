""".dockerignore reading and matching (moby patternmatcher rules)."""

from __future__ import annotations

import pytest

from dockyard.build.dockerignore import PatternMatcher, go_clean, read_dockerignore
from dockyard.errors import InvalidArgument


def test_read_normalises_lines() -> None:
    text = "\ufeff# comment\n\n  /foo/../bar/  \n!  /keep\n./a//b\n #not-a-comment\n"
    assert read_dockerignore(text) == ["bar", "!keep", "a/b", "#not-a-comment"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [("", "."), ("a//b/./c/..", "a/b"), ("/../x", "/x"), ("../../y", "../../y"), ("a/", "a")],
)
def test_go_clean(path: str, expected: str) -> None:
    assert go_clean(path) == expected


@pytest.mark.parametrize(
    ("patterns", "path", "ignored"),
    [
        (["*.md"], "README.md", True),
        (["*.md"], "docs/README.md", False),
        (["**/*.md"], "docs/deep/README.md", True),
        (["**"], "anything/at/all", True),
        (["docs/**"], "docs/a/b", True),
        (["docs/**"], "docsx", False),
        (["**/tmp"], "tmp", True),
        (["**/tmp"], "a/b/tmp/file", True),
        (["a/**/b"], "a/b", True),
        (["a/**/b"], "a/x/y/b", True),
        (["node_modules"], "node_modules/pkg/index.js", True),
        (["/secret/"], "secret/key", True),
        (["?.txt"], "a.txt", True),
        (["?.txt"], "ab.txt", False),
        (["[a-c].txt"], "b.txt", True),
        (["[a-c].txt"], "d.txt", False),
        (["file(1).txt"], "file(1).txt", True),
        (["*", "!keep.txt"], "keep.txt", False),
        (["*", "!keep.txt"], "other.txt", True),
        (["*.md", "!README.md", "README*.md"], "README-x.md", True),
        (["*.md", "!README.md", "README*.md"], "README.md", True),
        (["dir", "!dir/keep"], "dir/keep", False),
        (["dir", "!dir/keep"], "dir/drop", True),
        (["x\\*y*"], "x*yz", True),
        (["x\\*y*"], "xzyz", False),
    ],
)
def test_matches(patterns: list[str], path: str, ignored: bool) -> None:
    assert PatternMatcher(read_dockerignore("\n".join(patterns))).matches(path) is ignored


def test_exclusion_alone_is_refused() -> None:
    with pytest.raises(InvalidArgument, match='illegal exclusion pattern: "!"'):
        PatternMatcher(["!"])


def test_bad_class_is_refused() -> None:
    with pytest.raises(InvalidArgument, match="syntax error in pattern"):
        PatternMatcher(["a[b"])


def test_has_exclusions() -> None:
    assert PatternMatcher(["a", "!b"]).has_exclusions
    assert not PatternMatcher(["a"]).has_exclusions


@pytest.mark.timeout(20)
def test_backtracking_patterns_match_in_linear_time() -> None:
    """``a*a*...a*c`` against a long name: Python's backtracking regex took exponential
    time (a hostile build context hung the build); Go's regexp, which moby uses, is linear."""
    import time

    start = time.monotonic()
    m = PatternMatcher(["a*" * 25 + "c", "**/" * 20 + "b*b*b*b*b*b*b*b*b*b*b*b*d", "x[ab]*y"])
    assert not m.matches("a" * 3000)
    assert not m.matches("/".join(["b" * 50] * 40))
    assert m.matches("a" * 3000 + "c/under")
    assert m.matches("q/" * 10 + "bbbbbbbbbbbbbd")
    assert m.matches("xaby") and not m.matches("xa/by")
    assert time.monotonic() - start < 5
