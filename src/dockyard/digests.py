"""SHA-256 hash objects without loading OpenSSL when the input is small.

``import hashlib`` loads OpenSSL's libcrypto (a few ms of a command's start-up); the
interpreter's own SHA-256 is slower per byte but costs nothing to load, so keys and
small files (a cached ``build``'s step keys and context files) use it and only large
inputs go to OpenSSL (bench/README.md, "Build-latency benchmark").
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Inputs from this many bytes on are hashed by OpenSSL.
LARGE = 1 << 16


def sha256(data: bytes = b"", *, size: int = 0) -> Any:
    """A ``hashlib.sha256``-like object fed ``data``; ``size``: how many bytes it will be
    fed in all, when more than ``data`` (picks OpenSSL's from :data:`LARGE` on)."""
    if max(len(data), size) >= LARGE:
        import hashlib

        return hashlib.sha256(data)
    try:
        from _sha256 import sha256 as builtin  # type: ignore[import-not-found, unused-ignore]
    except ImportError:  # Python 3.12+: _sha2
        from _sha2 import sha256 as builtin  # type: ignore[import-not-found, unused-ignore]
    return builtin(data)
