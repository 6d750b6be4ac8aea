"""Time zones for time-window grids: loading zones and finding DST gaps.

A grid with a time zone ticks on the zone's *local wall clock*. Wall times
inside a spring-forward gap do not exist (what that means for a grid's ticks
is :mod:`rivers.partitions.time.timeline`'s business); ambiguous wall times (fall
back) are taken at their first occurrence (``fold=0``). This module finds the
gaps: :func:`gaps_between` lists the nonexistent wall-clock intervals
``[start, end)`` (microseconds on the naive timeline), found by sampling the
zone's UTC offset once a day and bisecting each change to the second.
Results are cached per zone and year.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions.time.formats import EPOCH, from_us, to_us

if TYPE_CHECKING:
    from datetime import tzinfo

__all__ = ["exists", "gap_at", "gaps_between", "load_zone", "wall_us"]

_US = 1_000_000
_DAY_S = 86_400


def load_zone(name: str) -> tzinfo:
    """The IANA zone ``name``.

    :raises PartitionDefinitionError: naming the zone when it is unknown.
    """
    if not isinstance(name, str):
        raise TypeError(f"timezone must be an IANA zone name (str), got {type(name).__name__}")
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PartitionDefinitionError(
            f"unknown timezone {name!r}: not an IANA time zone name ({exc}); use a name such as "
            "'UTC', 'Europe/Berlin' or 'America/New_York'"
        ) from None


def wall_us(moment: datetime, zone: tzinfo | None) -> int:
    """``moment`` as wall-clock microseconds of ``zone``.

    Aware datetimes are converted to the zone (or, without a zone, keep their
    own wall clock); naive ones are read as wall-clock times.
    """
    if moment.tzinfo is not None:
        moment = (moment.astimezone(zone) if zone is not None else moment).replace(tzinfo=None)
    return to_us(moment)


def _offset_s(zone: tzinfo, instant: int) -> int:
    """UTC offset of ``zone`` (whole seconds) at the UTC instant ``instant`` (seconds)."""
    offset = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if offset is None else int(offset.total_seconds())


@lru_cache(maxsize=8192)
def _year_gaps(zone: tzinfo, year: int) -> tuple[tuple[int, int], ...]:
    """Nonexistent wall-clock intervals of ``zone`` starting in ``year`` (microseconds)."""
    try:
        return _scan_year(zone, year)
    except (OverflowError, OSError, ValueError):  # outside what datetime/the platform can represent
        return ()


def _scan_year(zone: tzinfo, year: int) -> tuple[tuple[int, int], ...]:
    first = int((datetime(year, 1, 1) - EPOCH).total_seconds()) - 2 * _DAY_S
    last = first + 370 * _DAY_S
    gaps = []
    before, offset = first, _offset_s(zone, first)
    for instant in range(first + _DAY_S, last + 1, _DAY_S):
        after = _offset_s(zone, instant)
        if after == offset:
            before = instant
            continue
        low, high = before, instant  # offset(low) == offset, offset(high) == after
        while high - low > 1:
            middle = (low + high) // 2
            if _offset_s(zone, middle) == offset:
                low = middle
            else:
                high = middle
        if after > offset:  # spring forward: wall times [high + offset, high + after) are skipped
            start = (high + offset) * _US
            if from_us(start).year == year:
                gaps.append((start, (high + after) * _US))
        before, offset = instant, after
    return tuple(gaps)


def gaps_between(zone: tzinfo, low: int, high: int) -> list[tuple[int, int]]:
    """Nonexistent wall-clock intervals of ``zone`` overlapping ``[low, high)``, ascending."""
    if high <= low:
        return []
    first_year, last_year = from_us(low).year - 1, from_us(high).year
    return [
        gap
        for year in range(max(first_year, 1), min(last_year, 9999) + 1)
        for gap in _year_gaps(zone, year)
        if gap[1] > low and gap[0] < high
    ]


def gap_at(zone: tzinfo, t: int) -> tuple[int, int] | None:
    """The DST gap ``[start, end)`` of ``zone`` containing the wall-clock time ``t``, or None."""
    year = from_us(t).year
    for gap_year in (year - 1, year) if year > 1 else (year,):
        for start, end in _year_gaps(zone, gap_year):
            if start <= t < end:
                return start, end
    return None


def exists(zone: tzinfo, t: int) -> bool:
    """Whether the wall-clock time ``t`` exists in ``zone`` (is not inside a DST gap)."""
    return gap_at(zone, t) is None
