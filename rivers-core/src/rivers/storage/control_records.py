"""Records of the storage's control plane: backfills, automation ticks and leases.

Like the records of :mod:`rivers.storage.records` they are immutable
:class:`~rivers._record.Record` values; timestamps are integer nanoseconds
since the epoch.
"""

from __future__ import annotations

from rivers._record import Record, factory

__all__ = ["Lease", "StoredBackfill", "StoredTick"]


class StoredBackfill(Record):
    """A backfill as a first-class storage record.

    ``status`` is the backfill's status (``"requested"``, ``"running"``,
    ``"completed"``, ``"failed"``, ``"canceled"``, ...); ``data`` is the rest
    of the backfill's state as JSON text, owned by the backfill runner (the
    storage stores it verbatim). ``cancel_requested`` is set by
    ``_request_backfill_cancel`` and never cleared by ``_put_backfill``, so a
    process that saves its progress cannot lose another process's cancel.
    """

    backfill_id: str
    status: str
    created: int
    updated: int
    data: str = "{}"
    cancel_requested: bool = False


class StoredTick(Record):
    """One evaluation of a schedule, sensor or automation condition (the daemon's history).

    ``status`` is e.g. ``"started"``, ``"success"``, ``"skipped"`` or
    ``"failure"``; ``cursor`` is the automation's cursor after the tick.
    """

    id: str
    automation_name: str
    automation_type: str
    status: str
    timestamp: int
    run_ids: list[str] = factory(list)
    backfill_ids: list[str] = factory(list)
    skip_reason: str | None = None
    error: str | None = None
    cursor: str | None = None


class Lease(Record):
    """A named lease held by ``owner`` until ``expires_at`` (leader election, singleton daemons).

    Expiry is measured with the backend's clock (``time.time_ns()`` for the
    built-in backends; a server backend should use its server's clock so that
    contenders on several machines agree).
    """

    name: str
    owner: str
    acquired_at: int
    expires_at: int
