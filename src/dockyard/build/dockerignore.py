""".dockerignore reading and matching, with the rules of moby's patternmatcher.

Spec: the Dockerfile reference, ".dockerignore file": Go ``filepath.Match`` syntax plus
``**`` (any number of directories), ``!`` exceptions (the last matching line wins), paths
cleaned (``/a/../b/`` is ``b``), a leading ``/`` ignored, comments starting with ``#``.
A pattern that matches a directory excludes everything under it.
"""

from __future__ import annotations

import re

from dockyard.errors import InvalidArgument
from dockyard.record import dataclass

_ESCAPE = set(".+()|{}$")


def go_clean(path: str) -> str:
    """Go's ``path.Clean``: collapse ``//``, remove ``.``, resolve ``..`` lexically."""
    if path == "":
        return "."
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    text = "/".join(parts)
    if rooted:
        return "/" + text
    return text or "."


def read_dockerignore(text: str) -> list[str]:
    """The patterns of a .dockerignore file, normalised as Docker's ``ignorefile.ReadAll``.

    Lines starting with ``#`` are comments; blank lines are skipped; each pattern is
    trimmed, cleaned and made relative (``/foo`` -> ``foo``), keeping a leading ``!``.
    """
    patterns: list[str] = []
    for number, line in enumerate(text.splitlines()):
        if number == 0:
            line = line.removeprefix("\ufeff")
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


@dataclass
class _Pattern:
    cleaned: str
    exclusion: bool
    kind: str  # exact, prefix, suffix or regexp
    regex: re.Pattern[str] | None
    steps: list[tuple[str, re.Pattern[str] | None]] | None = None

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        if self.steps is not None:
            return _run(self.steps, path)
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str, exclusion: bool) -> _Pattern:
    regex = ["^"]
    tokens: list[tuple[str, str]] = []
    kind = "exact"
    i = 0
    n = len(pattern)
    index = 0
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                if i >= n:
                    # "**" at the end matches everything below, as in .gitignore
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        regex.append(".*")
                        tokens.append(("all", ""))
                        kind = "regexp"
                else:
                    regex.append("(.*/)?")
                    tokens.append(("dirs", ""))
                    kind = "regexp"
                if index == 0:
                    kind = "suffix"
            else:
                regex.append("[^/]*")
                tokens.append(("star", ""))
                kind = "regexp"
        elif ch == "?":
            regex.append("[^/]")
            tokens.append(("one", ""))
            kind = "regexp"
        elif ch in _ESCAPE:
            regex.append("\\" + ch)
            tokens.append(("lit", regex[-1]))
        elif ch == "\\":
            if i < n:
                regex.append(re.escape(pattern[i]))
                i += 1
            else:
                regex.append("\\\\")
            tokens.append(("lit", regex[-1]))
        elif ch in "[]":
            regex.append(ch)
            tokens.append((ch, ""))
            kind = "regexp"
        else:
            regex.append(ch)
            tokens.append(("lit", ch))
        index += 1
    compiled = None
    if kind == "regexp":
        regex.append("(/.*)?$")
        try:
            compiled = re.compile("".join(regex), re.DOTALL)
        except re.error:
            raise InvalidArgument(f"syntax error in pattern: {pattern}") from None
    return _Pattern(pattern, exclusion, kind, compiled, _steps(tokens) if compiled else None)


def _steps(tokens: list[tuple[str, str]]) -> list[tuple[str, re.Pattern[str] | None]] | None:
    """The regex's pieces as steps for :func:`_run` (one-character regexes for literals
    and ``[...]`` classes), or None for a class holding a wildcard (left to the regex)."""
    steps: list[tuple[str, re.Pattern[str] | None]] = []
    i = 0
    while i < len(tokens):
        kind, text = tokens[i]
        if kind == "[":
            j = i + 1
            while j < len(tokens) and tokens[j][0] == "lit":
                j += 1
            if j >= len(tokens) or tokens[j][0] != "]":
                return None
            body = "".join(t for _, t in tokens[i + 1 : j])
            try:
                steps.append(("char", re.compile(f"[{body}]", re.DOTALL)))
            except re.error:
                return None
            i = j + 1
            continue
        if kind == "]":
            steps.append(("char", re.compile(re.escape("]"))))
        elif kind == "lit" and text == "^":
            steps.append(("start", None))  # unescaped in the regex: an anchor, as in moby's
        elif kind == "lit":
            # As the regex has it: a backslash escape, or a character standing for itself.
            one = text if text.startswith("\\") else re.escape(text)
            steps.append(("char", re.compile(one, re.DOTALL)))
        else:
            steps.append((kind, None))
        i += 1
    return steps


def _run(steps: list[tuple[str, re.Pattern[str] | None]], path: str) -> bool:
    """Whether ``steps`` match a prefix of ``path`` ending at its end or before a ``/``
    (the regex ``^...(/.*)?$``), simulated over sets of positions: linear in the path for
    each step. Python's backtracking ``re`` took exponential time for ``a*a*a*...c``
    (Go's regexp, which moby uses, is linear)."""
    n = len(path)
    current = {0}
    for kind, char in steps:
        if not current:
            return False
        nxt: set[int] = set()
        if kind == "char":
            assert char is not None
            nxt = {p + 1 for p in current if p < n and char.fullmatch(path[p])}
        elif kind == "start":
            nxt = current & {0}
        elif kind == "one":
            nxt = {p + 1 for p in current if p < n and path[p] != "/"}
        elif kind == "star":
            start = min(current)
            for p in range(start, n + 1):
                if p in current or (p - 1 in nxt and path[p - 1] != "/"):
                    nxt.add(p)
        elif kind == "dirs":
            start = min(current)
            reach = False
            for p in range(start, n + 1):
                if p in current:
                    reach = True
                    nxt.add(p)
                elif reach and path[p - 1] == "/":
                    nxt.add(p)
        else:  # "all"
            nxt = set(range(min(current), n + 1))
        current = nxt
    return any(p == n or path[p] == "/" for p in current)


class PatternMatcher:
    """Matches context paths against .dockerignore patterns (moby ``patternmatcher``).

    ``patterns`` as :func:`read_dockerignore` returns them. Raises ``InvalidArgument``
    for ``!`` alone (``illegal exclusion pattern: "!"``) or a malformed ``[`` class.
    """

    def __init__(self, patterns: list[str]) -> None:
        self.patterns: list[_Pattern] = []
        for raw in patterns:
            pattern = raw.strip()
            if not pattern:
                continue
            pattern = go_clean(pattern)
            exclusion = pattern.startswith("!")
            if exclusion:
                if len(pattern) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                pattern = go_clean(pattern[1:])
            self.patterns.append(_compile(pattern, exclusion))

    @property
    def has_exclusions(self) -> bool:
        """True when some pattern starts with ``!`` (a walker cannot skip whole dirs)."""
        return any(p.exclusion for p in self.patterns)

    def matches(self, path: str) -> bool:
        """True when ``path`` (relative, ``/``-separated) or a parent of it is ignored."""
        path = go_clean(path)
        matched = False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        parent_dirs = parent.split("/")
        for pattern in self.patterns:
            # an inclusion cannot change a match, an exclusion only undoes one
            if pattern.exclusion != matched:
                continue
            hit = pattern.match(path)
            if not hit and parent != ".":
                for i in range(len(parent_dirs)):
                    if pattern.match("/".join(parent_dirs[: i + 1])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched
