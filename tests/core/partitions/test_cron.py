"""Cron parsing and the fast grid arithmetic, checked against brute-force stepping."""

from __future__ import annotations

import bisect
import datetime as dt
import re

import pytest

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions import PartitionKey, PartitionKeyRange, PartitionsDefinition
from rivers.partitions.time.cron import parse_cron
from rivers.partitions.time.grids import IrregularGrid, PeriodicGrid, cron_grid

FMT = "%Y-%m-%dT%H:%M:%S"
START = dt.datetime(2000, 1, 1)


# ---------------------------------------------------------------------------
# parsing


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("* * *", "expected 5 fields .* or 6 .* got 3"),
        ("* * * * * * *", "got 7"),
        ("61 * * * *", "minute value 61 is out of range 0-59"),
        ("* 24 * * *", "hour value 24 is out of range 0-23"),
        ("* * 0 * *", "day-of-month value 0 is out of range 1-31"),
        ("* * * 13 *", "month value 13 is out of range 1-12"),
        ("* * * * 8", "day-of-week value 8 is out of range 0-7"),
        ("5-1 * * * *", "minute range '5-1' is reversed"),
        ("*/0 * * * *", "step '0' must be a positive number"),
        ("* * * FOO *", "month value 'FOO' is not a number or one of JAN"),
        ("1,,2 * * * *", "empty list item"),
        ("x * * * *", "minute value 'x' is not a number"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_invalid_cron_expressions(expression, reason):
    message = f"Invalid cron expression '{re.escape(expression)}': .*{reason}"
    with pytest.raises(PartitionDefinitionError, match=message):
        PartitionsDefinition.time_window(START, cron_schedule=expression)


def test_fields_ranges_lists_steps_and_names():
    cron = parse_cron("0 0-10/5,30 */6 1,15 JAN-MAR,dec MON-FRI")
    assert cron.seconds == {0}
    assert cron.minutes == {0, 5, 10, 30}
    assert cron.hours == {0, 6, 12, 18}
    assert cron.days == {1, 15}
    assert cron.months == {1, 2, 3, 12}
    assert cron.weekdays == {1, 2, 3, 4, 5}
    assert parse_cron("0 0 * * 7").weekdays == {0}  # 7 is Sunday
    assert parse_cron("10/20 * * * *").minutes == {10, 30, 50}
    six = parse_cron("*/20 0 9 * * *")
    assert six.seconds == {0, 20, 40} and six.minutes == {0} and six.hours == {9}


def test_macros():
    assert parse_cron("@daily").hours == {0} and parse_cron("@daily").minutes == {0}
    assert parse_cron("@hourly").minutes == {0} and len(parse_cron("@hourly").hours) == 24
    assert parse_cron("@monthly").days == {1}


def test_day_rule_follows_vixie_cron():
    assert parse_cron("0 0 * * *").day_rule == "all"
    assert parse_cron("0 0 * * 1-5").day_rule == "dow"
    assert parse_cron("0 0 1 * *").day_rule == "dom"
    assert parse_cron("0 0 13 * 5").day_rule == "or"  # both restricted: either matches
    assert parse_cron("0 0 */2 * 5").day_rule == "and"  # a field starting with '*': both must match
    assert parse_cron("0 0 1-31 * 1").day_rule == "all"


def test_regular_crons_use_index_arithmetic_and_irregular_ones_an_array():
    for expression in ("0 * * * *", "0 0 * * *", "*/15 * * * *", "0 9 * * 1-5", "0 0 * * 0", "30 */5 * * *"):
        assert isinstance(cron_grid(parse_cron(expression), 0), PeriodicGrid), expression
    for expression in ("0 0 1 * *", "0 0 * 1 *", "0 0 13 * 5", "0 12 1,15 * *"):
        assert isinstance(cron_grid(parse_cron(expression), 0), IrregularGrid), expression
    assert cron_grid(parse_cron("*/15 * * * *"), 0).step == 15 * 60 * 1_000_000  # evenly spaced: one offset


# ---------------------------------------------------------------------------
# brute force: the grid agrees with naive stepping


def weekday(moment: dt.datetime) -> int:
    """Cron numbering: Sunday is 0."""
    return (moment.weekday() + 1) % 7


CASES = [
    ("*/15 * * * *", dt.timedelta(minutes=1), 3000, lambda d: d.minute % 15 == 0),
    ("0 9 * * 1-5", dt.timedelta(hours=1), 2000, lambda d: d.minute == 0 and d.hour == 9 and weekday(d) in range(1, 6)),
    ("30 */5 * * *", dt.timedelta(minutes=30), 2000, lambda d: d.minute == 30 and d.hour % 5 == 0),
    ("0 0 * * 0", dt.timedelta(days=1), 1000, lambda d: weekday(d) == 0),
    ("0 6 * * MON,WED", dt.timedelta(hours=1), 1000, lambda d: d.hour == 6 and d.minute == 0 and weekday(d) in (1, 3)),
    ("0 0 1 * *", dt.timedelta(days=1), 1500, lambda d: d.day == 1),
    ("0 12 1,15 * *", dt.timedelta(hours=12), 1500, lambda d: d.hour == 12 and d.day in (1, 15)),
    ("0 0 13 * 5", dt.timedelta(days=1), 2000, lambda d: d.day == 13 or weekday(d) == 5),
    ("0 0 29 2 *", dt.timedelta(days=1), 40, lambda d: d.month == 2 and d.day == 29),
    ("5 4 * JAN-MAR *", dt.timedelta(minutes=5), 1500, lambda d: d.hour == 4 and d.minute == 5 and d.month <= 3),
    ("*/20 */7 * * * *", dt.timedelta(seconds=20), 3000, lambda d: d.second % 20 == 0 and d.minute % 7 == 0),
]


def brute_force(step: dt.timedelta, count: int, predicate) -> list[dt.datetime]:
    ticks, moment = [], START
    while len(ticks) < count:
        if predicate(moment):
            ticks.append(moment)
        moment += step
    return ticks


@pytest.mark.parametrize(("expression", "step", "count", "predicate"), CASES, ids=[c[0] for c in CASES])
def test_grid_agrees_with_brute_force(expression, step, count, predicate):
    ticks = brute_force(step, count, predicate)
    definition = PartitionsDefinition.time_window(START, cron_schedule=expression, end=ticks[-1] + step)
    expected = [t.strftime(FMT) for t in ticks]

    seq = definition.get_partition_keys()
    assert len(seq) == count
    assert list(seq.iter_display()) == expected
    assert [str(k) for k in seq] == expected
    assert [seq.display(i) for i in range(0, count, 7)] == expected[::7]
    assert [str(k) for k in seq[count // 3 : count // 2]] == expected[count // 3 : count // 2]
    assert [str(k) for k in seq[::-97]] == expected[::-97]

    for i in range(0, count, 11):
        key = PartitionKey.single(expected[i])
        assert definition.index_of(key) == i
        assert seq.index(key) == i
        assert definition.validate_partition_key(key)
        # windows end at the next tick
        if i + 1 < count:
            assert definition.window(key) == (ticks[i], ticks[i + 1])

    # times between ticks are not keys; the window containing them is found by position
    for i in range(0, count - 1, 13):
        between = ticks[i] + (ticks[i + 1] - ticks[i]) / 2
        if between.microsecond == 0 and not predicate(between):
            assert not definition.validate_partition_key(PartitionKey.single(between.strftime(FMT)))
        assert definition.tick_index(between) == bisect.bisect_right(ticks, between) - 1

    assert definition.tick_index(START - dt.timedelta(seconds=1)) is None
    assert not definition.validate_partition_key(PartitionKey.single((ticks[-1] + step * 10_000).strftime(FMT)))

    low, high = count // 4, count // 4 + 9
    chosen = definition.resolve_range(PartitionKeyRange.single(expected[low], expected[high]))
    assert [str(k) for k in chosen] == expected[low : high + 1]


def test_start_between_ticks_begins_at_the_next_tick():
    noon = PartitionsDefinition.daily(dt.datetime(2024, 1, 1, 12), dt.datetime(2024, 1, 4))
    assert list(noon.get_partition_keys().iter_display()) == ["2024-01-02", "2024-01-03"]
    monthly = PartitionsDefinition.time_window(
        dt.datetime(2024, 1, 15), cron_schedule="0 0 1 * *", end=dt.datetime(2024, 4, 1), fmt="%Y-%m"
    )
    assert list(monthly.get_partition_keys().iter_display()) == ["2024-02", "2024-03"]
    assert not monthly.validate_partition_key(PartitionKey.single("2024-01"))
