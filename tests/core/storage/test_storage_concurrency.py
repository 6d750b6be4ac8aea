"""The embedded SQLite store under concurrency: many writer processes, concurrent runs, nothing lost or torn."""

from __future__ import annotations

import collections
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import parallel_support as ps
import rivers as rs

WRITER = """
import os
import sys
import time

import rivers as rs
from rivers.storage import RunRecord, StoredEvent, StoredLog

path, writer, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start_at = float(sys.argv[4])
while time.time() < start_at:  # every writer opens the brand-new file at the same moment
    time.sleep(0.001)
storage = rs.Storage.embedded(path)
run_id = f"run-{writer}"
storage._create_run(RunRecord(run_id=run_id, job_name=None, status="Started", start_time=time.time_ns()))
for batch in range(batches):
    key = f"asset-{batch % 5}"
    storage._append_events([
        StoredEvent(f"{run_id}/{batch}/start", "StepStart", key, run_id, None, time.time_ns()),
        StoredEvent(f"{run_id}/{batch}/mat", "Materialization", key, run_id, None, time.time_ns(), [],
                    f"{writer}:{batch}"),
        StoredEvent(f"{run_id}/{batch}/ok", "StepSuccess", key, run_id, None, time.time_ns()),
    ])
    if batch % 10 == 0:
        storage._append_logs([StoredLog(f"{run_id}/{batch}/log", run_id, key, time.time_ns(), logs="x" * 100)])
        storage.kv_set(f"kv-{writer}", str(batch).encode())
    if batch % 25 == 0:
        storage.add_dynamic_partitions("shared", [f"k{writer}-{batch}"])
        storage._claim_concurrency_slots(run_id, key, [("shared-pool", 1)])
        storage._free_concurrency_slots(run_id, key)
storage._update_run(run_id, status="Success", end_time=time.time_ns())
storage.close()
"""


def test_many_writer_processes_lose_and_corrupt_nothing(tmp_path: Path) -> None:
    import time

    script = tmp_path / "writer.py"
    script.write_text(textwrap.dedent(WRITER))
    path = tmp_path / "fresh" / "concurrent.db"
    writers, batches = 10, 120
    start_at = time.time() + 1.0
    processes = [
        subprocess.Popen([sys.executable, str(script), str(path), str(w), str(batches), str(start_at)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(writers)
    ]
    results = [(p.wait(60), p.stderr.read()) for p in processes]
    for process in processes:
        process.stdout.close()
        process.stderr.close()
    assert all(code == 0 for code, _ in results), [err for code, err in results if code]

    storage = rs.Storage.embedded(path)
    runs = storage.get_runs(limit=100)
    assert sorted(r.run_id for r in runs) == sorted(f"run-{w}" for w in range(writers))
    assert {r.status for r in runs} == {"Success"}
    for w in range(writers):
        events = storage.get_events_for_run(f"run-{w}")
        assert len(events) == 3 * batches
        # one writer's events keep their order, and every batch is whole
        assert [e.id for e in events] == [f"run-{w}/{b}/{s}" for b in range(batches) for s in ("start", "mat", "ok")]
        assert len(storage.get_run_logs(f"run-{w}")) == batches // 10
        assert storage.kv_get(f"kv-{w}") == str((batches - 1) // 10 * 10).encode()
    assert len(storage.get_dynamic_partitions("shared")) == writers * len(range(0, batches, 25))
    # derived state matches the log: the latest materialization of each asset is the last one inserted
    for key in (f"asset-{i}" for i in range(5)):
        latest = storage.get_latest_materialization(key)
        newest = [e for e in storage.get_events_for_asset(key, limit=10_000) if e.event_type == "Materialization"][0]
        assert latest.id == newest.id and storage.get_asset_record(key).last_event_id == newest.id
    assert storage.get_pool_info("shared-pool").claimed_count == 0
    storage.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()


CONCURRENT_RUN = """
import os
import sys
import time

sys.path.insert(0, {support!r})
import rivers as rs
import parallel_support as ps

IO = ps.Files(root=os.path.abspath("values-" + sys.argv[1]))
assets = []
for i in range(30):
    def make(i):
        def fn(**inputs):
            return i + sum(inputs.values())
        return fn
    namespace = {{"IO": IO}}
    params = f"a{{i - 3}}" if i >= 3 else ""
    body = f"a{{i - 3}} + 1" if i >= 3 else "0"
    exec(f"def a{{i}}({{params}}):\\n    return {{body}}\\n", namespace)
    assets.append(rs.Asset(io_handler=IO)(namespace[f"a{{i}}"]))

repo = rs.CodeRepository(assets=assets, default_executor=rs.Executor.parallel(max_workers=2))
repo.resolve(rs.Storage.embedded("shared.db"))
start_at = float(sys.argv[2])
while time.time() < start_at:
    time.sleep(0.001)
result = repo.materialize()
print(result.run_id, result.success, repo.load_node("a29"))
"""


def test_two_concurrent_parallel_runs_share_one_sqlite_storage(tmp_path: Path) -> None:
    import time

    script = tmp_path / "run.py"
    script.write_text(CONCURRENT_RUN.format(support=str(Path(ps.__file__).parent)))
    start_at = time.time() + 1.5
    processes = [subprocess.Popen([sys.executable, str(script), name, str(start_at)], stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for name in ("x", "y")]
    outputs = [p.communicate(timeout=60) for p in processes]
    lines = [out.split() for out, _ in outputs]
    assert all(len(line) == 3 for line in lines), outputs
    assert [(success, value) for _, success, value in lines] == [("True", "9"), ("True", "9")]
    storage = rs.Storage.embedded("shared.db")
    for run_id, _, _ in lines:
        events = storage.get_events_for_run(run_id)
        counts = collections.Counter(e.event_type for e in events)
        assert counts == {"StepStart": 30, "Materialization": 30, "StepSuccess": 30}
        assert len({e.id for e in events}) == 90
        assert storage.get_run(run_id).status == "Success"
    for i in range(30):
        record = storage.get_asset_record(f"a{i}")
        assert record.last_run_id in {lines[0][0], lines[1][0]}
        assert len([e for e in storage.get_events_for_asset(f"a{i}") if e.event_type == "Materialization"]) == 2
    storage.close()


LOCK_HOLDER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_lock(path: Path, seconds: float) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_writes_wait_out_a_lock_held_longer_than_the_busy_timeout(tmp_path: Path, monkeypatch) -> None:
    import time

    import pytest

    from rivers.exceptions import StorageError
    from rivers.storage import SqliteStorage, StoredEvent

    monkeypatch.setattr(SqliteStorage, "busy_timeout_ms", 20)
    path = tmp_path / "locked.db"
    storage = rs.Storage.embedded(path)
    holder = hold_lock(path, 0.6)
    started = time.monotonic()
    storage._append_events([StoredEvent("e1", "StepStart", "a", "r", None, 1)])  # "database is locked", retried
    assert time.monotonic() - started >= 0.4
    holder.wait(10)
    holder.stdout.close()
    assert [e.id for e in storage.get_events_for_run("r")] == ["e1"]

    monkeypatch.setattr(SqliteStorage, "lock_retry_seconds", 0.2)
    holder = hold_lock(path, 1.5)
    with pytest.raises(StorageError, match="locked"):
        storage._append_events([StoredEvent("e2", "StepStart", "a", "r", None, 2)])
    holder.wait(10)
    holder.stdout.close()
    assert [e.id for e in storage.get_events_for_run("r")] == ["e1"]
    storage.close()
