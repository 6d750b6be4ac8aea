"""Partition status of one asset, stored as ranges of partition positions.

A partitioned asset's keys have an order (its partitions definition's
``get_partition_keys()``); a status view needs, for 100,000 keys, which are
materialized, failed or in progress. :class:`PartitionStatusRanges` keeps,
per status, sorted disjoint half-open ranges ``[start, stop)`` of positions
in that order, so a store writes and reads a handful of ranges instead of
one row per key, and counts are sums over ranges.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Iterator
from typing import Final

from rivers.exceptions import StorageError

__all__ = ["PARTITION_STATUSES", "PartitionStatusRanges"]

#: The statuses a partition can be recorded with (a partition in none of them is missing).
PARTITION_STATUSES: Final = ("materialized", "failed", "in_progress")


class PartitionStatusRanges:
    """Per status, sorted disjoint half-open ranges of partition positions; a position has at most one status."""

    __slots__ = ("_starts", "_stops", "_statuses")

    def __init__(self) -> None:
        # one sorted list of disjoint segments over every status: starts[i] < stops[i] <= starts[i + 1]
        self._starts: list[int] = []
        self._stops: list[int] = []
        self._statuses: list[str] = []

    # -- changes ---------------------------------------------------------------

    def set(self, status: str, start: int, stop: int | None = None) -> PartitionStatusRanges:
        """Give positions ``[start, stop)`` (``stop`` defaults to ``start + 1``) the status ``status``."""
        if status not in PARTITION_STATUSES:
            expected = ", ".join(map(repr, PARTITION_STATUSES))
            raise StorageError(f"unknown partition status {status!r}; expected one of {expected}")
        start, stop = _check_range(start, stop)
        self._cut(start, stop)
        index = bisect.bisect_left(self._starts, start)
        self._starts.insert(index, start)
        self._stops.insert(index, stop)
        self._statuses.insert(index, status)
        self._merge_around(index)
        return self

    def clear(self, start: int, stop: int | None = None) -> PartitionStatusRanges:
        """Forget the status of positions ``[start, stop)`` (they become missing)."""
        start, stop = _check_range(start, stop)
        self._cut(start, stop)
        return self

    def _cut(self, start: int, stop: int) -> None:
        """Remove ``[start, stop)`` from every segment (splitting the ones that straddle it)."""
        starts, stops, statuses = self._starts, self._stops, self._statuses
        first = bisect.bisect_right(stops, start)  # first segment ending after start
        last = bisect.bisect_left(starts, stop)  # segments [first, last) overlap
        if first >= last:
            return
        keep_starts: list[int] = []
        keep_stops: list[int] = []
        keep_statuses: list[str] = []
        if starts[first] < start:
            keep_starts.append(starts[first])
            keep_stops.append(start)
            keep_statuses.append(statuses[first])
        if stops[last - 1] > stop:
            keep_starts.append(stop)
            keep_stops.append(stops[last - 1])
            keep_statuses.append(statuses[last - 1])
        starts[first:last] = keep_starts
        stops[first:last] = keep_stops
        statuses[first:last] = keep_statuses

    def _merge_around(self, index: int) -> None:
        """Join segment ``index`` with touching neighbours of the same status."""
        starts, stops, statuses = self._starts, self._stops, self._statuses
        if index + 1 < len(starts) and stops[index] == starts[index + 1] and statuses[index + 1] == statuses[index]:
            stops[index] = stops[index + 1]
            del starts[index + 1], stops[index + 1], statuses[index + 1]
        if index > 0 and stops[index - 1] == starts[index] and statuses[index - 1] == statuses[index]:
            stops[index - 1] = stops[index]
            del starts[index], stops[index], statuses[index]

    # -- reads -----------------------------------------------------------------

    def status_of(self, position: int) -> str | None:
        """The status of ``position``, or ``None`` (missing)."""
        index = bisect.bisect_right(self._starts, position) - 1
        if index >= 0 and position < self._stops[index]:
            return self._statuses[index]
        return None

    def ranges(self, status: str) -> list[tuple[int, int]]:
        """The ``[start, stop)`` ranges with ``status``, in order."""
        return [(a, b) for a, b, s in zip(self._starts, self._stops, self._statuses) if s == status]

    def segments(self) -> Iterator[tuple[int, int, str]]:
        """Every ``(start, stop, status)`` segment, in position order."""
        return iter(zip(self._starts, self._stops, self._statuses))

    def count(self, status: str) -> int:
        """How many positions have ``status``."""
        return sum(b - a for a, b, s in zip(self._starts, self._stops, self._statuses) if s == status)

    def counts(self) -> dict[str, int]:
        """``{status: count}`` for every status (zeros included)."""
        counts = dict.fromkeys(PARTITION_STATUSES, 0)
        for a, b, s in zip(self._starts, self._stops, self._statuses):
            counts[s] += b - a
        return counts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionStatusRanges):
            return NotImplemented
        return list(self.segments()) == list(other.segments())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PartitionStatusRanges({list(self.segments())!r})"

    # -- stored form -------------------------------------------------------------

    def to_json(self) -> str:
        """Compact JSON text ``[[start, stop, status], ...]`` (what backends store)."""
        return json.dumps([[a, b, s] for a, b, s in self.segments()], separators=(",", ":"))

    @classmethod
    def from_segments(cls, segments: Iterable[Iterable[object]]) -> PartitionStatusRanges:
        """Build from ``(start, stop, status)`` segments (any order; later ones win on overlap)."""
        ranges = cls()
        for start, stop, status in segments:  # type: ignore[misc]
            ranges.set(status, start, stop)  # type: ignore[arg-type]
        return ranges

    @classmethod
    def from_json(cls, text: str | None) -> PartitionStatusRanges:
        """Inverse of :meth:`to_json` (``None`` or ``""``: empty)."""
        ranges = cls()
        if text:
            for start, stop, status in json.loads(text):
                ranges._starts.append(start)
                ranges._stops.append(stop)
                ranges._statuses.append(status)
        return ranges


def _check_range(start: int, stop: int | None) -> tuple[int, int]:
    if stop is None and not isinstance(start, bool) and isinstance(start, int):
        stop = start + 1
    for label, value in (("start", start), ("stop", stop)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise StorageError(f"partition position {label} must be a non-negative int, got {value!r}")
    assert stop is not None
    if stop <= start:
        raise StorageError(f"partition range [{start}, {stop}) is empty; stop must be greater than start")
    return start, stop
