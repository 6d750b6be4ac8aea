"""``KeyListDefinition``: the easy base for partition types whose keys are an ordered list of strings.

A subclass implements :meth:`KeyListDefinition.key_values` (and optionally
:meth:`KeyListDefinition.window_for`) and gets the whole engine contract:
lazy enumeration, O(1) validation and lookups, ranges, nearest-key hints and
the standard key checks. ``PartitionsDefinition.static_`` is built on it.

Example plugin type::

    class BusinessDays(KeyListDefinition):
        kind = "business_days"

        def __init__(self, year: int) -> None:
            self.year = year

        def key_values(self) -> list[str]:
            return [...]

        def window_for(self, value):
            day = datetime.strptime(value, "%Y-%m-%d")
            return day, day + timedelta(days=1)
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions.base import DynamicKeys, PartitionsDefinition
from rivers.partitions.keys import KEY_RESERVED, PartitionKey, reserved_character, single_values
from rivers.partitions.sequence import ListSource, PartitionKeySequence

__all__ = ["KeyListDefinition", "check_key_values", "preview"]


def check_key_values(values: Sequence[Any], title: str, kind: str) -> None:
    """The checks every key list passes: non-empty, non-empty strings, no reserved characters.

    :raises PartitionDefinitionError: naming the offending key.
    """
    if not values:
        raise PartitionDefinitionError(f"{title} partitions must have at least one key; pass a non-empty list")
    for value in values:
        if not isinstance(value, str):
            raise PartitionDefinitionError(
                f"{kind} partition keys must be str, got {type(value).__name__} ({value!r})"
            )
        if not value:
            raise PartitionDefinitionError(f"{kind} partition keys must not be empty; remove the '' key")
        char = reserved_character(value, KEY_RESERVED)
        if char is not None:
            raise PartitionDefinitionError(
                f"partition key '{value}' contains reserved character '{char}' (used by the canonical display "
                "form); rename the key, e.g. with '-' or '_' instead"
            )


def preview(values: Sequence[str], limit: int = 5) -> str:
    """``['a', 'b', ...]`` showing at most ``limit`` values and the total."""
    if len(values) <= limit:
        return repr(list(values))
    shown = ", ".join(repr(value) for value in values[:limit])
    return f"[{shown}, ...] ({len(values)} keys)"


class KeyListDefinition(PartitionsDefinition):
    """A definition whose keys are an ordered list of distinct strings.

    Subclasses implement :meth:`key_values`. The list is read once and cached
    (set ``cache_key_values = False`` when it can change between calls).
    Equality compares the type and the key list.
    """

    __slots__ = ("_cached_source",)

    kind: ClassVar[str] = "key_list"
    #: The title used in messages ("Static partitions must have at least one key"); defaults to the class name.
    title: ClassVar[str | None] = None
    #: Whether ``key_values()`` is read once per instance.
    cache_key_values: ClassVar[bool] = True

    def key_values(self) -> Sequence[str]:
        """The keys, in definition order."""
        raise NotImplementedError(f"{type(self).__name__} must implement key_values()")

    def window_for(self, value: str) -> tuple[datetime, datetime] | None:
        """The time window of the key ``value``, if the keys stand for time windows."""
        return None

    # -- engine contract -----------------------------------------------------

    def _source(self, dynamic_partitions: DynamicKeys | None) -> ListSource:
        if not self.cache_key_values:
            return ListSource(self.key_values())
        source = getattr(self, "_cached_source", None)
        if source is None:
            source = ListSource(self.key_values())
            object.__setattr__(self, "_cached_source", source)  # works for frozen dataclasses too
        return source

    def get_partition_keys(self, *, dynamic_partitions: DynamicKeys | None = None) -> PartitionKeySequence:
        return PartitionKeySequence(self._source(dynamic_partitions))

    def validate_partition_key(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> bool:
        values = single_values(key)
        return values is not None and self._source(dynamic_partitions).contains_all(values)

    def index_of(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> int | None:
        values = single_values(key)
        if values is None or len(values) != 1:
            return None
        return self._source(dynamic_partitions).position_of_value(values[0])

    def nearest_key(self, text: str, *, dynamic_partitions: DynamicKeys | None = None) -> str | None:
        import difflib

        values = self._source(dynamic_partitions).values
        if not values:
            return None
        matches = difflib.get_close_matches(text, values, n=1, cutoff=0.0)
        return matches[0] if matches else values[0]

    def window(self, key: PartitionKey | str) -> tuple[datetime, datetime] | None:
        values = single_values(key)
        if values is None or len(values) != 1 or self.index_of(values[0]) is None:
            return None
        return self.window_for(values[0])

    def check(self) -> None:
        check_key_values(list(self.key_values()), self.title or type(self).__name__, self.kind)

    def describe(self) -> str:
        return f"{self.kind} partitions {preview(self._source(None).values)}"

    def _identity(self) -> Any:
        return tuple(self.key_values())
