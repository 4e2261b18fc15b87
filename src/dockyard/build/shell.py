"""Word expansion and word splitting as BuildKit's Dockerfile shell lexer does it.

Spec: the Dockerfile reference, "Environment replacement"; behaviour copied from BuildKit's
``frontend/dockerfile/shell`` lexer (quotes, the escape token, ``$VAR``, ``${VAR}``,
``${VAR:-w}``, ``${VAR-w}``, ``${VAR:+w}``, ``${VAR+w}``, ``${VAR:?m}``, ``${VAR?m}``,
``${VAR#p}``, ``${VAR%p}``, ``${VAR/p/r}``). No command substitution, no arithmetic.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping

from dockyard.errors import InvalidArgument
from dockyard.record import dataclass, field

_EOF = ""
#: Nesting of ``${...}`` the lexer follows. BuildKit's recursive lexer has no limit of its
#: own (its goroutine stack, 1 GB, gives out about ten times deeper); this bounds memory
#: (about 1 KiB a level here) with a clear error instead of a crash.
MAX_NESTING = 100_000
#: Characters that substitutions may add to one word (variables' values, replacements).
#: BuildKit has no limit: ``ENV A=$A$A`` thirty times, or ``${A//?/$A}``, asks it for
#: gigabytes; this bounds memory and time with a clear error. A literal text is not
#: counted, and a RUN's environment cannot pass a single string over 128 KiB anyway.
MAX_EXPANSION = 16 << 20
#: Python frames one nesting level costs (``_stop_on``, ``_stop_on_inner``, ``_dollar``,
#: ``_modifier_word``), with margin.
_FRAMES_PER_LEVEL = 6
_SPECIAL_PARAMS = frozenset("@*#?-$!0")
_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


class ExpansionError(InvalidArgument):
    """A word could not be expanded; the message is BuildKit's text."""


class _TooDeep(Exception):
    """Substitutions nested past MAX_NESTING."""


class _TooBig(Exception):
    """Substitutions added more than MAX_EXPANSION characters to a word."""


class _LexError(Exception):
    """Internal: an expansion failure before it is wrapped with the source word."""


def go_quote(text: str) -> str:
    """Quote ``text`` as Go's ``strconv.Quote`` does (used in BuildKit's messages)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch.isprintable():
            out.append(ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


@dataclass
class Expansion:
    """The result of one expansion.

    ``result`` is the expanded word (spaces kept), ``words`` the word-split form, ``matched``
    and ``unmatched`` the variable names that were looked up and found / not found.
    """

    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


_SPACES = re.compile(r"\s+")


class _Words:
    """Collects split words: unquoted spaces end a word, quoted text is kept whole.

    The current word is a list of pieces (joined when it ends) and a substituted value is
    split by runs of white space in bulk: adding to a string one character at a time was
    quadratic, minutes for a value of a megabyte."""

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self.has_text = False
        self.words: list[str] = []
        self.in_word = False

    def _space(self) -> None:
        if self.in_word and self.has_text:
            self.words.append("".join(self.pieces))
            self.pieces, self.has_text, self.in_word = [], False, False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            self._space()
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.pieces.append(ch)
        self.has_text = self.has_text or bool(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        pos = 0
        for m in _SPACES.finditer(text):
            if m.start() > pos:
                self.add_raw_char(text[pos : m.start()])
            self._space()
            pos = m.end()
        if pos < len(text):
            self.add_raw_char(text[pos:])

    def add_raw_string(self, text: str) -> None:
        self.add_raw_char(text)

    def get_words(self) -> list[str]:
        if self.has_text:
            self.words.append("".join(self.pieces))
            self.pieces, self.has_text, self.in_word = [], False, False
        return self.words


class Lexer:
    """BuildKit's ``shell.Lex``: expands one word against an environment.

    ``escape`` is the escape token (``\\`` or a backtick); ``raw_quotes`` keeps quote
    characters in the result, ``raw_escapes`` keeps escape tokens, ``skip_process_quotes``
    treats quotes as ordinary characters (heredoc bodies), ``skip_unset_env`` leaves
    references to unset variables as written.
    """

    def __init__(
        self,
        escape: str = "\\",
        *,
        raw_quotes: bool = False,
        raw_escapes: bool = False,
        skip_process_quotes: bool = False,
        skip_unset_env: bool = False,
    ) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env
        self._src = ""
        self._pos = 0
        self._env: Mapping[str, str] = {}
        self._matched: set[str] = set()
        self._unmatched: set[str] = set()
        self._raw_escapes_now = raw_escapes
        self._depth = 0
        self._budget = MAX_EXPANSION

    def process(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand ``word``; raises :class:`ExpansionError` (``failed to process "w": ...``)."""
        if "$" not in word and "'" not in word and '"' not in word and self.escape not in word:
            # Nothing to expand: the lexer would copy it, splitting at white space.
            return Expansion(word, word.split())
        self._src, self._pos, self._env = word, 0, env
        self._matched, self._unmatched = set(), set()
        self._raw_escapes_now = self.raw_escapes
        self._depth = 0
        self._budget = MAX_EXPANSION
        # The lexer recurses once per ${...} level, as BuildKit's does: make room for the
        # depth this word can reach (bounded by MAX_NESTING) for the call only.
        limit = sys.getrecursionlimit()
        need = _FRAMES_PER_LEVEL * min(word.count("${"), MAX_NESTING + 1) + limit
        if need > limit:
            sys.setrecursionlimit(need)
        try:
            result, words = self._stop_on(_EOF, self.raw_escapes)
        except _LexError as err:
            raise ExpansionError(f"failed to process {go_quote(word)}: {err}") from None
        except _TooDeep:
            start = go_quote(word[:40])[:-1]
            raise ExpansionError(
                f"failed to process {start}...: substitutions nested deeper than "
                f"{MAX_NESTING} levels"
            ) from None
        except _TooBig:
            start = go_quote(word[:40])[:-1]
            raise ExpansionError(
                f"failed to process {start}...: substitutions longer than {MAX_EXPANSION >> 20} MiB"
            ) from None
        finally:
            sys.setrecursionlimit(limit)
        return Expansion(result, words, self._matched, self._unmatched)

    # scanner primitives: one code point at a time, "" at the end
    def _peek(self) -> str:
        return self._src[self._pos] if self._pos < len(self._src) else _EOF

    def _next(self) -> str:
        ch = self._peek()
        if ch:
            self._pos += 1
        return ch

    def _stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self._raw_escapes_now
        self._raw_escapes_now = raw_escapes
        try:
            return self._stop_on_inner(stop)
        finally:
            self._raw_escapes_now = saved

    def _stop_on_inner(self, stop: str) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        while self._peek() != _EOF:
            ch = self._peek()
            if stop and ch == stop:
                self._next()
                return "".join(result), words.get_words()
            if ch == "$":
                text = self._dollar()
                result.append(text)
                words.add_string(text)
            elif ch in "'\"" and not self.skip_process_quotes:
                text = self._single_quote() if ch == "'" else self._double_quote()
                result.append(text)
                words.add_raw_string(text)
            else:
                ch = self._next()
                if ch == self.escape:
                    if self._raw_escapes_now:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self._next()
                    if ch == _EOF:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def _single_quote(self) -> str:
        result: list[str] = []
        ch = self._next()
        if self.raw_quotes:
            result.append(ch)
        while True:
            ch = self._next()
            if ch == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching single-quote"
                )
            if ch == "'":
                if self.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def _double_quote(self) -> str:
        result: list[str] = []
        ch = self._next()
        if self.raw_quotes:
            result.append(ch)
        while True:
            peek = self._peek()
            if peek == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching double-quote"
                )
            if peek == '"':
                ch = self._next()
                if self.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if peek == "$":
                result.append(self._dollar())
                continue
            ch = self._next()
            if ch == self.escape:
                if self._raw_escapes_now:
                    result.append(ch)
                nxt = self._peek()
                if nxt == _EOF:
                    continue
                if nxt in ('"', "$", self.escape):
                    ch = self._next()
            result.append(ch)

    def _charge(self, size: int) -> None:
        """Count ``size`` characters a substitution adds against MAX_EXPANSION."""
        self._budget -= size
        if self._budget < 0:
            raise _TooBig

    def _get_env(self, name: str) -> tuple[str, bool]:
        if name in self._env:
            self._matched.add(name)
            self._charge(len(self._env[name]))
            return self._env[name], True
        self._unmatched.add(name)
        return "", False

    def _name(self) -> str:
        name: list[str] = []
        while self._peek() != _EOF:
            ch = self._peek()
            if not name and ch.isdecimal():
                while self._peek() != _EOF and self._peek().isdecimal():
                    name.append(self._next())
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                return self._next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(self._next())
        return "".join(name)

    def _dollar(self) -> str:
        self._next()
        if self._peek() != "{":
            name = self._name()
            if not name:
                return "$"
            value, found = self._get_env(name)
            if not found and self.skip_unset_env:
                return "$" + name
            return value
        self._next()
        if self._depth >= MAX_NESTING:
            raise _TooDeep
        self._depth += 1
        try:
            return self._braced()
        finally:
            self._depth -= 1

    def _braced(self) -> str:
        """``${...}`` after its ``${``."""
        peek = self._peek()
        if peek == _EOF:
            raise _LexError("syntax error: missing '}'")
        if peek in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self._name()
        ch = self._next()
        chs = ch or "\ufffd"  # Go prints the EOF rune as U+FFFD
        null_is_unset = False
        if ch == "}":
            value, found = self._get_env(name)
            if not found and self.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = self._next()
            chs += ch or "\ufffd"
            if ch not in "+-?#%" or ch == _EOF:
                # BuildKit scans the word first, then rejects the modifier
                self._modifier_word(ch)
                raise _LexError(f"unsupported modifier ({chs}) in substitution")
        if ch and ch in "+-?#%":
            word = self._modifier_word(ch)
            value, found = self._get_env(name)
            if self.skip_unset_env and not found:
                return "${" + name + chs + word + "}"
            if ch == "-":
                return word if not found or (null_is_unset and value == "") else value
            if ch == "+":
                return "" if not found or (null_is_unset and value == "") else word
            if ch == "?":
                if not found:
                    raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            return _trim(word, value, greedy, suffix=ch == "%")
        if ch == "/":
            return self._replace(name)
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def _modifier_word(self, ch: str) -> str:
        try:
            word, _ = self._stop_on("}", ch in ("#", "%"))
        except _LexError:
            if self._peek() == _EOF:
                raise _LexError("syntax error: missing '}'") from None
            raise
        return word

    def _replace(self, name: str) -> str:
        replace_all = self._peek() == "/"
        if replace_all:
            self._next()
        try:
            pattern, _ = self._stop_on("/", True)
        except _LexError:
            if self._peek() == _EOF:
                raise _LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _ = self._stop_on("}", True)
        except _LexError:
            if self._peek() == _EOF:
                raise _LexError("syntax error: missing '}'") from None
            raise
        value, found = self._get_env(name)
        if self.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        _pattern_regex(pattern, greedy=True, anchored=False)  # the same errors for a bad escape
        tokens = _pattern_tokens(pattern)
        if not replace_all:
            first = _search(tokens, value, 0, allow_empty=True)
            if first:
                value = value[: first[0]] + replacement + value[first[1] :]
            return value
        # Successive matches as the regex's sub() took them: after an empty match, the next
        # may not be empty at the same place.
        out: list[str] = []
        last = pos = 0
        allow_empty = True
        while pos <= len(value):
            match = _search(tokens, value, pos, allow_empty=allow_empty)
            if not match:
                break
            self._charge(len(replacement))
            out += (value[last : match[0]], replacement)
            last = pos = match[1]
            allow_empty = match[0] != match[1]
        out.append(value[last:])
        return "".join(out)


def _pattern_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell wildcard pattern (``*``, ``?``, ``\\`` escapes; no brackets) as a regex."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            if nxt not in ("*", "?", "\\"):
                raise _LexError(
                    f"invalid pattern ({pattern}) in substitution: invalid escape '\\{nxt}'"
                )
            out.append(re.escape(nxt))
        else:
            out.append(re.escape(tok))
    return re.compile("".join(out), re.DOTALL)


def _prefix_ends(pattern: str, value: str) -> set[int]:
    """The lengths of the prefixes of ``value`` that wildcard ``pattern`` matches (the
    syntax :func:`_pattern_regex` takes), by simulating it over sets of positions: linear
    in ``value`` for each piece of the pattern. Python's backtracking ``re`` took
    exponential time for ``${A##*a*a*...c}``; BuildKit's Go regexp is linear."""
    _pattern_regex(pattern, greedy=True, anchored=True)  # the same errors for a bad escape
    n = len(value)
    current = {0}
    i = 0
    while i < len(pattern) and current:
        tok = pattern[i]
        i += 1
        if tok == "*":
            current = set(range(min(current), n + 1))
            continue
        if tok == "?":
            current = {p + 1 for p in current if p < n}
            continue
        if tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt in ("}", "/"):
                continue
            i += 1
            tok = nxt
        current = {p + 1 for p in current if p < n and value[p] == tok}
    return current


_STAR, _ANY = 0, 1


def _pattern_tokens(pattern: str) -> list[int | str]:
    """Wildcard ``pattern`` (the syntax :func:`_pattern_regex` takes, checked there) as
    tokens: ``_STAR``, ``_ANY`` (``?``) or a literal character."""
    tokens: list[int | str] = []
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            tokens.append(_STAR)
        elif tok == "?":
            tokens.append(_ANY)
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else ""
            if nxt not in ("}", "/"):
                i += 1
                tokens.append(nxt)
        else:
            tokens.append(tok)
    return tokens


def _search(
    tokens: list[int | str], value: str, pos: int, *, allow_empty: bool
) -> tuple[int, int] | None:
    """The match of ``tokens`` (from :func:`_pattern_tokens`) in ``value`` that the greedy
    regex's ``search(value, pos)`` finds: the leftmost start at or after ``pos``, and from
    it the longest end (greedy stars that match anything end where the longest match
    does); with ``allow_empty`` false, no empty match at ``pos``. Returns ``(start, end)``
    or None. A simulation over the pattern's states, each holding the leftmost start that
    reaches it (a later start in the same state can only do worse): O(len(value) *
    len(tokens)). Python's backtracking ``re`` took exponential time for
    ``${A/*a*a*...c/x}``; BuildKit's Go regexp is linear."""
    n, m = len(value), len(tokens)
    never = n + 1
    starts = [never] * (m + 1)
    best, best_end = never, -1
    p = pos
    while True:
        if best == never and starts[0] > p:
            starts[0] = p  # a new attempt starts here
        for j in range(m):  # a star may match nothing
            if tokens[j] == _STAR and starts[j] < starts[j + 1]:
                starts[j + 1] = starts[j]
        s = starts[m]
        if (s < best or (s == best and s != never)) and (allow_empty or not s == p == pos):
            best, best_end = s, p
        if p == n:
            break
        ch = value[p]
        after = [never] * (m + 1)
        alive = False
        for j in range(m):
            s = starts[j]
            if s > best or s == never:
                continue
            tok = tokens[j]
            k = j if tok == _STAR else j + 1 if tok in (_ANY, ch) else -1
            if k >= 0 and s < after[k]:
                after[k] = s
                alive = True
        starts = after
        p += 1
        if not alive and best != never:
            break
    return (best, best_end) if best != never else None


def _trim(word: str, value: str, greedy: bool, *, suffix: bool) -> str:
    if not suffix:
        ends = _prefix_ends(word, value)
        return value[(max if greedy else min)(ends) :] if ends else value
    # the shortest/longest suffix: match the reversed pattern against the reversed value
    ends = _prefix_ends(_reverse_pattern(word), value[::-1])
    return value[: len(value) - (max if greedy else min)(ends)] if ends else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern keeping each escape before the character it escapes."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i : i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def process(word: str, env: Mapping[str, str], escape: str = "\\") -> Expansion:
    """Expand ``word`` with ``env`` (name -> value) and also split it into words.

    Raises :class:`ExpansionError` with BuildKit's message, e.g.
    ``failed to process "${x": syntax error: missing '}'``.
    """
    return Lexer(escape).process(word, env)


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """Expand variables in one word (BuildKit ``ProcessWord``); quotes removed, spaces kept."""
    return Lexer(escape).process(word, env).result


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """Expand and split ``text`` into words (BuildKit ``ProcessWords``), as for EXPOSE."""
    return Lexer(escape).process(text, env).words
