"""The engine-facing side of :class:`rivers.Storage`: what the run engine, ``resolve()`` and backfills write.

The backends implement the primitives of :mod:`rivers.storage.contract`
under underscore names (``_create_run``, ``_append_events``, ...): that is
the backend protocol. Code outside the storage layer (the executor, the run
launcher, the repository, the backfill runner) calls these public methods
instead; each delegates to its primitive (which :class:`rivers.Storage`
wraps with its run-write checks), so a backend never overrides them. Users rarely need them: they are how
the engine records runs, not a query API.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import contextlib

    from rivers.storage.control_records import StoredBackfill
    from rivers.storage.monitor import RunMonitor
    from rivers.storage.pools import ConcurrencyClaimStatus
    from rivers.storage.records import AssetRecord, RunRecord, StoredEvent, StoredLog

__all__ = ["EngineApi"]


class EngineApi:
    """Mixin of :class:`rivers.Storage`: engine-facing writes, each delegating to its backend primitive."""

    # -- runs ------------------------------------------------------------------------

    def create_run(self, record: RunRecord) -> None:
        """Insert ``record`` (or replace the run with its id): a queued or submitted run."""
        self._create_run(record)  # type: ignore[attr-defined]

    def start_run(self, record: RunRecord) -> None:
        """Record a run that starts executing now (a backend may defer the write for a few milliseconds)."""
        self._start_run(record)  # type: ignore[attr-defined]

    def update_run(self, run_id: str, *, status: str | None = None, end_time: int | None = None,
                   node_names: Sequence[str] | None = None) -> None:
        """Change the given fields of run ``run_id``; an unknown run raises :class:`~rivers.exceptions.StorageError`."""
        self._update_run(run_id, status=status, end_time=end_time, node_names=node_names)  # type: ignore[attr-defined]

    def completed_steps(self, run_id: str) -> set[str]:
        """Step keys that succeeded in run ``run_id`` (what resuming it skips)."""
        steps: set[str] = self._completed_steps(run_id)  # type: ignore[attr-defined]
        return steps

    # -- events ----------------------------------------------------------------------

    def append_events(self, events: Sequence[StoredEvent]) -> None:
        """Append ``events`` to the event log, all or nothing."""
        self._append_events(events)  # type: ignore[attr-defined]

    def append_logs(self, logs: Sequence[StoredLog]) -> None:
        """Store captured step logs."""
        self._append_logs(logs)  # type: ignore[attr-defined]

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Context manager inside which appended events and logs may be committed together (group commit)."""
        manager: contextlib.AbstractContextManager[None] = self._batch()  # type: ignore[attr-defined]
        return manager

    # -- assets ----------------------------------------------------------------------

    def register_assets(self, records: Sequence[AssetRecord]) -> None:
        """Create or update the records of a repository's assets (their ``last_*`` fields are kept)."""
        self._register_assets(records)  # type: ignore[attr-defined]

    def register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        """Store the lineage ``asset -> its upstream assets`` (what :meth:`get_topology` reads)."""
        self._register_topology(upstream)  # type: ignore[attr-defined]

    def dynamic_partition_keys(self, name: str) -> list[str]:
        """The keys of dynamic namespace ``name`` (``[]`` when unknown, without the warning of
        :meth:`get_dynamic_partitions`)."""
        keys: list[str] | None = self._dynamic_partitions(name)  # type: ignore[attr-defined]
        return keys or []

    # -- pools -----------------------------------------------------------------------

    def set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        """Upsert ``(pool_key, limit, lease seconds or None)`` triples; ``only_missing`` keeps configured pools."""
        self._set_pool_limits(limits, only_missing=only_missing)  # type: ignore[attr-defined]

    def claim_concurrency_slots(self, run_id: str, step_key: str,
                                pools: Sequence[tuple[str, int]]) -> ConcurrencyClaimStatus:
        """Claim a step's slots in all its pools at once, or queue it as pending."""
        claim = self._claim_concurrency_slots  # type: ignore[attr-defined]
        status: ConcurrencyClaimStatus = claim(run_id, step_key, pools)
        return status

    def free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        """Drop a step's claims and pending entries."""
        self._free_concurrency_slots(run_id, step_key)  # type: ignore[attr-defined]

    def free_concurrency_slots_for_run(self, run_id: str) -> None:
        """Drop every claim and pending entry of run ``run_id``."""
        self._free_concurrency_slots_for_run(run_id)  # type: ignore[attr-defined]

    def renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        """Extend a step's claims by their pools' lease; ``False`` when it holds none."""
        renewed: bool = self._renew_slot_lease(run_id, step_key)  # type: ignore[attr-defined]
        return renewed

    # -- run monitoring ----------------------------------------------------------------

    def put_run_monitor(self, record: RunMonitor) -> None:
        """Store who runs ``record.run_id`` (host, pid, heartbeat), replacing an earlier record."""
        self._put_run_monitor(record)  # type: ignore[attr-defined]

    def heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        """Set the heartbeat of the monitored runs among ``run_ids`` to ``timestamp`` (ns)."""
        self._heartbeat_runs(run_ids, timestamp)  # type: ignore[attr-defined]

    # -- backfills ---------------------------------------------------------------------

    def put_backfill(self, backfill: StoredBackfill) -> None:
        """Create or replace the stored backfill ``backfill.backfill_id``."""
        self._put_backfill(backfill)  # type: ignore[attr-defined]

    def get_stored_backfill(self, backfill_id: str) -> StoredBackfill | None:
        """The stored backfill ``backfill_id``, or ``None`` (``CodeRepository.get_backfill`` reads its status)."""
        stored: StoredBackfill | None = self._get_backfill(backfill_id)  # type: ignore[attr-defined]
        return stored

    def get_stored_backfills(self, status: str | None = None, limit: int | None = None) -> list[StoredBackfill]:
        """Stored backfills, oldest first; only those with ``status`` when given; the newest ``limit`` when given."""
        found: list[StoredBackfill] = self._backfills(status, limit)  # type: ignore[attr-defined]
        return found

    def request_backfill_cancel(self, backfill_id: str) -> bool:
        """Flag backfill ``backfill_id`` for cancellation; whether it exists."""
        requested: bool = self._request_backfill_cancel(backfill_id)  # type: ignore[attr-defined]
        return requested
