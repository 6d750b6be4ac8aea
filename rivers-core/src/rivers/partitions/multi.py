"""Multi partitions: the cartesian product of named dimensions.

Keys are ``PartitionKey.Multi`` keys; enumeration order has the first
declared dimension outermost (the last varies fastest). Positions are
mixed-radix numbers over the dimensions' positions, so nothing is enumerated
to index, validate or look up a key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from rivers.exceptions import ExecutionError, PartitionDefinitionError, PartitionValidationError
from rivers.partitions.base import DynamicKeys, PartitionsDefinition, attach_variant
from rivers.partitions.keys import (
    DIMENSION_RESERVED,
    KeySet,
    MultiKey,
    PartitionKey,
    quoted,
    parse_display,
    reserved_character,
    single_key_of_values,
)
from rivers.partitions.ranges import MultiRange, PartitionKeyRange, SingleRange
from rivers.partitions.sequence import PartitionKeySequence, ProductSource

__all__ = ["MultiPartitions"]


class MultiPartitions(PartitionsDefinition):
    """``PartitionsDefinition.Multi``: ``dimensions`` is a list of ``(name, definition)`` in declaration order.

    The raw constructor skips the checks (:meth:`check` runs them).
    """

    __slots__ = ("_dimensions",)

    kind: ClassVar[str] = "multi"

    def __init__(
        self, dimensions: Mapping[str, PartitionsDefinition] | Sequence[tuple[str, PartitionsDefinition]]
    ) -> None:
        items: list[tuple[Any, ...]]  # checked by check(): (name, definition) pairs
        if isinstance(dimensions, Mapping):
            items = list(dimensions.items())
        elif isinstance(dimensions, Sequence) and not isinstance(dimensions, str):
            items = [tuple(item) for item in dimensions]
        else:
            raise TypeError(
                "Multi partitions expect a dict of dimension name -> PartitionsDefinition, "
                f"got {type(dimensions).__name__}"
            )
        self._dimensions: tuple[tuple[str, PartitionsDefinition], ...] = tuple(items)

    @classmethod
    def create(cls, dimensions: Mapping[str, PartitionsDefinition]) -> MultiPartitions:
        """Build and check (the ``multi`` factory)."""
        if not isinstance(dimensions, Mapping):
            raise TypeError(
                f"PartitionsDefinition.multi expects a dict of dimension name -> PartitionsDefinition, "
                f"got {type(dimensions).__name__}"
            )
        for name, definition in dimensions.items():
            if not isinstance(definition, PartitionsDefinition):
                raise TypeError(
                    f"dimension {name!r} of PartitionsDefinition.multi must be a PartitionsDefinition, "
                    f"got {type(definition).__name__}"
                )
        definition = cls(dimensions)
        definition.check()
        return definition

    @property
    def dimensions(self) -> list[tuple[str, PartitionsDefinition]]:
        """``(name, definition)`` pairs in declaration order."""
        return list(self._dimensions)

    @property
    def dimension_names(self) -> list[str]:
        """The dimension names in declaration order."""
        return [name for name, _ in self._dimensions]

    def dimension(self, name: str) -> PartitionsDefinition:
        """The definition of dimension ``name``.

        :raises PartitionValidationError: naming the dimension and the existing ones.
        """
        for dim, definition in self._dimensions:
            if dim == name:
                return definition
        raise PartitionValidationError(
            f"{name!r} is not a dimension of these Multi partitions; dimensions: {', '.join(self.dimension_names)}"
        )

    def check(self) -> None:
        if not self._dimensions:
            raise PartitionDefinitionError(
                "Multi partitions must have at least one dimension, e.g. multi({\"date\": daily(...)})"
            )
        seen: set[str] = set()
        for name, definition in self._dimensions:
            _check_dimension_name(name, seen)
            if not isinstance(definition, PartitionsDefinition):
                raise PartitionDefinitionError(
                    f"dimension '{name}' must be a PartitionsDefinition, got {type(definition).__name__}"
                )
            if isinstance(definition, MultiPartitions):
                raise PartitionDefinitionError(
                    f"Multi partitions cannot contain nested Multi dimensions (dimension '{name}'); "
                    "list all dimensions in one multi({...})"
                )
            try:
                definition.check()
            except PartitionDefinitionError as exc:
                raise PartitionDefinitionError(f"dimension '{name}': {exc}") from None

    # ------------------------------------------------------------------
    # Engine contract
    # ------------------------------------------------------------------

    def get_partition_keys(self, *, dynamic_partitions: DynamicKeys | None = None) -> PartitionKeySequence:
        return PartitionKeySequence(
            ProductSource(
                [(name, d.get_partition_keys(dynamic_partitions=dynamic_partitions)) for name, d in self._dimensions]
            )
        )

    def validate_partition_key(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> bool:
        if isinstance(key, KeySet):
            return all(self.validate_partition_key(m, dynamic_partitions=dynamic_partitions) for m in key.keys)
        if type(key) is not MultiKey:
            return False
        values = dict(key.dims)
        if len(values) != len(self._dimensions):
            return False
        for name, definition in self._dimensions:
            dim_values = values.get(name)
            if dim_values is None or not definition.validate_partition_key(
                single_key_of_values(dim_values), dynamic_partitions=dynamic_partitions
            ):
                return False
        return True

    def index_of(self, key: PartitionKey | str, *, dynamic_partitions: DynamicKeys | None = None) -> int | None:
        if type(key) is not MultiKey:
            return None
        return self.get_partition_keys(dynamic_partitions=dynamic_partitions).position(key)

    def resolve_range(
        self, key_range: PartitionKeyRange, *, dynamic_partitions: DynamicKeys | None = None
    ) -> PartitionKeySequence:
        """Per-dimension ranges or key lists (omitted dimensions: every key), as a product."""
        if isinstance(key_range, SingleRange):
            raise ExecutionError(
                "a single-dimension range cannot select from Multi partitions; use PartitionKeyRange.multi() "
                f"with dimensions: {', '.join(self.dimension_names)}"
            )
        if not isinstance(key_range, MultiRange):
            raise TypeError(f"expected a PartitionKeyRange, got {type(key_range).__name__}")
        unknown = [name for name in key_range.dimensions if name not in self.dimension_names]
        if unknown:
            raise ExecutionError(
                f"range dimension '{unknown[0]}' is not a dimension of these Multi partitions; "
                f"dimensions: {', '.join(self.dimension_names)}"
            )
        selected = []
        for name, definition in self._dimensions:
            selection = key_range.dimensions.get(name)
            try:
                selected.append((name, _select(definition, selection, dynamic_partitions)))
            except ExecutionError as exc:
                raise ExecutionError(f"dimension '{name}': {exc}") from None
        return PartitionKeySequence(ProductSource(selected))

    def nearest_key(self, text: str, *, dynamic_partitions: DynamicKeys | None = None) -> str | None:
        """Per dimension, the nearest valid value (or the first key), as a display string."""
        try:
            given = parse_display(text, multi=True).keys  # type: ignore[attr-defined]
        except (PartitionDefinitionError, TypeError):
            given = {}
        parts = {}
        for name, definition in self._dimensions:
            values = given.get(name)
            nearest = definition.nearest_key(values[0] if values else "", dynamic_partitions=dynamic_partitions)
            if nearest is None:
                return None
            parts[name] = nearest
        return "|".join(f"{name}={parts[name]}" for name in sorted(parts))

    def describe(self) -> str:
        inner = ", ".join(f"{name}: {definition.describe()}" for name, definition in self._dimensions)
        return f"multi partitions ({inner})"

    def _identity(self) -> Any:
        return self._dimensions

    def __repr__(self) -> str:
        inner = ", ".join(f"{quoted(str(name))}: {definition!r}" for name, definition in self._dimensions)
        return "PartitionsDefinition.multi({" + inner + "})"


def _check_dimension_name(name: Any, seen: set[str]) -> None:
    if not isinstance(name, str):
        raise PartitionDefinitionError(f"multi dimension names must be str, got {type(name).__name__} ({name!r})")
    if not name:
        raise PartitionDefinitionError("multi dimension names cannot be empty; name every dimension")
    char = reserved_character(name, DIMENSION_RESERVED)
    if char is not None:
        raise PartitionDefinitionError(
            f"dimension name '{name}' contains reserved character '{char}' (used by the canonical display form); "
            "rename the dimension"
        )
    if name in seen:
        raise PartitionDefinitionError(f"dimension '{name}' is declared twice; dimension names must be unique")
    seen.add(name)


def _select(
    definition: PartitionsDefinition, selection: Any, dynamic_partitions: DynamicKeys | None
) -> PartitionKeySequence:
    """The keys of one dimension chosen by a range, a key list or nothing (all)."""
    if selection is None:
        return definition.get_partition_keys(dynamic_partitions=dynamic_partitions)
    if isinstance(selection, tuple):
        return definition.resolve_range(SingleRange(*selection), dynamic_partitions=dynamic_partitions)
    for value in selection:
        if not definition.validate_partition_key(value, dynamic_partitions=dynamic_partitions):
            nearest = definition.nearest_key(value, dynamic_partitions=dynamic_partitions)
            hint = f"; nearest valid key is '{nearest}'" if nearest is not None else ""
            raise ExecutionError(f"key '{value}' is not a partition key{hint} ({definition.describe()})")
    return PartitionKeySequence.of_values(selection)


attach_variant(MultiPartitions, "Multi")
