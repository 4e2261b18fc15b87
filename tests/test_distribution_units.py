"""Pure parts of dockyard.distribution: progress bars and their rendering (the docker
CLI's jsonmessage), platforms, challenges, daemon.json and config.json handling."""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import pytest

from dockyard.cli.fastpull import ProgressDisplay
from dockyard.distribution import config, credentials, media
from dockyard.distribution.client import parse_challenge
from dockyard.distribution.progress import bar, human_size, progress, status
from dockyard.engine.distribution import _server
from dockyard.errors import DockyardError, InvalidArgument


def test_progress_bar_as_docker_draws_it() -> None:
    assert human_size(1_234_567) == "1.235MB"
    assert human_size(999) == "999B"
    detail = {"current": 1_200_000, "total": 3_400_000}
    assert bar(detail) == "[" + "=" * 17 + ">" + " " * 33 + "]    1.2MB/3.4MB"
    assert bar(detail, width=80) == "   1.2MB/3.4MB"  # no bar on a narrow terminal
    assert bar({"current": 0, "total": 0}) == ""
    assert bar({**detail, "start": 100}, now=112) == bar(detail) + " 22s"


def test_display_off_a_terminal_drops_progress_lines() -> None:
    out = io.StringIO()
    shown = ProgressDisplay(out, terminal=False)
    shown.show(status("Pulling from library/busybox", "latest", layer=False))
    shown.show(status("Pulling fs layer", "abc"))
    shown.show(progress("Downloading", "abc", 10, 100, 0))
    shown.show(status("Pull complete", "abc"))
    shown.show(status("Digest: sha256:x"))
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\nabc: Pulling fs layer\nabc: Pull complete\n"
        "Digest: sha256:x\n"
    )
    with pytest.raises(DockyardError, match="boom"):
        shown.show({"error": "boom", "errorDetail": {"message": "boom"}})


def test_display_on_a_terminal_redraws_each_layer_line() -> None:
    out = io.StringIO()
    shown = ProgressDisplay(out, terminal=True)
    shown.width = 80
    shown.show(status("Pulling from library/busybox", "latest", layer=False))
    shown.show(status("Pulling fs layer", "aaa"))
    shown.show(status("Pulling fs layer", "bbb"))
    shown.show(progress("Downloading", "aaa", 500, 1000, 0))
    assert out.getvalue() == (
        "latest: Pulling from library/busybox\n"
        "\n\x1b[1A\x1b[2K\raaa: Pulling fs layer \r\x1b[1B"
        "\n\x1b[1A\x1b[2K\rbbb: Pulling fs layer \r\x1b[1B"
        "\x1b[2A\x1b[2K\raaa: Downloading     500B/1kB\r\x1b[2B"
    )


def test_platforms() -> None:
    assert media.parse_platform("linux/aarch64") == ("linux", "arm64", "")
    assert media.parse_platform("linux/arm64/v8") == ("linux", "arm64", "")
    assert media.parse_platform("linux/arm") == ("linux", "arm", "v7")
    assert media.parse_platform("arm64") == ("linux", "arm64", "")
    with pytest.raises(InvalidArgument, match="unknown operating system or architecture"):
        media.parse_platform("linux//x")
    index = {
        "manifests": [
            {"digest": "a", "platform": {"os": "linux", "architecture": "amd64"}},
            {"digest": "att", "platform": {"os": "unknown", "architecture": "unknown"}},
            {"digest": "b", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
            {"digest": "c", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        ]
    }
    assert media.select_manifest(index, ("linux", "arm", "v7"))["digest"] == "c"
    assert media.select_manifest(index, ("linux", "amd64", ""))["digest"] == "a"
    with pytest.raises(DockyardError) as e:
        media.select_manifest(index, ("linux", "s390x", ""))
    assert str(e.value) == (
        "no matching manifest for linux/s390x in the manifest list entries "
        "(the index offers linux/amd64, linux/arm/v6, linux/arm/v7)"
    )


def test_challenge() -> None:
    assert parse_challenge(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"'
    ) == (
        "bearer",
        {
            "realm": "https://auth.docker.io/token",
            "service": "registry.docker.io",
            "scope": "repository:library/busybox:pull",
        },
    )
    assert parse_challenge('Basic realm="x"') == ("basic", {"realm": "x"})


def test_daemon_config(tmp_path: Path) -> None:
    path = tmp_path / "daemon.json"
    assert config.load(str(path)).max_downloads == 3  # missing file: defaults
    path.write_text(
        json.dumps(
            {
                "registry-mirrors": ["https://mirror.example/"],
                "insecure-registries": ["registry.lan:5000", "10.0.0.0/8"],
                "max-concurrent-downloads": 6,
            }
        )
    )
    cfg = config.load(str(path))
    assert cfg.mirrors == ["https://mirror.example"] and cfg.max_downloads == 6
    assert cfg.is_insecure("registry.lan:5000") and cfg.is_insecure("10.1.2.3:443")
    assert cfg.is_insecure("127.0.0.1:5000") and cfg.is_insecure("localhost:5000")
    assert cfg.is_insecure("[::1]:5000")
    assert not cfg.is_insecure("registry.lan") and not cfg.is_insecure("192.168.1.1:5000")
    for text, message in (
        ("{", "invalid JSON"),
        ('{"debug": true}', "unsupported key 'debug'"),
        ('{"max-concurrent-downloads": 0}', "max-concurrent-downloads must be a positive integer"),
        ('{"insecure-registries": ["http://x"]}', "invalid insecure registry"),
    ):
        path.write_text(text)
        with pytest.raises(InvalidArgument, match=message) as e:
            config.load(str(path))
        assert str(path) in str(e.value)


def test_credentials_in_the_docker_cli_format(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(
        json.dumps(
            {
                "auths": {
                    "https://index.docker.io/v1/": {"auth": base64.b64encode(b"hub:pw").decode()},
                    "https://registry.example.com/v2/": {
                        "auth": base64.b64encode(b"u:p:x").decode()
                    },
                },
                "psFormat": "table {{.ID}}",
            }
        )
    )
    assert credentials.lookup("https://index.docker.io/v1/") == credentials.Credentials("hub", "pw")
    assert credentials.lookup("registry.example.com") == credentials.Credentials("u", "p:x")
    assert credentials.lookup("other.example.com") is None
    assert credentials.store("registry.lan:5000", credentials.Credentials("a", "b"))
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["psFormat"] == "table {{.ID}}"  # other settings are kept
    assert data["auths"]["registry.lan:5000"] == {"auth": base64.b64encode(b"a:b").decode()}
    assert (tmp_path / "config.json").read_text().startswith('{\n\t"auths"')
    assert credentials.erase("registry.example.com") == (True, None)
    assert credentials.erase("registry.example.com") == (False, None)


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('{"auths": []}', "auths is not a JSON object"),
        ('{"auths": "x"}', "auths is not a JSON object"),
        ('{"credHelpers": []}', "credHelpers is not a JSON object"),
        ('{"credsStore": 5}', "credsStore is not a string"),
    ],
)
def test_malformed_config_json_is_refused_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, error: str
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(text)
    for call in (
        lambda: credentials.lookup("registry.lan:5000"),
        lambda: credentials.store("registry.lan:5000", credentials.Credentials("a", "b")),
        lambda: credentials.erase("registry.lan:5000"),
    ):
        with pytest.raises(InvalidArgument, match=f"loading config file .*: {error}"):
            call()
    assert (tmp_path / "config.json").read_text() == text


def test_config_json_auth_not_a_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text('{"auths": {"registry.lan:5000": {"auth": 5}}}')
    with pytest.raises(InvalidArgument, match="invalid auth for registry.lan:5000"):
        credentials.lookup("registry.lan:5000")


def test_config_json_symlink_stays_a_symlink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dotfiles-managed config.json: the CLI writes through the link, so does a login."""
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    (dotfiles / "docker.json").write_text('{"psFormat": "x"}')
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "config.json").symlink_to(dotfiles / "docker.json")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    credentials.store("registry.lan:5000", credentials.Credentials("a", "b"))
    assert (tmp_path / "cfg" / "config.json").is_symlink()
    data = json.loads((dotfiles / "docker.json").read_text())
    assert data["psFormat"] == "x" and "registry.lan:5000" in data["auths"]
    assert sorted(os.listdir(dotfiles)) == ["docker.json"]


def test_login_server_names() -> None:
    assert _server(None) == ("docker.io", "https://index.docker.io/v1/")
    assert _server("index.docker.io") == ("docker.io", "https://index.docker.io/v1/")
    assert _server("https://registry.example.com/v2/") == (
        "registry.example.com",
        "registry.example.com",
    )


@pytest.mark.timeout(30)
def test_spool_reader_follows_the_growing_file_and_sees_a_failure(tmp_path: Path) -> None:
    """A layer's unpacker reads the blob file while the download writes it: it waits for
    bytes not written yet, ends at the end of a complete body, and fails at once when
    the download fails (even with unread bytes left)."""
    import threading

    from dockyard.distribution.pull import _DownloadFailed, _Spool

    path = tmp_path / "blob"
    path.write_bytes(b"")
    data = os.urandom(300_000)
    spool = _Spool(str(path))
    wrote = threading.Event()

    def download() -> None:
        with open(path, "ab") as f:
            for i in range(0, len(data), 70_000):
                f.write(data[i : i + 70_000])
                f.flush()
                spool.grew(f.tell())
                wrote.wait(0.01)  # let the reader catch up and wait for the next piece
        spool.end(failed=False)

    thread = threading.Thread(target=download)
    thread.start()
    got = b"".join(iter(lambda: spool.read(100_000), b""))
    thread.join()
    spool.close()
    assert got == data

    spool = _Spool(str(path))
    spool.grew(len(data))
    assert spool.read(10) == data[:10]
    threading.Timer(0.05, spool.end, kwargs={"failed": True}).start()
    assert spool.read(len(data)) == data[10:]
    with pytest.raises(_DownloadFailed):
        spool.read(1)  # waits for more, then sees the failure
    spool.close()
