"""``ps`` flags, filters and ``--format`` placeholders, and ``inspect``'s container shape."""

from __future__ import annotations

import json
import re

from conftest import Runner


def names(dy: Runner, *args: str) -> list[str]:
    return list(dy("ps", *args, "--format", "{{.Names}}", check=True).stdout.split())


def test_ps_filters_and_limits(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "c-created", "-l", "tier=web", "-l", "x=1", busybox, "true", check=True)
    dy("run", "--name", "c-exit3", "-l", "tier=db", busybox, "sh", "-c", "exit 3")
    dy("run", "--name", "c-exit0", busybox, "true", check=True)
    dy("run", "-d", "--name", "c-up", "-l", "tier=web", busybox, "sleep", "300", check=True)
    try:
        assert names(dy) == ["c-up"]
        assert names(dy, "-a") == ["c-up", "c-exit0", "c-exit3", "c-created"]
        assert names(dy, "-n", "2") == ["c-up", "c-exit0"]
        assert names(dy, "-l") == ["c-up"]
        # One key's values are alternatives; different keys must all match.
        assert names(dy, "--filter", "status=exited") == ["c-exit0", "c-exit3"]
        assert names(dy, "-a", "-f", "status=created", "-f", "status=running") == [
            "c-up",
            "c-created",
        ]
        assert names(dy, "-a", "-f", "label=tier=web", "-f", "status=running") == ["c-up"]
        assert names(dy, "-a", "-f", "label=tier") == ["c-up", "c-exit3", "c-created"]
        assert names(dy, "-a", "-f", "label=tier=web", "-f", "label=x") == ["c-created"]
        assert names(dy, "-a", "-f", "exited=3") == ["c-exit3"]
        assert names(dy, "-a", "-f", "exited=0", "-f", "exited=3") == ["c-exit0", "c-exit3"]
        assert names(dy, "-a", "-f", "name=exit") == ["c-exit0", "c-exit3"]
        assert names(dy, "-a", "-f", "name=^/c-up$", "-f", "name=created") == [
            "c-up",
            "c-created",
        ]
        up = dy("inspect", "-f", "{{.Id}}", "c-up", check=True).stdout.strip()
        assert names(dy, "-a", "-f", f"id={up[:6]}") == ["c-up"]
        image_id = dy("images", "-q", "--no-trunc", check=True).stdout.strip()
        assert len(names(dy, "-a", "-f", "ancestor=busybox")) == 4
        assert len(names(dy, "-a", "-f", f"ancestor={image_id}")) == 4
        assert names(dy, "-a", "-f", "ancestor=nosuchimage") == []
        assert names(dy, "-a", "-n", "1", "-f", "status=exited") == ["c-exit0"]
        assert names(dy, "-a", "-f", "before=c-exit0") == ["c-exit3", "c-created"]
        assert names(dy, "-a", "-f", "since=c-exit3") == ["c-up", "c-exit0"]
        assert names(dy, "-a", "-f", "since=c-created", "-f", "before=c-up") == [
            "c-exit0",
            "c-exit3",
        ]
        assert names(dy, "-a", "-f", "network=bridge", "-f", "health=none") == names(dy, "-a")
        assert names(dy, "-a", "-f", "network=host") == []
        assert names(dy, "-a", "-f", "volume=/data") == []
        p = dy("ps", "-f", "before=nosuch")
        assert p.stderr == "Error response from daemon: No such container: nosuch\n"
        p = dy("ps", "-f", "color=red")
        assert (p.returncode, p.stderr) == (
            1,
            "Error response from daemon: invalid filter 'color'\n",
        )
        p = dy("ps", "-f", "status=sleepy")
        assert p.stderr == "Error response from daemon: invalid filter 'status=sleepy'\n"
        p = dy("ps", "-f", "status")  # docker/cli 28's flag error
        assert p.returncode == 125 and p.stderr.startswith(
            'invalid argument "status" for "-f, --filter" flag: bad format of filter '
            "(expected name=value)\n\nUsage:  dockyard ps [OPTIONS]\n"
        )
        assert dy("ps", "-q", check=True).stdout == up[:12] + "\n"
        assert dy("ps", "-q", "--no-trunc", check=True).stdout == up + "\n"
    finally:
        dy("rm", "-f", "c-up", check=True)


def test_ps_format_placeholders(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "f1", "-l", "com.example.k=v", busybox, "sh", "-c",
       "echo a long command line here", check=True)  # fmt: skip
    template = (
        "{{.ID}}|{{.Image}}|{{.Command}}|{{.RunningFor}}|{{.Ports}}|{{.State}}|{{.Status}}|"
        '{{.Names}}|{{.Labels}}|{{.Label "com.example.k"}}|{{.Label "none"}}|{{.Mounts}}|'
        "{{.Networks}}"
    )
    out = dy("ps", "-a", "--format", template, check=True).stdout
    cid = dy("inspect", "-f", "{{.Id}}", "f1", check=True).stdout.strip()
    fields = out.rstrip("\n").split("|")
    assert fields[0] == cid[:12]
    assert fields[1:3] == ["busybox", '"sh -c echo a long c…"']
    assert fields[3].endswith(" ago")
    assert fields[4:8] == ["", "created", "Created", "f1"]
    assert fields[8:] == ["com.example.k=v", "v", "", "", "bridge"]
    created = dy("ps", "-a", "--format", "{{.CreatedAt}}", check=True).stdout
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4} \S+\n", created), created
    no_trunc = dy("ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}", check=True)
    assert no_trunc.stdout == f'{cid} "sh -c echo a long command line here"\n'
    table = dy("ps", "-a", "--format", 'table {{.Names}}\t{{.Label "com.example.k"}}', check=True)
    assert table.stdout.splitlines() == ["NAMES     LABEL", "f1        v"]
    size = dy("ps", "-a", "-s", "--format", "{{.Size}}", check=True).stdout
    assert size.startswith("0B (virtual ") and size.endswith("MB)\n")
    default = dy("ps", "-a", "-s", check=True).stdout.splitlines()
    assert default[0].split() == [
        "CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES", "SIZE",
    ]  # fmt: skip
    row = json.loads(dy("ps", "-a", "--format", "json", check=True).stdout)
    assert sorted(row) == [
        "Command", "CreatedAt", "ID", "Image", "Labels", "LocalVolumes", "Mounts", "Names",
        "Networks", "Ports", "RunningFor", "Size", "State", "Status",
    ]  # fmt: skip
    dy("rm", "f1", check=True)


def test_inspect_container_shape(dy: Runner, busybox: str) -> None:
    dy("create", "--name", "i1", busybox, "true", check=True)
    dy("create", "--name", "i2", "--init", "--network", "host", busybox, "true", check=True)
    (obj,) = json.loads(dy("inspect", "i1", check=True).stdout)
    assert list(obj) == [
        "Id", "Created", "Path", "Args", "State", "Image", "ResolvConfPath", "HostnamePath",
        "HostsPath", "LogPath", "Name", "RestartCount", "Driver", "Platform", "MountLabel",
        "ProcessLabel", "AppArmorProfile", "ExecIDs", "HostConfig", "GraphDriver", "Mounts",
        "Config", "NetworkSettings",
    ]  # fmt: skip
    assert list(obj["State"]) == [
        "Status", "Running", "Paused", "Restarting", "OOMKilled", "Dead", "Pid", "ExitCode",
        "Error", "StartedAt", "FinishedAt",
    ]  # fmt: skip
    hc = obj["HostConfig"]
    for key in (
        "Binds", "NetworkMode", "RestartPolicy", "AutoRemove", "CapAdd", "CapDrop",
        "Privileged", "ReadonlyRootfs", "Memory", "NanoCpus", "PidsLimit", "LogConfig",
        "ShmSize", "MemorySwap", "CpuShares", "SecurityOpt", "Ulimits",
    ):  # fmt: skip
        assert key in hc, key
    assert hc["RestartPolicy"] == {"Name": "no", "MaximumRetryCount": 0}
    assert "Init" not in hc
    assert obj["Mounts"] == []
    assert "StopSignal" not in obj["Config"]
    assert "Health" not in obj["State"]
    assert list(obj["NetworkSettings"]["Networks"]) == ["bridge"]
    assert obj["NetworkSettings"]["Networks"]["bridge"]["IPAddress"] != ""
    assert "SizeRw" not in obj
    (obj,) = json.loads(dy("inspect", "i2", check=True).stdout)
    assert obj["HostConfig"]["Init"] is True
    assert list(obj["NetworkSettings"]["Networks"]) == ["host"]


def test_inspect_size(dy: Runner, busybox: str) -> None:
    dy("run", "--name", "sz", busybox, "sh", "-c", "head -c 3000 /dev/zero > /f", check=True)
    image_size = int(dy("image", "inspect", "-f", "{{.Size}}", busybox, check=True).stdout)
    (obj,) = json.loads(dy("inspect", "--size", "sz", check=True).stdout)
    assert list(obj)[19:22] == ["GraphDriver", "SizeRw", "SizeRootFs"]
    assert obj["SizeRw"] == 3000
    assert obj["SizeRootFs"] == 3000 + image_size
    p = dy("inspect", "-s", "-f", "{{.SizeRw}}", "sz", check=True)
    assert p.stdout == "3000\n"
    dy("rm", "sz", check=True)
