"""The facade's image operations (Engine API v1.51, Image): list and inspect. Pull and
push (distribution.py), save and load (archives.py) are their own modules.
"""

from __future__ import annotations

import sys

from dockyard.engine.base import EngineBase
from dockyard.errors import InvalidArgument, NotFound

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, BinaryIO

    from dockyard.engine.types import Filters, HistoryResponseItem, ImageInspect, ImageSummary
    from dockyard.image.store import Image

#: The ``filters`` keys of ``GET /images/json``.
LIST_FILTERS = ("before", "dangling", "label", "reference", "since")


def epoch(rfc3339: str) -> int:
    """Seconds since the epoch of an RFC 3339 time (fractions ignored; 0 if malformed)."""
    import calendar
    import re

    m = re.match(
        r"(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|([+-])(\d\d):(\d\d))?$",
        rfc3339,
    )
    if m is None:
        return 0
    secs = calendar.timegm(tuple(int(g) for g in m.groups()[:6]) + (0, 0, 0))
    if m.group(7):
        offset = int(m.group(8)) * 3600 + int(m.group(9)) * 60
        secs -= offset if m.group(7) == "+" else -offset
    return secs


def reference_matches(familiar: str, pattern: str) -> bool:
    """Whether the familiar reference ``familiar`` (``busybox:latest``) matches a
    ``reference`` filter ``pattern`` (Go's path.Match globs on the repository and the
    tag; ``docker.io/library/`` may be spelt out). Raises InvalidArgument for a bad
    pattern."""
    repo, _, tag = (
        familiar.rpartition(":")
        if ":" in familiar.rsplit("/", 1)[-1]
        else (
            familiar,
            "",
            "",
        )
    )
    want_repo, want_tag = pattern, ""
    if ":" in pattern.rsplit("/", 1)[-1]:
        want_repo, _, want_tag = pattern.rpartition(":")
    if want_repo.startswith("docker.io/"):
        want_repo = want_repo.removeprefix("docker.io/").removeprefix("library/")
    return _go_match(repo, want_repo) and (not want_tag or _go_match(tag, want_tag))


def _go_glob(pattern: str) -> str:
    """A regular expression matching what Go's path.Match matches for ``pattern`` (``*``
    and ``?`` stop at ``/``, ``[^...]`` negates, ``\\`` escapes; fnmatch differs on all
    three). Raises InvalidArgument with path.ErrBadPattern's text for an unclosed or
    empty ``[...]`` or a trailing ``\\``, where moby's reference filter fails."""
    import re

    bad = InvalidArgument("syntax error in pattern")
    out = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "\\":
            if i + 1 == len(pattern):
                raise bad
            i += 1
            out.append(re.escape(pattern[i]))
        elif c == "[":
            i += 1
            negate = pattern[i : i + 1] == "^"
            i += negate
            if pattern[i : i + 1] in ("", "]", "-"):
                raise bad
            items = []
            while i < len(pattern) and pattern[i] != "]":
                if pattern[i] == "\\":
                    i += 1
                    if i == len(pattern):
                        raise bad
                items.append(re.escape(pattern[i]) if pattern[i] != "-" else "-")
                i += 1
            if i >= len(pattern):
                raise bad
            out.append(("[^" if negate else "[") + "".join(items) + "]")
        else:
            out.append(re.escape(c))
        i += 1
    return "".join(out)


def _go_match(name: str, pattern: str) -> bool:
    import re

    return re.fullmatch(_go_glob(pattern), name, re.S) is not None


class ImageOperations(EngineBase):
    """Images (Engine API: Image)."""

    def image_list(self, all: bool = False, filters: Filters | None = None) -> list[ImageSummary]:
        """``GET /images/json``: images newest first; the untagged parents of other
        images (build steps) only with ``all``. ``filters``: ``reference`` (globs; the
        image's RepoTags are narrowed to the matching ones), ``dangling`` (true: untagged
        only), ``label`` (``key`` or ``key=value``), ``before``/``since`` (an image).

        Raises InvalidArgument for another filter key or a bad value, NotFound for a
        ``before``/``since`` image that does not exist.
        """
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        dangling = None
        for v in filters.get("dangling", []):
            if v.lower() not in ("true", "false", "1", "0"):
                # moby's invalidFilter: the values as Go prints a []string.
                values = " ".join(filters["dangling"])
                raise InvalidArgument(f"invalid filter 'dangling=[{values}]'")
            dangling = v.lower() in ("true", "1")
        for pattern in filters.get("reference", []):
            _go_glob(pattern)  # a bad one is refused even where no image is listed
        before = [self.images.resolve(v).created for v in filters.get("before", [])]
        since = [self.images.resolve(v).created for v in filters.get("since", [])]
        labels_wanted = filters.get("label", [])
        if labels_wanted:  # imported only then: it costs `images` a few milliseconds
            from dockyard.container.operations import label_matches
        found = self.images.list()
        if not all:
            hidden = self.images.intermediate_ids()
            found = [i for i in found if i.id not in hidden]
        out = []
        for img in found:
            if any(img.created >= t for t in before) or any(img.created <= t for t in since):
                continue
            if dangling is not None and dangling != (not img.tags):
                continue
            summary = self._image_summary(img)
            labels = summary["Labels"]
            if any(not label_matches(labels, s) for s in labels_wanted):
                continue
            patterns = filters.get("reference", [])
            if patterns:
                summary["RepoTags"] = [
                    t for t in summary["RepoTags"] if any(reference_matches(t, p) for p in patterns)
                ]
                if not summary["RepoTags"]:
                    continue
            out.append(summary)
        return out

    def _image_summary(self, img: Image) -> ImageSummary:
        chain = self.images.parent_chain(img.id)
        return {
            "Id": img.id,
            "ParentId": chain[1] if len(chain) > 1 else "",
            "RepoTags": img.repo_tags,
            "RepoDigests": img.repo_digests,
            "Created": epoch(img.created),
            "Size": int(img.size),
            "SharedSize": -1,
            "Labels": (img.config.get("config") or {}).get("Labels") or {},
            "Containers": -1,
        }

    def image_history(self, name: str) -> list[HistoryResponseItem]:
        """``GET /images/{name}/history``: one entry per history entry of the image's
        config, newest first. ``Id`` is that of the image whose history ends at the
        entry: the image's own on the newest, then those of the images it was built from
        (its build steps, the base's top entry), ``<missing>`` for the others. moby
        gives the n-th entry the n-th image of the parent chain, which is the same when
        each image adds one entry (the classic builder's); matching by history length
        also keeps IDs on their own steps when one image added several (a long run of
        metadata steps, build/builder.py). ``Size`` is the bytes of the files the step's
        layer holds (0 for an ``empty_layer``); ``Created`` Unix seconds. Raises
        NotFound."""
        image = self.images.resolve(name)
        config = image.config
        chain = self.images.parent_chain(image.id)
        diff_ids = image.diff_ids
        items: list[HistoryResponseItem] = []
        index = 0
        for entry in config.get("history") or []:
            size = 0
            if not entry.get("empty_layer"):
                if index < len(diff_ids):
                    size = self.layers.content_size(diff_ids[index])
                index += 1
            items.append(
                {
                    "Id": "<missing>",
                    "Created": epoch(str(entry.get("created") or "")),
                    "CreatedBy": str(entry.get("created_by") or ""),
                    "Tags": None,
                    "Size": size,
                    "Comment": str(entry.get("comment") or ""),
                }
            )
        items.reverse()
        last = -1
        for image_id in chain:
            parent = image if image_id == image.id else self.images.get(image_id)
            # The entry this image's history ends at, counted from the newest.
            index = len(items) - len(parent.config.get("history") or [])
            if index <= last or index >= len(items):
                break
            items[index]["Id"] = image_id
            items[index]["Tags"] = parent.repo_tags or None
            last = index
        return items

    def image_tag(self, name: str, repo: str, tag: str | None = None) -> None:
        """``POST /images/{name}/tag``: tag the image ``name`` as ``repo:tag`` (``tag``
        default ``latest``). Raises NotFound, InvalidArgument (a bad reference)."""
        from dockyard import reference
        from dockyard.engine.events import image_event

        target = f"{repo}:{tag}" if tag else repo
        ref = reference.parse(target)
        image_id = self.images.resolve(name).id
        self.images.tag(image_id, ref)
        image_event(self.images, image_id, ref.familiar(), "tag")

    def image_prune(self, filters: Filters | None = None) -> dict[str, Any]:
        """``POST /images/prune``: delete the dangling images (every image no container
        uses with ``dangling=false``, ``docker image prune -a``) matching ``filters``
        (``until``, ``label``, ``label!``, ``dangling``). Returns
        ``{"ImagesDeleted": [{"Untagged"|"Deleted": value}] | None, "SpaceReclaimed":
        bytes}``. Raises InvalidArgument (a bad filter)."""
        from dockyard.engine import prune

        removed, reclaimed = prune.image_prune(self, False, dict(filters or {}))  # type: ignore[arg-type]
        deleted = [{"Untagged" if k == "untagged" else "Deleted": v} for k, v in removed]
        return {"ImagesDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    def image_commit(
        self,
        container: str,
        repository: str | None = None,
        author: str = "",
        message: str = "",
        changes: list[str] | None = None,
        pause: bool = True,
    ) -> dict[str, str]:
        """``POST /commit``: a new image from ``container``'s changes, tagged
        ``repository`` (``name[:tag]``) if given, ``changes`` Dockerfile instructions
        applied. Returns ``{"Id": image ID}``. Raises NotFound, InvalidArgument
        (:func:`dockyard.engine.archives.commit`)."""
        from dockyard.engine import archives

        image = archives.commit(
            self,  # type: ignore[arg-type]
            container,
            repository,
            author=author,
            message=message,
            changes=changes,
            pause=pause,
        )
        return {"Id": image.id}

    def image_import(
        self,
        stream: BinaryIO,
        repository: str | None = None,
        changes: list[str] | None = None,
        message: str = "",
        platform: str | None = None,
    ) -> str:
        """``POST /images/create?fromSrc=-``: an image from the root filesystem tarball
        ``stream``, tagged ``repository`` (``name[:tag]``) if given, ``changes`` applied;
        returns its ID. Raises InvalidArgument, NotFound
        (:func:`dockyard.engine.imports.image_import`)."""
        from dockyard.engine.imports import image_import

        return image_import(self, stream, repository, changes, message, platform)  # type: ignore[arg-type]

    def image_delete(
        self, name: str, force: bool = False, noprune: bool = False
    ) -> list[dict[str, str]]:
        """``DELETE /images/{name}``: untag ``name`` (a reference), or remove the image
        (an ID, or its last tag) with the untagged parents nothing else needs (unless
        ``noprune``). Returns the API's ``[{"Untagged": ref}, {"Deleted": id}]`` items.
        Raises NotFound, Conflict (used by a container, or tagged in several
        repositories: ``force`` overrides)."""
        from dockyard.engine.events import image_event

        image_id = self.images.resolve(name).id
        # The images a removal may delete: this one and its parents ("Deleted" records
        # of layers are no image events).
        images = set(self.images.parent_chain(image_id))
        records = self.images.delete(name, force=force, noprune=noprune)
        for kind, value in records:
            if kind == "Untagged" and "@" not in value:
                image_event(self.images, image_id, image_id, "untag")
            elif kind == "Deleted" and value in images:
                image_event(self.images, value, value, "delete")
        return [{kind: value} for kind, value in records]

    def image_bootstrap(self, name: str) -> dict[str, Any]:
        """Dockyard's own base images, made without a registry (``dockyard bootstrap``; no
        Engine API operation): ``busybox[:TAG]`` from the host's busybox-static,
        ``debian[:bookworm]`` from Debian's archive. Returns ``{"Id", "Size" (bytes),
        "Source" (what it was made from)}``. Raises InvalidArgument (another name),
        NotFound (busybox or mmdebstrap missing)."""
        from dockyard.image.bootstrap import bootstrap

        img, source = bootstrap(self.images, name)
        return {"Id": img.id, "Size": int(img.size), "Source": source}

    def image_export_rootfs(self, name: str, out: BinaryIO) -> None:
        """Write the merged root filesystem of image ``name`` to ``out`` as a tar: what
        BuildKit's tar exporter writes for ``build -o type=tar`` (and, unpacked, its local
        exporter for ``type=local``). The layers are mounted read-only under a temporary
        directory of this process (the collector unmounts and removes it should the
        process die). Raises NotFound, DockyardError."""
        import os
        import shutil
        import tarfile

        from dockyard.snapshot import LayerStore, mount_rootfs, unmount
        from dockyard.snapshot.diff import TreeWriter
        from dockyard.tempfiles import temp_name

        with self.images.lease():
            image = self.images.resolve(name)
            layers = LayerStore(self.paths)
            lowers = [layers.path(d) for d in reversed(image.diff_ids)] or [layers.empty_dir()]
            os.makedirs(self.paths.tmp, mode=0o700, exist_ok=True)
            tmp = os.path.join(self.paths.tmp, temp_name("export-"))
            os.mkdir(tmp, 0o700)
            try:
                rootfs = os.path.join(tmp, "rootfs")
                up, work = os.path.join(tmp, "upper"), os.path.join(tmp, "work")
                mount_rootfs(lowers, up, work, rootfs, readonly=True)
                try:
                    fd = os.open(rootfs, os.O_RDONLY | os.O_DIRECTORY)
                    try:
                        with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
                            TreeWriter(tf, layer=False).walk(fd, "")
                    finally:
                        os.close(fd)
                finally:
                    unmount(rootfs)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)

    def image_export_rootfs_dir(self, name: str, dest: str) -> None:
        """Unpack the merged root filesystem of image ``name`` into the directory ``dest``
        (made if missing; entries stay inside it): BuildKit's local exporter, ``build -o
        type=local``. Raises NotFound, DockyardError, OSError."""
        import os
        import threading

        from dockyard.snapshot.unpack import apply_layer

        os.makedirs(dest, exist_ok=True)
        read_end, write_end = os.pipe()
        failure: list[BaseException] = []

        def produce() -> None:
            with open(write_end, "wb") as w:
                try:
                    self.image_export_rootfs(name, w)
                except BaseException as e:  # reported by the consumer
                    failure.append(e)

        writer = threading.Thread(target=produce, daemon=True)
        writer.start()
        with open(read_end, "rb") as r:
            try:
                apply_layer(r, dest, allow_devices=True)
            finally:
                # Drain so the writer never blocks on a full pipe.
                while r.read(1 << 16):
                    pass
                writer.join()
        if failure:
            raise failure[0]

    def image_inspect(self, name: str) -> ImageInspect:
        """``GET /images/{name}/json`` of the image ``name`` (a reference, full or short
        ID). Raises NotFound ``No such image: <name>``."""
        from dockyard.image.inspect import inspect_image

        try:
            image = self.images.resolve(name)
        except NotFound:
            raise NotFound(f"No such image: {name}") from None
        out = inspect_image(self.paths, image)
        # The image a commit or build step started from, while it exists (Docker's Parent).
        chain = self.images.parent_chain(image.id)
        out["Parent"] = chain[1] if len(chain) > 1 else ""
        return out  # type: ignore[return-value]

    def image_build_directory(
        self,
        context: str,
        dockerfile: str | None = None,
        *,
        tags: list[str] | None = None,
        buildargs: dict[str, str] | None = None,
        target: str = "",
        labels: dict[str, str] | None = None,
        network: str = "default",
        pull: bool = False,
        nocache: bool = False,
        host_config: dict[str, Any] | None = None,
        cache_from: list[str] | None = None,
        output: Callable[[str], None] | None = None,
    ) -> str:
        """What ``POST /build`` does (:meth:`image_build`), from a context directory on
        this host, for in-process front ends (``context``, with the Dockerfile
        ``dockerfile``, a path relative to it; default ``Dockerfile``): the classic
        builder's steps, each output line passed to ``output`` (RUN output as it comes,
        split into lines); a ``FROM`` image that is missing is pulled. ``tags`` name the
        result; ``host_config`` and ``cache_from`` as :meth:`image_build_local`'s (the RUN
        containers' ShmSize, ExtraHosts...; images to take cached steps from). Returns the image ID. Raises InvalidArgument (a missing context, a bad
        Dockerfile), DockyardError (a step failed), OSError."""
        import os

        emit = output or (lambda _line: None)
        buffered = bytearray()

        def raw(data: bytes) -> None:
            buffered.extend(data)
            while b"\n" in buffered:
                line, _, rest = bytes(buffered).partition(b"\n")
                buffered[:] = rest
                emit(line.decode("utf-8", "replace"))

        if not os.path.isdir(context):
            raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
        # The API's dockerfile is relative to the context (the docker CLI's -f, to the cwd).
        image_id = self.image_build_local(
            context,
            os.path.join(context, dockerfile) if dockerfile else None,
            tags=tags,
            buildargs=buildargs,
            target=target,
            labels=labels,
            network=network,
            pull=pull,
            nocache=nocache,
            host_config=host_config,
            cache_from=cache_from,
            line=emit,
            raw=raw,
        )
        if buffered:
            emit(buffered.decode("utf-8", "replace"))
        return image_id

    def image_build_local(
        self,
        context: str,
        dockerfile: str | None = None,
        *,
        stdin: BinaryIO | None = None,
        tags: list[str] | None = None,
        buildargs: dict[str, str] | None = None,
        target: str = "",
        labels: dict[str, str] | None = None,
        network: str = "default",
        pull: bool = False,
        nocache: bool = False,
        platform: str | None = None,
        host_config: dict[str, Any] | None = None,
        secrets: dict[str, bytes] | None = None,
        ssh: dict[str, str] | None = None,
        cache_from: list[str] | None = None,
        line: Callable[[str], None] | None = None,
        raw: Callable[[bytes], None] | None = None,
        pull_status: Callable[[str], None] | None = None,
    ) -> str:
        """The classic build of ``docker build`` run in this process (the CLI, compose):
        ``context`` a directory on this host, or ``-`` (a tar context, or a bare
        Dockerfile, read from ``stdin``); ``dockerfile`` relative to the context, or
        ``-`` (the Dockerfile from ``stdin``, the files from the directory). Step lines go
        to ``line``, RUN output to ``raw`` as it comes, the status lines of a missing
        ``FROM`` image's pull to ``pull_status``. ``platform`` must be this host's.
        ``host_config``: the RUN containers' HostConfig fields (Memory, MemorySwap,
        CpuShares, CpuPeriod, CpuQuota, CpusetCpus, CpusetMems, CgroupParent, ShmSize,
        Ulimits, ExtraHosts), checked before the build starts as dockerd checks a
        container's. ``secrets`` (ID -> content) and ``ssh`` (ID -> agent socket path)
        serve ``RUN --mount=type=secret|ssh``. ``cache_from``: ``--cache-from`` values
        (``IMAGE``, ``type=registry,ref=IMAGE``): steps whose keys those images' cache
        records hold are taken from their layers, besides the local cache (BuildKit's
        rule); an image not here is read from its registry. Returns the image ID. Raises
        InvalidArgument (a missing context, a bad Dockerfile, platform, limit or
        ``--cache-from``), DockyardError (a step failed), OSError."""
        import os

        from dockyard.build.builder import Builder, BuildOptions
        from dockyard.build.cache import CacheSource, parse_cache_from
        from dockyard.build.context import Context
        from dockyard.errors import DockyardError
        from dockyard.platforms import check_platform

        # The registry code (with threading) is imported only when a build pulls.
        def fetch(name: str) -> None:
            from dockyard.engine import distribution

            for m in distribution.pull(self, name, platform=platform):  # type: ignore[arg-type]
                if m.get("error"):
                    raise DockyardError(str(m["error"]))
                if pull_status is not None and not m.get("progress"):
                    text = f"{m['id']}: {m['status']}" if m.get("id") else m.get("status", "")
                    pull_status(str(text))

        def import_cache(name: str) -> CacheSource:
            from dockyard.engine import distribution

            return distribution.cache_source(self, name, platform)  # type: ignore[arg-type]

        check_platform(platform)
        cache_refs = parse_cache_from(list(cache_from or []))
        if host_config:
            from dockyard.container.manager import oci_resources

            oci_resources(host_config)
        source = stdin if stdin is not None else sys.stdin.buffer
        if context == "-":
            ctx = Context.from_stdin(source, dockerfile)
        elif dockerfile == "-":
            if not os.path.isdir(context):
                raise InvalidArgument(f'unable to prepare context: path "{context}" not found')
            text = source.read().decode("utf-8", errors="replace")
            ctx = Context(os.path.realpath(context), None, text)
        else:
            ctx = Context.from_directory(context, dockerfile)
        with ctx:
            named = dockerfile if dockerfile not in (None, "-") else None
            options = BuildOptions(
                text=ctx.dockerfile_text(),
                filename=os.path.basename(named) if named else "Dockerfile",
                context=ctx,
                tags=list(tags or []),
                build_args=dict(buildargs or {}),
                target=target,
                no_cache=nocache,
                labels=dict(labels or {}),
                network=network,
                pull=pull,
                host_config=dict(host_config or {}),
                secrets=dict(secrets or {}),
                ssh=dict(ssh or {}),
                cache_from=cache_refs,
            )
            image = Builder(
                self.paths,
                self.images,
                options,
                line or (lambda _text: None),
                raw or (lambda _data: None),
                fetch,
                import_cache,
            ).build()
        from dockyard.engine.events import tag_events

        tag_events(self.images, image.id, list(tags or []))
        return str(image.id)
