"""Loading a Compose project: finding its files, reading them, interpolating, validating
against the Compose Specification's JSON schema, merging, normalising (Compose
Specification; Docker Compose v2 and compose-go v2 as the reference for behaviour and
messages).

:func:`load_project` is the entry point: options in, a :class:`Project` out, or a
:class:`ComposeError` whose one line names the file, the service and the key.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from dockyard.compose.errors import ComposeError
from dockyard.compose.interpolate import interpolate, read_env_file

# Not the dataclasses module: it imports inspect (ast, dis, tokenize), a cost every compose
# command paid at start-up.
from dockyard.record import dataclass, field

#: Compose files looked up, in compose-go's order (cli/options.go DefaultFileNames).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
DEFAULT_OVERRIDES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)

# Service keys Dockyard honours; any other key of the specification is refused by name.
SERVICE_KEYS = frozenset(
    {
        "image", "build", "command", "entrypoint", "environment", "env_file", "ports",
        "expose", "volumes", "tmpfs", "networks", "network_mode", "depends_on",
        "healthcheck", "restart", "user", "working_dir", "hostname", "labels",
        "stop_signal", "stop_grace_period", "init", "privileged", "cap_add", "cap_drop",
        "read_only", "stdin_open", "tty", "container_name", "dns", "dns_search", "dns_opt",
        "extra_hosts", "ulimits", "deploy", "secrets", "configs", "profiles", "scale",
        "security_opt", "pull_policy", "mem_limit", "memswap_limit", "cpus", "cpu_shares",
        "pids_limit", "mac_address", "runtime", "cgroup_parent", "logging", "sysctls",
        "shm_size", "domainname", "devices", "ipc", "pid",
    }
)  # fmt: skip
_SUBKEYS: dict[str, frozenset[str]] = {
    "build": frozenset(
        {
            "context",
            "dockerfile",
            "args",
            "target",
            "labels",
            "network",
            "no_cache",
            "pull",
            "shm_size",
            "extra_hosts",
            "cache_from",
        }
    ),
    "deploy": frozenset({"replicas", "resources", "restart_policy"}),
    "deploy.resources": frozenset({"limits"}),
    "deploy.resources.limits": frozenset({"cpus", "memory", "pids"}),
    "deploy.restart_policy": frozenset({"condition", "max_attempts"}),
    "healthcheck": frozenset(
        {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
    ),
    "logging": frozenset({"driver", "options"}),
}
_NETWORK_KEYS = frozenset({"driver", "driver_opts", "ipam", "internal", "external", "name", "labels", "attachable", "enable_ipv6", "enable_ipv4"})  # fmt: skip
_VOLUME_KEYS = frozenset({"driver", "driver_opts", "external", "name", "labels"})
_FILE_OBJECT_KEYS = frozenset({"file", "environment", "content", "name"})
_SERVICE_VOLUME_KEYS = frozenset({"type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"})  # fmt: skip
_PORT_KEYS = frozenset({"target", "published", "host_ip", "protocol", "mode", "name"})
_DEPENDS_KEYS = frozenset({"condition", "required", "restart"})

_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")

_schema_validator: Any = None
# Where models that passed the schema are remembered (load_project's Options.cache_dir).
_validation_cache: str | None = None


@dataclass
class Options:
    """What the command line and the environment say about the project: ``files`` (``-f``,
    in order; none: COMPOSE_FILE, else looked up), ``project_name`` (``-p``),
    ``project_directory``, ``env_files`` (``--env-file``), ``profiles`` (``--profile``,
    added to COMPOSE_PROFILES), ``environ`` (the process environment), ``cwd``,
    ``stdin`` (where ``-f -`` reads; default the process's stdin), ``cache_dir`` (where
    models that passed the schema are remembered; None: validated every time)."""

    files: list[str] = field(default_factory=list)
    project_name: str | None = None
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    cwd: str = field(default_factory=os.getcwd)
    stdin: IO[str] | None = None
    cache_dir: str | None = None


@dataclass
class Project:
    """A loaded project: ``name``, ``working_dir`` (absolute), ``config_files`` (absolute,
    in order), ``services`` (name -> normalised service, active profiles only),
    ``disabled`` (services of inactive profiles), ``networks``, ``volumes``, ``secrets``,
    ``configs`` (name -> normalised definition), ``environment`` (what interpolation
    used: ``.env`` under the process environment)."""

    name: str
    working_dir: str
    config_files: list[str]
    services: dict[str, dict[str, Any]]
    disabled: dict[str, dict[str, Any]]
    networks: dict[str, dict[str, Any]]
    volumes: dict[str, dict[str, Any]]
    secrets: dict[str, dict[str, Any]]
    configs: dict[str, dict[str, Any]]
    environment: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The project as ``docker compose config`` prints it (normalised)."""
        out: dict[str, Any] = {"name": self.name, "services": self.services}
        for key in ("networks", "volumes", "secrets", "configs"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


def warn(message: str) -> None:
    """A warning on stderr, in Docker Compose's logrus form."""
    print(f"WARN[0000] {message}", file=sys.stderr)


# -- files and environment -----------------------------------------------------------------


def find_files(cwd: str) -> list[str]:
    """The default compose file of ``cwd`` or its nearest parent that has one, and its
    override file if any. Raises ComposeError (``no configuration file provided: not
    found``)."""
    d = Path(cwd).resolve()
    while True:
        found = [d / n for n in DEFAULT_FILES if (d / n).is_file()]
        if found:
            if len(found) > 1:
                warn(
                    "Found multiple config files with supported names: "
                    + ", ".join(str(f) for f in found)
                )
                warn(f"Using {found[0]}")
            files = [str(found[0])]
            for n in DEFAULT_OVERRIDES:
                if (d / n).is_file():
                    files.append(str(d / n))
                    break
            return files
        if d.parent == d:
            raise ComposeError("no configuration file provided: not found")
        d = d.parent


def normalize_project_name(name: str) -> str:
    """A directory's name made a project name (compose-go ``NormalizeProjectName``:
    lower case, only ``[a-z0-9_-]``, leading ``_``/``-`` dropped)."""
    name = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return name.lstrip("_-")


def _check_project_name(name: str, origin: str) -> str:
    if not name:
        raise ComposeError(f"project name must not be empty ({origin})")
    if not _PROJECT_NAME.match(name):
        # compose-go's InvalidProjectNameErr (a name given by -p or COMPOSE_PROJECT_NAME).
        raise ComposeError(
            f"invalid project name {json.dumps(name, ensure_ascii=False)}: must consist only "
            "of lowercase alphanumeric characters, hyphens, and underscores as well as start "
            "with a letter or number"
        )
    return name


def load_project(opts: Options, selected: list[str] | None = None) -> Project:
    """Load the project ``opts`` describe. ``selected`` services are enabled whatever
    their profiles (as ``docker compose up SERVICE`` does). Raises ComposeError."""
    global _validation_cache
    _validation_cache = opts.cache_dir
    environ = dict(opts.environ)
    cwd = opts.cwd
    files = list(opts.files)
    if not files and environ.get("COMPOSE_FILE"):
        sep = environ.get("COMPOSE_PATH_SEPARATOR", os.pathsep)
        files = [f for f in environ["COMPOSE_FILE"].split(sep) if f]
    for f in files:
        if _remote(f):
            raise ComposeError(f"-f {f}: a remote compose file is not supported by Dockyard")
    files = [str(Path(cwd, f)) if f != "-" else f for f in files]
    if not files:
        files = find_files(opts.project_directory or cwd)
    stdin_text = None
    for f in files:
        if f == "-":
            if stdin_text is None:  # `-f -`: the file is read from stdin, once
                stdin_text = opts.stdin.read() if opts.stdin is not None else sys.stdin.read()
        elif not Path(f).is_file():
            raise ComposeError(f"open {f}: no such file or directory")
    # compose-go GetWorkingDir: the first file's directory (the cwd for stdin's).
    on_disk = [f for f in files if f != "-"]
    workdir = str(
        Path(opts.project_directory or (Path(on_disk[0]).parent if on_disk else cwd)).resolve()
    )

    # .env (or --env-file) under the process environment.
    env_files = [str(Path(cwd, f)) for f in opts.env_files] or (
        [str(Path(workdir, ".env"))] if Path(workdir, ".env").is_file() else []
    )
    dotenv: dict[str, str] = {}
    for ef in env_files:
        try:
            dotenv.update(read_env_file(ef, {**dotenv, **environ}))
        except FileNotFoundError:
            raise ComposeError(f"couldn't find env file: {ef}") from None
        except (OSError, UnicodeDecodeError) as e:
            raise ComposeError(f"failed to read {ef}: {e}") from None
    env = {**dotenv, **environ}

    models = []
    for f in files:
        if f == "-":
            # Relative paths in stdin's file are the working directory's.
            f = str(Path(workdir, "-"))
            data = _read_file(f, env, stdin_text)
        else:
            data = _read_file(f, env)
        models.append(_include(_resolve_extends(data, f, env), f, env, [f]))
    merged: dict[str, Any] = {}
    for m in models:
        merged = _merge(merged, m, "")

    if opts.project_name is not None:
        name = _check_project_name(opts.project_name, "-p")
    elif env.get("COMPOSE_PROJECT_NAME"):
        name = _check_project_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    elif merged.get("name"):
        # compose-go's projectName: the file's name is normalized, not refused.
        name = _check_project_name(normalize_project_name(str(merged["name"])), "name")
    else:
        name = _check_project_name(normalize_project_name(Path(workdir).name), workdir)

    profiles = set(opts.profiles)
    profiles.update(p for p in env.get("COMPOSE_PROFILES", "").split(",") if p)
    where = files[-1] if len(files) == 1 else ", ".join(files)
    services: dict[str, dict[str, Any]] = {}
    for sname, svc in (merged.get("services") or {}).items():
        services[sname] = _normalize_service(sname, svc or {}, workdir, env, where)
    enabled = {
        s: v
        for s, v in services.items()
        if not v.get("profiles")
        or profiles.intersection(v["profiles"])
        or "*" in profiles
        or s in (selected or [])
    }
    disabled = {s: v for s, v in services.items() if s not in enabled}
    project = Project(
        name=name,
        working_dir=workdir,
        config_files=[f if f == "-" else str(Path(f).resolve()) for f in files],
        services=dict(sorted(enabled.items())),
        disabled=disabled,
        networks={},
        volumes={},
        secrets={},
        configs={},
        environment=env,
    )
    _resolve_resources(project, merged, where)
    for s in selected or []:
        if s not in services:
            raise ComposeError(f"no such service: {s}")
    return project


def _read_file(path: str, env: Mapping[str, str], text: str | None = None) -> dict[str, Any]:
    """One compose file (``text``, when given, is its content: ``-f -``): parsed,
    ``version`` dropped with Compose's warning, interpolated, validated against the
    schema, its keys checked against what Dockyard honours."""
    from dockyard.compose import yamlload

    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise ComposeError(f"{path}: {e}") from None
    data = yamlload.load(text, path)
    if data is None:
        raise ComposeError(f"{path}: empty compose file")
    if not isinstance(data, dict):
        raise ComposeError(f"{path}: top-level object must be a mapping")
    if "version" in data:
        warn(
            f"{path}: the attribute `version` is obsolete, it will be ignored, please remove "
            "it to avoid potential confusion"
        )
        data = {k: v for k, v in data.items() if k != "version"}
    data = {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
    try:
        data = interpolate(data, env)
    except ComposeError as e:
        raise ComposeError(f"{path}: {e}") from None
    _validate(data, path, _validation_cache)
    _check_supported(data, path)
    return data


def _resolve_extends(data: dict[str, Any], path: str, env: Mapping[str, str]) -> dict[str, Any]:
    """``data`` (one file, read) with every service's ``extends`` replaced by the service it
    extends (in this file, or in ``file``, read as any compose file) merged under it;
    relative paths of a service from another directory rebased to it. Raises
    ComposeError naming the file and service, and ``circular reference with extends``."""
    cache: dict[str, dict[str, Any]] = {path: data}
    done: dict[tuple[str, str], dict[str, Any]] = {}

    def resolve(file: str, name: str, chain: list[tuple[str, str]]) -> dict[str, Any]:
        key = (file, name)
        if key in done:
            return done[key]
        if key in chain:
            cycle = " -> ".join(f"{n}" for _, n in [*chain[chain.index(key) :], key])
            raise ComposeError(f"{path}: circular reference with extends: {cycle}")
        if file not in cache:
            cache[file] = _read_file(file, env)
        services = cache[file].get("services") or {}
        if name not in services:
            where = chain[-1][1] if chain else name
            raise ComposeError(
                f"{file}: services.{where}.extends: cannot extend service {name!r}: no such service"
            )
        svc = dict(services[name] or {})
        ext = svc.pop("extends", None)
        if ext is not None:
            spec = {"service": ext} if isinstance(ext, str) else ext
            if _remote(str(spec.get("file") or "")):
                raise ComposeError(
                    f"{file}: services.{name}.extends.file: a remote file ({spec['file']}) "
                    "is not supported by Dockyard"
                )
            base_file = str(Path(Path(file).parent, spec["file"])) if spec.get("file") else file
            if not Path(base_file).is_file():
                raise ComposeError(f"{file}: services.{name}.extends.file: {base_file} not found")
            base = resolve(base_file, spec["service"], [*chain, key])
            if Path(base_file).parent != Path(file).parent:
                base = _rebase(base, str(Path(base_file).parent))
            svc = _merge(base, svc, "")
        done[key] = svc
        return svc

    services = data.get("services") or {}
    if not any(isinstance(v, dict) and "extends" in v for v in services.values()):
        return data
    return {**data, "services": {n: resolve(path, n, []) for n in services}}


def _include(
    data: dict[str, Any], path: str, env: Mapping[str, str], chain: list[str]
) -> dict[str, Any]:
    """``data`` (one file) with the files its ``include`` names loaded (relative to it,
    each with its own includes and extends; their relative paths rebased to their own
    directory, or ``project_directory``) and their resources added. A resource both
    define is an error naming both files, as compose-go's."""
    entries = data.pop("include", None) or []
    if not entries:
        return data
    out = dict(data)
    for i, entry in enumerate(entries):
        spec = {"path": entry} if isinstance(entry, str) else dict(entry)
        paths = spec["path"] if isinstance(spec["path"], list) else [spec["path"]]
        for rel in paths:
            if _remote(str(rel)):
                raise ComposeError(
                    f"{path}: include.{i}: a remote include ({rel}) is not supported by Dockyard"
                )
            inc = str(Path(Path(path).parent, rel).resolve())
            if inc in chain:
                raise ComposeError(
                    f"{path}: include.{i}: include cycle: {' -> '.join([*chain, inc])}"
                )
            if not Path(inc).is_file():
                raise ComposeError(f"{path}: include.{i}: {inc} not found")
            model = _include(
                _resolve_extends(_read_file(inc, env), inc, env), inc, env, [*chain, inc]
            )
            base = str(Path(Path(inc).parent, spec.get("project_directory", ".")).resolve())
            for section in ("services", "networks", "volumes", "secrets", "configs"):
                mine = dict(out.get(section) or {})
                for name, value in (model.get(section) or {}).items():
                    if name in mine:
                        raise ComposeError(
                            f"{path}: {section}.{name} conflicts with imported resource from {inc}"
                        )
                    if section == "services":
                        value = _rebase(value or {}, base)
                    elif section in ("secrets", "configs") and value and "file" in value:
                        value = {**value, "file": str(Path(base, value["file"]))}
                    mine[name] = value
                if mine:
                    out[section] = mine
    return out


def _rebase(svc: dict[str, Any], directory: str) -> dict[str, Any]:
    """A service's relative paths (build context, bind sources, env files) made absolute
    from ``directory``, for a service extended from a file elsewhere."""
    out = dict(svc)

    def absolute(p: str) -> str:
        return p if p.startswith("/") else str(Path(directory, p))

    build = out.get("build")
    if isinstance(build, str):
        out["build"] = absolute(build)
    elif isinstance(build, dict) and "context" in build:
        out["build"] = {**build, "context": absolute(str(build["context"]))}
    vols = []
    for v in out.get("volumes") or []:
        if isinstance(v, str) and v.startswith("."):
            v = absolute(v)
        elif isinstance(v, dict) and v.get("type") == "bind" and v.get("source"):
            v = {**v, "source": absolute(str(v["source"]))}
        vols.append(v)
    if "volumes" in out:
        out["volumes"] = vols
    if "env_file" in out:
        files = out["env_file"] if isinstance(out["env_file"], list) else [out["env_file"]]
        out["env_file"] = [
            absolute(f) if isinstance(f, str) else {**f, "path": absolute(str(f["path"]))}
            for f in files
        ]
    return out


def _validate(data: dict[str, Any], path: str, cache_dir: str | None = None) -> None:
    """Validate against the vendored Compose Specification schema (draft 7). Raises
    ComposeError ``validating FILE: services.web.ports.0 ...``.

    With ``cache_dir``, a model that passed once is remembered there (an empty file named
    by the SHA-256 of the schema and the pickled model: types and order count) and not
    validated again: importing jsonschema alone costs a command about 0.1 s of CPU."""
    global _schema_validator
    schema_path = Path(__file__).with_name("schema") / "compose-spec.json"
    marker = None
    if cache_dir is not None:
        import pickle

        from dockyard.digests import sha256

        # The interpreter's SHA-256 (not OpenSSL's, whose loading costs more than hashing
        # these ~100 KiB): every compose command validates.
        digest = sha256()
        digest.update(schema_path.read_bytes())
        digest.update(pickle.dumps(data, protocol=5))
        marker = os.path.join(cache_dir, digest.hexdigest())
        if os.path.exists(marker):
            return

    import jsonschema

    if _schema_validator is None:
        schema = json.loads(schema_path.read_text())
        _schema_validator = jsonschema.Draft7Validator(schema)
    error = jsonschema.exceptions.best_match(_schema_validator.iter_errors(data))
    if error is None:
        if marker is not None:
            try:
                os.makedirs(os.path.dirname(marker), mode=0o700, exist_ok=True)
                with open(marker, "x"):
                    pass
            except OSError:
                pass  # a cache: another command may have written it, or it is read-only
        return
    where = ".".join(str(p) for p in error.absolute_path)
    message = error.message
    if error.validator == "additionalProperties":
        extra = re.findall(r"'([^']+)' (?:was|were) unexpected", message) or re.findall(
            r"^'([^']+)' does not match any of the regexes", message
        )
        if extra:
            message = f"additional properties '{extra[0]}' not allowed"
    raise ComposeError(f"validating {path}: {where or '(root)'} {message}")


def _check_supported(data: dict[str, Any], path: str) -> None:
    """Refuse, by name, every key Dockyard cannot honour (never silently dropped)."""

    def refuse(key: str, why: str = "is not supported by Dockyard") -> None:
        raise ComposeError(f"{path}: {key} {why}")

    if "models" in data:
        refuse("models")
    for i, entry in enumerate(data.get("include") or []):
        if isinstance(entry, dict):
            for k in entry:
                if k not in ("path", "project_directory"):
                    refuse(f"include.{i}.{k}")
    for sname, svc in (data.get("services") or {}).items():
        for key, value in (svc or {}).items():
            if key.startswith("x-"):
                continue
            if key not in SERVICE_KEYS and key != "extends":
                refuse(f"services.{sname}.{key}")
            _check_subkeys(f"services.{sname}", key, value, refuse)
        for i, vol in enumerate(svc.get("volumes") or []):
            if isinstance(vol, dict):
                for k in vol:
                    if k not in _SERVICE_VOLUME_KEYS:
                        refuse(f"services.{sname}.volumes.{i}.{k}")
                for k, v in (vol.get("bind") or {}).items():
                    if k != "create_host_path" and v:
                        refuse(f"services.{sname}.volumes.{i}.bind.{k}")
                for k, v in (vol.get("volume") or {}).items():
                    if v and k != "nocopy":
                        refuse(f"services.{sname}.volumes.{i}.volume.{k}")
                for k, v in (vol.get("tmpfs") or {}).items():
                    if v and k != "size":
                        refuse(f"services.{sname}.volumes.{i}.tmpfs.{k}")
        for i, port in enumerate(svc.get("ports") or []):
            if isinstance(port, dict):
                for k in port:
                    if k not in _PORT_KEYS:
                        refuse(f"services.{sname}.ports.{i}.{k}")
        deps = svc.get("depends_on")
        if isinstance(deps, dict):
            for dep, spec in deps.items():
                for k in spec or {}:
                    if k not in _DEPENDS_KEYS:
                        refuse(f"services.{sname}.depends_on.{dep}.{k}")
        logging = svc.get("logging") or {}
        if logging.get("driver") not in (None, "json-file"):
            refuse(
                f"services.{sname}.logging.driver",
                f"{logging['driver']!r} is not supported by Dockyard (json-file only)",
            )
        if logging.get("options"):
            refuse(f"services.{sname}.logging.options")
        if svc.get("runtime") not in (None, "runc", "crun", "dockyard"):
            refuse(f"services.{sname}.runtime", f"{svc['runtime']!r} is not supported by Dockyard")
    for nname, net in (data.get("networks") or {}).items():
        for key, value in (net or {}).items():
            if key.startswith("x-"):
                continue
            if key not in _NETWORK_KEYS:
                refuse(f"networks.{nname}.{key}")
            if key == "attachable" and value:
                refuse(f"networks.{nname}.attachable")
            if key == "ipam":
                for k, v in value.items():
                    if k == "driver" and v not in ("default",):
                        refuse(f"networks.{nname}.ipam.driver")
                    if k not in ("driver", "config", "options"):
                        refuse(f"networks.{nname}.ipam.{k}")
                for i, cfg in enumerate(value.get("config") or []):
                    for k in cfg:
                        if k not in ("subnet", "ip_range", "gateway", "aux_addresses"):
                            refuse(f"networks.{nname}.ipam.config.{i}.{k}")
    for vname, vol in (data.get("volumes") or {}).items():
        for key in vol or {}:
            if not key.startswith("x-") and key not in _VOLUME_KEYS:
                refuse(f"volumes.{vname}.{key}")
    for kind in ("secrets", "configs"):
        for oname, obj in (data.get(kind) or {}).items():
            for key, value in (obj or {}).items():
                if key == "external" and value:
                    refuse(f"{kind}.{oname}.external")
                if key not in _FILE_OBJECT_KEYS and key != "external":
                    refuse(f"{kind}.{oname}.{key}")


def _check_subkeys(prefix: str, key: str, value: Any, refuse: Any) -> None:
    allowed = _SUBKEYS.get(key)
    if allowed is None or not isinstance(value, dict):
        return
    for k, v in value.items():
        if k.startswith("x-"):
            continue
        if k not in allowed:
            refuse(f"{prefix}.{key}.{k}")
        _check_subkeys(prefix, f"{key}.{k}", v, refuse)


# -- merging (Compose Specification, "Merge and override") ---------------------------------

_MAPPING_OR_LIST = {
    "environment",
    "labels",
    "extra_hosts",
    "ulimits",
    "args",
    "driver_opts",
    "sysctls",
}
_UNIQUE_LISTS = {"expose", "dns", "dns_search", "dns_opt", "cap_add", "cap_drop", "env_file", "security_opt", "profiles", "tmpfs", "devices"}  # fmt: skip
_REPLACED = {"command", "entrypoint", "test"}


def _as_mapping(value: Any) -> dict[str, Any]:
    """A mapping-or-list field (``environment``, ``labels``...) as a mapping; ``KEY``
    alone maps to None."""
    if isinstance(value, dict):
        return dict(value)
    out: dict[str, Any] = {}
    for item in value or []:
        text = str(item)
        sep = "=" if "=" in text or ":" not in text else ":"
        k, eq, v = text.partition(sep)
        out[k.strip() if sep == ":" else k] = (v.strip() if sep == ":" else v) if eq else None
    return out


def _merge(base: Any, over: Any, key: str) -> Any:
    """``over`` merged onto ``base`` (a later ``-f`` file onto the earlier ones)."""
    if key in _MAPPING_OR_LIST:
        return {**_as_mapping(base), **_as_mapping(over)}
    if key in _REPLACED:
        return over
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = _merge(base[k], v, k) if k in base else v
        return out
    if isinstance(base, list) and isinstance(over, list):
        if key in _UNIQUE_LISTS:
            return base + [v for v in over if v not in base]
        if key == "volumes":
            return _merge_keyed(base, over, lambda v: _volume_target(v))
        if key in ("secrets", "configs"):
            return _merge_keyed(base, over, lambda v: v if isinstance(v, str) else v.get("source"))
        if key == "ports":
            return base + [v for v in over if v not in base]
        return over
    return over


def _merge_keyed(base: list[Any], over: list[Any], keyfn: Any) -> list[Any]:
    out = {keyfn(v): v for v in base}
    for v in over:
        out[keyfn(v)] = v
    return list(out.values())


def _volume_target(v: Any) -> str:
    if isinstance(v, dict):
        return str(v.get("target"))
    parts = str(v).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


# -- normalising ---------------------------------------------------------------------------

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_DURATION_NS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}  # fmt: skip


def parse_duration(text: Any, key: str) -> int:
    """A Go duration (``1m30s``, ``500ms``; a bare number is seconds) in nanoseconds.
    Raises ComposeError naming ``key``."""
    if isinstance(text, int | float):
        return int(text * 10**9)
    s = str(text).strip()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return int(float(s) * 10**9)
    pos = 0
    total = 0.0
    for m in _DURATION.finditer(s):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_NS[m.group(2)]
        pos = m.end()
    if pos != len(s) or not s:
        raise ComposeError(f"{key}: invalid duration {s!r}")
    return int(total)


_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3, "t": 1024**4, "tb": 1024**4}  # fmt: skip


def parse_bytes(value: Any, key: str) -> int:
    """A byte size (``512m``, ``1g``, ``1048576``) in bytes (binary units, as
    go-units ``RAMInBytes``). Raises ComposeError naming ``key``."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgtb]?b?)\s*", str(value).lower())
    if not m:
        raise ComposeError(f"{key}: invalid size {value!r}")
    return int(float(m.group(1)) * _SIZE_UNITS[m.group(2)])


_BOOLEANS = ("privileged", "init", "read_only", "stdin_open", "tty")
_INTEGERS = ("scale", "pids_limit", "cpu_shares")


def _boolean(value: Any, key: str) -> bool:
    """A boolean field, which the schema also lets be a string (for interpolation), as
    Go's ``strconv.ParseBool``. Raises ComposeError naming ``key``."""
    if isinstance(value, bool):
        return value
    text = str(value)
    if text in ("1", "t", "T", "true", "TRUE", "True"):
        return True
    if text in ("0", "f", "F", "false", "FALSE", "False"):
        return False
    raise ComposeError(f"{key} must be a boolean, not {text!r}")


def _integer(value: Any, key: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ComposeError(f"{key} must be an integer, not {value!r}") from None


def _remote(path: str) -> bool:
    """Whether ``path`` names a remote resource, which Compose v2 fetches (its Git and OCI
    resource loaders: ``git@host:repo``, ``https://...``, ``oci://...``) and Dockyard
    refuses. A local path is taken wherever it is, as Compose does (a build context
    outside the project directory, ``../``, is usual and never refused)."""
    return "://" in path or path.startswith("git@")


def _inside(path: str, directory: str) -> bool:
    """Whether normalised ``path`` is ``directory`` or below it."""
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def _build(value: Any, workdir: str, env: Mapping[str, str], key: str) -> dict[str, Any]:
    """A ``build`` section in long form: the context an absolute path (a Git or URL
    context is refused), ``dockerfile`` relative to it, ``args`` and ``labels`` as
    mappings (an ``arg`` without a value takes the environment's, or is dropped)."""
    spec = {"context": value} if isinstance(value, str) else dict(value)
    context = str(spec.get("context", "."))
    if _remote(context):
        raise ComposeError(f"{key}.context: a remote build context is not supported by Dockyard")
    named = os.path.normpath(Path(workdir, os.path.expanduser(context)))
    spec["context"] = str(Path(named).resolve())
    base = str(Path(workdir).resolve())
    if _inside(named, os.path.normpath(workdir)) and not _inside(spec["context"], base):
        # A path written inside the project that a symlink leads out of: the user named a
        # project directory, not the one that would be sent (a context above the project,
        # written as such, is taken as Compose takes it).
        raise ComposeError(
            f"{key}.context: {context} leads outside the project directory through a "
            f"symbolic link (to {spec['context']}); name that directory itself to build it"
        )
    spec.setdefault("dockerfile", "Dockerfile")
    args = {}
    for k, v in _as_mapping(spec.get("args")).items():
        if v is None:
            if k in env:
                args[k] = env[k]
        else:
            args[k] = str(v)
    if "args" in spec:
        spec["args"] = args
    if "labels" in spec:
        spec["labels"] = {
            k: "" if v is None else str(v) for k, v in _as_mapping(spec["labels"]).items()
        }
    for flag in ("no_cache", "pull"):
        if flag in spec:
            spec[flag] = _boolean(spec[flag], f"{key}.{flag}")
    if "shm_size" in spec:
        parse_bytes(spec["shm_size"], f"{key}.shm_size")
    if "cache_from" in spec:
        spec["cache_from"] = [str(v) for v in spec["cache_from"] or []]
        for i, entry in enumerate(spec["cache_from"]):
            # buildx's cache entries: an image, or type=registry,ref=IMAGE; the other
            # importers read caches Dockyard never writes (its cache is in its images).
            kind = next(
                (f[5:] for f in entry.split(",") if f.strip().lower().startswith("type=")), None
            )
            if kind is None and "=" in entry:
                raise ComposeError(f'{key}.cache_from.{i}: type required form> "{entry}"')
            if kind is not None and kind.strip() != "registry":
                raise ComposeError(
                    f"{key}.cache_from.{i}: type={kind.strip()} is not supported by Dockyard "
                    "(an image, or type=registry,ref=IMAGE, is)"
                )
    if "extra_hosts" in spec:
        spec["extra_hosts"] = {
            str(h): "" if ip is None else str(ip)
            for h, ip in _as_mapping(spec["extra_hosts"]).items()
        }
    return dict(sorted(spec.items()))


def _command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shlex.split(value)
    return [str(v) for v in value]


def _environment(
    svc: dict[str, Any], workdir: str, env: Mapping[str, str], where: str
) -> dict[str, str]:
    out: dict[str, str] = {}
    env_files = svc.get("env_file") or []
    for ef in [env_files] if isinstance(env_files, str) else env_files:
        spec: dict[str, Any] = {"path": ef, "required": True} if isinstance(ef, str) else ef
        path = str(Path(workdir, str(spec["path"])))
        if not Path(path).is_file():
            if spec.get("required", True):
                raise ComposeError(f"{where}: env file {path} not found")
            continue
        out.update(read_env_file(path, env))
    for k, v in _as_mapping(svc.get("environment")).items():
        if v is None:
            if k in env:
                out[k] = env[k]
        else:
            out[k] = "" if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
    return out


def parse_port(spec: Any, key: str) -> list[dict[str, Any]]:
    """A ``ports`` entry, short (``[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTO]``)
    or long form, as long-form mappings (one per port of a range). Raises ComposeError
    naming ``key``."""
    if isinstance(spec, dict):
        entry = {
            "mode": spec.get("mode", "ingress"),
            "host_ip": spec.get("host_ip"),
            "target": int(spec["target"]),
            "published": str(spec["published"])
            if spec.get("published") not in (None, "")
            else None,
            "protocol": spec.get("protocol", "tcp"),
        }
        return [{k: v for k, v in entry.items() if v is not None}]
    text = str(spec)
    proto = "tcp"
    if "/" in text:
        text, proto = text.rsplit("/", 1)
    host_ip = None
    m = re.fullmatch(r"(?:(\[[0-9a-fA-F:]+\]|[0-9.]+|[^:]*):)?(?:([0-9-]*):)?([0-9-]+)", text)
    if not m:
        raise ComposeError(f"{key}: invalid port {spec!r}")
    if m.group(2) is None and m.group(1) is not None:
        host, container = m.group(1), m.group(3)
    else:
        host_ip = (m.group(1) or "").strip("[]") or None
        host, container = m.group(2) or "", m.group(3)
    try:
        c_lo, _, c_hi = container.partition("-")
        targets = list(range(int(c_lo), int(c_hi or c_lo) + 1))
        if host:
            h_lo, _, h_hi = host.partition("-")
            hosts: list[str | None] = [str(p) for p in range(int(h_lo), int(h_hi or h_lo) + 1)]
        else:
            hosts = [None] * len(targets)
    except ValueError:
        raise ComposeError(f"{key}: invalid port {spec!r}") from None
    if len(hosts) == 1 and len(targets) > 1:
        hosts = hosts * len(targets)
    if len(hosts) != len(targets) or proto not in ("tcp", "udp", "sctp"):
        raise ComposeError(f"{key}: invalid port {spec!r}")
    out = []
    for h, t in zip(hosts, targets, strict=True):
        entry = {
            "mode": "ingress",
            "host_ip": host_ip,
            "target": t,
            "published": h,
            "protocol": proto,
        }
        out.append({k: v for k, v in entry.items() if v is not None})
    return out


def parse_device(spec: Any, key: str) -> dict[str, str]:
    """A ``devices`` entry, short (``HOST[:CONTAINER[:PERMISSIONS]]``) or long form, as
    ``{source, target, permissions}`` (compose-go's ``DeviceMapping``; permissions
    ``rwm`` by default). A CDI device name is refused naming ``key``."""
    if isinstance(spec, dict):
        parts = [str(spec["source"]), str(spec.get("target") or spec["source"])]
        parts.append(str(spec.get("permissions") or "rwm"))
    else:
        parts = str(spec).split(":")
        if len(parts) > 3 or not parts[0]:
            raise ComposeError(f"{key}: invalid device {spec!r}")
        parts += [parts[0], "rwm"][len(parts) - 1 :]
    if not parts[0].startswith("/"):
        raise ComposeError(
            f"{key}: {parts[0]!r}: CDI devices are not supported by Dockyard (a host path is)"
        )
    if not parts[2] or set(parts[2]) - set("rwm"):
        raise ComposeError(f"{key}: invalid device permissions {parts[2]!r}")
    return {"source": parts[0], "target": parts[1], "permissions": parts[2]}


def parse_volume(spec: Any, workdir: str, key: str) -> dict[str, Any]:
    """A service ``volumes`` entry, short (``[SOURCE:]TARGET[:MODE]``) or long form, as
    a long-form mapping; relative bind sources resolved against ``workdir``."""
    if isinstance(spec, dict):
        vol = dict(spec)
    else:
        parts = str(spec).split(":")
        mode = ""
        if len(parts) == 3:
            mode = parts.pop()
        if len(parts) == 1:
            vol = {"type": "volume", "target": parts[0]}
        elif len(parts) == 2 and parts[1] in ("ro", "rw", "z", "Z"):
            vol = {"type": "volume", "target": parts[0]}
            mode = parts[1]
        elif len(parts) == 2:
            src = parts[0]
            is_path = src.startswith((".", "/", "~"))
            vol = {"type": "bind" if is_path else "volume", "source": src, "target": parts[1]}
            if is_path:
                vol["bind"] = {"create_host_path": True}
        else:
            raise ComposeError(f"{key}: invalid volume specification {spec!r}")
        for m in mode.split(","):
            if m == "ro":
                vol["read_only"] = True
            elif m not in ("", "rw"):
                raise ComposeError(f"{key}: volume mode {m!r} is not supported by Dockyard")
    if vol.get("type") == "bind" and vol.get("source"):
        src = os.path.expanduser(str(vol["source"]))
        vol["source"] = str(Path(workdir, src)) if not src.startswith("/") else src
    if vol.get("type") not in ("bind", "volume", "tmpfs"):
        raise ComposeError(f"{key}: volume type {vol.get('type')!r} is not supported by Dockyard")
    return vol


def _normalize_service(
    name: str, svc: dict[str, Any], workdir: str, env: Mapping[str, str], where: str
) -> dict[str, Any]:
    """A merged service in normal form (what ``config`` prints and the config hash covers)."""
    key = f"services.{name}"
    out: dict[str, Any] = {}
    for k, v in svc.items():
        if k.startswith("x-") or k == "env_file":
            continue
        out[k] = v
    for k in _BOOLEANS:
        if k in out:
            out[k] = _boolean(out[k], f"{where}: {key}.{k}")
    for k in _INTEGERS:
        if k in out:
            out[k] = _integer(out[k], f"{where}: {key}.{k}")
    if "build" in out:
        out["build"] = _build(out["build"], workdir, env, f"{where}: {key}.build")
    if "image" not in out and "build" not in out:
        raise ComposeError(
            f"{where}: service {name!r} has neither an image nor a build context specified: invalid compose project"
        )
    for k in ("command", "entrypoint"):
        if k in out:
            out[k] = _command(out[k])
    if "environment" in svc or "env_file" in svc:
        try:
            out["environment"] = _environment(svc, workdir, env, where)
        except ComposeError as e:
            raise ComposeError(f"{where}: {key}.env_file: {e}") from None
    if "sysctls" in out:
        out["sysctls"] = {
            str(a): "" if b is None else str(b).lower() if isinstance(b, bool) else str(b)
            for a, b in _as_mapping(out["sysctls"]).items()
        }
    if "shm_size" in out:
        parse_bytes(out["shm_size"], f"{where}: {key}.shm_size")
    if "devices" in out:
        out["devices"] = [
            parse_device(d, f"{where}: {key}.devices.{i}") for i, d in enumerate(out["devices"])
        ]
    for k in ("labels", "extra_hosts"):
        if k in out:
            out[k] = {str(a): "" if b is None else str(b) for a, b in _as_mapping(out[k]).items()}
    if "ports" in out:
        out["ports"] = [
            p
            for i, s in enumerate(out["ports"])
            for p in parse_port(s, f"{where}: {key}.ports.{i}")
        ]
    if "expose" in out:
        out["expose"] = [str(e) for e in out["expose"]]
    if "volumes" in out:
        out["volumes"] = [
            parse_volume(v, workdir, f"{where}: {key}.volumes.{i}")
            for i, v in enumerate(out["volumes"])
        ]
    if "tmpfs" in out and isinstance(out["tmpfs"], str):
        out["tmpfs"] = [out["tmpfs"]]
    if isinstance(out.get("dns"), str):
        out["dns"] = [out["dns"]]
    if isinstance(out.get("dns_search"), str):
        out["dns_search"] = [out["dns_search"]]
    if "networks" in out:
        nets = out["networks"]
        out["networks"] = {n: None for n in nets} if isinstance(nets, list) else dict(nets)
    elif "network_mode" not in out:
        out["networks"] = {"default": None}
    if "network_mode" in out and "networks" in svc:
        raise ComposeError(f"{where}: {key}: network_mode and networks cannot be combined")
    deps = out.get("depends_on")
    if deps is not None:
        if isinstance(deps, list):
            deps = {d: None for d in deps}
        out["depends_on"] = {
            d: {
                "condition": (spec or {}).get("condition", "service_started"),
                "required": bool((spec or {}).get("required", True)),
                "restart": bool((spec or {}).get("restart", False)),
            }
            for d, spec in deps.items()
        }
    for k in ("stop_grace_period",):
        if k in out:
            parse_duration(out[k], f"{where}: {key}.{k}")
    hc = out.get("healthcheck")
    if hc:
        for k in ("interval", "timeout", "start_period", "start_interval"):
            if k in hc:
                parse_duration(hc[k], f"{where}: {key}.healthcheck.{k}")
    if "ulimits" in out:
        out["ulimits"] = {
            u: (
                {"soft": int(v), "hard": int(v)}
                if not isinstance(v, dict)
                else {"soft": int(v["soft"]), "hard": int(v["hard"])}
            )
            for u, v in out["ulimits"].items()
        }
    for i, ref in enumerate(out.get("secrets") or []):
        out["secrets"][i] = {"source": ref} if isinstance(ref, str) else dict(ref)
    for i, ref in enumerate(out.get("configs") or []):
        out["configs"][i] = {"source": ref} if isinstance(ref, str) else dict(ref)
    if "scale" in out:
        out["scale"] = int(out["scale"])
        if out["scale"] < 0:
            raise ComposeError(f"{where}: {key}.scale: must be greater than or equal to 0")
    replicas = (out.get("deploy") or {}).get("replicas")
    if replicas is not None:
        out["scale"] = int(replicas)
        if out["scale"] < 0:
            raise ComposeError(
                f"{where}: {key}.deploy.replicas: must be greater than or equal to 0"
            )
    return dict(sorted(out.items()))


def _resolve_resources(project: Project, merged: dict[str, Any], where: str) -> None:
    """Top-level networks, volumes, secrets and configs, normalised; every reference from
    an enabled service checked; dependency cycles refused."""
    top_nets = {k: dict(v or {}) for k, v in (merged.get("networks") or {}).items()}
    used_nets = {n for s in project.services.values() for n in (s.get("networks") or {})}
    if "default" in used_nets:
        top_nets.setdefault("default", {})
    for n, net in top_nets.items():
        if net.get("external"):
            net["name"] = net.get("name") or n
        else:
            net["name"] = net.get("name") or f"{project.name}_{n}"
    top_vols = {k: dict(v or {}) for k, v in (merged.get("volumes") or {}).items()}
    for v, vol in top_vols.items():
        if vol.get("external"):
            vol["name"] = vol.get("name") or v
        else:
            vol["name"] = vol.get("name") or f"{project.name}_{v}"
    for kind in ("secrets", "configs"):
        objs = {k: dict(v or {}) for k, v in (merged.get(kind) or {}).items()}
        for oname, obj in objs.items():
            if "file" in obj:
                obj["file"] = str(Path(project.working_dir, obj["file"]))
            elif "environment" not in obj and "content" not in obj:
                raise ComposeError(
                    f"{where}: {kind}.{oname}: a file, environment or content source is required"
                )
            obj.setdefault("name", f"{project.name}_{oname}")
        setattr(project, kind, objs)
    for sname, svc in project.services.items():
        for n in svc.get("networks") or {}:
            if n not in top_nets:
                raise ComposeError(
                    f"{where}: service {sname!r} refers to undefined network {n}: invalid compose project"
                )
        for i, vol in enumerate(svc.get("volumes") or []):
            src = vol.get("source")
            if vol["type"] == "volume" and src and src not in top_vols:
                raise ComposeError(
                    f"{where}: service {sname!r} refers to undefined volume {src}: invalid compose project (services.{sname}.volumes.{i})"
                )
        for kind in ("secrets", "configs"):
            for ref in svc.get(kind) or []:
                if ref["source"] not in getattr(project, kind):
                    raise ComposeError(
                        f"{where}: service {sname!r} refers to undefined {kind[:-1]} {ref['source']}: invalid compose project"
                    )
        for dep, spec in (svc.get("depends_on") or {}).items():
            if dep not in project.services and (dep not in project.disabled or spec["required"]):
                if dep in project.disabled:
                    raise ComposeError(
                        f"{where}: service {sname!r} depends on service {dep!r} which is disabled by its profiles"
                    )
                raise ComposeError(
                    f"{where}: service {sname!r} depends on undefined service {dep!r}: invalid compose project"
                )
        for k in ("network_mode", "ipc", "pid"):
            mode = str(svc.get(k) or "")
            if mode.startswith("service:") and mode[8:] not in project.services:
                raise ComposeError(
                    f"{where}: service {sname!r} uses {k} of undefined service {mode[8:]!r}"
                )
    dependency_order(project.services, where)
    project.networks = {n: v for n, v in top_nets.items() if n in used_nets}
    project.volumes = top_vols


def service_references(svc: Mapping[str, Any]) -> list[str]:
    """The services ``svc`` shares a namespace with: ``network_mode``, ``ipc`` and ``pid``
    of the form ``service:NAME`` (compose-go's ``GetDependencies`` counts them too)."""
    out = []
    for k in ("network_mode", "ipc", "pid"):
        mode = str(svc.get(k) or "")
        if mode.startswith("service:"):
            out.append(mode[8:])
    return out


def dependency_order(services: Mapping[str, dict[str, Any]], where: str = "") -> list[str]:
    """Service names, each after the services it depends on (``depends_on``, and
    ``network_mode: service:X``), ties in name order. Raises ComposeError naming the cycle
    (``dependency cycle detected: a -> b -> a``)."""
    order: list[str] = []
    state: dict[str, int] = {}

    def deps(s: str) -> list[str]:
        svc = services[s]
        out = [d for d in (svc.get("depends_on") or {}) if d in services]
        out += [d for d in service_references(svc) if d in services]
        return sorted(set(out))

    def visit(s: str, chain: list[str]) -> None:
        if state.get(s) == 2:
            return
        if state.get(s) == 1:
            cycle = chain[chain.index(s) :] + [s]
            prefix = f"{where}: " if where else ""
            raise ComposeError(f"{prefix}dependency cycle detected: {' -> '.join(cycle)}")
        state[s] = 1
        for d in deps(s):
            visit(d, chain + [s])
        state[s] = 2
        order.append(s)

    for s in sorted(services):
        visit(s, [])
    return order
