"""The kernel side of networking through Debian's iproute2 (``ip -batch -``, ``-json``) and
nftables (``nft -f -``), and network namespace files.

Not pyroute2: importing it costs ~165 ms (its package pulls ndb, asyncio and
multiprocessing), more than a whole ``dockyard run``; one ``ip -batch`` exec does many
changes for ~2 ms (docs/design.md, networking).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import threading
from collections.abc import Callable

from dockyard.errors import DockyardError

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    import subprocess
    from typing import Any, TypeVar

    T = TypeVar("T")

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
#: The nftables table holding every Dockyard rule (``table ip dockyard``).
NFT_TABLE = "dockyard"


def quote(word: str) -> str:
    """A word for an ``ip -batch`` line (its parser understands double quotes)."""
    if word and all(ch.isalnum() or ch in "-_./:@" for ch in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _tool(name: str) -> str:
    for d in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        path = os.path.join(d, name)
        if os.access(path, os.X_OK):
            return path
    import shutil

    found = shutil.which(name)
    if found is None:
        raise DockyardError(
            f"{name} is not installed: install Debian's "
            f"{'iproute2' if name == 'ip' else 'nftables'} package"
        )
    return found


def ip_batch(lines: list[str], netns: str | None = None, force: bool = False) -> None:
    """Run ``ip -batch -`` with ``lines`` (one ``ip`` command each, without ``ip``), inside
    the network namespace file ``netns`` if given. ``force`` goes on past failing lines
    (teardown). Raises DockyardError with ip's message."""
    if not lines:
        return
    import subprocess

    args = [_tool("ip"), *(["-force"] if force else []), "-batch", "-"]
    text = "\n".join(lines) + "\n"

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, input=text, capture_output=True, text=True, check=False)

    proc = in_netns(netns, run) if netns else run()
    if proc.returncode != 0 and not force:
        msg = " ".join(proc.stderr.split()) or f"ip exited {proc.returncode}"
        raise DockyardError(f"failed to set up the network: {msg}")


def ip_json(args: list[str]) -> Any:
    """``ip -json ARGS`` parsed (``[]`` when ip prints nothing)."""
    import subprocess

    proc = subprocess.run(
        [_tool("ip"), "-json", *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise DockyardError(f"ip {' '.join(args)}: {' '.join(proc.stderr.split())}")
    return json.loads(proc.stdout or "[]")


def link_exists(name: str) -> bool:
    """Whether the host has a network interface ``name`` (no exec: sysfs)."""
    return os.path.exists(f"/sys/class/net/{name}")


def link_alias(name: str) -> str | None:
    """The alias (``ip link set NAME alias``) of the host interface ``name``; None when
    there is no such interface."""
    try:
        with open(f"/sys/class/net/{name}/ifalias") as f:
            return f.read().rstrip("\n")
    except OSError:
        return None


def link_ipv4(name: str) -> tuple[str, str] | None:
    """The primary IPv4 address and netmask of the host interface ``name`` as dotted
    strings (``SIOCGIFADDR``/``SIOCGIFNETMASK``: no exec), or None when it has none or
    does not exist."""
    import _socket  # not socket.py: every run on the default bridge asks
    import fcntl
    import struct

    request = struct.pack("256s", name.encode()[:15])
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM)
    try:
        addr = fcntl.ioctl(s.fileno(), 0x8915, request)[20:24]  # SIOCGIFADDR
        mask = fcntl.ioctl(s.fileno(), 0x891B, request)[20:24]  # SIOCGIFNETMASK
    except OSError:
        return None
    finally:
        s.close()
    return _socket.inet_ntoa(addr), _socket.inet_ntoa(mask)


def bridge_ports(name: str) -> list[str]:
    """The interfaces enslaved to the bridge ``name`` (empty if it does not exist)."""
    try:
        return os.listdir(f"/sys/class/net/{name}/brif")
    except OSError:
        return []


def in_netns(path: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a thread that joined the network namespace file ``path``, so the
    process itself stays in its own namespace (a child it execs starts in ``path``'s)."""
    result: list[Any] = []

    def body() -> None:
        from dockyard.runtime.syscalls import setns

        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                setns(fd, CLONE_NEWNET)
            finally:
                os.close(fd)
            result.append((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            result.append((False, e))

    thread = threading.Thread(target=body, name="netns")
    thread.start()
    thread.join()
    ok, value = result[0]
    if not ok:
        raise value
    return value


def create_netns(path: str, netlink: bool = False) -> Any:
    """Make a new network namespace and bind-mount it at ``path`` (a file is created), as
    ``ip netns add`` does; with ``netlink``, return a NETLINK_ROUTE socket in it (made by
    the same thread: see dockyard.network.netlink), else None. Raises OSError; on failure
    nothing is left."""
    made: list[Any] = []

    def body() -> None:
        from dockyard.runtime.syscalls import mount, unshare

        unshare(CLONE_NEWNET)
        mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None, MS_BIND)
        if netlink:
            from dockyard.network.netlink import open_socket

            made.append(open_socket())

    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path, "x"):
        pass
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            body()
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(e)

    # A thread's namespace change dies with the thread; the bind mount keeps the namespace.
    thread = threading.Thread(target=guarded, name="netns-create")
    thread.start()
    thread.join()
    if errors:
        with contextlib.suppress(OSError):
            remove_netns(path)
        raise errors[0]
    return made[0] if made else None


def remove_netns(path: str) -> None:
    """Unmount and delete a namespace file made by :func:`create_netns`; a missing or
    already unmounted one is fine."""
    from dockyard.runtime.syscalls import umount2

    try:
        umount2(path, MNT_DETACH)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOENT):
            raise
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def nft(script: str) -> None:
    """Apply an nftables script in one transaction (``nft -f -``). Raises DockyardError."""
    import subprocess

    proc = subprocess.run(
        [_tool("nft"), "-f", "-"], input=script, capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise DockyardError(f"failed to set up firewall rules: {' '.join(proc.stderr.split())}")


def nft_chains(family: str = "ip") -> list[dict[str, str]]:
    """The chains of Dockyard's table of ``family`` (``ip``, or ``ip6`` for IPv6
    networks) as ``{"name", "comment"}`` (empty if there is no table). From nft's text
    output: its JSON (nftables 1.0.6) leaves chain comments out."""
    import subprocess

    proc = subprocess.run(
        [_tool("nft"), "list", "table", family, NFT_TABLE],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        return []
    chains: list[dict[str, str]] = []
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "chain" and words[2] == "{":
            chains.append({"name": words[1], "comment": ""})
        elif chains and words[:1] == ["comment"] and not chains[-1]["comment"]:
            text = line.strip()[len("comment ") :]
            try:
                chains[-1]["comment"] = str(json.loads(text))
            except ValueError:
                chains[-1]["comment"] = text.strip('"')
    return chains


def enable_ipv6(ifname: str) -> None:
    """Turn IPv6 on for interface ``ifname`` of the calling thread's network namespace
    (``net.ipv6.conf.IFNAME.disable_ipv6=0``, as moby's setIPv6 and setupBridgeIPv6), so
    it can hold IPv6 addresses. Raises DockyardError when the kernel has no IPv6 for it."""
    path = f"/proc/sys/net/ipv6/conf/{ifname}/disable_ipv6"
    try:
        with open(path) as f:
            if f.read().strip() == "0":
                return
        with open(path, "w") as f:
            f.write("0")
    except OSError as e:
        raise DockyardError(
            f"failed to set up the network: cannot turn on IPv6 on {ifname}: {e.strerror}"
        ) from None


def set_ip_forward() -> None:
    """Turn on IPv4 forwarding, as dockerd does, so masqueraded traffic leaves the host."""
    path = "/proc/sys/net/ipv4/ip_forward"
    with open(path) as f:
        if f.read().strip() == "1":
            return
    with open(path, "w") as f:
        f.write("1")
