"""Typed Dockerfile instructions, stages, ARG scoping and per-instruction expansion.

Spec: the Dockerfile reference (each instruction's section, "Environment replacement",
"Understand how ARG and FROM interact", "Predefined ARGs"); validation and messages copied
from BuildKit's ``frontend/dockerfile/instructions`` (flag parsing as its ``BFlags``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from dockyard.build.parser import DockerfileError, Heredoc, Node, parse, parse_heredoc
from dockyard.build.shell import ExpansionError, Lexer, go_quote
from dockyard.record import dataclass, field, replace

#: ARGs every build accepts without declaring them (the reference's "Predefined ARGs").
PROXY_ARGS = (
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
)

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": 1e-9,
    "us": 1e-6,
    "µs": 1e-6,
    "μs": 1e-6,
    "ms": 1e-3,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
}


TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from typing import TypedDict

    class _Common(TypedDict):
        name: str
        original: str
        start_line: int
        end_line: int
        filename: str

    class _CommandFields(TypedDict):
        command: list[str] | None
        prepend_shell: bool
        heredocs: list[Heredoc]


class _Invalid(Exception):
    """Internal: a validation failure before it is given its file and line."""


@dataclass(kw_only=True, repr=False, eq=False)
class Instruction:
    """Common fields: ``name`` (upper case), ``original`` source line, 1-based lines,
    ``filename`` for messages."""

    name: str
    original: str = ""
    start_line: int = 0
    end_line: int = 0
    filename: str = "Dockerfile"


@dataclass(kw_only=True, repr=False, eq=False)
class From(Instruction):
    """``FROM [--platform=p] base [AS name]``; ``stage_name`` lower-cased or ""."""

    base: str
    stage_name: str = ""
    platform: str = ""


@dataclass(kw_only=True, repr=False, eq=False)
class ShellDependent(Instruction):
    """RUN/CMD/ENTRYPOINT body: ``command`` words; ``prepend_shell`` for the shell form
    (then ``command`` is one string for the SHELL); ``heredocs`` attached to the line."""

    command: list[str] | None = None
    prepend_shell: bool = True
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass(kw_only=True, repr=False, eq=False)
class Run(ShellDependent):
    """``RUN [--mount=...] [--network=default|none|host] [--security=...] cmd``."""

    mounts: list[str] = field(default_factory=list)
    network: str = ""
    security: str = ""

    def script(self) -> list[str]:
        """The command line with heredocs applied, as BuildKit's dispatcher forms it.

        A RUN that is only one heredoc runs its body with the shell; otherwise the bodies
        and terminators are appended to the line so the shell reads them as heredocs.
        """
        args = list(self.command or [])
        if not self.heredocs or len(args) != 1 or not self.prepend_shell:
            return args
        if parse_heredoc(args[0]) is not None:
            return [self.heredocs[0].body()]
        full = args[0]
        for doc in self.heredocs:
            full += "\n" + doc.content + doc.name
        return [full]


@dataclass(kw_only=True, repr=False, eq=False)
class Cmd(ShellDependent):
    """``CMD``; ``command`` is [] for ``CMD []``."""


@dataclass(kw_only=True, repr=False, eq=False)
class Entrypoint(ShellDependent):
    """``ENTRYPOINT``; ``command`` is None for ``ENTRYPOINT []`` (clears it)."""


@dataclass(kw_only=True, repr=False, eq=False)
class Env(Instruction):
    """``ENV k=v ...`` or legacy ``ENV k v``; ``pairs`` in order, values unexpanded."""

    pairs: list[tuple[str, str]]


@dataclass(kw_only=True, repr=False, eq=False)
class Label(Instruction):
    """``LABEL k=v ...``; ``pairs`` in order."""

    pairs: list[tuple[str, str]]


@dataclass(kw_only=True, repr=False, eq=False)
class Arg(Instruction):
    """``ARG name[=default] ...``; a value of None means no default."""

    pairs: list[tuple[str, str | None]]


@dataclass(kw_only=True, repr=False, eq=False)
class Expose(Instruction):
    """``EXPOSE port[/proto] ...`` (sorted, as BuildKit stores them)."""

    ports: list[str]


@dataclass(kw_only=True, repr=False, eq=False)
class Workdir(Instruction):
    """``WORKDIR path``."""

    path: str


@dataclass(kw_only=True, repr=False, eq=False)
class User(Instruction):
    """``USER name|uid[:group|gid]``."""

    user: str


@dataclass(kw_only=True, repr=False, eq=False)
class Volume(Instruction):
    """``VOLUME`` with a JSON array or words."""

    volumes: list[str]


@dataclass(kw_only=True, repr=False, eq=False)
class SourceContent:
    """A heredoc used as a COPY/ADD source: file ``path`` (the heredoc name), ``data``
    (chomped if ``<<-``), ``expand`` whether build variables are expanded in it."""

    path: str
    data: str
    expand: bool


@dataclass(kw_only=True, repr=False, eq=False)
class Copy(Instruction):
    """``COPY [--from=] [--chown=] [--chmod=] [--link] src... dest``."""

    sources: list[str]
    dest: str
    contents: list[SourceContent] = field(default_factory=list)
    from_: str = ""
    chown: str = ""
    chmod: str = ""
    link: bool = False


@dataclass(kw_only=True, repr=False, eq=False)
class Add(Instruction):
    """``ADD [--chown=] [--chmod=] [--link] [--checksum=] [--keep-git-dir] src... dest``."""

    sources: list[str]
    dest: str
    contents: list[SourceContent] = field(default_factory=list)
    chown: str = ""
    chmod: str = ""
    link: bool = False
    checksum: str = ""
    keep_git_dir: bool = False


@dataclass(kw_only=True, repr=False, eq=False)
class StopSignal(Instruction):
    """``STOPSIGNAL signal`` (name or number; checked by the builder)."""

    signal: str


@dataclass(kw_only=True, repr=False, eq=False)
class Healthcheck(Instruction):
    """``HEALTHCHECK NONE`` (``test == ["NONE"]``) or ``HEALTHCHECK [opts] CMD ...``
    (``test`` is ``["CMD", ...]`` or ``["CMD-SHELL", cmd]``). Durations in seconds,
    0 meaning unset (the engine default); ``retries`` 0 meaning unset."""

    test: list[str]
    interval: float = 0.0
    timeout: float = 0.0
    start_period: float = 0.0
    start_interval: float = 0.0
    retries: int = 0


@dataclass(kw_only=True, repr=False, eq=False)
class Shell(Instruction):
    """``SHELL ["exe", "args"...]`` (JSON form only)."""

    shell: list[str]


@dataclass(kw_only=True, repr=False, eq=False)
class Onbuild(Instruction):
    """``ONBUILD <instruction>``: ``expression`` is the trigger source (heredocs appended)
    stored in the image, ``trigger`` its parsed form."""

    expression: str
    trigger: Instruction


@dataclass(kw_only=True, repr=False, eq=False)
class Maintainer(Instruction):
    """``MAINTAINER name`` (deprecated; recorded as the image author)."""

    maintainer: str


@dataclass(repr=False, eq=False)
class Stage:
    """One build stage: its FROM and the instructions after it; ``index`` from 0."""

    from_: From
    index: int
    instructions: list[Instruction] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The ``AS`` name, or "" when the stage has none."""
        return self.from_.stage_name


@dataclass(repr=False, eq=False)
class Dockerfile:
    """A parsed Dockerfile: ``stages``, ``args_before_from`` (global ARGs, usable in FROM
    lines only), ``directives`` (``syntax``/``escape``/``check`` -> value), the ``escape``
    token, parser ``warnings`` (BuildKit's text)."""

    stages: list[Stage]
    args_before_from: list[Arg]
    directives: dict[str, str]
    warnings: list[str]
    escape: str = "\\"
    filename: str = "Dockerfile"

    def stage(self, name_or_index: str) -> Stage:
        """The stage named ``name_or_index`` (case-insensitive) or with that index.

        Raises ``KeyError`` when there is none (the builder words the message, e.g.
        ``target stage "x" could not be found``).
        """
        for stage in self.stages:
            if stage.name and stage.name == name_or_index.lower():
                return stage
        if name_or_index.isdecimal() and int(name_or_index) < len(self.stages):
            return self.stages[int(name_or_index)]
        raise KeyError(name_or_index)


class _Flags:
    """BuildKit's BFlags: ``--name=value`` strings, declared before parsing."""

    def __init__(self, words: list[str]) -> None:
        self.words = words
        self.kinds: dict[str, str] = {}
        self.values: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {}

    def add(self, name: str, kind: str = "string") -> None:
        self.kinds[name] = kind

    def parse(self) -> None:
        used: set[str] = set()
        for word in self.words:
            if not word.startswith("--"):
                raise _Invalid(f"arg should start with -- : {word}")
            if word == "--":
                return
            name, has_value, value = word[2:].partition("=")
            kind = self.kinds.get(name)
            if kind is None:
                raise _Invalid(f"unknown flag: {name}")
            if name in used and kind != "strings":
                raise _Invalid(f"duplicate flag specified: {name}")
            used.add(name)
            if kind == "bool":
                if has_value and value == "":
                    raise _Invalid(f"missing a value on flag: {name}")
                if value.lower() not in ("", "true", "false"):
                    raise _Invalid(f"expecting boolean value for flag {name}, not: {value}")
                self.values[name] = "false" if value.lower() == "false" else "true"
            else:
                if not has_value:
                    raise _Invalid(f"missing a value on flag: {name}")
                if kind == "strings":
                    self.lists.setdefault(name, []).append(value)
                else:
                    self.values[name] = value

    def get(self, name: str) -> str:
        return self.values.get(name, "")


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (``1m30s``, ``500ms``, ``0``).

    Raises ``ValueError`` with Go's text: ``time: invalid duration "x"``.
    """
    body = text.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if not match:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not body or pos != len(body):
        raise ValueError(f'time: invalid duration "{text}"')
    return -total if text.startswith("-") else total


def _health_duration(flags: _Flags, name: str) -> float:
    value = flags.get(name)
    if not value:
        return 0.0
    try:
        seconds = parse_duration(value)
    except ValueError as err:
        raise _Invalid(str(err)) from None
    if seconds != 0 and seconds < 0.001:
        raise _Invalid(f'Interval "{name}" cannot be less than 1ms')
    return seconds


def _kv_pairs(args: list[str], command: str) -> list[tuple[str, str]]:
    if not args:
        raise _Invalid(f"{command} requires at least one argument")
    pairs = []
    for i in range(0, len(args), 3):
        if not args[i]:
            raise _Invalid(f"{command} names can not be blank")
        pairs.append((args[i], args[i + 1]))
    return pairs


def _sources_and_dest(node: Node, command: str) -> tuple[list[str], str, list[SourceContent]]:
    if len(node.args) < 2:
        raise _Invalid(
            f"{command} requires at least two arguments, but only one was provided. Destination could not be determined"
        )
    *sources, dest = node.args
    if parse_heredoc(dest) is not None:
        raise _Invalid(f"{command} cannot accept a heredoc as a destination")
    docs = {doc.name: doc for doc in node.heredocs}
    paths: list[str] = []
    contents: list[SourceContent] = []
    for src in sources:
        ref = parse_heredoc(src) if not node.json else None
        if ref is None:
            paths.append(src)
            continue
        doc = docs.get(ref.name, Heredoc(name=ref.name))
        body = doc.content
        if ref.chomp:
            body = Heredoc(name=ref.name, chomp=True, content=body).body()
        contents.append(SourceContent(path=ref.name, data=body, expand=ref.expand))
    return paths, dest, contents


def _command(node: Node, empty_as_none: bool) -> _CommandFields:
    args = list(node.args)
    if not node.json:
        # the shell form is one string: BuildKit joins the words with spaces
        args = [" ".join(args)] if args else []
    command: list[str] | None = args
    if empty_as_none and not args:
        command = None
    return {"command": command, "prepend_shell": not node.json, "heredocs": list(node.heredocs)}


def parse_instruction(node: Node, filename: str = "Dockerfile") -> Instruction:
    """Validate one parsed node into its typed instruction.

    Raises :class:`DockerfileError` with BuildKit's message and the node's first line,
    e.g. ``Dockerfile:7: unknown instruction: FOOBAR``.
    """
    try:
        return _parse_instruction(node, filename)
    except _Invalid as err:
        raise DockerfileError(filename, node.start_line, str(err)) from None


def _parse_instruction(node: Node, filename: str) -> Instruction:
    common: _Common = {
        "name": node.cmd.upper(),
        "original": node.original,
        "start_line": node.start_line,
        "end_line": node.end_line,
        "filename": filename,
    }
    flags = _Flags(node.flags)
    args = node.args
    cmd = node.cmd
    if cmd == "from":
        flags.add("platform")
        stage_name = ""
        if len(args) == 3 and args[1].lower() == "as":
            stage_name = args[2].lower()
            if not _STAGE_NAME.match(stage_name):
                raise _Invalid(
                    f'invalid name for build stage: "{args[2]}", name can\'t start with a number or contain symbols'
                )
        elif len(args) != 1:
            raise _Invalid("FROM requires either one or three arguments")
        flags.parse()
        return From(base=args[0], stage_name=stage_name, platform=flags.get("platform"), **common)
    if cmd == "run":
        flags.add("mount", "strings")
        flags.add("network")
        flags.add("security")
        flags.parse()
        network = flags.get("network")
        if network and network not in ("default", "none", "host"):
            raise _Invalid(f"unsupported network mode {go_quote(network)}")
        if flags.get("security") not in ("", "sandbox", "insecure"):
            raise _Invalid(f"unsupported security mode {go_quote(flags.get('security'))}")
        if flags.get("security") == "insecure":
            # BuildKit runs it privileged only with the entitlement (``--allow
            # security.insecure``), which this builder does not grant: refused, not ignored.
            raise _Invalid(
                "granting entitlement security.insecure is not allowed by build daemon "
                "configuration"
            )
        return Run(
            mounts=flags.lists.get("mount", []),
            network=network,
            security=flags.get("security"),
            **_command(node, False),
            **common,
        )
    if cmd in ("cmd", "entrypoint"):
        flags.parse()
        cls = Cmd if cmd == "cmd" else Entrypoint
        return cls(**_command(node, cmd == "entrypoint"), **common)
    if cmd == "env":
        flags.parse()
        return Env(pairs=_kv_pairs(args, "ENV"), **common)
    if cmd == "label":
        flags.parse()
        return Label(pairs=_kv_pairs(args, "LABEL"), **common)
    if cmd == "arg":
        if not args:
            raise _Invalid("ARG requires at least one argument")
        flags.parse()
        pairs: list[tuple[str, str | None]] = []
        for arg in args:
            key, has_value, value = arg.partition("=")
            if has_value and not key:
                raise _Invalid("ARG names can not be blank")
            pairs.append((key, value if has_value else None))
        return Arg(pairs=pairs, **common)
    if cmd == "expose":
        if not args:
            raise _Invalid("EXPOSE requires at least one argument")
        flags.parse()
        return Expose(ports=sorted(args), **common)
    if cmd in ("workdir", "user", "stopsignal", "maintainer"):
        if len(args) != 1:
            raise _Invalid(f"{cmd.upper()} requires exactly one argument")
        flags.parse()
        if cmd == "workdir":
            return Workdir(path=args[0], **common)
        if cmd == "user":
            return User(user=args[0], **common)
        if cmd == "stopsignal":
            return StopSignal(signal=args[0], **common)
        return Maintainer(maintainer=args[0], **common)
    if cmd == "volume":
        if not args:
            raise _Invalid("VOLUME requires at least one argument")
        flags.parse()
        volumes = [v.strip() for v in args]
        if any(not v for v in volumes):
            raise _Invalid("VOLUME specified can not be an empty string")
        return Volume(volumes=volumes, **common)
    if cmd == "copy":
        if len(args) < 2:
            _sources_and_dest(node, "COPY")
        for name in ("chown", "from", "chmod"):
            flags.add(name)
        flags.add("link", "bool")
        flags.parse()
        sources, dest, contents = _sources_and_dest(node, "COPY")
        return Copy(
            sources=sources,
            dest=dest,
            contents=contents,
            from_=flags.get("from"),
            chown=flags.get("chown"),
            chmod=flags.get("chmod"),
            link=flags.get("link") == "true",
            **common,
        )
    if cmd == "add":
        if len(args) < 2:
            _sources_and_dest(node, "ADD")
        for name in ("chown", "chmod", "checksum"):
            flags.add(name)
        flags.add("link", "bool")
        flags.add("keep-git-dir", "bool")
        flags.parse()
        sources, dest, contents = _sources_and_dest(node, "ADD")
        return Add(
            sources=sources,
            dest=dest,
            contents=contents,
            chown=flags.get("chown"),
            chmod=flags.get("chmod"),
            link=flags.get("link") == "true",
            checksum=flags.get("checksum"),
            keep_git_dir=flags.get("keep-git-dir") == "true",
            **common,
        )
    if cmd == "healthcheck":
        return _healthcheck(node, flags, common)
    if cmd == "shell":
        flags.parse()
        if not args:
            raise _Invalid("SHELL requires at least one argument")
        if not node.json:
            raise _Invalid("SHELL requires the arguments to be in JSON form")
        return Shell(shell=list(args), **common)
    if cmd == "onbuild":
        if node.sub is None:
            raise _Invalid("ONBUILD requires at least one argument")
        flags.parse()
        trigger = node.sub.cmd.upper()
        if trigger == "ONBUILD":
            raise _Invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise _Invalid(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original)
        for doc in node.heredocs:
            expression += "\n" + doc.content + doc.name
        return Onbuild(
            expression=expression, trigger=_parse_instruction(node.sub, filename), **common
        )
    raise _Invalid(f"unknown instruction: {node.name}")


def _healthcheck(node: Node, flags: _Flags, common: _Common) -> Healthcheck:
    if not node.args:
        raise _Invalid("HEALTHCHECK requires at least one argument")
    kind = node.args[0].upper()
    rest = node.args[1:]
    if kind == "NONE":
        if rest:
            raise _Invalid("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=["NONE"], **common)
    for name in ("interval", "timeout", "start-period", "start-interval", "retries"):
        flags.add(name)
    flags.parse()
    if kind != "CMD":
        raise _Invalid(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)')
    if not rest or (not node.json and not rest[0]):
        raise _Invalid("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *rest] if node.json else ["CMD-SHELL", " ".join(rest)]
    retries = 0
    if flags.get("retries"):
        text = flags.get("retries")
        if not re.fullmatch(r"[+-]?\d+", text) or not -(2**31) <= int(text) < 2**31:
            raise _Invalid(f'strconv.ParseInt: parsing "{text}": invalid syntax')
        retries = int(text)
        if retries < 0:
            raise _Invalid(f"--retries cannot be negative ({retries})")
    return Healthcheck(
        test=test,
        interval=_health_duration(flags, "interval"),
        timeout=_health_duration(flags, "timeout"),
        start_period=_health_duration(flags, "start-period"),
        start_interval=_health_duration(flags, "start-interval"),
        retries=retries,
        **common,
    )


def parse_dockerfile(text: str, filename: str = "Dockerfile") -> Dockerfile:
    """Parse and validate a whole Dockerfile and split it into stages.

    ARGs before the first FROM are ``args_before_from``; any other instruction before it
    fails (``no build stage in current context``). Raises :class:`DockerfileError`.
    """
    result = parse(text, filename)
    stages: list[Stage] = []
    meta: list[Arg] = []
    for node in result.nodes:
        instr = parse_instruction(node, filename)
        if isinstance(instr, From):
            stages.append(Stage(from_=instr, index=len(stages)))
        elif not stages and isinstance(instr, Arg):
            meta.append(instr)
        elif not stages:
            raise DockerfileError(filename, node.start_line, "no build stage in current context")
        else:
            stages[-1].instructions.append(instr)
    return Dockerfile(stages, meta, result.directives, result.warnings, result.escape, filename)


def _expander(
    instr: Instruction, env: Mapping[str, str], escape: str, used: set[str] | None
) -> Callable[[str], str]:
    lexer = Lexer(escape)

    def expand_one(word: str) -> str:
        try:
            result = lexer.process(word, env)
        except ExpansionError as err:
            raise DockerfileError(instr.filename, instr.start_line, str(err)) from None
        if used is not None:
            used.update(result.matched)
        return result.result

    return expand_one


def expand_instruction(
    instr: Instruction, env: Mapping[str, str], escape: str = "\\", used: set[str] | None = None
) -> Instruction:
    """A copy of ``instr`` with build variables expanded where Docker expands them.

    Expanded: ADD, COPY (sources, dest, --from, --chown, --chmod, heredoc bodies unless the
    delimiter was quoted), ENV, LABEL, ARG (names and values), EXPOSE (re-split into
    words), FROM (base, --platform; pass the global ARGs), STOPSIGNAL, USER, VOLUME,
    WORKDIR, RUN --mount/--network. Not expanded: RUN/CMD/ENTRYPOINT/HEALTHCHECK/SHELL
    bodies (the shell does it), ONBUILD, MAINTAINER. ``env`` maps names to values;
    names looked up and found are added to ``used``. Raises :class:`DockerfileError`
    (``Dockerfile:4: failed to process "${x": syntax error: missing '}'``).
    """
    ex = _expander(instr, env, escape, used)
    if isinstance(instr, From):
        return replace(instr, base=ex(instr.base), platform=ex(instr.platform))
    if isinstance(instr, Env):
        return replace(instr, pairs=[(ex(k), ex(v)) for k, v in instr.pairs])
    if isinstance(instr, Label):
        return replace(instr, pairs=[(ex(k), ex(v)) for k, v in instr.pairs])
    if isinstance(instr, Arg):
        return replace(instr, pairs=[(ex(k), None if v is None else ex(v)) for k, v in instr.pairs])
    if isinstance(instr, Expose):
        ports: list[str] = []
        for port in instr.ports:
            try:
                result = Lexer(escape).process(port, env)
            except ExpansionError as err:
                raise DockerfileError(instr.filename, instr.start_line, str(err)) from None
            if used is not None:
                used.update(result.matched)
            ports.extend(result.words)
        return replace(instr, ports=ports)
    if isinstance(instr, Workdir):
        return replace(instr, path=ex(instr.path))
    if isinstance(instr, User):
        return replace(instr, user=ex(instr.user))
    if isinstance(instr, StopSignal):
        return replace(instr, signal=ex(instr.signal))
    if isinstance(instr, Volume):
        return replace(instr, volumes=[ex(v) for v in instr.volumes])
    if isinstance(instr, (Copy, Add)):
        raw = Lexer("\\", skip_process_quotes=True)
        contents = []
        for content in instr.contents:
            data = content.data
            if content.expand:
                try:
                    result = raw.process(data, env)
                except ExpansionError as err:
                    raise DockerfileError(instr.filename, instr.start_line, str(err)) from None
                if used is not None:
                    used.update(result.matched)
                data = result.result
            contents.append(replace(content, data=data))
        changed = replace(
            instr,
            sources=[ex(s) for s in instr.sources],
            dest=ex(instr.dest),
            chown=ex(instr.chown),
            chmod=ex(instr.chmod),
            contents=contents,
        )
        if isinstance(changed, Copy):
            changed.from_ = ex(changed.from_)
        return changed
    if isinstance(instr, Run):
        return replace(instr, mounts=[ex(m) for m in instr.mounts], network=ex(instr.network))
    return instr


def global_args(
    meta_args: list[Arg], build_args: Mapping[str, str], used: set[str] | None = None
) -> dict[str, str]:
    """The values of the ARGs before the first FROM, for expanding FROM lines.

    Each default is expanded with the global ARGs before it; a ``--build-arg`` overrides
    it. ARGs without a default or build arg are left out (``${X}`` expands to "").
    Declared names are added to ``used`` (they consume their build arg).
    """
    env: dict[str, str] = {}
    for arg in meta_args:
        for key, value in expand_instruction(arg, env).pairs:  # type: ignore[attr-defined]
            if used is not None:
                used.add(key)
            if key in build_args:
                env[key] = build_args[key]
            elif value is not None:
                env[key] = value
    return env


def declare_arg(
    key: str,
    default: str | None,
    build_args: Mapping[str, str],
    globals_: Mapping[str, str],
    declared_globals: set[str] | frozenset[str] = frozenset(),
) -> str | None:
    """The value a stage's ``ARG key[=default]`` (default already expanded) takes.

    A ``--build-arg`` wins; then the default; then, for a bare ``ARG key`` re-declaring a
    global ARG (a name in ``declared_globals``), the global's value. None means the ARG is
    declared without a value (it expands to "" and is not set in RUN's environment).
    """
    if key in build_args:
        return build_args[key]
    if default is not None:
        return default
    if key in declared_globals and key in globals_:
        return globals_[key]
    return None


def unused_build_args_warning(build_args: Mapping[str, str], consumed: set[str]) -> str | None:
    """Docker's warning for ``--build-arg`` names no ARG declared, or None.

    Predefined proxy ARGs never warn, nor ``BUILDKIT_INLINE_CACHE`` (BuildKit's switch
    for the cache records Dockyard's images always carry). Text as the classic builder's:
    ``[Warning] One or more build-args [foo] were not consumed``.
    """
    left = sorted(
        k
        for k in build_args
        if k not in consumed and k not in PROXY_ARGS and k != "BUILDKIT_INLINE_CACHE"
    )
    if not left:
        return None
    return f"[Warning] One or more build-args [{' '.join(left)}] were not consumed"
