"""Lazy, immutable sequences of partition keys.

A :class:`PartitionKeySequence` is a window (a ``range`` of positions) over a
:class:`KeySource`, which knows how to build the key at a position and how to
find the position of a key. Length, indexing, slicing, ``index`` and ``in``
never build more than the keys asked for; slices are sequences again.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, overload

from rivers.partitions.keys import MultiKey, PartitionKey, SingleKey, multi_key_from_sorted, single_key

__all__ = ["KeySource", "ListSource", "PartitionKeySequence", "ProductSource"]


class KeySource:
    """Random access to an ordered set of distinct keys (the engine behind a sequence).

    Subclasses implement ``__len__``, ``display(i)`` and ``position_of_value``;
    the others have defaults suitable for single-valued keys.
    """

    __slots__ = ()

    def __len__(self) -> int:
        raise NotImplementedError

    def display(self, index: int) -> str:
        """The display string of the key at ``index`` (0 <= index < len)."""
        raise NotImplementedError

    def key(self, index: int) -> PartitionKey:
        """The key at ``index``."""
        return single_key(self.display(index))

    def position_of_value(self, value: str) -> int | None:
        """The position of the single-valued key ``value``, or None."""
        raise NotImplementedError

    def position(self, key: PartitionKey) -> int | None:
        """The position of ``key``, or None when it is not one of the keys."""
        if type(key) is SingleKey:
            value = key.single_value()
            if value is not None:
                return self.position_of_value(value)
        return None

    def keys(self, positions: range) -> Iterator[PartitionKey]:
        """The keys at ``positions`` (override for a faster bulk path)."""
        return map(single_key, self.displays(positions))

    def displays(self, positions: range) -> Iterator[str]:
        """The display strings at ``positions`` (override for a faster bulk path)."""
        return map(self.display, positions)


class ListSource(KeySource):
    """Keys given as a list of distinct strings (static, dynamic and plugin definitions)."""

    __slots__ = ("values", "_index")

    def __init__(self, values: Sequence[str]) -> None:
        self.values: tuple[str, ...] = tuple(dict.fromkeys(values))
        self._index = {value: position for position, value in enumerate(self.values)}

    def __len__(self) -> int:
        return len(self.values)

    def display(self, index: int) -> str:
        return self.values[index]

    def position_of_value(self, value: str) -> int | None:
        return self._index.get(value)

    def contains_all(self, values: Sequence[str]) -> bool:
        """Whether every value is one of the keys."""
        index = self._index
        return all(value in index for value in values)

    def displays(self, positions: range) -> Iterator[str]:
        if positions.step == 1:
            return iter(self.values[positions.start : positions.stop])
        return map(self.values.__getitem__, positions)


class ProductSource(KeySource):
    """The cartesian product of per-dimension sequences; the first dimension is outermost.

    Keys are ``Multi`` keys; positions are mixed-radix numbers, so nothing is
    enumerated to index or look up a key.
    """

    __slots__ = ("names", "dimensions", "_sizes", "_order", "_length")

    def __init__(self, dimensions: Sequence[tuple[str, PartitionKeySequence]]) -> None:
        self.names = tuple(name for name, _ in dimensions)
        self.dimensions = tuple(seq for _, seq in dimensions)
        self._sizes = tuple(len(seq) for seq in self.dimensions)
        # positions of the dimensions in name order (Multi keys keep dimensions sorted)
        self._order = tuple(sorted(range(len(self.names)), key=self.names.__getitem__))
        length = 1
        for size in self._sizes:
            length *= size
        self._length = length

    def __len__(self) -> int:
        return self._length

    def _values_at(self, index: int) -> list[str]:
        values = [""] * len(self._sizes)
        for dim in range(len(self._sizes) - 1, -1, -1):
            index, offset = divmod(index, self._sizes[dim])
            values[dim] = self.dimensions[dim].display(offset)
        return values

    def key(self, index: int) -> PartitionKey:
        values = self._values_at(index)
        names = self.names
        return multi_key_from_sorted(tuple((names[dim], (values[dim],)) for dim in self._order))

    def display(self, index: int) -> str:
        return str(self.key(index))

    def position_of_value(self, value: str) -> int | None:
        return None

    def position(self, key: PartitionKey) -> int | None:
        if type(key) is not MultiKey:
            return None
        dims = dict(key.dims)
        if len(dims) != len(self.names):
            return None
        position = 0
        for name, seq, size in zip(self.names, self.dimensions, self._sizes):
            values = dims.get(name)
            if values is None or len(values) != 1:
                return None
            offset = seq.position_of_value(values[0])
            if offset is None:
                return None
            position = position * size + offset
        return position

    def keys(self, positions: range) -> Iterator[PartitionKey]:
        if positions.step != 1 or positions.start != 0 or positions.stop != self._length:
            return map(self.key, positions)
        return self._all_keys()

    def _all_keys(self) -> Iterator[PartitionKey]:
        names, order = self.names, self._order
        columns = [list(seq.iter_display()) for seq in self.dimensions]
        for combo in itertools.product(*columns):
            yield multi_key_from_sorted(tuple((names[dim], (combo[dim],)) for dim in order))

    def displays(self, positions: range) -> Iterator[str]:
        return map(str, self.keys(positions))


class PartitionKeySequence(Sequence[PartitionKey]):
    """An immutable, lazy ``Sequence[PartitionKey]``.

    ``len()``, ``seq[i]``, ``seq[a:b]`` (again lazy), ``seq.index(key)`` and
    ``key in seq`` cost O(1) or O(log n) for static and time-window keys;
    iteration builds the keys one by one. A sequence compares equal to a
    list or tuple holding the same keys in the same order.
    """

    __slots__ = ("_source", "_positions")

    def __init__(self, source: KeySource, positions: range | None = None) -> None:
        self._source = source
        self._positions = range(len(source)) if positions is None else positions

    @classmethod
    def of_values(cls, values: Sequence[str]) -> PartitionKeySequence:
        """A sequence of single-valued keys from distinct strings."""
        return cls(ListSource(values))

    # -- Sequence protocol -------------------------------------------------

    def __len__(self) -> int:
        return len(self._positions)

    @overload
    def __getitem__(self, index: int) -> PartitionKey: ...

    @overload
    def __getitem__(self, index: slice) -> PartitionKeySequence: ...

    def __getitem__(self, index: int | slice) -> PartitionKey | PartitionKeySequence:
        if isinstance(index, slice):
            return PartitionKeySequence(self._source, self._positions[index])
        return self._source.key(self._positions[index])

    def __iter__(self) -> Iterator[PartitionKey]:
        return self._source.keys(self._positions)

    def __reversed__(self) -> Iterator[PartitionKey]:
        return self._source.keys(self._positions[::-1])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, PartitionKey) and self.position(key) is not None

    def index(self, key: Any, start: int = 0, stop: int | None = None) -> int:
        """The position of ``key``; ValueError when it is not in the sequence (or not in ``start:stop``)."""
        position = self.position(key) if isinstance(key, PartitionKey) else None
        if position is None or not (range(len(self._positions))[start:stop].count(position)):
            raise ValueError(f"{key!r} is not in the sequence")
        return position

    def count(self, key: Any) -> int:
        """1 when ``key`` is in the sequence, else 0 (keys are distinct)."""
        return 1 if key in self else 0

    # -- fast paths --------------------------------------------------------

    def position(self, key: PartitionKey) -> int | None:
        """The position of ``key`` in this sequence, or None."""
        return self._local(self._source.position(key))

    def position_of_value(self, value: str) -> int | None:
        """The position of the single-valued key ``value``, or None."""
        return self._local(self._source.position_of_value(value))

    def _local(self, source_position: int | None) -> int | None:
        positions = self._positions
        if source_position is None or source_position not in positions:
            return None
        if positions.step == 1:
            return source_position - positions.start
        return positions.index(source_position)

    def display(self, index: int) -> str:
        """The display string of the key at ``index``."""
        return self._source.display(self._positions[index])

    def iter_display(self) -> Iterator[str]:
        """The display strings of the keys, in order, without building keys."""
        return self._source.displays(self._positions)

    # -- comparisons and repr ----------------------------------------------

    def __eq__(self, other: object) -> bool:
        if isinstance(other, PartitionKeySequence):
            if self._source is other._source:
                return self._positions == other._positions or (len(self) == 0 and len(other) == 0)
        elif not isinstance(other, (list, tuple)):
            return NotImplemented
        if len(self) != len(other):
            return False
        return all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        count = len(self)
        if count <= 6:
            return "PartitionKeySequence([" + ", ".join(map(repr, self)) + "])"
        head = ", ".join(repr(self[i]) for i in range(3))
        return f"PartitionKeySequence([{head}, ..., {self[-1]!r}], len={count})"
