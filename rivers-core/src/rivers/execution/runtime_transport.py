"""Step runtimes in transport form: what a worker process needs of a step, without its definitions.

A :class:`~rivers.execution.runtime.StepRuntime` refers to the asset
definitions, graph nodes and hooks it was built from; :func:`runtime_state`
keeps only what the step runner reads, so that the runtime pickles small and
decodes without the user's repository object. The functions inside are
pickled by :mod:`rivers.execution.pickling`.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from rivers.exceptions import ExecutionError
from rivers.execution.pickling import FunctionPickler

if TYPE_CHECKING:
    from rivers.definitions.assets import Asset
    from rivers.definitions.composition import MappedInvocation
    from rivers.definitions.hooks import Hook
    from rivers.definitions.tasks import Task
    from rivers.execution.runtime import StepRuntime
    from rivers.graph.model import Node, StepSpec

class OwnerInfo:
    """What a step's context reads from the asset or task that defines it."""

    __slots__ = ("tags", "kinds", "group", "code_version")

    def __init__(self, owner: Asset | Task) -> None:
        self.tags = getattr(owner, "tags", None)
        self.kinds = getattr(owner, "kinds", None)
        self.group = getattr(owner, "group", None)
        self.code_version = getattr(owner, "code_version", None)


class SpecInfo:
    """The parts of a :class:`~rivers.graph.model.StepSpec` the step runner reads."""

    __slots__ = ("key", "kind", "outputs", "metadata", "is_async", "retry", "mapping")

    def __init__(self, spec: StepSpec) -> None:
        self.mapping = MappingInfo(spec.mapping) if spec.mapping is not None else None
        self.key = spec.key
        self.kind = spec.kind
        self.outputs = tuple(spec.outputs)
        self.metadata = spec.metadata
        self.is_async = spec.is_async
        self.retry = spec.retry


class MappingInfo:
    """What the collect step of a mapped task reads of its mapping (how results are handed on)."""

    __slots__ = ("stream", "max_concurrency")

    def __init__(self, mapping: MappedInvocation) -> None:
        self.stream = mapping.stream
        self.max_concurrency = mapping.max_concurrency


class NodeInfo:
    """The parts of a graph node an output write needs."""

    __slots__ = ("name", "metadata", "code_version")

    def __init__(self, node: Node) -> None:
        self.name = node.name
        self.metadata = node.metadata
        self.code_version = node.code_version


class HookInfo:
    """A success or failure hook: its name and function."""

    __slots__ = ("name", "func", "hook_type")

    def __init__(self, hook: Hook) -> None:
        self.name = hook.name
        self.func = hook.func
        self.hook_type = getattr(hook, "hook_type", None)


_PLAIN_SLOTS = (
    "key", "kind", "fn", "is_async", "context_param", "context_class", "config_type", "inputs", "resource_args",
    "self_handler", "self_type", "self_unannotated", "misplaced_context", "retry", "is_generator_multi",
    "node_names", "upstream_nodes", "return_type", "partitions_def",
)


def runtime_state(runtime: StepRuntime) -> dict[str, object]:
    """A picklable description of ``runtime`` (definitions replaced by what the runner reads)."""
    from rivers.execution.runtime import OutputWrite

    state = {name: getattr(runtime, name) for name in _PLAIN_SLOTS}
    state["spec"] = SpecInfo(runtime.spec)
    state["owner"] = OwnerInfo(runtime.owner)
    outputs = {}
    for name, write in runtime.outputs.items():
        lite = OutputWrite.__new__(OutputWrite)
        lite.name = write.name
        lite.node = NodeInfo(write.node)  # type: ignore[assignment]  # a runner's writes get a stand-in node
        lite.handler = write.handler
        lite.metadata = write.metadata
        lite.code_version = write.code_version
        outputs[name] = lite
    state["outputs"] = outputs
    state["has_checker"] = runtime.checker is not None
    state["success_hooks"] = tuple(HookInfo(h) for h in runtime.success_hooks)
    state["failure_hooks"] = tuple(HookInfo(h) for h in runtime.failure_hooks)
    return state


def runtime_from_state(state: dict[str, object]) -> StepRuntime:
    """Rebuild a :class:`StepRuntime` from :func:`runtime_state` (in the worker)."""
    from rivers.execution.runtime import StepRuntime
    from rivers.execution.type_check import return_checker

    runtime = StepRuntime.__new__(StepRuntime)
    for name in StepRuntime.__slots__:
        setattr(runtime, name, None)
    has_checker = state.pop("has_checker", False)
    for name, value in state.items():
        setattr(runtime, name, value)
    runtime.checker = return_checker(runtime.return_type) if has_checker else None
    return runtime


def dumps_runtime(runtime: StepRuntime) -> bytes:
    """The runtime of a step as bytes; raises :class:`ExecutionError` naming the step if it cannot be sent."""
    return encode_runtime(runtime)[0]


def encode_runtime(runtime: StepRuntime) -> tuple[bytes, bool]:
    """The runtime's bytes, and whether they must be re-encoded for every run (notebook functions by value)."""
    buffer = io.BytesIO()
    pickler = FunctionPickler(buffer)
    try:
        pickler.dump(runtime_state(runtime))
    except Exception as error:  # noqa: BLE001 - any pickling failure gets the same explanation
        raise unsendable(runtime.key, error) from error
    return buffer.getvalue(), pickler.volatile


def unsendable(key: str, error: BaseException) -> ExecutionError:
    return ExecutionError(
        f"Asset '{key}' cannot be sent to a worker process: {type(error).__name__}: {error}. "
        "Define its function, IO handler and resources at module level of an importable module "
        "(lambdas and closures are sent by value only when everything they capture can be pickled), "
        "or run it in the controller with metadata={'rivers/executor': 'in_process'}"
    )



__all__ = ["dumps_runtime", "encode_runtime", "runtime_from_state", "runtime_state", "unsendable"]
