"""The ``-v``/``--mount``/``--tmpfs`` syntax (dockyard.mountspec) against Docker's rules
and messages (moby volume/mounts/linux_parser.go, docker/cli opts/mount.go)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dockyard import mountspec as spec
from dockyard.errors import InvalidArgument


def test_bind_named_anonymous() -> None:
    assert spec.mount_point_from_bind("/host/a/:/ctr/b") == {
        "Type": "bind",
        "Source": "/host/a",
        "Destination": "/ctr/b",
        "Mode": "",
        "RW": True,
        "Propagation": "rprivate",
        "CreateSource": True,
    }
    named = spec.mount_point_from_bind("data:/srv:ro")
    assert named["Type"] == "volume" and named["Name"] == "data"
    assert (named["Mode"], named["RW"], named["CopyData"], named["Anonymous"]) == (
        "ro",
        False,
        True,
        False,
    )
    # Docker shows Mode "z" for a named volume given without a mode.
    assert spec.mount_point_from_bind("data:/srv")["Mode"] == "z"
    anon = spec.mount_point_from_bind("/srv")
    assert (anon["Name"], anon["Mode"], anon["Anonymous"]) == ("", "", True)
    assert spec.mount_point_from_bind("/h:/c:rw")["RW"] is True
    assert spec.mount_point_from_bind("data:/srv:nocopy")["CopyData"] is False
    # SELinux labels are accepted (and ignored), with or without another mode.
    assert spec.mount_point_from_bind("/h:/c:ro,Z")["RW"] is False
    assert spec.mount_point_from_bind("/h:/c:z")["Mode"] == "z"
    assert spec.mount_point_from_bind("/h:/c:rshared")["Propagation"] == "rshared"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("/a:/b:c:d", "invalid volume specification: '/a:/b:c:d'"),
        ("/a:/b:xx", "invalid mode: xx"),
        ("/a:/b:ro,rw", "invalid mode: ro,rw"),
        ("/a:rel", "invalid mount path: 'rel' mount path must be absolute"),
        ("/a:/", "invalid specification: destination can't be '/'"),
        # Go's path.Clean makes "//" the root; Python's normpath keeps it.
        ("v1://", "invalid specification: destination can't be '/'"),
        ("/a://", "invalid specification: destination can't be '/'"),
        # A volume cannot have a mode (moby's ParseMountRaw), nor an empty first part.
        ("/srv:ro", "invalid volume specification: '/srv:ro'"),
        ("/srv:", "invalid volume specification: '/srv:'"),
        (":/srv", "invalid volume specification: ':/srv'"),
        # A name Go's regexp refuses: Python's "$" would match before the newline.
        ("ab\n:/b", "includes invalid characters for a local volume name"),
        ("x:/b", "create x: volume name is too short"),
        ("a$b:/b", 'create a$b: "a$b" includes invalid characters for a local volume name'),
        ("/a:/b:nocopy", "field VolumeOptions must not be specified"),
        ("v1:/b:rshared", "field BindOptions must not be specified"),
    ],
)
def test_bind_errors(raw: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        spec.mount_point_from_bind(raw)
    assert message in str(e.value)


def test_bind_error_shape() -> None:
    # moby wraps the mount config error in the spec, as "<spec>: <reason>".
    with pytest.raises(InvalidArgument) as e:
        spec.mount_point_from_bind("v1:rel")
    assert str(e.value) == (
        "invalid volume specification: 'v1:rel': invalid mount config for type \"volume\": "
        "invalid mount path: 'rel' mount path must be absolute"
    )
    assert spec.mount_point_from_bind("v1://data/")["Destination"] == "/data"
    assert spec.clean_path("//") == "/" and spec.clean_path("///a//b/../c") == "/a/c"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "invalid empty volume spec"),
        (":/data", "invalid spec: :/data: empty section between colons"),
        ("/h:/data:", "invalid spec: /h:/data:: empty section between colons"),
        ("/h::ro", "invalid spec: /h::ro: empty section between colons"),
        ("/a:/b:/c:/d", "invalid spec: /a:/b:/c:/d: too many colons"),
        ("/a:/b:ro:", "invalid spec: /a:/b:ro:: too many colons"),
    ],
)
def test_cli_volume_flag_errors(raw: str, message: str) -> None:
    """What the Docker CLI itself refuses before sending anything (compose ParseVolume)."""
    with pytest.raises(InvalidArgument) as e:
        spec.absolute_bind(raw)
    assert str(e.value) == message


def test_cli_volume_flag_accepts() -> None:
    for raw in (":", "/d", "v1:/d", "/h:/d:ro,z", "a:b:c:d"):
        spec.check_volume_flag(raw)


def test_relative_bind_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert spec.absolute_bind("./data:/d") == f"{tmp_path}/data:/d"
    assert spec.absolute_bind("../x:/d:ro") == f"{tmp_path.parent}/x:/d:ro"
    assert spec.absolute_bind("name:/d") == "name:/d"

    # A removed working directory: kept as given (then refused as a volume name).
    def no_cwd() -> str:
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(os, "getcwd", no_cwd)
    assert spec.absolute_bind("./data:/d") == "./data:/d"
    with pytest.raises(InvalidArgument, match='create ./data: "./data" includes invalid'):
        spec.mount_point_from_bind("./data:/d")


def test_mount_flag_keys() -> None:
    m = spec.parse_mount_flag(
        "type=volume,src=v1,dst=/data,readonly,volume-nocopy,volume-label=a=b,volume-opt=type=tmpfs"
    )
    assert m == {
        "Type": "volume",
        "Source": "v1",
        "Target": "/data",
        "ReadOnly": True,
        "VolumeOptions": {
            "NoCopy": True,
            "Labels": {"a": "b"},
            "DriverConfig": {"Options": {"type": "tmpfs"}},
        },
    }
    t = spec.parse_mount_flag("type=tmpfs,destination=/t,tmpfs-size=1m,tmpfs-mode=1770")
    assert t["TmpfsOptions"] == {"SizeBytes": 1 << 20, "Mode": 0o1770}
    # No type: a volume, as docker/cli 28's MountOpt.
    assert spec.parse_mount_flag("source=v,target=/t")["Type"] == "volume"
    b = spec.parse_mount_flag("type=bind,source=/s,target=/t,ro=false,bind-propagation=rslave")
    assert (b["ReadOnly"], b["BindOptions"]) == (False, {"Propagation": "rslave"})


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("type=,source=/a,target=/b", "type is required"),
        ("type=bind,source=/a", "target is required"),
        ("type=bind,foo=bar,target=/b", "unexpected key 'foo' in 'foo=bar'"),
        ("type=bind,bogus,target=/b", "invalid field 'bogus' must be a key=value pair"),
        ("type=bind,target=/b,volume-nocopy", "cannot mix 'volume-*' options with mount type 'bind'"),
        ("type=volume,target=/b,tmpfs-size=1m", "cannot mix 'tmpfs-*' options with mount type 'volume'"),
        ("type=tmpfs,target=/b,tmpfs-size=lots", "invalid value for tmpfs-size: lots"),
        ("type=tmpfs,target=/b,tmpfs-mode=9", "invalid value for tmpfs-mode: 9"),
        # Go's ParseUint(v, 8, 32) takes none of what Python's int(v, 8) also takes.
        ("type=tmpfs,target=/b,tmpfs-mode=-1", "invalid value for tmpfs-mode: -1"),
        ("type=tmpfs,target=/b,tmpfs-mode=0o755", "invalid value for tmpfs-mode: 0o755"),
        ("type=tmpfs,target=/b,tmpfs-mode=+7_7", "invalid value for tmpfs-mode: +7_7"),
        ("type=tmpfs,target=/b,tmpfs-mode=77777777777", "invalid value for tmpfs-mode: 77777777777"),
        ("type=bind,target=/b,readonly=maybe", "invalid value for readonly: maybe"),
    ],
)  # fmt: skip
def test_mount_flag_errors(value: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        spec.parse_mount_flag(value)
    assert str(e.value) == f'invalid argument "{value}" for "--mount" flag: {message}'


def test_mount_point_from_mount(tmp_path: Path) -> None:
    bind = spec.mount_point_from_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/t"})
    assert (bind["Source"], bind["Mode"], bind["Propagation"]) == (str(tmp_path), "", "rprivate")
    vol = spec.mount_point_from_mount({"Type": "volume", "Target": "/v"})
    assert (vol["Name"], vol["Anonymous"], vol["RW"], vol["Mode"]) == ("", True, True, "z")
    named = {"Type": "volume", "Source": "v1", "Target": "/v", "ReadOnly": True}
    assert spec.mount_point_from_mount(named)["RW"] is False
    with pytest.raises(InvalidArgument) as e:
        spec.mount_point_from_mount({"Type": "volume", "Target": "/v", "ReadOnly": True})
    assert str(e.value) == (
        'invalid mount config for type "volume": '
        "must not set ReadOnly mode when using anonymous volumes"
    )
    for target in ("/", "//", "/a/.."):
        with pytest.raises(InvalidArgument, match="destination can't be '/'"):
            spec.mount_point_from_mount({"Type": "tmpfs", "Target": target})
    missing = str(tmp_path / "nope")
    with pytest.raises(InvalidArgument) as e:
        spec.mount_point_from_mount({"Type": "bind", "Source": missing, "Target": "/t"})
    assert str(e.value) == (
        f'invalid mount config for type "bind": bind source path does not exist: {missing}'
    )
    with pytest.raises(InvalidArgument, match="field Source must not be specified"):
        spec.mount_point_from_mount({"Type": "tmpfs", "Source": "x", "Target": "/t"})
    with pytest.raises(InvalidArgument, match='type "npipe": mount type unknown'):
        spec.mount_point_from_mount({"Type": "npipe", "Target": "/t"})
    with pytest.raises(InvalidArgument, match='plugin "nfs" not found'):
        spec.mount_point_from_mount(
            {"Type": "volume", "Target": "/t", "VolumeOptions": {"DriverConfig": {"Name": "nfs"}}}
        )


def test_tmpfs_options() -> None:
    assert spec.parse_tmpfs_flag("/run/x/:size=1m,exec") == ("/run/x", "size=1m,exec")
    with pytest.raises(InvalidArgument):
        spec.parse_tmpfs_flag("relative")
    for root in ("/", "//:size=1m", "/x/.."):
        with pytest.raises(InvalidArgument, match="destination can't be '/'"):
            spec.parse_tmpfs_flag(root)
    # Docker's defaults, a later option replacing its opposite or the same key.
    assert spec.tmpfs_options("") == ["noexec", "nosuid", "nodev", "rprivate"]
    assert spec.tmpfs_options("exec,size=1m,size=2m") == [
        "nosuid",
        "nodev",
        "rprivate",
        "exec",
        "size=2m",
    ]
    assert spec.tmpfs_data({"SizeBytes": 3 << 20, "Mode": 0o700}, True) == "size=3m,mode=700,ro"
    assert spec.tmpfs_data({"SizeBytes": 1000}, False) == "size=1000"


def test_volumes_from() -> None:
    assert spec.parse_volumes_from("c1:ro") == ("c1", "ro")
    assert spec.parse_volumes_from("c1") == ("c1", "")
    # Any -v mode but propagation and nocopy (moby's ParseVolumesFrom).
    assert spec.parse_volumes_from("c1:ro,Z") == ("c1", "ro,Z")
    assert spec.parse_volumes_from("c1:") == ("c1", "")
    for bad in ("c1:rshared", "c1:nocopy", "c1:rw:ro", "c1:ro,ro"):
        with pytest.raises(InvalidArgument, match="invalid mode: "):
            spec.parse_volumes_from(bad)
    with pytest.raises(InvalidArgument, match="cannot be an empty string"):
        spec.parse_volumes_from("")
