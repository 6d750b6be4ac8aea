"""Partition progress in the embedded SQLite store: queued changes applied inside the flush's transaction.

The engine's :class:`~rivers.storage.partition_progress.ProgressChange`
values wait in the write-behind queue with the run's events; the flush that
writes those events calls :func:`apply_progress` in the same ``BEGIN
IMMEDIATE`` transaction. Per asset the queued changes are folded into the
stored ranges (one indexed read of the assets touched), and a row is written
only when its ranges changed: a short step's ``in_progress`` and its end in
the same flush are one change (:func:`~rivers.storage.partition_progress.cancel_pairs`),
and clearing partitions of an asset without a stored row costs no write (nor
any work beyond the read). The in-progress holds of runs (the
:data:`~rivers.storage.partition_progress.PROGRESS_KEY` kv entry) are read
and written only for runs whose stored holds change.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Final

from rivers.storage._sqlite_control import put_partition_status
from rivers.storage.partition_progress import (
    PROGRESS_KEY,
    HoldsLedger,
    ProgressChange,
    apply_changes,
    by_asset,
    cancel_pairs,
    decode_holds,
    encode_holds,
)
from rivers.storage.partition_status import PartitionStatusRanges

__all__ = ["apply_progress"]

_SELECT_HOLDS: Final = "SELECT value FROM kv WHERE key = ?"
_PUT_HOLDS: Final = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
_DELETE_STATUS: Final = "DELETE FROM partition_status WHERE asset_key = ?"


def apply_progress(conn: sqlite3.Connection, changes: Sequence[ProgressChange], ledger: HoldsLedger) -> list[str]:
    """Apply ``changes`` (oldest first) inside the open transaction; the run ids to pass to ``ledger.stored``."""
    status_changes, hold_changes = cancel_pairs(changes)
    grouped = by_asset(status_changes)
    keys = list(grouped)
    stored: dict[str, str] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start:start + 500]
        sql = f"SELECT asset_key, ranges FROM partition_status WHERE asset_key IN ({', '.join('?' * len(chunk))})"
        stored.update(conn.execute(sql, chunk).fetchall())
    for asset_key, group in grouped.items():
        before = stored.get(asset_key)
        if (before is None or before == "[]") and all(change.status is None for change in group):
            continue  # clearing partitions that have no status: nothing to write
        ranges = apply_changes(PartitionStatusRanges.from_json(before), group)
        after = ranges.to_json()
        if after == "[]":
            if before is not None:
                conn.execute(_DELETE_STATUS, (asset_key,))  # no status left: no row (the next clears cost nothing)
        elif after != before:
            put_partition_status(conn, asset_key, ranges)
    changed_runs = ledger.stage(hold_changes) if hold_changes else []
    if changed_runs:
        row = conn.execute(_SELECT_HOLDS, (PROGRESS_KEY,)).fetchone()
        holds = ledger.merge_into(decode_holds(None if row is None else bytes(row[0])), changed_runs)
        conn.execute(_PUT_HOLDS, (PROGRESS_KEY, encode_holds(holds)))
    return changed_runs
