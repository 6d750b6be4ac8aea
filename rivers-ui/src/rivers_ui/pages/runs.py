"""The runs list (filters, cursor pages, live) and the run page (Gantt, live events, logs, cancel, re-execute)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rivers.storage.records import RUN_STATUSES
from rivers_ui import html
from rivers_ui.context import UiError
from rivers_ui.live import KEEPALIVE_S, sse, stream_events
from rivers_ui.pages.common import launched, posted, redirect, run_record

if TYPE_CHECKING:
    from rivers.storage import RunRecord

    from rivers_ui.context import Ui

__all__ = ["routes"]

_LAUNCHERS = ("manual", "schedule", "sensor", "backfill", "condition")
_ACTIVE = ("Queued", "NotStarted", "Started")
_PAGE = 50
_SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def routes(ui: Ui) -> list[Route]:
    def runs(request: Request) -> Response:
        return runs_page(ui, request)

    def run(request: Request) -> Response:
        return run_page(ui, run_record(ui, request.path_params["run_id"]))

    def state(request: Request) -> Response:
        return JSONResponse(_state(run_record(ui, request.path_params["run_id"])))

    def logs(request: Request) -> Response:
        record = run_record(ui, request.path_params["run_id"])
        step = request.query_params.get("step")
        entries = [{"step": log.step_key, "ts": log.timestamp, "stdout": log.stdout, "stderr": log.stderr,
                    "logs": log.logs} for log in ui.storage.get_run_logs(record.run_id)
                   if step is None or log.step_key == step]
        return JSONResponse(entries)

    async def events(request: Request) -> Response:
        record = await run_in_threadpool(run_record, ui, request.path_params["run_id"])
        cursor = _cursor(request.headers.get("last-event-id") or request.query_params.get("cursor"))

        def current() -> dict[str, Any] | None:
            found = ui.storage.get_run(record.run_id)
            return None if found is None else _state(found)

        return StreamingResponse(stream_events(ui.hub, cursor, run_id=record.run_id, extra=current),
                                 media_type="text/event-stream", headers=_SSE_HEADERS)

    async def ping(request: Request) -> Response:
        return StreamingResponse(_pings(ui), media_type="text/event-stream", headers=_SSE_HEADERS)

    async def cancel(request: Request) -> Response:
        await posted(ui, request)
        run_id = request.path_params["run_id"]
        record = await run_in_threadpool(run_record, ui, run_id)
        if record.status not in _ACTIVE:
            raise UiError(409, "Run has ended", f"run {run_id} is {record.status}; only a running or queued "
                                               "run can be canceled")
        await run_in_threadpool(ui.repository.launcher.cancel, run_id)
        return redirect(html.url("runs", run_id))

    async def reexecute(request: Request) -> Response:
        await posted(ui, request)
        record = await run_in_threadpool(run_record, ui, request.path_params["run_id"])
        run_id = await run_in_threadpool(_reexecute, ui, record)
        return await launched(ui, run_id)

    return [Route("/runs", runs), Route("/runs/{run_id}", run), Route("/runs/{run_id}/state.json", state),
            Route("/runs/{run_id}/logs.json", logs), Route("/runs/{run_id}/events", events),
            Route("/events/ping", ping),
            Route("/runs/{run_id}/cancel", cancel, methods=["POST"]),
            Route("/runs/{run_id}/reexecute", reexecute, methods=["POST"])]


def _cursor(text: str | None) -> int:
    if not text:
        return 0
    try:
        cursor = int(text)
    except ValueError:
        raise UiError(400, "Bad cursor", f"the event cursor must be a number, got {text!r}") from None
    if cursor < 0:
        raise UiError(400, "Bad cursor", f"the event cursor must be >= 0, got {cursor}")
    return cursor


def _state(record: RunRecord) -> dict[str, Any]:
    return {"status": record.status, "start": record.start_time, "end": record.end_time,
            "active": record.status in _ACTIVE}


async def _pings(ui: Ui) -> AsyncIterator[str]:
    """An SSE stream that says "changed" whenever events are stored (lists and the graph refresh on it)."""
    ui.hub.listen()
    try:
        yield "retry: 1000\n\n"
        while True:
            if await ui.hub.changes(KEEPALIVE_S * 15):
                yield sse("changed", {"cursor": ui.hub.cursor})
            else:
                yield ": keep-alive\n\n"
    finally:
        ui.hub.unlisten()


def _reexecute(ui: Ui, record: RunRecord) -> str:
    """Resume a failed or canceled run: its completed steps are kept, the rest run again (same run id)."""
    if record.status not in ("Failure", "Canceled"):
        raise UiError(409, "Nothing to re-execute", f"run {record.run_id} is {record.status}; only a failed or "
                                                    "canceled run can be re-executed from its failure")
    names = [name for name in record.node_names if name in ui.view.nodes]
    if not names:
        raise UiError(409, "Nothing to re-execute", f"none of the steps of run {record.run_id} is an asset of "
                                                    "this repository")
    ui.repository.materialize(names, partition_key=record.partition_key, run_id_override=record.run_id,
                              resume=True, block=False, raise_on_error=False, tags=list(record.tags) or None)
    return record.run_id


def _filters(request: Request) -> dict[str, Any]:
    """The query's filters as ``query_runs`` arguments (400 for an unknown status or launcher, a bad tag)."""
    params = request.query_params
    filters: dict[str, Any] = {}
    status = params.get("status") or None
    if status is not None:
        if status not in RUN_STATUSES:
            raise UiError(400, "Bad filter", f"unknown run status {status!r}; one of {', '.join(RUN_STATUSES)}")
        filters["status"] = status
    if params.get("job"):
        filters["job_name"] = params["job"]
    launcher = params.get("launcher") or None
    if launcher is not None:
        if launcher not in _LAUNCHERS:
            raise UiError(400, "Bad filter", f"unknown launcher {launcher!r}; one of {', '.join(_LAUNCHERS)}")
        filters["launched_by"] = launcher
    tag = params.get("tag") or None
    if tag is not None:
        key, equals, value = tag.partition("=")
        if not equals or not key:
            raise UiError(400, "Bad filter", f"a tag filter is key=value, got {tag!r}")
        filters["tags"] = {key: value}
    return filters


def runs_page(ui: Ui, request: Request) -> Response:
    filters = _filters(request)
    cursor = request.query_params.get("cursor") or None
    page = ui.storage.query_runs(**filters, cursor=cursor, limit=_PAGE)
    rows = [[html.link(html.url("runs", run.run_id), run.run_id[:8]), html.badge(run.status),
             html.esc(run.job_name or "materialize"), html.esc(_launcher(run)),
             html.esc(run.partition_key if run.partition_key is not None else ""),
             html.timestamp(run.start_time), html.esc(html.duration(run.start_time, run.end_time)),
             html.esc(", ".join(f"{k}={v}" for k, v in run.tags))] for run in page.runs]
    listing = html.table(["Run", "Status", "Job", "Launched by", "Partition", "Started", "Duration", "Tags"], rows,
                         cls="list runs", empty="no runs match")
    query = {key: value for key, value in request.query_params.items() if key not in ("cursor", "fragment")}
    more = (html.link(html.url("runs", **query, cursor=page.next_cursor).replace("/runs/", "/runs"), "Next page \u2192")
            if page.next_cursor else "")
    if request.query_params.get("fragment"):
        return HTMLResponse(listing)
    params = request.query_params
    statuses = "".join(f'<option{" selected" if params.get("status") == s else ""}>{s}</option>'
                       for s in RUN_STATUSES)
    launchers = "".join(f'<option{" selected" if params.get("launcher") == k else ""}>{k}</option>'
                        for k in _LAUNCHERS)
    body = ('<h1>Runs</h1><form method="get" class="inline filters">'
            f'<select name="status"><option value="">any status</option>{statuses}</select>'
            f'<input name="job" placeholder="job" value="{html.esc(params.get("job", ""))}" size="12">'
            f'<select name="launcher"><option value="">any launcher</option>{launchers}</select>'
            f'<input name="tag" placeholder="tag key=value" value="{html.esc(params.get("tag", ""))}" size="14">'
            '<button>Filter</button></form>'
            f'<div id="runs-list" data-live="{"0" if cursor else "1"}">{listing}</div><p>{more}</p>')
    return ui.page("Runs", body, active="/runs", live=True)


def _launcher(run: RunRecord) -> str:
    launched_by = run.launched_by
    reference = launched_by.name or launched_by.backfill_id
    return f"{launched_by.kind} {reference}" if reference else launched_by.kind


def run_page(ui: Ui, record: RunRecord) -> Response:
    actions = []
    if record.status in _ACTIVE:
        actions.append(html.form(html.url("runs", record.run_id, "cancel"), ui.csrf, "Cancel run", cls="cancel",
                                 confirm="Cancel this run?"))
    if record.status in ("Failure", "Canceled"):
        actions.append(html.form(html.url("runs", record.run_id, "reexecute"), ui.csrf, "Re-execute from failure",
                                 cls="reexecute"))
    tags = ", ".join(f"{k}={v}" for k, v in record.tags)
    body = (
        f'<div id="run" data-run="{html.esc(record.run_id)}" data-status="{html.esc(record.status)}">'
        f'<h1>Run <code>{html.esc(record.run_id)}</code> <span id="run-status">{html.badge(record.status)}</span></h1>'
        '<dl class="facts">'
        f'<dt>job</dt><dd>{html.esc(record.job_name or "materialize")}</dd>'
        f'<dt>launched by</dt><dd>{html.esc(_launcher(record))}</dd>'
        f'<dt>partition</dt><dd>{html.esc(record.partition_key if record.partition_key is not None else "-")}</dd>'
        f'<dt>started</dt><dd>{html.timestamp(record.start_time)}</dd>'
        f'<dt>steps planned</dt><dd>{len(record.node_names)}</dd>'
        f'<dt>tags</dt><dd>{html.esc(tags or "-")}</dd></dl>'
        f'<div class="actions">{"".join(actions)}</div>'
        '<h2>Timeline</h2><div id="gantt" class="gantt"></div>'
        '<h2>Steps</h2><table class="list steps"><thead><tr><th>Step</th><th>Status</th><th>Duration</th>'
        '<th>Detail</th></tr></thead><tbody id="steps"></tbody></table>'
        '<h2>Events <span class="muted" id="event-count"></span></h2><div id="events" class="events"></div>'
        "</div>"
    )
    return ui.page(f"Run {record.run_id[:8]}", body, active="/runs", live=True)
