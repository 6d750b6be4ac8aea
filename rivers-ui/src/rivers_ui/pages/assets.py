"""The asset graph, the catalogue and the asset page, and "materialize" (through the run launcher)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rivers_ui import html
from rivers_ui.context import UiError
from rivers_ui.charts import partition_ranges, sparkline
from rivers_ui.layout import render_svg
from rivers_ui.metadata import display_metadata, numeric_value
from rivers_ui.model import STATUSES, asset_states
from rivers_ui.pages.common import asset_node, launched, partition_key, posted
from rivers_ui.partitions import summarise

if TYPE_CHECKING:
    from rivers_ui.context import Ui
    from rivers_ui.model import AssetNode

__all__ = ["routes"]

#: Status segments listed as rows under the partition bar.
_RANGE_ROWS = 200
#: Materialisations listed (and plotted) on the asset page.
_HISTORY = 100


def routes(ui: Ui) -> list[Route]:
    def graph(request: Request) -> Response:
        return graph_page(ui, request.query_params.get("select", ""))

    def statuses(request: Request) -> Response:
        states = asset_states(ui.view)
        return JSONResponse({name: {"status": state.status, "partitions": state.partitions}
                             for name, state in states.items()})

    def catalogue(request: Request) -> Response:
        return catalogue_page(ui, request.query_params.get("select", ""))

    def asset(request: Request) -> Response:
        return asset_page(ui, request.path_params["name"], request.query_params.get("partition"))

    async def materialize(request: Request) -> Response:
        form = await posted(ui, request)
        names = [str(name) for name in form.getlist("asset") if name]
        selection = str(form.get("select") or "").strip()
        run_id = await run_in_threadpool(launch, ui, names, selection, str(form.get("partition") or ""))
        return await launched(ui, run_id)

    return [Route("/", graph), Route("/graph/status.json", statuses), Route("/assets", catalogue),
            Route("/assets/{name:path}", asset), Route("/materialize", materialize, methods=["POST"])]


def _selected(ui: Ui, expression: str) -> list[str]:
    """The assets ``expression`` selects (400 for a bad expression or an unknown name)."""
    expression = expression.strip()
    if not expression:
        return []
    selected = ui.view.select(expression)
    if not selected:
        raise UiError(400, "Empty selection", f"the selection {expression!r} matches no asset")
    return selected


def launch(ui: Ui, names: list[str], selection: str, partition: str) -> str:
    """Submit a run of ``names`` (or of the assets ``selection`` picks) to the repository's run launcher."""
    if not names:
        names = _selected(ui, selection)
    if not names:
        raise UiError(400, "Nothing selected", "select one or more assets to materialize")
    nodes = [asset_node(ui, name) for name in names]
    key = None
    for node in nodes:
        key = partition_key(ui, node, partition) if node.partitions_def is not None else key
    if key is None and any(node.partitions_def is not None for node in nodes):
        raise UiError(400, "Partition key needed", "the selection has partitioned assets "
                      f"({', '.join(n.name for n in nodes if n.partitions_def is not None)}): give a partition key")
    handle = ui.repository.materialize(names, partition_key=key, block=False, raise_on_error=False,
                                       tags=[("rivers/launched_from", "ui")])
    return str(handle.run_id)


def graph_page(ui: Ui, expression: str) -> Response:
    """The lineage with a status per asset, selection by expression, "materialize selected"."""
    selected = _selected(ui, expression)
    states = asset_states(ui.view)
    svg = render_svg(ui.view, ui.drawing, states, frozenset(selected))
    counts = {status: 0 for status in STATUSES}
    for state in states.values():
        counts[state.status] = counts.get(state.status, 0) + 1
    legend = "".join(f'<span class="legend s-{status}"><i></i>{status} {counts[status]}</span>' for status in STATUSES)
    groups = " ".join(html.link(html.url("", select=f"group:{group}"), group, "chip") for group in ui.view.groups)
    fields = [("asset", name) for name in selected]
    partitioned = any(node.partitions_def is not None for node in ui.view.nodes.values())
    key_input = ('<input name="partition" placeholder="partition key" size="14">' if partitioned else "")
    body = (
        '<div class="toolbar"><form method="get" action="/" class="inline">'
        f'<input name="select" value="{html.esc(expression)}" placeholder="selection: group:raw, +revenue, *" '
        'size="32"><button type="submit">Select</button></form>'
        f'<span class="groups">{groups}</span></div>'
        f'<div class="toolbar"><span class="legends">{legend}</span>'
        + html.form("/materialize", ui.csrf, "Materialize selected", fields, cls="materialize",
                    inner=f'<span id="selected-count">{len(selected)} selected</span> {key_input}')
        + '</div><div class="graph-wrap"><div id="graph-scroll">' + svg + "</div>"
        '<aside id="panel"><p class="empty">Click an asset to select it; '
        "double-click to open it.</p></aside></div>"
    )
    return ui.page("Asset graph", body, active="/", live=True)


def catalogue_page(ui: Ui, expression: str) -> Response:
    """Every asset with its group, kinds, status, last materialisation and partitions."""
    names = _selected(ui, expression) or list(ui.view.nodes)
    states = asset_states(ui.view)
    rows = []
    for name in names:
        node, state = ui.view.nodes[name], states[name]
        partitions = ""
        if state.partitions is not None:
            counts = state.partitions
            partitions = (f"{counts['materialized']}/{counts['total']} ok"
                          + (f", {counts['failed']} failed" if counts["failed"] else ""))
        rows.append([html.link(html.url("assets", name), name), html.esc(node.group), html.esc(", ".join(node.kinds)),
                     html.badge(state.status), html.timestamp(state.last_timestamp), html.esc(partitions),
                     html.esc(state.stale_reason)])
    body = ('<h1>Assets</h1><form method="get" class="inline"><input name="select" '
            f'value="{html.esc(expression)}" placeholder="selection"><button>Filter</button></form>'
            + html.table(["Asset", "Group", "Kinds", "Status", "Last materialization", "Partitions", "Why stale"],
                         rows, cls="list", empty="no assets"))
    return ui.page("Assets", body, active="/assets", live=True)


def asset_page(ui: Ui, name: str, partition: str | None) -> Response:
    """One asset: status, lineage, materialisations and their numeric metadata, partitions, automation."""
    node = asset_node(ui, name)
    key = partition_key(ui, node, partition)
    state = asset_states(ui.view, [name])[name]
    sections = [
        f'<h1>{html.esc(name)} {html.badge(state.status)}</h1>',
        f'<p class="muted">{html.esc(node.description or "")}</p>',
        '<dl class="facts">'
        f'<dt>group</dt><dd>{html.esc(node.group or "-")}</dd>'
        f'<dt>kinds</dt><dd>{html.esc(", ".join(node.kinds) or "-")}</dd>'
        f'<dt>last materialization</dt><dd>{html.timestamp(state.last_timestamp)}</dd>'
        + (f'<dt>why stale</dt><dd>{html.esc(state.stale_reason)}</dd>' if state.stale_reason else "")
        + "</dl>",
        _lineage(node),
        _actions(ui, node),
    ]
    if node.partitions_def is not None:
        sections.append(_partitions(ui, node, key))
    if node.condition is not None:
        sections.append(_automation(ui, node, key))
    sections.append(_history(ui, node))
    return ui.page(name, "".join(sections), active="/assets", live=True)


def _lineage(node: AssetNode) -> str:
    def names(items: list[str]) -> str:
        return ", ".join(html.link(html.url("assets", item), item) for item in items) or "none"

    return (f'<div class="lineage"><p><b>Upstream:</b> {names(node.parents)}</p>'
            f'<p><b>Downstream:</b> {names(node.children)}</p>'
            f'<p>{html.link(html.url("", select=f"+{node.name}+"), "show in graph")}</p></div>')


def _actions(ui: Ui, node: AssetNode) -> str:
    inner = ('<input name="partition" placeholder="partition key" size="16" required>'
             if node.partitions_def is not None else "")
    return '<div class="actions">' + html.form("/materialize", ui.csrf, "Materialize", [("asset", node.name)],
                                               inner=inner) + "</div>"


def _partitions(ui: Ui, node: AssetNode, key: str | None) -> str:
    keys = ui.view.partition_keys(node.name)
    assert keys is not None
    summary = summarise(ui.storage, node.name, keys)
    counts = summary.counts()
    total = summary.total
    text = ", ".join(f"{count} {status.replace('_', ' ')}" for status, count in counts.items() if count)
    lookup = ""
    if key is not None:
        position = node.partitions_def.index_of(key, dynamic_partitions=ui.storage.get_dynamic_partitions)
        status = summary.status_at(position) if position is not None else "missing"
        lookup = f'<p class="lookup">Partition <b>{html.esc(key)}</b>: {html.badge(status)}</p>'
    backfill = html.form(
        "/backfills", ui.csrf, "Backfill range", [("asset", node.name)],
        inner=(f'<input name="from" placeholder="from key" value="{html.esc(summary.label(0)) if total else ""}" '
               f'size="14"><input name="to" placeholder="to key" '
               f'value="{html.esc(summary.label(total - 1)) if total else ""}" size="14">'
               '<label><input type="checkbox" name="missing" value="1"> only missing</label>'))
    return (f'<section><h2>Partitions <span class="muted">{total} keys: {html.esc(text)}</span></h2>'
            + '<form method="get" class="inline"><input name="partition" placeholder="look up a key">'
              '<button>Look up</button></form>' + lookup + backfill
            + partition_ranges(summary, _RANGE_ROWS) + "</section>")


def _automation(ui: Ui, node: AssetNode, key: str | None) -> str:
    from rivers.automation.condition_store import ConditionStore
    from rivers.automation.why import explain

    keys: list[str] = []
    sequence = ui.view.partition_keys(node.name)
    if sequence is not None:
        keys = [sequence.display(i) for i in range(len(sequence))]
    lines = explain(node.condition, ConditionStore(ui.storage).state_of(node.name), keys, key)
    return (f'<section><h2>Automation condition</h2><p><code>{html.esc(node.condition.description)}</code></p>'
            f'<h3>Last evaluation{f" for {html.esc(key)}" if key else ""}</h3>'
            f'<pre class="why">{html.esc(chr(10).join(lines))}</pre></section>')


def _history(ui: Ui, node: AssetNode) -> str:
    events = [event for event in ui.storage.get_events_for_asset(node.name, limit=_HISTORY * 3)
              if event.event_type == "Materialization"][:_HISTORY]
    events.sort(key=lambda event: event.timestamp)
    series: dict[str, list[tuple[int, float]]] = {}
    for event in events:
        for label, raw in event.metadata:
            number = numeric_value(raw)
            if number is not None:
                series.setdefault(label, []).append((event.timestamp, number))
    charts = "".join(f'<figure class="chart"><figcaption>{html.esc(label)}</figcaption>{sparkline(points)}</figure>'
                     for label, points in series.items() if len(points) >= 1)
    rows = []
    for event in reversed(events):
        metadata = "; ".join(f"{k}: {v}" for k, v in display_metadata(event.metadata))
        rows.append([html.timestamp(event.timestamp), html.link(html.url("runs", event.run_id), event.run_id[:8]),
                     html.esc(event.partition_key if event.partition_key is not None else ""),
                     html.esc((event.data_version or "")[:12]), html.esc(metadata)])
    return ("<section><h2>Materializations</h2>" + (f'<div class="charts">{charts}</div>' if charts else "")
            + html.table(["When", "Run", "Partition", "Data version", "Metadata"], rows, cls="list",
                         empty="never materialized") + "</section>")


