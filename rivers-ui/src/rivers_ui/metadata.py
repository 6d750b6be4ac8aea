"""Stored metadata values as the UI shows them: text, and numbers where a value is numeric."""

from __future__ import annotations

import json
from collections.abc import Iterable

__all__ = ["display_metadata", "numeric_value"]

_NUMERIC = ("Int", "Float", "Percentage", "Duration", "Timestamp")


def _decoded(raw: str) -> tuple[str, object]:
    """``(type name, value)`` of one stored metadata value (``{"Int": {"value": 3}}``); text stays text."""
    try:
        document = json.loads(raw)
    except (TypeError, ValueError):
        return "Text", raw
    if isinstance(document, dict) and len(document) == 1:
        kind, body = next(iter(document.items()))
        if isinstance(body, dict) and "value" in body:
            return str(kind), body["value"]
        return str(kind), body
    return "Json", document


def display_metadata(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(key, text)`` of every metadata entry, in stored order."""
    shown = []
    for key, raw in pairs:
        _, value = _decoded(raw)
        shown.append((key, value if isinstance(value, str) else json.dumps(value)))
    return shown


def numeric_value(raw: str) -> float | None:
    """The number of a numeric metadata value (``Int``, ``Float``, ...), else ``None``."""
    kind, value = _decoded(raw)
    if kind in _NUMERIC and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None
