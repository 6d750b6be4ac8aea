"""Many processes writing into one database: nothing lost, nothing duplicated."""

from __future__ import annotations

import collections
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psycopg

from rivers_storage_postgres.storage import PostgresStorage

PROCESSES = 8
RUNS = 250

WRITER = textwrap.dedent(
    """
    import sys
    import time

    import rivers as rs

    url, schema, writer, runs, start_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])

    @rs.Asset(name=f"asset_{writer % 3}")
    def produce() -> int:
        return writer

    storage = rs.Storage.connect(url, schema=schema, pool_size=2)
    repo = rs.CodeRepository(assets=[produce], default_executor=rs.Executor.in_process())
    repo.resolve(storage)
    while time.time() < start_at:  # every writer starts at the same moment
        time.sleep(0.001)
    for index in range(runs):
        result = repo.materialize(tags=[("writer", str(writer)), ("index", str(index))])
        assert result.success
        storage._kv_update("runs", lambda value: str(int(value or b"0") + 1).encode())
    storage.close()
    """
)


def test_eight_processes_write_250_runs_each_losing_and_duplicating_nothing(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    PostgresStorage(pg_url, schema=pg_schema).close()  # the schema exists before the writers start
    start_at = time.time() + 2.0
    writers = [
        subprocess.Popen([sys.executable, str(script), pg_url, pg_schema, str(index), str(RUNS), str(start_at)],
                         stderr=subprocess.PIPE, text=True)
        for index in range(PROCESSES)
    ]
    for writer in writers:
        _, stderr = writer.communicate(timeout=600)
        assert writer.returncode == 0, stderr

    storage = PostgresStorage(pg_url, schema=pg_schema)
    runs = storage.get_runs(limit=10 * PROCESSES * RUNS)
    assert len(runs) == PROCESSES * RUNS and len({run.run_id for run in runs}) == PROCESSES * RUNS
    assert {run.status for run in runs} == {"Success"}
    per_writer = collections.Counter(dict(run.tags)["writer"] for run in runs)
    assert per_writer == {str(index): RUNS for index in range(PROCESSES)}
    assert storage.kv_get("runs") == str(PROCESSES * RUNS).encode()  # atomic updates from 8 processes
    with psycopg.connect(pg_url) as conn:
        total, distinct, runs_with_events = conn.execute(
            f"SELECT count(*), count(DISTINCT id), count(DISTINCT run_id) FROM {pg_schema}.events"
        ).fetchone()
    assert (total, distinct, runs_with_events) == (3 * PROCESSES * RUNS, 3 * PROCESSES * RUNS, PROCESSES * RUNS)
    sample = runs[len(runs) // 2]
    assert [event.event_type for event in storage.get_events_for_run(sample.run_id)] == [
        "StepStart", "Materialization", "StepSuccess"]
    latest = {record.asset_key: record.last_run_id for record in storage.get_asset_records()}
    assert set(latest) == {"asset_0", "asset_1", "asset_2"} and all(latest.values())
    storage.close()
