"""``dockyard create`` and ``dockyard run`` (Docker CLI reference: docker container
create / run). Flags after IMAGE belong to the container's command, as with Docker."""

from __future__ import annotations

import contextlib
import os
import sys

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing is not imported on the run path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any, NoReturn

    from dockyard.paths import Paths

#: Largest ``--security-opt seccomp=FILE`` read (Docker's default profile is about 20 KiB).
MAX_SECCOMP_PROFILE = 16 << 20


def _create_request(
    kw: dict[str, Any], detach: bool
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The Engine API's create request (Config, HostConfig, NetworkingConfig) the flags
    ask for, as docker/cli's ``parse`` (cli/command/container/opts.go) builds it; ``detach``
    (``run -d``): nothing attached. Raises InvalidArgument with the CLI's messages."""
    from dockyard.errors import InvalidArgument
    from dockyard.units import (
        memory_swap,
        parse_env_pairs,
        parse_labels,
        parse_ulimit,
        ram_in_bytes,
        read_env_file,
    )

    env: list[str] = []
    for path in kw["env_file"]:
        env.extend(read_env_file(path))
    env.extend(parse_env_pairs(list(kw["env"])))
    cpus = 0.0
    if kw["cpus"]:
        try:
            cpus = float(kw["cpus"])
        except ValueError:
            raise InvalidArgument(
                f'invalid argument "{kw["cpus"]}" for "--cpus" flag: failed to parse {kw["cpus"]} as a rational number'
            ) from None
    from dockyard.cli.opts import config_from_flags, parse_restart_policy

    restart_policy = parse_restart_policy(kw["restart"])
    if kw["auto_remove"] and restart_policy["Name"] not in ("", "no"):
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    from dockyard.timetypes import parse_duration

    durations = {
        name: parse_duration(kw[name], "--" + name.replace("_", "-")) if kw[name] else 0
        for name in (
            "health_interval",
            "health_timeout",
            "health_start_period",
            "health_start_interval",
        )
    }
    healthcheck = config_from_flags(
        kw["health_cmd"],
        interval=durations["health_interval"],
        timeout=durations["health_timeout"],
        retries=kw["health_retries"],
        start_period=durations["health_start_period"],
        start_interval=durations["health_start_interval"],
        no_healthcheck=kw["no_healthcheck"],
    )
    from dockyard.nat import parse_expose, parse_publish

    exposed, port_bindings = parse_publish(list(kw["publish"]))
    exposed += [p for p in parse_expose(list(kw["expose"])) if p not in exposed]
    from dockyard import mountspec

    tmpfs = dict(mountspec.parse_tmpfs_flag(t) for t in kw["tmpfs"])
    volumes = [mountspec.absolute_bind(v) for v in kw["volume"]]
    net = _network_flags(kw)
    stop_signal = kw["stop_signal"]
    if stop_signal:
        _check_signal(stop_signal)
    streams = _attach_streams(kw["attach"], detach)
    entrypoint = kw["entrypoint"]
    config: dict[str, Any] = {
        "Hostname": kw["hostname"] or "",
        "User": kw["user"] or "",
        "AttachStdin": (kw["interactive"] or "stdin" in streams) and not detach,
        "AttachStdout": "stdout" in streams,
        "AttachStderr": "stderr" in streams,
        "ExposedPorts": {p: {} for p in exposed},
        "Tty": kw["tty"],
        "OpenStdin": kw["interactive"],
        "StdinOnce": kw["interactive"] and not detach,
        "Env": env,
        "Cmd": list(kw["command"]) or None,
        "Image": kw["image"],
        # A bare `-v /path` is an anonymous volume (Config.Volumes), others are Binds.
        "Volumes": {v: {} for v in volumes if ":" not in v},
        "WorkingDir": kw["workdir"] or "",
        # `--entrypoint ""` resets the image's entrypoint.
        "Entrypoint": None if entrypoint is None else [entrypoint],
        "Labels": parse_labels(list(kw["label"])),
        "StopSignal": stop_signal or None,
        "StopTimeout": kw["stop_timeout"],
        "Healthcheck": healthcheck,
    }
    host_config: dict[str, Any] = {
        "Binds": [v for v in volumes if ":" in v] or None,
        "NetworkMode": net["network"],
        "PortBindings": port_bindings,
        "RestartPolicy": restart_policy,
        "AutoRemove": kw["auto_remove"],
        "VolumesFrom": list(kw["volumes_from"]) or None,
        "CapAdd": list(kw["cap_add"]) or None,
        "CapDrop": list(kw["cap_drop"]) or None,
        "Dns": net["dns"],
        "DnsOptions": net["dns_options"],
        "DnsSearch": net["dns_search"],
        "ExtraHosts": net["add_hosts"] or None,
        "Links": net["links"] or None,
        "Privileged": kw["privileged"],
        "PublishAllPorts": kw["publish_all"],
        "ReadonlyRootfs": kw["read_only"],
        "SecurityOpt": security_opts(list(kw["security_opt"])) or None,
        "Runtime": kw["runtime"],
        "CpuShares": kw["cpu_shares"],
        "Memory": ram_in_bytes(kw["memory"], "-m, --memory") if kw["memory"] is not None else 0,
        "NanoCpus": int(round(cpus * 1e9)),
        "CgroupParent": kw["cgroup_parent"],
        "MemorySwap": memory_swap(kw["memory_swap"]) if kw["memory_swap"] is not None else 0,
        "PidsLimit": kw["pids_limit"] or None,
        "Ulimits": [parse_ulimit(u) for u in kw["ulimit"]] or None,
        "Init": kw["init"] or None,
        "Mounts": [mountspec.parse_mount_flag(m) for m in kw["mount"]] or None,
        "Tmpfs": tmpfs or None,
    }
    from dockyard.cli.runopts import apply_resource_flags

    apply_resource_flags(kw, config, host_config)
    endpoints: dict[str, Any] = {}
    for i, name in enumerate(net["networks"]):
        settings: dict[str, Any] = {}
        if i == 0:
            # --ip, --network-alias and --mac-address go to the first network (Docker 28).
            if net["ip"] or kw["ip6"] or kw["link_local_ip"]:
                settings["IPAMConfig"] = {
                    "IPv4Address": net["ip"] or "",
                    "IPv6Address": kw["ip6"],
                    "LinkLocalIPs": list(kw["link_local_ip"]),
                }
            if net["network_aliases"]:
                settings["Aliases"] = net["network_aliases"]
            if net["mac_address"]:
                settings["MacAddress"] = net["mac_address"]
            # docker/cli applyContainerOptions: on a user-defined network --link is the
            # endpoint's (a DNS alias); on the default bridge a legacy link (HostConfig).
            builtin = name in ("bridge", "default", "host", "none")
            if net["links"] and not builtin and not name.startswith("container:"):
                settings["Links"] = net["links"]
        endpoints[name] = settings
    return config, host_config, {"EndpointsConfig": endpoints}


def detach_keys_option(keys: str | None, stdin: bool = True) -> str | None:
    """``--detach-keys`` of ``run``/``exec``/``start``/``attach``, else (when ``stdin``
    is attached: nothing reads keys otherwise) the ``detachKeys`` of the client's
    config.json (``$DOCKER_CONFIG`` or ``~/.docker``), as docker/cli's; None: the default
    ctrl-p,ctrl-q. Checked (moby/term's syntax) and returned. Raises InvalidArgument."""
    if not keys and stdin:
        import json

        directory = os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
        try:
            with open(os.path.join(directory, "config.json"), "rb") as f:
                configured = json.load(f).get("detachKeys")
        except (OSError, ValueError, AttributeError):
            configured = None  # docker/cli warns of a config it cannot load and goes on
        keys = configured if isinstance(configured, str) and configured else None
    if keys:
        from dockyard.engine.attach import escape_filter

        escape_filter(keys)  # the facade's check of the keys' syntax
    return keys


def _attach_streams(values: tuple[str, ...], detach: bool) -> set[str]:
    """The streams ``-a/--attach`` names (docker/cli's ValidateAttach and parse): stdout
    and stderr when none is named, none with ``-d``. Raises InvalidArgument."""
    from dockyard.errors import InvalidArgument

    if values and detach:
        raise InvalidArgument("conflicting options: cannot specify both --attach and --detach")
    if detach:
        return set()
    streams = set()
    for value in values:
        if value.lower() not in ("stdin", "stdout", "stderr"):
            raise InvalidArgument(
                f'invalid argument "{value}" for "-a, --attach" flag: valid streams are '
                "STDIN, STDOUT and STDERR"
            )
        streams.add(value.lower())
    return streams or {"stdout", "stderr"}


def _network_flags(kw: dict[str, Any]) -> dict[str, Any]:
    """The network flags, checked as the Docker CLI checks them (its messages)."""
    import ipaddress
    import json

    from dockyard.errors import InvalidArgument

    def bad(flag: str, value: str, why: str) -> InvalidArgument:
        # pflag's message; the value as Go's %q prints it (a line break escaped).
        quoted = json.dumps(value, ensure_ascii=False)
        return InvalidArgument(f'invalid argument {quoted} for "{flag}" flag: {why}')

    def is_ip(text: str) -> bool:
        try:
            ipaddress.ip_address(text)
        except ValueError:
            return False
        return True

    add_hosts = check_add_hosts(kw["add_host"])
    for link in kw["link"]:
        # The CLI's opts.ValidateLink: NAME or NAME:ALIAS, neither empty.
        parts = link.split(":")
        if len(parts) > 2 or not all(parts):
            raise bad("--link", link, f"bad format for links: {link}")
    for server in kw["dns"]:
        if not is_ip(server.strip()):  # docker/cli 28's opts.ValidateIPAddress
            raise bad("--dns", server, f"IP address is not correctly formatted: {server}")
    search = [_dns_search(domain, bad) for domain in kw["dns_search"]]
    for flag in ("ip", "ip6"):
        if kw[flag] and not is_ip(kw[flag]):
            raise bad(f"--{flag}", kw[flag], "invalid string being converted to IP address")
    if kw["mac_address"] and not _go_parse_mac(kw["mac_address"]):
        # docker/cli 28's parse(): opts.ValidateMACAddress before any request.
        raise InvalidArgument(f"{kw['mac_address']} is not a valid mac address")
    # Docker 25+: every --network is attached in order; the first is eth0 and NetworkMode.
    networks = list(kw["network"]) or ["bridge"]
    for i, name in enumerate(networks):
        if name in networks[:i]:
            # The CLI's parseNetworkOpts: endpoints are keyed by network.
            raise InvalidArgument(f'network "{name}" is specified multiple times')
    return {
        "network": networks[0],
        "networks": networks,
        "ip": kw["ip"],
        "network_aliases": list(kw["network_alias"]),
        "mac_address": kw["mac_address"],
        "add_hosts": add_hosts,
        "dns": list(kw["dns"]),
        "dns_search": search,
        "dns_options": list(kw["dns_option"]),
        "links": list(kw["link"]),
    }


def _go_parse_mac(text: str) -> bool:
    """Whether Go's ``net.ParseMAC`` takes ``text``: 6, 8 or 20 octets as ``xx:xx:..``
    or ``xx-xx-..`` (one separator throughout) or ``xxxx.xxxx.xxxx``."""
    import re

    n = len(text)
    if n < 14:
        return False
    if text[2] in ":-":
        groups = (n + 1) // 3
        pattern = "[0-9a-fA-F]{2}(?:" + re.escape(text[2]) + "[0-9a-fA-F]{2})*"
        if (n + 1) % 3:
            return False
    elif text[4] == ".":
        groups = 2 * (n + 1) // 5
        pattern = r"[0-9a-fA-F]{4}(?:\.[0-9a-fA-F]{4})*"
        if (n + 1) % 5:
            return False
    else:
        return False
    return groups in (6, 8, 20) and re.fullmatch(pattern, text) is not None


def check_add_hosts(values: tuple[str, ...] | list[str]) -> list[str]:
    """``--add-host host:ip`` (or ``host=ip``, ``host:[ip]``) values as
    HostConfig.ExtraHosts (``host:ip``), checked as docker/cli 28's opts.ValidateExtraHost
    (its messages).
    Raises InvalidArgument; ``host-gateway`` is refused (Dockyard has no host gateway
    address to give)."""
    import ipaddress
    import json

    from dockyard.errors import InvalidArgument

    out = []
    for entry in values:
        name, sep, addr = entry.partition("=") if "=" in entry else entry.partition(":")
        why = ""
        if not sep or not name or ":" in name:
            why = f"bad format for add-host: {json.dumps(entry, ensure_ascii=False)}"
        elif addr == "host-gateway":
            why = "host-gateway is not supported by Dockyard"
        else:
            if len(addr) > 2 and addr[0] == "[" and addr[-1] == "]":
                addr = addr[1:-1]  # an IPv6 (or IPv4) address in brackets
            try:
                ipaddress.ip_address(addr.strip())
            except ValueError:
                why = f"invalid IP address in add-host: {json.dumps(addr, ensure_ascii=False)}"
        if why:
            quoted = json.dumps(entry, ensure_ascii=False)
            raise InvalidArgument(f'invalid argument {quoted} for "--add-host" flag: {why}')
        out.append(f"{name}:{addr}")
    return out


# The Docker CLI's opts.validateDomain expressions (Go's RE2: ``$`` is the end of the text,
# ``\s`` is [\t\n\f\r ]).
_DOMAIN_LABEL = r"(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9\-]*[a-zA-Z0-9]))"
_DOMAIN_RE = rf"^(:?{_DOMAIN_LABEL}(:?\.{_DOMAIN_LABEL})*)\.?[\t\n\f\r ]*\Z"


def _dns_search(value: str, bad: Any) -> str:
    """``--dns-search``: the Docker CLI's opts.ValidateDNSSearch (spaces trimmed, ``.``
    kept, else a domain name, returned without a trailing dot or white space); ``bad``
    makes the flag error. Refuses a line break inside a name, which would add a line
    to resolv.conf."""
    import re

    val = value.strip(" ")
    if val == ".":
        return val
    m = re.match(_DOMAIN_RE, val) if re.search("[a-zA-Z]", val) else None
    if m is None or len(m.group(1)) >= 255:
        raise bad("--dns-search", value, f"{val} is not a valid domain")
    return m.group(1)


def security_opts(values: list[str]) -> list[str]:
    """``--security-opt`` values as Docker's CLI sends them (cli parseSecurityOpts): a
    ``seccomp=FILE`` (other than ``unconfined``/``builtin``) becomes ``seccomp=<the
    file's JSON, compacted>``. Raises InvalidArgument with the CLI's messages."""
    from dockyard.errors import InvalidArgument

    out = []
    for opt in values:
        key, sep, value = opt.partition("=")
        if not sep and key != "no-new-privileges":
            key, sep, value = opt.partition(":")
        if (not sep or not value) and key != "no-new-privileges":
            raise InvalidArgument(f'Invalid --security-opt: "{opt}"')
        if key == "seccomp" and value not in ("builtin", "unconfined"):
            import json

            try:
                with open(value, "rb") as f:
                    # Bounded: a profile is tens of KiB; /dev/zero must not fill memory.
                    raw = f.read(MAX_SECCOMP_PROFILE + 1)
            except OSError as e:
                raise InvalidArgument(
                    f"opening seccomp profile ({value}) failed: open {value}: "
                    f"{(e.strerror or str(e)).lower()}"
                ) from None
            if len(raw) > MAX_SECCOMP_PROFILE:
                raise InvalidArgument(
                    f"opening seccomp profile ({value}) failed: larger than "
                    f"{MAX_SECCOMP_PROFILE >> 20} MiB"
                )
            try:
                compact = json.dumps(json.loads(raw), separators=(",", ":"))
            except (ValueError, RecursionError) as e:
                why = "nested too deeply" if isinstance(e, RecursionError) else e
                raise InvalidArgument(
                    f"compacting json for seccomp profile ({value}) failed: {why}"
                ) from None
            opt = "seccomp=" + compact
        out.append(opt)
    return out


def _check_signal(text: str) -> None:
    """Refuse a ``--stop-signal`` that names no signal (``Invalid signal: <text>``)."""
    from dockyard.sysignal import parse_signal

    parse_signal(text)


def _fail(err: DockyardError, client: bool = False, command: str = "run") -> NoReturn:
    """docker/cli's ``withHelp`` error: ``dockyard: Error response from daemon: ...``
    (``client``: an error of the client itself, ``dockyard: ...``), a pointer to
    ``command``'s ``--help`` (``run`` or ``create``), and the error's exit code."""
    name = command
    text = str(err) if client else f"Error response from daemon: {err}"
    if client and text.startswith("invalid argument ") and '" flag: ' in text:
        # A flag's value refused as pflag refuses it while parsing: docker/cli's flag
        # error (its FlagErrorFunc), exit 125.
        print(
            f"{text}\n\nUsage:  dockyard {name} [OPTIONS] IMAGE [COMMAND] [ARG...]\n\n"
            f"Run 'dockyard {name} --help' for more information",
            file=sys.stderr,
        )
        sys.exit(125)
    print(f"dockyard: {text}\n\nRun 'dockyard {name} --help' for more information", file=sys.stderr)
    sys.exit(err.exit_code)


def _create(
    paths: Paths,
    kw: dict[str, Any],
    detach: bool = False,
    foreground: bool = False,
    command: str = "run",
) -> tuple[Any, str]:
    """Create the container ``kw`` describes, for ``run -d`` (``detach``: nothing
    attached), a ``foreground`` run (``-it`` needs a terminal) or ``create`` (``command``,
    named in errors); returns the engine and the container's ID. A run's container keeps
    its start lock for the start that follows (crash safety)."""
    from dockyard.cli.engine import current_host, open_engine
    from dockyard.engine import Engine
    from dockyard.errors import InvalidArgument

    try:
        config, host_config, networking = _create_request(kw, detach)
        from dockyard.platforms import check_platform

        # Only this host's platform can run here (no emulation).
        check_platform(kw["platform"])
    except InvalidArgument as e:
        _fail(e, client=True, command=command)
    if foreground and config["Tty"] and config["OpenStdin"] and not os.isatty(0):
        print("the input device is not a TTY", file=sys.stderr)
        sys.exit(1)
    if host_config["NetworkMode"] == "host" and host_config["PortBindings"]:
        # The daemon's warning: the container has the host's ports already.
        print(
            "WARNING: Published ports are discarded when using host network mode", file=sys.stderr
        )
    cidfile = kw["cidfile"]
    if cidfile and os.path.exists(cidfile):
        # docker/cli newCIDFile: refused before anything is created.
        _fail(
            InvalidArgument(
                "container ID file found, make sure the other container isn't running "
                f"or delete {cidfile}"
            ),
            client=True,
            command=command,
        )
    logins = None
    if kw["use_api_socket"]:
        try:
            logins = _api_socket(paths, config, host_config)
        except DockyardError as e:
            _fail(e, client=True, command=command)
    if current_host() is not None:
        engine = open_engine(paths)
        container_id = _create_remote(engine, kw, config, host_config, networking)
    else:
        engine = Engine(paths)
        _pull_image(engine, kw["image"], kw["pull"], kw["quiet"], kw["platform"] or None, command)
        # The logins are copied in through the start lock, so `run --use-api-socket`
        # creates and then starts, as `docker create` and `docker start` do.
        container_id = engine.container_create(
            config,
            host_config,
            networking,
            name=kw["name"],
            keep_lock=(detach or foreground) and logins is None,
        )["Id"]
    if cidfile:
        _write_cidfile(cidfile, container_id, command)
    if logins is not None:
        _copy_logins(engine, container_id, logins)
    return engine, container_id


#: Where ``--use-api-socket`` puts the client's registry logins (docker/cli's path).
API_SOCKET_CONFIG = "/run/secrets/docker/config.json"


def _api_socket(
    paths: Paths, config: dict[str, Any], host_config: dict[str, Any]
) -> dict[str, Any] | None:
    """``--use-api-socket`` as docker/cli's create: the Engine API socket of the engine
    in use (``-H unix://PATH``, else ``dockyard system service``'s default
    ``<runroot>/docker.sock``, which must be listening) bound at /var/run/docker.sock;
    unless the container's environment names a DOCKER_CONFIG, the client's registry
    logins (``$DOCKER_AUTH_CONFIG``, else config.json and its helpers) are returned as a
    config.json for :data:`API_SOCKET_CONFIG`, and DOCKER_CONFIG points there. Raises
    InvalidArgument, DockyardError."""
    import stat

    from dockyard.cli.engine import current_host
    from dockyard.errors import InvalidArgument

    host = current_host()
    if host is None:
        socket = os.path.join(paths.runroot, "docker.sock")
        try:
            is_socket = stat.S_ISSOCK(os.stat(socket).st_mode)
        except OSError:
            is_socket = False
        if not is_socket:
            raise InvalidArgument(
                f"--use-api-socket: no Engine API socket at {socket}: start "
                "`dockyard system service` first"
            )
    elif host.startswith("unix://"):
        socket = host.removeprefix("unix://")
    else:
        raise InvalidArgument(
            "flag --use-api-socket can only be used with unix sockets: docker endpoint "
            f"{host} incompatible"
        )
    host_config["Mounts"] = [
        *(host_config.get("Mounts") or []),
        {"Type": "bind", "Source": socket, "Target": "/var/run/docker.sock"},
    ]
    if any(e.startswith("DOCKER_CONFIG=") for e in config["Env"]):
        return None
    auths = _client_logins()
    if not auths:
        return None
    if host is not None:
        raise InvalidArgument(
            "--use-api-socket through -H/DOCKER_HOST cannot copy registry logins into the "
            "container yet (set DOCKER_CONFIG in its environment to go without)"
        )
    config["Env"].append(f"DOCKER_CONFIG={os.path.dirname(API_SOCKET_CONFIG)}")
    return {"auths": auths}


def _client_logins() -> dict[str, dict[str, str]]:
    """The client's registry logins as config.json ``auths`` entries: those of
    ``$DOCKER_AUTH_CONFIG`` (a config.json's JSON) if it has any, else every stored one
    (docker/cli readCredentials). Raises InvalidArgument, DockyardError."""
    import base64
    import json

    from dockyard.engine import distribution
    from dockyard.errors import InvalidArgument

    def entry(creds: Any) -> dict[str, str]:
        if creds.identity_token:
            return {"identitytoken": creds.secret}
        pair = f"{creds.username}:{creds.secret}".encode()
        return {"auth": base64.b64encode(pair).decode()}

    text = os.environ.get("DOCKER_AUTH_CONFIG")
    if text:
        try:
            given = json.loads(text).get("auths") or {}
            found = {str(k): distribution.login_from_auth_config(v) for k, v in given.items()}
        except (ValueError, AttributeError) as e:
            raise InvalidArgument(
                f"failed to read credentials from DOCKER_AUTH_CONFIG: {e}"
            ) from None
        if any(found.values()):
            return {k: entry(c) for k, c in found.items() if c is not None}
    return {k: entry(c) for k, c in distribution.stored_logins().items()}


def _copy_logins(engine: Any, container_id: str, config: dict[str, Any]) -> None:
    """Copy the config.json of ``--use-api-socket`` into the new container (mode 0600),
    as docker/cli's copyDockerConfigIntoContainer."""
    import io
    import json
    import tarfile

    from dockyard.engine import archives

    data = json.dumps(config, indent="\t").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        parts = API_SOCKET_CONFIG.strip("/").split("/")
        for i in range(1, len(parts)):
            info = tarfile.TarInfo("/".join(parts[:i]))
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tf.addfile(info)
        info = tarfile.TarInfo("/".join(parts))
        info.size, info.mode = len(data), 0o600
        tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    archives.archive_put(engine, container_id, "/", buf)


def _write_cidfile(path: str, container_id: str, command: str) -> None:
    """``--cidfile``: the new container's ID in ``path``, which must not exist (created
    exclusively: another run racing for the same file fails, as docker/cli's);
    ``command`` (``run``, ``create``) is named in errors."""
    from dockyard.errors import InvalidArgument

    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        _fail(
            InvalidArgument(
                "container ID file found, make sure the other container isn't running "
                f"or delete {path}"
            ),
            client=True,
            command=command,
        )
    except OSError as e:
        _fail(
            InvalidArgument(
                f"failed to create the container ID file: open {path}: "
                f"{(e.strerror or str(e)).lower()}"
            ),
            client=True,
            command=command,
        )
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def _create_remote(
    engine: Any,
    kw: dict[str, Any],
    config: dict[str, Any],
    host_config: dict[str, Any],
    networking: dict[str, Any],
) -> str:
    """Create on the ``-H`` endpoint as the docker CLI does: ``--pull missing`` pulls
    (through the endpoint) only when the create says the image is missing."""
    from dockyard.cli.fastpull import ProgressDisplay
    from dockyard.errors import NotFound

    out = open(os.devnull, "w") if kw["quiet"] else sys.stderr  # noqa: SIM115
    if kw["pull"] == "always":
        ProgressDisplay(out).show_all(engine.image_pull(kw["image"]))
    try:
        return str(engine.container_create(config, host_config, networking, name=kw["name"])["Id"])
    except NotFound as e:
        if kw["pull"] != "missing" or not str(e).startswith("No such image"):
            raise
    if not kw["quiet"]:
        print(f"Unable to find image '{kw['image']}' locally", file=sys.stderr)
    ProgressDisplay(out).show_all(engine.image_pull(kw["image"]))
    return str(engine.container_create(config, host_config, networking, name=kw["name"])["Id"])


def _pull_image(
    engine: Any,
    name: str,
    policy: str,
    quiet: bool = False,
    platform: str | None = None,
    command: str = "run",
) -> None:
    """``--pull``: ``missing`` pulls an image no local name matches (after Docker's
    ``Unable to find image '...' locally``), ``always`` pulls, ``never`` does not. The
    progress goes to stderr, as the docker CLI's; ``quiet`` (``-q``): nothing shown;
    ``platform`` (``--platform``) picks an index's manifest."""
    from dockyard.engine import distribution
    from dockyard.errors import InvalidArgument

    try:
        if not distribution.needs_pull(engine, name, policy):
            return
    except InvalidArgument as e:
        _fail(e, client=True, command=command)
    from dockyard.cli.fastpull import ProgressDisplay

    if quiet:
        with open(os.devnull, "w") as devnull:
            ProgressDisplay(devnull).show_all(distribution.pull(engine, name, platform=platform))
        return
    if policy == "missing":
        from dockyard.reference import parse

        try:
            shown = parse(name).familiar()
        except DockyardError:
            shown = name
        print(f"Unable to find image '{shown}' locally", file=sys.stderr)
    ProgressDisplay(sys.stderr).show_all(distribution.pull(engine, name, platform=platform))


def create(paths: Paths, **kw: Any) -> None:
    """``dockyard create``: ``kw`` holds the value of every flag (the parameters of
    cli/runflags.py's CONTAINER) and the positional ``image`` and ``command`` (a tuple).
    Prints the new container's ID; exits as docker/cli on an error."""
    try:
        _, container_id = _create(paths, kw, command="create")
    except DockyardError as e:
        # docker/cli's runCreate returns the daemon's error as is: printed without the
        # program's name or a pointer to --help, exit 1 (run's are 125).
        print(f"Error response from daemon: {e}", file=sys.stderr)
        sys.exit(1)
    print(container_id)


def run(paths: Paths, detach: bool, sig_proxy: bool, **kw: Any) -> None:
    """``dockyard run``: ``detach`` and ``sig_proxy`` as ``-d`` and ``--sig-proxy``
    ask, ``kw`` as for :func:`create`. Ends the process with the container's exit status
    (``-d``: 0 after printing its ID), docker/cli's on an error."""
    from dockyard.cli.engine import exit_now
    from dockyard.errors import InvalidArgument

    try:
        # config.json is read only for a session with a tty and stdin: run's other
        # paths do without (start-up time).
        tty_stdin = kw["tty"] and kw["interactive"] and not detach
        detach_keys = detach_keys_option(kw["detach_keys"], tty_stdin)
    except InvalidArgument as e:
        _fail(e, client=True)
    try:
        engine, container_id = _create(paths, kw, detach=detach, foreground=not detach)
        try:
            if detach:
                engine.container_start(container_id)
                print(container_id)
                exit_now(engine, 0)
            # docker/cli's runContainer: "Disable sigProxy when in TTY mode".
            status = engine.container_run_attached(
                container_id, detach_keys=detach_keys, sig_proxy=sig_proxy and not kw["tty"]
            )
        except (Exception, KeyboardInterrupt):
            # --rm removes the container whatever stopped it from running (a Ctrl-C
            # before the start too; a third signal's SystemExit leaves it running on).
            if kw["auto_remove"]:
                with contextlib.suppress(Exception):
                    engine.container_delete(container_id, force=True, v=True)
            raise
    except DockyardError as e:
        _fail(e)
    exit_now(engine, status)
