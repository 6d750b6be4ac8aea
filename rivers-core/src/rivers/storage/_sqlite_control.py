"""Control-plane statements of the embedded SQLite store: partition status, backfills, ticks, cursors, leases.

Every writing function runs inside one ``BEGIN IMMEDIATE`` transaction
opened by :class:`~rivers.storage.sqlite.SqliteStorage` (the database's write
lock is held before anything is read), so read-modify-write operations such
as taking a lease are atomic across every process sharing the file.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Final

from rivers.storage._sqlite_schema import decode_json, encode_json
from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
from rivers.storage.partition_status import PartitionStatusRanges

__all__ = [
    "acquire_lease",
    "backfills",
    "get_backfill",
    "get_lease",
    "partition_status",
    "put_backfill",
    "put_partition_status",
    "put_tick",
    "release_lease",
    "request_backfill_cancel",
    "ticks",
    "update_partition_status",
]

_BACKFILL_COLUMNS: Final = "backfill_id, status, created, updated, data, cancel_requested"
_PUT_BACKFILL: Final = (
    f"INSERT INTO backfills ({_BACKFILL_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (backfill_id) DO UPDATE SET status = excluded.status, updated = excluded.updated, "
    "data = excluded.data, cancel_requested = MAX(cancel_requested, excluded.cancel_requested)"
)


# -- partition status ------------------------------------------------------------


def partition_status(conn: sqlite3.Connection, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
    result = {}
    for start in range(0, len(asset_keys), 500):
        chunk = list(asset_keys[start:start + 500])
        placeholders = ", ".join("?" * len(chunk))
        sql = f"SELECT asset_key, ranges FROM partition_status WHERE asset_key IN ({placeholders})"
        for asset_key, ranges in conn.execute(sql, chunk):
            result[asset_key] = PartitionStatusRanges.from_json(ranges)
    return result


def update_partition_status(
    conn: sqlite3.Connection, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
) -> None:
    row = conn.execute("SELECT ranges FROM partition_status WHERE asset_key = ?", (asset_key,)).fetchone()
    put_partition_status(conn, asset_key, update(PartitionStatusRanges.from_json(row[0] if row else None)))


def put_partition_status(conn: sqlite3.Connection, asset_key: str, ranges: PartitionStatusRanges) -> None:
    """Store ``ranges`` as the partition status of ``asset_key`` (with its counts)."""
    counts = ranges.counts()
    conn.execute(
        "INSERT OR REPLACE INTO partition_status (asset_key, ranges, materialized, failed, in_progress) "
        "VALUES (?, ?, ?, ?, ?)",
        (asset_key, ranges.to_json(), counts["materialized"], counts["failed"], counts["in_progress"]),
    )


# -- backfills ---------------------------------------------------------------------


def _backfill_from_row(row: Sequence[object]) -> StoredBackfill:
    return StoredBackfill(row[0], row[1], row[2], row[3], row[4], bool(row[5]))  # type: ignore[arg-type]


def put_backfill(conn: sqlite3.Connection, backfill: StoredBackfill) -> None:
    conn.execute(_PUT_BACKFILL, (
        backfill.backfill_id, backfill.status, backfill.created, backfill.updated, backfill.data,
        int(backfill.cancel_requested),
    ))


def get_backfill(conn: sqlite3.Connection, backfill_id: str) -> StoredBackfill | None:
    row = conn.execute(f"SELECT {_BACKFILL_COLUMNS} FROM backfills WHERE backfill_id = ?", (backfill_id,)).fetchone()
    return None if row is None else _backfill_from_row(row)


def backfills(conn: sqlite3.Connection, status: str | None, limit: int | None) -> list[StoredBackfill]:
    where, parameters = ("WHERE status = ?", [status]) if status is not None else ("", [])
    sql = f"SELECT {_BACKFILL_COLUMNS} FROM backfills {where} ORDER BY seq DESC"
    if limit is not None:
        sql += " LIMIT ?"
        parameters.append(limit)  # type: ignore[arg-type]
    return [_backfill_from_row(row) for row in conn.execute(sql, parameters)][::-1]


def request_backfill_cancel(conn: sqlite3.Connection, backfill_id: str) -> bool:
    cursor = conn.execute("UPDATE backfills SET cancel_requested = 1 WHERE backfill_id = ?", (backfill_id,))
    return cursor.rowcount > 0


# -- automation ticks and cursors ---------------------------------------------------


def put_tick(conn: sqlite3.Connection, tick: StoredTick) -> None:
    body = encode_json([
        tick.automation_type, tick.status, list(tick.run_ids), list(tick.backfill_ids), tick.skip_reason,
        tick.error, tick.cursor,
    ])
    conn.execute(
        "INSERT INTO ticks (id, automation_name, timestamp, body) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET automation_name = excluded.automation_name, "
        "timestamp = excluded.timestamp, body = excluded.body",
        (tick.id, tick.automation_name, tick.timestamp, body),
    )


def ticks(conn: sqlite3.Connection, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
    sql = "SELECT id, automation_name, timestamp, body FROM ticks WHERE automation_name = ?"
    parameters: list[object] = [automation_name]
    if before is not None:
        sql += " AND timestamp < ?"
        parameters.append(before)
    sql += " ORDER BY timestamp DESC, seq DESC LIMIT ?"
    parameters.append(limit)
    result = []
    for tick_id, name, timestamp, body in conn.execute(sql, parameters):
        automation_type, status, run_ids, backfill_ids, skip_reason, error, cursor = decode_json(body)
        result.append(StoredTick(tick_id, name, automation_type, status, timestamp, run_ids, backfill_ids,
                                 skip_reason, error, cursor))
    return result


def prune_ticks(conn: sqlite3.Connection, automation_name: str, keep: int) -> int:
    cursor = conn.execute(
        "DELETE FROM ticks WHERE automation_name = ? AND seq NOT IN "
        "(SELECT seq FROM ticks WHERE automation_name = ? ORDER BY timestamp DESC, seq DESC LIMIT ?)",
        (automation_name, automation_name, keep),
    )
    return cursor.rowcount


def set_cursor(conn: sqlite3.Connection, automation_name: str, cursor: str | None) -> None:
    if cursor is None:
        conn.execute("DELETE FROM automation_cursors WHERE name = ?", (automation_name,))
    else:
        conn.execute("INSERT OR REPLACE INTO automation_cursors (name, cursor) VALUES (?, ?)", (automation_name, cursor))


def get_cursor(conn: sqlite3.Connection, automation_name: str) -> str | None:
    row = conn.execute("SELECT cursor FROM automation_cursors WHERE name = ?", (automation_name,)).fetchone()
    return None if row is None else str(row[0])


# -- leases ------------------------------------------------------------------------------


def acquire_lease(conn: sqlite3.Connection, name: str, owner: str, duration_s: float) -> Lease | None:
    now = time.time_ns()
    row = conn.execute("SELECT owner, acquired_at, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
    acquired_at = now
    if row is not None and row[2] > now:
        if row[0] != owner:
            return None
        acquired_at = row[1]
    lease = Lease(name, owner, acquired_at, now + int(duration_s * 1e9))
    conn.execute(
        "INSERT OR REPLACE INTO leases (name, owner, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
        (name, owner, lease.acquired_at, lease.expires_at),
    )
    return lease


def release_lease(conn: sqlite3.Connection, name: str, owner: str) -> bool:
    cursor = conn.execute(
        "DELETE FROM leases WHERE name = ? AND owner = ? AND expires_at > ?", (name, owner, time.time_ns())
    )
    return cursor.rowcount > 0


def get_lease(conn: sqlite3.Connection, name: str) -> Lease | None:
    row = conn.execute(
        "SELECT name, owner, acquired_at, expires_at FROM leases WHERE name = ? AND expires_at > ?",
        (name, time.time_ns()),
    ).fetchone()
    return None if row is None else Lease(*row)
