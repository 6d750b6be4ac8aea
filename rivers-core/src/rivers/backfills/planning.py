"""Turning ``backfill(selection, partition_keys | partition_range, strategy)`` into runs.

Keys are resolved and validated against every selected partitioned asset
before anything is stored, then grouped by the strategy: one run per key
(``multi_run``), one run for every key (``single_run``), or one run per
combination of some dimensions with the others batched (``per_dimension``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence, cast

import attrs

from rivers.exceptions import ExecutionError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from rivers.execution.partition_requests import DynamicLookup
    from rivers.execution.plan import ExecutionPlan
    from rivers.graph import AssetGraph
    from rivers.graph.model import Node
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import MultiKey, PartitionKey, PartitionKeyLike, SingleKey
    from rivers.partitions.ranges import PartitionKeyRange
    from rivers.partitions.strategy import BackfillStrategy, PerDimensionStrategy
    from rivers.repository_state import ResolvedRepository
    from rivers.selection import SelectionLike

__all__ = ["BackfillPlan", "PlannedRun", "plan_backfill", "strategy_to_dict", "strategy_from_dict"]


@attrs.frozen
class PlannedRun:
    """One run of a backfill: its run key and the member keys it covers."""

    key: PartitionKey
    members: list[PartitionKey]


@attrs.frozen
class BackfillPlan:
    """The resolved backfill: selected nodes, every member key, the strategy, the runs and their execution plans.

    ``execution`` is what every partition run executes. ``before`` and
    ``after`` (or None) run once, without a key: the selected unpartitioned
    assets that feed the partitioned ones (and those unrelated to them), and
    the ones that read the partitioned ones (an ``all_partitions`` roll-up).
    """

    nodes: list[str] | None
    keys: list[PartitionKey]
    strategy: BackfillStrategy
    runs: list[PlannedRun]
    execution: ExecutionPlan | None = None
    before: ExecutionPlan | None = None
    after: ExecutionPlan | None = None

    @property
    def run_count(self) -> int:
        """How many runs the backfill plans: the partition runs and the once-only stages."""
        return len(self.runs) + (self.before is not None) + (self.after is not None)


def plan_backfill(state: ResolvedRepository, selection: SelectionLike | None,
                  partition_keys: Sequence[PartitionKeyLike] | None, partition_range: PartitionKeyRange | None,
                  strategy: BackfillStrategy | None) -> BackfillPlan:
    """Resolve the selection, keys and strategy of a backfill request (nothing is stored)."""
    from rivers.execution.partition_requests import check_keys, dynamic_lookup
    from rivers.partitions.keys import as_partition_key

    graph = state.graph
    nodes = state.select(selection, include_upstream=False)
    names = state.step_names(nodes)
    partitioned = [name for name in names if graph.nodes[name].partitions_def is not None]
    if not partitioned:
        raise ExecutionError(
            "Backfill partition_keys/partition_range require a partitioned selection; no asset in the selection "
            "is partitioned."
        )
    dynamic = dynamic_lookup(state.storage)
    if partition_keys is not None:
        if isinstance(partition_keys, (str, dict)) or not isinstance(partition_keys, Sequence):
            raise ExecutionError(
                f"partition_keys must be a list of keys (PartitionKey, str or dict), got "
                f"{type(partition_keys).__name__}; wrap a single key in a list"
            )
        if not partition_keys:
            raise ExecutionError("partition_keys must not be empty")
        keys = _unique(member for key in partition_keys for member in as_partition_key(key).members())
    elif partition_range is not None:
        keys = _resolve_range(graph, partitioned, partition_range, dynamic)
    else:
        raise ExecutionError("Either partition_keys or partition_range must be provided")
    check_keys(graph, partitioned, keys, dynamic)
    chosen = _choose_strategy(strategy, [graph.nodes[n] for n in partitioned])
    runs = _group(chosen, keys, graph, partitioned)
    # the steps of every run: a selection that cannot run (e.g. an in-memory upstream left out)
    # fails here, before the backfill is recorded
    from rivers.jobs import MATERIALIZE_JOB

    before, after = _unpartitioned_stages(graph, names, partitioned)
    if not _stages_can_share_values(state, [before, partitioned, after]):
        before, after = [], []
    if not before and not after:
        return BackfillPlan(nodes, keys, chosen, runs, state.plan(MATERIALIZE_JOB, nodes, allow_incomplete=True))
    return BackfillPlan(
        nodes, keys, chosen, runs,
        execution=state.plan(MATERIALIZE_JOB, partitioned, allow_incomplete=True),
        before=state.plan(MATERIALIZE_JOB, before, allow_incomplete=True) if before else None,
        after=state.plan(MATERIALIZE_JOB, after, allow_incomplete=True) if after else None,
    )


def _resolve_range(graph: AssetGraph, partitioned: list[str], partition_range: PartitionKeyRange,
                   dynamic: DynamicLookup) -> list[PartitionKey]:
    """The keys of ``partition_range``: resolved against the first partitioned asset, checked against the others.

    A definition orders its own keys (static: by position, time windows:
    chronologically whatever the format). Every other distinct definition
    of the selection resolves the range too: when it cannot (an endpoint
    that is not one of its keys, off its grid, an unknown dimension) and
    the keys resolved do not all belong to it, the error names that asset.
    """
    from rivers.exceptions import PartitionDefinitionError
    from rivers.execution.partition_requests import distinct_definitions

    (first, first_def), *others = distinct_definitions(graph, partitioned)

    def resolve(name: str, definition: PartitionsDefinition) -> list[PartitionKey]:
        try:
            return list(definition.resolve_range(partition_range, dynamic_partitions=dynamic))
        except (ExecutionError, PartitionDefinitionError) as error:
            raise ExecutionError(f"partition_range {partition_range!r} does not fit asset '{name}': {error}") from None

    keys = resolve(first, first_def)
    if not keys:
        raise ExecutionError(f"partition_range {partition_range!r} selects no partition of '{first}'")
    for name, definition in others:
        try:
            resolve(name, definition)
        except ExecutionError:
            if not all(definition.validate_partition_key(key, dynamic_partitions=dynamic) for key in keys):
                raise
    return keys


def _stages_can_share_values(state: ResolvedRepository, stages: list[list[str]]) -> bool:
    """Whether every value one stage reads from another can be loaded outside the run that made it.

    Not so for the shared in-memory default handler: its values live only in
    the run that produced them, so such a selection is not split.
    """
    graph = state.graph
    staged = set().union(*stages)
    for stage in stages:
        members = set(stage)
        crossing = {parent for name in stage for parent in graph.parents(name) if parent in staged - members}
        if not all(state.explicit_handler(graph.nodes[parent]) for parent in crossing):
            return False
    return True


def _unpartitioned_stages(graph: AssetGraph, names: list[str], partitioned: list[str]) -> tuple[list[str], list[str]]:
    """The selected unpartitioned assets to run once before the partition runs, and once after them.

    After: those downstream of a selected partitioned asset; before: the
    rest. When an unpartitioned asset sits between two partitioned ones
    (it would have to run after some partitions and before others), nothing
    is split: every run executes the whole selection, as a ``materialize``
    with that key would.
    """
    chosen = set(partitioned)
    unpartitioned = [name for name in names if name not in chosen]
    if not unpartitioned:
        return [], []
    selected = set(names)
    after = [name for name in unpartitioned if (graph.upstream_closure([name]) - {name}) & chosen]
    later = set(after)
    if graph.upstream_closure(partitioned) & selected & later:  # feeds a partitioned asset too
        return [], []
    return [name for name in unpartitioned if name not in later], after


def _unique(keys: Iterable[PartitionKey]) -> list[PartitionKey]:
    return list(dict.fromkeys(keys))


def _choose_strategy(strategy: BackfillStrategy | None, nodes: list[Node]) -> BackfillStrategy:
    """The explicit strategy, else the one every declaring asset agrees on, else multi_run."""
    from rivers.partitions.strategy import BackfillStrategy

    if strategy is not None:
        if not isinstance(strategy, BackfillStrategy):
            raise ExecutionError(
                f"strategy must be a BackfillStrategy (BackfillStrategy.multi_run(), .single_run() or "
                f".per_dimension(...)), got {type(strategy).__name__}"
            )
        return strategy
    declared = {repr(s): s for s in (getattr(n.owner, "backfill_strategy", None) for n in nodes) if s is not None}
    if len(declared) == 1:
        return next(iter(declared.values()))
    return BackfillStrategy.multi_run()


def _group(strategy: BackfillStrategy, keys: list[PartitionKey], graph: AssetGraph,
           partitioned: list[str]) -> list[PlannedRun]:
    from rivers.partitions.keys import PartitionKey
    from rivers.partitions.strategy import BackfillStrategy

    if isinstance(strategy, BackfillStrategy.SingleRun):
        return [PlannedRun(batch_key(keys), keys)]
    if isinstance(strategy, BackfillStrategy.PerDimension):
        _check_dimensions(strategy, graph, partitioned)
        groups: dict[tuple[str, ...], list[PartitionKey]] = {}
        for key in keys:
            if not isinstance(key, PartitionKey.Multi):
                raise ExecutionError(f"BackfillStrategy.per_dimension requires multi-dimensional keys, got {key!r}")
            groups.setdefault(tuple(key.keys[d][0] for d in strategy.multi_run_dims), []).append(key)
        return [PlannedRun(batch_key(members), members) for members in groups.values()]
    return [PlannedRun(key, [key]) for key in keys]


def batch_key(members: list[PartitionKey]) -> PartitionKey:
    """The run key of a batched run: a multi-valued single key, a multi key, or a set of members."""
    from rivers.partitions.keys import PartitionKey

    if len(members) == 1:
        return members[0]
    if all(isinstance(m, PartitionKey.Single) for m in members):
        singles = cast("list[SingleKey]", members)  # every member is Single: checked just above
        return PartitionKey.single([v for m in singles for v in m.key])
    if all(isinstance(m, PartitionKey.Multi) for m in members):
        dimensions: dict[str, list[str]] = {}
        for member in cast("list[MultiKey]", members):  # every member is Multi: checked just above
            for dimension, values in member.keys.items():
                known = dimensions.setdefault(dimension, [])
                known.extend(v for v in values if v not in known)
        product = 1
        for values in dimensions.values():
            product *= len(values)
        if product == len(members):
            return PartitionKey.multi(dimensions)
    return PartitionKey.Set(members)


def _check_dimensions(strategy: PerDimensionStrategy, graph: AssetGraph, partitioned: list[str]) -> None:
    from rivers.partitions.base import PartitionsDefinition

    for name in partitioned:
        definition = graph.nodes[name].partitions_def
        if not isinstance(definition, PartitionsDefinition.Multi):
            raise ExecutionError(
                f"BackfillStrategy.per_dimension requires Multi-partitioned assets; asset '{name}' is not "
                "Multi-partitioned"
            )
        dimensions = [d for d, _ in definition.dimensions]
        for dimension in (*strategy.multi_run_dims, *strategy.single_run_dims):
            if dimension not in dimensions:
                raise ExecutionError(
                    f"BackfillStrategy.per_dimension references dimension '{dimension}', which is not a dimension "
                    f"of asset '{name}' (dimensions: {', '.join(dimensions)})"
                )


def strategy_to_dict(strategy: BackfillStrategy) -> dict[str, Any]:
    """The stored form of a strategy."""
    from rivers.partitions.strategy import BackfillStrategy

    if isinstance(strategy, BackfillStrategy.SingleRun):
        return {"kind": "single_run"}
    if isinstance(strategy, BackfillStrategy.PerDimension):
        return {"kind": "per_dimension", "multi_run": list(strategy.multi_run_dims),
                "single_run": list(strategy.single_run_dims)}
    return {"kind": "multi_run"}


def strategy_from_dict(data: dict[str, Any]) -> BackfillStrategy:
    """Inverse of :func:`strategy_to_dict`."""
    from rivers.partitions.strategy import BackfillStrategy

    kind = data.get("kind")
    if kind == "single_run":
        return BackfillStrategy.single_run()
    if kind == "per_dimension":
        return BackfillStrategy.per_dimension(multi_run=data["multi_run"], single_run=data["single_run"])
    return BackfillStrategy.multi_run()
