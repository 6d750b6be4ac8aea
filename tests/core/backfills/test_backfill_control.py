"""Backfills: rerun, cancel, another process, dry run and block=False, bad input, dynamic partitions, the parallel executor."""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any
import pytest
import rivers as rs
from rivers.exceptions import ExecutionError
from support import run_python
from backfills_support import CANCEL, DB, LETTERS, PRIORITY, READ_STATUS, backfill_of_run, days, key, letter_asset, letters, repo_of, statuses, texts


# --------------------------------------------------------------------------- rerun
def test_rerun_runs_only_the_failed_and_canceled_partitions_once_fixed() -> None:
    calls: list[str] = []
    broken = {"b"}

    @rs.Asset(partitions_def=letters())
    def not_selected(context: rs.AssetExecutionContext) -> str:
        raise AssertionError("the rerun reuses the original selection")

    repo = repo_of(letter_asset(calls, broken=broken), not_selected)
    first = repo.backfill(selection=["letter"], partition_keys=LETTERS, failure_policy="stop_on_failure",
                          tags=[("team", "data")], max_concurrency=1)
    assert statuses(first) == {"a": "completed", "b": "failed", "c": "canceled", "d": "canceled", "e": "canceled"}

    broken.clear()
    calls.clear()
    rerun = repo.rerun_backfill(first.backfill_id)

    assert calls == ["b", "c", "d", "e"]  # not "a": it completed the first time
    assert rerun.backfill_id != first.backfill_id
    assert (rerun.status, rerun.num_partitions, rerun.completed) == ("CompletedSuccess", 4, 4)
    expected_tags = [("team", "data"), PRIORITY, ("rivers/rerun_of", first.backfill_id)]
    assert repo.get_backfill(rerun.backfill_id).tags == expected_tags
    assert repo.storage.get_run(rerun.run_ids[0]).tags == expected_tags
    assert repo.get_backfill(first.backfill_id).status == "CompletedFailed"  # the original record is untouched
    assert texts(repo.storage.get_materialized_partitions("letter")) == LETTERS

    again = repo.rerun_backfill(rerun.backfill_id)  # nothing failed: re-running means "again" (test_backfill_reruns)
    assert (again.num_partitions, again.completed, calls[4:]) == (4, 4, ["b", "c", "d", "e"])
    with pytest.raises(ExecutionError, match="backfill 'no-such-id' not found"):
        repo.rerun_backfill("no-such-id")


def test_rerun_keeps_the_strategy_and_supports_dry_run_and_block_false() -> None:
    calls: list[str] = []
    broken = {"a"}
    repo = repo_of(letter_asset(calls, broken=broken))
    first = repo.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.single_run())
    assert statuses(first) == {"a": "failed", "b": "failed", "c": "failed"}  # one failed run fails all its keys

    planned = repo.rerun_backfill(first.backfill_id, dry_run=True)
    assert (planned.status, planned.num_partitions, planned.num_runs) == ("dry_run", 3, 1)
    queued = repo.rerun_backfill(first.backfill_id, block=False)
    assert queued.status == "Requested" and repo.get_backfill(queued.backfill_id).strategy == "single_run"
    assert len(repo.get_backfills()) == 2 and len(calls) == 3


def test_rerun_drops_deleted_dynamic_keys_with_a_warning() -> None:
    @rs.Asset(partitions_def=rs.PartitionsDefinition.dynamic("customers"))
    def customer(context: rs.AssetExecutionContext) -> str:
        raise ValueError("always")

    repo = repo_of(customer)
    repo.storage.add_dynamic_partitions("customers", ["acme", "globex", "initech"])
    first = repo.backfill(partition_keys=["acme", "globex"])
    assert first.failed == 2

    repo.storage.delete_dynamic_partition("customers", "acme")
    with pytest.warns(UserWarning, match="skipping 1 partition.*no longer valid: acme"):
        rerun = repo.rerun_backfill(first.backfill_id, dry_run=True)
    assert texts(rerun.partition_keys) == ["globex"]

    repo.storage.delete_dynamic_partition("customers", "globex")
    with pytest.raises(ExecutionError, match="none of its 2 partitions are valid for the current definitions"):
        repo.rerun_backfill(first.backfill_id)


# --------------------------------------------------------------------------- cancel
def test_cancel_from_the_progress_callback_cancels_the_remaining_partitions() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    signalled: list[bool] = []
    seen: list[tuple[int, int]] = []

    def progress(record: Any) -> None:
        seen.append((record.count("completed"), len(record.run_ids)))
        if record.count("completed") == 2:
            signalled.append(repo.cancel_backfill(record.backfill_id))

    result = repo.backfill(partition_keys=LETTERS, progress=progress, max_concurrency=1)

    assert signalled == [True] and calls == ["a", "b"] and seen == [(1, 1), (2, 2)]
    assert (result.status, result.num_runs, result.completed, result.canceled) == ("Canceled", 2, 2, 3)
    stored = repo.get_backfill(result.backfill_id)
    assert (stored.status, stored.canceled_partitions) == ("Canceled", 3)
    assert statuses(stored) == statuses(result)


def test_an_interrupted_backfill_is_not_left_in_progress() -> None:
    repo = repo_of(letter_asset([]))

    def progress(record: Any) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):  # one run at a time: b and c are never launched
        repo.backfill(partition_keys=["a", "b", "c"], progress=progress, max_concurrency=1)
    [stored] = repo.get_backfills()
    assert (stored.status, stored.completed_partitions, stored.canceled_partitions) == ("Canceled", 1, 2)
    assert stored.error == "backfill interrupted: KeyboardInterrupt"
    assert repo.rerun_backfill(stored.backfill_id, dry_run=True).num_partitions == 2


def test_cancel_an_unknown_backfill() -> None:
    repo = repo_of(letter_asset([]))
    with pytest.raises(ExecutionError, match="Failed to cancel backfill: backfill not found"):
        repo.cancel_backfill("no-such-id")


def test_cancel_a_requested_backfill_cancels_its_partitions() -> None:
    repo = repo_of(letter_asset([]))
    queued = repo.backfill(partition_keys=["a", "b"], block=False)
    assert repo.cancel_backfill(queued.backfill_id) is False
    stored = repo.get_backfill(queued.backfill_id)
    assert (stored.status, stored.canceled_partitions, stored.run_ids) == ("Canceled", 2, [])


def test_a_cancel_from_another_process_is_honoured_before_the_next_run() -> None:
    replies: list[str] = []
    calls: list[str] = []

    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext) -> str:
        calls.append(str(context.partition.key))
        if context.partition.key == key("b"):
            replies.append(run_python(CANCEL, backfill_of_run(context)).strip())
        return "x"

    repo = repo_of(letter)
    result = repo.backfill(partition_keys=LETTERS, max_concurrency=1)

    # the other process could not signal this one: it stored the request (False) and this one obeyed it
    assert replies == ["InProgress False"]
    assert calls == ["a", "b"]
    assert (result.status, result.completed, result.canceled, result.num_runs) == ("Canceled", 2, 3, 2)
    # the request cascaded to the run that was still going
    assert repo.storage.is_cancelled(result.run_ids[1]) and not repo.storage.is_cancelled(result.run_ids[0])
    assert repo.get_backfill(result.backfill_id).status == "Canceled"


START_BACKFILLS = """
    import sys, time
    import rivers as rs

    letters = rs.PartitionsDefinition.static_(["a", "b"])

    @rs.Asset(partitions_def=letters)
    def letter(context: rs.AssetExecutionContext) -> str:
        return str(context.partition.key)

    repo = rs.CodeRepository(assets=[letter])
    repo.resolve(rs.Storage.embedded(".rivers/rivers.db"))
    start = float(sys.argv[1])
    time.sleep(max(0.0, start - time.time()))  # all processes start together
    for _ in range(int(sys.argv[2])):
        print(repo.backfill(partition_keys=["a"], max_concurrency=1).backfill_id)
"""


def test_backfills_started_by_several_processes_at_once_are_all_listed() -> None:
    import concurrent.futures

    assert repo_of(letter_asset([])).get_backfills() == []  # creates the storage before the processes start
    start = str(time.time() + 3)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(lambda _: run_python(START_BACKFILLS, start, "15"), range(4)))
    started = [line for output in outputs for line in output.split()]
    assert len(started) == 60
    listed = [status.backfill_id for status in repo_of(letter_asset([])).get_backfills()]
    assert sorted(listed) == sorted(started)  # no id lost by two processes appending to the index at once


def test_a_second_repository_in_the_same_process_signals_the_live_backfill() -> None:
    replies: list[bool] = []

    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext) -> str:
        if context.partition.key == key("a"):
            other = rs.CodeRepository(assets=[])
            other.resolve(rs.Storage.embedded(DB))
            replies.append(other.cancel_backfill(backfill_of_run(context)))
        return "x"

    result = repo_of(letter).backfill(partition_keys=LETTERS, max_concurrency=1)
    assert replies == [True]  # the backfill runs in this process: signalled directly
    assert (result.status, result.completed, result.canceled) == ("Canceled", 1, 4)


def test_a_run_canceled_while_it_runs_cancels_its_keys_not_fails_them() -> None:
    @rs.Asset(partitions_def=letters())
    def first(context: rs.AssetExecutionContext) -> str:
        if context.partition.key == key("b"):
            with rs.Storage.embedded(DB) as storage:  # a second storage object, e.g. a tool canceling that run
                storage.request_cancellation(context.run_id)
            time.sleep(1.05)  # the executor looks for a cancel about once a second, between steps
        return "x"

    @rs.Asset(partitions_def=letters())
    def second(first: str) -> str:
        return first

    repo = repo_of(first, second)
    result = repo.backfill(partition_keys=["a", "b", "c"])

    assert repo.storage.get_run(result.run_ids[1]).status == "Canceled"
    assert statuses(result) == {"a": "completed", "b": "canceled", "c": "completed"}
    assert sorted(texts(repo.storage.get_materialized_partitions("second"))) == ["a", "c"]
    # not every partition completed: not a success, and the rerun picks the canceled key up
    assert (result.status, result.canceled) == ("CompletedFailed", 1)
    assert repo.get_backfill(result.backfill_id).error is None  # a cancel is not an error
    assert texts(repo.rerun_backfill(result.backfill_id, dry_run=True).partition_keys) == ["b"]


# --------------------------------------------------------------------------- another process
def test_get_backfill_from_another_process_while_running_and_after() -> None:
    during: list[dict] = []

    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext) -> str:
        if context.partition.key == key("c"):
            during.append(json.loads(run_python(READ_STATUS, backfill_of_run(context))))
        if context.partition.key == key("e"):
            raise ValueError("no data for e")
        return "x"

    repo = repo_of(letter)
    result = repo.backfill(partition_keys=LETTERS, tags=[("team", "data")])

    assert [(d["status"], d["total"], d["failed"]) for d in during] == [("InProgress", 5, 0)]
    after = json.loads(run_python(READ_STATUS, result.backfill_id))
    assert after == {
        "status": "CompletedFailed", "total": 5, "completed": 4, "failed": 1, "canceled": 0,
        "run_ids": result.run_ids, "error": "letter: ValueError: no data for e",
        "tags": [["team", "data"], list(PRIORITY)], "launched_by": "LaunchedBy.manual()",
    }


# --------------------------------------------------------------------------- dry run and block=False
def test_dry_run_plans_without_storing_anything() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    result = repo.backfill(partition_keys=LETTERS, dry_run=True)

    assert repr(result) == "BackfillResult(dry_run, partitions=5, runs=5)"
    assert (result.backfill_id, result.status, result.is_dry_run) == ("", "dry_run", True)
    assert (result.run_ids, result.completed, result.failed, result.canceled) == ([], 0, 0, 0)
    assert texts(result.partition_keys) == LETTERS
    assert repo.backfill(partition_keys=LETTERS, dry_run=True, strategy=rs.BackfillStrategy.single_run()).num_runs == 1
    assert calls == [] and repo.get_backfills() == [] and repo.storage.get_runs() == []
    assert repo.storage.get_materialized_partitions("letter") == []


def test_block_false_only_records_the_request() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    result = repo.backfill(partition_range=rs.PartitionKeyRange.single("a", "c"), block=False)

    assert (result.status, result.run_ids, result.num_runs, result.num_partitions) == ("Requested", [], 3, 3)
    assert set(statuses(result).values()) == {"pending"}
    stored = repo.get_backfill(result.backfill_id)
    assert (stored.status, stored.total_partitions, stored.remaining_partitions) == ("Requested", 3, 3)
    assert calls == [] and repo.storage.get_runs() == []
    assert repo.get_backfill("no-such-id") is None


# --------------------------------------------------------------------------- bad input
@rs.Asset(partitions_def=days())
def daily_clicks(context: rs.AssetExecutionContext) -> int:
    return 1


@rs.Asset
def unpartitioned() -> int:
    return 1


@pytest.mark.parametrize(("request_", "message"), [
    ({"selection": ["unpartitioned"], "partition_keys": ["2024-01-01"]},
     "Backfill partition_keys/partition_range require a partitioned selection; no asset in the selection is "
     "partitioned."),
    ({"partition_keys": []}, "partition_keys must not be empty"),
    ({}, "Either partition_keys or partition_range must be provided"),
    ({"partition_keys": "2024-01-01"}, "partition_keys must be a list of keys"),
    ({"partition_keys": ["2024-01-01", "2024-02-05"]},
     "Invalid partition_key '2024-02-05' for asset 'daily_clicks': not a member of its partition definition "
     "(daily partitions from 2024-01-01 to 2024-02-01). The nearest valid key is '2024-01-31'."),
    ({"partition_range": rs.PartitionKeyRange.single("2024-01-05", "2024-01-01")},
     "from_key '2024-01-05' is after to_key '2024-01-01'"),
    ({"partition_range": rs.PartitionKeyRange.single("2024-01-05", "2024-03-01")},
     "Range endpoint '2024-03-01' is not a partition key; nearest valid key is '2024-01-31'"),
    ({"partition_keys": ["2024-01-01"], "strategy": "single_run"}, "strategy must be a BackfillStrategy"),
    ({"partition_keys": ["2024-01-01"], "max_concurrency": 0}, "max_concurrency must be a positive int"),
], ids=["unpartitioned", "empty-keys", "no-keys", "bare-string", "invalid-key", "inverted-range",
        "unknown-endpoint", "bad-strategy", "bad-concurrency"])
def test_bad_requests_fail_before_anything_is_stored(request_: dict, message: str) -> None:
    repo = repo_of(daily_clicks, unpartitioned)
    with pytest.raises(ExecutionError) as raised:
        repo.backfill(**request_)
    assert message in str(raised.value)
    assert repo.get_backfills() == [] and repo.storage.get_runs() == []


@pytest.mark.parametrize("dry_run", [False, True], ids=["run", "dry-run"])
def test_a_selection_that_cannot_run_fails_before_the_backfill_is_recorded(dry_run: bool) -> None:
    @rs.Asset
    def lookup() -> dict:
        return {}

    @rs.Asset(partitions_def=letters())
    def uses_lookup(lookup: dict) -> int:
        return len(lookup)

    repo = repo_of(lookup, uses_lookup)
    with pytest.raises(rs.exceptions.GraphValidationError, match="node 'uses_lookup' depends on 'lookup'"):
        repo.backfill(selection=["uses_lookup"], partition_keys=["a"], dry_run=dry_run)
    assert repo.get_backfills() == []


def test_unpartitioned_upstreams_in_the_selection_run_with_every_partition() -> None:
    calls: list[str] = []

    @rs.Asset
    def lookup() -> dict:
        calls.append("lookup")
        return {"a": 1, "b": 2}

    @rs.Asset(partitions_def=letters())
    def looked_up(context: rs.AssetExecutionContext, lookup: dict) -> int:
        return lookup[str(context.partition.key)]

    repo = repo_of(lookup, looked_up)
    result = repo.backfill(partition_keys=["a", "b"])
    assert (result.status, result.completed) == ("CompletedSuccess", 2)
    assert [repo.load_node("looked_up", partition_key=k) for k in "ab"] == [1, 2]
    assert calls and set(calls) == {"lookup"}  # runs with the partitions: each run is self-contained


# --------------------------------------------------------------------------- dynamic partitions
def test_dynamic_partitions_backfill_after_they_are_registered_and_not_after_deletion() -> None:
    @rs.Asset(partitions_def=rs.PartitionsDefinition.dynamic("customers"))
    def customer(context: rs.AssetExecutionContext) -> str:
        return str(context.partition.key).title()

    repo = repo_of(customer)
    unregistered = ("not a registered dynamic partition key of namespace 'customers'. Register it with "
                    'add_dynamic_partitions("customers", [...]) first.')
    with pytest.raises(ExecutionError, match="Invalid partition_key 'acme' for asset 'customer'") as raised:
        repo.backfill(partition_keys=["acme"])
    assert unregistered in str(raised.value)

    repo.storage.add_dynamic_partitions("customers", ["acme", "globex"])
    result = repo.backfill(partition_keys=["acme", "globex"])
    assert (result.status, result.num_runs) == ("CompletedSuccess", 2)
    assert repo.load_node("customer", partition_key="globex") == "Globex"

    repo.storage.delete_dynamic_partition("customers", "acme")
    with pytest.raises(ExecutionError) as raised:
        repo.backfill(partition_keys=["globex", "acme"])
    assert unregistered in str(raised.value)


# --------------------------------------------------------------------------- parallel executor
PARALLEL_PIPELINE = """
    import os

    import rivers as rs

    FILES = rs.io_handler("fs", base_dir={base_dir!r})
    LETTERS = rs.PartitionsDefinition.static_(["a", "b", "c", "d"])


    @rs.Asset(partitions_def=LETTERS, io_handler=FILES)
    def raw(context: rs.AssetExecutionContext) -> dict:
        if context.partition.key == rs.PartitionKey.single("d"):
            raise ValueError("no data for d")
        return {{"key": str(context.partition.key), "pid": os.getpid()}}


    @rs.Asset(partitions_def=LETTERS, io_handler=FILES)
    def doubled(raw: dict) -> str:
        return raw["key"] * 2


    @rs.Asset(partitions_def=LETTERS, io_handler=FILES)
    def batched(context: rs.AssetExecutionContext) -> dict:
        for key in context.partition.keys:
            if key == rs.PartitionKey.single("d"):
                context.mark_partition_failed(key, "d is corrupt")
        return {{key: (str(key), os.getpid()) for key in context.partition.keys}}
"""


@pytest.fixture
def parallel_pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """An importable module of fs-backed assets (worker processes re-import it by name)."""
    name = "backfill_parallel_pipeline"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent(PARALLEL_PIPELINE.format(base_dir=str(tmp_path / "data"))), encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    module = __import__(name)
    yield module
    sys.modules.pop(name, None)


def test_a_parallel_executor_backfill_keeps_every_key_in_files(parallel_pipeline: Any, tmp_path: Path) -> None:
    repo = repo_of(parallel_pipeline.raw, parallel_pipeline.doubled,
                   default_executor=rs.Executor.parallel(max_workers=2))
    result = repo.backfill(partition_keys=["a", "b", "c", "d"])

    assert statuses(result) == {"a": "completed", "b": "completed", "c": "completed", "d": "failed"}
    assert (result.status, result.num_runs) == ("CompletedFailed", 4)
    assert "ValueError: no data for d" in repo.get_backfill(result.backfill_id).error
    assert sorted(texts(repo.storage.get_materialized_partitions("doubled"))) == ["a", "b", "c"]
    assert sorted(p.name for p in (tmp_path / "data" / "doubled").iterdir()) == ["a.pkl", "b.pkl", "c.pkl"]
    assert [repo.load_node("doubled", partition_key=k) for k in "abc"] == ["aa", "bb", "cc"]
    raw_b = repo.load_node("raw", partition_key="b")
    assert raw_b["key"] == "b" and raw_b["pid"] != os.getpid()  # computed in a worker process
    for run_id in result.run_ids:
        assert repo.storage.get_run(run_id).launched_by == rs.LaunchedBy.backfill(result.backfill_id)


def test_a_batched_step_in_a_worker_process_stores_each_key(parallel_pipeline: Any, tmp_path: Path) -> None:
    repo = repo_of(parallel_pipeline.batched, default_executor=rs.Executor.parallel(max_workers=2))
    result = repo.backfill(partition_keys=["a", "b", "c", "d"], strategy=rs.BackfillStrategy.single_run())

    assert statuses(result) == {"a": "completed", "b": "completed", "c": "completed", "d": "failed"}
    assert (result.status, result.num_runs) == ("CompletedFailed", 1)
    assert sorted(p.name for p in (tmp_path / "data" / "batched").iterdir()) == ["a.pkl", "b.pkl", "c.pkl"]
    values = [repo.load_node("batched", partition_key=k) for k in "abc"]
    assert [v[0] for v in values] == ["a", "b", "c"] and len({v[1] for v in values} | {os.getpid()}) == 2
    assert "d is corrupt" in repo.get_backfill(result.backfill_id).error


@pytest.mark.parametrize("bad_key", [None, 3], ids=["none", "int"])
def test_a_key_that_is_no_partition_key_is_a_type_error(bad_key: object) -> None:
    # a None in partition_keys used to escape as AttributeError ('NoneType' object has no attribute 'members')
    repo = repo_of(daily_clicks)
    with pytest.raises(TypeError, match="expected a partition key, got"):
        repo.backfill(partition_keys=["2024-01-01", bad_key])
    assert repo.get_backfills() == [] and repo.storage.get_runs() == []
