"""The error Compose reports about a project (its files, its model), as opposed to an
engine's error response."""

from __future__ import annotations

from dockyard.errors import InvalidArgument


class ComposeError(InvalidArgument):
    """A project that cannot be loaded or run as written: the message names the file,
    the service and the key. Printed without Docker's ``Error response from daemon``
    prefix (``from_client``), exit status 1 as Docker Compose."""

    from_client = True
    exit_code = 1
