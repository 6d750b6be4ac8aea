"""One tick of a schedule or a sensor: evaluate, launch what it asks for (at most once), record the tick.

Exactly-once rests on deterministic ids: a schedule tick's id is derived
from the schedule and its cron time, a request's run id from the tick (or,
for a run key, from the automation and the key). A tick evaluated again —
by a restarted daemon after SIGKILL, or a new leader — finds the runs it
launched already and launches only the missing ones; the schedule's
cursor (its last finished cron time) moves only after every run was
launched, so no tick is lost either.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Callable

from rivers.automation.evaluation import evaluate_schedule, evaluate_sensor
from rivers.automation.launching import run_id_for
from rivers.automation.requests import BackfillRequest
from rivers.automation.sandbox import run_evaluation
from rivers.storage.control_records import StoredTick

if TYPE_CHECKING:
    from rivers.automation.launching import Launcher
    from rivers.automation.schedules import Schedule
    from rivers.automation.sensors import Sensor

__all__ = ["TickLog", "tick_schedule", "tick_sensor"]

_LOG = logging.getLogger("rivers.automation")


class TickLog:
    """Records ticks and keeps at most ``max_ticks_retained`` per automation."""

    def __init__(self, storage: Any, max_ticks_retained: int, report: Callable[[StoredTick], None] | None = None):
        self.storage = storage
        self.max_ticks_retained = max_ticks_retained
        self.report = report

    def record(self, tick: StoredTick, final: bool = True) -> None:
        self.storage.record_tick(tick)
        if final:
            self.storage.prune_ticks(tick.automation_name, self.max_ticks_retained)
            if self.report is not None:
                self.report(tick)


def _final(tick: StoredTick, **changes: Any) -> StoredTick:
    values = {field: getattr(tick, field) for field in (
        "id", "automation_name", "automation_type", "status", "timestamp", "run_ids", "backfill_ids",
        "skip_reason", "error", "cursor")}
    values.update(changes)
    return StoredTick(**values)


def _launch(launcher: Launcher, requests: list[Any], automation: str, tick_key: str, launched_by: Any,
            target_job: str | None, asset_selection: list[str] | None) -> tuple[list[str], list[str]]:
    run_ids: list[str] = []
    backfill_ids: list[str] = []
    for index, request in enumerate(requests):
        if isinstance(request, BackfillRequest):
            key = f"backfill:{tick_key}:{index}"
            marker = launcher.storage.kv_get(f"rivers/automation/backfill/{run_id_for(automation, key)}")
            if marker is not None:
                backfill_ids.append(marker.decode())
                continue
            backfill_id = launcher.launch_backfill(request, None)
            launcher.storage.kv_set(f"rivers/automation/backfill/{run_id_for(automation, key)}", backfill_id.encode())
            backfill_ids.append(backfill_id)
            continue
        key = f"key:{request.run_key}" if request.run_key is not None else f"tick:{tick_key}:{index}"
        run_id = run_id_for(automation, key)
        run_ids.append(run_id)
        if launcher.exists(run_id):
            continue
        tags = dict(request.tags or {})
        tags.setdefault("rivers/automation", automation)
        if request.run_key is not None:
            tags.setdefault("rivers/run_key", request.run_key)
        job = request.job_name or target_job
        if job is not None:
            launcher.launch_job(job, run_id=run_id, partition_key=request.partition_key, tags=tags,
                                launched_by=launched_by)
        else:
            launcher.launch_assets(asset_selection or [], run_id=run_id, partition_key=request.partition_key,
                                   tags=tags, launched_by=launched_by)
    return run_ids, backfill_ids


def tick_schedule(schedule: Schedule, scheduled_time: float, launcher: Launcher, log: TickLog,
                  resources: dict[str, Any]) -> StoredTick:
    """Evaluate ``schedule`` for its cron time ``scheduled_time`` and launch its requests (idempotent)."""
    from rivers.storage.records import LaunchedBy

    name = schedule.name
    tick_key = str(int(round(scheduled_time * 1000)))
    tick = StoredTick(f"schedule:{name}:{tick_key}", name, "schedule", "started", int(scheduled_time * 1e9))
    log.record(tick, final=False)
    execution_time = str(int(scheduled_time)) if scheduled_time.is_integer() else repr(scheduled_time)
    try:
        result = run_evaluation(lambda res: evaluate_schedule(schedule, res, execution_time), resources,
                                schedule.eval_mode, schedule.eval_timeout, name)
        if not result.run_requests:
            reason = result.skip_reason.message if result.skip_reason is not None else None
            final = _final(tick, status="skipped", skip_reason=reason)
        else:
            run_ids, backfill_ids = _launch(launcher, result.run_requests, name, tick_key,
                                            LaunchedBy.schedule(name), schedule.job_name, None)
            final = _final(tick, status="success", run_ids=run_ids, backfill_ids=backfill_ids)
    except Exception as error:  # noqa: BLE001 - recorded as the tick's error
        final = _final(tick, status="failure", error=f"{type(error).__name__}: {error}")
    log.record(final)
    return final


def tick_sensor(sensor: Sensor, launcher: Launcher, log: TickLog, resources: dict[str, Any],
                last_tick_time: float | None, now: float | None = None,
                cursor_override: str | None = None) -> StoredTick:
    """Evaluate ``sensor`` with its stored cursor, launch its requests once per run key, store the new cursor."""
    from rivers.storage.records import LaunchedBy

    storage = launcher.storage
    name = sensor.name
    now = time.time() if now is None else now
    cursor = cursor_override if cursor_override is not None else storage.get_automation_cursor(name)
    tick_key = str(time.time_ns())
    tick = StoredTick(f"sensor:{name}:{tick_key}", name, "sensor", "started", int(now * 1e9), cursor=cursor)
    log.record(tick, final=False)
    try:
        result = run_evaluation(lambda res: evaluate_sensor(sensor, res, cursor, last_tick_time), resources,
                                sensor.eval_mode, sensor.eval_timeout, name)
        run_ids, backfill_ids = _launch(launcher, result.run_requests, name, tick_key, LaunchedBy.sensor(name),
                                        sensor.job_name, sensor.asset_selection)
        new_cursor = result.cursor if result.cursor is not None else cursor
        if result.cursor is not None:
            storage.set_automation_cursor(name, result.cursor)
        if run_ids or backfill_ids:
            final = _final(tick, status="success", run_ids=run_ids, backfill_ids=backfill_ids, cursor=new_cursor)
        else:
            reason = result.skip_reason.message if result.skip_reason is not None else None
            final = _final(tick, status="skipped", skip_reason=reason, cursor=new_cursor)
    except Exception as error:  # noqa: BLE001 - recorded as the tick's error
        final = _final(tick, status="failure", error=f"{type(error).__name__}: {error}")
    log.record(final)
    return final
