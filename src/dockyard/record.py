"""A plain record class: equality and repr over its fields, as a dataclass gives, without
importing ``dataclasses`` (and ``inspect``) on the listing path (issue 16)."""

from __future__ import annotations


class Record:
    """Base of plain record classes. A subclass names its attributes in ``_FIELDS`` (a
    tuple of str) and sets them in ``__init__``; instances compare equal field by field,
    are unhashable (mutable, as a dataclass's) and print as ``Name(field=value, ...)``."""

    _FIELDS: tuple[str, ...] = ()

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, f) == getattr(other, f) for f in self._FIELDS)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        fields = ", ".join(f"{f}={getattr(self, f)!r}" for f in self._FIELDS)
        return f"{type(self).__name__}({fields})"
