"""Parsing of ``-v``, ``--mount``, ``--tmpfs`` and ``--volumes-from`` into Docker's shapes.

``-v`` strings stay strings (HostConfig.Binds, or Config.Volumes for an anonymous volume);
``--mount`` becomes Docker's API ``Mount`` object (HostConfig.Mounts); ``--tmpfs`` becomes
HostConfig.Tmpfs (path -> option string). Each is then turned into one mount point per
destination by :func:`mount_point_from_bind` / :func:`mount_point_from_mount`, with the
messages of moby's volume/mounts/linux_parser.go and docker/cli's opts/mount.go.
Pure Python and import-light: the CLI parses flags with it before the engine is loaded.
"""

from __future__ import annotations

import json
import os
import posixpath
import re

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

#: Names the local driver accepts (moby's RestrictedNameChars).
NAME_CHARS = "[a-zA-Z0-9][a-zA-Z0-9_.-]"
_NAME = re.compile(rf"{NAME_CHARS}+")

_RW_MODES = {"rw", "ro"}
_LABEL_MODES = {"z", "Z"}
_PROPAGATIONS = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}
_COPY_MODES = {"nocopy"}
_CONSISTENCY = {"consistent", "cached", "delegated"}
DEFAULT_PROPAGATION = "rprivate"


def clean_path(path: str) -> str:
    """Go's ``path.Clean``: ``posixpath.normpath`` keeps a leading ``//`` (POSIX allows it
    a meaning), Go and the kernel do not, so ``//`` is ``/`` and ``//x`` is ``/x``."""
    clean = posixpath.normpath(path)
    if clean.startswith("//"):
        clean = "/" + clean.lstrip("/")
    return clean


def shown_name(name: str) -> str:
    """``name`` for a one-line message: control characters escaped (as Go's ``%q``)."""
    return name if name.isprintable() else json.dumps(name, ensure_ascii=False)[1:-1]


def validate_volume_name(name: str) -> None:
    """Raise InvalidArgument ``create <name>: <why>`` unless ``name`` is a valid local
    volume name (moby's local driver validateName, as the daemon reports it)."""
    if len(name) == 1:
        raise InvalidArgument(
            f"create {shown_name(name)}: volume name is too short, names should be at least two "
            "alphanumeric characters"
        )
    # fullmatch: Go's ``$`` never matches before a trailing newline, Python's does.
    if not _NAME.fullmatch(name):
        shown = shown_name(name)
        raise InvalidArgument(
            f'create {shown}: "{shown}" includes invalid characters for a local volume name, '
            f'only "{NAME_CHARS}" are allowed. If you intended to pass a host directory, use '
            "absolute path"
        )


def _mode_parts(mode: str) -> list[str] | None:
    """The comma-separated parts of a ``-v`` mode, or None if it is not a valid mode
    (at most one of each kind: rw/ro, z/Z, propagation, nocopy, consistency)."""
    if not mode:
        return []
    parts = mode.split(",")
    for kinds in (_RW_MODES, _LABEL_MODES, _PROPAGATIONS, _COPY_MODES, _CONSISTENCY):
        if sum(p in kinds for p in parts) > 1:
            return None
    known = _RW_MODES | _LABEL_MODES | _PROPAGATIONS | _COPY_MODES | _CONSISTENCY
    if any(p not in known for p in parts):
        return None
    return parts


def split_bind(raw: str) -> tuple[str, str, str]:
    """``[SOURCE:]TARGET[:MODE]`` -> (source, target, mode); source "" for an anonymous
    volume. As moby's ParseMountRaw: an empty first part, more than three parts, and
    ``/path:MODE`` (a volume cannot have a mode) raise InvalidArgument ``invalid volume
    specification: '<raw>'``."""
    arr = raw.split(":", 3)
    if not arr[0] or len(arr) > 3:
        raise InvalidArgument(f"invalid volume specification: '{raw}'")
    if len(arr) == 1:
        return "", arr[0], ""
    if len(arr) == 2:
        if _mode_parts(arr[1]) is not None:
            raise InvalidArgument(f"invalid volume specification: '{raw}'")
        return arr[0], arr[1], ""
    return arr[0], arr[1], arr[2]


def check_volume_flag(raw: str) -> None:
    """The Docker CLI's own check of a ``-v`` value before it sends anything (compose's
    loader.ParseVolume): an empty value or an empty part, or a part after the third,
    raise InvalidArgument with its messages. A one-letter part before a colon is a
    Windows drive there and is kept with what follows, as it does."""
    if not raw:
        raise InvalidArgument("invalid empty volume spec")
    if len(raw) <= 2:
        return
    fields = 0
    buffer = ""
    for char in raw + "\0":
        if char == ":" and len(buffer) == 1 and buffer.isalpha():
            buffer += char
        elif char in (":", "\0"):
            if not buffer:
                raise InvalidArgument(f"invalid spec: {raw}: empty section between colons")
            if fields == 2 and char == ":":
                raise InvalidArgument(f"invalid spec: {raw}: too many colons")
            fields += 1
            buffer = ""
        else:
            buffer += char


def absolute_bind(raw: str) -> str:
    """The Docker CLI's handling of a ``-v`` value: :func:`check_volume_flag`, then a
    source that is a relative path starting with ``.`` made absolute (a source without
    ``/`` stays a volume name). Raises InvalidArgument."""
    check_volume_flag(raw)
    source, sep, rest = raw.partition(":")
    if sep and source.startswith(".") and rest:
        try:
            return os.path.abspath(source) + ":" + rest
        except OSError:
            pass  # no working directory (removed): kept as given, as the Docker CLI does
    return raw


def _check_target(kind: str, target: str) -> str:
    """The clean destination, or InvalidArgument with moby's validateMountConfig message
    (the root first, then a relative path)."""
    clean = clean_path(target)
    if clean == "/":
        raise InvalidArgument(
            f'invalid mount config for type "{kind}": invalid specification: '
            "destination can't be '/'"
        )
    if not target.startswith("/"):
        raise InvalidArgument(
            f"invalid mount config for type \"{kind}\": invalid mount path: '{target}' "
            "mount path must be absolute"
        )
    return clean


def _volume_mount_point(
    source: str, dest: str, mode: str, rw: bool, copy_data: bool
) -> dict[str, Any]:
    # One shape for -v and --mount volume mount points; an empty source is anonymous.
    if source:
        validate_volume_name(source)
    return {
        "Type": "volume",
        "Name": source,
        "Destination": dest,
        "Driver": "local",
        "Mode": mode,
        "RW": rw,
        "Propagation": "",
        "CopyData": copy_data,
        "Anonymous": not source,
    }


def mount_point_from_bind(raw: str) -> dict[str, Any]:
    """A ``-v`` value (HostConfig.Binds entry) as a mount point dict:
    ``Type`` (bind|volume), ``Name``, ``Source``, ``Destination``, ``Driver``, ``Mode``,
    ``RW``, ``Propagation`` (Docker's inspect Mounts keys) plus ``CopyData`` and
    ``Anonymous``. Raises InvalidArgument with moby's messages."""
    source, target, mode = split_bind(raw)
    parts = _mode_parts(mode)
    if parts is None:
        raise InvalidArgument(f"invalid mode: {mode}")
    kind = "bind" if source.startswith("/") else "volume"
    try:
        dest = _check_target(kind, target)
    except InvalidArgument as e:
        raise InvalidArgument(f"invalid volume specification: '{raw}': {e}") from None
    rw = "ro" not in parts
    propagation = next((p for p in parts if p in _PROPAGATIONS), "")
    if source.startswith("/"):
        if "nocopy" in parts:
            raise InvalidArgument(
                f"invalid volume specification: '{raw}': invalid mount config for type "
                '"bind": field VolumeOptions must not be specified'
            )
        return {
            "Type": "bind",
            "Source": clean_path(source),
            "Destination": dest,
            "Mode": mode,
            "RW": rw,
            "Propagation": propagation or DEFAULT_PROPAGATION,
            "CreateSource": True,
        }
    if propagation:
        raise InvalidArgument(
            f"invalid volume specification: '{raw}': invalid mount config for type "
            '"volume": field BindOptions must not be specified'
        )
    return _volume_mount_point(
        source, dest, mode or ("z" if source else ""), rw, "nocopy" not in parts
    )


def _parse_bool(key: str, value: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise InvalidArgument(f"invalid value for {key}: {value}")


def parse_mount_flag(value: str) -> dict[str, Any]:
    """A ``--mount`` value (CSV of key=value) as Docker's API ``Mount`` object.

    Keys: type (default volume), source|src, target|dst|destination, readonly|ro, bind-propagation,
    volume-nocopy, volume-label, volume-driver, volume-opt, tmpfs-size (bytes, go-units
    RAM sizes), tmpfs-mode (octal). Raises InvalidArgument with the Docker CLI's message,
    prefixed ``invalid argument "<value>" for "--mount" flag: ``.
    """
    try:
        return _parse_mount(value)
    except InvalidArgument as e:
        raise InvalidArgument(f'invalid argument "{value}" for "--mount" flag: {e}') from None


def _parse_mount(value: str) -> dict[str, Any]:
    import csv

    from dockyard.units import ram_in_bytes

    try:
        fields = next(csv.reader([value]))
    except (csv.Error, StopIteration) as e:
        raise InvalidArgument(str(e)) from None
    # docker/cli 28 (opts/mount.go): a volume unless a type is given; `type=` is an error.
    m: dict[str, Any] = {"Type": "volume"}
    volume: dict[str, Any] = {}
    bind: dict[str, Any] = {}
    tmpfs: dict[str, Any] = {}
    for field in fields:
        key, eq, val = field.partition("=")
        key = key.strip().lower()
        if not eq:
            if key in ("readonly", "ro"):
                m["ReadOnly"] = True
            elif key == "volume-nocopy":
                volume["NoCopy"] = True
            else:
                raise InvalidArgument(f"invalid field '{field}' must be a key=value pair")
            continue
        if key == "type":
            m["Type"] = val
        elif key in ("source", "src"):
            m["Source"] = val
        elif key in ("target", "dst", "destination"):
            m["Target"] = val
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = _parse_bool(key, val)
        elif key == "bind-propagation":
            bind["Propagation"] = val.lower()
        elif key == "volume-nocopy":
            volume["NoCopy"] = _parse_bool(key, val)
        elif key == "volume-label":
            k, _, v = val.partition("=")
            volume.setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            volume.setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            volume.setdefault("DriverConfig", {}).setdefault("Options", {})[k] = v
        elif key == "tmpfs-size":
            try:
                tmpfs["SizeBytes"] = ram_in_bytes(val, "--mount")
            except InvalidArgument:
                raise InvalidArgument(f"invalid value for {key}: {val}") from None
        elif key == "tmpfs-mode":
            # Go's strconv.ParseUint(val, 8, 32): octal digits only (no sign, prefix or _).
            if not re.fullmatch("[0-7]+", val) or int(val, 8) >= 1 << 32:
                raise InvalidArgument(f"invalid value for {key}: {val}")
            tmpfs["Mode"] = int(val, 8)
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{field}'")
    if not m["Type"]:
        raise InvalidArgument("type is required")
    if not m.get("Target"):
        raise InvalidArgument("target is required")
    for opts, prefix, kind, name in (
        (volume, "volume", "volume", "VolumeOptions"),
        (bind, "bind", "bind", "BindOptions"),
        (tmpfs, "tmpfs", "tmpfs", "TmpfsOptions"),
    ):
        if opts:
            if m["Type"] != kind:
                raise InvalidArgument(
                    f"cannot mix '{prefix}-*' options with mount type '{m['Type']}'"
                )
            m[name] = opts
    return m


def mount_point_from_mount(m: dict[str, Any]) -> dict[str, Any]:
    """A HostConfig.Mounts entry as a mount point dict (see :func:`mount_point_from_bind`;
    tmpfs mount points also carry ``TmpfsOptions``). Raises InvalidArgument with moby's
    ``invalid mount config for type "<type>": ...`` messages; a bind source must exist."""
    kind = m.get("Type", "")
    source = m.get("Source", "")

    def bad(reason: str) -> InvalidArgument:
        return InvalidArgument(f'invalid mount config for type "{kind}": {reason}')

    if kind not in ("bind", "volume", "tmpfs"):
        raise bad("mount type unknown")
    if not m.get("Target"):
        raise bad("field Target must not be empty")
    dest = _check_target(kind, m["Target"])
    rw = not m.get("ReadOnly")
    if kind != "bind" and m.get("BindOptions"):
        raise bad("field BindOptions must not be specified")
    if kind != "volume" and m.get("VolumeOptions"):
        raise bad("field VolumeOptions must not be specified")
    if kind != "tmpfs" and m.get("TmpfsOptions"):
        raise bad("field TmpfsOptions must not be specified")
    if kind == "bind":
        if not source:
            raise bad("field Source must not be empty")
        if not source.startswith("/"):
            raise bad(f"invalid mount path: '{source}' mount path must be absolute")
        if not os.path.exists(source):
            raise bad(f"bind source path does not exist: {source}")
        propagation = (m.get("BindOptions") or {}).get("Propagation") or DEFAULT_PROPAGATION
        if propagation not in _PROPAGATIONS:
            raise bad(f"invalid propagation mode: {propagation}")
        return {
            "Type": "bind",
            "Source": clean_path(source),
            "Destination": dest,
            "Mode": "",
            "RW": rw,
            "Propagation": propagation,
        }
    if kind == "tmpfs":
        if source:
            raise bad("field Source must not be specified")
        return {
            "Type": "tmpfs",
            "Source": "",
            "Destination": dest,
            "Mode": "",
            "RW": rw,
            "Propagation": "",
            "TmpfsOptions": dict(m.get("TmpfsOptions") or {}),
        }
    if not rw and not source:
        raise bad("must not set ReadOnly mode when using anonymous volumes")
    opts = m.get("VolumeOptions") or {}
    driver = (opts.get("DriverConfig") or {}).get("Name") or "local"
    if driver != "local":
        raise InvalidArgument(
            f'error looking up volume plugin {driver}: plugin "{driver}" not found'
        )
    return {
        **_volume_mount_point(source, dest, "z", rw, not opts.get("NoCopy")),
        "VolumeLabels": opts.get("Labels"),
        "VolumeOptions": (opts.get("DriverConfig") or {}).get("Options"),
    }


def parse_tmpfs_flag(value: str) -> tuple[str, str]:
    """``--tmpfs PATH[:OPTIONS]`` -> (path, options). Raises InvalidArgument."""
    path, _, options = value.partition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f'invalid argument "{value}" for "--tmpfs" flag: invalid path')
    path = clean_path(path)
    if path == "/":
        raise InvalidArgument("invalid specification: destination can't be '/'")
    return path, options


# Options whose later opposite cancels them (moby's MergeTmpfsOptions).
_OPPOSITES = {
    "ro": "rw",
    "rw": "ro",
    "exec": "noexec",
    "noexec": "exec",
    "suid": "nosuid",
    "nosuid": "suid",
    "dev": "nodev",
    "nodev": "dev",
    "atime": "noatime",
    "noatime": "atime",
}


def tmpfs_options(data: str) -> list[str]:
    """OCI options of a tmpfs mount: Docker's defaults ``noexec,nosuid,nodev`` and
    ``rprivate``, then ``data`` (``size=64m,mode=1770,exec``...), a later option
    replacing an earlier one of the same key or its opposite (moby MergeTmpfsOptions).
    Raises InvalidArgument for an unknown option."""
    options = ["noexec", "nosuid", "nodev", DEFAULT_PROPAGATION]
    if data:
        options.extend(o for o in data.split(",") if o)
    merged: list[str] = []
    for opt in options:
        key = opt.partition("=")[0]
        opposite = _OPPOSITES.get(opt)
        merged = [
            o for o in merged if o.partition("=")[0] != key and (opposite is None or o != opposite)
        ]
        merged.append(opt)
    return merged


def tmpfs_data(options: dict[str, Any], readonly: bool) -> str:
    """A ``--mount type=tmpfs`` TmpfsOptions (SizeBytes: bytes, Mode: int) as a tmpfs
    option string, as moby's ConvertTmpfsOptions (``size=65536k,mode=700,ro``)."""
    out = []
    size = int(options.get("SizeBytes") or 0)
    if size:
        suffix = ""
        for unit, factor in (("g", 1 << 30), ("m", 1 << 20), ("k", 1 << 10)):
            if size % factor == 0:
                size //= factor
                suffix = unit
                break
        out.append(f"size={size}{suffix}")
    mode = int(options.get("Mode") or 0)
    if mode:
        out.append(f"mode={mode:o}")
    if readonly:
        out.append("ro")
    return ",".join(out)


def parse_volumes_from(value: str) -> tuple[str, str]:
    """``CONTAINER[:MODE]`` -> (container, mode), as moby's ParseVolumesFrom: MODE is a
    ``-v`` mode without propagation or nocopy (``ro``, ``rw``, ``z``, ``ro,Z``...).
    Raises InvalidArgument."""
    if not value:
        raise InvalidArgument("volumes-from specification cannot be an empty string")
    ref, _, mode = value.partition(":")
    parts = _mode_parts(mode)
    if parts is None or any(p in _PROPAGATIONS or p in _COPY_MODES for p in parts):
        raise InvalidArgument(f"invalid mode: {mode}")
    return ref, mode
