"""A backfill's state in storage, so that another process can follow or cancel it.

The record is a first-class storage record (capability ``backfills`` of the
storage contract): a :class:`~rivers.storage.control_records.StoredBackfill`
whose ``data`` is this module's JSON. A cancel request is a separate flag of
the stored record that saving progress never clears, so a canceling process
never loses to the running backfill's next save.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import attrs

from rivers.backfills.results import BackfillStatus

if TYPE_CHECKING:
    from rivers.storage import Storage

__all__ = ["BackfillRecord", "save_backfill", "load_backfill", "backfill_ids", "request_cancel",
           "cancel_requested", "claim_backfill", "TERMINAL_STATUSES"]

_PREFIX = "rivers/backfills/"
_INDEX = "rivers/backfills"
#: kv key prefix of the claims on ``Requested`` backfills (one key per backfill: who executes it)
_CLAIMS = "rivers/backfills/claims/"

#: Statuses after which a backfill changes no more.
TERMINAL_STATUSES = frozenset({"CompletedSuccess", "CompletedFailed", "Canceled"})


@attrs.define
class BackfillRecord:
    """Everything needed to report, cancel or re-run a backfill.

    ``partition_keys`` are stored texts (display strings, see
    :meth:`rivers.PartitionKey.stored_text`) and
    ``statuses`` the matching partition statuses, in the same order.
    """

    backfill_id: str
    status: str
    selection: list[str] | None
    strategy: dict[str, Any]
    failure_policy: str
    max_concurrency: int
    tags: list[tuple[str, str]]
    partition_keys: list[str]
    statuses: list[str]
    launched_by: tuple[str, str | None] = ("manual", None)
    run_ids: list[str] = attrs.Factory(list)
    error: str | None = None
    created: int = attrs.Factory(time.time_ns)
    updated: int = attrs.Factory(time.time_ns)
    #: ``[host, pid, process start ns]`` of the process running it (while InProgress)
    owner: list[str | int | None] | None = None

    def tag_pairs(self) -> list[tuple[str, str]]:
        """A copy of the tags as ``(key, value)`` tuples (a stored record's JSON holds them as lists)."""
        return [(key, value) for key, value in self.tags]

    def count(self, status: str) -> int:
        """How many partitions have ``status``."""
        return self.statuses.count(status)

    def to_status(self) -> BackfillStatus:
        """The user-facing view of this record."""
        from rivers.partitions.keys import from_stored_text
        from rivers.storage.records import LaunchedBy

        return BackfillStatus(
            backfill_id=self.backfill_id,
            status=self.status,
            total_partitions=len(self.partition_keys),
            completed_partitions=self.count("completed"),
            failed_partitions=self.count("failed"),
            canceled_partitions=self.count("canceled"),
            run_ids=list(self.run_ids),
            error=self.error,
            tags=self.tag_pairs(),
            launched_by=LaunchedBy.from_stored(*self.launched_by),
            partition_statuses={from_stored_text(k): s for k, s in zip(self.partition_keys, self.statuses)},
            selection=None if self.selection is None else list(self.selection),
            strategy=self.strategy.get("kind", "multi_run"),
        )


def save_backfill(storage: Storage, record: BackfillRecord, *, new: bool = False) -> None:
    """Write ``record`` (``new``: a backfill being created; it is listed from now on)."""
    from rivers.storage.contract import Capability, require_capability
    from rivers.storage.control_records import StoredBackfill

    if new:
        require_capability(storage, Capability.BACKFILLS, "repo.backfill()")
    record.updated = time.time_ns()
    data = json.dumps(attrs.asdict(record))
    storage.put_backfill(StoredBackfill(record.backfill_id, record.status, record.created, record.updated, data))


def load_backfill(storage: Storage, backfill_id: str) -> BackfillRecord | None:
    """The stored record of ``backfill_id``, or ``None``."""
    stored = storage.get_stored_backfill(backfill_id)
    if stored is None:
        return None
    fields = json.loads(stored.data)
    fields["tags"] = [tuple(tag) for tag in fields["tags"]]
    fields["launched_by"] = tuple(fields["launched_by"])
    record = BackfillRecord(**fields)
    if record.status == "InProgress" and record.owner and not _owner_alive(record):
        record = _mark_died(storage, record)
    return record


def _owner_alive(record: BackfillRecord) -> bool:
    """Whether the process running ``record`` is still there (its progress saves serve as heartbeat)."""
    from rivers.storage.monitor import RunMonitor, owner_alive

    host, pid, started = record.owner  # type: ignore[misc]
    monitor = RunMonitor(record.backfill_id, host=host, pid=pid, process_start=started, heartbeat=record.updated)
    return owner_alive(record.created, monitor, time.time_ns())


def _mark_died(storage: Storage, record: BackfillRecord) -> BackfillRecord:
    """A backfill whose process died: canceled (partitions not done too), saved, and returned.

    Its last progress save may lag behind: the partitions of its runs take
    the runs' own outcomes (a run that was going reads as "process died").
    """
    host, pid, _ = record.owner  # type: ignore[misc]
    position = {text: index for index, text in enumerate(record.partition_keys)}
    outcome = {"Success": "completed", "Failure": "failed"}
    for run in storage.get_runs(limit=10 * len(position) + 100):
        launched = run.launched_by
        if launched.kind != "backfill" or launched.backfill_id != record.backfill_id or run.partition_key is None:
            continue
        index = position.get(run.partition_key.stored_text())
        if index is not None and record.statuses[index] == "pending" and run.status in outcome:
            record.statuses[index] = outcome[run.status]
            if run.run_id not in record.run_ids:
                record.run_ids.append(run.run_id)
    record.statuses = ["canceled" if status == "pending" else status for status in record.statuses]
    record.status = "Canceled"
    record.error = record.error or f"backfill process died (pid {pid} on {host}); rerun_backfill runs the rest"
    record.owner = None
    save_backfill(storage, record)
    return record


def claim_backfill(storage: Storage, backfill_id: str) -> BackfillRecord | None:
    """Take the ``Requested`` backfill ``backfill_id`` for this process: its record, now ``InProgress``, or ``None``.

    The claim is one atomic :meth:`~rivers.Storage.kv_update` of the key
    ``rivers/backfills/claims/<id>`` (atomic across processes, as the storage
    contract requires), so of several contenders (daemons, ``BackfillHandle.start()``
    in several processes or threads) exactly one gets the record; the others
    get ``None``, as does anyone once the backfill is no longer ``Requested``
    or a cancel was requested. A claim whose process died before it marked
    the backfill ``InProgress`` is taken over. The claimed record is saved
    ``InProgress`` with this process as its owner before it is returned.
    """
    from rivers._ids import random_uuid4
    from rivers.storage.monitor import current_owner

    record = load_backfill(storage, backfill_id)
    if record is None or record.status != "Requested" or cancel_requested(storage, backfill_id):
        return None
    owner = list(current_owner())
    mine = json.dumps({"owner": owner, "at": time.time_ns(), "token": random_uuid4()}).encode()
    won = False

    def take(held: bytes | None) -> bytes:
        nonlocal won
        won = held is None or not _claim_alive(held)
        return mine if won else held  # type: ignore[return-value]

    storage.kv_update(_CLAIMS + backfill_id, take)
    if not won:
        return None
    record = load_backfill(storage, backfill_id)  # canceled meanwhile?
    if record is None or record.status != "Requested" or cancel_requested(storage, backfill_id):
        return None
    record.status = "InProgress"
    record.owner = owner
    save_backfill(storage, record)
    return record


def _claim_alive(held: bytes) -> bool:
    """Whether the process that stored the claim ``held`` still runs (a claim carries no heartbeat but its time)."""
    from rivers.storage.monitor import RunMonitor, owner_alive

    claim = json.loads(held)
    host, pid, started = claim["owner"]
    monitor = RunMonitor("", host=host, pid=pid, process_start=started, heartbeat=claim["at"])
    return owner_alive(claim["at"], monitor, time.time_ns())


def backfill_ids(storage: Storage) -> list[str]:
    """Ids of every stored backfill, oldest first."""
    return [stored.backfill_id for stored in storage.get_stored_backfills(None, None)]


def backfills_with_status(storage: Storage, status: str) -> list[BackfillRecord]:
    """The stored backfills whose status is ``status`` (e.g. ``"Requested"``), oldest first."""
    records = (load_backfill(storage, stored.backfill_id) for stored in storage.get_stored_backfills(status, None))
    return [record for record in records if record is not None]


def request_cancel(storage: Storage, backfill_id: str) -> None:
    """Ask the process running ``backfill_id`` to stop launching runs."""
    storage.request_backfill_cancel(backfill_id)


def cancel_requested(storage: Storage, backfill_id: str) -> bool:
    """Whether a cancel of ``backfill_id`` was requested (by any process)."""
    stored = storage.get_stored_backfill(backfill_id)
    return stored is not None and stored.cancel_requested
