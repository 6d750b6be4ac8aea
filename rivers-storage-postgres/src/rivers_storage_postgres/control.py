"""The control plane on the server: partition status, backfills, automation ticks and cursors, leases.

Every function runs inside one transaction of
:class:`~rivers_storage_postgres.connections.Connector` (``s`` is the
schema). Read-modify-write operations are atomic across processes:
partition-status updates hold a transaction-level advisory lock on the
asset, and a lease is taken by one ``INSERT ... ON CONFLICT DO UPDATE ...
WHERE`` statement that compares with the server's clock, so contenders on
several machines agree on who holds it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

import psycopg

from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
from rivers.storage.partition_status import PartitionStatusRanges
from rivers_storage_postgres.rows import encode_json

__all__ = [
    "SERVER_NOW_NS",
    "acquire_lease",
    "backfills",
    "get_backfill",
    "get_cursor",
    "get_lease",
    "partition_status",
    "put_backfill",
    "prune_ticks",
    "put_tick",
    "release_lease",
    "request_backfill_cancel",
    "set_cursor",
    "ticks",
    "update_partition_status",
]

#: The server's clock in nanoseconds since the epoch (the clock every contender for a lease shares).
SERVER_NOW_NS: Final = "(extract(epoch FROM clock_timestamp()) * 1000000000)::bigint"
_BACKFILL_COLUMNS: Final = "backfill_id, status, created, updated, data, cancel_requested"


# -- partition status -------------------------------------------------------------------


def partition_status(conn: psycopg.Connection, s: str, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
    rows = conn.execute(
        f"SELECT asset_key, ranges FROM {s}.partition_status WHERE asset_key = ANY(%s)", (list(asset_keys),)
    ).fetchall()
    return {asset_key: PartitionStatusRanges.from_json(ranges) for asset_key, ranges in rows}


def update_partition_status(
    conn: psycopg.Connection, s: str, asset_key: str,
    update: Callable[[PartitionStatusRanges], PartitionStatusRanges],
) -> None:
    # also serialises the first writers of an asset without a row yet
    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{s}.partition_status:{asset_key}",))
    row = conn.execute(f"SELECT ranges FROM {s}.partition_status WHERE asset_key = %s", (asset_key,)).fetchone()
    ranges = update(PartitionStatusRanges.from_json(row[0] if row else None))
    counts = ranges.counts()
    conn.execute(
        f"INSERT INTO {s}.partition_status (asset_key, ranges, materialized, failed, in_progress) "
        "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (asset_key) DO UPDATE SET ranges = excluded.ranges, "
        "materialized = excluded.materialized, failed = excluded.failed, in_progress = excluded.in_progress",
        (asset_key, ranges.to_json(), counts["materialized"], counts["failed"], counts["in_progress"]),
    )


# -- backfills --------------------------------------------------------------------------------


def _backfill(row: Sequence[Any]) -> StoredBackfill:
    return StoredBackfill(row[0], row[1], row[2], row[3], row[4], bool(row[5]))


def put_backfill(conn: psycopg.Connection, s: str, backfill: StoredBackfill) -> None:
    conn.execute(
        f"INSERT INTO {s}.backfills ({_BACKFILL_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (backfill_id) DO UPDATE SET status = excluded.status, updated = excluded.updated, "
        f"data = excluded.data, cancel_requested = {s}.backfills.cancel_requested OR excluded.cancel_requested",
        (backfill.backfill_id, backfill.status, backfill.created, backfill.updated, backfill.data,
         bool(backfill.cancel_requested)),
    )


def get_backfill(conn: psycopg.Connection, s: str, backfill_id: str) -> StoredBackfill | None:
    row = conn.execute(
        f"SELECT {_BACKFILL_COLUMNS} FROM {s}.backfills WHERE backfill_id = %s", (backfill_id,)
    ).fetchone()
    return None if row is None else _backfill(row)


def backfills(conn: psycopg.Connection, s: str, status: str | None, limit: int | None) -> list[StoredBackfill]:
    where, parameters = ("WHERE status = %s", [status]) if status is not None else ("", [])
    rows = conn.execute(
        f"SELECT {_BACKFILL_COLUMNS} FROM {s}.backfills {where} ORDER BY seq DESC LIMIT %s", [*parameters, limit]
    ).fetchall()
    return [_backfill(row) for row in reversed(rows)]


def request_backfill_cancel(conn: psycopg.Connection, s: str, backfill_id: str) -> bool:
    cursor = conn.execute(f"UPDATE {s}.backfills SET cancel_requested = true WHERE backfill_id = %s", (backfill_id,))
    return cursor.rowcount > 0


# -- automation ticks and cursors --------------------------------------------------------------


def put_tick(conn: psycopg.Connection, s: str, tick: StoredTick) -> None:
    body = encode_json([tick.automation_type, tick.status, list(tick.run_ids), list(tick.backfill_ids),
                        tick.skip_reason, tick.error, tick.cursor])
    conn.execute(
        f"INSERT INTO {s}.ticks (id, automation_name, timestamp, body) VALUES (%s, %s, %s, %s::jsonb) "
        "ON CONFLICT (id) DO UPDATE SET automation_name = excluded.automation_name, "
        "timestamp = excluded.timestamp, body = excluded.body",
        (tick.id, tick.automation_name, tick.timestamp, body),
    )


def ticks(conn: psycopg.Connection, s: str, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
    bound = "AND timestamp < %s " if before is not None else ""
    parameters: list[Any] = [automation_name, *([before] if before is not None else []), limit]
    rows = conn.execute(
        f"SELECT id, automation_name, timestamp, body FROM {s}.ticks WHERE automation_name = %s {bound}"
        "ORDER BY timestamp DESC, seq DESC LIMIT %s",
        parameters,
    ).fetchall()
    result = []
    for tick_id, name, timestamp, body in rows:
        automation_type, status, run_ids, backfill_ids, skip_reason, error, cursor = body
        result.append(StoredTick(tick_id, name, automation_type, status, timestamp, run_ids, backfill_ids,
                                 skip_reason, error, cursor))
    return result


def prune_ticks(conn: psycopg.Connection, s: str, automation_name: str, keep: int) -> int:
    """Delete all but the newest ``keep`` ticks of ``automation_name``; how many were deleted."""
    cursor = conn.execute(
        f"DELETE FROM {s}.ticks WHERE automation_name = %s AND seq NOT IN (SELECT seq FROM {s}.ticks "
        "WHERE automation_name = %s ORDER BY timestamp DESC, seq DESC LIMIT %s)",
        (automation_name, automation_name, keep),
    )
    return cursor.rowcount


def set_cursor(conn: psycopg.Connection, s: str, automation_name: str, cursor: str | None) -> None:
    if cursor is None:
        conn.execute(f"DELETE FROM {s}.automation_cursors WHERE name = %s", (automation_name,))
    else:
        conn.execute(
            f"INSERT INTO {s}.automation_cursors (name, cursor) VALUES (%s, %s) "
            "ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor",
            (automation_name, cursor),
        )


def get_cursor(conn: psycopg.Connection, s: str, automation_name: str) -> str | None:
    row = conn.execute(f"SELECT cursor FROM {s}.automation_cursors WHERE name = %s", (automation_name,)).fetchone()
    return None if row is None else str(row[0])


# -- leases -------------------------------------------------------------------------------------


def acquire_lease(conn: psycopg.Connection, s: str, name: str, owner: str, duration_s: float) -> Lease | None:
    """Take the lease if free, expired or already ``owner``'s (renewal keeps ``acquired_at``): one statement."""
    row = conn.execute(
        f"WITH now AS (SELECT {SERVER_NOW_NS} AS ns) "
        f"INSERT INTO {s}.leases AS l (name, owner, acquired_at, expires_at) "
        "SELECT %s, %s, now.ns, now.ns + %s FROM now "
        "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, "
        "acquired_at = CASE WHEN l.owner = excluded.owner AND l.expires_at > excluded.acquired_at "
        "THEN l.acquired_at ELSE excluded.acquired_at END, expires_at = excluded.expires_at "
        "WHERE l.owner = excluded.owner OR l.expires_at <= excluded.acquired_at "
        "RETURNING name, owner, acquired_at, expires_at",
        (name, owner, int(duration_s * 1e9)),
    ).fetchone()
    return None if row is None else Lease(*row)


def release_lease(conn: psycopg.Connection, s: str, name: str, owner: str) -> bool:
    cursor = conn.execute(
        f"DELETE FROM {s}.leases WHERE name = %s AND owner = %s AND expires_at > {SERVER_NOW_NS}", (name, owner)
    )
    return cursor.rowcount > 0


def get_lease(conn: psycopg.Connection, s: str, name: str) -> Lease | None:
    row = conn.execute(
        f"SELECT name, owner, acquired_at, expires_at FROM {s}.leases WHERE name = %s AND expires_at > {SERVER_NOW_NS}",
        (name,),
    ).fetchone()
    return None if row is None else Lease(*row)
