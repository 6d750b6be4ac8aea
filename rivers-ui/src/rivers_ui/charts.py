"""Inline SVG charts: numeric metadata over time, and partition status bars drawn from ranges."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

from rivers_ui.partitions import PartitionSummary, bar_segments

__all__ = ["partition_bar", "partition_ranges", "sparkline"]

_WIDTH, _HEIGHT = 260, 60


def sparkline(points: Sequence[tuple[int, float]]) -> str:
    """A line of ``(time, value)`` points with the last value and the range written beside it."""
    values = [value for _, value in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    first, last = points[0][0], points[-1][0]
    duration = (last - first) or 1
    coordinates = []
    for when, value in points:
        x = 4 + (when - first) / duration * (_WIDTH - 8) if len(points) > 1 else _WIDTH / 2
        y = _HEIGHT - 6 - (value - low) / span * (_HEIGHT - 12)
        coordinates.append(f"{x:.1f},{y:.1f}")
    dots = "".join(f'<circle cx="{c.split(",")[0]}" cy="{c.split(",")[1]}" r="2"/>' for c in coordinates[-30:])
    return (f'<svg class="spark" width="{_WIDTH}" height="{_HEIGHT}" viewBox="0 0 {_WIDTH} {_HEIGHT}">'
            f'<polyline points="{" ".join(coordinates)}"/>{dots}</svg>'
            f'<span class="spark-label">last {_number(values[-1])} (min {_number(low)}, max {_number(high)}, '
            f'{len(values)} points)</span>')


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else f"{value:.4g}"


def partition_bar(segments: Sequence[tuple[int, int, str]], total: int, label: Callable[[int], str],
                  width: int = 900, height: int = 22) -> str:
    """A bar with one rectangle per status range (buckets when there are many): never one per key."""
    if total <= 0:
        return '<p class="empty">no partition keys</p>'
    parts = [f'<svg class="pbar" width="100%" height="{height}" viewBox="0 0 {width} {height}" '
             'preserveAspectRatio="none">']
    for start, stop, status in bar_segments(segments, total):
        x = start / total * width
        w = max((stop - start) / total * width, 0.5)
        title = f"{label(start)} \u2013 {label(stop - 1)}: {status} ({stop - start})"
        parts.append(f'<rect class="p-{escape(status)}" x="{x:.2f}" width="{w:.2f}" height="{height}">'
                     f"<title>{escape(title)}</title></rect>")
    parts.append("</svg>")
    return "".join(parts)


def partition_ranges(summary: PartitionSummary, rows: int = 200) -> str:
    """The status bar of ``summary`` and a table of its first ``rows`` ranges (from key, to key, status, count)."""
    from rivers_ui import html

    table = html.table(["From", "To", "Status", "Keys"],
                       [[html.esc(summary.label(start)), html.esc(summary.label(stop - 1)), html.badge(status),
                         str(stop - start)] for start, stop, status in summary.segments[:rows]],
                       cls="list ranges", empty="no partitions")
    more = len(summary.segments) - rows
    return (partition_bar(summary.segments, summary.total, summary.label) + table
            + (f'<p class="muted">and {more} more ranges</p>' if more > 0 else ""))
