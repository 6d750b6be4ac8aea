"""What running one step produced: status, events, errors, data versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rivers.definitions.failures import FailureReason
    from rivers.storage.records import StoredEvent, StoredLog

SUCCESS = "success"
FAILURE = "failure"
SKIPPED = "skipped"
#: the attempt failed and its retry policy admits another one (the scheduler decides when)
RETRY = "retry"


class StepOutcome:
    """The result of one step: its events and, per output node, success or failure."""

    __slots__ = ("key", "status", "events", "error", "failed_nodes", "data_versions", "duration_s", "logs",
                 "reason")

    def __init__(self, key: str) -> None:
        self.key = key
        self.status = SUCCESS
        self.events: list[StoredEvent] = []
        self.error: BaseException | None = None
        self.failed_nodes: dict[str, BaseException] = {}
        self.data_versions: dict[str, str] = {}
        self.duration_s = 0.0
        self.logs: list[StoredLog] = []
        #: why the attempt failed (a FailureReason; None when it did not)
        self.reason: FailureReason | None = None

    def __repr__(self) -> str:
        return f"StepOutcome({self.key!r}, {self.status})"


def describe_error(error: BaseException) -> str:
    """``"<ExceptionClass>: <message>"`` as shown in results and events."""
    return f"{type(error).__name__}: {error}"
