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


# -- dataclass, field and replace without the dataclasses module ----------------------
#
# ``import dataclasses`` brings ``inspect`` (with ast, dis, tokenize) and each class it
# makes compiles generated methods: together about a tenth of a cached ``build``'s CPU
# (bench/README.md, "Build-latency benchmark"). The build's modules use these instead,
# with the same spelling; type checkers see the real ones.

TYPE_CHECKING = False
if TYPE_CHECKING:
    from dataclasses import dataclass, field, replace
else:
    _MISSING = object()

    class _Field:
        """What ``field()`` returns in a class body: its default or factory, and
        whether ``__init__`` takes it."""

        __slots__ = ("default", "factory", "init")

        def __init__(self, default: object, factory: object, init: bool) -> None:
            self.default, self.factory, self.init = default, factory, init

    def field(*, default=_MISSING, default_factory=_MISSING, init=True):
        """``dataclasses.field`` with ``default``, ``default_factory`` and ``init``."""
        return _Field(default, default_factory, init)

    def dataclass(cls=None, /, *, kw_only=False, repr=True, eq=True):  # noqa: A002
        """``dataclasses.dataclass`` with ``kw_only``, ``repr`` and ``eq``: an
        ``__init__`` taking the fields (positionally too unless ``kw_only``), then
        calling ``__post_init__`` if the class has one; field-wise ``__eq__`` (and no
        hash) and ``__repr__``. Fields are read from the class's annotations, after
        those of the dataclasses it derives from."""

        def wrap(cls):
            fields = {}  # name -> (default, factory, init, kw_only)
            for base in reversed(cls.__mro__[1:]):
                fields.update(base.__dict__.get("_record_fields", {}))
            for name, annotation in cls.__dict__.get("__annotations__", {}).items():
                if str(annotation).startswith(("ClassVar", "typing.ClassVar")):
                    continue
                value = cls.__dict__.get(name, _MISSING)
                if isinstance(value, _Field):
                    spec = (value.default, value.factory, value.init, kw_only)
                    if value.default is _MISSING:
                        delattr(cls, name)
                    else:
                        setattr(cls, name, value.default)
                else:
                    spec = (value, _MISSING, True, kw_only)
                fields[name] = spec
            cls._record_fields = fields
            _add_methods(cls, fields, repr, eq)
            return cls

        return wrap if cls is None else wrap(cls)

    def _add_methods(cls, fields, with_repr, with_eq):
        names = tuple(fields)
        positional = tuple(n for n, f in fields.items() if f[2] and not f[3])
        post_init = getattr(cls, "__post_init__", None) is not None

        def __init__(self, *args, **kwargs):
            if len(args) > len(positional):
                raise TypeError(f"{cls.__name__}() takes {len(positional)} positional arguments")
            given = dict(zip(positional, args, strict=False))
            for name, value in kwargs.items():
                if name in given or name not in fields or not fields[name][2]:
                    raise TypeError(f"{cls.__name__}() got an unexpected argument {name!r}")
                given[name] = value
            for name, (default, factory, init, _) in fields.items():
                if init and name in given:
                    value = given[name]
                elif factory is not _MISSING:
                    value = factory()
                elif default is not _MISSING:
                    value = default
                elif init:
                    raise TypeError(f"{cls.__name__}() missing argument {name!r}")
                else:
                    continue
                object.__setattr__(self, name, value)
            if post_init:
                self.__post_init__()

        cls.__init__ = __init__
        if with_eq:

            def __eq__(self, other):
                if other.__class__ is not self.__class__:
                    return NotImplemented
                return all(getattr(self, n) == getattr(other, n) for n in names)

            cls.__eq__ = __eq__
            cls.__hash__ = None
        if with_repr:

            def __repr__(self):
                shown = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
                return f"{cls.__qualname__}({shown})"

            cls.__repr__ = __repr__

    def replace(obj, /, **changes):
        """``dataclasses.replace`` of a record without ``__post_init__``: a shallow copy
        with ``changes`` applied."""
        fields = type(obj)._record_fields
        for name in changes:
            if name not in fields:
                raise TypeError(f"{type(obj).__name__} has no field {name!r}")
        new = object.__new__(type(obj))
        new.__dict__.update(obj.__dict__)
        new.__dict__.update(changes)
        return new
