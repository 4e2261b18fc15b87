"""Helpers for tests of the Engine API service: start ``dockyard system service`` on a
temporary unix socket with the test's engine root, and talk HTTP to it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

from conftest import DOCKYARD


@contextlib.contextmanager
def running_service(
    env: dict[str, str], sock_path: str, *args: str, idle: str = "0"
) -> Iterator[subprocess.Popen[str]]:
    """``dockyard system service --time IDLE [ARGS] unix://SOCK_PATH`` until the block
    ends (SIGTERM, then waited for). Waits for the socket to answer first."""
    proc = subprocess.Popen(
        [DOCKYARD, "system", "service", "--time", idle, *args, f"unix://{sock_path}"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for_socket(sock_path, proc)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)  # requests in flight get up to 10 s
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


def wait_for_socket(
    path: str, proc: subprocess.Popen[str] | None = None, timeout: float = 15
) -> None:
    """Return once ``path`` accepts connections; AssertionError with the service's stderr
    if it exits or does not come up within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"service exited {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}"
            )
        with socket.socket(socket.AF_UNIX) as s:
            try:
                s.connect(path)
                return
            except OSError:
                time.sleep(0.05)
    raise AssertionError(f"service did not listen on {path}")


def raw_request(path: str, data: bytes, timeout: float = 10) -> bytes:
    """Send ``data`` on a new connection to the unix socket ``path`` and read until the
    server closes it (or ``timeout``)."""
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(data)
        out = b""
        with contextlib.suppress(TimeoutError):
            while chunk := s.recv(65536):
                out += chunk
        return out


def needs(*operations: str) -> pytest.MarkDecorator:
    """Skip a test until the facade (dockyard.engine.Engine) has all of ``operations``:
    the service answers 501 for the others, which these tests do not exercise."""
    from dockyard.engine import Engine

    missing = [op for op in operations if not hasattr(Engine, op)]
    return pytest.mark.skipif(bool(missing), reason=f"the facade has no {', '.join(missing)} yet")
