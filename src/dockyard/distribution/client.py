"""HTTP transport to one registry: endpoints, TLS, the auth challenge, errors.

Docker's rules (moby ``registry/``): ``docker.io`` is ``registry-1.docker.io``; a
registry is reached over HTTPS, verified with the system CAs plus the ``*.crt`` files of
``<certs.d>/<host[:port]>/`` (and a client certificate from its ``*.cert``/``*.key``
pair); plain HTTP (and unverified HTTPS) only for loopback hosts and
``insecure-registries``, HTTPS tried first. ``GET /v2/`` answers 401 with a
``WWW-Authenticate`` challenge: ``Bearer realm=...,service=...`` (a token per repository
scope from the realm, sent with the user's credentials if any, cached until it expires)
or ``Basic``. Redirects (blob downloads to storage) are followed up to 10 times, without
the ``Authorization`` header when they lead to another host.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dockyard.distribution.config import RegistryConfig, auth_key, registry_host
from dockyard.distribution.credentials import Credentials
from dockyard.errors import DockyardError

if TYPE_CHECKING:
    import httpx

    from dockyard.distribution.sockets import AbortableBackend

USER_AGENT = "dockyard/0.1.0"
MAX_REDIRECTS = 10
_CHALLENGE_PARAM = re.compile(r'([A-Za-z_]+)=(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')


class RegistryError(DockyardError):
    """A registry answered with an error. ``status`` is the HTTP status (0 when no
    answer came), ``code`` the first distribution error code (``MANIFEST_UNKNOWN``)."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class Unreachable(RegistryError):
    """No connection could be made (DNS, refused, TLS, timeout)."""


def _error_text(resp: httpx.Response) -> tuple[str, str]:
    """(Docker's message, first code) of a registry error response (distribution's
    errcode JSON ``{"errors": [{"code", "message"}]}``, else the status)."""
    try:
        body = json.loads(resp.read() or b"{}")
        errors = body.get("errors") or []
        first = errors[0]
        code = str(first.get("code", ""))
        text = code.lower().replace("_", " ")
        message = first.get("message") or ""
        return (f"{text}: {message}" if message else text), code
    except (ValueError, AttributeError, IndexError, TypeError, KeyError):
        pass
    # distribution's client: a bodiless 401/403 (HEAD) is its error code's default text.
    if resp.status_code == 401:
        return "unauthorized: authentication required", "UNAUTHORIZED"
    if resp.status_code == 403:
        return "denied: requested access to the resource is denied", "DENIED"
    return f"received unexpected HTTP status: {resp.status_code} {resp.reason_phrase}", ""


def _transport_reason(e: Exception) -> str:
    """Go's wording for why a connection failed."""
    import socket
    import ssl

    import httpx

    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, socket.gaierror | UnicodeError):
            return "no such host"
        if isinstance(cause, ConnectionRefusedError):
            return "connect: connection refused"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"tls: failed to verify certificate: {cause.verify_message}"
        if isinstance(cause, ssl.SSLError):
            return f"tls: {cause.reason or cause}".lower()
        cause = cause.__cause__ or cause.__context__
    if isinstance(e, httpx.TimeoutException):
        return "i/o timeout"
    text = str(e)
    if "Name or service not known" in text or "Temporary failure in name resolution" in text:
        return "no such host"
    if "Connection refused" in text:
        return "connect: connection refused"
    return text or type(e).__name__


def transport_error(method: str, url: str, e: Exception) -> Unreachable:
    """``Get "https://host/v2/": dial tcp host: <reason>`` for a failed request."""
    import httpx

    verb = method.capitalize()
    reason = _transport_reason(e)
    if isinstance(e, httpx.TooManyRedirects):
        return Unreachable(f'{verb} "{url}": stopped after {MAX_REDIRECTS} redirects')
    if isinstance(e, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return Unreachable(f'{verb} "{url}": net/http: timeout awaiting response (i/o timeout)')
    if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout | UnicodeError):
        parsed = httpx.URL(url)
        if reason.startswith("tls:"):
            return Unreachable(f'{verb} "{url}": {reason}')
        if reason == "no such host":
            return Unreachable(f'{verb} "{url}": dial tcp: lookup {parsed.host}: no such host')
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        return Unreachable(f'{verb} "{url}": dial tcp {parsed.host}:{port}: {reason}')
    return Unreachable(f'{verb} "{url}": {reason}')


def _tls_context(cfg: RegistryConfig, host: str, verify: bool) -> Any:
    """An SSL context with the system CAs plus ``<certs.d>/<host>/``'s files."""
    import ssl

    if verify:
        ctx = ssl.create_default_context()
    else:
        # No CA bundle to load (about 0.1 s) when nothing is verified.
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    directory = os.path.join(cfg.certs_d, host)
    try:
        names = sorted(os.listdir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return ctx
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(".crt"):
            try:
                ctx.load_verify_locations(cafile=path)
            except (ssl.SSLError, OSError) as e:
                raise DockyardError(f"{path}: not a CA certificate: {e}") from None
        elif name.endswith(".cert"):
            key = path[: -len(".cert")] + ".key"
            if not os.path.exists(key):
                raise DockyardError(
                    f"missing key {os.path.basename(key)} for client certificate {name}"
                )
            try:
                ctx.load_cert_chain(path, key)
            except (ssl.SSLError, OSError) as e:
                raise DockyardError(f"{path}: bad client certificate or key: {e}") from None
        elif name.endswith(".key") and not os.path.exists(path[: -len(".key")] + ".cert"):
            raise DockyardError(f"missing client certificate {name[:-4]}.cert for key {name}")
    return ctx


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="x",service="y"`` -> ``("bearer", {"realm": "x", "service": "y"})``."""
    scheme, _, rest = header.strip().partition(" ")
    params = {
        m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3) or "")
        for m in _CHALLENGE_PARAM.finditer(rest)
    }
    return scheme.lower(), params


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, the port made explicit."""
    import httpx

    parsed = httpx.URL(url)
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return parsed.scheme, parsed.host, parsed.port or default


class Registry:
    """A connection to one registry (or one mirror of Docker Hub).

    ``domain`` is the reference's domain (``docker.io``, ``127.0.0.1:5000``); ``base`` a
    mirror's URL to use instead of the registry's own; ``credentials`` the user's login
    for it (see ``credentials.lookup``), or ``None`` for anonymous access. Thread-safe:
    layers download on several threads through one object. ``close()`` when done.
    """

    def __init__(
        self,
        domain: str,
        cfg: RegistryConfig,
        credentials: Credentials | None = None,
        base: str | None = None,
    ) -> None:
        import httpx

        self.domain = domain
        self.cfg = cfg
        self.credentials = credentials
        self.host = httpx.URL(base).netloc.decode() if base else registry_host(domain)
        self._fixed_base = base
        self.base: str | None = None
        self._scheme = ""
        self._params: dict[str, str] = {}
        self._tokens: dict[tuple[str, ...], tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._client: httpx.Client | None = None
        self._sockets: AbortableBackend | None = None
        self._aborted = False

    # -- connection -----------------------------------------------------------------------
    def _make_client(self, verify: bool) -> httpx.Client:
        import httpx

        from dockyard.distribution.sockets import AbortableBackend

        t = self.cfg.timeout
        client = httpx.Client(
            verify=_tls_context(self.cfg, self.host, verify),
            timeout=httpx.Timeout(t, connect=t, read=t, write=t, pool=None),
            follow_redirects=True,
            max_redirects=MAX_REDIRECTS,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=32, max_keepalive_connections=16),
        )
        with self._lock:
            if self._sockets is None:
                self._sockets = AbortableBackend()
                if self._aborted:
                    self._sockets.abort()
        # httpx takes no network backend, but its connection pools (httpcore's) do; set
        # here so that the client keeps its other settings (HTTP(S)_PROXY and NO_PROXY).
        for transport in [client._transport, *client._mounts.values()]:
            pool = getattr(transport, "_pool", None)
            if pool is not None and hasattr(pool, "_network_backend"):
                pool._network_backend = self._sockets
        return client

    def abort(self) -> None:
        """Cut every connection to the registry (from any thread): requests under way
        fail at once with a transport error, and so do new ones. For Ctrl-C."""
        with self._lock:
            self._aborted = True
            sockets = self._sockets
        if sockets is not None:
            sockets.abort()

    def ping(self) -> None:
        """Find the endpoint (HTTPS, then HTTP where allowed) and its auth challenge.

        Raises ``Unreachable`` with Go's wording when nothing answers, ``RegistryError``
        when the server is not a v2 registry.
        """
        import httpx

        if self.base is not None:
            return
        insecure = self.cfg.is_insecure(self.host)
        if self._fixed_base:
            candidates = [self._fixed_base]
        else:
            candidates = [f"https://{self.host}"] + ([f"http://{self.host}"] if insecure else [])
        # One client for both tries: the TLS settings matter only to the HTTPS one.
        client = self._make_client(verify=not insecure)
        last_error: Unreachable | None = None
        for base in candidates:
            url = f"{base}/v2/"
            try:
                resp = client.get(url)
            except (httpx.HTTPError, UnicodeError) as e:  # UnicodeError: a host name IDNA refuses
                last_error = transport_error("GET", url, e)
                continue
            if resp.status_code == 401:
                self._scheme, self._params = parse_challenge(
                    resp.headers.get("www-authenticate", "")
                )
            elif resp.status_code >= 400 and resp.status_code != 404:
                client.close()
                message, code = _error_text(resp)
                raise RegistryError(f'Get "{url}": {message}', resp.status_code, code)
            self.base, self._client = base, client
            return
        client.close()
        assert last_error is not None
        raise last_error

    def close(self) -> None:
        """Close the connections."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._sockets is not None:
            self._sockets.close()

    # -- auth -------------------------------------------------------------------------------
    def _token(self, scopes: tuple[str, ...], refresh: bool) -> str:
        import httpx

        assert self._client is not None
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached and not refresh and cached[1] > time.monotonic():
                return cached[0]
        realm = self._params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RegistryError(f"invalid bearer challenge: realm {realm!r} is not a URL", 401)
        params: list[tuple[str, str | int | float | bool | None]] = []
        if self._params.get("service"):
            params.append(("service", self._params["service"]))
        params += [("scope", s) for s in scopes]
        creds = self.credentials
        try:
            if creds is not None and creds.identity_token:
                # An OAuth2 refresh token (docker-credential helpers' "<token>" user).
                form = {"grant_type": "refresh_token", "client_id": "dockyard"}
                form |= {"refresh_token": creds.secret, "service": self._params.get("service", "")}
                form["scope"] = " ".join(scopes)
                resp = self._client.post(realm, data=form)
            else:
                auth = (creds.username, creds.secret) if creds is not None else None
                resp = self._client.get(realm, params=params, auth=auth)
        except (httpx.HTTPError, UnicodeError) as e:  # UnicodeError: a host name IDNA refuses
            raise transport_error("GET", realm, e) from None
        if resp.status_code != 200:
            message, code = _error_text(resp)
            if resp.status_code == 401:
                message = "unauthorized: incorrect username or password"
            raise RegistryError(
                f'Get "{realm}": {message}', resp.status_code, code or "UNAUTHORIZED"
            )
        try:
            body = resp.json()
            token = str(body.get("token") or body.get("access_token") or "")
        except (ValueError, AttributeError):
            raise RegistryError(f'Get "{realm}": the token server sent no JSON', 401) from None
        try:
            expires = int(body.get("expires_in") or 60)
        except (ValueError, TypeError, OverflowError):
            raise RegistryError(
                f'Get "{realm}": the token server sent an invalid expires_in', 401
            ) from None
        if not token:
            raise RegistryError(f'Get "{realm}": the token server sent no token', 401)
        with self._lock:
            # Docker's minimum lifetime is 60 s; refresh a little early.
            self._tokens[scopes] = (token, time.monotonic() + max(expires, 60) - 10)
        return token

    def _auth_header(self, scopes: tuple[str, ...], refresh: bool = False) -> dict[str, str]:
        if self._scheme == "bearer":
            return {"Authorization": f"Bearer {self._token(scopes, refresh)}"}
        if self._scheme == "basic" and self.credentials is not None:
            pair = f"{self.credentials.username}:{self.credentials.secret}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        return {}

    def check_login(self) -> None:
        """``docker login``'s check: ``GET /v2/`` with the credentials (through a token
        without scopes for a Bearer registry) must answer 200. Raises ``RegistryError``
        (``login attempt to <url> failed with status: 401 Unauthorized``)."""
        import httpx

        self.ping()
        assert self._client is not None and self.base is not None
        url = f"{self.base}/v2/"
        try:
            resp = self._client.get(url, headers=self._auth_header(()))
        except (httpx.HTTPError, UnicodeError) as e:  # UnicodeError: a host name IDNA refuses
            raise transport_error("GET", url, e) from None
        if resp.status_code != 200:
            raise RegistryError(
                f"login attempt to {url} failed with status: {resp.status_code} "
                f"{resp.reason_phrase}",
                resp.status_code,
            )

    # -- requests ---------------------------------------------------------------------------
    @contextmanager
    def request(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
        content: Any = None,
        ok: tuple[int, ...] = (200,),
    ) -> Iterator[httpx.Response]:
        """Send ``method path`` (``/v2/...`` or an absolute upload URL) with the auth the
        registry asked for, streaming the response; yields it once its status is in
        ``ok``. A 401 gets a fresh token and one retry. ``scopes`` are token scopes
        (``repository:library/busybox:pull``). Raises ``RegistryError``/``Unreachable``.
        """
        import httpx

        self.ping()
        assert self._client is not None and self.base is not None
        url = path if path.startswith(("http://", "https://")) else self.base + path
        # An absolute URL the registry sent (a tag list's Link, an upload's Location) may
        # name another host: it gets no credentials (distribution's client authorizes a
        # request only for the host whose challenge it knows).
        own = _origin(url) == _origin(self.base)
        for attempt in (0, 1):
            sent = {**(headers or {})}
            if own:
                sent |= self._auth_header(scopes, refresh=attempt > 0)
            try:
                req = self._client.build_request(method, url, headers=sent, content=content)
                resp = self._client.send(req, stream=True)
            except (httpx.HTTPError, UnicodeError) as e:  # UnicodeError: a host name IDNA refuses
                raise transport_error(method, url, e) from None
            try:
                retry = own and attempt == 0 and isinstance(content, bytes | None)
                if resp.status_code == 401 and retry:
                    challenge = resp.headers.get("www-authenticate", "")
                    if challenge:
                        self._scheme, self._params = parse_challenge(challenge)
                    if self._scheme in ("bearer", "basic"):
                        continue
                if resp.status_code not in ok:
                    try:
                        message, code = _error_text(resp)
                    except httpx.HTTPError as e:
                        raise transport_error(method, url, e) from None
                    raise RegistryError(message, resp.status_code, code)
                yield resp
                return
            finally:
                resp.close()
        raise AssertionError("unreachable")  # pragma: no cover


def connect(
    domain: str,
    cfg: RegistryConfig,
    base: str | None = None,
    login: Credentials | None = None,
) -> Registry:
    """A ``Registry`` for ``domain`` (or the mirror ``base``) with ``login`` (the
    caller's, e.g. the Engine API's ``X-Registry-Auth``) or else the stored login."""
    import httpx

    from dockyard.distribution import credentials

    if login is not None and base is None:
        return Registry(domain, cfg, login)
    key = auth_key(domain) if base is None else httpx.URL(base).netloc.decode()
    return Registry(domain, cfg, credentials.lookup(key), base)
