"""The facade's volume operations (Engine API v1.51, Volume)."""

from __future__ import annotations

from dockyard.engine.base import EngineBase
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine.types import Filters, Volume


class VolumeOperations(EngineBase):
    """Volumes (Engine API: Volume)."""

    def volume_list(self, filters: Filters | None = None) -> dict[str, Any]:
        """``GET /volumes``: ``{"Volumes": [Volume], "Warnings": []}``, kept by
        ``filters`` (``dangling``, ``driver``, ``label``, ``name``). Raises
        InvalidArgument for another filter or a bad value."""
        volumes = self.volumes.select(filters or {})
        return {"Volumes": [v.inspect() for v in volumes], "Warnings": []}

    def volume_create(self, request: dict[str, Any]) -> Volume:
        """``POST /volumes/create`` from a VolumeCreateRequest (``Name``: a random one if
        empty, ``Driver`` ``local``, ``DriverOpts``, ``Labels``); an existing volume of
        that name is returned as it is. Raises InvalidArgument (a bad name or option, a
        cluster volume), NotFound (another driver)."""
        if request.get("ClusterVolumeSpec"):
            raise InvalidArgument("cluster volumes are not supported by Dockyard")
        v = self.volumes.create(
            request.get("Name") or None,
            driver=request.get("Driver") or "local",
            labels=dict(request.get("Labels") or {}),
            options=dict(request.get("DriverOpts") or {}),
        )
        return v.inspect()  # type: ignore[return-value]

    def volume_inspect(self, name: str) -> Volume:
        """``GET /volumes/{name}``. Raises NotFound ``get <name>: no such volume``."""
        return self.volumes.get(name).inspect()  # type: ignore[return-value]

    def volume_delete(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``. Raises NotFound (unless ``force``), Conflict (in
        use; ``force`` does not override that, as with Docker's local driver)."""
        self.volumes.remove(name, force=force)

    def volume_prune(self, filters: Filters | None = None) -> dict[str, Any]:
        """``POST /volumes/prune``: remove the unused anonymous volumes (every unused
        volume with the ``all=true`` filter), kept by ``filters`` (``label``,
        ``label!``). Returns ``{"VolumesDeleted": [names], "SpaceReclaimed": bytes}``.
        Raises InvalidArgument for another filter."""
        filters = dict(filters or {})
        all_values = filters.pop("all", [])
        for v in all_values:
            if v.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter 'all={v}'")
        all_volumes = any(v.lower() in ("true", "1") for v in all_values)
        removed = self.volumes.prune(all_volumes, filters)
        from dockyard.engine.events import prune_event

        prune_event(self.paths.root, "volume", sum(size for _, size in removed))
        return {
            "VolumesDeleted": [name for name, _ in removed] or None,
            "SpaceReclaimed": sum(size for _, size in removed),
        }
