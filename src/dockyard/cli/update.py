"""``dockyard update`` / ``container update`` (docker/cli cli/command/container/update.go):
change the resource limits and restart policy of containers, running or not."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.errors import DockyardError, InvalidArgument
from dockyard.paths import Paths


def _size(text: str | None, flag: str) -> int:
    from dockyard.units import ram_in_bytes

    # Given empty ("") is an invalid size, as pflag's opts.MemBytes.
    return ram_in_bytes(text, flag) if text is not None else 0


def update_config(kw: dict[str, Any]) -> dict[str, Any]:
    """The Engine API UpdateConfig the flags ask for (only what was given is non-zero).
    Raises InvalidArgument with the docker CLI's messages."""
    from dockyard.cli.opts import parse_restart_policy
    from dockyard.units import memory_swap

    nano = 0
    if kw["cpus"]:
        try:
            nano = int(round(float(kw["cpus"]) * 1e9))
        except ValueError:
            raise InvalidArgument(
                f'invalid argument "{kw["cpus"]}" for "--cpus" flag: failed to parse '
                f"{kw['cpus']} as a rational number"
            ) from None
    update: dict[str, Any] = {
        "BlkioWeight": kw["blkio_weight"],
        "CpusetCpus": kw["cpuset_cpus"],
        "CpusetMems": kw["cpuset_mems"],
        "CpuShares": kw["cpu_shares"],
        "Memory": _size(kw["memory"], "-m, --memory"),
        "MemoryReservation": _size(kw["memory_reservation"], "--memory-reservation"),
        "MemorySwap": memory_swap(kw["memory_swap"]) if kw["memory_swap"] is not None else 0,
        "CpuPeriod": kw["cpu_period"],
        "CpuQuota": kw["cpu_quota"],
        "CpuRealtimePeriod": kw["cpu_rt_period"],
        "CpuRealtimeRuntime": kw["cpu_rt_runtime"],
        "NanoCpus": nano,
    }
    if kw["pids_limit"] is not None:
        update["PidsLimit"] = kw["pids_limit"]
    if kw["restart"]:
        update["RestartPolicy"] = parse_restart_policy(kw["restart"])
    return update


@click.command(context_settings={"help_option_names": ["--help"]})
@click.option(
    "--blkio-weight",
    type=click.IntRange(0, 65535),
    default=0,
    help="Block IO (relative weight), between 10 and 1000, or 0 to disable (default 0)",
)
@click.option(
    "--cpu-period", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) period"
)
@click.option(
    "--cpu-quota", type=int, default=0, help="Limit CPU CFS (Completely Fair Scheduler) quota"
)
@click.option(
    "--cpu-rt-period", type=int, default=0, help="Limit the CPU real-time period in microseconds"
)
@click.option(
    "--cpu-rt-runtime", type=int, default=0, help="Limit the CPU real-time runtime in microseconds"
)
@click.option("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
@click.option("--cpus", default="", help="Number of CPUs")
@click.option("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
@click.option("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
@click.option("-m", "--memory", default=None, help="Memory limit")
@click.option("--memory-reservation", default=None, help="Memory soft limit")
@click.option(
    "--memory-swap",
    default=None,
    help="Swap limit equal to memory plus swap: -1 to enable unlimited swap",
)
@click.option(
    "--pids-limit", type=int, default=None, help="Tune container pids limit (set -1 for unlimited)"
)
@click.option("--restart", default="", help="Restart policy to apply when a container exits")
@click.argument("containers", nargs=-1, required=True)
@click.pass_obj
def update(paths: Paths, containers: tuple[str, ...], **kw: Any) -> None:
    """Update configuration of one or more containers."""
    from dockyard.cli.engine import open_engine

    ctx = click.get_current_context()
    given = {n for n in kw if ctx.get_parameter_source(n) is click.core.ParameterSource.COMMANDLINE}
    if not given:
        # docker/cli: nFlag == 0 (flags changed, whatever their value).
        print("you must provide one or more flags when using this command", file=sys.stderr)
        sys.exit(1)
    try:
        body = update_config(kw)
    except InvalidArgument as e:
        from dockyard.cli.help import usage_error

        print(usage_error(str(e), click.get_current_context()), file=sys.stderr)
        sys.exit(125)
    engine = open_engine(paths)
    warnings: list[str] = []
    errors: list[str] = []
    for ref in containers:
        try:
            result = engine.container_update(ref, body)
        except DockyardError as e:
            errors.append(f"Error response from daemon: {e}")
            continue
        print(ref)
        warnings.extend(result.get("Warnings") or [])
    if warnings:
        print("\n".join(warnings))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        sys.exit(1)
