"""Execution plans: which steps a run executes, in which order, for which outputs."""

from __future__ import annotations

from typing import Any, Sequence

from rivers.exceptions import GraphValidationError
from rivers.execution.runtime import StepRuntime


class PlannedStep:
    """A step in a plan and the outputs selected from it (None: all)."""

    __slots__ = ("runtime", "selected")

    def __init__(self, runtime: StepRuntime, selected: frozenset[str] | None) -> None:
        self.runtime = runtime
        self.selected = selected

    @property
    def key(self) -> str:
        return self.runtime.key


class ExecutionPlan:
    """Ordered planned steps plus the node names they cover."""

    __slots__ = ("name", "steps", "node_names")

    def __init__(self, name: str, steps: list[PlannedStep], node_names: list[str]) -> None:
        self.name = name
        self.steps = steps
        self.node_names = node_names

    def __len__(self) -> int:
        return len(self.steps)


def build_plan(
    name: str,
    graph: Any,
    runtimes: dict[str, StepRuntime],
    selected_nodes: Sequence[str] | None,
    *,
    allow_incomplete: bool,
    explicit_handler: Any,
    incomplete_hint: str = "",
) -> ExecutionPlan:
    """Plan the steps producing ``selected_nodes`` (None: every runnable node).

    Upstream nodes outside the selection are loaded through their handlers;
    that is only allowed for externals and nodes with an explicit handler
    (``explicit_handler(node) -> bool``).
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
    planned_nodes = []
    for key in graph.step_order:
        picked = by_step.get(key)
        if picked is None:
            continue
        runtime = runtimes[key]
        full = len(picked) >= len(runtime.node_names)
        steps.append(PlannedStep(runtime, None if full else frozenset(picked)))
        planned_nodes.extend(n for n in runtime.node_names if n in picked)
        _check_step_upstreams(name, key, [load.upstream for load in runtime.inputs], chosen, nodes,
                              allow_incomplete, explicit_handler, incomplete_hint)
    return ExecutionPlan(name, steps, planned_nodes)


def check_upstreams(
    name: str,
    graph: Any,
    selected_nodes: Sequence[str] | None,
    *,
    allow_incomplete: bool,
    explicit_handler: Any,
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


def _check_step_upstreams(name: str, key: str, upstreams: list[str], chosen: set[str], nodes: Any,
                          allow_incomplete: bool, explicit_handler: Any, hint: str) -> None:
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
