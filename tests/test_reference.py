"""Reference normalisation: the cases of distribution/reference's normalize_test.go."""

from __future__ import annotations

import pytest

from dockyard import reference
from dockyard.errors import InvalidArgument

DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("user/app/sub", "docker.io/user/app/sub:latest", "user/app/sub:latest"),
        ("docker.io/library/a/b", "docker.io/library/a/b:latest", "library/a/b:latest"),
        ("localhost/x", "localhost/x:latest", "localhost/x:latest"),
        ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000/x:latest"),
        ("example.com/a/b:tag", "example.com/a/b:tag", "example.com/a/b:tag"),
        ("example.com:443/a", "example.com:443/a:latest", "example.com:443/a:latest"),
        ("Example.com/a", "Example.com/a:latest", "Example.com/a:latest"),
        ("[::1]:5000/a", "[::1]:5000/a:latest", "[::1]:5000/a:latest"),
        ("a__b/c-d.e_f--g", "docker.io/a__b/c-d.e_f--g:latest", "a__b/c-d.e_f--g:latest"),
        (f"busybox@{DIGEST}", f"docker.io/library/busybox@{DIGEST}", f"busybox@{DIGEST}"),
        (f"busybox:1@{DIGEST}", f"docker.io/library/busybox:1@{DIGEST}", f"busybox:1@{DIGEST}"),
        ("x:A_b.c-D", "docker.io/library/x:A_b.c-D", "x:A_b.c-D"),
    ],
)
def test_normalisation(text: str, full: str, familiar: str) -> None:
    ref = reference.parse(text)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert reference.parse(full) == ref


def test_parts() -> None:
    ref = reference.parse("localhost:5000/a/b:v1")
    assert (ref.name, ref.tag, ref.digest) == ("localhost:5000/a/b", "v1", None)
    assert (ref.domain, ref.path) == ("localhost:5000", "a/b")
    assert ref.familiar_name() == "localhost:5000/a/b"
    assert reference.parse("busybox").familiar_name() == "busybox"
    assert reference.parse(f"busybox@{DIGEST}").tag is None
    assert reference.parse("busybox", default_tag=False).tag is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "Busybox",
            "invalid reference format: repository name (library/Busybox) must be lowercase",
        ),
        ("user/App:1", "invalid reference format: repository name (user/App) must be lowercase"),
        ("", "invalid reference format"),
        ("a:b:c", "invalid reference format"),
        ("-a", "invalid reference format"),
        ("a/", "invalid reference format"),
        ("a//b", "invalid reference format"),
        ("a:" + "t" * 129, "invalid reference format"),
        ("a:-tag", "invalid reference format"),
        ("a@sha256:abc", "invalid reference format"),
        ("a@md5:" + "ab" * 16, "invalid digest format"),
        ("a" * 256, "invalid reference format: repository name must not be more than 255"),
        ("ab" * 32, "cannot specify 64-byte hexadecimal strings"),
        ("café", "invalid reference format"),
    ],
)
def test_invalid(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        reference.parse(text)
    assert message in str(e.value)


def test_import_light() -> None:
    import subprocess
    import sys

    code = "import sys, dockyard.reference; print(sorted(m for m in sys.modules if m in ('tarfile', 'json', 'sqlite3', 'click')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
