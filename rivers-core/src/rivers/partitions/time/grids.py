"""Tick grids on the naive wall-clock timeline (integer microseconds since 1970-01-01).

A grid numbers its ticks with *global indices*: ``ceil(t)`` is the index of
the first tick at or after ``t``, ``tick(g)`` the time of tick ``g``,
``index(t)`` the index of the tick exactly at ``t`` (or None).

* :class:`PeriodicGrid` — ``anchor + q * period + offsets[j]``: intervals and
  regular crons (hourly, daily, every N minutes, weekdays at 9:00, ...).
  Everything is arithmetic plus a bisect within one period.
* :class:`IrregularGrid` — crons restricted by month or day of month
  (monthly, quarterly, ...): the ticks from an origin on are materialised on
  demand into a compact ``array('q')``, a year at a time, and searched with
  bisect.
"""

from __future__ import annotations

import threading
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from datetime import date
from functools import lru_cache

from rivers.partitions.time.cron import CronSchedule
from rivers.partitions.time.formats import DAY_US, EPOCH, from_us

__all__ = ["Grid", "IrregularGrid", "PeriodicGrid", "cron_grid", "interval_grid"]

_WEEK_US = 7 * DAY_US
_MONDAY_US = 4 * DAY_US  # 1970-01-05 was a Monday
_EPOCH_ORDINAL = EPOCH.toordinal()
_LAST_ORDINAL = date(9999, 12, 31).toordinal()


class Grid:
    """Interface of tick grids (see the module docstring)."""

    __slots__ = ()

    def ceil(self, t: int) -> int:
        """Global index of the first tick at or after ``t``."""
        raise NotImplementedError

    def tick(self, g: int) -> int:
        """Time of tick ``g``."""
        raise NotImplementedError

    def index(self, t: int) -> int | None:
        """Global index of the tick exactly at ``t``, or None."""
        raise NotImplementedError

    def contains(self, t: int) -> bool:
        """Whether ``t`` is a tick (cheap: never materialises ticks)."""
        raise NotImplementedError

    def ticks(self, first: int, stop: int) -> Iterable[int]:
        """Times of ticks ``first`` .. ``stop - 1``."""
        return map(self.tick, range(first, stop))


class PeriodicGrid(Grid):
    """Ticks ``anchor + q * period + offsets[j]`` for every integer ``q``."""

    __slots__ = ("anchor", "period", "offsets", "count")

    def __init__(self, anchor: int, period: int, offsets: tuple[int, ...]) -> None:
        count = len(offsets)
        step = offsets[1] - offsets[0] if count > 1 else period
        if step * count == period and all(b - a == step for a, b in zip(offsets, offsets[1:])):
            anchor, period, offsets, count = anchor + offsets[0], step, (0,), 1  # evenly spaced: one tick per step
        self.anchor, self.period, self.offsets, self.count = anchor, period, offsets, count

    @property
    def step(self) -> int | None:
        """The fixed distance between ticks, or None when it varies."""
        return self.period if self.count == 1 else None

    def ceil(self, t: int) -> int:
        q, r = divmod(t - self.anchor, self.period)
        if self.count == 1:
            return q + (r > 0)
        return q * self.count + bisect_left(self.offsets, r)

    def tick(self, g: int) -> int:
        if self.count == 1:
            return self.anchor + g * self.period
        q, j = divmod(g, self.count)
        return self.anchor + q * self.period + self.offsets[j]

    def index(self, t: int) -> int | None:
        q, r = divmod(t - self.anchor, self.period)
        if self.count == 1:
            return q if r == 0 else None
        j = bisect_left(self.offsets, r)
        if j < self.count and self.offsets[j] == r:
            return q * self.count + j
        return None

    def contains(self, t: int) -> bool:
        return self.index(t) is not None

    def ticks(self, first: int, stop: int) -> Iterable[int]:
        if self.count == 1:
            start = self.tick(first)
            return range(start, start + (stop - first) * self.period, self.period)
        return map(self.tick, range(first, stop))


class IrregularGrid(Grid):
    """The ticks of a cron schedule from ``origin`` on, materialised on demand.

    Global index 0 is the first tick at or after ``origin``; earlier times
    have no index.
    """

    __slots__ = ("cron", "origin", "_offsets", "_ticks", "_next_ordinal", "_lock")

    def __init__(self, cron: CronSchedule, origin: int) -> None:
        self.cron = cron
        self.origin = origin
        self._offsets = cron.time_offsets()
        self._ticks = array("q")
        self._next_ordinal = _EPOCH_ORDINAL + origin // DAY_US  # first day not yet scanned
        self._lock = threading.Lock()

    def _scan_until(self, t: int | None = None, count: int | None = None) -> None:
        """Materialise ticks until the horizon passes ``t`` / at least ``count`` ticks exist."""
        with self._lock:
            while (t is not None and self._horizon() <= t) or (count is not None and len(self._ticks) < count):
                if not self._scan_year():
                    return

    def _scan_year(self) -> bool:
        """Materialise the ticks of the next (up to) 366 days; False past year 9999."""
        first = self._next_ordinal
        if first > _LAST_ORDINAL:
            return False
        last = min(first + 366, _LAST_ORDINAL + 1)
        matches, origin, offsets, ticks = self.cron.matches_date, self.origin, self._offsets, self._ticks
        for ordinal in range(first, last):
            if matches(date.fromordinal(ordinal)):
                base = (ordinal - _EPOCH_ORDINAL) * DAY_US
                ticks.extend(t for t in (base + offset for offset in offsets) if t >= origin)
        self._next_ordinal = last
        return True

    def _horizon(self) -> int:
        """Every tick before this time is materialised."""
        return (self._next_ordinal - _EPOCH_ORDINAL) * DAY_US

    def ceil(self, t: int) -> int:
        if t <= self.origin:
            return 0
        if self._horizon() <= t:
            self._scan_until(t=t)
        return bisect_left(self._ticks, t)

    def tick(self, g: int) -> int:
        if g < 0:
            raise IndexError(f"tick {g} is before the origin of the grid")
        if len(self._ticks) <= g:
            self._scan_until(count=g + 1)
            if len(self._ticks) <= g:
                raise IndexError(f"tick {g} is after year 9999")
        return self._ticks[g]

    def index(self, t: int) -> int | None:
        if not self.contains(t):
            return None
        return self.ceil(t)

    def contains(self, t: int) -> bool:
        return t >= self.origin and self.cron.matches(from_us(t))

    def ticks(self, first: int, stop: int) -> Iterable[int]:
        if stop > first:
            self.tick(stop - 1)
        return self._ticks[first:stop]


def interval_grid(start: int, interval: int) -> PeriodicGrid:
    """A tick every ``interval`` microseconds, anchored at ``start``."""
    return PeriodicGrid(start, interval, (0,))


def cron_grid(cron: CronSchedule, origin: int) -> Grid:
    """The grid of ``cron``: periodic when regular, else materialised from ``origin`` on."""
    if not cron.regular:
        return IrregularGrid(cron, origin)
    return _periodic_cron_grid(cron)


@lru_cache(maxsize=256)
def _periodic_cron_grid(cron: CronSchedule) -> PeriodicGrid:
    """The (immutable, shared) grid of a regular cron: a daily or weekly pattern."""
    day_offsets = tuple(cron.time_offsets())
    if cron.day_rule == "all":
        return PeriodicGrid(0, DAY_US, day_offsets)
    weekdays = [w for w in range(7) if (w + 1) % 7 in cron.weekdays]  # Monday-based
    offsets = tuple(w * DAY_US + offset for w in weekdays for offset in day_offsets)
    return PeriodicGrid(_MONDAY_US, _WEEK_US, offsets)
