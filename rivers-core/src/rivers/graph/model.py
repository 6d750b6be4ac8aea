"""What the graph is made of: nodes (stored values) and step specs (work).

A *node* is a value that is written and can be loaded: a single asset, one
output of a multi-asset, a graph asset, a graph-internal task, a standalone
task or an external asset. A *step* is one call of user code; it produces
one node, except a multi-asset step which produces one node per output.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rivers.definitions.signature import FunctionSignature

if TYPE_CHECKING:
    from typing import TypeAlias

    from rivers.definitions.assets import Asset
    from rivers.definitions.composition import MappedInvocation
    from rivers.definitions.hooks import Hook
    from rivers.definitions.retry import RetryPolicy
    from rivers.definitions.tasks import Task
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.mappings.base import PartitionMapping

    #: An IO handler as a definition gives it: an instance, the name of a resource holding one, or None.
    HandlerSpec: TypeAlias = "BaseIOHandler | str | None"

# step kinds
ASSET = "asset"
MULTI = "multi"
GRAPH = "graph"
GRAPH_TASK = "graph_task"
TASK = "task"
OBSERVE = "observe"
#: the collect step of a task mapped over a list (dynamic fan-out); its instances are planned at run time
MAPPED = "mapped"


class InputSpec:
    """One upstream value a step receives: parameter, upstream node and how to load it."""

    __slots__ = ("param", "upstream", "handler_override", "metadata_override", "partition_mapping", "type_hint")

    def __init__(
        self,
        param: str,
        upstream: str,
        handler_override: HandlerSpec = None,
        metadata_override: dict[str, str] | None = None,
        partition_mapping: PartitionMapping | None = None,
        type_hint: object = None,
    ) -> None:
        self.param = param
        self.upstream = upstream
        self.handler_override = handler_override
        self.metadata_override = metadata_override
        self.partition_mapping = partition_mapping
        self.type_hint = type_hint


class Node:
    """A stored value of the graph and everything needed to write and load it."""

    __slots__ = (
        "name",
        "step_key",
        "owner",
        "kind",
        "handler_spec",
        "handler_fallbacks",
        "metadata",
        "tags",
        "kinds",
        "group",
        "code_version",
        "partitions_def",
        "pool",
        "lineage",
        "explicit_handler",
    )

    def __init__(
        self,
        name: str,
        step_key: str,
        owner: Asset | Task,
        kind: str,
        handler_spec: tuple[HandlerSpec, ...],
        metadata: dict[str, str] | None,
        tags: list[str] | None,
        kinds: Sequence[str],
        group: str | None,
        code_version: str | None,
        partitions_def: PartitionsDefinition | str | None,
        pool: Sequence[tuple[str, int]],
        lineage: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self.step_key = step_key
        self.owner = owner
        self.kind = kind
        # handler candidates in order of precedence (instances or resource names); default last
        self.handler_spec = handler_spec
        self.explicit_handler = handler_spec != (None,) and any(h is not None for h in handler_spec)
        self.metadata = metadata
        self.tags = tags
        # tuples: an empty one is a shared constant, so the common node keeps no list of its own alive
        # (a large graph's lists make the collector's full passes slower)
        self.kinds: tuple[str, ...] = tuple(kinds)
        self.group = group
        self.code_version = code_version
        # a registered name (str) from the definition until resolve_partitions replaces it by the definition
        self.partitions_def: PartitionsDefinition | None = partitions_def  # type: ignore[assignment]  # (see above)
        self.pool: tuple[tuple[str, int], ...] = tuple(pool)
        self.lineage = lineage

    @property
    def description(self) -> str | None:
        """Human-readable description (computed on demand: docstrings are slow to read)."""
        owner_description = getattr(self.owner, "description", None)
        return owner_description if isinstance(owner_description, str) else None

    def __repr__(self) -> str:
        return f"Node({self.name!r}, kind={self.kind!r})"


class StepSpec:
    """One call of user code and the nodes it produces."""

    __slots__ = (
        "key",
        "kind",
        "owner",
        "fn",
        "signature",
        "outputs",
        "inputs",
        "resource_params",
        "context_injected",
        "upstream_steps",
        "lineage_nodes",
        "retry",
        "hooks",
        "metadata",
        "is_async",
        "mapping",
    )

    def __init__(
        self,
        key: str,
        kind: str,
        owner: Asset | Task,
        fn: Callable[..., Any] | None,
        signature: FunctionSignature | None,
        outputs: tuple[str, ...],
        retry: RetryPolicy | str | None = None,
        hooks: list[Hook] | None = None,
        metadata: dict[str, str] | None = None,
        is_async: bool = False,
    ) -> None:
        self.key = key
        self.kind = kind
        self.owner = owner
        self.fn = fn
        self.signature = signature
        self.outputs = outputs
        self.inputs: tuple[InputSpec, ...] = ()
        self.resource_params: tuple[str, ...] = ()
        self.context_injected = False
        self.upstream_steps: tuple[str, ...] = ()
        self.lineage_nodes: tuple[str, ...] = ()
        self.retry = retry
        self.hooks = hooks
        self.metadata = metadata
        self.is_async = is_async
        #: the MappedInvocation of a MAPPED step (None otherwise)
        self.mapping: MappedInvocation | None = None

    def __repr__(self) -> str:
        return f"StepSpec({self.key!r}, kind={self.kind!r}, outputs={list(self.outputs)})"
