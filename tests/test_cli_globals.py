"""The docker CLI's global options (docker/cli cli/flags/options.go, cli/command/cli.go):
``--config``, ``-c/--context``, ``-l/--log-level``, ``-H`` (once), and ``--tls``,
``--tlsverify``, ``--tlscacert``, ``--tlscert``, ``--tlskey`` with ``DOCKER_TLS_VERIFY``
and ``DOCKER_CERT_PATH`` against Dockyard's own TLS Engine API service."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DOCKYARD, Runner

DATA = Path(__file__).parent / "data"


def test_global_options_help_is_dockers(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Global Options of ``dockyard --help`` are docker's, word for word, plus
    Dockyard's own --root and --runroot."""
    from dockyard.cli import help
    from dockyard.cli.main import cli

    monkeypatch.setenv("HOME", "/root")
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    monkeypatch.delenv("DOCKER_CERT_PATH", raising=False)
    ctx = cli.make_context("dockyard", ["--help"], resilient_parsing=True)
    text = help.render(ctx)
    ours = text.split("Global Options:\n")[1].split("\n\n")[0].splitlines()
    own = [
        "      --root string        Engine root (default /var/lib/dockyard).",
        "      --runroot string     Run root (default /run/dockyard).",
    ]
    assert [line for line in ours if line in own] == own
    docker = (DATA / "docker-cli-28-global-options.txt").read_text().splitlines()
    assert ["Global Options:", *(line for line in ours if line not in own)] == docker


def test_log_level(dy: Runner) -> None:
    """logrus's levels are taken; another is docker's error, exit 1."""
    r = dy("-l", "bogus", "images", "-q")
    assert (r.returncode, r.stderr) == (1, "Unable to parse logging level: bogus\n")
    for level in ("debug", "info", "WARN", "error", "fatal", ""):  # "": docker's default
        r = dy("--log-level", level, "images", "-q")
        assert (r.returncode, r.stdout, r.stderr) == (0, "", "")


def test_context(dy: Runner, tmp_path: Path) -> None:
    """Only the default context exists: ``-c default`` and ``DOCKER_CONTEXT=default`` run
    the command; another name is docker's missing context (in the config directory);
    ``-c`` with ``-H`` conflicts; ``DOCKER_HOST`` outranks ``DOCKER_CONTEXT``."""
    digest = hashlib.sha256(b"foo").hexdigest()
    missing = (
        'Failed to initialize: unable to resolve docker endpoint: context "foo": context '
        "not found: open {}/contexts/meta/" + digest + "/meta.json: no such file or directory\n"
    )
    for args, env in (
        (["-c", "default", "ps", "-q"], {}),
        (["--context=default", "images", "-q"], {}),
        (["ps", "-q"], {"DOCKER_CONTEXT": "default"}),
    ):
        r = _dy(*args, env={**os.environ, **env})
        assert (r.returncode, r.stdout, r.stderr) == (0, "", ""), args
    config = tmp_path / "cfg"
    for args, env, where in (
        (["-c", "foo", "ps"], {"DOCKER_CONFIG": str(config)}, config),
        (["--config", str(config), "--context", "foo", "ps"], {}, config),
        # The fast paths leave the command to click, which refuses the context.
        (["ps", "-q"], {"DOCKER_CONTEXT": "foo", "DOCKER_CONFIG": str(config)}, config),
        (["run", "--rm", "x"], {"DOCKER_CONTEXT": "foo", "DOCKER_CONFIG": str(config)}, config),
        (["pull", "x.invalid/y"], {"DOCKER_CONTEXT": "foo", "DOCKER_CONFIG": str(config)}, config),
        (
            ["build", "/nonexistent"],
            {"DOCKER_CONTEXT": "foo", "DOCKER_CONFIG": str(config)},
            config,
        ),
    ):
        r = _dy(*args, env={**os.environ, **env})
        assert (r.returncode, r.stdout, r.stderr) == (1, "", missing.format(where)), args
    r = dy("-H", "unix:///nonexistent.sock", "-c", "default", "ps")
    assert (r.returncode, r.stderr) == (
        1,
        "conflicting options: cannot specify both --host and --context\n",
    )
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock", "DOCKER_CONTEXT": "foo"}
    r = _dy("ps", env=env)
    assert r.returncode == 1 and "context" not in r.stderr
    assert "/nonexistent.sock" in r.stderr


def test_host_only_once(dy: Runner) -> None:
    r = dy("-H", "unix:///a.sock", "-H", "unix:///b.sock", "ps")
    assert (r.returncode, r.stderr) == (
        1,
        "Failed to initialize: unable to resolve docker endpoint: Specify only one -H\n",
    )


def test_config_names_the_client_config(dy: Runner, tmp_path: Path) -> None:
    """``--config DIR`` is where the client's config.json is read (as DOCKER_CONFIG)."""
    config = tmp_path / "cfg"
    config.mkdir()
    (config / "config.json").write_text(json.dumps({"auths": 1}))
    r = dy("--config", str(config), "logout", "registry.example")
    assert r.returncode != 0 and f"{config}/config.json" in r.stderr, r.stderr
    r = _dy("logout", "registry.example", env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert r.returncode == 0, r.stderr


def _dy(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """``dockyard ARGS`` with exactly the environment ``env``."""
    return subprocess.run(
        [DOCKYARD, *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def _openssl(d: Path, *args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=d)


def _certificates(d: Path) -> None:
    """A test CA (ca.pem) and server and client certificates it signed for 127.0.0.1."""
    key = ["-newkey", "rsa:2048", "-nodes"]
    ca = ["-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=test-ca"]
    _openssl(d, "req", "-x509", *key, *ca)
    for name in ("server", "client"):
        out = ["-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={name}"]
        _openssl(d, "req", *key, *out)
        (d / f"{name}.ext").write_text("subjectAltName=IP:127.0.0.1\n")
        _openssl(
            d,
            "x509",
            "-req",
            "-in",
            f"{name}.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            f"{name}.pem",
            "-days",
            "1",
            "-extfile",
            f"{name}.ext",
        )


@pytest.mark.timeout(90)
def test_tls_client(dy: Runner, engine_env: dict[str, str], tmp_path: Path) -> None:
    """The client reaches a ``--tlsverify`` service with the CA and its certificate from
    flags, from DOCKER_CERT_PATH with DOCKER_TLS_VERIFY, and from the config directory;
    without a client certificate the service refuses it; a missing CA is docker's error."""
    d = tmp_path / "tls"
    d.mkdir()
    _certificates(d)
    certs = tmp_path / "certs"
    certs.mkdir()
    shutil.copy(d / "ca.pem", certs / "ca.pem")
    shutil.copy(d / "client.pem", certs / "cert.pem")
    shutil.copy(d / "client.key", certs / "key.pem")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            DOCKYARD,
            "system",
            "service",
            "--time",
            "0",
            "--tlsverify",
            f"--tlscacert={d}/ca.pem",
            f"--tlscert={d}/server.pem",
            f"--tlskey={d}/server.key",
            host,
        ],
        env={**os.environ, **engine_env},
        stderr=subprocess.PIPE,
    )
    version = ("version", "--format", "{{.Server.ApiVersion}}")
    try:
        deadline = time.monotonic() + 15
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.1)
        base = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        files = [f"--tlscacert={d}/ca.pem", f"--tlscert={d}/client.pem"]
        files.append(f"--tlskey={d}/client.key")
        for args, env in (
            (["-H", host, "--tlsverify", *files], {}),
            (["-H", host, "--tls", *files], {}),
            (["-H", host], {"DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": str(certs)}),
            (["-H", host, "--tlsverify"], {"DOCKER_CONFIG": str(certs)}),
        ):
            r = _dy(*args, *version, env={**base, **engine_env, **env})
            assert (r.returncode, r.stderr) == (0, ""), args
            assert r.stdout.strip() and r.stdout[0].isdigit()
        # --tlsverify=false: TLS with a client certificate, the server not verified (no
        # CA at all); it overrides DOCKER_TLS_VERIFY. Quotes around a path are trimmed.
        env = {**base, **engine_env, "HOME": str(d), "DOCKER_TLS_VERIFY": "1"}
        args = [f"--tlscert='{d}/client.pem'", f'--tlskey="{d}/client.key"']
        r = _dy("-H", host, "--tlsverify=false", *args, *version, env=env)
        assert (r.returncode, r.stderr) == (0, ""), r
        # No client certificate (none in the config directory): the handshake fails.
        r = _dy("-H", host, "--tls", *version, env={**base, **engine_env, "HOME": str(d)})
        assert r.returncode != 0 and r.stdout == ""
        # Plain HTTP to a TLS listener fails too.
        r = _dy("-H", host, *version, env={**base, **engine_env})
        assert r.returncode != 0 and r.stdout == ""
        r = _dy("-H", host, "--tlsverify", *version, env={**base, **engine_env, "HOME": str(d)})
        assert (r.returncode, r.stderr) == (
            1,
            "Failed to initialize: unable to resolve docker endpoint: "
            f"open {d}/.docker/ca.pem: no such file or directory\n",
        )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert proc.stderr is not None
        proc.stderr.close()


def test_tls_files_that_do_not_parse(tmp_path: Path, engine_env: dict[str, str]) -> None:
    """docker/cli 28's words (cli/context/docker/load.go) for a CA, certificate or key
    that does not parse, before any connection; a certificate without its key is left
    out as docker/cli does (it was 'Error response from daemon: could not load TLS
    certificates: [SSL] PEM lib (_ssl.c:3895)' for each). Paths with a space too."""
    d = tmp_path / "t l s"
    d.mkdir()
    _certificates(d)
    (d / "garbage.pem").write_text("garbage\n")
    _openssl(d, "genrsa", "-out", "other.key", "2048")
    prefix = "Failed to initialize: failed to retrieve context tls info: "
    env = {**os.environ, **engine_env, "HOME": str(tmp_path)}
    for files, message in [
        (("garbage.pem", "client.pem", "client.key"), f"{prefix}ca.pem seems invalid"),
        (
            ("ca.pem", "client.pem", "other.key"),
            f"{prefix}tls: private key does not match public key",
        ),
        (
            ("ca.pem", "garbage.pem", "client.key"),
            f"{prefix}tls: failed to find any PEM data in certificate input",
        ),
        (
            ("ca.pem", "client.pem", "garbage.pem"),
            "Failed to initialize: no valid private key found",
        ),
        (
            ("ca.pem", "client.key", "client.pem"),
            f"{prefix}tls: failed to find certificate PEM data in certificate input, but did "
            "find a private key; PEM inputs may have been switched",
        ),
    ]:
        flags = [f"--tls{k}={d}/{f}" for k, f in zip(("cacert", "cert", "key"), files, strict=True)]
        r = _dy("-H", "tcp://127.0.0.1:1", "--tlsverify", *flags, "version", env=env)
        assert (r.returncode, r.stderr) == (1, message + "\n"), files
    # A certificate without its key (key.pem missing from the default place): no client
    # certificate, so the command gets as far as connecting.
    r = _dy(
        "-H",
        "tcp://127.0.0.1:1",
        "--tlsverify",
        f"--tlscacert={d}/ca.pem",
        f"--tlscert={d}/client.pem",
        "ps",
        env=env,
    )
    assert (r.returncode, r.stderr) == (
        1,
        "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?\n",
    )


@pytest.mark.timeout(60)
def test_tls_server_not_verified(tmp_path: Path, engine_env: dict[str, str]) -> None:
    """A server whose certificate the CA did not sign is docker/cli's 'error during
    connect: ...: tls: failed to verify certificate: ...', not 'Cannot connect to the
    Docker daemon ... Is the docker daemon running?' (the daemon is there; TLS failed)."""
    import ssl
    import threading

    d = tmp_path / "tls"
    d.mkdir()
    _certificates(d)
    other = ["-newkey", "rsa:2048", "-nodes", "-keyout", "ca2.key", "-out", "ca2.pem"]
    _openssl(d, "req", "-x509", *other, "-days", "1", "-subj", "/CN=other-ca")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server.pem", d / "server.key")
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    done = threading.Event()

    def serve() -> None:  # handshakes until done; the client refuses each
        while not done.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:  # the accept's timeout: look at done again
                continue
            with conn, contextlib.suppress(OSError):
                ctx.wrap_socket(conn, server_side=True).close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        env = {**os.environ, **engine_env, "HOME": str(tmp_path)}
        r = _dy(
            "-H",
            f"tcp://127.0.0.1:{port}",
            "--tlsverify",
            f"--tlscacert={d}/ca2.pem",
            "ps",
            env=env,
        )
        assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
        assert r.stderr.startswith(f'error during connect: Get "https://127.0.0.1:{port}/')
        assert '": tls: failed to verify certificate: ' in r.stderr
    finally:
        done.set()
        thread.join(timeout=10)
        listener.close()
