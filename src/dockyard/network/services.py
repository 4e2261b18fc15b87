"""What a container's monitor serves for the container's lifetime on its networks: the
published ports' proxy (:mod:`dockyard.network.proxy`) and, on user-defined networks, the
embedded DNS server (:mod:`dockyard.network.dns`). Each module is imported only when the
container needs it, to keep monitors small."""

from __future__ import annotations

import contextlib
import os
from typing import Any

from dockyard.errors import DockyardError
from dockyard.paths import Paths


def start_services(
    paths: Paths,
    db: Any,
    c: Any,
    netns: str,
    endpoints: list[tuple[Any, Any]],
    undo: contextlib.ExitStack,
) -> None:
    """Publish the ports of container ``c`` to its first endpoint's address and start its
    embedded DNS server inside ``netns`` (its network namespace file) when it is on a
    user-defined network; each is stopped by ``undo``.

    ``endpoints`` is ``[(Network, Endpoint)]``, eth0 first; ``db`` the state database.
    Raises Conflict (a host port taken: Docker's message, nothing left bound) or
    DockyardError (the DNS socket could not be bound).
    """
    from dockyard.network.ports import planned_mappings

    mappings = planned_mappings(c.config, c.host_config)
    if mappings and endpoints:
        from dockyard.network.ports import PortStore
        from dockyard.network.proxy import publish

        store = PortStore(db)
        _, ep = endpoints[0]
        try:
            published = publish(
                mappings,
                ep.address,
                taken=store.taken(c.id),
                endpoint=f"{c.name} ({ep.id})",
            )
        except DockyardError as e:
            # Docker 28's wording for a failure to connect the container to its networks.
            raise type(e)(f"failed to set up container networking: {e}") from None
        undo.callback(published.close)
        store.record(c.id, published.ports)
        undo.callback(store.clear, c.id)
    if any(net.name != "bridge" for net, _ in endpoints):
        from dockyard.network.dns import DnsServer, NetworkNames

        names = NetworkNames(db.path, c.id)
        server = DnsServer(names.lookup, _upstreams(paths, c), reverse=names.reverse)
        server.bind(netns)
        undo.callback(server.close)
        server.start()


def _upstreams(paths: Paths, c: Any) -> list[tuple[str, int]]:
    """The servers the container's resolv.conf names in its ``# ExtServers`` comment
    (``--dns``, else ``host(ADDR)``, the host's), all queried from the host's namespace."""
    from dockyard.container.etcfiles import external_servers

    try:
        with open(os.path.join(paths.container_dir(c.id), "resolv.conf")) as f:
            text = f.read()
    except OSError:
        return []
    out = []
    for server in external_servers(text):
        if server.startswith("host(") and server.endswith(")"):
            server = server[5:-1]
        out.append((server, 53))
    return out
