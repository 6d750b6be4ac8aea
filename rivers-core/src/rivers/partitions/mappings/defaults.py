"""Identity compatibility and the default mapping of an edge that declares none.

This project's defaults (README "Decisions"; spec §5 says only "Identity"):

* compatible definitions (same keys / grid / namespace / dimensions): identity;
* two time-window grids that differ (e.g. daily downstream, hourly upstream):
  every upstream window overlapping the downstream window, i.e.
  ``PartitionMapping.time_window(0)``;
* Multi ↔ Multi with the same dimension names: the default of each dimension;
* Multi downstream with exactly one dimension matching a single-dimension
  upstream (and the reverse): ``multi_to_single`` on that dimension.

Results are cached per pair of definitions (definitions are immutable values).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from rivers.partitions.keys import PartitionKey
from rivers.partitions.mappings.base import PartitionMapping
from rivers.partitions.time.zones import load_zone, wall_us

if TYPE_CHECKING:
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.dynamic import DynamicPartitions
    from rivers.partitions.multi import MultiPartitions
    from rivers.partitions.time.window import TimeWindowPartitions

__all__ = [
    "MappingMismatch", "default_mapping", "dimensions_mismatch", "dimensions_of", "grid_text", "identity_mismatch",
    "key_from_text",
]

M = PartitionMapping


class MappingMismatch(Exception):
    """A mapping does not fit two definitions; the message says why (without asset names)."""

    def within(self, dimension: str) -> MappingMismatch:
        """The same mismatch, located in ``dimension`` of a Multi definition."""
        return MappingMismatch(f"in dimension '{dimension}': {self}")


# --- small helpers on definitions ---------------------------------------------


def key_from_text(definition: PartitionsDefinition, text: str) -> PartitionKey:
    """The key of ``definition`` written as ``text`` (a display string for Multi definitions)."""
    if definition.kind == "multi":
        return PartitionKey.parse_display(text, multi=True)
    return PartitionKey.single(text)


def dimensions_of(definition: MultiPartitions) -> dict[str, PartitionsDefinition]:
    """The dimensions of a Multi definition by name (declaration order)."""
    return dict(definition.dimensions)


def grid_text(definition: TimeWindowPartitions) -> str:
    """``cron '0 0 * * *'`` / ``interval 3600s``: how messages name a time grid."""
    if definition.cron_schedule is not None:
        return f"cron '{definition.cron_schedule}'"
    return f"interval {definition.interval_seconds:g}s"


# --- identity compatibility ---------------------------------------------------------


def identity_mismatch(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str | None:
    """Why an identity mapping does not fit ``downstream`` → ``upstream`` (None when it does)."""
    try:
        return _identity_mismatch_cached(downstream, upstream)
    except TypeError:  # unhashable plugin definitions
        return _identity_mismatch(downstream, upstream)


def kind_mismatch(mapping_name: str, downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str:
    """Why ``mapping_name`` does not fit definitions of different kinds."""
    return (
        f"{mapping_name} mapping requires same partition type: downstream has {downstream.describe()}, "
        f"upstream has {upstream.describe()}"
    )


def dimensions_mismatch(
    mapping_name: str,
    downstream: MultiPartitions,
    upstream: MultiPartitions,
    mismatch: Callable[[PartitionsDefinition, PartitionsDefinition], str | None],
) -> str | None:
    """Why two multi definitions do not fit ``mapping_name`` dimension by dimension (None when they do).

    They need the same dimension names, and each downstream/upstream pair of
    dimensions must pass ``mismatch`` (checked in the downstream's declaration order).
    """
    down_dims, up_dims = dimensions_of(downstream), dimensions_of(upstream)
    if set(down_dims) != set(up_dims):
        return (
            f"{mapping_name} mapping requires the same multi dimensions: downstream {sorted(down_dims)}, "
            f"upstream {sorted(up_dims)}"
        )
    for name, down_dim in down_dims.items():
        reason = mismatch(down_dim, up_dims[name])
        if reason is not None:
            return f"in dimension '{name}': {reason}"
    return None


@lru_cache(maxsize=512)
def _identity_mismatch_cached(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str | None:
    return _identity_mismatch(downstream, upstream)


def _identity_mismatch(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str | None:
    if downstream is upstream or downstream == upstream:
        return None
    if downstream.kind != upstream.kind:
        return kind_mismatch("Identity", downstream, upstream)
    check = _IDENTITY_CHECKS.get(downstream.kind, _identity_keys)
    return check(downstream, upstream)


def _identity_keys(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> str | None:
    """Static and plugin key lists: every downstream key must be an upstream key."""
    missing = [str(key) for key in downstream.get_partition_keys() if not upstream.validate_partition_key(key)]
    if missing:
        return (
            "Identity mapping requires every downstream key upstream; downstream keys missing upstream: "
            + ", ".join(missing)
        )
    return None


def _identity_dynamic(downstream: DynamicPartitions, upstream: DynamicPartitions) -> str | None:
    if downstream.name != upstream.name:
        return (
            f"Identity mapping requires the same dynamic namespace: downstream '{downstream.name}', "
            f"upstream '{upstream.name}'"
        )
    return None


def _identity_multi(downstream: MultiPartitions, upstream: MultiPartitions) -> str | None:
    return dimensions_mismatch("Identity", downstream, upstream, identity_mismatch)


def _identity_time(downstream: TimeWindowPartitions, upstream: TimeWindowPartitions) -> str | None:
    same_schedule = (downstream.cron_schedule, downstream.interval_seconds) == (
        upstream.cron_schedule,
        upstream.interval_seconds,
    )
    if not same_schedule:
        return (
            f"Identity mapping: downstream grid ({grid_text(downstream)}) is not on the upstream grid "
            f"({grid_text(upstream)}); use no mapping or PartitionMapping.time_window(0) to load the overlapping "
            "upstream windows"
        )
    if upstream.interval_seconds is not None and not _same_phase(downstream, upstream, upstream.interval_seconds):
        return (
            f"Identity mapping: downstream window start {downstream.start.isoformat()} is not on the upstream grid "
            f"({grid_text(upstream)} from {upstream.start.isoformat()})"
        )
    if downstream.fmt != upstream.fmt:
        return (
            f"Identity mapping requires the same key format: downstream fmt '{downstream.fmt}', "
            f"upstream fmt '{upstream.fmt}'"
        )
    return None


def _same_phase(downstream: TimeWindowPartitions, upstream: TimeWindowPartitions, interval_seconds: float) -> bool:
    """Interval grids: do both start on the same lattice of ``interval_seconds`` (wall clock)?"""
    step = round(interval_seconds * 1_000_000)
    return (_wall_start(downstream) - _wall_start(upstream)) % step == 0


def _wall_start(definition: TimeWindowPartitions) -> int:
    """``start`` as wall-clock microseconds of the definition's zone."""
    zone = load_zone(definition.timezone) if definition.timezone is not None else None
    return wall_us(definition.start, zone)


#: Per kind, the identity check of two definitions of that kind (whose variant the kind tells).
_IDENTITY_CHECKS: dict[str, Callable[[Any, Any], str | None]] = {
    "dynamic": _identity_dynamic,
    "multi": _identity_multi,
    "time_window": _identity_time,
}


# --- defaults ----------------------------------------------------------------------


def default_mapping(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> PartitionMapping:
    """The mapping an edge between two partitioned assets uses when it declares none.

    Raises :class:`MappingMismatch` when no default fits (the edge then
    needs an explicit ``partition_mapping``).
    """
    try:
        try:
            return _default_cached(downstream, upstream)
        except TypeError:  # unhashable plugin definitions
            return _default(downstream, upstream)
    except MappingMismatch as error:
        raise MappingMismatch(f"no default partition mapping fits ({error}); pass a partition_mapping") from None


@lru_cache(maxsize=512)
def _default_cached(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> PartitionMapping:
    return _default(downstream, upstream)


def _default(downstream: PartitionsDefinition, upstream: PartitionsDefinition) -> PartitionMapping:
    reason = identity_mismatch(downstream, upstream)
    if reason is None:
        return M.identity()
    down_kind, up_kind = downstream.kind, upstream.kind
    if down_kind == up_kind == "time_window":
        return M.time_window(0)
    # a "multi" kind is a MultiPartitions (the casts are for the type checker; this runs once per pair)
    if down_kind == up_kind == "multi":
        return _default_multi(cast("MultiPartitions", downstream), cast("MultiPartitions", upstream), reason)
    if down_kind == "multi":
        multi = cast("MultiPartitions", downstream)
        return M.multi_to_single(*_matching_dimension(multi, upstream, "downstream", lambda d: (d, upstream)))
    if up_kind == "multi":
        multi = cast("MultiPartitions", upstream)
        return M.multi_to_single(*_matching_dimension(multi, downstream, "upstream", lambda d: (downstream, d)))
    raise MappingMismatch(reason)


def _default_multi(downstream: MultiPartitions, upstream: MultiPartitions, reason: str) -> PartitionMapping:
    down_dims, up_dims = dimensions_of(downstream), dimensions_of(upstream)
    if set(down_dims) != set(up_dims):
        raise MappingMismatch(reason)
    inner: dict[str, PartitionMapping] = {}
    for name, up_dim in up_dims.items():
        try:
            inner[name] = _default(down_dims[name], up_dim)
        except MappingMismatch as error:
            raise error.within(name) from None
    return M.multi(inner)


def _matching_dimension(
    multi: MultiPartitions,
    single: PartitionsDefinition,
    side: str,
    pair: Callable[[PartitionsDefinition], tuple[PartitionsDefinition, PartitionsDefinition]],
) -> tuple[str, PartitionMapping]:
    """The one dimension of ``multi`` that links to ``single`` and the inner mapping to use."""
    exact = [name for name, dim in multi.dimensions if identity_mismatch(*pair(dim)) is None]
    timed = [name for name, dim in multi.dimensions if dim.kind == single.kind == "time_window"]
    for names, inner in ((exact, M.identity()), (timed, M.time_window(0))):
        if len(names) == 1:
            return names[0], inner
        if len(names) > 1:
            raise MappingMismatch(
                f"several {side} dimensions ({', '.join(names)}) match {single.describe()}; choose one with "
                f"PartitionMapping.multi_to_single(dimension_name=...)"
            )
    raise MappingMismatch(
        f"no {side} dimension ({', '.join(name for name, _ in multi.dimensions)}) matches {single.describe()}; "
        "pass a partition_mapping such as PartitionMapping.multi_to_single(dimension_name=..., partition_mapping=...)"
    )
