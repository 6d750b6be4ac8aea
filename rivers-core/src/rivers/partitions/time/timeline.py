"""The ticks of one time-window definition: a grid cut to ``[start, bound)`` minus nonexistent local times.

Positions (0 .. len-1) are the partitions in chronological order. With a
time zone, a grid tick inside a DST gap (a local time that does not exist)
moves to the end of the gap, the first local time that does exist, as cron
does, unless the grid has another tick at or before that end: then the tick
opens no window and is skipped. So an hourly grid loses the hour that spring
forward skips, while a daily grid whose midnight falls in a gap keeps that
day, starting when the gap ends (:func:`window_start`). The skipped global
indices are kept as a short sorted list of intervals (one or two per year),
so position <-> global index conversions stay O(log n).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from itertools import chain
from typing import TYPE_CHECKING

from rivers.partitions.time.grids import Grid
from rivers.partitions.time.zones import gap_at, gaps_between

if TYPE_CHECKING:
    from datetime import tzinfo

__all__ = ["Timeline", "window_start"]


def window_start(grid: Grid, zone: tzinfo | None, g: int) -> int | None:
    """Where the window of grid tick ``g`` starts on the local wall clock, or None when it opens none.

    That is the tick itself when it exists; the end of the DST gap it falls
    in when the grid's next tick comes after that end; None otherwise.
    """
    t = grid.tick(g)
    if zone is None:
        return t
    gap = gap_at(zone, t)
    if gap is None:
        return t
    return gap[1] if grid.tick(g + 1) > gap[1] else None


class Timeline:
    """Grid ticks ``t`` with ``start <= t < bound`` that exist on the local wall clock."""

    __slots__ = ("grid", "zone", "first", "stop", "_skip_starts", "_skip_ends", "_positions", "_skipped", "_length")

    def __init__(self, grid: Grid, zone: tzinfo | None, first: int, stop: int, skips: list[tuple[int, int]]) -> None:
        self.grid, self.zone, self.first, self.stop = grid, zone, first, stop
        self._skip_starts = [a for a, _ in skips]
        self._skip_ends = [b for _, b in skips]
        # _skipped[k]: global indices skipped by the first k skips; _positions[k]: position where skip k occurs
        self._skipped = [0]
        self._positions = []
        for a, b in skips:
            self._positions.append(a - first - self._skipped[-1])
            self._skipped.append(self._skipped[-1] + b - a)
        self._length = stop - first - self._skipped[-1]

    @classmethod
    def build(cls, grid: Grid, zone: tzinfo | None, start: int, bound: int) -> Timeline:
        """The ticks in ``[start, bound)`` (microseconds, wall clock) existing in ``zone``."""
        first = grid.ceil(start)
        stop = max(first, grid.ceil(bound))
        skips: list[tuple[int, int]] = []
        if zone is not None and stop > first:
            for low, high in gaps_between(zone, grid.tick(first), grid.tick(stop - 1) + 1):
                after = grid.ceil(high)  # the first tick at or after the gap's end
                last_skipped = after if grid.tick(after) == high else after - 1  # see window_start
                skip = (max(grid.ceil(low), first), min(last_skipped, stop))
                if skip[1] > skip[0]:
                    skips.append(skip)
        return cls(grid, zone, first, stop, skips)

    def __len__(self) -> int:
        return self._length

    def global_index(self, position: int) -> int:
        """The grid index of the tick at ``position`` (0 <= position < len)."""
        if not self._positions:
            return self.first + position
        return self.first + position + self._skipped[bisect_right(self._positions, position)]

    def position_of_global(self, g: int) -> int | None:
        """The position of grid tick ``g``, or None when it is outside or skipped."""
        if not self.first <= g < self.stop:
            return None
        if not self._skip_starts:
            return g - self.first
        k = bisect_right(self._skip_starts, g)
        if k and g < self._skip_ends[k - 1]:
            return None
        return g - self.first - self._skipped[k]

    def tick(self, position: int) -> int:
        """The time of the tick at ``position``."""
        return self.grid.tick(self.global_index(position))

    def position_of(self, t: int) -> int | None:
        """The position of the tick exactly at ``t``, or None."""
        g = self.grid.index(t)
        return None if g is None else self.position_of_global(g)

    def rank(self, t: int) -> int:
        """How many ticks of the timeline are before ``t``."""
        g = min(max(self.grid.ceil(t), self.first), self.stop)
        k = bisect_right(self._skip_starts, g)
        skipped = self._skipped[k]
        if k and g < self._skip_ends[k - 1]:
            skipped -= self._skip_ends[k - 1] - g
        return g - self.first - skipped

    def ticks(self, positions: range) -> Iterable[int]:
        """The times of the ticks at ``positions``."""
        runs = self.tick_runs(positions)
        return runs[0] if len(runs) == 1 else chain.from_iterable(runs)

    def tick_runs(self, positions: range) -> list[Iterable[int]]:
        """The times of the ticks at ``positions`` as consecutive runs of the grid.

        For an ascending contiguous ``positions`` each run is what
        ``grid.ticks`` returns (a ``range`` for evenly spaced grids), split
        only where DST gaps skip ticks.
        """
        if positions.step != 1:
            return [map(self.tick, positions)]
        start, stop = positions.start, positions.stop
        if stop <= start:
            return []
        if not self._positions:
            return [self.grid.ticks(self.first + start, self.first + stop)]
        runs = []
        bounds = [0, *self._positions, self._length]
        for k in range(len(bounds) - 1):
            low, high = max(bounds[k], start), min(bounds[k + 1], stop)
            if low < high:
                offset = self.first + self._skipped[k]
                runs.append(self.grid.ticks(low + offset, high + offset))
        return runs
