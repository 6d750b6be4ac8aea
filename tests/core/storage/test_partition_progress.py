"""The engine records failed and in-progress partition statuses while runs execute (real SQLite files).

A partitioned step's partitions are ``in_progress`` while it runs (seen from
another process), ``failed`` once it fails, and cleared when a later run
succeeds; a run killed outright is settled by ``reconcile_runs()``. The
SQLite backend writes no row for a short successful run of a partition
that had no status (a short step's start is never written, and its clear
finds no row).
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import rivers as rs
from rivers.execution.partition_progress import RunPartitionProgress
from rivers.execution.outcome import FAILURE, StepOutcome
from rivers.storage.partition_progress import PROGRESS_KEY, ProgressChange, cancel_pairs, decode_holds

DAILY = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))
COUNTS_NONE = {"materialized": 0, "failed": 0, "in_progress": 0}


def _day(offset: int) -> str:
    return (dt.date(2000, 1, 1) + dt.timedelta(days=offset)).isoformat()


def _repo(storage: rs.Storage, fail: set[str]) -> rs.CodeRepository:
    @rs.Asset(partitions_def=DAILY)
    def events(context: rs.AssetExecutionContext) -> int:
        if context.partition_key in fail:
            raise ValueError(f"no data for {context.partition_key}")
        return 1

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    return repo


def _counts(storage: rs.Storage, asset: str = "events") -> dict[str, int]:
    (entry,) = storage.get_asset_catalogue([asset])
    return entry.partition_counts


@pytest.fixture(params=["sqlite", "memory"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> rs.Storage:
    return rs.Storage.embedded(tmp_path / "runs.db") if request.param == "sqlite" else rs.Storage.memory()


def test_a_failing_step_marks_its_partition_failed_and_a_successful_rerun_clears_it(storage: rs.Storage) -> None:
    failing = {_day(2)}
    repo = _repo(storage, failing)
    for offset in range(4):
        repo.materialize(partition_key=rs.PartitionKey.single(_day(offset)), raise_on_error=False)
    assert list(storage.get_partition_status("events").segments()) == [(2, 3, "failed")]
    assert _counts(storage) == {"materialized": 3, "failed": 1, "in_progress": 0}

    failing.clear()
    assert repo.materialize(partition_key=rs.PartitionKey.single(_day(2))).success
    assert list(storage.get_partition_status("events").segments()) == []
    assert _counts(storage) == {"materialized": 4, "failed": 0, "in_progress": 0}


def test_a_range_run_of_1000_daily_partitions_is_one_range(storage: rs.Storage) -> None:
    seen: list[list[tuple[int, int, str]]] = []

    @rs.Asset(partitions_def=DAILY)
    def events(context: rs.AssetExecutionContext) -> None:
        # a step's start is written by the run's next flush while it runs (the heartbeat's, within ~0.2 s)
        _wait_for(lambda: storage.get_partition_status("events").count("in_progress"), "in_progress", 10.0)
        seen.append(list(storage.get_partition_status("events").segments()))
        raise ValueError("the source is down")

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    keys = [_day(offset) for offset in range(10, 1010)]
    assert not repo.materialize(partition_key=rs.PartitionKey.single(keys), raise_on_error=False).success
    assert seen == [[(10, 1010, "in_progress")]]  # while the step ran
    assert list(storage.get_partition_status("events").segments()) == [(10, 1010, "failed")]
    assert _counts(storage)["failed"] == 1000


def test_keys_marked_failed_by_a_successful_step_are_failed(storage: rs.Storage) -> None:
    @rs.Asset(partitions_def=DAILY)
    def events(context: rs.AssetExecutionContext) -> int:
        context.mark_partition_failed(_day(1), "late file")
        return 1

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    assert repo.materialize(partition_key=rs.PartitionKey.single([_day(0), _day(1), _day(2)])).success
    assert _counts(storage) == {"materialized": 2, "failed": 1, "in_progress": 0}
    assert list(storage.get_partition_status("events").segments()) == [(1, 2, "failed")]


def test_a_short_successful_run_writes_no_partition_status_row(tmp_path: Path) -> None:
    storage = rs.Storage.embedded(tmp_path / "runs.db")
    repo = _repo(storage, set())
    for offset in range(20):
        assert repo.materialize(partition_key=rs.PartitionKey.single(_day(offset))).success
    storage.close()
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM partition_status").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM kv WHERE key = ?", (PROGRESS_KEY,)).fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'Success'").fetchone() == (20,)


def test_short_successful_runs_stop_after_one_read(tmp_path: Path) -> None:
    """Their clears change no run's holds: the flush never needs the module that folds ranges and holds."""
    script = textwrap.dedent(f"""
        import datetime as dt, sys
        import rivers as rs
        daily = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))

        @rs.Asset(partitions_def=daily)
        def events(context):
            return 1

        storage = rs.Storage.embedded({str(tmp_path / "runs.db")!r})
        repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
        repo.resolve(storage)
        for day in range(1, 6):
            assert repo.materialize(partition_key=rs.PartitionKey.single(f"2000-01-0{{day}}")).success
        storage.close()
        print("rivers.storage._sqlite_progress" in sys.modules)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False"]
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM runs WHERE status = 'Success'").fetchone() == (5,)


def test_a_lazy_change_computes_its_ranges_once_and_only_when_read() -> None:
    calls = []

    def locate() -> tuple[tuple[int, int], ...]:
        calls.append(1)
        return ((4, 5),)

    change = ProgressChange("r1", "events", None, locate=locate)
    other = ProgressChange("r2", "events", None, ((9, 10),))
    status_changes, hold_changes = cancel_pairs([other, change])  # no start in this write: no pairs to find
    assert calls == []
    assert status_changes == hold_changes
    assert change.ranges == ((4, 5),) and change.ranges == ((4, 5),)
    assert calls == [1]
    assert change == ProgressChange("r1", "events", None, ((4, 5),))
    # a start and its end in one write cancel out: then the ranges are compared
    start = ProgressChange("r1", "events", "in_progress", ((4, 5),))
    assert cancel_pairs([start, change]) == ([change], [])


def test_a_successful_steps_clears_compute_time_window_positions_only_when_read(
        storage: rs.Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    located = []
    index_of = type(DAILY).index_of

    def counting(self: rs.PartitionsDefinition, key: object, **kwargs: object) -> int | None:
        located.append(self)
        return index_of(self, key, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(type(DAILY), "index_of", counting)
    repo = _repo(storage, set())
    runtime = repo.resolved.plan("__all__", None, allow_incomplete=False).steps[0].runtime
    recorder = RunPartitionProgress(storage, "r1", rs.PartitionKey.single(_day(3)), None)
    recorder.started(runtime)
    (change,) = recorder.ended(StepOutcome(runtime.key))  # succeeded
    assert (change.asset_key, change.status, located) == ("events", None, [])  # nothing computed yet
    assert change.ranges == ((3, 4),)
    assert located == [DAILY]
    failed = StepOutcome(runtime.key)
    failed.status = FAILURE
    recorder.started(runtime)
    (fail,) = recorder.ended(failed)
    assert (fail.status, fail.ranges) == ("failed", ((3, 4),))

def test_positions_of_static_dynamic_and_multi_keys(storage: rs.Storage) -> None:
    static = rs.PartitionsDefinition.static_(["us", "eu", "apac"])
    dynamic = rs.PartitionsDefinition.dynamic("customers")
    multi = rs.PartitionsDefinition.multi({"day": DAILY, "region": static})
    storage.add_dynamic_partitions("customers", ["acme", "globex", "initech"])
    lookup = lambda name: storage._dynamic_partitions(name) or []  # noqa: E731 - what a run passes

    def ranges(definition: rs.PartitionsDefinition, key: rs.PartitionKey) -> tuple[tuple[int, int], ...]:
        return RunPartitionProgress(storage, "run", key, lookup).ranges_of(definition)

    assert ranges(static, rs.PartitionKey.single(["apac", "eu"])) == ((1, 3),)
    assert ranges(dynamic, rs.PartitionKey.single("globex")) == ((1, 2),)
    # a key the definition has no position for (a dynamic key deleted since) is skipped, never an error
    assert ranges(dynamic, rs.PartitionKey.single(["acme", "retired"])) == ((0, 1),)
    expected = multi.index_of(rs.PartitionKey.multi({"day": _day(3), "region": "eu"}))
    assert expected is not None
    assert ranges(multi, rs.PartitionKey.multi({"day": _day(3), "region": "eu"})) == ((expected, expected + 1),)
    assert ranges(DAILY, rs.PartitionKey.single([_day(5), _day(7), _day(6), _day(9)])) == ((5, 8), (9, 10))


def test_a_dynamic_partition_run_records_its_failure(storage: rs.Storage) -> None:
    customers = rs.PartitionsDefinition.dynamic("customers")

    @rs.Asset(partitions_def=customers)
    def accounts(context: rs.AssetExecutionContext) -> int:
        raise ValueError(f"cannot reach {context.partition_key}")

    repo = rs.CodeRepository(assets=[accounts], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    storage.add_dynamic_partitions("customers", ["acme", "globex"])
    repo.materialize(partition_key=rs.PartitionKey.single("globex"), raise_on_error=False)
    assert list(storage.get_partition_status("accounts").segments()) == [(1, 2, "failed")]


# -- other processes ---------------------------------------------------------------------

_CONTROLLER = textwrap.dedent("""
    import datetime as dt, pathlib, sys, time
    import rivers as rs

    db, gate = sys.argv[1], pathlib.Path(sys.argv[2])
    daily = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))

    @rs.Asset(partitions_def=daily)
    def events(context: rs.AssetExecutionContext) -> int:
        (gate / "started").touch()
        while not (gate / "release").exists():
            time.sleep(0.02)
        return 1

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    repo.resolve(rs.Storage.embedded(db))
    repo.materialize(partition_key=rs.PartitionKey.single(["2000-01-04", "2000-01-05"]))
""")


def _start_controller(tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path, Path]:
    db, gate = tmp_path / "runs.db", tmp_path / "gate"
    gate.mkdir()
    script = tmp_path / "controller.py"
    script.write_text(_CONTROLLER)
    process = subprocess.Popen([sys.executable, str(script), str(db), str(gate)])
    return process, db, gate


def _wait_for(condition, what: str, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _reader_once_in_progress(db: Path, gate: Path) -> rs.Storage:
    """Another storage object on ``db``, once the controller's step started and its two partitions show in progress."""
    _wait_for(lambda: (gate / "started").exists(), "the step to start")
    reader = rs.Storage.embedded(db)
    _wait_for(lambda: reader.get_partition_status("events").count("in_progress") == 2, "in_progress")
    return reader


def test_in_progress_is_visible_from_another_process_while_the_step_runs(tmp_path: Path) -> None:
    process, db, gate = _start_controller(tmp_path)
    try:
        reader = _reader_once_in_progress(db, gate)
        assert list(reader.get_partition_status("events").segments()) == [(3, 5, "in_progress")]
        assert _counts(reader) == {"materialized": 0, "failed": 0, "in_progress": 2}
        (gate / "release").touch()
        assert process.wait(timeout=60) == 0
    finally:
        (gate / "release").touch()
        process.kill()
        process.wait()
    assert list(reader.get_partition_status("events").segments()) == []
    assert _counts(reader) == {"materialized": 2, "failed": 0, "in_progress": 0}
    assert decode_holds(reader.kv_get(PROGRESS_KEY)) == {}


def test_reconcile_settles_the_partitions_of_a_killed_controller(tmp_path: Path) -> None:
    process, db, gate = _start_controller(tmp_path)
    try:
        reader = _reader_once_in_progress(db, gate)
        (run,) = reader.get_runs()
        _wait_for(lambda: reader._run_monitors([run.run_id]).get(run.run_id) is not None, "the run's owner record")
        assert list(decode_holds(reader.kv_get(PROGRESS_KEY))) == [run.run_id]
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert reader.reconcile_runs() == [run.run_id]
    assert reader.get_run(run.run_id).status == "Failure"
    assert list(reader.get_partition_status("events").segments()) == [(3, 5, "failed")]
    assert _counts(reader) == {"materialized": 0, "failed": 2, "in_progress": 0}
    assert decode_holds(reader.kv_get(PROGRESS_KEY)) == {}
    assert reader.reconcile_runs() == []  # settled once


def test_an_interrupted_run_leaves_no_partition_in_progress(tmp_path: Path) -> None:
    process, db, gate = _start_controller(tmp_path)
    try:
        reader = _reader_once_in_progress(db, gate)
        process.send_signal(signal.SIGINT)  # Ctrl-C: the run is recorded as canceled
        assert process.wait(timeout=60) != 0
    finally:
        (gate / "release").touch()
        process.kill()
        process.wait()
    (run,) = reader.get_runs()
    assert run.status == "Canceled"
    assert list(reader.get_partition_status("events").segments()) == []
    assert decode_holds(reader.kv_get(PROGRESS_KEY)) == {}
