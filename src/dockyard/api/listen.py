"""The service's listening sockets: ``unix://PATH``, ``tcp://HOST:PORT`` (loopback, or any
address with TLS client verification) and sockets passed by systemd (``LISTEN_FDS``,
sd_listen_fds(3)).

Docker's reference: dockerd's ``-H`` addresses and ``--tlsverify``; Podman's ``system
service [URI]``. A non-loopback address without client certificates would hand root on
this machine to anyone who can reach the port, so it is refused.
"""

from __future__ import annotations

import contextlib
import grp
import ipaddress
import os
import socket
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dockyard.errors import InvalidArgument

if TYPE_CHECKING:
    import ssl

#: sd_listen_fds(3): passed descriptors start at 3.
SD_LISTEN_FDS_START = 3


@dataclass(frozen=True)
class TLSFiles:
    """``--tlscacert`` (CA of accepted client certificates), ``--tlscert``, ``--tlskey``
    (the server's certificate and key), all PEM file paths."""

    ca: str
    cert: str
    key: str


@dataclass(frozen=True)
class Address:
    """A parsed service URI: ``scheme`` is ``unix``, ``tcp`` or ``fd``; ``path`` the socket
    file (unix); ``host``/``port`` (tcp)."""

    scheme: str
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        if self.scheme == "unix":
            return f"unix://{self.path}"
        if self.scheme == "tcp":
            host = f"[{self.host}]" if ":" in self.host else self.host
            return f"tcp://{host}:{self.port}"
        return "fd://"


def default_uri(runroot: str) -> str:
    """``unix://<runroot>/docker.sock``, the service's default address."""
    return f"unix://{os.path.join(runroot, 'docker.sock')}"


def parse_uri(uri: str) -> Address:
    """Parse ``unix:///abs/path``, ``tcp://HOST:PORT`` or ``fd://``.

    Raises InvalidArgument naming the URI for another scheme, a relative unix path, a
    missing or out-of-range port.
    """
    scheme, sep, rest = uri.partition("://")
    if not sep:
        raise InvalidArgument(f"invalid service URI {uri!r}: want unix://PATH or tcp://HOST:PORT")
    if scheme == "unix":
        if not rest.startswith("/"):
            raise InvalidArgument(f"invalid service URI {uri!r}: the socket path must be absolute")
        return Address("unix", path=rest)
    if scheme == "fd":
        if rest:
            raise InvalidArgument(
                f"invalid service URI {uri!r}: only fd:// (every socket systemd passes) is supported"
            )
        return Address("fd")
    if scheme == "tcp":
        host, colon, port_text = rest.rstrip("/").rpartition(":")
        host = host.strip("[]")
        if not colon or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise InvalidArgument(f"invalid service URI {uri!r}: want tcp://HOST:PORT")
        return Address("tcp", host=host, port=int(port_text))
    raise InvalidArgument(
        f"invalid service URI {uri!r}: unsupported scheme {scheme!r} (unix, tcp, fd)"
    )


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is a loopback address."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def tls_context(files: TLSFiles) -> ssl.SSLContext:
    """A server context that requires a client certificate signed by ``files.ca``
    (dockerd's ``--tlsverify``: TLS 1.2 or newer). Raises InvalidArgument naming the
    file that cannot be loaded."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.verify_mode = ssl.CERT_REQUIRED
    try:
        ctx.load_cert_chain(files.cert, files.key)
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"--tlscert {files.cert} / --tlskey {files.key}: {e}") from None
    try:
        ctx.load_verify_locations(cafile=files.ca)
    except (OSError, ssl.SSLError) as e:
        raise InvalidArgument(f"--tlscacert {files.ca}: {e}") from None
    return ctx


def systemd_sockets() -> list[socket.socket]:
    """The listening sockets systemd passed to this process (``LISTEN_PID`` must be ours),
    or [] when there are none. The variables are removed so children do not inherit them."""
    pid = os.environ.pop("LISTEN_PID", "")
    count = os.environ.pop("LISTEN_FDS", "")
    os.environ.pop("LISTEN_FDNAMES", None)
    if not count.isdigit() or pid != str(os.getpid()):
        return []
    socks = []
    for fd in range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + int(count)):
        os.set_inheritable(fd, False)
        socks.append(socket.socket(fileno=fd))
    return socks


def _unix_listener(path: str) -> socket.socket:
    """Bind ``path`` mode 0660, group ``docker`` when that group exists (dockerd's
    ``--group`` default). A stale socket file nobody answers on is replaced; a live one is
    refused."""
    os.makedirs(os.path.dirname(path), mode=0o711, exist_ok=True)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISSOCK(os.lstat(path).st_mode):
            raise InvalidArgument(f"{path}: exists and is not a socket")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)
        else:
            raise InvalidArgument(f"{path}: another service is listening on it")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    # Bind into a temporary name with the final mode, then rename: never a moment where
    # the socket is reachable with the umask's looser mode.
    tmp = f"{path}.{os.getpid()}.tmp"
    with contextlib.suppress(FileNotFoundError):
        os.unlink(tmp)
    old = os.umask(0o177)
    try:
        sock.bind(tmp)
    finally:
        os.umask(old)
    try:
        try:
            gid = grp.getgrnam("docker").gr_gid
        except KeyError:
            gid = -1
        os.chown(tmp, -1, gid)
        os.chmod(tmp, 0o660)
        os.rename(tmp, path)
    except BaseException:
        sock.close()
        os.unlink(tmp)
        raise
    return sock


def listeners(address: Address, tls: TLSFiles | None) -> list[socket.socket]:
    """Listening sockets for ``address``. ``fd://`` takes systemd's (InvalidArgument if
    none were passed). TCP on a non-loopback address requires ``tls`` (InvalidArgument
    otherwise); the caller wraps accepted connections with :func:`tls_context`."""
    if address.scheme == "fd":
        socks = systemd_sockets()
        if not socks:
            raise InvalidArgument("fd://: no sockets passed by systemd (LISTEN_FDS)")
        return socks
    if address.scheme == "unix":
        return [_unix_listener(address.path)]
    if not is_loopback(address.host) and tls is None:
        raise InvalidArgument(
            f"refusing to listen on {address} without TLS client verification: "
            "use a loopback address or --tlsverify --tlscacert --tlscert --tlskey"
        )
    try:
        infos = socket.getaddrinfo(address.host, address.port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise InvalidArgument(f"{address}: {e.strerror}") from None
    family, _, _, _, sockaddr = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(sockaddr)
    except OSError as e:
        sock.close()
        raise InvalidArgument(f"listen {address}: {e.strerror}") from None
    return [sock]
