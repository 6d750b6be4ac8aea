"""Edge validation: does a partition mapping fit the definitions on both ends of a dependency?

:func:`validate_edge` applies the edge table of the partitions spec (§5) and
the per-variant checks, raising :class:`PartitionValidationError` with a
message naming both assets (``asset 'b' depends on 'a': ...``). An edge
without a mapping is checked against this project's defaults
(:mod:`rivers.partitions.mappings.defaults`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rivers.exceptions import ExecutionError, PartitionDefinitionError, PartitionValidationError
from rivers.partitions.mappings.defaults import (
    MappingMismatch,
    default_mapping,
    dimensions_mismatch,
    dimensions_of,
    grid_text,
    identity_mismatch,
    key_from_text,
    kind_mismatch,
)
from rivers.partitions.keys import PartitionKey
from rivers.partitions.mappings.base import PartitionMapping

if TYPE_CHECKING:
    from datetime import datetime

    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.multi import MultiPartitions
    from rivers.partitions.time.window import TimeWindowPartitions

__all__ = [
    "check_partitioned",
    "check_shape",
    "multi_plan",
    "multi_side_is_downstream",
    "require_kind",
    "subset_mismatch",
    "validate_edge",
]

M = PartitionMapping
_SHOWN_KEYS = 10


# --- small helpers -------------------------------------------------------------


def _has_key(definition: PartitionsDefinition, text: str) -> bool:
    """Whether ``text`` names a key of ``definition`` (dynamic: any well-formed key)."""
    try:
        return bool(definition.validate_partition_key(key_from_text(definition, text)))
    except (PartitionDefinitionError, TypeError):  # an unparsable display string is not a key
        return False


def _shown(values: list[str]) -> str:
    """At most ``_SHOWN_KEYS`` keys as a list, with the total when there are more."""
    listed = repr(values[:_SHOWN_KEYS])
    return listed if len(values) <= _SHOWN_KEYS else f"{listed[:-1]}, ...] ({len(values)} keys)"


def require_kind(
    mapping_name: str, kind: str, downstream: PartitionsDefinition, upstream: PartitionsDefinition
) -> None:
    """Both definitions must be of ``kind`` (``<Mapping> mapping requires <Mapping> partitions on <side>``)."""
    for side, definition in (("downstream", downstream), ("upstream", upstream)):
        if definition.kind != kind:
            raise MappingMismatch(
                f"{mapping_name} mapping requires {mapping_name} partitions on {side} "
                f"({side} has {definition.describe()})"
            )


def multi_side_is_downstream(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> bool:
    """For MultiToSingle: True when the downstream is the Multi side, False when the upstream is.

    Raises :class:`MappingMismatch` unless exactly one side is Multi and it
    has the mapping's dimension.
    """
    down_multi = downstream.kind == "multi"
    if down_multi == (upstream.kind == "multi"):
        raise MappingMismatch(
            "MultiToSingle mapping requires Multi partitions on exactly one side: downstream has "
            f"{downstream.describe()}, upstream has {upstream.describe()}"
        )
    side, multi = ("downstream", downstream) if down_multi else ("upstream", upstream)
    if TYPE_CHECKING:  # its kind is "multi" (no cast: resolution calls this for every key)
        assert isinstance(multi, MultiPartitions)
    dims = dimensions_of(multi)
    if mapping.dimension_name not in dims:
        raise MappingMismatch(
            f"MultiToSingle dimension '{mapping.dimension_name}' is not a dimension of the {side}; "
            f"{side} dimensions: {', '.join(dims)}"
        )
    return down_multi


# --- per-variant checks (both sides partitioned) ------------------------------------


def check_partitioned(
    mapping: PartitionMapping, downstream: PartitionsDefinition, upstream: PartitionsDefinition, *, nested: bool = False
) -> None:
    """Raise :class:`MappingMismatch` unless ``mapping`` fits two partitioned definitions.

    ``nested`` is True for the mapping of one dimension (inside Multi or
    MultiToSingle), where SpecificPartitions selects upstream values.
    """
    if nested and isinstance(mapping, M.SpecificPartitions):
        _check_specific(mapping, upstream)
        return
    if not nested:
        check_shape(mapping, downstream, upstream)
    _PARTITIONED_CHECKS[type(mapping)](mapping, downstream, upstream)


def _check_identity(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    reason = identity_mismatch(downstream, upstream)
    if reason is not None:
        raise MappingMismatch(reason)


def _check_nothing(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    """AllPartitions fits any two partitioned definitions."""


def _check_time_window(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    require_kind("TimeWindow", "time_window", downstream, upstream)
    downstream, upstream = cast("TimeWindowPartitions", downstream), cast("TimeWindowPartitions", upstream)
    if downstream is upstream or downstream == upstream:
        return
    reason = identity_mismatch(downstream, upstream)
    if reason is None:
        return
    if downstream.fmt != upstream.fmt and reason.startswith("Identity mapping requires the same key format"):
        raise MappingMismatch(
            f"TimeWindow mapping requires the same key format on one grid: downstream fmt '{downstream.fmt}', "
            f"upstream fmt '{upstream.fmt}'; give both assets the same fmt"
        )
    if downstream.timezone != upstream.timezone:
        return  # windows are compared in each grid's own zone when the mapping resolves
    off_up = _off_grid(downstream, upstream)
    off_down = _off_grid(upstream, downstream) if off_up is not None else None
    if off_up is not None and off_down is not None:
        moment, key = off_up
        raise MappingMismatch(
            f"TimeWindow mapping between grids that do not line up: downstream window start {moment.isoformat()} "
            f"(key '{key}') is not on the upstream grid ({grid_text(upstream)} from {upstream.start.isoformat()}), "
            f"and upstream window start {off_down[0].isoformat()} is not on the downstream grid "
            f"({grid_text(downstream)}); one grid must refine the other (hourly and daily, daily and weekly)"
        )


#: How many window starts of each grid are compared when checking that two grids line up.
_GRID_SAMPLE = 64


def _off_grid(source: TimeWindowPartitions, grid: TimeWindowPartitions) -> tuple[datetime, str] | None:
    """The first of ``source``'s window starts (in the overlap, sampled) that opens no window of ``grid``."""
    start = max(source.start, grid.start)
    ends = [end for end in (source.end, grid.end) if end is not None]
    end = min(ends) if ends else None
    keys = source.get_partition_keys()
    first = source.tick_index(start)
    first = 0 if first is None else first
    grid_keys = grid.get_partition_keys()
    for key in keys[first:first + _GRID_SAMPLE]:
        # keys of the grid itself (and, below, the key at a tick_index position) always have a window
        moment = cast("tuple[datetime, datetime]", source.window(key))[0]
        if end is not None and moment.replace(tzinfo=None) >= end:
            break
        if moment.replace(tzinfo=None) < start:
            continue
        position = grid.tick_index(moment)
        if position is None:
            continue  # outside the other grid's keys
        if cast("tuple[datetime, datetime]", grid.window(grid_keys[position]))[0] != moment:
            return moment, str(key)
    return None


def _check_static(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    for down_key, up_key in mapping.mapping.items():
        if not _has_key(downstream, down_key):
            raise MappingMismatch(
                f"Static partition mapping key '{down_key}' is not a partition key of the downstream "
                f"({downstream.describe()}); map existing downstream keys only"
            )
        if not _has_key(upstream, up_key):
            raise MappingMismatch(
                f"Static mapping target '{up_key}' (for '{down_key}') is not a partition key of the upstream "
                f"({upstream.describe()})"
            )


def _check_specific(mapping: Any, upstream: PartitionsDefinition) -> None:
    missing = [key for key in mapping.partition_keys if not _has_key(upstream, key)]
    if missing:
        raise MappingMismatch(
            f"SpecificPartitions keys must be upstream partition keys; not keys of the upstream "
            f"({upstream.describe()}): {_shown(missing)}"
        )


def _check_multi(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    require_kind("Multi", "multi", downstream, upstream)
    downstream, upstream = cast("MultiPartitions", downstream), cast("MultiPartitions", upstream)
    down_dims, up_dims = dimensions_of(downstream), dimensions_of(upstream)
    for up_name, (down_name, inner) in multi_plan(mapping, down_dims, up_dims).items():
        try:
            check_partitioned(inner, down_dims[down_name], up_dims[up_name], nested=True)
        except MappingMismatch as error:
            raise error.within(up_name) from None


def multi_plan(
    mapping: Any, down_dims: dict[str, Any], up_dims: dict[str, Any]
) -> dict[str, tuple[str, PartitionMapping]]:
    """Per upstream dimension (in upstream order): the downstream dimension and mapping feeding it.

    An upstream dimension the mapping does not list is fed by the
    downstream dimension of the same name through identity. Raises
    :class:`MappingMismatch` for unknown, missing or uncovered dimensions.
    """
    declared = mapping.dimension_mappings
    for up_name, (down_name, _) in declared.items():
        if up_name not in up_dims:
            raise MappingMismatch(
                f"Multi mapping references upstream dimension '{up_name}' which does not exist; "
                f"upstream dimensions: {', '.join(up_dims)}"
            )
        if down_name not in down_dims:
            raise MappingMismatch(
                f"Multi mapping for upstream dimension '{up_name}' references downstream dimension '{down_name}' "
                f"which does not exist; downstream dimensions: {', '.join(down_dims)}"
            )
    plan: dict[str, tuple[str, PartitionMapping]] = {}
    for up_name in up_dims:
        if up_name in declared:
            plan[up_name] = declared[up_name]
        elif up_name in down_dims:
            plan[up_name] = (up_name, M.identity())
        else:
            raise MappingMismatch(
                f"Multi mapping is missing upstream dimension '{up_name}': add an entry for it, e.g. "
                f'"{up_name}": PartitionMapping.all_partitions() or ("<downstream dimension>", mapping)'
            )
    covered = {down_name for down_name, _ in plan.values()}
    for down_name in down_dims:
        if down_name not in covered:
            raise MappingMismatch(
                f"Multi mapping does not cover downstream dimension '{down_name}': map an upstream dimension "
                f'from it, e.g. "<upstream dimension>": ("{down_name}", PartitionMapping.identity())'
            )
    return plan


def _check_multi_to_single(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    name = mapping.dimension_name
    if multi_side_is_downstream(mapping, downstream, upstream):
        pair = (cast("MultiPartitions", downstream).dimension(name), upstream)
    else:
        pair = (downstream, cast("MultiPartitions", upstream).dimension(name))
    try:
        check_partitioned(mapping.partition_mapping, *pair, nested=True)
    except MappingMismatch as error:
        raise error.within(name) from None


def _check_subset(mapping: Any, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> None:
    reason = subset_mismatch(downstream, upstream)
    if reason is not None:
        raise MappingMismatch(reason)


def subset_mismatch(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str | None:
    """Why the upstream keys are not a subset of the downstream keys (None when they are)."""
    if downstream is upstream or downstream == upstream:
        return None
    if downstream.kind != upstream.kind:
        return kind_mismatch("Subset", downstream, upstream)
    if downstream.kind == "dynamic":
        return None  # membership is only known at run time
    if downstream.kind == "multi":
        down, up = cast("MultiPartitions", downstream), cast("MultiPartitions", upstream)
        return dimensions_mismatch("Subset", down, up, subset_mismatch)
    if downstream.kind == "time_window":
        reason = identity_mismatch(downstream, upstream)
        if reason is not None:
            return reason.replace("Identity mapping", "Subset mapping", 1)
        extra = _extra_time_keys(downstream, upstream)
    else:
        extra = [str(key) for key in upstream.get_partition_keys() if not downstream.validate_partition_key(key)]
    if extra:
        return f"Subset mapping requires upstream keys to be downstream keys; upstream has extra keys: {_shown(extra)}"
    return None


def _extra_time_keys(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> list[str]:
    """Upstream windows outside the downstream range (same grid: only the two ends can stick out)."""
    keys = upstream.get_partition_keys()
    head: list[str] = []
    first = 0
    while first < len(keys) and not downstream.validate_partition_key(keys[first]):
        head.append(str(keys[first]))
        first += 1
        if len(head) > _SHOWN_KEYS:
            return head
    tail: list[str] = []
    last = len(keys) - 1
    while last >= first and not downstream.validate_partition_key(keys[last]):
        tail.append(str(keys[last]))
        last -= 1
        if len(tail) > _SHOWN_KEYS:
            break
    return head + tail[::-1]


_PARTITIONED_CHECKS: dict[type, Callable[[Any, Any, Any], None]] = {
    M.Identity: _check_identity,
    M.AllPartitions: _check_nothing,
    M.TimeWindow: _check_time_window,
    M.Static: _check_static,
    M.Multi: _check_multi,
    M.MultiToSingle: _check_multi_to_single,
    M.Subset: _check_subset,
}


# --- edges with an unpartitioned side ---------------------------------------------------


def _check_for_keys(mapping: Any, downstream: PartitionsDefinition) -> None:
    """ForKeys selectors must be keys (or ranges) of the downstream definition."""
    for selector in mapping.selectors:
        if isinstance(selector, PartitionKey):
            if not downstream.validate_partition_key(selector):
                raise MappingMismatch(
                    f"ForKeys selector '{selector}' is not a valid downstream partition key ({downstream.describe()})"
                )
            continue
        try:
            downstream.resolve_range(selector)
        except NotImplementedError:
            continue  # dynamic downstream: the keys exist only at run time
        except (ExecutionError, PartitionDefinitionError) as error:
            raise MappingMismatch(f"ForKeys selector {selector!r} does not fit the downstream: {error}") from None


def check_shape(
    mapping: Any, downstream: PartitionsDefinition | None, upstream: PartitionsDefinition | None
) -> None:
    """The edge table: raise :class:`MappingMismatch` unless the mapping's variant fits which sides are partitioned.

    Cheap (no key checks): the run-time resolution calls it for every load.
    """
    if mapping is not None and not isinstance(mapping, PartitionMapping):
        raise MappingMismatch(
            f"partition_mapping must be a PartitionMapping (e.g. PartitionMapping.identity()), "
            f"got {type(mapping).__name__}"
        )
    if downstream is not None and upstream is not None:
        if isinstance(mapping, M.SpecificPartitions):
            raise MappingMismatch(
                "SpecificPartitions mapping is only valid when downstream is unpartitioned. For a partitioned "
                "downstream use PartitionMapping.static_(...) or PartitionMapping.all_partitions()"
            )
        if isinstance(mapping, M.ForKeys):
            raise MappingMismatch(
                "ForKeys mapping is only valid when upstream is unpartitioned; between two partitioned assets use "
                "PartitionMapping.subset() or PartitionMapping.static_(...)"
            )
    elif downstream is not None:
        if mapping is not None and not isinstance(mapping, (M.AllPartitions, M.ForKeys)):
            raise MappingMismatch(
                f"only AllPartitions, ForKeys, or no mapping is valid when upstream has no partitions, got {mapping!r}"
            )
    elif upstream is not None:
        if mapping is None:
            raise MappingMismatch(
                f"a partition_mapping (e.g. AllPartitions or SpecificPartitions) is required: the downstream has no "
                f"partitions and the upstream has {upstream.describe()}; pass PartitionMapping.all_partitions() or "
                "PartitionMapping.specific_partitions([...])"
            )
        if not isinstance(mapping, (M.AllPartitions, M.SpecificPartitions)):
            raise MappingMismatch(
                "only AllPartitions or SpecificPartitions mapping is valid when downstream has no partitions, "
                f"got {mapping!r}"
            )
    elif mapping is not None and not isinstance(mapping, M.Identity):
        raise MappingMismatch(f"partition_mapping specified but neither asset has partitions; remove {mapping!r}")


def validate_edge(
    mapping: PartitionMapping | None,
    *,
    downstream: str,
    downstream_def: PartitionsDefinition | None,
    upstream: str,
    upstream_def: PartitionsDefinition | None,
) -> None:
    """Check the dependency ``downstream`` → ``upstream`` with ``mapping`` (None: the default).

    Raises :class:`PartitionValidationError` naming both assets when the
    mapping does not fit the two definitions (spec §5 edge table and
    per-variant checks, with this project's defaults for ``mapping=None``).
    """
    try:
        check_shape(mapping, downstream_def, upstream_def)
        if downstream_def is not None and upstream_def is not None:
            if mapping is None:
                default_mapping(downstream_def, upstream_def)
            else:
                check_partitioned(mapping, downstream_def, upstream_def)
        # check_shape let ForKeys through only with a partitioned downstream, SpecificPartitions with a partitioned
        # upstream: the None tests do not change the outcome, they tell the type checker
        elif downstream_def is not None and isinstance(mapping, M.ForKeys):
            _check_for_keys(mapping, downstream_def)
        elif upstream_def is not None and isinstance(mapping, M.SpecificPartitions):
            _check_specific(mapping, upstream_def)
    except MappingMismatch as error:
        raise PartitionValidationError(f"asset '{downstream}' depends on '{upstream}': {error}") from None
