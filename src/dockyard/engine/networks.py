"""The facade's network operations (Engine API v1.51, Network): requests and answers in
the API's shapes (NetworkCreateRequest, Network, EndpointSettings), filters as the
daemon applies them.
"""

from __future__ import annotations

from dockyard.engine.base import EngineBase
from dockyard.errors import InvalidArgument, NotFound

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

    from dockyard.engine.types import Filters
    from dockyard.network.manager import Network

#: The ``filters`` keys of ``GET /networks``.
LIST_FILTERS = ("dangling", "driver", "id", "label", "name", "scope", "type")


#: The EndpointIPAMConfig fields Dockyard honours.
_IPAM_FIELDS = ("IPv4Address", "IPv6Address", "LinkLocalIPs")


def _config_family(config: Any) -> int:
    """The IP version (4 or 6) of an IPAM.Config entry: its Subnet's, else its
    IPRange's or Gateway's (a colon: IPv6; the values are checked later, with Docker's
    messages); 4 when it names none. Raises InvalidArgument for a non-object."""
    if not isinstance(config, dict):
        raise InvalidArgument("IPAM.Config: an array of objects")
    for key in ("Subnet", "IPRange", "Gateway"):
        text = config.get(key)
        if text:
            return 6 if ":" in str(text) else 4
    return 4


def _zero(value: Any) -> bool:
    if isinstance(value, dict):
        return all(_zero(v) for v in value.values())
    return value in (None, 0, "", False, [], {})


class NetworkOperations(EngineBase):
    """Networks (Engine API: Network)."""

    if TYPE_CHECKING:

        def engine_id(self) -> str: ...  # dockyard.engine.system.SystemOperations

    def network_list(self, filters: Filters | None = None) -> list[dict[str, Any]]:
        """``GET /networks``: every network as the API's Network object (its
        ``Containers`` left empty, as the daemon's list does), oldest first, kept by
        ``filters`` (:data:`LIST_FILTERS`; values of one key are alternatives, keys all
        apply). Raises InvalidArgument for another key or a bad ``type``."""
        filters = filters or {}
        for key in filters:
            if key not in LIST_FILTERS:
                raise InvalidArgument(f"invalid filter '{key}'")
        for v in filters.get("type", []):
            if v not in ("custom", "builtin"):
                raise InvalidArgument(f"invalid filter: 'type'='{v}'")

        def label_ok(net: Network, v: str) -> bool:
            k, sep, val = v.partition("=")
            return k in net.labels and (not sep or net.labels[k] == val)

        def dangling(net: Network) -> bool:
            return not net.predefined and not self.networks.store.endpoints(network_id=net.id)

        tests = {
            "driver": lambda n, v: n.driver == v,
            "id": lambda n, v: n.id.startswith(v),
            "label": label_ok,
            "name": lambda n, v: v in n.name,
            "scope": lambda n, v: v == "local",
            "type": lambda n, v: (v == "builtin") == n.predefined,
            "dangling": lambda n, v: dangling(n) == (v.lower() in ("true", "1")),
        }
        nets = self.networks.list_networks()
        for key, values in filters.items():
            nets = [n for n in nets if any(tests[key](n, v) for v in values)]
        out = []
        for net in nets:
            obj = self.networks.inspect(net, self.container_store)
            obj["Containers"] = {}
            out.append(obj)
        return out

    def network_inspect(self, id: str, verbose: bool = False) -> dict[str, Any]:
        """``GET /networks/{id}`` (a name, ID or ID prefix): the Network object with its
        attached containers. ``verbose`` adds nothing (swarm only). Raises NotFound
        ``network <id> not found``."""
        return self.networks.inspect(self.networks.get(id), self.container_store)

    def network_create(self, request: dict[str, Any]) -> dict[str, str]:
        """``POST /networks/create`` from a NetworkCreateRequest (``Name``, ``Driver``,
        ``Internal``, ``Attachable``, ``Options``, ``Labels``, ``EnableIPv6``,
        ``IPAM.Config`` with at most one IPv4 and one IPv6 entry of
        ``Subnet``/``Gateway``/``IPRange``/``AuxiliaryAddresses``; ``Scope`` local,
        ``IPAM.Driver`` default with ``IPAM.Options`` recorded; ``EnableIPv4`` false makes
        an IPv6-only network; ``ConfigOnly``, ``ConfigFrom.Network`` as libnetwork's). An
        IPv6 network without an IPv6 subnet gets a /64 of the engine's ULA prefix (moby's
        deriveULABaseNetwork).
        Returns ``{"Id", "Warning"}``. Raises InvalidArgument (a bad or unsupported
        field), Conflict (name taken, subnet overlap), NotFound (an unknown driver)."""
        name = request.get("Name")
        if not name or not isinstance(name, str):
            raise InvalidArgument("network name must be given")
        if not _zero(request.get("Ingress")):
            raise InvalidArgument(
                "ingress networks (Ingress, --ingress) are for swarm mode, which is "
                "not supported by Dockyard"
            )
        if request.get("Driver") == "overlay":
            raise InvalidArgument(
                "the overlay driver is multi-host networking, which is for an orchestrator "
                "(swarm mode); Dockyard is a single-host engine: use bridge, macvlan or ipvlan"
            )
        if request.get("Scope") not in (None, "", "local"):
            raise InvalidArgument(f"scope {request['Scope']!r} is not supported by Dockyard")
        ipam = request.get("IPAM") or {}
        if ipam.get("Driver") not in (None, "", "default"):
            raise NotFound(f'plugin "{ipam["Driver"]}" not found')
        ipam_options = ipam.get("Options") or {}
        if not isinstance(ipam_options, dict):
            raise InvalidArgument("IPAM.Options: an object of strings")
        config_only = bool(request.get("ConfigOnly"))
        config_from = request.get("ConfigFrom") or {}
        if not isinstance(config_from, dict):
            raise InvalidArgument('ConfigFrom: an object such as {"Network": "NAME"}')
        config_from = config_from.get("Network") or ""
        if config_only and request.get("Scope"):
            from dockyard.network.manager import CONFIG_ONLY_OPERATOR_FIELDS

            raise InvalidArgument(CONFIG_ONLY_OPERATOR_FIELDS)
        if config_from:
            return self._network_create_from(request, config_from)
        by_family: dict[int, dict[str, Any]] = {}
        for config in ipam.get("Config") or []:
            family = _config_family(config)
            if family in by_family:
                raise InvalidArgument(
                    f"Dockyard networks have one IPv{family} subnet: give one IPAM config "
                    f"of each family"
                )
            by_family[family] = config
        config = by_family.get(4, {})
        config6 = by_family.get(6, {})
        enable6 = bool(request.get("EnableIPv6"))
        pool6 = None
        if enable6 and not config6.get("Subnet"):
            from dockyard.network.ipam import ula_pool

            pool6 = ula_pool(self.engine_id())
        net = self.networks.create(
            name,
            request.get("Driver") or "bridge",
            subnet=config.get("Subnet") or None,
            gateway=config.get("Gateway") or None,
            ip_range=config.get("IPRange") or None,
            options=dict(request.get("Options") or {}),
            internal=bool(request.get("Internal")),
            labels=dict(request.get("Labels") or {}),
            attachable=bool(request.get("Attachable")),
            ipam_options_null=ipam.get("Options") is None,
            ipam_options={str(k): str(v) for k, v in ipam_options.items()},
            config_only=config_only,
            aux_addresses={
                str(k): str(v) for k, v in (config.get("AuxiliaryAddresses") or {}).items()
            },
            ipv6=enable6,
            ipv4=request.get("EnableIPv4") is not False,
            subnet6=config6.get("Subnet") or None,
            gateway6=config6.get("Gateway") or None,
            ip_range6=config6.get("IPRange") or None,
            aux_addresses6={
                str(k): str(v) for k, v in (config6.get("AuxiliaryAddresses") or {}).items()
            },
            pool6=pool6,
        )
        return {"Id": net.id, "Warning": ""}

    def _network_create_from(self, request: dict[str, Any], source: str) -> dict[str, str]:
        """A ``ConfigFrom`` network: the IPAM config, IPAM options, driver options,
        labels and IP versions of the config-only network ``source`` (libnetwork's
        validateConfiguration and applyConfigurationTo, their messages); the request may
        give only the name, driver, ``Internal`` and ``Attachable``. Raises
        InvalidArgument, NotFound (no such config-only network) or as network_create."""
        ipam = request.get("IPAM") or {}
        if request.get("ConfigOnly"):
            raise InvalidArgument(
                "a configuration network cannot depend on another configuration network"
            )
        if (
            request.get("EnableIPv4") is False
            or request.get("EnableIPv6")
            or not _zero(request.get("Labels"))
            or not _zero(ipam.get("Options"))
            or ipam.get("Config")
        ):
            raise InvalidArgument(
                "user specified configurations are not supported if the network depends "
                "on a configuration network"
            )
        if not _zero(request.get("Options")):
            raise InvalidArgument(
                "network driver options are not supported if the network depends on a "
                "configuration network"
            )
        src = self.networks.config_network(source)
        by_family = {_config_family(entry): entry for entry in src.config.get("ipam_config") or []}
        config = by_family.get(4, {})
        config6 = by_family.get(6, {})
        pool6 = None
        if src.ipv6 and not config6.get("Subnet"):
            from dockyard.network.ipam import ula_pool

            pool6 = ula_pool(self.engine_id())
        net = self.networks.create(
            request["Name"],
            request.get("Driver") or "bridge",
            subnet=config.get("Subnet"),
            gateway=config.get("Gateway"),
            ip_range=config.get("IPRange"),
            options=src.options,
            internal=bool(request.get("Internal")),
            labels=src.labels,
            attachable=bool(request.get("Attachable")),
            aux_addresses=config.get("AuxiliaryAddresses"),
            ipam_options_null=not src.config.get("ipam_options"),
            ipam_options=src.config.get("ipam_options"),
            ipv6=src.ipv6,
            ipv4=src.ipv4,
            subnet6=config6.get("Subnet"),
            gateway6=config6.get("Gateway"),
            ip_range6=config6.get("IPRange"),
            aux_addresses6=config6.get("AuxiliaryAddresses"),
            pool6=pool6,
            config_from=src.name,
        )
        return {"Id": net.id, "Warning": ""}

    def network_delete(self, id: str) -> None:
        """``DELETE /networks/{id}``. Raises NotFound, Conflict (predefined, or a
        container is attached)."""
        self.networks.remove(id)

    def network_connect(
        self, id: str, container: str, endpoint_config: dict[str, Any] | None = None
    ) -> None:
        """``POST /networks/{id}/connect``: attach ``container``, with the
        EndpointSettings ``endpoint_config`` (``IPAMConfig.IPv4Address``,
        ``IPAMConfig.IPv6Address``, ``IPAMConfig.LinkLocalIPs``, ``Aliases``,
        ``MacAddress``, ``Links``, ``DriverOpts``, ``GwPriority``). Raises NotFound,
        Conflict, InvalidArgument (with Docker's messages, or naming an unsupported
        field)."""
        settings = dict(endpoint_config or {})
        ipam = settings.pop("IPAMConfig", None) or {}
        aliases = settings.pop("Aliases", None) or []
        mac = settings.pop("MacAddress", None) or None
        options = {k: settings.pop(k, None) for k in ("Links", "DriverOpts", "GwPriority")}
        for key, value in {
            **settings,
            **{k: v for k, v in ipam.items() if k not in _IPAM_FIELDS},
        }.items():
            if not _zero(value):
                raise InvalidArgument(f"EndpointConfig.{key} is not supported by Dockyard")
        from dockyard.engine.create import link_local_ips

        c = self.container_store.get(container)
        self.networks.connect(
            c,
            id,
            ip=ipam.get("IPv4Address") or None,
            aliases=list(aliases),
            mac=mac,
            options=options,
            ip6=ipam.get("IPv6Address") or None,
            link_local=link_local_ips(ipam.get("LinkLocalIPs")),
        )

    def network_disconnect(self, id: str, container: str, force: bool = False) -> None:
        """``POST /networks/{id}/disconnect``: detach ``container`` (``force`` changes
        nothing: Dockyard's endpoints have no remote driver to fail). Raises NotFound,
        Conflict."""
        self.networks.disconnect(self.container_store.get(container), id)

    def network_prune(self, filters: Filters | None = None) -> dict[str, list[str] | None]:
        """``POST /networks/prune``: remove the user-defined networks no container uses,
        kept by ``filters`` (``until``, ``label``, ``label!``). Returns
        ``{"NetworksDeleted": [names]}``. Raises InvalidArgument for another filter."""
        from dockyard.network.manager import prune_filter

        flags = [f"{k}={v}" for k, values in (filters or {}).items() for v in values]
        removed = self.networks.prune(prune_filter(self.networks.list_networks(), flags))
        from dockyard.engine.events import prune_event

        prune_event(self.paths.root, "network", 0)
        return {"NetworksDeleted": [n.name for n in removed] or None}
