"""``rivers automation why``: the evaluated tree of an asset's condition, as the daemon last saw it."""

from __future__ import annotations

from typing import Any

from rivers.automation.conditions import AutomationCondition
from rivers.automation.engine import AssetState, fingerprint_of
from rivers.exceptions import NodeNotFoundError

__all__ = ["explain"]


def explain(condition: AutomationCondition, state: AssetState | None, keys: Any, partition: str | None) -> list[str]:
    """One line per root-scope node: its label/description and whether it held (for ``partition``)."""
    if state is None:
        return ["not evaluated yet (no daemon tick has evaluated this asset's condition)"]
    if state.fingerprint != fingerprint_of(condition.description):
        return ["the condition changed since the last evaluation; it is evaluated afresh on the next tick"]
    position = None
    size = max(len(keys), 1)
    if partition is not None:
        if partition not in keys:
            raise NodeNotFoundError(f"partition {partition!r} is not a partition key of this asset")
        position = list(keys).index(partition)
    lines: list[str] = []
    values = iter(state.values)

    def visit(node: AutomationCondition, depth: int) -> None:
        value = next(values, None)
        name = node.label or node.description
        if value is None:
            shown = "-"
        elif position is not None:
            shown = "true" if value >> position & 1 else "false"
        elif size == 1:
            shown = "true" if value & 1 else "false"
        else:
            shown = f"{bin(value).count('1')}/{size} partitions"
        lines.append(f"{'  ' * depth}{shown:<5}  {name}")
        if node.kind in ("any_deps_match", "all_deps_match"):
            for _ in range(sum(1 for _ in node.operands[0].walk())):
                next(values, None)
            return
        for child in node.operands:
            visit(child, depth + 1)

    visit(condition, 0)
    return lines
