"""``Sensor``: a polled function that asks for runs and keeps a cursor."""

from __future__ import annotations

import enum
from typing import Any, Callable, Sequence

from rivers.automation.requests import EvalMode
from rivers.automation.trigger_definitions import EvaluationContextBase, TriggerDefinition
from rivers.exceptions import SensorDefinitionError

__all__ = ["Sensor", "SensorEvaluationContext", "SensorStatus", "SensorTickResult"]


class SensorStatus(enum.IntEnum):
    """Whether the daemon ticks a sensor."""

    Running = 0
    Stopped = 1


class SensorEvaluationContext(EvaluationContextBase):
    """What a sensor function receives: its name, its cursor, the last tick time, typed config and a logger."""

    _logger_kind = "sensors"

    def __init__(self, sensor_name: str, cursor: str | None = None, last_tick_time: float | None = None,
                 config: Any = None) -> None:
        super().__init__(sensor_name, config)
        self.sensor_name = sensor_name
        self.cursor = cursor
        self.last_tick_time = last_tick_time

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


class Sensor(TriggerDefinition):
    """Calls its function every ``minimum_interval`` (daemon default ``"30s"``) and launches what it requests.

    The target is ``job_name`` or ``asset_selection`` (checked at validate).
    """

    _kind = "Sensor"
    _error = SensorDefinitionError

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
        super().__init__(func, name, description, tags, eval_mode, eval_timeout)
        self.job_name = job_name
        self.minimum_interval = minimum_interval
        self.default_status = self._enum(SensorStatus, default_status, "default_status")
        self.asset_selection = None if asset_selection is None else (
            [asset_selection] if isinstance(asset_selection, str) else list(asset_selection))

    def __repr__(self) -> str:
        job = "None" if self.job_name is None else f'Some("{self.job_name}")'
        return f"Sensor(name={self.name!r}, job_name={job})"
