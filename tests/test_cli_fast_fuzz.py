"""A differential fuzzer of the click-free fast paths (cli/fastlist.py, fastrun.py,
fastbuild.py, fastpull.py, fastcompose.py): for several hundred odd command lines
(``--flag=value`` and ``--flag value``, short clusters, ``-X=value``, ``--``, options
after the image, repeated and empty values, unicode, help, unknown flags and prefixes of
long ones, pflag's ``--flag=false``, global options, aliases, environment defaults),
each fast path's parse must either leave the command line to click (None) or give
exactly what click's own parse of it gives the command; it may never raise. A smaller
set runs end to end on both paths as subprocesses (exit status, stdout, stderr, and
what a closed pipe, SIGTERM and SIGINT make of them)."""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from conftest import Runner
from dockyard.cli import fastbuild, fastcompose, fastlist, fastpull, fastrun
from dockyard.cli.main import cli

ERROR = "error"


def _click_parse(args: list[str]) -> list[tuple[str, dict[str, Any]]] | str:
    """Click's parse of ``args`` (after ``dockyard``) as cli/main.py's group does it
    (pflag's forms rewritten, ``-h`` made help): (command name, parameters) of the root
    and every subcommand down to the leaf, or ERROR for help, a usage error or an
    unknown command."""
    levels: list[tuple[str, dict[str, Any]]] = []
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            command: click.Command = cli
            ctx = command.make_context("dockyard", list(args))
            levels.append(("dockyard", dict(ctx.params)))
            while isinstance(command, click.Group):
                rest = [*ctx._protected_args, *ctx.args]
                if not rest:
                    return ERROR
                name, sub, rest = command.resolve_command(ctx, rest)
                assert name is not None and sub is not None
                command = sub
                ctx = command.make_context(name, rest, parent=ctx)
                levels.append((name, dict(ctx.params)))
    except (click.exceptions.ClickException, click.exceptions.Exit, SystemExit):
        return ERROR
    return levels


# The command words and positional arguments each fast path's commands take, and the
# odd option forms to try on them (each a list of words).
RUN_FORMS = [
    ["--rm"],
    ["--rm=false"],
    ["--rm=true"],
    ["--rm=1"],
    ["-d=true"],
    ["-d=false"],
    ["--detach=true"],
    ["--detach"],
    ["-d"],
    ["-itd"],
    ["-dit"],
    ["-it=false"],
    ["-e", "A=1"],
    ["-e=A=1"],
    ["-eA=1"],
    ["--env=A=1"],
    ["--env", "A"],
    ["--env", "--x"],
    ["-e", "-"],
    ["--name="],
    ["--name", ""],
    ["--name", "ünï"],
    ["--name", "a", "--name", "b"],
    ["--nam", "x"],
    ["--na=x"],
    ["-h", "host"],
    ["-h"],
    ["--help"],
    ["-w=/tmp"],
    ["-w/tmp"],
    ["-p", "80"],
    ["-dp", "80"],
    ["-pd", "80"],
    ["-p80"],
    ["--pids-limit", "-1"],
    ["--pids-limit=-1"],
    ["--stop-timeout", "٣"],
    ["--stop-timeout", "²"],
    ["--stop-timeout", "+3"],
    ["--stop-timeout", "03"],
    ["--cpu-shares", "1_0"],
    ["--blkio-weight", "65536"],
    ["--blkio-weight=0"],
    ["--no-sig-proxy"],
    ["--sig-proxy=false"],
    ["--no-rm"],
    ["--platform", "linux/amd64"],
    ["--platform="],
    ["--pull", "never"],
    ["--pull=bogus"],
    ["--bogus"],
    ["-Z"],
    ["--"],
    ["-"],
    ["--entrypoint", ""],
    ["--memory", "-"],
    ["-l", "a=b", "--label=c"],
    ["--log-level", "debug"],
    ["---rm"],
    ["--=x"],
    ["-é"],
    ["--ñame", "x"],
    [""],
    ["-i", "-t", "-d"],
    ["--tty=0"],
    ["-t=F"],
    ["--init=yes"],
]
START_FORMS = [
    ["-a"],
    ["-ai"],
    ["-ia"],
    ["-a=true"],
    ["--attach=false"],
    ["-i"],
    ["--interactive"],
    ["--detach-keys", "ctrl-x"],
    ["--detach-keys="],
    ["--detach-keys", "-x"],
    ["--checkpoint=c"],
    ["--checkpoint", "c", "--checkpoint-dir", "d"],
    ["--check", "c"],
    ["-h"],
    ["--help"],
    ["--"],
    ["-"],
    ["-x"],
]
RM_FORMS = [
    ["-f"],
    ["-fv"],
    ["-vfl"],
    ["-f=true"],
    ["--force=false"],
    ["--force"],
    ["--volumes"],
    ["--link"],
    ["--forc"],
    ["-h"],
    ["--help"],
    ["--"],
    ["-"],
    ["-x"],
]
LIST_FORMS = [
    ["-a"],
    ["-aq"],
    ["-qa"],
    ["--all=true"],
    ["-a=true"],
    ["-f", "name=a"],
    ["-f=name=a"],
    ["-fname=a"],
    ["--filter", "label=x", "--filter=name=y"],
    ["--filter="],
    ["--filter", ""],
    ["--filter", "-q"],
    ["--format", "{{.ID}}"],
    ["--format="],
    ["--format", "a", "--format", "b"],
    ["-n", "1"],
    ["-n", "-1"],
    ["-n=1"],
    ["-n1"],
    ["--last", "٣"],
    ["--last", "²"],
    ["--last=+1"],
    ["-l"],
    ["--no-trunc"],
    ["-s"],
    ["--digests"],
    ["--tree"],
    ["--cluster"],
    ["-q"],
    ["--quiet=false"],
    ["--qui"],
    ["---all"],
    ["-é"],
    ["-aé"],
    ["-n", "1e3"],
    ["-n", "0x10"],
    ["-n", "1.0"],
    ["-h"],
    ["--help"],
    ["--"],
    ["-"],
    ["busybox"],
    ["ünï"],
    [""],
    ["a", "b"],
]
BUILD_FORMS = [
    ["-t", "a"],
    ["-t=a"],
    ["-ta"],
    ["--tag=a", "--tag", "b"],
    ["-qt", "a"],
    ["-q"],
    ["--quiet=true"],
    ["-f", "Dockerfile"],
    ["-f", "-"],
    ["--file="],
    ["--build-arg", "A=1"],
    ["--build-arg", "-A"],
    ["--target", ""],
    ["--no-cache"],
    ["--no-cache=false"],
    ["--network", "none"],
    ["--network=NONE"],
    ["--network", "bridge"],
    ["--progress", "plain"],
    ["--progress=bogus"],
    ["--platform", "linux/amd64"],
    ["--pull"],
    ["--pull=false"],
    ["--cache-from", "x"],
    ["--iidfile", "/dev/null"],
    ["--secret", "id=a"],
    ["-o", "type=local,dest=x"],
    ["--rm=false"],
    ["--label", "a=b"],
    ["--lab", "a"],
    ["-h"],
    ["--help"],
    ["--"],
    ["-"],
    ["."],
    ["a", "b"],
]
PULL_FORMS = [
    ["-a"],
    ["-aq"],
    ["-qa"],
    ["-q=true"],
    ["--quiet=false"],
    ["--all-tags"],
    ["--platform", "linux/amd64"],
    ["--platform="],
    ["--platform", "-x"],
    ["--platform"],
    ["--disable-content-trust"],
    ["--disable-content-trust=false"],
    ["--no-disable-content-trust"],
    ["--plat", "x"],
    ["-aq=true"],
    ["-é"],
    ["--platform", "ünï/ï"],
    ["-h"],
    ["--help"],
    ["--"],
    ["-"],
    ["busybox"],
    [""],
    ["ünï"],
    ["a", "b"],
]
COMPOSE_GLOBAL_FORMS = [
    [],
    ["-f", "x.yml"],
    ["-f=x.yml"],
    ["-fx.yml"],
    ["--file=x.yml", "--file", "y.yml"],
    ["-f", ""],
    ["-f", "-"],
    ["-p", "proj"],
    ["-p", "a", "-p", "b"],
    ["--project-name=proj"],
    ["--project-name="],
    ["--project-directory", "d"],
    ["--env-file", "e", "--env-file=f"],
    ["--profile", "p", "--profile=q"],
    ["--profile", "ünï"],
    ["--proj", "x"],
    ["--ansi", "never"],
    ["--dry-run"],
    ["-h"],
    ["--help"],
    ["--"],
]
COMPOSE_COMMAND_FORMS = [
    ["up", "-d"],
    ["up", "--detach"],
    ["up", "--detach=true"],
    ["up", "-d=true"],
    ["up", "-d", "-d"],
    ["up", "-d", "svc"],
    ["up", "svc", "-d"],
    ["up", "-d", "a", "b"],
    ["up", "-d", "--", "svc"],
    ["up", "-d", ""],
    ["up", "-d", "ünï"],
    ["up", "-d", "--build"],
    ["up", "-dV"],
    ["up", "-d", "-h"],
    ["up", "-d", "--help"],
    ["up"],
    ["down"],
    ["down", "-v"],
    ["down", "--volumes", "--remove-orphans"],
    ["down", "-v=true"],
    ["down", "--volumes=false"],
    ["down", "-t", "5"],
    ["down", "-t5"],
    ["down", "-t=5"],
    ["down", "--timeout=5"],
    ["down", "--timeout="],
    ["down", "-t", "05"],
    ["down", "-t", "-1"],
    ["down", "-t", "²"],
    ["down", "-t", "٣"],
    ["down", "-t", "1", "-t", "2"],
    ["down", "-t"],
    ["down", "--rmi", "all"],
    ["down", "svc"],
    ["down", "-h"],
    ["down", "--help"],
    ["down", "--"],
    ["ps"],
]
GLOBAL_FORMS = [["--log-level", "debug"], ["-D"], ["--config", "x"], ["-H", "unix:///x"]]
GLOBAL_FORMS += [["--context", "default"], ["--root", "/x"], ["--debug"]]
GLOBAL_FORMS += [["-c", "default"], ["-l", "info"], ["--tls"], ["--tlsverify"]]
GLOBAL_FORMS += [["--tlscacert", "x"], ["--tlscert=x"], ["--tlskey", "x"], ["--config=x"]]


def _commands(
    words: list[list[str]], positional: list[str], forms: list[list[str]]
) -> Iterator[list[str]]:
    """Each command name of ``words`` with each form before and after ``positional``,
    with global options before it, and with seeded random pairs of forms."""
    rng = random.Random(1)
    for w in words:
        yield [*w]
        yield [*w, *positional]
        for form in forms:
            yield [*w, *form, *positional]
            yield [*w, *positional, *form]
        for _ in range(len(forms) // 2):
            a, b = rng.sample(forms, 2)
            yield [*w, *a, *positional, *b]
            yield [*w, *a, *b, *positional]
    for g in GLOBAL_FORMS:
        yield [*g, *words[0], *positional]


def _cases() -> list[list[str]]:
    cases: list[list[str]] = []
    cases += _commands([["run"], ["container", "run"]], ["busybox", "sh"], RUN_FORMS)
    cases += _commands([["create"], ["container", "create"]], ["busybox"], RUN_FORMS[::2])
    cases += _commands([["start"], ["container", "start"]], ["a"], START_FORMS)
    cases += _commands([["rm"], ["container", "rm"], ["container", "remove"]], ["a"], RM_FORMS)
    cases += _commands([["ps"], ["container", "ls"], ["container", "ps"]], [], LIST_FORMS)
    cases += _commands([["images"], ["image", "ls"], ["image", "list"]], [], LIST_FORMS)
    cases += _commands([["volume", "ls"], ["volume", "list"]], [], LIST_FORMS[::2])
    cases += _commands([["build"], ["image", "build"], ["buildx", "build"]], ["."], BUILD_FORMS)
    cases += _commands([["pull"], ["image", "pull"]], ["busybox"], PULL_FORMS)
    for g in COMPOSE_GLOBAL_FORMS:
        for c in COMPOSE_COMMAND_FORMS:
            cases.append(["compose", *g, *c])
    for g in GLOBAL_FORMS:
        cases.append([*g, "compose", "up", "-d"])
    # Unique, in a stable order.
    return [list(c) for c in dict.fromkeys(tuple(c) for c in cases)]


CASES = _cases()


def _leaf_defaults(words: list[str], positional: list[str]) -> dict[str, Any]:
    """Click's parameters of the command ``words`` given only ``positional``."""
    levels = _click_parse([*words, *positional])
    assert levels != ERROR, words
    return dict(levels[-1][1])


def _fast_parses(args: list[str]) -> list[tuple[str, Any]]:
    """(module, what it parsed) for every fast path that takes ``args``; each parse must
    not raise."""
    taken = []
    for name, module in (
        ("fastrun", fastrun),
        ("fastlist", fastlist),
        ("fastbuild", fastbuild),
        ("fastpull", fastpull),
        ("fastcompose", fastcompose),
    ):
        got = module.parse(list(args))
        if got is not None:
            taken.append((name, got))
    return taken


def _as_click(module: str, got: Any) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """``got`` (``module``'s parse) as click's (group's parameters, or None for a
    command outside a group the fast path parses, and the command's parameters)."""
    if module == "fastrun":
        return None, got[1]
    if module == "fastpull":
        return None, got
    if module == "fastlist":
        words, params, positional = got
        leaf = {**_leaf_defaults(list(words), []), **params}
        if words == ("images",):
            leaf["repository"] = positional[0] if positional else None
        return None, leaf
    if module == "fastbuild":
        params, context = got
        return None, {**_leaf_defaults(["build"], ["."]), **params, "context": context}
    # fastcompose: the group's options and the subcommand's parameters.
    command, opts, params = got
    group = {k: tuple(v) if isinstance(v, list) else v for k, v in opts.items()}
    if command == "up":
        services = tuple(params["services"])
        return group, {
            **_leaf_defaults(["compose", "up"], []),
            "detach": True,
            "services": services,
        }
    return group, {**params, "rmi": None}


def _bad_filter(params: dict[str, Any]) -> bool:
    """Whether a listing's ``--filter`` value has no ``=`` (click's callback refuses it;
    fastlist parses it and leaves it to click when the listing refuses it)."""
    values = (*params.get("filters", ()), *params.get("filter_", ()))
    return any("=" not in v for v in values)


def _check(args: list[str]) -> str | None:
    """A description of how the fast paths and click disagree on ``args``, or None."""
    try:
        taken = _fast_parses(args)
    except Exception as e:  # a fast path must never raise: click words the errors
        return f"{args}: a fast path raised {e!r}"
    if len(taken) > 1:
        return f"{args}: taken by {[m for m, _ in taken]}"
    if not taken:
        return None
    module, got = taken[0]
    levels = _click_parse(args)
    if levels == ERROR and module == "fastlist" and _bad_filter(got[1]):
        return None  # the listing refuses it, and click runs it (test_end_to_end)
    if levels == ERROR:
        return f"{args}: {module} parsed {got!r} where click refuses it"
    root = _click_parse(["ps"])
    assert root != ERROR
    if levels[0][1] != root[0][1]:
        return f"{args}: {module} took it with global options {levels[0][1]}"
    group, leaf = _as_click(module, got)
    if group is not None and group != levels[-2][1]:
        return f"{args}: {module} {group} / click {levels[-2][1]}"
    if leaf != levels[-1][1]:
        return f"{args}: {module} {leaf} / click {levels[-1][1]}"
    return None


def test_there_are_a_few_hundred_cases() -> None:
    assert len(CASES) > 1000


def test_fast_paths_parse_as_click_or_leave_it_to_click() -> None:
    problems = [p for args in CASES if (p := _check(args)) is not None]
    assert not problems, "\n".join(problems[:20])


def test_environment_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # Click reads these from the environment: a fast path that takes the command line
    # must give what click gives.
    env = {
        "DOCKER_DEFAULT_PLATFORM": "linux/arm64",
        "COMPOSE_FILE": "c.yml",
        "COMPOSE_PROJECT_NAME": "p",
        "COMPOSE_PROFILES": "x",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    cases = [c for c in CASES if c[:1] in (["run"], ["create"], ["pull"], ["build"], ["compose"])]
    problems = [p for args in cases[::3] if (p := _check(args)) is not None]
    assert not problems, "\n".join(problems[:20])


def test_docker_host_goes_to_click(monkeypatch: pytest.MonkeyPatch) -> None:
    # The remote client is click's (cli/main.py's -H/--host, envvar DOCKER_HOST): every
    # fast path leaves a command line it parses to click, before doing anything.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent")
    modules: list[tuple[Any, list[str]]] = [
        (fastrun, ["run", "busybox"]),
        (fastrun, ["container", "rm", "a"]),
        (fastlist, ["ps"]),
        (fastlist, ["image", "ls"]),
        (fastbuild, ["build", "."]),
        (fastpull, ["image", "pull", "busybox"]),
        (fastcompose, ["compose", "down"]),
    ]
    for module, args in modules:
        assert module.parse(args) is not None, args
        assert module.run(args) is None, args


# One command line through the console script's entry point (the fast paths) or click's
# (cli/main.py's main). With FUZZ_SIGNAL set, the listing sends that signal to its own
# process where it would list (what Ctrl-C or a kill does mid-listing).
RUNNER = """
import os, signal, sys, time
if os.environ.get("FUZZ_SIGNAL"):
    from dockyard.cli import listing
    def interrupted(*args, **kwargs):
        os.kill(os.getpid(), getattr(signal, os.environ["FUZZ_SIGNAL"]))
        time.sleep(10)
    listing.ps_text = listing.images_text = interrupted
side = sys.argv[1]
sys.argv = ["dockyard", *sys.argv[2:]]
if side == "fast":
    from dockyard.cli.entry import main
    sys.exit(main())
if side == "fast-compose":
    from dockyard.cli.entry import compose_main
    sys.exit(compose_main())
if side == "click-compose":
    from dockyard.cli.main import compose_main
    compose_main()
from dockyard.cli.main import main
main(sys.argv[1:])
"""


def _one(env: dict[str, str], side: str, args: list[str], stdout: str) -> list[object]:
    """(exit status, stdout, stderr) of ``args`` on ``side``'s path; ``stdout`` is
    "pipe", "broken" (a pipe whose reader has gone: ``| head`` once head has ended),
    "closed" (``>&-``) or "closed-stderr" (``2>&-``)."""
    out: int = subprocess.PIPE
    command = [sys.executable, "-c", RUNNER, side, *args]
    if stdout == "broken":
        reader, out = os.pipe()
        os.close(reader)
    elif stdout == "closed":
        command = ["sh", "-c", 'exec "$@" >&-', "sh", *command]
    elif stdout == "closed-stderr":
        command = ["sh", "-c", 'exec "$@" 2>&-', "sh", *command]
    try:
        p = subprocess.run(
            command,
            stdout=out,
            stderr=subprocess.PIPE,
            env={**os.environ, **env},
            timeout=60,
        )
    finally:
        if stdout == "broken":
            os.close(out)
    return [p.returncode, p.stdout, p.stderr]


@pytest.mark.timeout(180)
def test_end_to_end(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    cases: list[tuple[list[str], str, str]] = [
        # A closed pipe on stdout: click's main exits 1 (the fast paths exited 125).
        (["ps", "-a"], "broken", ""),
        (["images"], "broken", ""),
        (["image", "ls", "-q"], "broken", ""),
        (["volume", "ls"], "broken", ""),
        (["create", "--network", "none", "busybox"], "broken", ""),
        (["pull", "localhost:1/x"], "broken", ""),
        # Stdout closed: the output lost, no traceback (both paths had one).
        (["ps"], "closed", ""),
        (["pull", "localhost:1/x"], "closed", ""),
        (["rm", "nosuch"], "closed", ""),
        # Values the listing refuses after fastlist parsed them; int() refuses '²'.
        (["ps", "--filter="], "pipe", ""),
        (["images", "--filter", "x"], "pipe", ""),
        (["compose", "-p", "fuzz", "down", "-t", "²"], "pipe", ""),
        # SIGTERM and Ctrl-C mid-listing: 143 and 130, nothing printed, marker removed
        # (the fast path died of SIGTERM and left its marker; click printed a newline).
        (["ps"], "pipe", "SIGTERM"),
        (["images"], "pipe", "SIGINT"),
    ]
    commands = Path(engine_env["DOCKYARD_RUNROOT"], "commands")
    for args, stdout, sig in cases:
        env = {**engine_env, "FUZZ_SIGNAL": sig}
        fast = _one(env, "fast", args, stdout)
        slow = _one(env, "click", args, stdout)
        assert fast == slow, args
        assert os.listdir(commands) == [], args
        if stdout == "broken":
            assert fast[0] == 1, args
        assert b"Traceback" not in bytes(fast[2]), args
        if sig:
            assert fast == [128 + getattr(signal, sig), b"", b""], args
    # The containers the cases made (a create per side).
    for c in dy("ps", "-aq").stdout.split():
        dy("rm", "-f", c, check=True)


def test_default_platform_of_build(
    busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    # docker/cli's build takes DOCKER_DEFAULT_PLATFORM as --platform's default: both paths
    # refuse a platform this host cannot build for (they built for the host's).
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    env = {**engine_env, "DOCKER_DEFAULT_PLATFORM": "plan9/nonesuch"}
    for args in (["build", "-q", str(tmp_path)], ["image", "build", str(tmp_path)]):
        fast = _one(env, "fast", args, "pipe")
        assert fast == _one(env, "click", args, "pipe"), args
        assert fast[0] == 1 and bytes(fast[2]).startswith(b'invalid platform "plan9/nonesuch"')


@pytest.mark.timeout(120)
def test_compose_with_stderr_closed(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    # dockyard-compose's fast path printed its progress to a closed stderr: a traceback
    # nobody saw and exit 1, the containers up.
    file = tmp_path / "compose.yaml"
    file.write_text("services:\n  a:\n    image: busybox\n    network_mode: none\n")
    for side in ("fast-compose", "click-compose"):
        for command in (["up", "-d"], ["down", "-t", "0"]):
            args = ["-f", str(file), "-p", "fuzz", *command]
            assert _one(engine_env, side, args, "closed-stderr") == [0, b"", b""], (side, args)
    assert dy("ps", "-aq").stdout == ""
