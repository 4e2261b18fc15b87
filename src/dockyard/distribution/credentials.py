"""Registry credentials as the docker CLI keeps them, so a login works in both tools.

``$DOCKER_CONFIG/config.json`` (default ``~/.docker/config.json``): ``auths`` maps a
server (``127.0.0.1:5000``, ``https://index.docker.io/v1/``) to ``{"auth":
base64("user:password")}``; ``credHelpers`` maps a server to a helper and ``credsStore``
names the default one. A helper is the program ``docker-credential-<name>`` speaking the
docker-credential-helpers protocol: ``get`` (server URL on stdin, JSON ``{"ServerURL",
"Username", "Secret"}`` on stdout), ``store`` (that JSON on stdin), ``erase`` (the URL).
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from dockyard.errors import DockyardError, InvalidArgument


@dataclass(frozen=True)
class Credentials:
    """A user name and secret for one registry. ``identity_token`` is set instead of a
    password when a helper returned the user ``<token>`` (an OAuth refresh token)."""

    username: str
    secret: str
    identity_token: bool = False


def config_dir() -> str:
    """The docker CLI's configuration directory: ``$DOCKER_CONFIG`` or ``~/.docker``."""
    return os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")


def config_path() -> str:
    """The docker CLI's ``config.json``."""
    return os.path.join(config_dir(), "config.json")


def _load() -> dict[str, Any]:
    path = config_path()
    try:
        with open(path, "rb") as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except ValueError as e:
        raise InvalidArgument(f"loading config file {path}: {e}") from None
    if not isinstance(data, dict):
        raise InvalidArgument(f"loading config file {path}: want a JSON object")
    # The CLI's typed struct refuses these shapes too (json: cannot unmarshal ...).
    for field, kind, what in (
        ("auths", dict, "a JSON object"),
        ("credHelpers", dict, "a JSON object"),
        ("credsStore", str, "a string"),
    ):
        if data.get(field) is not None and not isinstance(data[field], kind):
            raise InvalidArgument(f"loading config file {path}: {field} is not {what}")
    return data


def _save(data: dict[str, Any]) -> None:
    """Write config.json atomically, as the CLI formats it (tab indent, mode 0600); a
    config.json that is a symlink (dotfiles) stays one: its target is replaced, as the
    CLI's ``ConfigFile.Save`` does."""
    path = os.path.realpath(config_path())
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(data, indent="\t"))
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _hostname(server: str) -> str:
    """The docker CLI's ``ConvertToHostname``: scheme and path dropped."""
    host = server.split("://", 1)[1] if "://" in server else server
    return host.split("/", 1)[0]


def _helper_for(data: dict[str, Any], key: str) -> str | None:
    helpers = data.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return str(helpers[key])
    store = data.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(helper: str, action: str, payload: str) -> str:
    import subprocess  # here: a pull without a credential helper never needs it

    program = f"docker-credential-{helper}"
    verb = {"get": "getting", "store": "storing", "erase": "erasing", "list": "listing"}[action]
    try:
        proc = subprocess.run(
            [program, action], input=payload.encode(), capture_output=True, timeout=60
        )
    except FileNotFoundError:
        raise DockyardError(
            f'error {verb} credentials - err: exec: "{program}": executable file not found '
            "in $PATH, out: ``"
        ) from None
    out = proc.stdout.decode(errors="replace").strip()
    if proc.returncode != 0:
        if action == "get" and "credentials not found" in out:
            return ""
        raise DockyardError(
            f"error {verb} credentials - err: exit status {proc.returncode}, out: `{out}`"
        )
    return out


def lookup(key: str) -> Credentials | None:
    """The stored credentials for ``key`` (a config.json server key, see
    ``config.auth_key``), from its helper or from ``auths``; ``None`` if there are none.

    Raises ``InvalidArgument`` for an unreadable config.json and ``DockyardError`` when a
    helper fails.
    """
    data = _load()
    helper = _helper_for(data, key)
    if helper is not None:
        out = _run_helper(helper, "get", key)
        if not out:
            return None
        try:
            got = json.loads(out)
            user, secret = str(got["Username"]), str(got["Secret"])
        except (ValueError, KeyError, TypeError):
            raise DockyardError(
                f"credential helper docker-credential-{helper}: bad reply"
            ) from None
        if user == "<token>":
            return Credentials("", secret, identity_token=True)
        return Credentials(user, secret)
    auths = data.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    entry = auths.get(key)
    if entry is None:
        for name, value in auths.items():
            if _hostname(name) == _hostname(key):
                entry = value
                break
    if not isinstance(entry, dict):
        return None
    if entry.get("identitytoken"):
        return Credentials("", str(entry["identitytoken"]), identity_token=True)
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(f"{config_path()}: invalid auth for {key}") from None
        return Credentials(user, password)
    if entry.get("username"):
        return Credentials(str(entry["username"]), str(entry.get("password", "")))
    return None


def all_credentials() -> dict[str, Credentials]:
    """Every stored login by server key, as the docker CLI's
    ``ConfigFile.GetAllCredentials``: the servers of ``auths`` and ``credHelpers`` and
    those the ``credsStore`` helper lists. Raises ``InvalidArgument`` (unreadable
    config.json), ``DockyardError`` (a helper failed)."""
    data = _load()
    keys: set[str] = set()
    for section in ("auths", "credHelpers"):
        value = data.get(section)
        if isinstance(value, dict):
            keys.update(str(k) for k in value)
    helper = data.get("credsStore")
    if isinstance(helper, str) and helper:
        listed = _run_helper(helper, "list", "")
        try:
            keys.update(str(k) for k in json.loads(listed or "{}"))
        except (ValueError, TypeError):
            raise DockyardError(
                f"credential helper docker-credential-{helper}: bad reply"
            ) from None
    found = {}
    for key in sorted(keys):
        creds = lookup(key)
        if creds is not None:
            found[key] = creds
    return found


def store(key: str, creds: Credentials) -> str | None:
    """Save ``creds`` for ``key`` as ``docker login`` does: through the helper if one is
    configured, else base64 in ``auths``. Returns the config.json path when the password
    went into the file unencrypted (the CLI warns then), else ``None``."""
    data = _load()
    helper = _helper_for(data, key)
    if helper is not None:
        payload = {"ServerURL": key, "Username": creds.username, "Secret": creds.secret}
        _run_helper(helper, "store", json.dumps(payload))
        auths = data.setdefault("auths", {})
        if key not in auths:
            auths[key] = {}  # the CLI records the server with an empty entry
            _save(data)
        return None
    auth = base64.b64encode(f"{creds.username}:{creds.secret}".encode()).decode()
    data.setdefault("auths", {})[key] = {"auth": auth}
    _save(data)
    return config_path()


def erase(key: str) -> tuple[bool, str | None]:
    """Remove the stored credentials for ``key`` (``docker logout``); returns whether
    any were there and, when the credential helper failed, its error (docker/cli's
    runLogout only warns of it: the ``auths`` entries are removed all the same).

    Raises ``InvalidArgument`` for an unreadable config.json."""
    data = _load()
    auths = data.get("auths") or {}
    names = [n for n in auths if n == key or _hostname(n) == _hostname(key)]
    helper = _helper_for(data, key)
    found, error = bool(names), None
    if helper is not None:
        try:
            had = bool(_run_helper(helper, "get", key))
        except DockyardError:
            had = True  # the erase says why, in docker's words
        try:
            if had:
                _run_helper(helper, "erase", key)
                found = True
        except DockyardError as e:
            error = str(e)
    if names:
        for n in names:
            del auths[n]
        _save(data)
    return found, error


def from_auth_config(data: object) -> Credentials | None:
    """Credentials from a Docker ``AuthConfig`` (the Engine API's ``X-Registry-Auth``
    JSON: ``username``/``password``, ``auth`` (base64 ``user:password``) or
    ``identitytoken``); ``None`` when it carries none. Raises ``InvalidArgument`` for a
    malformed one or a ``registrytoken`` (not supported)."""
    if not isinstance(data, dict):
        raise InvalidArgument("invalid registry auth: want a JSON object")
    if data.get("registrytoken"):
        raise InvalidArgument("registry auth: registrytoken is not supported")
    if data.get("identitytoken"):
        return Credentials(str(data.get("username") or ""), str(data["identitytoken"]), True)
    user, password = str(data.get("username") or ""), str(data.get("password") or "")
    if data.get("auth") and not (user or password):
        try:
            user, _, password = base64.b64decode(str(data["auth"])).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise InvalidArgument(
                "invalid registry auth: auth is not base64 user:password"
            ) from None
    if not user and not password:
        return None
    return Credentials(user, password)
