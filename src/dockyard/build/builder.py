"""The Dockerfile builder: stages run step by step into images, with the layer cache.

Spec: the Dockerfile reference (each instruction), the classic builder's output (``Step 2/5 :
RUN ...``, `` ---> Using cache``), BuildKit's history texts (``RUN /bin/sh -c ... #
buildkit``, ``ENV A=b``) and its stage pruning (only the target stage and the stages it
needs are built).

Every step makes an image in the store (as the classic builder's intermediate images), so
the cache (``dockyard.build.cache``) can map a step's key to the image it made. Steps that
change files (RUN, COPY, ADD, a WORKDIR that creates its directory) run over an overlay of
the current layers with a fresh upper directory, which becomes the step's layer; the other
steps add a history entry with ``empty_layer``. Tags are moved only after the whole build
succeeded.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import time
from collections.abc import Callable, Iterator

from dockyard import reference
from dockyard.build import instructions as ins
from dockyard.build.cache import CACHE_FIELD, BuildCache, CacheSource, cache_key
from dockyard.errors import DockyardError, InvalidArgument, NotFound, RuntimeFailure
from dockyard.image.store import MEDIA_LAYER, Image, ImageStore
from dockyard.paths import Paths
from dockyard.record import dataclass, field

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any, BinaryIO

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BuildError(DockyardError):
    """A build step failed; the CLI prints the message and exits 1. ``run_code``: the
    exit status of the RUN that failed (the API's errorDetail ``code``), 0 for others."""

    exit_code = 1

    def __init__(self, message: str, run_code: int = 0) -> None:
        super().__init__(message)
        self.run_code = run_code


@dataclass
class BuildOptions:
    """What ``docker build`` asks for: the Dockerfile ``text`` and its ``filename``; the
    ``context`` (a ``dockyard.build.context.Context``; None or one without a root: no
    files, as ``docker build -``); ``tags`` (references to point at the result); ``build_args``; ``target``
    stage; ``no_cache``; extra ``labels``; ``network`` for RUN (default, host, none, or the
    ID of a user-defined network: the classic builder's ``networkmode``); ``pull``
    (``--pull``: fetch every ``FROM`` image again, through the builder's ``fetch``);
    ``host_config``: resource limits and settings of the RUN containers (not part of the
    cache key, as the classic builder's); ``cache_from``: images whose cache records
    steps may be taken from (``--cache-from``, references as given), and with
    ``cache_from_only`` (the API's classic builder) steps are taken only from them."""

    text: str
    filename: str = "Dockerfile"
    context: Any = None
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    network: str = "default"
    pull: bool = False
    #: HostConfig fields of the RUN containers (``run_step.RunRequest.host_config``).
    host_config: dict[str, Any] = field(default_factory=dict)
    #: ``--secret`` contents by ID, for ``RUN --mount=type=secret`` (never cached).
    secrets: dict[str, bytes] = field(default_factory=dict)
    #: ``--ssh`` agent sockets by ID, for ``RUN --mount=type=ssh``.
    ssh: dict[str, str] = field(default_factory=dict)
    cache_from: list[str] = field(default_factory=list)
    cache_from_only: bool = False


@dataclass
class _State:
    """The image a stage has built so far."""

    image_id: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    diff_ids: list[str] = field(default_factory=list)
    layers: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    author: str = ""
    args: dict[str, str | None] = field(default_factory=dict)
    cmd_set: bool = False
    #: ``created_by`` of the metadata steps folded into ``history`` since ``image_id``.
    pending: list[str] = field(default_factory=list)
    #: The key of the last step (the base image's ID before the first): the next key's
    #: first input. Unlike ``image_id`` it is the same on every machine.
    chain: str = ""
    #: The cache records of the image (``cache.CACHE_FIELD``) from this build's steps.
    records: list[list[Any]] = field(default_factory=list)
    _env: dict[str, str] = field(default_factory=dict)
    _env_src: Any = None  # the Env list ``_env`` was made from (held, so never reused)
    _env_len: int = 0
    _env_keys: set[str] = field(default_factory=set)

    @classmethod
    def of(cls, image: Image) -> _State:
        cfg = image.config
        return cls(
            image_id=image.id,
            chain=image.id,
            config=json.loads(json.dumps(cfg.get("config") or {})),
            diff_ids=image.diff_ids,
            layers=list(image.manifest.get("layers") or []),
            history=list(cfg.get("history") or []),
            author=str(cfg.get("author") or ""),
        )

    @property
    def shell(self) -> list[str]:
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def set_arg(self, key: str, value: str | None) -> None:
        """Declare build argument ``key`` (ARG) for the rest of the stage."""
        self.args[key] = value
        if self._env_src is not None and key not in self._env_keys:
            if value is None:
                self._env.pop(key, None)
            else:
                self._env[key] = value

    def env(self) -> dict[str, str]:
        """Variables for word expansion: the stage's ARGs, then ENV (ENV wins). Kept
        between steps until an ARG or the Env list changes (rebuilt at each step, 100,000
        ARGs took quadratic time). The caller must not change the mapping."""
        env_list = self.config.get("Env") or []
        if self._env_src is not env_list or self._env_len != len(env_list):
            out = {k: v for k, v in self.args.items() if v is not None}
            keys = set()
            for entry in env_list:
                key, _, value = entry.partition("=")
                out[key] = value
                keys.add(key)
            self._env, self._env_keys = out, keys
            self._env_src, self._env_len = env_list, len(env_list)
        return self._env


def short(image_id: str) -> str:
    """The 12-hex short form of an image or container ID."""
    return image_id.removeprefix("sha256:")[:12]


class Builder:
    """One ``docker build``: ``store`` is the image store (its DB holds the cache),
    ``out`` gets each output line (without newline), ``raw`` the RUN output bytes, its
    standard error too unless ``raw_err`` takes it (called from another thread)."""

    def __init__(
        self,
        paths: Paths,
        store: ImageStore,
        options: BuildOptions,
        out: Callable[[str], None],
        raw: Callable[[bytes], None],
        fetch: Callable[[str], None] | None = None,
        import_cache: Callable[[str], CacheSource] | None = None,
        raw_err: Callable[[bytes], None] | None = None,
    ) -> None:
        self.paths = paths
        self.raw_err = raw_err
        # Pulls an image by name (the front end's registry client); None: local images only.
        self.fetch = fetch
        # Reads a --cache-from image that is not here from its registry; None: local only.
        self.import_cache = import_cache
        self.sources: list[CacheSource] = []
        self.store = store
        self.opts = options
        self.out = out
        self.raw = raw
        self.cache = BuildCache(store.db)
        self.consumed: set[str] = set()
        # Set while dispatching a metadata step of a long run (_folded_steps): its
        # history entry is kept and committed with the last step of the run.
        self._fold = False
        self.step = 0
        self.total = 0
        self.stage_results: dict[int, _State] = {}
        self.df: ins.Dockerfile | None = None
        self.declared_globals: set[str] = set()
        # The layers (and their blobs) the build's states stand on, pinned until it ends:
        # a removal of the base image or of a step's image meanwhile leaves them (the
        # running step's lower directories, the next image's layers), as BuildKit's lease.
        self.pins = store.pins()
        # Image ID -> (layer blobs, diff ids) of each image whose layers were pinned.
        self.relied: dict[str, tuple[list[str], list[str]]] = {}

    # -- the build ----------------------------------------------------------------------

    def build(self) -> Image:
        """Run the build; returns the final image (tagged). Raises ``DockerfileError`` for
        a bad Dockerfile, ``BuildError`` for a failed step, ``InvalidArgument``/``NotFound``
        for bad options or a missing base image; on failure no tag is moved."""
        opts = self.opts
        refs = [_tag_ref(t) for t in opts.tags]
        df = self.df = ins.parse_dockerfile(opts.text, opts.filename)
        self.declared_globals = {k for a in df.args_before_from for k, _ in a.pairs}
        for parse_warning in df.warnings:
            self.out(parse_warning)
        try:
            return self._build(opts, refs, df)
        finally:
            self.pins.release()
            self._discard_unused()

    def _discard_unused(self) -> None:
        """Remove what the build pinned of images removed meanwhile that no image uses
        (a removal skipped it), as a failed pull does, so that nothing stays behind."""
        ids = list(self.relied)
        if not ids:
            return
        marks = ", ".join("?" * len(ids))
        rows = self.store.db.query(f"SELECT id FROM images WHERE id IN ({marks})", tuple(ids))
        if len(rows) == len(ids):
            return  # the common case: every image is still here, and uses its layers
        blobs = [b for bs, _ in self.relied.values() for b in bs]
        diff_ids = [d for _, ds in self.relied.values() for d in ds]
        self.store.discard_unreferenced(blobs, diff_ids)

    def _build(
        self, opts: BuildOptions, refs: list[reference.Reference], df: ins.Dockerfile
    ) -> Image:
        if not opts.no_cache:
            self.sources = [s for s in map(self._cache_source, opts.cache_from) if s]
        if not df.stages:
            raise BuildError("the Dockerfile has no FROM instruction")
        if opts.target:
            try:
                target = df.stage(opts.target)
            except KeyError:
                raise InvalidArgument(
                    f"failed to reach build target {opts.target} in Dockerfile"
                ) from None
        else:
            target = df.stages[-1]
        globals_ = ins.global_args(df.args_before_from, opts.build_args, self.consumed)
        needed = self._needed(df, target.index, globals_)
        stages = [s for s in df.stages if s.index in needed]
        self.total = sum(1 + len(s.instructions) for s in stages) + (1 if opts.labels else 0)
        state = _State()
        for stage in stages:
            state = self._run_stage(df, stage, globals_, stage is target)
            self.stage_results[stage.index] = state
            if stage is target:
                break
        warning = ins.unused_build_args_warning(dict(opts.build_args), self.consumed)
        if warning:
            self.out(warning)
        if not state.image_id:
            raise BuildError("No image was generated. Is your Dockerfile empty?")
        image = self.store.get(state.image_id)
        self.out(f"Successfully built {short(image.id)}")
        for ref in refs:
            self.store.tag(image.id, ref)
            self.out(f"Successfully tagged {ref.familiar()}")
        return image

    def _needed(self, df: ins.Dockerfile, target: int, globals_: dict[str, str]) -> set[int]:
        """Indexes of the stages the target stage depends on (FROM, COPY --from)."""
        names = {s.name: s.index for s in df.stages if s.name}

        def ref(word: str, before: int) -> int | None:
            word = word.lower()
            if word in names and names[word] < before:
                return names[word]
            if word.isdecimal() and int(word) < before:
                return int(word)
            return None

        needed: set[int] = set()
        todo = [target]
        while todo:
            index = todo.pop()
            if index in needed:
                continue
            needed.add(index)
            stage = df.stages[index]
            base = ins.expand_instruction(stage.from_, globals_, df.escape)
            deps = [ref(base.base, index)]  # type: ignore[attr-defined]
            deps += [ref(i.from_, index) for i in stage.instructions if isinstance(i, ins.Copy)]
            todo.extend(d for d in deps if d is not None)
        return needed

    def _announce(self, instr: ins.Instruction) -> None:
        self.step += 1
        self.out(f"Step {self.step}/{self.total} : {instr.original}")

    def _run_stage(
        self, df: ins.Dockerfile, stage: ins.Stage, globals_: dict[str, str], is_target: bool
    ) -> _State:
        from dockyard.image.create import check_platform

        frm = ins.expand_instruction(stage.from_, globals_, df.escape)
        assert isinstance(frm, ins.From)
        self._announce(stage.from_)
        check_platform(frm.platform)
        state = self._base(frm.base, stage.index)
        self.out(f" ---> {short(state.image_id)}" if state.image_id else " ---> scratch")
        triggers = list(state.config.get("OnBuild") or [])
        if triggers:
            state.config["OnBuild"] = None
            word = "trigger" if len(triggers) == 1 else "triggers"
            self.out(f"# Executing {len(triggers)} build {word}")
            text = "FROM scratch\n" + "\n".join(triggers)
            for trigger in ins.parse_dockerfile(text, df.filename).stages[0].instructions:
                self._dispatch(df, trigger, state, globals_)
        body = list(stage.instructions)
        if is_target and self.opts.labels:
            pairs = sorted(self.opts.labels.items())
            text = "LABEL " + " ".join(f"{json.dumps(k)}={json.dumps(v)}" for k, v in pairs)
            body.append(ins.Label(name="label", original=text, pairs=pairs))
        folded = _folded_steps(body)
        for i, instr in enumerate(body):
            self._announce(instr)
            self._fold = i in folded
            try:
                self._dispatch(df, instr, state, globals_)
            finally:
                self._fold = False
        return state

    def _base(self, name: str, index: int) -> _State:
        """The starting state of a stage ``FROM name``."""
        if name.lower() == "scratch":
            return _State()
        for stage_index, result in self.stage_results.items():
            stage = self.df.stages[stage_index] if self.df else None
            if (
                stage is not None
                and stage_index < index
                and name.lower()
                in (
                    stage.name,
                    str(stage_index),
                )
            ):
                state = self._state_of(self.store.get(result.image_id))
                state.chain, state.records = result.chain, list(result.records)
                return state
        return self._state_of(self._image(name))

    def _state_of(self, image: Image) -> _State:
        """``_State.of(image)`` with the image's layers and layer blobs pinned in
        ``self.pins`` until the build ends. Raises ``NotFound`` when the image was
        removed before they were pinned."""
        from dockyard.snapshot import LayerStore

        state = _State.of(image)
        blobs = [str(d.get("digest")) for d in state.layers]
        for digest in [*blobs, *state.diff_ids]:
            self.pins.hold(digest)
        self.relied[image.id] = (blobs, list(state.diff_ids))
        layers = LayerStore(self.paths)
        if not all(map(layers.exists, state.diff_ids)) or not all(
            map(self.store.content.exists, blobs)
        ):
            raise NotFound(f"No such image: {image.id} (removed while the build took it)")
        return state

    def _cache_source(self, name: str) -> CacheSource | None:
        """The ``--cache-from`` image ``name``: a local image, else (with
        ``import_cache``) the registry's. A missing or unreadable one is a warning and
        no source, as BuildKit's failed cache import."""
        try:
            image = self.store.resolve(name)
        except NotFound as e:
            if self.import_cache is None:
                self.out(f"WARNING: importing cache manifest from {name}: {e}")
                return None
        else:
            return CacheSource(name, image.config, image.manifest)
        try:
            return self.import_cache(name)
        except DockyardError as e:
            self.out(f"WARNING: importing cache manifest from {name}: {e}")
            return None

    def _image(self, name: str) -> Image:
        if self.fetch is not None and self.opts.pull:
            self._fetch(name)
        try:
            return self.store.resolve(name)
        except NotFound:
            if self.fetch is not None and not self.opts.pull:
                self._fetch(name)
                return self.store.resolve(name)
            raise NotFound(
                f"pull access denied for {name}, repository does not exist or may require "
                f"'docker login' (no such image in the local store: {name})"
            ) from None

    def _fetch(self, name: str) -> None:
        """Pull ``name``; an error names the image as BuildKit's does."""
        assert self.fetch is not None
        try:
            self.fetch(name)
        except DockyardError as e:
            try:
                shown = str(reference.parse(name))
            except DockyardError:
                shown = name
            raise DockyardError(f"failed to resolve source metadata for {shown}: {e}") from None

    # -- steps --------------------------------------------------------------------------

    def _dispatch(
        self, df: ins.Dockerfile, raw: ins.Instruction, state: _State, globals_: dict[str, str]
    ) -> None:
        if isinstance(raw, ins.Onbuild):
            meta = state.config.setdefault("OnBuild", None) or []
            state.config["OnBuild"] = [*meta, raw.expression]
            self._meta(state, f"ONBUILD {raw.expression}")
            return
        instr = ins.expand_instruction(raw, state.env(), df.escape)
        cfg = state.config
        if isinstance(instr, ins.Run):
            self._run(instr, state)
        elif isinstance(instr, (ins.Copy, ins.Add)):
            self._copy(instr, state)
        elif isinstance(instr, ins.Workdir):
            path = os.path.normpath(os.path.join(cfg.get("WorkingDir") or "/", instr.path))
            cfg["WorkingDir"] = path
            self._workdir(state, path)
        elif isinstance(instr, ins.Arg):
            for key, default in instr.pairs:
                self.consumed.add(key)
                value = ins.declare_arg(
                    key, default, self.opts.build_args, globals_, self.declared_globals
                )
                state.set_arg(key, value)
            text = " ".join(k if v is None else f"{k}={v}" for k, v in instr.pairs)
            self._meta(state, f"ARG {text}")
        elif isinstance(instr, ins.Env):
            env = list(cfg.get("Env") or [])
            for key, value in instr.pairs:
                env = [e for e in env if e.partition("=")[0] != key] + [f"{key}={value}"]
            cfg["Env"] = env
            self._meta(state, "ENV " + " ".join(f"{k}={v}" for k, v in instr.pairs))
        elif isinstance(instr, ins.Label):
            labels = dict(cfg.get("Labels") or {})
            labels.update(instr.pairs)
            cfg["Labels"] = labels
            self._meta(state, "LABEL " + " ".join(f"{k}={v}" for k, v in instr.pairs))
        elif isinstance(instr, ins.Cmd):
            cfg["Cmd"] = self._command(instr, state)
            state.cmd_set = True
            self._meta(state, f"CMD {_go_list(cfg['Cmd'])}")
        elif isinstance(instr, ins.Entrypoint):
            cfg["Entrypoint"] = self._command(instr, state)
            if not state.cmd_set:
                cfg["Cmd"] = None  # an ENTRYPOINT resets the CMD inherited from the base
            self._meta(state, f"ENTRYPOINT {_go_list(cfg['Entrypoint'])}")
        elif isinstance(instr, ins.Expose):
            from dockyard.image.create import port_spec

            ports = dict(cfg.get("ExposedPorts") or {})
            new = [port_spec(p) for p in instr.ports]
            ports.update({p: {} for p in new})
            cfg["ExposedPorts"] = ports
            self._meta(state, "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in sorted(ports)) + "]")
        elif isinstance(instr, ins.User):
            cfg["User"] = instr.user
            self._meta(state, f"USER {instr.user}")
        elif isinstance(instr, ins.Volume):
            vols = dict(cfg.get("Volumes") or {})
            vols.update({v: {} for v in instr.volumes})
            cfg["Volumes"] = vols
            self._meta(state, "VOLUME [" + " ".join(instr.volumes) + "]")
        elif isinstance(instr, ins.StopSignal):
            _check_signal(instr)
            cfg["StopSignal"] = instr.signal
            self._meta(state, f"STOPSIGNAL {instr.signal}")
        elif isinstance(instr, ins.Healthcheck):
            cfg["Healthcheck"] = _healthcheck(instr)
            self._meta(state, "HEALTHCHECK " + _go_list(instr.test))
        elif isinstance(instr, ins.Shell):
            cfg["Shell"] = list(instr.shell)
            self._meta(state, "SHELL [" + " ".join(instr.shell) + "]")
        elif isinstance(instr, ins.Maintainer):
            state.author = instr.maintainer
            self._meta(state, f"MAINTAINER {instr.maintainer}")
        else:  # the parser knows no other instruction
            raise BuildError(f"{instr.filename}:{instr.start_line}: unsupported {instr.name}")

    def _command(self, instr: ins.ShellDependent, state: _State) -> list[str] | None:
        if instr.command is None:
            return None
        if instr.prepend_shell:
            return [*state.shell, " ".join(instr.command)]
        return list(instr.command)

    def _meta(self, state: _State, text: str) -> None:
        """A step that changes only the config: an image with an ``empty_layer`` history
        entry, as the classic builder's; the steps of a long run of them (see
        :func:`_folded_steps`) make one image, at the run's last step."""
        from dockyard.image.create import rfc3339_nano

        if self._fold:
            state.pending.append(text)
            entry = {"created": rfc3339_nano(time.time_ns()), "created_by": text}
            state.history.append({**entry, "empty_layer": True})
            return
        created_by = text
        extra = [state.config, state.author]
        if state.pending:
            extra.append(state.pending)
        key = cache_key(state.chain, created_by, extra)
        state.pending = []
        if self._cached(key, state, created_by):
            return
        self._commit(state, created_by, None, key)

    def _cached(self, key: str, state: _State, created_by: str) -> bool:
        """Continue from the cached image for ``key`` if there is one: the local cache's,
        else one made from a ``--cache-from`` image's layers. With ``cache_from_only``
        a local image is taken only if a ``--cache-from`` image records ``key`` with the
        same layers (the classic builder takes only the cache-from images' chains)."""
        if self.opts.no_cache:
            return False
        vouching = [s for s in self.sources if key in s.records]
        if self.opts.cache_from_only and not vouching:
            return False
        image_id = self.cache.lookup(key)
        if image_id is not None:
            image = self.store.get(image_id)
            if not self.opts.cache_from_only or any(
                s.diff_ids[: s.records[key][0]] == image.diff_ids for s in vouching
            ):
                self.out(" ---> Using cache")
                self.out(f" ---> {short(image.id)}")
                fresh = self._state_of(image)
                state.image_id, state.diff_ids = fresh.image_id, fresh.diff_ids
                state.layers, state.history = fresh.layers, fresh.history
                state.config, state.author = fresh.config, fresh.author
                records = image.config.get(CACHE_FIELD)
                state.records = list(records) if isinstance(records, list) else []
                if not state.records or state.records[-1][:1] != [key]:
                    state.records.append([key, len(state.diff_ids), len(state.history)])
                state.chain = key
                return True
        return any(self._restore(source, key, state, created_by) for source in vouching)

    def _restore(self, source: CacheSource, key: str, state: _State, created_by: str) -> bool:
        """Commit the step ``key`` from the ``--cache-from`` image ``source``: the image
        it had after that step, on top of ``state`` (the classic builder's
        restoreCachedImage). Taken only when ``source`` had exactly ``state``'s layers
        and history length before the step and the step's history text is
        ``created_by``."""
        layers, entries = source.records[key]
        diff_ids, history = source.diff_ids, source.history
        descriptors = list(source.manifest.get("layers") or [])
        base = len(state.diff_ids)
        if (
            entries != len(state.history) + 1
            or entries > len(history)
            or layers not in (base, base + 1)
            or layers > len(diff_ids)
            or len(descriptors) != len(diff_ids)
            or diff_ids[:base] != state.diff_ids
        ):
            return False
        entry = dict(history[entries - 1])
        if entry.get("created_by") != created_by or bool(entry.get("empty_layer")) != (
            layers == base
        ):
            return False
        with self.store.lease():
            loaded = None  # a registry source's pins on what it fetched
            if source.load is not None:
                try:
                    loaded = source.load(base, layers)
                except DockyardError as e:
                    self.out(f"WARNING: importing cache from {source.name}: {e}")
                    return False
            try:
                # Pinned until the build ends, as the layers of its other states: the
                # next steps stand on them (a removal of the --cache-from image, or of
                # this step's image, meanwhile deletes nothing pinned).
                taken = list(zip(descriptors[base:layers], diff_ids[base:layers], strict=True))
                for desc, diff_id in taken:
                    self.pins.hold(str(desc.get("digest")))
                    self.pins.hold(diff_id)
                missing = self._missing(taken)
                if missing:  # a local image removed since the build read it
                    self.out(f"WARNING: importing cache from {source.name}: {missing} is missing")
                    return False
                self.out(" ---> Using cache")
                self._commit(
                    state,
                    created_by,
                    None,
                    key,
                    reuse=(entry, descriptors[base:layers], diff_ids[base:layers]),
                )
            finally:
                if loaded is not None:
                    loaded.release()
        return True

    def _missing(self, taken: list[tuple[dict[str, Any], str]]) -> str:
        """The first of ``taken`` (layer descriptor, diff ID) whose blob or layer is not
        stored, as ``"layer blob <digest>"`` or ``"layer <diff id>"``; "" if none is."""
        from dockyard.snapshot import LayerStore

        layers = LayerStore(self.paths)
        for desc, diff_id in taken:
            if not self.store.content.exists(str(desc.get("digest"))):
                return f"layer blob {desc.get('digest')}"
            if not layers.exists(diff_id):
                return f"layer {diff_id}"
        return ""

    def _commit(
        self,
        state: _State,
        created_by: str,
        layer: BinaryIO | None,
        key: str,
        comment: str = "",
        reuse: tuple[dict[str, Any], list[dict[str, Any]], list[str]] | None = None,
    ) -> None:
        """Store the image ``state`` describes plus ``layer`` (an uncompressed tar, or None
        for a metadata step) and continue from it; records ``key`` in the cache and in
        the image's cache records. ``reuse``: the step's history entry, layer
        descriptors and diff IDs taken from a ``--cache-from`` image (stored already)."""
        from dockyard.image.create import host_arch, manifest_for, rfc3339_nano
        from dockyard.snapshot import LayerStore

        created = rfc3339_nano(time.time_ns())
        entry: dict[str, Any] = {"created": created, "created_by": created_by}
        if comment:
            entry["comment"] = comment
        diff_ids, layers = list(state.diff_ids), list(state.layers)
        if reuse is not None:
            entry = reuse[0]
            layers += reuse[1]
            diff_ids += reuse[2]
        blobs: list[str] = []
        new_diff: list[str] = []
        made: list[str] = []
        with self.store.lease():
            writer = self.store.content.writer()
            try:
                if reuse is not None:
                    writer.abort()
                elif layer is None:
                    entry["empty_layer"] = True
                    writer.abort()
                else:
                    diff_id, size = LayerStore(self.paths).add(layer, tee=writer)  # type: ignore[arg-type]
                    new_diff.append(diff_id)
                    digest, blob_size = writer.commit(diff_id)
                    # Pinned before add() checks they are here, unpinned if it fails.
                    made = [d for d in (diff_id, digest) if self.pins.hold(d)]
                    blobs.append(digest)
                    diff_ids.append(diff_id)
                    layers.append({"mediaType": MEDIA_LAYER, "digest": digest, "size": blob_size})
                doc: dict[str, Any] = {"created": entry.get("created") or created}
                if state.author:
                    doc["author"] = state.author
                records = [*state.records, [key, len(diff_ids), len(state.history) + 1]]
                doc.update(
                    architecture=host_arch(),
                    os="linux",
                    config=state.config,
                    rootfs={"type": "layers", "diff_ids": diff_ids},
                    history=[*state.history, entry],
                )
                doc[CACHE_FIELD] = records
                config_bytes, manifest_bytes = manifest_for(doc, layers)
                image = self.store.add(manifest_bytes, config_bytes)
            except BaseException:
                writer.abort()
                if new_diff:
                    self.pins.drop(made)
                    self.store.discard_unreferenced(blobs, new_diff)
                raise
        self.relied[image.id] = ([str(d.get("digest")) for d in layers], list(diff_ids))
        self.cache.record(key, image.id, created)
        if state.image_id and state.image_id != image.id:
            self.store.set_parent(image.id, state.image_id)
        state.image_id, state.diff_ids, state.layers = image.id, diff_ids, layers
        state.history = [*state.history, entry]
        state.chain, state.records = key, records
        self.out(f" ---> {short(image.id)}")

    # -- steps with a filesystem ----------------------------------------------------------

    def _lowers(self, state: _State) -> list[str]:
        from dockyard.snapshot import LayerStore

        layers = LayerStore(self.paths)
        return [layers.path(d) for d in reversed(state.diff_ids)] or [layers.empty_dir()]

    @contextlib.contextmanager
    def _scratch_dir(self) -> Any:
        """A private directory for one step's bundle (upper, work, rootfs), removed after."""
        from dockyard.tempfiles import sweep, temp_name

        os.makedirs(self.paths.tmp, mode=0o700, exist_ok=True)
        sweep(self.paths.tmp, "build-")
        path = os.path.join(self.paths.tmp, temp_name("build-"))
        os.mkdir(path, 0o700)
        # Held while the step runs: the garbage collector leaves a locked scratch
        # directory (and the RUN container whose bundle is in it) alone.
        lock = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield path
        finally:
            from dockyard.snapshot import unmount_under

            unmount_under(path)  # a step that failed half-way may leave its rootfs mounted
            import shutil

            shutil.rmtree(path, ignore_errors=True)
            os.close(lock)

    def _layer_step(
        self, state: _State, created_by: str, key: str, change: Callable[[str], None]
    ) -> None:
        """Mount the current layers with a fresh upper dir, run ``change(rootfs)``, and
        commit the upper dir as the step's layer."""
        from dockyard.snapshot import mount_rootfs, unmount

        with self._scratch_dir() as tmp:
            upper = os.path.join(tmp, "upper")
            rootfs = os.path.join(tmp, "rootfs")
            mount_rootfs(self._lowers(state), upper, os.path.join(tmp, "work"), rootfs)
            try:
                change(rootfs)
            finally:
                unmount(rootfs)
            self._commit_upper(state, created_by, upper, key, tmp)

    def _commit_upper(self, state: _State, created_by: str, upper: str, key: str, tmp: str) -> None:
        from dockyard.snapshot.diff import layer_from_upper

        stream = layer_from_upper(upper, tmp_dir=tmp)
        try:
            self._commit(state, created_by, stream, key)
        finally:
            stream.close()

    def _workdir(self, state: _State, path: str) -> None:
        """WORKDIR: an empty-layer entry, or a layer when the directory had to be made."""
        from dockyard.snapshot import inroot, mount_rootfs, unmount

        created_by = f"WORKDIR {path}"
        key = cache_key(state.chain, created_by, [state.config])
        if self._cached(key, state, created_by):
            return
        with self._scratch_dir() as tmp:
            upper = os.path.join(tmp, "upper")
            rootfs = os.path.join(tmp, "rootfs")
            mount_rootfs(self._lowers(state), upper, os.path.join(tmp, "work"), rootfs)
            try:
                root_fd = inroot.open_root(rootfs)
                try:
                    os.close(inroot.mkdirs(root_fd, path, 0o755))
                except OSError as e:
                    raise BuildError(f"WORKDIR {path}: mkdir {path}: {e.strerror}") from None
                finally:
                    os.close(root_fd)
            finally:
                unmount(rootfs)
            if os.listdir(upper):
                self._commit_upper(state, created_by, upper, key, tmp)
            else:
                self._commit(state, created_by, None, key)

    def _run(self, instr: ins.Run, state: _State) -> None:
        from dockyard.build.run_step import RunRequest, run_in_container

        shell = state.shell
        args = [*shell, *instr.script()] if instr.prepend_shell else list(instr.command or [])
        if not args:
            raise BuildError(f"{instr.filename}:{instr.start_line}: RUN needs a command")
        env = list(state.config.get("Env") or [])
        names = {e.partition("=")[0] for e in env}
        if "PATH" not in names:
            env.insert(0, f"PATH={DEFAULT_PATH}")
        build_args = [f"{k}={v}" for k, v in state.args.items() if v is not None]
        env += [a for a in build_args if a.partition("=")[0] not in names]
        prefix = f"|{len(build_args)} {' '.join(build_args)} " if build_args else ""
        created_by = f"RUN {prefix}{' '.join(args)} # buildkit"
        network = instr.network or self.opts.network or "default"
        user_network = None
        if network not in ("default", "host", "none"):
            if instr.network:  # RUN --network, BuildKit's: these three only
                raise InvalidArgument(f"network mode {network!r} not supported by the builder")
            from dockyard.network.manager import NetworkManager

            user_network = NetworkManager(self.paths, self.store.db).get(network)
        with contextlib.ExitStack() as stack:
            mounts, mount_inputs, mount_env = self._run_mounts(instr, stack)
            key = cache_key(
                state.chain, created_by, [state.config, env, network, instr.mounts, mount_inputs]
            )
            if self._cached(key, state, created_by):
                return
            # Secrets as variables and SSH_AUTH_SOCK: this RUN's only, not in the cache key.
            env = [e for e in env if e.partition("=")[0] not in mount_env]
            env += [f"{k}={v}" for k, v in mount_env.items()]
            container_id = os.urandom(32).hex()
            self.out(f" ---> Running in {container_id[:12]}")
            stack.enter_context(_step_lock(self.paths, container_id))
            netns = ""
            if network == "default" or user_network is not None:
                from dockyard.network.manager import NetworkManager

                nets = NetworkManager(self.paths, self.store.db)
                netns = stack.enter_context(
                    nets.sandbox(container_id, user_network.id if user_network else "bridge")
                )
            if user_network is not None:
                self._serve_dns(stack, container_id, netns)
            request = RunRequest(
                args=args,
                env=env,
                cwd=state.config.get("WorkingDir") or "/",
                user=state.config.get("User") or "",
                network="default" if user_network is not None else network,
                internal_dns=user_network is not None,
                netns=netns,
                mounts=mounts,
                host_config=self.opts.host_config,
            )
            tmp = stack.enter_context(self._scratch_dir())
            upper = os.path.join(tmp, "upper")
            rootfs = os.path.join(tmp, "bundle", "rootfs")
            os.makedirs(os.path.dirname(rootfs))
            try:
                code = run_in_container(
                    self.paths,
                    container_id,
                    self._lowers(state),
                    upper,
                    os.path.join(tmp, "work"),
                    rootfs,
                    request,
                    self.raw,
                    self.raw_err,
                )
            except RuntimeFailure as e:  # not found / not executable: the shell's codes
                self.out(str(e))
                code = e.exit_code
            if code != 0:
                raise BuildError(
                    f"The command '{' '.join(args)}' returned a non-zero code: {code}", code
                )
            self.out(f"Removing intermediate container {container_id[:12]}")
            self._commit_upper(state, created_by, upper, key, tmp)

    def _serve_dns(self, stack: contextlib.ExitStack, sandbox_id: str, netns: str) -> None:
        """The embedded DNS (127.0.0.11) of a RUN on a user-defined network, in its
        namespace ``netns``, served by threads of this process until ``stack`` closes:
        the network's containers by name and alias, as a container there resolves them."""
        from dockyard.network.dns import DnsServer, NetworkNames
        from dockyard.network.manager import NetworkManager
        from dockyard.network.services import upstream_servers

        nets = NetworkManager(self.paths, self.store.db)
        names = NetworkNames(self.store.db.path, sandbox_id)
        server = DnsServer(
            names.lookup,
            upstream_servers(self.opts.host_config, nets.endpoints(sandbox_id)),
            reverse=names.reverse,
        )
        server.bind(netns)
        stack.callback(server.close)
        server.start()

    def _run_mounts(
        self, instr: ins.Run, stack: contextlib.ExitStack
    ) -> tuple[list[dict[str, Any]], list[str], dict[str, str]]:
        """OCI mounts for ``RUN --mount`` (BuildKit's ``type=cache``, ``tmpfs``, ``bind``
        from the build context, ``secret`` and ``ssh``), the cache-key inputs they add
        (bind sources' content hashes) and the variables they set for the RUN (a secret's
        ``env=``, ``SSH_AUTH_SOCK``). A ``rw`` bind gets a private copy, so writes are
        discarded as BuildKit does. Raises ``BuildError`` for other types or options."""
        mounts: list[dict[str, Any]] = []
        inputs: list[str] = []
        env: dict[str, str] = {}
        where = f"{instr.filename}:{instr.start_line}"
        for text in instr.mounts:
            fields: dict[str, str] = {}
            for part in text.split(","):
                key, eq, value = part.partition("=")
                fields[key.strip().lower()] = value if eq else "true"
            kind = fields.pop("type", "bind")
            if kind in ("secret", "ssh"):
                found = self._session_mount(
                    kind, fields, len(mounts), stack, f"{where}: RUN --mount={text}"
                )
                if found is not None:
                    mount, variables = found
                    if mount:
                        mounts.append(mount)
                    env.update((k, v) for k, v in variables.items() if k not in env)
                continue
            if kind not in ("cache", "tmpfs", "bind") or (kind == "bind" and "from" in fields):
                raise BuildError(f"{where}: RUN --mount={text}: not supported by this builder")
            target = fields.get("target") or fields.get("dst") or fields.get("destination")
            if not target:
                raise BuildError(f"{where}: RUN --mount={text}: target is required")
            target = os.path.normpath(os.path.join("/", target))
            readonly = fields.get("readonly", fields.get("ro", "false")) == "true"
            if kind == "cache":
                name = fields.get("id") or target
                import hashlib

                source = os.path.join(
                    self.paths.root, "build-cache", hashlib.sha256(name.encode()).hexdigest()
                )
                os.makedirs(source, mode=0o755, exist_ok=True)
                options = ["rbind", "rprivate", "ro" if readonly else "rw"]
                mounts.append(
                    {"destination": target, "type": "bind", "source": source, "options": options}
                )
            elif kind == "tmpfs":
                size = fields.get("size")
                options = ["nosuid", "nodev"] + ([f"size={size}"] if size else [])
                mounts.append(
                    {"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options}
                )
            else:
                ctx = self.opts.context
                if ctx is None or ctx.root is None:
                    raise BuildError(f"{where}: RUN --mount={text}: the build has no context")
                try:
                    [source] = ctx.resolve_sources(
                        [fields.get("source") or fields.get("src") or "."]
                    )
                except InvalidArgument as e:
                    raise BuildError(f"{where}: RUN --mount={text}: {e}") from None
                inputs.append(ctx.content_hash([source]))
                if fields.get("rw", "false") == "true" or fields.get("readwrite") == "true":
                    import shutil

                    copy = os.path.join(stack.enter_context(self._scratch_dir()), "src")
                    if os.path.isdir(source):
                        shutil.copytree(source, copy, symlinks=True)
                    else:
                        shutil.copy2(source, copy)
                    source, options = copy, ["rbind", "rprivate", "rw"]
                else:
                    options = ["rbind", "rprivate", "ro"]
                mounts.append(
                    {"destination": target, "type": "bind", "source": source, "options": options}
                )
        return mounts, inputs, env

    def _session_mount(
        self,
        kind: str,
        fields: dict[str, str],
        index: int,
        stack: contextlib.ExitStack,
        where: str,
    ) -> tuple[dict[str, Any] | None, dict[str, str]] | None:
        """``RUN --mount=type=secret`` / ``type=ssh`` as BuildKit's dockerfile2llb
        (convert_secrets.go, convert_ssh.go): the OCI mount and the variables it sets, or
        None when an optional secret or agent was not given to the build. A secret is a
        file (mode 0400, owner 0:0 unless ``mode``/``uid``/``gid`` say otherwise) at
        ``target`` (default ``/run/secrets/<id>``) or, with ``env=NAME`` and no target, a
        variable; an SSH agent's socket is bound at ``target`` (default
        ``/run/buildkit/ssh_agent.<n>``) and named by ``SSH_AUTH_SOCK``. Raises
        ``BuildError``."""

        def number(name: str, base: int) -> int | None:
            if name not in fields:
                return None
            try:
                return int(fields[name], base)
            except ValueError:
                raise BuildError(f"{where}: invalid value {fields[name]} for {name}") from None

        known = {"id", "source", "src", "target", "dst", "destination", "required", "mode",
                 "uid", "gid", "env", "readonly", "ro"}  # fmt: skip
        for key in fields:
            if key not in known:
                raise BuildError(f"{where}: unexpected key '{key}'")
        required = fields.get("required", "false").lower() in ("true", "1")
        target = fields.get("target") or fields.get("dst") or fields.get("destination") or ""
        mode, uid, gid = number("mode", 8), number("uid", 10), number("gid", 10)
        if kind == "ssh":
            if fields.get("source") or fields.get("src"):
                raise BuildError(f"{where}: ssh does not support source")
            if (mode, uid, gid) != (None, None, None):
                raise BuildError(
                    f"{where}: mode, uid and gid of an ssh mount are not supported by this "
                    "builder (the agent's own socket is bound)"
                )
            ident = fields.get("id") or "default"
            sock = self.opts.ssh.get(ident)
            if sock is None:
                if required:
                    raise BuildError(f'{where}: no SSH key "{ident}" forwarded from the client')
                return None
            target = os.path.normpath(
                os.path.join("/", target or f"/run/buildkit/ssh_agent.{index}")
            )
            mount = {"destination": target, "type": "bind", "source": sock, "options": ["bind"]}
            return mount, {"SSH_AUTH_SOCK": target}
        source = fields.get("source") or fields.get("src") or ""
        if source and fields.get("id"):
            raise BuildError(f"{where}: both source and id can't be set")
        ident = source or fields.get("id") or os.path.basename(target)
        if not ident:
            raise BuildError(f"{where}: invalid secret mount. one of source, target required")
        content = self.opts.secrets.get(ident)
        if content is None:
            if required:
                raise BuildError(f"{where}: secret {ident}: not found")
            return None
        variables = {}
        if fields.get("env"):
            variables[fields["env"]] = content.decode("utf-8", "replace")
            if not target:
                return None, variables
        target = os.path.normpath(
            os.path.join("/", target or f"/run/secrets/{os.path.basename(ident)}")
        )
        path = os.path.join(stack.enter_context(self._scratch_dir()), "secret")
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
            f.write(content)
            os.fchown(f.fileno(), uid or 0, gid or 0)
            os.fchmod(f.fileno(), 0o400 if mode is None else mode)
        mount = {"destination": target, "type": "bind", "source": path, "options": ["bind", "ro"]}
        return mount, variables

    # -- COPY and ADD -------------------------------------------------------------------

    def _copy(self, instr: ins.Copy | ins.Add, state: _State) -> None:
        verb = "COPY" if isinstance(instr, ins.Copy) else "ADD"
        workdir = state.config.get("WorkingDir") or "/"
        from_ = instr.from_ if isinstance(instr, ins.Copy) else ""
        with contextlib.ExitStack() as stack:
            if from_:
                files, source_id = self._source_root(from_, stack)
            else:
                files, source_id = self.opts.context, "context"
            downloads: list[str] = []

            def download_dir() -> str:
                # Made for an ADD of a URL only: a cached COPY makes no scratch directory.
                if not downloads:
                    downloads.append(stack.enter_context(self._scratch_dir()))
                return downloads[0]

            plan = _plan(
                verb,
                files,
                instr.sources,
                instr.dest,
                workdir,
                instr.contents,
                download_dir=download_dir,
                checksum=instr.checksum if isinstance(instr, ins.Add) else "",
            )
            digest = plan.digest()
            created_by = f"{instr.original} # buildkit"
            key = cache_key(
                state.chain,
                created_by,
                [digest, source_id, instr.chown, instr.chmod, state.config],
            )
            if self._cached(key, state, created_by):
                return

            def change(rootfs: str) -> None:
                _apply(plan, rootfs, instr.chown, instr.chmod, extract=verb == "ADD")

            self._layer_step(state, created_by, key, change)

    def _source_root(self, name: str, stack: contextlib.ExitStack) -> tuple[Any, str]:
        """Stage or image ``name``'s rootfs for ``COPY --from``, mounted for the step, as
        a ``Context`` without exclusions; and the stage's chain key or the image's ID (a
        cache key input: the same on every machine)."""
        from dockyard.build.context import Context
        from dockyard.build.dockerignore import PatternMatcher
        from dockyard.snapshot import mount_rootfs, unmount

        image_id = source_id = ""
        if self.df is not None:
            with contextlib.suppress(KeyError):
                stage = self.df.stage(name)
                if stage.index in self.stage_results:
                    image_id = self.stage_results[stage.index].image_id
                    source_id = self.stage_results[stage.index].chain
        if not image_id:
            image_id = source_id = self._image(name).id
        state = self._state_of(self.store.get(image_id))
        tmp = stack.enter_context(self._scratch_dir())
        root = os.path.join(tmp, "rootfs")
        mount_rootfs(self._lowers(state), os.path.join(tmp, "u"), os.path.join(tmp, "w"), root)
        stack.callback(unmount, root)
        files = Context(root, None, "")
        files.matcher = PatternMatcher([])
        return files, source_id


@contextlib.contextmanager
def _step_lock(paths: Paths, container_id: str) -> Iterator[None]:
    """Hold ``<runroot>/<id>.lock`` for a RUN step's container, as a container's start
    lock: the garbage collector (engine/gc.py) leaves its runtime state, cgroup, network
    namespace, veth and endpoint row alone while it is held, and collects them once a
    killed build let it go. The file goes with the step."""
    import fcntl

    os.makedirs(paths.runroot, exist_ok=True)
    path = os.path.join(paths.runroot, f"{container_id}.lock")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


#: Instructions that change only the image config (``_meta`` steps).
_META = (
    ins.Arg,
    ins.Env,
    ins.Label,
    ins.Cmd,
    ins.Entrypoint,
    ins.Expose,
    ins.User,
    ins.Volume,
    ins.StopSignal,
    ins.Healthcheck,
    ins.Shell,
    ins.Maintainer,
    ins.Onbuild,
)


def _is_meta(instr: ins.Instruction) -> bool:
    return isinstance(instr, _META)


#: The longest run of consecutive metadata steps that makes an image per step.
MAX_META_RUN = 100


def _folded_steps(body: list[ins.Instruction]) -> set[int]:
    """Indexes of the steps of ``body`` whose image is left out: all but the last of
    each run of more than :data:`MAX_META_RUN` consecutive metadata steps. Each image
    holds the whole history, so an image per step of such a run costs time and space
    that grow with the square of its length (the classic builder's 100,000 ARGs)."""
    folded: set[int] = set()
    start = 0
    for i in range(len(body) + 1):
        if i < len(body) and _is_meta(body[i]):
            continue
        if i - start > MAX_META_RUN:
            folded.update(range(start, i - 1))
        start = i + 1
    return folded


def _go_list(items: list[str] | None) -> str:
    """A list as Go's ``%q`` of a slice prints it: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(i) for i in items or []) + "]"


def _tag_ref(text: str) -> reference.Reference:
    try:
        ref = reference.parse(text)
    except InvalidArgument:
        raise InvalidArgument(
            f'invalid argument "{text}" for "-t, --tag" flag: invalid reference format'
        ) from None
    if ref.digest is not None:
        raise InvalidArgument(f"invalid tag {text}: a tag cannot name a digest")
    return ref


def _check_signal(instr: ins.StopSignal) -> None:
    from dockyard.image.create import check_stop_signal

    try:
        check_stop_signal(instr.signal)
    except InvalidArgument as e:
        raise InvalidArgument(f"{instr.filename}:{instr.start_line}: {e}") from None


def _healthcheck(instr: ins.Healthcheck) -> dict[str, Any]:
    """The image config's Healthcheck: Test plus the durations set, in nanoseconds."""
    out: dict[str, Any] = {"Test": list(instr.test)}
    for name, value in (
        ("Interval", instr.interval),
        ("Timeout", instr.timeout),
        ("StartPeriod", instr.start_period),
        ("StartInterval", instr.start_interval),
    ):
        if value:
            out[name] = int(round(value * 1e9))
    if instr.retries:
        out["Retries"] = instr.retries
    return out


# -- COPY/ADD sources and their application ----------------------------------------------


@dataclass
class _Source:
    """One COPY/ADD source: ``path`` on the host (None for a heredoc, whose bytes are
    ``data``), ``name`` (the basename used under a directory destination), ``is_dir``,
    ``mode`` (set for a download: its file mode)."""

    path: str | None
    name: str
    is_dir: bool = False
    data: bytes | None = None
    mode: int | None = None


@dataclass
class _Plan:
    """What a COPY/ADD copies: ``sources``, ``dest`` (absolute, trailing slash kept),
    ``dest_is_dir`` (several sources, a wildcard or a trailing slash), ``files`` (the
    ``Context`` the sources are in; None when there are only heredocs and URLs)."""

    sources: list[_Source]
    dest: str
    dest_is_dir: bool
    files: Any

    def entries(self, source: _Source) -> list[tuple[str, str, os.stat_result]]:
        """``(host path, path relative to the source, lstat)`` of everything below a
        directory source (sorted, .dockerignore applied), or of a file source itself."""
        assert source.path is not None
        if not source.is_dir:
            return [(source.path, "", os.lstat(source.path))]
        return [
            (p, os.path.relpath(p, source.path), os.lstat(p))
            for p in self.files.walk(source.path)
            if p != source.path
        ]

    def digest(self) -> str:
        """sha256 over the sources' names, contents and metadata (not their times) and
        the destination: the cache key input of COPY/ADD."""
        from dockyard.digests import sha256

        h = sha256()
        h.update(json.dumps([self.dest, self.dest_is_dir]).encode())
        paths = []
        for source in self.sources:
            h.update(json.dumps([source.name, source.is_dir, source.mode]).encode())
            if source.path is None or source.mode is not None:  # heredoc or download
                if source.path is None:
                    h.update(source.data or b"")
                else:
                    with open(source.path, "rb") as f:
                        data = f.read()
                        h.update(sha256(data).digest())
            else:
                paths.append(source.path)
        if paths:
            h.update(self.files.content_hash(paths).encode())
        return "sha256:" + h.hexdigest()


def _plan(
    verb: str,
    files: Any,
    sources: list[str],
    dest: str,
    workdir: str,
    contents: list[ins.SourceContent],
    download_dir: Callable[[], str],
    checksum: str = "",
) -> _Plan:
    """Resolve COPY/ADD ``sources`` in ``files`` (the build ``Context`` or a stage's
    rootfs as one; None or a root of None when the build has no files) against ``dest``
    (relative to ``workdir``); ``checksum`` (ADD ``--checksum``) is checked against URL
    downloads. Raises ``BuildError`` (``COPY failed: file not found in build context
    ...``) for a missing source, ``_download``'s errors for URLs."""
    from dockyard.build.context import has_wildcards
    from dockyard.build.dockerignore import go_clean

    found: list[_Source] = []
    wildcard = False
    for src in sources:
        if verb == "ADD" and src.startswith(("http://", "https://")):
            found.append(_download(src, download_dir(), checksum))
            continue
        clean = go_clean("/" + src).lstrip("/")
        if files is None or files.root is None:
            raise BuildError(
                f"{verb} failed: file not found in build context or excluded by "
                f".dockerignore: stat {src}: file does not exist"
            )
        try:
            paths = files.resolve_sources([src])
        except InvalidArgument as e:
            raise BuildError(f"{verb} failed: {e}") from None
        if has_wildcards(clean):
            wildcard = True
            names = [os.path.basename(p) for p in paths]
        else:
            names = [os.path.basename(clean)]
        for path, name in zip(paths, names, strict=True):
            found.append(_Source(path, name, is_dir=os.path.isdir(path)))
    for content in contents:
        found.append(_Source(None, content.path, data=content.data.encode()))
    full = dest if dest.startswith("/") else os.path.join(workdir, dest)
    dest_is_dir = full.endswith("/") or len(found) > 1 or wildcard
    return _Plan(found, full, dest_is_dir, files)


def _download(url: str, directory: str, checksum: str) -> _Source:
    """ADD of a URL: fetch it into ``directory`` and compare it with ``checksum``
    (``sha256:<hex>`` or ""); raises ``BuildError`` when it fails or differs."""
    import urllib.parse

    import httpx

    name = os.path.basename(urllib.parse.urlsplit(url).path.rstrip("/")) or "__unnamed__"
    path = os.path.join(directory, f"download-{len(os.listdir(directory))}")
    import hashlib

    digest = hashlib.sha256()
    try:
        with (
            httpx.stream("GET", url, timeout=30, follow_redirects=True) as response,
            open(path, "wb") as f,
        ):
            if response.status_code >= 400:
                raise BuildError(
                    f"ADD failed: failed to download {url}: failed to GET {url} with status "
                    f"{response.status_code} {response.reason_phrase}"
                )
            for chunk in response.iter_bytes():
                digest.update(chunk)
                f.write(chunk)
    except (httpx.HTTPError, httpx.InvalidURL, OSError) as e:
        raise BuildError(f"ADD failed: failed to download {url}: {e}") from None
    if checksum and "sha256:" + digest.hexdigest() != checksum:
        raise BuildError(f"ADD failed: digest mismatch sha256:{digest.hexdigest()}: {checksum}")
    return _Source(path, name, mode=0o600)


def _owner(rootfs: str, chown: str) -> tuple[int, int]:
    """``--chown=user[:group]`` resolved in the image (a lone user gives gid = uid)."""
    from dockyard.container.users import resolve_user

    if not chown:
        return 0, 0
    try:
        user = resolve_user(rootfs, chown)
    except DockyardError as e:
        raise BuildError(f"failed to resolve --chown={chown}: {e}") from None
    return user.uid, (user.gid if ":" in chown else user.uid)


def _mkdirs(root_fd: int, path: str, owner: tuple[int, int]) -> int:
    """Create ``path`` (and missing parents) inside the rootfs ``root_fd``, new ones 0755
    owned by ``owner``; existing directories (symlinks to them followed inside the
    rootfs) are left as they are. Returns a directory fd of ``path``. Raises
    ``BuildError`` when a component is not a directory."""
    from dockyard.snapshot import inroot

    current = ""
    for part in [p for p in os.path.normpath(path).split("/") if p]:
        current = f"{current}/{part}"
        try:
            os.close(inroot.open_in(root_fd, current, os.O_PATH | os.O_DIRECTORY))
            continue
        except FileNotFoundError:
            pass
        except NotADirectoryError:
            raise BuildError(f"cannot copy to {current}: not a directory") from None
        parent_fd, name = inroot.open_parent(root_fd, current)
        try:
            try:
                os.mkdir(name, 0o755, dir_fd=parent_fd)
            except FileExistsError:  # a dangling symlink: made through it, inside the rootfs
                os.close(inroot.mkdirs(root_fd, current))
                continue
            inroot.set_meta(parent_fd, name, uid=owner[0], gid=owner[1], mode=0o755)
        finally:
            os.close(parent_fd)
    try:
        return inroot.open_in(root_fd, path, os.O_RDONLY | os.O_DIRECTORY)
    except NotADirectoryError:
        raise BuildError(f"cannot copy to {path}: not a directory") from None


def _put(
    root_fd: int,
    path: str,
    src: str | None,
    st: os.stat_result | None,
    owner: tuple[int, int],
    mode: int | None,
    data: bytes = b"",
) -> None:
    """Copy one entry to ``path`` in the rootfs ``root_fd`` with ``owner``: the file,
    directory or symlink ``src`` (host path, ``st`` its lstat), or ``data`` as a file when
    ``src`` is None. The parent is resolved inside the rootfs; the entry itself is never
    followed (a symlink in the way is replaced, one to a directory where a directory is
    copied is entered inside the rootfs) and is acted on through fds."""
    import stat

    from dockyard.snapshot import inroot

    parent_fd, name = inroot.open_parent(root_fd, path)
    try:
        if not name:
            raise BuildError(f"cannot copy to {path}: is the root")
        if st is not None and stat.S_ISDIR(st.st_mode):
            fd = _enter_dir(root_fd, parent_fd, name, path)
            try:
                inroot.set_meta(
                    fd,
                    "",
                    uid=owner[0],
                    gid=owner[1],
                    mode=mode if mode is not None else stat.S_IMODE(st.st_mode),
                    times_ns=(st.st_atime_ns, st.st_mtime_ns),
                )
            finally:
                os.close(fd)
            return
        try:
            inroot.remove_entry(parent_fd, name)
        except IsADirectoryError:
            import shutil

            shutil.rmtree(name, dir_fd=parent_fd)
        if st is not None and stat.S_ISLNK(st.st_mode):
            assert src is not None
            os.symlink(os.readlink(src), name, dir_fd=parent_fd)
            inroot.set_meta(parent_fd, name, uid=owner[0], gid=owner[1])
            return
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(name, flags, 0o600, dir_fd=parent_fd)
        try:
            try:
                if src is None:
                    _write_all(fd, data)
                else:
                    import shutil

                    with open(src, "rb") as f, os.fdopen(os.dup(fd), "wb") as out:
                        shutil.copyfileobj(f, out, 1 << 20)
            except OSError as e:
                if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                what = f"copy {src} to {path}" if src is not None else f"write {path}"
                raise BuildError(f"cannot {what}: no space left on device") from None
            os.fchown(fd, *owner)
            if st is None:
                os.fchmod(fd, mode if mode is not None else 0o644)
            else:
                os.fchmod(fd, mode if mode is not None else stat.S_IMODE(st.st_mode))
                os.utime(fd, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(fd)
    finally:
        os.close(parent_fd)


def _write_all(fd: int, data: bytes) -> None:
    """``data`` written to ``fd`` whole (``os.write`` may write part of it)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _enter_dir(root_fd: int, parent_fd: int, name: str, path: str) -> int:
    """A directory fd of ``name`` in ``parent_fd``, made if missing; a symlink there is
    followed inside the rootfs (made through if dangling), anything else replaced."""
    import errno
    import stat

    from dockyard.snapshot import inroot

    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        return os.open(name, flags, dir_fd=parent_fd)
    except FileNotFoundError:
        pass
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        if stat.S_ISLNK(os.stat(name, dir_fd=parent_fd, follow_symlinks=False).st_mode):
            try:
                return inroot.mkdirs(root_fd, path)
            except NotADirectoryError:
                raise BuildError(f"cannot copy to {path}: not a directory") from None
        inroot.remove_entry(parent_fd, name)
    os.mkdir(name, 0o755, dir_fd=parent_fd)
    return os.open(name, flags, dir_fd=parent_fd)


def _apply(plan: _Plan, rootfs: str, chown: str, chmod: str, extract: bool) -> None:
    """Copy ``plan``'s sources into the mounted ``rootfs``; ``extract`` (ADD) unpacks
    local tar archives (plain, gzip, bzip2, xz) into the destination directory. Every
    path in the rootfs is resolved inside it from a directory fd (``snapshot.inroot``)."""
    import tarfile

    from dockyard.snapshot import apply_layer, inroot, open_decompressed

    owner = _owner(rootfs, chown)
    mode = int(chmod, 8) if chmod else None
    dest = plan.dest
    root_fd = inroot.open_root(rootfs)
    try:
        for source in plan.sources:
            if source.is_dir:
                os.close(_mkdirs(root_fd, dest, owner))
                for host, rel, st in plan.entries(source):
                    path = os.path.join(dest, rel)
                    if "/" in rel:
                        # A file re-included by a .dockerignore `!` rule inside an excluded
                        # directory arrives without its parent entry.
                        os.close(_mkdirs(root_fd, os.path.dirname(path), owner))
                    _put(root_fd, path, host, st, owner, mode)
                continue
            archive = source.path is not None and extract and source.mode is None
            if archive and source.path is not None and tarfile.is_tarfile(source.path):
                target = _mkdirs(root_fd, dest, owner)
                try:
                    with open(source.path, "rb") as f:
                        apply_layer(open_decompressed(f), inroot.fd_path(target))
                finally:
                    os.close(target)
                continue
            is_dir = plan.dest_is_dir or _is_dir(root_fd, dest)
            path = os.path.join(dest, source.name) if is_dir else dest.rstrip("/")
            os.close(_mkdirs(root_fd, os.path.dirname(path), owner))
            if source.path is None:
                _put(root_fd, path, None, None, owner, mode, source.data or b"")
                continue
            st = os.lstat(source.path)
            _put(root_fd, path, source.path, st, owner, mode if mode is not None else source.mode)
    finally:
        os.close(root_fd)


def _is_dir(root_fd: int, path: str) -> bool:
    """Whether ``path`` is a directory inside the rootfs (symlinks followed inside it)."""
    from dockyard.snapshot import inroot

    try:
        os.close(inroot.open_in(root_fd, path, os.O_PATH | os.O_DIRECTORY))
    except OSError:
        return False
    return True
