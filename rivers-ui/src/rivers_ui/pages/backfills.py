"""Backfills: the list, a backfill's progress per partition (as ranges), cancel, re-run failed, launch over a range."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rivers_ui import html
from rivers_ui.context import UiError
from rivers_ui.charts import partition_ranges
from rivers_ui.pages.common import asset_node, partition_key, posted, redirect
from rivers_ui.partitions import summarise, summarise_statuses

if TYPE_CHECKING:
    from rivers_ui.context import Ui

__all__ = ["routes"]

#: Backfill statuses that may still launch runs (cancel is offered for these).
_ACTIVE = ("Requested", "InProgress")


def routes(ui: Ui) -> list[Route]:
    def listing(request: Request) -> Response:
        return backfills_page(ui)

    def detail(request: Request) -> Response:
        return backfill_page(ui, request.path_params["backfill_id"])

    async def launch(request: Request) -> Response:
        form = await posted(ui, request)
        backfill_id = await run_in_threadpool(_launch, ui, str(form.get("asset") or ""), str(form.get("from") or ""),
                                              str(form.get("to") or ""), bool(form.get("missing")))
        return redirect(html.url("backfills", backfill_id))

    async def cancel(request: Request) -> Response:
        await posted(ui, request)
        backfill_id = request.path_params["backfill_id"]
        await run_in_threadpool(_stored, ui, backfill_id)
        await run_in_threadpool(ui.repository.cancel_backfill, backfill_id)
        return redirect(html.url("backfills", backfill_id))

    async def rerun(request: Request) -> Response:
        await posted(ui, request)
        backfill_id = request.path_params["backfill_id"]
        await run_in_threadpool(_stored, ui, backfill_id)
        new_id = await run_in_threadpool(
            _started, ui, "rerun", lambda progress: ui.repository.rerun_backfill(backfill_id, progress=progress))
        return redirect(html.url("backfills", new_id))

    return [Route("/backfills", listing), Route("/backfills", launch, methods=["POST"]),
            Route("/backfills/{backfill_id}", detail),
            Route("/backfills/{backfill_id}/cancel", cancel, methods=["POST"]),
            Route("/backfills/{backfill_id}/rerun", rerun, methods=["POST"])]


def _stored(ui: Ui, backfill_id: str) -> Any:
    status = ui.repository.get_backfill(backfill_id)
    if status is None:
        raise UiError(404, "Unknown backfill", f"no backfill with id {backfill_id!r} in this storage")
    return status


class _Started:
    """The progress object of a backfill launched here: hands its id to the request waiting for it."""

    def __init__(self) -> None:
        self.backfill_id: str | None = None
        self.error: BaseException | None = None
        self.ready = threading.Event()

    def started(self, record: Any) -> None:
        self.backfill_id = str(record.backfill_id)
        self.ready.set()

    def __call__(self, record: Any) -> None:
        if self.backfill_id is None:
            self.started(record)


def _started(ui: Ui, name: str, run: Any) -> str:
    """Run ``run(progress)`` in the background; the backfill id once it is stored (or its planning error)."""
    progress = _Started()

    def work() -> None:
        try:
            run(progress)
        except BaseException as error:  # noqa: BLE001 - handed to the waiting request, or logged
            progress.error = error
            if progress.backfill_id is not None:
                raise
        finally:
            progress.ready.set()

    ui.in_background(f"backfill-{name}", work)
    progress.ready.wait(30)
    if progress.backfill_id is None:
        if progress.error is not None:
            raise progress.error
        raise UiError(504, "Backfill not started", "the backfill was not recorded within 30 s")
    return progress.backfill_id


def _launch(ui: Ui, asset: str, start: str, stop: str, only_missing: bool) -> str:
    """Start a backfill of ``asset`` over the keys ``start``..``stop`` (those not materialised, with ``only_missing``)."""
    from rivers.partitions.ranges import PartitionKeyRange

    node = asset_node(ui, asset)
    if node.partitions_def is None:
        raise UiError(400, "Not partitioned", f"asset {asset!r} is not partitioned; materialize it instead")
    first, last = partition_key(ui, node, start), partition_key(ui, node, stop)
    if first is None or last is None:
        raise UiError(400, "Bad range", "give both the first and the last partition key of the backfill")
    keys = ui.view.partition_keys(asset)
    assert keys is not None
    low = node.partitions_def.index_of(first, dynamic_partitions=ui.storage.get_dynamic_partitions)
    high = node.partitions_def.index_of(last, dynamic_partitions=ui.storage.get_dynamic_partitions)
    if low is None or high is None or low > high:
        raise UiError(400, "Bad range", f"the range {first!r}..{last!r} is empty: the first key comes after the last")
    selected: list[str] | None = None
    if only_missing:
        summary = summarise(ui.storage, asset, keys)
        selected = [keys.display(position) for position in range(low, high + 1)
                    if summary.status_at(position) != "materialized"]
        if not selected:
            raise UiError(400, "Nothing to backfill", f"every key of {first}..{last} of {asset!r} is materialized")
    tags = [("rivers/launched_from", "ui")]

    def run(progress: Any) -> Any:
        if selected is not None:
            return ui.repository.backfill([asset], partition_keys=selected, tags=tags, progress=progress)
        return ui.repository.backfill([asset], partition_range=PartitionKeyRange.single(first, last), tags=tags,
                                      progress=progress)

    return _started(ui, asset, run)


def backfills_page(ui: Ui) -> Response:
    statuses = list(reversed(ui.repository.get_backfills()))
    rows = [[html.link(html.url("backfills", s.backfill_id), s.backfill_id[:8]), html.badge(s.status),
             html.esc(", ".join(s.selection or []) or "all"),
             f"{s.completed_partitions}/{s.total_partitions}",
             str(s.failed_partitions), str(s.canceled_partitions), str(len(s.run_ids))] for s in statuses]
    body = ("<h1>Backfills</h1><p class=\"muted\">Launch one from a partitioned asset's page (Backfill range).</p>"
            + html.table(["Backfill", "Status", "Selection", "Done", "Failed", "Canceled", "Runs"], rows,
                         cls="list backfills", empty="no backfills"))
    return ui.page("Backfills", body, active="/backfills", live=True)


def backfill_page(ui: Ui, backfill_id: str) -> Response:
    status = _stored(ui, backfill_id)
    labels = [str(key) for key in status.partition_statuses]
    summary = summarise_statuses(labels, list(status.partition_statuses.values()))
    actions = []
    if status.status in _ACTIVE:
        actions.append(html.form(html.url("backfills", backfill_id, "cancel"), ui.csrf, "Cancel backfill",
                                 cls="cancel"))
    if status.failed_partitions or status.canceled_partitions:
        actions.append(html.form(html.url("backfills", backfill_id, "rerun"), ui.csrf, "Re-run failed",
                                 cls="rerun"))
    runs = ", ".join(html.link(html.url("runs", run_id), run_id[:8]) for run_id in status.run_ids[-50:])
    body = (f'<div id="backfill" data-status="{html.esc(status.status)}"><h1>Backfill <code>'
            f'{html.esc(backfill_id)}</code> {html.badge(status.status)}</h1>'
            f'<dl class="facts"><dt>selection</dt><dd>{html.esc(", ".join(status.selection or []) or "all")}</dd>'
            f'<dt>partitions</dt><dd>{status.completed_partitions} completed, {status.failed_partitions} failed, '
            f'{status.canceled_partitions} canceled, {status.remaining_partitions} remaining of '
            f'{status.total_partitions}</dd><dt>strategy</dt><dd>{html.esc(status.strategy)}</dd>'
            f'<dt>error</dt><dd>{html.esc(status.error or "-")}</dd></dl>'
            f'<div class="actions">{"".join(actions)}</div><h2>Partitions</h2>'
            + partition_ranges(summary) + f"<h2>Runs</h2><p>{runs or 'none yet'}</p></div>")
    return ui.page(f"Backfill {backfill_id[:8]}", body, active="/backfills", live=True)
