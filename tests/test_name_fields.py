"""Host names and DNS flags that would add lines to a container's /etc files or fail only
at start (issue 13): refused at create with a short message, nothing made."""

from __future__ import annotations

from conftest import Runner


def _refused(dy: Runner, message: str, *args: str) -> None:
    out = dy("create", *args, "busybox", "true")
    # The CLI's own refusals exit 125 ("dockyard: ...", or a flag error); the daemon's
    # errors to create are printed as they are and exit 1 (docker/cli's runCreate).
    client = out.stderr.startswith(("dockyard: ", "invalid argument "))
    assert out.returncode == (125 if client else 1), out
    assert message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert len(out.stderr) < 400, out.stderr


def test_line_breaks_and_long_hostnames_refused(dy: Runner, busybox: str) -> None:
    # The Docker CLI's opts.ValidateDNSSearch and its pflag message.
    _refused(
        dy,
        'invalid argument "a\\nb" for "--dns-search" flag: a\nb is not a valid domain',
        "--dns-search",
        "a\nb",
    )
    _refused(dy, "17 is not a valid domain", "--dns-search", "17")
    # Beyond Docker: no line break in an option or a host name.
    _refused(
        dy,
        'invalid --dns-option "ndots:1\\nnameserver 192.0.2.1": line breaks are not allowed',
        "--dns-option",
        "ndots:1\nnameserver 192.0.2.1",
    )
    _refused(
        dy,
        'invalid hostname "web\\n10.0.0.1 evil": line breaks',
        "--hostname",
        "web\n10.0.0.1 evil",
    )
    _refused(dy, "5000 bytes, over the limit of 64", "--hostname", "h" * 5000)
    assert dy("ps", "-aq").stdout == ""
    # What is allowed: 64 bytes, a search domain with a trailing dot or newline (the CLI
    # keeps the name only), "." for none.
    name = dy(
        "create", "--hostname", "h" * 64, "--dns-search", "corp.example.\n", "--dns-search",
        "other.example", "--dns-option", "ndots:2", "busybox", "true", check=True,
    ).stdout.strip()  # fmt: skip
    host = dy("inspect", "-f", "{{.Config.Hostname}} {{.HostConfig.DnsSearch}}", name)
    assert host.stdout.strip() == "h" * 64 + " [corp.example other.example]"
    dy("rm", name, check=True)


def test_nul_bytes_and_add_host_line_breaks_refused(
    dy: Runner, busybox: str, engine_env: dict[str, str]
) -> None:
    """An API client can send ``\\u0000`` in any string: the container was made and failed
    at start (``init: ValueError('embedded null byte')``); refused at create, nothing made.
    A line break in an ``--add-host`` name added a line of its own to /etc/hosts."""
    import pytest

    from dockyard.engine import Engine
    from dockyard.errors import InvalidArgument
    from dockyard.paths import Paths

    _refused(dy, 'invalid --add-host "x\\ny:1.2.3.4": line breaks', "--add-host", "x\ny:1.2.3.4")
    engine = Engine(Paths(engine_env["DOCKYARD_ROOT"], engine_env["DOCKYARD_RUNROOT"]))
    try:
        for config, host in [
            ({"Env": ["A=1\0B=2"]}, {}),
            ({"Hostname": "a\0b"}, {}),
            ({"Cmd": ["echo", "a\0b"]}, {}),
            ({"WorkingDir": "/a\0b"}, {}),
            ({"Labels": {"a\0": "b"}}, {}),
            ({}, {"Binds": ["/tmp\0x:/x"]}),
        ]:
            with pytest.raises(InvalidArgument, match="NUL bytes are not allowed"):
                engine.container_create({"Image": "busybox", "Cmd": ["true"], **config}, host)
    finally:
        if "db" in engine.__dict__:
            engine.db.close()
    assert dy("ps", "-aq").stdout == ""
