"""Retry policies: how often a failed step is attempted again, and when."""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from rivers.definitions.compute import ComputeEscalation
from rivers.definitions.failures import TRANSIENT_FAILURES, FailureReason
from rivers.exceptions import ConfigurationError

if TYPE_CHECKING:
    from typing import TypeAlias

    #: One entry of ``retry_on=[...]``: an exception type (subclasses match too) or a failure reason.
    RetryOnEntry: TypeAlias = "type[BaseException] | FailureReason"


class RetryOn:
    """Which failures a policy retries: ``RetryOn.ALL`` or ``RetryOn.TRANSIENT``."""

    __slots__ = ("_kind",)
    ALL: RetryOn
    TRANSIENT: RetryOn

    def __init__(self, kind: str) -> None:
        self._kind = kind

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RetryOn) and other._kind == self._kind

    def __hash__(self) -> int:
        return hash(self._kind)

    def __repr__(self) -> str:
        return f"RetryOn.{self._kind}"


RetryOn.ALL = RetryOn("ALL")
RetryOn.TRANSIENT = RetryOn("TRANSIENT")


def _check_jitter(jitter: float) -> float:
    if not 0.0 <= jitter <= 1.0:
        raise ConfigurationError(f"jitter must be between 0.0 and 1.0, got {jitter}")
    return float(jitter)


class Backoff:
    """Wait between attempts: ``constant``, ``linear``, ``exponential`` or ``fixed``."""

    __slots__ = ("kind", "_base", "jitter", "max_delay")
    kind: str
    _base: Callable[[int], float]
    jitter: float
    max_delay: float | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("cannot create 'Backoff' instances: use Backoff.constant/linear/exponential/fixed")

    @classmethod
    def _make(cls, kind: str, base: Callable[[int], float], jitter: float, max_delay: float | None) -> Backoff:
        backoff = object.__new__(cls)
        backoff.kind = kind
        backoff._base = base
        backoff.jitter = _check_jitter(jitter)
        backoff.max_delay = max_delay
        return backoff

    @classmethod
    def constant(cls, delay: float, *, jitter: float = 0.0, max_delay: float | None = None) -> Backoff:
        """Wait ``delay`` seconds before every retry."""
        return cls._make("constant", lambda n: delay, jitter, max_delay)

    @classmethod
    def linear(cls, step: float, *, initial: float = 0.0, jitter: float = 0.0, max_delay: float | None = None) -> Backoff:
        """Wait ``initial + step * n`` after the n-th failure."""
        return cls._make("linear", lambda n: initial + step * n, jitter, max_delay)

    @classmethod
    def exponential(
        cls, initial: float, *, factor: float = 2.0, jitter: float = 0.0, max_delay: float | None = None
    ) -> Backoff:
        """Wait ``initial * factor ** (n - 1)`` after the n-th failure."""
        return cls._make("exponential", lambda n: initial * factor ** (n - 1), jitter, max_delay)

    @classmethod
    def fixed(cls, schedule: Sequence[float], *, jitter: float = 0.0) -> Backoff:
        """Wait ``schedule[n - 1]`` (the last entry once the schedule runs out)."""
        delays = list(schedule)
        if not delays:
            raise ConfigurationError("Backoff.fixed requires a non-empty schedule")
        return cls._make("fixed", lambda n: delays[min(n - 1, len(delays) - 1)], jitter, None)

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failed attempt (n >= 1)."""
        base = float(self._base(failures))
        if self.max_delay is not None:
            base = min(base, self.max_delay)
        if self.jitter:
            base *= random.uniform(1 - self.jitter, 1 + self.jitter)
        return 0.0 if math.isnan(base) or base < 0 else base

    def __repr__(self) -> str:
        return f"Backoff.{self.kind}(...)"


class RetryPolicy:
    """How many times a failing step is retried, with which backoff, for which errors."""

    __slots__ = ("_max_retries", "backoff", "retry_on", "escalate")

    def __init__(
        self,
        max_retries: int = 1,
        *,
        backoff: Backoff | None = None,
        retry_on: RetryOn | Sequence[RetryOnEntry] | None = None,
        escalate: ComputeEscalation | None = None,
    ) -> None:
        if not isinstance(max_retries, int) or isinstance(max_retries, bool):
            raise TypeError("max_retries must be an int")
        if max_retries < 0:
            raise OverflowError("can't convert negative int to unsigned")
        if retry_on is not None and not isinstance(retry_on, RetryOn):
            retry_on = list(retry_on)
            for element in retry_on:
                if isinstance(element, FailureReason):
                    continue
                if not isinstance(element, type):
                    raise TypeError("retry_on elements must be exception types or FailureReason values")
                if not issubclass(element, BaseException):
                    raise TypeError(f"retry_on exception type must subclass BaseException: {element.__name__}")
        self._max_retries = max_retries
        self.backoff = backoff
        self.retry_on = retry_on
        if escalate is not None:
            if not isinstance(escalate, ComputeEscalation):
                raise TypeError("RetryPolicy escalate must be an rs.ComputeEscalation(max_memory=...), "
                                f"got {type(escalate).__name__}")
        self.escalate = escalate

    @property
    def max_retries(self) -> int:
        """Retries after the first attempt."""
        return self._max_retries

    def admits(self, error: BaseException, reason: FailureReason) -> bool:
        """Whether a failure with this exception and reason may be retried."""
        if reason is FailureReason.CANCELLED:
            return False
        if self.escalate is not None and reason in self.escalate.on:
            return True
        retry_on = self.retry_on
        if retry_on is None or retry_on == RetryOn.ALL:
            return True
        if retry_on == RetryOn.TRANSIENT:
            return reason in TRANSIENT_FAILURES
        return any(
            element is reason if isinstance(element, FailureReason) else isinstance(error, element)
            for element in cast("list[RetryOnEntry]", retry_on)  # not None, ALL nor TRANSIENT: the checked list
        )

    def delay(self, failures: int) -> float:
        """Seconds to wait before the next attempt."""
        return 0.0 if self.backoff is None else self.backoff.delay(failures)

    def __repr__(self) -> str:
        if self.escalate is None:
            return f"RetryPolicy(max_retries={self._max_retries})"
        return f"RetryPolicy(max_retries={self._max_retries}, escalate={self.escalate!r})"
