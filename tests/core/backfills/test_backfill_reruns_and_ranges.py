"""rerun_backfill semantics, backfill ranges checked against every asset, failures of batched backfill runs."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

import rivers as rs
from rivers.backfills.state import load_backfill
from rivers.exceptions import ExecutionError

PD, R = rs.PartitionsDefinition, rs.PartitionKeyRange
D = dt.datetime


def make_repo(*assets: Any, storage: Any = None) -> rs.CodeRepository:
    repo = rs.CodeRepository(assets=list(assets))
    repo.resolve(storage or rs.Storage.memory())
    return repo


def statuses(result: Any) -> dict[str, str]:
    return {str(key): status for key, status in result.partition_statuses.items()}


def recording(calls: list[str], definition: Any, broken: set[str] | None = None, name: str = "letter") -> Any:
    def body(context: rs.AssetExecutionContext) -> str:
        keys = [str(key) for key in context.partition.keys]
        calls.extend(keys)
        if broken and broken & set(keys):
            raise ValueError(f"broken: {sorted(broken & set(keys))}")
        return ",".join(keys)

    return rs.Asset(body, name=name, partitions_def=definition)


# --------------------------------------------------------------------- rerun
def test_rerunning_a_backfill_where_nothing_failed_runs_every_partition_again() -> None:
    calls: list[str] = []
    repo = make_repo(recording(calls, PD.static_(["a", "b", "c"])))
    first = repo.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.single_run(),
                          failure_policy="stop_on_failure", tags=[("team", "data")])
    assert first.success and calls == ["a", "b", "c"]
    again = repo.rerun_backfill(first.backfill_id)
    assert again.success and calls == ["a", "b", "c"] * 2 and again.num_runs == 1  # still one batched run
    record = load_backfill(repo.storage, again.backfill_id)
    assert record.strategy == {"kind": "single_run"} and record.failure_policy == "stop_on_failure"
    assert repo.get_backfill(again.backfill_id).tags == [("team", "data"), ("rivers/priority", "-10"),
                                                          ("rivers/rerun_of", first.backfill_id)]
    # a rerun of the rerun links to its own parent, once
    third = repo.rerun_backfill(again.backfill_id)
    assert [t for t in repo.get_backfill(third.backfill_id).tags if t[0] == "rivers/rerun_of"] == [
        ("rivers/rerun_of", again.backfill_id)]


def test_rerun_dry_run_returns_the_plan_without_running_or_storing() -> None:
    calls: list[str] = []
    broken = {"b"}
    repo = make_repo(recording(calls, PD.static_(["a", "b", "c"]), broken))
    first = repo.backfill(partition_keys=["a", "b", "c"])
    assert statuses(first) == {"a": "completed", "b": "failed", "c": "completed"}
    calls.clear()
    planned = repo.rerun_backfill(first.backfill_id, dry_run=True)
    assert planned.is_dry_run and [str(k) for k in planned.partition_keys] == ["b"] and planned.num_runs == 1
    assert calls == [] and len(repo.get_backfills()) == 1


def test_rerun_skips_and_reports_keys_removed_from_the_definition() -> None:
    storage = rs.Storage.memory()
    calls: list[str] = []
    old = make_repo(recording(calls, PD.static_(["a", "b", "c"]), broken={"a", "b", "c"}), storage=storage)
    first = old.backfill(partition_keys=["a", "b", "c"])
    assert first.failed == 3
    new = make_repo(recording(calls, PD.static_(["b", "c"])), storage=storage)  # "a" was removed since
    with pytest.warns(UserWarning, match="skipping 1 partition.*no longer valid: a"):
        rerun = new.rerun_backfill(first.backfill_id)
    assert rerun.success and [str(k) for k in rerun.partition_keys] == ["b", "c"]
    assert rerun.skipped_partitions == ["a"]
    gone = make_repo(recording(calls, PD.static_(["z"])), storage=storage)
    with pytest.raises(ExecutionError, match=r"none of its 3 partitions are valid .*skipped: a, b, c.*nothing is left"):
        gone.rerun_backfill(first.backfill_id)


# -------------------------------------------------------------------- ranges
def test_a_range_is_checked_against_every_partitioned_asset() -> None:
    early = rs.Asset(lambda: 1, name="early", partitions_def=PD.daily(D(2024, 1, 1)))
    late = rs.Asset(lambda: 1, name="late", partitions_def=PD.daily(D(2024, 1, 3)))
    repo = make_repo(early, late)
    with pytest.raises(ExecutionError) as info:
        repo.backfill(partition_range=R.single("2024-01-01", "2024-01-04"), dry_run=True)
    assert "does not fit asset 'late': Range endpoint '2024-01-01' is not a partition key; nearest valid key is " \
           "'2024-01-03'" in str(info.value)
    planned = repo.backfill(partition_range=R.single("2024-01-03", "2024-01-04"), dry_run=True)
    assert [str(k) for k in planned.partition_keys] == ["2024-01-03", "2024-01-04"]
    # static definitions ordering the same keys differently: the keys of the first asset, valid for both
    first = rs.Asset(lambda: 1, name="first", partitions_def=PD.static_(["a", "b", "c"]))
    second = rs.Asset(lambda: 1, name="second", partitions_def=PD.static_(["c", "b", "a"]))
    planned = make_repo(first, second).backfill(partition_range=R.single("a", "c"), dry_run=True)
    assert [str(k) for k in planned.partition_keys] == ["a", "b", "c"]


def test_custom_format_time_keys_resolve_chronologically() -> None:
    months = PD.time_window(D(2024, 1, 1), cron_schedule="0 0 1 * *", fmt="%m/%Y", end=D(2025, 6, 1))
    repo = make_repo(rs.Asset(lambda: 1, name="monthly", partitions_def=months))
    planned = repo.backfill(partition_range=R.single("11/2024", "02/2025"), dry_run=True)
    assert [str(k) for k in planned.partition_keys] == ["11/2024", "12/2024", "01/2025", "02/2025"]


def test_static_dimensions_of_multi_ranges_resolve_by_position() -> None:
    grid = PD.multi({"region": PD.static_(["z", "a", "m"]), "day": PD.daily(D(2024, 1, 1), end=D(2024, 1, 5))})
    repo = make_repo(rs.Asset(lambda: 1, name="cells", partitions_def=grid))
    planned = repo.backfill(partition_range=R.multi({"region": ("z", "a"), "day": ("2024-01-01", "2024-01-02")}),
                            dry_run=True)
    assert [str(k) for k in planned.partition_keys] == [
        "day=2024-01-01|region=z", "day=2024-01-02|region=z", "day=2024-01-01|region=a", "day=2024-01-02|region=a"]


@pytest.mark.parametrize("partition_range, fragment", [
    (R.single("2024-01-01T05:00", "2024-01-03"),
     "does not fit asset 'days': Range endpoint '2024-01-01T05:00' is not a partition key; nearest valid key is "
     "'2024-01-01'"),
    (R.multi({"zone": ("a", "b")}), "does not fit asset 'days': a multi-dimension range cannot select from daily "
                                    "partitions"),
])
def test_off_grid_endpoints_and_unknown_dimensions_are_rejected(partition_range: Any, fragment: str) -> None:
    repo = make_repo(rs.Asset(lambda: 1, name="days", partitions_def=PD.daily(D(2024, 1, 1))))
    with pytest.raises(ExecutionError) as info:
        repo.backfill(partition_range=partition_range, dry_run=True)
    assert fragment in str(info.value)
    grid = PD.multi({"region": PD.static_(["eu"]), "day": PD.daily(D(2024, 1, 1))})
    cells = make_repo(rs.Asset(lambda: 1, name="cells", partitions_def=grid))
    with pytest.raises(ExecutionError, match="does not fit asset 'cells': range dimension 'zone' is not a dimension"):
        cells.backfill(partition_range=R.multi({"zone": ("a", "b")}), dry_run=True)


# ------------------------------------------------------- batched backfill runs
def test_a_raising_batched_step_fails_every_key_of_its_batch() -> None:
    calls: list[str] = []
    grid = PD.multi({"d": PD.static_(["1", "2"]), "r": PD.static_(["eu", "us"])})
    repo = make_repo(recording(calls, grid, broken={"d=2|r=us"}, name="cells"))
    result = repo.backfill(partition_range=R.multi({"d": ("1", "2")}),
                           strategy=rs.BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"]))
    assert statuses(result) == {"d=1|r=eu": "completed", "d=1|r=us": "completed",
                                "d=2|r=eu": "failed", "d=2|r=us": "failed"}  # the whole d=2 batch
    single = make_repo(recording([], PD.static_(["a", "b", "c"]), broken={"c"}))
    result = single.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.single_run())
    assert (result.failed, result.completed) == (3, 0)


def marking(definition: Any, bad: str) -> Any:
    def body(context: rs.AssetExecutionContext) -> int:
        for key in context.partition.keys:
            if str(key) == bad:
                context.mark_partition_failed(key, f"{bad} is bad")
        return 1

    return rs.Asset(body, name="marked", partitions_def=definition)


def test_mark_partition_failed_under_stop_on_failure_single_run() -> None:
    repo = make_repo(marking(PD.static_(["a", "b", "c"]), bad="b"))
    result = repo.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.single_run(),
                           failure_policy="stop_on_failure")
    assert statuses(result) == {"a": "completed", "b": "failed", "c": "completed"}
    assert (result.status, result.completed, result.failed, result.canceled) == ("CompletedFailed", 2, 1, 0)


def test_mark_partition_failed_under_stop_on_failure_per_dimension() -> None:
    grid = PD.multi({"d": PD.static_(["1", "2", "3"]), "r": PD.static_(["eu", "us"])})
    repo = make_repo(marking(grid, bad="d=1|r=us"))
    result = repo.backfill(partition_range=R.multi({"d": ("1", "3")}), max_concurrency=1,
                           strategy=rs.BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"]),
                           failure_policy="stop_on_failure")
    assert statuses(result) == {"d=1|r=eu": "completed", "d=1|r=us": "failed", "d=2|r=eu": "canceled",
                                "d=2|r=us": "canceled", "d=3|r=eu": "canceled", "d=3|r=us": "canceled"}
    continued = make_repo(marking(grid, bad="d=1|r=us")).backfill(
        partition_range=R.multi({"d": ("1", "3")}),
        strategy=rs.BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"]))
    assert (continued.completed, continued.failed, continued.canceled) == (5, 1, 0)


def test_unknown_per_dimension_names_are_rejected_before_any_run() -> None:
    calls: list[str] = []
    grid = PD.multi({"d": PD.static_(["1", "2"]), "r": PD.static_(["eu", "us"])})
    repo = make_repo(recording(calls, grid, name="cells"))
    with pytest.raises(ExecutionError, match="references dimension 'region', which is not a dimension of asset "
                                             "'cells'"):
        repo.backfill(partition_range=R.multi({"d": ("1", "2")}),
                      strategy=rs.BackfillStrategy.per_dimension(multi_run=["d"], single_run=["region"]))
    assert calls == [] and repo.get_backfills() == [] and repo.storage.get_runs() == []


BATCH_CHAIN = """
import os
import rivers as rs

files = rs.io_handler("fs", base_dir={base_dir!r})
grid = rs.PartitionsDefinition.multi({{"d": rs.PartitionsDefinition.static_(["1", "2"]),
                                      "r": rs.PartitionsDefinition.static_(["eu", "us"])}})


@rs.Asset(partitions_def=grid, io_handler=files)
def cells(context: rs.AssetExecutionContext) -> dict:
    return {{"keys": sorted(str(key) for key in context.partition.keys), "pid": os.getpid()}}


@rs.Asset(partitions_def=grid, io_handler=files)
def counted(cells: dict) -> tuple:
    return len(cells["keys"]), cells["pid"]
"""


def test_batch_values_round_trip_in_worker_processes(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys
    import textwrap

    name = "batch_chain_pipeline"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(BATCH_CHAIN.format(base_dir=str(tmp_path / "data"))))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = __import__(name)
    repo = rs.CodeRepository(assets=[module.cells, module.counted],
                             default_executor=rs.Executor.parallel(max_workers=2))
    repo.resolve(rs.Storage.memory())
    result = repo.backfill(partition_range=R.multi({"d": ("1", "2")}),
                           strategy=rs.BackfillStrategy.per_dimension(multi_run=["d"], single_run=["r"]))
    assert result.success and result.num_runs == 2
    batch = rs.PartitionKey.multi({"d": "2", "r": ["eu", "us"]})
    count, pid = repo.load_node("counted", partition_key=batch)
    assert count == 2 and pid != os.getpid()  # one value per date's batch, written and read in workers
    sys.modules.pop(name, None)
