"""Dynamic partitions: keys registered at run time in storage under a name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from rivers.exceptions import PartitionDefinitionError
# PartitionsDefinition must be importable here: pickle finds this class as PartitionsDefinition.Dynamic
from rivers.partitions.base import DynamicKeys, PartitionsDefinition, attach_variant  # noqa: F401
from rivers.partitions.keylist import KeyListDefinition
from rivers.partitions.keys import KEY_RESERVED, PartitionKey, quoted, reserved_character, single_values
from rivers.partitions.sequence import ListSource

__all__ = ["DynamicPartitions"]


class DynamicPartitions(KeyListDefinition):
    """``PartitionsDefinition.Dynamic``: the keys of namespace ``name`` in storage.

    Enumerating needs ``dynamic_partitions`` (``name -> registered keys``);
    without it, :meth:`validate_partition_key` accepts any non-empty single
    key (existence is checked when a run or backfill is submitted).
    """

    __slots__ = ("name",)

    kind: ClassVar[str] = "dynamic"
    title: ClassVar[str | None] = "Dynamic"
    cache_key_values: ClassVar[bool] = False

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, name: str) -> DynamicPartitions:
        """Build and check (the ``dynamic`` factory)."""
        definition = cls(name)
        definition.check()
        return definition

    def key_values(self) -> Sequence[str]:
        raise NotImplementedError(
            f"Cannot enumerate dynamic partition keys of {self.name!r} without storage; "
            "pass dynamic_partitions=storage.get_dynamic_partitions"
        )

    def _source(self, dynamic_partitions: DynamicKeys | None) -> ListSource:
        if dynamic_partitions is None:
            return ListSource(self.key_values())
        return ListSource(dynamic_partitions(self.name))

    def validate_partition_key(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> bool:
        if dynamic_partitions is not None:
            return super().validate_partition_key(key, dynamic_partitions=dynamic_partitions)
        values = single_values(key)
        return values is not None and all(value and reserved_character(value, KEY_RESERVED) is None for value in values)

    def nearest_key(self, text: str, *, dynamic_partitions: DynamicKeys | None = None) -> str | None:
        if dynamic_partitions is None:
            return None
        return super().nearest_key(text, dynamic_partitions=dynamic_partitions)

    def window(self, key: PartitionKey | str) -> None:
        return None

    def check(self) -> None:
        if not isinstance(self.name, str):
            raise PartitionDefinitionError(f"Dynamic partition definition name must be a str, got {self.name!r}")
        if not self.name:
            raise PartitionDefinitionError(
                "Dynamic partition definition name cannot be empty; name the storage namespace, "
                "e.g. dynamic(\"customers\")"
            )

    def describe(self) -> str:
        return f"dynamic partitions '{self.name}'"

    def _identity(self) -> Any:
        return self.name

    def __repr__(self) -> str:
        return f"PartitionsDefinition.dynamic({quoted(str(self.name))})"


attach_variant(DynamicPartitions, "Dynamic")
