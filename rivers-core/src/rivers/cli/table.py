"""A tiny plain-text table formatter: aligned columns, no borders, no colours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["format_table"]


def format_table(
    headers: Sequence[str] | None,
    rows: Iterable[Sequence[object]],
    *,
    align: str = "",
    indent: str = "",
    gap: int = 2,
) -> list[str]:
    """Lay ``rows`` out in columns as wide as their widest cell; return the lines.

    :param headers: The header row (``None`` for none, e.g. label/value lists).
    :param rows: The cells, converted with ``str``; ``None`` prints as ``-``.
    :param align: One letter per column, ``l`` (default) or ``r``.
    :param indent: Prefix of every line.
    :param gap: Spaces between columns.

    >>> format_table(["STEP", "TIME"], [["orders", "0.1s"], ["revenue", "12.0s"]], align="lr")
    ['STEP      TIME', 'orders    0.1s', 'revenue  12.0s']
    """
    table = [[_cell(value) for value in row] for row in rows]
    if headers is not None:
        table.insert(0, list(headers))
    if not table:
        return []
    columns = max(len(row) for row in table)
    widths = [max((len(row[i]) for row in table if i < len(row)), default=0) for i in range(columns)]
    separator = " " * gap
    lines = []
    for row in table:
        cells = [
            cell.rjust(widths[i]) if align[i : i + 1] == "r" else cell.ljust(widths[i]) for i, cell in enumerate(row)
        ]
        lines.append((indent + separator.join(cells)).rstrip())
    return lines


def _cell(value: object) -> str:
    if value is None:
        return "-"
    return " ".join(str(value).splitlines())
