"""The Dockerfile parser: lines to an instruction tree, as BuildKit's parser does it.

Spec: the Dockerfile reference ("Format", "Parser directives", "Here-Documents",
"Shell and exec form"); behaviour copied from BuildKit's ``frontend/dockerfile/parser``:
parser directives only before anything else, comments only at the start of a line,
continuation lines joined with the escape token, empty continuation lines warned about,
heredocs for RUN/COPY/ADD, JSON (exec) form with fallback to the shell form.
"""

from __future__ import annotations

import json
import re

from dockyard.build.shell import ExpansionError, Lexer, go_quote
from dockyard.errors import InvalidArgument
from dockyard.record import dataclass, field

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_HEREDOC = re.compile(r"^(\d*)<<(-?)([^<]*)$")
_LEADING_TABS = re.compile(r"^\t+", re.MULTILINE)
_VALID_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_COMMANDS = frozenset({"run", "copy", "add"})
_NOT_JSON_STRINGS = "when using JSON array syntax, arrays must be comprised of strings only"


class DockerfileError(InvalidArgument):
    """A Dockerfile could not be parsed; ``str()`` is ``<file>:<line>: <message>``.

    ``filename``, ``line`` (1-based, the instruction's first line) and ``message``
    (BuildKit's text) are kept apart for callers that format their own output.
    """

    def __init__(self, filename: str, line: int, message: str) -> None:
        super().__init__(f"{filename}:{line}: {message}")
        self.filename = filename
        self.line = line
        self.message = message


class _ParseError(Exception):
    """Internal: an error before it is given its file and line."""


@dataclass
class Heredoc:
    """One here-document: ``name`` (the delimiter word without quotes), ``content`` (every
    body line with its newline), ``expand`` (False when the delimiter was quoted),
    ``chomp`` (``<<-``: leading tabs are stripped), ``fd`` (``3<<EOF``; 0 if none)."""

    name: str
    fd: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""

    def body(self) -> str:
        """The content with leading tabs removed when ``chomp`` is set."""
        return _LEADING_TABS.sub("", self.content) if self.chomp else self.content


@dataclass
class Node:
    """One parsed instruction.

    ``cmd`` is the lower-cased instruction name, ``args`` its arguments as BuildKit's
    parser splits them (ENV/LABEL as key, value, separator triples), ``flags`` the
    ``--flag=value`` words, ``json`` whether the arguments were a JSON array, ``original``
    the joined source line, ``sub`` the nested node of ONBUILD, lines 1-based inclusive.
    """

    cmd: str
    args: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    json: bool = False
    original: str = ""
    heredocs: list[Heredoc] = field(default_factory=list)
    sub: Node | None = None
    start_line: int = 0
    end_line: int = 0
    comments: list[str] = field(default_factory=list)
    #: the name as written (``From``), for messages such as "unknown instruction: FOOBAR"
    name: str = ""

    def dump(self) -> str:
        """The node in BuildKit's ``Node.Dump`` form: ``(copy ["--from=a"] "x" "/y")``."""
        parts = [self.cmd]
        if self.flags:
            parts.append("[" + " ".join(go_quote(f) for f in self.flags) + "]")
        if self.sub is not None:
            parts.append(self.sub.dump())
        parts.extend(go_quote(a) for a in self.args)
        return "(" + " ".join(parts) + ")"


@dataclass
class ParseResult:
    """The parsed file: ``nodes`` in order, ``directives`` (name -> value, e.g.
    ``{"escape": "`"}``), ``escape`` token, BuildKit's ``warnings`` text lines."""

    nodes: list[Node]
    directives: dict[str, str]
    escape: str
    warnings: list[str]


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.continuation = _continuation_regex("\\")
        self.done = False
        self.seen: dict[str, str] = {}

    def possible_directive(self, line: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        if not match or match.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return
        key = match.group(1).lower()
        if key in self.seen:
            raise _ParseError(f"only one {key} parser directive can be used")
        self.seen[key] = match.group(2)
        if key == "escape":
            value = match.group(2)
            if value not in ("`", "\\"):
                raise _ParseError(f"invalid escape token '{value}' does not match ` or \\")
            self.escape = value
            self.continuation = _continuation_regex(value)


def _continuation_regex(token: str) -> re.Pattern[str]:
    # The token ends the line unless escaped itself; alone on a line it continues too.
    t = re.escape(token)
    return re.compile(rf"([^{t}]){t}[ \t]*$|^{t}[ \t]*$")


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    match = d.continuation.search(line)
    if match:
        return line[: match.start()] + (match.group(1) or ""), False
    return line, True


def _is_comment(line: str) -> bool:
    return line.rstrip("\r\n").lstrip().startswith("#")


def _process_line(d: _Directives, line: str, strip_left: bool) -> str:
    line = line.rstrip("\r\n")
    if strip_left:
        line = line.lstrip()
    d.possible_directive(line)
    return "" if line.startswith("#") else line


def parse(text: str, filename: str = "Dockerfile") -> ParseResult:
    """Parse Dockerfile ``text`` into nodes (no instruction validation yet).

    Raises :class:`DockerfileError` (``Dockerfile:3: unterminated heredoc``, ``file with no
    instructions``, bad escape directive, repeated directive, non-string JSON array).
    """
    d = _Directives()
    lines = text.splitlines(keepends=True)
    if lines and lines[0].startswith("\ufeff"):
        lines[0] = lines[0][1:]
    nodes: list[Node] = []
    warnings: list[str] = []
    comments: list[str] = []
    current = 0
    i = 0

    def fail(line: int, message: str) -> DockerfileError:
        return DockerfileError(filename, line, message)

    while i < len(lines):
        raw = lines[i]
        i += 1
        if _is_comment(raw):
            comments.append(raw.strip()[1:].strip())
        try:
            processed = _process_line(d, raw, True)
        except _ParseError as err:
            raise fail(current + 1, str(err)) from None
        current += 1
        start = current
        line, end_of_line = _trim_continuation(processed, d)
        if end_of_line and line == "":
            continue
        empty_continuation = False
        while not end_of_line and i < len(lines):
            raw = lines[i]
            i += 1
            try:
                processed = _process_line(d, raw, False)
            except _ParseError as err:
                raise fail(current + 1, str(err)) from None
            current += 1
            if _is_comment(raw):
                continue
            if processed.strip() == "":
                empty_continuation = True
                continue
            cont, end_of_line = _trim_continuation(processed, d)
            line += cont
        if empty_continuation:
            warnings.append("[WARNING]: Empty continuation line found in:\n    " + line)
        try:
            node = _node_from_line(line, d)
        except _ParseError as err:
            raise fail(start, str(err)) from None
        target = node.sub if node.cmd == "onbuild" and node.sub is not None else node
        if target.cmd in _HEREDOC_COMMANDS and not target.json:
            try:
                heredocs = _heredocs_from_line(line)
            except (_ParseError, ExpansionError) as err:
                raise fail(start, str(err)) from None
            for doc in heredocs:
                body: list[str] = []
                terminated = False
                while i < len(lines):
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = raw.rstrip("\r\n")
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    body.append(raw)
                if not terminated:
                    raise fail(start, "unterminated heredoc")
                doc.content = "".join(body)
                node.heredocs.append(doc)
        node.start_line, node.end_line = start, current
        if node.sub is not None:
            node.sub.start_line, node.sub.end_line = start, current
            node.sub.heredocs = node.heredocs
        node.comments = comments
        comments = []
        nodes.append(node)
    if warnings:
        warnings.append(
            "[WARNING]: Empty continuation lines will become errors in a future release."
        )
    if not nodes:
        raise fail(max(current, 1), "file with no instructions")
    return ParseResult(nodes, dict(d.seen), d.escape, warnings)


def _node_from_line(line: str, d: _Directives) -> Node:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    name = parts[0]
    cmd = name.lower()
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = _extract_flags(parts[1])
    rest = rest.strip()
    node = Node(cmd=cmd, flags=flags, original=line, name=name)
    if cmd in ("add", "copy", "volume"):
        _maybe_json_to_list(node, rest)
    elif cmd in ("cmd", "entrypoint", "run", "shell"):
        _maybe_json(node, rest)
    elif cmd == "arg":
        node.args = _parse_words(rest, d)
    elif cmd in ("env", "label"):
        _name_val(node, rest, cmd.upper(), d)
    elif cmd in ("expose", "from"):
        node.args = _WHITESPACE.split(rest) if rest else []
    elif cmd in ("maintainer", "stopsignal", "user", "workdir"):
        node.args = [rest] if rest else []
    elif cmd == "healthcheck":
        _health(node, rest)
    elif cmd == "onbuild" and rest:
        node.sub = _node_from_line(rest, d)
    return node


def _extract_flags(line: str) -> tuple[str, list[str]]:
    """Leading ``--flag[=value]`` words (quotes and backslashes processed), then the rest."""
    words: list[str] = []
    word: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = in_word
        if pos == n:
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                words.append(text)
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                text = "".join(word)
                if text == "--":
                    return line[pos:], words
                if blank_ok or text:
                    words.append(text)
                word = []
                blank_ok = False
            elif ch in "'\"":
                quote = ch
                blank_ok = True
                phase = in_quote
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
            continue
        # in a quote
        if ch == quote:
            phase = in_word
        elif ch == "\\":
            if pos + 1 == n:
                phase = in_word
            else:
                pos += 1
                word.append(line[pos])
        else:
            word.append(ch)
        pos += 1
    return "", words


def _parse_words(rest: str, d: _Directives) -> list[str]:
    """Split on unquoted whitespace, keeping quotes and escapes for later expansion."""
    words: list[str] = []
    word: list[str] = []
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == in_spaces:
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = in_word
        if pos == n:
            if blank_ok or word:
                words.append("".join(word))
            break
        if phase == in_word:
            if ch.isspace():
                phase = in_spaces
                if blank_ok or word:
                    words.append("".join(word))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in "'\"":
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == d.escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        if ch == quote:
            phase = in_word
        if ch == d.escape and quote != "'":
            if pos + 1 == n:
                phase = in_word
                pos += 1
                continue
            pos += 1
            word.append(ch)
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _name_val(node: Node, rest: str, key: str, d: _Directives) -> None:
    words = _parse_words(rest, d)
    if not words:
        return
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise _ParseError(f"{key} must have two arguments")
        node.args = [parts[0], parts[1], ""]
        return
    for word in words:
        if "=" not in word:
            raise _ParseError(
                f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value"
            )
        k, v = word.split("=", 1)
        node.args += [k, v, "="]


def _parse_json(rest: str) -> list[str] | None:
    """The strings of a JSON array, or None when ``rest`` is not one (shell form)."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise _ParseError(_NOT_JSON_STRINGS)
    return value


def _maybe_json(node: Node, rest: str) -> None:
    if not rest:
        return
    parsed = _parse_json(rest)
    if parsed is None:
        node.args = [rest]
    else:
        node.args, node.json = parsed, True


def _maybe_json_to_list(node: Node, rest: str) -> None:
    parsed = _parse_json(rest)
    if parsed is not None:
        node.args, node.json = parsed, True
    elif rest:
        node.args = _WHITESPACE.split(rest)


def _health(node: Node, rest: str) -> None:
    match = re.match(r"(\S*)\s*", rest)
    assert match is not None  # \S*\s* matches any string
    if not match.group(1):
        return
    _maybe_json(node, rest[match.end() :])
    node.args.insert(0, match.group(1))


def _heredocs_from_line(line: str) -> list[Heredoc]:
    lexer = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process(line, {}).words
    except ExpansionError:
        return []
    docs = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word such as ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` starts, or None."""
    match = _HEREDOC.match(word)
    if not match or not match.group(3):
        return None
    rest = match.group(3)
    plain = Lexer("\\", skip_unset_env=True).process(rest, {}).words
    if len(plain) != 1:
        return None
    raw = Lexer("\\", raw_quotes=True, skip_unset_env=True).process(rest, {}).words
    if len(raw) != 1:
        raise _ParseError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = plain[0].count("'") + plain[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(
        name=plain[0],
        fd=int(match.group(1) or 0),
        expand=quotes == raw_quotes,
        chomp=match.group(2) == "-",
    )
