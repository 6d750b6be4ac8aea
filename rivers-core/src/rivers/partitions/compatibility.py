"""Whether the partitioned assets of a job share partition keys (checked at ``validate()`` / ``resolve()``).

A job runs one partition key at a time for all its partitioned assets, so
their definitions must have keys in common. The definitions are folded
pairwise: the common part of the first two (their intersection) is
compared with the third, and so on. Incompatible when:

* static definitions have no key in common;
* the kinds differ (static, time window, dynamic, multi, a plugin type);
* time windows differ in cadence (cron or interval), phase, key format or
  timezone, or their date ranges do not overlap;
* multi definitions have different dimension names, or a dimension has
  nothing in common (the reason names the dimension);
* dynamic definitions use different namespaces.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Iterable

from rivers.exceptions import PartitionValidationError

__all__ = ["check_job_partitions", "intersect"]


class _Incompatible(Exception):
    """Why two definitions have no key in common (internal: turned into a PartitionValidationError)."""


def _kind(definition: Any) -> str:
    from rivers.partitions.base import PartitionsDefinition

    for variant in ("Static", "TimeWindow", "Multi", "Dynamic"):
        if isinstance(definition, getattr(PartitionsDefinition, variant)):
            return variant
    return type(definition).__name__


def _shown(values: list[str], limit: int = 5) -> str:
    items = ", ".join(f'"{value}"' for value in values[:limit])
    return f"[{items}{', ...' if len(values) > limit else ''}]"


def intersect(left: Any, right: Any) -> Any:
    """The common part of two definitions (a definition), or raise ``_Incompatible`` saying why."""
    kind, other = _kind(left), _kind(right)
    if kind != other:
        raise _Incompatible(f"different partition kinds ({kind} vs {other})")
    if left == right:
        return left
    if kind == "Static":
        return _intersect_static(left, right)
    if kind == "TimeWindow":
        return _intersect_time(left, right)
    if kind == "Dynamic":
        raise _Incompatible(f"Dynamic namespace mismatch ('{left.name}' vs '{right.name}')")
    if kind == "Multi":
        return _intersect_multi(left, right)
    return _intersect_keys(left, right, kind)


def _intersect_static(left: Any, right: Any) -> Any:
    from rivers.partitions.base import PartitionsDefinition

    left_keys = [str(key) for key in left.get_partition_keys()]
    right_keys = [str(key) for key in right.get_partition_keys()]
    wanted = set(right_keys)
    common = [key for key in left_keys if key in wanted]
    if not common:
        raise _Incompatible(f"disjoint Static keys ({_shown(left_keys)} vs {_shown(right_keys)})")
    return PartitionsDefinition.Static(common)


def _cadence(definition: Any) -> str:
    if definition.cron_schedule is not None:
        return f"cron='{definition.cron_schedule}'"
    return f"interval={definition.interval_seconds:g}s"


def _bound(moment: datetime | None) -> str:
    return "∞" if moment is None else moment.isoformat()


def _intersect_time(left: Any, right: Any) -> Any:
    from rivers.partitions.time.window import TimeWindowPartitions

    if _cadence(left) != _cadence(right):
        raise _Incompatible(f"TimeWindow cadence mismatch ({_cadence(left)} vs {_cadence(right)})")
    if left.fmt != right.fmt:
        raise _Incompatible(f"TimeWindow key formats differ (fmt '{left.fmt}' vs '{right.fmt}')")
    if left.timezone != right.timezone:
        raise _Incompatible(f"TimeWindow timezones differ ({left.timezone!r} vs {right.timezone!r})")
    if left.interval_seconds is not None:
        step = timedelta(seconds=left.interval_seconds)
        if (right.start - left.start) % step:
            raise _Incompatible(
                f"TimeWindow grids are not aligned (interval {left.interval_seconds:g}s starting "
                f"{left.start.isoformat()} vs {right.start.isoformat()})"
            )
    start = max(left.start, right.start)
    ends = [end for end in (left.end, right.end) if end is not None]
    end = min(ends) if ends else None
    if end is not None and end <= start:
        raise _Incompatible(
            f"TimeWindow date ranges don't overlap ([{_bound(left.start)}, {_bound(left.end)}) vs "
            f"[{_bound(right.start)}, {_bound(right.end)}))"
        )
    # the grid whose start is the later one keeps its phase; only the range narrows
    base = left if left.start >= right.start else right
    return TimeWindowPartitions(base.start, base.cron_schedule, base.interval_seconds, end, base.fmt,
                                base.timezone)


def _intersect_multi(left: Any, right: Any) -> Any:
    from rivers.partitions.base import PartitionsDefinition

    left_names, right_names = left.dimension_names, right.dimension_names
    if sorted(left_names) != sorted(right_names):
        raise _Incompatible(f"Multi dimension name mismatch ({_shown(left_names)} vs {_shown(right_names)})")
    dimensions = {}
    for name in left_names:
        try:
            dimensions[name] = intersect(left.dimension(name), right.dimension(name))
        except _Incompatible as reason:
            raise _Incompatible(f"in dimension '{name}': {reason}") from None
    return PartitionsDefinition.Multi(dimensions)


def _intersect_keys(left: Any, right: Any, kind: str) -> Any:
    """Two unequal definitions of one plugin type: compatible when they enumerate a common key."""
    try:
        left_keys = {str(key) for key in left.get_partition_keys()}
        right_keys = {str(key) for key in right.get_partition_keys()}
    except (NotImplementedError, TypeError):
        return left  # not enumerable without storage: checked per key when a run is submitted
    if not left_keys & right_keys:
        raise _Incompatible(f"disjoint {kind} keys")
    return left


def check_job_partitions(job_name: str, graph: Any, nodes: Iterable[str] | None) -> None:
    """Raise ``PartitionValidationError`` unless the job's partitioned assets share partition keys."""
    names = list(graph.nodes) if nodes is None else list(nodes)
    common = None
    folded: list[str] = []
    for name in names:
        definition = graph.nodes[name].partitions_def
        if definition is None:
            continue
        if common is None:
            common, folded = definition, [name]
            continue
        try:
            common = intersect(common, definition)
        except _Incompatible as reason:
            members = ", ".join(f'"{member}"' for member in folded)
            raise PartitionValidationError(
                f"Job '{job_name}' has incompatible partition definitions: assets [{members}] intersect, but "
                f"adding '{name}' fails: {reason}. A job runs one partition key at a time for all its "
                "partitioned assets: put these assets in separate jobs or give them overlapping definitions"
            ) from None
        folded.append(name)
