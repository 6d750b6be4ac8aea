"""The asset graph laid out on the server: layers from topological generations, drawn as SVG.

Each generation is a column (roots on the left); inside a column, assets are
ordered by the mean position of their parents (one barycentre pass), which
removes most edge crossings of real pipelines. The layout depends only on
the code, so it is computed once; the statuses are filled in per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from rivers_ui.model import AssetState, RepositoryView

__all__ = ["GraphLayout", "NODE_HEIGHT", "NODE_WIDTH", "layout", "render_svg"]

NODE_WIDTH = 190
NODE_HEIGHT = 38
_COLUMN_GAP = 70
_ROW_GAP = 14
_MARGIN = 12
_BAR_WIDTH = NODE_WIDTH - 16


@dataclass
class GraphLayout:
    """Top-left corner of every asset's box, the edges, and the drawing's size."""

    positions: dict[str, tuple[int, int]]
    edges: list[tuple[str, str]]
    width: int
    height: int


def layout(view: RepositoryView) -> GraphLayout:
    """Place every asset of ``view`` in its generation's column."""
    order: dict[str, float] = {}
    positions: dict[str, tuple[int, int]] = {}
    height = 0
    for column, layer in enumerate(view.generations):
        def barycentre(name: str) -> float:
            parents = view.nodes[name].parents
            return sum(order[parent] for parent in parents) / len(parents) if parents else float("inf")

        ranked = sorted(layer, key=lambda name: (barycentre(name), view.nodes[name].group or "", name))
        x = _MARGIN + column * (NODE_WIDTH + _COLUMN_GAP)
        for row, name in enumerate(ranked):
            order[name] = row
            y = _MARGIN + row * (NODE_HEIGHT + _ROW_GAP)
            positions[name] = (x, y)
            height = max(height, y + NODE_HEIGHT + _MARGIN)
    edges = [(parent, name) for name, node in view.nodes.items() for parent in node.parents]
    width = _MARGIN * 2 + max(len(view.generations), 1) * (NODE_WIDTH + _COLUMN_GAP) - _COLUMN_GAP
    return GraphLayout(positions, edges, width, max(height, NODE_HEIGHT + 2 * _MARGIN))


def render_svg(view: RepositoryView, drawing: GraphLayout, states: Mapping[str, AssetState],
               selected: frozenset[str] = frozenset()) -> str:
    """The SVG of the graph: an edge path per dependency, a box per asset with its status and health bar."""
    parts = [f'<svg id="graph" xmlns="http://www.w3.org/2000/svg" width="{drawing.width}" '
             f'height="{drawing.height}" viewBox="0 0 {drawing.width} {drawing.height}">', '<g class="edges">']
    positions = drawing.positions
    for parent, child in drawing.edges:
        x1, y1 = positions[parent]
        x2, y2 = positions[child]
        x1, y1, y2 = x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2, y2 + NODE_HEIGHT // 2
        middle = (x1 + x2) // 2
        parts.append(f'<path d="M{x1} {y1}C{middle} {y1} {middle} {y2} {x2} {y2}"/>')
    parts.append('</g><g class="nodes">')
    for name, (x, y) in positions.items():
        node = view.nodes[name]
        state = states.get(name)
        status = state.status if state is not None else "missing"
        label = escape(name if len(name) <= 26 else name[:25] + "\u2026")
        classes = f"node s-{status}{' sel' if name in selected else ''}"
        group = escape(node.group or "")
        parts.append(f'<g class="{classes}" data-name="{escape(name)}" data-group="{group}" '
                     f'transform="translate({x},{y})"><title>{escape(name)}: {status}</title>'
                     f'<rect class="box" width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6"/>'
                     f'<text x="8" y="16">{label}</text><text class="sub" x="8" y="30">{group}</text>')
        if state is not None and state.partitions is not None:
            parts.append(_health_bar(state.partitions))
        parts.append("</g>")
    parts.append("</g></svg>")
    return "".join(parts)


def _health_bar(counts: Mapping[str, int]) -> str:
    """A thin bar at the bottom of a box: the shares of materialised, failed, running and missing partitions."""
    total = counts.get("total", 0)
    if not total:
        return ""
    parts, x = [], 8.0
    for status in ("materialized", "failed", "in_progress", "missing"):
        share = counts.get(status, 0) / total * _BAR_WIDTH
        if share > 0:
            parts.append(f'<rect class="p-{status}" x="{x:.1f}" y="{NODE_HEIGHT - 5}" width="{share:.1f}" height="3"/>')
            x += share
    return "".join(parts)
