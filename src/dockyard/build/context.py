"""The build context of ``dockyard build``: a directory, a tar on stdin, or no files at all.

Spec: the Docker CLI's context preparation (``cli/command/image/build/context.go``: ``-f``
relative to the working directory, the ``dockerfile`` fallback), BuildKit's ignore files
(``<Dockerfile>.dockerignore`` first, then ``.dockerignore``; the Dockerfile is read apart, so
listing it there hides it from COPY) and the classic builder's COPY/ADD source lookup
(wildcards with Go ``filepath.Match`` syntax, names cleaned and clamped at the context
root, ``.dockerignore``d files invisible, the file-not-found message).
"""

from __future__ import annotations

import os
import re
import stat

from dockyard.build.dockerignore import PatternMatcher, go_clean, read_dockerignore
from dockyard.errors import DockyardError, InvalidArgument

TYPE_CHECKING = False  # typing is not imported on the build path (bench/README.md)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from types import TracebackType
    from typing import BinaryIO

DEFAULT_DOCKERFILE = "Dockerfile"
DOCKERIGNORE = ".dockerignore"
_TAR_BLOCK = 512
_COMPRESSED_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")
_CHUNK = 1 << 20


def _prepare_error(message: str) -> InvalidArgument:
    return InvalidArgument(f"unable to prepare context: {message}")


def _lstat_error(path: str) -> InvalidArgument | None:
    """Go's ``filepath.EvalSymlinks`` error for ``path``: the first component lstat fails on."""
    current = "/"
    for part in path.split("/"):
        if not part:
            continue
        current = os.path.join(current, part)
        try:
            os.lstat(current)
        except OSError as e:
            reason = (e.strerror or str(e)).lower()
            return _prepare_error(
                f"unable to evaluate symlinks in Dockerfile path: lstat {current}: {reason}"
            )
    return None


def has_wildcards(pattern: str) -> bool:
    """Whether ``pattern`` has ``*``, ``?`` or ``[`` not escaped by ``\\`` (Docker's test)."""
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] in "*?[":
            return True
        i += 1
    return False


def _component_regex(pattern: str) -> re.Pattern[str]:
    """One path component of a Go ``filepath.Match`` pattern as a regex.

    ``*`` and ``?`` never match ``/``, ``[^...]`` negates a class, ``\\`` escapes.
    Raises ``InvalidArgument`` for a malformed class (Go's ``ErrBadPattern``).
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\" and i < n:
            out.append(re.escape(pattern[i]))
            i += 1
        elif ch == "[":
            negate = i < n and pattern[i] == "^"
            if negate:
                i += 1
            items: list[str] = []
            while i < n and (pattern[i] != "]" or not items):
                if pattern[i] == "\\" and i + 1 < n:
                    i += 1
                c = pattern[i]
                i += 1
                if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
                    hi = pattern[i + 1]
                    if hi == "\\" and i + 2 < n:
                        i += 1
                        hi = pattern[i + 1]
                    if hi < c:
                        raise InvalidArgument(f"syntax error in pattern: {pattern}")
                    items.append(f"{re.escape(c)}-{re.escape(hi)}")
                    i += 2
                else:
                    items.append(re.escape(c))
            if i >= n:
                raise InvalidArgument(f"syntax error in pattern: {pattern}")
            i += 1  # the closing ]
            out.append(("[^/" if negate else "[") + "".join(items) + "]")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out) + r"\Z", re.DOTALL)


class Context:
    """The files a build can COPY/ADD from, and its Dockerfile.

    ``root`` is the context directory (symlinks resolved), or ``None`` when the Dockerfile
    came on stdin without files. A tar context is unpacked into a temporary directory that
    this object owns: ``close()`` (or leaving a ``with`` block) removes it.
    """

    def __init__(
        self,
        root: str | None,
        dockerfile_path: str | None,
        text: str | None,
        owned_dir: str | None = None,
    ) -> None:
        self.root = root
        self._dockerfile_path = dockerfile_path
        self._text = text
        self._owned_dir = owned_dir
        self.matcher = PatternMatcher([])
        if root is not None:
            self.matcher = self._read_matcher(root, dockerfile_path)

    # -- construction --------------------------------------------------------------------

    @classmethod
    def from_directory(cls, path: str, dockerfile: str | None) -> Context:
        """The context directory ``path`` with Dockerfile ``dockerfile`` (``-f``).

        ``dockerfile`` ``None`` means ``PATH/Dockerfile`` (or ``PATH/dockerfile`` if only that
        exists); a relative one is relative to the working directory, as the Docker CLI.
        Raises ``InvalidArgument``: ``unable to prepare context: path "x" not found`` or
        ``unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat
        /x/Dockerfile: no such file or directory``.
        """
        if not os.path.isdir(path):
            raise _prepare_error(f'path "{path}" not found')
        root = os.path.realpath(path)
        if dockerfile is None:
            candidate = os.path.join(root, DEFAULT_DOCKERFILE)
            alternative = os.path.join(root, DEFAULT_DOCKERFILE.lower())
            if not os.path.lexists(candidate) and os.path.lexists(alternative):
                candidate = alternative
        else:
            candidate = os.path.abspath(dockerfile)
        error = _lstat_error(candidate)
        if error is not None:
            raise error
        return cls(root, os.path.realpath(candidate), None)

    @classmethod
    def from_tar(cls, stream: BinaryIO, dockerfile: str | None) -> Context:
        """A context sent as a tar (plain, gzip, bzip2 or xz) on ``stream``.

        The archive is unpacked safely (``apply_layer``: nothing lands outside the temporary
        directory, no devices). ``dockerfile`` is a path inside the archive (default
        ``Dockerfile``, then ``dockerfile``). Raises ``InvalidArgument`` for a bad archive or
        ``Cannot locate specified Dockerfile: NAME``; the directory is removed on failure.
        """
        import shutil
        import tempfile

        from dockyard.snapshot import apply_layer, open_decompressed, securejoin

        tmp = tempfile.mkdtemp(prefix="dockyard-context-")
        try:
            try:
                apply_layer(open_decompressed(stream), tmp, allow_devices=False)
            except Exception as e:  # also decompressor errors (zlib, lzma, bz2, EOF)
                reason = str(e).removeprefix("invalid layer tar: ")
                raise InvalidArgument(f"invalid build context archive: {reason}") from None
            name = dockerfile or DEFAULT_DOCKERFILE
            candidate = securejoin(tmp, name)
            if dockerfile is None and not os.path.lexists(candidate):
                alternative = securejoin(tmp, DEFAULT_DOCKERFILE.lower())
                if os.path.lexists(alternative):
                    candidate = alternative
            if not os.path.isfile(candidate):
                raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")
            ctx = cls(tmp, candidate, None, owned_dir=tmp)
            ctx._text = ctx.dockerfile_text()
            # The client applied .dockerignore when it made the archive; the daemon only
            # drops .dockerignore and the Dockerfile when they are listed there (moby's
            # builder/remotecontext removeDockerfile).
            ignore = securejoin(tmp, DOCKERIGNORE)
            if os.path.isfile(ignore):
                with open(ignore, encoding="utf-8", errors="replace") as f:
                    listed = PatternMatcher(read_dockerignore(f.read()))
                for path in (ignore, candidate):
                    if listed.matches(os.path.relpath(path, tmp)) and os.path.lexists(path):
                        os.unlink(path)
            ctx.matcher = PatternMatcher([])
            return ctx
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    @classmethod
    def from_stdin_dockerfile(cls, text: str) -> Context:
        """No files, the Dockerfile ``text`` (``dockyard build - < Dockerfile``)."""
        return cls(None, None, text)

    @classmethod
    def from_stdin(cls, stream: BinaryIO, dockerfile: str | None) -> Context:
        """``dockyard build -``: a tar context if ``stream`` is an archive, else a Dockerfile.

        As the Docker CLI: compressed data or a valid first tar header is an archive
        (see :meth:`from_tar`); anything else is the Dockerfile's text (UTF-8), and then
        ``dockerfile`` must not be ``-``. Raises ``InvalidArgument``.
        """
        import shutil
        import tarfile
        import tempfile

        with tempfile.TemporaryFile() as spool:
            shutil.copyfileobj(stream, spool, _CHUNK)
            spool.seek(0)
            head = spool.read(_TAR_BLOCK)
            spool.seek(0)
            archive = head.startswith(_COMPRESSED_MAGIC)
            if not archive and len(head) == _TAR_BLOCK:
                try:
                    tarfile.TarInfo.frombuf(head, "utf-8", "surrogateescape")
                    archive = True
                except tarfile.HeaderError:
                    pass
            if archive:
                return cls.from_tar(spool, dockerfile)
            if dockerfile == "-":
                raise InvalidArgument("build context is not an archive")
            data = spool.read()
        try:
            return cls.from_stdin_dockerfile(data.decode("utf-8"))
        except UnicodeDecodeError:
            raise InvalidArgument("the Dockerfile on stdin is not UTF-8 text") from None

    @staticmethod
    def _read_matcher(root: str, dockerfile_path: str | None) -> PatternMatcher:
        """The matcher of ``<Dockerfile>.dockerignore`` beside the Dockerfile if there is
        one, else of the context's ``.dockerignore`` (BuildKit's dockerui). As in BuildKit,
        it may hide the Dockerfile and itself from COPY/ADD too: the Dockerfile is read
        apart from the context."""
        path = os.path.join(root, DOCKERIGNORE)
        if dockerfile_path is not None and os.path.isfile(dockerfile_path + DOCKERIGNORE):
            path = dockerfile_path + DOCKERIGNORE
        try:
            with open(path, encoding="utf-8") as f:
                patterns = read_dockerignore(f.read())
        except FileNotFoundError:
            return PatternMatcher([])
        except (OSError, UnicodeDecodeError) as e:
            raise InvalidArgument(f"error reading {path}: {e}") from e
        return PatternMatcher(patterns)

    # -- lifetime ------------------------------------------------------------------------

    def close(self) -> None:
        """Remove the temporary directory of a tar context (safe to call twice)."""
        if self._owned_dir is not None:
            import shutil

            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> Context:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- the Dockerfile ------------------------------------------------------------------

    @property
    def dockerfile_path(self) -> str | None:
        """The Dockerfile's path on this host (None when it came as text)."""
        return self._dockerfile_path

    def dockerfile_text(self) -> str:
        """The Dockerfile's text (UTF-8). Raises ``InvalidArgument`` naming the file."""
        if self._text is not None:
            return self._text
        assert self._dockerfile_path is not None
        try:
            with open(self._dockerfile_path, encoding="utf-8") as f:
                return f.read()
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror.lower() if isinstance(e, OSError) and e.strerror else str(e)
            raise InvalidArgument(
                f"unable to prepare context: read {self._dockerfile_path}: {reason}"
            ) from None

    # -- sources -------------------------------------------------------------------------

    def _rel(self, path: str) -> str:
        assert self.root is not None
        return os.path.relpath(path, self.root)

    def excluded(self, path: str) -> bool:
        """Whether the absolute ``path`` under ``root`` is hidden by ``.dockerignore``."""
        rel = self._rel(path)
        return rel != "." and self.matcher.matches(rel)

    def resolve_sources(self, patterns: list[str]) -> list[str]:
        """The absolute paths under ``root`` that COPY/ADD sources ``patterns`` name.

        Each source is cleaned as a path from the context root (``..`` cannot climb above
        it) and resolved with symlinks kept inside the root, so a symlink source gives its
        target. A source with wildcards (Go ``filepath.Match``: ``*``, ``?``, ``[...]``)
        gives every match, in sorted order; excluded (``.dockerignore``) files are never
        seen. Raises ``InvalidArgument``: ``file not found in build context or excluded by
        .dockerignore: stat x: file does not exist``, or ``no source files were specified``
        for a wildcard matching nothing.
        """
        found: list[str] = []
        for pattern in patterns:
            clean = go_clean("/" + pattern).lstrip("/")
            if has_wildcards(clean):
                matches = self._glob(clean)
                if not matches:
                    raise InvalidArgument("no source files were specified")
                found.extend(matches)
                continue
            path = self._lookup(clean)
            if path is None:
                raise InvalidArgument(
                    "file not found in build context or excluded by .dockerignore: "
                    f"stat {pattern}: file does not exist"
                )
            found.append(path)
        return found

    def _lookup(self, clean: str) -> str | None:
        """The resolved path of literal ``clean`` if it exists and is not excluded."""
        if self.root is None:
            return None
        from dockyard.snapshot import securejoin

        if clean and self.matcher.matches(clean):
            return None
        path = securejoin(self.root, clean)
        if not os.path.lexists(path) or self.excluded(path):
            return None
        return path

    def _glob(self, clean: str) -> list[str]:
        if self.root is None:
            return []
        from dockyard.snapshot import securejoin

        current = [""]
        for part in clean.split("/"):
            following: list[str] = []
            regex = _component_regex(part) if has_wildcards(part) else None
            for rel in current:
                directory = securejoin(self.root, rel)
                if regex is None:
                    names = [re.sub(r"\\(.)", r"\1", part)]
                else:
                    try:
                        names = sorted(n for n in os.listdir(directory) if regex.match(n))
                    except (NotADirectoryError, FileNotFoundError):
                        continue
                for name in names:
                    child = f"{rel}/{name}" if rel else name
                    path = securejoin(self.root, child)
                    if os.path.lexists(path) and not self.matcher.matches(child):
                        following.append(child)
            current = following
        paths = [securejoin(self.root, rel) for rel in current]
        return [p for p in paths if not self.excluded(p)]

    def walk(self, path: str) -> Iterator[str]:
        """``path`` and, for a directory, everything below it that is not excluded, in
        sorted order (parents first, symlinks not followed). ``path`` is absolute, as
        :meth:`resolve_sources` returns."""
        yield path
        if not os.path.isdir(path) or os.path.islink(path):
            return
        skip_dirs = not self.matcher.has_exclusions
        for name in sorted(os.listdir(path), key=os.fsencode):
            child = os.path.join(path, name)
            if self.excluded(child):
                # With "!" patterns a file below an excluded directory can come back.
                if skip_dirs or not os.path.isdir(child) or os.path.islink(child):
                    continue
                for below in self.walk(child):
                    if below != child and not self.excluded(below):
                        yield below
                continue
            yield from self.walk(child)

    def content_hash(self, paths: list[str]) -> str:
        """``sha256:<hex>`` of the files at ``paths`` (as :meth:`resolve_sources` gives):
        the cache key of a COPY/ADD.

        Covers, for each path and (directories) every non-excluded entry below it in sorted
        order: the path relative to the context root, mode and type, uid, gid, size, symlink
        target, device number and content; not times. Raises ``DockyardError`` naming an
        unreadable file.
        """
        import json

        from dockyard.digests import sha256

        total = sha256()
        for top in paths:
            for path in self.walk(top):
                try:
                    st = os.lstat(path)
                    link = os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""
                    content = ""
                    if stat.S_ISREG(st.st_mode):
                        digest = sha256(size=st.st_size)
                        with open(path, "rb") as f:
                            while chunk := f.read(_CHUNK):
                                digest.update(chunk)
                        content = digest.hexdigest()
                except OSError as e:
                    raise DockyardError(f"reading build context file {path}: {e.strerror}") from e
                rdev = st.st_rdev if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) else 0
                size = st.st_size if stat.S_ISREG(st.st_mode) else 0
                record = [self._rel(path), st.st_mode, st.st_uid, st.st_gid, size, link, rdev]
                total.update(json.dumps([*record, content]).encode() + b"\n")
        return "sha256:" + total.hexdigest()
