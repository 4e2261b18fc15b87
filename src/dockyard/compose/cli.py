"""``dockyard compose`` (and ``dockyard-compose``): Docker Compose v2's command line over
the Engine facade (docker/compose ``cmd/compose``)."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from typing import Any

import click

from dockyard.compose.context import ProjectContext
from dockyard.compose.errors import ComposeError

_SETTINGS = {"help_option_names": ["-h", "--help"]}


# The global options and the project and runner made from them (click-free: shared with
# cli/fastcompose.py, the fast path of `up -d` and `down`).
_Ctx = ProjectContext


pass_ctx = click.make_pass_decorator(_Ctx)


@click.group(context_settings=_SETTINGS)
@click.option("-f", "--file", multiple=True, help="Compose configuration files.")
@click.option("-p", "--project-name", help="Project name.")
@click.option(
    "--project-directory", help="Alternate working directory (default: the first file's)."
)
@click.option("--env-file", multiple=True, help="Alternate environment files.")
@click.option("--profile", multiple=True, help="Profiles to enable.")
@click.pass_context
def compose(ctx: click.Context, **opts: Any) -> None:
    """Define and run multi-container applications (Docker Compose v2's commands)."""
    ctx.obj = _Ctx(ctx.find_root().obj, **opts)


# -- config, version, ls -------------------------------------------------------------------


@compose.command()
@click.option("--services", is_flag=True, help="Print the service names, one per line.")
@click.option("--volumes", is_flag=True, help="Print the volume names, one per line.")
@click.option("--networks", is_flag=True, help="Print the network names, one per line.")
@click.option("--profiles", is_flag=True, help="Print the profile names, one per line.")
@click.option("--format", "fmt", default="yaml", type=click.Choice(["yaml", "json"]))
@click.option("-q", "--quiet", is_flag=True, help="Only validate the configuration.")
@click.option("-o", "--output", help="Save to this file.")
@pass_ctx
def config(
    c: _Ctx,
    services: bool,
    volumes: bool,
    networks: bool,
    profiles: bool,
    fmt: str,
    quiet: bool,
    output: str | None,
) -> None:
    """Parse, resolve and render the compose file in canonical form."""
    from dockyard.compose.yamlload import dump

    project = c.project()
    if quiet:
        return
    if services:
        text = "".join(f"{s}\n" for s in project.services)
    elif volumes:
        text = "".join(f"{v}\n" for v in project.volumes)
    elif networks:
        text = "".join(f"{n}\n" for n in project.networks)
    elif profiles:
        names = {
            p
            for s in {**project.services, **project.disabled}.values()
            for p in s.get("profiles") or []
        }
        text = "".join(f"{p}\n" for p in sorted(names))
    elif fmt == "json":
        text = json.dumps(project.to_dict(), indent=2) + "\n"
    else:
        text = dump(project.to_dict())
    if output:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


@compose.command()
@click.option("--short", is_flag=True, help="Shows only the version number.")
@click.option("-f", "--format", "fmt", type=click.Choice(["pretty", "json"]), default="pretty")
def version(short: bool, fmt: str) -> None:
    """Show the Compose version information."""
    from dockyard.compose.convert import VERSION

    if short:
        print(VERSION)
    elif fmt == "json":
        print(json.dumps({"version": f"v{VERSION}"}))
    else:
        print(f"Dockyard Compose version v{VERSION}")


@compose.command("ls")
@click.option("-a", "--all", "all_", is_flag=True, help="Show all stopped projects too.")
@click.option("-q", "--quiet", is_flag=True, help="Only display project names.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_obj
def ls(c: _Ctx, all_: bool, quiet: bool, fmt: str) -> None:
    """List running compose projects."""
    from dockyard.compose.loader import Project
    from dockyard.compose.operations import Runner
    from dockyard.engine import Engine

    empty = Project("", "", [], {}, {}, {}, {}, {}, {}, {})
    rows = [r for r in Runner(Engine(c.paths), empty).projects() if all_ or "running" in r[1]]
    if quiet:
        for name, _, _ in rows:
            print(name)
    elif fmt == "json":
        print(json.dumps([{"Name": n, "Status": s, "ConfigFiles": f} for n, s, f in rows]))
    else:
        _table(["NAME", "STATUS", "CONFIG FILES"], [list(r) for r in rows])


# -- up, down, create, start, stop... ------------------------------------------------------


@compose.command()
@click.option("-d", "--detach", is_flag=True, help="Run containers in the background.")
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.option("--force-recreate", is_flag=True, help="Recreate containers even if unchanged.")
@click.option("--no-recreate", is_flag=True, help="Don't recreate existing containers.")
@click.option("--no-start", is_flag=True, help="Don't start the services after creating them.")
@click.option(
    "-V",
    "--renew-anon-volumes",
    is_flag=True,
    help="Recreate anonymous volumes instead of reusing them.",
)
@click.option(
    "--remove-orphans", is_flag=True, help="Remove containers of services not in the file."
)
@click.option("--pull", type=click.Choice(["always", "missing", "never"]), default="missing")
@click.option("--build", "build_", is_flag=True, help="Build images before starting containers.")
@click.option("--no-build", is_flag=True, help="Don't build an image, even if it's missing.")
@click.option("--scale", multiple=True, help="SERVICE=NUM: scale a service.")
@click.option("--wait", is_flag=True, help="Wait for services to be running|healthy (implies -d).")
@click.option("--wait-timeout", type=int, default=0, help="Seconds to wait with --wait.")
@click.option("--abort-on-container-exit", is_flag=True, help="Stop all if any container stops.")
@click.option(
    "--exit-code-from",
    help="Return the exit code of the selected service container (implies --abort-on-container-exit).",
)
@click.option("--no-log-prefix", is_flag=True, help="Don't print a prefix in logs.")
@click.option("--no-color", is_flag=True, help="Produce monochrome output.")
@click.option("-t", "--timeout", type=int, help="Shutdown timeout in seconds.")
@click.argument("services", nargs=-1)
@pass_ctx
def up(
    c: _Ctx,
    detach: bool,
    no_deps: bool,
    force_recreate: bool,
    no_recreate: bool,
    no_start: bool,
    renew_anon_volumes: bool,
    remove_orphans: bool,
    pull: str,
    build_: bool,
    no_build: bool,
    scale: tuple[str, ...],
    wait: bool,
    wait_timeout: int,
    abort_on_container_exit: bool,
    exit_code_from: str | None,
    no_log_prefix: bool,
    no_color: bool,
    timeout: int | None,
    services: tuple[str, ...],
) -> None:
    """Create and start containers."""
    if build_ and no_build:
        raise ComposeError("--build and --no-build are incompatible")
    if force_recreate and no_recreate:
        raise ComposeError("--force-recreate and --no-recreate are incompatible")
    if exit_code_from:
        abort_on_container_exit = True
    if detach and abort_on_container_exit:
        raise ComposeError("--abort-on-container-exit and --detach are incompatible")
    scales = {}
    for s in scale:
        # Compose v2's applyScaleOpts: its messages; a negative count is refused.
        parts = s.split("=")
        if len(parts) != 2:
            raise ComposeError(f'invalid --scale option "{s}". Should be SERVICE=NUM')
        name, n = parts
        if not re.fullmatch(r"[+-]?[0-9]+", n):
            raise ComposeError(f'strconv.Atoi: parsing "{n}": invalid syntax')
        if int(n) < 0:
            raise ComposeError(f'invalid --scale option "{s}": must be greater than or equal to 0')
        scales[name] = int(n)
    runner = c.runner(list(services))
    runner.up(
        list(services),
        no_deps=no_deps,
        force_recreate=force_recreate,
        no_recreate=no_recreate,
        no_start=no_start,
        remove_orphans=remove_orphans,
        pull=pull,
        build=True if build_ else False if no_build else None,
        renew_anon_volumes=renew_anon_volumes,
        timeout=timeout,
        scale=scales,
    )
    if no_start:
        return
    if wait:
        _wait(runner, list(services), wait_timeout)
        return
    if detach:
        return
    if exit_code_from and exit_code_from not in runner.project.services:
        raise ComposeError(f"no such service: {exit_code_from}")
    _attached(
        runner, list(services), abort_on_container_exit, not no_log_prefix, not no_color, timeout
    )
    if exit_code_from:
        # As Compose: the exit code of the service's (first) container.
        found = runner.containers([exit_code_from])
        if found:
            sys.exit(int(runner.engine.container_inspect(found[0]["Id"])["State"]["ExitCode"]))


def _wait(runner: Any, services: list[str], limit: int) -> None:
    """``up --wait``: until every container runs (and is healthy, when it has a
    healthcheck). Raises ComposeError on an exit, unhealthiness or the time limit."""
    deadline = time.monotonic() + limit if limit else None
    for c in runner.containers(runner.selected(services) or None):
        name = runner.name_of(c)
        runner.event("Container", name, "Waiting")
        while True:
            state = runner.engine.container_inspect(c["Id"])["State"]
            health = (state.get("Health") or {}).get("Status")
            if not state.get("Running"):
                raise ComposeError(f"container {name} exited ({state.get('ExitCode')})")
            if health in (None, "healthy"):
                break
            if health == "unhealthy":
                raise ComposeError(f"container {name} is unhealthy")
            if deadline and time.monotonic() > deadline:
                raise ComposeError("timeout waiting for containers to be healthy")
            time.sleep(0.1)
        runner.event("Container", name, "Healthy")


def _attached(
    runner: Any, services: list[str], abort: bool, prefix: bool, color: bool, timeout: int | None
) -> None:
    """``up`` without ``-d``: the containers' output prefixed, until they all stop
    (``--abort-on-container-exit``: until one does); Ctrl-C stops them."""
    import threading

    found = runner.containers(runner.selected(services) or None)
    color = color and sys.stdout.isatty()
    ended = threading.Event()

    def on_end(engine: Any, c: dict[str, Any], label: str) -> None:
        code = engine.container_wait(c["Id"])["StatusCode"]
        print(f"{label} exited with code {code}", flush=True)
        if abort:
            ended.set()

    print("Attaching to " + ", ".join(runner.log_name(c) for c in found), flush=True)
    try:
        runner.logs(
            None,
            follow=True,
            prefix=prefix,
            color=color,
            containers=found,
            on_end=on_end,
            until=ended,
        )
        if abort and ended.is_set():
            print("Aborting on container exit...", flush=True)
            runner.stop(services or None, timeout)
    except KeyboardInterrupt:
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr, flush=True)
        runner.stop(services or None, timeout)


@compose.command()
@click.option("--force-recreate", is_flag=True)
@click.option("--no-recreate", is_flag=True)
@click.option("--remove-orphans", is_flag=True)
@click.option("--pull", type=click.Choice(["always", "missing", "never"]), default="missing")
@click.argument("services", nargs=-1)
@pass_ctx
def create(
    c: _Ctx,
    force_recreate: bool,
    no_recreate: bool,
    remove_orphans: bool,
    pull: str,
    services: tuple[str, ...],
) -> None:
    """Creates containers for a service."""
    c.runner(list(services)).up(
        list(services),
        force_recreate=force_recreate,
        no_recreate=no_recreate,
        remove_orphans=remove_orphans,
        pull=pull,
        no_start=True,
    )


@compose.command()
@click.option("-v", "--volumes", is_flag=True, help="Remove named volumes and anonymous volumes.")
@click.option(
    "--remove-orphans", is_flag=True, help="Remove containers of services not in the file."
)
@click.option("--rmi", type=click.Choice(["local", "all"]), help="Remove images used by services.")
@click.option("-t", "--timeout", type=int, help="Shutdown timeout in seconds.")
@pass_ctx
def down(
    c: _Ctx, volumes: bool, remove_orphans: bool, rmi: str | None, timeout: int | None
) -> None:
    """Stop and remove containers, networks."""
    c.name_only_runner().down(
        volumes=volumes, remove_orphans=remove_orphans, timeout=timeout, rmi=rmi
    )


@compose.command()
@click.option("-t", "--timeout", type=int, help="Shutdown timeout in seconds.")
@click.argument("services", nargs=-1)
@pass_ctx
def stop(c: _Ctx, timeout: int | None, services: tuple[str, ...]) -> None:
    """Stop services."""
    c.runner(list(services)).stop(list(services), timeout)


@compose.command()
@click.argument("services", nargs=-1)
@pass_ctx
def start(c: _Ctx, services: tuple[str, ...]) -> None:
    """Start services."""
    c.runner(list(services)).start(list(services))


@compose.command()
@click.option("-t", "--timeout", type=int, help="Shutdown timeout in seconds.")
@click.argument("services", nargs=-1)
@pass_ctx
def restart(c: _Ctx, timeout: int | None, services: tuple[str, ...]) -> None:
    """Restart service containers."""
    c.runner(list(services)).restart(list(services), timeout)


@compose.command()
@click.option("-s", "--signal", default="SIGKILL", help="SIGNAL to send to the container.")
@click.option("--remove-orphans", is_flag=True)
@click.argument("services", nargs=-1)
@pass_ctx
def kill(c: _Ctx, signal: str, remove_orphans: bool, services: tuple[str, ...]) -> None:
    """Force stop service containers."""
    runner = c.runner(list(services))
    runner.kill(list(services), signal)
    if remove_orphans:
        runner.orphans(True, None)


@compose.command()
@click.argument("services", nargs=-1)
@pass_ctx
def pause(c: _Ctx, services: tuple[str, ...]) -> None:
    """Pause services."""
    c.runner(list(services)).each(list(services), "pause", ("running",))


@compose.command()
@click.argument("services", nargs=-1)
@pass_ctx
def unpause(c: _Ctx, services: tuple[str, ...]) -> None:
    """Unpause services."""
    c.runner(list(services)).each(list(services), "unpause", ("paused",))


@compose.command()
@click.option("-f", "--force", is_flag=True, help="Don't ask to confirm removal.")
@click.option(
    "-s", "--stop", is_flag=True, help="Stop the containers, if required, before removing."
)
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes of the containers.")
@click.argument("services", nargs=-1)
@pass_ctx
def rm(c: _Ctx, force: bool, stop: bool, volumes: bool, services: tuple[str, ...]) -> None:
    """Removes stopped service containers."""
    runner = c.runner(list(services))
    if not force:
        stopped = [
            x
            for x in runner.containers(runner.selected(list(services)), oneoff=None)
            if x["State"] not in ("running", "paused", "restarting")
        ]
        if not stopped and not stop:
            print("No stopped containers", file=sys.stderr)
            return
        if not click.confirm(
            f"Going to remove {', '.join(runner.name_of(x) for x in stopped)}",
            default=False,
            err=True,
        ):
            return
    if runner.rm(list(services), stop, volumes) == 0:
        print("No stopped containers", file=sys.stderr)


@compose.command()
@click.option("--ignore-pull-failures", is_flag=True)
@click.option("-q", "--quiet", is_flag=True, help="Pull without printing progress information.")
@click.argument("services", nargs=-1)
@pass_ctx
def pull(c: _Ctx, ignore_pull_failures: bool, quiet: bool, services: tuple[str, ...]) -> None:
    """Pull service images."""
    runner = c.runner(list(services))
    for s in runner.selected(list(services)):
        try:
            runner.pull([s], "always", quiet)
        except ComposeError as e:
            if not ignore_pull_failures:
                raise
            print(f"WARN[0000] {e}", file=sys.stderr)


@compose.command()
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image.")
@click.option("-q", "--quiet", is_flag=True, help="Don't print anything to stdout.")
@click.argument("services", nargs=-1)
@pass_ctx
def build(c: _Ctx, no_cache: bool, pull: bool, quiet: bool, services: tuple[str, ...]) -> None:
    """Build or rebuild services."""
    runner = c.runner(list(services))
    runner.build(runner.selected(list(services)), no_cache=no_cache, pull=pull, quiet=quiet)


# -- ps, logs, exec, run -------------------------------------------------------------------


def _table(header: list[str], rows: list[list[str]], minwidth: int = 0) -> None:
    """Columns as Compose's tabwriter: each cell but the last padded to the column's
    widest plus 3 spaces (at least ``minwidth``)."""
    widths = [
        max(minwidth, max(len(r[i]) for r in [header, *rows]) + 3) for i in range(len(header))
    ]
    for r in [header, *rows]:
        print("".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=False)) + r[-1])


def _ports(ports: list[dict[str, Any]]) -> str:
    out = []
    for p in sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP", ""))):
        proto = p.get("Type", "tcp")
        if p.get("PublicPort"):
            ip = p.get("IP") or "0.0.0.0"
            ip = f"[{ip}]" if ":" in ip and ip != "::" else ip
            out.append(f"{ip}:{p['PublicPort']}->{p['PrivatePort']}/{proto}")
        else:
            out.append(f"{p['PrivatePort']}/{proto}")
    return ", ".join(dict.fromkeys(out))


@compose.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show all stopped containers.")
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.option("--services", "services_only", is_flag=True, help="Display services.")
@click.option("--status", multiple=True, help="Filter services by status.")
@click.option("--format", "fmt", default="table", help="table or json.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.argument("services", nargs=-1)
@pass_ctx
def ps(
    c: _Ctx,
    all_: bool,
    quiet: bool,
    services_only: bool,
    status: tuple[str, ...],
    fmt: str,
    no_trunc: bool,
    services: tuple[str, ...],
) -> None:
    """List containers."""
    from dockyard.humanize import human_duration

    runner = c.name_only_runner()
    chosen = runner.selected(list(services)) if services else None
    found = runner.containers(chosen, oneoff=None, all=all_ or bool(status))
    if status:
        found = [x for x in found if x["State"] in status]
    if quiet:
        for x in found:
            print(x["Id"] if no_trunc else x["Id"])
        return
    if services_only:
        for s in dict.fromkeys(x["Labels"].get("com.docker.compose.service", "") for x in found):
            print(s)
        return
    now = time.time()
    rows = []
    items = []
    for x in found:
        command = x["Command"]
        if not no_trunc and len(command) > 20:
            command = command[:19] + "…"
        row = {
            "Name": runner.name_of(x),
            "Image": x["Image"],
            "Command": f'"{command}"',
            "Service": x["Labels"].get("com.docker.compose.service", ""),
            "Created": human_duration(now - x["Created"]) + " ago",
            "Status": x["Status"],
            "Ports": _ports(x.get("Ports") or []),
        }
        rows.append(list(row.values()))
        items.append(
            {
                **row,
                "ID": x["Id"],
                "State": x["State"],
                "Project": runner.project.name,
                "Labels": x["Labels"],
                "Command": x["Command"],
            }
        )
    if fmt == "json":
        for item in items:
            print(json.dumps(item))
    elif fmt == "table":
        _table(["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"], rows)
    else:
        raise ComposeError(f"--format {fmt!r} is not supported by Dockyard (table or json)")


@compose.command()
@click.option("-f", "--follow", is_flag=True, help="Follow log output.")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps.")
@click.option("-n", "--tail", default="all", help="Number of lines to show from the end.")
@click.option("--no-log-prefix", is_flag=True, help="Don't print a prefix in logs.")
@click.option("--no-color", is_flag=True, help="Produce monochrome output.")
@click.option("--since", default="", help="Show logs since timestamp or relative (42m).")
@click.option("--until", default="", help="Show logs before timestamp or relative (42m).")
@click.argument("services", nargs=-1)
@pass_ctx
def logs(
    c: _Ctx,
    follow: bool,
    timestamps: bool,
    tail: str,
    no_log_prefix: bool,
    no_color: bool,
    since: str,
    until: str,
    services: tuple[str, ...],
) -> None:
    """View output from containers."""
    from dockyard.timetypes import parse_time_arg

    runner = c.runner(list(services))
    runner.logs(
        list(services),
        follow=follow,
        tail=tail,
        timestamps=timestamps,
        prefix=not no_log_prefix,
        color=not no_color and sys.stdout.isatty(),
        since=parse_time_arg(since, "since") if since else 0,
        until_time=parse_time_arg(until, "until") if until else 0,
    )


@compose.command(
    "exec",
    context_settings={
        "ignore_unknown_options": True,
        "allow_interspersed_args": False,
        **_SETTINGS,
    },
)
@click.option("-d", "--detach", is_flag=True, help="Run the command in the background.")
@click.option("-T", "--no-TTY", "no_tty", is_flag=True, help="Disable pseudo-TTY allocation.")
@click.option("-u", "--user", help="Run the command as this user.")
@click.option("-w", "--workdir", help="Path to workdir directory for this command.")
@click.option("-e", "--env", multiple=True, help="Set environment variables.")
@click.option("--index", type=int, default=1, help="Index of the container.")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the process.")
@click.argument("service")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@pass_ctx
def exec_(
    c: _Ctx,
    detach: bool,
    no_tty: bool,
    user: str | None,
    workdir: str | None,
    env: tuple[str, ...],
    index: int,
    privileged: bool,
    service: str,
    command: tuple[str, ...],
) -> None:
    """Execute a command in a running container."""
    tty = not no_tty and sys.stdin.isatty() and sys.stdout.isatty()
    code = c.runner([service]).exec(
        service,
        list(command),
        index=index,
        detach=detach,
        tty=tty,
        interactive=not detach,
        user=user,
        workdir=workdir,
        env=list(env),
        privileged=privileged,
    )
    sys.exit(code)


@compose.command(
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False, **_SETTINGS}
)
@click.option("-d", "--detach", is_flag=True, help="Run container in background.")
@click.option("--rm", is_flag=True, help="Automatically remove the container when it exits.")
@click.option("--name", help="Assign a name to the container.")
@click.option("--entrypoint", help="Override the entrypoint of the image.")
@click.option("-e", "--env", multiple=True, help="Set environment variables.")
@click.option("-l", "--label", multiple=True, help="Add or override a label.")
@click.option("-u", "--user", help="Run as specified username or uid.")
@click.option("-w", "--workdir", help="Working directory inside the container.")
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.option("--service-ports", is_flag=True, help="Publish the service's ports.")
@click.option("-p", "--publish", multiple=True, help="Publish a container's port(s) to the host.")
@click.option("-T", "--no-TTY", "no_tty", is_flag=True, help="Disable pseudo-TTY allocation.")
@click.option("-i", "--interactive", is_flag=True, default=True, help="Keep STDIN open.")
@click.argument("service")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@pass_ctx
def run(
    c: _Ctx,
    detach: bool,
    rm: bool,
    name: str | None,
    entrypoint: str | None,
    env: tuple[str, ...],
    label: tuple[str, ...],
    user: str | None,
    workdir: str | None,
    no_deps: bool,
    service_ports: bool,
    publish: tuple[str, ...],
    no_tty: bool,
    interactive: bool,
    service: str,
    command: tuple[str, ...],
) -> None:
    """Run a one-off command on a service."""
    import shlex

    from dockyard.compose.loader import parse_port

    runner = c.runner([service])
    environment = {}
    for e in env:
        k, eq, v = e.partition("=")
        if eq:
            environment[k] = v
        elif k in os.environ:
            environment[k] = os.environ[k]
    labels = dict(x.partition("=")[::2] for x in label)
    ports = [p for spec in publish for p in parse_port(spec, "--publish")]
    tty = not no_tty and not detach and sys.stdin.isatty() and sys.stdout.isatty()
    code = runner.run(
        service,
        list(command) or None,
        rm=rm,
        detach=detach,
        no_deps=no_deps,
        name=name,
        entrypoint=shlex.split(entrypoint) if entrypoint is not None else None,
        env=environment,
        user=user,
        workdir=workdir,
        service_ports=service_ports,
        publish=ports,
        tty=tty,
        interactive=interactive and not detach and sys.stdin.isatty(),
        labels=labels,
    )
    sys.exit(code)


@compose.command()
@click.option("--index", type=int, default=1, help="Index of the container.")
@click.option("--protocol", default="tcp", type=click.Choice(["tcp", "udp", "sctp"]))
@click.argument("service")
@click.argument("private_port", type=int)
@pass_ctx
def port(c: _Ctx, index: int, protocol: str, service: str, private_port: int) -> None:
    """Print the public port for a port binding."""
    runner = c.runner([service])
    found = runner.find(service, index)
    ports = runner.engine.container_inspect(found["Id"])["NetworkSettings"].get("Ports") or {}
    bindings = ports.get(f"{private_port}/{protocol}") or []
    if not bindings:
        raise ComposeError(
            f"no port {private_port}/{protocol} for container {runner.name_of(found)}"
        )
    print(f"{bindings[0].get('HostIp') or '0.0.0.0'}:{bindings[0]['HostPort']}")


@compose.command()
@click.option("--json", "as_json", is_flag=True, help="Output events as a stream of json objects")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
@click.argument("services", nargs=-1)
@pass_ctx
def events(c: _Ctx, as_json: bool, since: str, until: str, services: tuple[str, ...]) -> None:
    """Receive real time events from containers."""
    from dockyard.compose.events import print_events

    runner = c.name_only_runner()
    if runner.project.services:
        runner.selected(list(services))
    print_events(runner.engine, runner.project.name, list(services), as_json, since, until)


@compose.command()
@click.argument("services", nargs=-1)
@pass_ctx
def top(c: _Ctx, services: tuple[str, ...]) -> None:
    """Display the running processes."""
    runner = c.runner(list(services))
    for found in runner.containers(runner.selected(list(services))):
        if found["State"] != "running":
            continue
        procs = runner.engine.container_top(found["Id"])
        print(runner.log_name(found))
        _table(list(procs["Titles"]), [list(p) for p in procs["Processes"]])
        print()


# -- images, push, cp, wait, scale, attach, stats --------------------------------------------


def _delegate(command: str, args: list[str]) -> Any:
    """Run ``dockyard COMMAND ARGS`` in this process: Compose v2's ``cp``, ``attach`` and
    ``stats`` are the docker CLI's own commands aimed at a service's containers."""
    root = click.get_current_context().find_root()
    group = root.command
    cmd = group.get_command(root, command) if isinstance(group, click.Group) else None
    if cmd is None:
        raise ComposeError(f"{command}: not available in this command line")
    with cmd.make_context(command, args, parent=root) as sub:
        return cmd.invoke(sub)


@compose.command()
@click.option("-q", "--quiet", is_flag=True, help="Only display IDs.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.argument("services", nargs=-1)
@pass_ctx
def images(c: _Ctx, quiet: bool, fmt: str, services: tuple[str, ...]) -> None:
    """List images used by the created containers."""
    from datetime import datetime

    from dockyard.humanize import human_duration, human_size

    rows = c.name_only_runner().images(list(services))
    if quiet:
        for i in dict.fromkeys(str(r["ID"]).partition(":")[2] or r["ID"] for r in rows):
            print(i)
        return
    if fmt == "json":
        # Compose 2.40's keys: LastTagTime is the image's, else its creation time.
        keys = ("ID", "ContainerName", "Repository", "Tag", "Platform", "Size")
        items = [
            {**{k: r[k] for k in keys}, "LastTagTime": r["LastTagTime"] or r["Created"]}
            for r in rows
        ]
        print(json.dumps(items, separators=(",", ":")))
        return
    now = time.time()
    table = []
    for r in rows:
        created = "N/A"
        if r["Created"]:
            when = datetime.fromisoformat(str(r["Created"]).replace("Z", "+00:00"))
            created = human_duration(now - when.timestamp()) + " ago"
        table.append(
            [
                r["ContainerName"],
                r["Repository"] or "<none>",
                r["Tag"] or "<none>",
                r["Platform"],
                (str(r["ID"]).partition(":")[2] or r["ID"])[:12],
                human_size(r["Size"]),
                created,
            ]
        )
    # Compose's formatter.Print: a tabwriter with cells at least 20 wide, padding 3.
    _table(
        ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"],
        table,
        minwidth=20,
    )


@compose.command()
@click.option("--ignore-push-failures", is_flag=True, help="Push what it can and ignore failures.")
@click.option("-q", "--quiet", is_flag=True, help="Push without printing progress information.")
@click.argument("services", nargs=-1)
@pass_ctx
def push(c: _Ctx, ignore_push_failures: bool, quiet: bool, services: tuple[str, ...]) -> None:
    """Push service images."""
    runner = c.runner(list(services))
    runner.push(runner.selected(list(services)), ignore_push_failures, quiet)


def _split_cp_arg(arg: str) -> tuple[str, str]:
    """``SERVICE:PATH`` or a local path (absolute, ``.``-relative, or without ``:``), as
    docker/compose ``splitCpArg``."""
    if arg.startswith("/"):
        return "", arg
    service, colon, path = arg.partition(":")
    if not colon or service.startswith("."):
        return "", arg
    return service, path


@compose.command("cp")
@click.option("--index", type=int, default=0, help="Index of the container of the service.")
@click.option("--all", "all_", is_flag=True, help="Include containers created by run.")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH.")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information).")
@click.argument("source")
@click.argument("destination")
@pass_ctx
def cp(
    c: _Ctx,
    index: int,
    all_: bool,
    follow_link: bool,
    archive: bool,
    source: str,
    destination: str,
) -> None:
    """Copy files/folders between a service container and the local filesystem."""
    if not source:
        raise ComposeError("source can not be empty")
    if not destination:
        raise ComposeError("destination can not be empty")
    src_service, src_path = _split_cp_arg(source)
    dst_service, dst_path = _split_cp_arg(destination)
    if src_service and dst_service:
        raise ComposeError("copying between services is not supported")
    if not src_service and not dst_service:
        raise ComposeError("unknown copy direction")
    from dockyard.compose.convert import NUMBER_LABEL

    service = src_service or dst_service
    runner = c.name_only_runner()
    found = runner.containers([service], oneoff=None if all_ else False)
    if index:
        found = [x for x in found if x["Labels"].get(NUMBER_LABEL) == str(index)]
        if not found:
            raise ComposeError(f'service "{service}" is not running container #{index}')
    if not found:
        raise ComposeError(f'no container found for service "{service}"')
    if src_service:
        found = found[:1]  # from a service: its first container
    flags = ["-q", *(["-a"] if archive else []), *(["-L"] if follow_link else [])]
    for x in found:
        name = runner.name_of(x)
        if src_service:
            what = f"{name}:{src_path} to {dst_path}"
            args = [f"{name}:{src_path}", dst_path]
        else:
            what = f"{src_path} to {name}:{dst_path}"
            args = [src_path, f"{name}:{dst_path}"]
        runner.event("Container", name, f"Copying {what}")
        _delegate("cp", [*flags, *args])
        runner.event("Container", name, f"Copied {what}")


@compose.command()
@click.option("--down-project", is_flag=True, help="Drops project when the first container stops.")
@click.argument("services", nargs=-1, required=True)
@pass_ctx
def wait(c: _Ctx, down_project: bool, services: tuple[str, ...]) -> None:
    """Block until containers of all (or specified) services stop."""
    import threading

    from dockyard.engine import Engine

    runner = c.name_only_runner()
    if runner.project.config_files:
        runner.selected(list(services))
    found = runner.containers(list(services), oneoff=None)
    if not found:
        raise ComposeError(f'no containers for project "{runner.project.name}"')
    codes: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def one(x: dict[str, Any]) -> None:
        try:
            code = int(Engine(c.paths).container_wait(x["Id"])["StatusCode"])
        except BaseException as e:  # reported by the main thread
            errors.append(e)
            return
        with lock:
            print(f'container "{x["Id"]}" exited with status code {code}', flush=True)
            codes.append(code)

    threads = [threading.Thread(target=one, args=(x,), daemon=True) for x in found]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    if errors:
        raise errors[0]
    if down_project:
        runner.down(remove_orphans=True)
    sys.exit(codes[-1] if codes else 0)


@compose.command()
@click.option("--no-deps", is_flag=True, help="Don't start linked services.")
@click.argument("replicas", nargs=-1, required=True)
@pass_ctx
def scale(c: _Ctx, no_deps: bool, replicas: tuple[str, ...]) -> None:
    """Scale services."""
    counts: dict[str, int] = {}
    for arg in replicas:
        name, eq, value = arg.partition("=")
        if not eq or not name or not value:
            raise ComposeError(f"invalid scale specifier: {arg}")
        try:
            counts[name] = int(value)
        except ValueError:
            raise ComposeError(
                f"invalid scale specifier: can't parse replica value as int: {arg}"
            ) from None
    names = sorted(counts)
    c.runner(names).up(names, no_deps=no_deps, scale=counts)


@compose.command()
@click.option("--detach-keys", help="Override the key sequence for detaching from a container.")
@click.option("--index", type=int, default=1, help="Index of the container of the service.")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN.")
@click.option("--sig-proxy", type=click.BOOL, default=True, help="Proxy all received signals.")
@click.argument("service")
@pass_ctx
def attach(
    c: _Ctx, detach_keys: str | None, index: int, no_stdin: bool, sig_proxy: bool, service: str
) -> None:
    """Attach local standard input, output, and error streams to a service's running
    container."""
    runner = c.runner([service])
    found = runner.find(service, index)
    args = [*(["--detach-keys", detach_keys] if detach_keys else [])]
    args += [*(["--no-stdin"] if no_stdin else []), f"--sig-proxy={str(sig_proxy).lower()}"]
    _delegate("attach", [*args, runner.name_of(found)])


@compose.command()
@click.option("-a", "--all", "all_", is_flag=True, help="Show all containers.")
@click.option("--format", "fmt", default="", help="Format output using a Go template.")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats.")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output.")
@click.argument("service", required=False)
@pass_ctx
def stats(
    c: _Ctx, all_: bool, fmt: str, no_stream: bool, no_trunc: bool, service: str | None
) -> None:
    """Display a live stream of container(s) resource usage statistics."""
    runner = c.name_only_runner()
    found = runner.containers([service] if service else None, oneoff=None, all=all_)
    args = [*(["--format", fmt] if fmt else []), *(["--no-stream"] if no_stream else [])]
    args += ["--no-trunc"] if no_trunc else []
    if not found:
        if no_stream and not fmt:
            print(
                "CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O   "
                "BLOCK I/O   PIDS"
            )
        return
    _delegate("stats", [*args, *(x["Id"][:12] for x in found)])
