"""Engine errors, the CLI exit codes and the Engine API statuses they map to (Docker's
conventions: moby's errdefs classes and the HTTP status each gets, api/server/httpstatus)."""

from __future__ import annotations

#: Exit code when Dockyard itself fails (Docker: 125).
EXIT_ENGINE = 125
#: Exit code when the container command exists but cannot be invoked (Docker: 126).
EXIT_CANNOT_INVOKE = 126
#: Exit code when the container command is not found (Docker: 127).
EXIT_NOT_FOUND = 127


class DockyardError(Exception):
    """Base class of every error the engine reports to a user.

    ``str(err)`` is a one-line message; ``exit_code`` is what the CLI exits with.
    """

    exit_code: int = EXIT_ENGINE
    #: The Engine API's HTTP status for this class (errdefs.System: 500).
    status_code: int = 500

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NotFound(DockyardError):
    """An image, container, layer or blob does not exist (errdefs.NotFound: 404)."""

    status_code = 404


class Conflict(DockyardError):
    """The operation conflicts with current state (name in use, image in use, ...;
    errdefs.Conflict: 409)."""

    status_code = 409


class InvalidArgument(DockyardError):
    """A flag, reference, file or value given by the user is malformed
    (errdefs.InvalidParameter: 400)."""

    status_code = 400


#: The Engine API's name for :class:`InvalidArgument`.
InvalidParameter = InvalidArgument


class NotModified(DockyardError):
    """The object is already in the state asked for (``start`` of a running container,
    ``stop`` of a stopped one; errdefs.NotModified: 304). The CLI treats it as success."""

    status_code = 304


class DiskFull(DockyardError):
    """A file or the state database could not be written: its filesystem is full."""


class RuntimeFailure(DockyardError):
    """The OCI runtime could not create or start the container process.

    ``exit_code`` is 126 (cannot invoke), 127 (not found) or 125 (anything else); the
    first two are the caller's bad configuration (moby's startInvalidConfigError: 400).
    """

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message, exit_code)
        if self.exit_code in (EXIT_CANNOT_INVOKE, EXIT_NOT_FOUND):
            self.status_code = 400
