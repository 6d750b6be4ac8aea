"""Concurrency pools on the server: claims are leases, and a claim locks its pools' rows.

Every function runs inside one transaction of
:class:`~rivers_storage_postgres.connections.Connector`. A claim first
locks the rows of the pools it claims in (``SELECT ... FOR UPDATE``, in key
order so two claims never deadlock), then counts and inserts: two processes
can never both take a pool's last slot, while claims in other pools go on
in parallel. Expired claims and pending entries are deleted on the way.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import psycopg

from rivers.storage.pools import (
    DEFAULT_LEASE_SECONDS,
    ConcurrencyClaimStatus,
    PoolInfo,
    PoolLimit,
    SlotHolder,
    blocked,
)

__all__ = ["claim", "expire", "free_run", "free_step", "holders", "infos", "limits", "renew", "set_limits"]


def _lease_number(seconds: float) -> int | float:
    return int(seconds) if float(seconds).is_integer() else seconds


def _expire(conn: psycopg.Connection, s: str, now: int) -> int:
    cursor = conn.execute(f"DELETE FROM {s}.pool_claims WHERE expires_at <= %s", (now,))
    dropped = cursor.rowcount
    conn.execute(f"DELETE FROM {s}.pool_pending WHERE expires_at <= %s", (now,))
    return dropped


def set_limits(conn: psycopg.Connection, s: str, rows: Sequence[tuple[str, int, float | None]],
               only_missing: bool) -> None:
    """Upsert limits in order; a ``None`` lease keeps the stored one (the default for a new pool)."""
    with_lease = [(key, limit, float(lease)) for key, limit, lease in rows if lease is not None]
    without_lease = [(key, limit, DEFAULT_LEASE_SECONDS) for key, limit, lease in rows if lease is None]
    for group, update in ((with_lease, "lease_seconds = excluded.lease_seconds, "), (without_lease, "")):
        if not group:
            continue
        conflict = "DO NOTHING" if only_missing else f"DO UPDATE SET {update}slot_limit = excluded.slot_limit"
        conn.execute(
            f"INSERT INTO {s}.pool_limits (pool_key, slot_limit, lease_seconds) "
            "SELECT k, l, lease FROM unnest(%s::text[], %s::int[], %s::float8[]) WITH ORDINALITY AS u(k, l, lease, n) "
            f"ORDER BY n ON CONFLICT (pool_key) {conflict}",
            ([row[0] for row in group], [row[1] for row in group], [row[2] for row in group]),
        )


def limits(conn: psycopg.Connection, s: str) -> list[PoolLimit]:
    rows = conn.execute(f"SELECT pool_key, slot_limit, lease_seconds FROM {s}.pool_limits ORDER BY seq").fetchall()
    return [PoolLimit(key, limit, _lease_number(lease)) for key, limit, lease in rows]


def infos(conn: psycopg.Connection, s: str, pool_key: str | None) -> list[PoolInfo]:
    _expire(conn, s, time.time_ns())
    where, parameters = ("WHERE l.pool_key = %s", (pool_key,)) if pool_key is not None else ("", ())
    rows = conn.execute(
        "SELECT l.pool_key, l.slot_limit, l.lease_seconds, "
        f"(SELECT COALESCE(SUM(c.slots), 0) FROM {s}.pool_claims AS c WHERE c.pool_key = l.pool_key), "
        f"(SELECT COUNT(*) FROM {s}.pool_pending AS p WHERE p.pool_key = l.pool_key) "
        f"FROM {s}.pool_limits AS l {where} ORDER BY l.seq",
        parameters,
    ).fetchall()
    return [PoolInfo(key, limit, _lease_number(lease), int(claimed), int(pending))
            for key, limit, lease, claimed, pending in rows]


def holders(conn: psycopg.Connection, s: str, pool_key: str) -> list[SlotHolder]:
    _expire(conn, s, time.time_ns())
    rows = conn.execute(
        f"SELECT run_id, step_key, slots, claimed_at, expires_at FROM {s}.pool_claims WHERE pool_key = %s "
        "ORDER BY claimed_at, run_id, step_key",
        (pool_key,),
    ).fetchall()
    return [SlotHolder(*row) for row in rows]


def claim(conn: psycopg.Connection, s: str, run_id: str, step_key: str,
          pools: Sequence[tuple[str, int]]) -> ConcurrencyClaimStatus:
    now = time.time_ns()
    keys = sorted({key for key, _ in pools})
    conn.execute(
        f"INSERT INTO {s}.pool_limits (pool_key, slot_limit, lease_seconds) "
        "SELECT k, -1, %s FROM unnest(%s::text[]) AS k ORDER BY k ON CONFLICT (pool_key) DO NOTHING",
        (DEFAULT_LEASE_SECONDS, keys),
    )
    configured = {
        key: (limit, lease)
        for key, limit, lease in conn.execute(
            f"SELECT pool_key, slot_limit, lease_seconds FROM {s}.pool_limits WHERE pool_key = ANY(%s) "
            "ORDER BY pool_key FOR UPDATE",
            (keys,),
        ).fetchall()
    }
    conn.execute(f"DELETE FROM {s}.pool_claims WHERE pool_key = ANY(%s) AND expires_at <= %s", (keys, now))
    conn.execute(f"DELETE FROM {s}.pool_pending WHERE pool_key = ANY(%s) AND expires_at <= %s", (keys, now))
    claimed = {
        key: int(total)
        for key, total in conn.execute(
            f"SELECT pool_key, SUM(slots) FROM {s}.pool_claims WHERE pool_key = ANY(%s) "
            "AND NOT (run_id = %s AND step_key = %s) GROUP BY pool_key",
            (keys, run_id, step_key),
        ).fetchall()
    }
    reason = blocked({key: value[0] for key, value in configured.items()}, claimed, list(pools))
    pool_keys = [key for key, _ in pools]
    slots = [count for _, count in pools]
    expiries = [now + int(configured[key][1] * 1e9) for key in pool_keys]
    if reason is None:
        conn.execute(
            f"INSERT INTO {s}.pool_claims (pool_key, run_id, step_key, slots, claimed_at, expires_at) "
            "SELECT k, %s, %s, n, %s, e FROM unnest(%s::text[], %s::int[], %s::int8[]) AS u(k, n, e) "
            "ON CONFLICT (pool_key, run_id, step_key) DO UPDATE SET slots = excluded.slots, "
            "expires_at = excluded.expires_at",
            (run_id, step_key, now, pool_keys, slots, expiries),
        )
        conn.execute(f"DELETE FROM {s}.pool_pending WHERE run_id = %s AND step_key = %s", (run_id, step_key))
        return ConcurrencyClaimStatus("claimed")
    conn.execute(
        f"INSERT INTO {s}.pool_pending (pool_key, run_id, step_key, slots, since, expires_at) "
        "SELECT k, %s, %s, n, %s, e FROM unnest(%s::text[], %s::int[], %s::int8[]) AS u(k, n, e) "
        "ON CONFLICT (pool_key, run_id, step_key) DO UPDATE SET slots = excluded.slots, "
        "expires_at = excluded.expires_at",
        (run_id, step_key, now, pool_keys, slots, expiries),
    )
    first = reason.pools[0].pool_key
    ahead = conn.execute(
        f"SELECT COUNT(*) FROM {s}.pool_pending WHERE pool_key = %s AND since < "
        f"(SELECT since FROM {s}.pool_pending WHERE pool_key = %s AND run_id = %s AND step_key = %s)",
        (first, first, run_id, step_key),
    ).fetchone()
    return ConcurrencyClaimStatus("pending", int(ahead[0]) + 1 if ahead else 1, reason)


def free_step(conn: psycopg.Connection, s: str, run_id: str, step_key: str) -> None:
    conn.execute(f"DELETE FROM {s}.pool_claims WHERE run_id = %s AND step_key = %s", (run_id, step_key))
    conn.execute(f"DELETE FROM {s}.pool_pending WHERE run_id = %s AND step_key = %s", (run_id, step_key))


def free_run(conn: psycopg.Connection, s: str, run_id: str) -> None:
    conn.execute(f"DELETE FROM {s}.pool_claims WHERE run_id = %s", (run_id,))
    conn.execute(f"DELETE FROM {s}.pool_pending WHERE run_id = %s", (run_id,))


def renew(conn: psycopg.Connection, s: str, run_id: str, step_key: str) -> bool:
    now = time.time_ns()
    _expire(conn, s, now)
    cursor = conn.execute(
        f"UPDATE {s}.pool_claims AS c SET expires_at = %s + CAST(1e9 * COALESCE((SELECT lease_seconds "
        f"FROM {s}.pool_limits AS l WHERE l.pool_key = c.pool_key), %s) AS bigint) "
        "WHERE run_id = %s AND step_key = %s",
        (now, DEFAULT_LEASE_SECONDS, run_id, step_key),
    )
    return cursor.rowcount > 0


def expire(conn: psycopg.Connection, s: str) -> int:
    return _expire(conn, s, time.time_ns())
