"""``dockyard-runtime``: runc's command line for Dockyard's built-in runtime.

``dockyard-runtime [--root DIR] create|start|state|kill|delete|run|list|exec|pause|
resume|ps`` with runc's flags. Like runc, a failing command prints its error on stderr and exits 1; ``run``
exits with the container's status (128+N when killed by signal N).
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any, NoReturn

import click

from dockyard.errors import DockyardError, InvalidArgument


def _runtime(ctx: click.Context) -> Any:
    from dockyard.runtime.linux import LinuxRuntime

    return LinuxRuntime(ctx.obj["root"])


def _fail(err: Exception) -> NoReturn:
    click.echo(f"dockyard-runtime: {err}", err=True)
    sys.exit(1)


def parse_signal(text: str) -> int:
    """A signal number from ``9``, ``KILL`` or ``SIGKILL`` (case-insensitive)."""
    if text.isdigit():
        return int(text)
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError:
        raise InvalidArgument(f"unknown signal {text!r}") from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--root", default=None, help="state directory (default $DOCKYARD_RUNROOT/runtime)")
@click.pass_context
def main(ctx: click.Context, root: str | None) -> None:
    """Dockyard's OCI runtime, with runc's command line."""
    if root is None:
        from dockyard.paths import Paths

        root = Paths.from_env().runtime_state
    ctx.obj = {"root": root}


def _create_opts(f: Any) -> Any:
    f = click.option("--pid-file", default=None, help="write the container's PID here")(f)
    f = click.option(
        "--console-socket",
        default=None,
        help="unix socket that receives the pty master (SCM_RIGHTS)",
    )(f)
    f = click.option("--bundle", "-b", default=".", help="bundle directory")(f)
    return click.argument("container_id")(f)


@main.command()
@_create_opts
@click.pass_context
def create(
    ctx: click.Context,
    container_id: str,
    bundle: str,
    console_socket: str | None,
    pid_file: str | None,
) -> None:
    """Create a container; its process waits for `start`."""
    try:
        _runtime(ctx).create(container_id, bundle, console_socket=console_socket, pid_file=pid_file)
    except DockyardError as e:
        _fail(e)


@main.command()
@click.argument("container_id")
@click.pass_context
def start(ctx: click.Context, container_id: str) -> None:
    """Start a created container."""
    try:
        _runtime(ctx).start(container_id)
    except DockyardError as e:
        _fail(e)


@main.command()
@click.argument("container_id")
@click.pass_context
def state(ctx: click.Context, container_id: str) -> None:
    """Print a container's OCI state as JSON."""
    try:
        click.echo(json.dumps(_runtime(ctx).state(container_id), indent=2))
    except DockyardError as e:
        _fail(e)


@main.command()
@click.option("--all", "-a", "all_", is_flag=True, help="signal every process in the cgroup")
@click.argument("container_id")
@click.argument("sig", default="SIGTERM")
@click.pass_context
def kill(ctx: click.Context, all_: bool, container_id: str, sig: str) -> None:
    """Send a signal (default SIGTERM) to the container's init."""
    try:
        _runtime(ctx).kill(container_id, parse_signal(sig), all=all_)
    except DockyardError as e:
        _fail(e)


@main.command()
@click.option("--force", "-f", is_flag=True, help="kill the container if it is running")
@click.argument("container_id")
@click.pass_context
def delete(ctx: click.Context, force: bool, container_id: str) -> None:
    """Delete a stopped container (or a running one with --force)."""
    try:
        _runtime(ctx).delete(container_id, force=force)
    except DockyardError as e:
        _fail(e)


@main.command()
@_create_opts
@click.pass_context
def run(
    ctx: click.Context,
    container_id: str,
    bundle: str,
    console_socket: str | None,
    pid_file: str | None,
) -> None:
    """Create, start and wait for a container; exit with its status, then delete it."""
    rt = _runtime(ctx)
    try:
        rt.create(container_id, bundle, console_socket=console_socket, pid_file=pid_file)
    except DockyardError as e:
        _fail(e)
    pid = rt.state(container_id)["pid"]
    # Forward the usual termination signals to the container's init while waiting.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    try:
        rt.start(container_id)
        _, status = os.waitpid(pid, 0)
        code = os.waitstatus_to_exitcode(status)
    except DockyardError as e:
        rt.delete(container_id, force=True)
        _fail(e)
    rt.delete(container_id, force=True)
    sys.exit(128 - code if code < 0 else code)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--process", "-p", "process_file", default=None, help="path to process.json")
@click.option("--tty", "-t", is_flag=True, help="allocate a pseudo-TTY")
@click.option("--console-socket", default=None, help="unix socket that receives the pty master")
@click.option("--detach", "-d", is_flag=True, help="do not wait for the process")
@click.option("--pid-file", default=None, help="write the process's PID here")
@click.option("--cwd", default=None, help="working directory in the container")
@click.option("--env", "-e", multiple=True, help="set an environment variable (KEY=VAL)")
@click.argument("container_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def exec(
    ctx: click.Context,
    process_file: str | None,
    tty: bool,
    console_socket: str | None,
    detach: bool,
    pid_file: str | None,
    cwd: str | None,
    env: tuple[str, ...],
    container_id: str,
    command: tuple[str, ...],
) -> None:
    """Run a process in a running container (runc exec); exits with its status."""
    rt = _runtime(ctx)
    try:
        if process_file is not None:
            with open(process_file) as f:
                process: dict[str, Any] = json.load(f)
        else:
            if not command:
                raise InvalidArgument("exec needs a command or --process")
            # runc's default: the container's own process settings with this command.
            bundle = rt.state(container_id)["bundle"]
            with open(os.path.join(bundle, "config.json")) as f:
                process = json.load(f)["process"]
            process["args"] = list(command)
            process["terminal"] = tty
            process.pop("consoleSize", None)
        if cwd is not None:
            process["cwd"] = cwd
        if env:
            process["env"] = list(process.get("env") or []) + list(env)
        pid = rt.exec(container_id, process, console_socket=console_socket, pid_file=pid_file)
    except (DockyardError, OSError, ValueError) as e:
        _fail(e)
    if detach:
        return
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda s, _f: os.kill(pid, s))
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    sys.exit(128 - code if code < 0 else code)


@main.command()
@click.argument("container_id")
@click.pass_context
def pause(ctx: click.Context, container_id: str) -> None:
    """Freeze every process of a running container."""
    try:
        _runtime(ctx).pause(container_id)
    except DockyardError as e:
        _fail(e)


@main.command()
@click.argument("container_id")
@click.pass_context
def resume(ctx: click.Context, container_id: str) -> None:
    """Thaw a paused container."""
    try:
        _runtime(ctx).resume(container_id)
    except DockyardError as e:
        _fail(e)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.argument("container_id")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def ps(ctx: click.Context, fmt: str, container_id: str, ps_args: tuple[str, ...]) -> None:
    """List the container's processes: JSON pids, or `ps` (default -ef) filtered to them."""
    try:
        pids = _runtime(ctx).ps(container_id)
    except DockyardError as e:
        _fail(e)
    if fmt == "json":
        click.echo(json.dumps(pids))
        return
    from dockyard.runtime.ps import ps_lines

    try:
        header, lines = ps_lines(pids, list(ps_args) or ["-ef"])
    except DockyardError as e:
        _fail(e)
    for line in [header, *lines]:
        click.echo(line)


@main.command("list")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.option("--quiet", "-q", is_flag=True, help="print only the ids")
@click.pass_context
def list_(ctx: click.Context, fmt: str, quiet: bool) -> None:
    """List containers (runc's table or JSON)."""
    items = _runtime(ctx).list()
    if quiet:
        for s in items:
            click.echo(s["id"])
    elif fmt == "json":
        click.echo(json.dumps(items))
    else:
        rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        rows += [
            (s["id"], str(s["pid"]), s["status"], s["bundle"], s["created"], "root") for s in items
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            click.echo("   ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
