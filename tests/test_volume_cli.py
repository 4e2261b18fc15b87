"""``dockyard volume`` create/ls/inspect/rm/prune and the volume lifecycle rules: Docker's
output shapes and messages, removal refused while in use, ``rm -v``/``run --rm`` removing
anonymous volumes only, data surviving containers."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from conftest import Runner

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def test_create_inspect_ls(dy: Runner, engine_env: dict[str, str]) -> None:
    assert dy("volume", "create", "vol1", check=True).stdout == "vol1\n"
    # Creating an existing name returns it, unchanged.
    assert dy("volume", "create", "vol1", "--label", "x=y", check=True).stdout == "vol1\n"
    anon = dy("volume", "create", check=True).stdout.strip()
    assert HEX64.match(anon)
    dy("volume", "create", "--label", "env=prod", "--label", "tier", "vol10", check=True)
    dy("volume", "create", "vol2", check=True)

    objs = json.loads(dy("volume", "inspect", "vol1", "vol10", check=True).stdout)
    root = engine_env["DOCKYARD_ROOT"]
    assert list(objs[0]) == [
        "CreatedAt",
        "Driver",
        "Labels",
        "Mountpoint",
        "Name",
        "Options",
        "Scope",
    ]
    assert objs[0]["Mountpoint"] == f"{root}/volumes/vol1/_data"
    assert os.path.isdir(objs[0]["Mountpoint"])
    assert (objs[0]["Driver"], objs[0]["Scope"], objs[0]["Labels"], objs[0]["Options"]) == (
        "local",
        "local",
        {},
        {},
    )
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$", objs[0]["CreatedAt"])
    assert objs[1]["Labels"] == {"env": "prod", "tier": ""}
    fmt = dy("volume", "inspect", "-f", "{{.Name}} {{.Driver}} {{.Labels.env}}", "vol10")
    assert fmt.stdout == "vol10 local prod\n"
    # The generic inspect finds volumes too.
    assert json.loads(dy("inspect", "--type", "volume", "vol1", check=True).stdout) == objs[:1]
    assert dy("inspect", "-f", "{{.Mountpoint}}", "vol1").stdout == objs[0]["Mountpoint"] + "\n"

    # Natural order of names, Docker's table.
    ls = dy("volume", "ls", check=True).stdout.splitlines()
    assert ls[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert [line.split()[1] for line in ls[1:]] == [anon, "vol1", "vol2", "vol10"]
    assert dy("volume", "ls", "-q", "--filter", "name=^vol1", check=True).stdout == (
        "vol1\nvol10\n"
    )
    assert dy("volume", "ls", "-q", "-f", "label=env=prod", check=True).stdout == "vol10\n"
    assert dy("volume", "ls", "-q", "-f", "label=tier", "-f", "driver=local").stdout == "vol10\n"
    row = json.loads(dy("volume", "ls", "--format", "json", "-f", "name=vol10").stdout)
    assert row == {
        "Availability": "N/A",
        "Driver": "local",
        "Group": "N/A",
        "Labels": "env=prod,tier=",
        "Links": "N/A",
        "Mountpoint": f"{root}/volumes/vol10/_data",
        "Name": "vol10",
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    }
    out = dy("volume", "ls", "--format", '{{.Name}}:{{.Label "env"}}', "-f", "name=vol1")
    assert out.stdout == "vol1:\nvol10:prod\n"
    table = dy("volume", "ls", "--format", "table {{.Name}}\t{{.Scope}}", "-f", "name=vol2")
    assert table.stdout.split() == ["VOLUME", "NAME", "SCOPE", "vol2", "local"]
    dy("volume", "rm", anon, "vol1", "vol2", "vol10", check=True)
    assert dy("volume", "ls", "-q").stdout == ""
    assert os.listdir(f"{root}/volumes") == []


def test_errors(dy: Runner) -> None:
    bad = dy("volume", "create", "a")
    assert (bad.returncode, bad.stderr) == (
        1,
        "Error response from daemon: create a: volume name is too short, names should be at "
        "least two alphanumeric characters\n",
    )
    bad = dy("volume", "create", "a/b")
    assert bad.returncode == 1
    assert 'create a/b: "a/b" includes invalid characters for a local volume name' in bad.stderr
    bad = dy("volume", "create", "-o", "colour=red", "v1")
    assert bad.stderr == 'Error response from daemon: create v1: invalid option key: "colour"\n'
    bad = dy("volume", "create", "-d", "nfs", "v1")
    assert 'plugin "nfs" not found' in bad.stderr and bad.returncode == 1
    missing = dy("volume", "inspect", "nope")
    assert (missing.returncode, missing.stdout, missing.stderr) == (
        1,
        "[]\n",
        "Error response from daemon: get nope: no such volume\n",
    )
    missing = dy("volume", "rm", "nope")
    assert (missing.returncode, missing.stderr) == (
        1,
        "Error response from daemon: get nope: no such volume\n",
    )
    assert dy("volume", "rm", "-f", "nope", check=True).stdout == "nope\n"
    bad = dy("volume", "ls", "-f", "colour=red")
    assert (bad.returncode, bad.stderr) == (
        1,
        "Error response from daemon: invalid filter 'colour'\n",
    )
    assert dy("volume", "ls", "-f", "dangling=maybe").returncode == 1
    assert dy("volume", "ls", check=True).stdout == "DRIVER    VOLUME NAME\n"


def test_rm_refused_while_in_use(dy: Runner, busybox: str) -> None:
    dy("volume", "create", "keep", check=True)
    try:
        dy("run", "-d", "--name", "user1", "-v", "keep:/data", busybox, "sh", "-c",
           "echo precious > /data/f; sleep 300", check=True)  # fmt: skip
        dy("create", "--name", "user2", "-v", "keep:/data", busybox, check=True)
        ids = sorted(
            dy("inspect", "-f", "{{.Id}}", name, check=True).stdout.strip()
            for name in ("user1", "user2")
        )
        for args in (("keep",), ("-f", "keep")):
            refused = dy("volume", "rm", *args)
            assert refused.returncode == 1
            assert refused.stderr == (
                f"Error response from daemon: remove keep: volume is in use - [{', '.join(ids)}]\n"
            )
        # Not dangling, not pruned, data intact.
        assert dy("volume", "ls", "-q", "-f", "dangling=true").stdout == ""
        assert dy("volume", "ls", "-q", "-f", "dangling=false").stdout == "keep\n"
        dy("volume", "prune", "-af", check=True)
        out = dy("run", "--rm", "-v", "keep:/data", busybox, "cat", "/data/f", check=True)
        assert out.stdout == "precious\n"
        dy("rm", "-f", "user1", check=True)
        assert "volume is in use" in dy("volume", "rm", "keep").stderr
        dy("rm", "user2", check=True)
        assert dy("volume", "ls", "-q", "-f", "dangling=true").stdout == "keep\n"
        assert dy("volume", "rm", "keep", check=True).stdout == "keep\n"
    finally:
        dy("rm", "-f", "user1", "user2")
        dy("volume", "rm", "-f", "keep")


def test_anonymous_volumes_removed_only_with_rm_v_or_run_rm(dy: Runner, busybox: str) -> None:
    # run --rm: its anonymous volume goes, the named one stays with its data.
    dy("run", "--rm", "-v", "/anon", "-v", "named:/named", busybox, "sh", "-c",
       "echo a > /anon/f; echo n > /named/f", check=True)  # fmt: skip
    assert dy("volume", "ls", "-q", check=True).stdout == "named\n"

    dy("create", "--name", "c1", "-v", "/anon", "-v", "named:/named", busybox, check=True)
    anon = dy("inspect", "-f", '{{range .Mounts}}{{if eq .Destination "/anon"}}{{.Name}}{{end}}'
              "{{end}}", "c1", check=True).stdout.strip()  # fmt: skip
    assert HEX64.match(anon)
    labels = json.loads(dy("volume", "inspect", anon, check=True).stdout)[0]["Labels"]
    assert labels == {"com.docker.volume.anonymous": ""}
    # rm without -v keeps both.
    dy("rm", "c1", check=True)
    assert sorted(dy("volume", "ls", "-q").stdout.split()) == sorted([anon, "named"])
    # Prune without -a removes only the unused anonymous one.
    pruned = dy("volume", "prune", "-f", check=True).stdout
    assert pruned == f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space: 0B\n"
    assert dy("volume", "ls", "-q").stdout == "named\n"

    dy("create", "--name", "c2", "-v", "/anon", "-v", "named:/named", busybox, check=True)
    dy("rm", "-v", "c2", check=True)
    assert dy("volume", "ls", "-q").stdout == "named\n"
    # A --rm container removed by rm -f, and one that could not start, leave none either.
    dy("run", "-d", "--rm", "--name", "c3", "-v", "/anon", "-v", "named:/named", busybox,
       "sleep", "300", check=True)  # fmt: skip
    dy("rm", "-f", "c3", check=True)
    failed = dy("run", "--rm", "-v", "/anon", "-v", "named:/named", busybox, "nosuchcommand")
    assert failed.returncode == 127
    assert dy("volume", "ls", "-q").stdout == "named\n"
    assert dy("ps", "-aq").stdout == ""
    out = dy("run", "--rm", "-v", "named:/named", busybox, "cat", "/named/f", check=True)
    assert out.stdout == "n\n"
    # prune -a takes named ones too; the reclaimed size counts their files.
    pruned = dy("volume", "prune", "-a", "--force", check=True).stdout
    assert pruned == "Deleted Volumes:\nnamed\n\nTotal reclaimed space: 2B\n"


def test_prune_prompt_and_filters(dy: Runner) -> None:
    dy("volume", "create", "--label", "keep=1", "v1", check=True)
    dy("volume", "create", "v2", check=True)
    answer_no = dy("volume", "prune", "-a", input="n\n")
    assert answer_no.stdout == (
        "WARNING! This will remove all local volumes not used by at least one container.\n"
        "Are you sure you want to continue? [y/N] "
    )
    assert dy("volume", "ls", "-q").stdout == "v1\nv2\n"
    out = dy("volume", "prune", "-a", "--filter", "label!=keep", input="y\n", check=True)
    assert "Deleted Volumes:\nv2\n" in out.stdout
    assert dy("volume", "prune", "-f", "--filter", "until=1h").returncode == 1
    assert dy("volume", "prune", "-f", "--filter", "all=true", check=True).stdout.startswith(
        "Deleted Volumes:\nv1\n"
    )


def test_data_survives_containers_and_restarts(dy: Runner, busybox: str, tmp_path: Path) -> None:
    try:
        dy("run", "-d", "--name", "writer", "-v", "data:/data", busybox, "sh", "-c",
           "echo one >> /data/log; sleep 300", check=True)  # fmt: skip
        dy("restart", "-t", "0", "writer", check=True)
        dy("stop", "-t", "0", "writer", check=True)
        dy("start", "writer", check=True)
        dy("rm", "-f", "writer", check=True)
        out = dy("run", "--rm", "-v", "data:/data", busybox, "cat", "/data/log", check=True)
        assert out.stdout == "one\none\none\n"
    finally:
        dy("rm", "-f", "writer")
    dy("volume", "rm", "data", check=True)


def test_ps_volume_filter_and_mounts_column(dy: Runner, busybox: str, tmp_path: Path) -> None:
    dy("create", "--name", "pv", "-v", "longvolumename123:/data", "-v", f"{tmp_path}:/h",
       busybox, check=True)  # fmt: skip
    dy("create", "--name", "other", busybox, check=True)
    try:
        for value in ("longvolumename123", "/data", str(tmp_path), "/h"):
            out = dy("ps", "-a", "--format", "{{.Names}}", "-f", f"volume={value}", check=True)
            assert out.stdout == "pv\n", value
        assert dy("ps", "-aq", "-f", "volume=nope", check=True).stdout == ""
        fmt = "{{.Mounts}} {{.LocalVolumes}}"
        out = dy("ps", "-a", "-f", "name=pv", "--format", fmt, check=True)
        assert out.stdout == f"longvolumena...,{str(tmp_path)[:12]}... 1\n"
        out = dy("ps", "-a", "--no-trunc", "-f", "name=pv", "--format", fmt, check=True)
        assert out.stdout == f"longvolumename123,{tmp_path} 1\n"
    finally:
        dy("rm", "pv", "other", check=True)
    dy("volume", "rm", "longvolumename123", check=True)
