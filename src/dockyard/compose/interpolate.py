"""Variable interpolation in Compose files and ``.env`` files (Compose Specification,
"Interpolation"; compose-go ``template/template.go``).

``$VAR`` and ``${VAR}`` take a variable's value (empty when unset); ``${VAR:-default}``
(unset or empty) and ``${VAR-default}`` (unset) a default; ``${VAR:?err}`` and
``${VAR?err}`` make a missing value an error; ``${VAR:+alt}`` and ``${VAR+alt}`` the
alternative when set; ``$$`` a literal ``$``. Defaults and alternatives may hold
interpolations themselves.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from dockyard.compose.errors import ComposeError

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")


class MissingVariable(ComposeError):
    """A ``${VAR:?err}``/``${VAR?err}`` whose variable has no value."""


def substitute(text: str, env: Mapping[str, str]) -> str:
    """``text`` with its variables replaced from ``env``. Raises MissingVariable (``required
    variable VAR is missing a value: err``) and ComposeError (``invalid interpolation
    format for ...``)."""
    if "$" not in text:
        return text
    out, _ = _scan(text, 0, env, stop=None)
    return out


def _scan(text: str, i: int, env: Mapping[str, str], stop: str | None) -> tuple[str, int]:
    """Substitute from ``i`` up to the closing ``stop`` brace at depth 0 (or the end);
    returns the text and the index just past ``stop``."""
    out: list[str] = []
    depth = 0
    while i < len(text):
        ch = text[i]
        if stop is not None and ch == "}" and depth == 0:
            return "".join(out), i + 1
        if ch == "$":
            nxt = text[i + 1 : i + 2]
            if nxt == "$":
                out.append("$")
                i += 2
                continue
            if nxt == "{":
                value, i = _braced(text, i + 2, env)
                out.append(value)
                continue
            m = _NAME.match(text, i + 1)
            if m:
                out.append(env.get(m.group(0), ""))
                i = m.end()
                continue
            raise ComposeError(f"invalid interpolation format for {text!r}")
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        out.append(ch)
        i += 1
    if stop is not None:
        raise ComposeError(f"invalid interpolation format for {text!r}")
    return "".join(out), i


def _braced(text: str, i: int, env: Mapping[str, str]) -> tuple[str, int]:
    """One ``${...}`` starting after its ``${``; returns its value and the index past
    its ``}``."""
    m = _NAME.match(text, i)
    if not m:
        raise ComposeError(f"invalid interpolation format for {text!r}")
    name = m.group(0)
    i = m.end()
    rest = text[i:]
    for op in (":-", ":?", ":+", "-", "?", "+"):
        if rest.startswith(op):
            arg, end = _scan(text, i + len(op), env, stop="}")
            return _apply(name, op, arg, env), end
    if rest.startswith("}"):
        return env.get(name, ""), i + 1
    raise ComposeError(f"invalid interpolation format for {text!r}")


def _apply(name: str, op: str, arg: str, env: Mapping[str, str]) -> str:
    value = env.get(name)
    present = value is not None and (value != "" or not op.startswith(":"))
    if op in (":-", "-"):
        return value if present and value is not None else arg
    if op in (":+", "+"):
        return arg if present else ""
    if not present or value is None:
        raise MissingVariable(f"required variable {name} is missing a value: {arg}")
    return value


def interpolate(data: Any, env: Mapping[str, str], path: str = "") -> Any:
    """``data`` (a loaded YAML document) with every string value substituted; mapping keys
    are left as they are. Errors carry the dotted ``path`` of the value:
    ``error while interpolating services.web.image: required variable ...``."""
    if isinstance(data, str):
        try:
            return substitute(data, env)
        except ComposeError as e:
            raise type(e)(f"error while interpolating {path or '.'}: {e}") from None
    if isinstance(data, dict):
        return {k: interpolate(v, env, f"{path}.{k}" if path else str(k)) for k, v in data.items()}
    if isinstance(data, list):
        return [interpolate(v, env, f"{path}.[]") for v in data]
    return data


def read_env_file(path: str, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of a dotenv file (``KEY=VALUE`` lines, ``export`` prefixes, ``#``
    comments, single quotes literal, double quotes with ``\\n``-style escapes, unquoted
    and double-quoted values interpolated from ``env`` and earlier lines; a bare ``KEY``
    takes ``env``'s value). Raises ComposeError naming the file and line, OSError."""
    env = dict(env or {})
    result: dict[str, str] = {}
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[7:].lstrip()
        key, eq, value = line.partition("=")
        key = key.strip()
        if not _NAME.fullmatch(key):
            raise ComposeError(
                f"failed to read {path}: line {number}: unexpected character in variable name {key!r}"
            )
        if not eq:
            if key in env:
                result[key] = env[key]
            continue
        value = value.strip()
        scope = {**env, **result}
        try:
            if value[:1] == "'" and value.endswith("'") and len(value) > 1:
                result[key] = value[1:-1]
            elif value[:1] == '"' and value.endswith('"') and len(value) > 1:
                inner = value[1:-1]
                for a, b in (("\\n", "\n"), ("\\t", "\t"), ('\\"', '"'), ("\\\\", "\\")):
                    inner = inner.replace(a, b)
                result[key] = substitute(inner, scope)
            else:
                value = re.sub(r"\s+#.*$", "", value)
                result[key] = substitute(value, scope)
        except ComposeError as e:
            raise ComposeError(f"failed to read {path}: line {number}: {e}") from None
    return result
