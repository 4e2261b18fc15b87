"""Engine operations on registries (issue 10, ``dockyard.distribution``), for every front
end: the CLI here, the Engine API service later.

======================================  ===============================================
``pull``                                ``POST /images/create?fromImage=...``
``push``                                ``POST /images/{name}/push``
``login``                               ``POST /auth`` (then stored as ``docker login``)
``logout``                              (the docker CLI's own, on config.json)
======================================  ===============================================

``pull`` and ``push`` return iterators of Docker's JSON progress messages (see
``dockyard.distribution.progress``), what the Engine API's ``/images/create`` and
``/images/{name}/push`` stream; the CLI renders them. The work runs on a thread of its
own with its own state DB connection, so the caller can stream messages as they come.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from dockyard import reference
from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    from dockyard.distribution.credentials import Credentials
    from dockyard.engine import Engine
    from dockyard.image.store import ImageStore
    from dockyard.paths import Paths

_DONE = object()


def _stream(
    paths: Paths, work: Callable[[ImageStore, Callable[[dict[str, Any]], None]], None]
) -> Iterator[dict[str, Any]]:
    """Run ``work(store, emit)`` on a thread; yield what it emits; re-raise its error."""
    import queue  # here: `run` imports this module for needs_pull only

    from dockyard.image.store import ImageStore
    from dockyard.state import StateDB

    q: queue.Queue[Any] = queue.Queue()

    def run() -> None:
        db = StateDB(paths.state_db)
        try:
            work(ImageStore(paths, db), q.put)
            q.put(_DONE)
        except BaseException as e:  # handed to the caller's thread
            q.put(e)
        finally:
            db.close()

    thread = threading.Thread(target=run, name="dockyard-registry", daemon=True)
    thread.start()
    while True:
        item = q.get()
        if item is _DONE:
            break
        if isinstance(item, BaseException):
            thread.join()
            raise item
        yield item
    thread.join()


def parse_pull_reference(name: str, all_tags: bool = False) -> reference.Reference:
    """``docker pull``'s argument as a reference; with ``all_tags`` a bare repository
    (Docker: ``tag can't be used with --all-tags/-a``). Raises ``InvalidArgument``."""
    ref = reference.parse(name, default_tag=not all_tags)
    if all_tags and (ref.tag or ref.digest):
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    return ref


def login_from_header(header: str) -> Credentials | None:
    """The login an Engine API client sends in ``X-Registry-Auth`` (base64url of a JSON
    AuthConfig; empty or ``{}``: none). Raises ``InvalidArgument`` for a malformed one."""
    import base64
    import json

    from dockyard.distribution.credentials import from_auth_config

    if not header:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)) or b"{}")
    except ValueError:
        raise InvalidArgument("invalid X-Registry-Auth header: not base64url JSON") from None
    return from_auth_config(data)


def pull(
    engine: Engine,
    name: str,
    *,
    platform: str | None = None,
    all_tags: bool = False,
    login: Credentials | None = None,
) -> Iterator[dict[str, Any]]:
    """Pull image ``name`` (``busybox``, ``host:5000/app:1``, ``app@sha256:...``; with
    ``all_tags`` every tag of the repository) for ``platform`` (``linux/arm64``; the
    host's by default). Yields progress messages ending with ``Status: Downloaded newer
    image for ...`` or ``Status: Image is up to date for ...``. Raises ``DockyardError``
    (``NotFound`` for a missing image, ``RegistryError``/``Unreachable``). ``login``
    (see ``credentials.from_auth_config``) replaces the stored login for the registry."""
    from dockyard.distribution import config, media
    from dockyard.distribution import progress as msg
    from dockyard.distribution.pull import Puller, list_tags

    paths = engine.paths
    ref = parse_pull_reference(name, all_tags)
    media.parse_platform(platform)
    cfg = config.load()

    def work(store: ImageStore, emit: Callable[[dict[str, Any]], None]) -> None:
        from dockyard.engine.events import image_event

        def pulled(one: reference.Reference) -> None:
            image_event(store, one.familiar(), one.familiar_name(), "pull")

        # The layers and blobs written are the collector's to keep until the image row exists.
        with store.lease():
            puller = Puller(store, cfg, emit, paths.runroot, login)
            if not all_tags:
                result = puller.pull(ref, platform)
                pulled(ref)
                word = "Downloaded newer image" if result.updated else "Image is up to date"
                emit(msg.status(f"Status: {word} for {ref.familiar()}"))
                return
            regs = puller.endpoints(ref)
            try:
                tags = list_tags(regs[-1], ref)
            finally:
                for r in regs:
                    r.close()
            updated = False
            for tag in tags:
                one = reference.Reference(ref.name, tag)
                result = puller.pull(one, platform)
                pulled(one)
                updated = updated or result.updated
            word = "Downloaded newer image" if updated else "Image is up to date"
            emit(msg.status(f"Status: {word} for {ref.familiar_name()}"))

    return _stream(paths, work)


def pull_reference(name: str, all_tags: bool = False) -> str:
    """The full reference ``docker pull`` prints last (``docker.io/library/busybox:latest``,
    the repository alone with ``all_tags``)."""
    ref = parse_pull_reference(name, all_tags)
    return ref.name if all_tags else str(ref)


def needs_pull(engine: Engine, name: str, policy: str) -> bool:
    """``run``/``create``'s ``--pull`` policy for image ``name``: ``missing`` pulls when no
    local image has that name, ``always`` pulls, ``never`` does not. Raises
    ``InvalidArgument`` (Docker's message) for another policy."""
    from dockyard.errors import NotFound

    if policy not in ("missing", "always", "never"):
        raise InvalidArgument(
            f'invalid pull option: \'{policy}\': must be one of "always", "missing" or "never"'
        )
    if policy != "missing":
        return policy == "always"
    try:
        engine.images.resolve(name)
        return False
    except NotFound:
        return True


def push(
    engine: Engine, name: str, *, all_tags: bool = False, login: Credentials | None = None
) -> Iterator[dict[str, Any]]:
    """Push the local image ``name`` (``host:5000/app:1``; with ``all_tags`` every local
    tag of the repository). Yields progress messages ending with ``<tag>: digest:
    sha256:... size: N`` for each tag. Raises ``NotFound`` (``An image does not exist
    locally with the tag: ...``), ``RegistryError``/``Unreachable``. ``login`` replaces the
    stored login for the registry."""
    from dockyard.distribution import config
    from dockyard.distribution.push import Pusher

    ref = reference.parse(name, default_tag=not all_tags)
    if all_tags and ref.tag:
        raise InvalidArgument("tag can't be used with --all-tags/-a")
    if ref.digest:
        raise InvalidArgument("cannot push a digest reference")
    cfg = config.load()

    def work(store: ImageStore, emit: Callable[[dict[str, Any]], None]) -> None:
        from dockyard.engine.events import image_event

        Pusher(store, cfg, emit, login).push(ref, all_tags)
        image_event(store, ref.familiar(), ref.familiar_name(), "push")

    return _stream(engine.paths, work)


def login(server: str | None, username: str, password: str) -> tuple[str, str | None]:
    """Check ``username``/``password`` against registry ``server`` (Docker Hub when
    ``None``) and store them as ``docker login`` does. Returns ``(status, path)``:
    ``"Login Succeeded"`` and the config.json path when the password was stored there
    unencrypted (the CLI warns then), else ``None``. Raises ``RegistryError`` (``login
    attempt to ... failed with status: 401 Unauthorized``) or ``Unreachable``."""
    from dockyard.distribution import config, credentials
    from dockyard.distribution.client import Registry

    domain, key = _server(server)
    creds = credentials.Credentials(username, password)
    reg = Registry(domain, config.load(), creds)
    try:
        reg.check_login()
    finally:
        reg.close()
    return "Login Succeeded", credentials.store(key, creds)


def logout(server: str | None) -> tuple[str, bool]:
    """Forget the stored login for ``server`` (Docker Hub when ``None``). Returns
    ``(the server's config.json key, whether a login was stored)``."""
    from dockyard.distribution import credentials

    _, key = _server(server)
    return key, credentials.erase(key)


def _server(server: str | None) -> tuple[str, str]:
    """``(domain, config.json key)`` of ``login``/``logout``'s SERVER argument."""
    from dockyard.distribution.config import auth_key

    if not server:
        return "docker.io", auth_key("docker.io")
    host = server.split("://", 1)[1] if "://" in server else server
    host = host.split("/", 1)[0]
    if not host:
        raise InvalidArgument(f"invalid registry address: {server!r}")
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return "docker.io", auth_key("docker.io")
    return host, host


def stored_logins() -> dict[str, Credentials]:
    """Every registry login the client has stored (config.json ``auths``, ``credsStore``,
    ``credHelpers``), by server. Raises DockyardError."""
    from dockyard.distribution import credentials

    return credentials.all_credentials()


def login_from_auth_config(entry: Any) -> Credentials | None:
    """The login of one config.json ``auths`` entry (``auth``, ``username``/``password``,
    ``identitytoken``), None when it has none. Raises ValueError, AttributeError on a
    malformed entry."""
    from dockyard.distribution import credentials

    return credentials.from_auth_config(entry)
