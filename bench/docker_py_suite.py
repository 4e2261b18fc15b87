"""The docker-py 7.2.0 integration suite against Dockyard's Engine API service: the
scoreboard of issue 11 (``make docker-py-suite``, as root).

What it sets up, all in a temporary directory and on loopback:
- a registry (Debian's ``docker-registry``) acting as Docker Hub's mirror (daemon.json
  ``registry-mirrors``), holding stand-ins of the images the suite pulls, built from
  Debian's busybox-static: ``alpine:3.10`` and ``alpine:latest`` (busybox with an
  Alpine-like /etc/passwd and /etc/group, including ``postgres``, and Alpine's
  directories such as /var/opt), ``busybox:latest`` and ``busybox:buildroot-2014.02``,
  and ``hello-world`` (a static ``/hello`` printing "Hello from Docker!");
- an engine root with nothing in it, and ``dockyard system service`` on a unix socket.

Then it runs the suite's tests/integration (vendored as
tests/data/docker-py-7.2.0-tests.tar.gz) outside the swarm, service, secret, config,
plugin, node and credentials files, with ``DOCKER_TEST_API_VERSION=1.41``, and prints the
pass count and the reason of each failure (its exception's last line), grouped.
Usage: python bench/docker_py_suite.py [PYTEST ARGS...]
"""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARCHIVE = HERE.parent / "tests" / "data" / "docker-py-7.2.0-tests.tar.gz"
DOCKYARD = str(Path(sys.executable).parent / "dockyard")
EXCLUDED = (
    "api_swarm_test.py",
    "models_swarm_test.py",
    "api_service_test.py",
    "models_services_test.py",
    "api_secret_test.py",
    "api_config_test.py",
    "api_plugin_test.py",
    "models_nodes_test.py",
    "credentials",
)

PASSWD = """root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/mail:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
postgres:x:70:70::/var/lib/postgresql:/bin/sh
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""

GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
postgres:x:70:
cdrw:x:80:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
locate:x:245:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""

HELLO_C = r"""
#include <unistd.h>
int main(void) {
    static const char msg[] = "\nHello from Docker!\nThis message shows that your installation appears to be working correctly.\n\n";
    write(1, msg, sizeof msg - 1);
    return 0;
}
"""


def run(
    *args: str, env: dict[str, str], check: bool = True, **kw: object
) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), env=env, check=check, **kw)  # type: ignore[call-overload]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def busybox_rootfs(root: Path, alpine: bool) -> None:
    """A root filesystem of Debian's busybox-static: /bin/busybox and its applets."""
    for d in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "etc",
        "tmp",
        "root",
        "var/opt",
        "var/tmp",
        "var/lib",
        "var/log",
        "home",
        "mnt",
        "opt",
        "srv",
        "proc",
        "sys",
        "dev",
        "run",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2("/bin/busybox", root / "bin" / "busybox")
    applets = subprocess.run(
        ["/bin/busybox", "--list-full"], capture_output=True, text=True, check=True
    ).stdout.split()
    for applet in applets:
        target = root / applet
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to("/bin/busybox")
    (root / "etc" / "passwd").write_text(
        PASSWD
        if alpine
        else "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
    )
    (root / "etc" / "group").write_text(GROUP if alpine else "root:x:0:\nnogroup:x:65534:\n")
    if alpine:
        (root / "etc" / "alpine-release").write_text("3.10.9\n")
        (root / "etc" / "os-release").write_text(
            'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.10.9\n'
        )


def build_images(work: Path, env: dict[str, str], registry: str) -> None:
    """Import the stand-ins and push them as the mirror's library/ images."""
    images = {
        "alpine:3.10": ("alpine", '["/bin/sh"]'),
        "alpine:latest": ("alpine", '["/bin/sh"]'),
        "busybox:latest": ("busybox", '["sh"]'),
        "busybox:buildroot-2014.02": ("busybox", '["sh"]'),
        "hello-world:latest": ("hello", '["/hello"]'),
    }
    tars = {}
    for kind in ("alpine", "busybox", "hello"):
        root = work / f"rootfs-{kind}"
        if kind == "hello":
            root.mkdir()
            (work / "hello.c").write_text(HELLO_C)
            run("gcc", "-static", "-Os", "-o", str(root / "hello"), str(work / "hello.c"), env=env)
        else:
            busybox_rootfs(root, alpine=kind == "alpine")
        tars[kind] = work / f"{kind}.tar"
        with tarfile.open(tars[kind], "w") as tf:
            for entry in sorted(root.iterdir()):
                tf.add(entry, arcname=entry.name)
    for name, (kind, cmd) in images.items():
        target = f"{registry}/library/{name}"
        run(
            DOCKYARD,
            "import",
            "--change",
            f"CMD {cmd}",
            str(tars[kind]),
            target,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        run(DOCKYARD, "push", target, env=env, stdout=subprocess.DEVNULL)
        run(DOCKYARD, "rmi", target, env=env, stdout=subprocess.DEVNULL)


def wait_for(path: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_UNIX) as s, contextlib.suppress(OSError):
            s.connect(path)
            return
        time.sleep(0.1)
    raise SystemExit(f"the service did not listen on {path}")


def summarize(junit: Path) -> int:
    tree = ET.parse(junit)
    passed = 0
    reasons: collections.Counter[str] = collections.Counter()
    failed: list[str] = []
    skipped = 0
    total = 0
    for case in tree.iter("testcase"):
        total += 1
        failure = case.find("failure")
        if failure is None:
            failure = case.find("error")
        if case.find("skipped") is not None:
            skipped += 1
        elif failure is None:
            passed += 1
        else:
            text = (failure.get("message") or failure.text or "").strip().splitlines()
            reason = (text[0] if text else "?")[:160]
            reasons[reason] += 1
            failed.append(f"{case.get('classname', '')}::{case.get('name', '')}  {reason[:100]}")
    print(
        f"\ndocker-py 7.2.0 integration suite: {passed} passed, {total - passed - skipped} failed, {skipped} skipped, of {total}"
    )
    for reason, n in reasons.most_common():
        print(f"{n:4d}  {reason}")
    print("\nfailed:")
    for line in sorted(failed):
        print(f"  {line}")
    return passed


def main() -> int:
    if os.geteuid() != 0:
        raise SystemExit("run as root (the engine uses namespaces, mounts and cgroups)")
    if shutil.which("docker-registry") is None:
        raise SystemExit("docker-registry is not installed (make deps installs it)")
    with tempfile.TemporaryDirectory(prefix="dockyard-dockerpy-") as tmp:
        work = Path(tmp)
        port = free_port()
        registry = f"127.0.0.1:{port}"
        (work / "registry.yml").write_text(
            f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {work}/registry\n"
            f"  delete:\n    enabled: true\nhttp:\n  addr: {registry}\n"
        )
        (work / "daemon.json").write_text(f'{{"registry-mirrors": ["http://{registry}"]}}\n')
        sock = str(work / "run" / "docker.sock")
        env = {
            **os.environ,
            "DOCKYARD_ROOT": str(work / "root"),
            "DOCKYARD_RUNROOT": str(work / "run"),
            "DOCKYARD_DAEMON_CONFIG": str(work / "daemon.json"),
            "DOCKYARD_CERTS_D": str(work / "certs.d"),
            "DOCKER_CONFIG": str(work / "docker-config"),
            # A default bridge, subnet and cgroup parent of its own, apart from other engines.
            "DOCKYARD_BRIDGE": "dydockerpy0",
            "DOCKYARD_BIP": "10.213.0.1/24",
            "DOCKYARD_CGROUP_PARENT": "dockyard-dockerpy",
            # Docker 28 sets legacy links' environment variables only when asked so;
            # docker-py 7.2.0's test_create_with_links predates that and expects them.
            "DOCKER_KEEP_DEPRECATED_LEGACY_LINKS_ENV_VARS": "1",
        }
        env.pop("DOCKER_HOST", None)
        reg = subprocess.Popen(
            ["docker-registry", "serve", str(work / "registry.yml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        service = None
        try:
            time.sleep(1)
            build_images(work, env, registry)
            service = subprocess.Popen(
                [DOCKYARD, "system", "service", "--time", "0", f"unix://{sock}"],
                env=env,
                stderr=open(work / "service.log", "wb"),
            )
            wait_for(sock)
            with tarfile.open(ARCHIVE) as tf:
                tf.extractall(work / "suite")  # our own vendored archive
            suite = work / "suite" / "docker-py-7.2.0"
            tests = sorted(
                str(p)
                for p in (suite / "tests" / "integration").iterdir()
                if p.name.endswith("_test.py") and p.name not in EXCLUDED
            )
            junit = work / "junit.xml"
            run(
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "--timeout",
                "120",
                "-o",
                "addopts=",
                "--rootdir",
                str(suite),
                f"--junitxml={junit}",
                *tests,
                *sys.argv[1:],
                env={**env, "DOCKER_HOST": f"unix://{sock}", "DOCKER_TEST_API_VERSION": "1.41"},
                check=False,
                cwd=suite,
            )
            summarize(junit)
        finally:
            if service is not None:
                service.terminate()
                service.wait()
            ids = subprocess.run(
                [DOCKYARD, "ps", "-aq"], env=env, capture_output=True, text=True
            ).stdout.split()
            if ids:
                run(DOCKYARD, "rm", "-f", *ids, env=env, check=False, stdout=subprocess.DEVNULL)
            nets = subprocess.run(
                [DOCKYARD, "network", "ls", "-q", "--filter", "type=custom"],
                env=env,
                capture_output=True,
                text=True,
            ).stdout.split()
            if nets:
                run(
                    DOCKYARD,
                    "network",
                    "rm",
                    *nets,
                    env=env,
                    check=False,
                    stdout=subprocess.DEVNULL,
                )
            reg.terminate()
            reg.wait()
            run("ip", "link", "del", "dydockerpy0", env=env, check=False, stderr=subprocess.DEVNULL)
            for chain in ("fwd-dydockerpy0", "nat-dydockerpy0"):
                run(
                    "nft",
                    "delete",
                    "chain",
                    "ip",
                    "dockyard",
                    chain,
                    env=env,
                    check=False,
                    stderr=subprocess.DEVNULL,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
