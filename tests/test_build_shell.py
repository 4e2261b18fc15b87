"""Word expansion: every form, quoting, escapes and BuildKit's error texts."""

from __future__ import annotations

import pytest

from dockyard.build.shell import ExpansionError, Lexer, expand, expand_words, go_quote, process

ENV = {"SET": "value", "EMPTY": "", "PATH_": "/a/b/c.tar.gz"}


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("$SET", "value"),
        ("${SET}", "value"),
        ("${UNSET}", ""),
        ("${SET:-d}/${UNSET:-d}/${EMPTY:-d}", "value/d/d"),
        ("${SET-d}/${UNSET-d}/${EMPTY-d}", "value/d/"),
        ("${SET:+a}/${UNSET:+a}/${EMPTY:+a}", "a//"),
        ("${SET+a}/${UNSET+a}/${EMPTY+a}", "a//a"),
        ("${SET:?boom}", "value"),
        ("${EMPTY?boom}", ""),
        ("${UNSET:-${SET}}", "value"),
        ("\\$SET \\${SET}", "$SET ${SET}"),
        ("'$SET'", "$SET"),
        ('"$SET"', "value"),
        ("${PATH_#*/}", "a/b/c.tar.gz"),
        ("${PATH_##*/}", "c.tar.gz"),
        ("${PATH_%.*}", "/a/b/c.tar"),
        ("${PATH_%%.*}", "/a/b/c"),
        ("${PATH_/b/X}", "/a/X/c.tar.gz"),
        ("${PATH_//[/]/_}", "/a/b/c.tar.gz"),
        ("${PATH_//\\//_}", "_a_b_c.tar.gz"),
    ],
)
def test_expand(word: str, expected: str) -> None:
    assert expand(word, ENV) == expected


@pytest.mark.parametrize(
    ("word", "message"),
    [
        ("${UNSET:?}", 'failed to process "${UNSET:?}": UNSET: is not allowed to be unset'),
        ("${EMPTY:?}", 'failed to process "${EMPTY:?}": EMPTY: is not allowed to be empty'),
        ("${UNSET?need it}", 'failed to process "${UNSET?need it}": UNSET: need it'),
        ("${SET:-x", "failed to process \"${SET:-x\": syntax error: missing '}'"),
        # BuildKit reads the end of input as Go's EOF rune, printed as U+FFFD
        ("${SET", 'failed to process "${SET": unsupported modifier (\ufffd) in substitution'),
        ("${}", 'failed to process "${}": syntax error: bad substitution'),
        ("${SET:=x}", 'failed to process "${SET:=x}": unsupported modifier (:=) in substitution'),
        (
            "'abc",
            'failed to process "\'abc": unexpected end of statement while looking for matching single-quote',
        ),
        (
            '"abc',
            'failed to process "\\"abc": unexpected end of statement while looking for matching double-quote',
        ),
    ],
)
def test_errors(word: str, message: str) -> None:
    with pytest.raises(ExpansionError) as info:
        expand(word, ENV)
    assert str(info.value) == message


def test_backtick_escape() -> None:
    assert expand("C:\\dir `$SET", ENV, escape="`") == "C:\\dir $SET"
    assert expand("C:\\dir", ENV) == "C:dir"


def test_words_split_after_expansion() -> None:
    assert expand_words('a ${SP} "${SP}"', {"SP": "x  y"}) == ["a", "x", "y", "x  y"]


def test_matched_and_unmatched_names() -> None:
    result = process("$SET ${NOPE:-x}", ENV)
    assert result.matched == {"SET"} and result.unmatched == {"NOPE"}


def test_skip_unset_and_raw_modes() -> None:
    lexer = Lexer(skip_unset_env=True, raw_quotes=True)
    assert lexer.process("'a' $NOPE ${NOPE:-x} $SET", ENV).result == "'a' $NOPE ${NOPE:-x} value"
    assert (
        Lexer(skip_process_quotes=True).process("\"q\" '$SET' \\$SET", ENV).result
        == "\"q\" 'value' $SET"
    )


def test_go_quote() -> None:
    assert go_quote('a"b\\c\n\t\x00♥') == '"a\\"b\\\\c\\n\\t\\x00♥"'


@pytest.mark.timeout(20)
def test_trim_patterns_match_in_linear_time() -> None:
    """``${A##*a*a*...c}`` backtracked for exponential time in Python's re (a Dockerfile
    could hang the build); BuildKit's Go regexp is linear."""
    import time

    start = time.monotonic()
    stars = "*a" * 15 + "*c"
    for word in (f"${{A##{stars}}}", f"${{A#{stars}}}", f"${{A%{stars}}}", f"${{A%%{stars}}}"):
        assert expand(word, {"A": "a" * 3000}) == "a" * 3000
    assert expand("${A##*a*b}", {"A": "xaybzab!"}) == "!"
    assert expand("${A#*a*b}", {"A": "xaybzab!"}) == "zab!"
    assert expand("${A%%a*b*}", {"A": "xaybzab!"}) == "x"
    assert time.monotonic() - start < 5
