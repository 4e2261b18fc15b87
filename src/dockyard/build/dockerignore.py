""".dockerignore reading and matching, with the rules of moby's patternmatcher.

Spec: the Dockerfile reference, ".dockerignore file": Go ``filepath.Match`` syntax plus
``**`` (any number of directories), ``!`` exceptions (the last matching line wins), paths
cleaned (``/a/../b/`` is ``b``), a leading ``/`` ignored, comments starting with ``#``.
A pattern that matches a directory excludes everything under it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

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
        assert self.regex is not None
        return self.regex.match(path) is not None


def _compile(pattern: str, exclusion: bool) -> _Pattern:
    regex = ["^"]
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
                        kind = "regexp"
                else:
                    regex.append("(.*/)?")
                    kind = "regexp"
                if index == 0:
                    kind = "suffix"
            else:
                regex.append("[^/]*")
                kind = "regexp"
        elif ch == "?":
            regex.append("[^/]")
            kind = "regexp"
        elif ch in _ESCAPE:
            regex.append("\\" + ch)
        elif ch == "\\":
            if i < n:
                regex.append(re.escape(pattern[i]))
                i += 1
            else:
                regex.append("\\\\")
        elif ch in "[]":
            regex.append(ch)
            kind = "regexp"
        else:
            regex.append(ch)
        index += 1
    compiled = None
    if kind == "regexp":
        regex.append("(/.*)?$")
        try:
            compiled = re.compile("".join(regex), re.DOTALL)
        except re.error:
            raise InvalidArgument(f"syntax error in pattern: {pattern}") from None
    return _Pattern(pattern, exclusion, kind, compiled)


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
