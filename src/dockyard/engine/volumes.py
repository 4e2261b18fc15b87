"""The facade's volume operations (Engine API v1.51, Volume)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from dockyard.engine.base import EngineBase

if TYPE_CHECKING:
    from dockyard.engine.types import Volume


class VolumeOperations(EngineBase):
    """Volumes (Engine API: Volume)."""

    def volume_inspect(self, name: str) -> Volume:
        """``GET /volumes/{name}``. Raises NotFound ``get <name>: no such volume``."""
        return self.volumes.get(name).inspect()  # type: ignore[return-value]
