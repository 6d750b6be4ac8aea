"""Behaviour specific to the embedded SQLite store: files, processes, fork, write-behind batches."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from rivers.exceptions import ConfigurationError, SchemaMigrationNeededError, StorageError
from rivers.storage import AssetRecord, RunRecord, SqliteStorage, Storage, StoredEvent, StoredLog
from rivers.storage._sqlite_migrations import SCHEMA_VERSION
from support import in_threads, run_python


def step_events(run_id: str, asset_key: str, index: int = 0) -> list[StoredEvent]:
    prefix = f"{run_id}/{asset_key}/{index}"
    return [
        StoredEvent(f"{prefix}/start", "StepStart", asset_key, run_id, None, index),
        StoredEvent(f"{prefix}/mat", "Materialization", asset_key, run_id, None, index, [], f"v{index}"),
        StoredEvent(f"{prefix}/ok", "StepSuccess", asset_key, run_id, None, index),
    ]


def test_wal_mode_and_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Storage.embedded(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert {"runs", "events", "logs", "asset_records", "latest_materializations", "topology", "kv"} <= tables


def test_reopening_keeps_data_and_schema_creation_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first = Storage.embedded(path)
    first._create_run(RunRecord("r1", start_time=1))
    first._register_assets([AssetRecord("a", group="g")])
    first._register_topology({"b": ["a"]})
    first.add_dynamic_partitions("d", ["x"])
    first.close()
    second = Storage.embedded(path)
    assert [r.run_id for r in second.get_runs()] == ["r1"]
    assert second.get_asset_record("a") == AssetRecord("a", group="g")
    assert second._topology() == {"b": ["a"]}
    assert second.get_dynamic_partitions("d") == ["x"]
    second.close()


def test_another_process_sees_earlier_runs(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    storage = Storage.embedded(path)
    storage._create_run(RunRecord("first", start_time=1))
    storage._create_run(RunRecord("second", start_time=2, status="Success"))
    storage._append_events(step_events("second", "a"))
    output = run_python(
        f"""
        from rivers.storage import Storage
        storage = Storage.embedded({str(path)!r})
        print(",".join(run.run_id for run in storage.get_runs()))
        print(len(storage.get_events_for_run("second")))
        storage._create_run(__import__("rivers.storage").storage.RunRecord("from-child", start_time=3))
        storage.close()
        """
    )
    assert output.split() == ["second,first", "3"]
    assert storage.get_runs()[0].run_id == "from-child"
    storage.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_uses_its_own_connection(tmp_path: Path) -> None:
    storage = Storage.embedded(tmp_path / "fork.db")
    storage._create_run(RunRecord("parent", start_time=1))
    parent_connection = storage._conn
    pid = os.fork()
    if pid == 0:  # child: write through the inherited object, then leave without cleanup
        code = 1
        try:
            storage._create_run(RunRecord("child", start_time=2))
            storage._append_events(step_events("child", "a"))
            if storage.get_run("parent") is None:
                code = 2
            elif storage._conn is parent_connection:
                code = 3
            else:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert [r.run_id for r in storage.get_runs()] == ["child", "parent"]
    assert len(storage.get_events_for_run("child")) == 3
    storage._append_events(step_events("parent", "b"))
    assert len(storage.get_events_for_run("parent")) == 3
    storage.close()


def test_closed_storage_raises(tmp_path: Path) -> None:
    storage = Storage.embedded(tmp_path / "c.db")
    storage.close()
    storage.close()
    with pytest.raises(StorageError, match="is closed"):
        storage.get_runs()
    with pytest.raises(StorageError, match="is closed"):
        storage._start_run(RunRecord("r", start_time=1))  # not queued for a publisher that is gone
    with pytest.raises(StorageError, match="Unknown run status: Running"):
        Storage.embedded(tmp_path / "d.db")._start_run(RunRecord("r", status="Running"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaMigrationNeededError, match="newer than this rivers-core"):
        Storage.embedded(path)


def test_a_file_that_is_not_a_database_is_a_storage_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="Cannot open embedded storage"):
        Storage.embedded(path)


def test_threads_with_separate_connections_to_one_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "multi.db"
    Storage.embedded(path).close()

    def writer(index: int) -> None:
        storage = Storage.embedded(path)
        try:
            for step in range(25):
                storage._append_events(step_events(f"run-{index}", f"asset-{index}", step))
        finally:
            storage.close()

    in_threads(writer)
    reader = Storage.embedded(path)
    assert [len(reader.get_events_for_run(f"run-{i}")) for i in range(4)] == [75] * 4
    reader.close()


# -- write-behind batches -------------------------------------------------------------------


def test_batch_defers_writes_until_exit(tmp_path: Path) -> None:
    path = tmp_path / "batch.db"
    storage = Storage.embedded(path)
    other = Storage.embedded(path)
    storage._create_run(RunRecord("r", start_time=1))
    with storage._batch():
        storage._append_events(step_events("r", "a"))
        storage._append_logs([StoredLog("l", "r", "a", 1, stdout="hi")])
        with storage._batch():
            storage._append_events(step_events("r", "b"))
        assert other.get_events_for_run("r") == []
        assert other.get_run_logs("r") == []
    assert [e.asset_key for e in other.get_events_for_run("r")] == ["a"] * 3 + ["b"] * 3
    assert [log.id for log in other.get_run_logs("r")] == ["l"]
    storage.close()
    other.close()


def test_batch_reads_from_the_same_object_see_queued_writes(tmp_path: Path) -> None:
    storage = Storage.embedded(tmp_path / "b.db")
    with storage._batch():
        storage._append_events(step_events("r", "a"))
        assert len(storage.get_events_for_run("r")) == 3
        record = storage.get_asset_record("a")
        assert record is not None and record.last_data_version == "v0"
        assert storage._completed_steps("r") == {"a"}
    storage.close()


def test_batch_writes_events_before_a_later_run_update(tmp_path: Path) -> None:
    path = tmp_path / "order.db"
    storage = Storage.embedded(path)
    other = Storage.embedded(path)
    storage._create_run(RunRecord("r", start_time=1))
    with storage._batch():
        storage._append_events(step_events("r", "a"))
        storage._update_run("r", status="Success", end_time=5)
        run = other.get_run("r")
        assert run is not None and run.status == "Success"
        assert len(other.get_events_for_run("r")) == 3
    storage.close()
    other.close()


def test_threads_batching_on_one_storage_object_lose_nothing(tmp_path: Path) -> None:
    # concurrent runs in one process (e.g. a backfill's runs) share the storage object; one thread's
    # batch ending flushes the queue while others are adding to it
    storage = Storage.embedded(tmp_path / "shared.db")

    def run(index: int) -> None:
        for step in range(150):
            with storage._batch():
                storage._append_events(step_events(f"run-{index}", "a", step))
                storage._append_logs([StoredLog(f"log-{index}-{step}", f"run-{index}", "a", step, stdout="x")])

    in_threads(run)
    assert [len(storage.get_events_for_run(f"run-{i}")) for i in range(4)] == [450] * 4
    assert [len(storage.get_run_logs(f"run-{i}")) for i in range(4)] == [150] * 4
    storage.close()


def test_batch_flushes_when_the_queue_is_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "full.db"
    monkeypatch.setattr(SqliteStorage, "batch_max_events", 6)
    storage = Storage.embedded(path)
    other = Storage.embedded(path)
    with storage._batch():
        storage._append_events(step_events("r", "a", 0))
        assert other.get_events_for_run("r") == []
        storage._append_events(step_events("r", "a", 1))
        assert len(other.get_events_for_run("r")) == 6
        storage._append_events(step_events("r", "a", 2))
        assert len(other.get_events_for_run("r")) == 6
    assert len(other.get_events_for_run("r")) == 9
    storage.close()
    other.close()


def test_a_large_batch_is_written_in_order_in_several_statements(tmp_path: Path) -> None:
    storage = Storage.embedded(tmp_path / "large.db")
    storage._create_run(RunRecord("r", start_time=1))
    events = [event for index in range(401) for event in step_events("r", "a", index)]  # 1203 rows
    with storage._batch():
        storage._append_events(events)
    stored = storage.get_events_for_run("r")
    assert [event.id for event in stored] == [event.id for event in events]
    assert storage.get_asset_record("a").last_event_id == "r/a/400/mat"  # type: ignore[union-attr]
    storage.close()


def test_close_writes_the_queue(tmp_path: Path) -> None:
    path = tmp_path / "close.db"
    storage = Storage.embedded(path)
    batch = storage._batch()
    batch.__enter__()
    storage._append_events(step_events("r", "a"))
    storage.close()
    batch.__exit__(None, None, None)
    reopened = Storage.embedded(path)
    assert len(reopened.get_events_for_run("r")) == 3
    reopened.close()


# -- run records queued by _start_run -------------------------------------------------


def test_a_started_run_is_read_back_by_this_process_at_once(tmp_path: Path) -> None:
    path = tmp_path / "start.db"
    storage = Storage.embedded(path)
    other = Storage.embedded(path)
    storage._start_run(RunRecord("r", start_time=1))
    assert storage.get_run("r") is not None  # the same object writes its queue before reading
    storage._start_run(RunRecord("s", start_time=2))
    assert other.get_run("s") is not None  # so does any other storage object of this process
    storage.close()
    other.close()


def test_a_started_run_reaches_other_processes_without_further_writes(tmp_path: Path) -> None:
    path = tmp_path / "publish.db"
    storage = Storage.embedded(path)
    storage._start_run(RunRecord("r", start_time=1, partition_key="p"))
    # this process does nothing more with the storage: the publisher thread writes the record
    out = run_python(f"""
        import time
        from rivers.storage import Storage
        storage = Storage.embedded({str(path)!r})
        deadline = time.monotonic() + 30
        while storage.get_run("r") is None and time.monotonic() < deadline:
            time.sleep(0.01)
        run = storage.get_run("r")
        print(run.status, run.partition_key)
    """)
    assert out.split() == ["Started", "p"]
    storage.close()


def _one_asset_repo(storage: Storage) -> Any:
    import rivers as rs

    @rs.Asset
    def a() -> int:
        return 1

    repo = rs.CodeRepository(assets=[a])
    repo.resolve(storage)
    return repo


@pytest.fixture
def no_publisher(monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued run records stay queued until this process writes them (the publisher thread stays out)."""
    monkeypatch.setattr(SqliteStorage, "commit_delay", 60.0)


@pytest.mark.usefixtures("no_publisher")
def test_short_runs_share_one_commit(tmp_path: Path) -> None:
    path = tmp_path / "group.db"
    storage = Storage.embedded(path)
    repo = _one_asset_repo(storage)
    repo.materialize()
    storage.get_runs()  # commits the first run (and the set-up)
    statements: list[str] = []
    storage._conn.set_trace_callback(statements.append)
    run_ids = [repo.materialize().run_id for _ in range(3)]
    assert "COMMIT" not in statements  # all three wait for the group commit
    assert all(_committed_run(path, run_id) is None for run_id in run_ids)
    runs = {run.run_id: run.status for run in storage.get_runs()}  # a read commits them first
    storage._conn.set_trace_callback(None)
    assert [sql for sql in statements if sql == "COMMIT"] == ["COMMIT"]  # one transaction for the three runs
    assert not [sql for sql in statements if sql.startswith("UPDATE runs")]  # inserted in their final state
    assert all(runs[run_id] == "Success" for run_id in run_ids)
    for run_id in run_ids:
        assert _committed_run(path, run_id)[0] == "Success"  # type: ignore[index]
        assert [e.event_type for e in storage.get_events_for_run(run_id)] == [
            "StepStart", "Materialization", "StepSuccess"
        ]
    storage.close()


def test_commit_delay_zero_commits_each_run_before_it_returns(tmp_path: Path) -> None:
    path = tmp_path / "durable.db"
    storage = Storage.embedded(path, commit_delay=0)
    repo = _one_asset_repo(storage)
    for _ in range(2):
        run_id = repo.materialize().run_id
        assert storage._queue.queued_runs == [] and storage._queue.publisher is None
        assert _committed_run(path, run_id)[0] == "Success"  # type: ignore[index]
    storage.close()


def test_a_finished_run_reaches_other_processes_without_further_writes(tmp_path: Path) -> None:
    path = tmp_path / "finished.db"
    storage = Storage.embedded(path)
    run_id = _one_asset_repo(storage).materialize().run_id
    # this process does nothing more with the storage: the publisher thread commits the run
    out = run_python(f"""
        import time
        from rivers.storage import Storage
        storage = Storage.embedded({str(path)!r})
        deadline = time.monotonic() + 30
        while storage.get_run({run_id!r}) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        print(storage.get_run({run_id!r}).status, len(storage.get_events_for_run({run_id!r})))
    """)
    assert out.split() == ["Success", "3"]
    storage.close()


_MATERIALIZE_WITH_A_LONG_COMMIT_DELAY = """
import multiprocessing
import sys

import rivers as rs


@rs.Asset
def a() -> int:
    return 1


def materialize(path, queue=None):
    repo = rs.CodeRepository(assets=[a])
    repo.resolve(rs.Storage.embedded(path, commit_delay=60))
    run_id = repo.materialize().run_id
    if queue is not None:
        queue.put(run_id)
    return run_id


if __name__ == "__main__":
    path, start_method = sys.argv[1:]
    if start_method == "none":  # in this process, which then exits
        print(0, materialize(path))
    else:  # in a multiprocessing child
        context = multiprocessing.get_context(start_method)
        queue = context.Queue()
        child = context.Process(target=materialize, args=(path, queue))
        child.start()
        run_id = queue.get(timeout=60)
        child.join(60)
        print(child.exitcode, run_id)
"""


@pytest.mark.parametrize("start_method", ["none", "fork", "spawn"])
def test_runs_waiting_for_the_group_commit_are_committed_when_the_process_ends(
    tmp_path: Path, start_method: str
) -> None:
    import multiprocessing
    import subprocess
    import sys

    if start_method != "none" and start_method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"no {start_method} start method here")
    script, path = tmp_path / "script.py", tmp_path / "exit.db"
    script.write_text(_MATERIALIZE_WITH_A_LONG_COMMIT_DELAY)
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(script), str(path), start_method], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - started < 30  # the exit did not wait out the 60 s delay
    exitcode, run_id = done.stdout.split()
    assert exitcode == "0"
    assert _committed_run(path, run_id)[0] == "Success"  # type: ignore[index]


@pytest.mark.parametrize("value", [-1, "soon", float("inf"), True])
def test_an_invalid_commit_delay_is_refused(tmp_path: Path, value: object) -> None:
    with pytest.raises(ConfigurationError, match=r"commit_delay must be a number of seconds >= 0"):
        Storage.embedded(tmp_path / "bad.db", commit_delay=value)  # type: ignore[arg-type]


@pytest.mark.usefixtures("no_publisher")
def test_reads_of_tables_the_queue_never_holds_leave_the_group_commit_alone(tmp_path: Path) -> None:
    path = tmp_path / "kv.db"
    storage, other = Storage.embedded(path), Storage.embedded(path)
    storage._kv_put("k", b"v")
    storage._start_run(RunRecord("r", start_time=1))
    assert storage.kv_get("k") == b"v" and other.kv_get("k") == b"v"
    assert not storage.is_cancelled("r") and storage._dynamic_partitions("none") is None
    assert [record.run_id for record in storage._queue.queued_runs] == ["r"]  # still waiting for its group
    assert other.get_run("r") is not None  # a read of runs commits it first
    assert storage._queue.queued_runs == []
    storage.close()
    other.close()


@pytest.mark.usefixtures("no_publisher")
def test_a_read_waits_for_run_records_another_object_is_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "in-flight.db"
    writer, reader = Storage.embedded(path), Storage.embedded(path)
    in_transaction, release = threading.Event(), threading.Event()
    real_transaction = SqliteStorage._transaction

    def paused(self: SqliteStorage, operation):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "flusher":
            in_transaction.set()
            assert release.wait(30)
        return real_transaction(self, operation)

    monkeypatch.setattr(SqliteStorage, "_transaction", paused)
    writer._start_run(RunRecord("r", start_time=1))

    flusher = threading.Thread(target=writer._flush_now, name="flusher")
    flusher.start()
    assert in_transaction.wait(30)  # the record left the queue and is not committed yet
    # meanwhile runs keep queueing: only the connection waits for the commit, not the queue
    queueing = threading.Thread(target=writer._start_run, args=(RunRecord("s", start_time=2),))
    queueing.start()
    queueing.join(5)
    assert not queueing.is_alive() and [record.run_id for record in writer._queue.queued_runs] == ["s"]
    found: list[object] = []
    reading = threading.Thread(target=lambda: found.append(reader.get_run("r")))
    reading.start()
    reading.join(0.2)
    release.set()
    reading.join(30)
    flusher.join(30)
    assert found and found[0] is not None  # the read waited for the commit instead of missing the run
    writer.close()
    reader.close()


def _committed_run(path: Path, run_id: str) -> tuple[object, ...] | None:
    """The run's row as another process would read it (a plain connection, not a rivers storage)."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT status, end_time, node_names FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    finally:
        conn.close()


def test_the_publisher_leaves_runs_that_just_started_for_their_end(tmp_path: Path) -> None:
    path = tmp_path / "young.db"
    storage = Storage.embedded(path, commit_delay=60)
    storage._start_run(RunRecord("old", start_time=1))
    storage._queue.queued_run_times[0] -= 45  # queued 45 s ago: more than half the delay
    storage._start_run(RunRecord("ended", start_time=2))
    with storage._batch():
        storage._update_run("ended", status="Success", end_time=3)
    storage._start_run(RunRecord("young", start_time=4))
    with storage._conn_lock:
        storage._flush(keep_young_runs=True)  # what the publisher does
    assert _committed_run(path, "old") == ("Started", None, "[]")
    assert _committed_run(path, "ended")[0] == "Success"  # type: ignore[index]
    assert _committed_run(path, "young") is None  # still going and queued just now: left queued
    assert [record.run_id for record in storage._queue.queued_runs] == ["young"] and len(storage._queue.queued_run_times) == 1
    storage._update_run("young", status="Success", end_time=6)  # so it is inserted in its final state
    assert _committed_run(path, "young")[0] == "Success"  # type: ignore[index]
    storage.close()


def test_updating_a_queued_run_commits_its_final_state_at_once(tmp_path: Path) -> None:
    path = tmp_path / "fold.db"
    storage = Storage.embedded(path)
    storage._start_run(RunRecord("r", start_time=1, node_names=["a"]))
    storage._start_run(RunRecord("s", start_time=2))
    storage._update_run("r", status="Success", end_time=5, node_names=["a", "b"])
    assert storage._queue.queued_runs == []  # committed now, not left to the publisher
    assert _committed_run(path, "r") == ("Success", 5, '["a","b"]')
    assert _committed_run(path, "s")[:2] == ("Started", None)  # type: ignore[index]
    storage._update_run("s", status="Failure")  # no longer queued: an UPDATE
    assert _committed_run(path, "s")[:2] == ("Failure", None)  # type: ignore[index]
    with pytest.raises(StorageError, match="Run 'nope' not found"):
        storage._update_run("nope", status="Success")
    storage.close()


@pytest.mark.usefixtures("no_publisher")
def test_updating_a_queued_run_in_a_batch_leaves_it_for_the_group_commit(tmp_path: Path) -> None:
    path = tmp_path / "fold-batch.db"
    storage = Storage.embedded(path)
    with storage._batch():
        storage._start_run(RunRecord("r", start_time=1))
        storage._update_run("r", status="Canceled", end_time=7)
        assert _committed_run(path, "r") is None  # nothing committed inside the batch
    assert _committed_run(path, "r") is None  # nor when it ends: the run waits for the group commit
    run = storage.get_run("r")  # which a read of this process does first
    assert run is not None and run.status == "Canceled" and run.end_time == 7
    assert _committed_run(path, "r")[:2] == ("Canceled", 7)  # type: ignore[index]
    storage.close()


def test_a_batch_without_queued_runs_commits_when_it_ends(tmp_path: Path) -> None:
    path = tmp_path / "plain-batch.db"
    storage = Storage.embedded(path)
    storage._create_run(RunRecord("r", start_time=1))
    with storage._batch():
        storage._append_events(step_events("r", "a"))
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT COUNT(*) FROM events WHERE run_id = 'r'").fetchone()[0] == 3
    finally:
        conn.close()
    storage.close()


def test_close_writes_queued_runs_and_stops_the_publisher(tmp_path: Path) -> None:
    path = tmp_path / "close-runs.db"
    storage = Storage.embedded(path)
    storage._start_run(RunRecord("r", start_time=1))
    publisher = storage._queue.publisher
    assert publisher is not None
    storage.close()
    publisher.join(timeout=30)
    assert not publisher.is_alive()
    reopened = Storage.embedded(path)
    assert reopened.get_run("r") is not None
    reopened.close()


def test_a_failed_background_write_is_raised_by_the_next_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = Storage.embedded(tmp_path / "fail.db")
    real_transaction = SqliteStorage._transaction

    def failing_in_the_publisher(self: SqliteStorage, operation):  # type: ignore[no-untyped-def]
        if threading.current_thread() is self._queue.publisher:
            raise StorageError("disk is full")
        return real_transaction(self, operation)

    monkeypatch.setattr(SqliteStorage, "_transaction", failing_in_the_publisher)
    monkeypatch.setattr(SqliteStorage, "commit_delay", 0.001)
    storage._start_run(RunRecord("r", start_time=1))
    deadline = time.monotonic() + 30
    while storage._queue.queued_runs and time.monotonic() < deadline:  # until the publisher has tried
        time.sleep(0.01)
    with pytest.raises(StorageError, match="disk is full"):
        storage._update_run("r", status="Success")
    storage.close()


def test_registering_more_assets_than_one_insert_holds_round_trips_and_updates(tmp_path):
    from rivers.storage.records import AssetRecord
    from rivers.storage.sqlite import SqliteStorage

    storage = SqliteStorage(str(tmp_path / "a.db"))
    records = [AssetRecord(asset_key=f"a{i}", tags=[("k", str(i))], group="g") for i in range(1203)]
    storage._register_assets(records)
    storage._register_assets([record.evolve(group="h") for record in records[:700]])  # an update of some
    found = {record.asset_key: record for record in storage.get_asset_records()}
    assert len(found) == 1203
    assert {found[f"a{i}"].group for i in range(700)} == {"h"}
    assert {found[f"a{i}"].group for i in range(700, 1203)} == {"g"}
    assert [list(pair) for pair in found["a1202"].tags] == [["k", "1202"]]
    storage.close()
