"""OCI lifecycle hooks (config.md "POSIX-platform Hooks", runtime.md "Lifecycle").

A hook is ``{"path", "args", "env", "timeout"}``: ``path`` (absolute) is executed with
``args`` as its argv (``args[0]`` included), ``env`` as its whole environment and the
container's state (runtime.md "State", JSON) on stdin; a hook that exits non-zero or
outlives ``timeout`` seconds has failed. Where each kind runs, and what a failure does,
is the runtime's business (:mod:`dockyard.runtime.linux`, :mod:`dockyard.runtime.init`):

- ``prestart`` (deprecated) and ``createRuntime``: in the runtime's namespaces during
  ``create``, after the container's namespaces exist, before ``pivot_root``;
- ``createContainer``: in the container's namespaces at the same point (the path is
  resolved in the runtime's mount namespace, the rootfs not yet pivoted into);
- ``startContainer``: in the container, after ``start``, before the program's execve;
- ``poststart``: in the runtime's namespaces before ``start`` returns;
- ``poststop``: after ``delete`` removed the container, before it returns.

A failure of the first four is an error that stops and removes the container; of the
last two, a warning (the lifecycle goes on).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from typing import Any

from dockyard.errors import InvalidArgument

KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


class HookError(Exception):
    """A hook exited non-zero, ran past its timeout or could not be executed."""


def check(hooks: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    """Validate the spec's ``hooks`` object (``name`` names the file in errors) and
    return it with every kind present (empty lists). Raises InvalidArgument."""
    if hooks is None:
        return {k: [] for k in KINDS}
    if not isinstance(hooks, dict):
        raise InvalidArgument(f"{name}: hooks must be an object")
    out: dict[str, list[dict[str, Any]]] = {}
    for kind in KINDS:
        items = hooks.get(kind) or []
        if not isinstance(items, list):
            raise InvalidArgument(f"{name}: hooks.{kind} must be a list")
        for i, hook in enumerate(items):
            where = f"{name}: hooks.{kind}[{i}]"
            if not isinstance(hook, dict) or not isinstance(hook.get("path"), str):
                raise InvalidArgument(f"{where}.path must be a string")
            if not os.path.isabs(hook["path"]):
                raise InvalidArgument(f"{where}.path must be absolute")
            for key in ("args", "env"):
                value = hook.get(key)
                if value is not None and not (
                    isinstance(value, list) and all(isinstance(v, str) for v in value)
                ):
                    raise InvalidArgument(f"{where}.{key} must be a list of strings")
            timeout = hook.get("timeout")
            if timeout is not None and (not isinstance(timeout, int) or timeout <= 0):
                raise InvalidArgument(f"{where}.timeout must be a positive integer")
        out[kind] = list(items)
    unknown = set(hooks) - set(KINDS)
    if unknown:
        raise InvalidArgument(f"{name}: unknown hook kind {sorted(unknown)[0]}")
    return out


def run(hook: dict[str, Any], state: dict[str, Any]) -> None:
    """Execute ``hook`` with ``state`` as JSON on stdin and wait for it (at most its
    ``timeout`` seconds, then it is killed). Raises HookError with runc's wording."""
    args = hook.get("args") or [hook["path"]]
    try:
        # Its own process group, so a timeout ends whatever it started too (a hook
        # that ends in time may leave helpers running, as with runc).
        proc = subprocess.Popen(
            args,
            executable=hook["path"],
            env={k: v for k, _, v in (e.partition("=") for e in hook.get("env") or [])},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        raise HookError(f"error running hook: {e.strerror}: {hook['path']}") from None
    try:
        out, err = proc.communicate(json.dumps(state).encode(), timeout=hook.get("timeout"))
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise HookError(f"hook ran past specified timeout of {hook['timeout']:.1f}s") from None
    if proc.returncode != 0:
        status = (
            f"exit status {proc.returncode}"
            if proc.returncode > 0
            else f"signal: {-proc.returncode}"
        )
        raise HookError(
            f"error running hook: {status}, stdout: {out.decode(errors='replace').strip()}"
            f", stderr: {err.decode(errors='replace').strip()}"
        )


def run_all(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any]) -> None:
    """Run ``hooks`` of ``kind`` in order; the first failure raises HookError naming it
    (``error running <kind> hook #N: ...``) and the rest do not run."""
    for i, hook in enumerate(hooks):
        try:
            run(hook, state)
        except HookError as e:
            raise HookError(f"error running {kind} hook #{i}: {e}") from None


def warn_all(kind: str, hooks: list[dict[str, Any]], state: dict[str, Any]) -> None:
    """Run every hook of ``kind``; a failure is a warning on stderr and the others still
    run (poststart, poststop)."""
    import sys

    for i, hook in enumerate(hooks):
        try:
            run(hook, state)
        except HookError as e:
            print(f"warning: {kind} hook #{i} failed: {e}", file=sys.stderr)
