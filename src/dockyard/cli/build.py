"""``dockyard build`` and ``dockyard history`` with the Docker CLI's flags and output.

``build`` streams the classic builder's lines (``Step 2/5 : RUN ...``, `` ---> Using
cache``, ``Successfully built <id>``) with each RUN's output; ``-q`` prints only the image
ID. Any failure exits 1 with the message on stderr. The work is in ``dockyard.build``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from typing import Any, NoReturn

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

HISTORY_HEADERS = {
    "ID": "IMAGE",
    "CreatedSince": "CREATED",
    "CreatedAt": "CREATED AT",
    "CreatedBy": "CREATED BY",
    "Size": "SIZE",
    "Comment": "COMMENT",
}
DEFAULT_HISTORY_FORMAT = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """``K=V`` flag values as a dict; a bare ``K`` takes its value from the environment
    (as ``docker build --build-arg K``) and is dropped when unset there."""
    out: dict[str, str] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not key:
            from dockyard.cli.images import fail

            fail(f'invalid argument "{value}" for "{flag}" flag: empty key', 125)
        if eq:
            out[key] = val
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


@click.command("build", context_settings={"help_option_names": ["--help"]})
@click.argument("context", metavar="PATH | URL | -")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag.")
@click.option("-f", "--file", "dockerfile", default=None, help="Name of the Dockerfile.")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables.")
@click.option("--target", default="", help="Set the target build stage to build.")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image.")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image.")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID.")
@click.option(
    "--network",
    default="default",
    type=click.Choice(["default", "host", "none"]),
    help="Networking mode for the RUN instructions during build.",
)
@click.option("--iidfile", default="", help="Write the image ID to the file.")
@click.option(
    "--progress",
    default="auto",
    type=click.Choice(["auto", "plain", "tty"]),
    help="Type of progress output.",
)
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable.")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image.")
@click.option(
    "-o",
    "--output",
    "outputs",
    multiple=True,
    help='Output destination (format: "type=local,dest=path" or "type=tar,dest=file|-").',
)
@click.option(
    "--secret",
    "secrets",
    multiple=True,
    help='Secret to expose to the build (format: "id=mysecret[,src=/local/secret]").',
)
@click.option(
    "--ssh",
    multiple=True,
    help='SSH agent socket to expose to the build (format: "default|<id>[=<socket>]").',
)
@click.option(
    "--cache-from",
    "cache_from",
    multiple=True,
    help='External cache sources (e.g., "user/app:cache", "type=registry,ref=user/app").',
)
@click.option("--add-host", "add_hosts", multiple=True, help="Add a custom host-to-IP mapping.")
@click.option("--cgroup-parent", default="", help="Parent cgroup for the RUN instructions.")
@click.option("--cpu-period", type=int, default=0, help="Limit the CPU CFS period.")
@click.option("--cpu-quota", type=int, default=0, help="Limit the CPU CFS quota.")
@click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight).")
@click.option("--cpuset-cpus", default="", help="CPUs in which to allow execution.")
@click.option("--cpuset-mems", default="", help="MEMs in which to allow execution.")
@click.option("-m", "--memory", default=None, help="Memory limit.")
@click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap.")
@click.option("--shm-size", default=None, help="Size of /dev/shm.")
@click.option("--ulimit", "ulimits", multiple=True, help="Ulimit options.")
@click.option("--security-opt", "security_opts", multiple=True, help="Security options.")
@click.option("--isolation", default="", help="Container isolation technology.")
@click.option(
    "--rm/--no-rm",
    "remove",
    is_flag=True,
    default=True,
    help="Remove intermediate containers (always done).",
)
@click.option("--force-rm", is_flag=True, help="Always remove intermediate containers.")
@click.option("--squash", is_flag=True, help="Ignored with a warning, as BuildKit does.")
@click.option("--compress", is_flag=True, help="Compress the build context (nothing to send).")
@click.option(
    "--disable-content-trust/--no-disable-content-trust",
    is_flag=True,
    default=True,
    help="Skip image verification (Dockyard verifies no signatures).",
)
@click.pass_obj
def build(
    paths: Paths,
    context: str,
    tags: tuple[str, ...],
    dockerfile: str | None,
    build_args: tuple[str, ...],
    target: str,
    no_cache: bool,
    labels: tuple[str, ...],
    quiet: bool,
    network: str,
    iidfile: str,
    progress: str,
    platform: str | None,
    pull: bool,
    secrets: tuple[str, ...],
    ssh: tuple[str, ...],
    outputs: tuple[str, ...],
    cache_from: tuple[str, ...],
    **limits: Any,
) -> None:
    """Build an image from a Dockerfile."""
    from dockyard.cli.engine import open_engine

    try:
        host_config = run_host_config(limits)
        secret_values = dict(parse_secret(s) for s in secrets)
        agents = dict(parse_ssh(s) for s in ssh)
        output = parse_output(outputs)
    except DockyardError as e:
        _fail(str(e))

    # With the filesystem going to stdout the build's lines go to stderr, as BuildKit's.
    to_stdout = output is not None and output[1] == "-"
    out_stream = sys.stderr.buffer if to_stdout else sys.stdout.buffer
    live = None
    if not quiet and (progress == "tty" or (progress == "auto" and sys.stdout.isatty())):
        live = LiveProgress(out_stream)

    def line(text: str) -> None:
        if live is not None:
            live.line(text)
        elif not quiet:
            out_stream.write(text.encode() + b"\n")
            out_stream.flush()

    def raw(data: bytes) -> None:
        if live is not None:
            live.raw(data)
        elif not quiet:
            out_stream.write(data)
            out_stream.flush()

    engine = open_engine(paths)
    try:
        image_id = engine.image_build_local(
            context,
            dockerfile,
            stdin=sys.stdin.buffer,
            tags=list(tags),
            buildargs=_pairs(build_args, "--build-arg"),
            target=target,
            labels=_pairs(labels, "--label"),
            network=network,
            pull=pull,
            nocache=no_cache,
            platform=platform,
            host_config=host_config,
            secrets=secret_values,
            ssh=agents,
            cache_from=list(cache_from),
            # The classic builder shows a FROM image's pull as plain status lines.
            line=line,
            raw=raw,
            pull_status=line,
        )
    except (DockyardError, OSError) as e:
        # A build fails with exit 1 and one line, as Docker's; an OS error names its path.
        if live is not None:
            live.close(failed=True)
        sys.stdout.flush()
        if isinstance(e, OSError):
            if os.environ.get("DOCKYARD_DEBUG"):
                raise
            _fail(f"{e.strerror or e}: {e.filename}" if e.filename else str(e))
        _fail(str(e))
    if live is not None:
        live.close(failed=False)
    if output is not None:
        try:
            export_output(open_engine(paths), image_id, *output)
        except (DockyardError, OSError) as e:
            _fail(f"exporting to {output[0]} {output[1]}: {getattr(e, 'strerror', None) or e}")
    if iidfile:
        try:
            _write_file(iidfile, lambda f: f.write(image_id.encode()))
        except OSError as e:
            _fail(f"open {iidfile}: {(e.strerror or str(e)).lower()}")
    if quiet and not to_stdout:
        click.echo(image_id)
    from dockyard.cli.engine import exit_now

    exit_now(engine, 0)


def _fail(message: str) -> NoReturn:
    # cli.images.fail, imported only when a build fails: cli.images loads the registry
    # and formatting modules, ~6 ms of a cached build.
    from dockyard.cli.images import fail

    fail(message, 1)


def parse_output(values: tuple[str, ...]) -> tuple[str, str] | None:
    """``-o``/``--output`` as buildx's ParseOutputs: ``type=local,dest=DIR``,
    ``type=tar,dest=FILE|-``, a bare ``DIR`` (local) or ``-`` (a tar on stdout). Returns
    (type, dest) or None. Raises InvalidArgument for other exporters (image, oci,
    docker, registry...) and for more than one output."""
    from dockyard.errors import InvalidArgument

    if not values:
        return None
    if len(values) > 1:
        raise InvalidArgument("multiple outputs are not supported by Dockyard: give one -o")
    text = values[0]
    if "=" not in text:
        return ("tar", "-") if text == "-" else ("local", text)
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, _, value = part.partition("=")
        fields[key.strip().lower()] = value
    kind = fields.pop("type", "local")
    dest = fields.pop("dest", "")
    if kind not in ("local", "tar"):
        raise InvalidArgument(
            f"output type {kind!r} is not supported by Dockyard (local and tar are; the "
            "image itself is stored as with no -o)"
        )
    if fields:
        raise InvalidArgument(f"unknown {kind} exporter option {next(iter(fields))!r}")
    if not dest:
        raise InvalidArgument(f"dest is required for {kind} exporter")
    if kind == "local" and dest == "-":
        raise InvalidArgument("local exporter cannot write to stdout: use type=tar")
    if dest == "-" and sys.stdout.isatty():
        raise InvalidArgument("refusing to write a tar to a terminal: redirect stdout or give dest")
    return kind, dest


def _write_file(dest: str, write: Any) -> None:
    """Write a file the user names (``-o type=tar,dest=``, ``--iidfile``) as the Go
    client's os.Create: a symlink is followed, and a device, FIFO or socket is written
    to (replacing /dev/null or /dev/stdout with a file would break the host); a regular
    file is written under a temporary name, then renamed. ``write`` takes the binary
    file object. Raises OSError."""
    dest = os.path.realpath(dest)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(dest).st_mode) and not os.path.isdir(dest):
            with open(dest, "wb") as f:
                write(f)
            return
    tmp = f"{dest}.tmp{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.replace(tmp, dest)
    except FileNotFoundError as e:
        e.filename = dest  # the directory is missing: name the file asked for
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def export_output(engine: Any, image_id: str, kind: str, dest: str) -> None:
    """Write the built image's filesystem to ``dest``: a tar (``-``: stdout; a file is
    written under a temporary name, then renamed) or, for ``local``, unpacked into the
    directory ``dest`` (made if missing; entries stay inside it). Raises DockyardError,
    OSError."""
    if kind == "tar" and dest == "-":
        sys.stdout.flush()
        engine.image_export_rootfs(image_id, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    if kind == "tar":
        _write_file(dest, lambda f: engine.image_export_rootfs(image_id, f))
        return
    engine.image_export_rootfs_dir(image_id, dest)


#: BuildKit's largest secret (secretsprovider.MaxSecretSize).
MAX_SECRET_SIZE = 500 * 1024


def parse_secret(text: str) -> tuple[str, bytes]:
    """``--secret id=ID[,src=PATH|,env=VAR][,type=file|env]`` as buildx and BuildKit's
    secretsprovider read it: a file, or an environment variable; with neither, the
    variable named ID if set, else the file ID. Returns (ID, content). Raises
    InvalidArgument."""
    from dockyard.errors import InvalidArgument

    fields: dict[str, str] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq or key not in ("id", "type", "src", "source", "env"):
            raise InvalidArgument(
                f'invalid argument "{text}" for "--secret" flag: bad field {part!r}'
            )
        fields["src" if key == "source" else key] = value
    ident = fields.get("id", "")
    if not ident:
        raise InvalidArgument(f'invalid argument "{text}" for "--secret" flag: secret missing ID')
    kind = fields.get("type", "file")
    if kind not in ("file", "env"):
        raise InvalidArgument(f"unsupported secret type {kind!r}")
    src, env = fields.get("src", ""), fields.get("env", "")
    if kind == "env" and not env:
        env, src = src or ident, ""
    if not src and not env:
        if ident in os.environ:
            env = ident
        else:
            src = ident
    if env:
        if env not in os.environ:
            raise InvalidArgument(f"secret {ident}: environment variable {env} is not set")
        content = os.environ[env].encode()
    else:
        try:
            with open(src, "rb") as f:
                content = f.read(MAX_SECRET_SIZE + 1)
        except OSError as e:
            raise InvalidArgument(f"failed to stat {src}: {e.strerror or e}") from None
    if len(content) > MAX_SECRET_SIZE:
        raise InvalidArgument(f"secret {ident} too big. max size 500KB")
    return ident, content


def parse_ssh(text: str) -> tuple[str, str]:
    """``--ssh default|ID[=SOCKET]``: an ssh-agent socket (``$SSH_AUTH_SOCK`` when none is
    given), as buildx's ParseSSHSpecs. Key files (BuildKit starts an agent for them) are
    refused. Returns (ID, socket path). Raises InvalidArgument."""
    import stat

    from dockyard.errors import InvalidArgument

    ident, _, path = text.partition("=")
    if not ident:
        raise InvalidArgument(f'invalid argument "{text}" for "--ssh" flag: missing ID')
    path = path or os.environ.get("SSH_AUTH_SOCK", "")
    if not path:
        raise InvalidArgument("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")
    if "," in path:
        raise InvalidArgument(
            f"--ssh {text}: SSH key files are not supported: give an agent socket"
        )
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise InvalidArgument(f"--ssh {text}: {path}: {e.strerror or e}") from None
    if not stat.S_ISSOCK(mode):
        raise InvalidArgument(
            f"--ssh {text}: {path} is not a socket: SSH key files are not supported by "
            "Dockyard, give an ssh-agent socket"
        )
    return ident, os.path.abspath(path)


def run_host_config(flags: dict[str, Any]) -> dict[str, Any]:
    """The HostConfig fields of the RUN containers that ``build``'s flags ask for (moby's
    build_routes.go and builder hostConfigFromOptions). ``--rm``/``--force-rm``: the
    intermediate containers are always removed; ``--compress``: a local build sends no
    context; ``--squash``: ignored with BuildKit's warning. Raises InvalidArgument with
    dockerd's messages for what it refuses on Linux (``--security-opt``, an isolation
    other than ``default``)."""
    from dockyard.cli.runopts import check_content_trust
    from dockyard.errors import InvalidArgument
    from dockyard.units import memory_swap, parse_ulimit, ram_in_bytes

    check_content_trust(flags["disable_content_trust"])
    if flags["security_opts"]:
        # SecurityOpt is Windows' credential spec only (build_routes.go).
        raise InvalidArgument("security options are not supported on linux")
    if flags["isolation"] not in ("", "default"):
        raise InvalidArgument(f'unsupported isolation: "{flags["isolation"]}"')
    if flags["squash"]:
        print(
            "WARNING: experimental flag squash is removed with BuildKit. You should squash "
            "inside build using a multi-stage Dockerfile for efficiency.",
            file=sys.stderr,
        )
    extra_hosts = []
    if flags["add_hosts"]:
        # cli.run declares run's ~90 click options at import: only when needed.
        from dockyard.cli.run import check_add_hosts

        extra_hosts = check_add_hosts(flags["add_hosts"])
    out: dict[str, Any] = {
        "ExtraHosts": extra_hosts,
        "CgroupParent": flags["cgroup_parent"],
        "CpuPeriod": flags["cpu_period"],
        "CpuQuota": flags["cpu_quota"],
        "CpuShares": flags["cpu_shares"],
        "CpusetCpus": flags["cpuset_cpus"],
        "CpusetMems": flags["cpuset_mems"],
        "Memory": ram_in_bytes(flags["memory"], "--memory") if flags["memory"] is not None else 0,
        "MemorySwap": memory_swap(flags["memory_swap"]) if flags["memory_swap"] is not None else 0,
        "ShmSize": ram_in_bytes(flags["shm_size"], "--shm-size")
        if flags["shm_size"] is not None
        else 0,
        "Ulimits": [parse_ulimit(u) for u in flags["ulimits"]],
    }
    return {k: v for k, v in out.items() if v}


class LiveProgress:
    """``--progress tty``: BuildKit's style of view, the running step redrawn in place with
    its elapsed time (``=> [2/5] RUN make   1.3s``), finished steps kept as ``DONE`` or
    ``CACHED``, RUN output shown as it comes. Fed the classic builder's lines."""

    def __init__(self, out: Any) -> None:
        import threading

        self.out = out
        self.lock = threading.Lock()
        self.step = ""
        self.started = 0.0
        self.cached = False
        self.stop = threading.Event()
        self.ticker = threading.Thread(target=self._tick, daemon=True)
        self.ticker.start()

    def _status(self, final: str = "") -> bytes:
        import time

        label = f"=> {'CACHED ' if self.cached else ''}{self.step}"
        elapsed = f"{time.monotonic() - self.started:.1f}s"
        return f"\r\x1b[K{label}  {final or elapsed}".encode()

    def _tick(self) -> None:
        while not self.stop.wait(0.1):
            with self.lock:
                if self.step:
                    self.out.write(self._status())
                    self.out.flush()

    def _finish(self, word: str) -> None:
        if self.step:
            import time

            elapsed = f"{time.monotonic() - self.started:.1f}s"
            self.out.write(self._status(f"{word} {elapsed}") + b"\n")
            self.step = ""

    def line(self, text: str) -> None:
        """Take one line of the classic output."""
        import re
        import time

        with self.lock:
            m = re.match(r"Step (\d+)/(\d+) : (.*)", text)
            if m:
                self._finish("DONE")
                self.step = f"[{m.group(1)}/{m.group(2)}] {m.group(3)}"
                self.started, self.cached = time.monotonic(), False
            elif text == " ---> Using cache":
                self.cached = True
            elif text.startswith(("Successfully", "[Warning]", "#")) or not text.startswith(
                (" ---> ", "Removing intermediate container ")
            ):
                self._finish("DONE")
                self.out.write(text.encode() + b"\n")
            if self.step:
                self.out.write(self._status())
            self.out.flush()

    def raw(self, data: bytes) -> None:
        """Show RUN output below the step line, which is redrawn after it."""
        with self.lock:
            self.out.write(b"\r\x1b[K" + data + (b"" if data.endswith(b"\n") else b"\n"))
            if self.step:
                self.out.write(self._status())
            self.out.flush()

    def close(self, failed: bool) -> None:
        """Stop redrawing; the last step ends as ``DONE`` or ``ERROR``."""
        self.stop.set()
        self.ticker.join()
        with self.lock:
            self._finish("ERROR" if failed else "DONE")
            self.out.flush()


@click.command("history", context_settings={"help_option_names": ["--help"]})
@click.argument("name", metavar="IMAGE")
@click.option("--format", "fmt", default="", help="Format output using a Go template.")
@click.option("-H", "--human", default=True, type=bool, help="Print sizes and dates in human form.")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output.")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs.")
@click.option("--platform", default="", help="Show history for the given platform.")
@click.pass_obj
def history(
    paths: Paths, name: str, fmt: str, human: bool, no_trunc: bool, quiet: bool, platform: str
) -> None:
    """Show the history of an image."""
    import time

    from dockyard.cli.engine import open_engine
    from dockyard.cli.formatting import TemplateError, format_items
    from dockyard.cli.images import fail
    from dockyard.platforms import check_image_platform

    try:
        engine = open_engine(paths)
        if platform:
            check_image_platform(name, engine.image_inspect(name), platform)
        items = engine.image_history(name)
    except DockyardError as e:
        fail(f"Error response from daemon: {e}")
    rows = history_rows(items, no_trunc, human, time.time())
    if quiet and fmt in ("", "table"):
        fmt = "{{.ID}}"
    try:
        text = format_items(fmt, rows, HISTORY_HEADERS, default=DEFAULT_HISTORY_FORMAT)
    except TemplateError as e:
        fail(str(e), e.exit_code)
    sys.stdout.write(text)


def history_rows(items: list[Any], no_trunc: bool, human: bool, now: float) -> list[dict[str, str]]:
    """``docker history`` rows of ``GET /images/{name}/history``'s ``items``, newest
    first: CREATED BY cut to 45 characters with ``…`` unless ``no_trunc``, sizes and
    times in human form with ``human``."""
    from dockyard.cli.formatting import human_duration, human_size

    rows = []
    for item in items:
        created = item["Created"]
        created_by = item["CreatedBy"]
        if not no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        image_id = item["Id"]
        rows.append(
            {
                "ID": image_id if no_trunc else image_id.removeprefix("sha256:")[:12],
                "CreatedSince": human_duration(now - created) + " ago"
                if human
                else time_text(created),
                "CreatedAt": time_text(created),
                "CreatedBy": created_by,
                "Size": human_size(item["Size"]) if human else str(item["Size"]),
                "Comment": item["Comment"],
            }
        )
    return rows


def time_text(epoch: int) -> str:
    """RFC 3339 local time as ``docker history --human=false`` prints it."""
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(epoch))
