"""``dockyard version`` and ``dockyard info`` (Docker CLI reference: docker version, docker
system info): the client's and the engine's versions, and the engine's summary, from the
facade's ``system_version`` and ``system_info`` (in process, or the endpoint of
``-H``/``DOCKER_HOST``)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any

import click

from dockyard.errors import DockyardError
from dockyard.paths import Paths

_SETTINGS = {"help_option_names": ["--help"]}

#: The Engine API version the client speaks.
CLIENT_API_VERSION = "1.51"


def _client() -> dict[str, Any]:
    """docker/cli's ``clientVersion`` for Dockyard."""
    from dockyard import __version__

    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return {
        "Platform": {"Name": ""},
        "Version": __version__,
        "ApiVersion": CLIENT_API_VERSION,
        "DefaultAPIVersion": CLIENT_API_VERSION,
        "GitCommit": "",
        "GoVersion": "python" + platform.python_version(),
        "Os": "linux",
        "Arch": arch,
        "BuildTime": "",
        "Context": "default",
    }


def _version_text(client: dict[str, Any], server: dict[str, Any] | None) -> str:
    """docker/cli's default version template, laid out by its tabwriter (min width 20,
    padding 1)."""
    from dockyard.cli.formatting import tabwrite

    lines = [
        "Client:",
        f" Version:\t{client['Version']}",
        f" API version:\t{client['ApiVersion']}",
        f" Go version:\t{client['GoVersion']}",
        f" Git commit:\t{client['GitCommit']}",
        f" Built:\t{client['BuildTime']}",
        f" OS/Arch:\t{client['Os']}/{client['Arch']}",
        f" Context:\t{client['Context']}",
    ]
    if server is not None:
        name = (server.get("Platform") or {}).get("Name", "")
        lines += ["", f"Server:{' ' + name if name else ''}"]
        for component in server.get("Components") or []:
            details = component.get("Details") or {}
            lines.append(f" {component['Name']}:")
            if component["Name"] == "Engine":
                lines += [
                    f"  Version:\t{component['Version']}",
                    f"  API version:\t{details.get('ApiVersion', '')} (minimum version {details.get('MinAPIVersion', '')})",
                    f"  Go version:\t{details.get('GoVersion', '')}",
                    f"  Git commit:\t{details.get('GitCommit', '')}",
                    f"  Built:\t{details.get('BuildTime', '')}",
                    f"  OS/Arch:\t{details.get('Os', '')}/{details.get('Arch', '')}",
                    f"  Experimental:\t{str(details.get('Experimental', False)).lower()}",
                ]
            else:
                lines.append(f"  Version:\t{component['Version']}")
                lines += [f"  {key}:\t{value}" for key, value in sorted(details.items())]
    return tabwrite("\n".join(lines), minwidth=20, padding=1)


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--format", "fmt", help="Format output using a custom template")
@click.pass_obj
def version(paths: Paths, fmt: str | None) -> None:
    """Show the Dockyard version information."""
    from dockyard.cli.engine import open_engine

    client = _client()
    try:
        server = open_engine(paths).system_version()
        error = None
    except DockyardError as e:
        server, error = None, e
    if fmt:
        from dockyard.cli.formatting import normalize, render

        print(render(normalize(fmt), {"Client": client, "Server": server}))
    else:
        print(_version_text(client, server))
    if error is not None:
        print(
            f"Error response from daemon: {error}" if "connect" not in str(error) else str(error),
            file=sys.stderr,
        )
        sys.exit(1)


def _info_text(info: dict[str, Any]) -> str:
    """The server part of ``docker info``'s default output (docker/cli prettyPrintServerInfo),
    for the fields Dockyard fills."""
    runtimes = " ".join(sorted(info.get("Runtimes") or {}))
    plugins = info.get("Plugins") or {}
    lines = [
        "Server:",
        f" Containers: {info.get('Containers', 0)}",
        f"  Running: {info.get('ContainersRunning', 0)}",
        f"  Paused: {info.get('ContainersPaused', 0)}",
        f"  Stopped: {info.get('ContainersStopped', 0)}",
        f" Images: {info.get('Images', 0)}",
        f" Server Version: {info.get('ServerVersion', '')}",
        f" Storage Driver: {info.get('Driver', '')}",
        f" Logging Driver: {info.get('LoggingDriver', '')}",
        f" Cgroup Driver: {info.get('CgroupDriver', '')}",
        f" Cgroup Version: {info.get('CgroupVersion', '')}",
        " Plugins:",
        f"  Volume: {' '.join(plugins.get('Volume') or [])}",
        f"  Network: {' '.join(plugins.get('Network') or [])}",
        f"  Log: {' '.join(plugins.get('Log') or [])}",
        f" Swarm: {(info.get('Swarm') or {}).get('LocalNodeState', 'inactive')}",
        f" Runtimes: {runtimes}",
        f" Default Runtime: {info.get('DefaultRuntime', '')}",
        f" Kernel Version: {info.get('KernelVersion', '')}",
        f" Operating System: {info.get('OperatingSystem', '')}",
        f" OSType: {info.get('OSType', '')}",
        f" Architecture: {info.get('Architecture', '')}",
        f" CPUs: {info.get('NCPU', 0)}",
        f" Total Memory: {_bytes(info.get('MemTotal', 0))}",
        f" Name: {info.get('Name', '')}",
        f" ID: {info.get('ID', '')}",
        f" Docker Root Dir: {info.get('DockerRootDir', '')}",
        f" Debug Mode: {str(bool(info.get('Debug'))).lower()}",
        f" Experimental: {str(bool(info.get('ExperimentalBuild'))).lower()}",
        f" Live Restore Enabled: {str(bool(info.get('LiveRestoreEnabled'))).lower()}",
    ]
    lines += [f"WARNING: {w}" for w in info.get("Warnings") or []]
    return "\n".join(lines)


def _bytes(size: float) -> str:
    """go-units BytesSize (binary units, 4 significant digits): ``7.764GiB``."""
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
    i = 0
    while size >= 1024 and i < len(units) - 1:
        size /= 1024
        i += 1
    return f"{size:.4g}{units[i]}"


@click.command(context_settings=_SETTINGS)
@click.option("-f", "--format", "fmt", help="Format output using a custom template")
@click.pass_obj
def info(paths: Paths, fmt: str | None) -> None:
    """Display system-wide information."""
    from dockyard.cli.engine import open_engine

    data = open_engine(paths).system_info()
    if fmt:
        from dockyard.cli.formatting import normalize, render

        client = _client()
        print(
            render(
                normalize(fmt),
                {**data, "ClientInfo": {**client, "Debug": bool(os.environ.get("DOCKYARD_DEBUG"))}},
            )
        )
        return
    client = _client()
    print(
        f"Client:\n Version:    {client['Version']}\n Context:    {client['Context']}\n Debug Mode: false\n"
    )
    print(_info_text(data))
