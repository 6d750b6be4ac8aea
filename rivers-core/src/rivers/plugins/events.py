"""Plain, immutable events handed to the observer hooks.

Observers receive these objects and nothing else: no engine internals, no
live storage handles. Every event has a ``kind`` (the hook name without the
``rivers_`` prefix) and :meth:`to_dict` returns a JSON-ready dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from rivers._record import Record

__all__ = [
    "RUN_STATUSES",
    "STEP_STATUSES",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
]

#: Statuses a finished step can have.
STEP_STATUSES = ("success", "failure", "skipped")
#: Statuses a finished run can have.
RUN_STATUSES = ("success", "failure", "canceled")


def _check_status(event: str, status: object, allowed: tuple[str, ...]) -> None:
    if status not in allowed:
        raise ValueError(f"{event} status must be one of {', '.join(allowed)}; got {status!r}")


class _Event(Record):
    """Shared behaviour of the event classes."""

    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, with its ``kind`` under ``"event"``."""
        return {"event": self.kind, **self.to_plain()}


class RunStarted(_Event):
    """A run has started.

    ``job_name`` is ``None`` for an ad-hoc materialisation; ``tags`` accepts a
    mapping or the ``[(key, value), ...]`` list a run is launched with.
    """

    kind: ClassVar[str] = "run_started"

    run_id: str
    job_name: str | None
    node_names: tuple[str, ...]
    tags: dict[str, str] | None = None

    def _prepare(self, values: dict[str, Any]) -> None:
        values["node_names"] = tuple(values["node_names"])
        tags: Mapping[str, str] | Iterable[tuple[str, str]] | None = values["tags"]
        values["tags"] = dict(tags or ())


class StepStarted(_Event):
    """A step of a run has started executing."""

    kind: ClassVar[str] = "step_started"

    run_id: str
    step_key: str


class StepFinished(_Event):
    """A step has ended; ``status`` is one of :data:`STEP_STATUSES`.

    ``error`` is the failure's message (``"ValueError: bad row"``) when the
    status is ``"failure"``, otherwise ``None``.
    """

    kind: ClassVar[str] = "step_finished"

    run_id: str
    step_key: str
    status: str
    duration_s: float
    error: str | None = None

    def _prepare(self, values: dict[str, Any]) -> None:
        _check_status("StepFinished", values["status"], STEP_STATUSES)


class RunFinished(_Event):
    """A run has ended; ``status`` is one of :data:`RUN_STATUSES`."""

    kind: ClassVar[str] = "run_finished"

    run_id: str
    status: str
    duration_s: float
    failed_steps: tuple[str, ...] = ()

    def _prepare(self, values: dict[str, Any]) -> None:
        _check_status("RunFinished", values["status"], RUN_STATUSES)
        values["failed_steps"] = tuple(values["failed_steps"])
