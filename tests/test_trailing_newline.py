"""A trailing newline must not pass a validation pattern (``$`` matches before one)."""

from __future__ import annotations

import pytest

from dockyard import reference
from dockyard.container.names import validate_name
from dockyard.errors import DockyardError


@pytest.mark.parametrize(
    "check",
    [
        lambda: validate_name("web\n"),
        lambda: reference.parse("busybox\n"),
        lambda: reference.parse("busybox:latest\n"),
    ],
    ids=["container-name", "reference", "tag"],
)
def test_trailing_newline_refused(check) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DockyardError):
        check()
