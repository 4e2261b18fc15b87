"""BuildKit's Dockerfile conformance data: parser cases, envVarTest and wordsTest lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build import parser, shell

DATA = Path(__file__).resolve().parent / "data" / "buildkit-dockerfile"
ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _parser_cases() -> list[str]:
    return sorted(p.name for p in (DATA / "parser").iterdir())


def _env_var_lines() -> list[tuple[int, str, str]]:
    out = []
    lines = (DATA / "envVarTest").read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        platform, source, expected = (part.strip() for part in line.split("|", 2))
        if platform in ("A", "U"):
            out.append((number, source, expected))
    return out


def _words_lines() -> list[tuple[int, dict[str, str], str, str]]:
    out = []
    env: dict[str, str] = {}
    for number, line in enumerate((DATA / "wordsTest").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("ENV "):
            name, value = line[4:].split("=", 1)
            env = {**env, name: value}
            continue
        source, expected = line.split("|", 1)
        out.append((number, env, source.strip(), expected))
    return out


@pytest.mark.parametrize("case", _parser_cases())
def test_parser_case(case: str) -> None:
    text = (DATA / "parser" / case / "Dockerfile").read_text(encoding="utf-8")
    expected = (DATA / "parser" / case / "result").read_text(encoding="utf-8").splitlines()
    result = parser.parse(text)
    assert [node.dump() for node in result.nodes] == expected


@pytest.mark.parametrize(
    ("number", "source", "expected"),
    _env_var_lines(),
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
def test_env_var_line(number: int, source: str, expected: str) -> None:
    if expected == "error":
        with pytest.raises(shell.ExpansionError):
            shell.expand(source, ENV)
    else:
        assert shell.expand(source, ENV) == expected


@pytest.mark.parametrize(
    ("number", "env", "source", "expected"),
    _words_lines(),
    ids=lambda v: str(v) if isinstance(v, int) else "",
)
def test_words_line(number: int, env: dict[str, str], source: str, expected: str) -> None:
    if expected.strip() == "error":
        with pytest.raises(shell.ExpansionError):
            shell.expand_words(source, env)
    else:
        assert shell.expand_words(source, env) == [w.lstrip() for w in expected.split(",")]
