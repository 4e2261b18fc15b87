"""Engine errors and the CLI exit codes they map to (Docker's conventions)."""

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

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class NotFound(DockyardError):
    """An image, container, layer or blob does not exist."""


class Conflict(DockyardError):
    """The operation conflicts with current state (name in use, image in use, ...)."""


class InvalidArgument(DockyardError):
    """A flag, reference, file or value given by the user is malformed."""


class RuntimeFailure(DockyardError):
    """The OCI runtime could not create or start the container process.

    ``exit_code`` is 126 (cannot invoke), 127 (not found) or 125 (anything else).
    """
