"""A real registry for tests: Debian's ``docker-registry`` (distribution 2.8) on 127.0.0.1.

``Registry.start(tmp, extra_config)`` writes a config (filesystem storage, delete
enabled, a free loopback port; ``extra`` YAML appended for auth/TLS) and waits until
``/v2/`` answers; ``stop()`` ends the process it started (by PID). Plus
``free_port()`` and ``make_ca``/``make_cert`` (openssl) for TLS and token tests.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Registry:
    """A ``docker-registry`` process serving ``host`` (``127.0.0.1:PORT``)."""

    def __init__(self, directory: Path, extra: str = "", tls: bool = False) -> None:
        if shutil.which("docker-registry") is None:
            pytest.skip("docker-registry is not installed (make deps installs it)")
        self.dir = directory
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.tls = tls
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "config.yml").write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {directory}/storage\n"
            "  delete:\n    enabled: true\n"
            f"http:\n  addr: {self.host}\n" + extra
        )
        self.log = open(directory / "registry.log", "wb")
        self.proc = subprocess.Popen(
            ["docker-registry", "serve", str(directory / "config.yml")],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait()

    def _wait(self) -> None:
        scheme = "https" if self.tls else "http"
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.dir / "registry.log").read_text())
            try:
                if self.tls:  # it may want a client certificate: a listening port will do
                    socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                    return
                urllib.request.urlopen(f"{scheme}://{self.host}/v2/", timeout=1, context=ctx)
                return
            except urllib.error.HTTPError:
                return  # 401: up, asking for auth
            except (OSError, ssl.SSLError):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def make_ca(directory: Path, name: str = "ca") -> tuple[Path, Path]:
    """A self-signed CA ``(cert, key)`` made with openssl."""
    directory.mkdir(parents=True, exist_ok=True)
    openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", f"/CN=dockyard test {name}",
        "-keyout", f"{name}.key", "-out", f"{name}.crt",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def make_cert(
    directory: Path, name: str, ca: tuple[Path, Path], ip: str = "127.0.0.1"
) -> tuple[Path, Path]:
    """A certificate for ``ip`` (and client use) signed by ``ca``: ``(cert, key)``."""
    ext = directory / f"{name}.ext"
    ext.write_text(f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth,clientAuth\n")
    openssl(
        "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.csr",
        cwd=directory,
    )  # fmt: skip
    openssl(
        "x509", "-req", "-in", f"{name}.csr", "-CA", str(ca[0]), "-CAkey", str(ca[1]),
        "-CAcreateserial", "-days", "2", "-extfile", str(ext), "-out", f"{name}.crt",
        cwd=directory,
    )  # fmt: skip
    return directory / f"{name}.crt", directory / f"{name}.key"


def registry_env(
    monkeypatch: pytest.MonkeyPatch, tmp: Path, daemon_json: str | None = None
) -> None:
    """Point the engine's registry settings at ``tmp``: an empty docker CLI config dir,
    ``daemon_json`` (or none) and an empty certs.d."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp / "docker-config"))
    monkeypatch.setenv("DOCKYARD_CERTS_D", str(tmp / "certs.d"))
    cfg = tmp / "daemon.json"
    if daemon_json is not None:
        cfg.write_text(daemon_json)
    monkeypatch.setenv("DOCKYARD_DAEMON_CONFIG", str(cfg))
    os.makedirs(tmp / "certs.d", exist_ok=True)
