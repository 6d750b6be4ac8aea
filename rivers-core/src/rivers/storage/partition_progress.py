"""Partition progress: the in-progress and failed partition statuses the engine records while runs execute.

While a run executes a partitioned step, the engine hands the storage
:class:`ProgressChange` values (``Storage._record_partition_progress``):
the step's partitions become ``in_progress`` when it starts, ``failed``
when it fails, and lose both when it succeeds (materialized partitions come
from the materialization index, not from here). Positions are those of
:mod:`rivers.storage.partition_status` (the partitions definition's key
order), always as ranges.

So that a run whose process dies cannot leave partitions in progress for
ever, the store also keeps which run holds which in-progress ranges: one kv
entry, :data:`PROGRESS_KEY`, mapping each run that holds some to
``{asset key: [[start, stop], ...]}`` (so it stays as small as the number of
runs going). When run monitoring marks a run dead
(``Storage.reconcile_runs``), :func:`settle_dead_run` turns the ranges it
held into ``failed`` and forgets them. A run that ends in its own process
(succeeded, failed or canceled) settles its steps itself.

Backends with a write-behind queue (SQLite) queue the changes with the
step's events and apply them in the same transaction, where a start and
the end of a short step cancel out; :func:`record_now` is the plain
implementation every other backend with the ``partition_status``
capability gets.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final

# (the change record and the two statuses live with the other storage records: a run's engine needs only them)
from rivers.storage.records import FAILED, IN_PROGRESS, ProgressChange

if TYPE_CHECKING:  # (imported where ranges are built: a short run's path never needs them)
    from typing import Protocol

    from rivers.storage.partition_status import PartitionStatusRanges

    #: The in-progress ranges of each run: ``{run_id: {asset key: ranges (status in_progress only)}}``.
    RunHolds = dict[str, dict[str, PartitionStatusRanges]]

    class ProgressStore(Protocol):
        """What :func:`record_now` and :func:`settle_dead_run` use of a storage (capabilities kv, partition_status)."""

        def kv_get(self, key: str) -> bytes | None: ...

        def _kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None: ...

        def _update_partition_status(
            self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
        ) -> None: ...

__all__ = [
    "IN_PROGRESS",
    "FAILED",
    "PROGRESS_KEY",
    "HoldsLedger",
    "ProgressChange",
    "apply_changes",
    "by_asset",
    "cancel_pairs",
    "cleared_assets",
    "coalesce",
    "decode_holds",
    "encode_holds",
    "fail_held",
    "record_now",
    "settle_dead_run",
    "update_holds",
]

#: The kv entry naming the in-progress ranges each run holds (``{run_id: {asset: [[start, stop], ...]}}``).
PROGRESS_KEY: Final = "rivers/partition_progress"

# -- applying changes to stored ranges ----------------------------------------------


def apply_changes(ranges: PartitionStatusRanges, changes: Iterable[ProgressChange]) -> PartitionStatusRanges:
    """Apply ``changes`` (of one asset, in order) to ``ranges``; return it."""
    for change in changes:
        status = change.status
        for start, stop in change.ranges:
            if status is None:
                _clear_progress(ranges, start, stop)
            else:
                ranges.set(status, start, stop)
    return ranges


def _clear_progress(ranges: PartitionStatusRanges, start: int, stop: int) -> None:
    """Clear the failed and in-progress statuses of ``[start, stop)`` (a materialized one stays)."""
    overlapping = [(max(a, start), min(b, stop)) for a, b, status in ranges.segments()
                   if a < stop and b > start and status != "materialized"]
    for low, high in overlapping:
        ranges.clear(low, high)


def fail_held(ranges: PartitionStatusRanges, held: PartitionStatusRanges) -> PartitionStatusRanges:
    """Turn the positions of ``held`` that ``ranges`` still has in progress into ``failed``; return ``ranges``."""
    for start, stop in held.ranges(IN_PROGRESS):
        stuck = [(max(a, start), min(b, stop)) for a, b, status in ranges.segments()
                 if a < stop and b > start and status == IN_PROGRESS]
        for low, high in stuck:
            ranges.set(FAILED, low, high)
    return ranges


def by_asset(changes: Iterable[ProgressChange]) -> dict[str, list[ProgressChange]]:
    """``changes`` grouped by asset key (each group in order)."""
    grouped: dict[str, list[ProgressChange]] = {}
    for change in changes:
        grouped.setdefault(change.asset_key, []).append(change)
    return grouped


def cancel_pairs(changes: Sequence[ProgressChange]) -> tuple[list[ProgressChange], list[ProgressChange]]:
    """``(status changes, hold changes)`` of ``changes`` written together, with the starts their end settles cut.

    A step's ``in_progress`` followed, in the same write, by its end (the
    same run, asset and ranges) has the end's effect alone on the stored
    ranges, and none on the run's holds: the first list leaves out such
    starts, the second leaves out both.
    """
    started: dict[tuple[str, str, tuple[tuple[int, int], ...]], int] = {}
    settled: list[int] = []
    for index, change in enumerate(changes):
        if change.status == IN_PROGRESS:
            started[(change.run_id, change.asset_key, change.ranges)] = index
        elif started:  # (an end with no start before it in this write reads no ranges: they may be computed late)
            start = started.pop((change.run_id, change.asset_key, change.ranges), None)
            if start is not None:
                settled.append(start)
                settled.append(index)
    if not settled:
        return list(changes), list(changes)
    ends = set(settled[1::2])
    skipped = set(settled)
    status_changes = [change for index, change in enumerate(changes) if index not in skipped or index in ends]
    hold_changes = [change for index, change in enumerate(changes) if index not in skipped]
    return status_changes, hold_changes


def cleared_assets(status_changes: Sequence[ProgressChange], hold_changes: Sequence[ProgressChange],
                   holding: RunHolds) -> set[str] | None:
    """The assets of ``status_changes`` when they only clear and no run's holds change (else ``None``).

    ``holding``: the runs that hold in-progress ranges now (``HoldsLedger.current``
    of the storage recording them); a clear of a run that holds nothing (a
    short step, whose start was never written) changes no holds. Then
    nothing is written unless one of those assets has a stored status: the
    common case of short successful runs, checked with one read.
    """
    for change in hold_changes:
        if change.run_id in holding:
            return None
    assets = set()
    for change in status_changes:
        if change.status is not None:
            return None
        assets.add(change.asset_key)
    return assets


# -- which run holds which in-progress ranges -----------------------------------------


def update_holds(holds: RunHolds, changes: Iterable[ProgressChange]) -> set[str]:
    """Apply ``changes`` to the in-progress ranges ``holds`` (in place); return the ids of the runs touched.

    A run that holds nothing any more is removed from ``holds``.
    """
    from rivers.storage.partition_status import PartitionStatusRanges

    touched = set()
    for change in changes:
        run_id = change.run_id
        touched.add(run_id)
        assets = holds.get(run_id)
        if change.status == IN_PROGRESS:
            if assets is None:
                assets = holds[run_id] = {}
            held = assets.get(change.asset_key)
            if held is None:
                held = assets[change.asset_key] = PartitionStatusRanges()
            for start, stop in change.ranges:
                held.set(IN_PROGRESS, start, stop)
        elif assets is not None and change.asset_key in assets:
            held = assets[change.asset_key]
            for start, stop in change.ranges:
                held.clear(start, stop)
            if not held.count(IN_PROGRESS):
                del assets[change.asset_key]
                if not assets:
                    del holds[run_id]
    return touched


def encode_holds(holds: Mapping[str, Mapping[str, PartitionStatusRanges]]) -> bytes:
    """The stored form of :data:`PROGRESS_KEY`."""
    data = {run_id: {asset: [list(pair) for pair in held.ranges(IN_PROGRESS)] for asset, held in assets.items()}
            for run_id, assets in holds.items() if assets}
    return json.dumps(data, separators=(",", ":")).encode()


def decode_holds(value: bytes | None) -> RunHolds:
    """Inverse of :func:`encode_holds` (``None``, empty or unreadable: nothing held)."""
    if not value:
        return {}
    from rivers.storage.partition_status import PartitionStatusRanges

    try:
        data = json.loads(value)
    except ValueError:
        return {}
    holds: RunHolds = {}
    if isinstance(data, dict):
        for run_id, assets in data.items():
            if isinstance(assets, dict):
                holds[run_id] = {asset: PartitionStatusRanges.from_segments(
                    (start, stop, IN_PROGRESS) for start, stop in pairs) for asset, pairs in assets.items()}
    return holds


def _held_json(assets: Mapping[str, PartitionStatusRanges] | None) -> str | None:
    """A comparable text of one run's holds (``None``: it holds nothing)."""
    if not assets:
        return None
    return json.dumps(sorted((asset, held.ranges(IN_PROGRESS)) for asset, held in assets.items()))


class HoldsLedger:
    """What one storage object knows of the holds of the runs it records (the only writer of those runs).

    ``stage(changes)`` folds changes into the runs' current holds and
    returns the ids of the runs whose stored entry must change: none when a
    run's start and end land in the same write, or when a run never held
    anything stored. ``stored(run_ids)`` is called once that write committed.
    """

    __slots__ = ("current", "_written")

    def __init__(self) -> None:
        self.current: RunHolds = {}
        self._written: dict[str, str] = {}  # run id -> _held_json of what the stored entry has for it

    def stage(self, changes: Iterable[ProgressChange]) -> list[str]:
        touched = update_holds(self.current, changes)
        return [run_id for run_id in touched
                if _held_json(self.current.get(run_id)) != self._written.get(run_id)]

    def merge_into(self, stored: RunHolds, run_ids: Sequence[str]) -> RunHolds:
        """``stored`` (the entry as read in the write's transaction) with ``run_ids``' current holds."""
        for run_id in run_ids:
            assets = self.current.get(run_id)
            if assets:
                stored[run_id] = assets
            else:
                stored.pop(run_id, None)
        return stored

    def stored(self, run_ids: Sequence[str]) -> None:
        for run_id in run_ids:
            text = _held_json(self.current.get(run_id))
            if text is None:
                self._written.pop(run_id, None)
            else:
                self._written[run_id] = text


# -- the plain implementation ---------------------------------------------------------


def record_now(storage: ProgressStore, changes: Sequence[ProgressChange]) -> None:
    """Apply ``changes`` at once through ``_update_partition_status`` and ``_kv_update`` (one write per asset)."""
    for asset_key, group in by_asset(changes).items():
        storage._update_partition_status(asset_key, functools.partial(apply_changes, changes=group))
    if not any(change.status == IN_PROGRESS for change in changes) and not _may_hold(storage):
        return  # nothing held before (the common case of a backend without queue): no kv write

    def update(value: bytes | None) -> bytes:
        holds = decode_holds(value)
        update_holds(holds, changes)
        return encode_holds(holds)

    storage._kv_update(PROGRESS_KEY, update)


def _may_hold(storage: ProgressStore) -> bool:
    value = storage.kv_get(PROGRESS_KEY)
    return bool(value) and value != b"{}"


def settle_dead_run(storage: ProgressStore, run_id: str) -> None:
    """The run ``run_id`` died: the partitions it held in progress become failed and it holds none any more."""
    holds = decode_holds(storage.kv_get(PROGRESS_KEY)).get(run_id)
    if not holds:
        return
    for asset_key, held in holds.items():
        storage._update_partition_status(asset_key, functools.partial(fail_held, held=held))

    def forget(value: bytes | None) -> bytes:
        current = decode_holds(value)
        current.pop(run_id, None)
        return encode_holds(current)

    storage._kv_update(PROGRESS_KEY, forget)


def coalesce(positions: Iterable[int]) -> Iterator[tuple[int, int]]:
    """Sorted, distinct ``positions`` as half-open ``(start, stop)`` ranges of consecutive positions."""
    start = stop = -1
    for position in positions:
        if position == stop:
            stop += 1
            continue
        if position < stop:
            continue  # a duplicate
        if stop >= 0:
            yield start, stop
        start, stop = position, position + 1
    if stop >= 0:
        yield start, stop
