"""Plain, immutable events handed to the observer hooks.

Observers receive these objects and nothing else: no engine internals, no
live storage handles. Every event has a ``kind`` (the hook name without the
``rivers_`` prefix) and :meth:`to_dict` returns a JSON-ready dict.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

import attrs

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


def _str_tuple(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _tag_dict(tags: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> dict[str, str]:
    return dict(tags or ())


class _Event:
    """Shared behaviour of the event classes."""

    __slots__ = ()
    kind: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        """The event as a JSON-ready dict, with its ``kind`` under ``"event"``."""
        return {"event": self.kind, **attrs.asdict(self)}  # type: ignore[arg-type]


@attrs.frozen
class RunStarted(_Event):
    """A run has started.

    ``job_name`` is ``None`` for an ad-hoc materialisation; ``tags`` accepts a
    mapping or the ``[(key, value), ...]`` list a run is launched with.
    """

    kind: ClassVar[str] = "run_started"

    run_id: str
    job_name: str | None
    node_names: tuple[str, ...] = attrs.field(converter=_str_tuple)
    tags: dict[str, str] = attrs.field(factory=dict, converter=_tag_dict)


@attrs.frozen
class StepStarted(_Event):
    """A step of a run has started executing."""

    kind: ClassVar[str] = "step_started"

    run_id: str
    step_key: str


@attrs.frozen
class StepFinished(_Event):
    """A step has ended; ``status`` is one of :data:`STEP_STATUSES`.

    ``error`` is the failure's message (``"ValueError: bad row"``) when the
    status is ``"failure"``, otherwise ``None``.
    """

    kind: ClassVar[str] = "step_finished"

    run_id: str
    step_key: str
    status: str = attrs.field(validator=attrs.validators.in_(STEP_STATUSES))
    duration_s: float
    error: str | None = None


@attrs.frozen
class RunFinished(_Event):
    """A run has ended; ``status`` is one of :data:`RUN_STATUSES`."""

    kind: ClassVar[str] = "run_finished"

    run_id: str
    status: str = attrs.field(validator=attrs.validators.in_(RUN_STATUSES))
    duration_s: float
    failed_steps: tuple[str, ...] = attrs.field(factory=tuple, converter=_str_tuple)
