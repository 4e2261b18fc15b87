"""``pull`` (and ``image pull``) without click: its flags parsed here, its progress shown
as the docker CLI's ``jsonmessage`` shows it.

A pull's CPU time is mostly start-up (bench/README.md, "Pull benchmark"): click and the
CLI's command modules cost about as much as the pull's own registry round trips, so
:func:`run` parses the plain forms of the click command's flags itself (kept equal to
cli/registry.py's ``pull`` by tests/test_cli_fastpull.py) and pulls through
:class:`dockyard.engine.base.EngineBase`, not the whole facade. Anything else (help, a
global option, ``-H``/``DOCKER_HOST``, an unknown or malformed flag, a value that looks
like a flag, ``--flag=value`` for a flag without a value, ``--``, not exactly one name)
makes :func:`run` return None before anything is done, and click runs the command line,
with Docker's messages and exit codes. :class:`ProgressDisplay` and
:func:`pull_and_show` are the click command's too (and ``run``'s pull display).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any, NoReturn, TextIO

#: Command words of ``pull``.
COMMANDS = (("pull",), ("image", "pull"))
#: Option name -> (the click command's parameter, takes a value).
OPTIONS: dict[str, tuple[str, bool]] = {
    "-a": ("all_tags", False),
    "--all-tags": ("all_tags", False),
    "--platform": ("platform", True),
    "-q": ("quiet", False),
    "--quiet": ("quiet", False),
    "--disable-content-trust": ("disable_content_trust", False),
}


def parse(args: list[str]) -> dict[str, Any] | None:
    """``args`` (the command line after ``dockyard``) as the keyword arguments click gives
    the ``pull`` command (every parameter, given or default), or None when it is not a
    pull in a form parsed here."""
    words = next((w for w in COMMANDS if tuple(args[: len(w)]) == w), None)
    if words is None:
        return None
    params: dict[str, Any] = {
        "all_tags": False,
        "platform": None,
        "quiet": False,
        "disable_content_trust": True,
    }
    names: list[str] = []
    rest = args[len(words) :]
    i = 0
    while i < len(rest):
        arg = rest[i]
        i += 1
        if arg.startswith("--"):
            name, eq, value = arg.partition("=")
            spec = OPTIONS.get(name)
            if spec is None or (eq and not spec[1]):
                return None
            if spec[1] and not eq:
                if i == len(rest):
                    return None
                value, i = rest[i], i + 1
            if spec[1]:
                if value.startswith("-"):
                    return None
                params[spec[0]] = value
            else:
                params[spec[0]] = True
        elif arg.startswith("-") and len(arg) > 1:
            # A cluster of the short flags (-aq), none of which takes a value.
            for letter in arg[1:]:
                spec = OPTIONS.get("-" + letter)
                if spec is None:
                    return None
                params[spec[0]] = True
        else:
            names.append(arg)
    if len(names) != 1 or names[0] == "-":
        return None
    params["name"] = names[0]
    return params


def run(args: list[str]) -> int | None:
    """Pull as the click command does if ``args`` is a pull this module parses (the
    process ends here); None, with nothing done, to have click run it instead."""
    if "DOCKER_HOST" in os.environ or os.environ.get("DOCKER_CONTEXT", "default") != "default":
        return None  # click's: the endpoint, or a context it refuses
    params = parse(args)
    if params is None:
        return None
    import signal

    from dockyard.cli.engine import exit_now, exit_on_error, terminate
    from dockyard.engine import gc, on_first_open
    from dockyard.engine.base import EngineBase
    from dockyard.paths import Paths

    # What cli/main.py's main and click group do before every command.
    signal.signal(signal.SIGTERM, terminate)
    try:
        paths = Paths.from_env()
        gc.register_command(paths)
        on_first_open(gc.recover)
        engine = EngineBase(paths)
        platform = params["platform"] or os.environ.get("DOCKER_DEFAULT_PLATFORM")
        pull_and_show(engine, params["name"], platform, params["quiet"], params["all_tags"])
        exit_now(engine, 0)
    except (KeyboardInterrupt, Exception) as e:
        exit_on_error(e)


def _fail(message: str) -> NoReturn:
    """The client's own refusal: ``message`` on stderr, exit 1 (cli/images.py's fail)."""
    sys.stdout.flush()
    print(message, file=sys.stderr)
    sys.exit(1)


def pull_and_show(
    engine: Any, name: str, platform: str | None, quiet: bool, all_tags: bool = False
) -> None:
    """``docker pull``'s client side through ``engine`` (an engine of this host, or the
    ``-H`` endpoint's facade): ``Using default tag: latest`` for a bare name, the
    progress, then the full reference. Raises ``DockyardError``."""
    from dockyard import reference
    from dockyard.cli.engine import current_host
    from dockyard.engine import distribution

    bare = reference.parse(name, default_tag=False)
    if all_tags and (bare.tag or bare.digest):
        _fail("tag can't be used with --all-tags/-a")  # the docker CLI's own check
    ref = distribution.parse_pull_reference(name, all_tags)
    if not quiet and not all_tags and bare.tag is None and bare.digest is None:
        print(f"Using default tag: {reference.DEFAULT_TAG}", flush=True)
    if current_host():
        # Through -H/DOCKER_HOST: the endpoint pulls (with this host's login).
        messages = engine.image_pull(name, platform, all_tags)
    else:
        messages = distribution.pull(engine, name, platform=platform, all_tags=all_tags)
    drain(messages, quiet)
    print(ref.name if all_tags else str(ref), flush=True)


def drain(messages: Iterable[dict[str, Any]], quiet: bool) -> None:
    """Show ``messages`` on stdout (nothing with ``quiet``); raises ``DockyardError`` for
    an error message."""
    if quiet:
        for m in messages:
            if m.get("error"):
                from dockyard.errors import DockyardError

                raise DockyardError(str(m["error"]))
        return
    ProgressDisplay(sys.stdout).show_all(messages)


class ProgressDisplay:
    """Docker's ``DisplayJSONMessagesStream`` for one stream ``out``: on a terminal one
    line per layer, redrawn in place; otherwise plain lines without the progress bars."""

    def __init__(self, out: TextIO, terminal: bool | None = None) -> None:
        self.out = out
        self.terminal = out.isatty() if terminal is None else terminal
        self.width = 200
        if self.terminal:
            try:
                self.width = os.get_terminal_size(out.fileno()).columns
            except OSError:
                pass
        self._ids: dict[str, int] = {}

    def show(self, jm: dict[str, Any]) -> None:
        """Render one message; raises ``DockyardError`` for an error message."""
        if jm.get("error"):
            from dockyard.errors import DockyardError

            raise DockyardError(str(jm["error"]))
        if "aux" in jm:
            return  # for API clients (push's tag, digest and size)
        ident = jm.get("id") or ""
        has_progress = "progressDetail" in jm
        diff = 0
        if ident and has_progress:
            line = self._ids.get(ident)
            if line is None:
                line = self._ids[ident] = len(self._ids)
                if self.terminal:
                    self.out.write("\n")
            diff = len(self._ids) - line
            if self.terminal and diff:
                self.out.write(f"\x1b[{diff}A")
        else:
            self._ids = {}
        self._display(jm, ident, has_progress)
        if ident and self.terminal and diff:
            self.out.write(f"\x1b[{diff}B")
        self.out.flush()

    def _display(self, jm: dict[str, Any], ident: str, has_progress: bool) -> None:
        from dockyard.distribution.progress import bar

        text = bar(jm.get("progressDetail") or {}, self.width) if has_progress else ""
        endl = ""
        if self.terminal and has_progress:
            self.out.write("\x1b[2K\r")
            endl = "\r"
        elif text:
            return  # no progress bars off a terminal
        if ident:
            self.out.write(f"{ident}: ")
        if has_progress and self.terminal:
            self.out.write(f"{jm.get('status', '')} {text}{endl}")
        else:
            self.out.write(f"{jm.get('status', '')}{endl}\n")

    def show_all(self, messages: Iterable[dict[str, Any]]) -> None:
        """Render every message of ``messages``; raises on an error message."""
        for m in messages:
            self.show(m)
