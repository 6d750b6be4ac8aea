"""Time-window partitions: one key per tick of a cron or interval grid.

Without a time zone, keys are wall-clock labels on a naive timeline (no DST
effects, identical on every host). With ``timezone=`` the grid ticks on that
zone's local wall clock: ticks inside a spring-forward gap are skipped, an
ambiguous tick is its first occurrence, and windows are timezone-aware.

A key is ``fmt`` applied to its window's start; the window is ``[tick, next
tick)``. The keys are the ticks ``t`` with ``start <= t < end``; with
``end=None`` they are the windows that have ended by *now*: the current,
unfinished window is a key only with ``end_offset=1``.
Nothing here enumerates the grid to validate or look up a key: keys are
parsed with ``fmt`` and placed on the grid arithmetically.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from typing import Any, ClassVar

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions.base import DynamicKeys, PartitionsDefinition, attach_variant
from rivers.partitions.time.cron import parse_cron
from rivers.partitions.time.cron import DAILY_CRON, HOURLY_CRON
from rivers.partitions.time.grids import cron_grid, interval_grid
from rivers.partitions.keys import KEY_RESERVED, PartitionKey, quoted, reserved_character, single_values
from rivers.partitions.sequence import PartitionKeySequence
from rivers.partitions.time.keys import CompiledGrid
from rivers.partitions.time.formats import DAY_US, compile_format, from_us
from rivers.partitions.time.zones import load_zone, wall_us

__all__ = ["DAILY_CRON", "DEFAULT_FMT", "HOURLY_CRON", "TimeWindowPartitions"]

#: Key format of ``time_window`` grids when no ``fmt`` is given.
DEFAULT_FMT = "%Y-%m-%dT%H:%M:%S"
_FMT_CHECK_WINDOWS = 1024
_FMT_CHECK_SPAN = 4 * 366 * DAY_US
_checked_formats: set[tuple[Any, ...]] = set()


def _require_datetime(value: Any, name: str, zone_given: bool) -> None:
    """``start``/``end`` must be ``datetime.datetime``; naive unless a zone is given.

    :raises TypeError: naming the parameter.
    """
    if not isinstance(value, datetime):
        hint = " (a date is not enough: use datetime.datetime(y, m, d))" if isinstance(value, date) else ""
        raise TypeError(f"{name} must be a datetime.datetime, got {type(value).__name__}{hint}")
    if value.tzinfo is not None and not zone_given:
        raise TypeError(
            f"expected a datetime without tzinfo for {name} (got {value.isoformat()}); pass a naive wall-clock "
            "datetime, or give timezone='Area/City' to use aware datetimes"
        )


def _interval_us(interval_seconds: Any) -> int:
    """``interval_seconds`` in microseconds (the resolution of datetime keys)."""
    if isinstance(interval_seconds, bool) or not isinstance(interval_seconds, (int, float)):
        raise PartitionDefinitionError(
            f"interval_seconds must be a number of seconds, got {type(interval_seconds).__name__}"
        )
    if not math.isfinite(interval_seconds) or interval_seconds * 1e9 < 1:
        raise PartitionDefinitionError(
            f"interval_seconds must be positive and at least 1 nanosecond, got {interval_seconds}"
        )
    micros = round(interval_seconds * 1_000_000)
    if micros < 1 or abs(interval_seconds * 1_000_000 - micros) > 1e-3:
        raise PartitionDefinitionError(
            f"interval_seconds={interval_seconds} is finer than the microsecond resolution of partition keys "
            "(Python datetimes); use a multiple of 0.000001 seconds"
        )
    return micros


class TimeWindowPartitions(PartitionsDefinition):
    """``PartitionsDefinition.TimeWindow``: windows of a cron or interval grid.

    Attributes ``start``, ``end``, ``cron_schedule``, ``interval_seconds``,
    ``fmt``, ``timezone`` and ``end_offset`` are as given. The raw constructor skips every
    check (:meth:`check` runs them; the factories do both).
    """

    __slots__ = ("start", "cron_schedule", "interval_seconds", "end", "fmt", "timezone", "end_offset", "_compiled")

    kind: ClassVar[str] = "time_window"

    def __init__(
        self,
        start: datetime,
        cron_schedule: str | None = None,
        interval_seconds: float | None = None,
        end: datetime | None = None,
        fmt: str | None = None,
        timezone: str | None = None,
        end_offset: int = 0,
    ) -> None:
        self.start = start
        self.cron_schedule = cron_schedule
        self.interval_seconds = interval_seconds
        self.end = end
        self.fmt = DEFAULT_FMT if fmt is None else fmt
        self.timezone = timezone
        self.end_offset = end_offset
        self._compiled: CompiledGrid | None = None

    @classmethod
    def create(
        cls,
        start: datetime,
        cron_schedule: str | None,
        interval_seconds: float | None,
        end: datetime | None,
        fmt: str | None,
        timezone: str | None,
        end_offset: int = 0,
    ) -> TimeWindowPartitions:
        """Build and check (the ``daily``/``hourly``/``time_window`` factories)."""
        cls._check_types(start, end, fmt, timezone)
        definition = cls(start, cron_schedule, interval_seconds, end, fmt, timezone, end_offset)
        definition.check()
        return definition

    @staticmethod
    def _check_types(start: Any, end: Any, fmt: Any, timezone: Any) -> None:
        zone_given = timezone is not None
        _require_datetime(start, "start", zone_given)
        if end is not None:
            _require_datetime(end, "end", zone_given)
        if fmt is not None and not isinstance(fmt, str):
            raise TypeError(f"fmt must be a strftime format str, got {type(fmt).__name__}")

    # ------------------------------------------------------------------
    # Compilation and checks
    # ------------------------------------------------------------------

    def _state(self) -> CompiledGrid:
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        return compiled

    def _compile(self) -> CompiledGrid:
        try:
            self._check_types(self.start, self.end, self.fmt, self.timezone)
        except TypeError as exc:
            raise PartitionDefinitionError(f"{exc} ({self!r})") from None
        zone = load_zone(self.timezone) if self.timezone is not None else None
        start = wall_us(self.start, zone)
        end = wall_us(self.end, zone) if self.end is not None else None
        if self.cron_schedule is None and self.interval_seconds is None:
            raise PartitionDefinitionError("time_window requires either cron_schedule or interval_seconds")
        if self.cron_schedule is not None and self.interval_seconds is not None:
            raise PartitionDefinitionError("time_window accepts cron_schedule or interval_seconds, not both")
        if self.cron_schedule is not None:
            cron = parse_cron(self.cron_schedule)
            if start % 1_000_000:
                raise PartitionDefinitionError(
                    f"cron-based partitions require a start on a whole second, got {from_us(start).isoformat()}; "
                    "drop the fraction, e.g. start.replace(microsecond=0)"
                )
            grid = cron_grid(cron, start)
        else:
            grid = interval_grid(start, _interval_us(self.interval_seconds))
        offset = self.end_offset
        if isinstance(offset, bool) or offset not in (0, 1):
            raise PartitionDefinitionError(
                f"end_offset must be 0 (only windows that have ended are partitions) or 1 (the current window "
                f"too), got {offset!r}"
            )
        return CompiledGrid(grid, zone, compile_format(self.fmt), start, end, offset)

    def check(self) -> None:
        """Validate types, grid, zone and ``fmt`` (reserved characters and the round-trip rule)."""
        compiled = self._state()
        token = (self.cron_schedule, self.interval_seconds, compiled.start, self.fmt)
        if token not in _checked_formats:
            self._check_format(compiled)
            if len(_checked_formats) > 4096:
                _checked_formats.clear()
            _checked_formats.add(token)

    def _check_format(self, compiled: CompiledGrid) -> None:
        """Every window start of the first four years (at most 1024) must format and parse back to itself.

        Rendered keys must not contain a reserved character either (for
        fixed-width formats only the literal text of ``fmt`` can).
        """
        grid, fmt = compiled.grid, compiled.format
        first = grid.ceil(compiled.start)
        stop = max(first + 1, min(first + _FMT_CHECK_WINDOWS, grid.ceil(grid.tick(first) + _FMT_CHECK_SPAN)))
        moments = list(fmt.moments(grid.ticks(first, stop)))
        for text in [fmt.literals] if fmt.fixed_width else map(fmt.format, moments):
            char = reserved_character(text, KEY_RESERVED)
            if char is not None:
                raise PartitionDefinitionError(
                    f"fmt '{self.fmt}' produces keys containing reserved character '{char}' "
                    f"(e.g. '{fmt.format(moments[0])}'), which the canonical display form uses as a separator; "
                    "use another separator such as '-'"
                )
        failure = fmt.round_trip_failure(moments)
        if failure is not None:
            moment, text, parsed = failure
            back = "does not parse back with the fmt" if parsed is None else f"parses back to {parsed.isoformat()}"
            raise PartitionDefinitionError(
                f"fmt '{self.fmt}' cannot represent the partition grid: window start {moment.isoformat()} formats "
                f"to '{text}', which {back}; use a format at least as fine as the grid"
            )

    # ------------------------------------------------------------------
    # Engine contract
    # ------------------------------------------------------------------

    def get_partition_keys(self, *, dynamic_partitions: DynamicKeys | None = None) -> PartitionKeySequence:
        return self._state().keys()

    def validate_partition_key(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> bool:
        values = single_values(key)
        if values is None:
            return False
        compiled = self._state()
        for value in values:
            tick = compiled.tick_of(value)
            if tick is None or not compiled.is_key(tick):
                return False
        return True

    def index_of(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> int | None:
        values = single_values(key)
        if values is None or len(values) != 1:
            return None
        compiled = self._state()
        tick = compiled.tick_of(values[0])
        return None if tick is None else compiled.position_of(tick)

    def nearest_key(self, text: str, *, dynamic_partitions: DynamicKeys | None = None) -> str | None:
        """The key of the window containing ``text`` (parsed with ``fmt`` or ISO 8601), clamped to the keys."""
        compiled = self._state()
        timeline = compiled.timeline()
        if not len(timeline):
            return None
        moment = compiled.format.parse(text)
        if moment is None:
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                moment = None
        position = 0
        if moment is not None:
            position = min(max(timeline.rank(wall_us(moment, compiled.zone) + 1) - 1, 0), len(timeline) - 1)
        return compiled.format.format(from_us(timeline.tick(position)))

    def window(self, key: PartitionKey | str) -> tuple[datetime, datetime] | None:
        """``[start, end)`` of a single-valued key's window (aware when the grid has a zone).

        The window runs from its tick to the next key's tick; a tick that falls
        in a DST gap starts at the gap's end.
        """
        values = single_values(key)
        if values is None or len(values) != 1:
            return None
        compiled = self._state()
        tick = compiled.tick_of(values[0])
        if tick is None:
            return None
        start = compiled.window_start(tick)  # not None: tick_of returns only ticks that open a window
        return compiled.to_datetime(start), compiled.to_datetime(compiled.window_end(tick))  # type: ignore[arg-type]

    def shift(self, key: PartitionKey | str, offset: int) -> PartitionKey | None:
        """The key ``offset`` windows away from ``key``; None when either is not a current key."""
        position = self.index_of(key)
        if position is None:
            return None
        position += offset
        keys = self.get_partition_keys()
        return keys[position] if 0 <= position < len(keys) else None  # type: ignore[return-value]

    def tick_index(self, moment: datetime) -> int | None:
        """The position of the window containing ``moment``, or None when that window is not a key.

        Aware datetimes are converted to the grid's zone; naive ones are wall-clock times.
        """
        compiled = self._state()
        return compiled.window_position(compiled.timeline(), wall_us(moment, compiled.zone))

    def keys_overlapping(self, start: datetime, end: datetime) -> PartitionKeySequence:
        """The keys whose windows overlap the half-open interval ``[start, end)``."""
        compiled = self._state()
        timeline = compiled.timeline()
        keys = compiled.keys(timeline)
        low, high = wall_us(start, compiled.zone), wall_us(end, compiled.zone)
        if high <= low:
            return keys[0:0]
        first = compiled.window_position(timeline, low)
        if first is None:
            first = 0 if compiled.windows_before(timeline, low + 1) == 0 else len(keys)
        return keys[first : compiled.windows_before(timeline, high)]

    def describe(self) -> str:
        try:
            compiled = self._state()
        except PartitionDefinitionError:
            return repr(self)
        start = compiled.format.format(from_us(compiled.start))
        end = compiled.format.format(from_us(compiled.end)) if compiled.end is not None else None
        if self.cron_schedule == DAILY_CRON:
            label = "daily partitions"
        elif self.cron_schedule == HOURLY_CRON:
            label = "hourly partitions"
        elif self.cron_schedule is not None:
            label = f"time-window partitions (cron '{self.cron_schedule}')"
        else:
            label = f"time-window partitions (every {_seconds(self.interval_seconds)})"
        text = f"{label} from {start}"
        if end is not None:
            text += f" to {end}"
        if self.timezone is not None:
            text += f" in {self.timezone}"
        return text

    # ------------------------------------------------------------------
    # Value semantics
    # ------------------------------------------------------------------

    def _identity(self) -> Any:
        return (self.cron_schedule, self.interval_seconds, self.start, self.end, self.fmt, self.timezone,
                self.end_offset)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the arguments only (the compiled grid is a cache)."""
        arguments = (self.start, self.cron_schedule, self.interval_seconds, self.end, self.fmt, self.timezone,
                     self.end_offset)
        return (TimeWindowPartitions, arguments)

    def __repr__(self) -> str:
        grid = f"cron={quoted(self.cron_schedule)}" if self.cron_schedule is not None else ""
        if self.interval_seconds is not None:
            grid = (grid + ", " if grid else "") + f"interval={_seconds(self.interval_seconds)}"
        parts = [grid, f"start={_iso(self.start)}", f"fmt={quoted(self.fmt)}"]
        if self.end is not None:
            parts.append(f"end={_iso(self.end)}")
        if self.timezone is not None:
            parts.append(f"timezone={quoted(str(self.timezone))}")
        if self.end_offset:
            parts.append(f"end_offset={self.end_offset}")
        return "PartitionsDefinition.time_window(" + ", ".join(p for p in parts if p) + ")"


def _seconds(value: Any) -> str:
    """``1800s`` / ``0.5s``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value}s"


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else repr(value)


attach_variant(TimeWindowPartitions, "TimeWindow")
