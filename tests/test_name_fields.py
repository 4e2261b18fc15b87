"""Host names and DNS flags that would add lines to a container's /etc files or fail only
at start (issue 13): refused at create with a short message, nothing made."""

from __future__ import annotations

from conftest import Runner


def _refused(dy: Runner, message: str, *args: str) -> None:
    out = dy("create", *args, "busybox", "true")
    assert out.returncode == 125, out
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
