"""The resolved asset graph: topological order, cycles, parents and children."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Iterable, Sequence

from rivers.exceptions import GraphValidationError
from rivers.graph.builder import GraphBuilder
from rivers.graph.model import Node, StepSpec

if TYPE_CHECKING:
    import networkx

    from rivers.definitions.assets import Asset
    from rivers.definitions.tasks import Task


class AssetGraph:
    """Nodes and steps of a repository, in topological order.

    Built once per repository. Ordering uses Kahn's algorithm in plain Python
    (validating ten thousand assets must stay well under a second, so the hot
    path avoids importing networkx); networkx is used to report the path of a
    cycle and by :meth:`to_networkx` for analysis.
    """

    def __init__(self, nodes: dict[str, Node], steps: dict[str, StepSpec]) -> None:
        self.nodes = nodes
        self.steps = steps
        self.step_order: list[str] = _topological_order(steps)
        by_step: dict[str, list[str]] = {}
        for name, node in nodes.items():
            by_step.setdefault(node.step_key, []).append(name)
        names: list[str] = [n for n, node in nodes.items() if node.step_key not in steps]
        for key in self.step_order:
            names.extend(by_step[key])
        self.names = names
        parents_of: dict[str, tuple[str, ...]] = {}
        children: dict[str, list[str]] = {name: [] for name in nodes}
        for name, node in nodes.items():
            step = steps.get(node.step_key)
            if step is None:
                parents: tuple[str, ...] = ()
            elif node.kind == "multi":
                shared = _step_level_lineage(step, nodes)
                parents = tuple(dict.fromkeys([*(i.upstream for i in step.inputs), *node.lineage, *shared]))
            elif node.kind == "graph":
                parents = tuple(dict.fromkeys(
                    [*(i.upstream for i in step.inputs), *step.lineage_nodes, *step.upstream_steps]))
            elif step.lineage_nodes:
                parents = tuple(dict.fromkeys([*(i.upstream for i in step.inputs), *step.lineage_nodes]))
            else:
                parents = tuple(dict.fromkeys(i.upstream for i in step.inputs))
            parents_of[name] = parents
            for parent in parents:
                children[parent].append(name)
        self._parents = parents_of
        self._children = children

    @classmethod
    def build(cls, assets: Sequence[Asset], tasks: Sequence[Task], resource_keys: Iterable[str]) -> AssetGraph:
        """Build and validate the graph of a repository's definitions."""
        builder = GraphBuilder(resource_keys)
        for asset in assets:
            builder.add_asset(asset)
        builder.add_tasks(tasks, assets)
        builder.wire()
        return cls(builder.nodes, builder.steps)

    # ----------------------------------------------------- SelectableGraph API
    def group_of(self, name: str) -> str | None:
        return self.nodes[name].group

    def tags_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].tags or ()

    def kinds_of(self, name: str) -> Sequence[str]:
        return self.nodes[name].kinds

    def parents(self, name: str) -> Iterable[str]:
        return self._parents[name]

    def children(self, name: str) -> Iterable[str]:
        return self._children[name]

    # ----------------------------------------------------------------- others
    def upstream_closure(self, names: Iterable[str]) -> set[str]:
        """``names`` and every node they transitively depend on."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self._parents[name])
        return seen

    def to_networkx(self) -> networkx.DiGraph:
        """The node graph as a ``networkx.DiGraph`` (edges point downstream)."""
        import networkx as nx

        graph = nx.DiGraph()
        graph.add_nodes_from(self.nodes)
        graph.add_edges_from((parent, name) for name, parents in self._parents.items() for parent in parents)
        return graph


def _step_level_lineage(step: StepSpec, nodes: dict[str, Node]) -> list[str]:
    per_output = {n for output in step.outputs for n in nodes[output].lineage}
    return [n for n in step.lineage_nodes if n not in per_output]


def _topological_order(steps: dict[str, StepSpec]) -> list[str]:
    remaining = {key: len(step.upstream_steps) for key, step in steps.items()}
    downstream: dict[str, list[str]] = {key: [] for key in steps}
    for key, step in steps.items():
        for upstream in step.upstream_steps:
            downstream[upstream].append(key)
    ready = deque(key for key, count in remaining.items() if count == 0)
    order = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for child in downstream[key]:
            remaining[child] -= 1
            if remaining[child] == 0:
                ready.append(child)
    if len(order) != len(steps):
        raise GraphValidationError(_cycle_message(steps, set(steps) - set(order)))
    return order


def _cycle_message(steps: dict[str, StepSpec], stuck: set[str]) -> str:
    """Describe one cycle among the ``stuck`` steps, following the data flow.

    The walk starts at the first stuck step in declaration order and follows
    downstream edges depth-first (networkx keeps insertion order, so the
    message is deterministic); the path is printed from the step after the
    start, e.g. ``b -> a -> b`` for ``a(b)``, ``b(a)``.
    """
    import networkx as nx

    graph = nx.DiGraph()
    ordered = [key for key in steps if key in stuck]
    graph.add_nodes_from(ordered)
    for key in ordered:
        for upstream in steps[key].upstream_steps:
            if upstream in stuck:
                graph.add_edge(upstream, key)
    cycle = nx.find_cycle(graph, source=ordered[0])
    found = [edge[0] for edge in cycle]
    found = found[1:] + found[:1]
    path = [*found, found[0]]
    return (
        f"Cycle detected in asset graph: {' -> '.join(path)}. Break it by removing one of these "
        "dependencies (an asset that needs its own previous value uses SelfDependency[T])"
    )
