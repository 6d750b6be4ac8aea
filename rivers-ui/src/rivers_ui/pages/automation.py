"""Automation: schedules and sensors (status, next ticks, tick history, start/stop), the run queue and pools."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rivers_ui import html
from rivers_ui.context import UiError
from rivers_ui.pages.common import posted, redirect

if TYPE_CHECKING:
    from rivers.automation.schedules import Schedule

    from rivers_ui.context import Ui

__all__ = ["routes"]

#: Ticks listed per schedule or sensor.
_TICKS = 10
#: Next cron ticks shown per schedule.
_NEXT = 3


def routes(ui: Ui) -> list[Route]:
    def overview(request: Request) -> Response:
        return automation_page(ui)

    async def start_stop(request: Request) -> Response:
        form = await posted(ui, request)
        await run_in_threadpool(_set_running, ui, request.path_params["kind"], request.path_params["name"],
                                str(form.get("running") or "") == "1")
        return redirect("/automation")

    return [Route("/automation", overview),
            Route("/automation/{kind}/{name}/running", start_stop, methods=["POST"])]


def _find(ui: Ui, kind: str, name: str) -> Any:
    if kind not in ("schedules", "sensors"):
        raise UiError(404, "Unknown automation", f"{kind!r} is neither 'schedules' nor 'sensors'")
    items = ui.repository.schedules if kind == "schedules" else ui.repository.sensors
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(item.name for item in items) or "none"
    raise UiError(404, "Unknown automation", f"no {kind[:-1]} named {name!r}; {kind}: {known}")


def _set_running(ui: Ui, kind: str, name: str, running: bool) -> None:
    from rivers.automation.statuses import set_running

    set_running(ui.storage, _find(ui, kind, name).name, running)


def _next_ticks(schedule: Schedule) -> str:
    from rivers.automation.cron_ticks import CronClock

    clock = CronClock(schedule.cron_schedule, schedule.timezone)
    moment, shown = time.time(), []
    for _ in range(_NEXT):
        moment = clock.next_after(moment)
        shown.append(html.timestamp(int(moment * 1e9)))
    return "<br>".join(shown)


def _ticks(ui: Ui, name: str) -> str:
    rows = []
    for tick in ui.storage.get_ticks(name, limit=_TICKS):
        runs = " ".join(html.link(html.url("runs", run_id), run_id[:8]) for run_id in tick.run_ids)
        backfills = " ".join(html.link(html.url("backfills", b), b[:8]) for b in tick.backfill_ids)
        rows.append([html.timestamp(tick.timestamp), html.badge(tick.status),
                     html.esc(tick.error or tick.skip_reason or "") + runs + backfills])
    return html.table(["Tick", "Status", "Outcome"], rows, cls="list ticks", empty="no ticks yet")


def _automation_rows(ui: Ui, kind: str) -> str:
    from rivers.automation.schedules import Schedule
    from rivers.automation.statuses import is_running

    items = ui.repository.schedules if kind == "schedules" else ui.repository.sensors
    if not items:
        return f'<p class="empty">no {kind}</p>'
    parts = []
    for item in items:
        running = is_running(ui.storage, item)
        toggle = html.form(html.url("automation", kind, item.name, "running"), ui.csrf,
                           "Stop" if running else "Start", [("running", "0" if running else "1")], cls="toggle")
        if isinstance(item, Schedule):
            target = item.job_name
            when = (f"cron <code>{html.esc(item.cron_schedule)}</code> ({html.esc(item.timezone or 'UTC')})"
                    f"<div class=\"muted\">next: {_next_ticks(item)}</div>")
        else:
            target = item.job_name or ", ".join(item.asset_selection or []) or "-"
            when = f"every {html.esc(item.minimum_interval or '30s')}"
        parts.append(f'<div class="card automation" data-name="{html.esc(item.name)}">'
                     f'<h3>{html.esc(item.name)} {html.badge("Running" if running else "Stopped")} {toggle}</h3>'
                     f"<p>{when}; target: {html.esc(target)}</p>{_ticks(ui, item.name)}</div>")
    return "".join(parts)


def _queue(ui: Ui) -> str:
    from rivers.automation.queue_report import queued_runs, why_queued

    rows = []
    for run in queued_runs(ui.storage)[:100]:
        reasons = why_queued(ui.storage, ui.repository.run_queue, run.run_id)[1:]
        rows.append([html.link(html.url("runs", run.run_id), run.run_id[:8]), str(run.priority),
                     html.esc(run.job_name or ", ".join(run.node_names[:5])),
                     html.esc("; ".join(reasons) or "waiting for its launcher to admit it")])
    return html.table(["Run", "Priority", "What", "Why it waits"], rows, cls="list queue", empty="no queued runs")


def _pools(ui: Ui) -> str:
    rows = [[html.esc(info.pool_key), str(info.slot_limit), str(info.claimed_count), str(info.pending_count),
             f"{info.lease_duration_secs}s"] for info in ui.storage.get_all_pool_infos()]
    return html.table(["Pool", "Limit", "Claimed", "Pending", "Lease"], rows, cls="list pools",
                      empty="no pools configured")


def automation_page(ui: Ui) -> Response:
    body = ("<h1>Automation</h1><h2>Schedules</h2>" + _automation_rows(ui, "schedules")
            + "<h2>Sensors</h2>" + _automation_rows(ui, "sensors")
            + "<h2>Run queue</h2>" + _queue(ui) + "<h2>Pools</h2>" + _pools(ui))
    return ui.page("Automation", body, active="/automation")
