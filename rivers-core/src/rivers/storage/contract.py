"""The storage contract: what a storage backend implements, grouped by capability.

A backend is a subclass of :class:`rivers.Storage` that implements the
methods of the protocols below for each capability it declares, and says
so in two class attributes::

    class MyStorage(rivers.Storage):
        contract_version = rivers.storage.contract.CONTRACT_VERSION
        capabilities = frozenset({Capability.RUNS, Capability.EVENTS, ...})

:class:`rivers.Storage` is the layer above the backends: it validates
arguments, computes staleness and the asset catalogue, pages the read API
and provides the ``async_*`` wrappers, once for every backend. Methods with
a leading underscore are engine-facing: the executor, ``resolve()``, the
backfill runner and the daemon call them, users don't; a backend implements
them. Backend methods receive validated arguments.

When a store is opened through :meth:`rivers.Storage.connect` (and when a
repository binds it), :func:`check_backend` verifies the declared contract
version and capabilities: a backend lacking a capability rivers needs, or
declaring one without implementing its methods, is rejected with
:class:`StorageContractError` naming the backend and what it lacks. A
capability method a backend does not implement raises
:class:`StorageCapabilityError` when called.

Capabilities (the :class:`Capability` values are plain strings):

=================== ========== ================================================================
capability          required   protocol
=================== ========== ================================================================
``runs``            yes        :class:`RunStore`
``events``          yes        :class:`EventLog`
``assets``          yes        :class:`AssetStore`
``kv``              yes        :class:`KeyValueStore`
``dynamic_partitions`` yes     :class:`DynamicPartitionStore`
``partition_status`` no        :class:`PartitionStatusStore`
``pools``           no         :class:`PoolStore` (assets with ``pool=`` need it)
``backfills``       no         :class:`BackfillStore` (``repo.backfill()`` needs it)
``automation``      no         :class:`AutomationStore` (the daemon needs it)
``leases``          no         :class:`LeaseStore` (leader election)
``run_monitoring``  no         :class:`RunMonitorStore` (runs whose process died are reconciled)
=================== ========== ================================================================

Contract version rules. :data:`CONTRACT_VERSION` changes only when an
existing protocol method changes its meaning or signature, or a capability
becomes required; a backend must declare exactly this version (an older or
newer one is rejected, naming both). Adding an *optional* capability (as
``run_monitoring`` was added in version 1) keeps the version: a backend
that does not declare it keeps working without the feature (its runs are
never reconciled), and a backend that declares every
:class:`Capability` (``frozenset(Capability)``) must implement the new
methods before it passes :func:`check_backend`. A backend declaring a
capability this rivers-core does not know (written for a newer one) is
rejected, naming the capability.

Consistency rules every backend keeps (the conformance kit
:mod:`rivers.testing.storage` checks them):

* each method is atomic: a reader never sees half of an ``_append_events``
  call, and ``_kv_update``, ``_update_partition_status``, pool claims and
  lease acquisition are atomic across *processes* (one transaction, a row
  lock or an advisory lock), not only threads;
* the event cursor (``_events_after``) only grows, in commit order: an
  event committed after a reader's call never gets a cursor below what that
  reader was given (a server backend may need to serialise appends, e.g. with
  a table lock, for this);
* run pages are ordered newest start time first, then newest created.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypeVar

from rivers.exceptions import StorageCapabilityError, StorageContractError

if TYPE_CHECKING:
    from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
    from rivers.storage.monitor import RunMonitor
    from rivers.storage.partition_status import PartitionStatusRanges
    from rivers.storage.pools import ConcurrencyClaimStatus, PoolInfo, PoolLimit, SlotHolder
    from rivers.storage.queries import CatalogueRow, RunPage, RunQuery
    from rivers.storage.records import AssetRecord, RunRecord, StoredEvent, StoredLog

__all__ = [
    "CAPABILITY_PROTOCOLS",
    "CONTRACT_VERSION",
    "REQUIRED_CAPABILITIES",
    "AssetStore",
    "AutomationStore",
    "BackfillStore",
    "Capability",
    "DynamicPartitionStore",
    "EventLog",
    "KeyValueStore",
    "LeaseStore",
    "PartitionStatusStore",
    "PoolStore",
    "RunMonitorStore",
    "RunStore",
    "StorageCapabilityError",
    "StorageContractError",
    "capability_methods",
    "check_backend",
    "is_implemented",
    "missing_methods",
    "require_capability",
    "unsupported",
]

#: The contract version this rivers-core implements. A backend declares the
#: version it was written for; rivers accepts backends of its own major version.
CONTRACT_VERSION: Final = 1


class Capability(str, enum.Enum):
    """A group of storage methods a backend may implement (compare with plain strings)."""

    RUNS = "runs"
    EVENTS = "events"
    ASSETS = "assets"
    KV = "kv"
    DYNAMIC_PARTITIONS = "dynamic_partitions"
    PARTITION_STATUS = "partition_status"
    POOLS = "pools"
    BACKFILLS = "backfills"
    AUTOMATION = "automation"
    LEASES = "leases"
    RUN_MONITORING = "run_monitoring"

    def __str__(self) -> str:
        return self.value


#: What rivers needs of every backend (a run cannot be recorded without them).
REQUIRED_CAPABILITIES: Final = frozenset(
    {Capability.RUNS, Capability.EVENTS, Capability.ASSETS, Capability.KV, Capability.DYNAMIC_PARTITIONS}
)


_T = TypeVar("_T")


# ----------------------------------------------------------------------
# Protocols, one per capability
# ----------------------------------------------------------------------

if TYPE_CHECKING:
    from typing import Protocol as CapabilityProtocol
else:

    class CapabilityProtocol:
        """The base of the capability protocols at run time: a plain class.

        Type checkers see :class:`typing.Protocol` (so a backend whose method
        differs from its protocol is an incompatible override, see
        ``BackendMethods``); at run time the protocols only document the
        methods and give :class:`rivers.Storage` its defaults, and building
        eleven ``Protocol`` classes cost every first run about 0.35 ms.
        """

        __slots__ = ()


class RunStore(CapabilityProtocol):
    """Capability ``runs``: run records, their outcome and cancellation flags."""

    def _create_run(self, record: RunRecord) -> None:
        """Insert a run, or replace every field of the existing run with the same id (a replaced run is newest)."""

    def _start_run(self, record: RunRecord) -> None:
        """Record a run that starts executing now; defaults to ``_create_run`` (a backend may defer the write)."""

    def _update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        node_names: Sequence[str] | None = None,
    ) -> None:
        """Change the given fields of a run; an unknown run raises :class:`StorageError` ``Run '<id>' not found``."""

    def get_run(self, run_id: str) -> RunRecord | None:
        """The run ``run_id``, or ``None`` (:class:`rivers.Storage` reconciles it: see :class:`RunMonitorStore`)."""

    def _query_runs(self, query: RunQuery) -> RunPage:
        """One page of the runs matching ``query``, newest first; O(page), not O(runs).

        ``query.cursor`` is ``None`` or a ``next_cursor`` this backend
        returned; ``next_cursor`` is ``None`` when no further run matches.
        """

    def _store_run_outcome(
        self, run_id: str, run_status: str, completed_steps: int, total_steps: int, message: str | None, end_time: int
    ) -> None:
        """Store a run's progress and outcome, and set its status (and end time if unset)."""

    def _stored_progress(self, run_id: str) -> tuple[int, int] | None:
        """``(completed_steps, total_steps)`` stored by ``_store_run_outcome``, or ``None``."""

    def _completed_steps(self, run_id: str) -> set[str]:
        """Step keys with a ``StepSuccess`` event in run ``run_id`` (used to resume runs)."""

    def request_cancellation(self, run_id: str) -> None:
        """Ask the executor running ``run_id`` to stop before its next step."""

    def is_cancelled(self, run_id: str) -> bool:
        """Whether cancellation of ``run_id`` was requested."""


class EventLog(CapabilityProtocol):
    """Capability ``events``: the append-only event log and captured step logs."""

    def _append_events(self, events: Sequence[StoredEvent]) -> None:
        """Append a batch of events atomically, oldest first, with their derived state.

        ``Materialization`` updates the asset record's ``last_*`` fields and
        the latest materialization of ``(asset_key, partition_key)``;
        ``Observation`` updates ``last_event_id``, ``last_run_id``,
        ``last_timestamp`` and ``last_data_version`` only. An event of an
        asset without a record creates one with empty declared fields.
        """

    def _append_logs(self, logs: Sequence[StoredLog]) -> None:
        """Append captured step logs."""

    def _batch(self) -> contextlib.AbstractContextManager[None]:
        """Context inside which appends may be queued and stored together (default: no queueing)."""

    def get_events_for_run(self, run_id: str) -> list[StoredEvent]:
        """Every event of ``run_id``, oldest first."""

    def get_run_logs(self, run_id: str) -> list[StoredLog]:
        """Captured logs of ``run_id``, oldest first."""

    def _events_for_asset(self, asset_key: str, limit: int) -> list[StoredEvent]:
        """At most ``limit`` events of ``asset_key``, newest first."""

    def _events_after(
        self, cursor: int, limit: int, run_id: str | None, event_types: Sequence[str] | None
    ) -> list[tuple[int, StoredEvent]]:
        """At most ``limit`` ``(cursor, event)`` pairs stored after ``cursor``, oldest first; O(result).

        Cursors are positive integers that grow in commit order; ``0`` is
        before the first event. ``run_id`` / ``event_types`` narrow the result.
        """


    def wait_for_events(self, cursor: int, timeout: float = 10.0) -> bool:
        """Block until an event is stored after ``cursor`` or ``timeout`` seconds pass; whether one was.

        :class:`rivers.Storage` polls ``_events_after``; a backend with
        notifications (PostgreSQL ``LISTEN``) may override it.
        """


class AssetStore(CapabilityProtocol):
    """Capability ``assets``: asset records, topology and the latest materialization per asset and partition."""

    def _register_assets(self, records: Sequence[AssetRecord]) -> None:
        """Upsert the declared fields (tags, kinds, group, code_version, pool); ``last_*`` fields are kept."""

    def _register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        """Record each node's upstream nodes (replacing earlier entries of those nodes)."""

    def _topology(self) -> dict[str, list[str]]:
        """The registered ``{node: [upstream nodes]}``."""

    def get_asset_record(self, asset_key: str) -> AssetRecord | None:
        """The record of ``asset_key``, or ``None``."""

    def get_asset_records(self) -> list[AssetRecord]:
        """Every asset record, in registration order."""

    def _latest_materialization(self, asset_key: str, partition: str | None) -> StoredEvent | None:
        """Latest Materialization of ``asset_key`` for stored partition text ``partition`` (``None``: any)."""

    def _materialized_partitions(self, asset_key: str) -> list[str]:
        """Stored partition texts of ``asset_key`` with a materialization, first-materialized first."""

    def _catalogue_rows(self, asset_keys: Sequence[str] | None) -> list[CatalogueRow]:
        """Per asset (all, or those of ``asset_keys``, registration order): record, latest
        materialization and number of materialized partitions, in O(assets)."""


class KeyValueStore(CapabilityProtocol):
    """Capability ``kv``: raw bytes under string keys."""

    def kv_get(self, key: str) -> bytes | None:
        """The bytes under ``key``, or ``None``."""

    def _kv_put(self, key: str, value: bytes) -> None:
        """Store ``value`` under ``key``."""

    def _kv_put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store every ``(key, value)`` of ``items`` (distinct keys) in one atomic write: a reader sees all or none.

        Optional: :class:`rivers.Storage`'s default stores them one ``_kv_put``
        at a time (not atomic, one transaction each); a backend overrides it
        with one transaction.
        """

    def _kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None:
        """Replace the value under ``key`` with ``update(value or None)`` atomically across processes."""


class DynamicPartitionStore(CapabilityProtocol):
    """Capability ``dynamic_partitions``: named, ordered sets of partition keys."""

    def _insert_dynamic_partitions(self, name: str, keys: Sequence[str]) -> None:
        """Create namespace ``name`` if needed and append the keys it lacks, in order."""

    def _dynamic_partitions(self, name: str) -> list[str] | None:
        """Keys of ``name`` in insertion order; ``None`` when the namespace was never created."""

    def delete_dynamic_partition(self, name: str, key: str) -> None:
        """Remove ``key`` from ``name``; nothing happens when it is missing."""


class PartitionStatusStore(CapabilityProtocol):
    """Capability ``partition_status``: each asset's partition statuses as ranges of positions."""

    def _partition_status(self, asset_keys: Sequence[str]) -> dict[str, PartitionStatusRanges]:
        """The stored ranges of each of ``asset_keys`` that has any."""

    def _update_partition_status(
        self, asset_key: str, update: Callable[[PartitionStatusRanges], PartitionStatusRanges]
    ) -> None:
        """Replace the asset's ranges (empty when none) with ``update(ranges)``, atomically across processes."""


class PoolStore(CapabilityProtocol):
    """Capability ``pools``: concurrency pools, slot claims as leases (see :mod:`rivers.storage.pools`)."""

    def _set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        """Upsert ``(pool_key, limit, lease_seconds or None: keep/default)``; ``only_missing`` keeps existing ones."""

    def _pool_limits(self) -> list[PoolLimit]:
        """Every configured pool."""

    def _pool_infos(self, pool_key: str | None) -> list[PoolInfo]:
        """Live counters of every pool, or of ``pool_key`` only (``[]`` when unknown)."""

    def _pool_holders(self, pool_key: str) -> list[SlotHolder]:
        """Unexpired claims of ``pool_key``, oldest first."""

    def _claim_concurrency_slots(
        self, run_id: str, step_key: str, pools: Sequence[tuple[str, int]]
    ) -> ConcurrencyClaimStatus:
        """Claim the step's slots in all its pools at once (atomic across processes), or queue it as pending."""

    def _free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        """Drop the step's claims and pending entries."""

    def _free_concurrency_slots_for_run(self, run_id: str) -> None:
        """Drop every claim and pending entry of the run."""

    def _renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        """Extend the step's claims by their pools' lease; ``False`` when it holds none."""

    def _free_expired_leases(self) -> int:
        """Drop expired claims and pending entries; how many claims were dropped."""


class BackfillStore(CapabilityProtocol):
    """Capability ``backfills``: backfills as first-class records."""

    def _put_backfill(self, backfill: StoredBackfill) -> None:
        """Insert or replace a backfill (its ``cancel_requested`` flag is kept when set)."""

    def _get_backfill(self, backfill_id: str) -> StoredBackfill | None:
        """The backfill ``backfill_id``, or ``None``."""

    def _backfills(self, status: str | None, limit: int | None) -> list[StoredBackfill]:
        """Backfills (of ``status``), oldest created first, at most ``limit`` (newest ones) when given."""

    def _request_backfill_cancel(self, backfill_id: str) -> bool:
        """Set the backfill's ``cancel_requested``; ``False`` when it does not exist."""


class AutomationStore(CapabilityProtocol):
    """Capability ``automation``: the daemon's ticks and each automation's cursor."""

    def _put_tick(self, tick: StoredTick) -> None:
        """Insert or replace (same ``id``) a tick."""

    def _ticks(self, automation_name: str, limit: int, before: int | None) -> list[StoredTick]:
        """Ticks of ``automation_name``, newest first, with ``timestamp < before`` when given."""

    def _set_automation_cursor(self, automation_name: str, cursor: str | None) -> None:
        """Store (``None``: delete) the automation's cursor."""

    def _automation_cursor(self, automation_name: str) -> str | None:
        """The automation's cursor, or ``None``."""

    def _prune_ticks(self, automation_name: str, keep: int) -> int:
        """Delete all but the newest ``keep`` ticks of ``automation_name``; how many were deleted."""


class LeaseStore(CapabilityProtocol):
    """Capability ``leases``: named leases for leader election (atomic across processes)."""

    def _acquire_lease(self, name: str, owner: str, duration_s: float) -> Lease | None:
        """Take or renew lease ``name`` for ``owner`` for ``duration_s`` seconds.

        Succeeds when nobody holds it, its holder's lease expired, or
        ``owner`` holds it (renewal keeps ``acquired_at``); returns the lease,
        or ``None`` when another owner holds an unexpired lease.
        """

    def _release_lease(self, name: str, owner: str) -> bool:
        """Give lease ``name`` up if ``owner`` holds it; whether it did."""

    def _get_lease(self, name: str) -> Lease | None:
        """The unexpired lease ``name``, or ``None``."""


class RunMonitorStore(CapabilityProtocol):
    """Capability ``run_monitoring``: who runs each run, its heartbeat, and reconciling runs whose process died.

    One :class:`~rivers.storage.monitor.RunMonitor` per monitored run, next
    to the run record. The run launcher writes it once a run has been going
    for a moment and renews its heartbeat; :class:`rivers.Storage` judges
    liveness (:func:`rivers.storage.monitor.owner_alive`) and calls
    :meth:`_fail_dead_run` for each run it finds dead, in ``get_run``,
    ``get_runs``, ``query_runs`` and ``reconcile_runs``.
    """

    def _put_run_monitor(self, record: RunMonitor) -> None:
        """Insert the monitor record of ``record.run_id``, or replace every field of the existing one."""

    def _run_monitors(self, run_ids: Sequence[str]) -> dict[str, RunMonitor]:
        """The monitor records of those of ``run_ids`` that have one; O(len(run_ids))."""

    def _heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        """Set the ``heartbeat`` of the monitor records of ``run_ids`` (runs without one are left alone)."""

    def _fail_dead_run(self, run_id: str, judged: RunMonitor | None, end_time: int) -> bool:
        """Mark run ``run_id`` failed because its process died, atomically across processes; whether it did.

        Only when the run is still ``Started`` or ``Queued`` and its monitor
        record still has the ``pid`` and ``heartbeat`` of ``judged`` (the
        record the caller judged dead; ``None``: no record, or one without
        pid and heartbeat): set the run's status to ``Failure`` and its end
        time to ``end_time``, and the monitor's ``end_reason`` to
        ``"process died"`` (creating a record with only that when there is
        none). Of several readers reconciling the same run at once, exactly
        one gets ``True``; a run that was resumed meanwhile is left alone.
        """

    def _claim_queued_runs(self, limit: int, owner: RunMonitor, run_ids: Sequence[str] | None) -> list[RunRecord]:
        """Claim up to ``limit`` ``Queued`` runs (only among ``run_ids`` when given) for ``owner``; the claimed runs.

        Highest ``priority`` first, then oldest. In one transaction each
        claimed run's status becomes ``Started`` and its monitor record
        ``owner`` (with the run's id), so a claimer that dies is reconciled
        like any dead owner. A run is returned to one caller only, across
        processes; a server backend skips the rows another claimer holds
        (PostgreSQL: ``FOR UPDATE SKIP LOCKED``) instead of waiting for them.
        Returned in claim order, with status ``Started``.
        """


if TYPE_CHECKING:

    class BackendMethods(RunStore, EventLog, AssetStore, KeyValueStore, DynamicPartitionStore, PartitionStatusStore,
                         PoolStore, BackfillStore, AutomationStore, LeaseStore, RunMonitorStore, CapabilityProtocol):
        """Every capability's methods: what type checkers see on :class:`rivers.Storage` (at run time
        ``Storage`` gets a default raising :class:`StorageCapabilityError` for each one a backend lacks)."""


#: The protocol of each capability.
CAPABILITY_PROTOCOLS: Final[Mapping[Capability, type]] = {
    Capability.RUNS: RunStore,
    Capability.EVENTS: EventLog,
    Capability.ASSETS: AssetStore,
    Capability.KV: KeyValueStore,
    Capability.DYNAMIC_PARTITIONS: DynamicPartitionStore,
    Capability.PARTITION_STATUS: PartitionStatusStore,
    Capability.POOLS: PoolStore,
    Capability.BACKFILLS: BackfillStore,
    Capability.AUTOMATION: AutomationStore,
    Capability.LEASES: LeaseStore,
    Capability.RUN_MONITORING: RunMonitorStore,
}

#: Protocol methods with a working default in :class:`rivers.Storage` (a backend may override them).
_OPTIONAL_METHODS: Final = frozenset({"_start_run", "_batch", "wait_for_events", "_kv_put_many"})


def capability_methods(capability: Capability | str) -> tuple[str, ...]:
    """The method names a backend implements for ``capability``."""
    protocol = CAPABILITY_PROTOCOLS[Capability(capability)]
    return tuple(name for name, value in vars(protocol).items() if callable(value) and not name.startswith("__"))


# ----------------------------------------------------------------------
# Defaults for methods a backend does not implement, and the check
# ----------------------------------------------------------------------


def unsupported(capability: Capability, method: Callable[..., _T]) -> Callable[..., _T]:
    """A default for a capability method: raises :class:`StorageCapabilityError` naming backend and capability."""
    name = method.__name__

    def default(self: object, *args: object, **kwargs: object) -> _T:
        raise StorageCapabilityError(
            f"storage backend {type(self).__name__} does not support {capability.value!r} "
            f"(it does not implement {name}); use a backend with this capability, e.g. Storage.embedded(path)"
        )

    # what functools.wraps would copy, for help() and inspect.signature (wraps costs more at import)
    default.__name__ = name
    default.__qualname__ = method.__qualname__
    default.__doc__ = method.__doc__
    default.__wrapped__ = method  # type: ignore[attr-defined]
    default.__rivers_unsupported__ = capability  # type: ignore[attr-defined]
    return default


def is_implemented(backend_class: type, name: str) -> bool:
    """Whether ``backend_class`` has a real implementation of method ``name`` (not the unsupported default)."""
    method = getattr(backend_class, name, None)
    return method is not None and getattr(method, "__rivers_unsupported__", None) is None


def missing_methods(backend_class: type, capability: Capability | str) -> list[str]:
    """The methods of ``capability`` that ``backend_class`` does not implement."""
    return [
        name
        for name in capability_methods(capability)
        if name not in _OPTIONAL_METHODS and not is_implemented(backend_class, name)
    ]


_checked: dict[type, None] = {}


def check_backend(
    backend: object, *, name: str | None = None, required: frozenset[Capability] = REQUIRED_CAPABILITIES
) -> None:
    """Verify that ``backend`` implements the contract version and the ``required`` capabilities.

    :raises StorageContractError: naming the backend (``name``, e.g. its URL
        scheme, or its class) and what it lacks: an incompatible or missing
        ``contract_version``, an undeclared required capability, an unknown
        capability, or a declared capability whose methods are missing.
    """
    backend_class = type(backend)
    if required is REQUIRED_CAPABILITIES and backend_class in _checked:
        return
    label = f"storage backend {backend_class.__module__}.{backend_class.__qualname__}"
    if name is not None:
        label += f" (scheme {name!r})"
    version = getattr(backend_class, "contract_version", None)
    if isinstance(version, bool) or not isinstance(version, int):
        raise StorageContractError(
            f"{label} declares no storage contract version; set the class attribute "
            f"contract_version = {CONTRACT_VERSION} (rivers.storage.contract.CONTRACT_VERSION)"
        )
    if version != CONTRACT_VERSION:
        relation = "newer" if version > CONTRACT_VERSION else "older"
        raise StorageContractError(
            f"{label} implements storage contract version {version}, {relation} than the version "
            f"{CONTRACT_VERSION} of this rivers-core; install a matching version of the backend or of rivers-core"
        )
    declared = getattr(backend_class, "capabilities", None)
    if not isinstance(declared, (frozenset, set, tuple, list)):
        raise StorageContractError(
            f"{label} declares no capabilities; set the class attribute capabilities = frozenset({{...}}) "
            "of rivers.storage.contract.Capability values"
        )
    known = {capability.value for capability in Capability}
    unknown = sorted(str(item) for item in declared if str(item) not in known)
    if unknown:
        raise StorageContractError(
            f"{label} declares unknown capabilities {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(known))}"
        )
    declared_set = {Capability(str(item)) for item in declared}
    lacking = sorted(capability.value for capability in required - declared_set)
    if lacking:
        raise StorageContractError(
            f"{label} lacks the required storage capabilities {', '.join(map(repr, lacking))}; "
            "a backend must implement (and declare) every capability rivers needs to record runs"
        )
    problems = []
    for capability in sorted(declared_set, key=lambda item: item.value):
        missing = missing_methods(backend_class, capability)
        if missing:
            problems.append(f"{capability.value!r} ({', '.join(missing)})")
    if problems:
        raise StorageContractError(
            f"{label} declares capabilities it does not implement: {'; '.join(problems)}; "
            "implement those methods or drop the capability from its declaration"
        )
    if required is REQUIRED_CAPABILITIES:
        _checked[backend_class] = None


def require_capability(backend: object, capability: Capability, feature: str) -> None:
    """Raise :class:`StorageCapabilityError` unless ``backend`` declares ``capability`` (``feature`` needs it)."""
    declared = getattr(type(backend), "capabilities", ())
    if capability not in {Capability(str(item)) for item in declared if str(item) in _VALUES}:
        raise StorageCapabilityError(
            f"{feature} needs the storage capability {capability.value!r}, which storage backend "
            f"{type(backend).__name__} does not have; use a backend that has it, e.g. Storage.embedded(path)"
        )


_VALUES: Final = frozenset(capability.value for capability in Capability)
