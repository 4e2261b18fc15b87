"""Run one facade operation in a fresh, single-threaded process.

Starting a container forks its monitor, which then runs engine code (mounts, SQLite,
imports) before it execs. Forked from the multi-threaded service, that child would
inherit locks other threads hold at that instant (SQLite's per-process lock
bookkeeping among them) and could deadlock or corrupt state. So the service runs such
operations (:data:`FORKING`) through this module: ``python -m dockyard.api.isolate``
reads ``{"root", "runroot", "operation", "args", "kwargs"}`` on stdin, calls
``Engine(paths).<operation>(*args, **kwargs)`` and writes ``{"result": ...}`` or
``{"error": {"class", "message", "status_code", "exit_code"}}`` on stdout.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from dockyard import errors

if TYPE_CHECKING:
    from dockyard.paths import Paths

#: Facade operations that fork a container monitor.
FORKING = frozenset({"container_start", "container_restart", "container_unpause"})


def run(paths: Paths, operation: str, *args: Any, **kwargs: Any) -> Any:
    """``Engine(paths).<operation>(*args, **kwargs)`` in a child process; its error is
    raised here as the same class of :mod:`dockyard.errors` with the same message and
    status. Arguments and result must be JSON values."""
    request = {
        "root": paths.root,
        "runroot": paths.runroot,
        "operation": operation,
        "args": list(args),
        "kwargs": kwargs,
    }
    proc = subprocess.run(
        [sys.executable, "-m", "dockyard.api.isolate"],
        input=json.dumps(request).encode(),
        stdout=subprocess.PIPE,
        check=False,
    )
    try:
        answer = json.loads(proc.stdout)
    except ValueError:
        raise errors.DockyardError(
            f"{operation}: the engine process exited {proc.returncode} without an answer"
        ) from None
    if "error" in answer:
        e = answer["error"]
        cls = getattr(errors, e["class"], None)
        if not (isinstance(cls, type) and issubclass(cls, errors.DockyardError)):
            cls = errors.DockyardError
        err = cls(e["message"], e.get("exit_code"))
        if cls is errors.DockyardError and e.get("status_code") is not None:
            err.status_code = e["status_code"]  # type: ignore[attr-defined]
        raise err
    return answer.get("result")


def main() -> None:
    """The child's side (see the module's docstring)."""
    from dockyard.engine import Engine
    from dockyard.paths import Paths

    request = json.load(sys.stdin)
    out = sys.stdout
    # The operation's own output (none expected) must not corrupt the answer.
    sys.stdout = sys.stderr
    try:
        engine = Engine(Paths(request["root"], request["runroot"]))
        result = getattr(engine, request["operation"])(*request["args"], **request["kwargs"])
        answer: dict[str, Any] = {"result": result}
    except errors.DockyardError as e:
        answer = {
            "error": {
                "class": type(e).__name__,
                "message": str(e),
                "status_code": getattr(e, "status_code", None),
                "exit_code": e.exit_code,
            }
        }
    out.write(json.dumps(answer))
    out.flush()


if __name__ == "__main__":
    main()
