"""Dockyard: a Docker-compatible container engine in Python."""

import sys as _sys

__version__ = "0.1.0"

# httpx imports its command-line client (httpx._main) whenever rich and pygments are
# installed, as they are beside Dockyard's development tools: about 60 ms of CPU at the
# start of every command that speaks HTTP. Dockyard never runs it; None here makes that
# import fail fast and httpx falls back to a stub ``main`` (the import system's rule for
# a None entry in sys.modules).
_sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
