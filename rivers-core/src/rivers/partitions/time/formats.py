"""Rendering time-window keys with a strftime ``fmt`` and parsing them back.

:func:`compile_format` returns a cached :class:`TimeFormat`. The directives
``%Y %m %d %H %M %S %f %%`` are rendered with ``%``-templates and parsed with
a regular expression (both much faster than ``strftime``/``strptime``); any
other directive falls back to the ``datetime`` methods, with the same
results. Parsing follows ``strptime``: fields missing from ``fmt`` take their
minimum (year 1900, January, day 1, midnight).

Rendering a run of ticks (:meth:`TimeFormat.render_ticks`) splits ``fmt``
into date and time-of-day parts and renders each distinct day and each
distinct time of day once, which is what makes enumerating 87,600 hourly
keys cheap.
"""

from __future__ import annotations

import operator
import re
from itertools import chain
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from functools import lru_cache

__all__ = ["DAY_US", "EPOCH", "TimeFormat", "compile_format", "from_us", "to_us"]

#: The origin of the internal timeline (naive wall clock, microseconds).
EPOCH = datetime(1970, 1, 1)
DAY_US = 86_400_000_000
_ONE_US = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)

# directive -> (datetime attribute, width); rendered and parsed without strftime
_FAST_FIELDS = {
    "Y": ("year", 4),
    "m": ("month", 2),
    "d": ("day", 2),
    "H": ("hour", 2),
    "M": ("minute", 2),
    "S": ("second", 2),
    "f": ("microsecond", 6),
}
_TIME_OF_DAY = frozenset("HIMSfpXTRrkl")
_DATE = frozenset("YmdyjaAbBhUWwuVGgCDFxe")
_PARSE_DEFAULTS = {"year": 1900, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0, "microsecond": 0}
#: ``datetime``'s positional fields, in order (the keys of :data:`_PARSE_DEFAULTS`).
_FIELD_ORDER = tuple(_PARSE_DEFAULTS)
_DIRECTIVE = re.compile(r"%(.)", re.DOTALL)


def to_us(value: datetime) -> int:
    """Microseconds of a naive datetime since :data:`EPOCH`."""
    return (value - EPOCH) // _ONE_US


def from_us(us: int) -> datetime:
    """The naive datetime ``us`` microseconds after :data:`EPOCH`."""
    return EPOCH + timedelta(microseconds=us)


def _split(fmt: str) -> list[tuple[str, str]]:
    """``fmt`` as ``("lit", text)`` and ``("dir", letter)`` parts."""
    parts: list[tuple[str, str]] = []
    position = 0
    for match in _DIRECTIVE.finditer(fmt):
        if match.start() > position:
            parts.append(("lit", fmt[position : match.start()]))
        letter = match.group(1)
        parts.append(("lit", "%") if letter == "%" else ("dir", letter))
        position = match.end()
    if position < len(fmt):
        parts.append(("lit", fmt[position:]))
    return parts


def _sub_format(parts: Iterable[tuple[str, str]]) -> str:
    """The strftime format of ``parts`` (literal ``%`` escaped again)."""
    return "".join(text.replace("%", "%%") if kind == "lit" else "%" + text for kind, text in parts)


def _renderer(parts: list[tuple[str, str]]) -> Callable[[datetime], str]:
    """A function rendering ``parts`` of a format for a datetime."""
    if all(kind == "lit" or text in _FAST_FIELDS for kind, text in parts):
        template = "".join(
            text.replace("%", "%%") if kind == "lit" else f"%0{_FAST_FIELDS[text][1]}d" for kind, text in parts
        )
        attrs = [_FAST_FIELDS[text][0] for kind, text in parts if kind == "dir"]
        if not attrs:
            constant = template % ()
            return lambda value: constant
        getter = operator.attrgetter(*attrs)
        return lambda value: template % getter(value)
    sub = _sub_format(parts)
    return lambda value: value.strftime(sub)


def _parser(fmt: str, parts: list[tuple[str, str]]) -> Callable[[str], datetime | None]:
    """A function parsing a rendered key back to a datetime (None when it does not parse)."""
    if all(kind == "lit" or text in _FAST_FIELDS for kind, text in parts):
        pattern = re.compile(
            "".join(
                re.escape(text) if kind == "lit" else f"(\\d{{{_FAST_FIELDS[text][1]}}})" for kind, text in parts
            )
        )
        attrs = [_FAST_FIELDS[text][0] for kind, text in parts if kind == "dir"]
        if tuple(attrs) == _FIELD_ORDER[: len(attrs)]:
            # datetime's own order from the year on (``%Y-%m-%d``, ``%Y-%m-%d-%H:%M``): positional arguments
            tail = tuple(_PARSE_DEFAULTS[name] for name in _FIELD_ORDER[len(attrs):])

            def parse_in_order(text: str) -> datetime | None:
                match = pattern.fullmatch(text)
                if match is None:
                    return None
                try:
                    # the fields are year, month, ... in order: never tzinfo (mypy cannot count a *map)
                    return datetime(*map(int, match.groups()), *tail)  # type: ignore[arg-type]
                except ValueError:
                    return None

            return parse_in_order
        if len(set(attrs)) == len(attrs):

            def parse(text: str) -> datetime | None:
                match = pattern.fullmatch(text)
                if match is None:
                    return None
                fields = dict(_PARSE_DEFAULTS)
                fields.update(zip(attrs, map(int, match.groups())))
                try:
                    return datetime(**fields)  # type: ignore[arg-type]  # int fields only, never tzinfo
                except ValueError:
                    return None

            return parse

    def parse_slow(text: str) -> datetime | None:
        try:
            return datetime.strptime(text, fmt)
        except (ValueError, re.error):  # re.error: formats strptime cannot compile (e.g. a repeated field)
            return None

    return parse_slow


def _segments(parts: list[tuple[str, str]]) -> list[tuple[bool, list[tuple[str, str]]]] | None:
    """Group ``parts`` into alternating date / time-of-day segments (literals join a neighbour).

    None when a directive depends on both (``%c``, ``%s``, ...).
    """
    segments: list[tuple[bool, list[tuple[str, str]]]] = []
    pending: list[tuple[str, str]] = []
    for kind, text in parts:
        if kind == "lit":
            pending.append((kind, text))
            continue
        if text in _TIME_OF_DAY:
            is_time = True
        elif text in _DATE:
            is_time = False
        else:
            return None
        if segments and segments[-1][0] == is_time:
            segments[-1][1].extend(pending)
            segments[-1][1].append((kind, text))
        elif segments:
            segments[-1][1].extend(pending)
            segments.append((is_time, [(kind, text)]))
        else:
            segments.append((is_time, [*pending, (kind, text)]))
        pending = []
    if not segments:
        segments.append((False, []))
    segments[-1][1].extend(pending)
    return segments


class TimeFormat:
    """A compiled key format: ``format(datetime)``, ``parse(text)`` and bulk rendering."""

    __slots__ = ("fmt", "format", "parse", "literals", "_segments", "_defaults")

    def __init__(self, fmt: str) -> None:
        parts = _split(fmt)
        self.fmt = fmt
        self.format: Callable[[datetime], str] = _renderer(parts)
        self.parse: Callable[[str], datetime | None] = _parser(fmt, parts)
        #: The literal text of ``fmt`` (what rendering adds besides the fields).
        self.literals = "".join(text for kind, text in parts if kind == "lit")
        segments = _segments(parts)
        self._segments = None if segments is None else [(is_time, _renderer(seg)) for is_time, seg in segments]
        # fixed-width fields, each at most once: parse(format(t)) is t with the missing fields at their defaults
        fields = [_FAST_FIELDS[text][0] for kind, text in parts if kind == "dir" and text in _FAST_FIELDS]
        fixed = len(fields) == len(set(fields)) == sum(kind == "dir" for kind, _ in parts)
        self._defaults = {a: v for a, v in _PARSE_DEFAULTS.items() if a not in fields} if fixed else None

    @property
    def fixed_width(self) -> bool:
        """Whether every field renders with a fixed width (digits only) and appears once."""
        return self._defaults is not None

    def round_trip_failure(self, moments: Iterable[datetime]) -> tuple[datetime, str, datetime | None] | None:
        """The first moment whose key does not parse back to it: ``(moment, key, parsed)``, else None.

        For fixed-width formats this needs no rendering or parsing: a moment
        survives exactly when the fields missing from ``fmt`` are at their
        defaults.
        """
        defaults = self._defaults
        if defaults is None:
            for moment in moments:
                text = self.format(moment)
                parsed = self.parse(text)
                if parsed != moment:
                    return moment, text, parsed
            return None
        if not defaults:
            return None
        names, expected = tuple(defaults), tuple(defaults.values())
        getter = operator.attrgetter(*names) if len(names) > 1 else (lambda m: (getattr(m, names[0]),))
        for moment in moments:
            if getter(moment) != expected:
                return moment, self.format(moment), moment.replace(**defaults)  # type: ignore[arg-type]  # int fields
        return None

    @staticmethod
    def moments(ticks: Iterable[int]) -> Iterator[datetime]:
        """Ascending ticks as datetimes (stepping instead of converting when evenly spaced)."""
        if not isinstance(ticks, range):
            yield from map(from_us, ticks)
            return
        delta = timedelta(microseconds=ticks.step)
        moment = from_us(ticks.start)
        for _ in ticks:
            yield moment
            moment += delta

    def render_ticks(self, ticks: Iterable[int]) -> Iterator[str]:
        """The keys of ascending ticks (microseconds since :data:`EPOCH`)."""
        segments = self._segments
        if isinstance(ticks, range) and ticks.step > 0:
            per_day = DAY_US // ticks.step
            if (
                segments is not None
                and DAY_US % ticks.step == 0
                and per_day <= len(ticks)  # worth rendering every time of day once
                and any(is_time for is_time, _ in segments)
            ):
                return chain.from_iterable(self._render_days(ticks, segments))
            return self._render_stepping(ticks)
        if segments is None:
            return map(self.format, map(from_us, ticks))
        return self._render_cached(ticks, segments)

    def _render_stepping(self, ticks: range) -> Iterator[str]:
        """Evenly spaced ticks: step a datetime instead of converting every tick."""
        return map(self.format, self.moments(ticks))

    @staticmethod
    def _render_days(ticks: range, segments: list[tuple[bool, Callable[[datetime], str]]]) -> Iterator[list[str]]:
        """Evenly spaced ticks with a step dividing a day: render each day's date part once.

        Every day has the same times of day, so their renderings are computed
        once; a day's keys are its date part combined with them.
        """
        step = ticks.step
        phase = ticks.start % step
        times = [phase + k * step for k in range(DAY_US // step)]
        columns = [
            [render(from_us(t)) for t in times] if is_time else render for is_time, render in segments
        ]
        day, time = divmod(ticks.start, DAY_US)
        first = (time - phase) // step
        remaining = len(ticks)
        midnight = from_us(day * DAY_US)
        while remaining > 0:
            last = min(len(times), first + remaining)
            parts = [col[first:last] if isinstance(col, list) else col(midnight) for col in columns]
            if len(parts) == 1:
                yield parts[0]  # type: ignore[misc]
            elif len(parts) == 2 and isinstance(parts[1], list):
                prefix = parts[0]
                yield [prefix + text for text in parts[1]]  # type: ignore[operator]
            elif len(parts) == 2:
                suffix = parts[1]
                yield [text + suffix for text in parts[0]]  # type: ignore[operator]
            else:
                yield [
                    "".join(part if isinstance(part, str) else part[k] for part in parts)  # type: ignore[misc]
                    for k in range(last - first)
                ]
            remaining -= last - first
            first = 0
            midnight += _ONE_DAY

    @staticmethod
    def _render_cached(ticks: Iterable[int], segments: list[tuple[bool, Callable[[datetime], str]]]) -> Iterator[str]:
        """Any ascending ticks: each day's date parts and each time of day's time parts are rendered once."""
        times: dict[int, list[str | None]] = {}
        day_texts: list[str | None]
        current_day, day_texts = None, [None] * len(segments)
        for tick in ticks:
            day, time = divmod(tick, DAY_US)
            if day != current_day:
                current_day, midnight = day, from_us(day * DAY_US)
                day_texts = [None if is_time else render(midnight) for is_time, render in segments]
            time_texts = times.get(time)
            if time_texts is None:
                if len(times) >= 4096:
                    times.clear()
                moment = from_us(time)
                time_texts = times[time] = [render(moment) if is_time else None for is_time, render in segments]
            yield "".join(t if t is not None else d for t, d in zip(time_texts, day_texts))  # type: ignore[misc]


@lru_cache(maxsize=256)
def compile_format(fmt: str) -> TimeFormat:
    """The (cached) compiled form of ``fmt``."""
    return TimeFormat(fmt)
