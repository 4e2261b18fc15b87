"""What ``ps``, ``images`` and ``volume ls`` print, without click: shared by their click
commands (cli/containers.py, cli/images.py, cli/volumes.py) and the fast path of
:mod:`dockyard.cli.fastlist`, so both print the same bytes.

Imports nothing heavy at its top (no click, ``re``, ``typing``, ``json``): a ``--format``
that is more than fields separated by tabs loads the Go template engine
(:mod:`dockyard.cli.formatting`); the default tables, ``-q`` and such plain formats are
laid out here (bench/README.md, "CLI start-up").
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing itself is not imported: it costs a listing ~5 ms of CPU
if TYPE_CHECKING:
    from typing import Any

TABLE_PREFIX = "table"

# -- ps ---------------------------------------------------------------------------------

PS_HEADERS = {
    "ID": "CONTAINER ID",
    "Image": "IMAGE",
    "Command": "COMMAND",
    "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED",
    "Ports": "PORTS",
    "State": "STATE",
    "Status": "STATUS",
    "Size": "SIZE",
    "Names": "NAMES",
    "Labels": "LABELS",
    "Mounts": "MOUNTS",
    "Networks": "NETWORKS",
    "LocalVolumes": "LOCAL VOLUMES",
}
PS_DEFAULT = (
    "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
)
# {{.Label "key"}} is a method call in Docker's template contexts; here an index of a map.
_LABEL_CALL = r'(?<![\w.])\.Label\s+("(?:[^"\\]|\\.)*"|`[^`]*`)'


def _label_calls(fmt: str) -> str:
    """``fmt`` with ``.Label "key"`` turned into ``index .Label "key"``."""
    if ".Label" not in fmt:
        return fmt
    import re

    return re.sub(_LABEL_CALL, r"index .Label \1", fmt)


def _command_text(summary: dict[str, Any], no_trunc: bool) -> str:
    text = summary["Command"]
    if not no_trunc and len(text) > 20:
        text = text[:19] + "…"
    return f'"{text}"'


def ps_row(summary: dict[str, Any], no_trunc: bool, now: float) -> dict[str, Any]:
    """The ``ps`` format context of a ContainerSummary (docker/cli formatter's
    ContainerContext); ``now`` in seconds since the epoch."""
    import time

    from dockyard.humanize import human_duration, human_size

    labels = summary.get("Labels") or {}
    mounts = summary.get("Mounts") or []
    # Docker's ps Mounts: volume names (bind sources), each cut to 15 characters.
    mount_names = [m.get("Name") or m["Source"] for m in mounts]
    if not no_trunc:
        mount_names = [n if len(n) <= 15 else n[:12] + "..." for n in mount_names]
    size = ""
    if "SizeRw" in summary:
        rw, virtual = summary["SizeRw"], summary.get("SizeRootFs", 0)
        size = f"{human_size(rw)} (virtual {human_size(virtual)})" if virtual else human_size(rw)
    ports = summary.get("Ports") or []
    if ports:
        from dockyard.cli.formatting import displayable_ports
    created = summary["Created"]
    return {
        "Command": _command_text(summary, no_trunc),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
        "ID": summary["Id"] if no_trunc else summary["Id"][:12],
        "Image": summary["Image"],
        "Labels": ",".join(f"{k}={v}" for k, v in labels.items()),
        "LocalVolumes": str(sum(m.get("Driver") == "local" for m in mounts)),
        "Mounts": ",".join(mount_names),
        "Names": _names(summary["Names"], no_trunc),
        "Networks": ",".join((summary.get("NetworkSettings") or {}).get("Networks") or {}),
        "Ports": displayable_ports(ports) if ports else "",
        "RunningFor": human_duration(now - created) + " ago",
        "Size": size,
        "State": summary["State"],
        "Status": summary["Status"],
        "Label": Labels(labels),
    }


def _names(names: list[str], no_trunc: bool) -> str:
    """The NAMES column (docker/cli's Names()): the container's own name only, without
    ``--no-trunc``; with it, its legacy link names (``PARENT/ALIAS``) too."""
    names = [n.removeprefix("/") for n in names]
    if not no_trunc:
        names = [n for n in names if "/" not in n][:1] or names
    return ",".join(names)


class Labels(dict[str, str]):
    """An object's labels for ``{{.Label "key"}}``: a missing key is "" as in Go."""

    def get(self, key: str, default: Any = "") -> Any:
        return super().get(key, default)


class LabelHeader(dict[str, str]):
    """``{{.Label "key"}}`` in a table header row."""

    def get(self, key: str, default: Any = None) -> Any:
        return "LABEL"


def ps_text(
    engine: Any,
    *,
    all_: bool = False,
    filters: tuple[str, ...] = (),
    format_: str = "",
    last: int = -1,
    latest: bool = False,
    no_trunc: bool = False,
    quiet: bool = False,
    size: bool = False,
) -> str:
    """What ``docker ps`` prints with these flags, from ``engine`` (the facade).

    Raises InvalidArgument (a bad filter), NotFound, TemplateError (a bad ``--format``).
    """
    import time

    from dockyard.cli.opts import parse_filters

    parsed = parse_filters(filters)
    if latest:
        last = 1
    if quiet and format_ in ("", "table"):
        format_ = "{{.ID}}"
    elif format_ in ("", "table"):
        format_ = PS_DEFAULT + ("\t{{.Size}}" if size else "")
    with_size = size or ".Size" in format_ or format_.strip() == "json"
    found = engine.container_list(all=all_, limit=last, size=with_size, filters=parsed)
    now = time.time()
    rows = [ps_row(c, no_trunc, now) for c in found]
    is_table = format_.startswith(TABLE_PREFIX)
    body = _normalize(format_[len(TABLE_PREFIX) :] if is_table else format_)
    if body == "json":
        body = "{{json .}}"
        rows = [{k: v for k, v in r.items() if k != "Label"} for r in rows]
    body = _label_calls(body)
    headers = {**PS_HEADERS, "Label": LabelHeader()}
    return _render(body, is_table, rows, headers, strict=True)


# -- images -----------------------------------------------------------------------------

IMAGE_HEADERS = {
    "ID": "IMAGE ID",
    "Repository": "REPOSITORY",
    "Tag": "TAG",
    "Digest": "DIGEST",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "Size": "SIZE",
    "Containers": "CONTAINERS",
    "SharedSize": "SHARED SIZE",
    "UniqueSize": "UNIQUE SIZE",
    "VirtualSize": "VIRTUAL SIZE",
}
DEFAULT_IMAGES_FORMAT = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGESTS_IMAGES_FORMAT = (
    "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
)


def image_rows(images: list[Any], no_trunc: bool, now: float) -> list[dict[str, str]]:
    """One ``docker images`` row context per tag (or one ``<none>`` row per untagged image)
    of the ImageSummary list ``images``; ``now`` in seconds since the epoch.

    Keys are the Docker CLI's image format fields, values strings.
    """
    if not images:
        return []
    import time

    from dockyard import reference
    from dockyard.humanize import human_duration, human_size

    rows = []
    for img in images:
        created = img["Created"]
        size = human_size(img["Size"])
        common = {
            "Containers": "N/A",
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S %z %Z", time.localtime(created)),
            "CreatedSince": human_duration(now - created) + " ago" if created > 0 else "N/A",
            "Digest": "<none>",
            "ID": img["Id"] if no_trunc else img["Id"].removeprefix("sha256:")[:12],
            "SharedSize": "N/A",
            "Size": size,
            "UniqueSize": "N/A",
            "VirtualSize": size,
        }
        refs = [reference.parse(t) for t in img["RepoTags"]]
        digests: dict[str, str | None] = {}
        for d in img["RepoDigests"]:
            dref = reference.parse(d)
            digests.setdefault(dref.familiar_name(), dref.digest)
        pairs = sorted((r.familiar_name(), r.tag or "<none>") for r in refs)
        # A repository known only by digest gets a <none> tag row, as in Docker.
        named = {repo for repo, _ in pairs}
        pairs += sorted((repo, "<none>") for repo in digests if repo not in named)
        for repo, tag in pairs or [("<none>", "<none>")]:
            row = {**common, "Repository": repo, "Tag": tag}
            row["Digest"] = digests.get(repo) or "<none>"
            rows.append(dict(sorted(row.items())))
    return rows


def images_text(
    engine: Any,
    filters: dict[str, list[str]],
    *,
    repository: str | None = None,
    all_: bool = False,
    digests: bool = False,
    fmt: str = "",
    no_trunc: bool = False,
    quiet: bool = False,
) -> str:
    """What ``docker images`` prints with these flags (``filters`` as parsed by
    :func:`dockyard.cli.opts.parse_filters`), from ``engine`` (the facade).

    Raises InvalidArgument (a bad filter), NotFound, TemplateError (a bad ``--format``).
    """
    import time

    if repository:
        # docker/cli runImages: the argument is one more reference filter.
        filters.setdefault("reference", []).append(repository)
    found = engine.image_list(all=all_, filters=filters)
    rows = image_rows(found, no_trunc, time.time())
    if quiet and fmt in ("", "table"):
        fmt = "{{.ID}}"
        rows = list({r["ID"]: r for r in rows}.values())
    default = DIGESTS_IMAGES_FORMAT if digests else DEFAULT_IMAGES_FORMAT
    return format_items(fmt, rows, IMAGE_HEADERS, default=default)


# -- volume ls --------------------------------------------------------------------------

VOLUME_LS_DEFAULT = "table {{.Driver}}\t{{.Name}}"
#: docker/cli's clusterTableFormat (``volume ls --cluster``).
CLUSTER_LS_FORMAT = "table {{.Name}}\t{{.Group}}\t{{.Driver}}\t{{.Availability}}\t{{.Status}}"
VOLUME_HEADERS = {
    "Name": "VOLUME NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "Mountpoint": "MOUNTPOINT",
    "Labels": "LABELS",
    "Links": "LINKS",
    "Size": "SIZE",
    "Group": "GROUP",
    "Availability": "AVAILABILITY",
    "Status": "STATUS",
}


def volume_row(v: dict[str, Any]) -> dict[str, Any]:
    """Docker's volume format context (``volume ls --format``) of a Volume object, keys
    sorted as its JSON."""
    labels = v.get("Labels") or {}
    return {
        "Availability": "N/A",
        "Driver": v["Driver"],
        "Group": "N/A",
        "Labels": ",".join(f"{k}={val}" for k, val in sorted(labels.items())),
        "Links": "N/A",
        "Mountpoint": v["Mountpoint"],
        "Name": v["Name"],
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    }


def natural_key(name: str) -> list[tuple[int, int, str]]:
    """docker/cli's sortorder.NaturalLess as a sort key (digit runs by value)."""
    import re

    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name)]


def volume_ls_text(
    engine: Any,
    *,
    filters: tuple[str, ...] = (),
    format_: str = "",
    quiet: bool = False,
    cluster: bool = False,
) -> str:
    """What ``docker volume ls`` prints with these flags, from ``engine`` (the facade).

    Raises InvalidArgument (a bad filter), TemplateError (a bad ``--format``).
    """
    from dockyard.cli.opts import parse_filters

    volumes = engine.volume_list(parse_filters(filters))["Volumes"]
    if cluster:
        # Cluster volumes are swarm's: none here. docker/cli's cluster table, empty.
        volumes = [v for v in volumes if v.get("ClusterVolume")]
        if not quiet and not format_:
            format_ = CLUSTER_LS_FORMAT
    if len(volumes) > 1:
        volumes.sort(key=lambda v: natural_key(v["Name"]))
    if quiet:
        return "".join(v["Name"] + "\n" for v in volumes)
    fmt = format_ or VOLUME_LS_DEFAULT
    rows: list[dict[str, Any]] = [volume_row(v) for v in volumes]
    if fmt.strip() not in ("json", "table json"):
        fmt = _label_calls(fmt)
        rows = [
            {**r, "Label": Labels(v.get("Labels") or {})}
            for r, v in zip(rows, volumes, strict=True)
        ]
    headers: dict[str, Any] = {**VOLUME_HEADERS, "Label": LabelHeader()}
    return format_items(fmt, rows, headers, default=VOLUME_LS_DEFAULT)


# -- rendering --------------------------------------------------------------------------


def _normalize(fmt: str) -> str:
    """The Docker CLI's pre-formatting (formatting.normalize)."""
    return fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")


def format_items(
    fmt: str, items: list[dict[str, Any]], headers: dict[str, Any], *, default: str
) -> str:
    """:func:`dockyard.cli.formatting.format_items` (strict), laying out a plain format
    itself (see :func:`_render`)."""
    if fmt.strip() in ("", TABLE_PREFIX) and default:
        fmt = default
    is_table = fmt.startswith(TABLE_PREFIX)
    body = _normalize(fmt[len(TABLE_PREFIX) :] if is_table else fmt)
    if body == "json":
        body = "{{json .}}"
    return _render(body, is_table, items, headers, strict=True)


def _render(
    body: str, is_table: bool, rows: list[dict[str, Any]], headers: dict[str, Any], strict: bool
) -> str:
    """``rows`` rendered with the template ``body`` (normalized, without ``table``), as
    formatting.format_items does: a header row from ``headers`` and tabwriter's layout
    when ``is_table``. A body of only ``{{.Field}}`` cells separated by tabs, each a
    string of every row and a key of ``headers``, is laid out without the template
    engine; anything else goes through it. Raises TemplateError."""
    fields = _plain_fields(body)
    if (
        fields is not None
        and all(isinstance(r.get(f), str) for r in rows for f in fields)
        and (not is_table or all(isinstance(headers.get(f), str) for f in fields))
    ):
        lines = ["\t".join(r[f] for f in fields) + "\n" for r in rows]
        if not is_table:
            return "".join(lines)
        from dockyard.cli.tabwriter import tabwrite

        return tabwrite("\t".join(headers[f] for f in fields) + "\n" + "".join(lines))
    from dockyard.cli.formatting import HEADER_FUNCS, Template, tabwrite

    tmpl = Template(body)
    out = "".join(tmpl.execute(r, strict=strict) + "\n" for r in rows)
    if not is_table:
        return out
    header = tmpl.execute(dict(headers), strict=False, funcs=HEADER_FUNCS)
    return tabwrite(header + "\n" + out)


def _plain_fields(body: str) -> list[str] | None:
    """The field names of a body ``{{.A}}\\t{{.B}}...`` (nothing else, no spaces), else
    None."""
    fields = []
    for cell in body.split("\t"):
        if not (cell.startswith("{{.") and cell.endswith("}}")):
            return None
        name = cell[3:-2]
        if not (name.isidentifier() and name.isascii()):
            return None
        fields.append(name)
    return fields
