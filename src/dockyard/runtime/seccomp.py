"""Seccomp: Docker's profiles turned into OCI ``linux.seccomp``, and that loaded with libseccomp.

Two halves, as in Docker and runc:

- :func:`oci_seccomp` is moby's ``profiles/seccomp`` ``setupSeccomp``: a Docker profile
  (``archMap``, ``names``, ``includes``/``excludes`` on capabilities, arches and kernel
  versions) becomes the OCI runtime spec's ``linux.seccomp`` (config-linux.md "Seccomp")
  for one container, given its bounding capabilities. The engine puts that in
  config.json, so runc and crun apply exactly what the built-in runtime applies.
  :func:`default_profile` is moby's ``default.json``, vendored in ``profiles/``.
- :func:`compile_filter` is runc's ``libcontainer/seccomp.InitSeccomp``: OCI
  ``linux.seccomp`` through Debian's libseccomp2 (ctypes: ``seccomp_init``,
  ``seccomp_arch_add``, ``seccomp_rule_add_array``), exported as classic BPF; the
  container's init loads that with :func:`load_filter` (``seccomp(2)``), the last step
  before ``execve``. Compiled programs are cached by the digest of the section (about
  40 ms to build the default profile, 0.1 ms to read it back).

Departures from runc: ``SCMP_ACT_NOTIFY`` (needs a seccomp agent) is refused, and runc's
``patchbpf`` (ENOSYS rather than the default errno for syscalls newer than libseccomp
knows) is not done: those get the default action.
"""

from __future__ import annotations

import ctypes
import json
import os

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

PROFILES_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "profiles")
DEFAULT_PROFILE = os.path.join(PROFILES_DIR, "seccomp-default.json")

#: Python's os.uname().machine -> libseccomp's native arch name (moby's goToNative).
_NATIVE = {
    "x86_64": "amd64",
    "i686": "x86",
    "i386": "x86",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "mips64": "mips64",
    "loongarch64": "loong64",
}
#: libseccomp native name -> OCI arch (moby's nativeToSeccomp).
_NATIVE_TO_OCI = {
    "x86": "SCMP_ARCH_X86",
    "amd64": "SCMP_ARCH_X86_64",
    "arm": "SCMP_ARCH_ARM",
    "arm64": "SCMP_ARCH_AARCH64",
    "loong64": "SCMP_ARCH_LOONGARCH64",
    "mips64": "SCMP_ARCH_MIPS64",
    "ppc64le": "SCMP_ARCH_PPC64LE",
    "riscv64": "SCMP_ARCH_RISCV64",
    "s390x": "SCMP_ARCH_S390X",
}

# libseccomp's seccomp.h.
_ACTIONS = {
    "SCMP_ACT_KILL": 0x00000000,
    "SCMP_ACT_KILL_THREAD": 0x00000000,
    "SCMP_ACT_KILL_PROCESS": 0x80000000,
    "SCMP_ACT_TRAP": 0x00030000,
    "SCMP_ACT_ERRNO": 0x00050000,
    "SCMP_ACT_TRACE": 0x7FF00000,
    "SCMP_ACT_LOG": 0x7FFC0000,
    "SCMP_ACT_ALLOW": 0x7FFF0000,
}
_OPS = {
    "SCMP_CMP_NE": 1,
    "SCMP_CMP_LT": 2,
    "SCMP_CMP_LE": 3,
    "SCMP_CMP_EQ": 4,
    "SCMP_CMP_GE": 5,
    "SCMP_CMP_GT": 6,
    "SCMP_CMP_MASKED_EQ": 7,
}
_FLTATR_CTL_NNP = 3
_FLTATR_CTL_LOG = 6
_FLTATR_CTL_SSB = 7
_FLTATR_CTL_OPTIMIZE = 8
#: OCI flags -> libseccomp filter attributes (TSYNC: one thread here, nothing to do).
_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC": None,
    "SECCOMP_FILTER_FLAG_LOG": _FLTATR_CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": _FLTATR_CTL_SSB,
}
# seccomp(2).
_SECCOMP_SET_MODE_FILTER = 1
_KERNEL_FLAGS = {"SECCOMP_FILTER_FLAG_LOG": 2, "SECCOMP_FILTER_FLAG_SPEC_ALLOW": 4}
_SECCOMP_NR = {"x86_64": 317, "aarch64": 277, "armv7l": 383, "ppc64le": 358, "s390x": 348}


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def native_arch() -> str:
    """libseccomp's name of this machine's architecture (``amd64``, ``arm64``...)."""
    return _NATIVE.get(os.uname().machine, os.uname().machine)


def default_profile() -> dict[str, Any]:
    """Docker's default seccomp profile (moby ``profiles/seccomp/default.json``)."""
    with open(DEFAULT_PROFILE) as f:
        profile: dict[str, Any] = json.load(f)
    return profile


def parse_profile(text: str, name: str) -> dict[str, Any]:
    """A Docker seccomp profile from JSON ``text``; ``name`` names it in errors.

    Raises InvalidArgument (``Decoding seccomp profile failed: ...``, Docker's text) for
    JSON that is not an object with the profile's shape.
    """
    try:
        profile = json.loads(text)
    except (ValueError, RecursionError) as e:
        why = "nested too deeply" if isinstance(e, RecursionError) else str(e)
        raise InvalidArgument(f"Decoding seccomp profile failed: {name}: {why}") from None
    if not isinstance(profile, dict):
        raise InvalidArgument(f"Decoding seccomp profile failed: {name}: not a JSON object")
    bad = _shape_error(profile, _PROFILE_SHAPE, "")
    if bad:
        raise InvalidArgument(f"Decoding seccomp profile failed: {name}: {bad}")
    return profile


# The fields of moby's ``types.Seccomp`` and their Go types, as ``_shape_error`` checks
# them: ``str``, ``int`` (a JSON integer), ``bool``, ``[shape]`` (a list of that) or a
# dict of fields (a struct). Fields not listed are ignored, as Go's json ignores them.
_ARG_SHAPE = {"index": int, "value": int, "valueTwo": int, "op": str}
_FILTER_SHAPE = {"caps": [str], "arches": [str], "minKernel": str}
_PROFILE_SHAPE: dict[str, Any] = {
    "defaultAction": str,
    "defaultErrnoRet": int,
    "architectures": [str],
    "archMap": [{"architecture": str, "subArchitectures": [str]}],
    "flags": [str],
    "listenerPath": str,
    "listenerMetadata": str,
    "syscalls": [
        {
            "name": str,
            "names": [str],
            "action": str,
            "errnoRet": int,
            "args": [_ARG_SHAPE],
            "comment": str,
            "includes": _FILTER_SHAPE,
            "excludes": _FILTER_SHAPE,
        }
    ],
}


def _shape_error(value: Any, shape: Any, where: str) -> str | None:
    """Where ``value`` (decoded JSON) does not fit ``shape`` -> Go's unmarshal complaint
    naming the field (``cannot unmarshal string into syscalls[0].names of type []string``),
    or None. ``null`` fits anything, as in Go."""
    if value is None:
        return None
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"cannot unmarshal {_json_kind(value)} into {where or 'profile'} (an object)"
        for key, sub in shape.items():
            bad = _shape_error(value.get(key), sub, f"{where}.{key}" if where else key)
            if bad:
                return bad
        return None
    if isinstance(shape, list):
        if not isinstance(value, list):
            return f"cannot unmarshal {_json_kind(value)} into {where} (a list)"
        for i, item in enumerate(value):
            bad = _shape_error(item, shape[0], f"{where}[{i}]")
            if bad:
                return bad
        return None
    ok = isinstance(value, shape) and not (shape is int and isinstance(value, bool))
    return None if ok else f"cannot unmarshal {_json_kind(value)} into {where} of type {_GO[shape]}"


_GO = {str: "string", int: "integer", bool: "bool"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    kinds: dict[type, str] = {str: "string", list: "array", dict: "object"}
    return kinds.get(type(value), "value")


def _kernel_at_least(version: str) -> bool:
    try:
        want = tuple(int(p) for p in version.split("."))
        have = tuple(int(p) for p in os.uname().release.split("-")[0].split(".")[:2])
    except ValueError:
        raise InvalidArgument(f'invalid kernel version: "{version}"') from None
    return have >= want


def oci_seccomp(profile: dict[str, Any], bounding: list[str]) -> dict[str, Any] | None:
    """OCI ``linux.seccomp`` from Docker ``profile`` for a container whose bounding
    capabilities are ``bounding`` (moby ``setupSeccomp``): the native arch's ``archMap``
    entry becomes ``architectures``; a rule is kept when its ``includes`` hold (every
    listed cap in ``bounding``, the native arch listed, the kernel at least
    ``minKernel``) and no ``excludes`` holds; ``name`` becomes ``names``.

    Returns None for a profile with neither a default action nor syscalls (seccomp
    off, as Docker). Raises InvalidArgument with moby's messages.
    """
    if not profile.get("defaultAction") and not profile.get("syscalls"):
        return None
    if profile.get("architectures") and profile.get("archMap"):
        raise InvalidArgument(
            "both 'architectures' and 'archMap' are specified in the seccomp profile, "
            "use either 'architectures' or 'archMap'"
        )
    out: dict[str, Any] = {
        k: v
        for k, v in profile.items()
        if k in ("defaultAction", "defaultErrnoRet", "architectures", "flags", "listenerPath")
        and v is not None
    }
    arch = native_arch()
    oci_arch = _NATIVE_TO_OCI.get(arch)
    for entry in profile.get("archMap") or []:
        if entry.get("architecture") == oci_arch:
            out["architectures"] = [oci_arch, *(entry.get("subArchitectures") or [])]
            break
    caps = set(bounding)
    syscalls = []
    for call in profile.get("syscalls") or []:
        names = list(call.get("names") or [])
        if call.get("name"):
            if names:
                raise InvalidArgument(
                    "both 'name' and 'names' are specified in the seccomp profile, "
                    "use either 'name' or 'names'"
                )
            names = [call["name"]]
        exc = call.get("excludes") or {}
        if arch in (exc.get("arches") or []):
            continue
        if any(c in caps for c in exc.get("caps") or []):
            continue
        if exc.get("minKernel") and _kernel_at_least(exc["minKernel"]):
            continue
        inc = call.get("includes") or {}
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if any(c not in caps for c in inc.get("caps") or []):
            continue
        if inc.get("minKernel") and not _kernel_at_least(inc["minKernel"]):
            continue
        rule: dict[str, Any] = {"names": names, "action": call.get("action")}
        for key in ("errnoRet", "args"):
            if call.get(key) is not None:
                rule[key] = call[key]
        syscalls.append(rule)
    out["syscalls"] = syscalls
    return out


# ------------------------------------------------------------------ compile and load

_lib: Any = None


def _libseccomp() -> Any:
    global _lib
    if _lib is None:
        try:
            lib = ctypes.CDLL("libseccomp.so.2", use_errno=True)
        except OSError:
            raise InvalidArgument(
                "seccomp needs libseccomp (install Debian's libseccomp2)"
            ) from None
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
        lib.seccomp_arch_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_arch_add.argtypes = [ctypes.c_void_p, ctypes.c_uint32]
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.seccomp_version.restype = ctypes.c_void_p
        _lib = lib
    return _lib


def _action(name: Any, errno_ret: Any, where: str) -> int:
    if name == "SCMP_ACT_NOTIFY":
        raise InvalidArgument(f"{where}: SCMP_ACT_NOTIFY is not supported (no seccomp agent)")
    if name not in _ACTIONS:
        raise InvalidArgument(f"{where}: invalid seccomp action {name!r}")
    value = _ACTIONS[name]
    if name == "SCMP_ACT_ERRNO":
        value |= (1 if errno_ret is None else int(errno_ret)) & 0xFFFF  # EPERM, as runc
    elif name == "SCMP_ACT_TRACE":
        value |= (1 if errno_ret is None else int(errno_ret)) & 0xFFFF
    return value


def compile_filter(seccomp: dict[str, Any]) -> bytes:
    """Classic BPF (``struct sock_filter`` array) for OCI ``seccomp`` (config-linux.md
    "Seccomp"), built as runc's InitSeccomp does: default action (errno EPERM unless
    ``defaultErrnoRet``), the listed architectures, flags, libseccomp's binary-tree
    optimisation for long rule lists, no no_new_privs bit, then one rule per syscall
    name (conditions ANDed, or one rule per condition when two share an argument
    index); names libseccomp does not know are skipped, rules whose action is the
    default one too. Raises InvalidArgument for an invalid action, operator, arch or
    flag, or a rule libseccomp refuses.
    """
    lib = _libseccomp()
    default = _action(seccomp.get("defaultAction"), seccomp.get("defaultErrnoRet"), "seccomp")
    ctx = lib.seccomp_init(default)
    if not ctx:
        raise InvalidArgument("seccomp: seccomp_init failed")
    try:
        for arch in seccomp.get("architectures") or []:
            token = lib.seccomp_arch_resolve_name(
                str(arch).removeprefix("SCMP_ARCH_").lower().encode()
            )
            if token == 0:
                raise InvalidArgument(f"seccomp: unknown architecture {arch}")
            rc = lib.seccomp_arch_add(ctx, token)
            if rc < 0 and rc != -17:  # EEXIST: the native arch is always there
                raise InvalidArgument(f"seccomp: adding architecture {arch}: {os.strerror(-rc)}")
        for flag in seccomp.get("flags") or []:
            if flag not in _FLAGS:
                raise InvalidArgument(f"seccomp: flag {flag} is not supported")
            attr = _FLAGS[flag]
            if attr is not None and lib.seccomp_attr_set(ctx, attr, 1) < 0:
                raise InvalidArgument(f"seccomp: flag {flag} is not supported here")
        calls = seccomp.get("syscalls") or []
        if len(calls) > 32:
            lib.seccomp_attr_set(ctx, _FLTATR_CTL_OPTIMIZE, 2)
        if lib.seccomp_attr_set(ctx, _FLTATR_CTL_NNP, 0) < 0:
            raise InvalidArgument("seccomp: cannot leave no_new_privs to the spec")
        for i, call in enumerate(calls):
            _add_rules(lib, ctx, call, default, f"seccomp.syscalls[{i}]")
        r, w = os.pipe()
        try:
            rc = lib.seccomp_export_bpf(ctx, w)
            os.close(w)
            w = -1
            if rc < 0:
                raise InvalidArgument(f"seccomp: exporting the filter: {os.strerror(-rc)}")
            chunks = []
            while chunk := os.read(r, 65536):
                chunks.append(chunk)
        finally:
            os.close(r)
            if w >= 0:
                os.close(w)
        return b"".join(chunks)
    finally:
        lib.seccomp_release(ctx)


def _add_rules(lib: Any, ctx: int, call: dict[str, Any], default: int, where: str) -> None:
    action = _action(call.get("action"), call.get("errnoRet"), where)
    if action == default:
        return
    conds = []
    for arg in call.get("args") or []:
        op = _OPS.get(arg.get("op"))
        index = arg.get("index")
        if op is None:
            raise InvalidArgument(f"{where}: invalid seccomp operator {arg.get('op')!r}")
        if not isinstance(index, int) or not 0 <= index < 6:
            raise InvalidArgument(f"{where}: invalid argument index {index!r}")
        conds.append(_ArgCmp(index, op, int(arg.get("value", 0)), int(arg.get("valueTwo", 0))))
    indexes = [c.arg for c in conds]
    # libseccomp ANDs conditions on distinct arguments only; runc adds one rule per
    # condition when two share an index.
    groups = [[c] for c in conds] if len(set(indexes)) < len(indexes) else [conds]
    for name in call.get("names") or []:
        nr = lib.seccomp_syscall_resolve_name(str(name).encode())
        if nr == -1:
            continue  # unknown to this libseccomp: not supported here (runc's rule)
        for group in groups:
            array = (_ArgCmp * len(group))(*group) if group else None
            rc = lib.seccomp_rule_add_array(ctx, action, nr, len(group), array)
            if rc < 0:
                raise InvalidArgument(f"{where}: adding a rule for {name}: {os.strerror(-rc)}")


def cached_filter(seccomp: dict[str, Any], cache_dir: str) -> bytes:
    """:func:`compile_filter` of ``seccomp``, kept in ``cache_dir`` so later containers
    skip the compile. A cache file holds its key (the section and libseccomp's version,
    as JSON) before the program and is used only when the key matches exactly, so the
    file name can be a cheap checksum (hashlib's import alone costs 4 ms per run)."""
    import struct
    import zlib

    key = json.dumps([seccomp, _lib_version()], sort_keys=True).encode()
    path = os.path.join(cache_dir, f"{zlib.crc32(key):08x}-{len(key)}.bpf")
    try:
        with open(path, "rb") as f:
            data = f.read()
        (n,) = struct.unpack_from("<I", data)
        if data[4 : 4 + n] == key and (len(data) - 4 - n) % 8 == 0 and len(data) > 4 + n:
            return data[4 + n :]
    except (OSError, struct.error):
        pass
    program = compile_filter(seccomp)
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "wb") as f:
            f.write(struct.pack("<I", len(key)) + key + program)
        os.rename(tmp, path)
    except OSError:
        pass  # a cache only
    return program


def _lib_version() -> str:
    v = ctypes.cast(_libseccomp().seccomp_version(), ctypes.POINTER(ctypes.c_uint * 3)).contents
    return ".".join(str(n) for n in v)


def load_filter(program: bytes, flags: list[str] | None = None) -> None:
    """Install BPF ``program`` (from :func:`compile_filter`) on the calling thread with
    seccomp(2) SECCOMP_SET_MODE_FILTER and the OCI ``flags``. Without no_new_privs the
    caller needs CAP_SYS_ADMIN. Raises OSError."""
    nr = _SECCOMP_NR.get(os.uname().machine)
    if nr is None:
        raise OSError(38, "seccomp: unsupported architecture " + os.uname().machine)
    kflags = 0
    for flag in flags or []:
        kflags |= _KERNEL_FLAGS.get(flag, 0)
    buf = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    rc = libc.syscall(
        ctypes.c_long(nr),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(kflags),
        ctypes.byref(prog),
    )
    if rc < 0:
        err = ctypes.get_errno()
        raise OSError(err, "seccomp: " + os.strerror(err))
