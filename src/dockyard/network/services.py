"""What a container's monitor serves for the container's lifetime on its networks: the
published ports' proxy (:mod:`dockyard.network.proxy`) and, on user-defined networks, the
embedded DNS server (:mod:`dockyard.network.dns`). Each module is imported only when the
container needs it, to keep monitors small."""

from __future__ import annotations

import contextlib
import os

from dockyard.errors import DockyardError
from dockyard.paths import Paths

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def start_services(
    paths: Paths,
    db: Any,
    c: Any,
    netns: str,
    endpoints: list[tuple[Any, Any]],
    undo: contextlib.ExitStack,
    serve: bool = True,
) -> dict[str, str]:
    """Publish the ports of container ``c`` to its first endpoint's address and start its
    embedded DNS server inside ``netns`` (its network namespace file) when it is on a
    user-defined network; each is stopped by ``undo``.

    ``endpoints`` is ``[(Network, Endpoint)]``, eth0 first; ``db`` the state database.
    Raises Conflict (a host port taken: Docker's message, nothing left bound) or
    DockyardError (the DNS socket could not be bound).

    Without ``serve`` (a detached container: its monitor execs before it serves) the
    sockets are bound and recorded but not served; returns the monitor's watch arguments
    naming them (``ports``, ``dns``: see :func:`serve_handed_off`), their fds left
    open for the exec. With ``serve`` returns {}.
    """
    handoff: dict[str, str] = {}
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
                ep.address or ep.address6,  # an IPv6-only network's: its IPv6 address
                taken=store.taken(c.id),
                endpoint=f"{c.name} ({ep.id})",
                serve=serve,
            )
        except DockyardError as e:
            # Docker 28's wording for a failure to connect the container to its networks.
            raise type(e)(f"failed to set up container networking: {e}") from None
        undo.callback(published.close)
        store.record(c.id, published.ports)
        undo.callback(store.clear, c.id)
        if not serve:
            handoff["ports"] = ",".join(
                f"{sock.fileno()}/{proto}/{port}/{ip}"
                for sock, proto, (ip, port) in published.proxy.served
            )
    if any(net.name != "bridge" for net, _ in endpoints):
        from dockyard.network.dns import DnsServer, NetworkNames

        names = NetworkNames(db.path, c.id)
        upstreams = upstream_servers(c.host_config, endpoints)
        server = DnsServer(names.lookup, upstreams, reverse=names.reverse)
        server.bind(netns)
        undo.callback(server.close)
        if serve:
            server.start()
        else:
            assert server.udp is not None and server.tcp is not None
            handoff["dns"] = f"{server.udp.fileno()}/{server.tcp.fileno()}/" + ",".join(
                ip for ip, _port in upstreams
            )
    return handoff


def serve_handed_off(paths: Paths, container_id: str, ports: str, dns: str) -> contextlib.ExitStack:
    """Serve, in a detached container's monitor after its exec, the sockets
    :func:`start_services` bound without serving: ``ports`` is ``fd/proto/port/ip,...``
    (each host socket and the container address it forwards to), ``dns`` is
    ``udpfd/tcpfd/ip,ip...`` (the sockets and the upstream servers, see
    :func:`upstream_servers`; empty: none). Closing the returned stack stops them and
    closes the sockets (their records are cleared by the container's cleanup)."""
    import socket

    stack = contextlib.ExitStack()
    if ports:
        from dockyard.network.proxy import Proxy

        proxy = Proxy()
        stack.callback(proxy.close)
        for item in ports.split(","):
            fd, proto, port, ip = item.split("/", 3)
            sock = socket.socket(fileno=int(fd))
            os.set_inheritable(sock.fileno(), False)
            if proto == "tcp":
                proxy.add_tcp(sock, (ip, int(port)))
            else:
                proxy.add_udp(sock, (ip, int(port)))
        proxy.start()
    if dns:
        from dockyard.network.dns import DnsServer, NetworkNames

        udp_fd, tcp_fd, servers = dns.split("/", 2)
        udp, tcp = (socket.socket(fileno=int(fd)) for fd in (udp_fd, tcp_fd))
        for sock in (udp, tcp):
            os.set_inheritable(sock.fileno(), False)
        names = NetworkNames(paths.state_db, container_id)
        upstreams = [(ip, 53) for ip in servers.split(",") if ip]
        server = DnsServer(names.lookup, upstreams, reverse=names.reverse)
        server.udp, server.tcp = udp, tcp
        stack.callback(server.close)
        server.start()
    return stack


def upstream_servers(
    host_config: dict[str, Any],
    endpoints: list[tuple[Any, Any]],
    resolv_conf: str = "/etc/resolv.conf",
) -> list[tuple[str, int]]:
    """The servers a container's embedded DNS forwards to, as (ip, 53), queried from the
    host's namespace: its ``--dns`` servers (HostConfig ``Dns``), else the host's
    resolvers (loopback ones included), read at each start as Docker does.

    None when every network of the container (``endpoints``: ``[(Network, Endpoint)]``)
    is ``--internal``: Docker 26's fix for CVE-2024-29018 (libnetwork's resolver
    forwards only for a sandbox with external access), so names outside the network get
    SERVFAIL rather than a way out. Taken from the engine's state, never from the
    container's /etc/resolv.conf, which the container can rewrite.
    """
    from dockyard.network.dns import host_upstreams

    if all(net.internal for net, _ in endpoints):
        return []
    servers = [str(ip) for ip in host_config.get("Dns") or []]
    if servers:
        return [(ip, 53) for ip in servers]
    return host_upstreams(resolv_conf)
