"""``dockyard system boot``: what an init system runs once at boot (see
contrib/dockyard-boot.service) to bring back containers as Docker's daemon does when it
starts: those whose restart policy is ``always``, or ``unless-stopped`` and not stopped by
the user."""

from __future__ import annotations

import sys

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths


@click.group(context_settings={"help_option_names": ["--help"]})
def system() -> None:
    """Manage Dockyard."""


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
            c = engine.containers.reconcile(c)
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
