"""Shared fixtures: a private engine root per test and a check that nothing leaked.

Tests run as root against the real kernel: namespaces, overlayfs, cgroups. Each test gets
its own ``DOCKYARD_ROOT`` and ``DOCKYARD_RUNROOT`` under pytest's tmp_path; after it, the
autouse ``no_leaks`` fixture fails the test if a mount under its directories, a cgroup of
this run (``dockyard-run-<pid>``, ``dockyard-run-<pid>-*`` and the ``dockyard`` ones below
them), a process it started, or an interface or nftables chain its engine made (marked
``dockyard <engine root>``) is still there. Other engines' and runs' cgroups are never
counted nor removed: a start there makes its cgroup empty before its process joins, and
removing it then failed that start. Each run has its own default bridge name and
subnet (``$DOCKYARD_BRIDGE``, ``$DOCKYARD_BIP``).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

PR_SET_CHILD_SUBREAPER = 36
BIN_DIR = Path(sys.executable).parent
DOCKYARD = str(BIN_DIR / "dockyard")

# Orphaned descendants (a container init whose parent exited) become pytest's children,
# so the leak check below sees them instead of losing them to PID 1.
ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

# A run started in the background by a shell without job control ignores SIGINT, and the
# commands the tests interrupt would inherit that: handled here, it is default after exec.
signal.signal(signal.SIGINT, signal.default_int_handler)


def _mount_points_under(prefix: str) -> list[str]:
    # The kernel escapes space, tab, newline and backslash in mountinfo as octal.
    unescape = re.compile(r"\\([0-7]{3})")
    with open("/proc/self/mountinfo") as f:
        points = [unescape.sub(lambda m: chr(int(m[1], 8)), line.split()[4]) for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix + "/")]


# Each test run gets its own default cgroup parent, so two runs on one machine do not see
# each other's containers as leaks; a bare ``dockyard`` is the default parent of an engine
# used by hand beside the run, never of this run's engines.
CGROUP_PARENT = f"dockyard-run-{os.getpid()}"


def _ours(name: str) -> bool:
    """Whether cgroup directory ``name`` is this run's: its parent or one named after it."""
    return name == CGROUP_PARENT or name.startswith(CGROUP_PARENT + "-")


def _dockyard_cgroups() -> set[str]:
    """This run's ``dockyard`` cgroups: those named ``dockyard-run-<pid>-*`` and those
    below its parent ``dockyard-run-<pid>`` (shared by its tests, so not counted itself).
    Another engine's (the default ``dockyard``, the docker-py suite's
    ``dockyard-dockerpy``) or run's are not entered: counting them made a test fail for a
    container another engine was starting, and the clean-up then removed its new, still
    empty cgroup, failing that start ("cannot write PID to .../cgroup.procs")."""
    found = set()
    for top in Path("/sys/fs/cgroup").iterdir():
        if not top.is_dir() or top.is_symlink():
            continue
        for dirpath, dirnames, _ in os.walk(top):
            inside = any(_ours(part) for part in dirpath.split("/"))
            for d in list(dirnames):
                if "dockyard" not in d:
                    continue  # the way down to a nested engine cgroup, or a container's
                if not inside and not _ours(d):
                    dirnames.remove(d)
                elif d != CGROUP_PARENT:
                    found.add(os.path.join(dirpath, d))
            if dirpath.count("/") > 12:
                dirnames.clear()
    return found


def _default_bridge() -> tuple[str, str]:
    """This run's default bridge name and gateway/prefix (``$DOCKYARD_BRIDGE``,
    ``$DOCKYARD_BIP``): a /24 of 10.0.0.0/8 picked from the PID that no host route covers,
    so concurrent runs and the host's own networks never collide."""
    import ipaddress

    out = subprocess.run(["ip", "-json", "route"], capture_output=True, text=True, check=False)
    import json

    routes = []
    for r in json.loads(out.stdout or "[]"):
        dst = r.get("dst", "")
        if dst and dst != "default":
            routes.append(ipaddress.ip_network(dst if "/" in dst else dst + "/32", strict=False))
    pid = os.getpid()
    for k in range(256):
        net = ipaddress.ip_network(f"10.{100 + (pid // 256 + k) % 150}.{pid % 256}.0/24")
        if not any(net.overlaps(r) for r in routes):
            return f"dyt{pid}", f"{net.network_address + 1}/24"
    raise RuntimeError("no free 10.x.y.0/24 for the test run's default bridge")


DEFAULT_BRIDGE, DEFAULT_BIP = _default_bridge()


def network_tag(root: str) -> str:
    """The alias/comment the engine rooted at ``root`` puts on its interfaces and chains."""
    return f"dockyard {root}"[:120]


def _network_leftovers(root: str) -> list[str]:
    """Interfaces (by alias) and nftables chains (by comment) the engine at ``root`` made."""
    tag = network_tag(root)
    found = []
    for name in os.listdir("/sys/class/net"):
        try:
            with open(f"/sys/class/net/{name}/ifalias") as f:
                if f.read().strip() == tag:
                    found.append(f"interface {name}")
        except OSError:
            continue
    # nft's JSON leaves chain comments out (nftables 1.0.6): the engine's text parser.
    from dockyard.network.linux import nft_chains

    found += [f"nft chain {c['name']}" for c in nft_chains() if c["comment"] == tag]
    # IPv6 networks' forward chains (table ip6 dockyard).
    found += [f"nft6 chain {c['name']}" for c in nft_chains("ip6") if c["comment"] == tag]
    return found


def _remove_default_bridge(name: str) -> None:
    subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
    for chain in ("fwd", "nat"):
        subprocess.run(
            ["nft", "delete", "chain", "ip", "dockyard", f"{chain}-{name}"],
            capture_output=True,
            check=False,
        )


def _dead_runs_bridges() -> set[str]:
    """Default bridges (``dyt<pid>``, links or chains) of test runs whose process is gone:
    what a killed run left."""
    names = set(os.listdir("/sys/class/net"))
    proc = subprocess.run(
        ["nft", "list", "table", "ip", "dockyard"], capture_output=True, text=True, check=False
    )
    names |= set(re.findall(r"chain (?:fwd|nat)-(dyt\d+) ", proc.stdout))
    return {
        n for n in names if re.fullmatch(r"dyt(\d+)", n) and not os.path.exists(f"/proc/{n[3:]}")
    }


def _remove_cgroup_tree(path: str) -> None:
    """rmdir ``path`` and the cgroups below it, deepest first; busy ones stay."""
    for sub, _, _ in sorted(os.walk(path), reverse=True):
        with contextlib.suppress(OSError):
            os.rmdir(sub)


def _remove_dead_runs_cgroups() -> None:
    """Remove the (empty) cgroups ``dockyard-run-<pid>[-*]`` of test runs whose process
    is gone, deepest first: what a killed run left. A cgroup still holding a process stays."""
    for top in Path("/sys/fs/cgroup").iterdir():
        if not top.is_dir() or top.is_symlink():
            continue
        for dirpath, dirnames, _ in os.walk(top):
            for d in list(dirnames):
                m = re.fullmatch(r"dockyard-run-(\d+)(?:-.*)?", d)
                if m and not os.path.exists(f"/proc/{m[1]}"):
                    _remove_cgroup_tree(os.path.join(dirpath, d))
                if m or dirpath.count("/") > 12:
                    dirnames.remove(d)


@pytest.fixture(autouse=True, scope="session")
def default_bridge_removed() -> Iterator[None]:
    """Remove this run's default bridge and its chains at the end (like docker0 it stays
    while the engine lives: alias ``dockyard default bridge``, outside the per-test check)
    and its default cgroup parent (kept too), and at the start those of earlier runs that
    were killed."""
    for name in _dead_runs_bridges():
        _remove_default_bridge(name)
    _remove_dead_runs_cgroups()
    yield
    _remove_default_bridge(DEFAULT_BRIDGE)
    # The engines' default cgroup parent, kept from run to run as dockerd keeps its own.
    for top in Path("/sys/fs/cgroup").iterdir():
        for dirpath, dirnames, _ in os.walk(top):
            if CGROUP_PARENT in dirnames:
                _remove_cgroup_tree(os.path.join(dirpath, CGROUP_PARENT))
                dirnames.remove(CGROUP_PARENT)
            if dirpath.count("/") > 12:
                dirnames.clear()


def _remove_network_leftovers(root: str) -> None:
    for what in _network_leftovers(root):
        kind, name = what.rsplit(" ", 1)
        if kind == "interface":
            subprocess.run(["ip", "link", "del", name], check=False)
        else:
            family = "ip6" if kind.startswith("nft6") else "ip"
            subprocess.run(["nft", "delete", "chain", family, "dockyard", name], check=False)


def _children() -> set[int]:
    me = str(os.getpid())
    kids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if fields[1] == me and fields[0] != "Z":
            kids.add(int(entry))
    return kids


@pytest.fixture(autouse=True)
def no_leaks(tmp_path: Path) -> Iterator[None]:
    """Fail a test that leaves mounts, dockyard cgroups or child processes behind."""
    cgroups_before = _dockyard_cgroups()
    kids_before = _children()
    yield
    # Reap zombies of finished children first; give exiting processes a moment.
    deadline = time.monotonic() + 3
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        leaks = []
        mounts = _mount_points_under(str(tmp_path))
        if mounts:
            leaks.append(f"mounts: {mounts}")
        cgroups = _dockyard_cgroups() - cgroups_before
        if cgroups:
            leaks.append(f"cgroups: {sorted(cgroups)}")
        kids = _children() - kids_before
        if kids:
            leaks.append(f"processes: {sorted(kids)}")
        network = _network_leftovers(str(tmp_path / "root"))
        if network:
            leaks.append(f"network: {network}")
        if not leaks or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if leaks:
        # Clean up so one leak does not fail every later test, then report it. Killing a
        # child (an attached `run`) hands its container to pytest, the subreaper: repeat.
        deadline = time.monotonic() + 5
        while (kids := _children() - kids_before) and time.monotonic() < deadline:
            for pid in kids:
                try:
                    os.kill(pid, 9)
                    os.waitpid(pid, 0)
                except OSError:
                    pass
        for m in sorted(_mount_points_under(str(tmp_path)), key=len, reverse=True):
            subprocess.run(["umount", "-l", m], check=False)
        _remove_network_leftovers(str(tmp_path / "root"))
        # A killed container's last processes may still be exiting: retry for a moment.
        while (cgs := _dockyard_cgroups() - cgroups_before) and time.monotonic() < deadline:
            for cg in cgs:
                _remove_cgroup_tree(cg)
            time.sleep(0.05)
        pytest.fail("test leaked " + "; ".join(leaks))


@pytest.fixture
def engine_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment variables pointing the engine at this test's private roots."""
    root = tmp_path / "root"
    runroot = tmp_path / "run"
    monkeypatch.setenv("DOCKYARD_ROOT", str(root))
    monkeypatch.setenv("DOCKYARD_RUNROOT", str(runroot))
    monkeypatch.setenv("DOCKYARD_CGROUP_PARENT", CGROUP_PARENT)
    monkeypatch.setenv("DOCKYARD_BRIDGE", DEFAULT_BRIDGE)
    monkeypatch.setenv("DOCKYARD_BIP", DEFAULT_BIP)
    return {
        "DOCKYARD_ROOT": str(root),
        "DOCKYARD_RUNROOT": str(runroot),
        "DOCKYARD_CGROUP_PARENT": CGROUP_PARENT,
        "DOCKYARD_BRIDGE": DEFAULT_BRIDGE,
        "DOCKYARD_BIP": DEFAULT_BIP,
    }


Runner = Callable[..., subprocess.CompletedProcess]


@pytest.fixture
def dy(engine_env: dict[str, str]) -> Runner:
    """Run the ``dockyard`` command with this test's engine root.

    ``dy("images", "-q")`` returns a CompletedProcess with text stdout/stderr; pass
    ``input=`` for stdin and ``check=True`` to require exit 0.
    """

    def run(
        *args: str,
        input: str | bytes | None = None,
        check: bool = False,
        timeout: float = 60,
        **kw: object,
    ) -> subprocess.CompletedProcess:
        text = not isinstance(input, bytes)
        proc = subprocess.run(
            [DOCKYARD, *args],
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
            env={**os.environ, **engine_env},
            **kw,  # type: ignore[arg-type]
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"dockyard {' '.join(args)} exited {proc.returncode}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
            )
        return proc

    return run


@pytest.fixture
def busybox(dy: Runner) -> str:
    """Bootstrap ``busybox:latest`` into this test's engine root; returns its name."""
    dy("bootstrap", "busybox", check=True)
    return "busybox"


# debian:bookworm as a `save` archive, made by the first test of the run that needs it.
_DEBIAN_ARCHIVE: list[Path] = []


@pytest.fixture
def debian(dy: Runner, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``debian:bookworm`` in this test's engine root; returns its name. The first test
    of the run bootstraps it (mmdebstrap, Debian's archive: a minute or two) and saves
    it; later ones load that archive (seconds)."""
    need("mmdebstrap")
    if _DEBIAN_ARCHIVE:
        dy("load", "-q", "-i", str(_DEBIAN_ARCHIVE[0]), check=True, timeout=300)
    else:
        dy("bootstrap", "debian:bookworm", check=True, timeout=600)
        archive = tmp_path_factory.mktemp("debian") / "debian-bookworm.tar"
        dy("save", "-o", str(archive), "debian:bookworm", check=True, timeout=300)
        _DEBIAN_ARCHIVE.append(archive)
    return "debian:bookworm"


def need(tool: str) -> str:
    """The path of a host tool the test needs; skips with the reason if absent."""
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (make deps installs it)")
    return path
