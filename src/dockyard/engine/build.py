"""The facade's build operation for the Engine API (ImageBuild, the classic builder): a
tar context and the API's build parameters in, Docker's JSON build messages out
(``image_build`` builds from a directory on this host, for Compose).

A build runs RUN steps as containers of this process (signals, a subreaper's waits), so
the API service runs it in a child (``dockyard.api.isolate``) whose stdout carries the
messages, one JSON object a line.
"""

from __future__ import annotations

import json
import os

from dockyard.engine.base import EngineBase
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

#: ``POST /build`` parameters the builder honours (others given with a non-default value
#: are refused by :meth:`BuildOperations.image_build_tar`).
HONOURED = {
    "dockerfile", "t", "buildargs", "labels", "target", "nocache", "q", "pull",
    "networkmode", "platform", "rm", "forcerm", "version", "extrahosts",
    "memory", "memswap", "cpushares", "cpuperiod", "cpuquota", "cpusetcpus", "cpusetmems",
    "cgroupparent", "shmsize", "ulimits", "isolation", "cachefrom",
}  # fmt: skip

#: ``POST /build`` parameters of the RUN containers' HostConfig (moby's
#: newImageBuildOptions), integers first.
_LIMITS = {
    "memory": "Memory", "memswap": "MemorySwap", "cpushares": "CpuShares",
    "cpuperiod": "CpuPeriod", "cpuquota": "CpuQuota", "shmsize": "ShmSize",
}  # fmt: skip
_LIMIT_TEXTS = {
    "cpusetcpus": "CpusetCpus",
    "cpusetmems": "CpusetMems",
    "cgroupparent": "CgroupParent",
}


class BuildOperations(EngineBase):
    """Image builds (Engine API: Image)."""

    def image_build_tar(self, context: str, params: dict[str, list[str]], out_fd: int = 1) -> str:
        """``POST /build`` as the API has it: build from the tar context file ``context`` (plain or
        compressed) with the API's query ``params`` (name -> values: ``t``,
        ``dockerfile``, ``buildargs`` and ``labels`` as JSON objects, ``target``,
        ``nocache``, ``q``, ``pull``, ``networkmode``, ``platform``, ``extrahosts`` and
        the RUN containers' limits ``memory``, ``memswap``, ``cpushares``, ``cpuperiod``,
        ``cpuquota``, ``cpusetcpus``, ``cpusetmems``, ``cgroupparent``, ``shmsize``,
        ``ulimits``; ``isolation`` (``default`` only, Linux's); ``cachefrom``, a JSON array of images whose steps may be reused,
        only theirs, as the classic builder's (an empty array: the local cache; images not here are skipped with a
        warning line: this endpoint does not pull them); ``rm``/``forcerm`` are moot:
        intermediate containers are always removed). Docker's messages
        (``{"stream"}``, ``{"status"}``, ``{"aux": {"ID"}}``) are written to ``out_fd``,
        one JSON object a line; returns the image ID. Raises InvalidArgument (a parameter
        that cannot be honoured, a bad context or Dockerfile), DockyardError (a failed
        step)."""
        from dockyard.build.builder import Builder, BuildOptions
        from dockyard.build.cache import parse_cache_from
        from dockyard.build.context import Context
        from dockyard.engine import Engine, distribution
        from dockyard.platforms import check_platform

        def one(name: str, default: str = "") -> str:
            values = params.get(name) or []
            # The first value, as Go's r.FormValue (docker-py sends an out-of-context
            # Dockerfile as dockerfile=NAME&dockerfile=CONTENT).
            return values[0] if values else default

        def flag(name: str) -> bool:
            return one(name).lower() not in ("", "0", "false", "no")

        def json_map(name: str) -> dict[str, str]:
            text = one(name)
            if not text:
                return {}
            try:
                value = json.loads(text)
            except ValueError:
                raise InvalidArgument(f"invalid {name}: {text!r}: not a JSON object") from None
            if not isinstance(value, dict):
                raise InvalidArgument(f"invalid {name}: {text!r}: not a JSON object")
            return {str(k): "" if v is None else str(v) for k, v in value.items()}

        for name, values in params.items():
            if name not in HONOURED and any(
                v not in ("", "0", "false", "null", "{}", "[]") for v in values
            ):
                raise InvalidArgument(f"build parameter {name!r} is not supported by Dockyard")
        isolation = one("isolation")
        if isolation and isolation.lower() != "default":
            # moby's newImageBuildOptions: Linux has the default isolation only.
            raise InvalidArgument(f"unsupported isolation: {json.dumps(isolation)}")
        if one("remote"):
            raise InvalidArgument("building from a remote context is not supported by Dockyard")
        # Another name: a user-defined network the RUN steps join (moby's classic
        # builder: their HostConfig.NetworkMode), looked up when a RUN needs it.
        network = one("networkmode", "default") or "default"
        quiet = flag("q")
        out = os.fdopen(os.dup(out_fd), "w")
        import threading

        emitting = threading.Lock()  # a RUN's stdout and stderr come from two threads

        def emit(message: dict[str, Any]) -> None:
            with emitting:
                out.write(json.dumps(message, separators=(",", ":")) + "\n")
                out.flush()

        # The closing lines wait for the image ID: dockerd sends {"aux": {"ID"}} before
        # "Successfully built ..." (clients take the last message for the result).
        closing: list[str] = []

        def line(text: str) -> None:
            if text.startswith("Successfully built ") or closing:
                closing.append(text)
            elif not quiet:
                emit({"stream": text + "\n"})

        def raw(data: bytes) -> None:
            if not quiet:
                emit({"stream": data.decode("utf-8", errors="replace")})

        def raw_err(data: bytes) -> None:
            # moby's streamformatter.NewStderrWriter: each write in red.
            if not quiet:
                text = data.decode("utf-8", errors="replace")
                emit({"stream": f"\x1b[91m{text}\x1b[0m"})

        platform = one("platform") or None

        def fetch(name: str) -> None:
            for m in distribution.pull(Engine(self.paths), name, platform=platform):
                if not quiet and not m.get("progress"):
                    emit({k: v for k, v in m.items() if k in ("status", "id")})

        host_config: dict[str, Any] = {}
        for name, key in _LIMITS.items():
            if one(name) not in ("", "0"):
                try:
                    host_config[key] = int(one(name))
                except ValueError:
                    raise InvalidArgument(f"invalid {name}: {one(name)!r}") from None
        for name, key in _LIMIT_TEXTS.items():
            if one(name):
                host_config[key] = one(name)
        if one("ulimits") not in ("", "null", "[]"):
            try:
                host_config["Ulimits"] = json.loads(one("ulimits"))
            except ValueError:
                raise InvalidArgument(f"invalid ulimits: {one('ulimits')!r}") from None
        # Repeated (docker-py) or comma-separated (the docker CLI) host:ip entries.
        hosts = [h for v in params.get("extrahosts") or [] for h in v.split(",") if h]
        if hosts:
            host_config["ExtraHosts"] = hosts
        cache_from: list[str] | None = None
        if one("cachefrom") not in ("", "null"):
            try:
                cache_from = json.loads(one("cachefrom"))
            except ValueError:
                cache_from = None
            if not isinstance(cache_from, list) or not all(isinstance(c, str) for c in cache_from):
                raise InvalidArgument(
                    f"invalid cachefrom: {one('cachefrom')!r}: not a JSON array of strings"
                )
        try:
            check_platform(platform)
            if host_config:
                from dockyard.container.manager import oci_resources

                oci_resources(host_config)
            options = BuildOptions(
                text="",
                tags=params.get("t") or [],
                build_args=json_map("buildargs"),
                target=one("target"),
                no_cache=flag("nocache"),
                labels=json_map("labels"),
                network="default" if network == "bridge" else network,
                pull=flag("pull"),
                host_config=host_config,
                # With images in cachefrom, moby's ImageCache takes only their steps; an
                # empty array is its local cache (MakeImageCache: len(sourceRefs) == 0).
                cache_from=parse_cache_from(cache_from or []),
                cache_from_only=bool(cache_from),
            )
            dockerfile = one("dockerfile") or None
            with open(context, "rb") as f, Context.from_tar(f, dockerfile) as ctx:
                options.text = ctx.dockerfile_text()
                options.filename = os.path.basename(dockerfile) if dockerfile else "Dockerfile"
                options.context = ctx
                image = Builder(
                    self.paths, self.images, options, line, raw, fetch, raw_err=raw_err
                ).build()
            from dockyard.engine.events import tag_events

            tag_events(self.images, image.id, options.tags)
            emit({"aux": {"ID": image.id}})
            if quiet:
                emit({"stream": image.id + "\n"})
            else:
                for text in closing:
                    emit({"stream": text + "\n"})
            return image.id
        except DockyardError as e:
            detail: dict[str, Any] = {"message": str(e)}
            if getattr(e, "run_code", 0):
                # moby's dispatchers: a RUN's failure is a JSONError with its exit status.
                detail = {"code": e.run_code, **detail}  # type: ignore[attr-defined]
            emit({"errorDetail": detail, "error": str(e)})
            raise
        finally:
            out.close()
