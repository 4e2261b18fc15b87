"""Reclaiming image space: ``docker image prune``, ``docker builder prune`` and the image
and build cache figures of ``docker system df`` (moby daemon/images/image_prune.go).

A layer's size is that of its uncompressed tar (the size ``docker images`` adds up), or of
its unpacked files when only a compressed blob is stored; an image's space is reclaimed
only when its last user goes, so a prune reports the layers its deletions removed.
"""

from __future__ import annotations

import contextlib
import datetime
from typing import Any

from dockyard.errors import Conflict, InvalidArgument, NotFound
from dockyard.image.store import Image, ImageStore, chain_ids

#: A prune's result: (records, bytes reclaimed); a record is ("untagged"|"deleted", value).
PruneReport = tuple[list[tuple[str, str]], int]


def _created_ns(img: Image) -> int:
    return _rfc3339_ns(img.created)


def _rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC 3339 UTC time (``...Z``); 0 if malformed."""
    whole, _, frac = text.rstrip("Z").partition(".")
    try:
        t = datetime.datetime.fromisoformat(whole).replace(tzinfo=datetime.UTC)
    except ValueError:
        return 0
    return int(t.timestamp()) * 10**9 + int((frac + "000000000")[:9] or 0)


def _has_label(img: Image, spec: str) -> bool:
    labels = (img.config.get("config") or {}).get("Labels") or {}
    key, eq, value = spec.partition("=")
    return key in labels and (not eq or labels[key] == value)


def select(images: list[Image], filters: dict[str, list[str]]) -> list[Image]:
    """The ``images`` matching prune ``filters`` (``until``: created before; ``label``:
    every one matches; ``label!``: none matches). Raises InvalidArgument for another key,
    with Docker's message."""
    from dockyard.timetypes import parse_time_arg

    for key in filters:
        if key not in ("until", "label", "label!"):
            raise InvalidArgument(f"invalid filter '{key}'")
    limits = [parse_time_arg(v, "until") for v in filters.get("until", [])]
    return [
        img
        for img in images
        if all(_created_ns(img) < limit for limit in limits)
        and all(_has_label(img, s) for s in filters.get("label", []))
        and not any(_has_label(img, s) for s in filters.get("label!", []))
    ]


def layer_size(store: ImageStore, diff_id: str) -> int:
    """Bytes of layer ``diff_id``: its uncompressed blob's size, else its unpacked files'."""
    import os

    try:
        return os.path.getsize(store.content.path(diff_id))
    except FileNotFoundError:
        from dockyard.snapshot import LayerStore

        return LayerStore(store.paths).content_size(diff_id)


def layer_sizes(store: ImageStore, img: Image) -> dict[str, int]:
    """``{chain ID: bytes}`` of ``img``'s layers (the IDs ``rmi`` reports as deleted)."""
    return {
        chain: layer_size(store, diff_id)
        for diff_id, chain in zip(img.diff_ids, chain_ids(img.diff_ids), strict=True)
    }


def with_children(store: ImageStore) -> set[str]:
    """IDs of images another existing image was built from (moby's image "children")."""
    rows = store.db.query(
        "SELECT DISTINCT p.parent AS id FROM image_parents p JOIN images i ON i.id = p.image_id"
    )
    return {r["id"] for r in rows}


def _delete(store: ImageStore, img: Image, names: list[str]) -> PruneReport:
    """Delete ``img`` by each of ``names`` (its tags, or its ID), without force; a
    container using it makes it stay (the conflict is skipped, as moby's prune)."""
    sizes = layer_sizes(store, img)
    records: list[tuple[str, str]] = []
    for name in names:
        try:
            found = store.delete(name, force=False)
        except (Conflict, NotFound):
            continue
        records.extend((kind.lower(), value) for kind, value in found)
    reclaimed = sum(sizes.get(value, 0) for kind, value in records if kind == "deleted")
    return records, reclaimed


def _still_there(img: Image) -> bool:
    """Whether ``img``'s config can be read (read now, for the filters and the sizes):
    that of an image another command removed since it was listed cannot."""
    try:
        return img.config is not None
    except NotFound:
        return False


def prune_images(
    store: ImageStore, all_images: bool = False, filters: dict[str, list[str]] | None = None
) -> PruneReport:
    """``docker image prune``: delete the dangling images (untagged, no image built from
    them), or with ``all_images`` every image no container uses, that match ``filters``
    (``until``, ``label``, ``label!``; ``dangling=true|false`` as ``-a``'s opposite).
    Untagged parents nothing needs any more go with them. Returns the ``untagged``/
    ``deleted`` records (image IDs, then the chain IDs of removed layers) and the bytes
    reclaimed. Raises InvalidArgument for a bad filter."""
    filters = dict(filters or {})
    for value in filters.pop("dangling", []):
        if value.lower() not in ("true", "false", "1", "0"):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
        all_images = value.lower() in ("false", "0")
    children = with_children(store)
    # An image a container uses is skipped entirely, its extra tags too (moby's prune).
    used = {r["image_id"] for r in store.db.query("SELECT DISTINCT image_id FROM containers")}
    candidates = []
    for img in store.list():
        if img.id in used:
            continue
        if img.id in children and (not all_images or not img.tags):
            continue  # an intermediate image: it goes with the image built on it
        if img.tags and not all_images:
            continue
        if _still_there(img):  # else removed since the listing: moby's prune skips it
            candidates.append(img)
    records: list[tuple[str, str]] = []
    reclaimed = 0
    for img in select(candidates, filters):
        names = list(img.tags) or [img.id[7:]]
        found, size = _delete(store, img, names)
        records.extend(found)
        reclaimed += size
    return records, reclaimed


# -- build cache --------------------------------------------------------------------------


def cache_only_images(store: ImageStore) -> list[Image]:
    """Images only the build cache keeps (``builder prune`` deletes them): an image with a
    cache entry that is untagged, used by no container and has nothing built on it, and
    the untagged parents of such images whose every child is one too (they go with their
    last child, as ``rmi`` prunes an untagged parent)."""
    entries = {
        r["id"]
        for r in store.db.query(
            "SELECT DISTINCT c.image_id AS id FROM build_cache c JOIN images i ON i.id = c.image_id"
        )
    }
    kept = {r["image_id"] for r in store.db.query("SELECT image_id FROM tags")}
    kept |= {r["image_id"] for r in store.db.query("SELECT image_id FROM containers")}
    parent_of: dict[str, str] = {}
    children: dict[str, set[str]] = {}
    for r in store.db.query(
        "SELECT p.image_id, p.parent FROM image_parents p JOIN images i ON i.id = p.image_id"
    ):
        parent_of[r["image_id"]] = r["parent"]
        children.setdefault(r["parent"], set()).add(r["image_id"])
    only: set[str] = set()
    todo = [i for i in entries if i not in kept and i not in children]
    while todo:
        image_id = todo.pop()
        only.add(image_id)
        parent = parent_of.get(image_id)
        if parent and parent not in only and parent not in kept and children[parent] <= only:
            todo.append(parent)
    out = []
    for image_id in sorted(only):
        with contextlib.suppress(NotFound):  # removed meanwhile
            out.append(store.get(image_id))
    return out


def cache_size(store: ImageStore) -> tuple[int, int]:
    """``(entries, bytes)`` of the build cache as docker/cli's ``system df`` sums the
    records (:func:`cache_records`): how many there are, and the sizes of those not
    shared, which is what ``builder prune -a`` reclaims."""
    records = cache_records(store)
    return len(records), sum(r["Size"] for r in records if not r["Shared"])


def cache_records(store: ImageStore) -> list[dict[str, Any]]:
    """The build cache entries as the Engine API's ``BuildCache`` records (``GET
    /system/df``), oldest first: ``ID`` (the step key's hex), ``Parents`` (the entry of the
    step before, if cached), ``Type`` ``regular``, ``Description`` (the step, its history
    ``created_by``), ``InUse`` (never: no build holds an entry), ``Size`` (bytes of the
    layers the step added, 0 for a step without one), ``Shared`` (pruning the entry would
    not free its size: its image is also kept by a tag, a container or an image built on
    it, or its layer is used by such an image or counted in an older entry, as
    BuildKit's records shared with the image store), ``CreatedAt``, ``LastUsedAt`` (RFC
    3339 or None) and ``UsageCount`` (how many later steps reused it). Entries whose image
    is gone are left out (``builder prune`` drops them)."""
    rows = store.db.query(
        "SELECT c.key, c.image_id, c.created, u.last_used, u.usage_count, p.parent"
        " FROM build_cache c JOIN images i ON i.id = c.image_id"
        " LEFT JOIN build_cache_usage u ON u.key = c.key"
        " LEFT JOIN image_parents p ON p.image_id = c.image_id ORDER BY c.created, c.key"
    )
    only = {img.id for img in cache_only_images(store)}
    kept_layers = {d for img in store.list() if img.id not in only for d in img.diff_ids}
    counted: set[str] = set()
    key_of = {r["image_id"]: r["key"] for r in rows}
    records = []
    for r in rows:
        try:
            img = store.get(r["image_id"])
            parent_layers = len(store.get(r["parent"]).diff_ids) if r["parent"] else 0
        except NotFound:
            continue  # removed meanwhile
        history = img.config.get("history") or [{}]
        parent_key = key_of.get(r["parent"])
        added = img.diff_ids[parent_layers:]
        shared = img.id not in only or any(d in kept_layers or d in counted for d in added)
        if not shared:
            counted.update(added)
        records.append(
            {
                "ID": r["key"].removeprefix("sha256:"),
                "Parents": [parent_key.removeprefix("sha256:")] if parent_key else None,
                "Type": "regular",
                "Description": str(history[-1].get("created_by", "")),
                "InUse": False,
                "Shared": shared,
                "Size": sum(layer_size(store, d) for d in added),
                "CreatedAt": r["created"],
                "LastUsedAt": r["last_used"],
                "UsageCount": int(r["usage_count"] or 0),
            }
        )
    return records


def prune_build_cache(
    store: ImageStore,
    all_entries: bool = False,
    filters: dict[str, list[str]] | None = None,
    keep_storage: int = 0,
) -> tuple[list[str], int]:
    """``docker builder prune``: drop the build cache entries whose image is gone or kept
    by the cache alone (with ``all_entries``: every entry), deleting those images, oldest
    first. ``filters``: ``until`` (entries made before it); ``keep_storage``: stop once
    the images the cache alone keeps take at most that many bytes (BuildKit's
    KeepBytes). Returns the entries removed (their keys, without ``sha256:``) and the
    bytes reclaimed. Raises InvalidArgument for another filter or a bad time."""
    from dockyard.timetypes import parse_time_arg

    for key in filters or {}:
        if key != "until":
            raise InvalidArgument(f"invalid filter '{key}'")
    limits = [parse_time_arg(v, "until") for v in (filters or {}).get("until", [])]
    only = {img.id: img for img in cache_only_images(store)}
    rows = store.db.query(
        "SELECT c.key, c.image_id, c.created, i.id AS exists_ FROM build_cache c"
        " LEFT JOIN images i ON i.id = c.image_id ORDER BY c.created, c.key"
    )
    remaining = cache_size(store)[1] if keep_storage else 0
    doomed: list[str] = []
    victims: list[Image] = []
    for r in rows:
        if keep_storage and remaining <= keep_storage:
            break
        if not (all_entries or r["exists_"] is None or r["image_id"] in only):
            continue
        if limits and not all(_rfc3339_ns(r["created"]) < limit for limit in limits):
            continue
        doomed.append(r["key"])
        img = only.pop(r["image_id"], None)
        if img is not None:
            victims.append(img)
            remaining -= sum(layer_sizes(store, img).values()) if keep_storage else 0
    with store.db.write() as conn:
        conn.executemany("DELETE FROM build_cache WHERE key = ?", [(k,) for k in doomed])
        conn.execute("DELETE FROM build_cache_usage WHERE key NOT IN (SELECT key FROM build_cache)")
    reclaimed = 0
    for img in victims:
        reclaimed += _delete(store, img, [img.id[7:]])[1]
    return [k.removeprefix("sha256:") for k in doomed], reclaimed


def image_usage(store: ImageStore) -> dict[str, Any]:
    """``system df``'s image figures: ``images`` (listed ones, intermediates aside),
    ``containers`` ({image ID: containers using it}), ``total`` (bytes of every stored
    layer once) and ``active`` (bytes of the layers of images in use), plus per image
    ``unique``/``shared`` bytes for ``-v``."""
    every = store.list()
    hidden = store.intermediate_ids()
    counts: dict[str, int] = {}
    for r in store.db.query("SELECT image_id, COUNT(*) AS n FROM containers GROUP BY image_id"):
        counts[r["image_id"]] = int(r["n"])
    sizes: dict[str, int] = {}
    users: dict[str, int] = {}
    for img in every:
        for d in set(img.diff_ids):
            if d not in sizes:
                sizes[d] = layer_size(store, d)
            users[d] = users.get(d, 0) + 1
    active = {d for img in every if counts.get(img.id) for d in img.diff_ids}
    listed = [img for img in every if img.id not in hidden]
    per_image = {
        img.id: {
            "size": sum(sizes[d] for d in set(img.diff_ids)),
            "shared": sum(sizes[d] for d in set(img.diff_ids) if users[d] > 1),
        }
        for img in listed
    }
    return {
        "images": listed,
        "containers": counts,
        "total": sum(sizes.values()),
        "active": sum(sizes[d] for d in active),
        "per_image": per_image,
    }
