"""Why a step's attempt failed: :class:`FailureReason` and the classification of exceptions."""

from __future__ import annotations

import enum


class FailureReason(enum.Enum):
    """Why an attempt failed; the event-metadata spelling is the lower-case value."""

    ERROR = "error"
    OUT_OF_MEMORY = "out_of_memory"
    TIMEOUT = "timeout"
    INFRASTRUCTURE = "infrastructure"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return f"FailureReason.{self.name}"


#: The reasons ``RetryOn.TRANSIENT`` retries.
TRANSIENT_FAILURES = frozenset({FailureReason.OUT_OF_MEMORY, FailureReason.TIMEOUT, FailureReason.INFRASTRUCTURE})


def classify_failure(error: BaseException) -> FailureReason:
    """Map an exception to its :class:`FailureReason`."""
    if isinstance(error, MemoryError):
        return FailureReason.OUT_OF_MEMORY
    if isinstance(error, TimeoutError):
        return FailureReason.TIMEOUT
    if isinstance(error, KeyboardInterrupt) or type(error).__name__ == "CancelledError":
        return FailureReason.CANCELLED
    if type(error).__name__ in ("BrokenProcessPool", "BrokenExecutor", "TerminatedWorkerError", "WorkerLostError"):
        return FailureReason.INFRASTRUCTURE
    return FailureReason.ERROR
