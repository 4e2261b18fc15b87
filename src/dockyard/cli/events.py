"""``dockyard events`` and ``dockyard system events`` (docker/cli
``cli/command/system/events.go``): the engine's events, past ones with ``--since``/
``--until``, then new ones as any command, monitor or the API service records them,
until ``--until`` or an interrupt."""

from __future__ import annotations

import datetime
import sys
from typing import Any

import click

from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError
from dockyard.paths import Paths

#: The Go field names of moby's events.Message a ``--format`` template uses, and the
#: JSON keys (and zero values) they read.
_GO_FIELDS: dict[str, tuple[str, Any]] = {
    "Status": ("status", ""),
    "ID": ("id", ""),
    "From": ("from", ""),
    "Type": ("Type", ""),
    "Action": ("Action", ""),
    "Actor": ("Actor", {"ID": "", "Attributes": {}}),
    "Scope": ("scope", ""),
    "Time": ("time", 0),
    "TimeNano": ("timeNano", 0),
}


class _Message(dict[str, Any]):
    """An event message as a template sees it: fields by their Go names (``.Status``,
    ``.TimeNano``, zero values for the absent ones), while ``json`` encodes the JSON
    object itself."""

    def __contains__(self, key: object) -> bool:
        return key in _GO_FIELDS

    def __getitem__(self, key: str) -> Any:
        json_key, zero = _GO_FIELDS[key]
        value = dict.get(self, json_key, zero)
        if key == "Actor":
            attributes = _Attributes(value.get("Attributes") or {})
            return {"ID": value.get("ID", ""), "Attributes": attributes}
        return value


class _Attributes(dict[str, str]):
    """The actor's attributes, a Go map: a missing key is ``<no value>``, not an error."""

    def __contains__(self, key: object) -> bool:
        return True

    def __getitem__(self, key: str) -> Any:
        return dict.get(self, key)


def pretty(message: dict[str, Any]) -> str:
    """Docker's default line (prettyPrintEvent): the time in the local zone with fixed
    nanoseconds, type, action, actor ID and the sorted attributes in parentheses."""
    out = ""
    nano = message.get("timeNano") or 0
    seconds = message.get("time") or 0
    if nano or seconds:
        ns = nano or seconds * 1_000_000_000
        t = datetime.datetime.fromtimestamp(ns // 1_000_000_000).astimezone()
        offset = t.strftime("%z")
        zone = "Z" if offset in ("+0000", "") else f"{offset[:3]}:{offset[3:]}"
        out = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns % 1_000_000_000:09d}{zone} "
    actor = message.get("Actor") or {}
    out += f"{message.get('Type', '')} {message.get('Action', '')} {actor.get('ID', '')}"
    attributes = actor.get("Attributes") or {}
    if attributes:
        out += " (" + ", ".join(f"{k}={v}" for k, v in sorted(attributes.items())) + ")"
    return out


def _template(fmt: str) -> Any:
    """The ``--format`` template (``json``: ``{{json .}}``), checked on an empty message
    as the Docker CLI does; exits 64 with ``Error parsing format: ...`` if it is bad."""
    from dockyard.cli.formatting import Template, TemplateError, normalize

    if not fmt:
        return None
    body = "{{json .}}" if fmt == "json" else normalize(fmt)
    try:
        tmpl = Template(body)
        tmpl.execute(_Message(), strict=True)
    except TemplateError as e:
        click.echo(f"Error parsing format: {e}", err=True)
        sys.exit(64)
    return tmpl


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help="Filter output based on conditions provided",
)
@click.option("--format", "format_", default="", help="Format output using a custom template")
@click.option("--since", default="", help="Show all events created since timestamp")
@click.option("--until", default="", help="Stream events until this timestamp")
@click.pass_obj
def events(paths: Paths, filters: tuple[str, ...], format_: str, since: str, until: str) -> None:
    """Get real time events from the server"""
    from dockyard.cli.engine import open_engine
    from dockyard.cli.formatting import TemplateError
    from dockyard.cli.opts import parse_filters
    from dockyard.timetypes import get_timestamp

    tmpl = _template(format_)
    try:
        parsed = parse_filters(filters)
        since_arg = get_timestamp(since) if since else ""
        until_arg = get_timestamp(until) if until else ""
    except DockyardError as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    try:
        stream = open_engine(paths).system_events(since_arg, until_arg, parsed)
        out = sys.stdout
        for message in stream:
            if message is None:
                continue
            line = pretty(message) if tmpl is None else tmpl.execute(_Message(message), strict=True)
            out.write(line + "\n")
            out.flush()
    except TemplateError as e:
        click.echo(str(e), err=True)
        sys.exit(1)
    except DockyardError as e:
        # A client-side error (an unreachable -H endpoint) is not the daemon's response.
        prefix = "" if getattr(e, "from_client", False) else "Error response from daemon: "
        click.echo(f"{prefix}{e}", err=True)
        sys.exit(1)
