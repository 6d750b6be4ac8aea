"""Time-window keys before 1970 have negative ticks: they are keys like any other."""

import datetime as dt

import rivers as rs


def test_daily_keys_before_1970_validate_and_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default embedded store goes here
    daily = rs.PartitionsDefinition.daily(start=dt.datetime(1969, 1, 1), end=dt.datetime(1970, 1, 1))
    assert daily.validate_partition_key("1969-01-04")
    assert daily.validate_partition_key("1969-12-31")
    assert not daily.validate_partition_key("1968-12-31")  # before start
    assert not daily.validate_partition_key("1970-01-01")  # the end is exclusive
    assert not daily.validate_partition_key("1969-02-30")  # no such day
    # asked twice: the cached answer is the same
    assert daily.validate_partition_key("1969-01-04") and not daily.validate_partition_key("1968-12-31")

    @rs.Asset(partitions_def=daily)
    def old_events(context: rs.AssetExecutionContext):
        return context.partition_key

    repo = rs.CodeRepository(assets=[old_events])
    assert repo.materialize(partition_key=rs.PartitionKey.single("1969-07-20")).success


def test_hourly_keys_across_the_epoch():
    hourly = rs.PartitionsDefinition.hourly(start=dt.datetime(1969, 12, 31, 22), end=dt.datetime(1970, 1, 1, 2))
    keys = [str(key) for key in hourly.get_partition_keys()]
    assert len(keys) == 4
    assert all(hourly.validate_partition_key(key) for key in keys)
