"""Compose's global options (``-f``, ``-p``, ``--project-directory``, ``--env-file``,
``--profile``) and the project and runner made from them on demand: shared by the click
commands (:mod:`dockyard.compose.cli`) and the fast path of ``up -d`` and ``down``
(:mod:`dockyard.cli.fastcompose`), so it imports neither click nor typing."""

from __future__ import annotations

import os

from dockyard.compose.errors import ComposeError

TYPE_CHECKING = False  # typing is not imported (cli/fastcompose.py's start-up)
if TYPE_CHECKING:
    from typing import Any


class ProjectContext:
    """The global options ``opts`` (``file``, ``project_name``, ``project_directory``,
    ``env_file``, ``profile``: click's parameter names) on the engine at ``paths`` (a
    :class:`dockyard.paths.Paths`)."""

    def __init__(self, paths: Any, **opts: Any) -> None:
        self.paths = paths
        self.opts = opts

    def options(self) -> Any:
        from dockyard.compose.loader import Options

        o = self.opts
        return Options(
            files=list(o["file"]),
            project_name=o["project_name"],
            project_directory=o["project_directory"],
            env_files=list(o["env_file"]),
            profiles=list(o["profile"]),
            # Models that passed the schema once, remembered until the run root goes.
            cache_dir=os.path.join(self.paths.runroot, "compose", "valid"),
        )

    def project(self, selected: list[str] | None = None) -> Any:
        """The loaded project (``selected`` services enabled whatever their profiles).
        Raises ComposeError."""
        from dockyard.compose.loader import load_project

        return load_project(self.options(), selected)

    def runner(self, selected: list[str] | None = None, project: Any = None) -> Any:
        """A :class:`dockyard.compose.operations.Runner` of the project on a new engine."""
        from dockyard.compose.operations import Runner
        from dockyard.engine import Engine

        return Runner(Engine(self.paths), project or self.project(selected))

    def name_only_runner(self) -> Any:
        """A runner for commands that need only the project's name when its files are
        gone (``down -p NAME``, ``ps -p NAME``): the files if found, else the name."""
        from dockyard.compose.loader import Project

        try:
            return self.runner()
        except ComposeError:
            # docker compose's projectOrName: with -f the files must load (an invalid
            # -p refused) unless COMPOSE_PROJECT_NAME names the project.
            name = os.environ.get("COMPOSE_PROJECT_NAME")
            if not self.opts["file"]:
                name = self.opts["project_name"] or name
            if not name:
                raise
            from dockyard.compose.operations import Runner
            from dockyard.engine import Engine

            empty = Project(name, os.getcwd(), [], {}, {}, {}, {}, {}, {}, {})
            return Runner(Engine(self.paths), empty)
