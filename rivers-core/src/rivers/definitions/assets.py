"""The ``Asset`` decorator family: single, multi, graph and external assets."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from rivers.definitions.asset_def import AssetDef, DepDef, check_deps, mapping_key_name
from rivers.definitions.composition import InvokedNodeOutput, active_composition, compose
from rivers.definitions.compute import Compute, check_compute
from rivers.definitions.options import (
    FunctionDefinition,
    check_hooks,
    check_io_handler,
    check_metadata,
    check_partitions_def,
    check_retry,
    check_tags,
    normalize_kinds,
    normalize_pool,
)
from rivers.definitions.signature import FunctionSignature, signature_of
from rivers.exceptions import AssetDefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from typing import Protocol

    from rivers.definitions.composition import Composition
    from rivers.definitions.hooks import Hook
    from rivers.definitions.retry import RetryPolicy
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.mappings.base import PartitionMapping
    from rivers.partitions.strategy import BackfillStrategy

#: What :meth:`Asset.node_fields` returns: ``(name, metadata, tags, kinds, group, code_version,
#: partitions_def, pool, io_handler_spec, fn, signature, retry, hooks, is_async, deps)``, the values of
#: the properties of those names (``pool`` as ``(pool, slots)`` pairs), without their copies.
NodeFields = tuple[
    str, dict[str, str] | None, list[str] | None, list[str], str | None, str | None,
    "PartitionsDefinition | str | None", list[tuple[str, int]], "BaseIOHandler | str | None", Callable[..., Any],
    FunctionSignature | None, "RetryPolicy | str | None", "list[Hook] | None", bool, list[DepDef],
]


if TYPE_CHECKING:  # (for type checkers only: building a Protocol class costs every process's import)

    class AutomationConditionLike(Protocol):
        """What ``automation_condition=`` takes: an :class:`~rivers.AutomationCondition`.

        The class lives in the application layer (:mod:`rivers.automation`); an
        asset only keeps the condition for the automation engine to read.
        """

        @property
        def kind(self) -> str: ...

        @property
        def description(self) -> str: ...


def _description_of(fn: Callable[..., Any] | None, description: str | None) -> str | None:
    if description is not None or fn is None:
        return description
    doc = inspect.getdoc(fn)
    return doc or None


class Asset(FunctionDefinition):
    """Decorator (and base class) turning a function into an asset.

    Use it bare (``@rs.Asset``), with options (``@rs.Asset(group="raw")``) or
    as a wrapper (``rs.Asset(fn, name="x")``). Parameters of the function name
    its upstream assets; their values are loaded through IO handlers.
    """

    _kind = "single"
    _pool: list[tuple[str, int]]
    backfill_strategy: BackfillStrategy | None

    def __new__(cls, *args: object, **kwargs: object) -> Asset:
        return object.__new__(SingleAsset if cls is Asset else cls)

    def __init__(
        self,
        wraps: Callable[..., Any] | None = None,
        *,
        name: str | None = None,
        tags: list[str] | None = None,
        kinds: str | list[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        deps: list[DepDef] | None = None,
        hooks: list[Hook] | None = None,
        automation_condition: AutomationConditionLike | None = None,
        backfill_strategy: BackfillStrategy | None = None,
        pool: str | list[str] | None = None,
        pool_slots: int | dict[str, int] | None = None,
        retry: RetryPolicy | str | None = None,
        compute: Compute | None = None,
        description: str | None = None,
    ) -> None:
        self._configure(
            name=name,
            tags=tags,
            kinds=kinds,
            group=group,
            code_version=code_version,
            io_handler=io_handler,
            metadata=metadata,
            partitions_def=partitions_def,
            deps=deps,
            hooks=hooks,
            automation_condition=automation_condition,
            retry=retry,
            compute=compute,
            description=description,
        )
        self.backfill_strategy = backfill_strategy
        self._pool = normalize_pool(pool, pool_slots)
        if wraps is not None:
            self._bind(wraps)

    # ------------------------------------------------------------ construction
    def _configure(
        self,
        *,
        name: str | None = None,
        tags: Sequence[str] | Mapping[str, str] | None = None,
        kinds: str | Sequence[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        deps: Iterable[DepDef] | None = None,
        hooks: Sequence[Hook] | None = None,
        automation_condition: AutomationConditionLike | None = None,
        retry: RetryPolicy | str | None = None,
        compute: Compute | None = None,
        description: str | None = None,
    ) -> None:
        owner = f"Asset {name!r}" if name else "Asset"
        if name is not None and (not isinstance(name, str) or not name):
            raise AssetDefinitionError(f"Asset name must be a non-empty str, got {name!r}")
        self._explicit_name = name
        self._tags = check_tags(tags, owner)
        self._kinds = normalize_kinds(kinds)
        self.group = group
        self.code_version = code_version
        self._io_handler = check_io_handler(io_handler)
        self._metadata = check_metadata(metadata, owner)
        self._partitions_def = check_partitions_def(partitions_def)
        self._deps = check_deps(deps, owner)
        self._hooks = check_hooks(hooks, owner)
        self.automation_condition = automation_condition
        self.retry = check_retry(retry)
        self.compute = check_compute(compute, owner)
        self._description = description
        self.backfill_strategy = None
        self._pool = []
        self._fn: Callable[..., Any] | None = None
        self._signature: FunctionSignature | None = None
        self._is_async = False

    def _bind(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise AssetDefinitionError("Non callable function provided as input")
        signature = signature_of(fn)
        _check_declared_inputs(self._all_input_deps(), signature)
        self._fn = fn
        self._signature = signature
        self._is_async = inspect.iscoroutinefunction(fn) or inspect.isasyncgenfunction(fn)

    def _all_input_deps(self) -> list[DepDef]:
        return [d for d in self._deps if d.is_input]

    @property
    def _name(self) -> str | None:
        """``name=`` if given, else the bound function's name (``None`` before binding)."""
        if self._explicit_name is not None:
            return self._explicit_name
        return self._fn.__name__ if self._fn is not None else None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        composition = active_composition()
        if composition is not None:
            return InvokedNodeOutput(self.name)
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], Asset):
            if self._fn is None:
                self._bind(args[0])
                return self
            rebound = copy.copy(self)
            rebound._bind(args[0])
            return rebound
        raise AssetDefinitionError(
            f"Asset '{self._name or '?'}' cannot be called directly: "
            "materialize it with CodeRepository(...).materialize(), or call asset._asset_fn(...) "
            "to run the plain function"
        )

    # -------------------------------------------------------------- properties
    @property
    def name(self) -> str:
        """The node name: ``name=`` if given, else the function's name."""
        name = self._name
        if name is None:
            raise AssetDefinitionError("Asset has no name: pass name=... or decorate a function")
        return name

    @property
    def tags(self) -> list[str] | None:
        """Labels of the asset."""
        return self._tags

    @property
    def kinds(self) -> list[str]:
        """Kind labels, always a list."""
        return list(self._kinds)

    @property
    def metadata(self) -> dict[str, str] | None:
        """Static metadata, passed to IO handlers as ``asset_metadata``."""
        return self._metadata

    @property
    def description(self) -> str | None:
        """``description=`` if given, else the function's docstring."""
        return _description_of(self._fn, self._description)

    @property
    def partitions_def(self) -> PartitionsDefinition | str | None:
        """The partitions definition, or the registered name given as a str."""
        return self._partitions_def

    @property
    def deps(self) -> list[DepDef]:
        """Explicit dependencies (``AssetDef.input`` / ``AssetDef.dep``)."""
        return list(self._deps)

    @property
    def partition_mapping(self) -> dict[str, PartitionMapping] | None:
        """Per-dependency partition mappings, derived from ``deps``."""
        if not self._deps:  # the common case (dependencies from parameters): no dict built
            return None
        mapping = {d.name: d.partition_mapping for d in self._deps if d.partition_mapping is not None}
        return mapping or None

    @property
    def hooks(self) -> list[Hook] | None:
        """Success/failure hooks."""
        return self._hooks

    @property
    def pool(self) -> list[tuple[str, int]]:
        """Normalised ``(pool, slots)`` pairs; ``[]`` when the asset has no pool."""
        return list(self._pool)

    @property
    def pool_slots(self) -> dict[str, int] | None:
        """Slots claimed per pool, normalised (``None`` when the asset has no pool)."""
        return dict(self._pool) if self._pool else None

    @property
    def observe_fn(self) -> Callable[..., Any] | None:
        """The observation function (external assets only)."""
        return None

    @property
    def io_handler(self) -> BaseIOHandler | None:
        """The handler instance; a string resource reference reads back as None."""
        return None if isinstance(self._io_handler, str) else self._io_handler

    @property
    def _asset_fn(self) -> Callable[..., Any]:
        """The wrapped function, to call it directly."""
        if self._fn is None:
            raise AssetDefinitionError(f"Asset '{self._name}' is not bound to a function")
        return self._fn

    def node_fields(self) -> NodeFields:
        """Everything the graph builder reads from a bound asset, in one call (see :data:`NodeFields`).

        One call instead of a property read per field: the builder runs it
        once per asset of every repository. The lists are the asset's own:
        read them, never change them.
        """
        fn = self._fn
        if fn is None:
            raise AssetDefinitionError(f"Asset '{self.name}' is not bound to a function")
        name = self._explicit_name
        return (fn.__name__ if name is None else name, self._metadata, self._tags, self._kinds, self.group,
                self.code_version, self._partitions_def, self._pool, self._io_handler, fn, self._signature,
                self.retry, self._hooks, self._is_async, self._deps)

    @property
    def is_async(self) -> bool:
        """The wrapped function is ``async def`` (or an async generator)."""
        return self._is_async

    @property
    def is_single(self) -> bool:
        return self._kind == "single"

    @property
    def is_multi(self) -> bool:
        return self._kind == "multi"

    @property
    def is_graph(self) -> bool:
        return self._kind == "graph"

    @property
    def is_external(self) -> bool:
        return self._kind == "external"

    # --------------------------------------------------------- alt factories
    @classmethod
    def from_multi(
        cls,
        wraps: Callable[..., Any] | None = None,
        output_defs: list[AssetDef] | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        kinds: str | list[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        deps: list[DepDef] | None = None,
        hooks: list[Hook] | None = None,
        automation_condition: AutomationConditionLike | None = None,
        compute: Compute | None = None,
        retry: RetryPolicy | str | None = None,
        description: str | None = None,
    ) -> MultiAsset:
        """A function producing several assets (``output_defs``) in one step."""
        options = {key: value for key, value in locals().items() if key not in ("cls", "wraps", "output_defs")}
        return MultiAsset(wraps, output_defs=output_defs or [], **options)

    @classmethod
    def from_graph(
        cls,
        wraps: Callable[..., Any] | None = None,
        name: str | None = None,
        tags: list[str] | None = None,
        kinds: str | list[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        node_io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        deps: list[DepDef] | None = None,
        hooks: list[Hook] | None = None,
        automation_condition: AutomationConditionLike | None = None,
        retry: RetryPolicy | str | None = None,
        description: str | None = None,
    ) -> GraphAsset:
        """An asset computed by a sub-graph of tasks (each task its own step)."""
        options = {key: value for key, value in locals().items() if key not in ("cls", "wraps")}
        return GraphAsset(wraps, **options)

    @classmethod
    def external(
        cls,
        wraps: Callable[..., Any] | None = None,
        name: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        tags: list[str] | None = None,
        kinds: str | list[str] | None = None,
        group: str | None = None,
        metadata: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        automation_condition: AutomationConditionLike | None = None,
        description: str | None = None,
    ) -> ExternalAsset:
        """A source produced outside rivers, loaded downstream through ``io_handler``."""
        options = {key: value for key, value in locals().items() if key not in ("cls", "wraps")}
        return ExternalAsset(wraps, **options)


class SingleAsset(Asset):
    """An asset computed by one function (``@rs.Asset``)."""

    _kind = "single"


class MultiAsset(Asset):
    """One function producing several assets, one per ``AssetDef``."""

    _kind = "multi"

    def __init__(self, wraps: Callable[..., Any] | None = None, *, output_defs: list[AssetDef],
                 **options: Any) -> None:
        self._configure(**options)
        outputs = list(output_defs)
        if not outputs or not all(isinstance(o, AssetDef) for o in outputs):
            raise AssetDefinitionError("Asset.from_multi needs output_defs: a non-empty list of rs.AssetDef")
        seen: set[str] = set()
        for output in outputs:
            if output.name in seen:
                raise AssetDefinitionError(
                    f"duplicate asset name '{output.name}': two definitions register under it"
                )
            seen.add(output.name)
        self.output_defs = outputs
        if self._partitions_def is None:
            _check_output_partitions(outputs)
        self._input_deps = _merge_input_deps(self._deps, outputs)
        if wraps is not None:
            self._bind(wraps)

    def _all_input_deps(self) -> list[DepDef]:
        return self.input_deps

    @property
    def input_deps(self) -> list[DepDef]:
        """The data inputs of the function: top-level ``deps`` merged with every output's inputs."""
        return list(self._input_deps.values())

    @property
    def partition_mapping(self) -> dict[str, PartitionMapping] | None:
        mapping = {n: d.partition_mapping for n, d in self._input_deps.items() if d.partition_mapping is not None}
        for d in self._deps:
            if not d.is_input and d.partition_mapping is not None:
                mapping[d.name] = d.partition_mapping
        return mapping or None


class GraphAsset(Asset):
    """An asset whose value is computed by a sub-graph of tasks."""

    _kind = "graph"

    def __init__(self, wraps: Callable[..., Any] | None = None, *, node_io_handler: BaseIOHandler | str | None = None,
                 **options: Any) -> None:
        self._configure(**options)
        self._node_io_handler = check_io_handler(node_io_handler)
        self.composition: Composition | None = None
        self.final_node: str | None = None
        if wraps is not None:
            self._bind(wraps)

    def _bind(self, fn: Callable[..., Any]) -> None:
        super()._bind(fn)
        name = self._name or fn.__name__
        signature = cast("FunctionSignature", self._signature)  # set by super()._bind
        self.composition, self.final_node = compose(name, fn, signature.value_names)

    @property
    def node_io_handler(self) -> BaseIOHandler | None:
        """Handler for the internal task nodes (a string reference reads back as None)."""
        return None if isinstance(self._node_io_handler, str) else self._node_io_handler

    @property
    def node_io_handler_spec(self) -> BaseIOHandler | str | None:
        """``node_io_handler=`` as given (an instance, a resource key, or None)."""
        return self._node_io_handler


class ExternalAsset(Asset):
    """A data source managed outside rivers; never computed, only loaded or observed."""

    _kind = "external"

    def __init__(self, wraps: Callable[..., Any] | None = None, *, io_handler: BaseIOHandler | str | None = None,
                 **options: Any) -> None:
        if io_handler is None:
            name = options.get("name") or getattr(wraps, "__name__", "?")
            raise AssetDefinitionError(
                f"External assets require an io_handler (asset {name!r}): "
                "pass io_handler=<a BaseIOHandler instance> that can load the data"
            )
        try:
            check_io_handler(io_handler)
        except AssetDefinitionError:
            raise AssetDefinitionError(
                "External asset io_handler must be a BaseIOHandler subclass instance or a string resource reference"
            ) from None
        self._configure(io_handler=io_handler, **options)
        if wraps is not None:
            self._bind(wraps)

    @property
    def observe_fn(self) -> Callable[..., Any] | None:
        return self._fn


# ------------------------------------------------------------------ helpers
def _check_declared_inputs(inputs: list[DepDef], signature: FunctionSignature) -> None:
    available = sorted(n for n in signature.annotated_names if n != "self")
    for dep in inputs:
        if dep.name not in signature.annotated_names or dep.name == "self":
            raise ValueError(
                f"AssetDef.input('{dep.name}') does not match any parameter on the function. "
                f"Available parameters: {available} (an input's parameter must be annotated)"
            )


def _merge_input_deps(top_level: list[DepDef], outputs: list[AssetDef]) -> dict[str, DepDef]:
    """Input deps of the whole step: top-level ones and every output's, merged by name.

    The function runs once, so an input declared twice must be declared the
    same way; a mapping must also agree with any ``AssetDef(partition_mapping=...)``
    entry for that name (each ``AssetDef`` already checked its own deps).
    """
    merged: dict[str, DepDef] = {}
    sources = [(d, None) for d in top_level] + [(d, o) for o in outputs for d in o.deps]
    for dep, _output in sources:
        if not dep.is_input:
            continue
        earlier = merged.get(dep.name)
        if earlier is not None:
            if earlier.partition_mapping != dep.partition_mapping:
                raise AssetDefinitionError(
                    f"input '{dep.name}' declares a partition mapping that conflicts with an earlier declaration"
                )
            if earlier.metadata != dep.metadata:
                raise AssetDefinitionError(f"input '{dep.name}' declares metadata that conflicts with an earlier one")
        merged[dep.name] = dep
    for dep in merged.values():
        if dep.partition_mapping is None:
            continue
        for output in outputs:
            for key, mapping in (output.partition_mapping or {}).items():
                if mapping_key_name(key) == dep.name and mapping != dep.partition_mapping:
                    raise AssetDefinitionError(
                        f"AssetDef('{output.name}').partition_mapping for '{dep.name}' conflicts with the entry "
                        "declared by AssetDef.input"
                    )
    return merged


def _check_output_partitions(outputs: list[AssetDef]) -> None:
    defs = [o.partitions_def for o in outputs if o.partitions_def is not None and not isinstance(o.partitions_def, str)]
    if len(defs) < 2:
        return
    variants = {type(d) for d in defs}
    if len(variants) > 1:
        names = sorted(v.__name__ for v in variants)
        raise ValueError(f"multi-asset outputs must share the same partition type, got {names}")
    key_sets = []
    for d in defs:
        keys = getattr(d, "get_partition_keys", None)
        if keys is None:
            return
        key_sets.append({str(k) for k in keys()})
    if not set.intersection(*key_sets):
        raise ValueError("multi-asset output partition definitions have no overlapping partition keys")
