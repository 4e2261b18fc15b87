"""The console scripts' entry points (``dockyard``, ``dockyard-compose``).

This module imports nothing at its top: ``dockyard --version`` (and ``-v``) is answered
here without loading click or the engine, ``ps``, ``images`` and ``volume ls`` go to
:mod:`dockyard.cli.fastlist` (their flags parsed without click), ``run``, ``create``,
``start`` and ``rm`` to :mod:`dockyard.cli.fastrun`, ``build`` to
:mod:`dockyard.cli.fastbuild`, ``pull`` to :mod:`dockyard.cli.fastpull` and ``compose up
-d`` and ``compose down`` to :mod:`dockyard.cli.fastcompose` (the same), and every other
command line, and those they leave, to :func:`dockyard.cli.main.main`,
which parses it with click (its imports, about a third of a bare command's CPU time, are
paid only there). bench/README.md ("CLI start-up", "Where a run's time goes",
"Build-latency benchmark", "Pull benchmark") has the measurements.
"""

from __future__ import annotations

import sys


def main() -> int:
    """Entry point of ``dockyard``: the version for exactly ``--version``/``-v``
    (click's ``version_option`` output, exit 0), the commands click need not parse
    (:func:`dockyard.cli.fastrun.run`, :func:`dockyard.cli.fastlist.run`,
    :func:`dockyard.cli.fastbuild.run`, :func:`dockyard.cli.fastpull.run`,
    :func:`dockyard.cli.fastcompose.run`), else
    ``dockyard.cli.main.main()``. Ctrl-C while a module loads, before a command's own
    handling, exits 130 without a traceback, as cli/main.py does after."""
    try:
        return _main()
    except KeyboardInterrupt:
        return 130


def _main() -> int:
    if sys.stdout is None or sys.stderr is None or sys.stdin is None:
        from dockyard.cli.engine import reopen_closed_streams

        reopen_closed_streams()
    if sys.argv[1:] in (["--version"], ["-v"]):
        from dockyard import __version__

        sys.stdout.write(f"Dockyard version {__version__}\n")
        return 0
    if sys.argv[1:2] in (["run"], ["create"], ["start"], ["rm"], ["container"]):
        from dockyard.cli import fastrun

        status = fastrun.run(sys.argv[1:])
        if status is not None:
            return status
    if sys.argv[1:2] in (["pull"], ["image"]):
        from dockyard.cli import fastpull

        status = fastpull.run(sys.argv[1:])
        if status is not None:
            return status
    if sys.argv[1:2] in (["ps"], ["images"], ["volume"], ["container"], ["image"]):
        from dockyard.cli import fastlist

        try:
            status = fastlist.run(sys.argv[1:])
        except KeyboardInterrupt:
            return 130  # as cli/main.py
        if status is not None:
            return status
    if sys.argv[1:2] == ["compose"]:
        from dockyard.cli import fastcompose

        status = fastcompose.run(sys.argv[1:])
        if status is not None:
            return status
    if sys.argv[1:2] == ["build"] or sys.argv[1:3] == ["image", "build"]:
        from dockyard.cli import fastbuild

        fastbuild.run(sys.argv[1:])  # returns only when it leaves the build to click
    from dockyard.cli.main import main as cli_main

    return int(cli_main() or 0)


def compose_main() -> int:
    """Entry point of ``dockyard-compose``: ``dockyard compose ARGS`` (``up -d`` and
    ``down`` through :mod:`dockyard.cli.fastcompose` first, as ``dockyard compose``)."""
    if sys.stdout is None or sys.stderr is None or sys.stdin is None:
        from dockyard.cli.engine import reopen_closed_streams

        reopen_closed_streams()
    from dockyard.cli import fastcompose

    status = fastcompose.run(["compose", *sys.argv[1:]])
    if status is not None:
        return status
    from dockyard.cli.main import compose_main as cli_compose_main

    return int(cli_compose_main() or 0)
