"""Concurrency pools in the embedded SQLite store.

Every function runs inside one ``BEGIN IMMEDIATE`` transaction opened by
:class:`~rivers.storage.sqlite.SqliteStorage` (its write lock is taken
before anything is read), so a claim's check and insert are atomic across
all processes sharing the file: two processes can never both take a pool's
last slot.

The tables are created on first use (``CREATE TABLE IF NOT EXISTS``), so
files created before pools existed gain them without a schema migration.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from typing import Final

from rivers.storage.pools import (
    DEFAULT_LEASE_SECONDS,
    ConcurrencyClaimStatus,
    PoolInfo,
    PoolLimit,
    SlotHolder,
    blocked,
)

POOL_DDL: Final = (
    # rowid order = first-configured order
    """CREATE TABLE IF NOT EXISTS pool_limits (
        pool_key TEXT NOT NULL UNIQUE,
        slot_limit INTEGER NOT NULL,
        lease_seconds REAL NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS pool_claims (
        pool_key TEXT NOT NULL,
        run_id TEXT NOT NULL,
        step_key TEXT NOT NULL,
        slots INTEGER NOT NULL,
        claimed_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (pool_key, run_id, step_key)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS pool_claims_by_step ON pool_claims (run_id, step_key)",
    """CREATE TABLE IF NOT EXISTS pool_pending (
        pool_key TEXT NOT NULL,
        run_id TEXT NOT NULL,
        step_key TEXT NOT NULL,
        slots INTEGER NOT NULL,
        since INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (pool_key, run_id, step_key)) WITHOUT ROWID""",
)


def ensure_tables(conn: sqlite3.Connection) -> None:
    for statement in POOL_DDL:
        conn.execute(statement)


def _lease_number(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def _expire(conn: sqlite3.Connection, now: int) -> int:
    dropped = conn.execute("DELETE FROM pool_claims WHERE expires_at <= ?", (now,)).rowcount
    conn.execute("DELETE FROM pool_pending WHERE expires_at <= ?", (now,))
    return dropped


def set_limits(conn: sqlite3.Connection, limits: Sequence[tuple[str, int, float | None]], only_missing: bool) -> None:
    """Upsert limits; a ``None`` lease keeps the stored one (the default for a new pool)."""
    if only_missing:
        sql = "INSERT OR IGNORE INTO pool_limits (pool_key, slot_limit, lease_seconds) VALUES (?, ?, COALESCE(?, ?))"
    else:
        sql = (
            "INSERT INTO pool_limits (pool_key, slot_limit, lease_seconds) VALUES (?, ?, COALESCE(?3, ?4)) "
            "ON CONFLICT (pool_key) DO UPDATE SET slot_limit = excluded.slot_limit, "
            "lease_seconds = COALESCE(?3, lease_seconds)"
        )
    conn.executemany(sql, [(key, limit, None if lease is None else float(lease), DEFAULT_LEASE_SECONDS)
                           for key, limit, lease in limits])


def limits(conn: sqlite3.Connection) -> list[PoolLimit]:
    rows = conn.execute("SELECT pool_key, slot_limit, lease_seconds FROM pool_limits ORDER BY rowid").fetchall()
    return [PoolLimit(key, limit, _lease_number(lease)) for key, limit, lease in rows]


def infos(conn: sqlite3.Connection, pool_key: str | None) -> list[PoolInfo]:
    _expire(conn, time.time_ns())
    where, parameters = ("WHERE l.pool_key = ?", (pool_key,)) if pool_key is not None else ("", ())
    rows = conn.execute(
        "SELECT l.pool_key, l.slot_limit, l.lease_seconds, "
        "(SELECT COALESCE(SUM(c.slots), 0) FROM pool_claims AS c WHERE c.pool_key = l.pool_key), "
        "(SELECT COUNT(*) FROM pool_pending AS p WHERE p.pool_key = l.pool_key) "
        f"FROM pool_limits AS l {where} ORDER BY l.rowid",
        parameters,
    ).fetchall()
    return [
        PoolInfo(key, limit, _lease_number(lease), claimed, pending) for key, limit, lease, claimed, pending in rows
    ]


def holders(conn: sqlite3.Connection, pool_key: str) -> list[SlotHolder]:
    _expire(conn, time.time_ns())
    rows = conn.execute(
        "SELECT run_id, step_key, slots, claimed_at, expires_at FROM pool_claims WHERE pool_key = ? "
        "ORDER BY claimed_at, run_id, step_key",
        (pool_key,),
    ).fetchall()
    return [SlotHolder(*row) for row in rows]


def claim(
    conn: sqlite3.Connection, run_id: str, step_key: str, pools: Sequence[tuple[str, int]]
) -> ConcurrencyClaimStatus:
    now = time.time_ns()
    _expire(conn, now)
    keys = [key for key, _ in pools]
    marks = ", ".join("?" * len(keys))
    conn.executemany(
        "INSERT OR IGNORE INTO pool_limits (pool_key, slot_limit, lease_seconds) VALUES (?, -1, ?)",
        [(key, DEFAULT_LEASE_SECONDS) for key in keys],
    )
    configured = {
        key: (limit, lease)
        for key, limit, lease in conn.execute(
            f"SELECT pool_key, slot_limit, lease_seconds FROM pool_limits WHERE pool_key IN ({marks})", keys
        )
    }
    claimed = dict(
        conn.execute(
            f"SELECT pool_key, SUM(slots) FROM pool_claims WHERE pool_key IN ({marks}) "
            "AND NOT (run_id = ? AND step_key = ?) GROUP BY pool_key",
            [*keys, run_id, step_key],
        ).fetchall()
    )
    reason = blocked({key: value[0] for key, value in configured.items()}, claimed, list(pools))
    if reason is None:
        conn.executemany(
            "INSERT INTO pool_claims (pool_key, run_id, step_key, slots, claimed_at, expires_at) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (pool_key, run_id, step_key) DO UPDATE SET "
            "slots = excluded.slots, expires_at = excluded.expires_at",
            [(key, run_id, step_key, slots, now, now + int(configured[key][1] * 1e9)) for key, slots in pools],
        )
        conn.execute("DELETE FROM pool_pending WHERE run_id = ? AND step_key = ?", (run_id, step_key))
        return ConcurrencyClaimStatus("claimed")
    conn.executemany(
        "INSERT INTO pool_pending (pool_key, run_id, step_key, slots, since, expires_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (pool_key, run_id, step_key) DO UPDATE SET slots = excluded.slots, "
        "expires_at = excluded.expires_at",
        [(key, run_id, step_key, slots, now, now + int(configured[key][1] * 1e9)) for key, slots in pools],
    )
    first = reason.pools[0].pool_key
    ahead = conn.execute(
        "SELECT COUNT(*) FROM pool_pending WHERE pool_key = ? AND since < "
        "(SELECT since FROM pool_pending WHERE pool_key = ? AND run_id = ? AND step_key = ?)",
        (first, first, run_id, step_key),
    ).fetchone()[0]
    return ConcurrencyClaimStatus("pending", ahead + 1, reason)


def free_step(conn: sqlite3.Connection, run_id: str, step_key: str) -> None:
    conn.execute("DELETE FROM pool_claims WHERE run_id = ? AND step_key = ?", (run_id, step_key))
    conn.execute("DELETE FROM pool_pending WHERE run_id = ? AND step_key = ?", (run_id, step_key))


def free_run(conn: sqlite3.Connection, run_id: str) -> None:
    conn.execute("DELETE FROM pool_claims WHERE run_id = ?", (run_id,))
    conn.execute("DELETE FROM pool_pending WHERE run_id = ?", (run_id,))


def renew(conn: sqlite3.Connection, run_id: str, step_key: str) -> bool:
    now = time.time_ns()
    _expire(conn, now)
    updated = conn.execute(
        "UPDATE pool_claims SET expires_at = ? + CAST(1e9 * COALESCE((SELECT lease_seconds FROM pool_limits AS l "
        "WHERE l.pool_key = pool_claims.pool_key), ?) AS INTEGER) WHERE run_id = ? AND step_key = ?",
        (now, DEFAULT_LEASE_SECONDS, run_id, step_key),
    ).rowcount
    return updated > 0


def expire(conn: sqlite3.Connection) -> int:
    return _expire(conn, time.time_ns())
