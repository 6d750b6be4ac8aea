"""Record types returned and accepted by :class:`rivers.Storage`.

Every record is an immutable :class:`~rivers._record.Record` whose fields follow the
published ``rivers`` package (storage.md §2). Timestamps are integer
nanoseconds since the epoch. List-valued fields stay plain lists of tuples,
as upstream returns them.

Partition keys: records carry :class:`~rivers.PartitionKey` objects (or
``None``); backends store the key's display string (``"2024-01-01"``,
``"a,b"``, ``"date=2024-01-01|region=eu"``), which is indexed and readable
in SQL. :func:`partition_to_stored` and :func:`partition_from_stored` are the only
place that converts between the two.
"""

from __future__ import annotations

import collections
import enum
import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Final, overload

from rivers._record import Record, factory

if TYPE_CHECKING:
    from rivers.partitions.keys import PartitionKey

__all__ = [
    "RUN_OUTCOMES",
    "RUN_STATUSES",
    "FAILED",
    "IN_PROGRESS",
    "AssetRecord",
    "LaunchedBy",
    "ProgressChange",
    "RunRecord",
    "StaleCause",
    "StorageType",
    "StoredEvent",
    "StoredLog",
    "new_stored_event",
    "partition_from_stored",
    "partition_to_stored",
]

#: Every run status a :class:`RunRecord` can have (``"Canceled"`` with one "l").
RUN_STATUSES: Final = ("Queued", "NotStarted", "Started", "Success", "Failure", "Canceled")

#: Outcomes accepted by ``Storage.set_run_outcome`` (``"Cancelled"`` with two "l").
RUN_OUTCOMES: Final = ("Success", "Failure", "Cancelled")

#: Event types the executor writes that the storage derives tables from.
MATERIALIZATION: Final = "Materialization"
OBSERVATION: Final = "Observation"
STEP_SUCCESS: Final = "StepSuccess"


def partition_to_stored(partition: PartitionKey | str | None) -> str | None:
    """Return the stored (and indexed) form of a record's partition key: its display string, unambiguous.

    Accepts ``None``, a ``PartitionKey`` (see
    :meth:`rivers.PartitionKey.stored_text`) or text already in stored form.
    """
    if partition is None or type(partition) is str:
        return partition
    try:
        return partition.stored_text()  # type: ignore[union-attr]  # (a str subclass: AttributeError, below)
    except AttributeError:
        if isinstance(partition, str):  # a str subclass (a StrEnum member): its text
            return str.__str__(partition)
        raise


@overload
def partition_from_stored(value: str) -> PartitionKey: ...
@overload
def partition_from_stored(value: None) -> None: ...
@overload
def partition_from_stored(value: str | None) -> PartitionKey | None: ...
def partition_from_stored(value: str | None) -> PartitionKey | None:
    """Return the ``PartitionKey`` of a stored text (inverse of :func:`partition_to_stored`)."""
    if value is None:
        return None
    from rivers.partitions.keys import from_stored_text

    return from_stored_text(value)


class StorageType(enum.IntEnum):
    """Which kind of store a :class:`rivers.Storage` is."""

    Memory = 0
    Embedded = 1
    Remote = 2


# (``collections.namedtuple`` rather than ``typing.NamedTuple`` classes: half the import cost, which every
# process's first run pays; the field types are documented on the classes below)
_StoredEventFields = collections.namedtuple(
    "_StoredEventFields",
    "id event_type asset_key run_id partition_key timestamp metadata data_version code_version input_data_versions",
)


class StoredEvent(_StoredEventFields):
    """One event of a run: step lifecycle, materialization, observation, queue or pool event.

    ``asset_key`` is the step/output name; ``metadata`` and
    ``input_data_versions`` are lists of ``(key, value)`` string pairs;
    ``partition_key`` is a :class:`~rivers.PartitionKey` or None,
    ``timestamp`` an int (ns since the epoch), ``data_version`` and
    ``code_version`` str or None.

    Events are the highest-volume records (three or more per step), so they
    are immutable named tuples rather than records: creating one costs a
    fraction of a record instance, which matters on the per-step path.
    """

    __slots__ = ()

    def __new__(
        cls,
        id: str,
        event_type: str,
        asset_key: str | None,
        run_id: str,
        partition_key: PartitionKey | str | None = None,
        timestamp: int = 0,
        metadata: list[tuple[str, str]] | None = None,
        data_version: str | None = None,
        code_version: str | None = None,
        input_data_versions: list[tuple[str, str]] | None = None,
    ) -> StoredEvent:
        if type(partition_key) is str:  # a display string given by a caller
            partition_key = partition_from_stored(partition_key)
        return tuple.__new__(cls, (
            id, event_type, asset_key, run_id, partition_key, timestamp,
            [] if metadata is None else metadata, data_version, code_version,
            [] if input_data_versions is None else input_data_versions,
        ))


#: ``new_stored_event(fields)``: a :class:`StoredEvent` of its ten fields, in order, exactly as given (no
#: defaults, no conversion of a text partition key): the engine's constructor on the per-step path, where it
#: has every field at hand. One C call (``tuple.__new__``), where ``StoredEvent(...)`` runs ``__new__`` in Python.
new_stored_event: Callable[[tuple[Any, ...]], StoredEvent] = functools.partial(tuple.__new__, StoredEvent)


_StoredLogFields = collections.namedtuple(
    "_StoredLogFields", "id run_id step_key timestamp stdout stderr logs", defaults=(None, None, None)
)


class StoredLog(_StoredLogFields):
    """Captured stdout, stderr and log records of one step of a run (an immutable named tuple).

    Fields: ``id``, ``run_id``, ``step_key`` (str), ``timestamp`` (int, ns
    since the epoch), and ``stdout``, ``stderr``, ``logs`` (str or None).
    """

    __slots__ = ()


class AssetRecord(Record):
    """Declared properties of an asset plus a summary of its last materialization.

    ``tags``, ``kinds``, ``group``, ``code_version`` and ``pool`` come from the
    asset definition (registered at ``resolve()``); the ``last_*`` fields are
    derived from Materialization and Observation events and are ``None`` until
    the first one.
    """

    asset_key: str
    tags: list[str] = factory(list)
    kinds: list[str] = factory(list)
    group: str | None = None
    code_version: str | None = None
    last_event_id: str | None = None
    last_run_id: str | None = None
    last_timestamp: int | None = None
    last_data_version: str | None = None
    last_materialization_code_version: str | None = None
    last_input_data_versions: list[tuple[str, str]] = factory(list)
    pool: list[tuple[str, int]] = factory(list)

    @classmethod
    def declared(cls, asset_key: str, tags: list[str], kinds: list[str], group: str | None,
                 code_version: str | None, pool: list[tuple[str, int]]) -> AssetRecord:
        """The record of an asset's declared properties, without a materialization (what ``resolve()`` registers).

        The values are taken as they are (the lists are not copied): a third of
        the constructor's cost, paid for every asset of a repository.
        """
        return cls.from_fields(asset_key, tags, kinds, group, code_version, None, None, None, None, None, [], pool)


class StaleCause(Record):
    """Why ``compute_staleness()`` considers an asset stale.

    ``category`` is ``"Code"`` or ``"Data"``; ``dependency`` names the upstream
    asset at fault for data causes.
    """

    asset_key: str
    category: str
    reason: str
    dependency: str | None = None


_LAUNCH_KINDS: Final = ("manual", "schedule", "sensor", "backfill", "condition")


class LaunchedBy(Record):
    """Who or what launched a run. Build it with the classmethods, e.g. ``LaunchedBy.schedule("daily")``."""

    kind: str
    name: str | None = None
    backfill_id: str | None = None

    def _prepare(self, values: dict[str, Any]) -> None:
        if values["kind"] not in _LAUNCH_KINDS:
            raise ValueError(f"LaunchedBy kind must be one of {', '.join(_LAUNCH_KINDS)}; got {values['kind']!r}")

    @classmethod
    def manual(cls) -> LaunchedBy:
        """A run started from Python code, the CLI or the UI."""
        return _MANUAL

    @classmethod
    def schedule(cls, name: str) -> LaunchedBy:
        """A run requested by the schedule ``name``."""
        return cls("schedule", name=name)

    @classmethod
    def sensor(cls, name: str) -> LaunchedBy:
        """A run requested by the sensor ``name``."""
        return cls("sensor", name=name)

    @classmethod
    def backfill(cls, backfill_id: str) -> LaunchedBy:
        """A run that is part of the backfill ``backfill_id``."""
        return cls("backfill", backfill_id=backfill_id)

    @classmethod
    def condition(cls) -> LaunchedBy:
        """A run requested by the automation-condition daemon."""
        return _CONDITION

    @property
    def user(self) -> None:
        """The user who launched the run; always ``None`` for runs launched from Python."""
        return None

    def __repr__(self) -> str:
        argument = self.name if self.name is not None else self.backfill_id
        return f"LaunchedBy.{self.kind}({'' if argument is None else _quote(argument)})"

    def to_stored(self) -> tuple[str, str | None]:
        """``(kind, reference)``, the two columns a storage backend keeps for it."""
        return self.kind, self.name if self.name is not None else self.backfill_id

    @classmethod
    def from_stored(cls, kind: str, reference: str | None) -> LaunchedBy:
        """Inverse of :meth:`to_stored`."""
        if kind == "manual":
            return _MANUAL
        if kind == "condition":
            return _CONDITION
        if kind == "backfill":
            return cls(kind, backfill_id=reference)
        return cls(kind, name=reference)


def _quote(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


_MANUAL: Final = LaunchedBy("manual")
_CONDITION: Final = LaunchedBy("condition")


class RunRecord(Record):
    """One run: its status, timing, tags, planned steps and origin.

    ``status`` is one of :data:`RUN_STATUSES`; ``job_name`` is ``None`` for
    ``materialize()`` runs; ``node_names`` lists every planned step.
    """

    run_id: str
    job_name: str | None = None
    status: str = "Started"
    start_time: int = 0
    end_time: int | None = None
    tags: list[tuple[str, str]] = factory(list)
    node_names: list[str] = factory(list)
    priority: int = 0
    partition_key: PartitionKey | None = None
    block_reason: str | None = None
    launched_by: LaunchedBy = _MANUAL

    def _prepare(self, values: dict[str, Any]) -> None:
        if type(values["partition_key"]) is str:
            values["partition_key"] = partition_from_stored(values["partition_key"])


def run_changes(status: str | None, end_time: int | None, node_names: Sequence[str] | None) -> dict[str, Any]:
    """The fields an ``_update_run(status=, end_time=, node_names=)`` call changes (``None``: unchanged)."""
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = status
    if end_time is not None:
        changes["end_time"] = end_time
    if node_names is not None:
        changes["node_names"] = list(node_names)
    return changes


#: Partition statuses a run sets while it executes (``materialized`` comes from the materialization index).
IN_PROGRESS: Final = "in_progress"
FAILED: Final = "failed"


class ProgressChange:
    """One change a run makes to an asset's partition statuses (a plain class: made twice per partitioned step).

    ``status`` is ``"in_progress"`` (a step starts), ``"failed"`` (it
    failed) or ``None`` (it succeeded, or it ended without running: the
    failed and in-progress statuses of the ranges are cleared, a
    materialized one is kept). ``ranges`` are half-open ``(start, stop)``
    position ranges, sorted and disjoint.

    ``locate`` (instead of ``ranges``) computes the ranges when they are
    first read: the engine passes it for clears whose positions are pure
    arithmetic, which a backend often never needs (an asset without stored
    statuses has nothing to clear). It may run on the backend's writer thread.
    """

    __slots__ = ("run_id", "asset_key", "status", "_ranges", "_locate")

    def __init__(self, run_id: str, asset_key: str, status: str | None,
                 ranges: tuple[tuple[int, int], ...] = (),
                 locate: Callable[[], tuple[tuple[int, int], ...]] | None = None) -> None:
        self.run_id = run_id
        self.asset_key = asset_key
        self.status = status
        self._ranges = ranges
        self._locate = locate

    @property
    def ranges(self) -> tuple[tuple[int, int], ...]:
        """The position ranges the change applies to."""
        locate = self._locate
        if locate is not None:
            self._ranges = locate()
            self._locate = None
        return self._ranges

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ProgressChange):
            return NotImplemented
        return (self.run_id, self.asset_key, self.status, self.ranges) == (
            other.run_id, other.asset_key, other.status, other.ranges)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"ProgressChange({self.run_id!r}, {self.asset_key!r}, {self.status!r}, {self.ranges!r})"
