"""v1 ``blkio`` controller: weights and throttling (kernel cgroup-v1/blkio-controller.rst)."""

from __future__ import annotations

import os

from dockyard.errors import DockyardError

from .. import fs

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

_THROTTLE = (
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
)


def apply(path: str, blkio: dict[str, Any]) -> None:
    """Write OCI ``blockIO`` (config-linux.md "Block IO"): ``weight``, ``leafWeight``,
    ``weightDevice`` [{major, minor, weight, leafWeight}] and the four ``throttle*``
    lists [{major, minor, rate}], as runc's fs/blkio.go: weights go to BFQ's
    ``blkio.bfq.weight[_device]`` when present, else CFQ's ``blkio.weight[_device]``.

    Raises DockyardError when a weight is asked for and neither file exists (no
    weight-aware I/O scheduler), as runc fails then.
    """
    weight_file, device_file = "blkio.bfq.weight", "blkio.bfq.weight_device"
    if not fs.exists(os.path.join(path, weight_file)):
        weight_file, device_file = "blkio.weight", "blkio.weight_device"

    def write(name: str, value: str | int) -> None:
        target = os.path.join(path, name)
        if not fs.exists(target):
            raise DockyardError(
                f"cgroup: cannot set blkio {name}: {target} does not exist"
                " (no weight-aware I/O scheduler on this host)"
            )
        fs.write(target, value)

    if blkio.get("weight"):
        write(weight_file, int(blkio["weight"]))
    if blkio.get("leafWeight"):
        write("blkio.leaf_weight", int(blkio["leafWeight"]))
    for wd in blkio.get("weightDevice") or []:
        dev = f"{wd['major']}:{wd['minor']}"
        if wd.get("weight"):
            write(device_file, f"{dev} {int(wd['weight'])}")
        if wd.get("leafWeight"):
            write("blkio.leaf_weight_device", f"{dev} {int(wd['leafWeight'])}")
    for key, name in _THROTTLE:
        for td in blkio.get(key) or []:
            write(name, f"{td['major']}:{td['minor']} {int(td['rate'])}")
