"""A partition type contributed by a plugin (the installed example plugin's ``fiscal_quarter``).

It is looked up through the ``rivers_partition_types`` hook and works like a
built-in type: in materialize, inside a multi definition, with the identity
mapping and in a backfill.
"""

from __future__ import annotations

import datetime as dt

import pytest

import rivers as rs
from rivers.exceptions import ExecutionError, PartitionDefinitionError, PluginNotFoundError


@pytest.fixture
def quarters() -> rs.PartitionsDefinition:
    pytest.importorskip("rivers_example_plugin")
    return rs.PartitionsDefinition.from_plugin("fiscal_quarter", first_year=2024, last_year=2025, start_month=4)


def repo_of(*assets, **options) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets), **options)
    repo.resolve(rs.Storage.embedded(".rivers/test.db"))
    return repo


def test_plugin_type_enumerates_validates_and_gives_time_windows(quarters):
    assert type(quarters).__module__ == "rivers_example_plugin.partitions"
    keys = quarters.get_partition_keys()
    assert len(keys) == 8 and str(keys[0]) == "FY2024-Q1" and str(keys[-1]) == "FY2025-Q4"
    assert quarters.validate_partition_key(rs.PartitionKey.single("FY2025-Q2"))
    assert not quarters.validate_partition_key(rs.PartitionKey.single("FY2026-Q1"))
    assert quarters.window(rs.PartitionKey.single("FY2024-Q4")) == (dt.datetime(2024, 1, 1), dt.datetime(2024, 4, 1))


def test_plugin_type_in_materialize_and_identity_mapping(quarters):
    @rs.Asset(partitions_def=quarters, io_handler=rs.InMemoryIOHandler())
    def bookings(context: rs.AssetExecutionContext) -> tuple:
        return context.partition_time_window

    @rs.Asset(partitions_def=quarters)
    def months(bookings: tuple) -> int:
        start, end = bookings
        return (end.year - start.year) * 12 + end.month - start.month

    repo = repo_of(bookings, months)
    assert repo.materialize(partition_key="FY2025-Q3").success
    assert repo.load_node("bookings", partition_key="FY2025-Q3") == (dt.datetime(2024, 10, 1), dt.datetime(2025, 1, 1))
    assert repo.load_node("months", partition_key="FY2025-Q3") == 3
    with pytest.raises(ExecutionError, match="Invalid partition_key 'FY2030-Q1' for asset 'bookings'"):
        repo.materialize(partition_key="FY2030-Q1")


def test_plugin_type_as_a_dimension_of_a_multi_definition(quarters):
    grid = rs.PartitionsDefinition.multi({"quarter": quarters, "region": rs.PartitionsDefinition.static_(["us", "eu"])})

    @rs.Asset(partitions_def=grid)
    def plan(context: rs.AssetExecutionContext) -> str:
        return str(context.partition.key)

    repo = repo_of(plan)
    assert len(grid.get_partition_keys()) == 16
    assert repo.materialize(partition_key={"quarter": "FY2024-Q2", "region": "eu"}).success
    assert repo.load_node("plan", partition_key={"quarter": "FY2024-Q2", "region": "eu"}) == "quarter=FY2024-Q2|region=eu"


def test_plugin_type_in_a_backfill(quarters):
    @rs.Asset(partitions_def=quarters)
    def revenue(context: rs.AssetExecutionContext) -> str:
        return context.partition_key

    repo = repo_of(revenue)
    result = repo.backfill(partition_range=rs.PartitionKeyRange.single("FY2024-Q3", "FY2025-Q2"))
    assert result.status == "CompletedSuccess" and result.num_runs == 4
    assert sorted(str(k) for k in repo.storage.get_materialized_partitions("revenue")) == [
        "FY2024-Q3", "FY2024-Q4", "FY2025-Q1", "FY2025-Q2"]


def test_unknown_plugin_type_and_bad_plugin_config():
    with pytest.raises(PluginNotFoundError, match="fiscal_quarters"):
        rs.PartitionsDefinition.from_plugin("fiscal_quarters")
    pytest.importorskip("rivers_example_plugin")
    with pytest.raises(PartitionDefinitionError, match="start_month must be 1-12"):
        rs.PartitionsDefinition.from_plugin("fiscal_quarter", first_year=2024, last_year=2025, start_month=13)
