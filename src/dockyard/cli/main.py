"""The ``dockyard`` command: global options, lazy command loading, Docker's exit codes.

Commands live in sibling modules and are imported only when invoked, so ``dockyard
--version`` and ``dockyard images`` pay only for what they use. Click's usage errors are
reported the way the Docker CLI does (``unknown flag: --x`` / ``See 'dockyard run --help'.``)
with exit code 125.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import os
import sys
from typing import Any, NoReturn

import click

from dockyard import __version__
from dockyard.errors import EXIT_ENGINE

# command name -> "module:attribute" (a click.Command), imported on first use.
COMMANDS: dict[str, str] = {
    "bootstrap": "dockyard.cli.images:bootstrap",
    "build": "dockyard.cli.build:build",
    "builder": "dockyard.cli.prune:builder",
    "history": "dockyard.cli.build:history",
    "image": "dockyard.cli.images:image",
    "images": "dockyard.cli.images:images",
    "import": "dockyard.cli.images:import_",
    "load": "dockyard.cli.archives:load",
    "export": "dockyard.cli.archives:export",
    "diff": "dockyard.cli.archives:diff",
    "events": "dockyard.cli.events:events",
    "commit": "dockyard.cli.archives:commit",
    "compose": "dockyard.compose.cli:compose",
    "cp": "dockyard.cli.cp:cp",
    "save": "dockyard.cli.archives:save",
    "rmi": "dockyard.cli.images:rmi",
    "pull": "dockyard.cli.registry:pull",
    "push": "dockyard.cli.registry:push",
    "login": "dockyard.cli.registry:login",
    "search": "dockyard.cli.registry:search",
    "logout": "dockyard.cli.registry:logout",
    "tag": "dockyard.cli.images:tag",
    "container": "dockyard.cli.containers:container",
    "create": "dockyard.cli.runcommands:create",
    "run": "dockyard.cli.runcommands:run",
    "start": "dockyard.cli.containers:start",
    "attach": "dockyard.cli.attach:attach",
    "rm": "dockyard.cli.containers:rm",
    "ps": "dockyard.cli.containers:ps",
    "inspect": "dockyard.cli.containers:inspect",
    "kill": "dockyard.cli.containers:kill",
    "wait": "dockyard.cli.containers:wait",
    "exec": "dockyard.cli.exec:exec_",
    "top": "dockyard.cli.exec:top",
    "stats": "dockyard.cli.exec:stats",
    "pause": "dockyard.cli.exec:pause",
    "unpause": "dockyard.cli.exec:unpause",
    "logs": "dockyard.cli.logs:logs",
    "system": "dockyard.cli.system:system",
    "stop": "dockyard.cli.containers:stop",
    "restart": "dockyard.cli.containers:restart",
    "rename": "dockyard.cli.containers:rename",
    "update": "dockyard.cli.update:update",
    "port": "dockyard.cli.port:port",
    "volume": "dockyard.cli.volumes:volume",
    "network": "dockyard.cli.networks:network",
    "version": "dockyard.cli.version:version",
    "info": "dockyard.cli.version:info",
}

#: Commands that work against a remote endpoint (``-H``/``DOCKER_HOST``): those that
#: use only facade operations :class:`dockyard.engine.remote.RemoteEngine` has. Others
#: are refused there rather than run on the local engine by mistake.
REMOTE_COMMANDS = frozenset(
    {
        "version",
        "info",
        "ps",
        "inspect",
        "images",
        "logs",
        "create",
        "run",
        "start",
        "stop",
        "restart",
        "kill",
        "wait",
        "rm",
        "rename",
        "update",
        "tag",
        "rmi",
        "network",
        "volume",
        "search",
        "events",
        "exec",
        "attach",
        "pull",
        "push",
        "build",
        "cp",
        "pause",
        "unpause",
        "top",
        "stats",
        "port",
        "history",
        "save",
        "load",
        "export",
        "diff",
        # `container prune` and `image prune` (subcommands named `prune`).
        "prune",
        "builder",
        "commit",
        "login",
        "logout",
        "import",
    }
)


class DockerContext(click.Context):
    """A click context whose help is laid out as the Docker CLI's (``cli/help.py``,
    imported only when help is shown). The newest one is kept in ``latest``: click's
    parser raises some usage errors without their context."""

    latest: click.Context | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        DockerContext.latest = self

    def get_help(self) -> str:
        from dockyard.cli import help

        return help.render(self)


class LazyGroup(click.Group):
    """A click group whose subcommands are imported from ``COMMANDS`` on demand."""

    context_class = DockerContext

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        if args and not args[0].startswith("-") and args[0] not in COMMANDS:
            # Docker's wording and exit status for a mistyped command.
            from dockyard.cli import help

            print(help.unknown_command(ctx, args[0]), file=sys.stderr)
            sys.exit(1)
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            # Exit 130 as docker/cli and the fast paths (cli/engine.py's exit_on_error):
            # click's main would print an empty line on stderr first.
            sys.exit(130)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        command = getattr(importlib.import_module(module), attr)
        assert isinstance(command, click.Command)
        _enable_short_help(command)
        return command


def _enable_short_help(command: click.Command) -> None:
    """Make ``-h`` a help flag of ``command`` and its subcommands, as in Docker, except
    where ``-h`` is a real option (``run -h`` is ``--hostname``); their help is laid
    out as Docker's (DockerContext)."""
    command.context_class = DockerContext
    if not hasattr(command, "_click_parse_args"):
        command._click_parse_args = command.parse_args  # type: ignore[attr-defined]
        command.parse_args = functools.partial(_parse_args, command)  # type: ignore[method-assign]
    if not any("-h" in p.opts for p in command.params):
        # A new dict: modules share one settings dict between their commands.
        command.context_settings = {
            **command.context_settings,
            "help_option_names": ["-h", "--help"],
        }
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _enable_short_help(sub)


#: pflag's spellings of a boolean value (strconv.ParseBool).
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def _parse_args(command: click.Command, ctx: click.Context, args: list[str]) -> list[str]:
    """Parse ``args`` after turning pflag's ``--flag=true|false`` of boolean flags into
    click's ``--flag`` / ``--no-flag`` (its secondary name; a flag that is off by default
    needs none), and pflag's shorthand ``-X=VALUE`` (``-w=/tmp``, ``-d=true``,
    ``-it=false``) into click's ``-X VALUE`` (click read ``=/tmp`` as the value). A
    boolean value strconv.ParseBool refuses is pflag's flag error (exit 125). The
    command's own arguments (after ``--``, or after its first positional one when
    options may not follow it, as ``run IMAGE CMD...``) are left alone."""
    parse: Any = command._click_parse_args  # type: ignore[attr-defined]
    if not any(a.startswith("-") and "=" in a for a in args):
        return list(parse(ctx, args))
    flags: dict[str, click.Option] = {}
    valued: set[str] = set()
    for p in command.params:
        if isinstance(p, click.Option):
            if p.is_flag and not p.count and isinstance(p.type, click.types.BoolParamType):
                flags.update((name, p) for name in p.opts)
            else:
                valued.update(p.opts)

    def boolean(name: str, option: click.Option, value: str) -> list[str]:
        if value in _TRUE:
            return [name]
        if value in _FALSE and option.secondary_opts:
            return [option.secondary_opts[0]]
        if value in _FALSE and not option.get_default(ctx, call=False):
            return []
        if value in _FALSE:
            return [f"{name}={value}"]  # click's own error: no way to turn it off
        short = next((o for o in option.opts if len(o) == 2 and o[1] != "-"), "")
        long = next((o for o in option.opts if o.startswith("--")), name)
        shown = f"{short}, {long}" if short else long
        _usage_error(
            f'invalid argument "{value}" for "{shown}" flag: '
            f'strconv.ParseBool: parsing "{value}": invalid syntax',
            ctx,
        )

    out: list[str] = []
    rest = iter(args)
    for arg in rest:
        if arg == "--" or (not arg.startswith("-") and not ctx.allow_interspersed_args):
            out += [arg, *rest]
            break
        name, eq, value = arg.partition("=")
        if eq and not arg.startswith("--") and len(name) >= 2:
            # Shorthands as pflag's parseSingleShortArg: boolean ones first, then the
            # one '=' gives a value to.
            group = name[1:]
            last = f"-{group[-1]}"
            if all(f"-{c}" in flags for c in group[:-1]) and (last in flags or last in valued):
                out += [f"-{c}" for c in group[:-1]]
                option = flags.get(last)
                out += [last, value] if option is None else boolean(last, option, value)
                continue
        option = flags.get(name) if eq and arg.startswith("--") else None
        if option is not None:
            out += boolean(name, option, value)
            continue
        out.append(arg)
        if arg in valued:
            out += list(itertools.islice(rest, 1))
    return list(parse(ctx, out))


@click.group(
    cls=LazyGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    invoke_without_command=False,
)
@click.version_option(__version__, "-v", "--version", message="Dockyard version %(version)s")
@click.option("--root", envvar="DOCKYARD_ROOT", help="Engine root (default /var/lib/dockyard).")
@click.option("--runroot", envvar="DOCKYARD_RUNROOT", help="Run root (default /run/dockyard).")
@click.option("--config", "config_dir", help="Location of client config files.")
@click.option("--context", "-c", help="Name of the context to use to connect to the daemon.")
@click.option("--debug", "-D", is_flag=True, help="Show tracebacks of engine errors.")
@click.option("--log-level", "-l", help="Set the logging level.")
@click.option(
    "-H",
    "--host",
    envvar="DOCKER_HOST",
    multiple=True,
    help="Engine API endpoint to use instead of the local engine (unix://PATH, tcp://HOST:PORT).",
)
@click.option("--tls/--no-tls", help="Use TLS; implied by --tlsverify.")
@click.option("--tlscacert", help="Trust certs signed only by this CA.")
@click.option("--tlscert", help="Path to TLS certificate file.")
@click.option("--tlskey", help="Path to TLS key file.")
@click.option("--tlsverify/--no-tlsverify", help="Use TLS and verify the remote.")
@click.pass_context
def cli(
    ctx: click.Context,
    root: str | None,
    runroot: str | None,
    config_dir: str | None,
    context: str | None,
    debug: bool,
    log_level: str | None,
    host: tuple[str, ...],
    tls: bool,
    tlscacert: str | None,
    tlscert: str | None,
    tlskey: str | None,
    tlsverify: bool,
) -> None:
    """A Docker-compatible container engine."""
    from dockyard.paths import Paths

    ctx.obj = Paths.from_env(root, runroot)
    if debug:
        os.environ["DOCKYARD_DEBUG"] = "1"
    _check_log_level(log_level)
    # The TLS files' defaults are docker/cli's: the config directory before --config.
    certs = os.environ.get("DOCKER_CERT_PATH") or default_config_dir()
    if config_dir is not None:
        # Everything that reads the client's config.json (credentials, detachKeys,
        # formats) finds the directory as docker/cli's config.Dir: through DOCKER_CONFIG.
        os.environ["DOCKER_CONFIG"] = config_dir
    host_given = ctx.get_parameter_source("host") == click.core.ParameterSource.COMMANDLINE
    _check_context(context, host_given)
    if len(host) > 1:
        _init_error("Specify only one -H")
    endpoint = host[0] if host else None
    command = ctx.invoked_subcommand
    # `system` checks its own subcommands (cli/system.py): `system service` and `system
    # boot` act on this machine's engine whatever DOCKER_HOST says; `container` and
    # `image` theirs (check_remote_subcommand).
    if endpoint:
        if command not in ("system", "container", "image") and command not in REMOTE_COMMANDS:
            print(
                f"dockyard {command}: not available with -H/DOCKER_HOST (a remote engine) yet",
                file=sys.stderr,
            )
            sys.exit(EXIT_ENGINE)
        from dockyard.cli.engine import HOST_KEY, TLS_KEY

        ctx.meta[HOST_KEY] = endpoint
        changed = {
            name
            for name in ("tls", "tlsverify", "tlscert", "tlskey")
            if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE
        }
        ctx.meta[TLS_KEY] = _tls_options(
            tls, tlsverify, (tlscacert, tlscert, tlskey), certs, changed
        )
    if command and not endpoint and "--help" not in sys.argv:
        _recover(ctx.obj, command)


#: logrus.ParseLevel's names (docker/cli's --log-level), lowercased.
_LOG_LEVELS = frozenset({"panic", "fatal", "error", "warn", "warning", "info", "debug", "trace"})


def _check_log_level(level: str | None) -> None:
    """Refuse a ``-l/--log-level`` logrus does not know, as docker/cli's SetLogLevel
    (exit 1). Dockyard's client writes no log lines of its own (its errors and warnings
    are Docker's, printed at every level), so a valid level has nothing more to set.
    An empty level is the default, as docker/cli's ``if opts.LogLevel != ""``."""
    if level and level.lower() not in _LOG_LEVELS:
        print(f"Unable to parse logging level: {level}", file=sys.stderr)
        sys.exit(1)


def _init_error(message: str) -> NoReturn:
    """docker/cli's failure to resolve the endpoint before any command runs (exit 1)."""
    print(f"Failed to initialize: unable to resolve docker endpoint: {message}", file=sys.stderr)
    sys.exit(1)


def default_config_dir() -> str:
    """The client's configuration directory as docker/cli's config.Dir:
    ``$DOCKER_CONFIG`` (which ``--config`` sets), else ``~/.docker``."""
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def _check_context(context: str | None, host_given: bool) -> None:
    """docker/cli's context resolution (cli/command/cli.go resolveContextName): ``-c``
    with ``-H`` conflict; else ``-c``, then (unless ``-H`` or ``DOCKER_HOST`` is set)
    ``DOCKER_CONTEXT``, names the context. Only ``default`` (the local engine, or the
    ``-H``/``DOCKER_HOST`` endpoint) exists here: any other is docker's missing
    context, exit 1."""
    if context and host_given:
        print("conflicting options: cannot specify both --host and --context", file=sys.stderr)
        sys.exit(1)
    if not context and not host_given and not os.environ.get("DOCKER_HOST"):
        context = os.environ.get("DOCKER_CONTEXT")
    if context and context != "default":
        import hashlib

        digest = hashlib.sha256(context.encode()).hexdigest()
        meta = os.path.join(default_config_dir(), "contexts", "meta", digest, "meta.json")
        _init_error(
            f'context "{context}": context not found: open {meta}: no such file or directory'
        )


def _trim_quotes(value: str) -> str:
    """A TLS file flag's value without one pair of enclosing quotes (docker/cli's
    quotedString)."""
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _tls_options(
    tls: bool,
    verify: bool,
    files: tuple[str | None, str | None, str | None],
    certs: str,
    changed: set[str],
) -> Any:
    """The client's TLS as docker/cli's ClientOptions.SetDefaultOptions: on with
    ``--tls``/``DOCKER_TLS``, ``--tlsverify``/``DOCKER_TLS_VERIFY``; the files default to
    ca.pem, cert.pem and key.pem in ``certs`` (``DOCKER_CERT_PATH`` or the config
    directory); ``files`` are the ``--tlscacert``, ``--tlscert``, ``--tlskey``; a
    default client certificate or key that does not exist is left out. A CA or named
    file that does not exist ends the command as docker/cli does (exit 1). None: no
    TLS."""
    # Each flag's default is its environment variable's (--tlsverify=false overrides
    # DOCKER_TLS_VERIFY), and giving --tlsverify at all turns TLS on.
    if "tlsverify" not in changed:
        verify = bool(os.environ.get("DOCKER_TLS_VERIFY"))
    if "tls" not in changed:
        tls = bool(os.environ.get("DOCKER_TLS"))
    if not (tls or verify or "tlsverify" in changed):
        return None
    from dockyard.engine.remote import TLSOptions, check_tls
    from dockyard.errors import InvalidArgument

    cafile, certfile, keyfile = (_trim_quotes(f) if f else None for f in files)
    cafile = cafile or os.path.join(certs, "ca.pem")
    certfile = certfile or os.path.join(certs, "cert.pem")
    keyfile = keyfile or os.path.join(certs, "key.pem")
    if "tlscert" not in changed and not os.path.exists(certfile):
        certfile = None
    if "tlskey" not in changed and not os.path.exists(keyfile):
        keyfile = None
    for path in (cafile if verify else None, certfile, keyfile):
        if path is not None and not os.path.exists(path):
            _init_error(f"open {path}: no such file or directory")
    try:
        return check_tls(TLSOptions(verify, cafile, certfile, keyfile))
    except InvalidArgument as e:
        print(f"Failed to initialize: {e}", file=sys.stderr)
        sys.exit(1)


# pflag's `--tlsverify=false`, `-D=true`, `-H=URI` before the command too.
cli._click_parse_args = cli.parse_args  # type: ignore[attr-defined]
cli.parse_args = functools.partial(_parse_args, cli)  # type: ignore[method-assign]


def check_remote_subcommand(ctx: click.Context) -> None:
    """In the ``container`` and ``image`` groups' callbacks: under -H/DOCKER_HOST, refuse
    a subcommand whose command (``image ls`` is ``images``, ``container ls`` is ``ps``)
    is not in :data:`REMOTE_COMMANDS`, as the top level refuses one (exit 125)."""
    from dockyard.cli.engine import current_host

    sub = ctx.invoked_subcommand
    if not sub or not current_host():
        return
    assert isinstance(ctx.command, click.Group)
    command = ctx.command.get_command(ctx, sub)
    if command is not None and command.name not in REMOTE_COMMANDS:
        print(
            f"dockyard {ctx.info_name} {sub}: not available with -H/DOCKER_HOST "
            "(a remote engine) yet",
            file=sys.stderr,
        )
        sys.exit(EXIT_ENGINE)


def _recover(paths: Any, command: str) -> None:
    """Before a command: mark it in flight, and recover from what killed commands and
    dead monitors left (dockyard.engine.gc; ``system`` commands do their own)."""
    from dockyard.engine import gc, on_first_open

    gc.register_command(paths)
    if command != "system":
        on_first_open(gc.recover)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``dockyard`` console script; exits with Docker's codes.

    Usage errors exit 125 as Docker's flag parser does; an engine error reported by a
    command other than ``run``/``create`` (which print their own) exits 1, as the Docker
    CLI does for an error response.
    """
    import signal

    from dockyard.cli.engine import exit_on_error, reopen_closed_streams, terminate

    reopen_closed_streams()
    # SIGTERM unwinds like SIGINT, so every command's cleanup runs (`run` forwards it).
    signal.signal(signal.SIGTERM, terminate)
    try:
        rv = cli.main(args=argv, prog_name="dockyard", standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as e:
        # A bare group command (`dockyard network`): Docker prints its usage, exit 0.
        print(e.format_message(), file=sys.stderr)
        sys.exit(0)
    except click.exceptions.NoSuchOption as e:
        name = e.option_name
        # pflag's wording for a long and a short flag.
        what = (
            f"unknown flag: {name}"
            if name.startswith("--")
            else (f"unknown shorthand flag: '{name[1:2]}' in {name}")
        )
        _usage_error(what, e.ctx)
    except click.exceptions.UsageError as e:
        _click_usage_error(e)
    except click.exceptions.Abort:
        sys.exit(130)
    except (KeyboardInterrupt, Exception) as e:
        # Docker's messages and exit codes (cli/fastrun.py's commands end the same way).
        exit_on_error(e)
    # With standalone_mode=False click returns an Exit's code instead of raising it.
    sys.exit(rv if isinstance(rv, int) else 0)


def compose_main() -> Any:
    """Entry point of the ``dockyard-compose`` console script: ``dockyard compose``."""
    return main(["compose", *sys.argv[1:]])


def _click_usage_error(e: click.exceptions.UsageError) -> None:
    """Report a usage error click found in docker/cli's words and exit codes: a wrong
    number of arguments and an unknown command exit 1, a flag error 125."""
    import re

    ctx = e.ctx or DockerContext.latest
    if ctx is not None and _is_argument_count_error(e):
        _argument_count_error(ctx)
    unknown = re.fullmatch(r"No such command '(.*)'\.", e.message, re.S)
    if ctx is not None and isinstance(ctx.command, click.Group) and unknown:
        from dockyard.cli import help

        print(help.unknown_command(ctx, unknown.group(1)), file=sys.stderr)
        sys.exit(1)
    needs = re.fullmatch(r"Option '(.*)' requires an argument\.", e.message)
    if needs:
        # pflag's wording.
        name = needs.group(1)
        short = f"'{name[1:]}' in {name}" if not name.startswith("--") else name
        _usage_error(f"flag needs an argument: {short}", ctx)
    _usage_error(e.format_message(), ctx)


def _usage_error(message: str, ctx: click.Context | None) -> NoReturn:
    """docker/cli's flag error: the message, the usage line, a pointer to ``--help``;
    exit 125."""
    from dockyard.cli import help

    print(help.usage_error(message, ctx), file=sys.stderr)
    sys.exit(EXIT_ENGINE)


def _is_argument_count_error(e: click.exceptions.UsageError) -> bool:
    """Whether click refused the number of positional arguments."""
    if isinstance(e, click.exceptions.MissingParameter):
        return isinstance(e.param, click.Argument)
    return type(e) is click.exceptions.UsageError and e.message.startswith(
        "Got unexpected extra argument"
    )


def _argument_count_error(ctx: click.Context) -> None:
    """Report a wrong number of arguments as Docker 28's CLI does (cli/required.go),
    e.g. ``dockyard: 'dockyard network create' requires 1 argument``, the usage line
    and a pointer to ``--help``; exit 1."""
    low = 0
    high: int | None = 0
    for param in ctx.command.params:
        if not isinstance(param, click.Argument):
            continue
        count = max(param.nargs, 1)
        if param.required:
            low += count
        if param.nargs == -1 or high is None:
            high = None
        else:
            high += count
    given = len(ctx.args) + sum(
        1
        for p in ctx.command.params
        if isinstance(p, click.Argument) and ctx.params.get(p.name or "") not in (None, ())
    )
    if low == high:
        need, hint = f"{low}", "Run"
    elif high is None or given < low:
        need, hint = f"at least {low}", "See"
    else:
        need, hint = f"at most {high}", "Run"
    plural = "argument" if need.endswith(" 1") or need == "1" else "arguments"
    from dockyard.cli import help

    usage = help.use_line(ctx)
    print(
        f"dockyard: '{ctx.command_path}' requires {need} {plural}\n\n"
        f"Usage:  {usage}\n\n"
        f"{hint} '{ctx.command_path} --help' for more information",
        file=sys.stderr,
    )
    sys.exit(1)
