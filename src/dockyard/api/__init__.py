"""The Docker Engine API service (``dockyard system service``) and its HTTP client.

``server`` serves the Engine API (v1.24 to v1.51, moby's ``api/swagger.yaml``) over HTTP/1.1
on a unix socket, loopback TCP, TLS-verified TCP or sockets systemd passes (``listen``);
``routes`` maps each operation onto the Engine facade (``dockyard.engine``), which alone
holds the engine's behaviour: this package imports no container, image, network or volume
module (an import-linter contract checks it). The other direction, the facade over HTTP
for ``dockyard -H URI``, is :mod:`dockyard.engine.remote`.
"""

from __future__ import annotations

#: The newest Engine API version served (``API-Version`` header, ``/version``).
API_VERSION = "1.51"
#: The oldest version accepted in a ``/vX.Y`` path prefix.
MIN_API_VERSION = "1.24"
