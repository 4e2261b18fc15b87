"""The Docker Engine API's objects (v1.51, moby ``api/swagger.yaml``) the facade takes and
returns, as TypedDicts: JSON-shaped dicts with the API's own key names, no second
vocabulary. Only the keys Dockyard fills are typed; nested objects the API defines at
length (``Config``, ``HostConfig``, ``NetworkSettings``, ``State``) are plain dicts in
the API's shape.

Import under ``TYPE_CHECKING`` only: nothing here is needed at run time.
"""

from __future__ import annotations

from typing import Any, TypedDict

#: ``filters`` query parameters: ``{"status": ["running"], "label": ["a=b"]}``.
Filters = dict[str, list[str]]


class Port(TypedDict, total=False):
    """A ContainerSummary ``Ports`` entry (``IP``/``PublicPort`` only when published)."""

    IP: str
    PrivatePort: int
    PublicPort: int
    Type: str


class ContainerSummary(TypedDict, total=False):
    """An element of ``GET /containers/json``. ``Created`` is Unix seconds; ``SizeRw``
    and ``SizeRootFs`` (bytes) only when the size was asked for."""

    Id: str
    Names: list[str]
    Image: str
    ImageID: str
    Command: str
    Created: int
    Ports: list[Port]
    SizeRw: int
    SizeRootFs: int
    Labels: dict[str, str]
    State: str
    Status: str
    HostConfig: dict[str, Any]
    NetworkSettings: dict[str, Any]
    Mounts: list[dict[str, Any]]


class ContainerInspectResponse(TypedDict, total=False):
    """``GET /containers/{id}/json``, keys in Docker's order."""

    Id: str
    Created: str
    Path: str
    Args: list[str]
    State: dict[str, Any]
    Image: str
    ResolvConfPath: str
    HostnamePath: str
    HostsPath: str
    LogPath: str
    Name: str
    RestartCount: int
    Driver: str
    Platform: str
    MountLabel: str
    ProcessLabel: str
    AppArmorProfile: str
    ExecIDs: list[str] | None
    HostConfig: dict[str, Any]
    GraphDriver: dict[str, Any]
    SizeRw: int
    SizeRootFs: int
    Mounts: list[dict[str, Any]]
    Config: dict[str, Any]
    NetworkSettings: dict[str, Any]


class ContainerCreateResponse(TypedDict):
    """``POST /containers/create``'s answer."""

    Id: str
    Warnings: list[str]


class ContainerWaitResponse(TypedDict):
    """``POST /containers/{id}/wait``'s answer; ``Error`` None or ``{"Message": str}``."""

    StatusCode: int
    Error: dict[str, str] | None


class ContainerTopResponse(TypedDict):
    """``GET /containers/{id}/top``: ps's column titles and one row per process."""

    Titles: list[str]
    Processes: list[list[str]]


class ContainerPruneResponse(TypedDict):
    """``POST /containers/prune``: the IDs removed (None: none) and bytes reclaimed."""

    ContainersDeleted: list[str] | None
    SpaceReclaimed: int


class ImageSummary(TypedDict):
    """An element of ``GET /images/json``. ``Created`` is Unix seconds, sizes bytes
    (-1: not computed)."""

    Id: str
    ParentId: str
    RepoTags: list[str]
    RepoDigests: list[str]
    Created: int
    Size: int
    SharedSize: int
    Labels: dict[str, str]
    Containers: int


class HistoryResponseItem(TypedDict):
    """An element of ``GET /images/{name}/history``; ``Created`` Unix seconds, ``Size``
    bytes."""

    Id: str
    Created: int
    CreatedBy: str
    Tags: list[str] | None
    Size: int
    Comment: str


class ImageInspect(TypedDict, total=False):
    """``GET /images/{name}/json``."""

    Id: str
    RepoTags: list[str]
    RepoDigests: list[str]
    Parent: str
    Comment: str
    Created: str
    DockerVersion: str
    Author: str
    Config: dict[str, Any]
    Architecture: str
    Variant: str
    Os: str
    Size: int
    GraphDriver: dict[str, Any]
    RootFS: dict[str, Any]
    Metadata: dict[str, Any]


class Volume(TypedDict, total=False):
    """``GET /volumes/{name}``."""

    CreatedAt: str
    Driver: str
    Labels: dict[str, str]
    Mountpoint: str
    Name: str
    Options: dict[str, str] | None
    Scope: str
    UsageData: dict[str, int]


class ComponentVersion(TypedDict):
    Name: str
    Version: str
    Details: dict[str, str]


class SystemVersion(TypedDict):
    """``GET /version``."""

    Platform: dict[str, str]
    Components: list[ComponentVersion]
    Version: str
    ApiVersion: str
    MinAPIVersion: str
    GitCommit: str
    GoVersion: str
    Os: str
    Arch: str
    KernelVersion: str
    BuildTime: str


class Ping(TypedDict):
    """What ``GET /_ping`` answers in its headers (``API-Version``, ``OSType``,
    ``Docker-Experimental``, ``Builder-Version``)."""

    ApiVersion: str
    OSType: str
    Experimental: bool
    BuilderVersion: str


#: ``GET /info`` (SystemInfo: dozens of keys, filled as docker info reads them).
SystemInfo = dict[str, Any]
