"""Backfills: strategies (multi_run, single_run, per_dimension), defaults, failure policies, concurrency, unpartitioned assets."""

from __future__ import annotations

import threading
import time
from typing import Any
import pytest
import rivers as rs
from rivers.exceptions import ExecutionError
from backfills_support import LETTERS, PRIORITY, days, key, letter_asset, letters, repo_of, statuses, texts


# --------------------------------------------------------------------------- multi_run
def test_multi_run_over_a_range_materialises_every_key_in_its_own_run() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls))
    result = repo.backfill(partition_range=rs.PartitionKeyRange.single("b", "e"))

    assert (result.status, result.num_partitions, result.num_runs) == ("CompletedSuccess", 4, 4)
    assert (result.completed, result.failed, result.canceled) == (4, 0, 0)
    assert result.success and not result.is_dry_run
    assert texts(result.partition_keys) == ["b", "c", "d", "e"] == sorted(calls)  # up to 4 runs at a time
    assert set(statuses(result).values()) == {"completed"}
    assert sorted(texts(repo.storage.get_materialized_partitions("letter"))) == ["b", "c", "d", "e"]
    assert [repo.load_node("letter", partition_key=k) for k in "bcde"] == ["B", "C", "D", "E"]

    assert len(set(result.run_ids)) == 4
    for run_id, expected in zip(result.run_ids, "bcde"):
        run = repo.storage.get_run(run_id)
        assert run.status == "Success"
        assert run.partition_key == key(expected)
        assert run.launched_by == rs.LaunchedBy.backfill(result.backfill_id)
        assert run.tags == [PRIORITY] and run.priority == -10

    stored = repo.get_backfill(result.backfill_id)
    assert (stored.status, stored.total_partitions, stored.completed_partitions) == ("CompletedSuccess", 4, 4)
    assert stored.run_ids == result.run_ids and stored.error is None
    assert stored.launched_by == rs.LaunchedBy.manual() and stored.tags == [PRIORITY]
    assert repr(stored) == (f"BackfillStatus(id='{result.backfill_id}', status='CompletedSuccess', "
                            "completed=4/4, failed=0)")
    assert [s.backfill_id for s in repo.get_backfills()] == [result.backfill_id]


def test_daily_range_and_keys_given_as_strings_dicts_or_partition_keys() -> None:
    @rs.Asset(partitions_def=days())
    def clicks(context: rs.AssetExecutionContext) -> int:
        start, end = context.partition_time_window
        return start.day

    repo = repo_of(clicks)
    ranged = repo.backfill(partition_range=rs.PartitionKeyRange.single("2024-01-30", "2024-01-31"))
    assert texts(ranged.partition_keys) == ["2024-01-30", "2024-01-31"] and ranged.num_runs == 2
    listed = repo.backfill(partition_keys=["2024-01-02", key("2024-01-03"), "2024-01-02"],
                           partition_range=rs.PartitionKeyRange.single("2024-01-05", "2024-01-09"))
    # keys win over the range, duplicates are dropped
    assert texts(listed.partition_keys) == ["2024-01-02", "2024-01-03"] and listed.num_runs == 2
    assert repo.load_node("clicks", partition_key="2024-01-31") == 31


def test_given_tags_are_kept_and_a_given_priority_replaces_the_default() -> None:
    repo = repo_of(letter_asset([]))
    result = repo.backfill(partition_keys=["a"], tags=[("team", "data")])
    assert repo.storage.get_run(result.run_ids[0]).tags == [("team", "data"), PRIORITY]

    result = repo.backfill(partition_keys=["a"], tags=[("rivers/priority", "3"), ("team", "data")])
    run = repo.storage.get_run(result.run_ids[0])
    assert run.tags == [("rivers/priority", "3"), ("team", "data")] and run.priority == 3
    assert repo.get_backfill(result.backfill_id).tags == [("rivers/priority", "3"), ("team", "data")]


def test_only_the_selected_assets_run_and_downstream_partitions_follow() -> None:
    calls: list[str] = []
    letter = letter_asset(calls)

    @rs.Asset(partitions_def=letters())
    def shout(letter: str) -> str:
        return letter + "!"

    @rs.Asset(partitions_def=letters())
    def untouched(context: rs.AssetExecutionContext) -> str:
        raise AssertionError("not selected")

    repo = repo_of(letter, shout, untouched)
    result = repo.backfill(selection=["letter", "shout"], partition_keys=["a", "c"])
    assert result.status == "CompletedSuccess" and sorted(calls) == ["a", "c"]
    assert sorted(texts(repo.storage.get_materialized_partitions("shout"))) == ["a", "c"]
    assert repo.storage.get_materialized_partitions("untouched") == []
    assert repo.load_node("shout", partition_key="c") == "C!"
    assert sorted(repo.storage.get_run(result.run_ids[0]).node_names) == ["letter", "shout"]


# --------------------------------------------------------------------------- single_run
def test_single_run_batches_every_key_into_one_step_and_stores_each_value_under_its_key() -> None:
    seen: list[list[str]] = []

    @rs.Asset(partitions_def=letters())
    def batched(context: rs.AssetExecutionContext) -> dict:
        seen.append(texts(context.partition.keys))
        return {k: str(k) * 2 for k in context.partition.keys}

    repo = repo_of(batched)
    result = repo.backfill(partition_keys=["a", "c", "d"], strategy=rs.BackfillStrategy.single_run())

    assert (result.status, result.num_runs, result.completed) == ("CompletedSuccess", 1, 3)
    assert seen == [["a", "c", "d"]]
    run = repo.storage.get_run(result.run_ids[0])
    assert run.partition_key == rs.PartitionKey.single(["a", "c", "d"])
    assert run.launched_by == rs.LaunchedBy.backfill(result.backfill_id)
    assert texts(repo.storage.get_materialized_partitions("batched")) == ["a", "c", "d"]
    assert {k: repo.load_node("batched", partition_key=k) for k in "acd"} == {"a": "aa", "c": "cc", "d": "dd"}


def test_a_batched_step_can_return_values_keyed_by_key_text() -> None:
    @rs.Asset(partitions_def=letters())
    def by_text(context: rs.AssetExecutionContext) -> dict:
        return {str(k): ord(str(k)) for k in context.partition.keys}

    repo = repo_of(by_text)
    repo.backfill(partition_keys=["a", "b"], strategy=rs.BackfillStrategy.single_run())
    assert [repo.load_node("by_text", partition_key=k) for k in "ab"] == [97, 98]


def test_mark_partition_failed_fails_exactly_that_key_of_a_batched_run() -> None:
    @rs.Asset(partitions_def=letters())
    def batched(context: rs.AssetExecutionContext) -> dict:
        context.mark_partition_failed(key("b"), "b is corrupt")
        return {k: str(k) for k in context.partition.keys}

    repo = repo_of(batched)
    result = repo.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.single_run())

    assert (result.status, result.completed, result.failed, result.num_runs) == ("CompletedFailed", 2, 1, 1)
    assert statuses(result) == {"a": "completed", "b": "failed", "c": "completed"}
    assert texts(repo.storage.get_materialized_partitions("batched")) == ["a", "c"]
    events = [(e.event_type, str(e.partition_key)) for e in repo.storage.get_events_for_run(result.run_ids[0])
              if e.event_type in ("Materialization", "PartitionFailure")]
    assert sorted(events) == [("Materialization", "a"), ("Materialization", "c"), ("PartitionFailure", "b")]
    stored = repo.get_backfill(result.backfill_id)
    assert (stored.status, stored.failed_partitions) == ("CompletedFailed", 1)
    assert "b is corrupt" in stored.error


# --------------------------------------------------------------------------- per_dimension
def grid() -> rs.PartitionsDefinition:
    regions = rs.PartitionsDefinition.static_(["eu", "us", "ap"])
    return rs.PartitionsDefinition.multi({"date": days(), "region": regions})


def test_per_dimension_runs_each_date_with_its_regions_batched() -> None:
    seen: list[list[str]] = []

    @rs.Asset(partitions_def=grid())
    def sales(context: rs.AssetExecutionContext) -> dict:
        seen.append(texts(context.partition.keys))
        return {k: k.keys["region"][0] for k in context.partition.keys}

    repo = repo_of(sales)
    result = repo.backfill(
        partition_range=rs.PartitionKeyRange.multi({"date": ("2024-01-01", "2024-01-03"), "region": ["eu", "us"]}),
        strategy=rs.BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"]),
    )
    assert (result.status, result.num_partitions, result.num_runs, result.completed) == ("CompletedSuccess", 6, 3, 6)
    run_keys = [repo.storage.get_run(run_id).partition_key for run_id in result.run_ids]
    assert run_keys == [key({"date": f"2024-01-0{d}", "region": ["eu", "us"]}) for d in (1, 2, 3)]
    # the runs go concurrently (max_concurrency=4): each date's regions in one run, in whichever order they ran
    assert sorted(seen) == [[f"date=2024-01-0{d}|region=eu", f"date=2024-01-0{d}|region=us"] for d in (1, 2, 3)]
    assert len(repo.storage.get_materialized_partitions("sales")) == 6
    assert repo.load_node("sales", partition_key={"date": "2024-01-02", "region": "us"}) == "us"


def test_per_dimension_needs_multi_partitioned_assets_and_known_dimensions() -> None:
    @rs.Asset(partitions_def=grid())
    def sales(context: rs.AssetExecutionContext) -> int:
        return 1

    repo = repo_of(sales, letter_asset([]))
    by_date = rs.BackfillStrategy.per_dimension(multi_run=["date"], single_run=["region"])
    with pytest.raises(ExecutionError, match="per_dimension requires Multi-partitioned assets; asset 'letter' is not"):
        repo.backfill(selection=["letter"], partition_keys=["a"], strategy=by_date)
    with pytest.raises(ExecutionError, match="references dimension 'day', which is not a dimension of asset 'sales'"):
        repo.backfill(selection=["sales"], partition_keys=[{"date": "2024-01-01", "region": "eu"}],
                      strategy=rs.BackfillStrategy.per_dimension(multi_run=["day"], single_run=["region"]))
    assert repo.get_backfills() == [] and repo.storage.get_runs() == []


# --------------------------------------------------------------------------- strategy defaults
def test_the_assets_backfill_strategy_is_the_default_and_an_explicit_strategy_wins() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls, backfill_strategy=rs.BackfillStrategy.single_run()))
    assert repo.backfill(partition_keys=["a", "b", "c"]).num_runs == 1
    assert calls == ["a", "b", "c"]
    assert repo.get_backfills()[0].strategy == "single_run"
    assert repo.backfill(partition_keys=["a", "b", "c"], strategy=rs.BackfillStrategy.multi_run()).num_runs == 3


@pytest.mark.parametrize(("other", "runs"), [(None, 1), (rs.BackfillStrategy.single_run(), 1),
                                             (rs.BackfillStrategy.multi_run(), 3)],
                         ids=["undeclared", "agreeing", "disagreeing"])
def test_assets_that_disagree_on_a_strategy_fall_back_to_multi_run(other: Any, runs: int) -> None:
    @rs.Asset(partitions_def=letters(), backfill_strategy=other)
    def other_asset(context: rs.AssetExecutionContext) -> dict:
        return {k: 1 for k in context.partition.keys}

    batched = letter_asset([], backfill_strategy=rs.BackfillStrategy.single_run())
    repo = repo_of(batched, other_asset)
    assert repo.backfill(partition_keys=["a", "b", "c"], dry_run=True).num_runs == runs


# --------------------------------------------------------------------------- failure policies
def test_continue_runs_every_partition_and_reports_the_failures() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls, broken={"c"}))
    result = repo.backfill(partition_keys=LETTERS)

    assert sorted(calls) == LETTERS
    assert (result.status, result.completed, result.failed, result.canceled) == ("CompletedFailed", 4, 1, 0)
    assert repr(result) == (f"BackfillResult(id='{result.backfill_id}', status='CompletedFailed', completed=4, "
                            "failed=1, canceled=0)")
    assert statuses(result)["c"] == "failed" and not result.success
    assert repo.storage.get_run(result.run_ids[2]).status == "Failure"
    assert "c" not in texts(repo.storage.get_materialized_partitions("letter"))
    assert "ValueError: no data for c" in repo.get_backfill(result.backfill_id).error


def test_stop_on_failure_cancels_the_partitions_not_started() -> None:
    calls: list[str] = []
    repo = repo_of(letter_asset(calls, broken={"b"}))
    result = repo.backfill(partition_keys=LETTERS, failure_policy="stop_on_failure", max_concurrency=1)

    assert calls == ["a", "b"]
    counts = (result.num_runs, result.completed, result.failed, result.canceled)
    assert (result.status, counts) == ("CompletedFailed", (2, 1, 1, 3))
    assert statuses(result) == {"a": "completed", "b": "failed", "c": "canceled", "d": "canceled", "e": "canceled"}
    stored = repo.get_backfill(result.backfill_id)
    assert (stored.status, stored.canceled_partitions, stored.remaining_partitions) == ("CompletedFailed", 3, 0)


def test_a_key_marked_failed_by_a_successful_run_stops_the_backfill_too() -> None:
    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext) -> str:
        if context.partition.key == key("b"):
            context.mark_partition_failed(context.partition.key, "b is corrupt")
        return "x"

    repo = repo_of(letter)
    result = repo.backfill(partition_keys=["a", "b", "c"], failure_policy="stop_on_failure", max_concurrency=1)
    assert repo.storage.get_run(result.run_ids[1]).status == "Success"  # the run itself succeeded
    assert statuses(result) == {"a": "completed", "b": "failed", "c": "canceled"}
    assert result.status == "CompletedFailed"
    assert repo.get_backfill(result.backfill_id).error == "letter [b]: b is corrupt"


def test_an_unknown_failure_policy_is_an_error_before_anything_is_stored() -> None:
    repo = repo_of(letter_asset([]))
    with pytest.raises(ExecutionError, match="Unknown failure_policy 'stop'; valid values: 'continue', 'stop_on_fail"):
        repo.backfill(partition_keys=["a"], failure_policy="stop")
    assert repo.get_backfills() == []


# --------------------------------------------------------------------------- max_concurrency
def concurrency_probe(gate: Any = None) -> tuple[Any, dict[str, int]]:
    """A letters asset that counts how many of its runs are in their step at once (``peak``)."""
    lock = threading.Lock()
    counts = {"now": 0, "peak": 0}

    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext) -> str:
        with lock:
            counts["now"] += 1
            counts["peak"] = max(counts["peak"], counts["now"])
        try:
            if gate is not None:
                gate(str(context.partition.key))
            time.sleep(0.02)
        finally:
            with lock:
                counts["now"] -= 1
        return str(context.partition.key)

    return letter, counts


def test_up_to_max_concurrency_runs_run_at_the_same_time() -> None:
    # the first three runs meet at a barrier: it only opens if three runs are in their step together
    barrier = threading.Barrier(3, timeout=30)
    letter, counts = concurrency_probe(gate=lambda k: barrier.wait() if k in "abc" else None)
    repo = repo_of(letter)
    result = repo.backfill(partition_keys=LETTERS, max_concurrency=3)

    assert (result.status, result.completed, result.num_runs) == ("CompletedSuccess", 5, 5)
    assert counts["peak"] == 3  # never more than max_concurrency
    assert sorted(texts(repo.storage.get_materialized_partitions("letter"))) == LETTERS
    # every run wrote its whole event log, although the runs shared one storage from several threads
    for run_id, letter_key in zip(result.run_ids, LETTERS):  # run_ids follow the plan, not completion order
        run = repo.storage.get_run(run_id)
        assert (run.status, run.partition_key) == ("Success", key(letter_key))
        assert repo.storage.get_latest_materialization("letter", letter_key).run_id == run_id


def test_max_concurrency_one_runs_in_order_one_at_a_time() -> None:
    letter, counts = concurrency_probe()
    calls: list[str] = []
    repo = repo_of(letter)
    result = repo.backfill(partition_keys=LETTERS, max_concurrency=1, progress=lambda r: calls.append(r.run_ids[-1]))

    assert counts["peak"] == 1
    assert calls == result.run_ids and len(calls) == 5
    assert texts(repo.storage.get_materialized_partitions("letter")) == LETTERS


def test_stop_on_failure_lets_running_runs_finish_and_launches_no_more() -> None:
    failure_seen = threading.Event()

    def gate(letter_key: str) -> None:
        if letter_key == "a":
            raise ValueError("no data for a")
        assert failure_seen.wait(30)  # b stays in its step until the backfill has handled a's failure

    letter, _ = concurrency_probe(gate=gate)
    repo = repo_of(letter)
    result = repo.backfill(partition_keys=LETTERS, failure_policy="stop_on_failure", max_concurrency=2,
                           progress=lambda record: failure_seen.set())

    assert statuses(result) == {"a": "failed", "b": "completed", "c": "canceled", "d": "canceled", "e": "canceled"}
    assert (result.status, result.num_runs) == ("CompletedFailed", 2)


def test_an_interrupt_asks_the_runs_still_going_to_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    from rivers.execution.coordinator import RunCoordinator

    stop_requests: list[tuple[str, str]] = []
    request_stop = RunCoordinator.request_stop

    def recording_stop(self: RunCoordinator, reason: str) -> None:
        stop_requests.append((self.run_id, reason))
        request_stop(self, reason)

    monkeypatch.setattr(RunCoordinator, "request_stop", recording_stop)
    a_done = threading.Event()

    def gate(letter_key: str) -> None:
        if letter_key == "b":
            assert a_done.wait(30)  # b is still in its step when the interrupt comes

    letter, _ = concurrency_probe(gate=gate)
    repo = repo_of(letter)

    def progress(record: Any) -> None:
        a_done.set()
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        repo.backfill(partition_keys=["a", "b", "c"], max_concurrency=2, progress=progress)
    [stored] = repo.get_backfills()
    [run_b] = [run for run in repo.storage.get_runs() if run.partition_key == key("b")]
    # the cancel was sent to b's run (directly: it runs in this process's launcher); c was never launched
    assert (run_b.run_id, "canceled") in stop_requests
    assert not any(run.partition_key == key("c") for run in repo.storage.get_runs())
    # b was in its only step: it had no later step to stop at, finished, and is recorded as it ended
    assert run_b.status == "Success" and run_b.run_id in stored.run_ids
    assert statuses(stored) == {"a": "completed", "b": "completed", "c": "canceled"}


def test_an_interrupt_cancels_a_running_run_at_its_next_step(monkeypatch: pytest.MonkeyPatch) -> None:
    import rivers.execution.coordinator as coordinator

    monkeypatch.setattr(coordinator, "_CANCEL_CHECK_INTERVAL_S", 0.0)  # look for the cancel before every step
    a_done = threading.Event()
    letter, _ = concurrency_probe(gate=lambda k: a_done.wait(30) if k == "b" else None)
    later_keys: list[str] = []

    @rs.Asset(partitions_def=letters())
    def later(context: rs.AssetExecutionContext, letter: str) -> str:
        later_keys.append(str(context.partition.key))
        return letter

    def progress(record: Any) -> None:
        a_done.set()
        raise KeyboardInterrupt

    repo = repo_of(letter, later)
    with pytest.raises(KeyboardInterrupt):
        repo.backfill(partition_keys=["a", "b", "c"], max_concurrency=2, progress=progress)
    [stored] = repo.get_backfills()
    [run_b] = [run for run in repo.storage.get_runs() if run.partition_key == key("b")]
    assert run_b.status == "Canceled" and later_keys == ["a"]  # b stopped before its second step
    assert statuses(stored) == {"a": "completed", "b": "canceled", "c": "canceled"}
    assert run_b.run_id in stored.run_ids


def test_max_concurrency_must_be_a_positive_int() -> None:
    repo = repo_of(letter_asset([]))
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ExecutionError, match="max_concurrency must be a positive int"):
            repo.backfill(partition_keys=["a"], max_concurrency=bad)
    assert repo.get_backfills() == []


# --------------------------------------------------------------------------- unpartitioned assets in the selection
def staged_assets(calls: list[str], broken: str = "") -> list[Any]:
    """``settings`` (unpartitioned) -> ``letter`` (letters) -> ``summary`` (all partitions), each with a handler."""

    @rs.Asset(io_handler=rs.InMemoryIOHandler())
    def settings() -> int:
        calls.append("settings")
        if broken == "settings":
            raise ValueError("no settings")
        return 2

    @rs.Asset(partitions_def=letters(), io_handler=rs.InMemoryIOHandler())
    def letter(context: rs.AssetExecutionContext, settings: int) -> str:
        calls.append(str(context.partition.key))
        if broken == str(context.partition.key):
            raise ValueError(f"no data for {broken}")
        return str(context.partition.key) * settings

    @rs.Asset(deps=[rs.AssetDef.input("letter", partition_mapping=rs.PartitionMapping.all_partitions())])
    def summary(letter: dict) -> str:
        calls.append("summary")
        if broken == "summary":
            raise ValueError("no summary")
        return "".join(value for _, value in sorted(letter.items(), key=lambda item: str(item[0])))

    return [settings, letter, summary]


def test_unpartitioned_assets_run_once_before_and_after_the_partition_runs() -> None:
    calls: list[str] = []
    repo = repo_of(*staged_assets(calls))
    assert repo.backfill(partition_keys=LETTERS, dry_run=True).num_runs == 7
    result = repo.backfill(partition_keys=LETTERS)

    assert (result.status, result.completed, result.num_runs) == ("CompletedSuccess", 5, 7)
    assert calls[0] == "settings" and sorted(calls[1:6]) == LETTERS and calls[6:] == ["summary"]
    runs = [repo.storage.get_run(run_id) for run_id in result.run_ids]
    assert [run.partition_key for run in runs] == [None, *map(key, LETTERS), None]
    assert [runs[0].node_names, runs[-1].node_names] == [["settings"], ["summary"]]
    assert all(run.launched_by == rs.LaunchedBy.backfill(result.backfill_id) for run in runs)
    assert repo.load_node("summary") == "aabbccddee"


def test_a_failed_upstream_stage_fails_every_partition_without_running_them() -> None:
    calls: list[str] = []
    repo = repo_of(*staged_assets(calls, broken="settings"))
    result = repo.backfill(partition_keys=["a", "b"])

    assert calls == ["settings"]
    assert (result.status, result.failed, result.num_runs) == ("CompletedFailed", 2, 1)
    assert "ValueError: no settings" in repo.get_backfill(result.backfill_id).error


def test_a_failed_roll_up_fails_the_backfill_but_no_partition() -> None:
    calls: list[str] = []
    repo = repo_of(*staged_assets(calls, broken="summary"))
    result = repo.backfill(partition_keys=LETTERS)

    assert (result.status, result.completed, result.failed, result.num_runs) == ("CompletedFailed", 5, 0, 7)
    assert "ValueError: no summary" in repo.get_backfill(result.backfill_id).error
    assert sorted(texts(repo.storage.get_materialized_partitions("letter"))) == LETTERS


def test_a_failed_partition_skips_the_roll_up() -> None:
    calls: list[str] = []
    repo = repo_of(*staged_assets(calls, broken="c"))
    result = repo.backfill(partition_keys=LETTERS)

    assert "summary" not in calls and calls[0] == "settings"
    assert (result.status, result.completed, result.failed, result.num_runs) == ("CompletedFailed", 4, 1, 6)
    assert "ValueError: no data for c" in repo.get_backfill(result.backfill_id).error


def test_an_unpartitioned_asset_between_partitioned_ones_is_not_split_out() -> None:
    # ``middle`` would have to run after every ``first`` partition and before any ``last`` one
    @rs.Asset(partitions_def=letters(), io_handler=rs.InMemoryIOHandler())
    def first(context: rs.AssetExecutionContext) -> str:
        return str(context.partition.key)

    @rs.Asset(deps=[rs.AssetDef.input("first", partition_mapping=rs.PartitionMapping.all_partitions())],
              io_handler=rs.InMemoryIOHandler())
    def middle(first: dict) -> int:
        return len(first)

    @rs.Asset(partitions_def=letters(), io_handler=rs.InMemoryIOHandler())
    def last(context: rs.AssetExecutionContext, middle: int) -> int:
        return middle

    # no once-only runs: two partition runs, each executing the whole selection
    assert repo_of(first, middle, last).backfill(partition_keys=["a", "b"], dry_run=True).num_runs == 2


def test_values_only_the_producing_run_keeps_are_not_split_across_runs() -> None:
    # the shared in-memory default handler keeps a value for its own run only: every run runs everything
    calls: list[str] = []

    @rs.Asset
    def settings() -> int:
        calls.append("settings")
        return 1

    @rs.Asset(partitions_def=letters())
    def letter(context: rs.AssetExecutionContext, settings: int) -> str:
        return str(context.partition.key)

    result = repo_of(settings, letter).backfill(partition_keys=["a", "b"])
    assert (result.status, result.num_runs, calls) == ("CompletedSuccess", 2, ["settings", "settings"])
