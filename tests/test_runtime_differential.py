"""The same bundle under Dockyard's runtime and under runc must look the same inside.

A probe script prints what a container can observe about its isolation (capabilities,
no_new_privs, mounts, namespaces, hostname, ids, cgroup limits, masked paths, /dev);
the outputs are normalised (ids and device numbers dropped) and compared. Intentional
differences are listed in ``KNOWN_DIFFERENCES`` with the reason.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from conftest import CGROUP_PARENT, need
from dockyard.runtime.external import ExternalRuntime, clean_message, exit_code_for
from dockyard.runtime.spec import SpecOptions, build_spec
from test_runtime import RUNTIME_CLI, make_rootfs

PROBE = r"""
echo '== status'; grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs)' /proc/self/status
echo '== mounts'; cat /proc/self/mountinfo
echo '== ns'; ls /proc/self/ns
echo '== hostname'; hostname
echo '== id'; id
echo '== limits'; cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max
echo '== cgroup'; cat /proc/self/cgroup
echo '== masked'
for p in /proc/kcore /proc/keys /proc/timer_list /proc/interrupts /proc/acpi /sys/firmware \
         /proc/scsi /proc/sched_debug; do
  if [ -d $p ]; then echo "$p dir $(ls -A $p | wc -l)";
  elif [ -e $p ]; then echo "$p file $(wc -c < $p)"; else echo "$p absent"; fi
done
echo '== readonly'
for p in /proc/sys/kernel/domainname /sys/kernel/profiling; do
  (echo x > $p) 2>/dev/null && echo "$p writable" || echo "$p read-only"
done
echo '== dev'; ls -A /dev | sort
echo '== lo'; cat /sys/class/net/lo/flags; ls /sys/class/net | grep -vE '^(veth|br-|dy)'  # not others' churn
echo '== pid1'; echo $$
"""

# section -> (line in dockyard's output, line in runc's output, reason). ``None`` means
# the line is absent on that side.
KNOWN_DIFFERENCES: dict[str, list[tuple[str | None, str | None, str]]] = {
    "mounts": [
        (
            "/sys/fs/cgroup ro,nosuid,nodev,noexec,relatime tmpfs ro,mode=755",
            "/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime tmpfs rw,mode=755",
            "runc 1.1 mounts the tmpfs that holds the v1 hierarchies without the mount's "
            "'ro' and never remounts it; Dockyard honours 'ro' (the hierarchies themselves "
            "are read-only on both)",
        ),
    ],
}


def _normalise_mountinfo(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        f = line.split()
        sep = f.index("-")
        # mount point, per-mount options, fs type, super options; ids/devices/roots dropped
        out.append(f"{f[4]} {f[5]} {f[sep + 1]} {f[sep + 3]}")
    return sorted(out)


def parse(output: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = ""
    for line in output.splitlines():
        if line.startswith("== "):
            current = line[3:]
            sections[current] = []
        elif current:
            sections[current].append(line)
    sections["mounts"] = _normalise_mountinfo(sections.get("mounts", []))
    return sections


def _bundle(tmp: Path, name: str, cgroups_path: str, opts: dict[str, Any]) -> Path:
    bundle = tmp / name
    bundle.mkdir()
    make_rootfs(bundle / "rootfs")
    spec = build_spec(
        SpecOptions(
            args=["sh", "-c", PROBE],
            hostname="probe",
            cgroups_path=cgroups_path,
            resources={"memory": {"limit": 96 << 20}, "pids": {"limit": 55}},
            **opts,
        )
    )
    spec["linux"].pop("seccomp", None)  # neither side applies seccomp here
    (bundle / "config.json").write_text(json.dumps(spec))
    return bundle


def _run(argv: list[str]) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, (argv, proc.stdout, proc.stderr)
    return proc.stdout


@pytest.mark.parametrize(
    "opts",
    [
        {},
        {"user": (1000, 1000), "additional_gids": [5]},
        {
            "cap_add": ["NET_ADMIN"],
            "cap_drop": ["MKNOD"],
            "no_new_privileges": True,
            "readonly_rootfs": True,
        },
        {"namespaces": {"network": "host", "cgroup": "host"}},
    ],
    ids=["defaults", "non-root", "caps-nnp-ro", "host-net-cgroupns"],
)
def test_same_view_as_runc(tmp_path: Path, opts: dict[str, Any]) -> None:
    runc = need("runc")
    # One cgroup name for both runs (one after the other), so /proc/self/cgroup compares.
    cg = f"{CGROUP_PARENT}-diff-{uuid.uuid4().hex[:12]}"
    ours = parse(
        _run(
            [
                RUNTIME_CLI,
                "--root",
                str(tmp_path / "dy"),
                "run",
                "-b",
                str(_bundle(tmp_path, "dy-bundle", cg, opts)),
                "probe",
            ]
        )
    )
    theirs = parse(
        _run(
            [
                runc,
                "--root",
                str(tmp_path / "runc"),
                "run",
                "-b",
                str(_bundle(tmp_path, "runc-bundle", cg, opts)),
                "probe",
            ]
        )
    )
    assert set(ours) == set(theirs)
    for section in theirs:
        mine, ref = list(ours[section]), list(theirs[section])
        for dy_line, runc_line, _reason in KNOWN_DIFFERENCES.get(section, []):
            if dy_line is not None and dy_line in mine:
                mine.remove(dy_line)
            if runc_line is not None and runc_line in ref:
                ref.remove(runc_line)
        assert mine == ref, section


def test_runc_exec_errors_map_to_docker_codes(tmp_path: Path) -> None:
    need("runc")
    rt = ExternalRuntime("/usr/sbin/runc", str(tmp_path / "runc"))
    from dockyard.errors import RuntimeFailure

    for args, message, code in [
        (["nosuchcommand"], 'exec: "nosuchcommand": executable file not found in $PATH', 127),
        (["/etc"], 'exec: "/etc": permission denied', 126),
    ]:
        bundle = tmp_path / f"b{code}"
        bundle.mkdir()
        make_rootfs(bundle / "rootfs")
        spec = build_spec(
            SpecOptions(
                args=args, cgroups_path=f"{CGROUP_PARENT}/dockyard-diff-{uuid.uuid4().hex[:12]}"
            )
        )
        (bundle / "config.json").write_text(json.dumps(spec))
        with pytest.raises(RuntimeFailure) as info:
            rt.create("x", str(bundle))
        assert str(info.value) == message
        assert info.value.exit_code == code
    assert rt.list() == []


def test_clean_message() -> None:
    line = (
        'time="2026-01-01T00:00:00Z" level=error msg="runc create failed: unable to start '
        'container process: exec: \\"x\\": executable file not found in $PATH"'
    )
    assert clean_message(line) == 'exec: "x": executable file not found in $PATH'
    assert exit_code_for('exec: "/x": stat /x: no such file or directory') == 127
    assert exit_code_for("something else") == 125


def test_crun_through_hybrid_wrapper(tmp_path: Path) -> None:
    need("crun")
    from dockyard.errors import RuntimeFailure
    from dockyard.runtime import get_runtime

    rt = get_runtime("crun", str(tmp_path / "crun"))
    bundle = tmp_path / "b"
    bundle.mkdir()
    make_rootfs(bundle / "rootfs")
    spec = build_spec(
        SpecOptions(
            args=["sh", "-c", "exit 0"],
            cgroups_path=f"{CGROUP_PARENT}/dockyard-diff-{uuid.uuid4().hex[:12]}",
        )
    )
    (bundle / "config.json").write_text(json.dumps(spec))
    rt.create("k", str(bundle))
    assert rt.state("k")["status"] == "created"
    rt.start("k")
    rt.delete("k", force=True)
    spec["process"]["args"] = ["nosuchcommand"]
    (bundle / "config.json").write_text(json.dumps(spec))
    with pytest.raises(RuntimeFailure) as info:
        rt.create("k", str(bundle))
    assert "nosuchcommand" in str(info.value) and info.value.exit_code == 127
    assert rt.list() == []
