"""The writing side of Docker's ``json-file`` log driver (moby
``daemon/logger/jsonfilelog``): one JSON object a line,
``{"log":"line\\n","stream":"stdout","time":"2026-01-02T03:04:05.123456789Z"}``.

Import-light on purpose (no ``json``, ``re``, ``datetime``): the container monitor
imports it and every module it imports costs memory in each monitor. The encoder is
CPython's own ``_json`` string encoder, the one ``json.dumps`` uses.
"""

from __future__ import annotations

import os
import time
from _json import encode_basestring

from dockyard.container import fdwait

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Docker's copier splits a line longer than this into partial messages.
PARTIAL_SIZE = 16 * 1024
READ_SIZE = 32 * 1024


def format_time(ns: int, fixed: bool = False) -> str:
    """RFC 3339 UTC of ``ns`` nanoseconds since the epoch: Go's RFC3339Nano (trailing
    zeros of the fraction dropped, as in the log file) or, with ``fixed``, always nine
    digits (``docker logs -t``)."""
    seconds, frac = divmod(ns, 1_000_000_000)
    head = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{frac:09d}" if fixed else f"{frac:09d}".rstrip("0")
    return f"{head}.{digits}Z" if digits else f"{head}Z"


class JsonFileWriter:
    """Appends a container's output to its json-file log at ``path``.

    :meth:`feed` takes chunks as they are read (complete lines become one entry each, a
    line longer than 16 KiB is split as Docker splits it) and :meth:`finish` writes what
    is left of a stream without a newline at its end. :meth:`relay` does both for a set
    of file descriptors until each reaches end of file.

    An entry that cannot be written (a full disk) is dropped whole, never half-written,
    and the container's output goes on: as Docker's json-file logger, which drops what it
    cannot write and reports the error. ``on_error(OSError)`` is called at the first
    drop; the next entry that can be written again is preceded by one stderr entry
    saying how many were dropped (``dropped`` counts them all).
    """

    def __init__(
        self,
        path: str,
        on_error: Callable[[OSError], None] | None = None,
        max_size: int = 0,
        max_files: int = 1,
    ) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        # --log-opt max-size (bytes, 0: unbounded) and max-file: the file is rotated to
        # <path>.1 ... <path>.<max_files - 1> before an entry would take it past max_size
        # (moby loggerutils.LogFile), or emptied when max_files is 1.
        self.max_size = max_size
        self.max_files = max_files
        self._buffers: dict[str, bytearray] = {}
        self.on_error = on_error
        self.dropped = 0
        self._unreported = 0  # drops not yet noted in the log
        self._said = False

    def close(self) -> None:
        """Close the log file (what a stream left unfinished is not written)."""
        os.close(self.fd)

    def _emit(self, stream: str, data: bytes, stamp: int) -> None:
        if self._unreported:
            note = f"dockyard: {self._unreported} log entries dropped: no space left on device\n"
            if not self._append("stderr", note, stamp):
                self._drop()
                return
            self._unreported = 0
        if not self._append(stream, data.decode("utf-8", "replace"), stamp):
            self._drop()

    def _append(self, stream: str, text: str, stamp: int) -> bool:
        """Append one entry whole; False (the file as it was) when it could not be."""
        encoded = encode_basestring(text)
        line = f'{{"log":{encoded},"stream":"{stream}","time":"{format_time(stamp)}"}}\n'
        raw = line.encode()
        try:
            if self.max_size and os.fstat(self.fd).st_size + len(raw) > self.max_size:
                self._rotate()
            written = os.write(self.fd, raw)
        except OSError as e:
            if not self._said:
                self._said = True
                if self.on_error is not None:
                    self.on_error(e)
            return False
        if written < len(raw):  # a full disk took part of it: take that back
            try:
                os.ftruncate(self.fd, os.fstat(self.fd).st_size - written)
            except OSError:
                pass
            return False
        return True

    def _rotate(self) -> None:
        """Shift <path>.N-1 to <path>.N ..., the log to <path>.1, and start it afresh;
        with one file, empty it. Raises OSError."""
        if self.max_files < 2:
            os.ftruncate(self.fd, 0)
            return
        for n in range(self.max_files - 1, 1, -1):
            try:
                os.rename(f"{self.path}.{n - 1}", f"{self.path}.{n}")
            except FileNotFoundError:
                pass
        os.rename(self.path, f"{self.path}.1")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        os.close(self.fd)
        self.fd = fd

    def _drop(self) -> None:
        self.dropped += 1
        self._unreported += 1

    def _drain(self, stream: str, stamp: int, final: bool) -> None:
        buf = self._buffers.setdefault(stream, bytearray())
        while buf:
            nl = buf.find(b"\n", 0, PARTIAL_SIZE)
            if nl >= 0:
                end = nl + 1
            elif len(buf) >= PARTIAL_SIZE:
                end = PARTIAL_SIZE
            elif final:
                end = len(buf)
            else:
                return
            self._emit(stream, bytes(buf[:end]), stamp)
            del buf[:end]

    def feed(self, stream: str, data: bytes) -> None:
        """Log ``data`` read from ``stream`` ("stdout" or "stderr") now."""
        self._buffers.setdefault(stream, bytearray()).extend(data)
        self._drain(stream, time.time_ns(), final=False)

    def finish(self, stream: str) -> None:
        """``stream`` reached its end: log what is left of it."""
        self._drain(stream, time.time_ns(), final=True)

    def relay(
        self,
        sources: list[tuple[int, str]],
        on_data: Callable[[str, bytes], None] | None = None,
    ) -> None:
        """Copy every ``(fd, stream)`` source into the log until all are at end of file
        (EIO from a pty master counts as the end); closes them. ``on_data(stream,
        bytes)`` also gets every chunk read."""
        streams = dict(sources)
        open_fds = list(streams)
        while open_fds:
            try:
                readable, _ = fdwait.wait(open_fds)
            except InterruptedError:
                continue
            for fd in readable:
                try:
                    data = os.read(fd, READ_SIZE)
                except BlockingIOError:
                    continue
                except OSError:  # EIO: the pty's other side is closed
                    data = b""
                if data:
                    if on_data is not None:
                        on_data(streams[fd], data)
                    self.feed(streams[fd], data)
                    continue
                self.finish(streams[fd])
                open_fds.remove(fd)
                os.close(fd)
