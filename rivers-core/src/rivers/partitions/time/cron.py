"""Cron expressions for time-window grids: parsing and matching.

Five fields (``minute hour day-of-month month day-of-week``) or six (a
leading ``second``). Each field is ``*``, a value, a range ``a-b``, a step
``*/n`` / ``a-b/n`` / ``a/n``, or a comma-separated list of those; months
and weekdays accept names (``JAN``, ``MON``), weekday ``7`` is Sunday, and
``?`` means ``*`` in the day fields. The macros ``@yearly``/``@annually``,
``@monthly``, ``@weekly``, ``@daily``/``@midnight`` and ``@hourly`` are
accepted too.

Day matching follows Vixie cron: when both day fields are restricted (neither
starts with ``*``), a day matches if *either* matches; otherwise both must.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache

from rivers.exceptions import PartitionDefinitionError

__all__ = ["DAILY_CRON", "HOURLY_CRON", "CronSchedule", "parse_cron"]

#: The cron grid of ``PartitionsDefinition.daily()``.
DAILY_CRON = "0 0 * * *"
#: The cron grid of ``PartitionsDefinition.hourly()``.
HOURLY_CRON = "0 * * * *"

_MONTHS = {name: number for number, name in enumerate("JAN FEB MAR APR MAY JUN JUL AUG SEP OCT NOV DEC".split(), 1)}
_WEEKDAYS = {name: number for number, name in enumerate("SUN MON TUE WED THU FRI SAT".split())}
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_US = 1_000_000


class _FieldSpec:
    """One cron field: its name, bounds and value names."""

    __slots__ = ("name", "low", "high", "names")

    def __init__(self, name: str, low: int, high: int, names: dict[str, int] | None = None) -> None:
        self.name, self.low, self.high, self.names = name, low, high, names or {}

    def value(self, text: str) -> int:
        """One value of this field (a number or a name)."""
        named = self.names.get(text.upper())
        if named is not None:
            return named
        if not text.isdigit():
            raise ValueError(f"{self.name} value {text!r} is not a number" + self._name_hint())
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name} value {number} is out of range {self.low}-{self.high}")
        return number

    def _name_hint(self) -> str:
        if not self.names:
            return ""
        return " or one of " + ", ".join(self.names)

    def parse(self, text: str) -> frozenset[int]:
        """The values selected by a whole field."""
        values: set[int] = set()
        for item in text.split(","):
            if not item:
                raise ValueError(f"{self.name} field {text!r} has an empty list item")
            values.update(self._item(item))
        return frozenset(values)

    def _item(self, item: str) -> range:
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f"{self.name} step {step_text!r} must be a positive number")
            step = int(step_text)
        if base in ("*", "?"):
            low, high = self.low, self.high
        elif "-" in base:
            first, _, last = base.partition("-")
            low, high = self.value(first), self.value(last)
            if low > high:
                raise ValueError(f"{self.name} range {base!r} is reversed; write it low-high")
        else:
            low = self.value(base)
            high = self.high if slash else low
        return range(low, high + 1, step)


_SECOND = _FieldSpec("second", 0, 59)
_MINUTE = _FieldSpec("minute", 0, 59)
_HOUR = _FieldSpec("hour", 0, 23)
_DAY = _FieldSpec("day-of-month", 1, 31)
_MONTH = _FieldSpec("month", 1, 12, _MONTHS)
_WEEKDAY = _FieldSpec("day-of-week", 0, 7, _WEEKDAYS)
_ALL_DAYS = frozenset(range(1, 32))
_ALL_WEEKDAYS = frozenset(range(7))
_ALL_MONTHS = frozenset(range(1, 13))


class CronSchedule:
    """A parsed cron expression.

    ``day_rule`` says how days are selected: ``"all"`` (every day),
    ``"dow"`` (by weekday only), ``"dom"`` (by day of month only), ``"and"``
    (both must match) or ``"or"`` (either matches). A schedule is
    *regular* — a fixed weekly pattern — when every month is selected and
    days are picked by weekday only (or not at all).
    """

    __slots__ = ("expression", "seconds", "minutes", "hours", "days", "months", "weekdays", "day_rule")

    def __init__(
        self,
        expression: str,
        seconds: frozenset[int],
        minutes: frozenset[int],
        hours: frozenset[int],
        days: frozenset[int],
        months: frozenset[int],
        weekdays: frozenset[int],
        day_rule: str,
    ) -> None:
        self.expression = expression
        self.seconds, self.minutes, self.hours = seconds, minutes, hours
        self.days, self.months, self.weekdays = days, months, weekdays
        self.day_rule = day_rule

    @property
    def regular(self) -> bool:
        """Whether the ticks repeat every week (so positions are plain arithmetic)."""
        return self.months == _ALL_MONTHS and self.day_rule in ("all", "dow")

    def time_offsets(self) -> list[int]:
        """The ticks of one matching day, in microseconds after midnight, ascending."""
        return sorted(
            ((hour * 60 + minute) * 60 + second) * _US
            for hour in self.hours
            for minute in self.minutes
            for second in self.seconds
        )

    def matches_date(self, day: date) -> bool:
        """Whether the schedule fires on ``day``."""
        if day.month not in self.months:
            return False
        rule = self.day_rule
        if rule == "all":
            return True
        weekday_ok = (day.weekday() + 1) % 7 in self.weekdays
        if rule == "dow":
            return weekday_ok
        day_ok = day.day in self.days
        if rule == "dom":
            return day_ok
        if rule == "and":
            return day_ok and weekday_ok
        return day_ok or weekday_ok

    def matches(self, moment: datetime) -> bool:
        """Whether ``moment`` (naive wall clock) is a tick."""
        return (
            moment.microsecond == 0
            and moment.second in self.seconds
            and moment.minute in self.minutes
            and moment.hour in self.hours
            and self.matches_date(moment)
        )

    def __repr__(self) -> str:
        return f"CronSchedule({self.expression!r})"


def _day_rule(days: frozenset[int], weekdays: frozenset[int], days_star: bool, weekdays_star: bool) -> str:
    every_day, every_weekday = days == _ALL_DAYS, weekdays == _ALL_WEEKDAYS
    if days_star or weekdays_star:  # both must match
        if every_day:
            return "all" if every_weekday else "dow"
        return "dom" if every_weekday else "and"
    return "all" if every_day or every_weekday else "or"


@lru_cache(maxsize=512)
def parse_cron(expression: str) -> CronSchedule:
    """Parse a 5- or 6-field cron expression.

    :raises PartitionDefinitionError: ``Invalid cron expression '<c>': <reason>``.
    """
    if not isinstance(expression, str):
        raise TypeError(f"cron_schedule must be a str, got {type(expression).__name__}")
    try:
        return _parse(expression)
    except ValueError as exc:
        raise PartitionDefinitionError(f"Invalid cron expression '{expression}': {exc}") from None


def _parse(expression: str) -> CronSchedule:
    text = _MACROS.get(expression.strip().lower(), expression)
    fields = text.split()
    if len(fields) == 5:
        fields.insert(0, "0")
    elif len(fields) != 6:
        raise ValueError(
            f"expected 5 fields (minute hour day-of-month month day-of-week) or 6 (with a leading second), "
            f"got {len(fields)}"
        )
    second, minute, hour, day, month, weekday = fields
    days = _DAY.parse(day)
    months = _MONTH.parse(month)
    weekdays = frozenset(value % 7 for value in _WEEKDAY.parse(weekday))
    rule = _day_rule(days, weekdays, day[0] in "*?", weekday[0] in "*?")
    if rule in ("dom", "and") and not any(d <= _MAX_DAYS[m - 1] for m in months for d in days):
        raise ValueError("it never fires (no selected month has the selected day of month)")
    return CronSchedule(
        expression,
        _SECOND.parse(second),
        _MINUTE.parse(minute),
        _HOUR.parse(hour),
        days,
        months,
        weekdays,
        rule,
    )
