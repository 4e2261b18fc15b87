"""The engine's state database: one SQLite file (WAL) under the engine root.

Every command opens it, works inside short transactions and closes it; SQLite's locking
makes concurrent commands safe. ``BEGIN IMMEDIATE`` takes the write lock up front so two
commands racing for the same name cannot both pass a check and then insert.

A full disk: the last connection to close deletes the WAL and shared-memory files, and the
next open must create them again (the -shm file alone is 32 KiB), so on a full filesystem
no command could open the database, not even ``rm`` to free space. A reserve file beside
the database (``state.db-reserve``, RESERVE_BYTES allocated) is deleted when an open fails
for lack of space, and made again by a later open once there is room for it twice over.
With no reserve left either (something else took the space it freed), the database is
opened in exclusive locking mode, where SQLite keeps the WAL index in memory and needs no
-shm file: reads work and writes fit as long as a few pages do; other commands wait for
that one (the busy timeout). SQLite's "database or disk is full" becomes DiskFull, one line
naming the database.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.errors import DiskFull

#: Bytes kept allocated beside the database, released when it cannot be opened for lack of
#: space (the WAL and -shm files of a few commands' transactions fit in it many times).
RESERVE_BYTES = 4 << 20

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
CREATE TABLE IF NOT EXISTS build_cache_usage (
    key TEXT PRIMARY KEY,             -- a build_cache key
    last_used TEXT NOT NULL,          -- RFC 3339: the last build step that reused the entry
    usage_count INTEGER NOT NULL      -- how many build steps reused it
);
-- dockyard.distribution.push (moby's v2 metadata service: a layer's compressed blob)
CREATE TABLE IF NOT EXISTS pushed_layers (
    diff_id TEXT NOT NULL,            -- the uncompressed layer's digest
    repository TEXT NOT NULL,         -- full name pushed to ("127.0.0.1:5000/x/y")
    digest TEXT NOT NULL,             -- the gzip blob pushed for it
    size INTEGER NOT NULL,            -- its bytes
    PRIMARY KEY (diff_id, repository)
);
-- dockyard.network.store
CREATE TABLE IF NOT EXISTS networks (
    id TEXT PRIMARY KEY,              -- 64 hex characters
    name TEXT NOT NULL UNIQUE,
    driver TEXT NOT NULL,             -- bridge, host, null, macvlan, ipvlan
    created TEXT NOT NULL,            -- RFC 3339 with nanoseconds
    config TEXT NOT NULL              -- JSON: subnet, gateway, ip_range, internal, labels, ...
);
CREATE TABLE IF NOT EXISTS endpoints (
    id TEXT PRIMARY KEY,              -- 64 hex characters
    network_id TEXT NOT NULL,
    container_id TEXT NOT NULL,
    address TEXT NOT NULL,            -- IPv4 address without prefix length
    mac TEXT NOT NULL,
    ifname TEXT NOT NULL,             -- eth0, eth1, ... inside the container
    fixed INTEGER NOT NULL,           -- 1: asked for with --ip
    aliases TEXT NOT NULL,            -- JSON list of --network-alias names
    UNIQUE (network_id, container_id),
    UNIQUE (network_id, address)
);
-- dockyard.network.store: an endpoint's settings beyond its address (a table of its own,
-- so databases made before them need no change to endpoints)
CREATE TABLE IF NOT EXISTS endpoint_options (
    endpoint_id TEXT PRIMARY KEY,     -- an endpoints row
    options TEXT NOT NULL             -- JSON: {"Links": [...], "DriverOpts": {...}, "GwPriority": n}
);
-- dockyard.network.store: an endpoint's IPv6 and link-local addresses (a table of its own,
-- so databases made before IPv6 networks existed need no change to endpoints)
CREATE TABLE IF NOT EXISTS endpoint_addresses (
    endpoint_id TEXT PRIMARY KEY,     -- an endpoints row
    network_id TEXT NOT NULL,
    address6 TEXT,                    -- IPv6 address without prefix length, NULL when none
    fixed6 INTEGER NOT NULL,          -- 1: asked for with --ip6
    link_local TEXT NOT NULL,         -- JSON list of --link-local-ip addresses
    UNIQUE (network_id, address6)
);
-- dockyard.network.ports
CREATE TABLE IF NOT EXISTS published_ports (
    container_id TEXT NOT NULL,
    port TEXT NOT NULL,               -- container port, "80/tcp"
    host_ip TEXT NOT NULL,            -- "0.0.0.0", "::", or the -p address
    host_port INTEGER NOT NULL,       -- the port the container's proxy holds
    seq INTEGER NOT NULL              -- order of the bindings of one container
);
-- dockyard.volume.store
CREATE TABLE IF NOT EXISTS volumes (
    name TEXT PRIMARY KEY,            -- local volume name, or 64 hex for an anonymous one
    driver TEXT NOT NULL,             -- "local"
    created TEXT NOT NULL,            -- RFC 3339, seconds
    labels TEXT NOT NULL,             -- JSON object, or null
    options TEXT NOT NULL             -- JSON object of driver options (-o), or null
);
CREATE TABLE IF NOT EXISTS container_mounts (
    container_id TEXT NOT NULL,
    destination TEXT NOT NULL,        -- clean absolute path in the container
    volume TEXT,                      -- the volume's name when the mount is a volume
    mount TEXT NOT NULL,              -- JSON: the mount point (Docker's MountPoint keys + own)
    PRIMARY KEY (container_id, destination)
);
CREATE INDEX IF NOT EXISTS container_mounts_volume ON container_mounts (volume);
CREATE TABLE IF NOT EXISTS volume_activity (
    volume TEXT NOT NULL,             -- a volume with driver options, mounted on its _data
    container_id TEXT NOT NULL,       -- a running container using it
    PRIMARY KEY (volume, container_id)
);
"""


class StateDB:
    """A connection to ``<root>/state.db`` with the schema applied.

    ``path`` is the database file; its directory is created if missing.
    Raises ``sqlite3.Error`` if the file is not a database, DiskFull if it cannot be
    opened for lack of space even after the reserve is released.
    """

    def __init__(self, path: str) -> None:
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        self.path = path
        self.reserve = path + "-reserve"
        self.connect()

    def connect(self) -> None:
        """Open the connection (again, after :meth:`close`), releasing the space reserve
        if the open fails for lack of space, and keeping one when there is room."""
        try:
            self._open()
        except sqlite3.OperationalError as e:
            if not self._short_of_space():
                raise
            try:
                if not self._release_reserve():
                    raise e
                self._open()
            except sqlite3.OperationalError:
                try:
                    self._open(exclusive=True)
                except sqlite3.OperationalError as again:
                    raise self.full(again) from None
        if not os.path.exists(self.reserve):
            self._make_reserve()

    def _open(self, exclusive: bool = False) -> None:
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            self.conn.row_factory = sqlite3.Row
            if exclusive:  # before the first WAL access: no -shm file (see above)
                self.conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            # The schema script only when this SCHEMA has not been applied yet (a third
            # of an open's CPU time otherwise); its CRC, kept as user_version, changes
            # with any edit of SCHEMA, whose statements all are IF NOT EXISTS.
            version = zlib.crc32(SCHEMA.encode()) & 0x7FFFFFFF
            if self.conn.execute("PRAGMA user_version").fetchone()[0] != version:
                self.conn.executescript(SCHEMA + f"PRAGMA user_version={version};")
        except BaseException:
            self.conn.close()
            raise

    def _free_bytes(self) -> int:
        st = os.statvfs(os.path.dirname(self.path))
        return st.f_bavail * st.f_frsize

    def _short_of_space(self) -> bool:
        return self._free_bytes() < RESERVE_BYTES

    def _release_reserve(self) -> bool:
        try:
            os.unlink(self.reserve)
        except FileNotFoundError:
            return False
        return True

    def _make_reserve(self) -> None:
        """Allocate the reserve (temp file, then rename) if there is room for it twice."""
        if self._free_bytes() < 2 * RESERVE_BYTES:
            return
        tmp = f"{self.reserve}.tmp-{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            finally:
                os.close(fd)
            os.rename(tmp, self.reserve)
        except OSError:
            # Racing another command, or the space went: try again at the next open.
            with contextlib.suppress(OSError):
                os.unlink(tmp)

    def full(self, e: sqlite3.Error) -> Exception:
        """``e`` as DiskFull naming the database when it is a lack of space, else ``e``."""
        text = str(e)
        if "full" in text or (isinstance(e, sqlite3.OperationalError) and self._short_of_space()):
            return DiskFull(f"cannot write the state database {self.path}: no space left on device")
        return e

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: commits on success, rolls back on any exception.
        Raises DiskFull when the database cannot be written for lack of space."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as e:
            raise self.full(e) from None
        try:
            yield self.conn
        except sqlite3.OperationalError as e:
            self._rollback()
            raise self.full(e) from None
        except BaseException:
            self._rollback()
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as e:
            self._rollback()
            raise self.full(e) from None

    def _rollback(self) -> None:
        # SQLite may already have rolled back (SQLITE_FULL does): no transaction then.
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def query(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        """Run a read-only statement and return all rows."""
        return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection. Close before ``fork()``: SQLite's per-process lock
        bookkeeping copied into a child makes the child's own connections lose their locks,
        and the parent's exit can then delete the WAL under the child."""
        self.conn.close()
