"""Run monitor records (:class:`~rivers.storage.monitor.RunMonitor`) in the embedded SQLite store.

One row per monitored run in ``run_monitor``, next to (not in) the ``runs``
table. The table is created on first write (``CREATE TABLE IF NOT EXISTS``),
so files created before run monitoring existed gain it without a schema
migration; reads of a file without it find no monitor records.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any, Final

from rivers.storage._sqlite_schema import decode_json, encode_json
from rivers.storage.monitor import RunMonitor

MONITOR_DDL: Final = """CREATE TABLE IF NOT EXISTS run_monitor (
    run_id TEXT PRIMARY KEY,
    host TEXT,
    pid INTEGER,
    process_start INTEGER,
    heartbeat INTEGER,
    attempt_start INTEGER,
    end_reason TEXT,
    attempts TEXT NOT NULL DEFAULT '[]') WITHOUT ROWID"""

_COLUMNS: Final = "run_id, host, pid, process_start, heartbeat, attempt_start, end_reason, attempts"
_PUT: Final = f"INSERT OR REPLACE INTO run_monitor ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
#: Run ids per ``IN (...)`` query (far below SQLite's variable limit).
_IDS_PER_QUERY: Final = 500


#: Whether the file has the table (no row: it was never written).
TABLE_EXISTS: Final = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'run_monitor'"
HEARTBEAT: Final = "UPDATE run_monitor SET heartbeat = ? WHERE run_id = ?"


def put(conn: sqlite3.Connection, record: RunMonitor) -> None:
    """Insert or replace the monitor row of ``record.run_id`` (inside a write transaction)."""
    conn.execute(MONITOR_DDL)
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
