"""Which threads write a run's records in the background: a hint from the engine to storage backends.

A run's event writer thread (``rivers.execution.event_writer``) marks
itself with :func:`mark_background_writer`. A backend that queues records
for a group commit (the SQLite backend's write-behind queue) asks
:func:`is_background_writer` when records are appended: such a thread may
write what is queued itself, early, because its writes overlap the steps
that follow instead of delaying them. Other backends can ignore the hint.
"""

from __future__ import annotations

import threading

__all__ = ["BACKGROUND_BATCH", "is_background_writer", "mark_background_writer"]

#: Records a background writer gathers before it writes them (the event writer wakes at this many, the
#: SQLite queue lets such a thread write once this many are queued).
BACKGROUND_BATCH = 500

#: ``active`` is set in the threads marked by :func:`mark_background_writer`.
_marks = threading.local()


def mark_background_writer() -> None:
    """Mark the calling thread as a background writer (a run's event writer thread)."""
    _marks.active = True


def is_background_writer() -> bool:
    """Whether the calling thread was marked by :func:`mark_background_writer`."""
    return getattr(_marks, "active", False)
