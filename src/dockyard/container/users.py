"""Resolve ``--user`` / the image's User against the container's /etc/passwd and /etc/group,
as runc's libcontainer/user GetExecUser does (names looked up in the image, numeric IDs
accepted even when absent from the files)."""

from __future__ import annotations

import os

from dockyard.errors import RuntimeFailure
from dockyard.record import Record

#: The largest uid/gid a container may use (runc's limit, 2^31 - 1).
MAX_ID = 2**31 - 1


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class ExecUser(Record):
    """The process identity: numeric uid, gid, supplementary gids and home directory."""

    uid: int
    gid: int
    additional_gids: list[int]
    home: str

    _FIELDS = ("uid", "gid", "additional_gids", "home")

    def __init__(
        self,
        uid: int = 0,
        gid: int = 0,
        additional_gids: list[int] | None = None,
        home: str = "/",
    ) -> None:
        self.uid = uid
        self.gid = gid
        self.additional_gids = [] if additional_gids is None else additional_gids
        self.home = home


#: The most of an /etc/passwd or /etc/group file read (a container controls them).
MAX_DB_BYTES = 16 << 20


def _read_db(root_fd: int, path: str) -> list[list[str]]:
    """The entries of ``path`` resolved inside the root ``root_fd`` (openat2
    RESOLVE_IN_ROOT: a symlink in a running container cannot lead to a host file), if it
    is a regular file; at most MAX_DB_BYTES of it. Missing or unreadable: none."""
    import stat

    from dockyard.snapshot import inroot

    try:
        fd = inroot.open_in(root_fd, path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return []
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return []  # a FIFO or device would block or never end
        with os.fdopen(os.dup(fd), "rb") as f:
            text = f.read(MAX_DB_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return []
    finally:
        os.close(fd)
    return [
        line.split(":") for line in text.split("\n") if line.strip() and not line.startswith("#")
    ]


def resolve_user(rootfs: str, spec: str) -> ExecUser:
    """Resolve ``spec`` (``""``, ``name``, ``uid``, ``name:group``, ``uid:gid``) using the
    ``/etc/passwd`` and ``/etc/group`` files of the root directory ``rootfs`` (the
    container's, which may be running: both are resolved inside it through an fd).

    Raises RuntimeFailure (exit 125) with runc's message when a name is not found.
    """
    from dockyard.snapshot import inroot

    try:
        root_fd = inroot.open_root(rootfs)
    except OSError:
        passwd: list[list[str]] = []
        groups: list[list[str]] = []
    else:
        try:
            passwd = _read_db(root_fd, "/etc/passwd")
            groups = _read_db(root_fd, "/etc/group")
        finally:
            os.close(root_fd)
    user_part, _, group_part = (spec or "0").partition(":")
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


def additional_groups(rootfs: str, groups: list[str]) -> list[int]:
    """The gids of ``--group-add`` entries (group names or numbers) looked up in the
    ``/etc/group`` of the root directory ``rootfs``, as runc's GetAdditionalGroups.

    Raises RuntimeFailure with runc's message for a name that is not there or an id out
    of range."""
    from dockyard.snapshot import inroot

    try:
        root_fd = inroot.open_root(rootfs)
    except OSError:
        entries: list[list[str]] = []
    else:
        try:
            entries = _read_db(root_fd, "/etc/group")
        finally:
            os.close(root_fd)
    gids: list[int] = []
    for name in groups:
        entry = next((g for g in entries if len(g) >= 3 and g[0] == name), None)
        if entry is not None and entry[2].isdigit():
            gid = int(entry[2])
        elif name.isdigit():
            gid = int(name)
        else:
            raise RuntimeFailure(f"Unable to find group {name}: no matching entries in group file")
        if gid > MAX_ID:
            raise RuntimeFailure(f"Invalid additional group id {name}: out of range")
        if gid not in gids:
            gids.append(gid)
    return gids


def process_user(rootfs: str, spec: str, group_add: list[str] | None = None) -> ExecUser:
    """The identity of a container's process (its main one or an exec's) as moby's
    ``getUser`` (daemon/oci_linux.go) makes it: ``spec`` resolved by :func:`resolve_user`,
    then the supplementary groups are the primary gid first, the user's groups from
    /etc/group, and the ``--group-add`` ones (``group_add``: names or numbers).

    Raises RuntimeFailure as :func:`resolve_user` and :func:`additional_groups`."""
    user = resolve_user(rootfs, spec)
    extra = additional_groups(rootfs, group_add) if group_add else []
    user.additional_gids = [user.gid, *user.additional_gids, *extra]
    return user
