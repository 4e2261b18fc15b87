"""The Engine facade: :class:`Engine` (:mod:`dockyard.engine.facade`), the one object
every front end (CLI, API service, compose) calls, and :func:`on_first_open`.

``Engine`` is imported on first use (PEP 562): a command that needs a few operations
imports only their modules (``ps``, ``images`` and ``volume ls`` use
:class:`dockyard.engine.listing.ListingEngine`; bench/README.md, "CLI start-up").
"""

from __future__ import annotations

from dockyard.engine.base import on_first_open

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dockyard.engine.facade import Engine

__all__ = ["Engine", "on_first_open"]


def __getattr__(name: str) -> object:
    if name == "Engine":
        from dockyard.engine.facade import Engine

        return Engine
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
