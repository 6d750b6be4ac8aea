"""``PartitionContext``: the partition(s) one step runs for."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rivers.partitions.keys import PartitionKey, SingleKey, as_partition_key

__all__ = ["PartitionContext"]


class PartitionContext:
    """The keys a step covers and their definition.

    ``keys`` holds every member key, expanded (a multi-valued key becomes its
    single-valued members), deduplicated and sorted by display string; ``key``
    is ``keys[0]``. Built once per step: one single-valued key is a fast path.
    """

    __slots__ = ("keys", "key", "definition")

    def __init__(self, keys: Sequence[PartitionKey | str], definition: Any) -> None:
        if len(keys) == 1:
            key = keys[0]
            if type(key) is SingleKey and key.single_value() is not None:
                self.keys: list[PartitionKey] = [key]
                self.key: PartitionKey = key
                self.definition = definition
                return
        if not keys:
            raise ValueError("PartitionContext keys must not be empty")
        members = dict.fromkeys(member for key in keys for member in as_partition_key(key).members())
        self.keys = sorted(members, key=str) if len(keys) > 1 else list(members)
        self.key = self.keys[0]
        self.definition = definition

    def time_window(self) -> tuple[datetime, datetime] | None:
        """``(start, end)`` of the one single-valued key of a time-window definition, else None."""
        if len(self.keys) != 1 or self.definition is None:
            return None
        window = getattr(self.definition, "window", None)
        return window(self.key) if window is not None else None

    def __repr__(self) -> str:
        return f"PartitionContext(keys=[{', '.join(map(repr, self.keys))}], definition={self.definition!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PartitionContext):
            return NotImplemented
        return self.keys == other.keys and self.definition == other.definition

    __hash__ = None  # type: ignore[assignment]
