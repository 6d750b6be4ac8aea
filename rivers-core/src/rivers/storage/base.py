"""The :class:`Storage` base class: the public ``rivers.Storage`` type and the layer above the backends.

A storage backend subclasses :class:`Storage` and implements the protocols
of :mod:`rivers.storage.contract` for the capabilities it declares.
Everything generic lives here once: argument validation, error messages,
staleness computation, the read API for tools (:mod:`rivers.storage.read_api`),
the control plane's validated methods (:mod:`rivers.storage.control_api`),
the engine-facing writes (``create_run``, ``append_events``, ... over the
backend primitives ``_create_run``, ``_append_events``, ...), the
``async_*`` wrappers and the factories.
"""

from __future__ import annotations

import abc
import contextlib
import functools
import os
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Final, TypeVar

from rivers._registry import registry
from rivers.exceptions import StorageError
from rivers.storage.contract import CAPABILITY_PROTOCOLS, Capability, capability_methods, unsupported
from rivers.storage.control_api import ControlApi
from rivers.storage.read_api import ReadApi
from rivers.storage.records import (
    RUN_OUTCOMES,
    RUN_STATUSES,
    AssetRecord,
    RunRecord,
    StaleCause,
    StorageType,
    StoredEvent,
    StoredLog,
    partition_from_stored,
    partition_to_stored,
)

if TYPE_CHECKING:
    from rivers.partitions.keys import PartitionKey
    from rivers.storage.contract import BackendMethods
    from rivers.storage.control_records import StoredBackfill
    from rivers.storage.monitor import RunMonitor
    from rivers.storage.partition_progress import ProgressChange
    from rivers.storage.pools import ConcurrencyClaimStatus, PoolInfo, PoolLimit, SlotHolder

__all__ = ["ASYNC_METHODS", "Staleness", "Storage"]

#: ``{asset_key: (status, causes)}`` as returned by ``compute_staleness()``.
Staleness = dict[str, tuple[str, list[StaleCause]]]

#: Public methods that also exist as ``async_<name>`` coroutines (the † of storage.md §3).
ASYNC_METHODS: Final = (
    "get_events_for_asset",
    "get_events_for_run",
    "get_run_logs",
    "get_latest_materialization",
    "get_asset_record",
    "get_asset_records",
    "get_assets_by_tag",
    "get_assets_by_kind",
    "get_assets_by_group",
    "get_run",
    "get_runs",
    "kv_get",
    "kv_set",
    "add_dynamic_partitions",
    "delete_dynamic_partition",
    "get_dynamic_partitions",
    "has_dynamic_partition",
    # the read API for tools
    "query_runs",
    "get_events_after",
    "get_asset_catalogue",
    "get_topology",
    "get_ticks",
)

_RESERVED_PARTITION_CHARACTERS: Final = ("|", ",")
_OUTCOME_TO_RUN_STATUS: Final = {"Success": "Success", "Failure": "Failure", "Cancelled": "Canceled"}

_T = TypeVar("_T")


def _unsupported_defaults() -> dict[str, Callable[..., Any]]:
    """A default raising ``StorageCapabilityError`` for every protocol method (a backend's own ones override them)."""
    return {
        name: unsupported(capability, getattr(protocol, name))
        for capability, protocol in CAPABILITY_PROTOCOLS.items()
        for name in capability_methods(capability)
    }


if TYPE_CHECKING:
    _BackendMethods = BackendMethods
else:
    # What type checkers see as ``BackendMethods``; at run time the unsupported defaults stand in for what a
    # backend (or Storage itself) lacks. One class made with them: setting them on Storage one by one costs more.
    _BackendMethods = type("_BackendMethods", (), {"__slots__": (), "__module__": __name__, **_unsupported_defaults()})


class Storage(ReadApi, ControlApi, _BackendMethods, abc.ABC):
    """Persists runs, events, step logs, asset records, dynamic partitions and a key-value area.

    Create one with :meth:`memory`, :meth:`embedded` or :meth:`connect`. All
    methods are synchronous and thread-safe; the ones listed in
    :data:`ASYNC_METHODS` also exist as ``async_<name>`` coroutines.
    """

    #: Reported by :attr:`type`; backends override it.
    _storage_type: StorageType = StorageType.Remote

    # ------------------------------------------------------------------
    # Factories
    # ------------------------------------------------------------------

    @staticmethod
    def memory() -> Storage:
        """Return a fresh in-memory store (every call is independent; a ``MemoryStorage``)."""
        return registry().open_memory_storage()

    @staticmethod
    def embedded(path: str | os.PathLike[str], *, commit_delay: float | None = None) -> Storage:
        """Open (or create) the embedded SQLite store at ``path``, creating parent directories.

        If ``path`` is an existing directory the database file is
        ``<path>/rivers.sqlite3`` inside it. ``commit_delay`` (seconds,
        default 0.05) is how long the records of short runs may wait to be
        committed together (group commit); ``0`` commits each write at once.
        The store is core's ``SqliteStorage``.
        """
        return registry().open_embedded_storage(path, commit_delay=commit_delay)

    @staticmethod
    def connect(url: str, **config: Any) -> Storage:
        """Open the storage backend that an installed plugin registers for the URL's scheme.

        For example ``Storage.connect("sqlite:///path/to/db")`` or
        ``Storage.connect("memory://")``; ``config`` is passed to the backend
        factory. An unknown scheme raises an error naming the installed ones.
        """
        storage: Storage = registry().connect_storage(url, **config)
        return storage

    @staticmethod
    def migrate_embedded(path: str | os.PathLike[str]) -> None:
        """Apply every pending schema migration to the embedded store at ``path`` (idempotent).

        Opening a store applies the automatic migrations by itself; this also
        applies the ones that are not automatic (what ``rivers storage
        migrate`` does). A missing file is left missing (nothing to migrate).
        """
        registry().migrate_embedded_storage(path)

    @property
    def type(self) -> StorageType:
        """Which kind of store this is: ``Memory``, ``Embedded`` or ``Remote``."""
        return self._storage_type

    def __enter__(self: _T) -> _T:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ------------------------------------------------------------------
    # The backend contract (rivers.storage.contract): every protocol method
    # without a default below raises StorageCapabilityError until a backend
    # implements it (the defaults come from the _BackendMethods base).
    # ------------------------------------------------------------------

    #: The storage contract version the backend implements (``rivers.storage.contract.CONTRACT_VERSION``).
    contract_version: ClassVar[int | None] = None
    #: The capabilities the backend implements (:class:`rivers.storage.contract.Capability` values).
    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap a backend's run writes with the argument checks of this layer, and ``get_run`` with
        reconciliation (a run whose owner died reads as failed): written once, here."""
        super().__init_subclass__(**kwargs)
        for name, check in _RUN_WRITE_CHECKS.items():
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__rivers_checked__", False):
                setattr(cls, name, _checked(method, check))
        get_run = cls.__dict__.get("get_run")
        if get_run is not None and not getattr(get_run, "__rivers_checked__", False):
            cls.get_run = _reconciling(get_run)  # type: ignore[method-assign,assignment]

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections and files. Using a closed persistent store raises :class:`StorageError`."""

    def _start_run(self, record: RunRecord) -> None:
        """Record a run that starts executing now (the executor's first write of a run).

        Defaults to :meth:`_create_run`. A backend may defer the write until
        the run's next write or read, as the embedded SQLite storage does for
        a few milliseconds so that a short run commits once.
        """
        self._create_run(record)

    def _batch(self) -> contextlib.AbstractContextManager[None]:
        """Context manager inside which ``_append_events`` and ``_append_logs`` may be queued.

        Backends with expensive commits (SQLite) queue those writes and store
        them together, at the latest when the outermost batch exits. Reads
        through the same object, and every other write, still see (or come
        after) the queued records; other processes may see them only later,
        and a crash may lose them. The default does nothing. Nesting is
        allowed.
        """
        return contextlib.nullcontext()

    def _record_partition_progress(
        self, changes: Sequence[ProgressChange], events: Sequence[StoredEvent] = ()
    ) -> None:
        """Append ``events`` and record the engine's partition progress ``changes`` (capability ``partition_status``).

        The engine calls it when a partitioned step starts (``in_progress``,
        no events) and with the events of a step that ended (``failed``, or
        cleared), see :mod:`rivers.storage.partition_progress`. This default
        appends the events, then applies the changes through
        ``_update_partition_status`` and ``_kv_update``; a backend with a
        write-behind queue overrides it to write both in one transaction.
        """
        from rivers.storage.partition_progress import record_now

        if events:
            self._append_events(events)
        record_now(self, changes)

    def _kv_put_many(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Store every ``(key, value)`` of ``items``; this default does one ``_kv_put`` each (not atomic).

        Backends override it to write them in one transaction.
        """
        for key, value in items:
            self._kv_put(key, value)

    def has_dynamic_partition(self, name: str, key: str) -> bool:
        """Whether namespace ``name`` contains ``key``."""
        return key in (self._dynamic_partitions(name) or ())

    def supports(self, capability: Capability | str) -> bool:
        """Whether this backend declares ``capability`` (a :class:`~rivers.storage.contract.Capability` or its value)."""
        declared = type(self).capabilities
        if capability in declared:
            return True
        value = str(capability)  # a plain string, or capabilities declared as strings
        return any(str(item) == value for item in declared)

    if TYPE_CHECKING:
        # Public methods of the contract's protocols that a backend implements itself; at run time a
        # backend's own method is used, or the StorageCapabilityError default installed below.
        def get_run(self, run_id: str) -> RunRecord | None: ...
        def request_cancellation(self, run_id: str) -> None: ...
        def is_cancelled(self, run_id: str) -> bool: ...
        def get_events_for_run(self, run_id: str) -> list[StoredEvent]: ...
        def get_run_logs(self, run_id: str) -> list[StoredLog]: ...
        def get_asset_record(self, asset_key: str) -> AssetRecord | None: ...
        def get_asset_records(self) -> list[AssetRecord]: ...
        def kv_get(self, key: str) -> bytes | None: ...
        def delete_dynamic_partition(self, name: str, key: str) -> None: ...

    # ------------------------------------------------------------------
    # Run monitoring (capability ``run_monitoring``, see rivers.storage.monitor
    # and contract.RunMonitorStore); without it runs are never reconciled.
    # ------------------------------------------------------------------

    def get_run_monitor(self, run_id: str) -> RunMonitor | None:
        """Owner, heartbeat, end reason and earlier attempts of run ``run_id`` (``None`` when not monitored)."""
        if not self.supports(Capability.RUN_MONITORING):
            return None
        return self._run_monitors([run_id]).get(run_id)

    def claim_queued_runs(self, limit: int = 1, run_ids: Sequence[str] | None = None) -> list[RunRecord]:
        """Claim up to ``limit`` ``Queued`` runs for this process (highest priority, then oldest first).

        Each claimed run becomes ``Started``, owned by this process (its
        monitor record); no run is ever claimed twice, whatever the number
        of processes claiming at once. ``run_ids``: claim only among those
        runs. Needs the storage capability ``run_monitoring``.
        """
        from rivers.storage.contract import require_capability
        from rivers.storage.monitor import RunMonitor, current_owner

        require_capability(self, Capability.RUN_MONITORING, "claim_queued_runs()")
        if _check_limit(limit) == 0 or (run_ids is not None and not run_ids):
            return []
        if isinstance(run_ids, str):
            raise TypeError(f"claim_queued_runs() run_ids must be a list of run ids, not a str; use [{run_ids!r}]")
        host, pid, started = current_owner()
        owner = RunMonitor("", host, pid, started, heartbeat=time.time_ns())
        return self._claim_queued_runs(limit, owner, None if run_ids is None else list(run_ids))

    def reconcile_runs(self, limit: int = 1000, run_ids: Sequence[str] | None = None) -> list[str]:
        """Mark the runs whose process died as failed (reason ``"process died"``); return their ids.

        Looks at the latest ``limit`` Started and Queued runs. A run is dead
        when its owner process is gone (same host) or its heartbeat is stale
        (another host); a Started run that never recorded an owner (it was
        killed within its first fraction of a second, or written by an older
        rivers) is dead once it started more than
        :data:`~rivers.storage.monitor.OWNERLESS_GRACE_S` ago. Its completed
        steps are kept, so ``rivers resume RUN_ID`` continues it; the
        partitions it held in progress become ``failed`` (capability
        ``partition_status``, see :mod:`rivers.storage.partition_progress`). Reads
        (:meth:`get_run`, :meth:`get_runs`) do the same for the runs they
        return that recorded an owner; ``rivers runs`` and the automation
        daemon call this. ``run_ids``: look at those runs only.
        """
        if not self.supports(Capability.RUN_MONITORING):
            return []
        if run_ids is not None:
            found = (self.get_run(run_id) for run_id in run_ids)
            candidates = [record for record in found if record is not None]
        else:
            from rivers.storage.queries import RunQuery

            query = RunQuery(statuses=("Started", "Queued"), limit=_check_limit(limit))
            candidates = self._query_runs(query).runs
        marked: list[str] = []
        self._reconciled(candidates, unowned=True, marked=marked)
        return marked

    def _reconciled(
        self, records: list[RunRecord], *, unowned: bool = False, marked: list[str] | None = None
    ) -> list[RunRecord]:
        """``records`` with every run whose owner died marked (and returned) as failed, reason "process died".

        Runs without a monitor record are judged only with ``unowned``. Each
        dead run is marked through ``_fail_dead_run``; when another reader
        marked it first (or it was resumed meanwhile) its stored record is
        returned instead. ``marked`` collects the ids of the runs this call marked.
        """
        if not self.supports(Capability.RUN_MONITORING):
            return records
        waiting = [record for record in records if record.status in ("Started", "Queued")]
        if not waiting:
            return records
        from rivers.storage.monitor import owner_alive

        monitors = self._run_monitors([record.run_id for record in waiting])
        now = time.time_ns()
        died: dict[str, RunRecord] = {}
        for record in waiting:
            monitor = monitors.get(record.run_id)
            if monitor is None or monitor.pid is None:
                if record.status == "Queued" or not unowned:
                    continue  # queued for a daemon (nobody owns it yet), or judged by reconcile_runs() only
            if owner_alive(record.start_time, monitor, now):
                continue
            last_sign = (monitor.heartbeat or monitor.attempt_start) if monitor is not None else None
            end_time = max(record.start_time, last_sign or record.start_time)
            if self._fail_dead_run(record.run_id, monitor, end_time):
                if self.supports(Capability.PARTITION_STATUS):
                    from rivers.storage.partition_progress import settle_dead_run

                    settle_dead_run(self, record.run_id)  # its in-progress partitions: failed
                died[record.run_id] = record.evolve(status="Failure", end_time=end_time)
                if marked is not None:
                    marked.append(record.run_id)
            else:  # another reader reconciled it first, or it was resumed: what is stored now
                died[record.run_id] = self.get_run(record.run_id) or record
        return [died.get(record.run_id, record) for record in records] if died else records

    # ------------------------------------------------------------------
    # Concurrency pools (see rivers.storage.pools)
    # ------------------------------------------------------------------

    def set_pool_limit(self, pool_key: str, limit: int, lease_duration: str = "5m") -> None:
        """Set (or create) pool ``pool_key`` with ``limit`` slots (``-1``: unlimited) and a claim lease.

        ``lease_duration`` is a duration like ``"5m"`` or ``"30s"``; claims
        not renewed within it stop counting (their holder crashed).
        """
        from rivers.storage.pools import parse_duration

        if not isinstance(pool_key, str) or not pool_key:
            raise StorageError(f"pool key must be a non-empty str, got {pool_key!r}")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < -1:
            raise ValueError(f"pool limit must be an int >= -1 (-1: unlimited), got {limit!r}")
        seconds = parse_duration(lease_duration, "lease_duration")
        if seconds <= 0:
            raise ValueError(f"invalid duration for 'lease_duration': {lease_duration!r} (must be positive)")
        self._set_pool_limits([(pool_key, limit, seconds)])

    def get_pool_limits(self) -> list[PoolLimit]:
        """Every configured pool with its limit and lease."""
        return self._pool_limits()

    def get_all_pool_infos(self) -> list[PoolInfo]:
        """Every pool with its live counters (slots claimed, steps waiting)."""
        return self._pool_infos(None)

    def get_pool_info(self, pool_key: str) -> PoolInfo:
        """Pool ``pool_key`` with its live counters; an unknown pool raises :class:`StorageError`."""
        infos = self._pool_infos(pool_key)
        if not infos:
            raise StorageError(f"pool '{pool_key}' not configured")
        return infos[0]

    def get_pool_slot_holders(self, pool_key: str) -> list[SlotHolder]:
        """The steps currently holding slots of ``pool_key`` (unexpired claims)."""
        return self._pool_holders(pool_key)

    # ------------------------------------------------------------------
    # Public API implemented once on top of the primitives
    # ------------------------------------------------------------------

    def get_events_for_asset(self, asset_key: str, limit: int = 100) -> list[StoredEvent]:
        """Return the latest ``limit`` events of ``asset_key``, newest first."""
        return self._events_for_asset(asset_key, _check_limit(limit))

    def get_latest_materialization(self, asset_key: str,
                                   partition: PartitionKey | str | None = None) -> StoredEvent | None:
        """Return the latest Materialization event of ``asset_key``.

        ``partition`` is the partition key (a ``PartitionKey`` or its display
        string); without it the latest materialization of any partition is
        returned. A display string with ``=`` is tried as a multi key first,
        then as a single key (``"a=b"`` is both).
        """
        event = self._latest_materialization(asset_key, partition_to_stored(partition))
        if event is None and isinstance(partition, str) and "=" in partition:
            from rivers.partitions.keys import parse_display

            event = self._latest_materialization(asset_key, parse_display(partition, multi=False).stored_text())
        return event

    def get_assets_by_tag(self, tag: str) -> list[AssetRecord]:
        """Return the records of the assets tagged ``tag``."""
        return [record for record in self.get_asset_records() if tag in record.tags]

    def get_assets_by_kind(self, kind: str) -> list[AssetRecord]:
        """Return the records of the assets of kind ``kind``."""
        return [record for record in self.get_asset_records() if kind in record.kinds]

    def get_assets_by_group(self, group: str) -> list[AssetRecord]:
        """Return the records of the assets in group ``group``."""
        return [record for record in self.get_asset_records() if record.group == group]

    def get_runs(self, limit: int = 100, status: str | None = None) -> list[RunRecord]:
        """Return the latest ``limit`` runs, newest first, optionally only those in ``status``.

        ``status`` is one of ``"Queued"``, ``"NotStarted"``, ``"Started"``,
        ``"Success"``, ``"Failure"``, ``"Canceled"``; anything else raises
        :class:`StorageError`.
        """
        if status is not None:
            _check_run_status(status)
        if _check_limit(limit) == 0:
            return []
        from rivers.storage.queries import RunQuery

        records = self._query_runs(RunQuery(statuses=None if status is None else (status,), limit=limit)).runs
        records = self._reconciled(records)
        return records if status is None else [record for record in records if record.status == status]

    def kv_set(self, key: str, value: bytes | bytearray | memoryview) -> None:
        """Store raw bytes under ``key`` (``bytes``, ``bytearray`` or ``memoryview``; ``str`` is rejected)."""
        self._kv_put(*_kv_pair("kv_set", key, value))

    def kv_set_many(self, items: Mapping[str, bytes | bytearray | memoryview]) -> None:
        """Store several values at once, in one transaction where the backend offers it (all or none visible).

        ``items`` maps each key to its bytes, checked like :meth:`kv_set`.
        Use it to persist state spread over many keys: one commit instead of
        one per key.
        """
        if not isinstance(items, Mapping):
            raise TypeError(f"kv_set_many() takes a mapping of str keys to bytes, not {type(items).__name__}")
        pairs = [_kv_pair("kv_set_many", key, value) for key, value in items.items()]
        if pairs:
            self._kv_put_many(pairs)

    def kv_update(self, key: str, update: Callable[[bytes | None], bytes]) -> None:
        """Replace the bytes under ``key`` with ``update(current bytes, or None)``, atomically across processes.

        No other writer of ``key`` comes in between (one transaction or lock):
        a counter, or a compare-and-set that returns the current value to
        leave it unchanged. ``update`` may run more than once (a backend
        retrying its transaction), so it should only compute.
        """
        if not isinstance(key, str):
            raise TypeError(f"kv_update() key must be str, not {type(key).__name__}")

        def checked(current: bytes | None) -> bytes:
            return _kv_pair("kv_update", key, update(current))[1]

        self._kv_update(key, checked)

    def add_dynamic_partitions(self, name: str, keys: Sequence[str]) -> None:
        """Add ``keys`` to the dynamic partition namespace ``name`` (idempotent, order kept).

        Keys must be non-empty strings without the reserved characters ``|``
        and ``,``; nothing is added when any key is invalid.
        """
        if isinstance(keys, str):
            raise TypeError(f"add_dynamic_partitions() keys must be a list of strings, not a str; use [{keys!r}]")
        keys = list(keys)
        if not keys:  # the namespace is still registered (it then reads back as empty, without a warning)
            import warnings

            warnings.warn(f"add_dynamic_partitions({name!r}, []): no keys given, nothing was added", UserWarning,
                          stacklevel=2)
        for key in keys:
            _check_dynamic_key(key)
        self._insert_dynamic_partitions(name, keys)

    def get_dynamic_partitions(self, name: str) -> list[str]:
        """Return the keys of namespace ``name`` in insertion order.

        An unknown namespace returns ``[]`` and emits a :class:`UserWarning`.
        """
        keys = self._dynamic_partitions(name)
        if keys is None:
            warnings.warn(
                f"No dynamic partitions found for '{name}'; "
                f"add keys with storage.add_dynamic_partitions({name!r}, [...]) first",
                UserWarning,
                stacklevel=2,
            )
            return []
        return keys

    def get_materialized_partitions(self, asset_key: str) -> list[PartitionKey]:
        """Return the partition keys of ``asset_key`` with at least one materialization."""
        return [partition_from_stored(key) for key in self._materialized_partitions(asset_key)]

    def count_materialized_partitions(self, asset_key: str) -> int:
        """Return how many partitions of ``asset_key`` were materialized at least once."""
        return len(self._materialized_partitions(asset_key))

    def set_run_outcome(
        self,
        run_id: str,
        status: str,
        completed_steps: int,
        total_steps: int,
        message: str | None = None,
    ) -> None:
        """Record how a run ended, as reported by the process or pod that ran it.

        ``status`` is ``"Success"``, ``"Failure"`` or ``"Cancelled"`` (two
        "l"); anything else raises :class:`ValueError`. The run's status
        becomes the matching run status (``"Cancelled"`` → ``"Canceled"``),
        its end time is set when missing, and :meth:`get_run_progress`
        returns ``(completed_steps, total_steps)`` from now on.
        """
        run_status = _OUTCOME_TO_RUN_STATUS.get(status) if isinstance(status, str) else None
        if run_status is None:
            expected = ", ".join(map(repr, RUN_OUTCOMES))
            raise ValueError(f"Invalid run outcome status {status!r}: expected one of {expected}")
        for label, value in (("completed_steps", completed_steps), ("total_steps", total_steps)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"set_run_outcome() {label} must be a non-negative int, got {value!r}")
        if completed_steps > total_steps:
            raise ValueError(
                f"set_run_outcome() completed_steps ({completed_steps}) exceeds total_steps ({total_steps})"
            )
        self._store_run_outcome(run_id, run_status, completed_steps, total_steps, message, time.time_ns())

    def get_run_progress(self, run_id: str) -> tuple[int, int]:
        """Return ``(completed_steps, total_steps)`` of a run.

        After :meth:`set_run_outcome` the reported numbers; before, the live
        count of succeeded steps and the number of planned steps; ``(0, 0)``
        for an unknown run.
        """
        stored = self._stored_progress(run_id)
        if stored is not None:
            return stored
        run = self.get_run(run_id)
        if run is None:
            return (0, 0)
        return (len(self._completed_steps(run_id)), len(run.node_names))

    def compute_staleness(self) -> Staleness:
        """Return ``{asset_key: (status, [StaleCause])}`` for every asset record.

        * ``"Missing"``: never materialized (nor observed).
        * ``"Stale"``: the declared code version differs from the one of the
          last materialization (cause category ``"Code"``), or an upstream
          asset is stale, or has a data version other than the one consumed
          by the last materialization (category ``"Data"``). When no consumed
          version was recorded for an upstream, an upstream updated after the
          last materialization makes the asset stale.
        * ``"UpToDate"``: otherwise.

        Upstreams come from the registered topology; missing upstreams and
        nodes without an asset record (tasks) do not make an asset stale.
        Statuses are per asset, from the latest materialization of any
        partition.
        """
        return self._staleness_over({record.asset_key: record for record in self.get_asset_records()})

    def _staleness_over(
        self, records: Mapping[str, AssetRecord], materialized: Callable[[str], bool] | None = None
    ) -> Staleness:
        """:meth:`compute_staleness` of the given ``{asset_key: record}`` (every record, already read).

        ``materialized(asset_key)`` says whether the asset was ever
        materialized (default: ask the backend, only where it matters).
        """
        topology = self._topology()
        if materialized is None:
            materialized = self._was_materialized
        result: Staleness = {}
        for asset_key in records:
            for node in _dependencies_first(asset_key, topology, records, result):
                result[node] = self._staleness_of(records[node], topology.get(node, ()), records, result, materialized)
        return result

    def _was_materialized(self, asset_key: str) -> bool:
        return self._latest_materialization(asset_key, None) is not None

    def _staleness_of(
        self,
        record: AssetRecord,
        upstreams: Sequence[str],
        records: Mapping[str, AssetRecord],
        known: Staleness,
        materialized: Callable[[str], bool],
    ) -> tuple[str, list[StaleCause]]:
        """Staleness of one asset whose upstream assets are already in ``known`` (except across a cycle)."""
        if record.last_event_id is None:
            return ("Missing", [])
        asset_key = record.asset_key
        causes: list[StaleCause] = []
        if record.code_version != record.last_materialization_code_version and materialized(asset_key):
            causes.append(StaleCause(asset_key, "Code", "code version changed"))
        consumed = dict(record.last_input_data_versions)
        for upstream in upstreams:
            upstream_record = records.get(upstream)
            if upstream_record is None or upstream_record.last_event_id is None:
                continue
            if known.get(upstream, ("",))[0] == "Stale":
                reason = f"upstream '{upstream}' is stale"
            elif upstream in consumed:
                if consumed[upstream] == upstream_record.last_data_version:
                    continue
                reason = f"upstream '{upstream}' has new data version"
            elif (upstream_record.last_timestamp or 0) > (record.last_timestamp or 0):
                reason = f"upstream '{upstream}' was updated after the last materialization"
            else:
                continue
            causes.append(StaleCause(asset_key, "Data", reason, upstream))
        return ("Stale" if causes else "UpToDate", causes)

    # ------------------------------------------------------------------
    # Engine-facing writes: what the executor, the run launcher, resolve() and
    # backfills call. Each delegates to its backend primitive (the backend
    # protocol, underscore names) so that code outside the storage layer never
    # calls those; a backend does not override these.
    # ------------------------------------------------------------------

    # -- runs ------------------------------------------------------------------------

    def create_run(self, record: RunRecord) -> None:
        """Insert ``record`` (or replace the run with its id): a queued or submitted run."""
        self._create_run(record)

    def start_run(self, record: RunRecord) -> None:
        """Record a run that starts executing now (a backend may defer the write for a few milliseconds)."""
        self._start_run(record)

    def update_run(self, run_id: str, *, status: str | None = None, end_time: int | None = None,
                   node_names: Sequence[str] | None = None) -> None:
        """Change the given fields of run ``run_id``; an unknown run raises :class:`~rivers.exceptions.StorageError`."""
        self._update_run(run_id, status=status, end_time=end_time, node_names=node_names)

    def completed_steps(self, run_id: str) -> set[str]:
        """Step keys that succeeded in run ``run_id`` (what resuming it skips)."""
        return self._completed_steps(run_id)

    # -- events ----------------------------------------------------------------------

    def append_events(self, events: Sequence[StoredEvent]) -> None:
        """Append ``events`` to the event log, all or nothing."""
        self._append_events(events)

    def append_logs(self, logs: Sequence[StoredLog]) -> None:
        """Store captured step logs."""
        self._append_logs(logs)

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Context manager inside which appended events and logs may be committed together (group commit)."""
        return self._batch()

    def record_partition_progress(self, changes: Sequence[ProgressChange], events: Sequence[StoredEvent] = ()) -> None:
        """Append ``events`` and record the partition progress ``changes`` of running steps, in one write."""
        self._record_partition_progress(changes, events)

    # -- assets ----------------------------------------------------------------------

    def register_assets(self, records: Sequence[AssetRecord]) -> None:
        """Create or update the records of a repository's assets (their ``last_*`` fields are kept)."""
        self._register_assets(records)

    def register_topology(self, upstream: Mapping[str, Sequence[str]]) -> None:
        """Store the lineage ``asset -> its upstream assets`` (what :meth:`get_topology` reads)."""
        self._register_topology(upstream)

    def dynamic_partition_keys(self, name: str) -> list[str]:
        """The keys of dynamic namespace ``name`` (``[]`` when unknown, without the warning of
        :meth:`get_dynamic_partitions`)."""
        return self._dynamic_partitions(name) or []

    # -- pools -----------------------------------------------------------------------

    def set_pool_limits(self, limits: Sequence[tuple[str, int, float | None]], *, only_missing: bool = False) -> None:
        """Upsert ``(pool_key, limit, lease seconds or None)`` triples; ``only_missing`` keeps configured pools."""
        self._set_pool_limits(limits, only_missing=only_missing)

    def claim_concurrency_slots(self, run_id: str, step_key: str,
                                pools: Sequence[tuple[str, int]]) -> ConcurrencyClaimStatus:
        """Claim a step's slots in all its pools at once, or queue it as pending."""
        return self._claim_concurrency_slots(run_id, step_key, pools)

    def free_concurrency_slots(self, run_id: str, step_key: str) -> None:
        """Drop a step's claims and pending entries."""
        self._free_concurrency_slots(run_id, step_key)

    def free_concurrency_slots_for_run(self, run_id: str) -> None:
        """Drop every claim and pending entry of run ``run_id``."""
        self._free_concurrency_slots_for_run(run_id)

    def renew_slot_lease(self, run_id: str, step_key: str) -> bool:
        """Extend a step's claims by their pools' lease; ``False`` when it holds none."""
        return self._renew_slot_lease(run_id, step_key)

    # -- run monitoring ----------------------------------------------------------------

    def put_run_monitor(self, record: RunMonitor) -> None:
        """Store who runs ``record.run_id`` (host, pid, heartbeat), replacing an earlier record."""
        self._put_run_monitor(record)

    def heartbeat_runs(self, run_ids: Sequence[str], timestamp: int) -> None:
        """Set the heartbeat of the monitored runs among ``run_ids`` to ``timestamp`` (ns)."""
        self._heartbeat_runs(run_ids, timestamp)

    # -- backfills ---------------------------------------------------------------------

    def put_backfill(self, backfill: StoredBackfill) -> None:
        """Create or replace the stored backfill ``backfill.backfill_id``."""
        self._put_backfill(backfill)

    def get_stored_backfill(self, backfill_id: str) -> StoredBackfill | None:
        """The stored backfill ``backfill_id``, or ``None`` (``CodeRepository.get_backfill`` reads its status)."""
        return self._get_backfill(backfill_id)

    def get_stored_backfills(self, status: str | None = None, limit: int | None = None) -> list[StoredBackfill]:
        """Stored backfills, oldest first; only those with ``status`` when given; the newest ``limit`` when given."""
        return self._backfills(status, limit)

    def request_backfill_cancel(self, backfill_id: str) -> bool:
        """Flag backfill ``backfill_id`` for cancellation; whether it exists."""
        return self._request_backfill_cancel(backfill_id)


def _dependencies_first(
    start: str,
    topology: Mapping[str, Sequence[str]],
    records: Mapping[str, AssetRecord],
    done: Mapping[str, object],
) -> Iterator[str]:
    """Yield ``start`` and its not-yet-``done`` upstream assets, each after its upstreams.

    Iterative depth-first search (deep chains do not hit the recursion
    limit); a cycle is broken where it closes.
    """
    if start in done:
        return
    on_path = {start}
    stack: list[tuple[str, Iterator[str]]] = [(start, iter(topology.get(start, ())))]
    while stack:
        node, upstreams = stack[-1]
        for upstream in upstreams:
            if upstream in records and upstream not in done and upstream not in on_path:
                on_path.add(upstream)
                stack.append((upstream, iter(topology.get(upstream, ()))))
                break
        else:
            stack.pop()
            on_path.discard(node)
            yield node


def _check_run_status(status: str) -> None:
    """Raise :class:`StorageError` unless ``status`` is a run status."""
    if status not in RUN_STATUSES:
        raise StorageError(f"Unknown run status: {status}")


#: the run statuses as a set: the checks below test membership inline (they run on every run write)
_RUN_STATUS_SET: Final = frozenset(RUN_STATUSES)


def _record_checked(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method(record, ...)`` (``_create_run``, ``_start_run``) after checking ``record.status``."""

    @functools.wraps(method)
    def checked(self: Storage, record: RunRecord, *args: Any, **kwargs: Any) -> Any:
        if record.status not in _RUN_STATUS_SET:  # inline: these run on every run write
            _check_run_status(record.status)
        return method(self, record, *args, **kwargs)

    return checked


def _update_checked(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method(run_id, ..., status=...)`` (``_update_run``) after checking ``status``."""

    @functools.wraps(method)
    def checked(self: Storage, run_id: str, *args: Any, **kwargs: Any) -> Any:
        status = kwargs.get("status")
        if status is not None and status not in _RUN_STATUS_SET:
            _check_run_status(status)
        return method(self, run_id, *args, **kwargs)

    return checked


#: How a backend's engine-facing run writes are wrapped: each checks its arguments first (the backend
#: receives valid arguments).
_RUN_WRITE_CHECKS: Final[dict[str, Callable[[Callable[..., Any]], Callable[..., Any]]]] = {
    "_create_run": _record_checked,
    "_start_run": _record_checked,
    "_update_run": _update_checked,
}


def _checked(method: Callable[..., Any], wrap: Callable[[Callable[..., Any]], Callable[..., Any]]
             ) -> Callable[..., Any]:
    """``method`` wrapped by ``wrap`` and marked as checked (a subclass of the backend is not wrapped again)."""
    checked = wrap(method)
    checked.__rivers_checked__ = True  # type: ignore[attr-defined]
    return checked


def _reconciling(get_run: Callable[[Storage, str], RunRecord | None]) -> Callable[[Storage, str], RunRecord | None]:
    """A backend's ``get_run`` returning a run whose owner died as failed (see ``Storage._reconciled``)."""

    @functools.wraps(get_run)
    def reconciled_get_run(self: Storage, run_id: str) -> RunRecord | None:
        record = get_run(self, run_id)
        if record is None or record.status not in ("Started", "Queued"):
            return record
        return self._reconciled([record])[0]

    reconciled_get_run.__rivers_checked__ = True  # type: ignore[attr-defined]
    return reconciled_get_run


def _check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative int, got {limit!r}")
    return limit


def _check_dynamic_key(key: str) -> None:
    """Raise :class:`StorageError` for an invalid dynamic partition key."""
    if not isinstance(key, str):
        raise TypeError(f"dynamic partition keys must be str, not {type(key).__name__}: {key!r}")
    if not key:
        raise StorageError("dynamic partition keys must not be empty")
    for character in _RESERVED_PARTITION_CHARACTERS:
        if character in key:
            raise StorageError(
                f"partition key '{key}' contains reserved character '{character}' "
                "('|' separates the dimensions of multi-partition keys and ',' separates keys); "
                "choose a key without '|' or ','"
            )


def _async_variant(name: str, method: Callable[..., Any]) -> Callable[..., Any]:
    """Build ``async_<name>``: a coroutine that calls the (possibly overridden) sync method."""

    async def wrapper(self: Storage, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, name)(*args, **kwargs)

    # what functools.wraps would set that differs, for help() and inspect.signature (wraps costs more at import)
    wrapper.__name__ = f"async_{name}"
    wrapper.__qualname__ = f"Storage.async_{name}"
    wrapper.__doc__ = f"Coroutine version of :meth:`{name}`.\n\n{method.__doc__ or ''}"
    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def _kv_pair(method: str, key: object, value: object) -> tuple[str, bytes]:
    """``(key, bytes)`` of one kv write, or the ``TypeError`` of ``method`` naming what is wrong."""
    if not isinstance(key, str):
        raise TypeError(f"{method}() key must be str, not {type(key).__name__}")
    if not isinstance(value, (bytes, bytearray, memoryview)):
        hint = "; encode it first, e.g. value.encode()" if isinstance(value, str) else ""
        raise TypeError(f"{method}() value of {key!r} must be bytes, not {type(value).__name__}{hint}")
    return key, bytes(value)


for _name in ASYNC_METHODS:
    setattr(Storage, f"async_{_name}", _async_variant(_name, getattr(Storage, _name)))
del _name
