"""v2 device rules: an eBPF ``BPF_PROG_TYPE_CGROUP_DEVICE`` program attached to the cgroup.

cgroup v2 has no devices controller; the kernel runs the cgroup's device programs on every
device open and mknod (kernel admin-guide/cgroup-v2.rst, "Device controller"). The program
is built the way runc's ``devicefilter`` builds it: rules are tested last to first, the
first match decides, and anything unmatched is denied (the OCI list starts with deny-all).
"""

from __future__ import annotations

import ctypes
import os
import struct
from typing import Any

from dockyard.errors import DockyardError

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351, "riscv64": 280}
_BPF_PROG_LOAD = 5
_BPF_PROG_ATTACH = 8
_BPF_PROG_TYPE_CGROUP_DEVICE = 15
_BPF_CGROUP_DEVICE = 6
_BPF_F_ALLOW_MULTI = 2

# struct bpf_cgroup_dev_ctx: access_type = access << 16 | type, then major, minor.
_DEV_TYPE = {"b": 1, "c": 2}
_ACCESS = {"m": 1, "r": 2, "w": 4}

# Instruction opcodes (include/uapi/linux/bpf.h, bpf_common.h).
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W
_AND32_K = 0x54  # BPF_ALU | BPF_AND | BPF_K
_RSH32_K = 0x74  # BPF_ALU | BPF_RSH | BPF_K
_MOV32_X = 0xBC  # BPF_ALU | BPF_MOV | BPF_X
_MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95  # BPF_JMP | BPF_EXIT


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


def _block(rule: dict[str, Any]) -> list[tuple[int, int, int, int, int]]:
    """One rule's instructions; ``off=-1`` marks "jump to the next rule"."""
    out = []
    kind = rule.get("type") or "a"
    if kind != "a":
        if kind not in _DEV_TYPE:
            raise DockyardError(f"cgroup: unsupported device type {kind!r} in device rules")
        out.append((_JNE_K, 2, 0, -1, _DEV_TYPE[kind]))
    access = rule.get("access") or "rwm"
    mask = 0
    for ch in access:
        if ch not in _ACCESS:
            raise DockyardError(f"cgroup: invalid device access {access!r} in device rules")
        mask |= _ACCESS[ch]
    if mask != 7:
        # The requested access must be a subset of the rule's: (R3 & mask) == R3.
        out += [(_MOV32_X, 1, 3, 0, 0), (_AND32_K, 1, 0, 0, mask), (_JNE_X, 1, 3, -1, 0)]
    for reg, key in ((4, "major"), (5, "minor")):
        value = rule.get(key)
        if kind != "a" and value is not None and value >= 0:
            out.append((_JNE_K, reg, 0, -1, value))
    out += [(_MOV64_K, 0, 0, 0, 1 if rule.get("allow") else 0), (_EXIT, 0, 0, 0, 0)]
    return out


def program(rules: list[dict[str, Any]]) -> bytes:
    """The eBPF bytecode for OCI device ``rules`` [{allow, type, major, minor, access}]."""
    code = [
        _insn(_LDX_W, 2, 1, 0),  # R2 = ctx->access_type
        _insn(_AND32_K, 2, imm=0xFFFF),  # R2 = type
        _insn(_LDX_W, 3, 1, 0),
        _insn(_RSH32_K, 3, imm=16),  # R3 = access
        _insn(_LDX_W, 4, 1, 4),  # R4 = major
        _insn(_LDX_W, 5, 1, 8),  # R5 = minor
    ]
    for rule in reversed(rules):
        block = _block(rule)
        for i, (op, dst, src, off, imm) in enumerate(block):
            code.append(_insn(op, dst, src, len(block) - i - 1 if off == -1 else off, imm))
        if len(block) == 2:
            # A rule matching every device decides alone; the verifier rejects code after
            # it as unreachable.
            return b"".join(code)
    code += [_insn(_MOV64_K, 0, imm=0), _insn(_EXIT)]
    return b"".join(code)


def _bpf(cmd: int, attr: bytes) -> int:
    nr = _SYS_BPF.get(os.uname().machine)
    if nr is None:
        raise OSError(95, os.strerror(95))  # EOPNOTSUPP: unknown syscall number here
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    buf = ctypes.create_string_buffer(attr, len(attr))
    ret = libc.syscall(ctypes.c_long(nr), ctypes.c_long(cmd), buf, ctypes.c_long(len(attr)))
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return int(ret)


def attach(path: str, rules: list[dict[str, Any]]) -> None:
    """Load the device program for ``rules`` and attach it to cgroup dir ``path``
    (``BPF_F_ALLOW_MULTI``, as runc, so nested cgroups can add their own).

    The attachment keeps the program alive; it goes away with the cgroup. Raises
    ``DockyardError`` naming the cgroup if the kernel refuses.
    """
    code = program(rules)
    insns = ctypes.create_string_buffer(code, len(code))
    license = ctypes.create_string_buffer(b"Apache-2.0")
    attr = struct.pack(
        "<IIQQIIQII16s",
        _BPF_PROG_TYPE_CGROUP_DEVICE,
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license),
        0,
        0,
        0,
        0,
        0,
        b"dockyard_dev",
    )
    try:
        prog_fd = _bpf(_BPF_PROG_LOAD, attr)
    except OSError as e:
        raise DockyardError(
            f"cgroup: cannot load the device eBPF program for {path}: {e.strerror}"
        ) from e
    try:
        cg_fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _bpf(
                _BPF_PROG_ATTACH,
                struct.pack("<IIIII", cg_fd, prog_fd, _BPF_CGROUP_DEVICE, _BPF_F_ALLOW_MULTI, 0),
            )
        finally:
            os.close(cg_fd)
    except OSError as e:
        raise DockyardError(
            f"cgroup: cannot attach the device eBPF program to {path}: {e.strerror}"
        ) from e
    finally:
        os.close(prog_fd)
