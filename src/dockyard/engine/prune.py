"""Engine operations that reclaim and report disk space (issue 10), for every front end:

==========================  ===============================================
``image_prune``             ``POST /images/prune``
``build_cache_prune``       ``POST /build/prune``
``system_prune``            what ``docker system prune`` runs (containers, networks,
                            volumes, images, build cache: the prune endpoints in turn)
``disk_usage``              ``GET /system/df``
==========================  ===============================================

Filters are the Engine API's ``filters``: ``{key: [values]}``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.engine import Engine


def _as_flags(filters: dict[str, list[str]]) -> list[str]:
    """``filters`` as ``key=value`` strings (what the network prune filter takes)."""
    return [f"{key}={value}" for key, values in filters.items() for value in values]


def image_prune(
    engine: Engine, all_images: bool = False, filters: dict[str, list[str]] | None = None
) -> tuple[list[tuple[str, str]], int]:
    """Delete dangling images (every image no container uses with ``all_images``)
    matching ``filters`` (``until``, ``label``, ``label!``, ``dangling``); returns
    ``([("untagged"|"deleted", value)], bytes reclaimed)``. Raises InvalidArgument."""
    from dockyard.engine.events import prune_event
    from dockyard.image.prune import prune_images

    removed, reclaimed = prune_images(engine.images, all_images, filters or {})
    prune_event(engine.paths.root, "image", reclaimed)
    return removed, reclaimed


def build_cache_prune(
    engine: Engine,
    all_entries: bool = False,
    filters: dict[str, list[str]] | None = None,
    keep_storage: int = 0,
) -> tuple[list[str], int]:
    """Drop unused build cache entries (all with ``all_entries``; ``until`` in
    ``filters``; until at most ``keep_storage`` bytes remain) and the images only the
    cache kept; returns ``(entry IDs, bytes reclaimed)``. Raises InvalidArgument."""
    from dockyard.image.prune import prune_build_cache

    return prune_build_cache(engine.images, all_entries, filters, keep_storage)


@dataclass
class SystemPruneReport:
    """What ``system_prune`` removed: container IDs, network names, volume names, image
    records (``("untagged"|"deleted", value)``), build cache entry IDs, and the bytes
    reclaimed in all."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    images: list[tuple[str, str]] = field(default_factory=list)
    build_cache: list[str] = field(default_factory=list)
    reclaimed: int = 0


def system_prune(
    engine: Engine,
    all_images: bool = False,
    volumes: bool = False,
    filters: dict[str, list[str]] | None = None,
) -> SystemPruneReport:
    """``docker system prune``: stopped containers, unused user-defined networks, unused
    anonymous volumes (with ``volumes``), dangling images (all unused ones with
    ``all_images``) and the build cache (all of it with ``all_images``), in that order,
    each with ``filters`` (``until``, ``label``, ``label!``), then what killed commands
    left (``gc.collect``). Every filter is checked before anything is removed. Raises
    InvalidArgument (Docker's messages)."""
    from dockyard.container import operations
    from dockyard.engine import gc
    from dockyard.engine.events import prune_event
    from dockyard.image.prune import prune_build_cache, prune_images
    from dockyard.network.manager import prune_filter

    parsed = dict(filters or {})
    check_system_prune(volumes, parsed)
    gc.recover(engine)  # containers whose monitor died count as stopped from here on
    report = SystemPruneReport()
    removed = operations.prune(engine.containers, parsed)
    report.containers = [cid for cid, _ in removed]
    report.reclaimed += sum(size for _, size in removed)
    prune_event(engine.paths.root, "container", sum(size for _, size in removed))
    nets = engine.networks.prune(prune_filter(engine.networks.list_networks(), _as_flags(parsed)))
    report.networks = [n.name for n in nets]
    prune_event(engine.paths.root, "network", 0)
    if volumes:
        gone = engine.volumes.prune(False, {k: v for k, v in parsed.items() if k != "until"})
        report.volumes = [name for name, _ in gone]
        report.reclaimed += sum(size for _, size in gone)
        prune_event(engine.paths.root, "volume", sum(size for _, size in gone))
    report.images, size = prune_images(engine.images, all_images, parsed)
    report.reclaimed += size
    prune_event(engine.paths.root, "image", size)
    report.build_cache, size = prune_build_cache(engine.images, all_images)
    report.reclaimed += size
    # Last, the leftovers of killed commands (issue 14's garbage collector).
    report.reclaimed += sum(f.size for f in gc.collect(engine, repair=True))
    return report


def check_system_prune(volumes: bool, filters: dict[str, list[str]]) -> None:
    """Refuse ``system prune`` filters before anything is removed (or asked): every key
    must suit every kind, and ``until`` does not go with ``volumes`` (Docker's messages).
    Raises InvalidArgument."""
    from dockyard.image.prune import select
    from dockyard.network.manager import prune_filter

    if volumes and "until" in filters:
        raise InvalidArgument('The "until" filter is not supported with "--volumes"')
    select([], filters)
    prune_filter([], _as_flags(filters))


def disk_usage(engine: Engine) -> dict[str, Any]:
    """``docker system df`` figures (bytes): ``images`` (listed images, their containers
    count, per-image ``size``/``shared``), ``images_total``/``images_active`` (unique
    layer bytes, of all images and of those in use), ``containers`` (``(container,
    writable-layer bytes, active)``), ``volumes`` (``(volume, bytes, links)``),
    ``build_cache`` (``(entries, bytes)``), ``build_cache_records`` (the Engine API's
    ``BuildCache`` records, ``dockyard.image.prune.cache_records``)."""
    from dockyard.container.operations import container_size, dir_size
    from dockyard.image.prune import cache_records, cache_size, image_usage

    usage = image_usage(engine.images)
    containers = []
    for c in engine.containers.list_reconciled():
        active = c.state.get("Status") in ("running", "paused", "restarting")
        containers.append((c, container_size(engine.containers, c), active))
    vols = [
        (v, dir_size(v.mountpoint), len(engine.volumes.users(v.name))) for v in engine.volumes.all()
    ]
    return {
        "images": usage["images"],
        "image_containers": usage["containers"],
        "per_image": usage["per_image"],
        "images_total": usage["total"],
        "images_active": usage["active"],
        "containers": containers,
        "volumes": vols,
        "build_cache": cache_size(engine.images),
        "build_cache_records": cache_records(engine.images),
    }
