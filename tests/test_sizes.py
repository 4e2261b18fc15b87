"""Sizes as docker/cli 28 parses them (go-units v0.5.0's RAMInBytes, vendored by the CLI):
the values and the reasons of its errors, each checked against the docker CLI 28 binary's
flag errors (``docker run -m VALUE``)."""

from __future__ import annotations

import pytest

from dockyard.errors import InvalidArgument
from dockyard.units import ram_in_bytes


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("512", 512),
        ("1.5", 1),
        ("64m", 64 << 20),
        ("64MiB", 64 << 20),
        ("2 GB", 2 << 30),
        ("1.5g", 3 << 29),
        ("7b", 7),
        ("1e3k", 1000 << 10),
        ("5KIB", 5 << 10),
    ],
)
def test_sizes(text: str, size: int) -> None:
    assert ram_in_bytes(text, "-m, --memory") == size


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "invalid size: ''"),
        ("lots", "invalid size: 'lots'"),
        ("-5", "invalid size: '-5'"),
        ("64x", "invalid suffix: 'x'"),
        ("5kbb", "invalid suffix: 'kbb'"),
        ("5Kx", "invalid suffix: 'kx'"),
        ("12abcd", "invalid suffix: 'abcd'"),
        ("1.2.3m", 'strconv.ParseFloat: parsing "1.2.3": invalid syntax'),
        (" 64m", 'strconv.ParseFloat: parsing " 64": invalid syntax'),
        ("1e400", 'strconv.ParseFloat: parsing "1e400": value out of range'),
    ],
)
def test_size_errors(text: str, why: str) -> None:
    with pytest.raises(InvalidArgument) as e:
        ram_in_bytes(text, "-m, --memory")
    assert str(e.value) == f'invalid argument "{text}" for "-m, --memory" flag: {why}'
