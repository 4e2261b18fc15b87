"""rtnetlink (rtnetlink(7), netlink(7)) for a container's interfaces: the few requests a
``run`` on a bridge network makes, sent as one batch per network namespace.

A ``run`` on the default bridge used to exec ``ip -batch -`` twice (the veth pair on the
host, then its address, routes and links inside the container's namespace, from a thread
that joined it): two fork/execs of iproute2 and the subprocess module's import, about
10 ms of a 170 ms run. Here each batch is one ``sendmsg`` of several requests on a
``NETLINK_ROUTE`` socket, each acknowledged (``NLM_F_ACK``); a socket works in the
network namespace it was created in, so the container's is created by a thread that
joined it. Only the C ``_socket`` module is used (``socket.py`` costs milliseconds to
import). Requests and attributes are those ``ip`` sends for the same commands
(iproute2 ``ip/iplink.c``, ``ipaddress.c``, ``iproute.c``).
"""

from __future__ import annotations

import _socket
import os
import struct

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO = 1, 3, 10, 18
IFLA_IFALIAS, IFLA_NET_NS_FD = 20, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
IFA_ADDRESS, IFA_LOCAL = 1, 2
IFA_F_NODAD = 0x02
RTA_OIF, RTA_GATEWAY = 4, 5
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1
IFF_UP = 0x1
AF_UNSPEC = 0

_HDR = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, seq, port id
_IFINFO = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
_IFADDR = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefix length, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # rtmsg
_ERR = struct.Struct("=i")


def attr(kind: int, value: bytes | str | int) -> bytes:
    """One rtattr, padded to 4 bytes: ``str`` NUL-terminated, ``int`` a u32."""
    if isinstance(value, str):
        value = value.encode() + b"\0"
    elif isinstance(value, int):
        value = struct.pack("=I", value)
    size = 4 + len(value)
    return struct.pack("=HH", size, kind) + value + b"\0" * (-size % 4)


def link_info(index: int = 0, flags: int = 0, change: int = 0) -> bytes:
    """A struct ifinfomsg (AF_UNSPEC)."""
    return _IFINFO.pack(AF_UNSPEC, 0, index, flags, change)


def mac_bytes(mac: str) -> bytes:
    """``02:42:ac:11:00:02`` as its 6 bytes."""
    return bytes(int(part, 16) for part in mac.split(":"))


class Batch:
    """Requests for one netlink socket, sent together by :meth:`run`; each is described
    (``what``) for the error naming it."""

    def __init__(self) -> None:
        self.requests: list[tuple[int, int, bytes, str]] = []

    def add(self, kind: int, flags: int, body: bytes, what: str) -> None:
        """Queue a request of type ``kind`` (RTM_*) with ``flags`` besides
        NLM_F_REQUEST | NLM_F_ACK."""
        self.requests.append((kind, flags, body, what))

    def run(self, sock: Any) -> None:
        """Send every queued request in one datagram and wait for each one's answer.
        Raises DockyardError naming the first that failed. The kernel carries on with
        the requests after a failed one (``ip -batch`` stops): callers undo the whole
        set-up on failure (the container's namespace goes, and the veth pair with it)."""
        if not self.requests:
            return
        data = b""
        for seq, (kind, flags, body, _) in enumerate(self.requests, 1):
            data += _HDR.pack(
                _HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0
            )
            data += body
        sock.send(data)
        failed: tuple[int, int] | None = None
        pending = set(range(1, len(self.requests) + 1))
        while pending:
            for kind, seq, payload in _messages(sock.recv(65536)):
                if kind != NLMSG_ERROR or seq not in pending:
                    continue
                pending.discard(seq)
                (code,) = _ERR.unpack_from(payload)
                if code < 0 and (failed is None or seq < failed[0]):
                    failed = (seq, -code)
        if failed is not None:
            seq, err = failed
            raise DockyardError(
                f"failed to set up the network: {self.requests[seq - 1][3]}: {os.strerror(err)}"
            )


def _messages(data: bytes) -> list[tuple[int, int, bytes]]:
    """The (type, seq, payload) of each netlink message in one datagram."""
    out = []
    offset = 0
    while offset + _HDR.size <= len(data):
        length, kind, _, seq, _ = _HDR.unpack_from(data, offset)
        if length < _HDR.size:
            break
        out.append((kind, seq, data[offset + _HDR.size : offset + length]))
        offset += (length + 3) & ~3
    return out


def open_socket() -> Any:
    """A NETLINK_ROUTE socket in the calling thread's network namespace."""
    sock = _socket.socket(_socket.AF_NETLINK, _socket.SOCK_RAW, NETLINK_ROUTE)
    sock.bind((0, 0))
    return sock


def link_index(sock: Any, name: str) -> int:
    """The ifindex of interface ``name`` in ``sock``'s namespace (RTM_GETLINK); raises
    DockyardError when it does not exist."""
    body = link_info() + attr(IFLA_IFNAME, name)
    sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST, 1, 0) + body)
    while True:
        for kind, seq, payload in _messages(sock.recv(65536)):
            if seq != 1:
                continue
            if kind == NLMSG_ERROR:
                (code,) = _ERR.unpack_from(payload)
                if code < 0:
                    raise DockyardError(
                        f"failed to set up the network: find {name}: {os.strerror(-code)}"
                    )
                continue
            if kind == RTM_NEWLINK:
                return int(_IFINFO.unpack_from(payload)[2])


def add_veth(batch: Batch, name: str, peer: str, peer_mac: str, peer_netns_fd: int) -> None:
    """``ip link add NAME type veth peer name PEER address PEER_MAC netns FD``."""
    peer_info = link_info() + attr(IFLA_IFNAME, peer) + attr(IFLA_ADDRESS, mac_bytes(peer_mac))
    peer_info += attr(IFLA_NET_NS_FD, peer_netns_fd)
    info = attr(IFLA_INFO_KIND, b"veth") + attr(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer_info))
    body = link_info() + attr(IFLA_IFNAME, name) + attr(IFLA_LINKINFO, info)
    batch.add(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, f"add veth pair {name}/{peer}")


def set_link(
    batch: Batch,
    name: str | None = None,
    index: int = 0,
    *,
    up: bool = False,
    master: int | None = None,
    alias: str | None = None,
) -> None:
    """``ip link set {NAME | dev with INDEX} [alias ALIAS] [master IFINDEX] [up]``."""
    body = link_info(index, IFF_UP if up else 0, IFF_UP if up else 0)
    if name is not None and not index:
        body += attr(IFLA_IFNAME, name)
    if alias is not None:
        body += attr(IFLA_IFALIAS, alias.encode())
    if master is not None:
        body += attr(IFLA_MASTER, master)
    batch.add(RTM_NEWLINK, 0, body, f"set link {name or index}")


def _packed(address: str) -> tuple[int, bytes]:
    """The address family and bytes of an IPv4 or IPv6 address."""
    family = _socket.AF_INET6 if ":" in address else _socket.AF_INET
    return family, _socket.inet_pton(family, address)


def add_address(
    batch: Batch, index: int, address: str, prefixlen: int, name: str, nodad: bool = False
) -> None:
    """``ip addr add ADDRESS/PREFIXLEN dev NAME [nodad]`` (IPv4 or IPv6; NAME has
    ``index``; ``nodad``: no duplicate address detection, usable at once)."""
    family, raw = _packed(address)
    body = _IFADDR.pack(family, prefixlen, IFA_F_NODAD if nodad else 0, 0, index)
    body += attr(IFA_LOCAL, raw) + attr(IFA_ADDRESS, raw)
    batch.add(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body, f"add address {address} to {name}")


def add_default_route(batch: Batch, gateway: str, index: int, name: str) -> None:
    """``ip route add default via GATEWAY dev NAME`` (IPv4 or IPv6; NAME has ``index``)."""
    family, raw = _packed(gateway)
    body = _RTMSG.pack(
        family, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0
    )
    body += attr(RTA_GATEWAY, raw) + attr(RTA_OIF, index)
    batch.add(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body, f"add default route via {gateway}")
