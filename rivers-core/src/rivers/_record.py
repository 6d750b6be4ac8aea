"""``Record``: the base of rivers' small immutable value classes.

A subclass lists its fields as annotated class attributes, in order; an
attribute's value is the field's default, and :func:`factory` gives a fresh
mutable default per instance::

    class RunRecord(Record):
        run_id: str
        status: str = "Started"
        tags: list[tuple[str, str]] = factory(list)

Instances take the fields positionally or by keyword, are frozen, compare
and hash by their fields, and repr as ``RunRecord(run_id='...', ...)``.
:meth:`Record.evolve` copies with changes; :meth:`Record._prepare` is the
hook that converts or validates the values before they are stored.

Why not ``attrs`` or ``dataclasses``: both generate and compile Python
source for every class they decorate, which costs about 2 ms per class on a
small machine, and ``attrs`` itself takes 30-60 ms to import. The records of
the run path (storage records, plugin registry, observer events, project
config) are all needed by the first run of every process, so they cost no
more than an ordinary class here. Records off that path use ``attrs``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, ClassVar, TypeVar, cast

if TYPE_CHECKING:
    from typing import Self

__all__ = ["FrozenRecordError", "Record", "factory"]

_R = TypeVar("_R", bound="Record")
_T = TypeVar("_T")


class FrozenRecordError(AttributeError):
    """Raised on an attempt to change a field of a :class:`Record`."""


class _Factory:
    """A default computed per instance (see :func:`factory`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make

    def __repr__(self) -> str:
        return f"factory({getattr(self.make, '__name__', self.make)!r})"


def factory(make: Callable[[], _T]) -> _T:
    """A field default built by calling ``make()`` for each instance (``factory(list)``).

    Typed as returning what ``make`` returns, so that ``tags: list[str] = factory(list)`` type-checks; the
    value is a marker that :class:`Record` reads when the class is created.
    """
    return cast("_T", _Factory(make))


_MISSING = object()


_CLASS_VAR_PREFIXES: tuple[str, ...] = ("ClassVar", "typing.ClassVar")


def _is_class_var(annotation: object) -> bool:
    text = annotation if type(annotation) is str else getattr(annotation, "__name__", "")
    return isinstance(text, str) and text.startswith(_CLASS_VAR_PREFIXES)


class Record:
    """Immutable value with named fields; see the module documentation."""

    #: Field names in declaration order (base classes first).
    _fields: ClassVar[tuple[str, ...]] = ()
    #: Defaults by field name (a ``_Factory`` for per-instance defaults).
    _defaults: ClassVar[dict[str, Any]] = {}
    #: Plain defaults and per-instance default makers, split from ``_defaults`` for ``__init__``.
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _static_defaults: ClassVar[dict[str, Any]] = {}
    _factories: ClassVar[dict[str, Callable[[], Any]]] = {}
    #: Fields left out of ``repr()``.
    _hidden: ClassVar[frozenset[str]] = frozenset()
    #: Whether the class overrides :meth:`_prepare` (the constructor skips the call otherwise).
    _prepares: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = list(cls._fields)
        defaults = dict(cls._defaults)
        for name, annotation in cls.__dict__.get("__annotations__", {}).items():
            if name.startswith("_") or _is_class_var(annotation):
                continue
            if name not in fields:
                fields.append(name)
            value = cls.__dict__.get(name, _MISSING)
            if value is _MISSING:
                defaults.pop(name, None)
            else:
                defaults[name] = value
        seen_default = False
        for name in fields:
            if name in defaults:
                seen_default = True
            elif seen_default:
                raise TypeError(f"{cls.__name__}: field {name!r} without a default follows one with a default")
        cls._fields = tuple(fields)
        cls._defaults = defaults
        cls._field_set = frozenset(fields)
        cls._static_defaults = {name: value for name, value in defaults.items() if type(value) is not _Factory}
        cls._factories = {name: value.make for name, value in defaults.items() if type(value) is _Factory}
        cls._prepares = cls._prepare is not Record._prepare

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        fields = self._fields
        if not kwargs.keys() <= self._field_set:
            self._bad_arguments(args, kwargs)
        if args:
            if len(args) > len(fields) or kwargs.keys() & set(fields[: len(args)]):
                self._bad_arguments(args, kwargs)
            values = {**self._static_defaults, **dict(zip(fields, args)), **kwargs}
        elif len(kwargs) == len(fields):
            values = kwargs  # every field by keyword (the run path's records): no defaults to merge
        else:
            values = {**self._static_defaults, **kwargs}
        if len(values) != len(fields):
            for name, make in self._factories.items():
                if name not in values:
                    values[name] = make()
            if len(values) != len(fields):
                self._bad_arguments(args, kwargs)
        if self._prepares:
            self._prepare(values)
        self.__dict__.update(values)

    def _bad_arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        """Raise the TypeError a function with this record's fields would raise for these arguments."""
        name, fields = type(self).__name__, self._fields
        if len(args) > len(fields):
            raise TypeError(f"{name}() takes {len(fields)} arguments, got {len(args)}")
        for field in fields[: len(args)]:
            if field in kwargs:
                raise TypeError(f"{name}() got multiple values for {field!r}")
        for keyword in kwargs:
            if keyword not in fields:
                raise TypeError(f"{name}() got an unexpected keyword argument {keyword!r}")
        given = set(fields[: len(args)]) | kwargs.keys()
        missing = [field for field in fields if field not in given and field not in self._defaults]
        raise TypeError(f"{name}() missing required argument {missing[0]!r}")

    def _prepare(self, values: dict[str, Any]) -> None:
        """Convert or validate ``values`` (every field, by name) in place; raise to reject them."""

    def __setattr__(self, name: str, value: Any) -> None:
        raise FrozenRecordError(f"{type(self).__name__} is immutable: cannot set {name!r} (use .evolve())")

    def __delattr__(self, name: str) -> None:
        raise FrozenRecordError(f"{type(self).__name__} is immutable: cannot delete {name!r}")

    @classmethod
    def from_fields(cls: type[_R], *values: Any) -> _R:
        """An instance with every field given positionally, taken as they are.

        No defaults, conversion or ``_prepare``: for values that came out of
        an instance before (rows read back from storage), where the checks of
        the constructor already ran once; about a third of its cost.
        """
        if len(values) != len(cls._fields):
            raise TypeError(f"{cls.__name__}.from_fields() takes {len(cls._fields)} values, got {len(values)}")
        record = object.__new__(cls)
        record.__dict__.update(zip(cls._fields, values))
        return record

    def evolve(self, **changes: Any) -> Self:
        """A copy with the fields in ``changes`` replaced."""
        return type(self)(**{**self.as_dict(), **changes})

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dict, in declaration order (values are not copied)."""
        return {name: self.__dict__[name] for name in self._fields}

    def to_plain(self) -> dict[str, Any]:
        """The fields as JSON-ready data: nested records become dicts, tuples lists, dicts copies."""
        return {name: _plain(self.__dict__[name]) for name in self._fields}

    def _key(self) -> tuple[Any, ...]:
        return tuple(self.__dict__[name] for name in self._fields)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._key() == other._key()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.__class__, self._key()))

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={self.__dict__[name]!r}" for name in self._fields if name not in self._hidden)
        return f"{type(self).__name__}({shown})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.as_dict()))


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_plain()
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _rebuild(cls: type[Record], values: dict[str, Any]) -> Record:
    """Unpickle a record without running ``_prepare`` again (its values were prepared)."""
    record = cls.__new__(cls)
    record.__dict__.update(values)
    return record
