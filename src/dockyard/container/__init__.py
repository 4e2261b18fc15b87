"""Containers: records, options, and the create/start/remove lifecycle (Docker semantics)."""
