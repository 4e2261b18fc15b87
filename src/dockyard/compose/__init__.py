"""Compose: the Compose Specification run over the Engine facade (``dockyard compose``).

A front end like the CLI and the API service: it imports only :mod:`dockyard.engine` and
the shared value modules. :mod:`.loader` reads a project (files, interpolation, schema,
merge, normal form), :mod:`.convert` turns a service into the Engine API's create
request, :mod:`.operations` runs ``up``/``down``/... and :mod:`.cli` is the command line.
"""
