"""Backfills: many partitions of a selection, grouped into runs by a strategy.

``CodeRepository.backfill()`` plans the runs (:mod:`.planning`), executes
them (:mod:`.runner`) and keeps the backfill's state in storage
(:mod:`.state`) so that another process can follow or cancel it;
:mod:`.results` holds the read-only views returned to users and
:mod:`.handle` the :class:`BackfillHandle` of ``backfill(block=False)``.
"""

from typing import TYPE_CHECKING, Any

from rivers.backfills.results import BackfillResult, BackfillStatus

if TYPE_CHECKING:
    from rivers.backfills.handle import BackfillHandle

__all__ = ["BackfillHandle", "BackfillResult", "BackfillStatus"]


def __getattr__(name: str) -> Any:
    if name == "BackfillHandle":  # loaded on first use: a blocking backfill needs no handle
        from rivers.backfills.handle import BackfillHandle

        return BackfillHandle
    raise AttributeError(f"module 'rivers.backfills' has no attribute {name!r}")
