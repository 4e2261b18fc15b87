"""``build --cache-from``: the cache records an image carries, read back on another engine
(an empty root) from a loopback registry or after a pull; the API's ``cachefrom`` with
the classic builder's rule (only those images' steps); refusals."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from api_service import running_service
from conftest import DOCKYARD, Runner
from registry_peer import Registry, registry_env

pytestmark = pytest.mark.timeout(240)

DOCKERFILE = """FROM {base}
ENV GREETING=hi
COPY a.txt /a.txt
RUN echo ran > /ran
COPY b.txt /b.txt
RUN cat /a.txt /b.txt > /ab
"""


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg
    reg.stop()


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    registry_env(monkeypatch, tmp_path)


def _other_engine(engine_env: dict[str, str], tmp_path: Path) -> Runner:
    """A runner for a second engine root: the other machine, its cache empty."""
    env = {
        **engine_env,
        "DOCKYARD_ROOT": str(tmp_path / "root2"),
        "DOCKYARD_RUNROOT": str(tmp_path / "run2"),
    }

    def run(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [DOCKYARD, *args],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, **env},
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"dockyard {' '.join(args)}: {proc.stdout}{proc.stderr}")
        return proc

    return run


def _context(path: Path, base: str, b: str = "bee\n") -> Path:
    path.mkdir(exist_ok=True)
    (path / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    (path / "a.txt").write_text("ay\n")
    (path / "b.txt").write_text(b)
    return path


def _image_id(run: Runner, name: str) -> str:
    return str(run("image", "inspect", "--format", "{{.Id}}", name, check=True).stdout.strip())


def test_cache_from_an_image_in_a_registry_on_an_empty_engine(
    dy: Runner, busybox: str, registry: Registry, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """Build, push; on an engine without that build's cache, --cache-from the pushed
    image hits every unchanged step (the result is the very image pushed), and from a
    changed COPY on every step misses: its layer is not reused for new content."""
    base = f"{registry.host}/cf/busybox:1"
    app = f"{registry.host}/cf/app:1"
    dy("tag", busybox, base, check=True)
    dy("push", base, check=True)
    ctx = _context(tmp_path / "ctx", base)
    # BuildKit's switch for inline cache records: Dockyard writes them always.
    out = dy("build", "--build-arg", "BUILDKIT_INLINE_CACHE=1", "-t", app, str(ctx), check=True)
    assert "not consumed" not in out.stdout + out.stderr
    dy("push", app, check=True)
    pushed = _image_id(dy, app)

    other = _other_engine(engine_env, tmp_path)
    # Not pulled: read from the registry (only its config, then the layers a step takes).
    out = other("build", "--cache-from", f"type=registry,ref={app}", "-t", "again", str(ctx))
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.count(" ---> Using cache") == 5, out.stdout
    assert " ---> Running in " not in out.stdout
    assert _image_id(other, "again") == pushed
    assert other("images", "-q", app).stdout == ""  # nothing tagged by the import
    assert other("run", "--rm", "again", "cat", "/ab", check=True).stdout == "ay\nbee\n"

    # A changed file: the steps before it hit, it and every later step run.
    other("pull", app, check=True)
    (ctx / "b.txt").write_text("changed\n")
    out = other("build", "--cache-from", app, "--cache-from", "nosuch:1", "-t", "new", str(ctx))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "WARNING: importing cache manifest from nosuch:1: " in out.stdout
    steps = out.stdout.split("\nStep ")
    hits = [s.split("\n")[0] for s in steps if " ---> Using cache" in s]
    assert hits == ["2/6 : ENV GREETING=hi", "3/6 : COPY a.txt /a.txt", "4/6 : RUN echo ran > /ran"]
    assert out.stdout.count(" ---> Running in ") == 1
    assert other("run", "--rm", "new", "cat", "/ab", check=True).stdout == "ay\nchanged\n"
    other("rmi", "again", "new", app, base, check=True)


def test_cache_from_a_registry_fetches_only_the_layers_steps_take(
    dy: Runner, busybox: str, registry: Registry, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """The other engine has the base image (bootstrapped, the same ID) but not its
    layer's blob as the registry has it (gzip): the import fetches the steps' layers
    only. It fetched the base layer's blob too, which no image used: system check
    found it after every such build."""
    app = f"{registry.host}/cf/onbusybox:1"
    ctx = _context(tmp_path / "ctx", busybox)
    dy("build", "-t", app, str(ctx), check=True)
    dy("push", app, check=True)
    other = _other_engine(engine_env, tmp_path)
    other("bootstrap", "busybox", check=True)
    out = other("build", "--cache-from", f"type=registry,ref={app}", "-t", "again", str(ctx))
    assert out.stdout.count(" ---> Using cache") == 5, out.stdout + out.stderr
    check = other("system", "check")
    assert check.returncode == 0, check.stdout
    other("rmi", "again", check=True)


def test_api_cachefrom_takes_only_those_images_steps(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """POST /build?cachefrom=[...] as the classic builder (docker-py's
    test_build_with_cache_from): with an image built before, its steps hit; with a
    missing one only, nothing hits even though the local cache has every step; through
    the remote CLI (-H) too."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV FOO=bar\nRUN touch baz\nRUN touch bax\n")
    dy("build", "-t", "build1", str(ctx), check=True)
    with tempfile.TemporaryDirectory(prefix="dy-cf-") as sock_dir:
        sock = os.path.join(sock_dir, "api.sock")
        with running_service(engine_env, sock):
            import httpx

            body = subprocess.run(
                ["tar", "-c", "-C", str(ctx), "Dockerfile"], capture_output=True, check=True
            ).stdout
            client = httpx.Client(transport=httpx.HTTPTransport(uds=sock), timeout=60)

            def hits(cachefrom: list[str]) -> int:
                params = {"t": "build2", "cachefrom": json.dumps(cachefrom)}
                r = client.post("http://d/build", params=params, content=body)
                assert r.status_code == 200, r.text
                lines = [json.loads(x) for x in r.text.splitlines() if x.strip()]
                assert "aux" in "".join(json.dumps(x) for x in lines), r.text
                return sum("Using cache" in m.get("stream", "") for m in lines)

            assert hits(["build1"]) == 3
            assert hits(["nosuchtag"]) == 0
            # An empty array is no cachefrom: the local cache (moby's MakeImageCache).
            assert hits([]) == 3
            r = client.post("http://d/build", params={"cachefrom": "build1"}, content=body)
            assert "invalid cachefrom: 'build1': not a JSON array of strings" in r.text
            client.close()
            remote = subprocess.run(
                [DOCKYARD, "-H", f"unix://{sock}", "build", "--cache-from", "build1", str(ctx)],
                capture_output=True,
                text=True,
                timeout=60,
                env={**os.environ, **engine_env},
            )
            assert remote.stdout.count("Using cache") == 3, remote.stdout + remote.stderr


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=local,src=/tmp/c", "--cache-from type=local is not supported by Dockyard"),
        ("type=gha", "--cache-from type=gha is not supported by Dockyard"),
        ("ref=app", 'type required form> "ref=app"'),
        ("type=registry", "ref is required for type=registry"),
        ("type=registry,ref=app,mode=max", "option 'mode' is not supported by Dockyard"),
        # An unterminated quote (buildx's CSV reader refuses it; it was skipped as empty).
        ('"', "invalid --cache-from value '\"'"),
    ],
)
def test_cache_from_refusals(dy: Runner, tmp_path: Path, value: str, message: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\nENV A=1\n")
    out = dy("build", "--cache-from", value, str(tmp_path))
    assert out.returncode == 1
    assert message in out.stderr
    assert dy("images", "-aq").stdout == ""


def test_parse_cache_from() -> None:
    from dockyard.build.cache import parse_cache_from

    assert parse_cache_from(["a", "", "b:1,c@sha256:" + "0" * 64, "type=registry,ref=d"]) == [
        "a",
        "b:1",
        "c@sha256:" + "0" * 64,
        "d",
    ]
