"""What a backfill reports: :class:`BackfillResult` (returned) and :class:`BackfillStatus` (looked up)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from rivers.partitions.keys import PartitionKey
    from rivers.storage.records import LaunchedBy

__all__ = ["BackfillResult", "BackfillStatus", "BACKFILL_STATUSES", "PARTITION_STATUSES"]

#: Status of a backfill, spelled one way everywhere (enum names of the published package).
BACKFILL_STATUSES: Final = ("Requested", "InProgress", "CompletedSuccess", "CompletedFailed", "Canceled")

#: Status of one partition of a backfill.
PARTITION_STATUSES: Final = ("pending", "completed", "failed", "canceled")


@attrs.frozen(repr=False)
class BackfillResult:
    """The outcome of ``CodeRepository.backfill()`` / ``rerun_backfill()``.

    Counts are per *partition*: a failed run fails all its keys, and a key
    marked with ``context.mark_partition_failed`` fails alone.
    ``partition_statuses`` maps every key to ``"completed"``, ``"failed"``,
    ``"canceled"`` or ``"pending"`` (a non-blocking or dry-run backfill).
    ``skipped_partitions`` lists the keys ``rerun_backfill`` left out because
    they are no longer valid (removed from a definition, retired dynamic keys).
    """

    backfill_id: str
    num_partitions: int
    num_runs: int
    status: str
    completed: int = 0
    failed: int = 0
    canceled: int = 0
    run_ids: list[str] = attrs.Factory(list)
    is_dry_run: bool = False
    partition_keys: list[PartitionKey] = attrs.Factory(list)
    partition_statuses: dict[PartitionKey, str] = attrs.Factory(dict)
    skipped_partitions: list[str] = attrs.Factory(list)

    @property
    def success(self) -> bool:
        """Whether every partition completed."""
        return self.status == "CompletedSuccess"

    def __repr__(self) -> str:
        if self.is_dry_run:
            return f"BackfillResult(dry_run, partitions={self.num_partitions}, runs={self.num_runs})"
        return (
            f"BackfillResult(id={self.backfill_id!r}, status={self.status!r}, completed={self.completed}, "
            f"failed={self.failed}, canceled={self.canceled})"
        )


@attrs.frozen(repr=False)
class BackfillStatus:
    """A stored backfill, as ``CodeRepository.get_backfill()`` (or any process reading the storage) sees it."""

    backfill_id: str
    status: str
    total_partitions: int
    completed_partitions: int
    failed_partitions: int
    canceled_partitions: int
    run_ids: list[str]
    error: str | None
    tags: list[tuple[str, str]]
    launched_by: LaunchedBy
    partition_statuses: dict[PartitionKey, str] = attrs.Factory(dict)
    selection: list[str] | None = None
    strategy: str = "multi_run"

    @property
    def remaining_partitions(self) -> int:
        """Partitions neither completed, failed nor canceled yet."""
        return self.total_partitions - self.completed_partitions - self.failed_partitions - self.canceled_partitions

    def __repr__(self) -> str:
        return (
            f"BackfillStatus(id={self.backfill_id!r}, status={self.status!r}, "
            f"completed={self.completed_partitions}/{self.total_partitions}, failed={self.failed_partitions})"
        )
