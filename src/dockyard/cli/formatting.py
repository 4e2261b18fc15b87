"""Docker CLI output formatting: ``--format`` Go templates, tabwriter tables, human units.

Implements the subset of Go's ``text/template`` that Docker users write (fields, pipelines,
``if``/``else``/``range``/``with``, variables in ``range``, Go's builtins and Docker's extra
functions ``json``, ``join``, ``split``, ``title``, ``lower``, ``upper``, ``pad``,
``truncate``), the Docker CLI's ``table`` prefix with headers, Go's ``text/tabwriter`` layout
as the Docker CLI configures it (min width 10, padding 3) and go-units' ``HumanDuration`` /
``HumanSizeWithPrecision``. Values are Python dicts, lists, str, int, float, bool and None.
"""

from __future__ import annotations

import json
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from dockyard.cli.tabwriter import tabwrite
from dockyard.errors import InvalidArgument

# go-units' helpers, shared with the engine (ps STATUS is the daemon's text).
from dockyard.humanize import human_duration, human_size  # noqa: F401

TABLE_PREFIX = "table"


class TemplateError(InvalidArgument):
    """A ``--format`` template failed to parse or execute (the Docker CLI exits 1)."""

    exit_code = 1


class TemplateParseError(TemplateError):
    """A ``--format`` template that does not parse (``inspect`` exits 64 for it)."""


# ---------------------------------------------------------------------------------------
# Values as Go's fmt prints them (%v).


def go_str(value: Any) -> str:
    """``value`` formatted as Go's ``%v`` would print the equivalent Go value."""
    if value is None:
        return "<no value>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, Mapping):
        inner = " ".join(f"{k}:{_go_inner(v)}" for k, v in sorted(value.items()))
        return f"map[{inner}]"
    if isinstance(value, list | tuple):
        return "[" + " ".join(_go_inner(v) for v in value) + "]"
    return str(value)


def _go_inner(value: Any) -> str:
    # Nested nil prints as <nil> in Go, not <no value>.
    return "<nil>" if value is None else go_str(value)


def _go_float(f: float) -> str:
    # Go's %v: shortest round-trip digits, exponent form when exp < -4 or exp >= 6.
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "+Inf" if f > 0 else "-Inf"
    if f == 0:
        return "0"
    from decimal import Decimal

    d = Decimal(repr(f))
    exp = d.adjusted()
    if -4 <= exp < 6:
        return format(d.normalize(), "f")
    digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
    mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{'-' if f < 0 else ''}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


# ---------------------------------------------------------------------------------------
# Template parsing.

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>"(?:\\[^\n]|[^"\\\n])*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:\\.|[^'\\])')
  | (?P<decl>:=|=)
  | (?P<var>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<punct>[|(),])
    """,
    re.VERBOSE,
)

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break"}


class _Tok:
    __slots__ = ("kind", "text", "pos")

    def __init__(self, kind: str, text: str, pos: int) -> None:
        self.kind, self.text, self.pos = kind, text, pos


class _Node:
    """A parsed template node; ``kind`` is text, action, if, range or with."""

    __slots__ = ("kind", "pos", "text", "pipe", "body", "else_body", "decl")

    def __init__(self, kind: str, pos: int, text: str = "", pipe: Any = None) -> None:
        self.kind, self.pos, self.text, self.pipe = kind, pos, text, pipe
        self.body: list[_Node] = []
        self.else_body: list[_Node] = []
        self.decl: list[str] = []


class Template:
    """A parsed Go template. ``Template(text)`` raises ``TemplateError`` on a syntax error."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._actions = self._lex(text)
        self._i = 0
        try:
            self.root, stop = self._parse_list()
        except RecursionError:
            # Go caps nested parentheses at 10,000 and leaves nested actions to its
            # growable stacks; Python's recursion limit comes first, so both stop here.
            raise self._parse_error(len(text), "max expression depth exceeded") from None
        if stop is not None:
            raise self._parse_error(stop[1], f"unexpected {{{{{stop[0]}}}}}")

    # -- lexing: alternating text and action segments -----------------------------------
    def _lex(self, text: str) -> list[tuple[str, str, int]]:
        out: list[tuple[str, str, int]] = []
        pos = 0
        while True:
            start = text.find("{{", pos)
            if start == -1:
                out.append(("text", text[pos:], pos))
                break
            lit = text[pos:start]
            inner_start = start + 2
            if text[inner_start : inner_start + 2] in ("- ", "-\t", "-\n", "-\r"):
                lit = lit.rstrip()
                inner_start += 1
            out.append(("text", lit, pos))
            end = text.find("}}", inner_start)
            if end == -1:
                raise self._parse_error(start, "unclosed action")
            inner_end = end
            trim_right = (
                end - 1 >= inner_start
                and text[end - 1] == "-"
                and text[end - 2 : end - 1].isspace()
            )
            if trim_right:
                inner_end = end - 1
            out.append(("action", text[inner_start:inner_end], inner_start))
            pos = end + 2
            if trim_right:
                while pos < len(text) and text[pos].isspace():
                    pos += 1
        return out

    def _parse_error(self, pos: int, msg: str) -> TemplateError:
        line = self.text.count("\n", 0, pos) + 1
        return TemplateParseError(f"template parsing error: template: :{line}: {msg}")

    def _tokens(self, inner: str, base: int) -> list[_Tok]:
        toks: list[_Tok] = []
        pos = 0
        while pos < len(inner):
            m = _TOKEN_RE.match(inner, pos)
            if m is None and inner[pos] == '"':
                # Go's lexer: a quoted string ends on its line (the pre-formatting turns a
                # backslash-n into a newline).
                raise self._parse_error(base + pos, "unterminated quoted string")
            if m is None:
                raise self._parse_error(base + pos, f"unexpected {inner[pos]!r} in command")
            kind = m.lastgroup or ""
            if kind == "string":
                try:
                    json.loads(m.group())
                except ValueError:
                    # strconv.Unquote's error; Go's \x and octal escapes, which JSON lacks,
                    # are refused too (they were a traceback).
                    raise self._parse_error(base + pos, "invalid syntax") from None
            if kind != "ws":
                toks.append(_Tok(kind, m.group(), base + pos))
            pos = m.end()
        return toks

    # -- parsing: a list of nodes up to {{end}} / {{else}} -------------------------------
    def _parse_list(self) -> tuple[list[_Node], tuple[str, int, list[_Tok]] | None]:
        nodes: list[_Node] = []
        while self._i < len(self._actions):
            kind, text, pos = self._actions[self._i]
            self._i += 1
            if kind == "text":
                if text:
                    nodes.append(_Node("text", pos, text=text))
                continue
            if text.strip().startswith("/*"):
                continue
            toks = self._tokens(text, pos)
            if not toks:
                raise self._parse_error(pos, "missing value for command")
            head = toks[0]
            if head.kind == "ident" and head.text in ("end", "else"):
                return nodes, (head.text, head.pos, toks[1:])
            if head.kind == "ident" and head.text in ("if", "range", "with"):
                nodes.append(self._parse_control(head.text, head.pos, toks[1:]))
                continue
            if head.kind == "ident" and head.text in _KEYWORDS:
                raise self._parse_error(pos, f"{head.text} is not supported")
            nodes.append(_Node("action", pos, pipe=self._parse_pipeline(toks, pos)))
        return nodes, None

    def _parse_control(self, kind: str, pos: int, toks: list[_Tok]) -> _Node:
        node = _Node(kind, pos)
        if kind == "range" and len(toks) > 2:
            # {{range $e := .X}} or {{range $i, $e := .X}}
            decl_idx = next((i for i, t in enumerate(toks) if t.kind == "decl"), -1)
            if decl_idx > 0:
                node.decl = [t.text for t in toks[:decl_idx] if t.kind == "var"]
                toks = toks[decl_idx + 1 :]
        if not toks:
            raise self._parse_error(pos, f"missing value for {kind}")
        node.pipe = self._parse_pipeline(toks, pos)
        node.body, stop = self._parse_list()
        if stop is None:
            raise self._parse_error(len(self.text), "unexpected EOF")
        word, stop_pos, rest = stop
        if word == "else":
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                # {{else if ...}} is an if nested in the else branch sharing our {{end}}.
                inner = self._parse_control(rest[0].text, rest[0].pos, rest[1:])
                node.else_body = [inner]
                return node
            node.else_body, stop = self._parse_list()
            if stop is None or stop[0] != "end":
                raise self._parse_error(stop_pos, "expected end; found else")
        return node

    def _parse_pipeline(self, toks: list[_Tok], pos: int) -> list[list[Any]]:
        cmds: list[list[Any]] = [[]]
        i = 0
        while i < len(toks):
            t = toks[i]
            if t.kind == "punct" and t.text == "|":
                if not cmds[-1]:
                    raise self._parse_error(t.pos, "missing command")
                cmds.append([])
            elif t.kind == "punct" and t.text == "(":
                depth, j = 1, i + 1
                while j < len(toks) and depth:
                    if toks[j].text == "(":
                        depth += 1
                    elif toks[j].text == ")":
                        depth -= 1
                    j += 1
                if depth:
                    raise self._parse_error(t.pos, "unclosed left paren")
                inner = self._parse_pipeline(toks[i + 1 : j - 1], t.pos)
                after = toks[j] if j < len(toks) else None
                if after and after.kind == "field" and after.pos == toks[j - 1].pos + 1:
                    # Go's chain node: (pipeline).Field.Field
                    cmds[-1].append(("chain", (inner, after.text), t.pos))
                    j += 1
                else:
                    cmds[-1].append(("pipe", inner, t.pos))
                i = j
                continue
            elif t.kind == "punct":
                raise self._parse_error(t.pos, f'unexpected "{t.text}" in operand')
            elif t.kind in ("decl", "char"):
                raise self._parse_error(t.pos, f'unexpected "{t.text}" in command')
            else:
                cmds[-1].append((t.kind, t.text, t.pos))
            i += 1
        if not cmds[-1]:
            raise self._parse_error(pos, "missing command")
        for cmd in cmds:
            kind, text, p = cmd[0]
            if kind == "ident" and text not in FUNCS and text not in ("true", "false", "nil"):
                raise self._parse_error(p, f'function "{text}" not defined')
        return cmds

    # -- execution ----------------------------------------------------------------------
    def execute(
        self,
        data: Any,
        *,
        strict: bool = True,
        funcs: Mapping[str, Callable[..., Any]] | None = None,
    ) -> str:
        """Render with ``data`` as ``.``; a missing field is an error when ``strict``.

        ``strict`` models Go structs (missing field: ``can't evaluate field X``); without
        it dicts behave as Go maps (missing key prints ``<no value>``). ``funcs`` overrides
        template functions (the table header uses that). Raises ``TemplateError``.
        """
        ex = _Exec(self, strict, {**FUNCS, **(funcs or {})})
        out: list[str] = []
        try:
            ex.run(self.root, data, {"$": data}, out)
        except RecursionError:
            raise TemplateError("template: :1: max expression depth exceeded") from None
        return "".join(out)


class _Exec:
    def __init__(self, tmpl: Template, strict: bool, funcs: Mapping[str, Callable[..., Any]]):
        self.tmpl, self.strict, self.funcs = tmpl, strict, funcs

    def error(self, pos: int, at: str, msg: str) -> TemplateError:
        text = self.tmpl.text[:pos]
        nl = text.rfind("\n")
        col = pos if nl == -1 else pos - nl - 1
        line = text.count("\n") + 1
        return TemplateError(f'template: :{line}:{col}: executing "" at <{at}>: {msg}')

    def run(self, nodes: list[_Node], dot: Any, vars: dict[str, Any], out: list[str]) -> None:
        for node in nodes:
            if node.kind == "text":
                out.append(node.text)
            elif node.kind == "action":
                out.append(go_str(self.pipeline(node.pipe, dot, vars)))
            elif node.kind == "if":
                branch = node.body if truth(self.pipeline(node.pipe, dot, vars)) else node.else_body
                self.run(branch, dot, vars, out)
            elif node.kind == "with":
                value = self.pipeline(node.pipe, dot, vars)
                if truth(value):
                    self.run(node.body, value, vars, out)
                else:
                    self.run(node.else_body, dot, vars, out)
            elif node.kind == "range":
                self.range(node, dot, vars, out)

    def range(self, node: _Node, dot: Any, vars: dict[str, Any], out: list[str]) -> None:
        value = self.pipeline(node.pipe, dot, vars)
        if isinstance(value, Mapping):
            items: list[tuple[Any, Any]] = sorted(value.items())
        elif isinstance(value, list | tuple):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None:
            items = []
        else:
            raise self.error(node.pos, "range", f"range can't iterate over {go_str(value)}")
        if not items:
            self.run(node.else_body, dot, vars, out)
        for key, elem in items:
            scope = dict(vars)
            if len(node.decl) == 1:
                scope[node.decl[0]] = elem
            elif len(node.decl) == 2:
                scope[node.decl[0]], scope[node.decl[1]] = key, elem
            self.run(node.body, elem, scope, out)

    def pipeline(self, cmds: list[list[Any]], dot: Any, vars: dict[str, Any]) -> Any:
        value: Any = _NOARG
        for cmd in cmds:
            value = self.command(cmd, dot, vars, value)
        return value

    def command(self, cmd: list[Any], dot: Any, vars: dict[str, Any], piped: Any) -> Any:
        kind, text, pos = cmd[0]
        if kind == "ident" and text in self.funcs:
            args = [self.operand(op, dot, vars) for op in cmd[1:]]
            return self.call(text, pos, args, piped)
        if len(cmd) > 1 or piped is not _NOARG:
            raise self.error(pos, text, f"can't give argument to non-function {text}")
        return self.operand(cmd[0], dot, vars)

    def call(self, name: str, pos: int, args: list[Any], piped: Any) -> Any:
        """Call template function ``name``; argument count and type errors as Go words them."""
        given = len(args) + (piped is not _NOARG)
        least, most = ARITY.get(name, (0, None))
        if most is None and given < least:
            # Go counts only the explicit arguments here, not a piped value.
            msg = f"wrong number of args for {name}: want at least {least} got {len(args)}"
            raise self.error(pos, name, msg)
        if most is not None and given != most:
            raise self.error(pos, name, f"wrong number of args for {name}: want {most} got {given}")
        if piped is not _NOARG:
            args = [*args, piped]
        try:
            return self.funcs[name](*args)
        except TemplateError:
            raise
        except _CallError as e:
            raise self.error(pos, name, f"error calling {name}: {e}") from None
        except (TypeError, ValueError, KeyError, IndexError, AttributeError):
            # Python's message names Python internals; say what Go says about a bad operand.
            kinds = ", ".join(_go_type(a) for a in args)
            raise self.error(pos, name, f"wrong type of args for {name}: got ({kinds})") from None

    def operand(self, op: tuple[str, Any, int], dot: Any, vars: dict[str, Any]) -> Any:
        kind, text, pos = op
        if kind == "field":
            return self.fields(dot, text, pos, text)
        if kind == "var":
            name, _, rest = text.partition(".")
            if name not in vars:
                raise self.error(pos, text, f"undefined variable: {name}")
            return self.fields(vars[name], "." + rest if rest else ".", pos, text)
        if kind == "string":
            return json.loads(text)
        if kind == "raw":
            return text[1:-1]
        if kind == "number":
            return float(text) if any(c in text for c in ".eE") else int(text)
        if kind == "pipe":
            return self.pipeline(text, dot, vars)
        if kind == "chain":
            inner, chain = text
            return self.fields(self.pipeline(inner, dot, vars), chain, pos, chain)
        if kind == "ident":
            if text in ("true", "false"):
                return text == "true"
            if text == "nil":
                return None
            return self.call(text, pos, [], _NOARG)
        raise self.error(pos, str(text), "unexpected operand")

    def fields(self, value: Any, chain: str, pos: int, at: str) -> Any:
        if chain == ".":
            return value
        for name in chain[1:].split("."):
            if isinstance(value, Mapping):
                if name in value:
                    value = value[name]
                elif self.strict:
                    raise self.error(pos, at, f"can't evaluate field {name}")
                else:
                    # Go maps: a missing key is the invalid value, and fields of that are
                    # too, so {{.Missing.X}} prints <no value> (a null value does not).
                    return None
            elif value is None:
                raise self.error(pos, at, f"nil pointer evaluating interface {{}}.{name}")
            else:
                raise self.error(
                    pos, at, f"can't evaluate field {name} in type {type(value).__name__}"
                )
        return value


_NOARG = object()


class _CallError(Exception):
    """A template function failed the way its Go counterpart returns an error."""


def _go_type(value: Any) -> str:
    # The Go type encoding/json would decode ``value`` into.
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "map[string]interface {}"
    return "[]interface {}"


def truth(value: Any) -> bool:
    """Go template truth: false, 0, nil and empty strings, lists and maps are false."""
    return bool(value)


# ---------------------------------------------------------------------------------------
# Functions: Go's builtins and the Docker CLI's additions.


def _json(value: Any) -> str:
    # The Docker CLI's json func: encoding/json without HTML escaping, trailing newline cut.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _index(value: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(value, Mapping):
            value = value.get(key)
        elif value is None:
            raise _CallError("index of untyped nil")
        else:
            try:
                value = value[key]
            except IndexError:
                raise _CallError(f"index out of range: {key}") from None
    return value


def _sprint(*args: Any) -> str:
    # Go's Sprint: a space between operands when neither side is a string.
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_str(a)
    return out


#: Go's fmt refuses widths and precisions whose magnitude is over a million (tooLarge).
_TOO_LARGE = 1_000_000


def _parsenum(s: str, i: int) -> tuple[int, bool, int]:
    """Go fmt's parsenum: the number at ``s[i:]`` -> (num, isnum, next index); a number
    that grows past a million gives up and consumes the rest of ``s`` (Go: "crazy long
    number most likely"), so the directive ends in ``%!(NOVERB)``."""
    num, isnum = 0, False
    while i < len(s) and "0" <= s[i] <= "9":
        if num > _TOO_LARGE:
            return 0, False, len(s)
        num = num * 10 + ord(s[i]) - 48
        isnum = True
        i += 1
    return num, isnum, i


def _int_arg(args: tuple[Any, ...], n: int) -> tuple[int, bool, int]:
    """Go fmt's intFromArg for a ``*`` width or precision -> (num, ok, next arg index)."""
    if n >= len(args):
        return 0, False, n
    arg = args[n]
    if not isinstance(arg, int) or isinstance(arg, bool) or abs(arg) > _TOO_LARGE:
        return 0, False, n + 1
    return arg, True, n + 1


def _render(flags: str, width: int | None, prec: int | None, v: str, arg: Any) -> str:
    """One ``%`` directive's text for ``arg``."""
    if v in ("d", "x", "X", "o", "b") and isinstance(arg, int | float):
        body = format(int(arg), v)
    elif v in ("f", "e", "g") and isinstance(arg, int | float):
        body = format(float(arg), f".{6 if prec is None else prec}{v}")
    elif v == "q":
        body = json.dumps(go_str(arg), ensure_ascii=False)
    else:
        body = go_str(arg)
        if prec is not None and v == "s":
            body = body[:prec]
    if width:
        body = body.ljust(width) if "-" in flags else body.rjust(width)
    return body


def _sprintf(fmt: str, *args: Any) -> str:
    """Go's ``fmt.Sprintf`` for the verbs templates use, with its error strings:
    ``%!v(MISSING)``, ``%!(NOVERB)``, ``%!(BADWIDTH)``, ``%!(BADPREC)`` (a ``*`` width or
    precision that is not an int or is over a million), ``%!(EXTRA type=value)``; a
    literal width or precision past a million ends the format in ``%!(NOVERB)``, as Go's
    parsenum, so no directive can ask for gigabytes."""
    out: list[str] = []
    n = i = 0
    end = len(fmt)
    while i < end:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        flags = ""
        while i < end and fmt[i] in "-+# 0":
            flags += fmt[i]
            i += 1
        width: int | None = None
        if i < end and fmt[i] == "*":
            i += 1
            num, ok, n = _int_arg(args, n)
            if not ok:
                out.append("%!(BADWIDTH)")
            elif num < 0:
                flags, num = flags + "-", -num
            width = num if ok else None
        else:
            num, ok, i = _parsenum(fmt, i)
            width = num if ok else None
        prec: int | None = None
        if i < end and fmt[i] == ".":
            i += 1
            if i < end and fmt[i] == "*":
                i += 1
                num, ok, n = _int_arg(args, n)
                if not ok:
                    out.append("%!(BADPREC)")
                elif num >= 0:  # Go: a negative precision is no precision
                    prec = num
            else:
                num, ok, i = _parsenum(fmt, i)
                prec = num if ok else 0
        if i >= end:
            out.append("%!(NOVERB)")
            break
        v = fmt[i]
        i += 1
        if v == "%":
            out.append("%")
            continue
        if n >= len(args):
            out.append(f"%!{v}(MISSING)")
            continue
        out.append(_render(flags, width, prec, v, args[n]))
        n += 1
    if n < len(args):
        extra = ", ".join("<nil>" if a is None else f"{_go_type(a)}={go_str(a)}" for a in args[n:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _CallError("missing argument for comparison")
    return any(a == b for b in others)


def _compare(op: Callable[[Any, Any], bool], a: Any, b: Any) -> bool:
    try:
        return op(a, b)
    except TypeError:
        raise _CallError("incompatible types for comparison") from None


def _slice(item: Any, *indexes: Any) -> Any:
    """Go's ``slice``: ``item[i:j]`` with Go's checks (an index past the length or
    negative is an error, not clamped as Python clamps it; at most 2 for a string)."""
    if len(indexes) > (2 if isinstance(item, str) else 3):
        raise _CallError(f"too many slice indexes: {len(indexes)}")
    size = len(item)
    for ix in indexes:
        if not isinstance(ix, int) or ix < 0 or ix > size:
            raise _CallError(f"index out of range: {ix}")
    if len(indexes) >= 2 and indexes[0] > indexes[1]:
        raise _CallError(f"invalid slice index: {indexes[0]} > {indexes[1]}")
    return item[slice(*indexes[:2])]


def _truncate(s: str, n: int) -> str:
    return s[:n]


def _pad(s: str, before: int, after: int) -> str:
    return " " * before + s + " " * after


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _join(items: Iterable[Any], sep: str) -> str:
    return sep.join(go_str(i) for i in items)


FUNCS: dict[str, Callable[..., Any]] = {
    "json": _json,
    "join": _join,
    "split": lambda s, sep: s.split(sep),
    "title": lambda s: s.title(),
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "pad": _pad,
    "truncate": _truncate,
    "index": _index,
    "len": len,
    "print": _sprint,
    "printf": _sprintf,
    "println": lambda *a: " ".join(go_str(x) for x in a) + "\n",
    "eq": _eq,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: _compare(operator.lt, a, b),
    "le": lambda a, b: _compare(operator.le, a, b),
    "gt": lambda a, b: _compare(operator.gt, a, b),
    "ge": lambda a, b: _compare(operator.ge, a, b),
    "not": lambda a: not truth(a),
    "and": _and,
    "or": _or,
    "slice": lambda s, *ix: _slice(s, *ix),
}

# Argument counts of FUNCS as Go declares them: (fixed, None) is variadic with at least
# ``fixed``; (n, n) is exactly n.
ARITY: dict[str, tuple[int, int | None]] = {
    **{name: (1, 1) for name in ("json", "title", "lower", "upper", "len", "not")},
    **{name: (2, 2) for name in ("join", "split", "truncate", "ne", "lt", "le", "gt", "ge")},
    "pad": (3, 3),
    **{name: (1, None) for name in ("index", "slice", "printf", "eq", "and", "or")},
    **{name: (0, None) for name in ("print", "println")},
}

# The Docker CLI renders table headers with these: every function returns its first argument.
HEADER_FUNCS: dict[str, Callable[..., Any]] = {
    name: (lambda v, *_: v)
    for name in ("json", "join", "split", "title", "lower", "upper", "pad", "truncate")
}


def render(template: str, obj: Any, *, strict: bool = True) -> str:
    """Render Go template ``template`` with ``obj`` as ``.``; raises ``TemplateError``."""
    return Template(template).execute(obj, strict=strict)


def normalize(fmt: str) -> str:
    """The Docker CLI's pre-formatting: strip spaces, turn literal ``\\t``/``\\n`` into tabs/newlines."""
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def format_items(
    fmt: str,
    items: Iterable[Any],
    headers: Mapping[str, str] | None = None,
    *,
    strict: bool = True,
    default: str = "",
) -> str:
    """Render ``items`` with a Docker ``--format`` value (``table ...``, ``json`` or a template).

    Each item is rendered then followed by a newline; with the ``table`` prefix a header row
    (the template rendered against ``headers``, field name -> column title) comes first and
    the whole is laid out with ``tabwrite``. ``json`` means ``{{json .}}`` per item; an empty
    ``fmt`` or a bare ``table`` means ``default`` (the command's default table template,
    e.g. ``"table {{.ID}}\t{{.Names}}"``). Raises ``TemplateError``.
    """
    if fmt.strip() in ("", TABLE_PREFIX) and default:
        fmt = default
    is_table = fmt.startswith(TABLE_PREFIX)
    body = fmt[len(TABLE_PREFIX) :] if is_table else fmt
    body = normalize(body)
    if body == "json":
        body = "{{json .}}"
    tmpl = Template(body)
    rows = "".join(tmpl.execute(item, strict=strict) + "\n" for item in items)
    if not is_table:
        return rows
    header = tmpl.execute(dict(headers or {}), strict=False, funcs=HEADER_FUNCS)
    return tabwrite(header + "\n" + rows)


def print_inspect(fmt: str, items: list[Any], errors: list[str]) -> None:
    """Print ``inspect`` results the Docker CLI's way, then its errors; exits 1 if any.

    ``items`` are the found objects (JSON-able dicts), ``errors`` one line per name not
    found. No ``fmt`` prints an indented JSON array, ``json`` one compact JSON line per
    item, else the Go template ``fmt`` rendered per item (missing keys give
    ``<no value>``). Docker CLI ``cli/command/inspect`` (``NewTemplateInspectorFromString``).
    Raises ``TemplateError`` before printing anything for a template that fails;
    one that does not parse ends the process with its message, exit 64 (docker/cli's
    inspect.Inspect: StatusError 64).
    """
    import sys

    if fmt:
        # The CLI's TemplateInspector.Flush writes a newline when nothing was rendered.
        try:
            out = format_items(fmt, items, strict=False) or "\n"
        except TemplateParseError as e:
            sys.stderr.write(f"{e}\n")
            sys.exit(64)
    else:
        out = json.dumps(items, indent=4, ensure_ascii=False) + "\n"
    sys.stdout.write(out)
    if errors:
        sys.stdout.flush()  # the results come before the errors, as Docker's
        sys.stderr.write("\n".join(errors) + "\n")
        sys.exit(1)


def format_table(headers: list[str], rows: list[list[str]]) -> str:
    """A Docker-style table: ``headers`` then ``rows``, each line ending in a newline."""
    text = "".join("\t".join(r) + "\n" for r in [headers, *rows])
    return tabwrite(text)


# ---------------------------------------------------------------------------------------
# Ports (docker/cli formatter.DisplayablePorts, docker port).


def _form_group(key: str, first: int, last: int) -> str:
    from dockyard.nat import join_host_port

    ip, _, proto = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        return f"{join_host_port(ip, group)}->{group}/{proto}"
    return f"{group}/{proto}"


def displayable_ports(ports: list[dict[str, Any]]) -> str:
    """The ``ps`` PORTS column (docker/cli formatter.DisplayablePorts): consecutive ports
    published on the same number grouped (``0.0.0.0:8000-8002->8000-8002/tcp``), others as
    ``IP:PUBLIC->PRIVATE/proto``, unpublished ones as ``80/tcp``."""
    from dockyard.nat import join_host_port

    ordered = sorted(
        ports,
        key=lambda p: (p["PrivatePort"], p.get("IP", ""), p.get("PublicPort", 0), p["Type"]),
    )
    groups: dict[str, list[int]] = {}
    result: list[str] = []
    host_mappings: list[str] = []
    for p in ordered:
        current = p["PrivatePort"]
        key = p["Type"]
        if p.get("IP", "") != "":
            if p["PublicPort"] != current:
                host_mappings.append(
                    f"{join_host_port(p['IP'], p['PublicPort'])}->{current}/{p['Type']}"
                )
                continue
            key = f"{p['IP']}/{p['Type']}"
        group = groups.get(key)
        if group is None:
            groups[key] = [current, current]
            continue
        if current == group[1] + 1:
            group[1] = current
            continue
        result.append(_form_group(key, group[0], group[1]))
        groups[key] = [current, current]
    result.extend(_form_group(key, g[0], g[1]) for key, g in groups.items())
    result.extend(host_mappings)
    return ", ".join(result)


def _natural_key(text: str) -> list[Any]:
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text) if t]


def port_command_lines(
    ports: dict[str, list[dict[str, str]] | None], private: str | None, container: str
) -> list[str]:
    """The lines ``docker port CONTAINER [PRIVATE_PORT[/PROTO]]`` prints, naturally sorted.

    Raises InvalidArgument (``Error: invalid port (x)``) for a bad PRIVATE_PORT and
    NotFound-like InvalidArgument ``Error: No public port '80/tcp' published for c``.
    """
    from dockyard.nat import join_host_port, uint16

    out: list[str] = []
    if private is not None:
        port, _, proto = private.partition("/")
        if uint16(port) is None:
            raise InvalidArgument(
                f'Error: invalid port ({port}): strconv.ParseUint: parsing "{port}": invalid syntax'
            )
        frontends = ports.get(f"{port}/{proto or 'tcp'}")
        if not frontends:
            raise InvalidArgument(f"Error: No public port '{private}' published for {container}")
        out = [join_host_port(f["HostIp"], f["HostPort"]) for f in frontends]
    else:
        for key, frontends in ports.items():
            for f in frontends or []:
                out.append(f"{key} -> {join_host_port(f['HostIp'], f['HostPort'])}")
    return sorted(out, key=_natural_key)
