"""Recording a graph asset's body: which tasks it calls, wired to what.

The body of an ``Asset.from_graph`` function runs once, at definition time.
Calls to tasks and assets inside it do not compute anything: they are
recorded here and return :class:`InvokedNodeOutput` placeholders.
"""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING, Any, Callable, cast

from rivers.exceptions import AssetDefinitionError, GraphValidationError, TaskDefinitionError

if TYPE_CHECKING:
    from rivers.definitions.signature import FunctionSignature

_ACTIVE: contextvars.ContextVar[Composition | None] = contextvars.ContextVar("rivers_composition", default=None)


class MappableNode:
    """What ``InvokedNodeOutput.map()`` accepts: the base of :class:`~rivers.definitions.tasks.Task`."""

    __slots__ = ()

    if TYPE_CHECKING:  # what Task provides and a graph body reads (tasks imports this module: no name for it here)
        @property
        def name(self) -> str: ...

        @property
        def fn(self) -> Callable[..., Any] | None: ...

        @property
        def signature(self) -> FunctionSignature | None: ...


class InvokedNodeOutput:
    """Placeholder for the output of a node called inside a graph body."""

    __slots__ = ("node_name", "output_name")

    def __init__(self, node_name: str, output_name: str = "result") -> None:
        self.node_name = node_name
        self.output_name = output_name

    def map(self, task: object, *, max_concurrency: int | None = None) -> MappedOutput:
        """Run ``task`` once per element of this node's list (dynamic fan-out); collect the results later.

        The instances are the steps ``<graph>/<task>__<key>``, keyed by the
        element's index (``"0"``, ``"1"``, ...) or by its ``DynamicOutput.key``.
        ``max_concurrency`` caps how many instances run at the same time.
        """
        if not isinstance(task, MappableNode):
            raise TypeError(f"map() takes a Task (decorate the function with @rs.Task), got {type(task).__name__}")
        if task.fn is None:
            raise TaskDefinitionError(f"Task {task.name!r} is not bound to a function")
        if max_concurrency is not None and (type(max_concurrency) is not int or max_concurrency < 1):
            raise ValueError(f"map(max_concurrency=...) must be a positive int or None, got {max_concurrency!r}")
        return MappedOutput(self.node_name, task, max_concurrency)

    def __repr__(self) -> str:
        return f"InvokedNodeOutput(node_name={self.node_name!r}, output_name={self.output_name!r})"


class MappedOutput:
    """A task mapped over a node's list inside a graph body; ``collect()`` it before passing it on."""

    __slots__ = ("node_name", "output_name", "task", "max_concurrency")

    def __init__(self, node_name: str, task: MappableNode, max_concurrency: int | None) -> None:
        self.node_name = node_name
        self.output_name = "result"
        self.task = task
        self.max_concurrency = max_concurrency

    def collect(self) -> InvokedNodeOutput:
        """Barrier: the list of every instance's result, in mapping-key order."""
        return self._record(None)

    def collect_stream(self, *, ordered: bool = False) -> InvokedNodeOutput:
        """The consumer receives a generator of the results: completion order, or mapping order if ``ordered``."""
        return self._record("ordered" if ordered else "completion")

    def _record(self, stream: str | None) -> InvokedNodeOutput:
        composition = active_composition()
        if composition is None:
            raise AssetDefinitionError("collect() is only valid inside an Asset.from_graph body")
        return composition.record_mapped(self, stream)

    def __repr__(self) -> str:
        return f"MappedOutput(node_name={self.node_name!r}, task={self.task.name!r})"


class MappedInvocation:
    """A mapped task in a graph body: its source node, the collect node and how results are handed on."""

    __slots__ = ("task", "source", "collect_node", "max_concurrency", "stream")

    def __init__(self, task: Any, source: str, collect_node: str, max_concurrency: int | None,
                 stream: str | None) -> None:
        #: the mapped :class:`~rivers.definitions.tasks.Task` (``Any``: this module cannot name the class)
        self.task = task
        self.source = source
        self.collect_node = collect_node
        self.max_concurrency = max_concurrency
        self.stream = stream  # None: a list; "ordered" / "completion": a generator in that order


class Invocation:
    """One task call in a graph body: the task and where each parameter comes from."""

    __slots__ = ("task", "node_name", "bindings")

    def __init__(self, task: Any, node_name: str, bindings: dict[str, str]) -> None:
        #: the called :class:`~rivers.definitions.tasks.Task` (``Any``: this module cannot name the class)
        self.task = task
        self.node_name = node_name
        self.bindings = bindings  # parameter name -> node name feeding it


class Composition:
    """The recorded body of one graph asset."""

    def __init__(self, graph_name: str) -> None:
        self.graph_name = graph_name
        self.invocations: dict[str, Invocation] = {}
        self.mapped: dict[str, MappedInvocation] = {}  # collect node -> mapped task
        self.duplicates: list[str] = []

    def record_mapped(self, mapped: MappedOutput, stream: str | None) -> InvokedNodeOutput:
        task = mapped.task
        collect_node = f"{self.graph_name}/{task.name}__collect"
        if collect_node in self.mapped or f"{self.graph_name}/{task.name}" in self.invocations:
            self.duplicates.append(collect_node)
        self.mapped[collect_node] = MappedInvocation(task, mapped.node_name, collect_node, mapped.max_concurrency,
                                                     stream)
        return InvokedNodeOutput(collect_node)

    def record_task(self, task: MappableNode, args: tuple[object, ...], kwargs: dict[str, object]) -> InvokedNodeOutput:
        node_name = f"{self.graph_name}/{task.name}"
        if f"{node_name}__collect" in self.mapped:
            self.duplicates.append(node_name)
        params = cast("FunctionSignature", task.signature).value_names  # a task is recorded once bound
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


def _node_of(value: object, graph: str, task: str, param: str) -> str:
    if isinstance(value, InvokedNodeOutput):
        return value.node_name
    if isinstance(value, MappedOutput):
        raise TypeError(
            f"Graph '{graph}': the mapped output of '{value.task.name}' passed to '{task}' must be collected "
            "first (.collect() or .collect_stream())"
        )
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
    if isinstance(result, MappedOutput):
        raise TypeError(
            f"Graph '{graph_name}': the mapped output of '{result.task.name}' must be collected before the graph "
            "returns it (.collect() or .collect_stream())"
        )
    if not isinstance(result, InvokedNodeOutput):
        raise AssetDefinitionError(
            f"Graph '{graph_name}' must return the output of a task call (or nothing), got {type(result).__name__}"
        )
    return composition, result.node_name
