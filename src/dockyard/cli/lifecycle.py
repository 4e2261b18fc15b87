"""What ``dockyard start`` and ``dockyard rm`` do (Docker CLI reference: docker container
start / rm), without click: their click commands (cli/containers.py) and the click-free
fast path (cli/fastrun.py) both call these."""

from __future__ import annotations

import sys

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported on these paths (bench/README.md)
if TYPE_CHECKING:
    from dockyard.paths import Paths


def start(
    paths: Paths,
    attach: bool,
    interactive: bool,
    detach_keys: str | None,
    checkpoint: str,
    checkpoint_dir: str,
    containers: tuple[str, ...],
) -> None:
    """``start [-a] [-i] CONTAINER...``: start each container and print its name as
    given, or (``attach``/``interactive``, one container only: the caller checks) start
    it attached and exit with its status. Exits 1 if any failed, after trying all."""
    from dockyard.cli.engine import open_engine
    from dockyard.errors import NotModified

    if checkpoint or checkpoint_dir:
        # Docker restores through CRIU on an experimental daemon; Dockyard has no CRIU.
        print(
            "Error response from daemon: checkpoint and restore (--checkpoint, "
            "--checkpoint-dir) are not supported by Dockyard",
            file=sys.stderr,
        )
        sys.exit(1)
    engine = open_engine(paths)
    if attach or interactive:
        from dockyard.cli.run import detach_keys_option

        try:
            keys = detach_keys_option(detach_keys, interactive)
            info = engine.container_inspect(containers[0])
            if info["State"]["Running"]:
                found = engine.container_attach(containers[0], stdin=interactive, detach_keys=keys)
                status = 0 if found is None else found  # detached: docker/cli's start says nothing
            else:
                # docker/cli's start forwards signals to a container without a tty only.
                status = engine.container_run_attached(
                    containers[0], detach_keys=keys, sig_proxy=not info["Config"].get("Tty")
                )
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            print(f"Error: failed to start containers: {containers[0]}", file=sys.stderr)
            sys.exit(1)
        sys.exit(status)
    failed = []
    for ref in containers:
        try:
            engine.container_start(ref)
            print(ref)
        except NotModified:
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed.append(ref)
    if failed:
        print(f"Error: failed to start containers: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


def rm(paths: Paths, force: bool, volumes: bool, link: bool, containers: tuple[str, ...]) -> None:
    """``rm [-f] [-v] [-l] CONTAINER...``: remove each container, printing its name as
    given; ends the process, exit 1 if any failed (after trying all)."""
    from dockyard.cli.engine import exit_now, open_engine

    engine = open_engine(paths)
    failed = False
    for ref in containers:
        try:
            engine.container_delete(ref, force=force, v=volumes, link=link)
            print(ref)
        except DockyardError as e:
            print(f"Error response from daemon: {e}", file=sys.stderr)
            failed = True
    exit_now(engine, 1 if failed else 0)
