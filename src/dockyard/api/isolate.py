"""Run one facade operation in a fresh, single-threaded process.

Starting a container forks its monitor, which then runs engine code (mounts, SQLite,
imports) before it execs; an attached exec changes process-wide state (fds 0-2, signal
masks, waiting for children as a subreaper). Done in the multi-threaded service, the
fork would inherit locks other threads hold at that instant (SQLite's per-process lock
bookkeeping among them) and the process-wide changes would reach every other request.
So the service runs such operations (:data:`FORKING`, and attached execs) in a child:
``python -m dockyard.api.isolate REQUEST ANSWER_FD`` with REQUEST the JSON
``{"root", "runroot", "operation", "args", "kwargs", "tty"}``; it calls
``Engine(paths).<operation>(*args, **kwargs)`` and writes ``{"result": ...}`` or
``{"error": {"class", "message", "status_code", "exit_code"}}`` on ANSWER_FD. With
``tty`` its stdin (a pty's slave) becomes its controlling terminal first.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from dockyard import errors

if TYPE_CHECKING:
    from dockyard.paths import Paths

#: Facade operations that fork a container monitor or reaper.
FORKING = frozenset({"container_start", "container_restart", "container_unpause"})


def _request(paths: Paths, operation: str, args: Any, kwargs: Any, tty: bool = False) -> str:
    return json.dumps(
        {
            "root": paths.root,
            "runroot": paths.runroot,
            "operation": operation,
            "args": list(args),
            "kwargs": kwargs,
            "tty": tty,
        }
    )


def run(paths: Paths, operation: str, *args: Any, **kwargs: Any) -> Any:
    """``Engine(paths).<operation>(*args, **kwargs)`` in a child process, stdio on
    /dev/null; its error is raised here as the same class of :mod:`dockyard.errors`
    with the same message and status. Arguments and result must be JSON values."""
    session = Session(paths, operation, args, kwargs)
    try:
        return session.result()
    finally:
        session.close()


class Session:
    """A facade operation running in a child whose stdin, stdout and stderr are the
    given fds (None: /dev/null), e.g. an attached exec's pipes or pty slave.
    :meth:`result` waits for it."""

    def __init__(
        self,
        paths: Paths,
        operation: str,
        args: Any,
        kwargs: Any,
        stdin: int | None = None,
        stdout: int | None = None,
        stderr: int | None = None,
        tty: bool = False,
    ) -> None:
        self.operation = operation
        read_fd, write_fd = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "dockyard.api.isolate",
                    _request(paths, operation, args, kwargs, tty),
                    str(write_fd),
                ],
                stdin=subprocess.DEVNULL if stdin is None else stdin,
                stdout=subprocess.DEVNULL if stdout is None else stdout,
                stderr=subprocess.DEVNULL if stderr is None else stderr,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        except BaseException:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._answer = os.fdopen(read_fd, "rb")

    def result(self) -> Any:
        """Wait for the operation; its result, or its error raised here."""
        data = self._answer.read()
        code = self.proc.wait()
        try:
            answer = json.loads(data)
        except ValueError:
            raise errors.DockyardError(
                f"{self.operation}: the engine process exited {code} without an answer"
            ) from None
        if "error" in answer:
            e = answer["error"]
            cls = getattr(errors, e["class"], None)
            if not (isinstance(cls, type) and issubclass(cls, errors.DockyardError)):
                cls = errors.DockyardError
            err = cls(e["message"], e.get("exit_code"))
            if cls is errors.DockyardError and e.get("status_code") is not None:
                err.status_code = e["status_code"]
            raise err
        return answer.get("result")

    def close(self) -> None:
        """Release the answer pipe (the child is waited for by :meth:`result`)."""
        self._answer.close()


def main(argv: list[str]) -> None:
    """The child's side (see the module's docstring)."""
    request = json.loads(argv[0])
    out = os.fdopen(int(argv[1]), "w")
    if request.get("tty"):
        import fcntl
        import termios

        fcntl.ioctl(0, termios.TIOCSCTTY, 0)
    from dockyard.engine import Engine
    from dockyard.paths import Paths

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
    out.close()


if __name__ == "__main__":
    main(sys.argv[1:])
