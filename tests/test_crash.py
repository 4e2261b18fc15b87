"""Crash safety (issue 14): kill -9 of every mutating command at random points, and of
a detached container's monitor.

Each killing test runs one command again and again, killing it (the CLI alone, or its
whole process group) at a random moment within its normal duration, and checks after
each kill: every container, image, volume and network listed is usable or removable
with ordinary commands, and after ``system prune`` (whose last step is the garbage
collector) nothing of it is left on disk, in mounts, in cgroups or among interfaces.
The number of kills per command is ``$DOCKYARD_CRASH_KILLS`` (default 1, CI's count,
the mode alternating between commands; e.g. 20 for a thorough run, half in each mode);
the seed is ``$DOCKYARD_CRASH_SEED`` (default: random, printed).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import CGROUP_PARENT, DOCKYARD, Runner, _mount_points_under, network_tag

KILLS = int(os.environ.get("DOCKYARD_CRASH_KILLS", "1"))
SEED = int(os.environ.get("DOCKYARD_CRASH_SEED", str(random.randrange(1 << 30))))
MODES = ("cli", "group")
ID_LEN = 64


def _reap() -> None:
    """Reap the zombies of killed commands and of containers handed to pytest (the
    subreaper) when their parent died."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _kill_at(argv: list[str], env: dict[str, str], delay: float, mode: str, cwd: str) -> int:
    """Start ``dockyard argv``, SIGKILL it (``mode`` cli: the CLI alone; group: its
    process group) after ``delay`` seconds unless it ended first; returns its status."""
    proc = subprocess.Popen(
        [DOCKYARD, *argv],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        if mode == "group":
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
        proc.wait()
    return proc.returncode


def _lines(dy: Runner, *args: str) -> list[str]:
    return dy(*args, check=True).stdout.split()


def _check_usable_or_removable(dy: Runner, keep_image: str) -> None:
    """What a killed command left is usable or removable with ordinary commands."""
    for cid in _lines(dy, "ps", "-aq", "--no-trunc"):
        p = dy("rm", "-f", "-v", cid)
        assert p.returncode == 0 or "No such container" in p.stderr, p.stderr
    assert _lines(dy, "ps", "-aq") == []
    dy("run", "--rm", keep_image, "true", check=True)
    keep = dy("image", "inspect", "-f", "{{.Id}}", keep_image, check=True).stdout.strip()
    for image in _lines(dy, "images", "-aq", "--no-trunc"):
        if image != keep:
            p = dy("rmi", "-f", image)
            assert p.returncode == 0 or "No such image" in p.stderr, p.stderr
    for volume in _lines(dy, "volume", "ls", "-q"):
        dy("volume", "rm", "-f", volume, check=True)
    for net in _lines(dy, "network", "ls", "-q", "--filter", "type=custom"):
        dy("network", "rm", net, check=True)


def _assert_clean(dy: Runner, env: dict[str, str], tmp_path: Path, keep_image: str) -> None:
    """After the collector: nothing but ``keep_image`` and the engine's own files."""
    p = dy("system", "prune", "-f")  # its last step is the garbage collector
    assert p.returncode == 0, p.stdout + p.stderr
    after = dy("system", "check")
    assert after.returncode == 0, "left after repair:\n" + after.stdout
    root, runroot = Path(env["DOCKYARD_ROOT"]), Path(env["DOCKYARD_RUNROOT"])
    image = dy("image", "inspect", "-f", "{{json .RootFS.Layers}}", keep_image, check=True)
    layers = {d.removeprefix("sha256:") for d in __import__("json").loads(image.stdout)}
    assert set(os.listdir(root / "layers")) <= layers | {"empty"}
    assert len(os.listdir(root / "blobs" / "sha256")) == len(layers) + 2  # + config, manifest
    for d in ("containers", "tmp"):
        if (root / d).exists():
            assert not os.listdir(root / d), d
    for d in ("runtime", "netns"):  # the runtime's own files start with "."
        if (runroot / d).exists():
            assert not [n for n in os.listdir(runroot / d) if not n.startswith(".")], d
    assert not list(runroot.glob("*.attach"))
    assert _mount_points_under(str(tmp_path)) == []
    from dockyard.runtime import cgroups

    left = [
        name
        for parent in cgroups.load(CGROUP_PARENT).paths.values()
        if os.path.isdir(parent)
        for name in os.listdir(parent)
        if len(name) == ID_LEN
    ]
    assert left == []
    tag = network_tag(env["DOCKYARD_ROOT"])
    deadline = time.monotonic() + 3  # the kernel deletes veths in the background
    while True:
        ours = []
        for name in os.listdir("/sys/class/net"):
            try:
                alias = Path(f"/sys/class/net/{name}/ifalias").read_text().strip()
            except OSError:
                continue
            if alias == tag:
                ours.append(name)
        if not ours or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert ours == []


def _busybox_tar(path: Path) -> Path:
    """A small root filesystem tarball (busybox and a few files) for ``import``."""
    import shutil

    tree = path / "tree"
    (tree / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", tree / "bin" / "busybox")
    os.symlink("busybox", tree / "bin" / "sh")
    for i in range(50):
        (tree / f"f{i}").write_text("x" * 1000)
    tar = path / "rootfs.tar"
    with tarfile.open(tar, "w") as t:
        t.add(tree, arcname=".")
    return tar


# One scenario per mutating command: the setup run before each kill returns the argv.
class Scenario:
    """What one killing test needs: ``work`` (its scratch directory), ``registry`` (a
    ``host:port``, for pull and push), and ``argv(dy, i)`` of the scenario's command."""

    def __init__(self, work: Path, registry: str = "") -> None:
        self.work = work
        self.registry = registry

    def rootfs_tar(self) -> Path:
        tar = self.work / "rootfs.tar"
        if not tar.exists():
            _busybox_tar(self.work)
        return tar


Setup = Callable[[Runner, Scenario, int], list[str]]


def _run(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["run", "--name", f"r{i}", "busybox", "sh", "-c", "echo hi"]


def _run_rm(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["run", "--rm", "-v", "/anon", "busybox", "true"]


def _run_d(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["run", "-d", "--name", f"d{i}", "busybox", "sleep", "30"]


def _create(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["create", "--name", f"c{i}", "-v", "/anon", "busybox", "true"]


def _start(dy: Runner, s: Scenario, i: int) -> list[str]:
    dy("create", "--name", f"s{i}", "busybox", "sleep", "30", check=True)
    return ["start", f"s{i}"]


def _build(dy: Runner, s: Scenario, i: int) -> list[str]:
    ctx = s.work / "ctx"
    if not ctx.exists():
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            "FROM busybox\nRUN echo one > /one\nCOPY data /data\nRUN cat /one /data > /both\n"
        )
        (ctx / "data").write_text("data\n" * 1000)
    return ["build", "--no-cache", "-t", f"built:{i}", str(ctx)]


def _import(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["import", str(s.rootfs_tar()), f"imp:{i}"]


def _rmi(dy: Runner, s: Scenario, i: int) -> list[str]:
    dy(*_import(dy, s, i), check=True)
    return ["rmi", f"imp:{i}"]


def _commit(dy: Runner, s: Scenario, i: int) -> list[str]:
    dy("run", "--name", f"cm{i}", "busybox", "sh", "-c", "echo changed > /f", check=True)
    return ["commit", f"cm{i}", f"committed:{i}"]


def _load(dy: Runner, s: Scenario, i: int) -> list[str]:
    saved = s.work / "saved.tar"
    if not saved.exists():
        dy(*_import(dy, s, 0), check=True)
        dy("save", "-o", str(saved), "imp:0", check=True)
        dy("rmi", "imp:0", check=True)
    return ["load", "-i", str(saved)]


def _pull(dy: Runner, s: Scenario, i: int) -> list[str]:
    name = f"{s.registry}/crash/pulled:latest"
    if not (s.work / "pushed").exists():
        dy(*_import(dy, s, 0), check=True)
        dy("tag", "imp:0", name, check=True)
        dy("push", name, check=True)
        dy("rmi", "imp:0", name, check=True)
        (s.work / "pushed").touch()
    return ["pull", name]


def _push(dy: Runner, s: Scenario, i: int) -> list[str]:
    name = f"{s.registry}/crash/pushed{i}:latest"
    dy("import", str(s.rootfs_tar()), name, check=True)
    return ["push", name]


def _volume_rm(dy: Runner, s: Scenario, i: int) -> list[str]:
    dy("volume", "create", f"v{i}", check=True)
    dy("run", "--rm", "-v", f"v{i}:/d", "busybox", "sh", "-c", "mkdir -p /d/a/b; echo x > /d/a/b/f",
       check=True)  # fmt: skip
    return ["volume", "rm", f"v{i}"]


def _network_create(dy: Runner, s: Scenario, i: int) -> list[str]:
    return ["network", "create", f"n{i}"]


def _network_rm(dy: Runner, s: Scenario, i: int) -> list[str]:
    dy("network", "create", f"m{i}", check=True)
    return ["network", "rm", f"m{i}"]


SCENARIOS: dict[str, Setup] = {
    "run": _run,
    "run --rm": _run_rm,
    "run -d": _run_d,
    "create": _create,
    "start": _start,
    "build": _build,
    "import": _import,
    "rmi": _rmi,
    "commit": _commit,
    "load": _load,
    "pull": _pull,
    "push": _push,
    "volume rm": _volume_rm,
    "network create": _network_create,
    "network rm": _network_rm,
}


@pytest.fixture(scope="module")
def crash_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A local registry (Debian's docker-registry) for the pull and push scenarios."""
    from registry_peer import Registry

    reg = Registry(tmp_path_factory.mktemp("registry"))
    yield reg.host
    reg.stop()


LOCAL = [n for n in SCENARIOS if n not in ("pull", "push")]


@pytest.mark.slow
@pytest.mark.timeout(180 + 40 * KILLS)
@pytest.mark.parametrize("name", LOCAL)
def test_kill_9_at_random_points(
    name: str, dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """kill -9 of ``name`` at random points leaves only what ordinary commands and the
    collector remove, and the image it started from usable."""
    _kill_many(name, dy, busybox, engine_env, tmp_path, "")


@pytest.mark.slow
@pytest.mark.timeout(180 + 40 * KILLS)
@pytest.mark.parametrize("name", ["pull", "push"])
def test_kill_9_of_registry_commands(
    name: str,
    crash_registry: str,
    dy: Runner,
    busybox: str,
    engine_env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same for ``pull`` and ``push``, with a local registry."""
    from registry_peer import registry_env

    registry_env(monkeypatch, tmp_path)
    _kill_many(name, dy, busybox, engine_env, tmp_path, crash_registry)


def _kill_many(
    name: str, dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path, registry: str
) -> None:
    rng = random.Random(f"{SEED}-{name}")
    setup = SCENARIOS[name]
    work = tmp_path / "work"
    work.mkdir()
    scenario = Scenario(work, registry)
    env = {**os.environ, **engine_env}
    # The command's normal duration (the faster of two runs) bounds the kill times.
    duration = float("inf")
    for i in (1000, 1001):
        argv = setup(dy, scenario, i)
        began = time.monotonic()
        p = subprocess.run([DOCKYARD, *argv], env=env, cwd=work, capture_output=True, text=True)
        duration = min(duration, time.monotonic() - began)
        assert p.returncode == 0, p.stderr
        _check_usable_or_removable(dy, busybox)
    _assert_clean(dy, engine_env, tmp_path, busybox)
    killed = 0
    offset = list(SCENARIOS).index(name)  # CI's single kill alternates modes by scenario
    for i in range(KILLS):
        mode = MODES[(i + offset) % len(MODES)]
        argv = setup(dy, scenario, i)
        # Mostly past the interpreter's start-up, where the command does its work.
        delay = duration * rng.choice([rng.uniform(0.0, 0.3), rng.uniform(0.3, 1.05)])
        status = _kill_at(argv, env, delay, mode, str(work))
        killed += status == -signal.SIGKILL
        _reap()
        where = f"seed {SEED}, kill {i} ({mode}) of {' '.join(argv)} after {delay:.3f} s"
        try:
            _check_usable_or_removable(dy, busybox)
            _assert_clean(dy, engine_env, tmp_path, busybox)
        except AssertionError as e:
            raise AssertionError(f"{where}: {e}") from None
        _reap()
    print(f"{name}: {killed} of {KILLS} runs killed (seed {SEED})")


# -- a dead monitor ---------------------------------------------------------------------


def _monitor_pid(runroot: str, cid: str) -> int:
    """The process holding the container's start lock: its monitor."""
    inode = os.stat(Path(runroot) / f"{cid}.lock").st_ino
    return next(
        int(line.split()[4])
        for line in Path("/proc/locks").read_text().splitlines()
        if line.split()[5].endswith(f":{inode}")
    )


def _state(dy: Runner, ref: str) -> str:
    return dy(
        "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", ref, check=True
    ).stdout.strip()


@pytest.mark.parametrize("policy", ["always", "unless-stopped", "on-failure"])
def test_dead_monitor_restarted_by_policy(
    policy: str, dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """kill -9 of the monitor: the next command kills PID 1 (137, as containerd reports
    a task whose shim died) and restarts the container under a new monitor, as Docker
    restarts a container whose shim died; output is logged again."""
    runroot = engine_env["DOCKYARD_RUNROOT"]
    cid = dy("run", "-d", "--restart", policy, busybox, "sh", "-c", "echo up; sleep 300",
             check=True).stdout.strip()  # fmt: skip
    monitor = _monitor_pid(runroot, cid)
    pid1 = int(dy("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout)
    os.kill(monitor, signal.SIGKILL)
    assert _state(dy, cid) == "running 0 1"
    new_monitor = _monitor_pid(runroot, cid)
    assert new_monitor != monitor
    _reap()
    assert not Path(f"/proc/{pid1}").exists()  # killed, not left unsupervised
    deadline = time.monotonic() + 10
    while dy("logs", cid, check=True).stdout != "up\nup\n" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert dy("logs", cid, check=True).stdout == "up\nup\n"
    dy("rm", "-f", cid, check=True)
    assert not Path(runroot, f"{cid}.attach").exists()


def test_dead_monitor_without_policy(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """No restart policy: the next command records the exit (137: PID 1 killed) and
    leaves nothing of the run: no process, mount, namespace or attach socket."""
    runroot = Path(engine_env["DOCKYARD_RUNROOT"])
    cid = dy("run", "-d", busybox, "sleep", "300", check=True).stdout.strip()
    pid1 = int(dy("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout)
    os.kill(_monitor_pid(str(runroot), cid), signal.SIGKILL)
    assert "Exited (137)" in dy("ps", "-a", check=True).stdout
    _reap()
    assert not Path(f"/proc/{pid1}").exists()
    assert not (runroot / f"{cid}.attach").exists()
    assert not (runroot / "netns" / cid).exists()
    assert not (runroot / "runtime" / cid).exists()
    assert dy("system", "check", check=True).stdout.startswith("0 found")
    dy("start", cid, check=True)  # usable again
    assert _state(dy, cid) == "running 0 0"
    dy("rm", "-f", cid, check=True)


def test_dead_monitor_of_rm_container(dy: Runner, busybox: str, engine_env: dict[str, str]) -> None:
    """``-d --rm``: the container goes with its lost exit, anonymous volumes too."""
    runroot = engine_env["DOCKYARD_RUNROOT"]
    cid = dy("run", "-d", "--rm", "-v", "/data", busybox, "sleep", "300", check=True).stdout.strip()
    assert len(_lines(dy, "volume", "ls", "-q")) == 1
    os.kill(_monitor_pid(runroot, cid), signal.SIGKILL)
    assert _lines(dy, "ps", "-aq") == []
    assert _lines(dy, "volume", "ls", "-q") == []
    _reap()
    assert dy("system", "check", check=True).stdout.startswith("0 found")


def test_dead_monitor_of_exited_container_is_255(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """A monitor killed after PID 1 exited on its own (nothing left to kill): the exit
    itself was lost, 255 as Docker reports it."""
    runroot = engine_env["DOCKYARD_RUNROOT"]
    cid = dy("run", "-d", busybox, "sleep", "300", check=True).stdout.strip()
    monitor = _monitor_pid(runroot, cid)
    pid1 = int(dy("inspect", "-f", "{{.State.Pid}}", cid, check=True).stdout)
    os.kill(monitor, signal.SIGSTOP)  # so that it cannot see the exit
    try:
        os.kill(pid1, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while Path(f"/proc/{pid1}").exists() and time.monotonic() < deadline:
            _reap()
            time.sleep(0.02)
    finally:
        os.kill(monitor, signal.SIGKILL)
    assert _state(dy, cid) == "exited 255 0"
    dy("rm", cid, check=True)


def test_rmi_killed_after_its_records_went(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """``rmi`` removes the image's rows first and its files after: a kill between
    leaves the image gone and its layer unreferenced, which the collector removes;
    nothing is listed that cannot be used."""
    import sqlite3

    _busybox_tar(tmp_path)
    dy("import", str(tmp_path / "rootfs.tar"), "victim", check=True)
    image = dy("image", "inspect", "-f", "{{.Id}}", "victim", check=True).stdout.strip()
    # What a kill right after rmi's transaction leaves: no rows, every file.
    db = sqlite3.connect(Path(engine_env["DOCKYARD_ROOT"]) / "state.db")
    with db:
        db.execute("DELETE FROM tags WHERE image_id = ?", (image,))
        db.execute("DELETE FROM images WHERE id = ?", (image,))
    db.close()
    assert "victim" not in dy("images", check=True).stdout
    found = dy("system", "check").stdout
    assert "layer" in found and "blob" in found
    dy("system", "check", "--repair", check=True)
    _assert_clean(dy, engine_env, tmp_path, busybox)


# A `volume rm` stopped just before or just after renaming the volume's directory aside.
_STOPPED_VOLUME_RM = """
import os, sys, time
from dockyard.engine import Engine, gc
from dockyard.paths import Paths

paths = Paths.from_env()
gc.register_command(paths)  # as the CLI does
volumes = Engine(paths).containers.volumes
rename = os.rename

def paused(src, dst, *args, **kw):
    aside = os.path.basename(dst).startswith(".removing-")
    if aside and sys.argv[1] == "before":
        print("paused", flush=True)
        time.sleep(300)
    rename(src, dst, *args, **kw)
    if aside:
        print("paused", flush=True)
        time.sleep(300)

os.rename = paused
volumes.remove("vol")
"""


@pytest.mark.parametrize("point", ["before", "after"])
def test_volume_rm_killed_around_its_rename(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path, point: str
) -> None:
    """A ``volume rm`` killed before or after renaming the directory aside leaves the
    old state (listed, with its data) or the new one (gone, its files collected, a new
    volume of that name empty); before, a kill after the rename left the volume listed
    while the collector deleted its renamed data."""
    import sys

    dy("run", "--rm", "-v", "vol:/d", busybox, "sh", "-c", "echo kept > /d/f", check=True)
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_VOLUME_RM, point],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "paused\n"
    proc.kill()
    proc.wait()
    proc.stdout.close()
    dy("system", "check", "--repair", check=True)
    volumes = Path(engine_env["DOCKYARD_ROOT"]) / "volumes"
    if _lines(dy, "volume", "ls", "-q") == ["vol"]:
        out = dy("run", "--rm", "-v", "vol:/d", busybox, "cat", "/d/f")
        assert out.stdout == "kept\n", out.stderr
    else:
        assert os.listdir(volumes) == []
        out = dy("run", "--rm", "-v", "vol:/d", busybox, "ls", "-A", "/d", check=True)
        assert out.stdout == ""
    dy("volume", "rm", "vol", check=True)
    assert os.listdir(volumes) == []
    _assert_clean(dy, engine_env, tmp_path, busybox)


# A `run` stopped where the issue found PID 1 blocked on exec.fifo forever: after the
# runtime's create (mount, netns, veth, cgroup, PID 1 waiting), before its start.
_STOPPED_RUN = """
import os, time
from dockyard.container.options import CreateOptions
from dockyard.engine import Engine, gc
from dockyard.paths import Paths
from dockyard.runtime.linux import LinuxRuntime

OUT = os.fdopen(os.dup(1), "w")  # fds 0-2 are the container's during the create
paths = Paths.from_env()
gc.register_command(paths)  # as the CLI does
manager = Engine(paths).containers
c = manager.create(CreateOptions(image="busybox", command=["true"], name="half"), keep_lock=True)

create = LinuxRuntime.create

def created(self, container_id, bundle, **kw):
    create(self, container_id, bundle, **kw)
    print(self.state(container_id)["pid"], file=OUT, flush=True)
    time.sleep(300)

LinuxRuntime.create = created
manager.run_attached(c)
"""


def test_run_killed_before_start(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """The next command removes a container whose ``run`` was killed between the
    runtime's create and start, and kills its PID 1 (blocked on exec.fifo), with its
    mount, namespace, veth and cgroup."""
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-c", _STOPPED_RUN],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    pid1 = int(proc.stdout.readline())
    assert Path(f"/proc/{pid1}").exists()
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert _lines(dy, "ps", "-aq") == []  # its recovery removed it
    _reap()
    assert not Path(f"/proc/{pid1}").exists()
    _assert_clean(dy, engine_env, tmp_path, busybox)


def test_rm_f_of_a_start_killed_half_way(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """``rm -f`` of a container whose start was killed after the runtime's create
    kills its PID 1 and removes its runtime state and cgroup too (it returned 0 and
    left them)."""
    import sys

    script = _STOPPED_RUN.replace("gc.register_command(paths)", "").replace(
        "keep_lock=True", "keep_lock=False"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    pid1 = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert _state(dy, "half") == "created 0 0"  # kept: only its start died
    dy("rm", "-f", "half", check=True)
    _reap()
    assert not Path(f"/proc/{pid1}").exists()
    runtime = Path(engine_env["DOCKYARD_RUNROOT"]) / "runtime"
    assert [n for n in os.listdir(runtime) if not n.startswith(".")] == []
    assert dy("system", "check").stdout.startswith("0 found")
    _assert_clean(dy, engine_env, tmp_path, busybox)


def test_service_takes_over_dead_monitors(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """The API service runs no command per request: its own watch takes over a
    container whose monitor died within about a second (restarted by its policy here),
    with no CLI command in between."""
    import sqlite3

    from api_service import running_service

    runroot = engine_env["DOCKYARD_RUNROOT"]
    cid = dy("run", "-d", "--restart", "always", busybox, "sleep", "300", check=True).stdout.strip()
    with running_service(engine_env, str(tmp_path / "api.sock")):
        os.kill(_monitor_pid(runroot, cid), signal.SIGKILL)
        db = sqlite3.connect(Path(engine_env["DOCKYARD_ROOT"]) / "state.db")
        deadline = time.monotonic() + 10
        count = 0
        while count != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            (count,) = db.execute(
                "SELECT json_extract(state, '$.RestartCount') FROM containers WHERE id = ?",
                (cid,),
            ).fetchone()
        db.close()
        assert count == 1
        assert _state(dy, cid) == "running 0 1"
    dy("rm", "-f", cid, check=True)


def test_run_killed_inside_the_runtimes_create(
    dy: Runner, busybox: str, engine_env: dict[str, str], tmp_path: Path
) -> None:
    """Killed inside the runtime's create, after PID 1 was forked and before the state
    was written (a state directory without state.json, a cgroup): the next command
    removes it all."""
    import sys

    script = _STOPPED_RUN.replace(
        """create = LinuxRuntime.create

def created(self, container_id, bundle, **kw):
    create(self, container_id, bundle, **kw)
    print(self.state(container_id)["pid"], file=OUT, flush=True)
    time.sleep(300)

LinuxRuntime.create = created""",
        """ready = LinuxRuntime._await_ready

def await_ready(self, *args):
    pid1 = ready(self, *args)
    print(pid1, file=OUT, flush=True)
    time.sleep(300)

LinuxRuntime._await_ready = await_ready""",
    )
    assert "await_ready" in script
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, **engine_env},
    )
    assert proc.stdout is not None
    pid1 = int(proc.stdout.readline())
    proc.kill()
    proc.wait()
    proc.stdout.close()
    assert _lines(dy, "ps", "-aq") == []
    _reap()
    assert not Path(f"/proc/{pid1}").exists()
    _assert_clean(dy, engine_env, tmp_path, busybox)


def test_system_prune_takes_over_first(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """``system prune`` counts a container whose monitor died as the stopped container
    it is (taken over first), and removes it in the same run."""
    cid = dy("run", "-d", busybox, "sleep", "300", check=True).stdout.strip()
    os.kill(_monitor_pid(engine_env["DOCKYARD_RUNROOT"], cid), signal.SIGKILL)
    out = dy("system", "prune", "-f", check=True).stdout
    assert cid in out
    assert _lines(dy, "ps", "-aq") == []
    _reap()


def test_rmi_of_a_built_image_leaves_nothing_to_check(
    dy: Runner, busybox: str, tmp_path: Path
) -> None:
    """An ordinary build then ``rmi``: no build cache entry is left naming the removed
    images, so ``system check`` finds nothing (it reported orphaned ``build_cache`` rows)."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo x > /x\nEXPOSE 80\n")
    dy("build", "-q", "-t", "built", str(ctx), check=True)
    dy("rmi", "built", check=True)
    assert dy("system", "check", check=True).stdout.startswith("0 found")
