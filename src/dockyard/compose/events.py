"""``dockyard compose events`` (docker/compose ``cmd/compose/events.go`` and
``pkg/compose/events.go``): the engine's container events of one project, as Compose
prints them."""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

#: Labels Compose keeps out of an event's attributes (its own, com.docker.compose.*).
_COMPOSE_PREFIX = "com.docker.compose."


def _local(ns: int) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(ns // 1_000_000_000).astimezone()


def _go_time(ns: int) -> str:
    """``time.Time`` as Go's encoding/json writes it (RFC 3339 with the nanoseconds'
    trailing zeros cut, the local zone's offset or Z)."""
    t = _local(ns)
    fraction = f"{ns % 1_000_000_000:09d}".rstrip("0")
    offset = t.strftime("%z")
    zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
    return t.strftime("%Y-%m-%dT%H:%M:%S") + (f".{fraction}" if fraction else "") + zone


def line(event: dict[str, Any]) -> str:
    """Compose's text form (api.Event.String): ``2006-01-02 15:04:05.000000 container
    <action> <id> (k=v, ...)`` in local time; Compose leaves the attributes in Go's map
    order (random), here sorted. Compose prints it with Println after its own newline,
    so each event is followed by an empty line, as here."""
    ns = event["time"]
    stamp = _local(ns).strftime("%Y-%m-%d %H:%M:%S.") + f"{ns % 1_000_000_000 // 1000:06d}"
    attrs = ", ".join(f"{k}={v}" for k, v in sorted(event["attributes"].items()))
    return f"{stamp} container {event['action']} {event['id']} ({attrs})\n"


def project_events(
    engine: Any, project: str, services: list[str], since: str = "", until: str = ""
) -> Any:
    """The container events of ``project`` (``services`` only, if any), one-off
    containers (``compose run``) left out, as ``{time (ns), service, id, action,
    attributes}`` without Compose's own labels; None items as the facade's stream.
    ``since``/``until`` as the docker CLI takes them. Raises ComposeError (a bad time),
    InvalidArgument (``since`` after ``until``)."""
    from dockyard.compose.errors import ComposeError
    from dockyard.errors import InvalidArgument
    from dockyard.timetypes import get_timestamp

    try:  # the client's own check, not the engine's
        since, until = (get_timestamp(t) if t else "" for t in (since, until))
    except InvalidArgument as e:
        raise ComposeError(str(e)) from None
    stream = engine.system_events(
        since, until, {"label": [f"com.docker.compose.project={project.lower()}"]}
    )
    for message in stream:
        if message is None:
            yield None
            continue
        attributes = message["Actor"].get("Attributes") or {}
        if message["Type"] != "container" or attributes.get("com.docker.compose.oneoff") == "True":
            continue
        service = attributes.get("com.docker.compose.service", "")
        if services and service not in services:
            continue
        yield {
            "time": message.get("timeNano") or message["time"] * 1_000_000_000,
            "service": service,
            "id": message["Actor"]["ID"],
            "action": message["Action"],
            "attributes": {
                k: v for k, v in attributes.items() if not k.startswith(_COMPOSE_PREFIX)
            },
        }


def print_events(
    engine: Any, project: str, services: list[str], as_json: bool, since: str, until: str
) -> None:
    """Print the project's events as Compose does (``--json``: one object per line, its
    keys sorted as Go's map encoding) until ``until`` or an interrupt."""
    for event in project_events(engine, project, services, since, until):
        if event is None:
            continue
        if as_json:
            out = {
                "action": event["action"],
                "attributes": dict(sorted(event["attributes"].items())),
                "id": event["id"],
                "service": event["service"],
                "time": _go_time(event["time"]),
                "type": "container",
            }
            text = json.dumps(out, separators=(",", ":"), ensure_ascii=False) + "\n"
        else:
            text = line(event) + "\n"
        sys.stdout.write(text)
        sys.stdout.flush()
