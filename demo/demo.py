"""Dockyard's demo: make a base image offline, run isolated containers, manage detached
ones, then build an example app from a Dockerfile and serve a page from it, then serve it
with its content in a named volume that outlives its containers, then push an image to a
registry on 127.0.0.1 and pull it back (directly and as a Docker Hub mirror).

Each step prints the command it runs (as a user would type it) and the real output.
It uses the normal engine root (``$DOCKYARD_ROOT`` or /var/lib/dockyard); it removes the
containers it names, its volume and the ``site`` image at the start (leftovers of an interrupted run)
and again at the end, even when a step fails.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

# The dockyard installed beside this interpreter (the project's venv), else the one on PATH.
_BESIDE = os.path.join(os.path.dirname(sys.executable), "dockyard")
DOCKYARD = _BESIDE if os.path.exists(_BESIDE) else (shutil.which("dockyard") or "dockyard")
SITE = os.path.relpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples", "busybox-site")
)
# The containers and the image this demo makes: removed before (an interrupted run's
# leftovers) and after.
CONTAINERS = ("demo-bg", "demo-ticker", "demo-site", "demo-vol-1", "demo-vol-2", "demo-db")
IMAGE = "site"
VOLUME = "demo-site-content"
NETWORK = "demo-net"
TICKER = (
    'trap "echo got SIGTERM; exit 0" TERM; while true; do echo tick $(date +%T); sleep 0.2; done'
)
FETCH = "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc 127.0.0.1 80"


class DemoFailed(Exception):
    """A step the rest of the demo depends on failed."""


def step(
    title: str,
    *args: str,
    timeout: float | None = None,
    timed: bool = False,
    required: bool = False,
) -> None:
    """Print a heading and the command, run it, and show its output and exit code.

    ``timeout`` (seconds) stops the command (SIGKILL, as Ctrl-C would end a ``logs -f``)
    and says so; ``timed`` prints how long it took. A ``required`` step that fails ends
    the demo (DemoFailed): what follows would only fail after it.
    """
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}")
    print("$ dockyard " + " ".join(_quote(a) for a in args), flush=True)
    start = time.monotonic()
    try:
        proc = subprocess.run([DOCKYARD, *args], timeout=timeout)
    except subprocess.TimeoutExpired:
        print(f"(stopped by the demo after {timeout:g} s)", flush=True)
        return
    if proc.returncode != 0:
        print(f"(exit code {proc.returncode})", flush=True)
        if required:
            raise DemoFailed(f"the demo stopped: {title!r} failed")
    if timed:
        print(f"(took {time.monotonic() - start:.2f} s)", flush=True)


def quietly(*args: str) -> int:
    """Run dockyard with its output discarded; returns its exit code."""
    return subprocess.run([DOCKYARD, *args], capture_output=True).returncode


def clean_up() -> None:
    """Remove the demo's containers and its image, whatever state they are in."""
    for name in CONTAINERS:
        quietly("rm", "-f", name)
    quietly("volume", "rm", "-f", VOLUME)
    quietly("rmi", IMAGE)
    quietly("network", "rm", NETWORK)


def wait_for_site(name: str, timeout: float = 5) -> None:
    """Poll until httpd in ``name`` answers (it needs a moment after ``run -d``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if quietly("exec", name, "sh", "-c", FETCH) == 0:
            return
        time.sleep(0.1)


def _quote(arg: str) -> str:
    """``arg`` as a POSIX shell word, so the printed command can be pasted."""
    if arg and all(c.isalnum() or c in "-_./:=%" for c in arg):
        return arg
    if "'" not in arg:
        return f"'{arg}'"
    # Inside double quotes a backslash is literal unless it precedes one of these.
    return '"' + re.sub(r'([$`"]|\\(?=[$`"\\\n]|$))', r"\\\1", arg) + '"'


def memory_limit_file() -> str:
    if os.path.isdir("/sys/fs/cgroup/memory"):
        return "/sys/fs/cgroup/memory/memory.limit_in_bytes"
    return "/sys/fs/cgroup/memory.max"


def main() -> int:
    clean_up()
    try:
        isolation()
        lifecycle()
        build()
        volumes()
        step("Remove the image with its intermediate layers", "rmi", IMAGE)
        networking()
        registry()
    except DemoFailed as e:
        print(f"\n{e}", file=sys.stderr)
        return 1
    finally:
        clean_up()
    print("\nDemo finished.")
    return 0


def isolation() -> None:
    """Issue 2: images and isolated containers."""
    step("Make busybox:latest from the host's busybox-static, offline", "bootstrap", "busybox")
    step("The image store", "images")
    step("A container gets its own hostname (its short ID)", "run", "--rm", "busybox", "hostname")
    step("... or the one you give it", "run", "--rm", "--hostname", "demo", "busybox", "hostname")
    step(
        "The command is PID 1 in its own PID namespace",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "echo my PID is $$; ps",
    )
    step(
        "Its own mounts: overlayfs root, /proc, a tmpfs /dev, read-only /sys",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "cat /proc/self/mounts",
    )
    step(
        "Docker's 14 default capabilities (a80425fb), bounding set included",
        "run",
        "--rm",
        "busybox",
        "grep",
        "^Cap",
        "/proc/self/status",
    )
    step(
        "--cap-drop ALL leaves none",
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "busybox",
        "grep",
        "^CapEff",
        "/proc/self/status",
    )
    step(
        "A 64 MiB memory limit, enforced by its cgroup",
        "run",
        "--rm",
        "-m",
        "64m",
        "busybox",
        "cat",
        memory_limit_file(),
    )
    step(
        "Past the limit the OOM killer ends it: exit code 137",
        "run",
        "--rm",
        "-m",
        "16m",
        "--memory-swap",
        "16m",
        "busybox",
        "sh",
        "-c",
        "tail /dev/zero",
    )
    step(
        "The container's exit code is run's exit code",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "exit 3",
    )
    step("A missing command: exit code 127", "run", "--rm", "busybox", "nosuchcommand")
    step(
        "A detached container, under its own monitor",
        "run",
        "-d",
        "--name",
        "demo-bg",
        "busybox",
        "sleep",
        "300",
        required=True,
    )
    step("It is listed as running", "ps")
    step("docker kill sends SIGKILL", "kill", "demo-bg")
    step("... and wait reports the exit code, 128+9", "wait", "demo-bg")
    step("Remove it", "rm", "demo-bg")


def lifecycle() -> None:
    """Issue 3: a detached container's life, from run -d to rm."""
    step(
        "A detached container printing a line every 0.2 s (PID 1 traps SIGTERM)",
        "run",
        "-d",
        "--name",
        "demo-ticker",
        "busybox",
        "sh",
        "-c",
        TICKER,
        required=True,
    )
    step("ps shows it running", "ps")
    step(
        "logs -f follows its output (the demo stops it after 2 s, as Ctrl-C would)",
        "logs",
        "-f",
        "demo-ticker",
        timeout=2,
    )
    step(
        "exec runs a command inside it: ps sees the container's processes",
        "exec",
        "demo-ticker",
        "ps",
    )
    step("top lists them with host PIDs", "top", "demo-ticker")
    step(
        "stop sends SIGTERM; PID 1 handles it, so no 10 s grace period",
        "stop",
        "demo-ticker",
        timed=True,
    )
    step("Its last lines", "logs", "--tail", "2", "demo-ticker")
    step("ps -a shows how it exited", "ps", "-a", "--filter", "name=demo-ticker")
    step("rm removes it", "rm", "demo-ticker")


def build() -> None:
    """Issue 4: build the example site from its Dockerfile, rebuild from cache, serve it."""
    with open(os.path.join(SITE, "Dockerfile")) as f:
        print(f"\n== The example app's Dockerfile ({SITE}/Dockerfile)\n{f.read()}", end="")
    step("Build it", "build", "--progress", "plain", "-t", IMAGE, SITE, timed=True)
    step(
        "Nothing changed: every step comes from the cache",
        "build",
        "--progress",
        "plain",
        "-t",
        IMAGE,
        SITE,
        timed=True,
        required=True,
    )
    step("Its history, one line per instruction", "history", IMAGE)
    step(
        "Run the site detached, its port 80 published on the host's 8080",
        "run",
        "-d",
        "--name",
        "demo-site",
        "-p",
        "8080:80",
        IMAGE,
        required=True,
    )
    wait_for_site("demo-site")
    step(
        "Fetch its page from inside the container (busybox nc)",
        "exec",
        "demo-site",
        "sh",
        "-c",
        FETCH,
    )
    fetch_from_host("http://127.0.0.1:8080/")
    step("The published port", "port", "demo-site")
    step(
        "... and in ps",
        "ps",
        "--filter",
        "name=demo-site",
        "--format",
        "{{.Names}}  {{.Ports}}",
    )
    step(
        "httpd as PID 1 has no SIGTERM handler: stop -t 1 kills it after 1 s, not 10",
        "stop",
        "-t",
        "1",
        "demo-site",
        timed=True,
    )
    step("Remove the container", "rm", "demo-site")


def volumes() -> None:
    """Issue 6: the site's content in a named volume outlives its containers."""
    html = "/var/www/html"
    step(
        "Serve the site with its content in a named volume (created and seeded from the image)",
        "run",
        "-d",
        "--name",
        "demo-vol-1",
        "-v",
        f"{VOLUME}:{html}",
        IMAGE,
        required=True,
    )
    step(
        "Edit the page inside the volume",
        "exec",
        "demo-vol-1",
        "sh",
        "-c",
        f"echo '<p>edited in demo-vol-1</p>' >> {html}/index.html",
    )
    step("Remove that container", "rm", "-f", "demo-vol-1")
    step("The volume is still there", "volume", "ls")
    step("Where its data lives", "volume", "inspect", VOLUME)
    step(
        "A new container on the same volume",
        "run",
        "-d",
        "--name",
        "demo-vol-2",
        "-v",
        f"{VOLUME}:{html}",
        IMAGE,
        required=True,
    )
    wait_for_site("demo-vol-2")
    step("... serves the edited page", "exec", "demo-vol-2", "sh", "-c", FETCH)
    step(
        "Its Mounts, as docker inspect shows them",
        "inspect",
        "-f",
        "{{json .Mounts}}",
        "demo-vol-2",
    )
    step("A volume in use cannot be removed", "volume", "rm", VOLUME)
    step("Remove the container", "rm", "-f", "demo-vol-2")
    step("... then the volume", "volume", "rm", VOLUME)


def fetch_from_host(url: str) -> None:
    """Fetch ``url`` from the host (what ``curl -s URL`` shows) and print it."""
    import urllib.request

    print(f"\n== Fetch it from the host, through the published port\n$ curl -s {url}", flush=True)
    deadline = time.monotonic() + 5
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                print(r.read().decode(errors="replace"), end="", flush=True)
            return
        except OSError as e:
            if time.monotonic() > deadline:
                print(f"(failed: {e})", flush=True)
                return
            time.sleep(0.1)


def networking() -> None:
    """Issue 5: the default bridge, a user-defined network, one container reaching another."""
    step(
        "Containers are on the default bridge: eth0 with an address, a route via the gateway",
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "ip -o -4 addr show eth0; ip route",
    )
    step("The predefined networks", "network", "ls")
    step(
        "A user-defined network: the next free subnet of Docker's pools",
        "network",
        "create",
        NETWORK,
    )
    step(
        "A server on it",
        "run",
        "-d",
        "--name",
        "demo-db",
        "--network",
        NETWORK,
        "busybox",
        "sh",
        "-c",
        "while :; do echo hello from demo-db | nc -l -p 7000; done",
        required=True,
    )
    step(
        "Its address on the network",
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        "demo-db",
    )
    out = subprocess.run(
        [
            DOCKYARD,
            "inspect",
            "-f",
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
            "demo-db",
        ],
        capture_output=True,
        text=True,
    ).stdout.strip()
    step(
        "Another container on the network reaches it by IP",
        "run",
        "--rm",
        "--network",
        NETWORK,
        "busybox",
        "sh",
        "-c",
        f"ping -c 1 {out} && nc {out} 7000 </dev/null",
    )
    step(
        "... and by name, through the embedded DNS server at 127.0.0.11",
        "run",
        "--rm",
        "--network",
        NETWORK,
        "busybox",
        "sh",
        "-c",
        "nslookup demo-db && nc demo-db 7000 </dev/null",
    )
    step(
        "network inspect lists the attached containers",
        "network",
        "inspect",
        "-f",
        "{{range .Containers}}{{.Name}} {{.IPv4Address}} {{.MacAddress}}{{end}}",
        NETWORK,
    )
    step("A network in use cannot be removed", "network", "rm", NETWORK)
    step("Remove the server", "rm", "-f", "demo-db")
    step("... then the network: its bridge and rules go too", "network", "rm", NETWORK)


def registry() -> None:
    """Issue 10: a loopback registry (Debian's docker-registry): push, rmi, pull, run;
    then the same registry as a Docker Hub mirror, as an offline site would use it."""
    import socket
    import tempfile
    import urllib.error
    import urllib.request

    if shutil.which("docker-registry") is None:
        print("\n(docker-registry is not installed: the registry steps are skipped)")
        return
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    host = f"127.0.0.1:{port}"
    work = tempfile.mkdtemp(prefix="dockyard-demo-registry-")
    with open(os.path.join(work, "config.yml"), "w") as f:
        f.write(
            "version: 0.1\nlog:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {work}/storage\n"
            f"http:\n  addr: {host}\n"
        )
    log = open(os.path.join(work, "registry.log"), "wb")
    server = subprocess.Popen(
        ["docker-registry", "serve", os.path.join(work, "config.yml")], stdout=log, stderr=log
    )
    saved_env = {k: os.environ.get(k) for k in ("DOCKYARD_DAEMON_CONFIG", "DOCKER_CONFIG")}
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        # A private docker CLI config and daemon.json: the demo touches neither of yours.
        os.environ["DOCKER_CONFIG"] = os.path.join(work, "docker-config")
        os.environ["DOCKYARD_DAEMON_CONFIG"] = os.path.join(work, "daemon.json")
        print(f"\n(a registry runs on {host}: docker-registry serve {work}/config.yml)")
        name = f"{host}/demo/busybox:1"
        step("Tag busybox for the local registry", "tag", "busybox", name, required=True)
        step("Push it", "push", name, required=True, timed=True)
        step("Remove it here", "rmi", name)
        step("Pull it back", "pull", name, required=True, timed=True)
        step("images --digests shows the digest the registry gave", "images", "--digests", name)
        step("Run it", "run", "--rm", name, "echo", "pulled from the registry")
        step("Remove it: run pulls a missing image", "rmi", name)
        step("run pulls it", "run", "--rm", name, "echo", "pulled by run")
        # The offline-site set-up: the registry serves Docker Hub names as a mirror.
        step("Push busybox under Docker Hub's name", "tag", "busybox", f"{host}/library/busybox")
        step("... to the registry", "push", "-q", f"{host}/library/busybox")
        with open(os.environ["DOCKYARD_DAEMON_CONFIG"], "w") as f:
            f.write(f'{{"registry-mirrors": ["http://{host}"]}}\n')
        print(f'\n(daemon.json: {{"registry-mirrors": ["http://{host}"]}})')
        step("Remove the local busybox", "rmi", "busybox", f"{host}/library/busybox")
        step("pull busybox comes from the mirror", "pull", "busybox", required=True)
        step("Clean up", "rmi", name)
        compose_seed(host)
    finally:
        for key, value in saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.terminate()
        server.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


def compose_seed(host: str) -> None:
    """Issue 12: the seed's compose file, unchanged (nginx on port 80, mysql with
    MYSQL_ROOT_PASSWORD), offline: both images built from Debian's packages on a
    ``bootstrap debian`` base and served by the mirror ``host``."""
    if shutil.which("mmdebstrap") is None:
        print("\n(mmdebstrap is not installed: the compose steps are skipped)")
        return
    seed = os.path.relpath(os.path.join(os.path.dirname(SITE), "compose-seed"))
    compose = ("compose", "-f", os.path.join(seed, "docker-compose.yml"))
    try:
        step("A Debian base from Debian's archive", "bootstrap", "debian:bookworm", required=True)
        for image in ("nginx", "mysql"):
            step(
                f"Build {image} from Debian's packages",
                "build", "-q", "-t", image, os.path.join(seed, image),
                required=True, timed=True,
            )  # fmt: skip
            step("... push it to the mirror", "tag", image, f"{host}/library/{image}")
            step("...", "push", "-q", f"{host}/library/{image}", required=True)
            step("... and remove it here", "rmi", image, f"{host}/library/{image}")
        with open(os.path.join(seed, "docker-compose.yml")) as f:
            print(f"\n$ cat {seed}/docker-compose.yml\n{f.read()}", end="")
        step("Up: pulls nginx and mysql from the mirror", *compose, "up", "-d", required=True)
        step("The project's containers", *compose, "ps")
        fetch_from_host("http://127.0.0.1:80/")
        query = ("exec", "-T", "db", "mariadb", "-h", "db", "-uroot", "-pexample")
        for _ in range(120):  # the first start initialises the database
            if quietly(*compose, *query, "-e", "SELECT 1") == 0:
                break
            time.sleep(0.5)
        step("db answers on db:3306 with MYSQL_ROOT_PASSWORD", *compose, *query, "-e", "SELECT VERSION()")  # fmt: skip
        step("The db's data directory is an anonymous volume", "volume", "ls")
        volume = subprocess.run(
            [DOCKYARD, "volume", "ls", "-q"], capture_output=True, text=True
        ).stdout.split()
        if volume:
            step("... inspect it", "volume", "inspect", volume[0])
        step("Stop both", *compose, "stop")
        step("... stopped", *compose, "ps", "-a")
        if volume:
            step("A volume in use cannot be removed", "volume", "rm", volume[0])
        step("down --volumes: containers, network and volume", *compose, "down", "--volumes")
        step("Nothing left", "volume", "ls")
    finally:
        quietly(*compose, "down", "--volumes", "-t", "0")
        quietly("rmi", "nginx", "mysql")


if __name__ == "__main__":
    sys.exit(main())
