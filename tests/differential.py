"""Differential scenarios: short shell scripts written against the ``docker`` command line,
run once against Docker (recorded into the repository) and once against Dockyard, their
outputs normalised and compared (``tests/test_differential.py``).

Scenario files are ``tests/data/differential/*.sh``. Each scenario starts with a header
line ``### NAME`` (unique across files) and runs as ``/bin/sh`` with stderr merged into
stdout, in a fresh empty directory (for build contexts), ``docker`` on PATH being the engine
under test; when the script's last command fails, ``[exit N]`` is appended. Comment lines
right after the header may say:

- ``#: modern REASON``: Docker 20.10, the recorded engine, is older than today's Docker
  here; Dockyard must print today's output instead: the ``#= LINE`` lines that follow
  (normalised), or without them the docker CLI 28's output against the same daemon (for
  what the client prints: messages, exit codes), recorded beside the 20.10 client's.
- ``#: known REASON``: a known difference between Dockyard and Docker, not fixed; the
  test expects the outputs to differ (so it notices when they no longer do).

Outputs are compared after :func:`normalise`: IDs and digests become ``<idN>`` (the same
ID the same N), times and durations ``<time>``, the container's default hostname (its
short ID) like an ID, and Dockyard's own program name in messages becomes ``docker``.
Nothing else is rewritten: every other difference is a bug or a ``known`` one.

``python tests/differential.py record`` (``make record-differential``) starts a private
dockerd (Debian's ``docker.io`` 20.10, no host networking), loads Dockyard's busybox into
it (``dockyard save | docker load``, so IDs and contents are the same) and re-records
``tests/data/differential/docker-20.10.json`` (``python tests/differential.py record
DOCKER_HOST`` uses a running daemon that has that busybox instead).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data" / "differential"
RECORDED = DATA / "docker-20.10.json"
SCENARIO_TIMEOUT = 60.0
#: The docker CLI 28 (client only): today's client output for ``#: modern`` scenarios.
MODERN_CLI = "/usr/local/bin/docker"


@dataclass
class Scenario:
    """One scenario: its ``name``, source ``file`` and ``script``, and its directives."""

    name: str
    file: str
    script: str
    modern: str = ""
    modern_output: list[str] = field(default_factory=list)
    known: str = ""


def load_scenarios(directory: Path = DATA) -> list[Scenario]:
    """Every scenario of ``directory/*.sh``, in file then source order.

    Raises ValueError for a duplicate name or a directive it does not know.
    """
    found: list[Scenario] = []
    names: set[str] = set()
    for path in sorted(directory.glob("*.sh")):
        current: Scenario | None = None
        header = False
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if line.startswith("### "):
                name = line[4:].strip()
                if name in names:
                    raise ValueError(f"{path.name}:{lineno}: duplicate scenario {name!r}")
                names.add(name)
                current = Scenario(name, path.name, "")
                found.append(current)
                header = True
                continue
            if current is None:
                continue
            if header and line.startswith("#: "):
                kind, _, reason = line[3:].partition(" ")
                if kind not in ("modern", "known"):
                    raise ValueError(f"{path.name}:{lineno}: unknown directive {kind!r}")
                setattr(current, kind, reason.strip())
                continue
            if header and line.startswith("#="):
                current.modern_output.append(line[3:] if line.startswith("#= ") else "")
                continue
            header = header and line.startswith("#")
            current.script += line + "\n"
    for s in found:
        s.script = s.script.strip() + "\n"
    return found


_HEX64 = re.compile(r"(?:sha256:)?([0-9a-f]{64})")
_HEX12 = re.compile(r"(?<![0-9a-zA-Z])([0-9a-f]{12})(?![0-9a-zA-Z])")
_TIMES = [
    # RFC 3339 timestamps and Go's time.Time String().
    re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?: ?[+-]\d\d:?\d\d(?: [A-Z]+)?|Z)?"),
    re.compile(r"(?:About an?|Less than an?|\d+) (?:second|minute|hour|day|week|month|year)s? ago"),
    re.compile(r"Up (?:About an?|Less than an?|\d+) (?:second|minute|hour)s?"),
]
_PROG = [
    (re.compile(r"^dockyard: ", re.M), "docker: "),
    (re.compile(r"'dockyard "), "'docker "),
    (re.compile(r"^Usage:  dockyard ", re.M), "Usage:  docker "),
]


def normalise(text: str, dockyard: bool) -> str:
    """``text`` with what legitimately differs between two runs or engines replaced.

    IDs and digests (64 hex digits, with or without ``sha256:``, and their 12-digit short
    forms) become ``<idN>`` numbered by first appearance; timestamps and "N seconds ago"
    durations ``<time>``; with ``dockyard``, Dockyard's program name in its messages
    becomes ``docker``.
    """
    ids: dict[str, int] = {}

    def number(full: str) -> str:
        for known, n in ids.items():
            if known.startswith(full) or full.startswith(known):
                return f"<id{n}>"
        ids[full] = len(ids) + 1
        return f"<id{ids[full]}>"

    text = _HEX64.sub(lambda m: number(m.group(1)), text)
    text = _HEX12.sub(lambda m: number(m.group(1)), text)
    for pattern in _TIMES:
        text = pattern.sub("<time>", text)
    if dockyard:
        for pattern, repl in _PROG:
            text = pattern.sub(repl, text)
    return text


def run_scenario(scenario: Scenario, env: dict[str, str], workdir: Path) -> str:
    """Run ``scenario`` with ``env`` in a fresh directory under ``workdir``; its output.

    Raises subprocess.TimeoutExpired after SCENARIO_TIMEOUT seconds.
    """
    cwd = Path(tempfile.mkdtemp(prefix=scenario.name[:40] + ".", dir=workdir))
    try:
        proc = subprocess.run(
            ["/bin/sh", "-c", scenario.script],
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=SCENARIO_TIMEOUT,
        )
    finally:
        shutil.rmtree(cwd, ignore_errors=True)
    out = proc.stdout.decode(errors="replace")
    if proc.returncode:
        out += f"[exit {proc.returncode}]\n"
    return out


def cli_env(bindir: Path, docker: str, extra: dict[str, str]) -> dict[str, str]:
    """The environment a scenario runs in: ``docker`` (a symlink in ``bindir`` to the
    engine's client ``docker``) first on PATH, a private client config, ``extra``."""
    bindir.mkdir(parents=True, exist_ok=True)
    link = bindir / "docker"
    if not link.exists():
        link.symlink_to(docker)
    config = bindir / "config"
    config.mkdir(exist_ok=True)
    env = {
        "PATH": f"{bindir}:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(bindir),
        "DOCKER_CONFIG": str(config),
        "LANG": "C.UTF-8",
        "TZ": "UTC",
    }
    env.update(extra)
    return env


def _docker_cleanup(env: dict[str, str]) -> None:
    def sh(cmd: str) -> None:
        subprocess.run(["/bin/sh", "-c", cmd], env=env, capture_output=True, check=False)

    sh("docker ps -aq | xargs -r docker rm -f")
    sh("docker images --format '{{.Repository}}:{{.Tag}}' | grep -v -e '^busybox:latest$' -e '<none>' | xargs -r docker rmi -f; docker images -aq --filter dangling=true | xargs -r docker rmi -f")  # fmt: skip
    sh("docker volume ls -q | xargs -r docker volume rm -f")
    sh("docker network ls -q --filter type=custom | xargs -r docker network rm")


def _record_all(
    env: dict[str, str], modern_env: dict[str, str], work: Path
) -> dict[str, dict[str, str]]:
    """Each scenario's output with the 20.10 client (``env``) and, for a ``#: modern``
    scenario that builds nothing (the docker CLI 28 has no BuildKit here), with the docker
    CLI 28 (``modern_env``) against the same daemon."""
    outputs: dict[str, dict[str, str]] = {}
    for s in load_scenarios():
        runs = {"docker-20.10": env}
        if s.modern and not s.modern_output and os.path.exists(MODERN_CLI):
            runs["cli-28"] = modern_env
        outputs[s.name] = {}
        for key, e in runs.items():
            try:
                outputs[s.name][key] = run_scenario(s, e, work)
            except subprocess.TimeoutExpired:
                outputs[s.name][key] = "[timeout]\n"
            _docker_cleanup(env)
        print(f"{s.name}: {outputs[s.name]!r}", file=sys.stderr)
    return outputs


def record(dockyard: str, out: Path = RECORDED, host: str | None = None) -> None:
    """Run every scenario against Docker and write ``out``: against ``host`` (a
    ``DOCKER_HOST`` whose daemon has Dockyard's busybox loaded) if given, else a private
    dockerd started here (with Dockyard's busybox loaded into it) and stopped after."""
    work = Path(tempfile.mkdtemp(prefix="dockyard-record."))
    daemon = None
    log = None
    try:
        if host is None:
            sock = work / "docker.sock"
            host = f"unix://{sock}"
            log = open(work / "dockerd.log", "w")  # noqa: SIM115
            daemon = subprocess.Popen(
                ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none",
                 "--ip-forward=false", "--ip-masq=false", "--storage-driver", "overlay2",
                 "--data-root", str(work / "root"), "--exec-root", str(work / "exec"),
                 "--pidfile", str(work / "docker.pid"), "-H", host],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        env = cli_env(work / "bin", "/usr/bin/docker", {"DOCKER_HOST": host, "DOCKER_BUILDKIT": "1"})  # fmt: skip
        modern_env = cli_env(work / "bin28", MODERN_CLI, {"DOCKER_HOST": host})
        for _ in range(300):
            if subprocess.run(["docker", "version"], env=env, capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise SystemExit(f"dockerd did not start; see {work}/dockerd.log")
        if daemon is not None:
            dy_env = {**os.environ, "DOCKYARD_ROOT": str(work / "dy"), "DOCKYARD_RUNROOT": str(work / "dyrun")}  # fmt: skip
            dy_env.pop("DOCKER_HOST", None)
            subprocess.run([dockyard, "bootstrap", "busybox"], env=dy_env, check=True)
            save = subprocess.Popen([dockyard, "save", "busybox"], env=dy_env, stdout=subprocess.PIPE)  # fmt: skip
            subprocess.run(["docker", "load"], env=env, stdin=save.stdout, check=True)
            save.wait()
            subprocess.run([dockyard, "rmi", "-f", "busybox"], env=dy_env, capture_output=True)
        version = subprocess.run(
            ["docker", "version", "--format", "{{.Server.Version}}"],
            env=env, capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        outputs = _record_all(env, modern_env, work)
        meta = {
            "docker-20.10": f"dockerd {version} (Debian docker.io) and its client, DOCKER_BUILDKIT=1",  # fmt: skip
            "cli-28": "the docker CLI 28 (client only) against the same dockerd, API 1.41",
        }
        out.write_text(json.dumps({"_meta": meta, **outputs}, indent=1, sort_keys=True) + "\n")
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(30)
            subprocess.run(["umount", "-R", "-l", str(work / "root")], capture_output=True)
        if log is not None:
            log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["record"] or len(sys.argv) > 3:
        raise SystemExit("usage: python tests/differential.py record [DOCKER_HOST]")
    record(str(Path(sys.executable).parent / "dockyard"), host=(sys.argv[2:] or [None])[0])
