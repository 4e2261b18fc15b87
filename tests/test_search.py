"""Image search: ``dockyard search`` in process and through the Engine API service
(``GET /images/search``, also driven by the docker CLI 28), against a stand-in for an
index's v1 search API: a small HTTP server on loopback (no test may reach Docker Hub, so
the search term names this index, ``127.0.0.1:PORT/term``, as one names a private
registry)."""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from api_service import running_service
from conftest import Runner

DOCKER = "/usr/local/bin/docker"

pytestmark = pytest.mark.timeout(120)

RESULTS = [
    {
        "name": "library/busybox",
        "description": "Busybox base image.",
        "star_count": 3300,
        "is_official": True,
        "is_automated": False,
    },
    {
        "name": "someone/busybox-tools",
        "description": "A much longer description that the table cuts at forty-five characters",
        "star_count": 12,
        "is_official": False,
        "is_automated": True,
    },
    {"name": "other/bb", "description": "two\nlines", "star_count": 0, "is_official": False},
]


@pytest.fixture
def index() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """(host:port, the queries it got) of a v1 search API stand-in on loopback."""
    queries: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            url = urlsplit(self.path)
            if url.path != "/v1/search":
                self.send_error(404)
                return
            query = parse_qs(url.query)
            queries.append({**query, "auth": [self.headers.get("Authorization") or ""]})
            limit = int(query.get("n", ["25"])[0])
            body = json.dumps(
                {"query": query["q"][0], "num_results": len(RESULTS), "results": RESULTS[:limit]}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", queries
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_search_in_process_through_the_service_and_the_docker_cli(
    dy: Runner,
    engine_env: dict[str, str],
    tmp_path: Path,
    index: tuple[str, list[dict[str, list[str]]]],
) -> None:
    host, queries = index
    out = dy("search", f"{host}/busybox", check=True).stdout
    assert out.splitlines() == [
        "NAME                    DESCRIPTION                                     STARS     OFFICIAL",
        "library/busybox         Busybox base image.                             3300      [OK]",
        "someone/busybox-tools   A much longer description that the table cut…   12        ",
        "other/bb                two lines                                       0         ",
    ]
    assert queries[-1]["q"] == ["busybox"] and queries[-1]["n"] == ["25"]
    r = dy("search", "--limit", "1", "--format", "{{.Name}}:{{.StarCount}}", f"{host}/bb")
    assert (r.returncode, r.stdout, queries[-1]["n"]) == (0, "library/busybox:3300\n", ["1"])
    wide = dy("search", "--no-trunc", "--format", "{{.Description}}", f"{host}/x", check=True)
    assert RESULTS[1]["description"] in wide.stdout.splitlines()
    filtered = dy(
        "search", "-f", "is-official=false", "-f", "stars=5", "--format", "{{json .}}", f"{host}/x"
    )
    assert [json.loads(line)["Name"] for line in filtered.stdout.splitlines()] == [
        "someone/busybox-tools"
    ]
    assert json.loads(filtered.stdout)["IsOfficial"] == "false"
    automated = dy("search", "-f", "is-automated=true", f"{host}/x", check=True)
    assert automated.stdout.count("\n") == 1  # the header: nothing is automated any more
    assert "is-automated" in automated.stderr
    for args, message in [
        (("--limit", "101", f"{host}/x"), "limit 101 is outside the range of [1, 100]"),
        (("-f", "bogus=1", f"{host}/x"), "invalid filter 'bogus'"),
        (("-f", "stars=many", f"{host}/x"), "invalid filter 'stars=many'"),
        (("http://example.com/x",), "should not have a scheme"),
    ]:
        bad = dy("search", *args)
        assert bad.returncode == 1 and message in bad.stderr, args
    sock = str(tmp_path / "run" / "docker.sock")
    with running_service(engine_env, sock):
        local = dy("search", f"{host}/busybox", check=True)
        remote = dy("-H", f"unix://{sock}", "search", f"{host}/busybox", check=True)
        assert remote.stdout == local.stdout
        if os.path.exists(DOCKER):
            env = {**os.environ, "DOCKER_HOST": f"unix://{sock}"}
            env["DOCKER_CONFIG"] = str(tmp_path / "docker-config")
            docker = subprocess.run(
                [DOCKER, "search", f"{host}/busybox"], env=env, capture_output=True, text=True
            )
            assert (docker.returncode, docker.stdout) == (0, local.stdout), docker.stderr
            docker = subprocess.run(
                [DOCKER, "search", "--limit", "0", "-f", "stars=x", f"{host}/busybox"],
                env=env,
                capture_output=True,
                text=True,
            )
            assert docker.returncode == 1
            assert "invalid filter 'stars=x'" in docker.stderr
