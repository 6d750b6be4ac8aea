"""Run-time resolution: which upstream partitions a step loads for its downstream keys.

:func:`resolve_upstream` applies an edge's mapping (or the default, see
:mod:`rivers.partitions.mappings.checks`) and returns an :class:`UpstreamLoad`:

* ``load(keys)`` — the engine builds ``PartitionContext(keys, upstream_def)``;
  with several keys the upstream handler returns a dict keyed by PartitionKey;
* ``load_unpartitioned()`` — load the upstream with ``partition=None``;
* ``inject_none()`` — the parameter receives None, the handler is not called.

Decisions of this project (spec §5 runtime table, README "Decisions"):

* a mapping yielding several keys loads them all (never only the first);
* AllPartitions with a partitioned upstream loads every upstream key
  (dynamic keys through ``dynamic_partitions``); with an unpartitioned
  upstream it loads the unpartitioned value;
* a partitioned downstream with no mapping on an unpartitioned upstream loads
  the unpartitioned value;
* a batched step (several downstream keys) loads the union of what each key
  maps to, in upstream definition order without duplicates; members mapping
  to nothing (Subset, ForKeys) are skipped, and the input is None only when
  no member loads anything;
* a mapping that selects no upstream key at all (e.g. AllPartitions on an
  empty dynamic namespace) injects None.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any, Callable, Sequence

from rivers.exceptions import ExecutionError, PartitionValidationError
from rivers.partitions.mappings.checks import check_shape, multi_plan, multi_side_is_downstream, require_kind
from rivers.partitions.mappings.defaults import MappingMismatch, default_mapping, identity_mismatch, key_from_text
from rivers.partitions.keys import PartitionKey
from rivers.partitions.mappings.base import PartitionMapping

if TYPE_CHECKING:
    from rivers.partitions.base import PartitionsDefinition

__all__ = ["UpstreamLoad", "resolve_upstream"]

M = PartitionMapping
DynamicPartitions = Callable[[str], Sequence[str]]


class UpstreamLoad:
    """What the engine loads for one upstream input of a step (see the module docstring)."""

    __slots__ = ("kind", "keys")

    LOAD = "load"
    UNPARTITIONED = "unpartitioned"
    NONE = "none"

    def __init__(self, kind: str, keys: list[PartitionKey] | None = None) -> None:
        self.kind = kind
        self.keys = keys

    @staticmethod
    def load(keys: list[PartitionKey]) -> UpstreamLoad:
        """Load these upstream partitions (at least one)."""
        if not keys:
            raise ValueError("UpstreamLoad.load needs at least one key; use inject_none() for nothing")
        return UpstreamLoad(UpstreamLoad.LOAD, list(keys))

    @staticmethod
    def load_unpartitioned() -> UpstreamLoad:
        """Load the upstream's unpartitioned value (``partition=None``)."""
        return _UNPARTITIONED

    @staticmethod
    def inject_none() -> UpstreamLoad:
        """Do not call the upstream handler; the parameter receives None."""
        return _NONE

    @property
    def is_load(self) -> bool:
        return self.kind == UpstreamLoad.LOAD

    @property
    def is_unpartitioned(self) -> bool:
        return self.kind == UpstreamLoad.UNPARTITIONED

    @property
    def is_none(self) -> bool:
        return self.kind == UpstreamLoad.NONE

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, UpstreamLoad):
            return NotImplemented
        return (self.kind, self.keys) == (other.kind, other.keys)

    def __hash__(self) -> int:
        return hash((self.kind, tuple(self.keys or ())))

    def __repr__(self) -> str:
        if self.kind == UpstreamLoad.LOAD:
            return f"UpstreamLoad.load({self.keys!r})"
        return "UpstreamLoad.load_unpartitioned()" if self.is_unpartitioned else "UpstreamLoad.inject_none()"


_UNPARTITIONED = UpstreamLoad(UpstreamLoad.UNPARTITIONED)
_NONE = UpstreamLoad(UpstreamLoad.NONE)


# --- translation of one single-valued downstream key ----------------------------------


class _Translator:
    """Applies mappings to single-valued keys between two definitions (one resolve call)."""

    __slots__ = ("dynamic_partitions", "_all")

    def __init__(self, dynamic_partitions: DynamicPartitions | None) -> None:
        self.dynamic_partitions = dynamic_partitions
        self._all: dict[int, list[PartitionKey]] = {}

    def all_keys(self, definition: PartitionsDefinition) -> list[PartitionKey]:
        """Every key of ``definition`` (dynamic ones through ``dynamic_partitions``), cached per call."""
        cached = self._all.get(id(definition))
        if cached is None:
            try:
                cached = list(definition.get_partition_keys(dynamic_partitions=self.dynamic_partitions))
            except NotImplementedError:
                raise PartitionValidationError(
                    f"cannot enumerate the upstream keys of {definition.describe()}: dynamic partition keys need "
                    "dynamic_partitions (the storage's get_dynamic_partitions)"
                ) from None
            self._all[id(definition)] = cached
        return cached

    def apply(
        self, mapping: PartitionMapping, key: PartitionKey, down: PartitionsDefinition, up: PartitionsDefinition
    ) -> list[PartitionKey] | None:
        """The upstream keys ``key`` maps to; None means "nothing to load" for this key."""
        return _TRANSLATIONS[type(mapping)](self, mapping, key, down, up)


def _identity(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    return [key]


def _all_partitions(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    return tr.all_keys(up)


def _static(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    text = str(key)
    target = mapping.target(text)
    return [key] if target == text else [key_from_text(up, target)]


def _specific(tr: _Translator, mapping: Any, key: PartitionKey | None, down: Any, up: Any) -> list[PartitionKey]:
    return [key_from_text(up, text) for text in mapping.partition_keys]


def _subset(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey] | None:
    return [key] if up.validate_partition_key(key, dynamic_partitions=tr.dynamic_partitions) else None


def _time_window(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    require_kind("TimeWindow", "time_window", down, up)
    offset = mapping.offset
    if identity_mismatch(down, up) is None:
        shifted = [up.shift(key, offset)]
    else:
        window = down.window(key)
        if window is None:
            raise PartitionValidationError(f"'{key}' is not a partition key of the downstream ({down.describe()})")
        shifted = [up.shift(near, offset) for near in up.keys_overlapping(*window)] or [None]
    if None in shifted:
        raise PartitionValidationError(
            f"TimeWindow mapping offset={offset}: downstream partition '{key}' maps outside the upstream "
            f"range {_range_text(up)}; start the downstream later or extend the upstream partitions"
        )
    return shifted


def _range_text(definition: PartitionsDefinition) -> str:
    keys = definition.get_partition_keys()
    if not len(keys):
        return f"(empty: {definition.describe()})"
    return f"['{keys[0]}' .. '{keys[len(keys) - 1]}'] ({definition.describe()})"


def _multi(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    require_kind("Multi", "multi", down, up)
    down_dims, up_dims = dict(down.dimensions), dict(up.dimensions)
    plan = multi_plan(mapping, down_dims, up_dims)
    per_dim: list[list[str]] = []
    for up_name, (down_name, inner) in plan.items():
        value = PartitionKey.single(key.dimension_values(down_name))
        mapped = tr.apply(inner, value, down_dims[down_name], up_dims[up_name]) or []
        per_dim.append(_values(mapped))
    return _product(list(plan), per_dim)


def _product(names: list[str], per_dim: list[list[str]]) -> list[PartitionKey]:
    """Multi keys: the cartesian product of per-dimension values, the first dimension outermost."""
    return [PartitionKey.multi(dict(zip(names, combo))) for combo in itertools.product(*per_dim)]


def _values(keys: list[PartitionKey]) -> list[str]:
    """The values of single-valued keys of one dimension (members of multi-valued ones)."""
    # the keys of a single-dimension definition are PartitionKey.Single (no check: this runs for every key)
    return [value for key in keys for value in key.key]  # type: ignore[attr-defined]


def _multi_to_single(tr: _Translator, mapping: Any, key: PartitionKey, down: Any, up: Any) -> list[PartitionKey]:
    name, inner = mapping.dimension_name, mapping.partition_mapping
    if multi_side_is_downstream(mapping, down, up):
        value = PartitionKey.single(key.dimension_values(name))
        return tr.apply(inner, value, down.dimension(name), up) or []
    chosen = _values(tr.apply(inner, key, down, up.dimension(name)) or [])
    per_dim = [chosen if dim == name else _values(tr.all_keys(definition)) for dim, definition in up.dimensions]
    return _product([dim for dim, _ in up.dimensions], per_dim)


_TRANSLATIONS: dict[type, Callable[..., list[Any] | None]] = {
    M.Identity: _identity,
    M.AllPartitions: _all_partitions,
    M.Static: _static,
    M.SpecificPartitions: _specific,
    M.Subset: _subset,
    M.TimeWindow: _time_window,
    M.Multi: _multi,
    M.MultiToSingle: _multi_to_single,
}


# --- ordering -------------------------------------------------------------------------


def _ordered_union(
    keys: list[PartitionKey], definition: PartitionsDefinition, dynamic_partitions: DynamicPartitions | None
) -> list[PartitionKey]:
    """``keys`` without duplicates, in ``definition`` order (unknown positions last, first seen first)."""
    unique = list(dict.fromkeys(keys))
    if len(unique) < 2:
        return unique
    try:
        positions = [definition.index_of(key, dynamic_partitions=dynamic_partitions) for key in unique]
    except NotImplementedError:  # dynamic keys without dynamic_partitions: keep the order they came in
        return unique
    order = sorted(range(len(unique)), key=lambda i: (positions[i] is None, positions[i] or 0, i))
    return [unique[i] for i in order]


def _members(keys: list[PartitionKey] | None, owner: str) -> list[PartitionKey]:
    if not keys:
        raise PartitionValidationError(
            f"{owner}: resolve_upstream needs the downstream partition keys of a partitioned downstream"
        )
    if len(keys) == 1:
        return keys[0].members()
    return [member for key in keys for member in key.members()]


def _result(
    keys: list[PartitionKey], upstream_def: PartitionsDefinition, translator: _Translator, *, ordered: bool = False
) -> UpstreamLoad:
    """Load ``keys`` (put in upstream order unless ``ordered``), or inject None when there are none."""
    if not keys:
        return _NONE
    if not ordered:
        keys = _ordered_union(keys, upstream_def, translator.dynamic_partitions)
    return UpstreamLoad(UpstreamLoad.LOAD, keys)


# --- the four edge shapes (already checked against the edge table) ----------------------


def _upstream_unpartitioned(
    mapping: PartitionMapping | None,
    downstream_keys: list[PartitionKey] | None,
    downstream_def: PartitionsDefinition,
    dynamic_partitions: DynamicPartitions | None,
) -> UpstreamLoad:
    if not isinstance(mapping, M.ForKeys):  # no mapping or AllPartitions: the unpartitioned value
        return _UNPARTITIONED
    members = _members(downstream_keys, "ForKeys")
    selected = _selected_keys(mapping, downstream_def, dynamic_partitions)
    return _UNPARTITIONED if any(selected(member) for member in members) else _NONE


def _selected_keys(
    mapping: Any, downstream_def: PartitionsDefinition, dynamic_partitions: DynamicPartitions | None
) -> Callable[[PartitionKey], bool]:
    """A predicate: does a single-valued downstream key match one of the ForKeys selectors?"""
    exact: set[PartitionKey] = set()
    ranges = []
    for selector in mapping.selectors:
        if isinstance(selector, PartitionKey):
            exact.update(selector.members())
            continue
        try:
            ranges.append(downstream_def.resolve_range(selector, dynamic_partitions=dynamic_partitions))
        except (ExecutionError, NotImplementedError) as error:
            raise MappingMismatch(f"ForKeys selector {selector!r} does not fit the downstream: {error}") from None
    return lambda key: key in exact or any(key in keys for keys in ranges)


def _downstream_unpartitioned(
    mapping: PartitionMapping, upstream_def: PartitionsDefinition, translator: _Translator
) -> UpstreamLoad:
    if isinstance(mapping, M.AllPartitions):
        return _result(translator.all_keys(upstream_def), upstream_def, translator, ordered=True)
    return _result(_specific(translator, mapping, None, None, upstream_def), upstream_def, translator)


def _both_partitioned(
    mapping: PartitionMapping | None,
    downstream_keys: list[PartitionKey] | None,
    downstream_def: PartitionsDefinition,
    upstream_def: PartitionsDefinition,
    translator: _Translator,
) -> UpstreamLoad:
    if mapping is None:
        mapping = _IDENTITY if downstream_def is upstream_def else default_mapping(downstream_def, upstream_def)
    if isinstance(mapping, M.AllPartitions):
        return _result(translator.all_keys(upstream_def), upstream_def, translator, ordered=True)
    members = _members(downstream_keys, repr(mapping))
    if isinstance(mapping, M.Identity):
        return _result(members, upstream_def, translator)
    loaded: list[PartitionKey] = []
    for member in members:
        loaded.extend(translator.apply(mapping, member, downstream_def, upstream_def) or ())
    return _result(loaded, upstream_def, translator)


_IDENTITY = M.identity()


def resolve_upstream(
    mapping: PartitionMapping | None,
    downstream_keys: list[PartitionKey] | None,
    downstream_def: PartitionsDefinition | None,
    upstream_def: PartitionsDefinition | None,
    *,
    dynamic_partitions: DynamicPartitions | None = None,
) -> UpstreamLoad:
    """What to load from the upstream for a step running ``downstream_keys``.

    ``mapping`` is the edge's mapping (None: the default);
    ``downstream_keys`` the step's keys (None for an unpartitioned
    downstream; several or multi-valued keys for a batched step: the union
    is loaded); ``dynamic_partitions`` maps a dynamic namespace to its
    registered keys. Raises :class:`PartitionValidationError` when the mapping
    does not fit the edge or a time-window offset leaves the upstream range.
    """
    try:
        check_shape(mapping, downstream_def, upstream_def)
        if upstream_def is None:
            if downstream_def is None:
                return _UNPARTITIONED
            return _upstream_unpartitioned(mapping, downstream_keys, downstream_def, dynamic_partitions)
        translator = _Translator(dynamic_partitions)
        if downstream_def is None:
            return _downstream_unpartitioned(mapping, upstream_def, translator)  # type: ignore[arg-type]
        return _both_partitioned(mapping, downstream_keys, downstream_def, upstream_def, translator)
    except MappingMismatch as error:
        raise PartitionValidationError(str(error)) from None
