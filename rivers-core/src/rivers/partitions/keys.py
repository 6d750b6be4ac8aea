"""Partition keys: what a run or a step targets.

``PartitionKey`` is a tagged union: ``PartitionKey.Single`` (one dimension,
one or several values), ``PartitionKey.Multi`` (named dimensions) and
``PartitionKey.Set`` (a bundle of member keys). Keys are immutable values:
equal keys hash alike, a key is never equal to a ``str``, and keys are not
orderable. ``str(key)`` is the canonical display form that storage records;
:func:`parse_display` turns it back into a key.

Keys are cheap to build (the engine builds one per run and the definitions
build one per enumerated partition): internal code uses :func:`single_key`,
which skips the argument checks of the public factories.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar, Iterable, TypeAlias, Union

from rivers.exceptions import PartitionDefinitionError, PartitionValidationError

__all__ = [
    "KEY_RESERVED",
    "PartitionKeyLike",
    "DIMENSION_RESERVED",
    "PartitionKey",
    "as_partition_key",
    "multi_key_from_sorted",
    "parse_display",
    "quoted",
    "reserved_character",
    "single_key",
    "single_key_of_values",
    "single_values",
    "from_stored_text",
]

#: Leads the stored text of a single key containing ``=``, which would read back as a multi key.
#: Neither display form can start with it: single values and dimension names are non-empty and comma-free.
_SINGLE_MARK = ","
#: Characters a key value may not contain (they separate values and dimensions).
KEY_RESERVED = ("|", ",")
#: Characters a multi dimension name may not contain.
DIMENSION_RESERVED = ("|", ",", "=")

_new = object.__new__


def reserved_character(text: str, reserved: tuple[str, ...] = KEY_RESERVED) -> str | None:
    """The first reserved character found in ``text``, or None."""
    for char in reserved:
        if char in text:
            return char
    return None


def quoted(text: str) -> str:
    """A string in double quotes, as the reprs of the spec show them."""
    return json.dumps(text, ensure_ascii=False)


def _value_list(value: Any, what: str) -> tuple[str, ...]:
    """A str or a list of str as a sorted tuple (duplicates kept)."""
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        if not value:
            raise PartitionDefinitionError(f"{what} must not be empty; give at least one value, e.g. [\"a\"]")
        for item in value:
            if not isinstance(item, str):
                raise TypeError(f"{what} values must be str, got {type(item).__name__} ({item!r})")
        return tuple(sorted(value))
    raise TypeError(f"{what} must be a str or a list of str, got {type(value).__name__}")


class PartitionKey:
    """A partition key (tagged union; build one with :meth:`single` or :meth:`multi`).

    Every variant offers ``members()``, ``single_value()``, ``path_suffix()``,
    ``dimension_values(dim)``, ``to_json()`` and the display form ``str(key)``.
    """

    __slots__ = ()

    Single: ClassVar[type[SingleKey]]
    Multi: ClassVar[type[MultiKey]]
    Set: ClassVar[type[KeySet]]

    def __new__(cls, *args: Any, **kwargs: Any) -> PartitionKey:
        if cls is PartitionKey:
            raise TypeError("cannot create 'PartitionKey' instances; use PartitionKey.single() or PartitionKey.multi()")
        return _new(cls)

    # -- factories ---------------------------------------------------------

    @staticmethod
    def single(key: str | list[str]) -> SingleKey:
        """A one-dimension key; several values target all of them in one run.

        Values are sorted and duplicates kept; ``[]`` raises
        :class:`PartitionDefinitionError`.
        """
        if type(key) is str:
            return single_key(key)
        return SingleKey(key)

    @staticmethod
    def multi(keys: Mapping[str, str | list[str]]) -> MultiKey:
        """A key with one value (or several) per named dimension."""
        return MultiKey(keys)

    @staticmethod
    def from_json(text: str) -> PartitionKey:
        """The key encoded by :meth:`to_json`."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise PartitionDefinitionError(f"invalid partition key JSON: {exc}; got {text!r}") from None
        return _from_data(data, text)

    @staticmethod
    def parse_display(text: str, *, multi: bool | None = None) -> PartitionKey:
        """The key whose display form (``str(key)``) is ``text``; see :func:`parse_display`."""
        return parse_display(text, multi=multi)

    def stored_text(self) -> str:
        """The text storage keeps for this key: its display string, unambiguous.

        A single key whose value contains ``=`` (``"a=b"``, valid in a static
        definition) displays like a one-dimension multi key, so its stored
        text is the display string with a leading ``,``. Read back with
        :func:`from_stored_text`.
        """
        return str(self)

    # -- engine helpers (overridden by the variants) ----------------------

    def members(self) -> list[PartitionKey]:
        """The single-valued member keys, deduplicated and sorted by display string."""
        raise NotImplementedError

    def single_value(self) -> str | None:
        """The value of a one-value ``Single`` key, else None."""
        return None

    def path_suffix(self) -> str:
        """A path-like rendering used by IO handlers (``a/b``, ``d=x/r=us|eu``)."""
        raise NotImplementedError

    def dimension_values(self, dimension: str) -> list[str]:
        """The values of ``dimension`` of a ``Multi`` key."""
        raise PartitionValidationError(
            f"partition key {self} has no dimension {dimension!r}: only PartitionKey.multi keys have dimensions"
        )

    def to_json(self) -> str:
        """Compact JSON: ``{"single":["a"]}``, ``{"multi":{...}}``, ``{"set":[...]}``."""
        return json.dumps(self._data(), separators=(",", ":"), ensure_ascii=False)

    def _data(self) -> Any:
        raise NotImplementedError

    def __lt__(self, other: object) -> bool:
        raise TypeError("partition keys are not orderable; sort by str(key) if you need an order")

    __gt__ = __le__ = __ge__ = __lt__


class SingleKey(PartitionKey):
    """One dimension; ``key`` lists the values (sorted).

    Internally ``_v`` is the value itself for a one-value key (the common,
    hot case) and a sorted tuple of two or more values otherwise. The value
    may be a ``str`` subclass (a ``StrEnum`` member), so the two are told
    apart with ``isinstance``, not ``type(value) is str``.
    """

    __slots__ = ("_v",)
    _v: str | tuple[str, ...]

    def __init__(self, key: str | list[str]) -> None:
        values = _value_list(key, "partition key list")
        self._v = values[0] if len(values) == 1 else values

    @property
    def key(self) -> list[str]:
        """The values of this key, sorted."""
        value = self._v
        return [value] if isinstance(value, str) else list(value)

    @property
    def values(self) -> tuple[str, ...]:
        """The values of this key as a tuple, sorted."""
        value = self._v
        return (value,) if isinstance(value, str) else value

    def members(self) -> list[PartitionKey]:
        value = self._v
        if isinstance(value, str):
            return [self]
        return [single_key(item) for item in sorted(set(value))]

    def single_value(self) -> str | None:
        value = self._v
        return value if isinstance(value, str) else None

    def path_suffix(self) -> str:
        value = self._v
        return value if isinstance(value, str) else "/".join(value)

    def _data(self) -> Any:
        return {"single": self.key}

    def __str__(self) -> str:
        value = self._v
        return value if isinstance(value, str) else ",".join(value)

    def stored_text(self) -> str:
        text = str(self)
        return _SINGLE_MARK + text if "=" in text else text

    def __repr__(self) -> str:
        value = self._v
        if isinstance(value, str):
            return f"PartitionKey({quoted(value)})"
        return "PartitionKey([" + ", ".join(map(quoted, value)) + "])"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SingleKey):
            return self._v == other._v
        return NotImplemented if not isinstance(other, PartitionKey) else False

    def __hash__(self) -> int:
        return hash(self._v)


class MultiKey(PartitionKey):
    """Several named dimensions; ``keys`` maps each (sorted) dimension to its sorted values."""

    __slots__ = ("_dims",)
    _dims: tuple[tuple[str, tuple[str, ...]], ...]

    def __init__(self, keys: Mapping[str, str | list[str]]) -> None:
        if not isinstance(keys, Mapping):
            raise TypeError(f"PartitionKey.multi expects a dict of dimension -> value(s), got {type(keys).__name__}")
        if not keys:
            raise PartitionDefinitionError(
                "PartitionKey dict must have at least one dimension, e.g. {\"date\": \"2024-01-01\"}"
            )
        dims = []
        for name, value in keys.items():
            if not isinstance(name, str):
                raise TypeError(f"PartitionKey.multi dimension names must be str, got {type(name).__name__}")
            dims.append((name, _value_list(value, f"partition key list for dimension {name!r}")))
        dims.sort()
        self._dims = tuple(dims)

    @property
    def keys(self) -> dict[str, list[str]]:
        """Dimension -> sorted values, dimensions sorted by name."""
        return {name: list(values) for name, values in self._dims}

    @property
    def dims(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """``(dimension, sorted values)`` pairs sorted by dimension (the key's own tuple, not a copy)."""
        return self._dims

    @property
    def dimension_names(self) -> list[str]:
        """The dimension names, sorted."""
        return [name for name, _ in self._dims]

    def members(self) -> list[PartitionKey]:
        if all(len(values) == 1 for _, values in self._dims):
            return [self]
        names = [name for name, _ in self._dims]
        choices = [sorted(set(values)) for _, values in self._dims]
        keys: list[PartitionKey] = [multi_key_from_sorted(tuple(zip(names, ((v,) for v in combo))))
                                    for combo in itertools.product(*choices)]
        keys.sort(key=str)
        return keys

    def dimension_values(self, dimension: str) -> list[str]:
        for name, values in self._dims:
            if name == dimension:
                return list(values)
        existing = ", ".join(name for name, _ in self._dims)
        raise PartitionValidationError(
            f"partition key {self} has no dimension {dimension!r}; its dimensions are: {existing}"
        )

    def path_suffix(self) -> str:
        return "/".join(f"{name}={'|'.join(values)}" for name, values in self._dims)

    def _data(self) -> Any:
        return {"multi": {name: list(values) for name, values in self._dims}}

    def __str__(self) -> str:
        return "|".join(f"{name}={','.join(values)}" for name, values in self._dims)

    def __repr__(self) -> str:
        parts = []
        for name, values in self._dims:
            shown = quoted(values[0]) if len(values) == 1 else "[" + ", ".join(map(quoted, values)) + "]"
            parts.append(f"{quoted(name)}: {shown}")
        return "PartitionKey({" + ", ".join(parts) + "})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MultiKey):
            return self._dims == other._dims
        return NotImplemented if not isinstance(other, PartitionKey) else False

    def __hash__(self) -> int:
        return hash(self._dims)


class KeySet(PartitionKey):
    """A bundle of member keys (batched runs, ``from_json``); ``keys`` lists them."""

    __slots__ = ("_members",)
    _members: tuple[PartitionKey, ...]

    def __init__(self, keys: Iterable[PartitionKey]) -> None:
        members = tuple(keys)
        if not members:
            raise PartitionDefinitionError("PartitionKey.Set must have at least one member key")
        for member in members:
            if not isinstance(member, PartitionKey):
                raise TypeError(f"PartitionKey.Set members must be PartitionKey objects, got {type(member).__name__}")
        self._members = members

    @property
    def keys(self) -> list[PartitionKey]:
        """The member keys, in the order given."""
        return list(self._members)

    def members(self) -> list[PartitionKey]:
        unique = dict.fromkeys(member for key in self._members for member in key.members())
        return sorted(unique, key=str)

    def path_suffix(self) -> str:
        return "+".join(member.path_suffix() for member in self._members)

    def _data(self) -> Any:
        return {"set": [member._data() for member in self._members]}

    def __str__(self) -> str:
        return ", ".join(map(str, self._members))

    def __repr__(self) -> str:
        return "PartitionKey.Set([" + ", ".join(map(repr, self._members)) + "])"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, KeySet):
            return self._members == other._members
        return NotImplemented if not isinstance(other, PartitionKey) else False

    def __hash__(self) -> int:
        return hash(("set", self._members))


for _variant, _name in ((SingleKey, "Single"), (MultiKey, "Multi"), (KeySet, "Set")):
    _variant.__qualname__ = f"PartitionKey.{_name}"
    setattr(PartitionKey, _name, _variant)


def single_key(value: str) -> SingleKey:
    """A one-value ``Single`` key, built without argument checks (hot path)."""
    key = _new(SingleKey)
    key._v = value
    return key


def single_key_of_values(values: tuple[str, ...]) -> SingleKey:
    """A ``Single`` key from an already sorted, non-empty tuple of values (hot path)."""
    key = _new(SingleKey)
    key._v = values[0] if len(values) == 1 else values
    return key


def single_values(key: Any) -> tuple[str, ...] | None:
    """The values a single-dimension definition must accept for ``key``.

    A ``str`` is one value, a ``Single`` key its values, a ``Set`` the values
    of its members; None when ``key`` (or a member) is not single-dimensional.
    """
    kind = type(key)
    if kind is SingleKey:
        value = key._v
        return (value,) if isinstance(value, str) else value
    if kind is str:
        return (key,)
    if kind is KeySet:
        values: list[str] = []
        for member in key._members:
            member_values = single_values(member)
            if member_values is None:
                return None
            values.extend(member_values)
        return tuple(values)
    return None


def multi_key_from_sorted(dims: tuple[tuple[str, tuple[str, ...]], ...]) -> MultiKey:
    """A ``Multi`` key from ``(dimension, values)`` pairs already sorted by dimension, values sorted (hot path)."""
    key = _new(MultiKey)
    key._dims = dims
    return key


def multi_key_from_values(dims: Iterable[tuple[str, str]]) -> MultiKey:
    """A ``Multi`` key with one value per dimension, from unsorted ``(dimension, value)`` pairs."""
    return multi_key_from_sorted(tuple(sorted((name, (value,)) for name, value in dims)))


def _empty_part(tag: str, body: Any) -> str | None:
    """What is empty in the JSON body of a ``tag`` key (None when nothing is)."""
    if tag == "single" and body == []:
        return 'a "single" partition key needs at least one value, got an empty list'
    if tag == "set" and body == []:
        return 'a "set" partition key needs at least one member key, got an empty list'
    if tag == "multi" and isinstance(body, dict):
        if not body:
            return 'a "multi" partition key needs at least one dimension, got {}'
        for name, values in body.items():
            if values == []:
                return f'a "multi" partition key needs at least one value in dimension {name!r}, got an empty list'
    return None


def _from_data(data: Any, text: str) -> PartitionKey:
    def bad(detail: str) -> PartitionDefinitionError:
        return PartitionDefinitionError(
            f"invalid partition key JSON: {detail}; expected {{\"single\": [...]}}, "
            f"{{\"multi\": {{...}}}} or {{\"set\": [...]}}, got {text!r}"
        )

    if not isinstance(data, dict) or len(data) != 1:
        raise bad("expected an object with exactly one of 'single', 'multi', 'set'")
    (tag, body), = data.items()
    empty = _empty_part(tag, body)
    if empty is not None:
        raise bad(empty)
    try:
        if tag == "single" and isinstance(body, list):
            return SingleKey(body)
        if tag == "multi" and isinstance(body, dict):
            return MultiKey(body)
        if tag == "set" and isinstance(body, list):
            return KeySet(_from_data(item, text) for item in body)
    except (TypeError, PartitionDefinitionError) as exc:
        raise bad(str(exc)) from None
    raise bad(f"unexpected {tag!r} entry")


@lru_cache(maxsize=65536)
def parse_display(text: str, *, multi: bool | None = None) -> PartitionKey:
    """The key whose display form is ``text`` (the inverse of ``str(key)``).

    ``"a"`` and ``"a,b"`` are ``Single`` keys; ``"d=x|r=us,eu"`` is a ``Multi``
    key. A value may contain ``=``, so ``"a=b"`` is ambiguous: pass
    ``multi=True``/``False`` when the definition is known; without it, text
    containing ``=`` is read as a ``Multi`` key. Results are cached.
    """
    if not isinstance(text, str):
        raise TypeError(f"parse_display expects a str, got {type(text).__name__}")
    if multi is None:
        multi = "=" in text
    if not multi:
        return SingleKey(text.split(","))
    dims: dict[str, list[str]] = {}
    for segment in text.split("|"):
        name, sep, values = segment.partition("=")
        if not sep or not name or name in dims:
            raise PartitionDefinitionError(
                f"cannot parse {text!r} as a multi-dimensional partition key: expected 'dim=value|dim2=value' "
                "with distinct, non-empty dimension names"
            )
        dims[name] = values.split(",")
    return MultiKey(dims)


def from_stored_text(text: str) -> PartitionKey:
    """The key whose stored text is ``text`` (inverse of ``PartitionKey.stored_text``; plain display strings too)."""
    if text.startswith(_SINGLE_MARK):
        return parse_display(text[1:], multi=False)
    return parse_display(text)


def as_partition_key(value: Any) -> PartitionKey:
    """``value`` as a key: keys pass through, a ``str`` is a single key, a mapping a multi key."""
    if isinstance(value, PartitionKey):
        return value
    if isinstance(value, str):
        return single_key(value)
    if isinstance(value, Mapping):
        return MultiKey(value)
    raise TypeError(
        f"expected a partition key, got {type(value).__name__}; pass a PartitionKey, a str "
        "(single key) or a dict of dimension -> value (multi key)"
    )


#: What the run APIs take as a partition key: a :class:`PartitionKey`, a ``str`` (a single key) or a mapping
#: ``dimension -> value(s)`` (a multi key); :func:`as_partition_key` turns each into a key.
PartitionKeyLike: TypeAlias = Union[PartitionKey, str, Mapping[str, "str | list[str]"]]
