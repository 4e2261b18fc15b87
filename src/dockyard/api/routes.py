"""The Engine API's operations (v1.51, moby ``api/swagger.yaml``) mapped onto the facade.

Each handler turns path variables, query parameters and the JSON body into one facade
call (``dockyard.engine.Engine``, methods named after the operations in snake_case) and
writes its result in the API's shape. An operation the facade does not offer (yet) is
answered 501 with Docker's "not implemented" wording, never with a made-up success.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import select
import socket
import struct
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

from dockyard.api import API_VERSION, isolate, schema
from dockyard.api.server import APIError, Request, Router, Service
from dockyard.errors import DockyardError, InvalidArgument

if TYPE_CHECKING:
    import ssl

    from dockyard.paths import Paths

router = Router()

#: Seconds of silence after which a hijacked stream checks that its client is there.
PROBE_INTERVAL = 1.0


def call(req: Request, operation: str, *args: Any, **kwargs: Any) -> Any:
    """``req.engine.<operation>(*args, **kwargs)``; APIError 501 when the facade has no
    such operation. Operations that fork a container monitor run in a process of their
    own (:mod:`dockyard.api.isolate`)."""
    fn = getattr(req.engine, operation, None)
    if fn is None:
        raise APIError(501, f"{req.method} {req.path}: not implemented by Dockyard ({operation})")
    paths = req.service.paths
    if operation in isolate.FORKING and paths is not None:
        return isolate.run(paths, operation, *args, **kwargs)
    return fn(*args, **kwargs)


def waiting(fn: Callable[[], Any], interval: float = 0.25) -> Iterator[Any]:
    """Run ``fn`` in a helper thread and yield None every ``interval`` seconds while it
    runs (so the stream notices a client that left), then its result. Its exception is
    raised in the caller."""
    done = threading.Event()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 (re-raised in the caller)
            box["error"] = e
        finally:
            done.set()

    threading.Thread(target=run, daemon=True).start()
    while not done.wait(interval):
        yield None
    if "error" in box:
        raise box["error"]
    yield box["value"]


# -- system ------------------------------------------------------------------------------


@router.route("GET", "/_ping")
def ping(req: Request) -> None:
    info = call(req, "system_ping")
    headers = {
        "Api-Version": info.get("ApiVersion", API_VERSION),
        "Builder-Version": str(info.get("BuilderVersion", "1")),
        "Docker-Experimental": "true" if info.get("Experimental") else "false",
        "Ostype": info.get("OSType", "linux"),
        "Cache-Control": "no-cache, no-store, must-revalidate",
        "Pragma": "no-cache",
    }
    if req.method == "HEAD":
        req.send(200, b"", "text/plain; charset=utf-8", headers)
    else:
        req.send(200, b"OK", "text/plain; charset=utf-8", headers)


@router.route("GET", "/version")
def version(req: Request) -> None:
    req.send_json(call(req, "system_version"))


@router.route("GET", "/info")
def info(req: Request) -> None:
    req.send_json(call(req, "system_info"))


@router.route("GET", "/system/df")
def system_df(req: Request) -> None:
    from dockyard.engine import prune

    wanted = set(req.query.get("type") or ["container", "image", "volume", "build-cache"])
    usage = prune.disk_usage(req.engine)
    counts = usage["image_containers"]
    per_image = usage["per_image"]
    out: dict[str, Any] = {"LayersSize": usage["images_total"]}
    if "image" in wanted:
        images = call(req, "image_list", all=False, filters={})
        for summary in images:
            summary["Containers"] = counts.get(summary["Id"], 0)
            summary["SharedSize"] = per_image.get(summary["Id"], {}).get("shared", -1)
        out["Images"] = images
    if "container" in wanted:
        out["Containers"] = call(req, "container_list", all=True, size=True, filters={})
    if "volume" in wanted:
        out["Volumes"] = [
            {**volume.inspect(), "UsageData": {"Size": size, "RefCount": links}}
            for volume, size, links in usage["volumes"]
        ]
    if "build-cache" in wanted:
        out["BuildCache"] = usage["build_cache_records"]
    req.send_json(out)


@router.route("GET", "/events")
def events(req: Request) -> None:
    stream = call(
        req, "system_events", since=req.q("since"), until=req.q("until"), filters=req.q_filters()
    )
    if req.version_below("1.46"):
        # Image create events came with API 1.46 (moby's getEvents skips them before).
        stream = (m for m in stream if m is None or (m["Type"], m["Action"]) != ("image", "create"))
    req.stream_json(stream)


@router.route("POST", "/auth")
def auth(req: Request) -> None:
    body = schema.check(req.json(required=True), schema.AUTH_CONFIG, "AuthConfig")
    if not body.get("username"):
        raise InvalidArgument("username is required")
    req.send_json(call(req, "system_auth", body))


def _login(req: Request) -> Any:
    """The login in the request's ``X-Registry-Auth`` header (None: the engine's stored
    one for the registry)."""
    from dockyard.engine import distribution

    return distribution.login_from_header(req.headers.get("X-Registry-Auth") or "")


def _progress(req: Request, messages: Iterator[dict[str, Any]]) -> None:
    """A JSON progress stream whose first message decides between an error status (the
    operation failed before any progress) and 200."""
    first = next(messages, None)
    req.stream_json(itertools.chain([] if first is None else [first], messages))


# -- containers --------------------------------------------------------------------------


@router.route("GET", "/containers/json")
def container_list(req: Request) -> None:
    req.send_json(
        call(
            req,
            "container_list",
            all=req.q_bool("all"),
            limit=req.q_int("limit", -1),
            size=req.q_bool("size"),
            filters=req.q_filters(),
        )
    )


@router.route("POST", "/containers/create")
def container_create(req: Request) -> None:
    body = req.json(required=True)
    config, host_config, networking_config = schema.create_request(body)
    schema.check_platform(req.q("platform") or "")
    endpoints = (networking_config or {}).get("EndpointsConfig") or {}
    if len(endpoints) > 1 and req.version_below("1.44"):
        # Several networks at create came with API 1.44 (moby's verifyNetworkingConfig before).
        raise InvalidArgument(
            f"Container cannot be connected to network endpoints: {', '.join(endpoints)}"
        )
    result = call(
        req, "container_create", config, host_config, networking_config, name=req.q("name") or None
    )
    req.send_json(result, 201)


@router.route("GET", "/containers/{id}/json")
def container_inspect(req: Request) -> None:
    req.send_json(call(req, "container_inspect", req.vars["id"], size=req.q_bool("size")))


@router.route("GET", "/containers/{id}/top")
def container_top(req: Request) -> None:
    req.send_json(call(req, "container_top", req.vars["id"], ps_args=req.q("ps_args") or "-ef"))


@router.route("POST", "/containers/{id}/start")
def container_start(req: Request) -> None:
    call(req, "container_start", req.vars["id"])
    req.send_empty(204)


def _stop_args(req: Request) -> dict[str, Any]:
    return {"signal": req.q("signal") or None, "t": req.q_int("t")}


@router.route("POST", "/containers/{id}/stop")
def container_stop(req: Request) -> None:
    call(req, "container_stop", req.vars["id"], **_stop_args(req))
    req.send_empty(204)


@router.route("POST", "/containers/{id}/restart")
def container_restart(req: Request) -> None:
    call(req, "container_restart", req.vars["id"], **_stop_args(req))
    req.send_empty(204)


@router.route("POST", "/containers/{id}/kill")
def container_kill(req: Request) -> None:
    call(req, "container_kill", req.vars["id"], signal=req.q("signal") or "SIGKILL")
    req.send_empty(204)


@router.route("POST", "/containers/{id}/update")
def container_update(req: Request) -> None:
    body = schema.check(req.json(required=True), schema.UPDATE_CONFIG, "UpdateConfig")
    req.send_json(call(req, "container_update", req.vars["id"], body))


@router.route("POST", "/containers/{id}/pause")
def container_pause(req: Request) -> None:
    call(req, "container_pause", req.vars["id"])
    req.send_empty(204)


@router.route("POST", "/containers/{id}/unpause")
def container_unpause(req: Request) -> None:
    call(req, "container_unpause", req.vars["id"])
    req.send_empty(204)


@router.route("POST", "/containers/{id}/rename")
def container_rename(req: Request) -> None:
    name = req.q("name")
    if not name:
        raise InvalidArgument("Neither old nor new names may be empty")
    call(req, "container_rename", req.vars["id"], name)
    req.send_empty(204)


@router.route("POST", "/containers/{id}/resize")
def container_resize(req: Request) -> None:
    call(req, "container_resize", req.vars["id"], height=req.q_int("h", 0), width=req.q_int("w", 0))
    req.send_empty(200)


@router.route("DELETE", "/containers/{id:path}")  # a link name is PARENT/ALIAS
def container_delete(req: Request) -> None:
    call(
        req,
        "container_delete",
        req.vars["id"],
        force=req.q_bool("force"),
        v=req.q_bool("v"),
        link=req.q_bool("link"),
    )
    req.send_empty(204)


@router.route("POST", "/containers/prune")
def container_prune(req: Request) -> None:
    req.send_json(call(req, "container_prune", filters=req.q_filters()))


@router.route("POST", "/containers/{id}/wait")
def container_wait(req: Request) -> None:
    condition = req.q("condition") or "not-running"
    if condition not in ("not-running", "next-exit", "removed"):
        raise InvalidArgument(f"invalid condition: {condition!r}")
    ident = req.vars["id"]
    # Resolve the container first, so a missing one is a 404, not a 200 with an error.
    call(req, "container_inspect", ident)

    gone = threading.Event()

    def wait() -> Any:
        return req.new_engine().container_wait(
            ident, condition=condition, alive=lambda: not gone.is_set()
        )

    def body() -> Iterator[bytes | None]:
        try:
            for result in waiting(wait):
                yield None if result is None else json.dumps(result).encode() + b"\n"
        finally:
            # The client left (or the stream ended): the helper thread's wait ends too.
            gone.set()

    # Docker sends the status at once, so the client knows the wait is in place (docker
    # run --rm registers it before the start).
    req.stream(body(), "application/json")


def _stream_type(req: Request, tty: bool) -> str:
    """The media type of a container's output: raw for a tty, else Docker's
    multiplexed stream (named so from API 1.42 on; raw-stream before)."""
    if tty or req.version_below("1.42"):
        return "application/vnd.docker.raw-stream"
    return "application/vnd.docker.multiplexed-stream"


def _frame(stream: int, data: bytes) -> bytes:
    """One stdcopy frame: [stream, 0, 0, 0, size BE32] then the bytes."""
    return struct.pack(">BxxxI", stream, len(data)) + data


def relay(req: Request, session: Any, tty: bool) -> None:
    """Carry ``session`` (an attachment or exec session: ``output(alive)``,
    ``write_stdin``, ``close_stdin``, ``close``) over the hijacked connection: the
    client's bytes to its stdin, its output to the client (stdcopy frames unless
    ``tty``). Ends when the output ends, the client goes (a reset, or a write that
    fails), or the detach keys are typed."""
    reader, sock = req.hijack(_stream_type(req, tty))
    gone = threading.Event()

    def pump_stdin() -> None:
        while True:
            try:
                data = reader.read1(65536)
            except (OSError, ValueError):
                gone.set()  # reset: the client has gone
                data = b""
            if not data:
                # End of file is a half-close (docker's CLI sends it at once when it has
                # no stdin to send): the client still reads the output.
                session.close_stdin()
                return
            if not session.write_stdin(data):
                gone.set()
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                return

    threading.Thread(target=pump_stdin, daemon=True).start()
    last_write = time.monotonic()
    try:
        for item in session.output(lambda: not gone.is_set()):
            if item is None:
                # Idle: an empty frame (harmless to stdcopy readers) finds out whether
                # the client is still there; a raw tty stream has no such frame.
                if not tty and time.monotonic() - last_write >= PROBE_INTERVAL:
                    sock.sendall(_frame(1, b""))
                    last_write = time.monotonic()
                continue
            stream, data = item
            sock.sendall(data if tty else _frame(stream, data))
            last_write = time.monotonic()
    except OSError:
        pass
    finally:
        session.close()
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)


def _unix_ns(req: Request, name: str) -> int:
    """A Unix time parameter (``since``, ``until``: seconds with an optional fraction,
    as the docker CLI sends them) in nanoseconds; 0 when absent."""
    value = req.q(name) or "0"
    seconds, _, fraction = value.partition(".")
    if not seconds.lstrip("-").isdigit() or (fraction and not fraction.isdigit()):
        raise InvalidArgument(f"invalid value for {name}: {value!r}: want a Unix timestamp")
    return int(seconds) * 1_000_000_000 + int((fraction + "000000000")[:9] or 0)


@router.route("GET", "/containers/{id}/logs")
def container_logs(req: Request) -> None:
    stdout, stderr = req.q_bool("stdout"), req.q_bool("stderr")
    if not (stdout or stderr):
        raise InvalidArgument("Bad parameters: you must choose at least one stream")
    ident = req.vars["id"]
    tty = bool(call(req, "container_inspect", ident)["Config"].get("Tty"))
    entries = call(
        req,
        "container_logs",
        ident,
        follow=req.q_bool("follow"),
        stdout=stdout,
        stderr=stderr,
        since=_unix_ns(req, "since"),
        until=_unix_ns(req, "until"),
        timestamps=req.q_bool("timestamps"),
        tail=req.q("tail") or "all",
        alive=lambda: not req.client_gone(),
    )
    streams = {"stdout": 1, "stderr": 2}
    req.stream(
        (data if tty else _frame(streams.get(stream, 1), data) for stream, data in entries),
        _stream_type(req, tty),
    )


@router.route("GET", "/containers/{id}/stats")
def container_stats(req: Request) -> None:
    stream = req.q_bool("stream", True)
    samples = call(
        req, "container_stats", req.vars["id"], stream=stream, one_shot=req.q_bool("one-shot")
    )
    if not stream:
        req.send_json(next(samples))
        return
    req.stream_json(samples)


@router.route("POST", "/containers/{id}/attach")
def container_attach(req: Request) -> None:
    stdin = req.q_bool("stdin")
    session = call(
        req,
        "container_attach_stream",
        req.vars["id"],
        stdin=stdin,
        stdout=req.q_bool("stdout"),
        stderr=req.q_bool("stderr"),
        stream=req.q_bool("stream"),
        logs=req.q_bool("logs"),
        detach_keys=req.q("detachKeys") or None,
    )
    relay(req, session, session.tty)


@router.route("GET", "/containers/{id}/attach/ws")
def container_attach_ws(req: Request) -> None:
    """The attach over a WebSocket (moby's wsContainersAttach): the output unframed
    (stdout and stderr alike), binary messages from API 1.28 on, text before; the
    client's messages are the container's stdin."""
    session = call(
        req,
        "container_attach_stream",
        req.vars["id"],
        stdin=req.q_bool("stdin"),
        stdout=req.q_bool("stdout"),
        stderr=req.q_bool("stderr"),
        stream=req.q_bool("stream"),
        logs=req.q_bool("logs"),
        detach_keys=req.q("detachKeys") or None,
    )
    try:
        ws = req.websocket(binary=not req.version_below("1.28"))
    except BaseException:
        session.close()
        raise
    gone = threading.Event()

    def pump_stdin() -> None:
        while True:
            data = ws.receive()
            if data is None:
                # A close or a broken connection: the client has gone.
                gone.set()
                session.close_stdin()
                return
            if not session.write_stdin(data):
                gone.set()  # the detach keys
                return

    threading.Thread(target=pump_stdin, daemon=True).start()
    try:
        for item in session.output(lambda: not gone.is_set()):
            if item is not None:
                ws.send(item[1])
    except OSError:
        pass
    finally:
        session.close()
        ws.close()


@router.route("GET", "/containers/{id}/export")
def container_export(req: Request) -> None:
    from dockyard.engine import archives

    out = req.writer("application/x-tar")
    archives.export(req.engine, req.vars["id"], cast(BinaryIO, out))
    out.finish()


def _path_stat(stat: dict[str, Any]) -> dict[str, str]:
    """The ``X-Docker-Container-Path-Stat`` header: base64 of the stat's JSON."""
    import base64
    import json

    return {"X-Docker-Container-Path-Stat": base64.b64encode(json.dumps(stat).encode()).decode()}


def _archive_path(req: Request) -> str:
    path = req.q("path") or ""
    if not path:
        raise InvalidArgument("path is required")
    return path


@router.route("HEAD", "/containers/{id}/archive")
def container_archive_info(req: Request) -> None:
    from dockyard.engine import archives

    stat = archives.archive_stat(req.engine, req.vars["id"], _archive_path(req))
    req.send(200, b"", None, _path_stat(stat))


@router.route("GET", "/containers/{id}/archive")
def container_archive(req: Request) -> None:
    from dockyard.engine import archives

    ident, path = req.vars["id"], _archive_path(req)
    stat = archives.archive_stat(req.engine, ident, path)
    out = req.writer("application/x-tar", _path_stat(stat))
    archives.archive_get(req.engine, ident, path, cast(BinaryIO, out))
    out.finish()


@router.route("PUT", "/containers/{id}/archive")
def put_container_archive(req: Request) -> None:
    from dockyard.engine import archives

    no_overwrite = req.q("noOverwriteDirNonDir")
    if no_overwrite is not None and not req.q_bool("noOverwriteDirNonDir"):
        # Dockyard never replaces a directory with a non-directory or the reverse.
        raise InvalidArgument("noOverwriteDirNonDir=false is not supported by Dockyard")
    archives.archive_put(
        req.engine,
        req.vars["id"],
        _archive_path(req),
        cast(BinaryIO, req.reader()),
        copy_uid_gid=req.q_bool("copyUIDGID"),
    )
    req.send_empty(200)


@router.route("GET", "/containers/{id}/changes")
def container_changes(req: Request) -> None:
    from dockyard.engine import archives

    found = archives.changes(req.engine, req.vars["id"])
    req.send_json(
        [{"Kind": archives.CHANGE_KINDS[kind], "Path": path} for kind, path in found] or None
    )


@router.route("POST", "/commit")
def image_commit(req: Request) -> None:
    config = req.json()
    if config:
        raise InvalidArgument(
            "a container config in the commit body is not supported by Dockyard: use changes="
        )
    container = req.q("container") or ""
    if not container:
        raise InvalidArgument("container is required")
    repo, tag = req.q("repo") or "", req.q("tag") or ""
    repository = (f"{repo}:{tag}" if tag else repo) or None
    created = call(
        req,
        "image_commit",
        container,
        repository,
        author=req.q("author") or "",
        message=req.q("comment") or "",
        changes=req.query.get("changes") or None,
        pause=req.q_bool("pause", True),
    )
    req.send_json(created, 201)


# -- exec --------------------------------------------------------------------------------


@router.route("POST", "/containers/{id}/exec")
def exec_create(req: Request) -> None:
    config = schema.exec_config(req.json(required=True))
    req.send_json(call(req, "exec_create", req.vars["id"], config), 201)


@router.route("GET", "/exec/{id}/json")
def exec_inspect(req: Request) -> None:
    req.send_json(call(req, "exec_inspect", req.vars["id"]))


@router.route("POST", "/exec/{id}/resize")
def exec_resize(req: Request) -> None:
    exec_id = req.vars["id"]
    height, width = req.q_int("h", 0) or 0, req.q_int("w", 0) or 0
    master = req.service.terminals.get(exec_id)
    if master is None:
        # Only a session this service attaches has a terminal it can size.
        call(req, "exec_inspect", exec_id)
        raise APIError(409, f"exec {exec_id} has no terminal attached through this service")
    else:
        import fcntl
        import termios

        fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))
    req.send_empty(200)


@router.route("POST", "/exec/{id}/start")
def exec_start(req: Request) -> None:
    body = schema.exec_start(req.json())
    exec_id = req.vars["id"]
    info = call(req, "exec_inspect", exec_id)
    if info.get("Running") or info.get("ExitCode") is not None:
        state = "is already running" if info.get("Running") else "has already run"
        raise APIError(409, f"Error: Exec command {exec_id} {state}")
    paths = req.service.paths
    assert paths is not None
    if body.get("Detach"):
        isolate.run(paths, "exec_start", exec_id, detach=True)
        req.send_empty(200)
        return
    tty = bool((info.get("ProcessConfig") or {}).get("tty"))
    stdin = bool(info.get("OpenStdin"))
    session = ExecSession(req, paths, exec_id, tty, stdin, info.get("DetachKeys") or None)
    # The start request's Tty, not the instance's, decides the framing (as dockerd).
    relay(req, session, bool(body.get("Tty")))


class ExecSession:
    """An attached exec for :func:`relay`: the facade's ``exec_start`` run in a child
    (:class:`isolate.Session`) whose stdio are pipes (stdout and stderr framed apart) or
    a pty (one raw stream; ``POST /exec/{id}/resize`` sizes it)."""

    def __init__(
        self,
        req: Request,
        paths: Paths,
        exec_id: str,
        tty: bool,
        stdin: bool,
        detach_keys: str | None,
    ) -> None:
        from dockyard.engine.attach import escape_filter

        self._terminals = req.service.terminals
        self._exec_id = exec_id
        # The daemon watches a tty's input for the detach keys (Ctrl-P Ctrl-Q by default).
        self._escape = escape_filter(detach_keys) if tty and stdin else None
        self._reads: dict[int, int] = {}  # our read end -> stream
        self._stdin_w: int | None = None
        self._master: int | None = None
        child_fds: list[int] = []
        try:
            if tty:
                import tty as tty_mod

                master, slave = os.openpty()
                # A byte pipe: the container's own terminal does the line discipline.
                tty_mod.setraw(slave)
                self._master = master
                child_fds.append(slave)
                self._reads[master] = 1
                self._terminals[exec_id] = master
                self._session = isolate.Session(
                    paths, "exec_start", [exec_id], {}, slave, slave, slave, tty=True
                )
            else:
                out_r, out_w = os.pipe()
                err_r, err_w = os.pipe()
                self._reads = {out_r: 1, err_r: 2}
                child_fds += [out_w, err_w]
                in_r = None
                if stdin:
                    in_r, self._stdin_w = os.pipe()
                    child_fds.append(in_r)
                self._session = isolate.Session(
                    paths, "exec_start", [exec_id], {}, in_r, out_w, err_w
                )
        except BaseException:
            self.close()
            raise
        finally:
            for fd in child_fds:
                os.close(fd)

    def write_stdin(self, data: bytes) -> bool:
        detached = False
        if self._escape is not None:
            data, detached = self._escape.feed(data)
        fd = self._master if self._master is not None else self._stdin_w
        if fd is not None and data:
            with contextlib.suppress(OSError):
                os.write(fd, data)
        return not detached

    def close_stdin(self) -> None:
        if self._stdin_w is not None:
            os.close(self._stdin_w)
            self._stdin_w = None
        elif self._master is not None:
            # A terminal's end of input is its EOF character.
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x04")

    def output(self, alive: Callable[[], bool]) -> Iterator[tuple[int, bytes] | None]:
        open_fds = dict(self._reads)
        while open_fds:
            ready, _, _ = select.select(list(open_fds), [], [], 0.25)
            if not ready:
                if not alive():
                    break
                yield None
                continue
            for fd in ready:
                try:
                    data = os.read(fd, 65536)
                except OSError:  # EIO: the pty's last user has gone
                    data = b""
                if data:
                    yield open_fds[fd], data
                else:
                    del open_fds[fd]
        # The exit code is recorded by exec_start itself (GET /exec/{id}/json); a
        # process that could not start is reported in the stream, as dockerd does.
        try:
            self._session.result()
        except DockyardError as e:
            message = str(e)
            if e.exit_code in (126, 127):
                # dockerd writes the runtime's error into the stream (the exit code is
                # the instance's).
                message = (
                    "OCI runtime exec failed: exec failed: unable to start container "
                    f"process: {message}: unknown"
                )
            yield 2, f"{message}\r\n".encode()

    def close(self) -> None:
        self._terminals.pop(self._exec_id, None)
        session = getattr(self, "_session", None)
        if session is not None:
            if session.proc.poll() is None:
                # The client left mid-session: end the exec's worker (and with it the
                # relay; the process in the container gets its terminal's hangup).
                session.proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    session.proc.wait(timeout=5)
                if session.proc.poll() is None:
                    session.proc.kill()
                    session.proc.wait()
            session.close()
        for fd in [*self._reads, self._stdin_w]:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._reads = {}
        self._stdin_w = None


# -- images ------------------------------------------------------------------------------


@router.route("GET", "/images/json")
def image_list(req: Request) -> None:
    req.send_json(
        call(
            req,
            "image_list",
            all=req.q_bool("all"),
            filters=req.q_filters(),
        )
    )


@router.route("GET", "/images/search")
def image_search(req: Request) -> None:
    from dockyard.engine import distribution

    limit = req.q_int("limit", 0) or 0
    if limit < 0:
        raise InvalidArgument("invalid limit specified")
    try:
        # As moby: a search without a (valid) login is no error.
        login = _login(req)
    except InvalidArgument:
        login = None
    req.send_json(distribution.search(req.q("term") or "", limit, req.q_filters(), login=login))


@router.route("GET", "/images/{name:path}/json")
def image_inspect(req: Request) -> None:
    req.send_json(call(req, "image_inspect", req.vars["name"]))


@router.route("GET", "/images/{name:path}/history")
def image_history(req: Request) -> None:
    req.send_json(call(req, "image_history", req.vars["name"]))


@router.route("POST", "/images/{name:path}/tag")
def image_tag(req: Request) -> None:
    repo = req.q("repo") or ""
    call(req, "image_tag", req.vars["name"], repo, req.q("tag") or None)
    req.send_empty(201)


@router.route("DELETE", "/images/{name:path}")
def image_delete(req: Request) -> None:
    req.send_json(
        call(
            req,
            "image_delete",
            req.vars["name"],
            force=req.q_bool("force"),
            noprune=req.q_bool("noprune"),
        )
    )


@router.route("GET", "/images/get")
def image_get_all(req: Request) -> None:
    _save(req, req.query.get("names") or [])


@router.route("GET", "/images/{name:path}/get")
def image_get(req: Request) -> None:
    _save(req, [req.vars["name"]])


def _save(req: Request, names: list[str]) -> None:
    from dockyard.engine import archives

    out = req.writer("application/x-tar")
    archives.save(req.engine, names, cast(BinaryIO, out))
    out.finish()


@router.route("POST", "/images/load")
def image_load(req: Request) -> None:
    from dockyard.engine import archives

    # The archive is read (and checked) as the messages are produced; a bad archive is
    # an error message in a 200 stream, as moby's postImagesLoad writes it.
    req.stream_json(
        archives.load(req.engine, cast(BinaryIO, req.reader()), quiet=req.q_bool("quiet"))
    )


@router.route("POST", "/images/create")
def image_create(req: Request) -> None:
    from dockyard.engine import distribution

    source = req.q("fromSrc")
    if source is not None:
        _image_import(req, source)
        return
    image = req.q("fromImage") or ""
    if not image:
        raise InvalidArgument("fromImage or fromSrc is required")
    tag = req.q("tag") or ""
    if tag:
        image = f"{image}@{tag}" if ":" in tag else f"{image}:{tag}"
    schema.check_platform(req.q("platform") or "")
    login = _login(req)
    _progress(
        req, distribution.pull(req.engine, image, platform=req.q("platform") or None, login=login)
    )


def _image_import(req: Request, source: str) -> None:
    """``fromSrc=-``: the request body is the tarball (a URL source is refused)."""
    if source != "-":
        raise InvalidArgument(f"importing from a URL is not supported: {source}")
    repo, tag = req.q("repo") or "", req.q("tag") or ""
    repository = (f"{repo}:{tag}" if tag else repo) or None
    image_id = call(
        req,
        "image_import",
        cast(BinaryIO, req.reader()),
        repository,
        req.query.get("changes") or None,
        req.q("message") or "",
        req.q("platform") or None,
    )
    req.stream_json([{"status": image_id}])


@router.route("POST", "/images/{name:path}/push")
def image_push(req: Request) -> None:
    from dockyard.engine import distribution

    name = req.vars["name"]
    tag = req.q("tag") or ""
    login = _login(req)
    target = f"{name}:{tag}" if tag else name
    all_tags = not tag and ":" not in name.rsplit("/", 1)[-1]
    _progress(req, distribution.push(req.engine, target, all_tags=all_tags, login=login))


@router.route("GET", "/distribution/{name:path}/json")
def distribution_inspect(req: Request) -> None:
    from dockyard.engine import distribution

    req.send_json(distribution.inspect(req.engine, req.vars["name"], login=_login(req)))


@router.route("POST", "/build")
def image_build(req: Request) -> None:
    import tempfile

    paths = req.service.paths
    assert paths is not None
    if not hasattr(req.engine, "image_build_tar"):
        call(req, "image_build_tar")
    os.makedirs(paths.tmp, mode=0o700, exist_ok=True)
    # The context is read whole before the build starts (as dockerd's classic builder).
    fd, context = tempfile.mkstemp(dir=paths.tmp, prefix=f"build-context-{os.getpid()}-")
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in req.body_chunks():
                f.write(chunk)
        out_r, out_w = os.pipe()
        try:
            session = isolate.Session(
                paths, "image_build_tar", [context, req.query], {}, None, out_w, None
            )
        finally:
            os.close(out_w)
        with os.fdopen(out_r, "rb") as messages:
            first = messages.readline()
            if not req.q_bool("q") and (not first or first.startswith(b'{"errorDetail"')):
                # moby's postBuild: an error before any output is the response's own
                # status (400 for a bad Dockerfile, ...), not a 200 stream.
                try:
                    session.result()
                finally:
                    session.close()
                req.stream(iter([first, *messages]), "application/json")  # no error after all
                return

            def lines() -> Iterator[bytes]:
                if first:
                    yield first
                yield from messages
                try:
                    session.result()
                except DockyardError as e:
                    if not last_error[0]:
                        # Failed before it could say why: the message the stream lacks.
                        yield (
                            json.dumps(
                                {"errorDetail": {"message": str(e)}, "error": str(e)}
                            ).encode()
                            + b"\n"
                        )
                finally:
                    session.close()

            last_error = [False]

            def watch(chunks: Iterator[bytes]) -> Iterator[bytes]:
                for chunk in chunks:
                    last_error[0] = chunk.startswith(b'{"errorDetail"')
                    yield chunk

            req.stream(watch(lines()), "application/json")
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(context)


@router.route("POST", "/images/prune")
def image_prune(req: Request) -> None:
    req.send_json(call(req, "image_prune", filters=req.q_filters()))


@router.route("POST", "/build/prune")
def build_prune(req: Request) -> None:
    keep = req.q_int("keep-storage", 0) or req.q_int("reserved-space", 0) or 0
    req.send_json(
        call(req, "build_prune", all=req.q_bool("all"), filters=req.q_filters(), keep_storage=keep)
    )


# -- networks ----------------------------------------------------------------------------


@router.route("GET", "/networks")
def network_list(req: Request) -> None:
    req.send_json(call(req, "network_list", filters=req.q_filters()))


@router.route("GET", "/networks/{id}")
def network_inspect(req: Request) -> None:
    req.send_json(call(req, "network_inspect", req.vars["id"], verbose=req.q_bool("verbose")))


@router.route("POST", "/networks/create")
def network_create(req: Request) -> None:
    body = req.json(required=True)
    req.send_json(call(req, "network_create", schema.network_create(body)), 201)


@router.route("DELETE", "/networks/{id}")
def network_delete(req: Request) -> None:
    call(req, "network_delete", req.vars["id"])
    req.send_empty(204)


@router.route("POST", "/networks/{id}/connect")
def network_connect(req: Request) -> None:
    body = schema.network_connect(req.json(required=True))
    call(
        req, "network_connect", req.vars["id"], body["Container"], body.get("EndpointConfig") or {}
    )
    req.send_empty(200)


@router.route("POST", "/networks/{id}/disconnect")
def network_disconnect(req: Request) -> None:
    body = schema.network_disconnect(req.json(required=True))
    call(
        req, "network_disconnect", req.vars["id"], body["Container"], force=bool(body.get("Force"))
    )
    req.send_empty(200)


@router.route("POST", "/networks/prune")
def network_prune(req: Request) -> None:
    req.send_json(call(req, "network_prune", filters=req.q_filters()))


# -- volumes -----------------------------------------------------------------------------


@router.route("GET", "/volumes")
def volume_list(req: Request) -> None:
    req.send_json(call(req, "volume_list", filters=req.q_filters()))


@router.route("POST", "/volumes/create")
def volume_create(req: Request) -> None:
    body = schema.volume_create(req.json() or {})
    req.send_json(call(req, "volume_create", body), 201)


@router.route("GET", "/volumes/{name}")
def volume_inspect(req: Request) -> None:
    req.send_json(call(req, "volume_inspect", req.vars["name"]))


@router.route("DELETE", "/volumes/{name}")
def volume_delete(req: Request) -> None:
    call(req, "volume_delete", req.vars["name"], force=req.q_bool("force"))
    req.send_empty(204)


@router.route("POST", "/volumes/prune")
def volume_prune(req: Request) -> None:
    filters = req.q_filters()
    if req.version_below("1.42"):
        # Before API 1.42 a prune removed every unused volume, not only anonymous ones
        # (moby's postVolumesPrune adds all=true for older clients).
        filters["all"] = ["true"]
    req.send_json(call(req, "volume_prune", filters=filters))


# -- known operations without an engine implementation ----------------------------------

#: Engine API operations Dockyard does not implement yet: answered 501 with their name,
#: so a client sees "not implemented", not "page not found" or a made-up success.
NOT_IMPLEMENTED = [
    ("POST", "/session", "Session"),
]


def _not_implemented(operation: str) -> Callable[[Request], None]:
    def handler(req: Request) -> None:
        raise APIError(501, f"{req.method} {req.path}: not implemented by Dockyard ({operation})")

    return handler


for _method, _pattern, _operation in NOT_IMPLEMENTED:
    router.add(_method, _pattern, _not_implemented(_operation))


# -- swarm -------------------------------------------------------------------------------

#: What dockerd answers (503) for swarm operations on a node that is not in a swarm.
NOT_A_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" to '
    "connect this node to swarm and try again."
)


@router.route("POST", "/swarm/leave")
def swarm_leave(req: Request) -> None:
    raise APIError(503, "This node is not part of a swarm")


@router.route("POST", "/swarm/init")
def swarm_init(req: Request) -> None:
    raise APIError(501, "POST /swarm/init: not implemented by Dockyard (swarm mode)")


@router.route("POST", "/swarm/join")
def swarm_join(req: Request) -> None:
    raise APIError(501, "POST /swarm/join: not implemented by Dockyard (swarm mode)")


def _not_a_manager(req: Request) -> None:
    raise APIError(503, NOT_A_MANAGER)


for _method in ("GET", "POST", "DELETE"):
    for _pattern in ("/swarm", "/swarm/{rest:path}", "/nodes", "/nodes/{rest:path}", "/services",
                     "/services/{rest:path}", "/tasks", "/tasks/{rest:path}", "/secrets",
                     "/secrets/{rest:path}", "/configs", "/configs/{rest:path}"):  # fmt: skip
        router.add(_method, _pattern, _not_a_manager)


# -- the service -------------------------------------------------------------------------


def make_service(
    paths: Paths,
    sockets: list[socket.socket],
    tls: ssl.SSLContext | None = None,
    idle_time: float = 0,
    verbose: bool = False,
    read_timeout: float | None = None,
) -> Service:
    """The API service for the engine root ``paths`` on ``sockets``: each request gets
    its own facade object (the engine's state database connection is per thread)."""
    from dockyard.api.server import READ_TIMEOUT
    from dockyard.engine import Engine, gc

    # Taking over a container whose monitor died may start a monitor (restart policy):
    # not inside this multi-threaded process's requests, but in a child, when needed.
    gc.defer_recovery()

    def recover() -> None:
        engine = Engine(paths)
        try:
            if gc.needs_recovery(engine):
                isolate.run(paths, "system_recover")
        finally:
            engine.db.close()

    return Service(
        lambda: Engine(paths),
        sockets,
        router,
        paths=paths,
        housekeeping=recover,
        tls=tls,
        idle_time=idle_time,
        read_timeout=READ_TIMEOUT if read_timeout is None else read_timeout,
        verbose=verbose,
    )
