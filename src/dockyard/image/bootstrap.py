"""``dockyard bootstrap``: base images made from host files or the host's Debian archive.

``busybox`` packs the host's static busybox (Debian's ``busybox-static``) in the official
busybox image's layout: ``/bin/busybox`` with every applet as a hard link in ``/bin``, a
minimal ``/etc``, and the usual top-level directories. The layer is generated in memory
with fixed metadata (every mtime is the binary's), so bootstrapping twice on one machine
gives the same image ID.

``debian[:bookworm]`` builds a minbase Debian rootfs with ``mmdebstrap`` (the ``mmdebstrap``
package) from Debian's archive, as the official ``debian`` image is built (debuerreotype),
and imports it as one layer with ``PATH`` and ``Cmd ["bash"]``.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import time
from typing import Any

from dockyard import reference
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.image.create import image_from_layer
from dockyard.image.store import Image, ImageStore
from dockyard.platforms import host_arch

SUPPORTED = ("busybox", "debian")
#: Tags ``bootstrap debian`` accepts -> the Debian suite built (the host's release).
DEBIAN_SUITES = {"latest": "bookworm", "bookworm": "bookworm", "12": "bookworm"}
MMDEBSTRAP = "mmdebstrap"
BUSYBOX = "/bin/busybox"
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
GROUP = "root:x:0:\nnobody:x:65534:\nnogroup:x:65534:\n"
# (name, mode) of the top-level directories, as the official busybox image has them.
DIRS = [
    ("bin", 0o755),
    ("dev", 0o755),
    ("etc", 0o755),
    ("home", 0o755),
    ("proc", 0o755),
    ("root", 0o700),
    ("sys", 0o755),
    ("tmp", 0o1777),
    ("usr", 0o755),
    ("var", 0o755),
]


def _is_dynamic(path: str) -> bool:
    """Whether the ELF file at ``path`` asks for a program interpreter (PT_INTERP)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:  # only 64-bit ELF is checked
            return False
        endian = "<" if head[5] == 1 else ">"
        (phoff,) = struct.unpack_from(endian + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(endian + "HH", head, 54)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    return any(struct.unpack_from(endian + "I", table, i * phentsize)[0] == 3 for i in range(phnum))


def busybox_layer(binary: str = BUSYBOX) -> tuple[bytes, int, int]:
    """The busybox rootfs as an uncompressed tar: ``(tar bytes, mtime seconds, applets)``.

    Raises ``NotFound`` naming the ``busybox-static`` package if ``binary`` is missing or
    not statically linked.
    """
    import tarfile

    hint = "install Debian's busybox-static package (apt-get install busybox-static)"
    try:
        st = os.stat(binary)
    except FileNotFoundError:
        raise NotFound(f"{binary} not found: {hint}") from None
    if _is_dynamic(binary):
        raise NotFound(f"{binary} is dynamically linked: {hint}")
    listing = subprocess.run([binary, "--list"], capture_output=True, check=True, text=True)
    applets = sorted({a for a in listing.stdout.split() if "/" not in a and a != "busybox"})
    mtime = int(st.st_mtime)

    def info(name: str, kind: bytes, mode: int, size: int = 0, link: str = "") -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type, ti.mode, ti.size, ti.linkname, ti.mtime = kind, mode, size, link, mtime
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = ""
        return ti

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, mode in DIRS:
            tf.addfile(info(name + "/", tarfile.DIRTYPE, mode))
        with open(binary, "rb") as f:
            tf.addfile(info("bin/busybox", tarfile.REGTYPE, 0o755, st.st_size), f)
        for applet in applets:
            tf.addfile(info(f"bin/{applet}", tarfile.LNKTYPE, 0o755, link="bin/busybox"))
        for name, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
            data = text.encode()
            tf.addfile(info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))
    return buf.getvalue(), mtime, len(applets)


def parse_name(name: str) -> reference.Reference:
    """The reference for ``bootstrap NAME[:TAG]``; raises ``InvalidArgument`` if unsupported."""
    ref = reference.parse(name)
    if ref.familiar_name() not in SUPPORTED or ref.digest is not None:
        raise InvalidArgument(
            f'cannot bootstrap "{name}": supported images are {", ".join(SUPPORTED)}'
        )
    if ref.familiar_name() == "debian" and ref.tag not in DEBIAN_SUITES:
        raise InvalidArgument(
            f'cannot bootstrap "{name}": supported debian tags are {", ".join(DEBIAN_SUITES)}'
        )
    return ref


def debian_rootfs(suite: str, out_path: str) -> None:
    """Write a minbase Debian ``suite`` rootfs as an uncompressed tar to ``out_path``.

    Runs ``mmdebstrap --variant=minbase --mode=root`` against Debian's archive (network),
    leaving ``/dev`` nodes out (the runtime makes them). Raises ``NotFound`` naming the
    ``mmdebstrap`` package if it is missing, ``DockyardError`` with mmdebstrap's last
    output lines if it fails.
    """
    import shutil

    tool = shutil.which(MMDEBSTRAP)
    if tool is None:
        raise NotFound(
            "mmdebstrap not found: install Debian's mmdebstrap package (apt-get install mmdebstrap)"
        )
    cmd = [tool, "--variant=minbase", "--mode=root", "--quiet", "--format=tar"]
    cmd += ["--skip=output/dev", suite, out_path]
    proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise DockyardError(f"mmdebstrap {suite} failed (exit {proc.returncode}): {tail}")


def bootstrap_debian(store: ImageStore, ref: reference.Reference) -> Image:
    """Build ``debian:<tag>`` with :func:`debian_rootfs` and tag it ``ref`` and
    ``debian:<suite>``. The tar is written to a temporary file under the engine root and
    removed afterwards. Raises what :func:`debian_rootfs` and ``image_from_layer`` raise."""
    from dockyard.tempfiles import sweep, temp_name

    assert ref.tag is not None
    suite = DEBIAN_SUITES[ref.tag]
    tmp_dir = store.paths.tmp
    os.makedirs(tmp_dir, mode=0o700, exist_ok=True)
    sweep(tmp_dir, "debian-")
    tar_path = os.path.join(tmp_dir, temp_name("debian-") + ".tar")
    try:
        debian_rootfs(suite, tar_path)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        config: dict[str, Any] = {
            "created": created,
            "architecture": host_arch(),
            "os": "linux",
            "config": {"Env": [PATH_ENV], "Cmd": ["bash"]},
        }
        history = {
            "created": created,
            "created_by": f"dockyard bootstrap debian: mmdebstrap --variant=minbase {suite}",
        }
        with open(tar_path, "rb") as stream:
            img = image_from_layer(store, stream, config, history, ref)
    finally:
        try:
            os.unlink(tar_path)
        except FileNotFoundError:
            pass
    suite_ref = reference.parse(f"debian:{suite}")
    if suite_ref != ref:
        store.tag(img.id, suite_ref)
    return img


def bootstrap(store: ImageStore, name: str) -> tuple[Image, str]:
    """Build and tag the image ``name`` (``busybox[:TAG]``, ``debian[:latest|bookworm|12]``).

    Returns ``(image, what it was made from)``. Raises ``InvalidArgument`` for an
    unsupported name, ``NotFound`` if busybox or mmdebstrap is missing.
    """
    ref = parse_name(name)
    if ref.familiar_name() == "debian":
        img = bootstrap_debian(store, ref)
        return img, f"Debian {DEBIAN_SUITES[ref.tag or 'latest']} minbase (mmdebstrap)"
    data, mtime, applets = busybox_layer()
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config: dict[str, Any] = {
        "created": created,
        "architecture": host_arch(),
        "os": "linux",
        "config": {"Env": [PATH_ENV], "Cmd": ["sh"]},
    }
    history = {"created": created, "created_by": f"dockyard bootstrap busybox from {BUSYBOX}"}
    image = image_from_layer(store, io.BytesIO(data), config, history, ref)
    return image, f"{BUSYBOX} with {applets} applets"
