"""Networking: IPAM, drivers, name resolution and port publishing (Docker networking docs)."""
