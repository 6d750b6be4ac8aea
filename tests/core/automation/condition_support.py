"""What the condition tests share: the daemon's condition pass without the daemon, and a daily two-asset chain."""

from __future__ import annotations

from datetime import datetime

import rivers as rs
from rivers.automation.condition_store import ConditionStore
from rivers.automation.engine import ConditionEngine
from rivers.automation.validation import condition_of
from rivers.automation.world import World

A = rs.AutomationCondition
DAYS = rs.PartitionsDefinition.daily(start=datetime(2024, 1, 1), end=datetime(2024, 1, 11))
T0 = 1_700_000_000.0


class Daemonless:
    """The daemon's condition pass without the daemon: load state, tick, save state."""

    def __init__(self, repo: rs.CodeRepository) -> None:
        self.repo = repo
        graph = repo.graph
        conditions = {n: condition_of(node) for n, node in graph.nodes.items() if condition_of(node) is not None}
        names = set(conditions) | {p for n in conditions for p in graph.parents(n)}
        self.world = World(graph, repo.storage, [n for n in graph.names if n in names])
        self.store = ConditionStore(repo.storage)
        states, cursor, failed = self.store.load()
        self.world.load(cursor, failed)
        self.engine = ConditionEngine(graph, self.world, conditions)
        self.engine.load_states(states)

    def tick(self, now: float) -> dict[str, list[str | None]]:
        fired = self.engine.tick(now, self.world.begin_tick())
        self.store.save(self.engine.states, self.engine.changed_states, self.world)
        out = {}
        for name, mask in fired.items():
            view = self.world.views[name]
            out[name] = [view.key_of(i) for i in range(max(len(view.keys), 1)) if mask >> i & 1]
        return out


def daily_chain(tmp_path, condition=None):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))

    @rs.Asset(partitions_def=DAYS, io_handler=fs)
    def raw(context: rs.AssetExecutionContext) -> str:
        return str(context.partition_key)

    @rs.Asset(partitions_def=DAYS, io_handler=fs, automation_condition=condition or A.eager())
    def clean(raw: str) -> str:
        return raw.upper()

    repo = rs.CodeRepository(assets=[raw, clean])
    repo.resolve(rs.Storage.embedded(str(tmp_path / "store.db")))
    return repo
