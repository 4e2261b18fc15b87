"""``dockyard network``: create, ls, inspect, rm, connect, disconnect and prune, with the
Docker CLI's flags, output and exit codes (Docker CLI reference: docker network)."""

from __future__ import annotations

import sys
from typing import Any

import click

from dockyard.cli.images import engine_errors, fail
from dockyard.cli.opts import check_filters
from dockyard.errors import DockyardError, InvalidArgument, NotFound
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}
NETWORK_HEADERS = {
    "ID": "NETWORK ID",
    "Name": "NAME",
    "Driver": "DRIVER",
    "Scope": "SCOPE",
    "IPv6": "IPV6",
    "Internal": "INTERNAL",
    "Labels": "LABELS",
    "CreatedAt": "CREATED AT",
}
DEFAULT_LS_FORMAT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"


def _engine(paths: Paths) -> Any:
    from dockyard.cli.engine import open_engine

    return open_engine(paths)


def _pairs(values: tuple[str, ...], flag: str) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not key:
            raise InvalidArgument(f'invalid argument "{v}" for "{flag}" flag: bad format')
        out[key] = value if sep else ""
    return out


def _driver_opts(values: tuple[str, ...]) -> dict[str, str]:
    """``--driver-opt`` values as docker/cli's: each comma-separated as pflag's string
    slice (a CSV record), every item ``KEY=VALUE`` with both trimmed (convertDriverOpt).
    Raises InvalidArgument."""
    import csv

    out = {}
    for value in values:
        try:
            items = next(csv.reader([value], strict=True)) if value else []
        except csv.Error as e:
            raise InvalidArgument(
                f'invalid argument "{value}" for "--driver-opt" flag: {e}'
            ) from None
        for item in items:
            key, sep, val = item.partition("=")
            if not sep or not key.strip():
                raise InvalidArgument("invalid key/value pair format in driver options")
            out[key.strip()] = val.strip()
    return out


@click.group("network", context_settings=_SETTINGS)
def network() -> None:
    """Manage networks."""


@network.command("create", context_settings=_SETTINGS)
@click.argument("name")
@click.option("-d", "--driver", default="bridge", help="Driver to manage the Network")
@click.option(
    "--subnet", multiple=True, help="Subnet in CIDR format that represents a network segment"
)
@click.option("--gateway", multiple=True, help="IPv4 or IPv6 Gateway for the master subnet")
@click.option("--ip-range", multiple=True, help="Allocate container ip from a sub-range")
@click.option("-o", "--opt", multiple=True, help="Set driver specific options")
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.option("--label", multiple=True, help="Set metadata on a network")
@click.option("--attachable", is_flag=True, help="Enable manual container attachment")
@click.option(
    "--aux-address", multiple=True, help="Auxiliary IPv4 or IPv6 addresses used by Network driver"
)
@click.option("--ipam-driver", default="default", help="IP Address Management Driver")
@click.option("--ipam-opt", multiple=True, help="Set IPAM driver specific options")
@click.option("--ipv4/--no-ipv4", default=True, help="Enable or disable IPv4 address assignment")
@click.option("--ipv6", is_flag=True, help="Enable or disable IPv6 address assignment")
@click.option("--scope", default="", help="Control the network's scope")
@click.option("--ingress", is_flag=True, help="Create swarm routing-mesh network")
@click.option("--config-only", is_flag=True, help="Create a configuration only network")
@click.option("--config-from", default="", help="The network from which to copy the configuration")
@click.pass_obj
@engine_errors
def create(
    paths: Paths,
    name: str,
    driver: str,
    subnet: tuple[str, ...],
    gateway: tuple[str, ...],
    ip_range: tuple[str, ...],
    opt: tuple[str, ...],
    internal: bool,
    label: tuple[str, ...],
    attachable: bool,
    aux_address: tuple[str, ...],
    ipam_driver: str,
    ipam_opt: tuple[str, ...],
    ipv4: bool,
    ipv6: bool,
    scope: str,
    ingress: bool,
    config_only: bool,
    config_from: str,
) -> None:
    """Create a network."""
    configs = _ipam_configs(subnet, ip_range, gateway, _pairs(aux_address, "--aux-address"))
    request = {
        "Name": name,
        "Driver": driver,
        "Options": _pairs(opt, "--opt"),
        "Internal": internal,
        "Labels": _pairs(label, "--label"),
        "Attachable": attachable,
        "IPAM": {
            "Driver": ipam_driver,
            "Options": _pairs(ipam_opt, "--ipam-opt"),
            "Config": configs,
        },
        "EnableIPv4": ipv4,
        "EnableIPv6": ipv6,
        "Scope": scope,
        "Ingress": ingress,
        "ConfigOnly": config_only,
        "ConfigFrom": {"Network": config_from} if config_from else None,
    }
    click.echo(_engine(paths).network_create(request)["Id"])


def _ipam_configs(
    subnets: tuple[str, ...],
    ranges: tuple[str, ...],
    gateways: tuple[str, ...],
    aux: dict[str, str],
) -> list[dict[str, Any]]:
    """IPAM.Config entries, one per ``--subnet``, each with the ``--ip-range``,
    ``--gateway`` and ``--aux-address`` values inside it (docker/cli's
    createIPAMConfig, its messages). Raises InvalidArgument."""
    import ipaddress

    def network(text: str, flag: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        try:
            return ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise InvalidArgument(
                f'invalid argument "{text}" for "{flag}" flag: invalid CIDR address: {text}'
            ) from None

    def inside(value: Any, net: Any) -> bool:
        if value.version != net.version:
            return False
        if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
            return bool(value.subnet_of(net))
        return value in net

    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise InvalidArgument("every ip-range or gateway must have a corresponding subnet")
    configs: list[tuple[Any, dict[str, Any]]] = []
    for text in subnets:
        net = network(text, "--subnet")
        if any(net.version == n.version and net.overlaps(n) for n, _ in configs):
            raise InvalidArgument("multiple overlapping subnet configuration is not supported")
        configs.append((net, {"Subnet": text}))
    for text in ranges:
        rng = network(text, "--ip-range")
        matched = [c for n, c in configs if inside(rng, n)]
        for c in matched:
            if "IPRange" in c:
                raise InvalidArgument(
                    f"cannot configure multiple ranges ({rng}, {c['IPRange']}) on the same "
                    f"subnet ({c['Subnet']})"
                )
            c["IPRange"] = str(rng)
        if not matched:
            raise InvalidArgument(f"no matching subnet for range {rng}")
    for kind, values in (("gateway", gateways), ("aux-address", tuple(aux.items()))):
        for value in values:
            name, text = value if isinstance(value, tuple) else ("", value)
            if kind == "aux-address" and not text:
                continue
            try:
                addr = ipaddress.ip_address(text)
            except ValueError:
                raise InvalidArgument(
                    f'invalid argument "{text}" for "--{kind}" flag: '
                    "invalid string being converted to IP address"
                ) from None
            matched = [c for n, c in configs if inside(addr, n)]
            for c in matched:
                if kind == "aux-address":
                    c.setdefault("AuxiliaryAddresses", {})[name] = text
                elif "Gateway" in c:
                    raise InvalidArgument(
                        f"cannot configure multiple gateways ({addr}, {c['Gateway']}) for the "
                        f"same subnet ({c['Subnet']})"
                    )
                else:
                    c["Gateway"] = str(addr)
            if not matched:
                raise InvalidArgument(f"no matching subnet for {kind} {text}")
    return [c for _, c in configs]


def _row(net: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    """The ``network ls`` format context of a Network object."""
    labels = ",".join(f"{k}={v}" for k, v in (net.get("Labels") or {}).items())
    return {
        "ID": net["Id"] if no_trunc else net["Id"][:12],
        "Name": net["Name"],
        "Driver": net["Driver"],
        "Scope": net.get("Scope") or "local",
        "IPv6": "true" if net.get("EnableIPv6") else "false",
        "Internal": "true" if net.get("Internal") else "false",
        "Labels": labels,
        "CreatedAt": net["Created"],
    }


def _filters(filters: tuple[str, ...]) -> dict[str, list[str]]:
    """``--filter key=value`` flags as the API's filters (this message names the flag)."""
    wanted: dict[str, list[str]] = {}
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {f}")
        wanted.setdefault(key, []).append(value)
    return wanted


@network.command("ls", context_settings=_SETTINGS)
@click.option(
    "-f",
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help="Provide filter values (e.g. 'driver=bridge')",
)
@click.option("--format", "fmt", default="", help="Format output using a custom template")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
@click.pass_obj
@engine_errors
def ls(paths: Paths, filters: tuple[str, ...], fmt: str, no_trunc: bool, quiet: bool) -> None:
    """List networks."""
    from dockyard.cli.formatting import format_items

    nets = sorted(_engine(paths).network_list(_filters(filters)), key=lambda n: n["Name"])
    if quiet and fmt in ("", "table"):
        fmt = "{{.ID}}"
    rows = [_row(n, no_trunc) for n in nets]
    sys.stdout.write(format_items(fmt, rows, NETWORK_HEADERS, default=DEFAULT_LS_FORMAT))


network.add_command(ls, "list")


@network.command("inspect", context_settings=_SETTINGS)
@click.argument("names", nargs=-1, required=True, metavar="NETWORK [NETWORK...]")
@click.option("-f", "--format", "fmt", default="", help="Format output using a custom template")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Verbose output for diagnostics (adds nothing for local networks, as Docker's)",
)
@click.pass_obj
@engine_errors
def inspect(paths: Paths, names: tuple[str, ...], fmt: str, verbose: bool) -> None:
    """Display detailed information on one or more networks."""
    from dockyard.cli.formatting import print_inspect

    engine = _engine(paths)
    found, errors = [], []
    for name in names:
        try:
            found.append(engine.network_inspect(name))
        except NotFound:
            errors.append(f"Error: No such network: {name}")
    print_inspect(fmt, found, errors)


@network.command("rm", context_settings=_SETTINGS)
@click.argument("names", nargs=-1, required=True, metavar="NETWORK [NETWORK...]")
@click.option("-f", "--force", is_flag=True, help="Do not error if the network does not exist")
@click.pass_obj
def rm(paths: Paths, names: tuple[str, ...], force: bool) -> None:
    """Remove one or more networks."""
    engine = _engine(paths)
    errors = []
    for name in names:
        try:
            engine.network_delete(name)
        except NotFound as e:
            if not force:
                errors.append(f"Error response from daemon: {e}")
            continue
        except DockyardError as e:
            errors.append(f"Error response from daemon: {e}")
            continue
        click.echo(name)
    if errors:
        fail("\n".join(errors))


network.add_command(rm, "remove")


@network.command("connect", context_settings=_SETTINGS)
@click.argument("net", metavar="NETWORK")
@click.argument("container")
@click.option("--ip", help="IPv4 address (e.g., 172.30.100.104)")
@click.option("--alias", multiple=True, help="Add network-scoped alias for the container")
@click.option("--ip6", default="", help="IPv6 address (e.g., 2001:db8::33)")
@click.option("--link-local-ip", multiple=True, help="Add a link-local address for the container")
@click.option("--link", multiple=True, help="Add link to another container")
@click.option("--driver-opt", multiple=True, help="driver options for the network")
@click.option(
    "--gw-priority",
    type=click.IntRange(-(1 << 63), (1 << 63) - 1),
    default=0,
    help="Highest gw-priority provides the gateway",
)
@click.pass_obj
@engine_errors
def connect(
    paths: Paths,
    net: str,
    container: str,
    ip: str | None,
    alias: tuple[str, ...],
    ip6: str,
    link_local_ip: tuple[str, ...],
    link: tuple[str, ...],
    driver_opt: tuple[str, ...],
    gw_priority: int,
) -> None:
    """Connect a container to a network."""
    settings: dict[str, Any] = {
        "Aliases": list(alias),
        "IPAMConfig": {
            "IPv4Address": ip or "",
            "IPv6Address": ip6,
            "LinkLocalIPs": list(link_local_ip),
        },
        "Links": list(link),
        "DriverOpts": _driver_opts(driver_opt),
        "GwPriority": gw_priority,
    }
    _engine(paths).network_connect(net, container, settings)


@network.command("disconnect", context_settings=_SETTINGS)
@click.argument("net", metavar="NETWORK")
@click.argument("container")
@click.option(
    "-f", "--force", is_flag=True, help="Force the container to disconnect from a network"
)
@click.pass_obj
@engine_errors
def disconnect(paths: Paths, net: str, container: str, force: bool) -> None:
    """Disconnect a container from a network."""
    _engine(paths).network_disconnect(net, container, force=force)


@network.command("prune", context_settings=_SETTINGS)
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option(
    "--filter",
    "filters",
    multiple=True,
    callback=check_filters,
    help="Provide filter values (e.g. 'label=<key>=<value>')",
)
@click.pass_obj
@engine_errors
def prune(paths: Paths, force: bool, filters: tuple[str, ...]) -> None:
    """Remove all unused networks."""
    if not force:
        click.echo(
            "WARNING! This will remove all custom networks not used by at least one container.\n"
            "Are you sure you want to continue? [y/N] ",
            nl=False,
        )
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return
    report = _engine(paths).network_prune(_filters(filters))
    if report["NetworksDeleted"]:
        click.echo("Deleted Networks:")
        for name in report["NetworksDeleted"]:
            click.echo(name)
