"""Execution plans: which steps a run executes, in which order, for which outputs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Sequence

from rivers.exceptions import GraphValidationError
from rivers.execution.runtime import StepRuntime
from rivers.graph.model import GRAPH_TASK, MAPPED

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rivers.execution.fanout import Expansion
    from rivers.execution.runtime import InputLoad
    from rivers.graph.graph import AssetGraph
    from rivers.graph.model import Node
    from rivers.io_handlers.base import BaseIOHandler

    class PlannedExpansion(Expansion):
        """The :class:`~rivers.execution.fanout.Expansion` of a planned step: its instances and its rewired
        step are planned steps too (:meth:`PlannedStep.expanded_for` makes them)."""

        instances: Sequence[PlannedStep]
        step: PlannedStep

        def collect_step(self) -> PlannedStep:
            """The collect step to launch."""


class PlannedStep:
    """A step in a plan, the outputs selected from it (None: all), and its placement facts.

    Computed once at planning, read by the scheduler on every run:

    * ``pools``: the ``(pool, slots)`` the step claims before each attempt
      (empty: none);
    * ``executor``: the executor named by its ``rivers/node/executor`` /
      ``rivers/executor`` metadata (None: the run's);
    * ``process_local``: its values go through a handler that keeps them in
      this process (the in-memory handler), so only launchers running steps
      here can run it;
    * ``upstream_steps``: keys of the planned steps it waits for;
    * ``dependants``: keys of the planned steps waiting for it;
    * ``expander``: for a step whose work is only known at run time (the
      collect step of a mapped task), ``expander(planned, load)`` returns the
      :class:`~rivers.execution.fanout.Expansion` the scheduler runs first
      (``load(input_load)`` loads an upstream value in the controller).
    """

    __slots__ = ("runtime", "key", "selected", "pools", "executor", "process_local", "upstream_steps", "dependants",
                 "expander")

    def __init__(self, runtime: StepRuntime, selected: frozenset[str] | None, *,
                 pools: tuple[tuple[str, int], ...] = (), executor: str | None = None,
                 process_local: bool = False) -> None:
        self.runtime = runtime
        #: the step key (its runtime's)
        self.key: str = runtime.key
        self.selected = selected
        self.pools = pools
        self.executor = executor
        self.process_local = process_local
        self.upstream_steps: tuple[str, ...] = ()
        self.dependants: tuple[str, ...] = ()
        self.expander: Callable[[PlannedStep, Callable[[InputLoad], Any]], PlannedExpansion] | None = None
        if runtime.kind == MAPPED:
            from rivers.execution.fanout import expand_mapped

            # (expand_mapped's steps are those expanded_for makes: planned steps here)
            self.expander = expand_mapped  # type: ignore[assignment]

    def expanded_for(self, runtime: StepRuntime) -> PlannedStep:
        """A step like this one (pools, executor, neighbours) running ``runtime``: a fan-out instance, not expanded."""
        step = PlannedStep(runtime, None, pools=self.pools, executor=self.executor, process_local=self.process_local)
        step.expander = None  # expanded once
        step.upstream_steps = self.upstream_steps
        step.dependants = self.dependants
        return step


class ExecutionPlan:
    """Ordered planned steps plus the node names they cover.

    ``by_key`` maps step keys to planned steps; ``has_pools`` says whether any
    step claims pool slots; ``uniform`` whether every step may go to the
    run executor's own launcher (no pools, no async step, no executor named
    in metadata), so that a launcher running steps in the scheduler's thread
    can take them one by one in plan order; ``compute_steps`` the keys of
    the steps whose definitions request compute (``compute=``), which only
    executors placing work honour.
    """

    __slots__ = ("name", "steps", "node_names", "by_key", "has_pools", "uniform", "compute_steps", "__weakref__")

    def __init__(self, name: str, steps: list[PlannedStep], node_names: list[str]) -> None:
        self.name = name
        self.steps = steps
        self.node_names = node_names
        by_key = {}
        has_pools = False
        uniform = True
        compute_steps = []
        for planned in steps:
            by_key[planned.key] = planned
            if planned.pools:
                has_pools = True
                uniform = False
            elif planned.executor is not None or planned.runtime.is_async:
                uniform = False
            if getattr(planned.runtime.owner, "compute", None) is not None:
                compute_steps.append(planned.key)
        self.by_key = by_key
        self.has_pools = has_pools
        self.uniform = uniform
        self.compute_steps: tuple[str, ...] = tuple(compute_steps)
        _link(steps)

    def __len__(self) -> int:
        return len(self.steps)


def _link(steps: list[PlannedStep]) -> None:
    """Fill ``upstream_steps`` and ``dependants`` from the runtimes' upstream nodes."""
    producer: dict[str, str] = {}
    for planned in steps:
        key = planned.runtime.key
        for node in planned.runtime.node_names:
            producer[node] = key
    dependants: dict[str, list[str]] = {}
    for planned in steps:
        key = planned.runtime.key
        nodes = planned.runtime.upstream_nodes
        if not nodes:
            continue
        if len(nodes) == 1:  # the common case, without building a dict
            other = producer.get(nodes[0])
            upstream: tuple[str, ...] = (other,) if other is not None and other != key else ()
        else:
            upstream = tuple(dict.fromkeys(producer[n] for n in nodes if n in producer and producer[n] != key))
        planned.upstream_steps = upstream
        for other in upstream:
            waiting = dependants.get(other)
            if waiting is None:
                dependants[other] = [key]
            else:
                waiting.append(key)
    if dependants:
        for planned in steps:
            waiting = dependants.get(planned.runtime.key)
            if waiting is not None:
                planned.dependants = tuple(waiting)


def step_pools(runtime: StepRuntime) -> tuple[tuple[str, int], ...]:
    """The ``(pool, slots)`` a step claims: its output nodes' pools (the largest claim per pool)."""
    merged: dict[str, int] | None = None
    for write in runtime.outputs.values():
        pools = getattr(write.node, "pool", None)
        if pools:
            if merged is None:
                merged = {}
            for pool_key, slots in pools:
                merged[pool_key] = max(merged.get(pool_key, 0), slots)
    return tuple(sorted(merged.items())) if merged else ()


def executor_override(runtime: StepRuntime) -> str | None:
    """``rivers/executor`` metadata of the step (graph-internal tasks read ``rivers/node/executor`` first)."""
    metadata = runtime.spec.metadata
    if not metadata:
        return None
    if runtime.kind == GRAPH_TASK:
        value = metadata.get("rivers/node/executor")
        if value is not None:
            return value
    return metadata.get("rivers/executor")


def _keeps_values_here(runtime: StepRuntime, process_local: Callable[[BaseIOHandler], bool]) -> bool:
    for load in runtime.inputs:
        if process_local(load.handler):
            return True
    for write in runtime.outputs.values():
        if process_local(write.handler):
            return True
    return runtime.self_handler is not None and process_local(runtime.self_handler)


def build_plan(
    name: str,
    graph: AssetGraph,
    runtimes: dict[str, StepRuntime],
    selected_nodes: Sequence[str] | None,
    *,
    allow_incomplete: bool,
    explicit_handler: Callable[[Node], bool],
    incomplete_hint: str = "",
    process_local: Callable[[BaseIOHandler], bool] = lambda handler: False,
) -> ExecutionPlan:
    """Plan the steps producing ``selected_nodes`` (None: every runnable node).

    Upstream nodes outside the selection are loaded through their handlers;
    that is only allowed for externals and nodes with an explicit handler
    (``explicit_handler(node) -> bool``). ``process_local(handler)`` says
    whether a handler keeps its values in this process only.
    """
    nodes = graph.nodes
    if selected_nodes is None:
        chosen = {n for n, node in nodes.items() if node.step_key in runtimes}
    else:
        chosen = set(selected_nodes)
    by_step: dict[str, set[str]] = {}
    for node_name in chosen:
        by_step.setdefault(nodes[node_name].step_key, set()).add(node_name)
    steps = []
    planned_nodes: list[str] = []
    for key in graph.step_order:
        picked = by_step.get(key)
        if picked is None:
            continue
        runtime = runtimes[key]
        full = len(picked) >= len(runtime.node_names)
        steps.append(PlannedStep(runtime, None if full else frozenset(picked), pools=step_pools(runtime),
                                 executor=executor_override(runtime),
                                 process_local=_keeps_values_here(runtime, process_local)))
        planned_nodes.extend(runtime.node_names if full else [n for n in runtime.node_names if n in picked])
        _check_step_upstreams(name, key, [load.upstream for load in runtime.inputs], chosen, nodes,
                              allow_incomplete, explicit_handler, incomplete_hint)
    return ExecutionPlan(name, steps, planned_nodes)


def check_upstreams(
    name: str,
    graph: AssetGraph,
    selected_nodes: Sequence[str] | None,
    *,
    allow_incomplete: bool,
    explicit_handler: Callable[[Node], bool],
) -> None:
    """Check, without building runtimes, that every loaded upstream is planned or loadable."""
    if selected_nodes is None:
        return
    chosen = set(selected_nodes)
    nodes = graph.nodes
    for key in {nodes[n].step_key for n in chosen}:
        step = graph.steps.get(key)
        if step is not None:
            _check_step_upstreams(name, key, [i.upstream for i in step.inputs], chosen, nodes, allow_incomplete,
                                  explicit_handler, "")


def _check_step_upstreams(name: str, key: str, upstreams: list[str], chosen: set[str], nodes: Mapping[str, Node],
                          allow_incomplete: bool, explicit_handler: Callable[[Node], bool], hint: str) -> None:
    for upstream in upstreams:
        if upstream in chosen or nodes[upstream].kind == "external":
            continue
        if not allow_incomplete:
            raise GraphValidationError(
                f"Job '{name}': node '{key}' depends on '{upstream}' which is not in the job. "
                "Add it to the job or set allow_incomplete_deps=True"
            )
        if not explicit_handler(nodes[upstream]):
            raise GraphValidationError(
                f"Job '{name}': node '{key}' depends on '{upstream}' which is not in the job and has no "
                f"io_handler{hint}"
            )
