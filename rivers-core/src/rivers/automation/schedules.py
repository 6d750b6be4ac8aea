"""``Schedule``: a cron expression that asks for runs of a job."""

from __future__ import annotations

import enum
from typing import Any, Callable

from rivers.automation.cron_ticks import check_cron, check_zone
from rivers.automation.requests import EvalMode
from rivers.automation.trigger_definitions import EvaluationContextBase, TriggerDefinition
from rivers.exceptions import ScheduleDefinitionError

__all__ = ["Schedule", "ScheduleEvaluationContext", "ScheduleStatus", "ScheduleTickResult"]


class ScheduleStatus(enum.IntEnum):
    """Whether the daemon ticks a schedule."""

    Running = 0
    Stopped = 1


class ScheduleEvaluationContext(EvaluationContextBase):
    """What a schedule function receives: its tick time, its name, its typed config and a logger."""

    _logger_kind = "schedules"

    def __init__(self, scheduled_execution_time: str, schedule_name: str, config: Any = None) -> None:
        super().__init__(schedule_name, config)
        self.scheduled_execution_time = scheduled_execution_time
        self.schedule_name = schedule_name

    def __repr__(self) -> str:
        return (f"ScheduleEvaluationContext(schedule_name={self.schedule_name!r}, "
                f"scheduled_execution_time={self.scheduled_execution_time!r})")


class ScheduleTickResult:
    """The outcome of evaluating a schedule once: its requests or why it skipped."""

    def __init__(self, schedule_name: str, run_requests: list[Any], skip_reason: Any = None) -> None:
        self.schedule_name = schedule_name
        self.run_requests = run_requests
        self.skip_reason = skip_reason

    def __repr__(self) -> str:
        return f"ScheduleTickResult(schedule={self.schedule_name!r}, run_requests={len(self.run_requests)})"


class Schedule(TriggerDefinition):
    """Runs ``job_name`` at every tick of ``cron_schedule`` (a 5- or 6-field cron, in ``timezone``).

    Use it as a decorator (``@rs.Schedule(cron_schedule=..., job_name=...)``)
    or call it with the function. Without a function each tick requests one
    run of the job with the schedule's tags. ``catch_up`` says what the
    daemon does with ticks missed while it was down: ``"skip"`` them, run the
    ``"latest"`` once (default), or run ``"all"`` of them (at most
    ``max_catch_up_ticks``).
    """

    _kind = "Schedule"
    _error = ScheduleDefinitionError

    def __init__(
        self,
        func: Callable[..., Any] | None = None,
        *,
        cron_schedule: str,
        job_name: str,
        name: str | None = None,
        default_status: ScheduleStatus = ScheduleStatus.Stopped,
        timezone: str | None = None,
        tags: dict[str, str] | None = None,
        description: str | None = None,
        eval_mode: EvalMode = EvalMode.Auto,
        eval_timeout: float | None = None,
        catch_up: str = "latest",
        max_catch_up_ticks: int = 100,
    ) -> None:
        if not cron_schedule:
            raise ScheduleDefinitionError("cron_schedule cannot be empty")
        problem = check_cron(cron_schedule)
        if problem is not None:
            raise ScheduleDefinitionError(f'invalid cron_schedule "{cron_schedule}": {problem}')
        if not job_name:
            raise ScheduleDefinitionError("job_name cannot be empty")
        if timezone is not None:
            problem = check_zone(timezone)
            if problem is not None:
                raise ScheduleDefinitionError(f'invalid timezone "{timezone}": {problem}')
        if tags is not None and not isinstance(tags, dict):
            raise ScheduleDefinitionError(f"Schedule tags must be a dict of str to str, got {type(tags).__name__}")
        if catch_up not in ("skip", "latest", "all"):
            raise ScheduleDefinitionError(
                f"invalid catch_up {catch_up!r}: use 'skip' (drop missed ticks), 'latest' (run the newest missed "
                "tick once, the default) or 'all' (run every missed tick, up to max_catch_up_ticks)"
            )
        if isinstance(max_catch_up_ticks, bool) or not isinstance(max_catch_up_ticks, int) or max_catch_up_ticks < 1:
            raise ScheduleDefinitionError(f"max_catch_up_ticks must be a positive int, got {max_catch_up_ticks!r}")
        self.catch_up = catch_up
        self.max_catch_up_ticks = max_catch_up_ticks
        super().__init__(func, name, description, tags, eval_mode, eval_timeout)
        self.cron_schedule = cron_schedule
        self.job_name = job_name
        self.default_status = self._enum(ScheduleStatus, default_status, "default_status")
        self.timezone = timezone

    def _fallback_name(self) -> str:
        return f"{self.job_name}_schedule"

    def __repr__(self) -> str:
        return f"Schedule(name={self.name!r}, cron={self.cron_schedule!r}, job={self.job_name!r})"
