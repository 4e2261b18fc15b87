"""Resolve an untrusted path inside a root directory, as Go's filepath-securejoin does.

Architecture rule "paths never escape their root": every absolute symlink target and every
``..`` is interpreted as if the process were chrooted at the root.
"""

from __future__ import annotations

import os
import stat

from dockyard.errors import InvalidArgument

#: Symlinks followed before giving up (filepath-securejoin's limit).
MAX_LINK_HOPS = 255


def securejoin(root: str, path: str) -> str:
    """Join ``path`` onto ``root``, resolving symlinks and ``..`` without leaving ``root``.

    ``root`` is a trusted directory path (made absolute); ``path`` is untrusted (from an
    archive or image). Each component is looked up with ``lstat``; a symlink's target is
    expanded in place, an absolute target restarting at ``root`` and ``..`` never going
    above it. Components that do not exist are appended as they are. The result is an
    absolute path under ``root`` whose existing components contain no symlinks.

    Raises ``InvalidArgument`` after more than 255 symlink hops (a loop).
    """
    root = os.path.abspath(root)
    resolved: list[str] = []
    remaining = path
    hops = 0
    while remaining:
        part, _, remaining = remaining.partition("/")
        if part in ("", "."):
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        hops += 1
        if hops > MAX_LINK_HOPS:
            raise InvalidArgument(f"too many levels of symbolic links resolving {path!r} in {root}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved.clear()
        remaining = target + "/" + remaining if remaining else target
    return os.path.join(root, *resolved)
