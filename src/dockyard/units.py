"""Parsing of Docker's human-friendly values: sizes, ulimits, env files, labels.

These follow the Docker CLI (github.com/docker/go-units and opts/) so flags accept exactly
what users type for ``docker run``.
"""

from __future__ import annotations

import os
import re

from dockyard.errors import InvalidArgument

_BINARY = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}
# Go's strconv.ParseFloat syntax for a decimal (the forms a size's number takes).
_GO_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\Z|[+-]?(inf|infinity|nan)\Z", re.I)


def ram_in_bytes(text: str, flag: str) -> int:
    """Parse a size like ``64m``, ``1.5g``, ``2 GiB`` or ``512`` into bytes (binary units):
    go-units v0.5.0's RAMInBytes, as docker/cli 28 vendors it. Raises InvalidArgument
    with pflag's message naming ``flag`` (as the CLI shows it: ``-m, --memory``) and
    go-units' reason (``invalid size: '...'``, ``invalid suffix: '...'``, or strconv's)."""
    import json

    def bad(why: str) -> InvalidArgument:
        quoted = json.dumps(text, ensure_ascii=False)
        return InvalidArgument(f'invalid argument {quoted} for "{flag}" flag: {why}')

    sep = max(text.rfind(c) for c in "0123456789. ")
    if sep == -1:
        raise bad(f"invalid size: '{text}'")
    number, suffix = (
        (text[:sep], text[sep + 1 :])
        if text[sep] == " "
        else (
            text[: sep + 1],
            text[sep + 1 :],
        )
    )
    if not _GO_FLOAT.match(number):
        raise bad(f"strconv.ParseFloat: parsing {json.dumps(number)}: invalid syntax")
    size = float(number)
    if size in (float("inf"), float("-inf")) and "inf" not in number.lower():
        raise bad(f"strconv.ParseFloat: parsing {json.dumps(number)}: value out of range")
    if size < 0:
        raise bad(f"invalid size: '{text}'")
    if suffix:
        if len(suffix) > 3:
            raise bad(f"invalid suffix: '{suffix}'")
        suffix = suffix.lower()
        if suffix[0] == "b":
            if len(suffix) > 1:
                raise bad(f"invalid suffix: '{suffix}'")
        elif suffix[0] not in _BINARY or (
            (len(suffix) == 2 and suffix[1] != "b") or (len(suffix) == 3 and suffix[1:] != "ib")
        ):
            raise bad(f"invalid suffix: '{suffix}'")
        else:
            size *= _BINARY[suffix[0]]
    if size != size or size >= 2**63:
        # Go's int64 of NaN or of a float past its range is no size (amd64: the minimum).
        raise bad(f"invalid size: '{text}'")
    return int(size)


def memory_swap(text: str) -> int:
    """``--memory-swap``: bytes, or -1 for unlimited swap."""
    if text.strip() == "-1":
        return -1
    return ram_in_bytes(text, "--memory-swap")


ULIMIT_NAMES = {
    "core": "RLIMIT_CORE",
    "cpu": "RLIMIT_CPU",
    "data": "RLIMIT_DATA",
    "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS",
    "memlock": "RLIMIT_MEMLOCK",
    "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE",
    "nofile": "RLIMIT_NOFILE",
    "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS",
    "rtprio": "RLIMIT_RTPRIO",
    "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING",
    "stack": "RLIMIT_STACK",
}


def parse_ulimit(text: str) -> dict[str, int | str]:
    """``--ulimit name=soft[:hard]`` into Docker's HostConfig.Ulimits entry
    ``{"Name": name, "Soft": n, "Hard": n}``. -1 means unlimited. Raises InvalidArgument
    with go-units v0.5.0 ParseUlimit's reasons (strconv's for a number)."""
    import json

    name, sep, values = text.partition("=")
    if not sep:
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit argument: {text}'
        )
    if name not in ULIMIT_NAMES:
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit type: {name}'
        )
    parts = values.split(":")
    if len(parts) > 2:
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: too many limit value arguments - '
            f"{values}, can only have up to two, `soft[:hard]`"
        )
    numbers = []
    for part in reversed(parts):  # go-units parses the hard limit first
        # strconv.ParseInt(part, 10, 64): an optional sign and decimal digits only.
        if not re.fullmatch(r"[+-]?[0-9]+", part):
            why = "invalid syntax"
        elif not -(2**63) <= int(part) < 2**63:
            why = "value out of range"
        else:
            numbers.append(int(part))
            continue
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: strconv.ParseInt: parsing '
            f"{json.dumps(part)}: {why}"
        )
    hard, soft = numbers if len(numbers) == 2 else numbers * 2
    if soft < -1 or hard < -1:  # no such rlimit: -1 is unlimited, the rest is refused
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: invalid ulimit value: {values}'
        )
    if soft > hard and hard != -1:
        raise InvalidArgument(
            f'invalid argument "{text}" for "--ulimit" flag: ulimit soft limit must be less '
            f"than or equal to hard limit: {soft} > {hard}"
        )
    return {"Name": name, "Soft": soft, "Hard": hard}


def parse_env_pairs(items: list[str]) -> list[str]:
    """``-e KEY=VAL`` / ``-e KEY`` (value taken from this process's environment, dropped
    when unset), as the Docker CLI does. Returns ``KEY=VAL`` strings."""
    out = []
    for item in items:
        key, sep, _ = item.partition("=")
        if not key:
            raise InvalidArgument(
                f'invalid argument "{item}" for "-e, --env" flag: invalid environment variable: {item}'
            )
        if sep:
            out.append(item)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def read_env_file(path: str) -> list[str]:
    """Read a ``--env-file``: ``KEY=VAL`` lines, ``KEY`` alone taken from the environment,
    ``#`` comments and blank lines skipped. Raises InvalidArgument naming file and line."""
    return read_kv_file(path, "env", from_environment=True)


def read_kv_file(path: str, kind: str, *, from_environment: bool) -> list[str]:
    """``KEY=VAL`` lines of a ``--env-file`` or ``--label-file`` (``kind``: "env",
    "label"), ``#`` comments and blank lines skipped (docker/cli opts.parseKeyValueFile).
    A ``KEY`` alone takes its value from the environment (and is left out when unset)
    with ``from_environment``, else stays as it is. Raises InvalidArgument naming the
    file (and line)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {e.strerror.lower() if e.strerror else e}") from None
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path}: {kind} file is not valid UTF-8") from None
    out = []
    for number, raw in enumerate(lines, 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key or any(c.isspace() for c in key):
            raise InvalidArgument(f"{path}:{number}: variable '{key}' contains whitespaces")
        if sep or not from_environment:
            out.append(f"{key}={value}" if sep else key)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def merge_env(base: list[str], overrides: list[str]) -> list[str]:
    """Replace or append ``KEY=VAL`` entries of ``overrides`` in ``base``, keeping order
    (Docker's ReplaceOrAppendEnvValues)."""
    result = list(base)
    index = {e.partition("=")[0]: i for i, e in enumerate(result)}
    for entry in overrides:
        key = entry.partition("=")[0]
        if key in index:
            result[index[key]] = entry
        else:
            index[key] = len(result)
            result.append(entry)
    return result


def parse_labels(items: list[str]) -> dict[str, str]:
    """``-l key=value`` / ``-l key`` (empty value) into a dict."""
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(
                f'invalid argument "{item}" for "-l, --label" flag: invalid label: {item}'
            )
        labels[key] = value
    return labels
