"""Appending to the event log: one ``COPY`` per batch, derived tables computed by the server.

:func:`insert_events` runs inside the caller's transaction:

1. take the schema's event lock (a transaction-level advisory lock, held
   until commit), so sequence numbers are drawn, and become visible, in
   commit order: a reader's "events after cursor" never misses an event
   committed later with a smaller number;
2. ``COPY`` the batch into ``events`` (psycopg formats the rows in C: about
   ten times faster than binding arrays); under the lock the batch got the
   consecutive numbers ``last - n + 1 .. last``;
3. update, from those rows and by SQL alone, the latest materialisation of
   each (asset, partition) (first-materialised order kept), each asset
   record's ``last_*`` fields (materialisation fields from its last
   materialisation, the others from its last materialisation or
   observation) and its count of materialised partitions;
4. ``NOTIFY`` the schema's channel with the newest cursor (delivered at
   commit), which wakes readers waiting in ``wait_for_events``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import psycopg

from rivers.storage.records import StoredEvent, StoredLog
from rivers_storage_postgres.rows import EVENT_COLUMNS, LOG_COLUMNS, event_to_row

__all__ = ["EVENTS_LOCK", "insert_events", "insert_logs"]

#: Second int of the events advisory lock (the first is the storage's lock class); hashed with the schema.
EVENTS_LOCK: Final = 2

# Every statement below reads the batch's rows once (seq between %(first)s and %(last)s, by the primary key)
# and uses no join: with the estimates of a young table, joins of CTEs would be planned as nested loops.
_BATCH: Final = (
    "FROM {s}.events WHERE seq BETWEEN %(first)s AND %(last)s AND asset_key IS NOT NULL "
    "AND event_type IN ('Materialization', 'Observation')"
)

# The last materialisation of each (asset, partition), inserted in first-materialised order; returns the
# assets with partitions materialised for the first time, and how many.
_UPSERT_LATEST: Final = (
    "WITH upserted AS (INSERT INTO {s}.latest_materializations AS l "
    "(asset_key, partition, updated_seq, id, run_id, timestamp, data_version, code_version, body) "
    "SELECT asset_key, p, seq, id, run_id, timestamp, data_version, code_version, body FROM ("
    "SELECT DISTINCT ON (asset_key, COALESCE(partition, '')) asset_key, COALESCE(partition, '') AS p, seq, id, "
    "run_id, timestamp, data_version, code_version, body, "
    "min(seq) OVER (PARTITION BY asset_key, COALESCE(partition, '')) AS first_seq "
    f"{_BATCH} AND event_type = 'Materialization' ORDER BY asset_key, COALESCE(partition, ''), seq DESC) AS last "
    "ORDER BY first_seq "
    "ON CONFLICT (asset_key, partition) DO UPDATE SET updated_seq = excluded.updated_seq, id = excluded.id, "
    "run_id = excluded.run_id, timestamp = excluded.timestamp, data_version = excluded.data_version, "
    "code_version = excluded.code_version, body = excluded.body "
    "RETURNING l.asset_key, l.partition, xmax = 0 AS created) "  # xmax = 0: inserted, not updated
    "SELECT asset_key, count(*) FROM upserted WHERE created AND partition <> '' GROUP BY asset_key"
)


def _last(column: str, where: str = "") -> str:
    """The ``column`` of the asset's last event of the batch (``where``: among those matching)."""
    condition = f" FILTER (WHERE {where})" if where else ""
    return f"(array_agg({column} ORDER BY seq DESC){condition})[1]"


_MATERIALIZED = "event_type = 'Materialization'"

# Assets materialised in the batch: every last_* field (the materialisation ones from the last materialisation).
_UPSERT_MATERIALIZED_ASSETS: Final = (
    "INSERT INTO {s}.asset_records AS a (asset_key, last_event_id, last_run_id, last_timestamp, last_data_version, "
    "last_materialization_code_version, last_input_data_versions) "
    f"SELECT asset_key, {_last('id')}, {_last('run_id')}, {_last('timestamp')}, {_last('data_version')}, "
    f"{_last('code_version', _MATERIALIZED)}, "
    f"COALESCE((NULLIF({_last('body', _MATERIALIZED)}, '')::jsonb) -> 1, '[]') "
    f"{_BATCH} GROUP BY asset_key HAVING bool_or({_MATERIALIZED}) ORDER BY min(seq) "
    "ON CONFLICT (asset_key) DO UPDATE SET last_event_id = excluded.last_event_id, "
    "last_run_id = excluded.last_run_id, last_timestamp = excluded.last_timestamp, "
    "last_data_version = excluded.last_data_version, "
    "last_materialization_code_version = excluded.last_materialization_code_version, "
    "last_input_data_versions = excluded.last_input_data_versions"
)

# Assets only observed in the batch: the fields an observation sets.
_UPSERT_OBSERVED_ASSETS: Final = (
    "INSERT INTO {s}.asset_records AS a (asset_key, last_event_id, last_run_id, last_timestamp, last_data_version) "
    f"SELECT asset_key, {_last('id')}, {_last('run_id')}, {_last('timestamp')}, {_last('data_version')} "
    f"{_BATCH} GROUP BY asset_key HAVING NOT bool_or({_MATERIALIZED}) ORDER BY min(seq) "
    "ON CONFLICT (asset_key) DO UPDATE SET last_event_id = excluded.last_event_id, "
    "last_run_id = excluded.last_run_id, last_timestamp = excluded.last_timestamp, "
    "last_data_version = excluded.last_data_version"
)

_COUNT_PARTITIONS: Final = (
    "UPDATE {s}.asset_records AS a SET materialized_partitions = a.materialized_partitions + u.n "
    "FROM unnest(%s::text[], %s::int[]) AS u(asset_key, n) WHERE a.asset_key = u.asset_key"
)


def insert_events(conn: psycopg.Connection, s: str, lock_class: int, channel: str,
                  events: Sequence[StoredEvent]) -> None:
    """Append ``events`` and update the derived tables and readers (see the module docstring)."""
    conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (lock_class + EVENTS_LOCK, s))
    materialized = observed = False
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {s}.events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for event in events:
                copy.write_row(event_to_row(event))
                if event.asset_key is not None:
                    if event.event_type == "Materialization":
                        materialized = True
                    elif event.event_type == "Observation":
                        observed = True
    row = conn.execute(f"SELECT currval(pg_get_serial_sequence('{s}.events', 'seq'))").fetchone()
    last = int(row[0]) if row else 0
    bounds = {"first": last - len(events) + 1, "last": last}
    if materialized:
        new_partitions = conn.execute(_UPSERT_LATEST.format(s=s), bounds).fetchall()
        conn.execute(_UPSERT_MATERIALIZED_ASSETS.format(s=s), bounds)
        if new_partitions:
            conn.execute(_COUNT_PARTITIONS.format(s=s), ([key for key, _ in new_partitions],
                                                         [count for _, count in new_partitions]))
    if observed:
        conn.execute(_UPSERT_OBSERVED_ASSETS.format(s=s), bounds)
    conn.execute("SELECT pg_notify(%s, %s)", (channel, str(last)))


def insert_logs(conn: psycopg.Connection, s: str, logs: Sequence[StoredLog]) -> None:
    """Append captured step logs with one ``COPY``."""
    with conn.cursor() as cursor:
        with cursor.copy(f"COPY {s}.logs ({LOG_COLUMNS}) FROM STDIN") as copy:
            for log in logs:
                copy.write_row(tuple(log))
