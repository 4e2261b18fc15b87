"""Networking: networks and endpoints (IPAM; bridge, host, none, macvlan and ipvlan drivers;
the container network namespace), name resolution and port publishing (Docker networking
docs; libnetwork's model of networks, endpoints and sandboxes)."""
