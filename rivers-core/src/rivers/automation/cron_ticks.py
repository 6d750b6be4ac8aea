"""Cron boundaries on the real clock: validating expressions and zones, finding the ticks between two instants.

Schedules, ``cron_tick_passed`` and ``on_cron`` all ask the same two
questions: "which tick comes after this instant?" and "which ticks fell in
``(after, until]``?". Instants are epoch seconds (floats); wall-clock
matching uses :class:`rivers.partitions.time.cron.CronSchedule` in the given IANA
zone (UTC when none). A wall time inside a spring-forward gap does not
exist and is skipped; an ambiguous one (fall back) fires at its first
occurrence.
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

from rivers.exceptions import PartitionDefinitionError

if TYPE_CHECKING:
    from datetime import tzinfo

    from rivers.partitions.time.cron import CronSchedule

__all__ = ["CronClock", "check_cron", "check_zone"]

_SEARCH_DAYS = 366 * 8  # a cron that matches at all matches within a leap cycle


def check_cron(expression: object) -> str | None:
    """The reason ``expression`` is not a valid cron schedule, or ``None`` when it is."""
    from rivers.partitions.time.cron import parse_cron

    if not isinstance(expression, str):
        return f"expected a str, got {type(expression).__name__}"
    try:
        parse_cron(expression)
    except PartitionDefinitionError as error:
        return str(error).split(": ", 1)[-1]
    return None


def check_zone(name: object) -> str | None:
    """The reason ``name`` is not a known IANA time zone, or ``None`` when it is."""
    if not isinstance(name, str):
        return f"expected a str, got {type(name).__name__}"
    try:
        _zone(name)
    except PartitionDefinitionError:
        return "not an IANA time zone name (e.g. 'UTC', 'Europe/Berlin', 'US/Eastern')"
    return None


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo:
    from rivers.partitions.time.zones import load_zone

    return load_zone(name)


class CronClock:
    """The ticks of one cron expression in one zone (``None``: UTC)."""

    __slots__ = ("expression", "zone_name", "_cron", "_zone", "_offsets")

    def __init__(self, expression: str, zone_name: str | None = None) -> None:
        from rivers.partitions.time.cron import parse_cron

        self.expression = expression
        self.zone_name = zone_name
        self._cron: CronSchedule = parse_cron(expression)
        self._zone: tzinfo = _zone(zone_name) if zone_name else timezone.utc
        self._offsets = [offset // 1_000_000 for offset in self._cron.time_offsets()]

    def next_after(self, instant: float) -> float:
        """The first tick strictly after ``instant`` (epoch seconds)."""
        for tick in self._ticks_from(instant):
            return tick
        raise ValueError(f"cron schedule {self.expression!r} never fires")  # pragma: no cover - rejected at parse

    def ticks_between(self, after: float, until: float, limit: int | None = None) -> list[float]:
        """The ticks in ``(after, until]``, oldest first; with ``limit`` only the newest ``limit`` of them."""
        found: list[float] = []
        for tick in self._ticks_from(after):
            if tick > until:
                break
            found.append(tick)
            if limit is not None and len(found) > limit:
                del found[0]
        return found

    def latest_at_or_before(self, instant: float, horizon: float) -> float | None:
        """The newest tick in ``(instant - horizon, instant]``, or ``None``."""
        ticks = self.ticks_between(instant - horizon, instant, limit=1)
        return ticks[-1] if ticks else None

    def _ticks_from(self, instant: float) -> Iterator[float]:
        zone = self._zone
        local = datetime.fromtimestamp(instant, zone)
        day = local.date()
        # on the first day, skip the offsets before the instant's wall time (a one-second cron has 86,400)
        start = bisect.bisect_left(self._offsets, local.hour * 3600 + local.minute * 60 + local.second - 3600)
        for _ in range(_SEARCH_DAYS):
            if self._cron.matches_date(day):
                midnight = datetime(day.year, day.month, day.day)
                for offset in self._offsets[start:] if start else self._offsets:
                    wall = midnight + timedelta(seconds=offset)
                    aware = wall.replace(tzinfo=zone)
                    moment = aware.timestamp()
                    if datetime.fromtimestamp(moment, zone).replace(tzinfo=None) != wall:
                        continue  # inside a DST gap: that wall time does not exist
                    if moment > instant:
                        yield moment
            day += timedelta(days=1)
            start = 0

    def __repr__(self) -> str:
        return f"CronClock({self.expression!r}, {self.zone_name!r})"
