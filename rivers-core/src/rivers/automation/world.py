"""The daemon's picture of asset state, as partition bitmasks, kept current from the event log.

Every asset the conditions look at gets an :class:`AssetView`: its partition
keys (position ``i`` = bit ``i`` of every mask; an unpartitioned asset has
one bit), which positions are materialized or failed, and what the last
materialization recorded (run, code and data versions). The view is built
once from the storage catalogue and then updated from
``storage.get_events_after(cursor)``, so a tick costs time in proportion to
what happened since the previous one, not to the size of the graph.

Per tick the world also holds what is *new*: positions updated since the
previous tick (and by which runs), positions of in-flight runs and active
backfills.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Sequence

if TYPE_CHECKING:
    from rivers.graph.graph import AssetGraph
    from rivers.storage.base import Storage

__all__ = ["AssetView", "World"]

IN_FLIGHT_STATUSES = ("Queued", "NotStarted", "Started")
ACTIVE_BACKFILLS = ("Requested", "InProgress")
_DONE = frozenset({"completed", "failed", "canceled"})
_FAILURE_EVENTS = ("StepFailure", "PartitionFailure")


class AssetView:
    """One asset's partitions and recorded state, as masks over its partition positions."""

    __slots__ = ("name", "partitions_def", "keys", "positions", "full", "materialized", "failed",
                 "code_version", "last_code_version", "last_run_id", "last_timestamp", "data_versions",
                 "code_outdated")

    def __init__(self, name: str, partitions_def: Any, code_version: str | None) -> None:
        self.name = name
        self.partitions_def = partitions_def
        self.keys: Sequence[str] = ()
        self.positions: dict[str, int] = {}
        self.full = 1
        self.materialized = 0
        self.failed = 0
        self.code_version = code_version
        self.last_code_version: str | None = None
        self.last_run_id: str | None = None
        self.last_timestamp: int | None = None
        self.data_versions: dict[int, str | None] = {}
        # positions whose latest materialization recorded another code version than the declared one
        # (partitioned assets; read from storage the first time a condition asks, see World.code_outdated)
        self.code_outdated: int | None = None

    def set_keys(self, keys: Sequence[str]) -> bool:
        """Adopt the current partition keys; whether they changed."""
        if self.partitions_def is None or (len(keys) == len(self.keys) and keys[-1:] == self.keys[-1:]):
            return False
        self.keys = keys
        self.positions = {key: index for index, key in enumerate(keys)}
        self.full = (1 << len(keys)) - 1
        self.code_outdated = None  # read again for the new positions
        return True

    def mask_of(self, partition: Any) -> int:
        """The mask of one recorded partition key (``None``: the whole asset)."""
        if self.partitions_def is None or partition is None:
            return self.full
        position = self.positions.get(str(partition))
        if position is None:
            return self.full if _is_range(partition) else 0
        return 1 << position

    def key_of(self, position: int) -> str | None:
        return None if self.partitions_def is None else self.keys[position]


def _is_range(partition: Any) -> bool:
    return not isinstance(partition, str) and hasattr(partition, "start") and hasattr(partition, "end")


class World:
    """Asset views of a graph plus what changed since the previous tick."""

    def __init__(self, graph: AssetGraph, storage: Storage, names: Iterable[str]) -> None:
        self.graph = graph
        self.storage = storage
        self.views: dict[str, AssetView] = {}
        for name in names:
            node = graph.nodes[name]
            self.views[name] = AssetView(name, node.partitions_def, node.code_version)
        self.cursor = 0
        # per tick
        self.updated: dict[str, int] = {}
        self.updated_runs: dict[str, set[str]] = {}
        self.data_changed: dict[str, int] = {}
        self.in_progress: dict[str, int] = {}
        self.backfilling: dict[str, int] = {}
        self.touched: set[str] = set()
        self._run_cache: dict[str, Any] = {}
        self._unfinished: dict[str, Any] = {}

    # ---------------------------------------------------------------- loading
    def refresh_keys(self) -> set[str]:
        """Re-read partition keys (time windows grow, dynamic keys get added); the assets whose keys changed."""
        by_def: dict[int, tuple[Any, Sequence[str]]] = {}
        changed: set[str] = set()
        dynamic = _DynamicKeys(self.storage)
        for view in self.views.values():
            definition = view.partitions_def
            if definition is None:
                continue
            known = by_def.get(id(definition))
            if known is None:
                keys = [str(key) for key in definition.get_partition_keys(dynamic_partitions=dynamic)]
                known = by_def[id(definition)] = (definition, keys)
            if view.set_keys(known[1]):
                changed.add(view.name)
        return changed

    def load(self, cursor: int | None, failed: dict[str, int] | None = None) -> None:
        """Fill the views from the catalogue and continue the event log at ``cursor``.

        ``None`` (a fresh daemon state): the whole log is read once for the
        failures it records, and none of it counts as new. ``failed`` are the
        failure masks saved with the state the cursor belongs to.
        """
        self.refresh_keys()
        self.cursor = cursor or 0
        for entry in self.storage.get_asset_catalogue(list(self.views)):
            view = self.views.get(entry.asset_key)
            if view is None:
                continue
            record = entry.record
            if record is not None:
                view.last_code_version = record.last_materialization_code_version
                view.last_run_id = record.last_run_id
                view.last_timestamp = record.last_timestamp
            if view.partitions_def is None:
                view.materialized = 1 if record is not None and record.last_timestamp is not None else 0
            elif entry.partition_counts.get("materialized") or (record is not None and record.last_timestamp):
                mask = 0
                for key in self.storage.get_materialized_partitions(view.name):
                    mask |= view.mask_of(key)
                view.materialized = mask
        for name, mask in (failed or {}).items():
            if name in self.views:
                self.views[name].failed = mask & self.views[name].full
        if cursor is None:
            self.apply_events(self._new_events())
            self.updated, self.updated_runs, self.data_changed = {}, {}, {}

    # ------------------------------------------------------------------ ticks
    def begin_tick(self, local_in_flight: Iterable[tuple[Sequence[str], Any]] = ()) -> set[str]:
        """Read what happened since the previous tick; the names of the assets whose state changed."""
        previous_progress = self.in_progress
        self._unfinished = {}
        self.updated, self.updated_runs, self.data_changed = {}, {}, {}
        self.touched = set(self.refresh_keys())
        self.apply_events(self._new_events())
        self.in_progress = self._in_flight(local_in_flight)
        self.backfilling = self._backfilling()
        for name in set(previous_progress) | set(self.in_progress):
            if previous_progress.get(name, 0) != self.in_progress.get(name, 0):
                self.touched.add(name)
        self.touched.update(self.backfilling)
        return self.touched

    def _new_events(self) -> list[Any]:
        events: list[Any] = []
        while True:
            page = self.storage.get_events_after(self.cursor, limit=5000,
                                                 event_types=["Materialization", *_FAILURE_EVENTS])
            events.extend(page.events)
            moved = page.cursor != self.cursor
            self.cursor = page.cursor
            if not moved or len(page.events) < 5000:
                return events

    def apply_events(self, events: Iterable[Any]) -> None:
        """Fold materializations and failures into the views (also used by tests and benchmarks)."""
        views = self.views
        for event in events:
            view = views.get(event.asset_key)
            if view is None:
                continue
            mask = view.mask_of(event.partition_key)
            if not mask:
                continue
            self.touched.add(view.name)
            if event.event_type == "Materialization":
                view.materialized |= mask
                view.failed &= ~mask
                self.updated[view.name] = self.updated.get(view.name, 0) | mask
                self.updated_runs.setdefault(view.name, set()).add(event.run_id)
                view.last_run_id = event.run_id
                view.last_timestamp = event.timestamp
                view.last_code_version = event.code_version
                if view.code_outdated is not None:
                    if event.code_version == view.code_version:
                        view.code_outdated &= ~mask
                    else:
                        view.code_outdated |= mask
                if mask != view.full or view.partitions_def is None:
                    position = mask.bit_length() - 1
                    if view.data_versions.get(position) != event.data_version:
                        view.data_versions[position] = event.data_version
                        self.data_changed[view.name] = self.data_changed.get(view.name, 0) | mask
            else:
                view.failed |= mask

    def _in_flight(self, local: Iterable[tuple[Sequence[str], Any]]) -> dict[str, int]:
        masks: dict[str, int] = {}
        found: list[tuple[Sequence[str], Any]] = list(local)
        cursor = None
        while True:
            page = self.storage.query_runs(status=IN_FLIGHT_STATUSES, cursor=cursor, limit=500)
            found.extend((run.node_names, run.partition_key) for run in page.runs)
            cursor = page.next_cursor
            if cursor is None:
                break
        for names, partition in found:
            for name in names:
                view = self.views.get(name)
                if view is not None:
                    masks[name] = masks.get(name, 0) | view.mask_of(partition)
        return masks

    def _backfilling(self) -> dict[str, int]:
        from rivers.backfills.state import backfills_with_status

        masks: dict[str, int] = {}
        for status in ACTIVE_BACKFILLS:
            for record in backfills_with_status(self.storage, status):
                pending = [key for key, state in zip(record.partition_keys, record.statuses) if state not in _DONE]
                for name in record.selection or list(self.views):
                    view = self.views.get(name)
                    if view is None:
                        continue
                    mask = 0
                    for key in pending:
                        mask |= view.mask_of(key)
                    if mask:
                        masks[name] = masks.get(name, 0) | mask
        return masks

    # ----------------------------------------------------------------- lookups
    def code_outdated(self, name: str) -> int:
        """Materialized positions of ``name`` whose latest materialization recorded another code version.

        Nothing when the asset declares no ``code_version``. For a partitioned
        asset the recorded version of each partition is read from storage the
        first time (only assets whose condition asks pay for it), then kept
        current from the event log.
        """
        view = self.views[name]
        if view.code_version is None or not view.materialized:
            return 0
        if view.partitions_def is None:
            return view.materialized if view.last_code_version != view.code_version else 0
        if view.code_outdated is None:
            mask = 0
            materialized, position = view.materialized, 0
            while materialized:
                if materialized & 1:
                    event = self.storage.get_latest_materialization(name, view.keys[position])
                    if event is None or event.code_version != view.code_version:
                        mask |= 1 << position
                materialized >>= 1
                position += 1
            view.code_outdated = mask
        return view.code_outdated & view.materialized

    def run(self, run_id: str | None) -> Any:
        """The run record of ``run_id``, or ``None`` (finished runs are cached; others are read once per tick)."""
        if run_id is None:
            return None
        record = self._run_cache.get(run_id)
        if record is None:
            if run_id in self._unfinished:  # read once per tick
                return self._unfinished[run_id]
            record = self.storage.get_run(run_id)
            if record is not None and record.status not in IN_FLIGHT_STATUSES:
                self._run_cache[run_id] = record
            else:
                self._unfinished[run_id] = record
        return record


class _DynamicKeys:
    """Dynamic partition keys read from storage when a definition asks for them."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def __call__(self, name: str) -> list[str]:
        return self._storage.get_dynamic_partitions(name)

    def get(self, name: str, default: Any = None) -> list[str]:
        return self._storage.get_dynamic_partitions(name)

    def __getitem__(self, name: str) -> list[str]:
        return self._storage.get_dynamic_partitions(name)
