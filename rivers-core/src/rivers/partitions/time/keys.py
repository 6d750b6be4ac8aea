"""The runtime of a time-window definition: keys <-> ticks, bounds, "now" and windows.

:class:`CompiledGrid` is what a valid ``TimeWindowPartitions`` compiles to:
its grid, zone, key format and wall-clock bounds (microseconds), plus caches
(parsed keys, the current timeline). :class:`TimeKeySource` exposes a
timeline's keys to :class:`~rivers.partitions.sequence.PartitionKeySequence`.
"""

from __future__ import annotations

import threading
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING

from rivers.partitions.time.grids import Grid
from rivers.partitions.sequence import KeySource, PartitionKeySequence
from rivers.partitions.time.formats import TimeFormat, from_us, to_us
from rivers.partitions.time.timeline import Timeline, window_start

if TYPE_CHECKING:
    from collections.abc import Iterator
    from datetime import tzinfo

__all__ = ["CompiledGrid", "TimeKeySource"]

_PARSE_CACHE_LIMIT = 8192
_UNSEEN = object()  # tick_of: a value not parsed yet


class CompiledGrid:
    """The parsed form of a valid definition: grid, zone, format and bounds (wall-clock microseconds)."""

    __slots__ = (
        "grid", "zone", "format", "start", "end", "end_offset",
        "_timeline", "_timeline_ceil", "_ticks", "_valid_through", "_lock",
    )

    def __init__(self, grid: Grid, zone: tzinfo | None, fmt: TimeFormat, start: int, end: int | None,
                 end_offset: int = 0) -> None:
        self.grid, self.zone, self.format, self.start, self.end = grid, zone, fmt, start, end
        #: open-ended grids: 0 offers the windows that have ended, 1 also the current one
        self.end_offset = end_offset
        self._timeline: Timeline | None = None
        self._timeline_ceil: int | None = None  # grid.ceil(bound) the cached timeline was built for
        self._ticks: dict[str, int | None] = {}  # key value -> tick (None: not a tick of the grid)
        self._valid_through = start - 1  # ticks before ``bound()`` as last computed: keys (the bound only grows)
        self._lock = threading.Lock()

    def now(self) -> int:
        """The wall clock now (in the zone, if any)."""
        if self.zone is None:
            return to_us(datetime.now())
        return to_us(datetime.now(self.zone).replace(tzinfo=None))

    def bound(self) -> int:
        """Ticks before this time are keys.

        Open-ended: the start of the current window (only windows that have
        ended are keys), or just after *now* with ``end_offset=1``.
        """
        if self.end is not None:
            return self.end
        now = self.now()
        if self.end_offset:
            return now + 1
        return self.current_window_start(now)

    def current_window_start(self, now: int) -> int:
        """The tick of the window containing ``now`` (``start`` when no window began yet)."""
        after = self.grid.ceil(now + 1)  # the first tick after now
        if after <= self.grid.ceil(self.start):
            return self.start
        return self.grid.tick(after - 1)

    def timeline(self) -> Timeline:
        """The current timeline (rebuilt only when an open-ended grid gained a tick)."""
        timeline = self._timeline
        if timeline is not None and self.end is not None:
            return timeline
        bound = self.bound()
        ceil = self.grid.ceil(bound)
        if timeline is not None and ceil == self._timeline_ceil:
            return timeline
        with self._lock:
            timeline = Timeline.build(self.grid, self.zone, self.start, bound)
            self._timeline, self._timeline_ceil = timeline, ceil
        return timeline

    def position_of(self, tick: int) -> int | None:
        """The position of ``tick`` among the current keys, or None.

        A tick of the cached timeline needs no clock reading: an open-ended
        timeline only grows at its end, so the positions it has never move.
        """
        timeline = self._timeline
        if timeline is not None:
            position = timeline.position_of(tick)
            if position is not None:
                return position
        return self.timeline().position_of(tick)

    def keys(self, timeline: Timeline | None = None) -> PartitionKeySequence:
        """The keys of ``timeline`` (default: the current one)."""
        return PartitionKeySequence(TimeKeySource(self, timeline or self.timeline()))

    def tick_of(self, value: str) -> int | None:
        """The tick whose key is ``value`` (on the grid, existing locally, not before start), or None."""
        tick = self._ticks.get(value, _UNSEEN)
        if tick is not _UNSEEN:
            return tick  # type: ignore[return-value]
        tick = self._parse(value)
        if len(self._ticks) >= _PARSE_CACHE_LIMIT:
            self._ticks.clear()
        self._ticks[value] = tick
        return tick

    def _parse(self, value: str) -> int | None:
        """The tick of ``value``, or None when it is no key (ticks before 1970 are negative, so None, not -1)."""
        parsed = self.format.parse(value)
        if parsed is None or self.format.format(parsed) != value:
            return None
        tick = to_us(parsed)
        if tick < self.start or not self.grid.contains(tick):
            return None
        if self.zone is not None and self.window_start(tick) is None:
            return None
        return tick

    def is_key(self, tick: int) -> bool:
        """Whether a tick returned by :meth:`tick_of` is before the bound."""
        if self.end is not None:
            return tick < self.end
        if tick <= self._valid_through:
            return True
        bound = self.bound()
        if bound - 1 > self._valid_through:
            self._valid_through = bound - 1  # later keys up to it need no clock reading
        return tick < bound

    def window_start(self, tick: int) -> int | None:
        """Where the window of grid tick ``tick`` starts locally (later inside a DST gap), or None if it has none."""
        g = self.grid.index(tick)
        if g is None:
            raise ValueError(f"{from_us(tick).isoformat()} is not a tick of the grid")
        return window_start(self.grid, self.zone, g)

    def window_end(self, tick: int) -> int:
        """The end of the window of grid tick ``tick``: where the next window starts."""
        g = self.grid.index(tick)
        if g is None:
            raise ValueError(f"{from_us(tick).isoformat()} is not a tick of the grid")
        while True:
            g += 1
            start = window_start(self.grid, self.zone, g)
            if start is not None:
                return start

    def windows_before(self, timeline: Timeline, t: int) -> int:
        """How many windows of ``timeline`` start before ``t`` (a tick moved by a DST gap starts late)."""
        count = timeline.rank(t)
        if count and self.zone is not None and self.window_start(timeline.tick(count - 1)) >= t:  # type: ignore[operator]
            count -= 1
        return count

    def window_position(self, timeline: Timeline, t: int) -> int | None:
        """The position of the window of ``timeline`` containing ``t``, or None."""
        position = self.windows_before(timeline, t + 1) - 1
        if position < 0:
            return None
        if position == len(timeline) - 1 and t >= self.window_end(timeline.tick(position)):
            return None
        return position

    def to_datetime(self, t: int) -> datetime:
        """A wall-clock tick as a datetime (aware in the zone, if any)."""
        moment = from_us(t)
        return moment if self.zone is None else moment.replace(tzinfo=self.zone)


class TimeKeySource(KeySource):
    """The keys of a timeline, rendered with the definition's format."""

    __slots__ = ("compiled", "timeline")

    def __init__(self, compiled: CompiledGrid, timeline: Timeline) -> None:
        self.compiled, self.timeline = compiled, timeline

    def __len__(self) -> int:
        return len(self.timeline)

    def display(self, index: int) -> str:
        if not 0 <= index < len(self.timeline):
            raise IndexError("partition key index out of range")
        return self.compiled.format.format(from_us(self.timeline.tick(index)))

    def position_of_value(self, value: str) -> int | None:
        tick = self.compiled.tick_of(value)
        return None if tick is None else self.timeline.position_of(tick)

    def displays(self, positions: range) -> Iterator[str]:
        render = self.compiled.format.render_ticks
        runs = self.timeline.tick_runs(positions)
        if len(runs) == 1:
            return render(runs[0])
        return chain.from_iterable(map(render, runs))
