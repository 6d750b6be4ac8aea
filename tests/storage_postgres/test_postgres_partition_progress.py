"""The engine's partition statuses on PostgreSQL (the generic path of ``Storage._record_partition_progress``)."""

from __future__ import annotations

import datetime as dt
import time

import rivers as rs
from rivers.storage.partition_progress import PROGRESS_KEY, decode_holds
from rivers_storage_postgres.storage import PostgresStorage

DAILY = rs.PartitionsDefinition.daily(start=dt.datetime(2000, 1, 1))


def test_failed_in_progress_and_cleared_partitions_on_postgres(pg_storage: PostgresStorage) -> None:
    failing = {"2000-01-03"}
    seen = []

    @rs.Asset(partitions_def=DAILY)
    def events(context: rs.AssetExecutionContext) -> int:
        # a step's start is written by the run's next flush while it runs (the heartbeat's, within ~0.2 s)
        deadline = time.monotonic() + 10
        while not pg_storage.get_partition_status("events").count("in_progress") and time.monotonic() < deadline:
            time.sleep(0.02)
        seen.append(list(pg_storage.get_partition_status("events").segments()))
        if context.partition_key in failing:
            raise ValueError(f"no data for {context.partition_key}")
        return 1

    repo = rs.CodeRepository(assets=[events], default_executor=rs.Executor.in_process())
    repo.resolve(pg_storage)
    for day in ("2000-01-02", "2000-01-03"):
        repo.materialize(partition_key=rs.PartitionKey.single(day), raise_on_error=False)
    assert seen == [[(1, 2, "in_progress")], [(2, 3, "in_progress")]]
    assert list(pg_storage.get_partition_status("events").segments()) == [(2, 3, "failed")]
    (entry,) = pg_storage.get_asset_catalogue(["events"])
    assert entry.partition_counts == {"materialized": 1, "failed": 1, "in_progress": 0}
    assert decode_holds(pg_storage.kv_get(PROGRESS_KEY)) == {}

    failing.clear()
    assert repo.materialize(partition_key=rs.PartitionKey.single("2000-01-03")).success
    assert list(pg_storage.get_partition_status("events").segments()) == []
