"""Run monitoring on the server: owner records, heartbeats, and failing runs whose process died.

One row per monitored run in ``run_monitor`` (schema version 2), next to
the ``runs`` table. Every function runs inside one transaction of
:class:`~rivers_storage_postgres.connections.Connector` (``s`` is the
schema). :func:`fail_dead_run` locks the run's row (``SELECT ... FOR
UPDATE``) before it reads the run's status and owner, so of several readers
(on any machine) reconciling the same run, one marks it and the others see
it failed; a run resumed meanwhile shows a new owner and is left alone.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Final

import psycopg

from rivers.storage.monitor import PROCESS_DIED, RunMonitor, owner_sign
from rivers.storage.records import RunRecord
from rivers_storage_postgres.rows import RUN_SELECT, encode_json, run_from_row

__all__ = ["claim_queued_runs", "fail_dead_run", "heartbeat", "monitors", "put_monitor"]

_COLUMNS: Final = "run_id, host, pid, process_start, heartbeat, attempt_start, end_reason, attempts"
#: ``attempts`` as JSON text (decoded by the C scanner, like the other JSON columns)
_SELECT: Final = _COLUMNS.replace("attempts", "attempts::text")


def put_monitor(conn: psycopg.Connection, s: str, record: RunMonitor) -> None:
    conn.execute(
        f"INSERT INTO {s}.run_monitor ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb) "
        "ON CONFLICT (run_id) DO UPDATE SET host = excluded.host, pid = excluded.pid, "
        "process_start = excluded.process_start, heartbeat = excluded.heartbeat, "
        "attempt_start = excluded.attempt_start, end_reason = excluded.end_reason, attempts = excluded.attempts",
        (record.run_id, record.host, record.pid, record.process_start, record.heartbeat, record.attempt_start,
         record.end_reason, encode_json([list(attempt) for attempt in record.attempts])),
    )


def monitors(conn: psycopg.Connection, s: str, run_ids: Sequence[str]) -> dict[str, RunMonitor]:
    rows = conn.execute(
        f"SELECT {_SELECT} FROM {s}.run_monitor WHERE run_id = ANY(%s)", (list(run_ids),)
    ).fetchall()
    return {row[0]: _from_row(row) for row in rows}


def heartbeat(conn: psycopg.Connection, s: str, run_ids: Sequence[str], timestamp: int) -> None:
    conn.execute(f"UPDATE {s}.run_monitor SET heartbeat = %s WHERE run_id = ANY(%s)", (timestamp, list(run_ids)))


def fail_dead_run(conn: psycopg.Connection, s: str, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
    row = conn.execute(f"SELECT status FROM {s}.runs WHERE run_id = %s FOR UPDATE", (run_id,)).fetchone()
    if row is None or row[0] not in ("Started", "Queued"):
        return False
    # a new statement: it sees every owner record committed before the row lock was granted
    owner = conn.execute(f"SELECT pid, heartbeat FROM {s}.run_monitor WHERE run_id = %s", (run_id,)).fetchone()
    if (tuple(owner) if owner is not None else (None, None)) != owner_sign(judged):
        return False
    conn.execute(f"UPDATE {s}.runs SET status = 'Failure', end_time = %s WHERE run_id = %s", (end_time, run_id))
    conn.execute(
        f"INSERT INTO {s}.run_monitor (run_id, end_reason) VALUES (%s, %s) "
        "ON CONFLICT (run_id) DO UPDATE SET end_reason = excluded.end_reason",
        (run_id, PROCESS_DIED),
    )
    return True


def claim_queued_runs(
    conn: psycopg.Connection, s: str, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None
) -> list[RunRecord]:
    # SKIP LOCKED: concurrent claimers take different runs at once instead of queueing behind each other
    only = "" if run_ids is None else " AND run_id = ANY(%(ids)s)"
    rows = conn.execute(
        f"WITH picked AS (SELECT seq FROM {s}.runs WHERE status = 'Queued'{only} "
        "ORDER BY priority DESC, start_time, seq LIMIT %(limit)s FOR UPDATE SKIP LOCKED) "
        f"UPDATE {s}.runs AS r SET status = 'Started' FROM picked WHERE r.seq = picked.seq "
        f"RETURNING {RUN_SELECT}, r.seq",
        {"limit": limit, "ids": None if run_ids is None else list(run_ids)},
    ).fetchall()
    rows.sort(key=lambda row: (-row[7], row[3], row[-1]))  # priority, start_time, seq: the claim order
    claimed = [run_from_row(row) for row in rows]
    for run in claimed:
        put_monitor(conn, s, owner.evolve(run_id=run.run_id))
    return claimed


def _from_row(row: Sequence[Any]) -> RunMonitor:
    return RunMonitor(run_id=row[0], host=row[1], pid=row[2], process_start=row[3], heartbeat=row[4],
                      attempt_start=row[5], end_reason=row[6], attempts=[tuple(pair) for pair in json.loads(row[7])])
