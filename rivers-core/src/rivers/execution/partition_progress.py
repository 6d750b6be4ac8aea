"""The partition statuses a run records while it executes: in progress, failed, cleared.

A partitioned run (one key, a range, a backfill's batch of keys) records,
for each partitioned asset a step writes, the step's partitions as
``in_progress`` while the step runs, ``failed`` when it fails (or the keys
it marked failed with ``context.mark_partition_failed``), and clears both
when it succeeds; materialized partitions come from the materialization
index. A step's start is only remembered: it is written as ``in_progress``
when the run's events are flushed while the step still runs (the run
heartbeat flushes every run going for longer than
:attr:`~rivers.runs.heartbeat.Heartbeat.owner_delay`, on each tick), so a
step shows in progress within about 0.2 s of its start, and a short step
costs one change, written with its events when it ends. Steps that never ended (the run was canceled or interrupted) are
cleared when the run finishes; a run whose process dies is settled by run
monitoring (:func:`rivers.storage.partition_progress.settle_dead_run`).

Positions are computed once per run and partitions definition with the
definition's ``index_of`` (arithmetic for time windows, a lookup for key
lists); a key without a position under a definition (a deleted dynamic key)
is skipped. Only storages with the ``partition_status`` capability get the
changes (:func:`run_progress` returns ``None`` otherwise).
"""

from __future__ import annotations

import functools
import threading
from typing import TYPE_CHECKING

from rivers.execution.outcome import FAILURE, SUCCESS, StepOutcome
from rivers.execution.partition_requests import dynamic_lookup
from rivers.storage.contract import Capability
from rivers.storage.records import FAILED, IN_PROGRESS, ProgressChange

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TypeAlias

    from rivers.execution.partition_requests import DynamicLookup
    from rivers.execution.runtime import StepRuntime
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import PartitionKey
    from rivers.storage.base import Storage

    #: ``(start, end)`` position ranges of partitions under one definition
    Ranges: TypeAlias = "tuple[tuple[int, int], ...]"

__all__ = ["RunPartitionProgress", "run_progress"]

#: Partition kinds whose positions are arithmetic on the key (they read no storage, and never move).
_PURE_POSITIONS = frozenset({"time_window", "static"})


def run_progress(storage: Storage, run_id: str, partition: PartitionKey | None) -> RunPartitionProgress | None:
    """The progress recorder of a run of ``partition`` (``None``: unpartitioned, or storage lacks the capability)."""
    if partition is None or Capability.PARTITION_STATUS not in getattr(type(storage), "capabilities", ()):
        return None
    # dynamic definitions look their keys up in storage (only when asked: time windows never do)
    return RunPartitionProgress(storage, run_id, partition, dynamic_lookup(storage))


class RunPartitionProgress:
    """Records one run's partition progress: ``started(runtime)``, ``write_pending()``, ``ended(outcome)``, ``abandoned()``.

    ``write_pending`` runs on the heartbeat's thread; a lock keeps a step's
    in-progress write before its end (never after it).
    """

    __slots__ = ("_storage", "_run_id", "_partition", "_dynamic", "_positions", "_pending", "_lock", "held")

    def __init__(self, storage: Storage, run_id: str, partition: PartitionKey, dynamic: DynamicLookup | None) -> None:
        self._storage = storage
        self._run_id = run_id
        self._partition = partition
        #: ``name -> registered keys`` of dynamic partitions (a callable; None: not reachable)
        self._dynamic = dynamic
        self._positions: dict[int, tuple[PartitionsDefinition, Ranges]] = {}
        #: step key -> runtime of the steps started whose in-progress status is not written yet
        self._pending: dict[str, StepRuntime] = {}
        self._lock = threading.Lock()
        #: step key -> ``[(asset key, definition, ranges)]`` of the steps written as in progress and not ended
        self.held: dict[str, list[tuple[str, PartitionsDefinition, Ranges]]] = {}

    def started(self, runtime: StepRuntime) -> None:
        """The step of ``runtime`` starts: remembered, written as in progress by :meth:`write_pending`."""
        with self._lock:
            self._pending[runtime.key] = runtime

    def write_pending(self) -> None:
        """Record the steps started and still going as in progress (the run is flushed while they run)."""
        with self._lock:
            if not self._pending:
                return
            run_id = self._run_id
            changes: list[ProgressChange] = []
            for key, runtime in self._pending.items():
                assets = self._assets_of(runtime)
                if assets:
                    self.held[key] = assets
                    changes.extend(ProgressChange(run_id, name, IN_PROGRESS, ranges) for name, _, ranges in assets)
            self._pending.clear()
            if changes:
                self._storage.record_partition_progress(changes)

    def _assets_of(self, runtime: StepRuntime) -> list[tuple[str, PartitionsDefinition, Ranges]]:
        """``(asset key, definition, ranges)`` of the step's partitioned outputs that have positions."""
        assets = []
        for write in runtime.outputs.values():
            definition = write.node.partitions_def
            if definition is not None:
                ranges = self.ranges_of(definition)
                if ranges:
                    assets.append((write.name, definition, ranges))
        return assets

    def ended(self, outcome: StepOutcome, marked_failed: bool = False) -> list[ProgressChange]:
        """The changes of a step that ended with ``outcome`` (for the event writer, with the step's events).

        ``marked_failed``: its events have ``PartitionFailure`` events (keys
        the step marked failed with ``context.mark_partition_failed``). A
        step whose start was never written gets the same changes: a clear is
        free for an asset without a stored status, and may end an earlier
        run's ``failed``.
        """
        with self._lock:
            runtime = self._pending.pop(outcome.key, None)
            held = self.held.pop(outcome.key, None) if runtime is None else None
        status = outcome.status
        if runtime is not None and status == SUCCESS and not marked_failed:
            return self._cleared(runtime)  # the common case: a step whose start was never written succeeded
        assets = held if runtime is None else self._assets_of(runtime)
        if not assets:
            return []
        run_id = self._run_id
        failed_nodes = outcome.failed_nodes
        marked = _marked_failed(outcome) if marked_failed and status == SUCCESS else None
        changes = []
        for name, definition, ranges in assets:
            if status == FAILURE and (not failed_nodes or name in failed_nodes):
                changes.append(ProgressChange(run_id, name, FAILED, ranges))
                continue
            changes.append(ProgressChange(run_id, name, None, ranges))
            keys = marked.get(name) if marked else None
            if keys:
                positions = _key_positions(definition, keys, self._dynamic)
                if positions:
                    changes.append(ProgressChange(run_id, name, FAILED, positions))
        return changes

    def _cleared(self, runtime: StepRuntime) -> list[ProgressChange]:
        """The clears of a successful step that never showed in progress.

        Positions that are arithmetic on the key (time windows, static keys)
        are left for the backend to compute if it reads them
        (``ProgressChange(locate=...)``): clearing an asset without stored
        statuses needs none.
        """
        run_id = self._run_id
        changes = []
        for write in runtime.outputs.values():
            definition = write.node.partitions_def
            if definition is None:
                continue
            if definition.kind in _PURE_POSITIONS:  # (the partial keeps the definition and key, not this object)
                changes.append(ProgressChange(run_id, write.name, None,
                                              locate=functools.partial(_ranges, definition, self._partition, None)))
                continue
            ranges = self.ranges_of(definition)
            if ranges:
                changes.append(ProgressChange(run_id, write.name, None, ranges))
        return changes

    def abandoned(self) -> list[ProgressChange]:
        """The run ends: clear what the steps that never ended (canceled, terminated) still hold."""
        run_id = self._run_id
        with self._lock:
            self._pending.clear()  # never written: nothing to clear
            changes = [ProgressChange(run_id, name, None, ranges)
                       for assets in self.held.values() for name, _, ranges in assets]
            self.held.clear()
        return changes

    # -- positions -------------------------------------------------------------------

    def ranges_of(self, definition: PartitionsDefinition) -> Ranges:
        """The run's partitions under ``definition`` as position ranges (cached per definition)."""
        cached = self._positions.get(id(definition))
        if cached is not None and cached[0] is definition:
            return cached[1]
        ranges = _ranges(definition, self._partition, self._dynamic)
        self._positions[id(definition)] = (definition, ranges)
        return ranges


def _ranges(definition: PartitionsDefinition, partition: PartitionKey, dynamic: DynamicLookup | None) -> Ranges:
    """``partition``'s keys under ``definition`` as position ranges (keys without a position left out)."""
    value = partition.single_value()
    if value is not None:  # one key (the common case)
        try:
            position = definition.index_of(value, dynamic_partitions=dynamic)
        except Exception:  # noqa: BLE001 - a key the definition cannot place has no status; never fail a run
            position = None
        return () if position is None else ((position, position + 1),)
    values = getattr(partition, "values", None)  # a single-dimension key: index its values directly
    return _key_positions(definition, values if type(values) is tuple else partition.members(), dynamic)


def _key_positions(definition: PartitionsDefinition, keys: Iterable[PartitionKey | str],
                   dynamic: DynamicLookup | None) -> Ranges:
    positions = []
    for key in keys:
        try:
            position = definition.index_of(key, dynamic_partitions=dynamic)
        except Exception:  # noqa: BLE001 - a key the definition cannot place has no status; never fail a run
            position = None
        if position is not None:
            positions.append(position)
    positions.sort()
    from rivers.storage.partition_progress import coalesce  # (a range or marked keys: not a one-key run)

    return tuple(coalesce(positions))


def _marked_failed(outcome: StepOutcome) -> dict[str, list[PartitionKey]] | None:
    """``{asset: [keys]}`` of the ``PartitionFailure`` events of a successful step (None: none)."""
    found: dict[str, list[PartitionKey]] | None = None
    for event in outcome.events:
        if event.event_type == "PartitionFailure":
            if found is None:
                found = {}
            found.setdefault(event.asset_key, []).append(event.partition_key)
    return found
