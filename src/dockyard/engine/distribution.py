"""Engine operations on registries (issue 10, ``dockyard.distribution``), for every front
end: the CLI here, the Engine API service later.

======================================  ===============================================
``pull``                                ``POST /images/create?fromImage=...``
``push``                                ``POST /images/{name}/push``
``login``                               ``POST /auth`` (then stored as ``docker login``)
``logout``                              (the docker CLI's own, on config.json)
``inspect``                             ``GET /distribution/{name}/json``
``search``                              ``GET /images/search``
======================================  ===============================================

``pull`` and ``push`` return iterators of Docker's JSON progress messages (see
``dockyard.distribution.progress``), what the Engine API's ``/images/create`` and
``/images/{name}/push`` stream; the CLI renders them. The work runs on a thread of its
own with its own state DB connection, so the caller can stream messages as they come.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.build.cache import CacheSource
    from dockyard.distribution.credentials import Credentials
    from dockyard.engine import Engine
    from dockyard.image.store import ImageStore, Pins
    from dockyard.paths import Paths

    Emit = Callable[[dict[str, Any]], None]
    #: ``on_cancel(abort)``: ``abort()`` is called (from another thread) when the caller
    #: stops.
    OnCancel = Callable[[Callable[[], None]], None]

_DONE = object()
#: Seconds a cancelled pull or push is given to remove its temporary files.
_CANCEL_WAIT = 2.0


class Cancelled(DockyardError):
    """Raised in a pull's or push's threads by their next progress message once the
    caller stopped (Ctrl-C, SIGTERM, a client gone), so they unwind and clean up."""


def _stream(
    paths: Paths, work: Callable[[ImageStore, Emit, OnCancel], None]
) -> Iterator[dict[str, Any]]:
    """Run ``work(store, emit, on_cancel)`` on a thread; yield what it emits; re-raise
    its error. When the caller stops (an exception here: KeyboardInterrupt, SIGTERM's,
    the generator closed), ``emit`` raises ``Cancelled`` in the work's threads, the
    functions given to ``on_cancel`` are called (a pull's or push's cut their registry
    connections, so a thread waiting on a silent registry wakes at once) and the threads
    are given ``_CANCEL_WAIT`` seconds to unwind (temporary blobs and layers removed);
    one stuck anyway is left to the process's end, its files to the sweep."""
    import queue  # here: `run` imports this module for needs_pull only

    from dockyard.image.store import ImageStore
    from dockyard.state import StateDB

    q: queue.Queue[Any] = queue.Queue()
    cancelled = threading.Event()
    aborts: list[Callable[[], None]] = []
    aborts_lock = threading.Lock()

    def on_cancel(abort: Callable[[], None]) -> None:
        with aborts_lock:
            aborts.append(abort)
            now = cancelled.is_set()
        if now:
            abort()

    def emit(message: dict[str, Any]) -> None:
        if cancelled.is_set():
            raise Cancelled("cancelled")
        q.put(message)

    def run() -> None:
        db = StateDB(paths.state_db)
        try:
            work(ImageStore(paths, db), emit, on_cancel)
            q.put(_DONE)
        except BaseException as e:  # handed to the caller's thread
            q.put(e)
        finally:
            db.close()

    thread = threading.Thread(target=run, name="dockyard-registry", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            if isinstance(item, BaseException):
                thread.join()
                raise item
            yield item
    except BaseException:
        with aborts_lock:
            cancelled.set()
            registered = list(aborts)
        for abort in registered:
            abort()
        thread.join(_CANCEL_WAIT)
        raise
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

    def work(store: ImageStore, emit: Emit, on_cancel: OnCancel) -> None:
        from dockyard.engine.events import image_event

        def pulled(one: reference.Reference) -> None:
            image_event(store, one.familiar(), one.familiar_name(), "pull")

        # The layers and blobs written are the collector's to keep until the image row exists.
        with store.lease():
            puller = Puller(store, cfg, emit, paths.runroot, login)
            on_cancel(puller.abort)
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


def cache_source(engine: Engine, name: str, platform: str | None = None) -> CacheSource:
    """``build --cache-from name`` for an image that is not here: its manifest (for
    ``platform``, the host's by default) and config from its registry, whose cache
    records the builder reads; the layers a step takes are fetched when it takes them
    (``CacheSource.load``), as BuildKit's registry cache importer fetches only the
    blobs it uses. Nothing is tagged. Raises InvalidArgument (a bad reference),
    NotFound, RegistryError/Unreachable, DockyardError (an invalid manifest)."""
    import hashlib
    import json

    from dockyard.build.cache import CacheSource
    from dockyard.distribution import config, media
    from dockyard.distribution.pull import Puller, fetch_manifest

    ref = parse_pull_reference(name)
    want = media.parse_platform(platform)
    store = engine.images
    puller = Puller(store, config.load(), lambda _m: None, engine.paths.runroot)
    reg, data, mt, _ = puller.resolve(ref, ref.digest or ref.tag or reference.DEFAULT_TAG)
    try:
        if mt in media.INDEXES:
            desc = media.select_manifest(json.loads(data), want)
            data, mt, _ = fetch_manifest(reg, ref, str(desc.get("digest", "")))
        try:
            manifest = json.loads(data)
            config_desc = manifest["config"]
            config_bytes = puller._config(
                reg, ref, str(config_desc["digest"]), int(config_desc.get("size", 0))
            )
            image_config = json.loads(config_bytes)
            layers = [dict(d) for d in manifest.get("layers") or []]
            # Checked as a pull checks them: load() relies on both.
            if not all(isinstance(d["digest"], str) and int(d["size"]) >= 0 for d in layers):
                raise DockyardError(f"invalid manifest for {ref.familiar()}")
            diff_ids = [str(d) for d in image_config["rootfs"]["diff_ids"]]
        except (ValueError, KeyError, TypeError, OverflowError):
            raise DockyardError(f"invalid manifest for {ref.familiar()}") from None
    finally:
        reg.close()
    if mt in media.INDEXES or len(layers) != len(diff_ids):
        raise DockyardError(f"invalid manifest for {ref.familiar()}")
    manifest_digest = "sha256:" + hashlib.sha256(data).hexdigest()

    def load(start: int, end: int) -> Pins:
        """Store layers ``start`` to ``end`` (excluded: only those, so that no blob of
        a layer the builder has, in another compression, is fetched for nothing);
        returns the pins that keep them until the caller's image row exists (it
        releases them). On failure what it fetched is removed."""
        taken, taken_ids = layers[start:end], diff_ids[start:end]
        for d in taken:
            if d.get("mediaType") not in media.LAYERS:
                raise DockyardError(f"unsupported layer media type {d.get('mediaType')!r}")
        pins = store.pins()
        reg, _, _, _ = puller.resolve(ref, manifest_digest)
        try:
            puller._layers(reg, ref, taken, taken_ids, pins)
        except BaseException:
            pins.release()
            store.discard_unreferenced([str(d["digest"]) for d in taken], taken_ids)
            raise
        finally:
            reg.close()
        return pins

    return CacheSource(name, image_config, manifest, load)


def inspect(engine: Engine, name: str, login: Credentials | None = None) -> dict[str, Any]:
    """``GET /distribution/{name}/json`` (moby's getDistributionInfo): the registry's
    descriptor of ``name``'s manifest (``{"mediaType", "digest", "size"}``) and the
    platforms it serves (an index's entries; a single manifest's from its config), asked
    of Docker Hub's mirrors first, as a pull. Nothing is stored. Raises InvalidArgument (a
    bad reference), NotFound (no such manifest or repository), RegistryError/Unreachable."""
    import json

    from dockyard.distribution import config, media
    from dockyard.distribution.pull import Puller

    ref = reference.parse(name)
    puller = Puller(engine.images, config.load(), lambda _m: None, engine.paths.runroot, login)
    reg, data, media_type, digest = puller.resolve(ref, ref.digest or ref.tag or "latest")
    try:
        body = json.loads(data)
        platforms: list[dict[str, Any]] = []
        if media_type in media.INDEXES:
            for entry in body.get("manifests") or []:
                if isinstance(entry, dict) and isinstance(entry.get("platform"), dict):
                    platforms.append(_platform(entry["platform"]))
        else:
            cfg = body.get("config") or {}
            blob = json.loads(puller._config(reg, ref, cfg.get("digest", ""), cfg.get("size", 0)))
            if isinstance(blob, dict) and (blob.get("os") or blob.get("architecture")):
                platforms.append(_platform(blob))
    finally:
        reg.close()
    return {
        "Descriptor": {"mediaType": media_type, "digest": digest, "size": len(data)},
        "Platforms": platforms,
    }


#: Docker Hub's index (its v1 search API), for a search term that names no registry.
HUB_INDEX = "https://index.docker.io/v1/"
#: Filters ``search`` accepts (moby registry.acceptedSearchFilterTags).
SEARCH_FILTERS = ("is-automated", "is-official", "stars")


def search(
    term: str,
    limit: int = 0,
    filters: dict[str, list[str]] | None = None,
    login: Credentials | None = None,
) -> list[dict[str, Any]]:
    """``GET /images/search`` (moby's registry Service.Search): the repositories an index's
    v1 search API (``GET <index>/v1/search?q=TERM&n=LIMIT``) finds for ``term`` —
    Docker Hub's, or the registry ``term`` starts with (``host:5000/name``; https, then
    http for an insecure one). ``limit``: 1 to 100 results (0: 25); ``filters``:
    ``is-official`` (true/false), ``stars`` (at least N), ``is-automated`` (deprecated:
    true finds nothing). Results as the API's SearchResult (``name``, ``description``,
    ``star_count``, ``is_official``, ``is_automated`` always false). ``login``: the
    client's, else the stored one, sent as basic auth. Raises InvalidArgument (a bad
    filter, limit or term), DockyardError (the index failed or answered another status)."""
    import httpx

    from dockyard.distribution import config, credentials
    from dockyard.distribution.client import _tls_context, transport_error

    filters = dict(filters or {})
    for key in filters:
        if key not in SEARCH_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")

    def flag(key: str) -> bool | None:
        values = filters.get(key) or []
        for value in values:
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"invalid filter '{key}={value}'")
        return values[-1].lower() in ("true", "1") if values else None

    official, automated = flag("is-official"), flag("is-automated")
    stars = 0
    for value in filters.get("stars") or []:
        try:
            stars = max(stars, int(value))
        except ValueError:
            raise InvalidArgument(f"invalid filter 'stars={value}'") from None
    if "://" in term:
        raise InvalidArgument(
            f"invalid repository name: repository name ({term}) should not have a scheme"
        )
    limit = limit or 25
    if not 1 <= limit <= 100:
        raise InvalidArgument(f"limit {limit} is outside the range of [1, 100]")
    if automated:
        return []
    first, sep, rest = term.partition("/")
    hub = not sep or ("." not in first and ":" not in first and first != "localhost")
    cfg = config.load()
    if hub:
        key, remote = HUB_INDEX, term.removeprefix("library/")
        bases = [HUB_INDEX]
    else:
        key, remote = first, rest
        bases = [f"https://{first}/v1/"]
        if cfg.is_insecure(first):
            bases.append(f"http://{first}/v1/")
    creds = login if login is not None else credentials.lookup(key)
    auth = (creds.username, creds.secret) if creds and not creds.identity_token else None
    tls: Any = True if hub else _tls_context(cfg, first, not cfg.is_insecure(first))
    found = None
    for i, base in enumerate(bases):
        url = f"{base}search"
        try:
            with httpx.Client(verify=tls, timeout=30) as client:
                resp = client.get(url, params={"q": remote, "n": str(limit)}, auth=auth)
        except httpx.HTTPError as e:
            if i + 1 < len(bases):
                continue
            raise transport_error("GET", url, e) from None
        if resp.status_code != 200:
            raise DockyardError(f"Unexpected status code {resp.status_code}")
        try:
            found = resp.json()["results"]
        except (ValueError, KeyError, TypeError):
            raise DockyardError(f"invalid search results from {url}") from None
        break
    results = []
    for r in found or []:
        if not isinstance(r, dict):
            continue
        star_count, is_official = int(r.get("star_count") or 0), bool(r.get("is_official"))
        if (official is not None and is_official != official) or star_count < stars:
            continue
        results.append(
            {
                "star_count": star_count,
                "is_official": is_official,
                "name": str(r.get("name") or ""),
                "is_automated": False,
                "description": str(r.get("description") or ""),
            }
        )
    return results


def _platform(obj: dict[str, Any]) -> dict[str, Any]:
    """An OCI platform object with Go's omitempty: architecture and os always, the
    others when set."""
    out: dict[str, Any] = {
        "architecture": str(obj.get("architecture") or ""),
        "os": str(obj.get("os") or ""),
    }
    for key in ("os.version", "os.features", "variant"):
        if obj.get(key):
            out[key] = obj[key]
    return out


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

    def work(store: ImageStore, emit: Emit, on_cancel: OnCancel) -> None:
        from dockyard.engine.events import image_event

        pusher = Pusher(store, cfg, emit, login)
        on_cancel(pusher.abort)
        pusher.push(ref, all_tags)
        image_event(store, ref.familiar(), ref.familiar_name(), "push")

    return _stream(engine.paths, work)


def login(server: str | None, username: str, password: str) -> tuple[str, str | None]:
    """Check ``username``/``password`` against registry ``server`` (Docker Hub when
    ``None``) and store them as ``docker login`` does. Returns ``(status, path)``:
    ``"Login Succeeded"`` and the config.json path when the password was stored there
    unencrypted (the CLI warns then), else ``None``. Raises ``RegistryError`` (``login
    attempt to ... failed with status: 401 Unauthorized``) or ``Unreachable``."""
    status = check_login(server, username, password)
    return status, store_login(server, username, password)


def check_login(server: str | None, username: str, password: str) -> str:
    """``POST /auth``: check ``username``/``password`` against registry ``server``
    (Docker Hub when ``None``) without storing them; returns ``"Login Succeeded"``.
    Raises ``RegistryError`` or ``Unreachable`` as :func:`login`."""
    from dockyard.distribution import config, credentials
    from dockyard.distribution.client import Registry

    domain, _ = _server(server)
    reg = Registry(domain, config.load(), credentials.Credentials(username, password))
    try:
        reg.check_login()
    finally:
        reg.close()
    return "Login Succeeded"


def store_login(server: str | None, username: str, password: str) -> str | None:
    """Store a login checked already (docker/cli's step after ``POST /auth``) in
    config.json or its credential helper; returns the config.json path when the
    password was stored there unencrypted, else ``None``."""
    from dockyard.distribution import credentials

    _, key = _server(server)
    return credentials.store(key, credentials.Credentials(username, password))


def logout(server: str | None) -> tuple[str, bool, str | None]:
    """Forget the stored login for ``server`` (Docker Hub when ``None``). Returns
    ``(the server's config.json key, whether a login was stored, the credential
    helper's error or None)``."""
    from dockyard.distribution import credentials

    _, key = _server(server)
    return key, *credentials.erase(key)


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
