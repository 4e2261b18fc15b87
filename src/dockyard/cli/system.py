"""``dockyard system boot`` and ``dockyard system service`` (``df`` and ``prune`` are in
dockyard.cli.prune).

``boot`` is what an init system runs once at boot (see
contrib/dockyard-boot.service) to bring back containers as Docker's daemon does when it
starts: those whose restart policy is ``always``, or ``unless-stopped`` and not stopped by
the user."""

from __future__ import annotations

import contextlib
import os
import signal
import sys

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

#: ``system`` subcommands that drive the engine named by -H/DOCKER_HOST.
REMOTE_SUBCOMMANDS = frozenset({"info", "events", "prune"})
#: ``system`` subcommands that act on this machine's engine whatever -H/DOCKER_HOST say.
LOCAL_SUBCOMMANDS = frozenset({"service", "boot"})


@click.group(context_settings={"help_option_names": ["--help"]})
@click.pass_context
def system(ctx: click.Context) -> None:
    """Manage Dockyard."""
    from dockyard.cli.engine import current_host

    sub = ctx.invoked_subcommand
    if sub and current_host() and sub not in REMOTE_SUBCOMMANDS | LOCAL_SUBCOMMANDS:
        print(
            f"dockyard system {sub}: not available with -H/DOCKER_HOST (a remote engine) yet",
            file=sys.stderr,
        )
        sys.exit(125)


@system.command(context_settings={"help_option_names": ["--help"]})
@click.pass_obj
def boot(paths: Paths) -> None:
    """Start the containers whose restart policy asks for it after a reboot.

    Containers recorded as running whose monitor is gone are first recorded as exited
    (255, a lost exit); each container started is printed by name.
    """
    from dockyard.engine import Engine

    engine = Engine(paths)
    failed = []
    # Oldest first, as they were first started.
    for c in reversed(engine.container_store.list()):
        try:
            c = engine.containers.reconcile(c, apply_policy=False)
            policy = (c.host_config.get("RestartPolicy") or {}).get("Name")
            wanted = policy == "always" or (
                policy == "unless-stopped" and not engine.containers.stopped_by_user(c.id)
            )
            if not wanted or c.state["Running"]:
                continue
            engine.containers.start_detached(c)
            print(c.name, flush=True)
        except DockyardError as e:
            print(f"Error: {c.name}: {e}", file=sys.stderr)
            failed.append(c.name)
    sys.exit(1 if failed else 0)


@system.command(context_settings={"help_option_names": ["--help"]})
@click.option(
    "--time",
    "-t",
    "idle_time",
    type=click.IntRange(min=0),
    default=5,
    show_default=True,
    help="Seconds without a client after which the service exits (0: run until stopped).",
)
@click.option(
    "--tlsverify", is_flag=True, help="Require TLS client certificates signed by --tlscacert."
)
@click.option(
    "--tlscacert", type=click.Path(dir_okay=False), help="CA of accepted client certificates."
)
@click.option("--tlscert", type=click.Path(dir_okay=False), help="The service's TLS certificate.")
@click.option("--tlskey", type=click.Path(dir_okay=False), help="The service's TLS key.")
@click.option(
    "--read-timeout",
    type=click.FloatRange(min=0.1),
    default=60.0,
    show_default=True,
    help="Seconds a client may take to send the next part of a request before it is dropped.",
)
@click.option("--verbose", is_flag=True, help="Log every request on stderr.")
@click.argument("uri", required=False)
@click.pass_obj
def service(
    paths: Paths,
    idle_time: int,
    tlsverify: bool,
    tlscacert: str | None,
    tlscert: str | None,
    tlskey: str | None,
    read_timeout: float,
    verbose: bool,
    uri: str | None,
) -> None:
    """Serve the Docker Engine API on URI (Podman's `system service`).

    URI is unix://PATH (default unix://<runroot>/docker.sock, mode 0660, group docker),
    tcp://127.0.0.1:PORT, a non-loopback tcp://HOST:PORT only with --tlsverify, or fd://
    (the sockets systemd passes; also used when LISTEN_FDS is set and URI is not given).
    Containers keep running when the service stops.
    """
    try:
        _serve(paths, idle_time, tlsverify, tlscacert, tlscert, tlskey, read_timeout, verbose, uri)
    except DockyardError as e:
        # Podman's and dockerd's start-up errors: "Error: ...", exit 125.
        print(f"Error: {e}", file=sys.stderr)
        sys.exit(125)


def _serve(
    paths: Paths,
    idle_time: int,
    tlsverify: bool,
    tlscacert: str | None,
    tlscert: str | None,
    tlskey: str | None,
    read_timeout: float,
    verbose: bool,
    uri: str | None,
) -> None:
    from dockyard.api import listen
    from dockyard.api.routes import make_service

    tls = None
    if tlsverify or tlscacert or tlscert or tlskey:
        missing = [
            flag
            for flag, value in (
                ("--tlsverify", tlsverify),
                ("--tlscacert", tlscacert),
                ("--tlscert", tlscert),
                ("--tlskey", tlskey),
            )
            if not value
        ]
        if missing:
            raise click.UsageError(f"TLS needs {' '.join(missing)} too")
        assert tlscacert and tlscert and tlskey
        tls = listen.TLSFiles(ca=tlscacert, cert=tlscert, key=tlskey)
    if uri is None:
        uri = "fd://" if os.environ.get("LISTEN_FDS") else listen.default_uri(paths.runroot)
    address = listen.parse_uri(uri)
    if tls is not None and address.scheme != "tcp":
        raise click.UsageError("--tlsverify applies to tcp:// addresses only")
    context = listen.tls_context(tls) if tls else None
    sockets = listen.listeners(address, tls)
    svc = make_service(
        paths,
        sockets,
        tls=context,
        idle_time=idle_time,
        verbose=verbose,
        read_timeout=read_timeout,
    )
    signal.signal(signal.SIGINT, lambda *_: svc.shutdown())
    signal.signal(signal.SIGTERM, lambda *_: svc.shutdown())
    print(f"API service listening on {address}", file=sys.stderr, flush=True)
    try:
        svc.serve()
    finally:
        if address.scheme == "unix":
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address.path)


@system.command(context_settings={"help_option_names": ["--help"]})
@click.option("--repair", is_flag=True, help="Remove what was found")
@click.pass_obj
def check(paths: Paths, repair: bool) -> None:
    """Report what killed commands and dead monitors left behind (and remove it).

    One line per finding: kind, name, and what repairing does (or did); exit 1 when
    something was found and not repaired, as a check that failed.
    """
    from dockyard.cli.formatting import human_size
    from dockyard.engine import Engine, gc

    found = gc.collect(Engine(paths), repair=repair)
    for f in found:
        print(f"{f.kind}\t{f.name}\t{f.action}")
    reclaimed = sum(f.size for f in found)
    verb = "Reclaimed" if repair else "Reclaimable"
    print(f"{len(found)} found; {verb} space: {human_size(reclaimed)}")
    sys.exit(1 if found and not repair else 0)


def _register() -> None:
    from dockyard.cli.events import events
    from dockyard.cli.prune import df, system_prune
    from dockyard.cli.version import info

    system.add_command(df)
    system.add_command(system_prune)
    system.add_command(info, "info")
    system.add_command(events)


_register()
