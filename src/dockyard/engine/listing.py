"""The facade's listing operations alone: what ``ps``, ``images`` and ``volume ls`` call
(``container_list``, ``image_list``, ``volume_list``), without importing the modules of
every other operation (:class:`dockyard.engine.Engine` composes them all)."""

from __future__ import annotations

from dockyard.engine.containers import ContainerOperations
from dockyard.engine.images import ImageOperations
from dockyard.engine.volumes import VolumeOperations


class ListingEngine(ContainerOperations, ImageOperations, VolumeOperations):
    """The container, image and volume operations of the engine rooted at ``paths`` (a
    :class:`dockyard.paths.Paths`), as :class:`dockyard.engine.Engine` has them."""
