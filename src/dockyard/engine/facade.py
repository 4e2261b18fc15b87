"""The Engine facade (:class:`Engine`, imported as ``dockyard.engine.Engine``): the one
object every front end (CLI, API service, compose) calls.

Its operations are the Docker Engine API's (v1.51, moby ``api/swagger.yaml``), named
after the API's operation IDs in snake_case (``ContainerList`` is
:meth:`~Engine.container_list`), taking the API's parameters and request objects and
returning its response objects (:mod:`dockyard.engine.types`); errors are
:mod:`dockyard.errors` classes, each with the API's HTTP status. One module per area
(containers, images, networks, volumes, system, exec...) contributes a class of
operations; :class:`Engine` composes them. Stores are opened lazily (:mod:`.base`), so a
command pays only for what it touches.
"""

from __future__ import annotations

from dockyard.engine.attach import AttachOperations
from dockyard.engine.build import BuildOperations
from dockyard.engine.containers import ContainerOperations
from dockyard.engine.events import EventOperations
from dockyard.engine.exec import ExecOperations
from dockyard.engine.images import ImageOperations
from dockyard.engine.networks import NetworkOperations
from dockyard.engine.stats import StatsOperations
from dockyard.engine.system import SystemOperations
from dockyard.engine.volumes import VolumeOperations


class Engine(
    AttachOperations,
    BuildOperations,
    EventOperations,
    ExecOperations,
    StatsOperations,
    ContainerOperations,
    ImageOperations,
    NetworkOperations,
    VolumeOperations,
    SystemOperations,
):
    """Every operation of the engine rooted at ``paths`` (a :class:`dockyard.paths.Paths`)."""
