"""Recording a graph asset's body: which tasks it calls, wired to what.

The body of an ``Asset.from_graph`` function runs once, at definition time.
Calls to tasks and assets inside it do not compute anything: they are
recorded here and return :class:`InvokedNodeOutput` placeholders.
"""

from __future__ import annotations

import contextvars
from typing import Any, Callable

from rivers.exceptions import AssetDefinitionError, GraphValidationError

_ACTIVE: contextvars.ContextVar[Composition | None] = contextvars.ContextVar("rivers_composition", default=None)


class InvokedNodeOutput:
    """Placeholder for the output of a node called inside a graph body."""

    __slots__ = ("node_name", "output_name")

    def __init__(self, node_name: str, output_name: str = "result") -> None:
        self.node_name = node_name
        self.output_name = output_name

    def __repr__(self) -> str:
        return f"InvokedNodeOutput(node_name={self.node_name!r}, output_name={self.output_name!r})"


class Invocation:
    """One task call in a graph body: the task and where each parameter comes from."""

    __slots__ = ("task", "node_name", "bindings")

    def __init__(self, task: Any, node_name: str, bindings: dict[str, str]) -> None:
        self.task = task
        self.node_name = node_name
        self.bindings = bindings  # parameter name -> node name feeding it


class Composition:
    """The recorded body of one graph asset."""

    def __init__(self, graph_name: str) -> None:
        self.graph_name = graph_name
        self.invocations: dict[str, Invocation] = {}
        self.duplicates: list[str] = []

    def record_task(self, task: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> InvokedNodeOutput:
        node_name = f"{self.graph_name}/{task.name}"
        params = task._signature.value_names
        if len(args) > len(params):
            raise AssetDefinitionError(
                f"Graph '{self.graph_name}': task '{task.name}' takes {len(params)} input(s) "
                f"{list(params)} but was called with {len(args)}"
            )
        bindings = {}
        for param, value in [*zip(params, args), *kwargs.items()]:
            if param not in params:
                raise AssetDefinitionError(
                    f"Graph '{self.graph_name}': task '{task.name}' has no input parameter '{param}'; "
                    f"inputs: {list(params)}"
                )
            bindings[param] = _node_of(value, self.graph_name, task.name, param)
        if node_name in self.invocations:
            self.duplicates.append(node_name)
        self.invocations[node_name] = Invocation(task, node_name, bindings)
        return InvokedNodeOutput(node_name)


def _node_of(value: Any, graph: str, task: str, param: str) -> str:
    if isinstance(value, InvokedNodeOutput):
        return value.node_name
    if type(value).__name__ == "MappedOutput":
        raise TypeError(f"Graph '{graph}': a mapped output passed to '{task}' must be collected first (.collect())")
    raise AssetDefinitionError(
        f"Graph '{graph}': argument '{param}' of task '{task}' must be the output of a task, an asset "
        f"or a graph parameter, got {type(value).__name__}; pass constants through config or a resource"
    )


def active_composition() -> Composition | None:
    """The graph body being recorded right now, if any."""
    return _ACTIVE.get()


def compose(graph_name: str, fn: Callable[..., Any], params: tuple[str, ...]) -> tuple[Composition, str | None]:
    """Run a graph body with placeholders; return the recording and the final node."""
    composition = Composition(graph_name)
    token = _ACTIVE.set(composition)
    try:
        result = fn(**{name: InvokedNodeOutput(name) for name in params})
    finally:
        _ACTIVE.reset(token)
    if composition.duplicates:
        raise GraphValidationError(
            f"Asset '{composition.duplicates[0]}': depends on itself; use SelfDependency[T] for an asset "
            "that reads its own previous value (a task may be called only once per graph body)"
        )
    if result is None:
        return composition, None
    if not isinstance(result, InvokedNodeOutput):
        raise AssetDefinitionError(
            f"Graph '{graph_name}' must return the output of a task call (or nothing), got {type(result).__name__}"
        )
    return composition, result.node_name
