"""``BackfillStrategy``: how a backfill groups partition keys into runs."""

from __future__ import annotations

from typing import Any, ClassVar

from rivers.exceptions import ExecutionError, PartitionDefinitionError
from rivers.partitions.keys import quoted

__all__ = ["BackfillStrategy"]


class BackfillStrategy:
    """Grouping of backfill keys into runs (tagged union; use the factories).

    * :meth:`multi_run` — one run per key (the default);
    * :meth:`single_run` — one run, one step invocation with every key;
    * :meth:`per_dimension` — one run per combination of the ``multi_run``
      dimensions, the ``single_run`` dimensions batched into each run.
    """

    __slots__ = ()

    MultiRun: ClassVar[type[MultiRunStrategy]]
    SingleRun: ClassVar[type[SingleRunStrategy]]
    PerDimension: ClassVar[type[PerDimensionStrategy]]

    def __new__(cls, *args: Any, **kwargs: Any) -> BackfillStrategy:
        if cls is BackfillStrategy:
            raise TypeError("cannot create 'BackfillStrategy' instances; use BackfillStrategy.multi_run() etc.")
        return object.__new__(cls)

    @staticmethod
    def multi_run() -> MultiRunStrategy:
        """One run per partition key."""
        return MultiRunStrategy()

    @staticmethod
    def single_run() -> SingleRunStrategy:
        """One run whose step receives every key in ``context.partition.keys``."""
        return SingleRunStrategy()

    @staticmethod
    def per_dimension(multi_run: list[str], single_run: list[str]) -> PerDimensionStrategy:
        """One run per combination of ``multi_run`` dimensions; ``single_run`` dimensions batched."""
        return PerDimensionStrategy(multi_run, single_run)

    def _identity(self) -> Any:
        return ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BackfillStrategy):
            return NotImplemented
        return type(self) is type(other) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._identity()))


class MultiRunStrategy(BackfillStrategy):
    """One run per key."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BackfillStrategy.multi_run()"


class SingleRunStrategy(BackfillStrategy):
    """All keys in one run."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "BackfillStrategy.single_run()"


def _dimension_list(value: Any, name: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise TypeError(f"{name} must be a list of dimension names, got {type(value).__name__}")
    for item in value:
        if not isinstance(item, str):
            raise TypeError(f"{name} dimension names must be str, got {type(item).__name__}")
    if not value:
        raise PartitionDefinitionError(f"{name} must contain at least one dimension")
    return list(value)


class PerDimensionStrategy(BackfillStrategy):
    """``multi_run_dims`` split runs, ``single_run_dims`` are batched within each run."""

    __slots__ = ("multi_run_dims", "single_run_dims")

    def __init__(self, multi_run: list[str], single_run: list[str]) -> None:
        self.multi_run_dims = _dimension_list(multi_run, "multi_run")
        self.single_run_dims = _dimension_list(single_run, "single_run")
        for dim in self.multi_run_dims:
            if dim in self.single_run_dims:
                raise PartitionDefinitionError(
                    f"dimension '{dim}' cannot be in both multi_run and single_run; put it in one of them"
                )

    @property  # type: ignore[override]
    def multi_run(self) -> list[str]:  # type: ignore[override]
        """The dimensions that split runs (alias of ``multi_run_dims``)."""
        return list(self.multi_run_dims)

    @property  # type: ignore[override]
    def single_run(self) -> list[str]:  # type: ignore[override]
        """The dimensions batched into each run (alias of ``single_run_dims``)."""
        return list(self.single_run_dims)

    def check_definition(self, asset: str, definition: Any) -> None:
        """Raise the backfill-time errors when ``definition`` (of ``asset``) does not fit this strategy."""
        names = getattr(definition, "dimension_names", None)
        if getattr(definition, "kind", None) != "multi" or names is None:
            raise ExecutionError(
                f"BackfillStrategy.per_dimension requires Multi-partitioned assets; asset '{asset}' is not "
                "Multi-partitioned"
            )
        for dim in (*self.multi_run_dims, *self.single_run_dims):
            if dim not in names:
                raise ExecutionError(
                    f"BackfillStrategy.per_dimension references dimension '{dim}', which is not a dimension of "
                    f"asset '{asset}' (dimensions: {', '.join(names)})"
                )

    def _identity(self) -> Any:
        return (tuple(self.multi_run_dims), tuple(self.single_run_dims))

    def __repr__(self) -> str:
        multi = ", ".join(map(quoted, self.multi_run_dims))
        single = ", ".join(map(quoted, self.single_run_dims))
        return f"BackfillStrategy.per_dimension(multi_run=[{multi}], single_run=[{single}])"


for _variant, _name in (
    (MultiRunStrategy, "MultiRun"),
    (SingleRunStrategy, "SingleRun"),
    (PerDimensionStrategy, "PerDimension"),
):
    _variant.__qualname__ = f"BackfillStrategy.{_name}"
    setattr(BackfillStrategy, _name, _variant)
