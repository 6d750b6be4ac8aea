"""Backfills: many partitions of a selection, grouped into runs by a strategy.

``CodeRepository.backfill()`` plans the runs (:mod:`.planning`), executes
them (:mod:`.runner`) and keeps the backfill's state in storage
(:mod:`.state`) so that another process can follow or cancel it;
:mod:`.results` holds the read-only views returned to users.
"""

from rivers.backfills.results import BackfillResult, BackfillStatus

__all__ = ["BackfillResult", "BackfillStatus"]
