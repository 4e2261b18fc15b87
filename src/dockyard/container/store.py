"""Container records in the state database, in Docker's object shape."""

from __future__ import annotations

from dockyard.errors import Conflict, NotFound
from dockyard.record import Record

TYPE_CHECKING = False  # typing, json and dataclasses are not imported: `ps` is one import
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from dockyard.state import StateDB

ZERO_TIME = "0001-01-01T00:00:00Z"


def initial_state() -> dict[str, Any]:
    """Docker's State object of a container that was created and never started."""
    return {
        "Status": "created",
        "Running": False,
        "Paused": False,
        "Restarting": False,
        "OOMKilled": False,
        "Dead": False,
        "Pid": 0,
        "ExitCode": 0,
        "Error": "",
        "StartedAt": ZERO_TIME,
        "FinishedAt": ZERO_TIME,
    }


class Container(Record):
    """One container: ``config`` is Docker's Config, ``host_config`` its HostConfig and
    ``state`` its State (all JSON-shaped dicts, as ``docker inspect`` shows them); equal
    to another of the same fields."""

    # A plain class, not a dataclass: dataclasses' import (with inspect and re) cost
    # `ps` a fifth of its CPU time.
    _FIELDS = ("id", "name", "image_id", "created", "config", "host_config", "state")

    def __init__(
        self,
        id: str,
        name: str,
        image_id: str,
        created: str,
        config: dict[str, Any],
        host_config: dict[str, Any],
        state: dict[str, Any],
    ) -> None:
        self.id = id
        self.name = name
        self.image_id = image_id
        self.created = created
        self.config = config
        self.host_config = host_config
        self.state = state

    @property
    def short_id(self) -> str:
        return self.id[:12]


class ContainerStore:
    """CRUD for container rows. Names are unique (the database enforces it)."""

    def __init__(self, db: StateDB) -> None:
        self.db = db

    @staticmethod
    def _from_row(row: Any) -> Container:
        import json  # here: an empty engine's `ps` decodes nothing

        return Container(
            id=row["id"],
            name=row["name"],
            image_id=row["image_id"],
            created=row["created"],
            config=json.loads(row["config"]),
            host_config=json.loads(row["host_config"]),
            state=json.loads(row["state"]),
        )

    def add(self, c: Container) -> None:
        """Insert ``c``; raises Conflict with Docker's message when the name is taken."""
        import json

        with self.db.write() as conn:
            row = conn.execute("SELECT id FROM containers WHERE name = ?", (c.name,)).fetchone()
            if row is not None:
                raise Conflict(
                    f'Conflict. The container name "/{c.name}" is already in use by container '
                    f'"{row["id"]}". You have to remove (or rename) that container to be able '
                    "to reuse that name."
                )
            conn.execute(
                "INSERT INTO containers (id, name, image_id, created, config, host_config, state)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    c.id,
                    c.name,
                    c.image_id,
                    c.created,
                    json.dumps(c.config),
                    json.dumps(c.host_config),
                    json.dumps(c.state),
                ),
            )

    def save_state(self, c: Container) -> None:
        """Persist ``c.state``, except its Health, which only :meth:`update_health`
        writes (the stored one is kept, so a health probe's result is never undone)."""
        import json

        with self.db.write() as conn:
            row = conn.execute("SELECT state FROM containers WHERE id = ?", (c.id,)).fetchone()
            state = dict(c.state)
            state.pop("Health", None)
            health = json.loads(row["state"]).get("Health") if row is not None else None
            if health is not None:
                state["Health"] = health
            c.state = state
            conn.execute("UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), c.id))

    def update_health(
        self, container_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> dict[str, Any]:
        """Replace State.Health by ``change(current Health or {})`` in one write
        transaction, leaving every other State key as stored; returns the new Health.
        Raises NotFound when the container is gone."""
        import json

        with self.db.write() as conn:
            row = conn.execute(
                "SELECT state FROM containers WHERE id = ?", (container_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"No such container: {container_id}")
            state = json.loads(row["state"])
            state["Health"] = change(state.get("Health") or {})
            conn.execute(
                "UPDATE containers SET state = ? WHERE id = ?", (json.dumps(state), container_id)
            )
        return dict(state["Health"])

    def update_host_config(
        self, container_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Replace HostConfig by ``change(current HostConfig)`` in one write transaction
        (``change`` may raise to leave it as it is); returns (old, new). Raises NotFound
        when the container is gone."""
        import json

        with self.db.write() as conn:
            row = conn.execute(
                "SELECT host_config FROM containers WHERE id = ?", (container_id,)
            ).fetchone()
            if row is None:
                raise NotFound(f"No such container: {container_id}")
            old = json.loads(row["host_config"])
            new = change(json.loads(row["host_config"]))
            conn.execute(
                "UPDATE containers SET host_config = ? WHERE id = ?",
                (json.dumps(new), container_id),
            )
        return old, new

    def rename(self, container_id: str, name: str) -> None:
        """Give the container ``container_id`` the (validated) ``name``; raises Conflict
        with Docker's message when another container has it (the UNIQUE constraint)."""
        import sqlite3

        try:
            with self.db.write() as conn:
                conn.execute("UPDATE containers SET name = ? WHERE id = ?", (name, container_id))
        except sqlite3.IntegrityError:
            row = self.db.query("SELECT id FROM containers WHERE name = ?", (name,))
            owner = row[0]["id"] if row else ""
            raise Conflict(
                f'Error when allocating new name: Conflict. The container name "/{name}" is '
                f'already in use by container "{owner}". You have to remove (or rename) that '
                "container to be able to reuse that name."
            ) from None

    def delete(self, container_id: str) -> bool:
        """Delete the record; whether there was one."""
        with self.db.write() as conn:
            return conn.execute("DELETE FROM containers WHERE id = ?", (container_id,)).rowcount > 0

    def list(self) -> list[Container]:
        """All containers, newest first."""
        rows = self.db.query("SELECT * FROM containers ORDER BY created DESC")
        return [self._from_row(r) for r in rows]

    def get(self, ref: str) -> Container:
        """Find by full ID, name (with or without ``/``) or unique ID prefix, as Docker.

        Raises NotFound ``No such container: <ref>``.
        """
        name = ref.lstrip("/")
        rows = self.db.query("SELECT * FROM containers WHERE id = ? OR name = ?", (ref, name))
        if not rows and ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.db.query("SELECT * FROM containers WHERE id LIKE ?", (ref + "%",))
            if len(rows) > 1:
                raise NotFound(f"Multiple IDs found with provided prefix: {ref}")
        if not rows:
            raise NotFound(f"No such container: {ref}")
        # An exact name match wins over an ID that is also someone's name.
        rows.sort(key=lambda r: r["id"] != ref)
        return self._from_row(rows[0])
