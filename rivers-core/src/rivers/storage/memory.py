"""In-memory storage: dicts and lists guarded by one lock. Each instance is independent."""

from __future__ import annotations

import bisect
import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence


from rivers.exceptions import StorageError
from rivers.storage.base import Storage
from rivers.storage.contract import CONTRACT_VERSION, Capability
from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
from rivers.storage.monitor import PROCESS_DIED, RunMonitor, same_owner_sign
from rivers.storage.partition_status import PartitionStatusRanges
from rivers.storage.pools import (
    DEFAULT_LEASE_SECONDS,
    ConcurrencyClaimStatus,
    PoolInfo,
    PoolLimit,
    SlotHolder,
    blocked,
)
from rivers.storage.queries import CatalogueRow, RunPage, RunQuery, decode_run_cursor
from rivers.storage.records import (
    MATERIALIZATION,
    OBSERVATION,
    STEP_SUCCESS,
    AssetRecord,
    RunRecord,
    StorageType,
    StoredEvent,
    StoredLog,
    partition_to_stored,
    run_changes,
)

__all__ = ["MemoryStorage"]


def _lease_number(seconds: float) -> int | float:
    """Lease seconds as an int when whole (``PoolLimit.lease_duration_secs``)."""
    return int(seconds) if float(seconds).is_integer() else seconds


class MemoryStorage(Storage):
    """A storage that lives in this process only; what ``Storage.memory()`` returns."""

    _storage_type = StorageType.Memory
    contract_version = CONTRACT_VERSION
    capabilities = frozenset(Capability)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events_by_run: dict[str, list[StoredEvent]] = {}
        self._cursors_by_run: dict[str, list[int]] = {}  # the cursor of each event of _events_by_run
        self._event_log: list[StoredEvent] = []  # every event; event i has cursor i + 1
        self._events_by_asset: dict[str, list[StoredEvent]] = {}
        self._logs_by_run: dict[str, list[StoredLog]] = {}
        self._assets: dict[str, AssetRecord] = {}
        self._upstream: dict[str, list[str]] = {}
        # run id -> (creation sequence, record)
        self._run_entries: dict[str, tuple[int, RunRecord]] = {}
        self._run_sequence = itertools.count()
        # asset -> {stored partition: latest materialization}, in first-materialized order
        self._latest_by_partition: dict[str, dict[str | None, StoredEvent]] = {}
        self._latest_any: dict[str, StoredEvent] = {}
        self._kv: dict[str, bytes] = {}
        self._dynamic: dict[str, dict[str, None]] = {}
        self._cancelled: set[str] = set()
        self._progress: dict[str, tuple[int, int, str | None]] = {}
        self._monitors: dict[str, RunMonitor] = {}
        # pools: key -> (limit, lease seconds); (pool, run, step) -> (slots, claimed_at ns, expires_at ns)
        self._pool_limit_rows: dict[str, tuple[int, float]] = {}
        self._pool_claims: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        self._pool_pending: dict[tuple[str, str, str], tuple[int, int, int]] = {}
        self._partition_status_by_asset: dict[str, PartitionStatusRanges] = {}
        self._backfill_rows: dict[str, StoredBackfill] = {}
        self._tick_rows: dict[str, dict[str, StoredTick]] = {}
        self._cursor_rows: dict[str, str] = {}
        self._lease_rows: dict[str, Lease] = {}

    def __repr__(self) -> str:
        return "MemoryStorage()"

    # -- engine-facing writes ------------------------------------------

    def _register_assets(self, records: Sequence[AssetRecord]) -> None:
        with self._lock:
            for record in records:
                existing = self._assets.get(record.asset_key)
                if existing is not None:
                    record = existing.evolve(
                        tags=list(record.tags),
                        kinds=list(record.kinds),
                        group=record.group,
                        code_version=record.code_version,
                        pool=list(record.pool),
                    )
                self._assets[record.asset_key] = record

    def _register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        with self._lock:
            for node, parents in upstream.items():
                self._upstream[node] = list(parents)

    def _create_run(self, record: RunRecord) -> None:
        with self._lock:
            self._run_entries.pop(record.run_id, None)
            self._run_entries[record.run_id] = (next(self._run_sequence), record)

    def _update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        node_names: Sequence[str] | None = None,
    ) -> None:
        changes = run_changes(status, end_time, node_names)
        with self._lock:
            entry = self._run_entries.get(run_id)
            if entry is None:
                raise StorageError(f"Run '{run_id}' not found")
            self._run_entries[run_id] = (entry[0], entry[1].evolve(**changes))

    def _append_events(self, events: Sequence[StoredEvent]) -> None:
        with self._lock:
            log = self._event_log
            for event in events:
                log.append(event)
                run_events = self._events_by_run.get(event.run_id)
                if run_events is None:
                    run_events = self._events_by_run[event.run_id] = []
                    self._cursors_by_run[event.run_id] = []
                run_events.append(event)
                self._cursors_by_run[event.run_id].append(len(log))
                asset_key = event.asset_key
                if asset_key is None:
                    continue
                asset_events = self._events_by_asset.get(asset_key)
                if asset_events is None:
                    asset_events = self._events_by_asset[asset_key] = []
                asset_events.append(event)
                event_type = event.event_type
                if event_type == MATERIALIZATION:
                    partitions = self._latest_by_partition.get(asset_key)
                    if partitions is None:
                        partitions = self._latest_by_partition[asset_key] = {}
                    partitions[partition_to_stored(event.partition_key)] = event
                    self._latest_any[asset_key] = event
                    self._record_last_event(event, True)
                elif event_type == OBSERVATION:
                    self._record_last_event(event, False)

    def _record_last_event(self, event: StoredEvent, materialization: bool) -> None:
        """Update the ``last_*`` fields of the event's asset record (lock held).

        Observations leave the materialization-only fields as they were.
        """
        asset_key = event.asset_key
        assert asset_key is not None
        old = self._assets.get(asset_key) or AssetRecord(asset_key)
        self._assets[asset_key] = AssetRecord(
            asset_key,
            old.tags,
            old.kinds,
            old.group,
            old.code_version,
            event.id,
            event.run_id,
            event.timestamp,
            event.data_version,
            event.code_version if materialization else old.last_materialization_code_version,
            list(event.input_data_versions) if materialization else old.last_input_data_versions,
            old.pool,
        )

    def _append_logs(self, logs: Sequence[StoredLog]) -> None:
        with self._lock:
            for log in logs:
                self._logs_by_run.setdefault(log.run_id, []).append(log)

    def _completed_steps(self, run_id: str) -> set[str]:
        with self._lock:
            events = list(self._events_by_run.get(run_id, ()))
        return {e.asset_key for e in events if e.event_type == STEP_SUCCESS and e.asset_key is not None}

    def close(self) -> None:
        """Nothing to release; the data stays readable until the object is dropped."""

    # -- primitives -------------------------------------------------------

    def _events_for_asset(self, asset_key: str, limit: int) -> list[StoredEvent]:
        if limit == 0:
            return []
        with self._lock:
            return self._events_by_asset.get(asset_key, [])[-limit:][::-1]

    def _latest_materialization(self, asset_key: str, partition: str | None) -> StoredEvent | None:
        with self._lock:
            if partition is None:
                return self._latest_any.get(asset_key)
            return self._latest_by_partition.get(asset_key, {}).get(partition)

    def _events_after(
        self, cursor: int, limit: int, run_id: str | None, event_types: Sequence[str] | None
    ) -> list[tuple[int, StoredEvent]]:
        with self._lock:
            if run_id is None:
                candidates = zip(range(cursor + 1, len(self._event_log) + 1), self._event_log[cursor:])
            else:
                cursors = self._cursors_by_run.get(run_id, [])
                start = bisect.bisect_right(cursors, cursor)
                candidates = zip(cursors[start:], self._events_by_run.get(run_id, [])[start:])
            result = []
            for position, event in candidates:
                if event_types is None or event.event_type in event_types:
                    result.append((position, event))
                    if len(result) == limit:
                        break
            return result

    def _catalogue_rows(self, asset_keys: Sequence[str] | None) -> list[CatalogueRow]:
        with self._lock:
            records = list(self._assets.values()) if asset_keys is None else [
                self._assets[key] for key in asset_keys if key in self._assets
            ]
            return [
                CatalogueRow(
                    record,
                    self._latest_any.get(record.asset_key),
                    sum(1 for key in self._latest_by_partition.get(record.asset_key, {}) if key is not None),
                )
                for record in records
            ]

    def _materialized_partitions(self, asset_key: str) -> list[str]:
        with self._lock:
            return [key for key in self._latest_by_partition.get(asset_key, {}) if key is not None]

    def _topology(self) -> dict[str, list[str]]:
        with self._lock:
            return {node: list(parents) for node, parents in self._upstream.items()}

    def _query_runs(self, query: RunQuery) -> RunPage:
        with self._lock:
            entries = [(record.start_time, sequence, record) for sequence, record in self._run_entries.values()]
        entries.sort(key=lambda entry: (entry[0], entry[1]), reverse=True)
        position = None
        if query.cursor is not None:
            position = decode_run_cursor(query.cursor)
        page: list[RunRecord] = []
        last: tuple[int, int] | None = None
        for start_time, sequence, record in entries:
            if position is not None and (start_time, sequence) >= position:
                continue
            if _run_matches(record, query):
                if len(page) == query.limit:
                    assert last is not None
                    return RunPage(page, f"{last[0]}:{last[1]}")
                page.append(record)
                last = (start_time, sequence)
        return RunPage(page, None)

    def _kv_put(self, key: str, value: bytes) -> None:
        with self._lock:
            self._kv[key] = value

    def _kv_put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        with self._lock:
            self._kv.update(items)

    def _kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None:
        with self._lock:  # one process: the lock makes it atomic
            self._kv[key] = bytes(update(self._kv.get(key)))

    def _insert_dynamic_partitions(self, name: str, keys: Sequence[str]) -> None:
        with self._lock:
            namespace = self._dynamic.setdefault(name, {})
            for key in keys:
                namespace.setdefault(key, None)

    def _dynamic_partitions(self, name: str) -> list[str] | None:
        with self._lock:
            namespace = self._dynamic.get(name)
            return None if namespace is None else list(namespace)

    def _store_run_outcome(
        self,
        run_id: str,
        run_status: str,
        completed_steps: int,
        total_steps: int,
        message: str | None,
        end_time: int,
    ) -> None:
        with self._lock:
            self._progress[run_id] = (completed_steps, total_steps, message)
            entry = self._run_entries.get(run_id)
            if entry is not None:
                sequence, record = entry
                record = record.evolve(
                    status=run_status,
                    end_time=record.end_time if record.end_time is not None else end_time,
                )
                self._run_entries[run_id] = (sequence, record)

    def _stored_progress(self, run_id: str) -> tuple[int, int] | None:
        with self._lock:
            stored = self._progress.get(run_id)
        return None if stored is None else (stored[0], stored[1])

    # -- concurrency pools --------------------------------------------------

    def _set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        with self._lock:
            for pool_key, limit, lease in limits:
                existing = self._pool_limit_rows.get(pool_key)
                if only_missing and existing is not None:
                    continue
                if lease is None:
                    lease = existing[1] if existing is not None else DEFAULT_LEASE_SECONDS
                self._pool_limit_rows[pool_key] = (limit, lease)

    def _pool_limits(self) -> list[PoolLimit]:
        with self._lock:
            return [PoolLimit(key, limit, _lease_number(lease)) for key, (limit, lease) in self._pool_limit_rows.items()]

    def _expire_pools(self, now: int) -> int:
        """Drop expired claims and pending entries (lock held)."""
        expired = [key for key, (_, _, expires) in self._pool_claims.items() if expires <= now]
        for key in expired:
            del self._pool_claims[key]
        for key in [key for key, (_, _, expires) in self._pool_pending.items() if expires <= now]:
            del self._pool_pending[key]
        return len(expired)

    def _pool_infos(self, pool_key: str | None) -> list[PoolInfo]:
        with self._lock:
            self._expire_pools(time.time_ns())
            infos = []
            for key, (limit, lease) in self._pool_limit_rows.items():
                if pool_key is not None and key != pool_key:
                    continue
                claimed = sum(slots for (pool, _, _), (slots, _, _) in self._pool_claims.items() if pool == key)
                pending = sum(1 for (pool, _, _) in self._pool_pending if pool == key)
                infos.append(PoolInfo(key, limit, _lease_number(lease), claimed, pending))
            return infos

    def _pool_holders(self, pool_key: str) -> list[SlotHolder]:
        with self._lock:
            self._expire_pools(time.time_ns())
            holders = [SlotHolder(run_id, step_key, slots, claimed_at, expires)
                       for (pool, run_id, step_key), (slots, claimed_at, expires) in self._pool_claims.items()
                       if pool == pool_key]
        return sorted(holders, key=lambda holder: holder.claimed_at)

    def _claim_concurrency_slots(
        self, run_id: str, step_key: str, pools: Sequence[tuple[str, int]]
    ) -> ConcurrencyClaimStatus:
        now = time.time_ns()
        with self._lock:
            self._expire_pools(now)
            limits = {}
            for pool_key, _ in pools:
                if pool_key not in self._pool_limit_rows:
                    self._pool_limit_rows[pool_key] = (-1, DEFAULT_LEASE_SECONDS)
                limits[pool_key] = self._pool_limit_rows[pool_key][0]
            claimed: dict[str, int] = {}
            for (pool, run, step), (slots, _, _) in self._pool_claims.items():
                if pool in limits and (run, step) != (run_id, step_key):
                    claimed[pool] = claimed.get(pool, 0) + slots
            reason = blocked(limits, claimed, list(pools))
            if reason is None:
                for pool_key, slots in pools:
                    lease = self._pool_limit_rows[pool_key][1]
                    previous = self._pool_claims.get((pool_key, run_id, step_key))
                    claimed_at = previous[1] if previous is not None else now
                    self._pool_claims[(pool_key, run_id, step_key)] = (slots, claimed_at, now + int(lease * 1e9))
                    self._pool_pending.pop((pool_key, run_id, step_key), None)
                return ConcurrencyClaimStatus("claimed")
            position = 1
            for pool_key, slots in pools:
                lease = self._pool_limit_rows[pool_key][1]
                previous = self._pool_pending.get((pool_key, run_id, step_key))
                since = previous[1] if previous is not None else now
                self._pool_pending[(pool_key, run_id, step_key)] = (slots, since, now + int(lease * 1e9))
            first_blocked = reason.pools[0].pool_key
            mine = self._pool_pending[(first_blocked, run_id, step_key)][1]
            position += sum(1 for (pool, _, _), (_, since, _) in self._pool_pending.items()
                            if pool == first_blocked and since < mine)
            return ConcurrencyClaimStatus("pending", position, reason)

    def _free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        with self._lock:
            for table in (self._pool_claims, self._pool_pending):
                for key in [key for key in table if key[1] == run_id and key[2] == step_key]:
                    del table[key]

    def _free_concurrency_slots_for_run(self, run_id: str) -> None:
        with self._lock:
            for table in (self._pool_claims, self._pool_pending):
                for key in [key for key in table if key[1] == run_id]:
                    del table[key]

    def _renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        now = time.time_ns()
        renewed = False
        with self._lock:
            self._expire_pools(now)
            for key, (slots, claimed_at, _) in list(self._pool_claims.items()):
                if key[1] == run_id and key[2] == step_key:
                    lease = self._pool_limit_rows.get(key[0], (-1, DEFAULT_LEASE_SECONDS))[1]
                    self._pool_claims[key] = (slots, claimed_at, now + int(lease * 1e9))
                    renewed = True
        return renewed

    def _free_expired_leases(self) -> int:
        with self._lock:
            return self._expire_pools(time.time_ns())

    # -- partition status, backfills, automation, leases ---------------------

    def _partition_status(self, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
        with self._lock:
            return {
                key: PartitionStatusRanges.from_json(self._partition_status_by_asset[key].to_json())
                for key in asset_keys
                if key in self._partition_status_by_asset
            }

    def _update_partition_status(
        self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
    ) -> None:
        with self._lock:
            current = self._partition_status_by_asset.get(asset_key)
            copy = PartitionStatusRanges() if current is None else PartitionStatusRanges.from_json(current.to_json())
            self._partition_status_by_asset[asset_key] = update(copy)

    def _put_backfill(self, backfill: StoredBackfill) -> None:
        with self._lock:
            existing = self._backfill_rows.pop(backfill.backfill_id, None)
            if existing is not None:
                backfill = backfill.evolve(
                    created=existing.created, cancel_requested=existing.cancel_requested or backfill.cancel_requested
                )
            self._backfill_rows[backfill.backfill_id] = backfill
            if existing is not None:  # keep creation order
                rows = sorted(self._backfill_rows.values(), key=lambda row: row.created)
                self._backfill_rows = {row.backfill_id: row for row in rows}

    def _get_backfill(self, backfill_id: str) -> StoredBackfill | None:
        with self._lock:
            return self._backfill_rows.get(backfill_id)

    def _backfills(self, status: str | None, limit: int | None) -> list[StoredBackfill]:
        with self._lock:
            rows = [row for row in self._backfill_rows.values() if status is None or row.status == status]
        return rows if limit is None else rows[max(0, len(rows) - limit):]

    def _request_backfill_cancel(self, backfill_id: str) -> bool:
        with self._lock:
            existing = self._backfill_rows.get(backfill_id)
            if existing is None:
                return False
            self._backfill_rows[backfill_id] = existing.evolve(cancel_requested=True)
            return True

    def _put_tick(self, tick: StoredTick) -> None:
        with self._lock:
            self._tick_rows.setdefault(tick.automation_name, {})[tick.id] = tick

    def _ticks(self, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
        with self._lock:
            ticks = list(self._tick_rows.get(automation_name, {}).values())
        ticks = [tick for tick in ticks if before is None or tick.timestamp < before]
        ticks.sort(key=lambda tick: tick.timestamp, reverse=True)
        return ticks[:limit]

    def _prune_ticks(self, automation_name: str, keep: int) -> int:
        with self._lock:
            ticks = self._tick_rows.get(automation_name, {})
            newest = sorted(ticks.values(), key=lambda tick: tick.timestamp, reverse=True)
            for tick in newest[keep:]:
                del ticks[tick.id]
            return max(0, len(newest) - keep)

    def _set_automation_cursor(self, automation_name: str, cursor: str | None) -> None:
        with self._lock:
            if cursor is None:
                self._cursor_rows.pop(automation_name, None)
            else:
                self._cursor_rows[automation_name] = cursor

    def _automation_cursor(self, automation_name: str) -> str | None:
        with self._lock:
            return self._cursor_rows.get(automation_name)

    def _acquire_lease(self, name: str, owner: str, duration_s: float) -> Lease | None:
        now = time.time_ns()
        with self._lock:
            current = self._lease_rows.get(name)
            if current is not None and current.expires_at > now and current.owner != owner:
                return None
            acquired = current.acquired_at if current is not None and current.owner == owner and (
                current.expires_at > now) else now
            lease = Lease(name, owner, acquired, now + int(duration_s * 1e9))
            self._lease_rows[name] = lease
            return lease

    def _release_lease(self, name: str, owner: str) -> bool:
        with self._lock:
            current = self._lease_rows.get(name)
            if current is None or current.owner != owner or current.expires_at <= time.time_ns():
                return False
            del self._lease_rows[name]
            return True

    def _get_lease(self, name: str) -> Lease | None:
        with self._lock:
            current = self._lease_rows.get(name)
        return current if current is not None and current.expires_at > time.time_ns() else None

    # -- public queries ---------------------------------------------------

    def get_events_for_run(self, run_id: str) -> list[StoredEvent]:
        with self._lock:
            return list(self._events_by_run.get(run_id, ()))

    def get_run_logs(self, run_id: str) -> list[StoredLog]:
        with self._lock:
            return list(self._logs_by_run.get(run_id, ()))

    def get_asset_record(self, asset_key: str) -> AssetRecord | None:
        with self._lock:
            return self._assets.get(asset_key)

    def get_asset_records(self) -> list[AssetRecord]:
        with self._lock:
            return list(self._assets.values())

    def get_run(self, run_id: str) -> RunRecord | None:
        with self._lock:
            entry = self._run_entries.get(run_id)
        return None if entry is None else entry[1]

    # -- run monitoring ---------------------------------------------------------

    def _put_run_monitor(self, record: RunMonitor) -> None:
        with self._lock:
            self._monitors[record.run_id] = record

    def _run_monitors(self, run_ids: Sequence[str]) -> dict[str, RunMonitor]:
        with self._lock:
            return {run_id: self._monitors[run_id] for run_id in run_ids if run_id in self._monitors}

    def _heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        with self._lock:
            for run_id in run_ids:
                monitor = self._monitors.get(run_id)
                if monitor is not None:
                    self._monitors[run_id] = monitor.evolve(heartbeat=timestamp)

    def _claim_queued_runs(self, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None) -> list[RunRecord]:
        wanted = None if run_ids is None else set(run_ids)
        with self._lock:
            queued = [entry for entry in self._run_entries.values()
                      if entry[1].status == "Queued" and (wanted is None or entry[1].run_id in wanted)]
            queued.sort(key=lambda entry: (-entry[1].priority, entry[1].start_time, entry[0]))
            claimed = []
            for sequence, record in queued[:limit]:
                record = record.evolve(status="Started")
                self._run_entries[record.run_id] = (sequence, record)
                self._monitors[record.run_id] = owner.evolve(run_id=record.run_id)
                claimed.append(record)
            return claimed

    def _fail_dead_run(self, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
        with self._lock:
            entry = self._run_entries.get(run_id)
            if entry is None or entry[1].status not in ("Started", "Queued"):
                return False
            monitor = self._monitors.get(run_id)
            if not same_owner_sign(monitor, judged):
                return False
            self._run_entries[run_id] = (entry[0], entry[1].evolve(status="Failure", end_time=end_time))
            self._monitors[run_id] = (monitor or RunMonitor(run_id)).evolve(end_reason=PROCESS_DIED)
            return True

    def kv_get(self, key: str) -> bytes | None:
        with self._lock:
            return self._kv.get(key)

    def delete_dynamic_partition(self, name: str, key: str) -> None:
        with self._lock:
            self._dynamic.get(name, {}).pop(key, None)

    def request_cancellation(self, run_id: str) -> None:
        with self._lock:
            self._cancelled.add(run_id)

    def is_cancelled(self, run_id: str) -> bool:
        with self._lock:
            return run_id in self._cancelled


def _run_matches(record: RunRecord, query: RunQuery) -> bool:
    """Whether ``record`` passes every filter of ``query`` (the cursor and limit aside)."""
    if query.statuses is not None and record.status not in query.statuses:
        return False
    if query.job_name is not None and record.job_name != query.job_name:
        return False
    if query.started_after is not None and record.start_time < query.started_after:
        return False
    if query.started_before is not None and record.start_time >= query.started_before:
        return False
    if query.launched_by is not None:
        kind, reference = record.launched_by.to_stored()
        if kind != query.launched_by or (query.launched_by_ref is not None and reference != query.launched_by_ref):
            return False
    if query.tags:
        tags = set(map(tuple, record.tags))
        if not all(tuple(pair) in tags for pair in query.tags):
            return False
    return True
