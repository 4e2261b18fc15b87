"""Files the engine reads from a container's root (its /etc/passwd and /etc/group for
``--user``) are resolved inside it (issue 13's filesystem rule): a symlink to a host file
is followed inside the rootfs, and a FIFO does not hang the engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import Runner


@pytest.mark.timeout(90)
def test_user_files_resolved_inside_the_rootfs(dy: Runner, busybox: str, tmp_path: Path) -> None:
    host = tmp_path / "hostpasswd"
    host.write_text("hostonly:x:4242:4242::/:/bin/sh\n")
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM busybox\nRUN ln -sf {host} /etc/passwd && rm -f /etc/group && mkfifo /etc/group\n"
    )
    dy("build", "-q", "-t", "links", str(ctx), check=True)
    out = dy("run", "--rm", "--user", "hostonly", "links", "id", "-u", timeout=30)
    assert out.returncode != 0
    assert "unable to find user hostonly" in out.stderr
    # Numeric ids need no file; the FIFO is not read (a read would block).
    out = dy("run", "--rm", "--user", "1000:1000", "links", "id", "-u", timeout=30)
    assert out.stdout == "1000\n", out
