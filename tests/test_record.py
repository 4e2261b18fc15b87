"""dockyard.record's dataclass, field and replace (the build's modules use them instead of
the dataclasses module's, bench/README.md): what those modules rely on behaves as with
dataclasses, checked side by side."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from dockyard import record


def _classes(dc: Any, fld: Any) -> tuple[type, type, type]:
    """The same three classes declared with ``dc``/``fld`` (a module's dataclass/field)."""

    @dc(kw_only=True, repr=False, eq=False)
    class Base:
        name: str
        original: str = ""
        items: list[str] = fld(default_factory=list)

    @dc(kw_only=True, repr=False, eq=False)
    class Child(Base):
        extra: int = 3

    @dc
    class Plain:
        a: int
        b: dict[str, int] = fld(default_factory=dict)
        c: int = fld(init=False)

        def __post_init__(self) -> None:
            self.c = self.a * 2

    return Base, Child, Plain


@pytest.mark.parametrize("module", [dataclasses, record])
def test_same_behaviour_as_dataclasses(module: Any) -> None:
    base, child, plain = _classes(module.dataclass, module.field)
    one = child(name="n", extra=5)
    two = child(name="n")
    assert (one.name, one.original, one.items, one.extra) == ("n", "", [], 5)
    assert one.items is not two.items  # a fresh list per instance
    assert two.extra == 3 and one != two and one == one  # eq=False: identity
    with pytest.raises(TypeError):
        child("n")  # keyword-only
    with pytest.raises(TypeError):
        child(extra=1)  # name is required
    with pytest.raises(TypeError):
        base(name="n", bogus=1)
    p = plain(1)
    assert (p.a, p.b, p.c) == (1, {}, 2)
    assert plain(1, {"x": 1}).b == {"x": 1}
    assert plain(1) == plain(1) and plain(1) != plain(2)
    assert repr(plain(1)).endswith("Plain(a=1, b={}, c=2)")
    with pytest.raises(TypeError):
        plain(1, {}, 3)  # c is not an __init__ argument
    with pytest.raises(TypeError):
        hash(plain(1))
    copy = module.replace(one, extra=9)
    assert (copy.name, copy.extra, type(copy)) == ("n", 9, child)
    assert one.extra == 5
    with pytest.raises(TypeError):
        module.replace(one, bogus=1)
