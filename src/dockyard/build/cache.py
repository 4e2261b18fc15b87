"""The build cache: step key -> the image the step produced (the ``build_cache`` table),
and the cache records a built image carries for ``build --cache-from``.

A key is the sha256 of the key of the step before (the base image's ID for a stage's
first step: a chain that names no locally made image, so it is the same on every
machine), the step's description (its history ``created_by`` text) and the step's inputs
(for COPY/ADD the hash of the files' contents and metadata, for RUN its environment), so
a step is reused only when all three are unchanged, as BuildKit's content-based keys.

Every image the builder stores carries, in its config under :data:`CACHE_FIELD`, the key
of each step that made it (as BuildKit's inline cache, ``moby.buildkit.cache.v0``), with
how many layers and history entries the image had after that step; ``--cache-from IMAGE``
looks a step's key up there and rebuilds the step's image from IMAGE's layers.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from dockyard.errors import InvalidArgument
from dockyard.record import dataclass, field
from dockyard.state import StateDB

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.image.store import Pins

#: The image config's field with the build's cache records: ``[[key, layers, history],
#: ...]``, one a committed step, in build order (``layers``/``history``: how many
#: ``rootfs.diff_ids``/``history`` entries the image had after the step).
CACHE_FIELD = "dockyard.cache.v0"


def cache_key(parent_id: str, created_by: str, inputs: object = None) -> str:
    """The key of a step: ``parent_id`` (image ID or ``""`` for scratch), ``created_by``
    (the step's history text), ``inputs`` (any JSON-serialisable value)."""
    data = json.dumps([parent_id, created_by, inputs], sort_keys=True, separators=(",", ":"))
    from dockyard.digests import sha256

    return "sha256:" + sha256(data.encode()).hexdigest()


class BuildCache:
    """Lookups and records in the ``build_cache`` table of ``db`` (an open ``StateDB``)."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    def lookup(self, key: str) -> str | None:
        """The image ID recorded for ``key`` if that image still exists, else None. A hit
        counts as a use of the entry (``system df -v``'s LAST USED and USAGE, as
        BuildKit's cache records count theirs)."""
        rows = self.db.query(
            "SELECT c.image_id FROM build_cache c JOIN images i ON i.id = c.image_id "
            "WHERE c.key = ?",
            (key,),
        )
        if not rows:
            return None
        from dockyard.timetypes import now

        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO build_cache_usage (key, last_used, usage_count) VALUES (?, ?, 1)"
                " ON CONFLICT (key) DO UPDATE SET last_used = excluded.last_used,"
                " usage_count = usage_count + 1",
                (key, now()),
            )
        return str(rows[0]["image_id"])

    def record(self, key: str, image_id: str, created: str) -> None:
        """Remember that the step ``key`` produced ``image_id`` (``created``: RFC 3339)."""
        with self.db.write() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO build_cache (key, image_id, created) VALUES (?, ?, ?)",
                (key, image_id, created),
            )


def cache_records(config: dict[str, Any]) -> dict[str, tuple[int, int]]:
    """The cache records of an image ``config`` (the whole config document): key ->
    ``(layers, history)``; empty for an image without them or with malformed ones (an
    image built by another engine, or edited: it gives no cache hits)."""
    out: dict[str, tuple[int, int]] = {}
    records = config.get(CACHE_FIELD)
    if not isinstance(records, list):
        return out
    for record in records:
        if (
            isinstance(record, list)
            and len(record) == 3
            and isinstance(record[0], str)
            and all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in record[1:])
        ):
            out[record[0]] = (record[1], record[2])
    return out


def parse_cache_from(values: list[str]) -> list[str]:
    """``--cache-from`` values (buildx's ParseCacheEntry) as the image references to
    import: ``IMAGE`` (several comma-separated), ``type=registry,ref=IMAGE``; empty
    values are skipped. Raises ``InvalidArgument`` for a value without a type, a
    registry entry without ``ref`` or with other options, and for the importers Dockyard
    does not have (``local``, ``gha``, ``s3``, ``azblob``...: Dockyard exports no cache
    but the records in its images, so there is nothing they could read)."""
    if not any(values):
        return []
    import csv  # here: the run path imports no csv

    refs: list[str] = []
    for value in values:
        if not value:
            continue
        try:
            fields = next(csv.reader([value], strict=True))  # an open quote: an error
        except (csv.Error, StopIteration):
            raise InvalidArgument(f"invalid --cache-from value {value!r}") from None
        if "=" not in value:
            refs.extend(f.strip() for f in fields if f.strip())
            continue
        attrs: dict[str, str] = {}
        for part in fields:
            key, eq, val = part.partition("=")
            if not eq:
                raise InvalidArgument(f"invalid value {part}")
            attrs[key.strip().lower()] = val
        kind = attrs.pop("type", "")
        if not kind:
            raise InvalidArgument(f'type required form> "{value}"')
        if kind != "registry":
            raise InvalidArgument(
                f"--cache-from type={kind} is not supported by Dockyard (an image, or "
                "type=registry,ref=IMAGE, is: Dockyard's cache travels in its images)"
            )
        ref = attrs.pop("ref", "")
        if not ref:
            raise InvalidArgument(f"--cache-from {value}: ref is required for type=registry")
        if attrs:
            raise InvalidArgument(
                f"--cache-from {value}: option {next(iter(attrs))!r} is not supported by Dockyard"
            )
        refs.append(ref)
    return refs


@dataclass
class CacheSource:
    """An image ``--cache-from`` named: ``name`` as given, its ``config`` and ``manifest``
    documents, and ``load`` (for an image only in a registry: ``load(start, end)``
    stores its layers ``start`` to ``end`` (excluded; those a step takes: the builder
    has the ones before) here and returns the ``Pins`` that keep them until the
    caller's image row exists; None for a local image, whose layers are here)."""

    name: str
    config: dict[str, Any]
    manifest: dict[str, Any]
    load: Callable[[int, int], Pins] | None = None
    records: dict[str, tuple[int, int]] = field(init=False)

    def __post_init__(self) -> None:
        # An image with a malformed history gives no hits: a step's history entry is
        # copied into the image the step makes.
        self.records = cache_records(self.config) if _history_ok(self.config) else {}

    @property
    def diff_ids(self) -> list[str]:
        """The image's layers (``rootfs.diff_ids``)."""
        return [str(d) for d in (self.config.get("rootfs") or {}).get("diff_ids") or []]

    @property
    def history(self) -> list[dict[str, Any]]:
        """The image's history entries (none when its history is malformed)."""
        return list(self.config["history"]) if self.records else []


#: The history entry fields (OCI image-spec's config ``history``) and their JSON types.
_HISTORY_TYPES = {
    "created": str,
    "created_by": str,
    "author": str,
    "comment": str,
    "empty_layer": bool,
}


def _history_ok(config: dict[str, Any]) -> bool:
    """Whether ``config``'s ``history`` is a list of objects whose fields the image
    spec defines have its types (a ``created`` that is an object or a number would make
    an image no Docker client can read)."""
    history = config.get("history")
    return isinstance(history, list) and all(
        isinstance(entry, dict)
        and all(
            isinstance(entry[name], kind)
            for name, kind in _HISTORY_TYPES.items()
            if entry.get(name) is not None
        )
        for entry in history
    )
