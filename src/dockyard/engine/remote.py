"""The facade over HTTP: an Engine API client for ``dockyard -H URI`` and ``DOCKER_HOST``
(Podman's local/remote split; Dockyard's own service or a real dockerd). Front ends use it
in place of the in-process :class:`dockyard.engine.Engine`.

:class:`RemoteEngine` has the facade's operation methods, taking and returning the same
API objects; each is one request. Errors come back as the facade's classes, chosen by
status (404 NotFound, 409 Conflict, 400 InvalidArgument, 304 NotModified, others
DockyardError) with the daemon's message. The API version is negotiated as the docker
CLI does: the lower of the server's ``API-Version`` (``/_ping``) and :data:`API_VERSION`.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
from collections.abc import Iterator
from typing import IO, Any, NamedTuple, cast
from urllib.parse import quote

import httpx

from dockyard.errors import Conflict, DockyardError, InvalidArgument, NotFound, NotModified

#: The newest Engine API version this client speaks.
API_VERSION = "1.51"


class ConnectionFailed(DockyardError):
    """The endpoint cannot be reached. Reported as the docker CLI does, without the
    "Error response from daemon" prefix (``from_client``)."""

    from_client = True


def _error(response: httpx.Response) -> DockyardError:
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text.strip() or response.reason_phrase
    status = response.status_code
    if status == 404:
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status == 400:
        return InvalidArgument(message)
    if status == 304:
        return NotModified(message)
    err = DockyardError(message)
    err.status_code = status
    return err


class TLSOptions(NamedTuple):
    """The client's TLS for a ``tcp://`` endpoint, as docker/cli's ``--tls``,
    ``--tlsverify``, ``--tlscacert``, ``--tlscert``, ``--tlskey`` (cli/flags/options.go):
    ``verify`` checks the server's certificate against ``cafile`` (a PEM path; unused
    when not verifying); ``certfile`` and ``keyfile`` (PEM paths, or None for no client
    certificate) are presented to the server."""

    verify: bool
    cafile: str
    certfile: str | None
    keyfile: str | None


def _tls_failure(error: BaseException) -> str | None:
    """The TLS handshake's failure behind a transport error (Go's crypto/tls words
    where they are known: ``tls: failed to verify certificate: ...``), or None."""
    import ssl

    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return f"tls: failed to verify certificate: {seen.verify_message}"
        if isinstance(seen, ssl.SSLError):
            return f"tls: {seen.reason or seen}"
        seen = seen.__cause__ or seen.__context__
    return None


def check_tls(tls: TLSOptions) -> TLSOptions:
    """``tls`` as docker/cli's context endpoint loads it (cli/context/docker/load.go
    tlsConfig): a client certificate without its key, or a key without its
    certificate, is left out; a CA (when verifying), certificate or key that does not
    parse raises ``InvalidArgument`` in docker's words (``failed to retrieve context tls
    info: ca.pem seems invalid``, ``no valid private key found``, ``failed to retrieve
    context tls info: tls: private key does not match public key``). The files exist
    (the caller checked)."""
    import ssl

    if tls.verify:
        try:
            ssl.create_default_context().load_verify_locations(cafile=tls.cafile)
        except (OSError, ssl.SSLError):
            raise InvalidArgument(
                "failed to retrieve context tls info: ca.pem seems invalid"
            ) from None
    if not (tls.certfile and tls.keyfile):
        return tls._replace(certfile=None, keyfile=None)
    info = "failed to retrieve context tls info: tls: "
    with open(tls.keyfile, "rb") as f:
        if b"-----BEGIN " not in f.read():
            raise InvalidArgument("no valid private key found")
    with open(tls.certfile, "rb") as f:
        cert = f.read()
    if b"-----BEGIN " not in cert:
        raise InvalidArgument(f"{info}failed to find any PEM data in certificate input")
    if b"-----BEGIN CERTIFICATE" not in cert and b"PRIVATE KEY-----" in cert:
        raise InvalidArgument(
            f"{info}failed to find certificate PEM data in certificate input, but did find "
            "a private key; PEM inputs may have been switched"
        )
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(tls.certfile, tls.keyfile)
    except ssl.SSLError as e:
        if "KEY_VALUES_MISMATCH" in str(e):
            raise InvalidArgument(f"{info}private key does not match public key") from None
        raise InvalidArgument(f"{info}{e.reason or e}") from None
    return tls


def transport_for(host: str, tls: TLSOptions | None = None) -> tuple[httpx.BaseTransport, str]:
    """(transport, base URL) for a ``DOCKER_HOST`` value: ``unix:///path``,
    ``tcp://host:port`` (https with ``tls`` when given, as the docker CLI; ``https://``
    verifies against the system's CAs without it). InvalidArgument for others, and for
    certificate files that cannot be loaded."""
    scheme, sep, rest = host.partition("://")
    if not sep:
        raise InvalidArgument(
            f"invalid -H/DOCKER_HOST {host!r}: want unix://PATH or tcp://HOST:PORT"
        )
    if scheme == "unix":
        return httpx.HTTPTransport(uds=rest), "http://docker"
    if scheme in ("tcp", "http", "https"):
        if tls is None and scheme != "https":
            return httpx.HTTPTransport(), f"http://{rest.rstrip('/')}"
        import ssl

        ctx = ssl.create_default_context()
        try:
            if tls is not None and not tls.verify:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif tls is not None:
                ctx.load_verify_locations(cafile=tls.cafile)
            if tls is not None and (tls.certfile or tls.keyfile):
                ctx.load_cert_chain(tls.certfile or "", tls.keyfile)
        except (OSError, ssl.SSLError) as e:
            raise InvalidArgument(f"could not load TLS certificates: {e}") from None
        return httpx.HTTPTransport(verify=ctx), f"https://{rest.rstrip('/')}"
    raise InvalidArgument(f"invalid -H/DOCKER_HOST {host!r}: unsupported scheme {scheme!r}")


def _filters(filters: dict[str, list[str]] | None) -> str | None:
    if not filters:
        return None
    return json.dumps({k: dict.fromkeys(v, True) for k, v in filters.items()})


def _bool(value: bool) -> str:
    return "1" if value else "0"


class RemoteEngine:
    """The facade's operations, each a request to the Engine API at ``host``
    (``unix:///path`` or ``tcp://host:port``). Connection failures raise DockyardError
    with the docker CLI's wording."""

    def __init__(
        self, host: str, timeout: float | None = None, tls: TLSOptions | None = None
    ) -> None:
        self.host = host
        transport, base = transport_for(host, tls)
        self._http = httpx.Client(transport=transport, base_url=base, timeout=timeout)
        self._version: str | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __getattr__(self, name: str) -> Any:
        # A store or operation of the local engine that has no API counterpart here yet.
        raise DockyardError(f"{name}: not available through a remote engine ({self.host}) yet")

    # -- transport ---------------------------------------------------------------------

    @property
    def api_version(self) -> str:
        """The negotiated API version (one ``/_ping`` on first use)."""
        if self._version is None:
            server = self._send("GET", "/_ping", versioned=False).headers.get(
                "Api-Version", API_VERSION
            )

            def key(v: str) -> tuple[int, ...]:
                return tuple(int(p) for p in v.split("."))

            self._version = min(server, API_VERSION, key=key)
        return self._version

    def _send(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        versioned: bool = True,
        stream: bool = False,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        url = f"/v{self.api_version}{path}" if versioned else path
        query = {k: v for k, v in (params or {}).items() if v is not None}
        request = self._http.build_request(
            method,
            url,
            params=query,
            json=body,
            content=content,
            headers=headers,
            timeout=timeout if timeout is not None else httpx.USE_CLIENT_DEFAULT,
        )
        try:
            response = self._http.send(request, stream=stream)
        except httpx.TransportError as e:
            tls = _tls_failure(e)
            if tls is not None:  # docker/cli: the url.Error, not 'Is the daemon running?'
                verb = method.capitalize()
                raise ConnectionFailed(
                    f'error during connect: {verb} "{request.url}": {tls}'
                ) from e
            raise ConnectionFailed(
                f"Cannot connect to the Docker daemon at {self.host}. Is the docker daemon running?"
            ) from e
        if response.status_code >= 300:
            if stream:
                response.read()
            raise _error(response)
        return response

    def _json(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        response = self._send(method, path, params, body)
        return response.json() if response.content else None

    # -- system ------------------------------------------------------------------------

    def system_ping(self) -> dict[str, Any]:
        """``GET /_ping``'s headers as the facade's Ping object."""
        h = self._send("GET", "/_ping", versioned=False).headers
        return {
            "ApiVersion": h.get("Api-Version", ""),
            "OSType": h.get("Ostype", ""),
            "Experimental": h.get("Docker-Experimental") == "true",
            "BuilderVersion": h.get("Builder-Version", ""),
        }

    def system_version(self) -> dict[str, Any]:
        """``GET /version``."""
        return self._json("GET", "/version")

    def system_info(self) -> dict[str, Any]:
        """``GET /info``."""
        return self._json("GET", "/info")

    # -- containers --------------------------------------------------------------------

    def container_list(
        self,
        all: bool = False,
        limit: int = -1,
        size: bool = False,
        filters: dict[str, list[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /containers/json``."""
        params = {"all": _bool(all), "size": _bool(size), "filters": _filters(filters)}
        if limit > 0:
            params["limit"] = str(limit)
        return self._json("GET", "/containers/json", params)

    def container_create(
        self,
        config: dict[str, Any],
        host_config: dict[str, Any] | None = None,
        networking_config: dict[str, Any] | None = None,
        name: str | None = None,
        platform: str | None = None,
        keep_lock: bool = False,
    ) -> dict[str, Any]:
        """``POST /containers/create``: returns ``{"Id", "Warnings"}`` (``keep_lock``, an
        in-process crash-safety detail of the local engine, has no remote meaning)."""
        body = {
            **config,
            "HostConfig": host_config or {},
            "NetworkingConfig": networking_config or {},
        }
        return self._json("POST", "/containers/create", {"name": name, "platform": platform}, body)

    def container_inspect(self, id: str, size: bool = False) -> dict[str, Any]:
        """``GET /containers/{id}/json``."""
        return self._json("GET", f"/containers/{quote(id, safe='')}/json", {"size": _bool(size)})

    def container_start(self, id: str) -> None:
        """``POST /containers/{id}/start`` (NotModified if already running)."""
        self._send("POST", f"/containers/{quote(id, safe='')}/start")

    def container_run_attached(
        self, id: str, detach_keys: str | None = None, sig_proxy: bool = True
    ) -> int:
        """Run the created container ``id`` attached to this process's stdio, as the
        docker CLI's ``run`` does over the API: attach (HTTP upgrade; with stdin when
        the container has ``AttachStdin``; ``detach_keys`` for the daemon to watch),
        wait (``removed`` with AutoRemove, else ``next-exit``), start, size the terminal
        (a tty), carry the streams (this terminal in raw mode for ``-it``), return the
        wait's status code (0 when the detach keys ended a tty session and the container
        runs on). With ``sig_proxy`` the signals this process receives are sent to the
        container from creation on, tty or not (docker/cli's ``run``); see
        :meth:`_signal_proxy`."""
        info = self.container_inspect(id)
        config, host_config = info["Config"], info["HostConfig"]
        with self._signal_proxy(id, sig_proxy):
            return self._run_attached(id, config, host_config, detach_keys)

    def _run_attached(
        self,
        id: str,
        config: dict[str, Any],
        host_config: dict[str, Any],
        detach_keys: str | None,
    ) -> int:
        path = f"/containers/{quote(id, safe='')}"
        stdin = bool(config.get("OpenStdin") and config.get("AttachStdin"))
        params = {"stream": "1", "stdout": "1", "stderr": "1"}
        if stdin:
            params["stdin"] = "1"
        if detach_keys:
            params["detachKeys"] = detach_keys
        sock = self._hijack(f"{path}/attach", params)
        try:
            condition = "removed" if host_config.get("AutoRemove") else "next-exit"
            wait = self._send(
                "POST", f"{path}/wait", {"condition": condition}, stream=True, timeout=None
            )
            try:
                self.container_start(id)
                tty = bool(config.get("Tty"))
                self._relay(sock, tty, stdin, f"{path}/resize" if tty else None)
                if tty and stdin and self._running(id):
                    return 0  # detached (the daemon watched the input for the keys)
                body = b"".join(wait.iter_bytes())
            finally:
                wait.close()
        finally:
            sock.close()
        result = json.loads(body)
        if (result.get("Error") or {}).get("Message"):
            raise DockyardError(result["Error"]["Message"])
        return int(result["StatusCode"])

    def _running(self, id: str) -> bool:
        try:
            return bool(self.container_inspect(id)["State"].get("Running"))
        except NotFound:
            return False

    def container_attach(
        self, id: str, stdin: bool = True, sig_proxy: bool = True, detach_keys: str | None = None
    ) -> int | None:
        """``docker attach`` over the API: attach this process's stdio to the running
        container ``id`` (stdin when asked and the container has ``OpenStdin``); returns
        its exit code once it ends, or None when the detach keys ended the session.
        Signals are sent to the container with ``sig_proxy`` when it has no tty
        (docker/cli's ``attach``; :meth:`_signal_proxy`)."""
        info = self.container_inspect(id)
        state, config = info["State"], info["Config"]
        if not state.get("Running"):
            raise Conflict("You cannot attach to a stopped container, start it first")
        if state.get("Paused"):
            raise Conflict("You cannot attach to a paused container, unpause it first")
        path = f"/containers/{quote(id, safe='')}"
        stdin = stdin and bool(config.get("OpenStdin"))
        params = {"stream": "1", "stdout": "1", "stderr": "1", "stdin": _bool(stdin)}
        if detach_keys:
            params["detachKeys"] = detach_keys
        tty = bool(config.get("Tty"))
        with self._signal_proxy(id, sig_proxy and not tty):
            sock = self._hijack(f"{path}/attach", params)
            try:
                self._relay(sock, tty, stdin, f"{path}/resize" if tty else None)
            finally:
                sock.close()
            if tty and stdin and self._running(id):
                return None
            return int(self.container_wait(id)["StatusCode"])

    @contextlib.contextmanager
    def _signal_proxy(self, id: str, forward: bool) -> Iterator[None]:
        """For the block: docker/cli's ``ForwardAllSignals`` with ``forward``: each
        signal this process receives (all but those docker/cli leaves,
        :data:`dockyard.container.signals.PROXIED_SIGNALS`) is sent to container ``id``
        as ``POST /containers/{id}/kill?signal=NAME``, an error ignored (docker/cli
        logs it at debug level). Without ``forward``, SIGINT and SIGTERM are counted as
        docker/cli's ``forceExitAfter3TerminationSignals`` counts them: the third ends
        this process (``got 3 SIGTERM/SIGINTs, forcefully exiting``, exit 1), the
        container running on. The handlers are restored at the block's end.

        The kill requests go from a thread of their own, in the order the signals came:
        a handler runs between the main thread's bytecodes, maybe while it holds the
        HTTP client's connection pool."""
        import queue
        import signal
        import sys
        import threading

        from dockyard.container.signals import PROXIED_SIGNALS

        previous: dict[int, Any] = {}
        pending: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        sender: threading.Thread | None = None
        if forward:

            def send() -> None:
                while (signum := pending.get()) is not None:
                    name = signal.Signals(signum).name.removeprefix("SIG")
                    with contextlib.suppress(DockyardError, httpx.HTTPError):
                        self.container_kill(id, name)

            sender = threading.Thread(target=send, daemon=True)
            sender.start()

            def handler(signum: int, _frame: Any) -> None:
                pending.put(signum)  # SimpleQueue.put is safe in a signal handler

            signals: Any = PROXIED_SIGNALS
        else:
            counted = [0]

            def handler(signum: int, _frame: Any) -> None:
                counted[0] += 1
                if counted[0] >= 3:
                    print("\ngot 3 SIGTERM/SIGINTs, forcefully exiting", file=sys.stderr)
                    raise SystemExit(1)

            signals = (signal.SIGINT, signal.SIGTERM)
        try:
            for sig in signals:
                with contextlib.suppress(OSError, ValueError):
                    previous[sig] = signal.signal(sig, handler)
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)
            if sender is not None:
                pending.put(None)
                sender.join(timeout=5)  # the signals already taken are sent first

    # -- archives (docker cp) ----------------------------------------------------------

    def container_archive_stat(self, id: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: the ``X-Docker-Container-Path-Stat``
        object (name, size, mode as Go's FileMode, mtime, linkTarget)."""
        import base64

        target = f"/containers/{quote(id, safe='')}/archive"
        try:
            response = self._send("HEAD", target, {"path": path})
        except DockyardError:
            # A HEAD answer has no body: the GET says why (it raises too).
            self._send("GET", target, {"path": path}, stream=True).close()
            raise
        header = response.headers.get("X-Docker-Container-Path-Stat", "")
        try:
            return dict(json.loads(base64.b64decode(header)))
        except ValueError:
            raise DockyardError("the endpoint sent no path stat") from None

    def container_archive_get(
        self, id: str, path: str, out: Any, name: str | None = None
    ) -> dict[str, Any]:
        """``GET /containers/{id}/archive``: the tar of ``path`` written to ``out``, its
        top entry renamed ``name`` when given (docker/cli's RebaseArchiveEntries);
        returns the path's stat."""
        import base64
        import tarfile

        response = self._send(
            "GET",
            f"/containers/{quote(id, safe='')}/archive",
            {"path": path},
            stream=True,
            timeout=None,
        )
        try:
            stat = json.loads(base64.b64decode(response.headers["X-Docker-Container-Path-Stat"]))
            chunks = response.iter_raw()
            if name is None or name == stat.get("name"):
                for chunk in chunks:
                    out.write(chunk)
                return dict(stat)
            old = str(stat.get("name") or "")
            with (
                tarfile.open(fileobj=cast(Any, _ChunkReader(chunks)), mode="r|") as src,
                tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as dst,
            ):
                for member in src:
                    if member.name == old or member.name.startswith(old + "/"):
                        member.name = name + member.name[len(old) :]
                    if member.islnk() and (
                        member.linkname == old or member.linkname.startswith(old + "/")
                    ):
                        member.linkname = name + member.linkname[len(old) :]
                    dst.addfile(member, src.extractfile(member) if member.isreg() else None)
            return dict(stat)
        finally:
            response.close()

    def container_archive_put(
        self, id: str, path: str, stream: Any, copy_uid_gid: bool = False
    ) -> int:
        """``PUT /containers/{id}/archive``: extract the tar ``stream`` into directory
        ``path``; returns the bytes sent."""
        sent = 0

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            while data := stream.read(65536):
                sent += len(data)
                yield data

        params = {"path": path, "copyUIDGID": "1" if copy_uid_gid else None}
        self._send(
            "PUT",
            f"/containers/{quote(id, safe='')}/archive",
            params,
            timeout=None,
            headers={"Content-Type": "application/x-tar"},
            content=chunks(),
        )
        return sent

    # -- exec --------------------------------------------------------------------------

    def exec_create(self, id: str, config: dict[str, Any]) -> dict[str, str]:
        """``POST /containers/{id}/exec``: ``{"Id"}``."""
        return self._json("POST", f"/containers/{quote(id, safe='')}/exec", None, config)

    def exec_inspect(self, id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""
        return self._json("GET", f"/exec/{quote(id, safe='')}/json")

    def exec_start(self, id: str, detach: bool = False) -> int:
        """``POST /exec/{id}/start`` with this process's stdio, as ``docker exec``: 0 at
        once with ``detach``; else the streams are carried (stdin when the instance has
        ``AttachStdin``, this terminal raw and sized for a tty) and the exit code is the
        instance's (``GET /exec/{id}/json``) once they end (126 or 127 for a command
        that could not start: the endpoint wrote why into the stream)."""
        path = f"/exec/{quote(id, safe='')}"
        if detach:
            self._send("POST", f"{path}/start", None, {"Detach": True, "Tty": False})
            return 0
        info = self.exec_inspect(id)
        tty = bool((info.get("ProcessConfig") or {}).get("tty"))
        stdin = bool(info.get("OpenStdin"))
        body = json.dumps({"Detach": False, "Tty": tty}).encode()
        sock = self._hijack(f"{path}/start", {}, body)
        try:
            self._relay(sock, tty, stdin, f"{path}/resize" if tty else None)
        finally:
            sock.close()
        # A command that could not start: the endpoint said why in the stream.
        return int(self.exec_inspect(id).get("ExitCode") or 0)

    def _relay(self, sock: Any, tty: bool, stdin: bool, resize: str | None) -> None:
        """Carry a hijacked stream: this process's stdin to ``sock`` (when ``stdin``;
        its end is a half-close), the output to stdout and stderr (stdcopy frames
        unless ``tty``). With a tty on a terminal: raw mode for the session, and the
        window size sent to ``resize`` (a resize path) now and on SIGWINCH."""
        import signal
        import socket
        import sys
        import threading

        restore: Any = None
        old_winch: Any = None
        if tty and stdin and os.isatty(0):
            import termios
            import tty as tty_mod

            saved = termios.tcgetattr(0)
            tty_mod.setraw(0)

            def restore() -> None:
                termios.tcsetattr(0, termios.TCSADRAIN, saved)

        try:
            if resize is not None and (os.isatty(0) or os.isatty(1)):
                fd = 0 if os.isatty(0) else 1

                def winch(*_: Any) -> None:
                    size = os.get_terminal_size(fd)
                    try:
                        self._send("POST", resize, {"h": size.lines, "w": size.columns})
                    except DockyardError:
                        pass

                winch()
                old_winch = signal.signal(signal.SIGWINCH, winch)
            if stdin:

                def pump() -> None:
                    while True:
                        try:
                            data = os.read(0, 65536)
                        except OSError:
                            data = b""
                        if not data:
                            break
                        try:
                            sock.sendall(data)
                        except OSError:
                            return
                    try:
                        sock.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass

                threading.Thread(target=pump, daemon=True).start()
            out = {1: sys.stdout.buffer, 2: sys.stderr.buffer}

            def recv() -> bytes:
                try:
                    return bytes(sock.recv(65536))
                except OSError:
                    return b""

            chunks = iter(recv, b"")
            items = ((1, c) for c in chunks) if tty else _demux(chunks, True)
            for stream, data in items:
                if not data:
                    continue
                target = out.get(stream, sys.stdout.buffer)
                target.write(data)
                target.flush()
        finally:
            if old_winch is not None:
                signal.signal(signal.SIGWINCH, old_winch)
            if restore is not None:
                restore()

    def _hijack(self, path: str, params: dict[str, str], body: bytes = b"") -> Any:
        """A POST (with the JSON ``body``) asking ``Upgrade: tcp`` on a connection of its
        own; returns the socket once the server answered 101 (or 200), positioned at the
        raw stream. An error status raises the facade's error class for it."""
        import socket
        from urllib.parse import urlencode

        scheme, _, rest = self.host.partition("://")
        if scheme == "unix":
            sock = socket.socket(socket.AF_UNIX)
            target: Any = rest
        elif scheme == "tcp" and not os.environ.get("DOCKER_TLS_VERIFY"):
            sock = socket.socket(socket.AF_INET6 if rest.startswith("[") else socket.AF_INET)
            host, _, port = rest.rstrip("/").rpartition(":")
            target = (host.strip("[]"), int(port))
        else:
            raise DockyardError(
                f"attaching through {self.host} is not supported yet (unix:// or plain tcp://)"
            )
        try:
            sock.connect(target)
        except OSError:
            sock.close()
            raise ConnectionFailed(
                f"Cannot connect to the Docker daemon at {self.host}. Is the docker daemon running?"
            ) from None
        request = (
            f"POST /v{self.api_version}{path}?{urlencode(params)} HTTP/1.1\r\nHost: docker\r\n"
            "Connection: Upgrade\r\nUpgrade: tcp\r\n"
            + ("Content-Type: application/json\r\n" if body else "")
            + f"Content-Length: {len(body)}\r\n\r\n"
        )
        sock.sendall(request.encode() + body)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = sock.recv(1)
            if not chunk:
                sock.close()
                raise DockyardError("the endpoint closed the attach connection")
            head += chunk
        status = head.split(b" ", 2)[1]
        if status not in (b"101", b"200"):
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip() or 0)
            content = b""
            while len(content) < length:
                chunk = sock.recv(length - len(content))
                if not chunk:
                    break
                content += chunk
            sock.close()
            raise _error(httpx.Response(int(status), content=content))
        return sock

    def container_stop(self, id: str, signal: str | None = None, t: int | None = None) -> None:
        """``POST /containers/{id}/stop`` (NotModified if not running)."""
        # The request lasts as long as the stop: its timeout plus some slack.
        wait = None if t is None or t < 0 else t + 30
        self._send(
            "POST",
            f"/containers/{quote(id, safe='')}/stop",
            {"signal": signal, "t": t},
            timeout=wait,
        )

    def container_restart(self, id: str, signal: str | None = None, t: int | None = None) -> None:
        """``POST /containers/{id}/restart``."""
        self._send(
            "POST",
            f"/containers/{quote(id, safe='')}/restart",
            {"signal": signal, "t": t},
            timeout=None,
        )

    def container_kill(self, id: str, signal: str = "SIGKILL") -> None:
        """``POST /containers/{id}/kill``."""
        self._send("POST", f"/containers/{quote(id, safe='')}/kill", {"signal": signal})

    def container_pause(self, id: str) -> None:
        """``POST /containers/{id}/pause``."""
        self._send("POST", f"/containers/{quote(id, safe='')}/pause")

    def container_unpause(self, id: str) -> None:
        """``POST /containers/{id}/unpause``."""
        self._send("POST", f"/containers/{quote(id, safe='')}/unpause")

    def container_top(self, id: str, ps_args: str = "-ef") -> dict[str, Any]:
        """``GET /containers/{id}/top``: ``{"Titles", "Processes"}``."""
        return self._json("GET", f"/containers/{quote(id, safe='')}/top", {"ps_args": ps_args})

    def container_stats(
        self, id: str, stream: bool = True, one_shot: bool = False
    ) -> Iterator[dict[str, Any]]:
        """``GET /containers/{id}/stats``: StatsResponse objects as the endpoint sends
        them (one a second with ``stream``, else one; ``one_shot``: without the sample a
        second earlier). The request is made at once: NotFound and Conflict (not
        running) come from this call, not from the iteration."""
        params = {"stream": _bool(stream), "one-shot": _bool(one_shot) if one_shot else None}
        response = self._send(
            "GET",
            f"/containers/{quote(id, safe='')}/stats",
            params,
            stream=True,
            timeout=None,
        )

        def samples() -> Iterator[dict[str, Any]]:
            try:
                for line in response.iter_lines():
                    if line.strip():
                        yield dict(json.loads(line))
            finally:
                response.close()

        return samples()

    def container_export(self, id: str, out: Any) -> None:
        """``GET /containers/{id}/export``: the root filesystem's tar written to ``out``."""
        self._copy_to(out, "GET", f"/containers/{quote(id, safe='')}/export")

    def container_changes(self, id: str) -> list[tuple[str, str]]:
        """``GET /containers/{id}/changes``: ``[("A"|"C"|"D", "/path")]``, as
        :func:`dockyard.engine.archives.changes`."""
        found = self._json("GET", f"/containers/{quote(id, safe='')}/changes") or []
        kinds = {0: "C", 1: "A", 2: "D"}
        return [(kinds.get(c.get("Kind"), "?"), str(c.get("Path"))) for c in found]

    def image_save(self, names: list[str], out: Any) -> None:
        """``GET /images/get?names=...``: the images' tar (Docker's save format) written
        to ``out``."""
        self._copy_to(out, "GET", "/images/get", {"names": list(names)})

    def image_load(self, stream: Any, quiet: bool = False) -> Iterator[dict[str, Any]]:
        """``POST /images/load`` with the archive ``stream``: the JSON messages, as
        :func:`dockyard.engine.archives.load`; an error message in the stream raises
        DockyardError with its text."""

        response = self._send(
            "POST",
            "/images/load",
            {"quiet": _bool(quiet)},
            stream=True,
            timeout=None,
            headers={"Content-Type": "application/x-tar"},
            content=_chunks(stream),
        )

        def messages() -> Iterator[dict[str, Any]]:
            try:
                for line in response.iter_lines():
                    if not line.strip():
                        continue
                    message = dict(json.loads(line))
                    if message.get("error") or message.get("errorDetail"):
                        detail = message.get("errorDetail") or {}
                        raise DockyardError(str(detail.get("message") or message["error"]))
                    yield message
            finally:
                response.close()

        return messages()

    def _copy_to(
        self, out: Any, method: str, path: str, params: dict[str, Any] | None = None
    ) -> None:
        """The body of a streamed request written to ``out`` (an error status raises
        before anything is written)."""
        response = self._send(method, path, params, stream=True, timeout=None)
        try:
            for chunk in response.iter_raw():
                out.write(chunk)
        finally:
            response.close()

    def container_delete(
        self, id: str, force: bool = False, v: bool = False, link: bool = False
    ) -> None:
        """``DELETE /containers/{id}``."""
        self._send(
            "DELETE",
            f"/containers/{quote(id, safe='')}",
            {"force": _bool(force), "v": _bool(v), "link": _bool(link)},
        )

    def container_rename(self, id: str, name: str) -> None:
        """``POST /containers/{id}/rename``."""
        self._send("POST", f"/containers/{quote(id, safe='')}/rename", {"name": name})

    def container_update(self, id: str, update: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update``: ``{"Warnings"}``."""
        return self._json("POST", f"/containers/{quote(id, safe='')}/update", None, update)

    def container_wait(self, id: str, condition: str = "not-running") -> dict[str, Any]:
        """``POST /containers/{id}/wait``: ``{"StatusCode", "Error"}``."""
        return self._json(
            "POST", f"/containers/{quote(id, safe='')}/wait", {"condition": condition}
        )

    def container_logs(
        self,
        id: str,
        follow: bool = False,
        stdout: bool = True,
        stderr: bool = True,
        since: int = 0,
        until: int = 0,
        timestamps: bool = False,
        tail: str = "all",
    ) -> Iterator[tuple[str, bytes]]:
        """``GET /containers/{id}/logs``: ("stdout" or "stderr", bytes) pairs from
        Docker's stdcopy frames (a tty container's raw output is stdout); ``since`` and
        ``until`` in Unix nanoseconds (0: no bound)."""
        params = {
            "follow": _bool(follow),
            "stdout": _bool(stdout),
            "stderr": _bool(stderr),
            "since": f"{since // 10**9}.{since % 10**9:09d}" if since else None,
            "until": f"{until // 10**9}.{until % 10**9:09d}" if until else None,
            "timestamps": _bool(timestamps),
            "tail": tail,
        }
        response = self._send(
            "GET", f"/containers/{quote(id, safe='')}/logs", params, stream=True, timeout=None
        )

        def pairs() -> Iterator[tuple[str, bytes]]:
            try:
                framed = response.headers.get("Content-Type") != "application/vnd.docker.raw-stream"
                for stream, data in _demux(response.iter_raw(), framed):
                    yield ("stderr" if stream == 2 else "stdout"), data
            finally:
                response.close()

        return pairs()

    # -- images ------------------------------------------------------------------------

    def image_list(
        self, all: bool = False, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``GET /images/json``."""
        return self._json("GET", "/images/json", {"all": _bool(all), "filters": _filters(filters)})

    def image_inspect(self, name: str) -> dict[str, Any]:
        """``GET /images/{name}/json``."""
        return self._json("GET", f"/images/{name}/json")

    def image_history(self, name: str) -> list[dict[str, Any]]:
        """``GET /images/{name}/history``."""
        return self._json("GET", f"/images/{name}/history")

    def image_tag(self, name: str, repo: str, tag: str | None = None) -> None:
        """``POST /images/{name}/tag``."""
        self._send("POST", f"/images/{name}/tag", {"repo": repo, "tag": tag})

    def image_delete(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> list[dict[str, str]]:
        """``DELETE /images/{name}``: the Untagged/Deleted items."""
        return self._json(
            "DELETE", f"/images/{name}", {"force": _bool(force), "noprune": _bool(noprune)}
        )

    def image_pull(
        self, name: str, platform: str | None = None, all_tags: bool = False
    ) -> Iterator[dict[str, Any]]:
        """``POST /images/create?fromImage=``: the pull's JSON progress messages (an
        ``errorDetail`` message is raised as DockyardError); every tag of the repository
        with ``all_tags``. The login stored on this host for the image's registry goes
        in ``X-Registry-Auth``, as the docker CLI sends it."""
        repo, tag = _split_reference(name)
        params = {
            "fromImage": repo,
            "tag": None if all_tags else tag or "latest",
            "platform": platform,
        }
        response = self._send(
            "POST",
            "/images/create",
            params,
            stream=True,
            timeout=None,
            headers=_registry_auth(name),
        )
        return _messages(response)

    def image_push(self, name: str, all_tags: bool = False) -> Iterator[dict[str, Any]]:
        """``POST /images/{name}/push``: the push's JSON progress messages (errors raised
        as in :meth:`image_pull`), with this host's login for the registry."""
        repo, tag = _split_reference(name)
        params = {"tag": None if all_tags else tag or "latest"}
        response = self._send(
            "POST",
            f"/images/{repo}/push",
            params,
            stream=True,
            timeout=None,
            headers=_registry_auth(name),
        )
        return _messages(response)

    def system_events(
        self,
        since: str | None = None,
        until: str | None = None,
        filters: dict[str, list[str]] | None = None,
    ) -> Iterator[dict[str, Any] | None]:
        """``GET /events``: the endpoint's event messages as they come (see
        :meth:`dockyard.engine.Engine.system_events`)."""
        params = {"since": since or None, "until": until or None, "filters": _filters(filters)}
        response = self._send("GET", "/events", params, stream=True, timeout=None)

        def messages() -> Iterator[dict[str, Any] | None]:
            try:
                for line in response.iter_lines():
                    if line.strip():
                        yield json.loads(line)
            finally:
                response.close()

        return messages()

    def image_search(
        self, term: str, limit: int = 0, filters: dict[str, list[str]] | None = None
    ) -> list[dict[str, Any]]:
        """``GET /images/search``: the SearchResult list."""
        params = {"term": term, "limit": str(limit) if limit else None}
        params["filters"] = _filters(filters)
        return self._json("GET", "/images/search", params)

    def image_build_local(
        self,
        context: str,
        dockerfile: str | None = None,
        *,
        stdin: Any = None,
        tags: list[str] | None = None,
        buildargs: dict[str, str] | None = None,
        target: str = "",
        labels: dict[str, str] | None = None,
        network: str = "default",
        pull: bool = False,
        nocache: bool = False,
        platform: str | None = None,
        host_config: dict[str, Any] | None = None,
        secrets: dict[str, bytes] | None = None,
        ssh: dict[str, str] | None = None,
        cache_from: list[str] | None = None,
        line: Any = None,
        raw: Any = None,
        pull_status: Any = None,
    ) -> str:
        """``docker build`` with the classic builder's ``POST /build``: the context (a
        directory on this host, or ``-``: a tar or a Dockerfile on ``stdin``) sent as a
        tar the way the docker CLI makes it (``.dockerignore`` applied here, owners 0, a
        Dockerfile outside the context added as ``.dockerfile.<hex>`` and listed in
        ``.dockerignore``); the build's output goes to ``raw``, a FROM pull's status to
        ``pull_status``. The RUN containers' limits (``host_config``) are sent as the
        API's parameters, ``cache_from`` as ``cachefrom`` (the endpoint's classic builder
        takes steps from those images only, and only from local ones). Returns the image ID. Raises InvalidArgument (``secrets`` and
        ``ssh`` need BuildKit's session, not served here; a bad context), DockyardError
        (the build failed: the endpoint's message)."""
        import sys
        import tempfile

        if secrets or ssh:
            raise InvalidArgument(
                "--secret and --ssh need BuildKit's session: not available through -H/DOCKER_HOST"
            )
        body = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
        try:
            name = _context_tar(context, dockerfile, stdin or sys.stdin.buffer, body)
            body.seek(0)
            params: dict[str, Any] = {
                "t": list(tags or []) or None,
                "dockerfile": name,
                "buildargs": json.dumps(buildargs) if buildargs else None,
                "labels": json.dumps(labels) if labels else None,
                "target": target or None,
                "nocache": _bool(nocache) if nocache else None,
                "pull": _bool(pull) if pull else None,
                "networkmode": network if network not in ("", "default") else None,
                "platform": platform,
                "rm": "1",
                "cachefrom": json.dumps(cache_from) if cache_from else None,
            }
            for key, param in _BUILD_LIMITS.items():
                value = (host_config or {}).get(key)
                if value not in (None, 0, "", [], {}):
                    params[param] = (
                        json.dumps(value) if key == "Ulimits"
                        else ",".join(value) if key == "ExtraHosts"
                        else value
                    )  # fmt: skip

            response = self._send(
                "POST",
                "/build",
                params,
                stream=True,
                timeout=None,
                headers={"Content-Type": "application/x-tar"},
                content=_chunks(body),
            )
            image_id = ""
            for message in _messages(response):
                if message.get("stream") and raw is not None:
                    raw(str(message["stream"]).encode())
                elif message.get("status") and pull_status is not None:
                    if not message.get("progressDetail"):
                        ident = message.get("id")
                        text = str(message["status"])
                        pull_status(f"{ident}: {text}" if ident else text)
                elif isinstance(message.get("aux"), dict) and message["aux"].get("ID"):
                    image_id = str(message["aux"]["ID"])
        finally:
            body.close()
        if not image_id:
            raise DockyardError("the build ended without an image ID")
        return image_id

    # -- networks and volumes ----------------------------------------------------------

    def network_list(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /networks``."""
        return self._json("GET", "/networks", {"filters": _filters(filters)})

    def network_inspect(self, id: str, verbose: bool = False) -> dict[str, Any]:
        """``GET /networks/{id}``."""
        return self._json("GET", f"/networks/{quote(id, safe='')}", {"verbose": _bool(verbose)})

    def network_create(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /networks/create``: ``{"Id", "Warning"}``."""
        return self._json("POST", "/networks/create", None, request)

    def network_delete(self, id: str) -> None:
        """``DELETE /networks/{id}``."""
        self._send("DELETE", f"/networks/{quote(id, safe='')}")

    def network_connect(
        self, id: str, container: str, endpoint_config: dict[str, Any] | None = None
    ) -> None:
        """``POST /networks/{id}/connect``."""
        body = {"Container": container, "EndpointConfig": endpoint_config or {}}
        self._send("POST", f"/networks/{quote(id, safe='')}/connect", None, body)

    def network_disconnect(self, id: str, container: str, force: bool = False) -> None:
        """``POST /networks/{id}/disconnect``."""
        body = {"Container": container, "Force": force}
        self._send("POST", f"/networks/{quote(id, safe='')}/disconnect", None, body)

    def image_commit(
        self,
        container: str,
        repository: str | None = None,
        author: str = "",
        message: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> dict[str, str]:
        """``POST /commit`` (``repository`` sent as ``repo`` and ``tag``): ``{"Id"}``."""
        repo, tag = _split_reference(repository) if repository else ("", "")
        params = {
            "container": container,
            "repo": repo,
            "tag": tag,
            "author": author,
            "comment": message,
            "pause": _bool(pause),
            "changes": list(changes or []),
        }
        return self._json("POST", "/commit", params)

    def system_auth(self, auth_config: dict[str, Any]) -> dict[str, str]:
        """``POST /auth``: ``{"Status", "IdentityToken"}``."""
        return self._json("POST", "/auth", None, auth_config)

    def image_import(
        self,
        stream: Any,
        repository: str | None = None,
        changes: list[str] | None = None,
        message: str = "",
        platform: str | None = None,
    ) -> str:
        """``POST /images/create?fromSrc=-`` with the tarball ``stream`` as the body
        (``repository`` sent as ``repo`` and ``tag``): the new image's ID, the stream's
        last ``status``. Raises DockyardError (an error in the stream)."""
        repo, tag = _split_reference(repository) if repository else ("", "")
        params = {
            "fromSrc": "-",
            "repo": repo,
            "tag": tag,
            "message": message,
            "platform": platform,
            "changes": list(changes or []),
        }

        response = self._send(
            "POST",
            "/images/create",
            params,
            stream=True,
            timeout=None,
            headers={"Content-Type": "application/x-tar"},
            content=_chunks(stream),
        )
        image_id = ""
        for message_ in _messages(response):
            image_id = str(message_.get("status") or image_id)
        return image_id

    def container_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /containers/prune``: ``{"ContainersDeleted", "SpaceReclaimed"}``."""
        return self._json("POST", "/containers/prune", {"filters": _filters(filters)})

    def image_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /images/prune``: ``{"ImagesDeleted", "SpaceReclaimed"}``."""
        return self._json("POST", "/images/prune", {"filters": _filters(filters)})

    def build_prune(
        self, all: bool = False, filters: dict[str, list[str]] | None = None, keep_storage: int = 0
    ) -> dict[str, Any]:
        """``POST /build/prune``: ``{"CachesDeleted", "SpaceReclaimed"}``."""
        params = {"all": _bool(all), "filters": _filters(filters)}
        if keep_storage:
            params["keep-storage"] = str(keep_storage)
        return self._json("POST", "/build/prune", params)

    def system_prune(
        self,
        all_images: bool = False,
        volumes: bool = False,
        filters: dict[str, list[str]] | None = None,
    ) -> Any:
        """``docker system prune`` as docker/cli runs it (cli/command/system/prune.go):
        ``POST /containers/prune``, ``/networks/prune``, ``/volumes/prune`` (with
        ``volumes``), ``/images/prune`` (``dangling=false`` with ``all_images``) and
        ``/build/prune``, in turn. Returns a :class:`dockyard.engine.prune.SystemPruneReport`.
        Raises what the first failing request answers."""
        from dockyard.engine.prune import SystemPruneReport

        parsed = dict(filters or {})
        report = SystemPruneReport()
        done = self.container_prune(parsed)
        report.containers = done.get("ContainersDeleted") or []
        report.reclaimed += done.get("SpaceReclaimed") or 0
        report.networks = self.network_prune(parsed).get("NetworksDeleted") or []
        if volumes:
            done = self.volume_prune({k: v for k, v in parsed.items() if k != "until"})
            report.volumes = done.get("VolumesDeleted") or []
            report.reclaimed += done.get("SpaceReclaimed") or 0
        wanted = {**parsed, "dangling": ["false"]} if all_images else parsed
        done = self.image_prune(wanted)
        report.images = [
            (kind.lower(), value)
            for record in done.get("ImagesDeleted") or []
            for kind, value in record.items()
        ]
        report.reclaimed += done.get("SpaceReclaimed") or 0
        done = self.build_prune(all_images)
        report.build_cache = done.get("CachesDeleted") or []
        report.reclaimed += done.get("SpaceReclaimed") or 0
        return report

    def network_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /networks/prune``: ``{"NetworksDeleted"}``."""
        return self._json("POST", "/networks/prune", {"filters": _filters(filters)})

    def volume_prune(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``POST /volumes/prune``: ``{"VolumesDeleted", "SpaceReclaimed"}``."""
        return self._json("POST", "/volumes/prune", {"filters": _filters(filters)})

    def volume_list(self, filters: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """``GET /volumes``: ``{"Volumes", "Warnings"}``."""
        return self._json("GET", "/volumes", {"filters": _filters(filters)})

    def volume_create(self, request: dict[str, Any]) -> dict[str, Any]:
        """``POST /volumes/create``."""
        return self._json("POST", "/volumes/create", None, request)

    def volume_inspect(self, name: str) -> dict[str, Any]:
        """``GET /volumes/{name}``."""
        return self._json("GET", f"/volumes/{quote(name, safe='')}")

    def volume_delete(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``."""
        self._send("DELETE", f"/volumes/{quote(name, safe='')}", {"force": _bool(force)})


#: HostConfig fields of a build's RUN containers -> ``POST /build`` parameters.
_BUILD_LIMITS = {
    "Memory": "memory",
    "MemorySwap": "memswap",
    "CpuShares": "cpushares",
    "CpuPeriod": "cpuperiod",
    "CpuQuota": "cpuquota",
    "CpusetCpus": "cpusetcpus",
    "CpusetMems": "cpusetmems",
    "CgroupParent": "cgroupparent",
    "ShmSize": "shmsize",
    "Ulimits": "ulimits",
    "ExtraHosts": "extrahosts",
}


def _context_tar(context: str, dockerfile: str | None, stdin: Any, out: Any) -> str | None:
    """Write ``docker build``'s context tar to ``out``; returns the ``dockerfile``
    parameter (the Dockerfile's path in the tar, None for the default). Raises
    InvalidArgument as the in-process build does for a bad context."""
    import secrets
    import tarfile

    from dockyard.build.context import DOCKERIGNORE, Context

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_file(tf: tarfile.TarFile, name: str, data: bytes) -> None:
        import io
        import time

        info = tarfile.TarInfo(name)
        info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
        tf.addfile(info, io.BytesIO(data))

    if context == "-":
        data = stdin.read()
        head = data[:512]
        archive = head[:3] in (b"\x1f\x8b\x08", b"BZh") or head[:6] == b"\xfd7zXZ\x00"
        if not archive and len(head) == 512:
            try:
                tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
                archive = True
            except tarfile.HeaderError:
                pass
        if archive:
            out.write(data)
            return dockerfile
        with tarfile.open(fileobj=out, mode="w") as tf:
            add_file(tf, "Dockerfile", data)
        return None
    text = None
    if dockerfile == "-":
        text = stdin.read()
        ctx = Context.from_directory(context, None) if os.path.isdir(context) else None
        if ctx is None:
            raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
    else:
        ctx = Context.from_directory(context, dockerfile)
    with ctx:
        root = ctx.root
        assert root is not None
        name: str | None = None
        path = ctx.dockerfile_path
        if text is None and path is not None:
            rel = os.path.relpath(path, root)
            if rel.startswith(".." + os.sep):
                with open(path, "rb") as f:
                    text = f.read()
            elif dockerfile is not None:
                name = rel.replace(os.sep, "/")
        extra = f".dockerfile.{secrets.token_hex(10)}" if text is not None else None
        with tarfile.open(fileobj=out, mode="w") as tf:
            for directory, dirs, files in os.walk(root):
                dirs.sort()
                for entry in [*sorted(dirs), *sorted(files)]:
                    full = os.path.join(directory, entry)
                    rel = os.path.relpath(full, root).replace(os.sep, "/")
                    if extra is not None and rel == DOCKERIGNORE:
                        continue  # written below with the Dockerfile's name added
                    if ctx.excluded(full):
                        if entry in dirs and not ctx.matcher.has_exclusions:
                            dirs.remove(entry)
                        continue
                    tf.add(full, arcname=rel, recursive=False, filter=owned_by_root)
            if extra is not None and text is not None:
                add_file(tf, extra, text)
                try:
                    with open(os.path.join(root, DOCKERIGNORE), "rb") as f:
                        ignore = f.read() + b"\n"
                except FileNotFoundError:
                    ignore = DOCKERIGNORE.encode() + b"\n"
                add_file(tf, DOCKERIGNORE, ignore + extra.encode() + b"\n")
                name = extra
    return name


class _ChunkReader:
    """A forward-only binary file over an iterator of byte chunks (for tarfile's
    stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        if size < 0:
            data, self._buf = self._buf, b""
        else:
            data, self._buf = self._buf[:size], self._buf[size:]
        return data


def _split_reference(name: str) -> tuple[str, str]:
    """``name`` as the docker CLI sends it: (repository, tag or digest, "" if none)."""
    ref, sep, digest = name.partition("@")
    if sep:
        return ref, digest
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = ref.rsplit(":", 1)
        return repo, tag
    return ref, ""


def _registry_auth(name: str) -> dict[str, str]:
    """``X-Registry-Auth`` for image ``name``: base64url of the AuthConfig this host
    stores for its registry (``{}`` when none), as the docker CLI sends it."""
    import base64

    from dockyard import reference
    from dockyard.distribution import config, credentials

    try:
        creds = credentials.lookup(config.auth_key(reference.parse(name).domain))
    except DockyardError:
        creds = None
    auth: dict[str, str] = {}
    if creds is not None:
        key = "identitytoken" if creds.identity_token else "password"
        auth = {"username": creds.username, key: creds.secret}
    return {"X-Registry-Auth": base64.urlsafe_b64encode(json.dumps(auth).encode()).decode()}


def _chunks(stream: IO[bytes]) -> Iterator[bytes]:
    """``stream`` read to its end in 64 KiB pieces: a request body httpx sends chunked."""
    while data := stream.read(65536):
        yield data


def _messages(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """A JSON progress stream's messages; an ``errorDetail`` one is raised as
    DockyardError. The response is closed at the end."""
    try:
        for line in response.iter_lines():
            if not line.strip():
                continue
            message = json.loads(line)
            if "errorDetail" in message or "error" in message:
                raise DockyardError(
                    (message.get("errorDetail") or {}).get("message") or message.get("error", "")
                )
            yield message
    finally:
        response.close()


def _demux(chunks: Iterator[bytes], framed: bool) -> Iterator[tuple[int, bytes]]:
    """Docker's stdcopy frames (8-byte header: stream, 0, 0, 0, size BE32) as (stream,
    payload); raw output as stream 1."""
    if not framed:
        for chunk in chunks:
            yield 1, chunk
        return
    buf = b""
    for chunk in chunks:
        buf += chunk
        while len(buf) >= 8:
            stream, size = buf[0], struct.unpack(">I", buf[4:8])[0]
            if len(buf) < 8 + size:
                break
            yield stream, buf[8 : 8 + size]
            buf = buf[8 + size :]
