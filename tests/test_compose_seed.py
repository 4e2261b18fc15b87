"""The seed's compose file, unchanged (``version: '3'``, ``image: nginx`` publishing 80:80,
``image: mysql`` with ``MYSQL_ROOT_PASSWORD``), run with ``dockyard compose`` offline:
``nginx`` and ``mysql`` are built in examples/compose-seed from Debian's nginx and
mariadb-server packages on ``bootstrap debian`` (Debian's archive is the only network) and
served by a loopback registry configured as Docker Hub's mirror.

The page answers on the published port, web reaches ``db:3306`` by name, the root password
is the one MYSQL_ROOT_PASSWORD gave, ``stop`` stops both, the db's anonymous volume is
listed, inspected and (in use) refused by ``volume rm``, and ``down --volumes`` leaves nothing.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import Runner
from registry_peer import Registry, registry_env

SEED = Path(__file__).resolve().parent.parent / "examples" / "compose-seed"


def until(what: str, check: object, timeout: float) -> object:
    """Call ``check()`` until it returns something true (its value) or ``timeout``
    seconds pass (the test fails naming ``what`` and the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()  # type: ignore[operator]
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {timeout} s: last {value!r}")
        time.sleep(0.5)


def page() -> bytes:
    try:
        with urllib.request.urlopen("http://127.0.0.1:80/", timeout=2) as r:
            return bytes(r.read())
    except OSError:
        return b""


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_seed_web_and_db(
    dy: Runner, debian: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as s:  # the seed publishes host port 80
        try:
            s.bind(("0.0.0.0", 80))
        except OSError:
            pytest.fail("host port 80 is in use: the seed's file publishes 80:80")
    assert (SEED / "docker-compose.yml").read_text() == (
        "version: '3'\n"
        "services:\n"
        "  web:\n"
        "    image: nginx\n"
        "    ports:\n"
        '      - "80:80"\n'
        "  db:\n"
        "    image: mysql\n"
        "    environment:\n"
        "      MYSQL_ROOT_PASSWORD: example\n"
    )
    registry = Registry(tmp_path / "registry")
    app = tmp_path / "seed"
    app.mkdir()
    shutil.copy(SEED / "docker-compose.yml", app)
    try:
        for image in ("nginx", "mysql"):
            dy("build", "-q", "-t", image, str(SEED / image), check=True, timeout=900)
            dy("tag", image, f"{registry.host}/library/{image}", check=True)
            dy("push", "-q", f"{registry.host}/library/{image}", check=True, timeout=300)
            dy("rmi", image, f"{registry.host}/library/{image}", check=True)
        registry_env(
            monkeypatch,
            tmp_path,
            json.dumps({"registry-mirrors": [f"http://{registry.host}"]}),
        )

        def compose(*args: str, **kw: object) -> object:
            return dy("compose", *args, cwd=app, **kw)

        up = compose("up", "-d", check=True, timeout=600)
        assert "the attribute `version` is obsolete" in up.stderr
        assert " Container seed-web-1  Started" in up.stderr
        assert " Container seed-db-1  Started" in up.stderr
        body = until("nginx's page on 127.0.0.1:80", page, 30)
        assert b"<title>Welcome to nginx!</title>" in body  # type: ignore[operator]

        def greeting() -> str:
            # The server's handshake packet names it; web resolves db by service name.
            out = compose(
                "exec", "-T", "web", "bash", "-c",
                "exec 3<>/dev/tcp/db/3306 && timeout 2 head -c 100 <&3 | tr -c '[:print:]' .",
            )  # fmt: skip
            return str(out.stdout)  # type: ignore[attr-defined]

        assert "MariaDB" in str(until("db:3306 answering web", greeting, 120))
        sql = ["exec", "-T", "db", "mariadb", "-h127.0.0.1", "-uroot"]
        one = compose(*sql, "-pexample", "-N", "-e", "SELECT 6*7", check=True)
        assert one.stdout == "42\n"  # type: ignore[attr-defined]
        wrong = compose(*sql, "-pwrong", "-e", "SELECT 1")
        assert wrong.returncode == 1  # type: ignore[attr-defined]
        assert "Access denied for user 'root'" in wrong.stderr  # type: ignore[attr-defined]

        # The db's data directory is the image's VOLUME: an anonymous volume.
        (volume,) = dy("volume", "ls", "-q", check=True).stdout.split()
        assert re.fullmatch("[0-9a-f]{64}", volume)
        info = json.loads(dy("volume", "inspect", volume, check=True).stdout)[0]
        assert info["Driver"] == "local" and info["Name"] == volume
        assert Path(info["Mountpoint"], "mysql").is_dir()  # initialised there

        compose("stop", check=True, timeout=120)
        states = dy("ps", "-a", "--format", "{{.Names}} {{.State}}", check=True).stdout
        assert sorted(states.splitlines()) == ["seed-db-1 exited", "seed-web-1 exited"]
        busy = dy("volume", "rm", volume)
        assert busy.returncode == 1 and "volume is in use" in busy.stderr
        compose("down", "--volumes", check=True, timeout=120)
        assert dy("ps", "-aq", check=True).stdout == ""
        assert dy("volume", "ls", "-q", check=True).stdout == ""
        assert "seed_default" not in dy("network", "ls", check=True).stdout
        gone = dy("volume", "rm", volume)
        assert gone.returncode == 1 and "no such volume" in gone.stderr
    finally:
        dy("compose", "down", "--volumes", "-t", "0", cwd=app, timeout=120)
        registry.stop()
        for image in ("nginx", "mysql", debian):
            dy("rmi", "-f", image)
