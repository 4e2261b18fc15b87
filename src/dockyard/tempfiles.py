"""Names for temporary files and directories that say which process made them, so the
leftovers of a killed command (SIGKILL runs no cleanup) can be recognised and removed by
the next command that writes to the same place."""

from __future__ import annotations

import os


def temp_name(prefix: str) -> str:
    """``<prefix><pid>-<random hex>``: unique, and tied to this process."""
    return f"{prefix}{os.getpid()}-{os.urandom(6).hex()}"


def _owner_alive(name: str, prefix: str) -> bool:
    pid_text = name[len(prefix) :].partition("-")[0]
    if not pid_text.isdigit():
        return True  # not ours to judge
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(directory: str, prefix: str) -> None:
    """Remove entries of ``directory`` named by :func:`temp_name` with ``prefix`` whose
    process is gone. A missing directory is fine."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return
    for name in names:
        if not name.startswith(prefix) or _owner_alive(name, prefix):
            continue
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            import shutil

            from dockyard.snapshot.overlay import unmount_under

            unmount_under(path)  # rmtree must not reach into a rootfs left mounted
            shutil.rmtree(path, ignore_errors=True)
        else:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
