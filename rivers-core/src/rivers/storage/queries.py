"""Values of the storage read API for tools (CLI, daemon, UI): run queries, pages, the asset catalogue.

Every query is answered in time proportional to its result, not to the
store's history: runs are paged by an opaque cursor (newest first), events
are read after a global, monotonically increasing integer cursor.
"""

from __future__ import annotations

from typing import NamedTuple

from rivers._record import Record, factory
from rivers.exceptions import StorageError
from rivers.storage.records import AssetRecord, RunRecord, StaleCause, StoredEvent

__all__ = ["AssetCatalogueEntry", "CatalogueRow", "EventPage", "RunPage", "RunQuery", "decode_run_cursor"]


class RunQuery(Record):
    """Which runs to list: every given filter must match (``None``: no filter).

    * ``statuses``: run statuses (any of them);
    * ``job_name``: the job's name (``materialize()`` runs have none);
    * ``tags``: ``(key, value)`` pairs the run must all carry;
    * ``launched_by``: a launcher kind (``"manual"``, ``"schedule"``,
      ``"sensor"``, ``"backfill"``, ``"condition"``), optionally narrowed by
      ``launched_by_ref`` (the schedule or sensor name, or the backfill id);
    * ``started_after`` / ``started_before``: bounds on ``start_time`` in ns
      (inclusive / exclusive);
    * ``cursor``: the ``next_cursor`` of the previous page; ``limit``: page size.

    Runs come newest first (start time, then creation order).
    """

    statuses: tuple[str, ...] | None = None
    job_name: str | None = None
    tags: tuple[tuple[str, str], ...] = ()
    launched_by: str | None = None
    launched_by_ref: str | None = None
    started_after: int | None = None
    started_before: int | None = None
    cursor: str | None = None
    limit: int = 50


class RunPage(Record):
    """One page of runs; ``next_cursor`` is ``None`` on the last page."""

    runs: list[RunRecord] = factory(list)
    next_cursor: str | None = None


class EventPage(Record):
    """Events stored after a cursor, oldest first; ``cursor`` is where the next call starts.

    ``cursor`` is an integer that only grows: pass it back to
    ``get_events_after`` to receive the events stored since (what a UI or a
    ``rivers runs --follow`` polls).
    """

    events: list[StoredEvent] = factory(list)
    cursor: int = 0


class CatalogueRow(NamedTuple):
    """What a backend returns per asset for the catalogue: its record, latest materialization, partition count.

    A named tuple (like :class:`~rivers.StoredEvent`): a catalogue builds one per asset.
    """

    record: AssetRecord
    last_materialization: StoredEvent | None = None
    materialized_partitions: int = 0


class AssetCatalogueEntry(NamedTuple):
    """One asset of the catalogue: record, latest materialization, partition-status counts and staleness.

    ``partition_counts`` maps ``"materialized"``, ``"failed"`` and
    ``"in_progress"`` to how many partitions are in that state;
    ``staleness`` is ``"UpToDate"``, ``"Stale"`` or ``"Missing"`` with its
    causes (as ``compute_staleness()``). An immutable named tuple.
    """

    asset_key: str
    record: AssetRecord
    last_materialization: StoredEvent | None
    partition_counts: dict[str, int]
    staleness: str
    stale_causes: list[StaleCause]

def decode_run_cursor(cursor: str) -> tuple[int, int]:
    """``(start_time, sequence)`` of a run page cursor of the built-in backends (``"<start>:<seq>"``).

    :raises StorageError: for text that is not such a cursor.
    """
    try:
        start, sequence = cursor.split(":")
        return int(start), int(sequence)
    except ValueError:
        raise StorageError(f"invalid run cursor {cursor!r}: pass the next_cursor of a previous page") from None
