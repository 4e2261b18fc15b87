"""Dockerfile parser: directives, comments, continuations, heredocs, JSON form, errors."""

from __future__ import annotations

import pytest

from dockyard.build.parser import DockerfileError, parse, parse_heredoc


def dumps(text: str) -> list[str]:
    return [node.dump() for node in parse(text).nodes]


def test_directives_and_backtick_escape() -> None:
    result = parse(
        "# syntax=docker/dockerfile:1\n# escape=`\n# check=skip=all\nFROM a\nRUN x `\n  y\n"
    )
    assert result.directives == {
        "syntax": "docker/dockerfile:1",
        "escape": "`",
        "check": "skip=all",
    }
    assert result.escape == "`"
    assert [n.dump() for n in result.nodes] == ['(from "a")', '(run "x   y")']


def test_directive_after_comment_or_blank_is_a_comment() -> None:
    for text in ("# hello\n# escape=`\nFROM a\n", "\n# escape=`\nFROM a\n", "FROM a\n# escape=`\n"):
        result = parse(text)
        assert result.escape == "\\" and result.directives == {}


def test_unknown_directive_ends_directives() -> None:
    assert parse("# foo=bar\n# escape=`\nFROM a\n").escape == "\\"


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("# escape=x\nFROM a\n", 1, "invalid escape token 'x' does not match ` or \\"),
        ("# escape=`\n# escape=\\\nFROM a\n", 2, "only one escape parser directive can be used"),
        ("\n# only a comment\n\n", 3, "file with no instructions"),
        ("FROM a\nRUN <<EOF\necho hi\n", 2, "unterminated heredoc"),
        (
            "FROM a\nCMD [1, 2]\n",
            2,
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
        ("FROM a\nENV \\\n  FOO\n", 2, "ENV must have two arguments"),
        (
            "FROM a\nLABEL a=b c\n",
            2,
            'Syntax error - can\'t find = in "c". Must be of the form: name=value',
        ),
    ],
)
def test_errors_name_file_and_line(text: str, line: int, message: str) -> None:
    with pytest.raises(DockerfileError) as info:
        parse(text, "ctx/Dockerfile.dev")
    err = info.value
    assert (err.filename, err.line, err.message) == ("ctx/Dockerfile.dev", line, message)
    assert str(err) == f"ctx/Dockerfile.dev:{line}: {message}"


def test_comment_lines_inside_continuations_and_mid_line_hash() -> None:
    text = "FROM a\nRUN echo one \\\n# dropped\n    && echo two\nRUN echo three # c \\\nRUN echo four\n"
    assert dumps(text) == [
        '(from "a")',
        '(run "echo one     && echo two")',
        '(run "echo three # c RUN echo four")',
    ]


def test_line_numbers() -> None:
    nodes = parse("\nFROM a\n\nRUN a \\\n  b \\\n  c\nCMD x\n").nodes
    assert [(n.start_line, n.end_line) for n in nodes] == [(2, 2), (4, 6), (7, 7)]


def test_empty_continuation_line_warning() -> None:
    result = parse("FROM a\nRUN a \\\n\n  b\n")
    assert result.warnings == [
        "[WARNING]: Empty continuation line found in:\n    RUN a   b",
        "[WARNING]: Empty continuation lines will become errors in a future release.",
    ]
    assert parse("FROM a\nRUN a \\\n  b\n").warnings == []


def test_case_insensitive_names_and_flags() -> None:
    text = (
        "from --platform=$BUILDPLATFORM a AS b\n"
        'Copy --from=b --chown="me:me" --chmod=0755 --link x y /z/\n'
        "run --mount=type=cache,target=/c --network=none make\n"
    )
    assert dumps(text) == [
        '(from ["--platform=$BUILDPLATFORM"] "a" "AS" "b")',
        '(copy ["--from=b" "--chown=me:me" "--chmod=0755" "--link"] "x" "y" "/z/")',
        '(run ["--mount=type=cache,target=/c" "--network=none"] "make")',
    ]


def test_json_and_shell_forms() -> None:
    nodes = parse(
        'FROM a\nCMD ["a", "b"]\nCMD a b\nENTRYPOINT [\'x\']\nVOLUME ["/v"]\nVOLUME /v /w\n'
    ).nodes
    assert [(n.json, n.args) for n in nodes[1:]] == [
        (True, ["a", "b"]),
        (False, ["a b"]),
        (False, ["['x']"]),
        (True, ["/v"]),
        (False, ["/v", "/w"]),
    ]


def test_heredocs() -> None:
    text = (
        "FROM a\n"
        "RUN <<EOF\necho $X\nEOF\n"
        "RUN <<-'EOF' sh\n\techo tab\n\tEOF\n"
        'RUN cat <<A > /a && cat 3<<"B" > /b\nfirst\nA\nsecond\nB\n'
        "COPY <<EOF /dst\nbody\nEOF\n"
        'RUN ["echo", "<<EOF"]\n'
        "ONBUILD RUN <<EOF\nlater\nEOF\n"
    )
    nodes = parse(text).nodes
    run1, run2, run3, copy, json_run, onbuild = nodes[1:]
    assert [(d.name, d.content, d.expand, d.chomp) for d in run1.heredocs] == [
        ("EOF", "echo $X\n", True, False)
    ]
    assert [(d.name, d.expand, d.chomp, d.body()) for d in run2.heredocs] == [
        ("EOF", False, True, "echo tab\n")
    ]
    assert [(d.name, d.fd, d.expand, d.content) for d in run3.heredocs] == [
        ("A", 0, True, "first\n"),
        ("B", 3, False, "second\n"),
    ]
    assert [(d.name, d.content) for d in copy.heredocs] == [("EOF", "body\n")]
    assert json_run.heredocs == []
    assert onbuild.sub is not None and [d.content for d in onbuild.heredocs] == ["later\n"]
    assert (run3.start_line, run3.end_line) == (8, 12)


def test_parse_heredoc_words() -> None:
    assert parse_heredoc("<<EOF") is not None
    assert parse_heredoc("<<") is None
    assert parse_heredoc("<<a b") is None
    doc = parse_heredoc('<<-"E"OF')
    assert doc is not None and (doc.name, doc.expand, doc.chomp) == ("EOF", False, True)


def test_bom_and_crlf() -> None:
    assert dumps("\ufeffFROM a\r\nRUN b \\\r\n c\r\n") == ['(from "a")', '(run "b  c")']
