"""``PartitionsDefinition``: the base class, its factories and the engine contract.

The variants live in their own modules (``static``, ``time_window``,
``multi``, ``dynamic``) and are attached here as ``PartitionsDefinition.Static``,
``.TimeWindow``, ``.Multi`` and ``.Dynamic`` at the end of this module.
Plugin partition types subclass :class:`PartitionsDefinition` (most easily
through :class:`rivers.partitions.keylist.KeyListDefinition`) and are found
with :meth:`PartitionsDefinition.from_plugin`.

Engine contract (every definition):

* ``get_partition_keys(*, dynamic_partitions=None)`` — a lazy
  :class:`~rivers.partitions.sequence.PartitionKeySequence` in definition order;
* ``validate_partition_key(key, *, dynamic_partitions=None)`` — never enumerates;
* ``index_of(key)`` — position in definition order, or None;
* ``resolve_range(range, *, dynamic_partitions=None)`` — the keys of a
  :class:`~rivers.partitions.ranges.PartitionKeyRange`;
* ``nearest_key(text)`` — the valid key closest to ``text`` (for messages);
* ``window(key)`` — the half-open time window of a single-valued key, or None;
* ``check()`` — re-run the construction checks (``PartitionDefinitionError``);
* ``describe()`` — a short human description.

``dynamic_partitions`` is a callable ``name -> Sequence[str]`` (the engine
passes ``storage.get_dynamic_partitions``); only dynamic definitions use it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rivers._registry import registry
from rivers.exceptions import ExecutionError, PartitionDefinitionError
from rivers.partitions.time.cron import DAILY_CRON, HOURLY_CRON
from rivers.partitions.keys import KeySet, PartitionKey, as_partition_key
from rivers.partitions.ranges import MultiRange, PartitionKeyRange, SingleRange

if TYPE_CHECKING:
    from rivers.partitions.sequence import PartitionKeySequence

__all__ = ["DynamicKeys", "PartitionsDefinition", "attach_variant"]

#: ``name -> registered keys`` of dynamic partitions (``storage.get_dynamic_partitions``).
DynamicKeys = Callable[[str], Sequence[str]]


class PartitionsDefinition:
    """How an asset is split into partition keys (static, time windows, multi, dynamic, plugins).

    Build one with a factory (:meth:`static_`, :meth:`daily`, :meth:`hourly`,
    :meth:`time_window`, :meth:`multi`, :meth:`dynamic`, :meth:`from_plugin`);
    the base class itself cannot be instantiated. Definitions are immutable
    values with value equality.
    """

    __slots__ = ()

    #: The partition type name ("static", "time_window", "multi", "dynamic", or a plugin's name).
    kind: ClassVar[str] = "custom"

    # core's variants, set by their modules (attach_variant) when rivers.partitions is imported
    Static: ClassVar[Any]
    TimeWindow: ClassVar[Any]
    Multi: ClassVar[Any]
    Dynamic: ClassVar[Any]

    def __new__(cls, *args: Any, **kwargs: Any) -> PartitionsDefinition:
        if cls is PartitionsDefinition:
            raise TypeError(
                "cannot create 'PartitionsDefinition' instances; use a factory such as "
                "PartitionsDefinition.daily(start) or PartitionsDefinition.static_([...])"
            )
        return object.__new__(cls)

    # ------------------------------------------------------------------
    # Factories
    # ------------------------------------------------------------------

    @staticmethod
    def static_(keys: list[str]) -> PartitionsDefinition:
        """A fixed list of keys; order kept, duplicates dropped (first wins)."""
        return PartitionsDefinition.Static.create(keys)

    @staticmethod
    def daily(
        start: datetime, end: datetime | None = None, fmt: str | None = None, *, timezone: str | None = None,
        end_offset: int = 0,
    ) -> PartitionsDefinition:
        """One partition per day (cron ``0 0 * * *``), keys ``%Y-%m-%d`` by default.

        Without ``end``, the days that have ended are partitions; ``end_offset=1``
        adds today's (unfinished) window.
        """
        return PartitionsDefinition.TimeWindow.create(
            start, DAILY_CRON, None, end, "%Y-%m-%d" if fmt is None else fmt, timezone, end_offset
        )

    @staticmethod
    def hourly(
        start: datetime, end: datetime | None = None, fmt: str | None = None, *, timezone: str | None = None,
        end_offset: int = 0,
    ) -> PartitionsDefinition:
        """One partition per hour (cron ``0 * * * *``), keys ``%Y-%m-%dT%H:00`` by default.

        ``end_offset``: as for :meth:`daily`.
        """
        return PartitionsDefinition.TimeWindow.create(
            start, HOURLY_CRON, None, end, "%Y-%m-%dT%H:00" if fmt is None else fmt, timezone, end_offset
        )

    @staticmethod
    def time_window(
        start: datetime,
        cron_schedule: str | None = None,
        interval_seconds: float | None = None,
        end: datetime | None = None,
        fmt: str | None = None,
        *,
        timezone: str | None = None,
        end_offset: int = 0,
    ) -> PartitionsDefinition:
        """Windows on a cron grid or every ``interval_seconds`` (exactly one of them).

        ``end_offset``: as for :meth:`daily`.
        """
        return PartitionsDefinition.TimeWindow.create(start, cron_schedule, interval_seconds, end, fmt, timezone,
                                                      end_offset)

    @staticmethod
    def multi(dimensions: Mapping[str, PartitionsDefinition]) -> PartitionsDefinition:
        """The cartesian product of named dimensions (declaration order, no nesting)."""
        return PartitionsDefinition.Multi.create(dimensions)

    @staticmethod
    def dynamic(name: str) -> PartitionsDefinition:
        """Keys registered at run time in storage under ``name``."""
        return PartitionsDefinition.Dynamic.create(name)

    @staticmethod
    def from_plugin(name: str, **config: Any) -> PartitionsDefinition:
        """An instance of the partition type a plugin registered as ``name``, built with ``config``.

        :raises PluginNotFoundError: when no plugin provides ``name``.
        :raises PartitionDefinitionError: when the registered class is not a
            ``PartitionsDefinition`` subclass or the definition is invalid.
        """
        cls = registry().partition_type(name)
        if not (isinstance(cls, type) and issubclass(cls, PartitionsDefinition)):
            raise PartitionDefinitionError(
                f"partition type plugin {name!r} registered {cls!r}, which is not a PartitionsDefinition "
                "subclass; subclass rivers.partitions.KeyListDefinition (or PartitionsDefinition)"
            )
        definition = cls(**config)
        definition.check()
        return definition

    # ------------------------------------------------------------------
    # Engine contract (generic defaults built on get_partition_keys)
    # ------------------------------------------------------------------

    def get_partition_keys(self, *, dynamic_partitions: DynamicKeys | None = None) -> PartitionKeySequence:
        """Every key, in definition order, as a lazy sequence."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_partition_keys()")

    def validate_partition_key(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> bool:
        """Whether ``key`` (every value / member of it) is a key of this definition."""
        if isinstance(key, KeySet):
            return all(self.validate_partition_key(m, dynamic_partitions=dynamic_partitions) for m in key.keys)
        keys = self.get_partition_keys(dynamic_partitions=dynamic_partitions)
        return all(keys.position(member) is not None for member in as_partition_key(key).members())

    def index_of(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> int | None:
        """The position of the single-valued ``key`` in definition order, or None when invalid."""
        return self.get_partition_keys(dynamic_partitions=dynamic_partitions).position(as_partition_key(key))

    def resolve_range(
        self, key_range: PartitionKeyRange, *, dynamic_partitions: DynamicKeys | None = None
    ) -> PartitionKeySequence:
        """The keys from ``from_key`` to ``to_key`` inclusive, in definition order.

        :raises ExecutionError: for an unknown endpoint (naming the nearest
            valid key), an inverted range, or a multi range.
        """
        if isinstance(key_range, MultiRange):
            raise ExecutionError(
                f"a multi-dimension range cannot select from {self.describe()}; "
                "use PartitionKeyRange.single(from_key, to_key)"
            )
        if not isinstance(key_range, SingleRange):
            raise TypeError(f"expected a PartitionKeyRange, got {type(key_range).__name__}")
        keys = self.get_partition_keys(dynamic_partitions=dynamic_partitions)
        low = self._endpoint(keys, key_range.from_key, dynamic_partitions)
        high = self._endpoint(keys, key_range.to_key, dynamic_partitions)
        if low > high:
            raise ExecutionError(
                f"from_key '{key_range.from_key}' is after to_key '{key_range.to_key}' in the order of "
                f"{self.describe()}; swap them"
            )
        return keys[low : high + 1]

    def _endpoint(self, keys: PartitionKeySequence, text: str, dynamic_partitions: DynamicKeys | None) -> int:
        position = keys.position_of_value(text)
        if position is None:
            nearest = self.nearest_key(text, dynamic_partitions=dynamic_partitions)
            hint = f"; nearest valid key is '{nearest}'" if nearest is not None else "; there are no valid keys"
            raise ExecutionError(f"Range endpoint '{text}' is not a partition key{hint} ({self.describe()})")
        return position

    def nearest_key(self, text: str, *, dynamic_partitions: DynamicKeys | None = None) -> str | None:
        """The valid key closest to ``text`` (for "nearest valid key is ..." messages), or None."""
        return None

    def window(self, key: PartitionKey | str) -> tuple[datetime, datetime] | None:
        """The half-open ``(start, end)`` time window of a single-valued key, or None."""
        return None

    def check(self) -> None:
        """Re-run the construction checks; raises :class:`PartitionDefinitionError`."""

    def describe(self) -> str:
        """A short human description for messages."""
        return repr(self)

    # ------------------------------------------------------------------
    # Value semantics
    # ------------------------------------------------------------------

    def _identity(self) -> Any:
        """What equality and hashing compare (override in value types)."""
        return id(self)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return bool(self._identity() == other._identity())  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self).__qualname__, self._identity()))


def attach_variant(variant: type[PartitionsDefinition], name: str) -> None:
    """Expose one of core's partition types as ``PartitionsDefinition.<name>`` (its module calls this)."""
    variant.__qualname__ = f"PartitionsDefinition.{name}"
    setattr(PartitionsDefinition, name, variant)
