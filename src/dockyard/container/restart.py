"""Restart policies: ``--restart no|always|on-failure[:N]|unless-stopped`` and Docker's
back-off (moby ``restartmanager``: 100 ms doubling up to one minute, back to 100 ms once
the container ran 10 seconds)."""

from __future__ import annotations

from dockyard.errors import InvalidArgument
from dockyard.record import Record

TYPE_CHECKING = False  # typing only for the type checker (start-up cost: bench/README.md)
if TYPE_CHECKING:
    from typing import Any

POLICIES = ("no", "always", "on-failure", "unless-stopped")
DEFAULT_DELAY = 0.1
MAX_DELAY = 60.0
RESET_AFTER = 10.0


def validate_restart_policy(policy: dict[str, Any]) -> None:
    """The engine-side check of a RestartPolicy (moby ``ValidateRestartPolicy``).

    Raises InvalidArgument with Docker's ``invalid restart policy: ...`` messages.
    """
    name, retries = policy["Name"], policy["MaximumRetryCount"]
    if name in ("always", "unless-stopped", "no"):
        if retries != 0:
            msg = "invalid restart policy: maximum retry count can only be used with 'on-failure'"
            if retries < 0:
                msg += " and cannot be negative"
            raise InvalidArgument(msg)
    elif name == "on-failure":
        if retries < 0:
            raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    elif name:
        raise InvalidArgument(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"
        )


def is_none(policy: dict[str, Any] | None) -> bool:
    """Whether ``policy`` never restarts (``no`` or empty)."""
    return not policy or policy.get("Name") in ("", "no")


# A plain class, not a dataclass: the dataclasses module (with inspect) cost every run
# about 10 ms of CPU (bench/README.md).
class RestartManager(Record):
    """Decides, after each exit, whether and when to start the container again.

    ``policy`` is HostConfig.RestartPolicy; ``restart_count`` is the number of restarts
    so far (State.RestartCount).
    """

    policy: dict[str, Any]
    restart_count: int
    delay: float

    _FIELDS = ("policy", "restart_count", "delay")

    def __init__(
        self,
        policy: dict[str, Any],
        restart_count: int = 0,
        delay: float = 0.0,
    ) -> None:
        self.policy = policy
        self.restart_count = restart_count
        self.delay = delay

    def should_restart(self, exit_code: int, stopped_by_user: bool, ran_for: float) -> float | None:
        """The delay in seconds before the next start, or None for no restart.

        ``ran_for`` is how long the last run lasted in seconds. A container stopped by the
        user is never restarted (Docker cancels its restart manager on stop and kill).
        """
        if is_none(self.policy) or stopped_by_user:
            return None
        if ran_for >= RESET_AFTER:
            self.delay = 0.0
        self.delay = DEFAULT_DELAY if self.delay == 0 else min(self.delay * 2, MAX_DELAY)
        name, limit = self.policy["Name"], self.policy.get("MaximumRetryCount") or 0
        if name in ("always", "unless-stopped"):
            restart = True
        else:  # on-failure
            restart = exit_code != 0 and (limit == 0 or self.restart_count < limit)
        if not restart:
            return None
        self.restart_count += 1
        return self.delay
