"""Compose's loader (no containers): file lookup, merging, interpolation, profiles, project
names, the schema and the refusals, and ``compose config``'s output."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import DOCKYARD
from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import substitute
from dockyard.compose.loader import Options, load_project


def write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def load(d: Path, env: dict[str, str] | None = None, **kw: object):  # type: ignore[no-untyped-def]
    return load_project(Options(cwd=str(d), environ=env or {}, **kw))  # type: ignore[arg-type]


def compose(d: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [DOCKYARD, "compose", *args],
        cwd=d,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ["PATH"], **(env or {})},
    )


@pytest.mark.parametrize(
    "text, env, want",
    [
        ("${A}", {"A": "x"}, "x"),
        ("$A-$B", {"A": "x"}, "x-"),
        ("${A:-d}", {"A": ""}, "d"),
        ("${A-d}", {"A": ""}, ""),
        ("${A-d}", {}, "d"),
        ("${A:+alt}", {"A": "1"}, "alt"),
        ("${A:+alt}", {"A": ""}, ""),
        ("${A+alt}", {"A": ""}, "alt"),
        ("${A:-${B:-deep}}", {}, "deep"),
        ("$${A} $$", {"A": "x"}, "${A} $"),
        ("${A:?must}", {"A": "v"}, "v"),
    ],
)
def test_interpolation_forms(text: str, env: dict[str, str], want: str) -> None:
    assert substitute(text, env) == want


@pytest.mark.parametrize("text", ["${A:?need A}", "${A?need A}"])
def test_required_variable_missing(text: str) -> None:
    with pytest.raises(ComposeError, match="required variable A is missing a value: need A"):
        substitute(text, {"A": ""} if ":" in text else {})


def test_lookup_override_version_warning_and_merge(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    write(
        tmp_path,
        "compose.yaml",
        "version: '3'\nservices:\n  web:\n    image: busybox\n    command: echo a\n"
        "    environment: [A=1, B=2]\n    ports: ['8080:80']\n",
    )
    write(
        tmp_path,
        "compose.override.yaml",
        "services:\n  web:\n    command: [echo, b]\n    environment: {B: '3', C: '4'}\n"
        "    ports: ['8081:81']\n",
    )
    sub = tmp_path / "My Project!" / "deeper"
    sub.mkdir(parents=True)
    p = load(sub)
    assert p.config_files == [
        str(tmp_path / "compose.yaml"),
        str(tmp_path / "compose.override.yaml"),
    ]
    web = p.services["web"]
    assert web["command"] == ["echo", "b"]
    assert web["environment"] == {"A": "1", "B": "3", "C": "4"}
    assert [x["published"] for x in web["ports"]] == ["8080", "8081"]
    assert p.name == tmp_path.name.lower().replace(".", "")
    assert "the attribute `version` is obsolete" in capfd.readouterr().err


def test_several_files_project_names_and_env_files(tmp_path: Path) -> None:
    write(tmp_path, "a.yml", "name: fromfile\nservices:\n  s:\n    image: ${IMG}\n")
    write(tmp_path, "b.yml", "services:\n  s:\n    labels: {x: '${X:-dflt}'}\n")
    write(tmp_path, ".env", "IMG=busybox:1\n# comment\nexport X='from dotenv'\n")
    write(tmp_path, "other.env", 'IMG="other"\n')
    p = load(tmp_path, files=["a.yml", "b.yml"])
    assert p.name == "fromfile"
    assert p.services["s"]["image"] == "busybox:1"
    assert p.services["s"]["labels"] == {"x": "from dotenv"}
    # The process environment wins over .env; --env-file replaces .env.
    assert load(tmp_path, {"IMG": "env"}, files=["a.yml"]).services["s"]["image"] == "env"
    assert (
        load(tmp_path, files=["a.yml"], env_files=["other.env"]).services["s"]["image"] == "other"
    )
    assert load(tmp_path, files=["a.yml"], project_name="cli").name == "cli"
    env = {"COMPOSE_PROJECT_NAME": "envname", "COMPOSE_FILE": "a.yml:b.yml"}
    p = load(tmp_path, env)
    assert (p.name, len(p.config_files)) == ("envname", 2)
    # compose-go: -p and COMPOSE_PROJECT_NAME are refused (InvalidProjectNameErr's text),
    # the file's name: is normalized.
    why = (
        r'^invalid project name "Bad!": must consist only of lowercase alphanumeric '
        "characters, hyphens, and underscores as well as start with a letter or number$"
    )
    with pytest.raises(ComposeError, match=why):
        load(tmp_path, files=["a.yml"], project_name="Bad!")
    with pytest.raises(ComposeError, match=why):
        load(tmp_path, {"COMPOSE_PROJECT_NAME": "Bad!"}, files=["a.yml"])
    write(tmp_path, "c.yml", "name: _My.App!\nservices:\n  s:\n    image: busybox\n")
    assert load(tmp_path, files=["c.yml"]).name == "myapp"


def test_profiles_anchors_and_extensions(tmp_path: Path) -> None:
    write(
        tmp_path,
        "compose.yaml",
        "x-base: &base\n  image: busybox\n  labels: {tier: base}\n"
        "services:\n  app:\n    <<: *base\n    x-note: ignored\n"
        "  debug:\n    <<: *base\n    profiles: [dev]\n  tools:\n    <<: *base\n    profiles: [ops]\n",
    )
    assert list(load(tmp_path).services) == ["app"]
    assert list(load(tmp_path, {"COMPOSE_PROFILES": "dev"}).services) == ["app", "debug"]
    p = load(tmp_path, profiles=["ops"])
    assert list(p.services) == ["app", "tools"]
    assert p.services["app"]["labels"] == {"tier": "base"} and "x-note" not in p.services["app"]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            "services:\n  web:\n    image: 3\n    ports: {a: b}\n",
            r"validating .*compose.yaml: services.web.ports",
        ),
        (
            "services:\n  web:\n    image: busybox\n    colour: red\n",
            r"services.web additional properties 'colour' not allowed",
        ),
        (
            "services:\n  web:\n    image: busybox\n    volumes_from: [db]\n",
            r"compose.yaml: services.web.volumes_from is not supported by Dockyard",
        ),
        (
            "services:\n  web:\n    image: busybox\n    deploy: {resources: {reservations: {memory: 1g}}}\n",
            r"services.web.deploy.resources.reservations is not supported",
        ),
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
            r"dependency cycle detected: a -> b -> a",
        ),
        (
            "services:\n  a:\n    image: busybox\n    depends_on: [ghost]\n",
            r"service 'a' depends on undefined service 'ghost'",
        ),
        (
            "services:\n  a:\n    image: busybox:${TAG:?tag please}\n",
            r"compose.yaml: error while interpolating services.a.image: required variable TAG is missing a value: tag please",
        ),
        (
            "services:\n  a:\n    image: busybox\n    volumes: ['data:/d']\n",
            r"service 'a' refers to undefined volume data",
        ),
        (
            "services:\n  a:\n    image: busybox\n    devices: ['nvidia.com/gpu=all']\n",
            r"compose.yaml: services.a.devices.0: 'nvidia.com/gpu=all': CDI devices are not",
        ),
        (
            "services:\n  a:\n    image: busybox\n    ipc: service:ghost\n",
            r"service 'a' uses ipc of undefined service 'ghost'",
        ),
        ("services:\n  a:\n    image: busybox\n   bad: indent\n", r"compose.yaml: yaml: line \d+"),
        (
            "services:\n  a:\n    image: busybox\n  a:\n    image: alpine\n",
            r'compose.yaml: yaml: line 4: mapping key "a" already defined at line 2',
        ),
        (
            "services:\n  a:\n    image: busybox\n    scale: -1\n",
            r"compose.yaml: services.a.scale: must be greater than or equal to 0",
        ),
        (
            "services:\n  a:\n    image: busybox\n    deploy: {replicas: -2}\n",
            r"compose.yaml: services.a.deploy.replicas: must be greater than or equal to 0",
        ),
        (
            "services:\n  a:\n    command: 'true'\n",
            r"service 'a' has neither an image nor a build context",
        ),
        (
            "services:\n  a:\n    build: {context: ., cache_from: ['type=local,src=c']}\n",
            r"compose.yaml: services.a.build.cache_from.0: type=local is not supported by",
        ),
        (
            "services:\n  a:\n    build: {context: ., cache_from: [app, 'ref=app']}\n",
            r'compose.yaml: services.a.build.cache_from.1: type required form> "ref=app"',
        ),
        (
            "services:\n  a:\n    build: https://example.com/app.git\n",
            r"compose.yaml: services.a.build.context: a remote build context is not supported",
        ),
        (
            "include:\n  - git@example.com:org/app.git\nservices: {}\n",
            r"compose.yaml: include.0: a remote include \(git@example.com:org/app.git\) is not",
        ),
        (
            "include:\n  - path: [oci://example.com/app:1]\nservices: {}\n",
            r"compose.yaml: include.0: a remote include \(oci://example.com/app:1\) is not",
        ),
        (
            "services:\n  a:\n    extends: {file: 'https://example.com/c.yaml', service: b}\n",
            r"compose.yaml: services.a.extends.file: a remote file \(https://example.com/c.yaml\)",
        ),
    ],
)
def test_bad_input_is_one_line_naming_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "compose.yaml", text)
    with pytest.raises(ComposeError, match=message) as e:
        load(tmp_path)
    assert "\n" not in str(e.value)


@pytest.mark.timeout(20)
def test_yaml_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 9)}]")
    write(
        tmp_path,
        "compose.yaml",
        "x-bomb:\n" + "\n".join("  " + x for x in lines) + "\nservices: {}\n",
    )
    start = time.monotonic()
    with pytest.raises(
        ComposeError, match="compose.yaml: yaml: document contains excessive aliasing"
    ):
        load(tmp_path)
    assert time.monotonic() - start < 10


def test_no_file(tmp_path: Path) -> None:
    with pytest.raises(ComposeError, match="no configuration file provided: not found"):
        load(tmp_path / "")


def test_config_command(tmp_path: Path) -> None:
    write(
        tmp_path,
        "docker-compose.yml",
        "services:\n  web:\n    image: busybox\n    ports: ['127.0.0.1:8080:80/udp']\n"
        "    volumes: ['data:/data', './site:/site:ro']\n    environment: {GREETING: '${G:-hi}'}\n"
        "volumes:\n  data:\n",
    )
    out = compose(tmp_path, "config", "--format", "json", env={"G": "hello"})
    assert out.returncode == 0, out.stderr
    cfg = json.loads(out.stdout)
    web = cfg["services"]["web"]
    assert web["environment"] == {"GREETING": "hello"}
    assert web["ports"] == [
        {
            "mode": "ingress",
            "host_ip": "127.0.0.1",
            "target": 80,
            "published": "8080",
            "protocol": "udp",
        }
    ]
    assert web["volumes"][1]["source"] == str(tmp_path / "site")
    assert cfg["volumes"]["data"]["name"] == f"{cfg['name']}_data"
    assert compose(tmp_path, "config", "--services").stdout == "web\n"
    assert compose(tmp_path, "config", "--volumes").stdout == "data\n"
    quiet = compose(tmp_path, "config", "-q")
    assert (quiet.returncode, quiet.stdout) == (0, "")
    assert "services:\n  web:\n" in compose(tmp_path, "config").stdout
    write(
        tmp_path,
        "docker-compose.yml",
        "services:\n  web:\n    image: busybox\n    privileged: maybe\n",
    )
    bad = compose(tmp_path, "config")
    assert bad.returncode == 1
    assert bad.stderr.strip() == (
        f"{tmp_path}/docker-compose.yml: services.web.privileged must be a boolean, not 'maybe'"
    )
    assert len(bad.stderr.strip().splitlines()) == 1


def test_extends_same_file_other_file_and_cycles(tmp_path: Path) -> None:
    write(tmp_path, "common/base.yml", "services:\n  base:\n    image: busybox\n    env_file: base.env\n    environment: {A: base, B: base}\n    volumes: ['./data:/data']\n")  # fmt: skip
    write(tmp_path, "common/base.env", "FROM_FILE=1\n")
    write(
        tmp_path,
        "compose.yaml",
        "services:\n  web:\n    extends: {file: common/base.yml, service: base}\n"
        "    environment: {B: web}\n  worker:\n    extends: web\n    command: work\n",
    )
    p = load(tmp_path)
    web, worker = p.services["web"], p.services["worker"]
    assert web["environment"] == {"FROM_FILE": "1", "A": "base", "B": "web"}
    assert web["volumes"][0]["source"] == str(tmp_path / "common" / "data")
    assert (worker["image"], worker["command"], worker["environment"]["B"]) == (
        "busybox",
        ["work"],
        "web",
    )
    write(tmp_path, "compose.yaml", "services:\n  a:\n    image: busybox\n    extends: b\n  b:\n    image: busybox\n    extends: a\n")  # fmt: skip
    with pytest.raises(ComposeError, match="circular reference with extends: a -> b -> a"):
        load(tmp_path)
    write(tmp_path, "compose.yaml", "services:\n  a:\n    extends: ghost\n")
    with pytest.raises(ComposeError, match="services.a.extends: cannot extend service 'ghost'"):
        load(tmp_path)


def test_include(tmp_path: Path) -> None:
    write(tmp_path, "db/compose.yaml", "services:\n  db:\n    image: busybox\n    volumes: ['./init:/init', 'data:/data']\nvolumes:\n  data:\n")  # fmt: skip
    write(tmp_path, "compose.yaml", "include: [db/compose.yaml]\nservices:\n  web:\n    image: busybox\n    depends_on: [db]\n")  # fmt: skip
    p = load(tmp_path)
    assert list(p.services) == ["db", "web"]
    assert p.services["db"]["volumes"][0]["source"] == str(tmp_path / "db" / "init")
    assert p.volumes["data"]["name"] == f"{p.name}_data"
    write(tmp_path, "compose.yaml", "include: [db/compose.yaml]\nservices:\n  db:\n    image: busybox\n")  # fmt: skip
    with pytest.raises(ComposeError, match=r"services.db conflicts with imported resource from .*db/compose.yaml"):  # fmt: skip
        load(tmp_path)


def test_schema_validation_is_remembered_only_for_valid_models(tmp_path: Path) -> None:
    """With a cache directory a model that passed the schema is remembered (one marker
    file) and not validated again; an invalid one is refused every time."""
    cache = tmp_path / "cache"
    project = tmp_path / "p"
    project.mkdir()
    write(project, "compose.yaml", "services:\n  web:\n    image: busybox\n    init: true\n")
    load(project, cache_dir=str(cache))
    (marker,) = cache.iterdir()
    load(project, cache_dir=str(cache))
    assert list(cache.iterdir()) == [marker]
    write(project, "compose.yaml", "services:\n  web:\n    image: busybox\n    init: [1]\n")
    for _ in range(2):
        with pytest.raises(ComposeError, match="services.web.init"):
            load(project, cache_dir=str(cache))
    assert list(cache.iterdir()) == [marker]


def test_loading_a_project_imports_nothing_heavy(tmp_path: Path) -> None:
    """Loading a project (with the remembered validation, as every compose command does)
    and the modules ``compose down`` runs import neither ``dataclasses`` (with
    ``inspect``) nor ``hashlib`` (OpenSSL): each cost every command milliseconds of CPU
    (bench/README.md, "Compose: up -d and down of 10 services")."""
    import sys

    project = tmp_path / "p"
    project.mkdir()
    write(project, "compose.yaml", "services:\n  web:\n    image: busybox\n")
    code = (
        "import sys\n"
        "from dockyard.compose import loader, operations\n"
        f"o = loader.Options(cwd={str(project)!r}, environ={{}}, cache_dir={str(tmp_path)!r})\n"
        "loader.load_project(o)\n"
        "print(sorted(set(sys.modules) & {'dataclasses', 'inspect', 'hashlib'}))\n"
    )
    runs = [
        subprocess.run(
            [sys.executable, "-S", "-c", code],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            timeout=60,
        )
        for _ in range(2)  # validated (jsonschema imports dataclasses), then remembered
    ]
    assert [(p.returncode, p.stderr) for p in runs] == [(0, "")] * 2
    assert runs[1].stdout == "[]\n"


@pytest.mark.parametrize(
    ("scale", "message"),
    [
        ("web", 'invalid --scale option "web". Should be SERVICE=NUM'),
        ("web=1=2", 'invalid --scale option "web=1=2". Should be SERVICE=NUM'),
        ("web=x", 'strconv.Atoi: parsing "x": invalid syntax'),
        ("web=-1", 'invalid --scale option "web=-1": must be greater than or equal to 0'),
    ],
)
def test_up_scale_option_refused_as_compose(tmp_path: Path, scale: str, message: str) -> None:
    """``up --scale`` with Compose v2's messages (cmd/compose/up.go applyScaleOpts); nothing
    is made (the engine root is the test's own, and stays empty)."""
    write(tmp_path, "compose.yaml", "services:\n  web:\n    image: busybox\n")
    env = {"DOCKYARD_ROOT": str(tmp_path / "root"), "DOCKYARD_RUNROOT": str(tmp_path / "run")}
    out = compose(tmp_path, "up", "-d", "--scale", scale, env=env)
    assert (out.returncode, out.stderr.strip()) == (1, message)
    assert not (tmp_path / "root").exists() or not any((tmp_path / "root").iterdir())


def test_local_build_context_outside_the_project_is_taken(tmp_path: Path) -> None:
    """As Compose v2 (compose-go resolves a local context wherever it is; only its remote
    loaders check paths): a context above the project directory, as a monorepo's
    ``context: ..``, is resolved, not refused. Remote files are refused above."""
    write(tmp_path, "app/Dockerfile", "FROM busybox\n")
    write(tmp_path, "deploy/compose.yaml", "services:\n  a:\n    build: ../app\n")
    p = load(tmp_path / "deploy")
    assert p.services["a"]["build"]["context"] == str(tmp_path / "app")
    with pytest.raises(ComposeError, match=r"^-f https://example.com/c.yaml: a remote compose"):
        load(tmp_path, files=["https://example.com/c.yaml"])


def test_build_context_a_symlink_leads_out_of_the_project_is_refused(tmp_path: Path) -> None:
    """The issue's bad input 'a build context outside the project that the user did not
    name': a context written inside the project (``./app``) that a symbolic link takes
    outside it would send a directory the file does not name; refused naming the file and
    key, nothing started. A link that stays inside the project is taken."""
    write(tmp_path, "elsewhere/Dockerfile", "FROM busybox\n")
    write(tmp_path, "proj/inner/Dockerfile", "FROM busybox\n")
    (tmp_path / "proj/app").symlink_to(tmp_path / "elsewhere")
    (tmp_path / "proj/ok").symlink_to("inner")
    write(tmp_path, "proj/compose.yaml", "services:\n  a:\n    build: ./app\n")
    with pytest.raises(ComposeError) as err:
        load(tmp_path / "proj")
    assert str(err.value) == (
        f"{tmp_path / 'proj/compose.yaml'}: services.a.build.context: ./app leads outside the "
        f"project directory through a symbolic link (to {tmp_path / 'elsewhere'}); name that "
        "directory itself to build it"
    )
    write(tmp_path, "proj/compose.yaml", "services:\n  a:\n    build: {context: ok}\n")
    assert load(tmp_path / "proj").services["a"]["build"]["context"] == str(tmp_path / "proj/inner")


@pytest.mark.parametrize(
    "args, want",
    [
        (
            ["compose", "-f", "a.yaml", "--file=b.yaml", "-p", "ci", "up", "-d"],
            ("up", {"file": ["a.yaml", "b.yaml"], "project_name": "ci"}, {"services": []}),
        ),
        (
            ["compose", "--profile", "x", "up", "web", "--detach", "db"],
            ("up", {"profile": ["x"]}, {"services": ["web", "db"]}),
        ),
        (
            ["compose", "--project-directory", "d", "down", "-v", "-t", "0", "--remove-orphans"],
            (
                "down",
                {"project_directory": "d"},
                {"volumes": True, "remove_orphans": True, "timeout": 0},
            ),
        ),
        (["compose", "down", "--timeout=3"], ("down", {}, {"timeout": 3})),
        # Left to click: its messages, or flags this path does not take.
        (["compose", "up"], None),
        (["compose", "up", "-d", "--build"], None),
        (["compose", "up", "-d", "-d"], None),
        (["compose", "up", "-d", "--", "web"], None),
        (["compose", "-p", "a", "-p", "b", "down"], None),
        (["compose", "-f", "-", "up", "-d"], None),
        (["compose", "-p"], None),
        (["compose", "--verbose", "down"], None),
        (["compose", "down", "--rmi", "local"], None),
        (["compose", "down", "-t", "-1"], None),
        (["compose", "down", "-t", "x"], None),
        (["compose", "down", "-t", "1", "-t", "2"], None),
        (["compose", "ps"], None),
        (["compose", "-h"], None),
        (["compose"], None),
        (["ps"], None),
    ],
)
def test_fast_compose_parse(args: list[str], want: tuple | None) -> None:
    """cli/fastcompose.py takes the plain forms of ``up -d`` and ``down`` only; the rest
    goes to click (None), which words the errors."""
    from dockyard.cli.fastcompose import parse

    got = parse(args)
    if want is None:
        assert got is None
        return
    assert got is not None
    command, opts, params = got
    defaults = {
        "file": [],
        "project_name": None,
        "project_directory": None,
        "env_file": [],
        "profile": [],
    }
    down = {"volumes": False, "remove_orphans": False, "timeout": None}
    assert (command, opts, params) == (
        want[0],
        {**defaults, **want[1]},
        {**(down if want[0] == "down" else {}), **want[2]},
    )
