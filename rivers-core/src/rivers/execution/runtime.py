"""Everything a step needs at run time, resolved once per repository.

A :class:`StepRuntime` binds a graph step to concrete IO handlers, resources,
its config class, its return-type check and its hooks, so that running the
step does no lookups beyond attribute reads.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from rivers.context import AssetExecutionContext, TaskExecutionContext
from rivers.definitions.hooks import Hook
from rivers.exceptions import AssetDefinitionError
from rivers.execution.type_check import return_checker
from rivers.graph.partition_checks import edge_mapping, step_partitions_def
from rivers.graph.model import ASSET, GRAPH, GRAPH_TASK, MAPPED, MULTI, OBSERVE, TASK, Node, StepSpec
from rivers.io_handlers.base import BaseIOHandler

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from rivers.definitions.retry import RetryPolicy
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.mappings.base import PartitionMapping


class InputLoad:
    """One parameter loaded from an upstream node through a handler.

    ``mapping`` is the edge's partition mapping (``None``: the default) and
    ``upstream_def`` the upstream's partitions definition (``None``:
    unpartitioned); both are ``None`` on the common unpartitioned edge.
    """

    __slots__ = ("param", "upstream", "handler", "metadata", "type_hint", "mapping", "upstream_def", "element")

    def __init__(self, param: str, upstream: str, handler: BaseIOHandler, metadata: dict[str, str] | None,
                 type_hint: object, mapping: PartitionMapping | None = None,
                 upstream_def: PartitionsDefinition | None = None) -> None:
        #: the index of the element a mapped instance takes from the upstream list (None: the whole value)
        self.element: int | None = None
        self.param = param
        self.upstream = upstream
        self.handler = handler
        self.metadata = metadata
        self.type_hint = type_hint
        self.mapping = mapping
        self.upstream_def = upstream_def


class OutputWrite:
    """One node a step writes, and the handler that writes it."""

    __slots__ = ("name", "node", "handler", "metadata", "code_version")

    def __init__(self, node: Node, handler: BaseIOHandler) -> None:
        self.name = node.name
        self.node = node
        self.handler = handler
        self.metadata = node.metadata
        self.code_version = node.code_version


class StepRuntime:
    """A step bound to its handlers, resources and checks."""

    __slots__ = (
        "key",
        "kind",
        "spec",
        "fn",
        "is_async",
        "context_param",
        "context_class",
        "config_type",
        "inputs",
        "resource_args",
        "self_handler",
        "self_type",
        "self_unannotated",
        "misplaced_context",
        "outputs",
        "checker",
        "success_hooks",
        "failure_hooks",
        "retry",
        "owner",
        "is_generator_multi",
        "node_names",
        "upstream_nodes",
        "return_type",
        "partitions_def",
        "wire_cache",
    )

    def __init__(self, spec: StepSpec, nodes: dict[str, Node], write_handler: Callable[[str], BaseIOHandler],
                 resources: Mapping[str, object], retry: RetryPolicy | None) -> None:
        self.key = spec.key
        self.kind = spec.kind
        self.spec = spec
        self.owner = spec.owner
        self.fn: Callable[..., Any] = spec.fn  # type: ignore[assignment]  # None only for graph steps: never called
        self.is_async = spec.is_async
        self.retry = retry
        signature = spec.signature
        self.context_param = signature.context_name if signature is not None and spec.context_injected else None
        context_class = signature.context_class if signature is not None else None
        if context_class is None:
            context_class = TaskExecutionContext if spec.kind in (TASK, GRAPH_TASK, MAPPED) else AssetExecutionContext
        self.context_class = context_class
        self.config_type = signature.config_type if signature is not None else None
        self.misplaced_context = signature.misplaced_context if signature is not None else None
        self.partitions_def = step_partitions_def(spec, nodes)
        loads = []
        upstream = []
        for spec_input in spec.inputs:
            name = spec_input.upstream
            upstream.append(name)
            handler = spec_input.handler_override
            if isinstance(handler, str):  # the name of the resource holding the input's handler
                handler = resource_io_handler(resources, handler, f"Asset '{spec.key}': input '{name}'")
            metadata = spec_input.metadata_override
            loads.append(InputLoad(
                spec_input.param,
                name,
                write_handler(name) if handler is None else handler,
                nodes[name].metadata if metadata is None else metadata,
                spec_input.type_hint,
                edge_mapping(spec, name, spec_input.partition_mapping),
                nodes[name].partitions_def,
            ))
        self.inputs = tuple(loads)
        self.resource_args = tuple((param, resources[param]) for param in spec.resource_params) \
            if spec.resource_params else ()
        if signature is not None and signature.has_self and spec.kind not in (GRAPH, OBSERVE):
            self.self_unannotated = not signature.self_is_dependency
            self.self_type = signature.self_type
            self.self_handler = write_handler(spec.outputs[0]) if spec.outputs else None
        else:
            self.self_unannotated = False
            self.self_type = None
            self.self_handler = None
        self.outputs = {name: OutputWrite(nodes[name], write_handler(name)) for name in spec.outputs}
        if spec.kind == GRAPH:
            self.node_names = tuple(n for n, node in nodes.items() if node.step_key == spec.key)
            upstream += [n for n, node in nodes.items() if node.step_key in spec.upstream_steps]
        else:
            self.node_names = spec.outputs
        if spec.lineage_nodes:
            upstream.extend(spec.lineage_nodes)
        self.upstream_nodes = tuple(dict.fromkeys(upstream)) if len(upstream) > 1 else tuple(upstream)
        annotation = signature.return_annotation if signature is not None else None
        self.return_type = None if annotation is inspect.Signature.empty else annotation
        self.checker = return_checker(annotation) if self.return_type is not None and spec.kind in (
            ASSET, TASK, GRAPH_TASK, MAPPED) else None
        hooks = spec.hooks
        self.success_hooks = tuple(h for h in hooks if isinstance(h, Hook.Success)) if hooks else ()
        self.failure_hooks = tuple(h for h in hooks if isinstance(h, Hook.Failure)) if hooks else ()
        #: (token, encoded bytes or the error encoding raised, run token) once sent to a worker process
        self.wire_cache: tuple[int, bytes | Exception, int] | None = None
        self.is_generator_multi = False
        if spec.kind == MULTI and spec.fn is not None:
            self.is_generator_multi = inspect.isgeneratorfunction(spec.fn) or inspect.isasyncgenfunction(spec.fn)

    def __repr__(self) -> str:
        return f"StepRuntime({self.key!r})"


def resource_io_handler(resources: Mapping[str, object], key: str, owner: str) -> BaseIOHandler:
    """The IO handler in resource ``key``, which ``owner`` (``"Asset 'a'"``, ``"Asset 'a': input 'b'"``) names.

    :raises AssetDefinitionError: naming ``owner`` and ``key`` when there is no such resource or it is no
        IO handler.
    """
    if key not in resources:
        raise AssetDefinitionError(
            f"{owner}: io_handler references resource '{key}' which is not in resources; resources: {sorted(resources)}"
        )
    handler = resources[key]
    if not isinstance(handler, BaseIOHandler):
        raise AssetDefinitionError(
            f"{owner}: io_handler references resource '{key}' which does not implement the IOHandler protocol "
            "(handle_output + load_input)"
        )
    return handler
