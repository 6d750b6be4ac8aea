"""Partition mappings: which upstream partitions a downstream partition reads.

A :class:`PartitionMapping` is attached to a dependency edge
(``AssetDef.input(name, partition_mapping=...)``). It is a tagged union: the
base class cannot be instantiated, the factories (``PartitionMapping.identity()``,
``.time_window(-1)``, ...) build the nested variants, which are used with
``isinstance`` (``PartitionMapping.TimeWindow``). Mappings are immutable values
(equality and hashing by value, picklable).

This module only models the mappings and their constructor errors; whether a
mapping fits an edge is checked by :mod:`rivers.partitions.mappings.checks` and
what it loads at run time is decided by
:mod:`rivers.partitions.mappings.resolution`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Sequence

from rivers.exceptions import PartitionValidationError
from rivers.partitions.keys import PartitionKey, quoted
from rivers.partitions.ranges import PartitionKeyRange

__all__ = ["PartitionMapping", "MAX_TIME_WINDOW_OFFSET"]

#: largest ``|offset|`` accepted by ``PartitionMapping.time_window``
MAX_TIME_WINDOW_OFFSET = 100_000


def _str_list(values: Any, what: str) -> list[str]:
    """``values`` as a list of str; a bare str or a non-str item is a TypeError."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{what} must be a list of str, got {type(values).__name__}")
    for value in values:
        if not isinstance(value, str):
            raise TypeError(f"{what} must be a list of str, got an item of type {type(value).__name__}: {value!r}")
    return list(values)


class PartitionMapping:
    """How a downstream partition key translates into the upstream keys to load.

    Build one with a factory::

        PartitionMapping.identity()                 # the same key (the default)
        PartitionMapping.time_window(-1)            # the previous window
        PartitionMapping.static_({"eu": "europe"})  # downstream key -> upstream key
        PartitionMapping.all_partitions()           # every upstream partition
        PartitionMapping.multi({"date": PartitionMapping.identity(),
                                "r": ("region", PartitionMapping.identity())})
        PartitionMapping.multi_to_single("date")
        PartitionMapping.specific_partitions(["a", "b"])
        PartitionMapping.for_keys([PartitionKey.single("2024-01-01")])
        PartitionMapping.subset()

    Variants are nested classes (``PartitionMapping.Identity``, ...); the
    base class itself cannot be instantiated.
    """

    __slots__ = ()

    Identity: ClassVar[type[PartitionMapping]]
    AllPartitions: ClassVar[type[PartitionMapping]]
    Static: ClassVar[type[PartitionMapping]]
    TimeWindow: ClassVar[type[PartitionMapping]]
    Multi: ClassVar[type[PartitionMapping]]
    MultiToSingle: ClassVar[type[PartitionMapping]]
    SpecificPartitions: ClassVar[type[PartitionMapping]]
    ForKeys: ClassVar[type[PartitionMapping]]
    Subset: ClassVar[type[PartitionMapping]]

    #: name of the factory building the variant (used in reprs and messages)
    factory: ClassVar[str] = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> PartitionMapping:
        if cls is PartitionMapping:
            raise TypeError(
                "cannot create 'PartitionMapping' instances: use a factory such as "
                "PartitionMapping.identity() or PartitionMapping.time_window(-1)"
            )
        return object.__new__(cls)

    # --- value semantics -------------------------------------------------

    def _args(self) -> tuple[Any, ...]:
        """The constructor arguments that rebuild this mapping (pickling, copying)."""
        return ()

    def _key(self) -> tuple[Any, ...]:
        """A hashable value identifying this mapping (equality and hashing)."""
        return self._args()

    def _repr_args(self) -> str:
        return ""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionMapping):
            return NotImplemented
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __repr__(self) -> str:
        return f"PartitionMapping.{self.factory}({self._repr_args()})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._args())

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__qualname__} is immutable; build a new mapping with a factory")

    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    # --- factories -------------------------------------------------------

    @staticmethod
    def identity() -> PartitionMapping:
        """Load the upstream partition with the same key (the default for compatible definitions)."""
        return Identity()

    @staticmethod
    def all_partitions() -> PartitionMapping:
        """Load every upstream partition (a dict keyed by PartitionKey), or the unpartitioned value."""
        return AllPartitions()

    @staticmethod
    def static_(mapping: Mapping[str, str]) -> PartitionMapping:
        """Translate downstream keys to upstream keys (``{downstream: upstream}``); unlisted keys pass through."""
        return Static(mapping)

    @staticmethod
    def time_window(offset: int) -> PartitionMapping:
        """Load the upstream window ``offset`` steps away on the upstream grid (``-1``: the previous one)."""
        return TimeWindow(offset)

    @staticmethod
    def multi(dimension_mappings: Mapping[str, PartitionMapping | tuple[str, PartitionMapping]]) -> PartitionMapping:
        """Map Multi partitions dimension by dimension.

        Keys are upstream dimension names; a value is either a mapping (applied
        to the downstream dimension of the same name) or a ``(downstream_dimension,
        mapping)`` tuple.
        """
        return Multi(dimension_mappings)

    @staticmethod
    def multi_to_single(dimension_name: str, partition_mapping: PartitionMapping | None = None) -> PartitionMapping:
        """Link one dimension of a Multi definition to a single-dimension definition on the other side.

        ``partition_mapping`` (default identity) is applied between that
        dimension and the single-dimension definition.
        """
        return MultiToSingle(dimension_name, partition_mapping)

    @staticmethod
    def specific_partitions(partition_keys: Sequence[str]) -> PartitionMapping:
        """An unpartitioned downstream loads exactly these upstream partitions."""
        return SpecificPartitions(partition_keys)

    @staticmethod
    def for_keys(selectors: Sequence[PartitionKey | PartitionKeyRange | str]) -> PartitionMapping:
        """Load an unpartitioned upstream only for the selected downstream keys (else the input is None)."""
        return ForKeys(selectors)

    @staticmethod
    def subset() -> PartitionMapping:
        """Load the same key when the upstream has it, else pass None (upstream keys ⊆ downstream keys)."""
        return Subset()


def _variant(cls: type[PartitionMapping]) -> type[PartitionMapping]:
    """Register ``cls`` as the nested variant ``PartitionMapping.<name>`` (importable for pickle)."""
    cls.__qualname__ = f"PartitionMapping.{cls.__name__}"
    setattr(PartitionMapping, cls.__name__, cls)
    return cls


@_variant
class Identity(PartitionMapping):
    """The downstream key itself."""

    __slots__ = ()
    factory = "identity"


@_variant
class AllPartitions(PartitionMapping):
    """Every upstream partition."""

    __slots__ = ()
    factory = "all_partitions"


@_variant
class Subset(PartitionMapping):
    """The downstream key when the upstream has it, else None."""

    __slots__ = ()
    factory = "subset"


@_variant
class Static(PartitionMapping):
    """Explicit downstream key → upstream key translation (``mapping``)."""

    __slots__ = ("_mapping",)
    factory = "static_"
    _mapping: dict[str, str]

    def __init__(self, mapping: Mapping[str, str]) -> None:
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"static_ mapping must be a dict of downstream key to upstream key, got {type(mapping).__name__}"
            )
        for down, up in mapping.items():
            if not isinstance(down, str) or not isinstance(up, str):
                raise TypeError(
                    f"static_ mapping must map str keys to str keys, got {down!r}: {up!r}; "
                    "convert the keys with str()"
                )
        self._set("_mapping", dict(mapping))

    @property
    def mapping(self) -> dict[str, str]:
        """Downstream key → upstream key (a copy)."""
        return dict(self._mapping)

    def target(self, downstream_key: str) -> str:
        """The upstream key for ``downstream_key``; an unlisted key passes through unchanged."""
        return self._mapping.get(downstream_key, downstream_key)

    def _args(self) -> tuple[Any, ...]:
        return (dict(self._mapping),)

    def _key(self) -> tuple[Any, ...]:
        return (frozenset(self._mapping.items()),)

    def _repr_args(self) -> str:
        items = ", ".join(f"{quoted(down)}: {quoted(up)}" for down, up in self._mapping.items())
        return "{" + items + "}"


@_variant
class TimeWindow(PartitionMapping):
    """The upstream window ``offset`` steps away (``-1``: previous, ``0``: overlapping)."""

    __slots__ = ("offset",)
    factory = "time_window"
    offset: int

    def __init__(self, offset: int) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise TypeError(f"time_window offset must be an int, got {type(offset).__name__}: {offset!r}")
        if abs(offset) > MAX_TIME_WINDOW_OFFSET:
            raise PartitionValidationError(
                f"TimeWindow offset {offset} is out of range: use an offset between "
                f"-{MAX_TIME_WINDOW_OFFSET} and {MAX_TIME_WINDOW_OFFSET}"
            )
        self._set("offset", offset)

    def _args(self) -> tuple[Any, ...]:
        return (self.offset,)

    def _repr_args(self) -> str:
        return f"offset={self.offset}"


# Mappings that cannot appear inside another mapping, with the name used in messages.
_NOT_NESTABLE = ("Multi", "MultiToSingle", "ForKeys", "Subset")


def _nested_name(mapping: PartitionMapping) -> str | None:
    """The variant name when ``mapping`` may not be nested inside Multi / MultiToSingle."""
    name = type(mapping).__name__
    return name if name in _NOT_NESTABLE else None


@_variant
class Multi(PartitionMapping):
    """Per upstream dimension: ``(downstream_dimension, mapping)`` (``dimension_mappings``)."""

    __slots__ = ("_dims",)
    factory = "multi"
    _dims: dict[str, tuple[str, PartitionMapping]]

    def __init__(self, dimension_mappings: Mapping[str, PartitionMapping | tuple[str, PartitionMapping]]) -> None:
        if not isinstance(dimension_mappings, Mapping):
            raise TypeError(
                f"multi expects a dict of upstream dimension name to mapping, got {type(dimension_mappings).__name__}"
            )
        if not dimension_mappings:
            raise PartitionValidationError(
                "Multi partition mapping must have at least one dimension: map each upstream dimension, "
                'e.g. PartitionMapping.multi({"date": PartitionMapping.identity()})'
            )
        dims: dict[str, tuple[str, PartitionMapping]] = {}
        for upstream_dim, value in dimension_mappings.items():
            if not isinstance(upstream_dim, str):
                raise TypeError(f"Multi mapping dimension names must be str, got {upstream_dim!r}")
            dims[upstream_dim] = self._entry(upstream_dim, value)
        self._set("_dims", dims)

    @staticmethod
    def _entry(upstream_dim: str, value: Any) -> tuple[str, PartitionMapping]:
        if isinstance(value, PartitionMapping):
            downstream_dim, inner = upstream_dim, value
        elif (
            isinstance(value, tuple)
            and len(value) == 2
            and isinstance(value[0], str)
            and isinstance(value[1], PartitionMapping)
        ):
            downstream_dim, inner = value
        else:
            raise TypeError(
                "Multi mapping values must be PartitionMapping or (str, PartitionMapping) tuple, "
                f"got {value!r} for dimension '{upstream_dim}'"
            )
        nested = _nested_name(inner)
        if nested is not None:
            raise PartitionValidationError(
                f"Nested {nested} mappings are not allowed inside Multi (dimension '{upstream_dim}'): map the "
                "dimension with identity, time_window, static_, all_partitions or specific_partitions"
            )
        return downstream_dim, inner

    @property
    def dimension_mappings(self) -> dict[str, tuple[str, PartitionMapping]]:
        """Upstream dimension → ``(downstream_dimension, mapping)`` (a copy, declaration order)."""
        return dict(self._dims)

    def _args(self) -> tuple[Any, ...]:
        return (dict(self._dims),)

    def _key(self) -> tuple[Any, ...]:
        return (frozenset(self._dims.items()),)

    def _repr_args(self) -> str:
        items = []
        for upstream_dim, (downstream_dim, inner) in self._dims.items():
            shown = repr(inner) if downstream_dim == upstream_dim else f"({quoted(downstream_dim)}, {inner!r})"
            items.append(f"{quoted(upstream_dim)}: {shown}")
        return "{" + ", ".join(items) + "}"


@_variant
class MultiToSingle(PartitionMapping):
    """One dimension (``dimension_name``) of a Multi side against a single-dimension side."""

    __slots__ = ("dimension_name", "partition_mapping")
    factory = "multi_to_single"
    dimension_name: str
    partition_mapping: PartitionMapping

    def __init__(self, dimension_name: str, partition_mapping: PartitionMapping | None = None) -> None:
        if not isinstance(dimension_name, str):
            raise TypeError(f"multi_to_single dimension_name must be a str, got {type(dimension_name).__name__}")
        if not dimension_name:
            raise PartitionValidationError("multi_to_single dimension_name must not be empty: name a Multi dimension")
        if partition_mapping is None:
            partition_mapping = Identity()
        elif not isinstance(partition_mapping, PartitionMapping):
            raise TypeError(
                f"multi_to_single partition_mapping must be a PartitionMapping, got {type(partition_mapping).__name__}"
            )
        nested = _nested_name(partition_mapping)
        if nested is not None:
            raise PartitionValidationError(
                f"MultiToSingle partition_mapping cannot be {nested}: use identity, time_window, static_, "
                "all_partitions or specific_partitions for dimension "
                f"'{dimension_name}'"
            )
        self._set("dimension_name", dimension_name)
        self._set("partition_mapping", partition_mapping)

    def _args(self) -> tuple[Any, ...]:
        return (self.dimension_name, self.partition_mapping)

    def _repr_args(self) -> str:
        return f"dimension_name={quoted(self.dimension_name)}, partition_mapping={self.partition_mapping!r}"


@_variant
class SpecificPartitions(PartitionMapping):
    """An unpartitioned downstream loads these upstream keys (``partition_keys``)."""

    __slots__ = ("_keys",)
    factory = "specific_partitions"
    _keys: tuple[str, ...]

    def __init__(self, partition_keys: Sequence[str]) -> None:
        keys = _str_list(partition_keys, "specific_partitions partition_keys")
        if not keys:
            raise PartitionValidationError(
                "SpecificPartitions must have at least one partition key: list the upstream keys to load"
            )
        self._set("_keys", tuple(keys))

    @property
    def partition_keys(self) -> list[str]:
        """The upstream keys to load, as given."""
        return list(self._keys)

    def _args(self) -> tuple[Any, ...]:
        return (list(self._keys),)

    def _key(self) -> tuple[Any, ...]:
        return tuple(sorted(set(self._keys)))  # a set of keys to load: order and repeats do not matter

    def _repr_args(self) -> str:
        return "[" + ", ".join(quoted(key) for key in self._keys) + "]"


def _selector(value: Any) -> PartitionKey | PartitionKeyRange:
    """A ForKeys selector: a PartitionKey or PartitionKeyRange (a str is a single key)."""
    if isinstance(value, (PartitionKey, PartitionKeyRange)):
        return value
    if isinstance(value, str):
        return PartitionKey.single(value)
    raise TypeError(
        f"for_keys selectors must be PartitionKey or PartitionKeyRange (or a str key), got {type(value).__name__}: "
        f"{value!r}"
    )


@_variant
class ForKeys(PartitionMapping):
    """An unpartitioned upstream is loaded only for downstream keys matching ``selectors``."""

    __slots__ = ("_selectors",)
    factory = "for_keys"
    _selectors: tuple[PartitionKey | PartitionKeyRange, ...]

    def __init__(self, selectors: Sequence[PartitionKey | PartitionKeyRange | str]) -> None:
        if isinstance(selectors, (str, bytes)) or not isinstance(selectors, Sequence):
            raise TypeError(
                f"for_keys expects a list of PartitionKey / PartitionKeyRange, got {type(selectors).__name__}"
            )
        if not selectors:
            raise PartitionValidationError(
                "for_keys must have at least one key or range: list the downstream keys that load the upstream"
            )
        self._set("_selectors", tuple(_selector(value) for value in selectors))

    @property
    def selectors(self) -> list[PartitionKey | PartitionKeyRange]:
        """The downstream keys and ranges that load the upstream."""
        return list(self._selectors)

    def _args(self) -> tuple[Any, ...]:
        return (list(self._selectors),)

    def _key(self) -> tuple[Any, ...]:
        return self._selectors

    def _repr_args(self) -> str:
        return "[" + ", ".join(repr(selector) for selector in self._selectors) + "]"
