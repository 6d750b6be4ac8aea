"""Backfills as the storage keeps them: finding one by id prefix, showing, cancelling and listing them.

Only the project storage is opened: no TARGET is imported and no resource
is set up, so these work from any shell (also while the backfill runs in
another process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rivers.cli.errors import CliError
from rivers.cli.formatting import format_timestamp
from rivers.cli.table import format_table

if TYPE_CHECKING:
    from rivers.backfills.state import BackfillRecord
    from rivers.cli.context import CommandContext
    from rivers.storage import Storage

__all__ = ["cancel", "find_backfill", "record_to_dict", "show", "stored_backfills"]


def _storage(context: CommandContext, backfill_id: str) -> Storage:
    if not context.project.storage_exists():
        raise CliError(f"backfill {backfill_id!r} not found: nothing recorded yet in {context.project.storage_url}")
    return context.project.storage()


def find_backfill(storage: Storage, backfill_id: str) -> BackfillRecord:
    """The backfill ``backfill_id``, or the only one whose id starts with it.

    :raises CliError: if none or several match.
    """
    from rivers.backfills.state import backfill_ids, load_backfill

    record = load_backfill(storage, backfill_id)
    if record is not None:
        return record
    matches = [known for known in backfill_ids(storage) if known.startswith(backfill_id)]
    if len(matches) == 1:
        found = load_backfill(storage, matches[0])
        if found is not None:
            return found
    if not matches:
        raise CliError(f"backfill {backfill_id!r} not found in this project's storage; `rivers backfills` lists them")
    raise CliError(f"backfill id prefix {backfill_id!r} is ambiguous: {', '.join(matches[:5])}"
                   f"{', ...' if len(matches) > 5 else ''}")


def stored_backfills(storage: Storage) -> list[BackfillRecord]:
    """Every stored backfill, newest first."""
    from rivers.backfills.state import backfill_ids, load_backfill

    records = (load_backfill(storage, backfill_id) for backfill_id in reversed(backfill_ids(storage)))
    return [record for record in records if record is not None]


def record_to_dict(record: BackfillRecord) -> dict[str, Any]:
    """A backfill as plain JSON data."""
    status = record.to_status()
    return {
        "backfill_id": record.backfill_id, "status": record.status, "created": record.created,
        "updated": record.updated, "selection": record.selection, "strategy": status.strategy,
        "failure_policy": record.failure_policy, "partitions": len(record.partition_keys),
        "completed": status.completed_partitions, "failed": status.failed_partitions,
        "canceled": status.canceled_partitions, "remaining": status.remaining_partitions,
        "run_ids": list(record.run_ids), "error": record.error,
        "partition_statuses": dict(zip(record.partition_keys, record.statuses)),
    }


def show(context: CommandContext, backfill_id: str, *, as_json: bool = False) -> int:
    """Print the stored state of a backfill (``--status`` / ``backfill-status``), as a table or JSON."""
    import json

    record = find_backfill(_storage(context, backfill_id), backfill_id)
    if as_json:
        context.console.print(json.dumps(record_to_dict(record), indent=2))
        return 0
    status = record.to_status()
    rows = [["Status", status.status], ["Partitions", str(status.total_partitions)],
            ["Completed", str(status.completed_partitions)], ["Failed", str(status.failed_partitions)],
            ["Canceled", str(status.canceled_partitions)], ["Remaining", str(status.remaining_partitions)],
            ["Runs", str(len(status.run_ids))], ["Created", format_timestamp(record.created)]]
    for line in format_table(["Backfill", record.backfill_id], rows, align="ll"):
        context.console.print(line)
    failed = [key for key, state in zip(record.partition_keys, record.statuses) if state == "failed"]
    if failed:
        context.console.print("Failed partitions: " + ", ".join(failed[:20]) + (" ..." if len(failed) > 20 else ""))
    if status.error:
        context.console.error(f"first error: {status.error}")
    return 0


def cancel(context: CommandContext, backfill_id: str) -> int:
    """Stop a backfill from launching more runs (``--cancel`` / ``backfill-cancel``)."""
    from rivers.backfills.service import cancel_backfill

    storage = _storage(context, backfill_id)
    record = find_backfill(storage, backfill_id)
    full_id = record.backfill_id
    if record.status not in ("Requested", "InProgress"):
        context.console.print(f"Backfill {full_id} already finished: {record.status}; nothing to cancel")
        return 0
    signalled = cancel_backfill(storage, full_id)
    context.console.print(f"Backfill {full_id}: cancel {'signalled' if signalled else 'requested'}")
    return 0
