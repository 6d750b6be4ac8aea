"""What schedules and sensors share: the decorator form, the name rule, the evaluation context's base."""

from __future__ import annotations

import enum
import logging
import types
from typing import Any, Callable, ClassVar, TypeVar

from rivers.automation.requests import EvalMode

__all__ = ["EvaluationContextBase", "TriggerDefinition"]

_T = TypeVar("_T", bound="TriggerDefinition")
_E = TypeVar("_E", bound=enum.IntEnum)


class EvaluationContextBase:
    """The base of schedule and sensor contexts: typed config, a logger ``code-repo.<kind>.<name>``, ``[ConfigT]``."""

    _logger_kind: ClassVar[str] = ""

    def __init__(self, name: str, config: Any) -> None:
        self.config = config
        self.log = logging.getLogger(f"code-repo.{self._logger_kind}.{name}")

    def __class_getitem__(cls, item: Any) -> types.GenericAlias:
        return types.GenericAlias(cls, item)


class TriggerDefinition:
    """The base of :class:`~rivers.Schedule` and :class:`~rivers.Sensor`.

    Either form works: ``Trigger(func, ...)``, or ``@Trigger(...)`` (a
    function-less definition whose call binds the function once). The name
    is the explicit ``name``, else the function's name, else
    :meth:`_fallback_name`.
    """

    _kind: ClassVar[str] = ""
    _error: ClassVar[type[Exception]] = ValueError

    def __init__(self, func: Callable[..., Any] | None, name: str | None, description: str | None,
                 tags: dict[str, str] | None, eval_mode: EvalMode, eval_timeout: float | None) -> None:
        self._name = name
        self.evaluation_fn: Callable[..., Any] | None = func
        self.description = description
        self.tags = dict(tags) if tags is not None else None
        self.eval_mode = self._enum(EvalMode, eval_mode, "eval_mode")
        self.eval_timeout = eval_timeout

    def _enum(self, kind: type[_E], value: Any, parameter: str) -> _E:
        """``value`` as a member of ``kind`` (a member or its int), or the definition error naming ``parameter``."""
        try:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(value)
            return kind(value)
        except ValueError:
            members = ", ".join(f"{kind.__name__}.{member.name}" for member in kind)
            name = self._name or getattr(self.evaluation_fn, "__name__", "")
            raise self._error(f"{self._kind} {name!r}: invalid {parameter} {value!r}; use one of {members}") from None

    def _fallback_name(self) -> str:
        return ""

    @property
    def name(self) -> str:
        """Explicit ``name``, else the function's name, else the kind's fallback."""
        if self._name:
            return self._name
        if self.evaluation_fn is not None:
            return str(self.evaluation_fn.__name__)
        return self._fallback_name()

    def __call__(self: _T, func: Callable[..., Any]) -> _T:
        if self.evaluation_fn is not None:
            raise TypeError(f"{self._kind} {self.name!r} already has an evaluation function")
        if not callable(func):
            raise TypeError(f"{self._kind} takes a function, got {type(func).__name__}")
        self.evaluation_fn = func
        return self
