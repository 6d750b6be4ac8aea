"""Partition key ranges: inclusive selections resolved against a definition.

A range is only a description; ``PartitionsDefinition.resolve_range`` turns
it into keys using the definition's order (position in a static list,
chronological for time windows).
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping, Union

from rivers.exceptions import PartitionDefinitionError
from rivers.partitions.keys import quoted

__all__ = ["PartitionKeyRange"]

#: One dimension of a multi range: an inclusive ``(from, to)`` pair or an explicit key list.
DimensionSelection = Union[tuple[str, str], list[str]]


class PartitionKeyRange:
    """An inclusive range of partition keys (tagged union; use :meth:`single` / :meth:`multi`)."""

    __slots__ = ()

    Single: ClassVar[type[SingleRange]]
    Multi: ClassVar[type[MultiRange]]

    def __new__(cls, *args: Any, **kwargs: Any) -> PartitionKeyRange:
        if cls is PartitionKeyRange:
            raise TypeError(
                "cannot create 'PartitionKeyRange' instances; use PartitionKeyRange.single() or .multi()"
            )
        return object.__new__(cls)

    @staticmethod
    def single(from_key: str, to_key: str) -> SingleRange:
        """The keys from ``from_key`` to ``to_key`` inclusive, in definition order."""
        return SingleRange(from_key, to_key)

    @staticmethod
    def multi(dimensions: Mapping[str, DimensionSelection]) -> MultiRange:
        """Per dimension an inclusive ``(from, to)`` range or an explicit key list.

        Dimensions left out select every key of that dimension.
        """
        return MultiRange(dimensions)

    def _identity(self) -> Any:
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return bool(self._identity() == other._identity())  # type: ignore[attr-defined]
        return NotImplemented

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._identity()))


def _check_endpoint(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"PartitionKeyRange {name} must be a str, got {type(value).__name__}")
    return value


class SingleRange(PartitionKeyRange):
    """A range in one dimension: ``from_key`` .. ``to_key`` inclusive."""

    __slots__ = ("from_key", "to_key")

    def __init__(self, from_key: str, to_key: str) -> None:
        self.from_key = _check_endpoint(from_key, "from_key")
        self.to_key = _check_endpoint(to_key, "to_key")

    def _identity(self) -> Any:
        return (self.from_key, self.to_key)

    def __repr__(self) -> str:
        return f"PartitionKeyRange.single(from_key={quoted(self.from_key)}, to_key={quoted(self.to_key)})"


class MultiRange(PartitionKeyRange):
    """Per dimension a range (``tuple``) or a key list (``list``); ``dimensions`` is sorted by name."""

    __slots__ = ("dimensions",)

    def __init__(self, dimensions: Mapping[str, DimensionSelection]) -> None:
        if not isinstance(dimensions, Mapping):
            raise TypeError(
                f"PartitionKeyRange.multi expects a dict of dimension -> (from, to) or [keys], "
                f"got {type(dimensions).__name__}"
            )
        if not dimensions:
            raise PartitionDefinitionError(
                "dimensions dict must not be empty; give at least one dimension, e.g. {\"date\": (\"a\", \"b\")}"
            )
        self.dimensions: dict[str, DimensionSelection] = {
            name: _selection(name, dimensions[name]) for name in sorted(dimensions)
        }

    def _identity(self) -> Any:
        # a listed dimension is a set of keys: its order does not make another range
        return tuple(
            (name, "list", tuple(sorted(set(sel)))) if isinstance(sel, list) else (name, "range", sel)
            for name, sel in self.dimensions.items()
        )

    def __repr__(self) -> str:
        parts = []
        for name, sel in self.dimensions.items():
            inner = ", ".join(map(quoted, sorted(dict.fromkeys(sel)) if isinstance(sel, list) else sel))
            shown = f"[{inner}]" if isinstance(sel, list) else f"({inner})"
            parts.append(f"{quoted(name)}: {shown}")
        return "PartitionKeyRange.multi({" + ", ".join(parts) + "})"


def _selection(name: Any, value: Any) -> DimensionSelection:
    """Validate one dimension of a multi range."""
    if not isinstance(name, str):
        raise TypeError(f"PartitionKeyRange.multi dimension names must be str, got {type(name).__name__}")
    if isinstance(value, tuple):
        if len(value) != 2:
            raise TypeError(
                f"range for dimension {name!r} must be a (from_key, to_key) pair, got {len(value)} items"
            )
        return (_check_endpoint(value[0], "from_key"), _check_endpoint(value[1], "to_key"))
    if isinstance(value, list):
        if not value:
            raise PartitionDefinitionError(f"key list for dimension {name!r} must not be empty")
        for item in value:
            _check_endpoint(item, f"key of dimension {name!r}")
        return list(value)
    raise TypeError(
        f"dimension {name!r} of PartitionKeyRange.multi must be a (from_key, to_key) tuple or a list of keys, "
        f"got {type(value).__name__}"
    )


for _variant, _name in ((SingleRange, "Single"), (MultiRange, "Multi")):
    _variant.__qualname__ = f"PartitionKeyRange.{_name}"
    setattr(PartitionKeyRange, _name, _variant)
