"""``dockyard build`` end to end: every instruction's effect on the image, the cache,
multi-stage builds, COPY/ADD rules, bad input, ``history``."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import time
from pathlib import Path

import pytest

from conftest import Runner


def write(ctx: Path, files: dict[str, str]) -> Path:
    ctx.mkdir(exist_ok=True)
    for name, text in files.items():
        path = ctx / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return ctx


def inspect(dy: Runner, name: str) -> dict:
    out = dy("image", "inspect", name, check=True).stdout
    return json.loads(out)[0]


def test_metadata_instructions_make_the_config(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox
MAINTAINER Jane <jane@example.com>
ENV A=1 B="two words"
ENV C $A-x
LABEL version="1.0" other=o
EXPOSE 80 53/udp 8000-8001
USER nobody
VOLUME ["/data", "/logs"]
WORKDIR rel
WORKDIR sub
STOPSIGNAL SIGKILL
HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ONBUILD RUN echo triggered > /tmp/onbuild.txt
CMD echo $A
""",
        },
    )
    dy("build", "-t", "meta:1", "--label", "extra=yes", str(ctx), check=True)
    img = inspect(dy, "meta:1")
    cfg = img["Config"]
    assert img["Author"] == "Jane <jane@example.com>"
    assert cfg["Env"][1:] == ["A=1", "B=two words", "C=1-x"]
    assert cfg["Labels"] == {"version": "1.0", "other": "o", "extra": "yes"}
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}, "8000-8001/tcp": {}}
    assert cfg["User"] == "nobody"
    assert cfg["Volumes"] == {"/data": {}, "/logs": {}}
    assert cfg["WorkingDir"] == "/rel/sub"
    assert cfg["StopSignal"] == "SIGKILL"
    assert cfg["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
        "Interval": 5_000_000_000,
        "Retries": 2,
    }
    assert cfg["OnBuild"] == ["RUN echo triggered > /tmp/onbuild.txt"]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "echo $A"]
    # The WORKDIR directories exist (owned by root) and CMD runs in them.
    assert dy("run", "--rm", "meta:1", check=True).stdout == "1\n"
    out = dy("run", "--rm", "--user", "0", "meta:1", "pwd", check=True).stdout
    assert out == "/rel/sub\n"
    # History: one entry per step, layers only where files changed.
    hist = dy("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "meta:1").stdout
    lines = hist.splitlines()
    assert lines[0] == "LABEL extra=yes|0B"
    assert lines[1] == 'CMD ["/bin/sh" "-ec" "echo $A"]|0B'
    assert "EXPOSE map[53/udp:{} 80/tcp:{} 8000-8001/tcp:{}]|0B" in lines
    # Docker counts file bytes: a WORKDIR's layer holds only directories, so 0B.
    assert "WORKDIR /rel/sub|0B" in lines

    # ONBUILD triggers run in a child build and are not inherited further.
    child = write(tmp_path / "child", {"Dockerfile": "FROM meta:1\nUSER root\n"})
    out = dy("build", "-t", "child", str(child), check=True).stdout
    assert "# Executing 1 build trigger" in out
    assert dy("run", "--rm", "child", "cat", "/tmp/onbuild.txt", check=True).stdout == "triggered\n"
    assert inspect(dy, "child")["Config"]["OnBuild"] is None


def test_output_cache_and_no_cache(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\nRUN echo built > /r.txt\nCOPY a.txt /a.txt\n"
            "RUN cat /a.txt /r.txt > /both.txt\nCMD cat /both.txt\n",
            "a.txt": "one\n",
        },
    )
    first = dy("build", "-t", "app", str(ctx), check=True).stdout
    lines = first.splitlines()
    assert lines[0] == "Step 1/5 : FROM busybox"
    assert "Step 2/5 : RUN echo built > /r.txt" in lines
    assert any(line.startswith(" ---> Running in ") for line in lines)
    assert any(line.startswith("Removing intermediate container ") for line in lines)
    assert lines[-2].startswith("Successfully built ")
    assert lines[-1] == "Successfully tagged app:latest"
    assert "Using cache" not in first
    assert dy("run", "--rm", "app", check=True).stdout == "one\nbuilt\n"

    # Unchanged: every step from the cache, the same image, quickly.
    os.utime(ctx, (1, 1))  # directory times are not part of the key
    started = time.monotonic()
    again = dy("build", "-t", "app", str(ctx), check=True).stdout
    assert time.monotonic() - started < 1.5
    assert again.count(" ---> Using cache") == 4
    assert "Running in" not in again
    assert again.splitlines()[-2] == lines[-2]

    # A changed file rebuilds from its COPY on; a changed mode too.
    (ctx / "a.txt").write_text("two\n")
    changed = dy("build", "-t", "app", str(ctx), check=True).stdout
    assert changed.count(" ---> Using cache") == 1
    assert dy("run", "--rm", "app", check=True).stdout == "two\nbuilt\n"
    os.chmod(ctx / "a.txt", 0o600)
    assert dy("build", str(ctx), check=True).stdout.count("Using cache") == 1

    # --no-cache runs everything again; -q prints only the ID; --iidfile writes it.
    iid = tmp_path / "iid"
    quiet = dy("build", "-q", "--no-cache", "--iidfile", str(iid), str(ctx), check=True).stdout
    assert quiet.startswith("sha256:") and len(quiet.strip()) == 71
    assert iid.read_text() == quiet.strip()


def test_run_forms_env_args_and_failure(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": """ARG UNUSED_GLOBAL=x
FROM busybox
ARG WHO=default
ARG BARE
ENV WHO_ENV=$WHO
RUN ["sh", "-c", "echo exec form $WHO > /exec.txt"]
RUN echo "shell ${WHO} [${BARE-unset}] $WHO_ENV" > /shell.txt
RUN <<EOF
echo heredoc > /heredoc.txt
EOF
RUN test "$(id -u)" = 0 && mkdir /home/x && chown nobody /home/x
USER nobody
RUN id -u > /home/x/uid.txt
""",
        },
    )
    out = dy("build", "-t", "r", "--build-arg", "WHO=cli", "--build-arg", "NOPE=1", str(ctx))
    assert out.returncode == 0, out.stderr
    assert "[Warning] One or more build-args [NOPE] were not consumed" in out.stdout
    cat = dy("run", "--rm", "r", "cat", "/exec.txt", "/shell.txt", "/heredoc.txt")
    assert cat.stdout == "exec form cli\nshell cli [unset] cli\nheredoc\n"
    assert dy("run", "--rm", "r", "cat", "/home/x/uid.txt").stdout == "65534\n"
    # ARG values are not in the config; ENV ones are.
    assert inspect(dy, "r")["Config"]["Env"][1:] == ["WHO_ENV=cli"]

    # A failing RUN: the step, command and code; exit 1; the tag stays where it was.
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo partial > /p\nRUN exit 3\n"})
    before = inspect(dy, "r")["Id"]
    failed = dy("build", "-t", "r", str(ctx))
    assert failed.returncode == 1
    assert "The command '/bin/sh -c exit 3' returned a non-zero code: 3" in failed.stderr
    assert "Step 3/3 : RUN exit 3" in failed.stdout
    assert "Successfully" not in failed.stdout
    assert inspect(dy, "r")["Id"] == before
    assert os.listdir(Path(os.environ["DOCKYARD_ROOT"]) / "tmp") == []
    # No container's runtime state is left (the seccomp filter cache, ``.seccomp``, stays).
    runtime_dir = Path(os.environ["DOCKYARD_RUNROOT"]) / "runtime"
    assert not runtime_dir.exists() or set(os.listdir(runtime_dir)) <= {".seccomp"}


def test_network_modes(dy: Runner, busybox: str, tmp_path: Path) -> None:
    # The namespace itself, not the host's interface list, which concurrent runs change.
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\nRUN ls /sys/class/net > /n; readlink /proc/self/ns/net >> /n\n"
        },
    )
    dy("build", "-t", "none", "--network", "none", str(ctx), check=True)
    lines = dy("run", "--rm", "none", "cat", "/n").stdout.splitlines()
    assert lines[0] == "lo" and lines[1] != os.readlink("/proc/self/ns/net")
    dy("build", "-t", "host", "--network", "host", str(ctx), check=True)
    lines = dy("run", "--rm", "host", "cat", "/n").stdout.splitlines()
    assert lines[-1] == os.readlink("/proc/self/ns/net")
    # The default, as BuildKit: a namespace of its own with an interface on a bridge.
    dy("build", "-t", "default", str(ctx), check=True)
    lines = dy("run", "--rm", "default", "cat", "/n").stdout.splitlines()
    assert lines[:2] == ["eth0", "lo"] and lines[2] != os.readlink("/proc/self/ns/net")


def test_multi_stage_target_and_copy_from(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox AS builder
RUN mkdir /out && echo artifact > /out/a && echo b > /out/b
FROM busybox AS unused
RUN exit 9
FROM builder AS extended
RUN echo ext > /out/ext
FROM scratch AS final
COPY --from=builder /out/a /a
COPY --from=0 /bin/busybox /busybox
COPY --from=busybox /etc/passwd /passwd
COPY --from=extended /out/ /all/
""",
        },
    )
    out = dy("build", "-t", "multi", str(ctx), check=True).stdout
    assert "exit 9" not in out  # the unused stage is skipped
    img = inspect(dy, "multi")
    assert len(img["RootFS"]["Layers"]) == 4  # only the final stage's COPY layers
    ext = dy("run", "--rm", "--entrypoint", "/busybox", "multi", "cat", "/a", "/all/ext")
    assert ext.stdout == "artifact\next\n"
    assert dy("run", "--rm", "--entrypoint", "/busybox", "multi", "ls", "/all").stdout == (
        "a\nb\next\n"
    )
    # --target stops at that stage.
    dy("build", "-t", "tgt", "--target", "builder", str(ctx), check=True)
    assert dy("run", "--rm", "tgt", "cat", "/out/a").stdout == "artifact\n"
    bad = dy("build", "--target", "nope", str(ctx))
    assert bad.returncode == 1 and "nope" in bad.stderr


def test_copy_rules(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox
COPY dir /d1
COPY dir /d2/
COPY *.txt /texts/
COPY one.txt /file
COPY one.txt /existing
COPY --chmod=700 --chown=nobody:nogroup one.txt /owned/
COPY --link one.txt two.txt /linked/
COPY <<EOF /inline.txt
value=$V
EOF
RUN stat -c '%n %a %u' /owned /owned/one.txt /file > /meta.txt
""",
            "dir/inner/deep.txt": "deep\n",
            "dir/top.txt": "top\n",
            "one.txt": "1\n",
            "two.txt": "2\n",
            "skip.log": "x\n",
            "secret/key": "k\n",
            ".dockerignore": "*.log\nsecret\n",
        },
    )
    os.chmod(ctx / "one.txt", 0o640)
    (ctx / "Dockerfile").write_text(
        (ctx / "Dockerfile").read_text().replace("FROM busybox\n", "FROM busybox\nARG V=v1\n")
    )
    dy("build", "-t", "c", str(ctx), check=True)

    def sh(cmd: str) -> str:
        return str(dy("run", "--rm", "c", "sh", "-c", cmd, check=True).stdout)

    assert sh("cd /d1 && find . | sort") == ".\n./inner\n./inner/deep.txt\n./top.txt\n"
    assert sh("cd /d2 && find . | sort") == ".\n./inner\n./inner/deep.txt\n./top.txt\n"
    assert sh("ls /texts") == "one.txt\ntwo.txt\n"
    assert sh("cat /file /inline.txt") == "1\nvalue=v1\n"
    assert sh("cat /meta.txt") == "/owned 755 65534\n/owned/one.txt 700 65534\n/file 640 0\n"
    assert sh("ls /linked") == "one.txt\ntwo.txt\n"

    for source in ("skip.log", "secret/key", "missing"):
        write(ctx, {"Dockerfile": f"FROM busybox\nCOPY {source} /x\n"})
        bad = dy("build", str(ctx))
        assert bad.returncode == 1
        assert (
            "COPY failed: file not found in build context or excluded by .dockerignore: "
            f"stat {source}: file does not exist"
        ) in bad.stderr


def test_add_archives_and_urls(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    for suffix, mode in (("tar.gz", "w:gz"), ("tar.bz2", "w:bz2"), ("tar.xz", "w:xz")):
        with tarfile.open(ctx / f"arch.{suffix}", mode) as tf:
            data = suffix.encode()
            info = tarfile.TarInfo(f"inside/{suffix}.txt")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path != "/file.txt":
                self.send_error(404)
                return
            body = b"downloaded\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        digest = "sha256:" + hashlib.sha256(b"downloaded\n").hexdigest()
        write(
            ctx,
            {
                "Dockerfile": f"FROM busybox\nADD arch.tar.gz arch.tar.bz2 arch.tar.xz /x/\n"
                f"ADD --checksum={digest} {url}/file.txt /dl/\n",
            },
        )
        dy("build", "-t", "add", str(ctx), check=True)
        out = dy(
            "run",
            "--rm",
            "add",
            "sh",
            "-c",
            "cat /x/inside/* /dl/file.txt; stat -c %a /dl/file.txt",
        )
        assert out.stdout == "tar.bz2tar.gztar.xzdownloaded\n600\n"
        write(ctx, {"Dockerfile": f"FROM busybox\nADD {url}/missing /m\n"})
        bad = dy("build", str(ctx))
        assert bad.returncode == 1
        assert f"ADD failed: failed to download {url}/missing" in bad.stderr
        write(
            ctx,
            {"Dockerfile": f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {url}/file.txt /f\n"},
        )
        bad = dy("build", str(ctx))
        assert bad.returncode == 1 and f"digest mismatch {digest}" in bad.stderr
    finally:
        server.shutdown()
        server.server_close()


def test_bad_input_names_file_and_line(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    cases = {
        "FROM busybox\nFROB x\n": "Dockerfile:2: unknown instruction: FROB",
        "FROM busybox\nCOPY --bogus=1 a b\n": "Dockerfile:2:",
        "FROM busybox\nEXPOSE 99999\n": "invalid containerPort: 99999",
        "FROM 127.0.0.1:1/no-such-image\n": "127.0.0.1:1/no-such-image",
        "FROM scratch\n": "No image was generated",
        "FROM --platform=linux/mips64 busybox\n": 'invalid platform "linux/mips64"',
        "FROM busybox\nSTOPSIGNAL SIGNOPE\n": "Dockerfile:2: Invalid signal: SIGNOPE",
    }
    for text, message in cases.items():
        write(ctx, {"Dockerfile": text})
        bad = dy("build", "-t", "never", str(ctx))
        assert bad.returncode == 1, text
        assert message in bad.stderr, (text, bad.stderr)
    assert dy("image", "inspect", "never").returncode == 1
    write(ctx, {"Dockerfile": 'FROM busybox\nRUN ["/no/such/cmd"]\n'})
    bad = dy("build", str(ctx))
    assert bad.returncode == 1
    assert "The command '/no/such/cmd' returned a non-zero code: 127" in bad.stderr
    # A Dockerfile on stdin has no context to copy from.
    piped = dy("build", "-", input="FROM busybox\nCOPY a /a\n")
    assert piped.returncode == 1 and "stat a: file does not exist" in piped.stderr
    ok = dy("build", "-q", "-", input="FROM busybox\nRUN true\n")
    assert ok.returncode == 0 and ok.stdout.startswith("sha256:")


def test_stdin_contexts(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "tar\n"})
    # A tar archive on stdin is the context.
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tf:
        tf.add(ctx / "Dockerfile", "Dockerfile")
        tf.add(ctx / "f", "f")
    dy("build", "-t", "fromtar", "-", input=data.getvalue(), check=True)
    assert dy("run", "--rm", "fromtar", "cat", "/f").stdout == "tar\n"
    # `-f -`: the Dockerfile on stdin, the files from the directory.
    dy("build", "-t", "fdash", "-f", "-", str(ctx), input="FROM busybox\nCOPY f /g\n", check=True)
    assert dy("run", "--rm", "fdash", "cat", "/g").stdout == "tar\n"


def test_history_output(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo " + "x" * 60 + " > /x\n"})
    iid = dy("build", "-q", "-t", "h", str(ctx), check=True).stdout.strip()
    out = dy("history", "h", check=True).stdout.splitlines()
    assert out[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert out[1].startswith(iid[7:19] + " ")
    assert "RUN /bin/sh -c echo " + "x" * 24 + "…" in out[1]
    # The base image's top entry shows its ID (it exists here), as Docker's.
    base = dy("images", "-q", "busybox", check=True).stdout.strip()
    assert out[2].startswith(base + " ")
    assert dy("history", "-q", "--no-trunc", "h", check=True).stdout.splitlines()[0] == iid
    assert dy("image", "history", "--format", "{{.Size}}", "h").stdout.splitlines()[0] != "0B"
    missing = dy("history", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error response from daemon: No such image: nope:latest"


@pytest.mark.parametrize(
    ("lines", "entrypoint", "cmd"),
    [
        # The reference's table: exec/shell ENTRYPOINT x exec/shell CMD.
        ('ENTRYPOINT ["e"]\nCMD ["c"]', ["e"], ["c"]),
        ('ENTRYPOINT ["e"]\nCMD c x', ["e"], ["/bin/sh", "-c", "c x"]),
        ('ENTRYPOINT e x\nCMD ["c"]', ["/bin/sh", "-c", "e x"], ["c"]),
        ("CMD c", None, ["/bin/sh", "-c", "c"]),
        # An ENTRYPOINT drops the base's CMD (busybox's ["sh"]), not one set before it.
        ('ENTRYPOINT ["e"]', ["e"], None),
        ('CMD ["c"]\nENTRYPOINT ["e"]', ["e"], ["c"]),
        ('ENTRYPOINT ["e"]\nENTRYPOINT []', None, None),
        ('SHELL ["/bin/ash", "-xc"]\nENTRYPOINT e', ["/bin/ash", "-xc", "e"], None),
        ("", None, ["sh"]),
    ],
)
def test_entrypoint_cmd_table(
    dy: Runner, busybox: str, tmp_path: Path, lines: str, entrypoint: object, cmd: object
) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": f"FROM busybox\nLABEL x=y\n{lines}\n"})
    dy("build", "-t", "ec", str(ctx), check=True)
    cfg = inspect(dy, "ec")["Config"]
    assert (cfg["Entrypoint"], cfg["Cmd"]) == (entrypoint, cmd)


def test_dockerignore_exceptions(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox\nCOPY . /c/\n",
            ".dockerignore": "**/*.md\n!keep/README.md\nbuild\n",
            "README.md": "x",
            "docs/a.md": "x",
            "keep/README.md": "kept",
            "build/out": "x",
            "src/main.c": "x",
        },
    )
    dy("build", "-t", "ign", str(ctx), check=True)
    out = dy("run", "--rm", "ign", "find", "/c", "-type", "f", check=True).stdout
    assert sorted(out.split()) == [
        "/c/.dockerignore",
        "/c/Dockerfile",
        "/c/keep/README.md",
        "/c/src/main.c",
    ]


def test_run_layer_holds_only_the_changes(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": "FROM busybox AS bb\nFROM scratch\n"
            "COPY --from=bb /bin/busybox /bin/busybox\n"
            'RUN ["/bin/busybox", "touch", "/made"]\n',
        },
    )
    dy("build", "-t", "only", str(ctx), check=True)
    layers = inspect(dy, "only")["RootFS"]["Layers"]
    top = Path(os.environ["DOCKYARD_ROOT"]) / "layers" / layers[-1].removeprefix("sha256:")
    # No /proc, /dev, /sys or /etc mount points, no hosts/resolv.conf files.
    assert os.listdir(top) == ["made"]


def test_progress_tty_view(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo from-run\n"})
    # Bytes (input=b""): text mode would turn the carriage returns into newlines.
    out = dy(
        "build", "--progress", "tty", "-t", "p", str(ctx), input=b"", check=True
    ).stdout.decode()
    assert "Step " not in out
    assert "\r\x1b[K=> [2/2] RUN echo from-run  DONE " in out
    assert "\r\x1b[Kfrom-run\n" in out
    assert out.endswith("Successfully tagged p:latest\n")
    again = dy("build", "--progress", "tty", str(ctx), input=b"", check=True).stdout.decode()
    assert "=> CACHED [2/2] RUN echo from-run  DONE " in again
    failed = dy("build", "--progress", "tty", "-", input=b"FROM busybox\nRUN exit 2\n")
    assert "=> [2/2] RUN exit 2  ERROR " in failed.stdout.decode()
    assert "returned a non-zero code: 2" in failed.stderr.decode()


def test_run_mounts(dy: Runner, busybox: str, tmp_path: Path) -> None:
    ctx = write(
        tmp_path / "ctx",
        {
            "Dockerfile": """FROM busybox
RUN --mount=type=cache,target=/cache echo x >> /cache/log && wc -l < /cache/log > /first
RUN --mount=type=cache,target=/cache wc -l < /cache/log > /second
RUN --mount=type=tmpfs,target=/scratch touch /scratch/t && ls /scratch > /tmpfs
RUN --mount=source=data,target=/data cat /data/f > /bound
RUN --mount=source=data,target=/data,rw echo changed > /data/f
""",
            "data/f": "from-context\n",
        },
    )
    dy("build", "-t", "mnt", str(ctx), check=True)
    out = dy("run", "--rm", "mnt", "cat", "/first", "/second", "/tmpfs", "/bound").stdout
    assert out == "1\n1\nt\nfrom-context\n"
    assert (ctx / "data" / "f").read_text() == "from-context\n"  # rw writes are discarded
    for gone in ("/cache", "/scratch", "/data"):
        assert dy("run", "--rm", "mnt", "test", "-e", gone).returncode == 1, gone
    write(ctx, {"Dockerfile": "FROM busybox\nRUN --mount=from=busybox,target=/x true\n"})
    bad = dy("build", str(ctx))
    assert bad.returncode == 1
    assert "Dockerfile:2: RUN --mount=from=busybox,target=/x: not supported" in bad.stderr


def test_a_removal_during_a_build_leaves_the_layers_it_stands_on(
    dy: Runner, busybox: str, tmp_path: Path, engine_env: dict
) -> None:
    """An ``rmi`` of the base image (or an ``image prune -a`` of the step images) while a
    build runs on them leaves their layers until the build ends, as BuildKit's lease:
    the running step saw the base's files vanish ('ls: /base: No such file or
    directory') and the next step's image named a missing layer; then ``system check
    --repair`` deleted them as debris. Played in this
    process: the removals run when the builder announces the step's container."""
    from dockyard.engine import Engine
    from dockyard.errors import DockyardError
    from dockyard.paths import Paths

    write(tmp_path / "b", {"Dockerfile": "FROM busybox\nRUN echo base > /base\n"})
    dy("build", "-q", "-t", "base", str(tmp_path / "b"), check=True)
    ctx = write(
        tmp_path / "c",
        {"Dockerfile": "FROM base\nRUN cat /base > /one\nRUN cat /base /one > /two\n"},
    )
    removed: list[str] = []

    def line(text: str) -> None:
        if text.startswith(" ---> Running in"):
            # The base image, then the first step's image (dangling until the end); the
            # garbage collector finds their layers in use, not debris.
            what = ["rmi", "base", "busybox"] if not removed else ["image", "prune", "-af"]
            removed.append(dy(*what, check=True).stdout)
            swept = dy("system", "check", "--repair")
            assert swept.stdout == "0 found; Reclaimed space: 0B\n", swept.stdout

    engine = Engine(Paths(engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]))
    try:
        image_id = engine.image_build_directory(str(ctx), tags=["child"], output=line)
    finally:
        engine.close_state()
    assert len(removed) == 2 and "Deleted: sha256:" in removed[0], removed
    assert "deleted: sha256:" in removed[1], removed
    assert inspect(dy, "child")["Id"] == image_id
    run = dy("run", "--rm", "child", "cat", "/base", "/one", "/two", check=True)
    assert run.stdout == "base\nbase\nbase\nbase\n"
    # A build that fails after its base image was removed removes the base's layers it
    # kept (nothing uses them): they stayed as debris for system check.
    write(tmp_path / "b", {"Dockerfile": "FROM child\nRUN echo again > /again\n"})
    dy("build", "-q", "-t", "base", str(tmp_path / "b"), check=True)
    write(ctx, {"Dockerfile": "FROM base\nRUN exit 3\n"})
    removed.clear()

    def drop_base(text: str) -> None:
        if text.startswith(" ---> Running in"):
            removed.append(dy("rmi", "base", check=True).stdout)

    engine = Engine(Paths(engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]))
    try:
        with pytest.raises(DockyardError, match="returned a non-zero code: 3"):
            engine.image_build_directory(str(ctx), output=drop_base)
    finally:
        engine.close_state()
    assert "Deleted: sha256:" in removed[0]
    check = dy("system", "check")
    assert check.stdout == "0 found; Reclaimable space: 0B\n", check.stdout
