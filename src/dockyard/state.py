"""The engine's state database: one SQLite file (WAL) under the engine root.

Every command opens it, works inside short transactions and closes it; SQLite's locking
makes concurrent commands safe. ``BEGIN IMMEDIATE`` takes the write lock up front so two
commands racing for the same name cannot both pass a check and then insert.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,              -- image ID: the config digest, "sha256:<hex>"
    manifest_digest TEXT NOT NULL,    -- digest of the OCI image manifest blob
    created TEXT NOT NULL,            -- RFC 3339, from the image config
    size INTEGER NOT NULL             -- bytes, sum of uncompressed layer sizes
);
CREATE TABLE IF NOT EXISTS tags (
    name TEXT PRIMARY KEY,            -- normalised reference, "docker.io/library/busybox:latest"
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE TABLE IF NOT EXISTS containers (
    id TEXT PRIMARY KEY,              -- 64 hex characters
    name TEXT NOT NULL UNIQUE,        -- without the leading "/"
    image_id TEXT NOT NULL,
    created TEXT NOT NULL,            -- RFC 3339 with nanoseconds
    config TEXT NOT NULL,             -- JSON: Docker's container Config
    host_config TEXT NOT NULL,        -- JSON: Docker's HostConfig
    state TEXT NOT NULL               -- JSON: Docker's State
);
CREATE TABLE IF NOT EXISTS repo_digests (
    name TEXT PRIMARY KEY,            -- "docker.io/library/busybox@sha256:<hex>" (a RepoDigest)
    image_id TEXT NOT NULL REFERENCES images(id)
);
CREATE TABLE IF NOT EXISTS image_parents (
    image_id TEXT PRIMARY KEY,        -- an image a build step produced
    parent TEXT NOT NULL              -- the image the step started from
);
CREATE TABLE IF NOT EXISTS build_cache (
    key TEXT PRIMARY KEY,             -- sha256 of (parent image ID, instruction, inputs)
    image_id TEXT NOT NULL,           -- the image the step produced
    created TEXT NOT NULL             -- RFC 3339
);
"""


class StateDB:
    """A connection to ``<root>/state.db`` with the schema applied.

    ``path`` is the database file; its directory is created if missing.
    Raises ``sqlite3.Error`` if the file is not a database.
    """

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.path = path
        self.connect()

    def connect(self) -> None:
        """Open the connection (again, after :meth:`close`)."""
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back on any exception."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Run a read-only statement and return all rows."""
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection. Close before ``fork()``: SQLite's per-process lock
        bookkeeping copied into a child makes the child's own connections lose their locks,
        and the parent's exit can then delete the WAL under the child."""
        self.conn.close()
