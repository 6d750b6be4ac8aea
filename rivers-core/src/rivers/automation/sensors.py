"""``Sensor``: a polled function that asks for runs and keeps a cursor."""

from __future__ import annotations

import enum
import logging
import types
from typing import Any, Callable, Sequence

from rivers.automation.requests import EvalMode
from rivers.exceptions import SensorDefinitionError

__all__ = ["Sensor", "SensorEvaluationContext", "SensorStatus", "SensorTickResult"]


class SensorStatus(enum.IntEnum):
    """Whether the daemon ticks a sensor."""

    Running = 0
    Stopped = 1


class SensorEvaluationContext:
    """What a sensor function receives: its name, its cursor, the last tick time, typed config and a logger."""

    def __init__(self, sensor_name: str, cursor: str | None = None, last_tick_time: float | None = None,
                 config: Any = None) -> None:
        self.sensor_name = sensor_name
        self.cursor = cursor
        self.last_tick_time = last_tick_time
        self.config = config
        self.log = logging.getLogger(f"code-repo.sensors.{sensor_name}")

    def __class_getitem__(cls, item: Any) -> types.GenericAlias:
        return types.GenericAlias(cls, item)

    def __repr__(self) -> str:
        return f"SensorEvaluationContext(sensor_name={self.sensor_name!r}, cursor={self.cursor!r})"


class SensorTickResult:
    """The outcome of evaluating a sensor once: its requests or skip reason, and its new cursor."""

    def __init__(self, sensor_name: str, run_requests: list[Any], skip_reason: Any = None,
                 cursor: str | None = None) -> None:
        self.sensor_name = sensor_name
        self.run_requests = run_requests
        self.skip_reason = skip_reason
        self.cursor = cursor

    def __repr__(self) -> str:
        cursor = "None" if self.cursor is None else f'Some("{self.cursor}")'
        return f"SensorTickResult(sensor={self.sensor_name!r}, run_requests={len(self.run_requests)}, cursor={cursor})"


class Sensor:
    """Calls its function every ``minimum_interval`` (daemon default ``"30s"``) and launches what it requests.

    The target is ``job_name`` or ``asset_selection`` (checked at validate).
    """

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        job_name: str | None = None,
        minimum_interval: str | None = None,
        default_status: SensorStatus = SensorStatus.Stopped,
        description: str | None = None,
        tags: dict[str, str] | None = None,
        asset_selection: Sequence[str] | None = None,
        eval_mode: EvalMode = EvalMode.Auto,
        eval_timeout: float | None = None,
    ) -> None:
        if name is not None and not name:
            raise SensorDefinitionError("sensor name cannot be empty")
        self._name = name
        self.job_name = job_name
        self.minimum_interval = minimum_interval
        self.default_status = SensorStatus(default_status)
        self.description = description
        self.tags = dict(tags) if tags is not None else None
        self.asset_selection = None if asset_selection is None else (
            [asset_selection] if isinstance(asset_selection, str) else list(asset_selection))
        self.eval_mode = EvalMode(eval_mode)
        self.eval_timeout = eval_timeout
        self.evaluation_fn: Callable[..., Any] | None = func

    @property
    def name(self) -> str:
        """Explicit ``name``, else the function's name (``""`` for a function-less sensor without one)."""
        if self._name:
            return self._name
        if self.evaluation_fn is not None:
            return str(self.evaluation_fn.__name__)
        return ""

    def __call__(self, func: Callable[..., Any]) -> Sensor:
        if self.evaluation_fn is not None:
            raise TypeError(f"Sensor {self.name!r} already has an evaluation function")
        if not callable(func):
            raise TypeError(f"Sensor takes a function, got {type(func).__name__}")
        self.evaluation_fn = func
        return self

    def __repr__(self) -> str:
        job = "None" if self.job_name is None else f'Some("{self.job_name}")'
        return f"Sensor(name={self.name!r}, job_name={job})"
