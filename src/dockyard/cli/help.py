"""Help and usage text laid out as the Docker CLI's (docker/cli ``cli/cobra.go`` templates,
pflag's ``FlagUsagesWrapped``), for click commands.

``dockyard --help`` lists Common Commands, Management Commands, Commands and Global
Options; a command's ``--help`` its Usage line, description, Aliases and Options, each
flag as ``  -d, --driver string   Driver to manage the Network (default "bridge")``.
Usage lines, aliases, descriptions and flag types of Docker's commands come from
``docker_help.json``, recorded from the docker CLI 28 by tools/record_docker_help.py;
commands and flags only Dockyard has are described from their click definitions.
Imported only to print help or a usage error (never on a command's normal path).
"""

from __future__ import annotations

import enum
import functools
import json
import os
from typing import Any

import click

PROG = "dockyard"


@functools.cache
def recorded() -> dict[str, Any]:
    """The docker CLI's recorded help: command path (``"network create"``) -> ``{"use",
    "short", "aliases", "commands", "flags": [{"name", "short", "type", "usage"}]}``."""
    with open(os.path.join(os.path.dirname(__file__), "docker_help.json")) as f:
        data: dict[str, Any] = json.load(f)
    return data


#: Docker's words that are about the engine itself, said of Dockyard.
_OF_DOCKYARD = (
    ("Manage Docker", "Manage Dockyard"),
    ("Docker objects", "Dockyard objects"),
    ("the Docker version", "the Dockyard version"),
)


def _dockyard(text: str) -> str:
    """Docker's help text, with command lines (``docker ps``) and what it says of the
    engine said of Dockyard."""
    import re

    text = re.sub(r"(^|\n|, )docker\b", rf"\g<1>{PROG}", text)
    for docker, dockyard in _OF_DOCKYARD:
        text = text.replace(docker, dockyard)
    return text


def _key(ctx: click.Context) -> str:
    """``"network create"`` for the context of ``dockyard network create``."""
    return " ".join(ctx.command_path.split()[1:])


def _short(command: click.Command, key: str) -> str:
    """The one-line description a command listing shows."""
    rec = recorded().get(key)
    if rec is not None:
        return _dockyard(str(rec["short"]))
    return command.get_short_help_str(limit=200).removesuffix(".")


def _long(command: click.Command, key: str) -> str:
    """The description a command's own help shows (Docker's Long, else its Short)."""
    rec = recorded().get(key)
    if rec is not None:
        return _dockyard(str(rec["long"] or rec["short"]))
    return (command.help or "").strip().split("\n\n")[0].removesuffix(".")


def use_line(ctx: click.Context) -> str:
    """The command's usage line as cobra's ``UseLine`` prints it
    (``dockyard network create [OPTIONS] NETWORK``)."""
    command = ctx.command
    if isinstance(command, click.Group):
        flags = " [OPTIONS]" if _options(ctx) else ""
        return f"{ctx.command_path}{flags} COMMAND"
    rec = recorded().get(_key(ctx))
    if rec is not None:
        return _dockyard(str(rec["use"])).replace("\n", "\n\t")
    return " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])


def _options(ctx: click.Context) -> list[click.Option]:
    """The command's visible options but the help option."""
    help_option = ctx.command.get_help_option(ctx)
    return [
        p
        for p in ctx.command.get_params(ctx)
        if isinstance(p, click.Option) and not p.hidden and p is not help_option
    ]


def _names(option: click.Option) -> tuple[str, str]:
    """``(short, long)`` names of a click option (``("d", "driver")``; either may be
    empty)."""
    short = next((o[1:] for o in option.opts if len(o) == 2 and o[0] == "-" and o[1] != "-"), "")
    long = next((o[2:] for o in option.opts if o.startswith("--")), "")
    return short, long


def _go_default(ctx: click.Context, option: click.Option) -> str:
    """pflag's `` (default ...)`` suffix for a Dockyard-only option's default."""
    if option.is_flag and not option.default:
        return ""
    default = option.get_default(ctx, call=False)
    # click 8.3+ marks "no default" with an enum sentinel, older versions with None.
    if (
        isinstance(default, enum.Enum)
        or callable(default)
        or default is None
        or default is False
        or default in ("", 0, ())
    ):
        return ""
    if default is True:
        return " (default true)"
    if isinstance(default, str):
        return f" (default {json.dumps(default)})"
    if isinstance(default, (list, tuple)):
        return f" (default [{','.join(str(d) for d in default)}])"
    return f" (default {default})"


def _go_type(option: click.Option) -> str:
    """pflag's value-type word for a Dockyard-only option."""
    if option.is_flag or option.count:
        return ""
    if option.multiple:
        return "list"
    if isinstance(option.type, click.types.IntParamType):
        return "int"
    if isinstance(option.type, click.types.FloatParamType):
        return "float"
    return "string"


def flag_lines(ctx: click.Context, docker_flags: list[dict[str, str]]) -> list[tuple[str, str]]:
    """``(left column, description)`` of each visible option, sorted by long name as
    pflag sorts them; Docker's flags with Docker's type word and description."""
    known = {f["name"]: f for f in docker_flags}
    rows: list[tuple[str, str, str]] = []
    for option in _options(ctx):
        short, long = _names(option)
        if not long:
            continue
        rec = known.get(long)
        if rec is not None:
            kind, usage = rec["type"], rec["usage"]
        else:
            kind = option.metavar if option.metavar else _go_type(option)
            usage = (option.help or "").strip() + _go_default(ctx, option)
        left = f"  -{short}, --{long}" if short else f"      --{long}"
        if kind:
            left += " " + kind
        rows.append((long, left, usage))
    rows.sort()
    return [(left, usage) for _, left, usage in rows]


def flag_usages(rows: list[tuple[str, str]], cols: int) -> str:
    """pflag's ``FlagUsagesWrapped``: descriptions aligned three columns past the widest
    left column, wrapped to ``cols``."""
    if not rows:
        return ""
    maxlen = max(len(left) for left, _ in rows) + 1
    out = []
    for left, usage in rows:
        spacing = " " * (maxlen - len(left))
        out.append(f"{left} {spacing} {wrap(maxlen + 2, cols, usage)}")
    return "\n".join(out) + "\n"


def _wrap_n(i: int, slop: int, s: str) -> tuple[str, str]:
    """pflag's ``wrapN``: ``s`` split at the last blank before ``i`` characters, unless
    all of it fits within ``i + slop``."""
    if i + slop > len(s):
        return s, ""
    w = max(s.rfind(c, 0, i) for c in " \t\n")
    if w <= 0:
        return s, ""
    nl = s.rfind("\n", 0, i)
    if 0 < nl < w:
        return s[:nl], s[nl + 1 :]
    return s[:w], s[w + 1 :]


def wrap(i: int, w: int, s: str) -> str:
    """pflag's ``wrap``: ``s`` wrapped to width ``w``, continuation lines indented by
    ``i`` (the first is indented by the caller)."""
    if w == 0:
        return s.replace("\n", "\n" + " " * i)
    width = w - i
    out = ""
    if width < 24:
        i = 16
        width = w - i
        out += "\n" + " " * i
    if width < 24:
        return s.replace("\n", out)
    slop = 5
    width -= slop
    line, s = _wrap_n(width, slop, s)
    out += line.replace("\n", "\n" + " " * i)
    while s:
        line, s = _wrap_n(width, slop, s)
        out += "\n" + " " * i + line.replace("\n", "\n" + " " * i)
    return out


def _columns() -> int:
    """The terminal's width (of stdin, as docker/cli asks), 80 when not a terminal; pflag
    wraps one column short of it."""
    try:
        width = os.get_terminal_size(0).columns
    except OSError:
        width = 80
    return width - 1


def global_flags() -> list[dict[str, str]]:
    """docker/cli's global options as its help lists them (cli/flags/options.go), with
    their defaults from ``DOCKER_CONFIG`` and ``DOCKER_CERT_PATH``."""
    config = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    certs = os.environ.get("DOCKER_CERT_PATH") or config
    context = (
        "Name of the context to use to connect to the daemon (overrides DOCKER_HOST env "
        'var and default context set with "docker context use")'
    )
    levels = 'Set the logging level ("debug", "info", "warn", "error", "fatal")'
    rows = [
        ("config", "string", f"Location of client config files (default {json.dumps(config)})"),
        ("context", "string", context),
        ("debug", "", "Enable debug mode"),
        ("host", "list", "Daemon socket to connect to"),
        ("log-level", "string", levels + ' (default "info")'),
        ("tls", "", "Use TLS; implied by --tlsverify"),
        ("version", "", "Print version information and quit"),
        ("tlsverify", "", "Use TLS and verify the remote"),
    ]
    for name, file, usage in (
        ("tlscacert", "ca.pem", "Trust certs signed only by this CA"),
        ("tlscert", "cert.pem", "Path to TLS certificate file"),
        ("tlskey", "key.pem", "Path to TLS key file"),
    ):
        default = json.dumps(os.path.join(certs, file))
        rows.append((name, "string", f"{usage} (default {default})"))
    return [{"name": n, "type": t, "usage": u} for n, t, u in rows]


def _listing(entries: list[tuple[str, str]], pad: int) -> list[str]:
    return [f"  {name.ljust(pad)} {short}" for name, short in entries]


def render(ctx: click.Context) -> str:
    """The help of ``ctx``'s command, laid out as docker/cli's usage template (no
    trailing newline: click's echo adds it)."""
    command = ctx.command
    key = _key(ctx)
    rec = recorded().get(key, {})
    sections = [f"Usage:  {use_line(ctx)}", _long(command, key)]
    if rec.get("aliases"):
        sections.append("Aliases:\n  " + _dockyard(rec["aliases"]))
    cols = _columns()
    if ctx.parent is not None:
        flags = flag_usages(flag_lines(ctx, rec.get("flags", [])), cols)
        if flags:
            sections.append("Options:\n" + flags.rstrip())
    if isinstance(command, click.Group):
        sections.extend(_group_sections(ctx))
        if ctx.parent is None:
            flags = flag_usages(flag_lines(ctx, global_flags()), cols)
            sections.append("Global Options:\n" + flags.rstrip())
        sections.append(
            f"Run '{ctx.command_path} COMMAND --help' for more information on a command."
        )
    return "\n\n".join(s for s in sections if s)


def _group_sections(ctx: click.Context) -> list[str]:
    """Common Commands (the root only), Management Commands and Commands of a group."""
    group = ctx.command
    assert isinstance(group, click.Group)
    key = _key(ctx)
    names = sorted(group.list_commands(ctx))
    pad = max([11, *(len(n) for n in names)])
    top: list[tuple[str, str]] = []
    management: list[tuple[str, str]] = []
    leaves: list[tuple[str, str]] = []
    common = recorded()["_top"] if ctx.parent is None else []
    listed = recorded().get(key, {}).get("commands", [])
    seen: set[int] = set()
    # Docker's names first: another name for the same command is an alias, not listed.
    for name in sorted(names, key=lambda n: n not in listed):
        sub_key = f"{key} {name}".strip()
        rec = recorded().get(sub_key)
        if ctx.parent is not None:
            sub = group.get_command(ctx, name)
            if sub is None or sub.hidden or id(sub) in seen:
                continue
            seen.add(id(sub))
        if rec is not None:
            short = _dockyard(str(rec["short"]))
            is_group = bool(rec["commands"])
        else:
            sub = group.get_command(ctx, name)
            if sub is None or sub.hidden:
                continue
            short = _short(sub, sub_key)
            is_group = isinstance(sub, click.Group)
        if name in common:
            top.append((name, short))
        elif is_group:
            management.append((name, short))
        else:
            leaves.append((name, short))
    top.sort(key=lambda entry: common.index(entry[0]))
    management.sort()
    leaves.sort()
    out = []
    if top:
        out.append("Common Commands:\n" + "\n".join(_listing(top, pad)))
    if management:
        out.append("Management Commands:\n" + "\n".join(_listing(management, pad)))
    if leaves:
        out.append("Commands:\n" + "\n".join(_listing(leaves, pad)))
    return out


def usage_error(message: str, ctx: click.Context | None) -> str:
    """A flag error as docker/cli's ``FlagErrorFunc`` words it: the message, the usage
    line and a pointer to ``--help`` (exit 125)."""
    if ctx is None:
        return f"{message}\n\nRun '{PROG} --help' for more information"
    return (
        f"{message}\n\nUsage:  {use_line(ctx)}\n\n"
        f"Run '{ctx.command_path} --help' for more information"
    )


def unknown_command(ctx: click.Context, name: str) -> str:
    """docker/cli's ``unknown command`` error of a group (exit 1)."""
    if ctx.parent is None:
        return f"{PROG}: unknown command: {PROG} {name}\n\nRun '{PROG} --help' for more information"
    return (
        f"{PROG}: unknown command: {ctx.command_path} {name}\n\n"
        f"Usage:  {ctx.command_path}\n\n"
        f"Run '{ctx.command_path} --help' for more information"
    )
