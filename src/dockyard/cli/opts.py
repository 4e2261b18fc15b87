"""Flags turned into the Engine API's request values, as docker/cli's ``opts`` package
does (``--filter key=value`` into the ``filters`` parameter...)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False  # typing is not imported: the listings' fast path (bench/README.md)
if TYPE_CHECKING:
    from typing import Any


def parse_filters(values: tuple[str, ...] | list[str]) -> dict[str, list[str]]:
    """``--filter key=value`` flags as ``{key: [values]}`` (opts.FilterOpt).

    Raises InvalidArgument ``bad format of filter (expected name=value)``."""
    out: dict[str, list[str]] = {}
    for v in values:
        key, eq, value = v.partition("=")
        if not eq:
            raise InvalidArgument("bad format of filter (expected name=value)")
        out.setdefault(key.strip().lower(), []).append(value.strip())
    return out


def check_filters(ctx: Any, param: Any, values: tuple[str, ...]) -> tuple[str, ...]:
    """A click callback for ``--filter``: a value without ``=`` is pflag's flag error
    (docker/cli's FilterOpt.Set), ``invalid argument "x" for "-f, --filter" flag: bad
    format of filter (expected name=value)`` with the usage, exit 125 (cli/main.py
    reports a click UsageError so). Returns ``values``."""
    import click

    for v in values:
        if "=" not in v:
            short = [o for o in param.opts if len(o) == 2]
            long = [o for o in param.opts if o.startswith("--")]
            shown = ", ".join(short + long)
            raise click.UsageError(
                f'invalid argument "{v}" for "{shown}" flag: '
                "bad format of filter (expected name=value)",
                ctx,
            )
    return values


def parse_restart_policy(text: str) -> dict[str, Any]:
    """``--restart`` text as Docker's HostConfig.RestartPolicy ``{"Name", "MaximumRetryCount"}``.

    The client-side parse of the Docker CLI (``opts.ParseRestartPolicy``); the policy name
    is checked by :func:`validate_restart_policy`. Raises InvalidArgument with Docker's
    ``invalid restart policy format: ...`` messages.
    """
    name, colon, count = text.partition(":")
    if colon and not name:
        raise InvalidArgument("invalid restart policy format: no policy provided before colon")
    retries = 0
    if count:
        try:
            retries = int(count)
        except ValueError:
            raise InvalidArgument(
                "invalid restart policy format: maximum retry count must be an integer"
            ) from None
    return {"Name": name, "MaximumRetryCount": retries}


def config_from_flags(
    cmd: str | None,
    interval: int,
    timeout: int,
    retries: int,
    start_period: int,
    start_interval: int,
    no_healthcheck: bool,
) -> dict[str, Any] | None:
    """The Healthcheck ``--health-*`` / ``--no-healthcheck`` ask for (durations in ns),
    None when none is given; Docker CLI's ``parse`` rules and messages (InvalidArgument)."""
    given = bool(cmd) or any((interval, timeout, retries, start_period, start_interval))
    if no_healthcheck:
        if given:
            raise InvalidArgument("--no-healthcheck conflicts with --health-* options")
        return {"Test": ["NONE"]}
    if not given:
        return None
    for name, value in (
        ("interval", interval),
        ("timeout", timeout),
        ("retries", retries),
        ("start-period", start_period),
        ("start-interval", start_interval),
    ):
        if value < 0:
            raise InvalidArgument(f"--health-{name} cannot be negative")
    out: dict[str, Any] = {"Test": ["CMD-SHELL", cmd] if cmd else None}
    out.update(
        Interval=interval,
        Timeout=timeout,
        StartPeriod=start_period,
        StartInterval=start_interval,
        Retries=retries,
    )
    return out
