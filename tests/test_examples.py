"""The example apps in examples/: built with ``dockyard build``, run detached, page fetched.

Without port publishing the page is fetched from inside the container with ``exec``, over
the container's own loopback.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import Runner

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NC_GET = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80"
BASH_GET = 'exec 3<>/dev/tcp/127.0.0.1/80; printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3; cat <&3'


def fetch(dy: Runner, name: str, argv: list[str], timeout: float) -> bytes:
    """Run ``argv`` in container ``name`` until it returns an HTTP 200; return the body.

    Retries for ``timeout`` seconds (the server needs a moment after ``run -d``); fails the
    test with the last output if it never answers.
    """
    deadline = time.monotonic() + timeout
    while True:
        proc = dy("exec", name, *argv, input=b"")
        head, sep, body = proc.stdout.partition(b"\r\n\r\n")
        if proc.returncode == 0 and sep and head.startswith(b"HTTP/1.") and b" 200 " in head:
            return body
        if time.monotonic() > deadline:
            pytest.fail(f"no page from {name} in {timeout} s: {proc.stdout!r} {proc.stderr!r}")
        time.sleep(0.2)


def test_busybox_site_serves_its_page(dy: Runner, busybox: str) -> None:
    site = EXAMPLES / "busybox-site"
    built = dy("build", "--progress", "plain", "-t", "site", str(site), check=True)
    assert "Successfully tagged site:latest" in built.stdout
    dy("run", "-d", "--name", "web", "site", check=True)
    try:
        body = fetch(dy, "web", ["sh", "-c", NC_GET], timeout=10)
        assert body == (site / "index.html").read_bytes()
    finally:
        dy("rm", "-f", "web", check=True)
    dy("rmi", "site", check=True)
    assert dy("images", "-q", "site", check=True).stdout == ""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_debian_apache_seed_dockerfile(dy: Runner, debian: str) -> None:
    """The issue's seed Dockerfile, for real: apache2 from Debian's archive (network)."""
    app = EXAMPLES / "debian-apache"
    instructions = [
        line for line in (app / "Dockerfile").read_text().splitlines() if not line.startswith("#")
    ]
    assert instructions == [
        "FROM debian:bookworm",
        "RUN apt-get update && apt-get install -y apache2",
        "ADD . /var/www/html",
        "EXPOSE 80",
        'ENTRYPOINT ["apache2ctl", "-D", "FOREGROUND"]',
    ]
    dy("build", "--progress", "plain", "-t", "apache", str(app), check=True, timeout=600)
    dy("run", "-d", "--name", "apache", "apache", check=True)
    try:
        body = fetch(dy, "apache", ["bash", "-c", BASH_GET], timeout=20)
        assert body == (app / "index.html").read_bytes()
    finally:
        dy("rm", "-f", "apache", check=True)
    dy("rmi", "apache", check=True)
    dy("rmi", "debian:bookworm", check=True)
    assert dy("images", "-q", check=True).stdout == ""
