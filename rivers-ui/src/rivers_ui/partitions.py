"""An asset's partitions as status ranges: what the asset page and the backfill page draw.

The browser never gets one element per key: statuses are run-length encoded
into ``(start, stop, status)`` segments of key positions, and a bar of more
segments than :data:`MAX_BAR_SEGMENTS` is drawn in buckets (each coloured by
the most urgent status inside it).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rivers.partitions.keys import PartitionKey, from_stored_text
from rivers.storage.contract import Capability

if TYPE_CHECKING:
    from rivers.partitions.sequence import PartitionKeySequence
    from rivers.storage import Storage

__all__ = ["MAX_BAR_SEGMENTS", "PartitionSummary", "bar_segments", "summarise", "summarise_statuses"]

#: Status codes in the per-position array, and their names.
_NAMES = ("missing", "materialized", "failed", "in_progress")
_MISSING, _MATERIALIZED, _FAILED, _IN_PROGRESS = range(4)
#: Bucketed bars show the most urgent status of a bucket: failed, running, missing, then materialized.
_URGENCY = {"failed": 4, "in_progress": 3, "canceled": 2, "missing": 1, "pending": 1, "materialized": 0,
            "completed": 0}
#: More segments than this are drawn as buckets.
MAX_BAR_SEGMENTS = 600


@dataclass
class PartitionSummary:
    """The partitions of one asset: total, counts per status and the status segments (positions)."""

    total: int
    segments: list[tuple[int, int, str]]
    #: the display text of the key at a position
    label: Callable[[int], str]

    def counts(self) -> dict[str, int]:
        """How many keys have each status."""
        counts = dict.fromkeys(_NAMES, 0)
        for start, stop, status in self.segments:
            counts[status] = counts.get(status, 0) + stop - start
        return counts

    def status_at(self, position: int) -> str:
        """The status of the key at ``position`` (a binary search over the segments)."""
        low, high = 0, len(self.segments)
        while low < high:
            middle = (low + high) // 2
            start, stop, status = self.segments[middle]
            if position < start:
                high = middle
            elif position >= stop:
                low = middle + 1
            else:
                return status
        return "missing"


def summarise(storage: Storage, asset: str, keys: PartitionKeySequence) -> PartitionSummary:
    """The status segments of ``asset``: materialised keys from the materialisation index, failed and
    in-progress ones from the recorded partition status (backends with that capability)."""
    codes = bytearray(len(keys))
    for key in storage.get_materialized_partitions(asset):
        position = keys.position(key if isinstance(key, PartitionKey) else from_stored_text(str(key)))
        if position is not None:
            codes[position] = _MATERIALIZED
    if Capability.PARTITION_STATUS in type(storage).capabilities:
        for start, stop, status in storage.get_partition_status(asset).segments():
            stop = min(stop, len(codes))
            if status == "in_progress":
                codes[start:stop] = bytes([_IN_PROGRESS]) * max(0, stop - start)
            elif status == "failed":
                for position in range(start, stop):
                    if codes[position] == _MISSING:
                        codes[position] = _FAILED
    return PartitionSummary(len(keys), _run_lengths(codes), keys.display)


def summarise_statuses(labels: Sequence[str], statuses: Sequence[str]) -> PartitionSummary:
    """Segments of per-key statuses given in key order (a backfill's partition statuses)."""
    segments = []
    position = 0
    for status, group in itertools.groupby(statuses):
        length = sum(1 for _ in group)
        segments.append((position, position + length, status))
        position += length
    return PartitionSummary(len(labels), segments, labels.__getitem__)


def _run_lengths(codes: bytearray) -> list[tuple[int, int, str]]:
    segments = []
    position = 0
    for code, group in itertools.groupby(codes):
        length = sum(1 for _ in group)
        segments.append((position, position + length, _NAMES[code]))
        position += length
    return segments


def bar_segments(segments: Iterable[tuple[int, int, str]], total: int,
                 limit: int = MAX_BAR_SEGMENTS) -> list[tuple[int, int, str]]:
    """``segments``, or when there are more than ``limit``, ``limit`` equal buckets of the most urgent status."""
    segments = list(segments)
    if len(segments) <= limit or total <= limit:
        return segments
    buckets: list[tuple[int, int, str]] = []
    index = 0
    for bucket in range(limit):
        start, stop = total * bucket // limit, total * (bucket + 1) // limit
        worst, worst_rank = "materialized", -1
        while index < len(segments) and segments[index][1] <= start:
            index += 1
        probe = index
        while probe < len(segments) and segments[probe][0] < stop:
            rank = _URGENCY.get(segments[probe][2], 1)
            if rank > worst_rank:
                worst, worst_rank = segments[probe][2], rank
            probe += 1
        if buckets and buckets[-1][2] == worst and buckets[-1][1] == start:
            buckets[-1] = (buckets[-1][0], stop, worst)
        else:
            buckets.append((start, stop, worst))
    return buckets
