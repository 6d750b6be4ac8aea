"""Compute requests: how much CPU, memory and GPU a step asks of an executor that places work.

``rs.Compute(cpu="500m", memory="2Gi", gpu="1")`` on ``@rs.Asset(compute=...)``
or ``Asset.from_multi(compute=...)`` sizes that asset's step; an
``rs.ComputeEscalation`` on ``rs.RetryPolicy(escalate=...)`` grows it after
attempts that failed for one of its reasons (out of memory by default).

The built-in executors (in-process, parallel) run steps on this machine and
ignore both (a warning says so once per plan). Executors that place work
(the Kubernetes plugin) read them through :func:`compute_for_attempt`::

    from rivers.definitions.compute import compute_for_attempt

    compute = compute_for_attempt(step, failure_reasons)   # None: no request
    pod_resources = compute.as_dict() if compute else {}   # {"cpu": "500m", "memory": "4Gi"}

Quantities are Kubernetes quantity strings (``"500m"``, ``"2"``, ``"1.5"``,
``"512Mi"``, ``"4G"``, ``"1e3"``); a malformed one is a
:class:`~rivers.exceptions.ConfigurationError` when the object is built, not
when a pod is refused.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, overload

from rivers.definitions.failures import FailureReason
from rivers.exceptions import ConfigurationError

if TYPE_CHECKING:  # decimal is imported when a quantity is first computed with (every process imports this module)
    from decimal import Decimal
    from typing import Protocol

__all__ = ["Compute", "ComputeEscalation", "check_compute", "compute_for_attempt", "escalate",
           "warn_inert_compute"]

_QUANTITY = re.compile(
    r"^(?P<number>[+]?(?:\d+(?:\.\d*)?|\.\d+))(?P<suffix>[eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE])?$"
)
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_EXPONENTS = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


@overload
def _quantity(value: None, owner: str, parameter: str) -> None: ...
@overload
def _quantity(value: str | int, owner: str, parameter: str) -> str: ...
def _quantity(value: object, owner: str, parameter: str) -> str | None:
    """``value`` checked as a Kubernetes quantity (an int is accepted and written as text)."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return str(value)
    if not isinstance(value, str):
        raise TypeError(f"{owner} {parameter} must be a quantity string such as '500m', '2' or '4Gi', "
                        f"got {type(value).__name__} {value!r}")
    if not _QUANTITY.match(value.strip()):
        raise ConfigurationError(
            f"{owner} {parameter}={value!r} is not a Kubernetes quantity: write a number with an optional "
            "suffix, e.g. '500m' or '2' for CPUs, '512Mi' or '4Gi' for memory"
        )
    return value.strip()


@lru_cache(maxsize=256)
def parse_quantity(text: str) -> Decimal:
    """The numeric value of a quantity string (bytes for memory, cores for CPU), exact."""
    from decimal import Decimal

    match = _QUANTITY.match(text)
    if match is None:
        raise ConfigurationError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = Decimal(match["number"]), match["suffix"]
    if suffix is None:
        return number
    if suffix in _BINARY:
        return number * _BINARY[suffix]
    exponent = _DECIMAL_EXPONENTS[suffix] if suffix in _DECIMAL_EXPONENTS else int(suffix[1:])
    return number.scaleb(exponent)


def _memory_text(amount: Decimal) -> str:
    """Bytes as the largest binary unit that holds them exactly (whole bytes, rounded up)."""
    from decimal import ROUND_CEILING

    whole = int(amount.to_integral_value(rounding=ROUND_CEILING))
    for suffix in ("Ei", "Pi", "Ti", "Gi", "Mi", "Ki"):
        if whole and whole % _BINARY[suffix] == 0:
            return f"{whole // _BINARY[suffix]}{suffix}"
    return str(whole)


def _cpu_text(amount: Decimal) -> str:
    """Cores as whole cores (``"2"``) or millicores (``"1500m"``), rounded up to a millicore."""
    from decimal import ROUND_CEILING

    millis = int((amount * 1000).to_integral_value(rounding=ROUND_CEILING))
    return str(millis // 1000) if millis % 1000 == 0 else f"{millis}m"


def _factor(value: object, owner: str, parameter: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{owner} {parameter} must be a number, got {type(value).__name__}")
    if not value >= 1.0:  # also rejects NaN
        raise ConfigurationError(f"{owner} {parameter} must be at least 1.0 (a growth factor), got {value}")
    return float(value)


def _number_text(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


class Compute:
    """The resources one step requests: ``Compute(cpu="500m", memory="2Gi", gpu="1")``.

    Every field is optional (``None``: no request). Value equality and
    hashing; ``repr`` lists the fields that are set. Inert on the built-in
    executors; see :func:`compute_for_attempt` for executors that place work.
    """

    __slots__ = ("_cpu", "_memory", "_gpu")

    def __init__(self, *, cpu: str | None = None, memory: str | None = None, gpu: str | None = None) -> None:
        self._cpu = _quantity(cpu, "Compute", "cpu")
        self._memory = _quantity(memory, "Compute", "memory")
        self._gpu = _quantity(gpu, "Compute", "gpu")

    @property
    def cpu(self) -> str | None:
        """CPU cores (``"500m"``, ``"2"``)."""
        return self._cpu

    @property
    def memory(self) -> str | None:
        """Memory (``"512Mi"``, ``"4Gi"``)."""
        return self._memory

    @property
    def gpu(self) -> str | None:
        """GPUs (``"1"``)."""
        return self._gpu

    def as_dict(self) -> dict[str, str]:
        """The fields that are set: ``{"cpu": "500m", "memory": "2Gi"}``."""
        fields = (("cpu", self._cpu), ("memory", self._memory), ("gpu", self._gpu))
        return {name: value for name, value in fields if value is not None}

    def replace(self, **changes: str | None) -> Compute:
        """A copy with some fields changed."""
        fields = {"cpu": self._cpu, "memory": self._memory, "gpu": self._gpu}
        fields.update(changes)
        return Compute(**fields)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Compute) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash((self._cpu, self._memory, self._gpu))

    def __repr__(self) -> str:
        return "Compute(" + ", ".join(f"{name}={value!r}" for name, value in self.as_dict().items()) + ")"


class ComputeEscalation:
    """How a step's :class:`Compute` grows after failed attempts, used as ``RetryPolicy(escalate=...)``.

    After each failed attempt whose reason is in ``on`` (default
    ``[FailureReason.OUT_OF_MEMORY]``), memory is multiplied by ``factor``
    up to ``max_memory`` and, when ``cpu_factor`` is given, CPU by
    ``cpu_factor`` up to ``max_cpu``. The ``on`` reasons are retried even
    when the policy's ``retry_on`` excludes them.
    """

    __slots__ = ("_max_memory", "_factor", "_cpu_factor", "_max_cpu", "_on")

    def __init__(self, *, max_memory: str, factor: float = 2.0, cpu_factor: float | None = None,
                 max_cpu: str | None = None, on: Sequence[FailureReason] | None = None) -> None:
        owner = "ComputeEscalation"
        if max_memory is None:
            raise TypeError("ComputeEscalation max_memory is required, e.g. max_memory='64Gi'")
        self._max_memory = _quantity(max_memory, owner, "max_memory")
        self._factor = _factor(factor, owner, "factor")
        self._cpu_factor = None if cpu_factor is None else _factor(cpu_factor, owner, "cpu_factor")
        self._max_cpu = _quantity(max_cpu, owner, "max_cpu")
        if on is None:
            reasons = [FailureReason.OUT_OF_MEMORY]
        else:
            if isinstance(on, (str, FailureReason)) or not isinstance(on, Iterable):
                raise TypeError("ComputeEscalation on must be a list of FailureReason values")
            reasons = list(on)
            for reason in reasons:
                if not isinstance(reason, FailureReason):
                    raise TypeError(f"ComputeEscalation on must hold FailureReason values, got {reason!r}")
                if reason is FailureReason.CANCELLED:
                    raise ConfigurationError("ComputeEscalation on cannot include FailureReason.CANCELLED: "
                                             "a cancelled step is never retried")
        self._on = tuple(dict.fromkeys(reasons))

    @property
    def max_memory(self) -> str:
        """The memory an escalation never goes beyond."""
        return self._max_memory

    @property
    def factor(self) -> float:
        """Memory growth per escalating failure."""
        return self._factor

    @property
    def cpu_factor(self) -> float | None:
        """CPU growth per escalating failure (None: CPU stays)."""
        return self._cpu_factor

    @property
    def max_cpu(self) -> str | None:
        """The CPU an escalation never goes beyond (None: no cap)."""
        return self._max_cpu

    @property
    def on(self) -> list[FailureReason]:
        """The failure reasons that escalate (and are retried)."""
        return list(self._on)

    def _key(self) -> tuple[object, ...]:
        return (self._max_memory, self._factor, self._cpu_factor, self._max_cpu, self._on)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ComputeEscalation) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        parts = [f"factor={_number_text(self._factor)}", f"max_memory={self._max_memory!r}"]
        if self._cpu_factor is not None:
            parts.append(f"cpu_factor={_number_text(self._cpu_factor)}")
        if self._max_cpu is not None:
            parts.append(f"max_cpu={self._max_cpu!r}")
        if self._on != (FailureReason.OUT_OF_MEMORY,):
            parts.append(f"on=[{', '.join(str(reason) for reason in self._on)}]")
        return f"ComputeEscalation({', '.join(parts)})"


def check_compute(compute: object, owner: str) -> Compute | None:
    """``compute=`` of an asset: a :class:`Compute` or None."""
    if compute is None or isinstance(compute, Compute):
        return compute
    raise TypeError(f"{owner}: compute must be an rs.Compute(cpu=..., memory=..., gpu=...), "
                    f"got {type(compute).__name__}")


def escalate(compute: Compute | None, escalation: ComputeEscalation | None,
             failure_reasons: Sequence[FailureReason]) -> Compute | None:
    """``compute`` grown by ``escalation`` once per failure whose reason it escalates on.

    Memory and CPU a step did not request stay unrequested (there is
    nothing to multiply); ``max_memory`` / ``max_cpu`` cap the result, but
    never lower a request that started above them.
    """
    if compute is None or escalation is None:
        return compute
    from decimal import Decimal

    steps = sum(1 for reason in failure_reasons if reason in escalation._on)
    if not steps:
        return compute
    changes: dict[str, str] = {}
    if compute.memory is not None:
        start = parse_quantity(compute.memory)
        grown = start * Decimal(repr(escalation.factor)) ** steps
        cap = parse_quantity(escalation.max_memory)
        changes["memory"] = _memory_text(max(start, min(grown, cap)))
    if compute.cpu is not None and escalation.cpu_factor is not None:
        start = parse_quantity(compute.cpu)
        grown = start * Decimal(repr(escalation.cpu_factor)) ** steps
        if escalation.max_cpu is not None:
            grown = max(start, min(grown, parse_quantity(escalation.max_cpu)))
        changes["cpu"] = _cpu_text(grown)
    return compute.replace(**changes)


if TYPE_CHECKING:  # (for type checkers only: building a Protocol class costs every process's import)

    class EscalatingPolicy(Protocol):
        """What :func:`compute_for_attempt` reads of a retry policy (a :class:`~rivers.RetryPolicy`)."""

        @property
        def escalate(self) -> ComputeEscalation | None: ...

    class ComputePlan(Protocol):
        """What :func:`warn_inert_compute` reads of a plan (an execution plan, hashable and weakly referenceable)."""

        @property
        def compute_steps(self) -> Sequence[str]: ...


def compute_for_attempt(step: object, failure_reasons: Sequence[FailureReason] = (),
                        retry_default: EscalatingPolicy | None = None) -> Compute | None:
    """The :class:`Compute` a step requests for its next attempt (None: no request).

    ``step`` is what an executor is handed for a step (a planned step, step
    runtime or step spec: anything with ``owner``, or with ``runtime`` or
    ``spec`` leading to one); ``failure_reasons`` are the
    :class:`~rivers.FailureReason` of its failed attempts so far, oldest
    first (empty for the first attempt). The step's own retry policy wins,
    else ``retry_default`` (the job's or repository's); its ``escalate``
    grows the asset's ``compute=``.
    """
    for attribute in ("runtime", "spec"):
        inner = getattr(step, attribute, None)
        if inner is not None and getattr(step, "owner", None) is None:
            step = inner
    owner = getattr(step, "owner", None)
    compute = getattr(owner, "compute", None)
    policy = getattr(step, "retry", None)
    if policy is None or isinstance(policy, str):
        policy = retry_default
    return escalate(compute, getattr(policy, "escalate", None), failure_reasons)


#: plans already warned about (weak: a collected plan's id may be reused by a new plan)
_warned: weakref.WeakSet[ComputePlan] = weakref.WeakSet()


def warn_inert_compute(executor: object, plan: ComputePlan) -> None:
    """Warn once per plan when its steps request compute that ``executor`` does not place.

    ``plan.compute_steps``: the keys of the plan's steps that request compute.
    """
    names = plan.compute_steps
    if not names or getattr(executor, "places_work", False) or plan in _warned:
        return
    _warned.add(plan)
    import logging

    logging.getLogger("rivers.executor").warning(
        "compute= is ignored by the %s executor; it applies where an executor places work (Kubernetes); assets: %s",
        getattr(executor, "plugin_name", "") or type(executor).__name__, ", ".join(names))
