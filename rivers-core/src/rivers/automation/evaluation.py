"""``repo.evaluate_schedule`` / ``repo.evaluate_sensor``: one synchronous evaluation, as the daemon does it."""

from __future__ import annotations

import time
from typing import Any

from rivers.automation.invocation import build_arguments, call_evaluation, normalise_requests
from rivers.automation.requests import RunRequest
from rivers.automation.schedules import Schedule, ScheduleEvaluationContext, ScheduleTickResult
from rivers.automation.sensors import Sensor, SensorEvaluationContext, SensorTickResult
from rivers.exceptions import ConfigurationError, ScheduleDefinitionError, SensorDefinitionError

__all__ = ["evaluate_schedule", "evaluate_sensor"]


def evaluate_schedule(schedule: Schedule, resources: dict[str, Any],
                      execution_time: str | None = None) -> ScheduleTickResult:
    """Evaluate ``schedule`` for ``execution_time`` (default: now, as epoch seconds text)."""
    when = execution_time if execution_time is not None else str(int(time.time()))
    name = schedule.name
    fn = schedule.evaluation_fn
    if fn is None:
        return ScheduleTickResult(name, [RunRequest(job_name=schedule.job_name, tags=schedule.tags)])
    arguments = build_arguments(
        fn, ScheduleEvaluationContext, lambda config: ScheduleEvaluationContext(when, name, config), resources,
        f"schedule '{name}'", ScheduleDefinitionError,
    )
    requests, skip, _, _ = normalise_requests(call_evaluation(fn, arguments), "Schedule")
    filled = [_fill(request, schedule.job_name, schedule.tags) for request in requests]
    return ScheduleTickResult(name, filled, skip if not filled else None)


def evaluate_sensor(sensor: Sensor, resources: dict[str, Any], cursor: str | None = None,
                    last_tick_time: float | None = None) -> SensorTickResult:
    """Evaluate ``sensor`` once with ``cursor`` and ``last_tick_time``."""
    name = sensor.name
    fn = sensor.evaluation_fn
    if fn is None:
        raise ConfigurationError(f"Sensor '{name}' has no evaluation function")
    arguments = build_arguments(
        fn, SensorEvaluationContext, lambda config: SensorEvaluationContext(name, cursor, last_tick_time, config),
        resources, f"sensor '{name}'", SensorDefinitionError,
    )
    requests, skip, new_cursor, _ = normalise_requests(call_evaluation(fn, arguments), "Sensor")
    filled = [_fill(request, sensor.job_name, None) for request in requests]
    return SensorTickResult(name, filled, skip if not filled else None, new_cursor)


def _fill(request: Any, job_name: str | None, tags: dict[str, str] | None) -> Any:
    if isinstance(request, RunRequest):
        return request.with_defaults(job_name, tags)
    return request
