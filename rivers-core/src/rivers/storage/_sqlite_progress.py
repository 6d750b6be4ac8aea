"""Partition progress in the embedded SQLite store: queued changes applied inside the flush's transaction.

The engine's :class:`~rivers.storage.partition_progress.ProgressChange`
values wait in the write-behind queue with the run's events; the flush that
writes those events calls :func:`apply_progress` in the same ``BEGIN
IMMEDIATE`` transaction. Per asset the queued changes are folded into the
stored ranges (one indexed read of the assets touched), and a row is written
only when its ranges changed. Before that, ``SqliteStorage._apply_progress``
makes a short step's ``in_progress`` and its end in the same flush one
change (:func:`~rivers.storage.partition_progress.cancel_pairs`) and, when
only clears of assets without a stored status remain (short successful
runs), stops after one read: this module is not even imported then. The in-progress holds of runs (the
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
    decode_holds,
    encode_holds,
)
from rivers.storage.partition_status import PartitionStatusRanges

__all__ = ["apply_progress"]

_SELECT_HOLDS: Final = "SELECT value FROM kv WHERE key = ?"
_PUT_HOLDS: Final = "INSERT OR REPLACE INTO kv (key, value) VALUES (?, ?)"
_DELETE_STATUS: Final = "DELETE FROM partition_status WHERE asset_key = ?"


def apply_progress(
    conn: sqlite3.Connection, status_changes: Sequence[ProgressChange], hold_changes: Sequence[ProgressChange],
    ledger: HoldsLedger,
) -> list[str]:
    """Apply the changes of one write (``cancel_pairs``' two lists) in the open transaction.

    Returns the run ids to pass to ``ledger.stored`` once committed.
    """
    grouped = by_asset(status_changes)
    stored = _stored_ranges(conn, list(grouped))
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


def _stored_ranges(conn: sqlite3.Connection, asset_keys: list[str]) -> dict[str, str]:
    stored: dict[str, str] = {}
    for start in range(0, len(asset_keys), 500):
        chunk = asset_keys[start:start + 500]
        sql = f"SELECT asset_key, ranges FROM partition_status WHERE asset_key IN ({', '.join('?' * len(chunk))})"
        stored.update(conn.execute(sql, chunk).fetchall())
    return stored
