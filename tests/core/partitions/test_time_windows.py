"""Time-window definitions: factories, checks, the fmt round-trip rule, keys, windows, open-ended grids."""

from __future__ import annotations

import datetime as dt
import pickle
import time
import timeit

import pytest

from rivers.exceptions import ExecutionError, PartitionDefinitionError
from rivers.partitions import PartitionKey, PartitionKeyRange, PartitionsDefinition
from rivers.partitions.time import keys as time_keys_module
from rivers.partitions.time.formats import to_us

P = PartitionsDefinition
K = PartitionKey.single
D = dt.datetime


def keys(definition):
    return list(definition.get_partition_keys().iter_display())


@pytest.fixture
def frozen_now(monkeypatch):
    """Pin "now" of open-ended grids (naive wall clock) to a settable value."""
    state = {"now": D(2024, 1, 10, 15, 30)}

    def now(self):
        moment = state["now"]
        if self.zone is not None:
            moment = moment.replace(tzinfo=dt.timezone.utc).astimezone(self.zone).replace(tzinfo=None)
        return to_us(moment)

    monkeypatch.setattr(time_keys_module.CompiledGrid, "now", now)
    return state


# ---------------------------------------------------------------------------
# factories and defaults


def test_daily_and_hourly_defaults():
    days = P.daily(D(2024, 1, 1), D(2024, 1, 4))
    assert (days.cron_schedule, days.interval_seconds, days.fmt) == ("0 0 * * *", None, "%Y-%m-%d")
    assert (days.start, days.end, days.timezone) == (D(2024, 1, 1), D(2024, 1, 4), None)
    assert keys(days) == ["2024-01-01", "2024-01-02", "2024-01-03"]
    hours = P.hourly(D(2024, 1, 1), D(2024, 1, 1, 3))
    assert hours.cron_schedule == "0 * * * *" and hours.fmt == "%Y-%m-%dT%H:00"
    assert keys(hours) == ["2024-01-01T00:00", "2024-01-01T01:00", "2024-01-01T02:00"]


def test_time_window_default_fmt_also_for_cron_grids():
    weekly = P.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 1", end=D(2024, 1, 16))
    assert weekly.fmt == "%Y-%m-%dT%H:%M:%S"
    assert keys(weekly) == ["2024-01-01T00:00:00", "2024-01-08T00:00:00", "2024-01-15T00:00:00"]
    every = P.time_window(D(2024, 1, 1, 0, 7), interval_seconds=1800, end=D(2024, 1, 1, 1, 10))
    assert keys(every) == ["2024-01-01T00:07:00", "2024-01-01T00:37:00", "2024-01-01T01:07:00"]


def test_partial_window_before_end_is_included_and_end_is_exclusive():
    assert keys(P.daily(D(2024, 1, 1), D(2024, 1, 3, 12))) == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert keys(P.daily(D(2024, 1, 1), D(2024, 1, 3))) == ["2024-01-01", "2024-01-02"]


def test_end_before_start_is_an_empty_grid():
    empty = P.daily(D(2024, 1, 5), D(2024, 1, 1))
    assert len(empty.get_partition_keys()) == 0 and list(empty.get_partition_keys()) == []
    assert not empty.validate_partition_key(K("2024-01-05"))
    assert empty.nearest_key("2024-01-05") is None
    with pytest.raises(ExecutionError, match="there are no valid keys"):
        empty.resolve_range(PartitionKeyRange.single("2024-01-05", "2024-01-05"))


def test_sub_second_intervals():
    fine = P.time_window(D(2024, 1, 1), interval_seconds=0.25, end=D(2024, 1, 1, 0, 0, 1), fmt="%Y-%m-%dT%H:%M:%S.%f")
    assert keys(fine) == [f"2024-01-01T00:00:00.{n:06d}" for n in (0, 250000, 500000, 750000)]
    quarter = D(2024, 1, 1, 0, 0, 0, 250000)
    assert fine.window(K("2024-01-01T00:00:00.250000")) == (quarter, quarter + dt.timedelta(seconds=0.25))


# ---------------------------------------------------------------------------
# construction errors


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "time_window requires either cron_schedule or interval_seconds"),
        (
            {"cron_schedule": "0 * * * *", "interval_seconds": 60},
            "time_window accepts cron_schedule or interval_seconds, not both",
        ),
        ({"interval_seconds": -5}, "interval_seconds must be positive and at least 1 nanosecond, got -5"),
        ({"interval_seconds": 0}, "interval_seconds must be positive and at least 1 nanosecond, got 0"),
        ({"interval_seconds": 1e-10}, "must be positive and at least 1 nanosecond"),
        ({"interval_seconds": 1.5e-6}, "finer than the microsecond resolution"),
        ({"cron_schedule": "nope"}, "Invalid cron expression 'nope': "),
    ],
)
def test_time_window_errors(kwargs, message):
    with pytest.raises(PartitionDefinitionError, match=message):
        P.time_window(D(2024, 1, 1), **kwargs)


def test_cron_grid_requires_whole_second_start():
    with pytest.raises(PartitionDefinitionError, match="require a start on a whole second"):
        P.daily(D(2024, 1, 1, 0, 0, 0, 1))
    P.time_window(D(2024, 1, 1, 0, 0, 0, 1), interval_seconds=60, fmt="%Y-%m-%dT%H:%M:%S.%f")  # intervals do not
    with pytest.raises(PartitionDefinitionError, match="formats to '2024-01-01T00:00:00', which parses back to"):
        P.time_window(D(2024, 1, 1, 0, 0, 0, 1), interval_seconds=60)  # ... but the fmt must show the fraction


@pytest.mark.parametrize("bad", ["2024-01-01", dt.date(2024, 1, 1), 1704067200])
def test_start_must_be_a_datetime(bad):
    with pytest.raises(TypeError, match="start must be a datetime.datetime"):
        P.daily(bad)


def test_aware_datetimes_need_a_timezone():
    aware = D(2024, 1, 1, tzinfo=dt.timezone.utc)
    with pytest.raises(TypeError, match="expected a datetime without tzinfo"):
        P.daily(aware)
    with pytest.raises(TypeError, match="expected a datetime without tzinfo"):
        P.hourly(D(2024, 1, 1), end=aware)
    with pytest.raises(TypeError, match="end must be a datetime.datetime"):
        P.daily(D(2024, 1, 1), end="2024-02-01")


def test_raw_constructor_skips_checks():
    raw = P.TimeWindow(start="2024-01-01", cron_schedule="0 0 * * *")
    assert raw.fmt == "%Y-%m-%dT%H:%M:%S"
    with pytest.raises(PartitionDefinitionError, match="start must be a datetime.datetime"):
        raw.check()
    with pytest.raises(PartitionDefinitionError, match="Invalid cron expression"):
        P.TimeWindow(D(2024, 1, 1), cron_schedule="bad").check()
    with pytest.raises(PartitionDefinitionError, match="cannot represent the partition grid"):
        P.TimeWindow(D(2024, 1, 1), cron_schedule="0 0 * * *", fmt="%Y-%m").check()


# ---------------------------------------------------------------------------
# fmt round-trip rule and reserved characters


def test_fmt_round_trip_message_matches_the_spec():
    with pytest.raises(PartitionDefinitionError) as info:
        P.daily(D(2024, 1, 1), fmt="%Y-%m")
    assert str(info.value).startswith(
        "fmt '%Y-%m' cannot represent the partition grid: window start 2024-01-02T00:00:00 formats to '2024-01', "
        "which parses back to 2024-01-01T00:00:00; use a format at least as fine as the grid"
    )


def test_fmt_round_trip_cases():
    P.time_window(D(2024, 1, 1), cron_schedule="0 0 1 * *", fmt="%Y-%m")  # monthly keys by month: fine
    with pytest.raises(PartitionDefinitionError, match="fmt '%Y-%m-%d' cannot represent"):
        P.hourly(D(2024, 1, 1), fmt="%Y-%m-%d")
    with pytest.raises(PartitionDefinitionError, match="fmt '%Y-%m' cannot represent"):
        P.time_window(D(2024, 1, 1), interval_seconds=31 * 86400, fmt="%Y-%m")
    with pytest.raises(PartitionDefinitionError, match="fmt '%m-%d' cannot represent.*parses back to 1900-01-01"):
        P.daily(D(2024, 1, 1), fmt="%m-%d")  # missing year parses as 1900
    with pytest.raises(PartitionDefinitionError, match="does not parse back"):
        P.daily(D(2024, 1, 1), fmt="%Y-%m-%d %c")


def test_fmt_round_trip_checks_only_the_first_four_years():
    # two-digit years: 2069 renders as '69', which parses back to 1969
    with pytest.raises(PartitionDefinitionError, match="window start 2069-01-01T00:00:00 formats to '69'"):
        P.time_window(D(2066, 1, 1), cron_schedule="0 0 1 1 *", fmt="%y")
    late = P.time_window(D(2064, 1, 1), cron_schedule="0 0 1 1 *", fmt="%y", end=D(2070, 1, 1))
    assert keys(late) == ["64", "65", "66", "67", "68", "69"]  # 2069 is beyond the checked years
    assert not late.validate_partition_key(K("69"))  # ... and does not round-trip


def test_reserved_characters_in_rendered_keys():
    reserved = "fmt '%Y\\|%m\\|%d' produces keys containing reserved character '\\|'"
    with pytest.raises(PartitionDefinitionError, match=reserved):
        P.daily(D(2024, 1, 1), fmt="%Y|%m|%d")
    with pytest.raises(PartitionDefinitionError, match="reserved character ','"):
        P.daily(D(2024, 1, 1), fmt="%Y,%m,%d")


# ---------------------------------------------------------------------------
# reprs, equality, describe


def test_reprs_match_the_spec():
    assert repr(P.daily(D(2024, 1, 1), D(2024, 1, 4))) == (
        'PartitionsDefinition.time_window(cron="0 0 * * *", start=2024-01-01T00:00:00, fmt="%Y-%m-%d", '
        "end=2024-01-04T00:00:00)"
    )
    assert repr(P.daily(D(2024, 1, 1))) == (
        'PartitionsDefinition.time_window(cron="0 0 * * *", start=2024-01-01T00:00:00, fmt="%Y-%m-%d")'
    )
    assert repr(P.time_window(D(2024, 1, 1), interval_seconds=1800)) == (
        'PartitionsDefinition.time_window(interval=1800s, start=2024-01-01T00:00:00, fmt="%Y-%m-%dT%H:%M:%S")'
    )
    assert repr(P.hourly(D(2024, 1, 1), timezone="Europe/Berlin")).endswith(', timezone="Europe/Berlin")')


def test_equality_and_describe():
    assert P.daily(D(2024, 1, 1)) == P.daily(D(2024, 1, 1))
    assert hash(P.daily(D(2024, 1, 1))) == hash(P.daily(D(2024, 1, 1)))
    assert P.daily(D(2024, 1, 1)) != P.daily(D(2024, 1, 2))
    assert P.daily(D(2024, 1, 1)) != P.daily(D(2024, 1, 1), timezone="UTC")
    assert P.daily(D(2024, 1, 1)).describe() == "daily partitions from 2024-01-01"
    hourly = P.hourly(D(2024, 1, 1), D(2024, 2, 1))
    assert hourly.describe() == "hourly partitions from 2024-01-01T00:00 to 2024-02-01T00:00"
    assert P.time_window(D(2024, 1, 1), cron_schedule="0 0 * * 1").describe() == (
        "time-window partitions (cron '0 0 * * 1') from 2024-01-01T00:00:00"
    )
    assert "in Europe/Berlin" in P.daily(D(2024, 1, 1), timezone="Europe/Berlin").describe()


# ---------------------------------------------------------------------------
# validation


def test_validation():
    days = P.daily(D(2024, 1, 1), D(2024, 2, 1))
    assert days.validate_partition_key(K("2024-01-15"))
    assert days.validate_partition_key("2024-01-31")
    assert days.validate_partition_key(K(["2024-01-01", "2024-01-31"]))
    assert not days.validate_partition_key(K(["2024-01-01", "2024-02-01"]))
    assert not days.validate_partition_key(K("2024-02-01"))  # end is exclusive
    assert not days.validate_partition_key(K("2023-12-31"))  # before start
    assert not days.validate_partition_key(K("2024-1-5"))  # not the canonical rendering
    assert not days.validate_partition_key(K("2024-01-32"))
    assert not days.validate_partition_key(K("nonsense"))
    assert not days.validate_partition_key(PartitionKey.multi({"d": "2024-01-15"}))
    assert days.validate_partition_key(PartitionKey.Set([K("2024-01-02"), K("2024-01-03")]))
    hours = P.hourly(D(2024, 1, 1), D(2024, 1, 2))
    assert not hours.validate_partition_key(K("2024-01-01T00:30"))  # off the grid cannot even be rendered
    every = P.time_window(D(2024, 1, 1), interval_seconds=5400, end=D(2024, 1, 2))
    assert every.validate_partition_key(K("2024-01-01T01:30:00"))
    assert not every.validate_partition_key(K("2024-01-01T01:00:00"))  # renders, but is not a tick


def test_custom_fmt_orders_ranges_chronologically():
    days = P.daily(D(2024, 1, 1), D(2024, 3, 1), fmt="%d.%m.%Y")
    chosen = days.resolve_range(PartitionKeyRange.single("30.01.2024", "02.02.2024"))
    assert [str(k) for k in chosen] == ["30.01.2024", "31.01.2024", "01.02.2024", "02.02.2024"]
    with pytest.raises(ExecutionError, match="from_key '02.02.2024' is after to_key '30.01.2024'"):
        days.resolve_range(PartitionKeyRange.single("02.02.2024", "30.01.2024"))


def test_range_endpoint_errors_name_the_nearest_key():
    days = P.daily(D(2024, 1, 1), D(2024, 2, 1))
    message = "Range endpoint '2024-03-05' is not a partition key; nearest valid key is '2024-01-31'"
    with pytest.raises(ExecutionError, match=message):
        days.resolve_range(PartitionKeyRange.single("2024-01-05", "2024-03-05"))
    hours = P.hourly(D(2024, 1, 1), D(2024, 2, 1))
    assert hours.nearest_key("2024-01-05T07:45") is not None
    assert hours.nearest_key("2024-01-05T07:45:00") == "2024-01-05T07:00"  # ISO fallback, floor to the window
    assert hours.nearest_key("garbage") == "2024-01-01T00:00"
    assert days.nearest_key("2023-05-01") == "2024-01-01"


# ---------------------------------------------------------------------------
# windows and positions


def test_window_shift_tick_index():
    days = P.daily(D(2024, 1, 1), D(2024, 1, 10))
    assert days.window(K("2024-01-05")) == (D(2024, 1, 5), D(2024, 1, 6))
    assert days.window(K("2024-01-05T00")) is None
    assert days.window(K(["2024-01-05", "2024-01-06"])) is None
    assert days.shift(K("2024-01-05"), -1) == K("2024-01-04")
    assert days.shift(K("2024-01-05"), 4) == K("2024-01-09")
    assert days.shift(K("2024-01-05"), 5) is None
    assert days.shift(K("2024-01-01"), -1) is None
    assert days.tick_index(D(2024, 1, 5, 13)) == 4
    assert days.tick_index(D(2024, 1, 9, 23, 59)) == 8  # inside the last window
    assert days.tick_index(D(2024, 1, 10)) is None
    assert days.tick_index(D(2023, 12, 31)) is None
    monthly = P.time_window(D(2024, 1, 1), cron_schedule="0 0 1 * *", fmt="%Y-%m", end=D(2024, 4, 1))
    assert monthly.window(K("2024-02")) == (D(2024, 2, 1), D(2024, 3, 1))
    assert monthly.window(K("2024-03")) == (D(2024, 3, 1), D(2024, 4, 1))


def test_keys_overlapping():
    hours = P.hourly(D(2024, 1, 1), D(2024, 1, 5))
    day = hours.keys_overlapping(D(2024, 1, 2), D(2024, 1, 3))
    assert len(day) == 24 and str(day[0]) == "2024-01-02T00:00" and str(day[-1]) == "2024-01-02T23:00"
    assert [str(k) for k in hours.keys_overlapping(D(2024, 1, 2, 5, 30), D(2024, 1, 2, 7))] == [
        "2024-01-02T05:00",
        "2024-01-02T06:00",
    ]
    assert len(hours.keys_overlapping(D(2023, 1, 1), D(2030, 1, 1))) == 96
    assert len(hours.keys_overlapping(D(2024, 1, 6), D(2024, 1, 7))) == 0
    assert len(hours.keys_overlapping(D(2024, 1, 2), D(2024, 1, 2))) == 0
    days = P.daily(D(2024, 1, 1), D(2024, 2, 1))
    assert [str(k) for k in days.keys_overlapping(D(2024, 1, 3, 12), D(2024, 1, 5))] == ["2024-01-03", "2024-01-04"]


# ---------------------------------------------------------------------------
# open-ended grids


def test_open_ended_grid_offers_the_windows_that_have_ended_and_grows(frozen_now):
    days = P.daily(D(2024, 1, 1))  # now: 2024-01-10 15:30, inside the unfinished window of the 10th
    assert keys(days)[-1] == "2024-01-09" and len(days.get_partition_keys()) == 9
    assert days.validate_partition_key(K("2024-01-09"))
    assert not days.validate_partition_key(K("2024-01-10"))  # not ended yet
    assert not days.validate_partition_key(K("2024-01-11"))  # future keys are invalid
    frozen_now["now"] = D(2024, 1, 12, 0, 0, 1)
    assert keys(days)[-1] == "2024-01-11"
    assert days.validate_partition_key(K("2024-01-10"))
    assert days.index_of(K("2024-01-11")) == 10
    frozen_now["now"] = D(2024, 1, 12)  # exactly at a tick: the window of the 11th has just ended
    assert keys(P.daily(D(2024, 1, 1)))[-1] == "2024-01-11"
    frozen_now["now"] = D(2023, 12, 31)
    assert len(P.daily(D(2024, 1, 1)).get_partition_keys()) == 0


def test_end_offset_one_includes_the_current_window(frozen_now):
    days = P.daily(D(2024, 1, 1), end_offset=1)
    assert keys(days)[-1] == "2024-01-10" and len(days.get_partition_keys()) == 10
    assert days.validate_partition_key(K("2024-01-10"))
    assert not days.validate_partition_key(K("2024-01-11"))
    assert days != P.daily(D(2024, 1, 1)) and "end_offset=1" in repr(days)
    assert pickle.loads(pickle.dumps(days)) == days
    hours = P.hourly(D(2024, 1, 10), end_offset=1)
    assert keys(hours)[-1] == "2024-01-10T15:00"
    with pytest.raises(PartitionDefinitionError, match="end_offset must be 0"):
        P.daily(D(2024, 1, 1), end_offset=2)


def test_validation_never_enumerates():
    since_2000 = P.daily(D(2000, 1, 1))
    key = K("2020-05-05")
    assert since_2000.validate_partition_key(key)
    per_call = min(timeit.repeat(lambda: since_2000.validate_partition_key(key), number=2000, repeat=3)) / 2000
    assert per_call < 50e-6
    fresh = min(timeit.repeat(lambda: since_2000.validate_partition_key(K("2019-03-04")), number=2000, repeat=3))
    assert fresh / 2000 < 50e-6


# ---------------------------------------------------------------------------
# large grids: lazy and cheap


def test_ten_years_of_hourly_keys_are_lazy():
    hours = P.hourly(D(2014, 1, 1), D(2024, 1, 1))
    start = time.perf_counter()
    seq = hours.get_partition_keys()
    count = len(seq)
    middle = seq[1000:2000]
    chosen = hours.resolve_range(PartitionKeyRange.single("2015-01-01T00:00", "2016-01-01T00:00"))
    elapsed = time.perf_counter() - start
    assert count == 87_648
    assert len(middle) == 1000 and str(middle[0]) == "2014-02-11T16:00"
    assert len(chosen) == 365 * 24 + 1
    assert elapsed < 0.05  # enumerating would take far longer


def test_enumeration_matches_naive_stepping_and_strftime():
    hours = P.hourly(D(2014, 1, 1), D(2024, 1, 1))
    everything = list(hours.get_partition_keys())
    assert len(everything) == 87_648
    for i in range(0, len(everything), 997):
        assert str(everything[i]) == (D(2014, 1, 1) + dt.timedelta(hours=i)).strftime("%Y-%m-%dT%H:00")


@pytest.mark.parametrize(
    ("fmt", "step"),
    [
        ("%Y-%m-%dT%H:%M", dt.timedelta(minutes=20)),  # date then time
        ("%H:%M %d.%m.%Y", dt.timedelta(minutes=30)),  # time then date
        ("%Y%m%d-%H%M%S", dt.timedelta(seconds=90)),
        ("%d/%H/%m/%Y", dt.timedelta(hours=2)),  # interleaved date and time parts
        ("%b %d %Y %I%p", dt.timedelta(hours=1)),  # directives without a fast path
        ("day %j of %Y", dt.timedelta(days=1)),
        ("%Y-%m-%d %%%H", dt.timedelta(hours=3)),
    ],
)
def test_bulk_rendering_equals_strftime(fmt, step):
    start = D(2023, 12, 30)
    grid = P.time_window(start, interval_seconds=step.total_seconds(), end=start + step * 500, fmt=fmt)
    expected = [(start + step * i).strftime(fmt) for i in range(500)]
    seq = grid.get_partition_keys()
    assert list(seq.iter_display()) == expected
    assert [str(k) for k in seq[123:321]] == expected[123:321]
    assert [seq.display(i) for i in range(0, 500, 37)] == expected[::37]
    for i in range(0, 500, 41):
        assert grid.index_of(K(expected[i])) == i


@pytest.mark.parametrize("cron", ["*/30 9-10 * * 1-5", "0 6,18 1 * *"])
@pytest.mark.parametrize("fmt", ["%Y-%m-%dT%H:%M", "%H:%M %d.%m.%Y", "%d/%H/%m/%Y/%M", "%b %d %Y %I:%M%p"])
def test_rendering_of_uneven_ticks_equals_strftime(cron, fmt):
    grid = P.time_window(D(2024, 1, 1), cron_schedule=cron, end=D(2024, 7, 1), fmt=fmt)
    default = P.time_window(D(2024, 1, 1), cron_schedule=cron, end=D(2024, 7, 1))
    moments = [D.strptime(text, "%Y-%m-%dT%H:%M:%S") for text in default.get_partition_keys().iter_display()]
    assert len(moments) >= 12
    assert list(grid.get_partition_keys().iter_display()) == [m.strftime(fmt) for m in moments]


def test_an_open_ended_window_checks_later_past_keys_without_reading_the_clock(monkeypatch):
    daily = PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))
    assert daily.validate_partition_key("2000-01-01")  # computes the bound (the start of today's window)
    reads = []
    real_now = time_keys_module.CompiledGrid.now
    monkeypatch.setattr(time_keys_module.CompiledGrid, "now", lambda self: reads.append(1) or real_now(self))
    assert daily.validate_partition_key("2000-01-02")  # below the bound computed before: no clock reading
    assert daily.validate_partition_key("2001-06-30")
    assert reads == []
    future = (dt.datetime.now() + dt.timedelta(days=30)).strftime("%Y-%m-%d")
    assert not daily.validate_partition_key(future)  # above it: the clock is read, and the key is in the future
    assert reads


@pytest.mark.parametrize("fmt, text, expected", [
    ("%Y-%m-%d", "2001-02-03", D(2001, 2, 3)),  # fields in datetime's order: parsed positionally
    ("%Y-%m", "2001-02", D(2001, 2, 1)),  # the missing fields take their defaults
    ("%Y-%m-%d-%H:%M", "2001-02-03-04:05", D(2001, 2, 3, 4, 5)),
    ("%d/%m/%Y", "03/02/2001", D(2001, 2, 3)),  # another order: parsed by name
    ("%Y-%m-%d", "2001-02-30", None),  # no such day
    ("%Y-%m-%d", "2001-2-3", None),  # not the fmt's widths
    ("%d/%m/%Y", "31/04/2001", None),
])
def test_fast_key_parsers_parse_and_reject_like_strptime(fmt, text, expected):
    from rivers.partitions.time.formats import TimeFormat

    assert TimeFormat(fmt).parse(text) == expected
