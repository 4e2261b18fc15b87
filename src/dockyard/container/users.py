"""Resolve ``--user`` / the image's User against the container's /etc/passwd and /etc/group,
as runc's libcontainer/user GetExecUser does (names looked up in the image, numeric IDs
accepted even when absent from the files)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from dockyard.errors import RuntimeFailure

#: The largest uid/gid a container may use (runc's limit, 2^31 - 1).
MAX_ID = 2**31 - 1


@dataclass
class ExecUser:
    """The process identity: numeric uid, gid, supplementary gids and home directory."""

    uid: int = 0
    gid: int = 0
    additional_gids: list[int] = field(default_factory=list)
    home: str = "/"


def _read_db(path: str) -> list[list[str]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return [
                line.rstrip("\n").split(":")
                for line in f
                if line.strip() and not line.startswith("#")
            ]
    except OSError:
        return []


def resolve_user(rootfs_etc: str, spec: str) -> ExecUser:
    """Resolve ``spec`` (``""``, ``name``, ``uid``, ``name:group``, ``uid:gid``) using the
    ``passwd`` and ``group`` files in the directory ``rootfs_etc`` (the container's /etc,
    already resolved inside its rootfs).

    Raises RuntimeFailure (exit 125) with runc's message when a name is not found.
    """
    user_part, _, group_part = (spec or "0").partition(":")
    passwd = _read_db(os.path.join(rootfs_etc, "passwd"))
    groups = _read_db(os.path.join(rootfs_etc, "group"))
    result = ExecUser()
    entry = next(
        (p for p in passwd if len(p) >= 7 and (p[0] == user_part or p[2] == user_part)), None
    )
    if entry is not None:
        result.uid, result.gid, result.home = int(entry[2]), int(entry[3]), entry[5] or "/"
        name = entry[0]
    elif user_part.isdigit():
        result.uid, name = int(user_part), ""
    else:
        raise RuntimeFailure(f"unable to find user {user_part}: no matching entries in passwd file")
    if group_part:
        g = next(
            (g for g in groups if len(g) >= 3 and (g[0] == group_part or g[2] == group_part)), None
        )
        if g is not None:
            result.gid = int(g[2])
        elif group_part.isdigit():
            result.gid = int(group_part)
        else:
            raise RuntimeFailure(
                f"unable to find group {group_part}: no matching entries in group file"
            )
    elif name:
        result.additional_gids = [
            int(g[2])
            for g in groups
            if len(g) >= 4
            and name in g[3].split(",")
            and g[2].isdigit()
            and int(g[2]) != result.gid
        ]
    if not (0 <= result.uid <= MAX_ID and 0 <= result.gid <= MAX_ID):
        # -1 would mean "unchanged" to setresuid, i.e. root; runc refuses these too.
        raise RuntimeFailure(f"uids and gids must be in range 0-{MAX_ID}")
    return result
