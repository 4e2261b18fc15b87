"""Events (Engine API ``GET /events``, moby ``daemon/events`` and the system router's
getEvents): the engine's shared event log (:mod:`dockyard.events`) read, filtered and
followed as dockerd serves its events."""

from __future__ import annotations

import re
import time

from dockyard.engine.base import EngineBase
from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    # Annotations only: its TypedDicts cost every command ~1 ms to build.
    from dockyard.engine.types import Filters
    from dockyard.image.store import ImageStore

#: Event filters matched by name or ID prefix (moby's fuzzyMatchName), one per type.
_NAMED_TYPES = (
    "daemon",
    "container",
    "plugin",
    "volume",
    "network",
    "node",
    "service",
    "secret",
    "config",
)
#: ``event=`` values that match actions carrying a suffix (``exec_create: sh``).
_PREFIX_EVENTS = frozenset({"health_status", "exec_create", "exec_start"})


def parse_timestamp(value: str | None, name: str) -> int | None:
    """A ``since``/``until`` value as the API takes it (Unix seconds, optionally with a
    fraction: moby's ParseTimestamps) in nanoseconds; None when empty. Raises
    InvalidArgument naming the parameter."""
    if not value:
        return None
    seconds, dot, fraction = value.partition(".")
    # strconv.ParseInt: ASCII digits (Python's int() takes any script's), int64.
    if not (
        re.fullmatch(r"[+-]?[0-9]+", seconds)
        and (not dot or re.fullmatch(r"[0-9]+", fraction))
        and len(seconds.lstrip("+-0")) <= 19
        and abs(int(seconds)) < 1 << 63
        and (not dot or (len(fraction.lstrip("0")) <= 19 and int(fraction) < 1 << 63))
    ):
        raise InvalidArgument(
            f"invalid value for '{name}': strconv.ParseInt: parsing {value!r}: invalid syntax"
        )
    sec = int(seconds)
    nsec = int(fraction) if dot else 0
    if dot:
        nsec = int(nsec * 10 ** (9 - len(fraction)))
    return sec * 1_000_000_000 + nsec


def _exact(filters: Filters, key: str, value: str) -> bool:
    values = filters.get(key)
    return not values or value in values


def _fuzzy(filters: Filters, key: str, source: str) -> bool:
    values = filters.get(key)
    return not values or any(source.startswith(v) for v in values)


def _strip_tag(image: str) -> str:
    from dockyard.reference import parse

    try:
        return parse(image, default_tag=False).familiar_name()
    except InvalidArgument:
        return image


def _labels_match(filters: Filters, attributes: dict[str, str]) -> bool:
    wanted = filters.get("label")
    if not wanted:
        return True
    if not attributes:
        return False
    for spec in wanted:
        key, eq, value = spec.partition("=")
        if key not in attributes or (eq and attributes[key] != value):
            return False
    return True


def include(message: dict[str, Any], filters: Filters) -> bool:
    """Whether the event ``message`` passes ``filters`` (moby ``events.Filter.Include``):
    ``event`` (an action; health_status, exec_create and exec_start also match their
    suffixed forms), ``type``, ``scope``, ``container``/``volume``/``network``/
    ``daemon``... (the actor's ID or name, by prefix), ``image`` (an image event's ID or
    name, a container event's image, with or without the tag), ``label`` (``key`` or
    ``key=value`` of the attributes, all must match). Other keys are ignored, as by
    dockerd. Values of one key are alternatives; keys must all match."""
    if not filters:
        return True
    action = message["Action"]
    actor = message["Actor"]
    attributes = actor.get("Attributes") or {}
    if any(v in _PREFIX_EVENTS for v in filters.get("event", ())):
        if not _fuzzy(filters, "event", action):
            return False
    elif not _exact(filters, "event", action):
        return False
    if not _exact(filters, "type", message["Type"]):
        return False
    if "scope" in filters and not _exact(filters, "scope", message.get("scope", "")):
        return False
    for kind in _NAMED_TYPES:
        if not (
            _fuzzy(filters, kind, actor["ID"]) or _fuzzy(filters, kind, attributes.get("name", ""))
        ):
            return False
    if filters.get("image"):
        name = attributes.get("name" if message["Type"] == "image" else "image", "")
        if not any(
            _exact(filters, "image", candidate)
            for candidate in (actor["ID"], name, _strip_tag(actor["ID"]), _strip_tag(name))
        ):
            return False
    return _labels_match(filters, attributes)


def with_legacy_fields(message: dict[str, Any]) -> dict[str, Any]:
    """``message`` as API versions before 1.52 send it: container and image events
    start with the deprecated ``status`` (the action), ``id`` (the actor's) and, for
    containers with an image attribute, ``from`` (moby's backFillLegacy); attributes
    sorted by key, as Go encodes a map."""
    kind = message["Type"]
    attributes = message["Actor"].get("Attributes") or {}
    # Go encodes the attributes map with its keys sorted.
    actor = {"ID": message["Actor"]["ID"], "Attributes": dict(sorted(attributes.items()))}
    legacy: dict[str, Any] = {}
    if kind in ("container", "image"):
        # Docker 28's Message: status, id and from are omitempty.
        legacy = {"status": message["Action"]}
        if actor["ID"]:
            legacy["id"] = actor["ID"]
        if kind == "container" and attributes.get("image"):
            legacy["from"] = attributes["image"]
    return {**legacy, **message, "Actor": actor}


class EventOperations(EngineBase):
    """System events (Engine API: System)."""

    def system_events(
        self, since: str | None = None, until: str | None = None, filters: Filters | None = None
    ) -> Iterator[dict[str, Any] | None]:
        """``GET /events``: the recorded events between ``since`` and ``until`` (Unix
        seconds with an optional fraction, as the API's parameters; None or empty:
        unbounded),
        then, unless ``until`` has passed, each new event as any process of this engine
        records it, until ``until`` (or for ever: the caller stops iterating). As
        dockerd, without ``since`` and ``until`` no past event is sent. Each item is an
        EventMessage with the legacy fields (:func:`with_legacy_fields`), or None after
        a second without one (a streaming front end checks its client then).

        Raises InvalidArgument (a bad time, or ``since`` after ``until``, with dockerd's
        message) before anything is read."""
        from dockyard import events

        since_ns = parse_timestamp(since, "since")
        until_ns = parse_timestamp(until, "until")
        filters = filters or {}
        only_past = False
        if until_ns is not None:
            if since_ns is not None and until_ns < since_ns:
                raise InvalidArgument(
                    f"`since` time ({since}) cannot be after `until` time ({until})"
                )
            only_past = until_ns < time.time_ns()
        root = self.paths.root
        if only_past:
            stream: Iterator[dict[str, Any] | None] = iter(events.read(root))
        else:

            def past_until() -> bool:
                return until_ns is not None and time.time_ns() >= until_ns

            # Subscribed now, before the caller answers its client: nothing is missed.
            backlog = since_ns is not None or until_ns is not None
            stream = events.follow(root, backlog=backlog, stop=past_until)
        return self._events(stream, since_ns, until_ns, only_past, filters)

    @staticmethod
    def _events(
        stream: Iterator[dict[str, Any] | None],
        since_ns: int | None,
        until_ns: int | None,
        only_past: bool,
        filters: Filters,
    ) -> Iterator[dict[str, Any] | None]:
        for message in stream:
            if message is None:
                yield None
                continue
            stamp = message["timeNano"]
            if since_ns is not None and stamp < since_ns:
                continue
            if until_ns is not None and stamp > until_ns:
                if only_past:
                    continue
                break
            if include(message, filters):
                yield with_legacy_fields(message)


def prune_event(root: str, type: str, reclaimed: int) -> None:
    """The ``prune`` event of a container, image, volume or network prune (moby's: no
    actor ID, the bytes reclaimed as ``reclaimed``)."""
    from dockyard import events

    events.record(root, type, "prune", "", {"reclaimed": str(reclaimed)})


def tag_events(images: ImageStore, image_id: str, tags: list[str]) -> None:
    """The ``tag`` event of each of ``tags`` given to ``image_id`` (a build's ``-t``, as
    moby's TagImage records them)."""
    from dockyard import reference
    from dockyard.errors import DockyardError

    for tag in tags:
        try:
            name = reference.parse(tag).familiar()
        except DockyardError:
            continue  # refused by the build already
        image_event(images, image_id, name, "tag")


def image_event(images: ImageStore, image_id: str, ref_name: str, action: str) -> None:
    """Record the image event ``action`` of ``image_id`` (an ID, or the reference a pull
    or push names) as moby's LogImageEventWithAttributes: the image's labels when it
    exists (not after a delete), and ``name`` = ``ref_name``."""
    from dockyard import events
    from dockyard.errors import DockyardError

    attributes: dict[str, str] = {}
    try:
        image = images.resolve(image_id)
        attributes.update((image.config.get("config") or {}).get("Labels") or {})
    except (DockyardError, AttributeError, TypeError):
        pass
    if ref_name:
        attributes["name"] = ref_name
    events.record(images.paths.root, "image", action, image_id, attributes)
