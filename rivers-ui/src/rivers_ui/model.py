"""The UI's view of a repository and its storage: asset nodes, lineage, selections and asset status.

Everything is read through public API: the repository's ``assets``,
``schedules`` and ``sensors``, and the storage's read API (topology, asset
records and catalogue, run queries). The static part (:class:`RepositoryView`)
is built once per process; statuses are computed per request.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx

from rivers.selection import parse_selection

if TYPE_CHECKING:
    from rivers import CodeRepository
    from rivers.partitions.sequence import PartitionKeySequence
    from rivers.storage import Storage
    from rivers.storage.queries import AssetCatalogueEntry

__all__ = ["AssetNode", "AssetState", "RepositoryView", "STATUSES", "asset_states"]

#: Asset statuses, in the order the legend shows them.
STATUSES = ("fresh", "stale", "failed", "running", "missing")
_ACTIVE = ("Queued", "NotStarted", "Started")
#: How many recent finished runs are read to find assets whose latest run failed.
RECENT_RUNS = 500
#: How long the partition keys of a definition with dynamic parts are reused.
_KEYS_TTL_S = 2.0


@dataclass
class AssetNode:
    """One asset of the repository: what its definition and registered record say."""

    name: str
    group: str | None = None
    tags: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)
    description: str | None = None
    partitions_def: Any = None
    condition: Any = None
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


class RepositoryView:
    """The asset nodes of a resolved repository, in topological order, with lineage and selections.

    Implements :class:`rivers.selection.SelectableGraph`, so selection
    expressions (``group:raw``, ``+revenue``) resolve exactly as in the CLI.
    """

    def __init__(self, repository: CodeRepository, storage: Storage) -> None:
        self.repository = repository
        self.storage = storage
        assets = repository.assets
        records = {record.asset_key: record for record in storage.get_asset_records()}
        topology = storage.get_topology()
        graph: nx.DiGraph = nx.DiGraph()
        graph.add_nodes_from(assets)
        for name in assets:
            for parent in topology.get(name, ()):
                if parent in assets:
                    graph.add_edge(parent, name)
        #: asset names by topological generation (roots first); the graph layout's layers
        self.generations: list[list[str]] = [list(layer) for layer in nx.topological_generations(graph)]
        self.nodes: dict[str, AssetNode] = {}
        for layer in self.generations:
            for name in layer:
                definition = assets[name]
                record = records.get(name)
                self.nodes[name] = AssetNode(
                    name=name,
                    group=record.group if record is not None else None,
                    tags=list(record.tags) if record is not None else [],
                    kinds=list(record.kinds) if record is not None else [],
                    description=getattr(definition, "description", None),
                    partitions_def=getattr(definition, "partitions_def", None),
                    condition=getattr(definition, "automation_condition", None),
                    parents=sorted(graph.predecessors(name)),
                    children=sorted(graph.successors(name)),
                )
        self._names = list(self.nodes)
        self.groups = sorted({node.group for node in self.nodes.values() if node.group})
        self._keys: dict[int, tuple[float, PartitionKeySequence]] = {}

    # -- SelectableGraph ------------------------------------------------------------------------

    @property
    def names(self) -> Sequence[str]:
        return self._names

    def group_of(self, name: str) -> str | None:
        return self.nodes[name].group

    def tags_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].tags

    def kinds_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].kinds

    def parents(self, name: str) -> Iterable[str]:
        return self.nodes[name].parents

    def children(self, name: str) -> Iterable[str]:
        return self.nodes[name].children

    # -- queries --------------------------------------------------------------------------------

    def select(self, expression: str) -> list[str]:
        """The assets ``expression`` selects, in topological order.

        :raises rivers.exceptions.ConfigurationError: for a malformed expression.
        :raises rivers.exceptions.AssetNotFoundError: for an unknown asset name.
        """
        return parse_selection(expression).resolve(self)

    def partition_keys(self, name: str) -> PartitionKeySequence | None:
        """The partition keys of asset ``name`` in definition order (``None`` when unpartitioned)."""
        definition = self.nodes[name].partitions_def
        if definition is None:
            return None
        cached = self._keys.get(id(definition))
        now = time.monotonic()
        if cached is not None and now - cached[0] < _KEYS_TTL_S:
            return cached[1]
        keys = definition.get_partition_keys(dynamic_partitions=self.storage.get_dynamic_partitions)
        self._keys[id(definition)] = (now, keys)
        return keys


@dataclass
class AssetState:
    """What the graph shows of one asset: status, last materialisation, partition counts."""

    status: str
    last_timestamp: int | None = None
    last_run_id: str | None = None
    stale_reason: str | None = None
    #: ``{"total", "materialized", "failed", "in_progress", "missing"}`` for partitioned assets
    partitions: dict[str, int] | None = None


def asset_states(view: RepositoryView, names: Sequence[str] | None = None) -> dict[str, AssetState]:
    """The status of every asset (or of ``names``): running, failed, missing, stale or fresh.

    *running*: planned by a queued or started run; *failed*: the latest
    finished run that planned it failed without materialising it; *missing*:
    never materialised; *stale*: ``compute_staleness`` says so; else *fresh*.
    """
    storage = view.storage
    wanted = list(view.nodes) if names is None else list(names)
    catalogue: dict[str, AssetCatalogueEntry] = {
        entry.asset_key: entry for entry in storage.get_asset_catalogue(None if names is None else wanted)}
    running: set[str] = set()
    for run in storage.query_runs(status=list(_ACTIVE), limit=1000).runs:
        running.update(run.node_names)
    latest_run: dict[str, tuple[str, str]] = {}
    for run in storage.query_runs(status=["Success", "Failure", "Canceled"], limit=RECENT_RUNS).runs:
        for name in run.node_names:
            latest_run.setdefault(name, (run.run_id, run.status))
    states = {}
    for name in wanted:
        entry = catalogue.get(name)
        event = entry.last_materialization if entry is not None else None
        partitions = None
        keys = view.partition_keys(name)
        if keys is not None:
            counts = dict(entry.partition_counts) if entry is not None else {}
            total = len(keys)
            materialized = min(counts.get("materialized", 0), total)
            failed = min(counts.get("failed", 0), total - materialized)
            in_progress = min(counts.get("in_progress", 0), total - materialized - failed)
            partitions = {"total": total, "materialized": materialized, "failed": failed,
                          "in_progress": in_progress, "missing": total - materialized - failed - in_progress}
        last = latest_run.get(name)
        if name in running:
            status = "running"
        elif last is not None and last[1] == "Failure" and (event is None or event.run_id != last[0]):
            status = "failed"
        elif event is None:
            status = "missing"
        elif entry is not None and entry.staleness == "Stale":
            status = "stale"
        else:
            status = "fresh"
        reason = entry.stale_causes[0].reason if entry is not None and entry.stale_causes else None
        states[name] = AssetState(status, event.timestamp if event else None, event.run_id if event else None,
                                  reason, partitions)
    return states
