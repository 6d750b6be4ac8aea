"""Partitioned runs through CodeRepository: keys, contexts, storage records, mappings, loads, errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import rivers as rs
from rivers.exceptions import ConfigurationError, ExecutionError, PartitionValidationError

DAYS = rs.PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 2, 1))
HOURS = rs.PartitionsDefinition.hourly(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3))
REGIONS = rs.PartitionsDefinition.static_(["us", "eu", "apac"])
GRID = rs.PartitionsDefinition.multi({"date": DAYS, "region": REGIONS})


def repo_of(*assets: Any, **options: Any) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets), **options)
    repo.resolve(rs.Storage.embedded(".rivers/test.db"))
    return repo


# ----------------------------------------------------------------- basic runs
def test_partition_key_reaches_the_context_and_each_partition_keeps_its_value():
    seen = []

    @rs.Asset(partitions_def=DAYS)
    def clicks(context: rs.AssetExecutionContext) -> str:
        seen.append((context.partition_key, context.partition_time_window, context.has_partition_key))
        return context.partition_key.upper()

    repo = repo_of(clicks)
    assert repo.materialize(partition_key=rs.PartitionKey.single("2024-01-05")).success
    assert repo.materialize(partition_key="2024-01-06").success  # a str is a single key
    assert seen == [
        ("2024-01-05", (dt.datetime(2024, 1, 5), dt.datetime(2024, 1, 6)), True),
        ("2024-01-06", (dt.datetime(2024, 1, 6), dt.datetime(2024, 1, 7)), True),
    ]
    assert repo.load_node("clicks", partition_key="2024-01-05") == "2024-01-05"
    assert repo.load_node("clicks", partition_key=rs.PartitionKey.single("2024-01-06")) == "2024-01-06"


def test_storage_records_one_materialization_per_partition_and_the_run_key():
    @rs.Asset(partitions_def=DAYS)
    def clicks() -> int:
        return 1

    repo = repo_of(clicks)
    result = repo.materialize(partition_key="2024-01-02")
    repo.materialize(partition_key="2024-01-01")
    storage = repo.storage
    assert storage.get_materialized_partitions("clicks") == [rs.PartitionKey.single("2024-01-02"),
                                                             rs.PartitionKey.single("2024-01-01")]
    assert storage.count_materialized_partitions("clicks") == 2
    assert storage.get_run(result.run_id).partition_key == rs.PartitionKey.single("2024-01-02")
    latest = storage.get_latest_materialization("clicks", rs.PartitionKey.single("2024-01-02"))
    assert latest is not None and latest.run_id == result.run_id
    assert storage.get_latest_materialization("clicks", "2024-01-02").run_id == result.run_id


@pytest.mark.parametrize("storage", ["embedded", "memory"])
def test_a_static_key_containing_equals_reads_back_as_that_key(storage):
    # "a=b" is a valid static key whose display string looks like a one-dimension multi key
    tricky = rs.PartitionsDefinition.static_(["a=b", "plain"])
    calls = []

    @rs.Asset(partitions_def=tricky)
    def letters(context: rs.AssetExecutionContext) -> str:
        calls.append(context.partition_key)
        if context.partition_key == "a=b" and len(calls) == 1:
            raise ValueError("first attempt fails")
        return context.partition_key

    repo = rs.CodeRepository(assets=[letters])
    repo.resolve(rs.Storage.embedded(".rivers/eq.db") if storage == "embedded" else rs.Storage.memory())
    first = repo.backfill(partition_keys=["a=b", "plain"], max_concurrency=1)
    assert {str(k): s for k, s in first.partition_statuses.items()} == {"a=b": "failed", "plain": "completed"}
    stored = repo.get_backfill(first.backfill_id)
    assert stored.partition_statuses == {rs.PartitionKey.single("a=b"): "failed",
                                         rs.PartitionKey.single("plain"): "completed"}
    rerun = repo.rerun_backfill(first.backfill_id)  # the failed key is still valid: it is not dropped
    assert rerun.partition_keys == [rs.PartitionKey.single("a=b")] and rerun.completed == 1

    single = rs.PartitionKey.single("a=b")
    assert sorted(repo.storage.get_materialized_partitions("letters"), key=str) == [
        single, rs.PartitionKey.single("plain")]
    assert repo.storage.get_latest_materialization("letters", single).partition_key == single
    assert repo.storage.get_latest_materialization("letters", "a=b").partition_key == single  # display string
    run = repo.storage.get_run(rerun.run_ids[0])
    assert run.partition_key == single
    assert repo.load_node("letters", partition_key="a=b") == "a=b"


def test_multi_valued_key_runs_one_step_and_records_every_member():
    calls = []

    @rs.Asset(partitions_def=REGIONS)
    def sales(context: rs.AssetExecutionContext) -> dict:
        calls.append([str(k) for k in context.partition.keys])
        return {key: f"sales {key}" for key in context.partition.keys}

    repo = repo_of(sales)
    result = repo.materialize(partition_key=rs.PartitionKey.single(["us", "eu"]))
    assert result.success and calls == [["eu", "us"]]
    assert {str(k) for k in repo.storage.get_materialized_partitions("sales")} == {"us", "eu"}
    assert repo.load_node("sales", partition_key="us") == "sales us"
    assert repo.load_node("sales", partition_key="eu") == "sales eu"


def test_context_partition_key_of_a_multi_valued_key_is_ambiguous():
    @rs.Asset(partitions_def=REGIONS)
    def sales(context: rs.AssetExecutionContext) -> int:
        return len(context.partition_key)

    repo = repo_of(sales)
    with pytest.raises(PartitionValidationError, match="ambiguous"):
        repo.materialize(partition_key=rs.PartitionKey.single(["us", "eu"]))


def test_multi_dimensional_key_and_dict_shorthand():
    @rs.Asset(partitions_def=GRID)
    def orders(context: rs.AssetExecutionContext) -> str:
        return str(context.partition.key)

    repo = repo_of(orders)
    assert repo.materialize(partition_key={"date": "2024-01-03", "region": "eu"}).success
    key = rs.PartitionKey.multi({"region": "eu", "date": "2024-01-03"})
    assert repo.load_node("orders", partition_key=key) == "date=2024-01-03|region=eu"
    assert repo.storage.get_materialized_partitions("orders") == [key]


def test_self_dependency_is_per_partition():
    @rs.Asset(partitions_def=REGIONS)
    def counter(context: rs.AssetExecutionContext, self: rs.SelfDependency[int]) -> int:
        return (self.get_inner() or 0) + 1

    repo = repo_of(counter)
    for key in ("us", "us", "eu"):
        repo.materialize(partition_key=key)
    assert repo.load_node("counter", partition_key="us") == 2
    assert repo.load_node("counter", partition_key="eu") == 1


def test_timezone_daily_partitions_have_aware_windows_across_dst():
    new_york = rs.PartitionsDefinition.daily(dt.datetime(2024, 3, 9), dt.datetime(2024, 11, 5),
                                             timezone="America/New_York")

    @rs.Asset(partitions_def=new_york)
    def hours(context: rs.AssetExecutionContext) -> float:
        start, end = context.partition_time_window
        assert start.tzinfo is not None
        return (end.astimezone(dt.timezone.utc) - start.astimezone(dt.timezone.utc)).total_seconds() / 3600

    repo = repo_of(hours)
    for key in ("2024-03-10", "2024-03-11", "2024-11-03"):
        repo.materialize(partition_key=key)
    assert [repo.load_node("hours", partition_key=k) for k in ("2024-03-10", "2024-03-11", "2024-11-03")] == [
        23.0, 24.0, 25.0]


# -------------------------------------------------------- mixed repositories
def test_a_key_with_unpartitioned_assets_runs_them_unpartitioned():
    @rs.Asset
    def rates() -> float:
        return 2.0

    @rs.Asset(partitions_def=DAYS)
    def revenue(context: rs.AssetExecutionContext, rates: float) -> float:
        return rates * int(context.partition_key[-2:])

    @rs.Asset
    def report(context: rs.AssetExecutionContext) -> bool:
        return context.has_partition_key

    repo = repo_of(rates, revenue, report)
    result = repo.materialize(partition_key="2024-01-10")  # upstream rivers fails 'rates' and 'report' here
    assert result.success
    assert repo.load_node("revenue", partition_key="2024-01-10") == 20.0
    assert repo.load_node("report") is False
    latest = repo.storage.get_latest_materialization("rates")
    assert latest is not None and latest.partition_key is None


def test_materialize_without_key_names_the_partitioned_assets():
    @rs.Asset(partitions_def=DAYS)
    def part() -> int:
        return 1

    @rs.Asset
    def plain() -> int:
        return 1

    repo = repo_of(part, plain)
    with pytest.raises(ExecutionError, match=r'Cannot materialize without partition_key: assets \["part"\]'):
        repo.materialize()
    assert repo.materialize(selection=["plain"]).success  # excluding them works


def test_a_key_for_an_unpartitioned_selection_is_rejected_before_running():
    calls = []

    @rs.Asset
    def plain() -> int:
        calls.append(1)
        return 1

    repo = repo_of(plain)
    with pytest.raises(PartitionValidationError, match="Node 'plain' is not partitioned, but a partition_key"):
        repo.materialize(partition_key="2024-01-01")
    assert calls == [] and repo.storage.get_runs() == []


# ------------------------------------------------------------------ mappings
def test_time_window_offset_loads_the_previous_day_and_fails_outside_the_range():
    @rs.Asset(partitions_def=DAYS, io_handler=rs.InMemoryIOHandler())
    def clicks(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    @rs.Asset(partitions_def=DAYS,
              deps=[rs.AssetDef.input("clicks", partition_mapping=rs.PartitionMapping.time_window(-1))])
    def clicks_prev(clicks: str) -> str:
        return f"previous {clicks}"

    repo = repo_of(clicks, clicks_prev)
    repo.materialize(selection=["clicks"], partition_key="2024-01-04")
    assert repo.materialize(selection=["clicks_prev"], partition_key="2024-01-05").success
    assert repo.load_node("clicks_prev", partition_key="2024-01-05") == "previous 2024-01-04"
    with pytest.raises(PartitionValidationError, match="offset"):
        repo.materialize(selection=["clicks_prev"], partition_key="2024-01-01")


def test_all_partitions_into_an_unpartitioned_asset_loads_every_partition():
    handler = rs.InMemoryIOHandler()

    @rs.Asset(partitions_def=REGIONS, io_handler=handler)
    def sales(context: rs.AssetExecutionContext) -> int:
        return len(context.partition_key)

    @rs.Asset(deps=[rs.AssetDef.input("sales", partition_mapping=rs.PartitionMapping.all_partitions())])
    def total(sales: dict) -> dict:
        return {str(key): value for key, value in sales.items()}

    repo = repo_of(sales, total)
    repo.backfill(selection=["sales"], partition_keys=["us", "eu", "apac"])
    assert repo.materialize(selection=["total"]).success
    assert repo.load_node("total") == {"us": 2, "eu": 2, "apac": 4}


def test_daily_from_hourly_loads_the_24_overlapping_hours_by_default():
    @rs.Asset(partitions_def=HOURS, io_handler=rs.InMemoryIOHandler())
    def readings(context: rs.AssetExecutionContext) -> int:
        return int(context.partition_key[11:13])

    @rs.Asset(partitions_def=rs.PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 3)))
    def daily_sum(readings: dict) -> int:
        assert len(readings) == 24
        return sum(readings.values())

    repo = repo_of(readings, daily_sum)
    repo.backfill(selection=["readings"],
                  partition_range=rs.PartitionKeyRange.single("2024-01-02T00:00", "2024-01-02T23:00"))
    assert repo.materialize(selection=["daily_sum"], partition_key="2024-01-02").success
    assert repo.load_node("daily_sum", partition_key="2024-01-02") == sum(range(24))


def test_multi_downstream_reads_its_single_dimension_upstream():
    @rs.Asset(partitions_def=REGIONS, io_handler=rs.InMemoryIOHandler())
    def currency(context: rs.AssetExecutionContext) -> str:
        return {"us": "USD", "eu": "EUR", "apac": "JPY"}[context.partition_key]

    @rs.Asset(partitions_def=GRID)
    def priced(context: rs.AssetExecutionContext, currency: str) -> str:
        return f"{context.partition.key.keys['date'][0]} in {currency}"

    repo = repo_of(currency, priced)
    repo.materialize(selection=["currency"], partition_key="eu")
    assert repo.materialize(selection=["priced"], partition_key={"date": "2024-01-09", "region": "eu"}).success
    assert repo.load_node("priced", partition_key={"date": "2024-01-09", "region": "eu"}) == "2024-01-09 in EUR"


def test_partitioned_asset_reads_an_unpartitioned_upstream_without_a_mapping():
    @rs.Asset(io_handler=rs.InMemoryIOHandler())
    def config() -> dict:
        return {"factor": 3}

    @rs.Asset(partitions_def=REGIONS)
    def scaled(context: rs.AssetExecutionContext, config: dict) -> int:
        return config["factor"] * len(context.partition_key)

    repo = repo_of(config, scaled)
    repo.materialize(selection=["config"])
    assert repo.materialize(selection=["scaled"], partition_key="apac").success
    assert repo.load_node("scaled", partition_key="apac") == 12


def test_incompatible_definitions_fail_at_validate_naming_both_assets():
    @rs.Asset(partitions_def=REGIONS)
    def regional() -> int:
        return 1

    @rs.Asset(partitions_def=DAYS)
    def daily(regional: int) -> int:
        return regional

    repo = rs.CodeRepository(assets=[regional, daily])
    with pytest.raises(PartitionValidationError) as info:
        repo.validate()
    assert "'daily'" in str(info.value) and "'regional'" in str(info.value)


def test_unpartitioned_downstream_of_a_partitioned_asset_needs_a_mapping():
    @rs.Asset(partitions_def=REGIONS)
    def regional() -> int:
        return 1

    @rs.Asset
    def overall(regional: int) -> int:
        return regional

    with pytest.raises(PartitionValidationError, match="partition_mapping"):
        rs.CodeRepository(assets=[regional, overall]).validate()


# ------------------------------------------------------------ named and bad
def test_named_partition_definitions_and_unknown_names():
    @rs.Asset(partitions_def="regions")
    def sales(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    repo = rs.CodeRepository(assets=[sales], partition_defs={"regions": REGIONS})
    repo.resolve(rs.Storage.memory())
    assert repo.materialize(partition_key="eu").success
    with pytest.raises(ConfigurationError, match=r"unknown partitions definition 'regions' referenced by 'sales'"):
        rs.CodeRepository(assets=[sales], partition_defs={"days": DAYS}).validate()


def test_invalid_keys_name_the_asset_and_the_nearest_key():
    @rs.Asset(partitions_def=REGIONS)
    def sales() -> int:
        return 1

    repo = repo_of(sales)
    with pytest.raises(ExecutionError, match=r"Invalid partition_key 'europe' for asset 'sales': not a member") as info:
        repo.materialize(partition_key="europe")
    assert "nearest valid key is 'eu'" in str(info.value)
    with pytest.raises(ExecutionError, match="Invalid partition_key"):
        repo.materialize(partition_key={"region": "eu"})  # a key of the wrong shape
    with pytest.raises(PartitionValidationError, match=r"is not valid for node 'sales'"):
        repo.load_node("sales", partition_key="mars")
    with pytest.raises(TypeError, match="PartitionKey"):
        repo.materialize(partition_key=42)


def test_dynamic_keys_must_be_registered_and_deleted_keys_are_rejected():
    tenants = rs.PartitionsDefinition.dynamic("tenants")

    @rs.Asset(partitions_def=tenants)
    def usage(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    repo = repo_of(usage)
    message = r"not a registered dynamic partition key of namespace 'tenants'.*add_dynamic_partitions\(\"tenants\""
    with pytest.raises(ExecutionError, match=message):
        repo.materialize(partition_key="acme")
    repo.storage.add_dynamic_partitions("tenants", ["acme", "globex"])
    assert repo.materialize(partition_key="acme").success
    repo.storage.delete_dynamic_partition("tenants", "acme")
    with pytest.raises(ExecutionError, match=message):
        repo.materialize(partition_key="acme")


def test_job_execute_with_an_invalid_key_fails_inside_the_step():
    @rs.Asset(partitions_def=REGIONS)
    def sales() -> int:
        return 1

    job = rs.Job(name="sales_job", assets=[sales])
    repo = rs.CodeRepository(assets=[sales], jobs=[job])
    repo.resolve(rs.Storage.memory())
    result = repo.get_job("sales_job").execute(partition_key="mars", raise_on_error=False)
    assert not result.success
    assert "is not valid for node 'sales'" in result.failed_assets[0][1]
    assert repo.get_job("sales_job").execute(partition_key="us").success


def test_parallel_executor_runs_partitioned_steps_in_workers(tmp_path, monkeypatch):
    module = tmp_path / "partitioned_pipeline.py"
    module.write_text(
        "import datetime as dt, os\n"
        "import rivers as rs\n"
        "DAYS = rs.PartitionsDefinition.daily(dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 10))\n"
        "@rs.Asset(partitions_def=DAYS, io_handler=rs.io_handler('fs', base_dir='data'))\n"
        "def raw(context: rs.AssetExecutionContext) -> dict:\n"
        "    return {'key': context.partition_key, 'pid': os.getpid()}\n"
        "@rs.Asset(partitions_def=DAYS, io_handler=rs.io_handler('fs', base_dir='data'))\n"
        "def clean(context: rs.AssetExecutionContext, raw: dict) -> dict:\n"
        "    return {**raw, 'clean_pid': os.getpid(), 'window': context.partition_time_window}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import partitioned_pipeline as pipeline

    repo = rs.CodeRepository(assets=[pipeline.raw, pipeline.clean],
                             default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve(rs.Storage.embedded(".rivers/test.db"))
    assert repo.materialize(partition_key="2024-01-03").success
    value = repo.load_node("clean", partition_key="2024-01-03")
    assert value["key"] == "2024-01-03" and value["window"] == (dt.datetime(2024, 1, 3), dt.datetime(2024, 1, 4))
    import os

    assert value["pid"] != os.getpid() and value["clean_pid"] != os.getpid()


def test_batched_step_with_one_value_writes_it_once_for_the_keys_that_did_not_fail():
    class Sized(rs.InMemoryIOHandler):
        def __init__(self):
            super().__init__()
            self.partitions = []

        def handle_output(self, context, obj):
            self.partitions.append([str(k) for k in context.partition.keys])
            super().handle_output(context, obj)

    handler = Sized()

    @rs.Asset(partitions_def=REGIONS, io_handler=handler)
    def summary(context: rs.AssetExecutionContext) -> str:
        context.mark_partition_failed("eu", "no data for eu")
        return "one summary"

    repo = repo_of(summary)
    result = repo.backfill(partition_keys=["us", "eu", "apac"], strategy=rs.BackfillStrategy.single_run())
    assert (result.completed, result.failed) == (2, 1)
    assert handler.partitions == [["apac", "us"]]  # the failed key is not written
    for key in ("us", "apac"):
        event = repo.storage.get_latest_materialization("summary", key)
        assert dict(event.metadata)["storage"]  # the handler's output metadata reaches every key's record
    assert repo.storage.get_latest_materialization("summary", "eu") is None
