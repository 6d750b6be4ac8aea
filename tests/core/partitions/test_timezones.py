"""Time zones: local wall-clock grids, DST gaps and folds, aware windows."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions import PartitionKey, PartitionsDefinition
from rivers.partitions.time.zones import gaps_between

P = PartitionsDefinition
K = PartitionKey.single
D = dt.datetime
UTC = dt.timezone.utc
NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"


def hours_of(window):
    """Real elapsed hours of an aware window (subtracting same-zone datetimes would ignore DST)."""
    start, end = window
    return (end.astimezone(UTC) - start.astimezone(UTC)) / dt.timedelta(hours=1)


def local_hours(zone: str, day: dt.date) -> list[str]:
    """Reference: every local wall-clock hour of ``day`` that exists, found via UTC round trips."""
    tz = ZoneInfo(zone)
    result = []
    for hour in range(24):
        wall = D(day.year, day.month, day.day, hour)
        back = wall.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
        if back == wall:
            result.append(wall.strftime("%Y-%m-%dT%H:00"))
    return result


def test_unknown_zone_is_named():
    with pytest.raises(PartitionDefinitionError, match="unknown timezone 'Mars/Olympus'"):
        P.daily(D(2024, 1, 1), timezone="Mars/Olympus")


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [(NEW_YORK, dt.date(2024, 3, 10), dt.date(2024, 11, 3)), (BERLIN, dt.date(2024, 3, 31), dt.date(2024, 10, 27))],
)
def test_daily_windows_are_23_and_25_hours_across_dst(zone, spring, fall):
    days = P.daily(D(2024, 1, 1), D(2025, 1, 1), timezone=zone)
    assert len(days.get_partition_keys()) == 366  # exactly one window per local day
    spring_window = days.window(K(spring.isoformat()))
    fall_window = days.window(K(fall.isoformat()))
    assert hours_of(spring_window) == 23
    assert hours_of(fall_window) == 25
    assert hours_of(days.window(K("2024-06-01"))) == 24
    start, end = spring_window
    assert start.tzinfo == ZoneInfo(zone) and end.tzinfo == ZoneInfo(zone)
    assert (start.replace(tzinfo=None), end.replace(tzinfo=None)) == (
        D(spring.year, spring.month, spring.day),
        D(spring.year, spring.month, spring.day) + dt.timedelta(days=1),
    )
    assert start.utcoffset() != end.utcoffset()


@pytest.mark.parametrize(
    ("zone", "spring", "fall"),
    [(NEW_YORK, dt.date(2024, 3, 10), dt.date(2024, 11, 3)), (BERLIN, dt.date(2024, 3, 31), dt.date(2024, 10, 27))],
)
def test_hourly_has_one_window_per_existing_local_hour(zone, spring, fall):
    hours = P.hourly(D(2024, 1, 1), D(2025, 1, 1), timezone=zone)
    seq = hours.get_partition_keys()
    assert len(seq) == 366 * 24 - 1  # the skipped spring-forward hour; the repeated fall-back hour is one window
    for day, expected_hours in ((spring, 23), (fall, 25)):
        window = (
            D(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)),
            D(day.year, day.month, day.day, tzinfo=ZoneInfo(zone)) + dt.timedelta(days=1),
        )
        day_keys = hours.keys_overlapping(*window)
        assert [str(k) for k in day_keys] == local_hours(zone, day)
        windows = [hours.window(k) for k in day_keys]
        assert all(w[0].tzinfo is not None and w[1].tzinfo is not None for w in windows)
        assert sum(hours_of(w) for w in windows) == expected_hours
        for (_, end), (next_start, _) in zip(windows, windows[1:]):
            assert end.astimezone(UTC) == next_start.astimezone(UTC)  # contiguous, no overlap
    assert len(hours.keys_overlapping(*hours_window(hours, spring))) == 23
    assert len(hours.keys_overlapping(*hours_window(hours, fall))) == 24


def hours_window(hours, day):
    """The aware local-day interval of ``day`` in the grid's zone."""
    tz = ZoneInfo(hours.timezone)
    start = D(day.year, day.month, day.day, tzinfo=tz)
    return start, start + dt.timedelta(days=1)


def test_gap_and_fold_details_in_new_york():
    hours = P.hourly(D(2024, 1, 1), D(2025, 1, 1), timezone=NEW_YORK)
    # spring forward: 02:00 does not exist, 01:00 lasts one real hour and ends at 03:00 EDT
    assert not hours.validate_partition_key(K("2024-03-10T02:00"))
    assert hours.index_of(K("2024-03-10T02:00")) is None
    assert hours.index_of(K("2024-03-10T03:00")) == hours.index_of(K("2024-03-10T01:00")) + 1
    start, end = hours.window(K("2024-03-10T01:00"))
    assert end.replace(tzinfo=None) == D(2024, 3, 10, 3) and hours_of((start, end)) == 1
    # fall back: 01:00 is taken at its first occurrence (EDT) and covers both 01:00 hours
    start, end = hours.window(K("2024-11-03T01:00"))
    assert start.fold == 0 and start.utcoffset() == dt.timedelta(hours=-4)
    assert end.utcoffset() == dt.timedelta(hours=-5) and hours_of((start, end)) == 2
    second_one_thirty = D(2024, 11, 3, 1, 30, fold=1, tzinfo=ZoneInfo(NEW_YORK))
    assert hours.tick_index(second_one_thirty) == hours.index_of(K("2024-11-03T01:00"))
    assert hours.tick_index(D(2024, 11, 3, 6, 30, tzinfo=UTC)) == hours.index_of(K("2024-11-03T01:00"))
    assert hours.tick_index(D(2024, 11, 3, 7, 30, tzinfo=UTC)) == hours.index_of(K("2024-11-03T02:00"))


def test_positions_and_keys_agree_across_the_whole_year():
    hours = P.hourly(D(2024, 1, 1), D(2025, 1, 1), timezone=NEW_YORK)
    seq = hours.get_partition_keys()
    expected = [h for n in range(366) for h in local_hours(NEW_YORK, dt.date(2024, 1, 1) + dt.timedelta(days=n))]
    assert list(seq.iter_display()) == expected
    assert [str(k) for k in seq[1600:1700]] == expected[1600:1700]
    assert [seq.display(i) for i in range(0, len(expected), 101)] == expected[::101]
    for i in range(0, len(expected), 53):
        assert hours.index_of(K(expected[i])) == i
    assert [str(k) for k in seq[1630:1640]] == expected[1630:1640]  # slice across the spring gap


def test_a_day_whose_midnight_falls_in_a_gap_keeps_its_key_and_starts_late():
    # Sao Paulo moved clocks from 00:00 to 01:00 on 2018-11-04: that day has no midnight, but it is a local
    # day all the same; its window starts at 01:00, the first local time that exists (as cron runs it)
    days = P.daily(D(2018, 11, 2), D(2018, 11, 7), timezone="America/Sao_Paulo")
    keys = ["2018-11-02", "2018-11-03", "2018-11-04", "2018-11-05", "2018-11-06"]
    assert [str(k) for k in days.get_partition_keys()] == keys
    assert days.validate_partition_key(K("2018-11-04")) and days.index_of(K("2018-11-04")) == 2
    before, gap_day = days.window(K("2018-11-03")), days.window(K("2018-11-04"))
    assert before[1] == gap_day[0]
    assert gap_day[0].replace(tzinfo=None) == D(2018, 11, 4, 1) and gap_day[0].utcoffset() == dt.timedelta(hours=-2)
    assert gap_day[1].replace(tzinfo=None) == D(2018, 11, 5)
    assert hours_of(before) == 24 and hours_of(gap_day) == 23
    # instants map to the window that holds them, on both sides of the late start
    sao_paulo = ZoneInfo("America/Sao_Paulo")
    assert days.tick_index(D(2018, 11, 4, 1, tzinfo=sao_paulo)) == 2
    assert days.tick_index(D(2018, 11, 4, 2, 59, tzinfo=UTC)) == 1  # 23:59 on the 3rd, local
    assert [str(k) for k in days.keys_overlapping(D(2018, 11, 4, 2, tzinfo=UTC), D(2018, 11, 4, 3, tzinfo=UTC))] == [
        "2018-11-03"
    ]
    assert [str(k) for k in days.keys_overlapping(D(2018, 11, 4, 2, tzinfo=UTC), D(2018, 11, 4, 4, tzinfo=UTC))] == [
        "2018-11-03",
        "2018-11-04",
    ]


def test_hourly_still_skips_the_hour_a_midnight_gap_removes():
    hours = P.hourly(D(2018, 11, 3, 22), D(2018, 11, 4, 3), timezone="America/Sao_Paulo")
    assert [str(k) for k in hours.get_partition_keys()] == [
        "2018-11-03T22:00", "2018-11-03T23:00", "2018-11-04T01:00", "2018-11-04T02:00",
    ]
    assert not hours.validate_partition_key(K("2018-11-04T00:00"))
    assert hours_of(hours.window(K("2018-11-03T23:00"))) == 1


def test_a_tick_inside_a_gap_moves_to_the_gap_end():
    # a daily grid at 00:30: on 2018-11-04 in Sao Paulo that time does not exist; the window opens at 01:00
    days = P.time_window(D(2018, 11, 2), "30 0 * * *", end=D(2018, 11, 6), timezone="America/Sao_Paulo")
    keys = [str(k) for k in days.get_partition_keys()]
    assert keys == ["2018-11-02T00:30:00", "2018-11-03T00:30:00", "2018-11-04T00:30:00", "2018-11-05T00:30:00"]
    start, end = days.window(K("2018-11-04T00:30:00"))
    assert (start.replace(tzinfo=None), end.replace(tzinfo=None)) == (D(2018, 11, 4, 1), D(2018, 11, 5, 0, 30))
    assert days.window(K("2018-11-03T00:30:00"))[1] == start


def test_half_hour_gap_keeps_the_hour_that_partly_exists():
    # Lord Howe Island moves from 02:00 to 02:30: half of the 02:00 hour exists, so it is a 30-minute window
    hours = P.hourly(D(2023, 10, 1), D(2023, 10, 1, 4), timezone="Australia/Lord_Howe")
    assert [str(k) for k in hours.get_partition_keys()][2:4] == ["2023-10-01T02:00", "2023-10-01T03:00"]
    start, end = hours.window(K("2023-10-01T02:00"))
    assert start.replace(tzinfo=None) == D(2023, 10, 1, 2, 30) and hours_of((start, end)) == 0.5


def test_aware_start_and_end_are_converted_to_the_zone():
    days = P.daily(D(2024, 1, 1, 5, tzinfo=UTC), D(2024, 1, 4, 5, tzinfo=UTC), timezone=NEW_YORK)
    assert [str(k) for k in days.get_partition_keys()] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    naive = P.daily(D(2024, 1, 1), D(2024, 1, 4), timezone=NEW_YORK)
    assert [str(k) for k in naive.get_partition_keys()] == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_open_ended_uses_now_in_the_zone(monkeypatch):
    from rivers.partitions.time.keys import CompiledGrid
    from rivers.partitions.time.formats import to_us

    now_utc = D(2024, 1, 10, 3, 0, tzinfo=UTC)  # still Jan 9 in New York
    monkeypatch.setattr(CompiledGrid, "now", lambda self: to_us(now_utc.astimezone(self.zone).replace(tzinfo=None)))
    days = P.daily(D(2024, 1, 1), timezone=NEW_YORK)
    assert str(days.get_partition_keys()[-1]) == "2024-01-08"  # the 9th has not ended in New York
    assert not days.validate_partition_key(K("2024-01-09"))
    current = P.daily(D(2024, 1, 1), timezone=NEW_YORK, end_offset=1)
    assert str(current.get_partition_keys()[-1]) == "2024-01-09"
    assert not current.validate_partition_key(K("2024-01-10"))


def test_gaps_are_found_per_year():
    tz = ZoneInfo(NEW_YORK)
    start_us = int((D(2023, 1, 1) - D(1970, 1, 1)).total_seconds()) * 1_000_000
    end_us = int((D(2025, 1, 1) - D(1970, 1, 1)).total_seconds()) * 1_000_000
    gaps = gaps_between(tz, start_us, end_us)
    epoch = D(1970, 1, 1)
    as_dates = [(epoch + dt.timedelta(microseconds=a), epoch + dt.timedelta(microseconds=b)) for a, b in gaps]
    assert as_dates == [(D(2023, 3, 12, 2), D(2023, 3, 12, 3)), (D(2024, 3, 10, 2), D(2024, 3, 10, 3))]
    assert gaps_between(ZoneInfo("UTC"), start_us, end_us) == []


def test_naive_grids_never_consult_a_zone():
    days = P.daily(D(2024, 3, 9), D(2024, 3, 12))
    assert [days.window(k)[1] - days.window(k)[0] for k in days.get_partition_keys()] == [dt.timedelta(days=1)] * 3
    hours = P.hourly(D(2024, 3, 10), D(2024, 3, 11))
    assert len(hours.get_partition_keys()) == 24 and hours.validate_partition_key(K("2024-03-10T02:00"))
