"""Run monitor records (:class:`~rivers.storage.monitor.RunMonitor`) in the embedded SQLite store.

One row per monitored run in ``run_monitor``, next to (not in) the ``runs``
table. Schema version 3 creates the table (:mod:`rivers.storage._sqlite_migrations`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from rivers.storage._sqlite_schema import RUN_COLUMNS, decode_json, encode_json, run_from_row
from rivers.storage.monitor import PROCESS_DIED, RunMonitor, owner_sign
from rivers.storage.records import RunRecord

_COLUMNS: Final = "run_id, host, pid, process_start, heartbeat, attempt_start, end_reason, attempts"
_PUT: Final = f"INSERT OR REPLACE INTO run_monitor ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
#: Run ids per ``IN (...)`` query (far below SQLite's variable limit).
_IDS_PER_QUERY: Final = 500
HEARTBEAT: Final = "UPDATE run_monitor SET heartbeat = ? WHERE run_id = ?"
#: The run's status and its monitor's (pid, heartbeat), read by a reconciling writer inside its transaction.
_RUN_AND_OWNER: Final = (
    "SELECT r.status, m.pid, m.heartbeat FROM runs AS r LEFT JOIN run_monitor AS m ON m.run_id = r.run_id "
    "WHERE r.run_id = ?"
)
_FAIL_RUN: Final = "UPDATE runs SET status = 'Failure', end_time = ? WHERE run_id = ?"
_DIED: Final = (
    "INSERT INTO run_monitor (run_id, end_reason) VALUES (?, ?) "
    "ON CONFLICT (run_id) DO UPDATE SET end_reason = excluded.end_reason"
)


def put(conn: sqlite3.Connection, record: RunMonitor) -> None:
    """Insert or replace the monitor row of ``record.run_id`` (inside a write transaction)."""
    conn.execute(_PUT, (record.run_id, record.host, record.pid, record.process_start, record.heartbeat,
                        record.attempt_start, record.end_reason, encode_json([list(a) for a in record.attempts])))


def select_queries(run_ids: Sequence[str]) -> list[tuple[str, list[str]]]:
    """``(sql, parameters)`` of the queries reading the monitor rows of ``run_ids``."""
    queries = []
    for start in range(0, len(run_ids), _IDS_PER_QUERY):
        chunk = list(run_ids[start:start + _IDS_PER_QUERY])
        queries.append((f"SELECT {_COLUMNS} FROM run_monitor WHERE run_id IN ({', '.join('?' * len(chunk))})", chunk))
    return queries


def from_row(row: Sequence[Any]) -> RunMonitor:
    """The record of a ``run_monitor`` row."""
    return RunMonitor(run_id=row[0], host=row[1], pid=row[2], process_start=row[3], heartbeat=row[4],
                      attempt_start=row[5], end_reason=row[6], attempts=[tuple(a) for a in decode_json(row[7])])


def fail_dead_run(conn: sqlite3.Connection, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
    """``_fail_dead_run`` inside a write transaction (``BEGIN IMMEDIATE``: other writers wait)."""
    row = conn.execute(_RUN_AND_OWNER, (run_id,)).fetchone()
    if row is None or row[0] not in ("Started", "Queued") or (row[1], row[2]) != owner_sign(judged):
        return False
    conn.execute(_FAIL_RUN, (end_time, run_id))
    conn.execute(_DIED, (run_id, PROCESS_DIED))
    return True


def claim_queued_runs(
    conn: sqlite3.Connection, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None
) -> list[RunRecord]:
    """``_claim_queued_runs`` inside a write transaction (``BEGIN IMMEDIATE``: one claimer at a time)."""
    sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE status = 'Queued'"
    parameters: list[Any] = []
    if run_ids is not None:
        sql += f" AND run_id IN ({', '.join('?' * len(run_ids))})"
        parameters.extend(run_ids)
    rows = conn.execute(sql + " ORDER BY priority DESC, start_time, seq LIMIT ?", (*parameters, limit)).fetchall()
    claimed = [run_from_row(row).evolve(status="Started") for row in rows]
    conn.executemany("UPDATE runs SET status = 'Started' WHERE run_id = ?", [(run.run_id,) for run in claimed])
    for run in claimed:
        put(conn, owner.evolve(run_id=run.run_id))
    return claimed
