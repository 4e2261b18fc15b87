"""What ``dockyard build`` does once its flags are parsed, without click: the click
command (:mod:`dockyard.cli.build`) and the fast path (:mod:`dockyard.cli.fastbuild`)
both call :func:`run_build`, so their output, messages and exit statuses are the same.

``build`` streams the classic builder's lines (``Step 2/5 : RUN ...``, `` ---> Using
cache``, ``Successfully built <id>``) with each RUN's output; ``-q`` prints only the image
ID. Any failure exits 1 with the message on stderr. The work is in ``dockyard.build``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported on the fast path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, NoReturn

#: The RUN containers' flags of ``build`` and their defaults (``run_host_config``'s input).
LIMIT_DEFAULTS: dict[str, Any] = {
    "add_hosts": (),
    "cgroup_parent": "",
    "cpu_period": 0,
    "cpu_quota": 0,
    "cpu_shares": 0,
    "cpuset_cpus": "",
    "cpuset_mems": "",
    "memory": None,
    "memory_swap": None,
    "shm_size": None,
    "ulimits": (),
    "security_opts": (),
    "isolation": "",
    "remove": True,
    "force_rm": False,
    "squash": False,
    "compress": False,
    "disable_content_trust": True,
}


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    """``K=V`` flag values as a dict; a bare ``K`` takes its value from the environment
    (as ``docker build --build-arg K``) and is dropped when unset there."""
    out: dict[str, str] = {}
    for value in values:
        key, eq, val = value.partition("=")
        if not key:
            _fail(f'invalid argument "{value}" for "{flag}" flag: empty key', 125)
        if eq:
            out[key] = val
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def run_build(
    open_engine: Callable[[], Any],
    context: str,
    *,
    tags: tuple[str, ...] = (),
    dockerfile: str | None = None,
    build_args: tuple[str, ...] = (),
    target: str = "",
    no_cache: bool = False,
    labels: tuple[str, ...] = (),
    quiet: bool = False,
    network: str = "default",
    iidfile: str = "",
    progress: str = "auto",
    platform: str | None = None,
    pull: bool = False,
    secrets: tuple[str, ...] = (),
    ssh: tuple[str, ...] = (),
    outputs: tuple[str, ...] = (),
    cache_from: tuple[str, ...] = (),
    limits: dict[str, Any] | None = None,
    command: str = "dockyard build",
) -> NoReturn:
    """``docker build CONTEXT`` with these flags' values (``limits``: the RUN
    containers' flags, :data:`LIMIT_DEFAULTS` for those not given) against the engine
    ``open_engine()`` gives. Ends the process: exit 0 after the build, 1 with the
    message on stderr when it fails, 125 with the usage line of ``command``
    (``dockyard build`` or ``dockyard image build``) for a flag value docker/cli
    refuses while parsing."""
    limits = {**LIMIT_DEFAULTS, **(limits or {})}
    try:
        host_config = run_host_config(limits)
    except DockyardError as e:
        text = str(e)
        if text.startswith("invalid argument ") and '" flag: ' in text:
            # pflag's flag error (docker/cli's FlagErrorFunc), as for run's flags.
            _fail(
                f"{text}\n\nUsage:  {command} [OPTIONS] PATH | URL | -\n\n"
                f"Run '{command} --help' for more information",
                125,
            )
        _fail(text)
    try:
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
        # A file of its own: while a RUN step's container is created, fds 1 and 2 are
        # its output pipe, and the redrawing thread wrote its status line into it.
        live = LiveProgress(os.fdopen(os.dup(out_stream.fileno()), "wb"))

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

    engine = open_engine()
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
            export_output(open_engine(), image_id, *output)
        except (DockyardError, OSError) as e:
            _fail(f"exporting to {output[0]} {output[1]}: {getattr(e, 'strerror', None) or e}")
    if iidfile:
        try:
            _write_file(iidfile, lambda f: f.write(image_id.encode()))
        except OSError as e:
            _fail(f"open {iidfile}: {(e.strerror or str(e)).lower()}")
    if quiet and not to_stdout:
        sys.stdout.write(image_id + "\n")
    from dockyard.cli.engine import exit_now

    exit_now(engine, 0)


def _fail(message: str, code: int = 1) -> NoReturn:
    """The message on stderr, exit ``code`` (as cli.images.fail, without click)."""
    sys.stdout.flush()
    sys.stderr.write(message + "\n")
    sys.stderr.flush()
    sys.exit(code)


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
    from dockyard.errors import InvalidArgument

    if not flags["disable_content_trust"]:
        from dockyard.cli.runopts import check_content_trust  # imports click

        check_content_trust(False)
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
    if all(flags[k] == v for k, v in LIMIT_DEFAULTS.items()):
        return {}
    from dockyard.units import memory_swap, parse_ulimit, ram_in_bytes

    out: dict[str, Any] = {
        "ExtraHosts": extra_hosts,
        "CgroupParent": flags["cgroup_parent"],
        "CpuPeriod": flags["cpu_period"],
        "CpuQuota": flags["cpu_quota"],
        "CpuShares": flags["cpu_shares"],
        "CpusetCpus": flags["cpuset_cpus"],
        "CpusetMems": flags["cpuset_mems"],
        "Memory": ram_in_bytes(flags["memory"], "-m, --memory")
        if flags["memory"] is not None
        else 0,
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
