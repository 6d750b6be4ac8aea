"""Helpers shared by the core test modules."""

from __future__ import annotations

from typing import Any

import rivers as rs


class Recorder(rs.BaseIOHandler):
    """An IO handler that keeps values in a dict and remembers every call."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self.loads: list[rs.InputContext] = []
        self.output_contexts: list[rs.OutputContext] = []

    @property
    def written_names(self) -> list[str]:
        """Names of the nodes written, in order."""
        return [name for name, _ in self.writes]

    def handle_output(self, context, obj):
        self.values[context.asset_name] = obj
        self.writes.append((context.asset_name, obj))
        self.output_contexts.append(context)

    def load_input(self, context):
        self.loads.append(context)
        return self.values[context.asset_name]


def make_repo(*assets: Any, **kwargs: Any) -> rs.CodeRepository:
    """A repository of ``assets`` resolved against a fresh in-memory storage."""
    repo = rs.CodeRepository(assets=list(assets), **kwargs)
    repo.resolve(rs.Storage.memory())
    return repo
