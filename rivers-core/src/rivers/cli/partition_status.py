"""Which partitions of an asset are materialised, failed or missing, from the runs and events in storage.

*Materialised*: at least one materialisation of that key. *Failed*: not
materialised, and the latest run of that key that planned the asset
failed. *Missing*: the other keys of the definition.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers.storage import RunRecord, Storage

__all__ = ["PartitionStatus", "RUN_SCAN", "partition_status", "recent_runs"]

#: How many recent runs are read to find failed partitions.
RUN_SCAN = 5000


@dataclass
class PartitionStatus:
    """The keys of one asset's definition by status (stored texts, in definition order)."""

    total: int = 0
    materialized: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """``{"total": .., "materialized": .., "failed": .., "missing": ..}``."""
        return {"total": self.total, "materialized": len(self.materialized), "failed": len(self.failed),
                "missing": len(self.missing)}


def recent_runs(storage: Storage) -> list[RunRecord]:
    """The recent runs, newest first (read once per command)."""
    return storage.get_runs(limit=RUN_SCAN)


def partition_status(storage: Storage, asset: str, keys: Iterable[Any], runs: Sequence[RunRecord]) -> PartitionStatus:
    """The status of each of ``keys`` (``PartitionKey`` objects) for ``asset``."""
    done = {key.stored_text() for key in storage.get_materialized_partitions(asset)}
    latest: dict[str, str] = {}
    for run in runs:  # newest first: the first run seen for a key is its latest
        key = run.partition_key
        if key is None or asset not in run.node_names or run.status in ("Started", "Queued", "NotStarted"):
            continue
        latest.setdefault(key.stored_text(), run.status)
    status = PartitionStatus()
    for key in keys:
        text = key.stored_text()
        status.total += 1
        if text in done:
            status.materialized.append(text)
        elif latest.get(text) == "Failure":
            status.failed.append(text)
        else:
            status.missing.append(text)
    return status
