"""Dynamic fan-out: the instances of a mapped task, planned when the list they map over exists.

A task mapped over a node's list (``producer().map(task).collect()`` in a
graph body) is one *collect* step ``<graph>/<task>__collect`` in the plan
(kind :data:`~rivers.graph.model.MAPPED`). Its runtime is the template of
the instances. When the collect step becomes ready (the producer finished),
the scheduler asks its :attr:`PlannedStep.expander` for an
:class:`Expansion`: one ordinary planned step ``<graph>/<task>__<key>`` per
element, and the collect step rewired to load every instance's value. The
instances then run like any other step (retries, pools, launchers,
resume); the collect step runs after them and stores the list of results.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from rivers.definitions.results import DynamicOutput, StreamedResults
from rivers.exceptions import ExecutionError
from rivers.graph.model import GRAPH_TASK

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from rivers.definitions.composition import MappedInvocation
    from rivers.execution.runtime import InputLoad, StepRuntime


class ExpandableStep(Protocol):
    """A planned step as fan-out sees it (:class:`~rivers.execution.plan.PlannedStep` is one)."""

    @property
    def runtime(self) -> StepRuntime:
        """What the step runs."""

    def expanded_for(self, runtime: StepRuntime) -> ExpandableStep:
        """A planned step like this one (same pools, executor, neighbours) running ``runtime``."""


class Expansion:
    """The instances an expanded step waits for, and the step rewired to consume them.

    ``limit``: how many instances may run at once (None: no cap).
    ``completed_order``: instance keys in the order they ended (for a
    ``collect_stream()`` in completion order), filled by the scheduler.
    """

    __slots__ = ("instances", "step", "limit", "stream", "completed_order")

    def __init__(self, instances: list[ExpandableStep], step: ExpandableStep, limit: int | None, stream: str | None) -> None:
        self.instances: Sequence[ExpandableStep] = instances
        self.step = step
        self.limit = limit
        self.stream = stream
        self.completed_order: list[str] = []

    def collect_step(self) -> ExpandableStep:
        """The collect step to launch: in completion order for an unordered stream."""
        if self.stream != "completion" or not self.completed_order:
            return self.step
        position = {key: index for index, key in enumerate(self.completed_order)}
        runtime = _clone(self.step.runtime)
        runtime.inputs = tuple(sorted(runtime.inputs, key=lambda load: position.get(load.upstream, len(position))))
        runtime.wire_cache = None
        return self.step.expanded_for(runtime)


_SLOTS: dict[type, tuple[tuple[str, ...], Callable[[object], tuple[object, ...]]]] = {}
_T = TypeVar("_T")


def _clone(obj: _T) -> _T:
    """A shallow copy of a ``__slots__`` object (several times cheaper than ``copy.copy``)."""
    cls = type(obj)
    known = _SLOTS.get(cls)
    if known is None:
        names = tuple(name for klass in cls.__mro__ for name in getattr(klass, "__slots__", ()))
        known = _SLOTS[cls] = (names, operator.attrgetter(*names))
    names, get = known
    new = cls.__new__(cls)
    try:
        values = get(obj)
    except AttributeError:  # a slot never set: copy the others
        for name in names:
            if hasattr(obj, name):
                setattr(new, name, getattr(obj, name))
        return new
    for name, value in zip(names, values):
        setattr(new, name, value)
    return new


def mapping_keys(values: list[Any], step_key: str) -> list[str]:
    """The mapping keys of a producer's list: the indices, or the ``DynamicOutput`` keys (all or none)."""
    dynamic = [type(value) is DynamicOutput for value in values]
    if not any(dynamic):
        return [str(index) for index in range(len(values))]
    check_not_mixed(dynamic, step_key)
    keys = [value.key for value in values]
    seen: set[str] = set()
    for key in keys:
        if not isinstance(key, str) or not key:
            raise ExecutionError(f"Asset '{step_key}': DynamicOutput keys must be non-empty strings, got {key!r}")
        if key in seen:
            raise ExecutionError(f"Asset '{step_key}': duplicate DynamicOutput key {key!r}; mapping keys are unique")
        seen.add(key)
    return keys


def check_not_mixed(dynamic: list[bool], step_key: str) -> None:
    """A list is all ``DynamicOutput`` or none (``TypeError`` otherwise)."""
    if any(dynamic) and not all(dynamic):
        raise TypeError(
            f"Asset '{step_key}': Cannot mix plain values and DynamicOutput in one list; return only "
            "DynamicOutput(key, value) elements or only plain values"
        )


def mapped_element(value: Any, index: int) -> Any:
    """Element ``index`` of a producer's list (a ``DynamicOutput`` gives its value)."""
    if not isinstance(value, (list, tuple)):
        value = list(value)
    item = value[index]
    return item.value if type(item) is DynamicOutput else item


def expand_mapped(planned: ExpandableStep, load_source: Callable[[InputLoad], Any]) -> Expansion:
    """The instances of the mapped collect step ``planned``; ``load_source(load)`` loads the producer's list."""
    template = planned.runtime
    mapping: MappedInvocation = template.spec.mapping  # type: ignore[assignment]  # a MAPPED step always has one
    source = template.inputs[0]
    values = load_source(source)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(
            f"Asset '{template.key}': '{source.upstream}' must return a list (or other iterable) to be mapped "
            f"over, got {type(values).__name__}"
        )
    values = list(values)
    keys = mapping_keys(values, source.upstream)
    graph_task = template.key[: -len("__collect")]
    instances = []
    collect_loads = []
    for index, key in enumerate(keys):
        runtime = _instance(template, f"{graph_task}__{key}", index)
        instances.append(planned.expanded_for(runtime))
        collect_loads.append(_collect_load(source, runtime))
    collect = _clone(template)
    collect.inputs = tuple(collect_loads)
    collect.upstream_nodes = (source.upstream, *(load.upstream for load in collect_loads))
    collect.wire_cache = None
    return Expansion(instances, planned.expanded_for(collect), mapping.max_concurrency, mapping.stream)


def _instance(template: StepRuntime, key: str, index: int) -> StepRuntime:
    runtime = _clone(template)
    runtime.key = key
    runtime.kind = GRAPH_TASK
    spec = _clone(template.spec)
    spec.key = key
    spec.kind = GRAPH_TASK
    spec.outputs = (key,)
    runtime.spec = spec
    write = _clone(template.outputs[template.key])
    node = _clone(write.node)
    node.name = key
    node.step_key = key
    write.node = node
    write.name = key
    runtime.outputs = {key: write}
    runtime.node_names = (key,)
    source = _clone(template.inputs[0])
    source.element = index
    runtime.inputs = (source, *template.inputs[1:])
    runtime.wire_cache = None
    return runtime


def _collect_load(source: InputLoad, instance: StepRuntime) -> InputLoad:
    load = _clone(source)
    write = instance.outputs[instance.key]
    load.param = instance.key
    load.upstream = instance.key
    load.handler = write.handler
    load.metadata = write.metadata
    load.mapping = None
    load.upstream_def = None
    load.type_hint = None
    load.element = None
    return load



__all__ = ["Expansion", "StreamedResults", "check_not_mixed", "expand_mapped", "mapped_element", "mapping_keys"]
