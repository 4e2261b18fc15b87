"""Registry authentication and TLS against real registries on 127.0.0.1: htpasswd basic
auth (login/logout, config.json in the docker CLI's format, a docker-credential helper,
the docker CLI itself), token auth (a token server here issuing JWTs the registry trusts
through its ``auth: token:`` configuration) and TLS with a client certificate from a
test CA in a certs.d directory."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import Runner, need
from dockyard.errors import DockyardError
from registry_peer import Registry, make_ca, make_cert, openssl, registry_env

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)


def _config(tmp_path: Path) -> dict[str, Any]:
    return json.loads((tmp_path / "docker-config" / "config.json").read_text())


# -- basic auth (htpasswd) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def basic_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    need("htpasswd")
    d = tmp_path_factory.mktemp("basic")
    line = subprocess.run(
        ["htpasswd", "-Bbn", "alice", "s3cret"], capture_output=True, text=True, check=True
    ).stdout.strip()
    (d / "htpasswd").write_text(line + "\n")
    reg = Registry(
        d / "reg", f"auth:\n  htpasswd:\n    realm: dockyard-test\n    path: {d}/htpasswd\n"
    )
    yield reg
    reg.stop()


def test_basic_auth_login_push_pull_logout(
    dy: Runner, busybox: str, basic_registry: Registry, tmp_path: Path
) -> None:
    host = basic_registry.host
    name = f"{host}/private/busybox:1"
    dy("tag", busybox, name, check=True)
    denied = dy("push", name)
    assert denied.returncode == 1 and len(denied.stderr.splitlines()) == 1
    assert "unauthorized" in denied.stderr
    bad = dy("login", "-u", "alice", "--password-stdin", host, input="wrong\n")
    assert bad.returncode == 1
    assert bad.stderr == (
        f"Error response from daemon: login attempt to http://{host}/v2/ failed with status: "
        "401 Unauthorized\n"
    )
    assert not (tmp_path / "docker-config" / "config.json").exists()
    both = dy("login", "-u", "alice", "-p", "x", "--password-stdin", host, input="s3cret\n")
    assert both.returncode == 1 and both.stderr == (
        "conflicting options: cannot specify both --password and --password-stdin\n"
    )
    ok = dy("login", "-u", "alice", "-p", "s3cret", host)
    assert ok.returncode == 0 and ok.stdout == "Login Succeeded\n"
    assert ok.stderr.startswith(
        "WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n"
    )
    config_json = tmp_path / "docker-config" / "config.json"
    assert f"WARNING! Your credentials are stored unencrypted in '{config_json}'." in ok.stderr
    assert _config(tmp_path) == {
        "auths": {host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}
    }
    assert (config_json.stat().st_mode & 0o777) == 0o600
    dy("push", name, check=True)
    dy("rmi", name, check=True)
    dy("pull", name, check=True)
    assert dy("logout", host, check=True).stdout == f"Removing login credentials for {host}\n"
    assert _config(tmp_path) == {"auths": {}}
    assert dy("logout", host, check=True).stdout == f"Not logged in to {host}\n"
    dy("rmi", name, check=True)
    anonymous = dy("pull", name)
    assert anonymous.returncode == 1
    assert anonymous.stderr.startswith(
        f"Error response from daemon: pull access denied for {host}/private/busybox, "
        "repository does not exist or may require 'docker login'"
    )


def test_credential_helper(
    dy: Runner,
    busybox: str,
    basic_registry: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``credsStore`` sends logins through ``docker-credential-<name>`` (store, get, erase)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bin_dir / "docker-credential-dytest"
    helper.write_text(
        "#!/usr/bin/python3\n"
        "import json, sys\n"
        f"path = {str(store)!r}\n"
        "try:\n    data = json.load(open(path))\nexcept FileNotFoundError:\n    data = {}\n"
        "action, payload = sys.argv[1], sys.stdin.read().strip()\n"
        "if action == 'store':\n"
        "    item = json.loads(payload); data[item['ServerURL']] = item\n"
        "elif action == 'get':\n"
        "    if payload not in data:\n        print('credentials not found in native keychain'); sys.exit(1)\n"
        "    print(json.dumps(data[payload]))\n"
        "elif action == 'erase':\n    data.pop(payload, None)\n"
        "json.dump(data, open(path, 'w'))\n"
    )
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    (tmp_path / "docker-config").mkdir()
    (tmp_path / "docker-config" / "config.json").write_text('{"credsStore": "dytest"}')
    host = basic_registry.host
    ok = dy("login", "-u", "alice", "--password-stdin", host, input="s3cret\n", check=True)
    assert ok.stdout == "Login Succeeded\n" and "unencrypted" not in ok.stderr
    assert json.loads(store.read_text())[host]["Secret"] == "s3cret"
    assert _config(tmp_path) == {"credsStore": "dytest", "auths": {host: {}}}
    name = f"{host}/helper/busybox:1"
    dy("tag", busybox, name, check=True)
    dy("push", name, check=True)
    dy("logout", host, check=True)
    assert json.loads(store.read_text()) == {}
    (tmp_path / "docker-config" / "config.json").write_text('{"credsStore": "missing"}')
    broken = dy("pull", name)
    assert broken.returncode == 1
    assert 'exec: "docker-credential-missing": executable file not found in $PATH' in broken.stderr


def test_docker_cli_login_is_used(
    dy: Runner, busybox: str, basic_registry: Registry, tmp_path: Path, engine_env: dict
) -> None:
    """A login made by the docker CLI (client side, no daemon) works for Dockyard, and
    the docker CLI's logout removes one Dockyard made."""
    docker = need("docker")
    host = basic_registry.host
    env = {
        **os.environ,
        "DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock",
        "DOCKER_CONFIG": str(tmp_path / "docker-config"),
    }
    subprocess.run(
        [docker, "login", "-u", "alice", "--password-stdin", host],
        input="s3cret\n", text=True, env=env, capture_output=True, check=True, timeout=60,
    )  # fmt: skip
    name = f"{host}/cli/busybox:1"
    dy("tag", busybox, name, check=True)
    dy("push", name, check=True)
    dy("logout", host, check=True)
    dy("login", "-u", "alice", "--password-stdin", host, input="s3cret\n", check=True)
    out = subprocess.run(
        [docker, "logout", host], text=True, env=env, capture_output=True, check=True, timeout=60
    )
    assert out.stdout == f"Removing login credentials for {host}\n"


# -- token auth --------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer(ThreadingHTTPServer):
    """Issues RS256 JWTs (signed with openssl) granting what is asked to ``alice``, pull
    only to anonymous users; counts token requests."""

    daemon_threads = True

    def __init__(self, key: Path, cert: Path, service: str, issuer: str) -> None:
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.key, self.service, self.issuer = key, service, issuer
        der = subprocess.run(
            ["openssl", "x509", "-in", str(cert), "-outform", "DER"],
            capture_output=True,
            check=True,
        ).stdout
        self.x5c = base64.b64encode(der).decode()
        self.requests: list[list[str]] = []

    def sign(self, claims: dict[str, Any]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        signing = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
        sig = subprocess.run(
            ["openssl", "dgst", "-sha256", "-sign", str(self.key)],
            input=signing.encode(), capture_output=True, check=True,
        ).stdout  # fmt: skip
        return f"{signing}.{_b64(sig)}"


class TokenHandler(BaseHTTPRequestHandler):
    server: TokenServer

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        scopes = query.get("scope", [])
        self.server.requests.append(scopes)
        auth = self.headers.get("Authorization", "")
        user = ""
        if auth.startswith("Basic "):
            name, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            if (name, password) != ("alice", "s3cret"):
                self.send_response(401)
                self.end_headers()
                return
            user = name
        access = []
        for scope in scopes:
            kind, name, actions = scope.split(":")
            granted = actions.split(",") if user else [a for a in actions.split(",") if a == "pull"]
            access.append({"type": kind, "name": name, "actions": granted})
        now = int(time.time())
        claims = {
            "iss": self.server.issuer, "sub": user, "aud": self.server.service,
            "exp": now + 300, "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(),
            "access": access,
        }  # fmt: skip
        body = json.dumps({"token": self.server.sign(claims), "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def token_registry(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Registry, TokenServer]]:
    need("openssl")
    d = tmp_path_factory.mktemp("token")
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=token",
        "-keyout", "token.key", "-out", "token.crt",
        cwd=d,
    )  # fmt: skip
    server = TokenServer(d / "token.key", d / "token.crt", "dockyard-registry", "dockyard-issuer")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    realm = f"http://127.0.0.1:{server.server_address[1]}/token"
    reg = Registry(
        d / "reg",
        "auth:\n  token:\n"
        f"    realm: {realm}\n    service: dockyard-registry\n    issuer: dockyard-issuer\n"
        f"    rootcertbundle: {d}/token.crt\n",
    )
    yield reg, server
    reg.stop()
    server.shutdown()
    server.server_close()
    thread.join(10)


def test_token_auth(dy: Runner, busybox: str, token_registry: tuple[Registry, TokenServer]) -> None:
    reg, server = token_registry
    name = f"{reg.host}/team/busybox:1"
    dy("tag", busybox, name, check=True)
    anonymous = dy("push", name)
    assert anonymous.returncode == 1 and len(anonymous.stderr.splitlines()) == 1
    assert "unauthorized" in anonymous.stderr or "denied" in anonymous.stderr
    wrong = dy("login", "-u", "alice", "--password-stdin", reg.host, input="nope\n")
    assert wrong.returncode == 1
    assert "unauthorized: incorrect username or password" in wrong.stderr
    dy("login", "-u", "alice", "--password-stdin", reg.host, input="s3cret\n", check=True)
    dy("push", name, check=True)
    dy("rmi", name, check=True)
    server.requests.clear()
    dy("pull", name, check=True)
    # One token for the repository's pull scope, reused for manifest, config and layer.
    assert server.requests == [["repository:team/busybox:pull"]]
    dy("logout", reg.host, check=True)
    dy("rmi", name, check=True)
    dy("pull", name, check=True)  # anonymous pull: the token server grants pull to anyone
    assert dy("run", "--rm", name, "echo", "token", check=True).stdout == "token\n"


# -- TLS -----------------------------------------------------------------------------------


def test_tls_with_client_certificate(
    dy: Runner, busybox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A registry that wants a client certificate: the CA, ``client.cert`` and
    ``client.key`` in ``<certs.d>/<host:port>/`` make it work, as with Docker."""
    need("openssl")
    pki = tmp_path / "pki"
    ca = make_ca(pki)
    server = make_cert(pki, "server", ca)
    client = make_cert(pki, "client", ca)
    reg: Registry | None = None
    try:
        reg = Registry(
            tmp_path / "tlsreg",
            f"  tls:\n    certificate: {server[0]}\n    key: {server[1]}\n"
            f"    clientcas:\n      - {ca[0]}\n",
            tls=True,
        )
        name = f"{reg.host}/tls/busybox:1"
        dy("tag", busybox, name, check=True)
        refused = dy("push", name)
        assert refused.returncode == 1 and len(refused.stderr.splitlines()) == 1
        certs = tmp_path / "certs.d" / reg.host
        certs.mkdir(parents=True)
        shutil.copy(ca[0], certs / "ca.crt")
        shutil.copy(client[0], certs / "client.cert")
        (certs / "client.key").write_bytes(client[1].read_bytes())
        dy("push", name, check=True)
        dy("rmi", name, check=True)
        dy("pull", name, check=True)
        os.unlink(certs / "client.key")
        lonely = dy("pull", name)
        assert lonely.returncode == 1
        assert lonely.stderr == (
            "Error response from daemon: missing key client.key for client certificate client.cert\n"
        )
    finally:
        if reg is not None:
            reg.stop()


def test_login_given_by_the_caller(
    dy: Runner, busybox: str, basic_registry: Registry, engine_env: dict
) -> None:
    """The Engine API's X-Registry-Auth: credentials given with the pull or push are
    used instead of the (absent) stored login."""
    from dockyard.distribution.credentials import from_auth_config
    from dockyard.engine import Engine, distribution
    from dockyard.paths import Paths

    name = f"{basic_registry.host}/caller/busybox:1"
    dy("tag", busybox, name, check=True)
    assert dy("push", name).returncode == 1
    auth = base64.b64encode(b"alice:s3cret").decode()
    login = from_auth_config({"auth": auth})
    engine = Engine(Paths.from_env())
    list(distribution.push(engine, name, login=login))
    dy("rmi", name, check=True)
    messages = list(distribution.pull(engine, name, login=login))
    assert messages[-1] == {"status": f"Status: Downloaded newer image for {name}"}
    assert from_auth_config({"username": "", "password": ""}) is None
    with pytest.raises(DockyardError, match="registrytoken is not supported"):
        from_auth_config({"registrytoken": "x"})


def test_login_through_the_service(
    dy: Runner, engine_env: dict[str, str], basic_registry: Registry, tmp_path: Path
) -> None:
    """``login -H``: the service checks the credentials (POST /auth) and the client stores
    them in its own config.json, as docker/cli does; a refused login stores nothing, with
    the in-process CLI's message; ``logout -H`` forgets the client's login."""
    from api_service import running_service

    host = basic_registry.host
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service({**engine_env, **os.environ}, sock):
        remote = ("-H", f"unix://{sock}")
        local = dy("login", "-u", "alice", "--password-stdin", host, input="wrong\n")
        bad = dy(*remote, "login", "-u", "alice", "--password-stdin", host, input="wrong\n")
        assert (bad.returncode, bad.stdout, bad.stderr) == (
            local.returncode, local.stdout, local.stderr,
        )  # fmt: skip
        assert bad.returncode == 1 and "401 Unauthorized" in bad.stderr
        assert not (tmp_path / "docker-config" / "config.json").exists()
        ok = dy(*remote, "login", "-u", "alice", "--password-stdin", host, input="s3cret\n")
        assert (ok.returncode, ok.stdout) == (0, "Login Succeeded\n"), ok
        assert _config(tmp_path) == {
            "auths": {host: {"auth": base64.b64encode(b"alice:s3cret").decode()}}
        }
        out = dy(*remote, "logout", host, check=True)
        assert out.stdout == f"Removing login credentials for {host}\n"
        assert _config(tmp_path) == {"auths": {}}


@pytest.mark.parametrize("host_flag", [[], ["-H", "unix:///nonexistent/no-daemon.sock"]])
def test_logout_with_a_missing_helper_warns(
    dy: Runner, tmp_path: Path, host_flag: list[str]
) -> None:
    """docker/cli 28's runLogout: a credential helper that cannot erase is a warning, the
    ``auths`` entry goes all the same, exit 0 (it was 'Error response from daemon: error
    getting credentials', exit 1, leaving the entry). Client side, so the same through -H."""
    (tmp_path / "docker-config").mkdir()
    auth = {"auths": {"127.0.0.1:1": {"auth": "YTpi"}}, "credsStore": "dytest-missing"}
    (tmp_path / "docker-config" / "config.json").write_text(json.dumps(auth))
    out = dy(*host_flag, "logout", "127.0.0.1:1")
    assert out.returncode == 0 and out.stdout == "Removing login credentials for 127.0.0.1:1\n"
    assert out.stderr == (
        "WARNING: could not erase credentials:\n127.0.0.1:1: error erasing credentials - err: "
        'exec: "docker-credential-dytest-missing": executable file not found in $PATH, out: ``\n'
    )
    assert _config(tmp_path) == {"auths": {}, "credsStore": "dytest-missing"}


def test_login_that_cannot_store_writes_nothing(
    dy: Runner, basic_registry: Registry, tmp_path: Path
) -> None:
    """docker/cli's runLogin: a login the registry accepted but the client cannot store is
    'Error saving credentials: ...', exit 1, config.json as it was (it was 'Error response
    from daemon: ...', the engine blamed for the client's helper)."""
    host = basic_registry.host
    config = tmp_path / "docker-config" / "config.json"
    config.parent.mkdir()
    config.write_text('{"credsStore": "dytest-missing"}')
    out = dy("login", "-u", "alice", "--password-stdin", host, input="s3cret\n")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == (
        "Error saving credentials: error storing credentials - err: exec: "
        '"docker-credential-dytest-missing": executable file not found in $PATH, out: ``\n'
    )
    assert config.read_text() == '{"credsStore": "dytest-missing"}'


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--password-stdin"], "the --password-stdin option requires --username to be set"),
        (["-u", "", "--password-stdin"], "username is empty"),
        (["-u", "", "-p", "x"], "username is empty"),
        (["-u", "a", "-p", ""], "password is empty"),
        (
            ["-u", "a", "-p", "x", "--password-stdin"],
            "conflicting options: cannot specify both --password and --password-stdin",
        ),
    ],
)
def test_login_flags_refused_as_docker_28(
    dy: Runner, tmp_path: Path, args: list[str], message: str
) -> None:
    """docker/cli 28.2's verifyLoginFlags, checked before any request or warning (the
    words recorded from docker 28.2.2); nothing is written."""
    r = dy("login", *args, "127.0.0.1:1", input="pw\n")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", message + "\n")
    assert not (tmp_path / "docker-config").exists()
