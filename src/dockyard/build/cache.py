"""The build cache: step key -> the image the step produced (the ``build_cache`` table).

A key is the sha256 of the parent image ID, the step's description (its history
``created_by`` text) and the step's inputs (for COPY/ADD the hash of the files' contents and
metadata, for RUN its environment), so a step is reused only when all three are unchanged,
as the classic builder's cache compares parent and run config.
"""

from __future__ import annotations

import hashlib
import json

from dockyard.state import StateDB


def cache_key(parent_id: str, created_by: str, inputs: object = None) -> str:
    """The key of a step: ``parent_id`` (image ID or ``""`` for scratch), ``created_by``
    (the step's history text), ``inputs`` (any JSON-serialisable value)."""
    data = json.dumps([parent_id, created_by, inputs], sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(data.encode()).hexdigest()


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
