"""Turning asset and task definitions into nodes and wired step specs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable, cast

from rivers.definitions.asset_def import DepDef
from rivers.definitions.assets import Asset, ExternalAsset, GraphAsset, MultiAsset, SingleAsset
from rivers.definitions.tasks import Task
from rivers.exceptions import AssetDefinitionError, GraphValidationError
from rivers.graph.model import ASSET, GRAPH, GRAPH_TASK, MAPPED, MULTI, OBSERVE, TASK, InputSpec, Node, StepSpec

if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Never

    from rivers.definitions.composition import Composition, Invocation, MappedInvocation
    from rivers.graph.model import HandlerSpec


_EMPTY: Mapping[str, Never] = {}


class GraphBuilder:
    """Collects nodes and steps from definitions, then wires every step's inputs."""

    def __init__(self, resource_keys: Iterable[str]) -> None:
        self.resource_keys = frozenset(resource_keys)
        self.nodes: dict[str, Node] = {}
        self.steps: dict[str, StepSpec] = {}
        self._declared: dict[str, dict[str, DepDef]] = {}  # step key -> explicit input deps
        self._bindings: dict[str, dict[str, str]] = {}  # graph-internal step key -> param -> node
        self._lineage: dict[str, list[str]] = {}  # step key -> lineage-only node names
        self._graph_internals: dict[str, tuple[tuple[str, ...], str | None]] = {}

    # ------------------------------------------------------------- collecting
    def add_asset(self, asset: Asset) -> None:
        if isinstance(asset, SingleAsset):  # the common case first
            self._add_single(asset)
            return
        if not isinstance(asset, Asset):
            raise AssetDefinitionError(
                f"CodeRepository(assets=...) takes assets created with @rs.Asset, got {type(asset).__name__}"
                + (": a Task goes in tasks=[...]" if isinstance(asset, Task) else "")
            )
        if asset.fn is None and not isinstance(asset, ExternalAsset):
            raise AssetDefinitionError(f"Asset '{asset.name}' is not bound to a function")
        if isinstance(asset, MultiAsset):
            self._add_multi(asset)
        elif isinstance(asset, GraphAsset):
            self._add_graph(asset)
        elif isinstance(asset, ExternalAsset):
            self._add_external(asset)
        else:
            self._add_single(asset)

    def _add_node(self, node: Node) -> None:
        if node.name in self.nodes:
            raise AssetDefinitionError(
                f"duplicate asset name '{node.name}': two definitions register under it; rename one of them "
                "(name=...)"
            )
        self.nodes[node.name] = node

    def _add_step(self, step: StepSpec, declared: Iterable[DepDef] = ()) -> None:
        if step.key in self.steps:
            raise AssetDefinitionError(f"duplicate asset name '{step.key}': two definitions register under it")
        self.steps[step.key] = step
        if not declared:
            return
        inputs = {}
        lineage = []
        for dep in declared:
            if dep.is_input:
                inputs[dep.name] = dep
            else:
                lineage.append(dep.name)
        self._declared[step.key] = inputs
        self._lineage[step.key] = lineage

    def _asset_node(self, asset: Asset, name: str, step_key: str, kind: str, handlers: tuple[HandlerSpec, ...],
                    metadata: dict[str, str] | None) -> Node:
        return Node(
            name=name,
            step_key=step_key,
            owner=asset,
            kind=kind,
            handler_spec=handlers,
            metadata=metadata,
            tags=asset.tags,
            kinds=asset.kinds,
            group=asset.group,
            code_version=asset.code_version,
            partitions_def=asset.partitions_def,
            pool=asset.pool,
        )

    def _add_single(self, asset: Asset) -> None:
        (name, metadata, tags, kinds, group, code_version, partitions_def, pool, handler, fn, signature, retry,
         hooks, is_async, deps) = asset.node_fields()
        self._add_node(Node(name, name, asset, ASSET, (handler,), metadata, tags, kinds, group, code_version,
                            partitions_def, pool))
        self._add_step(StepSpec(name, ASSET, asset, fn, signature, (name,), retry, hooks, metadata, is_async), deps)

    def _add_external(self, asset: ExternalAsset) -> None:
        name = asset.name
        self._add_node(self._asset_node(asset, name, name, "external", (asset.io_handler_spec,), asset.metadata))
        if asset.observe_fn is not None:
            self._add_step(StepSpec(name, OBSERVE, asset, asset.fn, asset.signature, (name,),
                                    metadata=asset.metadata, is_async=asset.is_async))

    def _add_multi(self, asset: MultiAsset) -> None:
        step_key = asset.name
        outputs = []
        for output in asset.output_defs:
            node = Node(
                name=output.name,
                step_key=step_key,
                owner=asset,
                kind=MULTI,
                handler_spec=(output.io_handler_spec, asset.io_handler_spec),
                metadata=output.metadata,
                tags=output.tags if output.tags is not None else asset.tags,
                kinds=output.kinds or asset.kinds,
                group=output.group if output.group is not None else asset.group,
                code_version=output.code_version if output.code_version is not None else asset.code_version,
                partitions_def=asset.partitions_def if asset.partitions_def is not None else output.partitions_def,
                pool=output.pool,
                lineage=tuple(d.name for d in output.deps if not d.is_input),
            )
            self._add_node(node)
            outputs.append(output.name)
        step = StepSpec(step_key, MULTI, asset, asset.fn, asset.signature, tuple(outputs), asset.retry,
                        asset.hooks, None, asset.is_async)
        if step_key in self.nodes and step_key not in outputs:
            raise AssetDefinitionError(f"duplicate asset name '{step_key}': two definitions register under it")
        lineage = [d for d in asset.deps if not d.is_input]
        lineage += [DepDef(n, is_input=False) for o in asset.output_defs for n in (d.name for d in o.deps if not d.is_input)]
        self._add_step(step, [*asset.input_deps, *lineage])

    def _add_graph(self, asset: GraphAsset) -> None:
        name = asset.name
        composition = _composition(asset)
        declared = {d.name: d for d in asset.deps if d.is_input}
        for node_name, invocation in composition.invocations.items():
            task = invocation.task
            self._add_node(Node(
                name=node_name,
                step_key=node_name,
                owner=task,
                kind=GRAPH_TASK,
                handler_spec=(asset.node_io_handler_spec, task.io_handler_spec),
                metadata=asset.metadata,
                tags=task.tags,
                kinds=(),
                group=asset.group,
                code_version=asset.code_version,
                partitions_def=asset.partitions_def if asset.partitions_def is not None else task.partitions_def,
                pool=(),
            ))
            step = StepSpec(node_name, GRAPH_TASK, task, task.fn, task.signature, (node_name,), task.retry,
                            None, asset.metadata, task.is_async)
            self._add_step(step, declared.values())
            self._bindings[node_name] = dict(invocation.bindings)
        for node_name, mapped in composition.mapped.items():
            self._add_mapped(asset, mapped, declared.values())
        self._add_node(self._asset_node(asset, name, name, GRAPH, (asset.io_handler_spec,), asset.metadata))
        step = StepSpec(name, GRAPH, asset, None, None, (name,) if asset.final_node else (), asset.retry,
                        asset.hooks, asset.metadata)
        self._add_step(step, [d for d in asset.deps if not d.is_input])
        self._graph_internals[name] = ((*composition.invocations, *composition.mapped), asset.final_node)

    def _add_mapped(self, asset: GraphAsset, mapped: MappedInvocation, declared: Iterable[DepDef]) -> None:
        """The collect step of a mapped task: its spec is the instances' template (one element as input)."""
        task = mapped.task
        name = mapped.collect_node
        self._add_node(Node(
            name=name, step_key=name, owner=task, kind=GRAPH_TASK,
            handler_spec=(asset.node_io_handler_spec, task.io_handler_spec), metadata=asset.metadata, tags=task.tags,
            kinds=(), group=asset.group, code_version=asset.code_version,
            partitions_def=asset.partitions_def if asset.partitions_def is not None else task.partitions_def,
            pool=(),
        ))
        step = StepSpec(name, MAPPED, task, task.fn, task.signature, (name,), task.retry, None, asset.metadata,
                        task.is_async)
        step.mapping = mapped
        self._add_step(step, declared)
        params = task.signature.value_names
        if not params:
            raise AssetDefinitionError(
                f"Graph '{asset.name}': task '{task.name}' is mapped but takes no input; give it one parameter "
                "for the element"
            )
        self._bindings[name] = {params[0]: mapped.source}

    def add_tasks(self, tasks: Iterable[Task], assets: Iterable[Asset]) -> None:
        """Register tasks: those used inside graph bodies are internal, others standalone."""
        registered: set[int] = set()
        for task in tasks:
            if not isinstance(task, Task):
                raise AssetDefinitionError(f"CodeRepository(tasks=...) takes rs.Task objects, got {type(task).__name__}")
            registered.add(id(task))
        used: set[int] = set()
        for asset in assets:
            if isinstance(asset, GraphAsset):
                composition = _composition(asset)
                calls: list[tuple[str, Invocation | MappedInvocation]] = [
                    *composition.invocations.items(), *((m.collect_node, m) for m in composition.mapped.values())]
                for node_name, invocation in calls:
                    used.add(id(invocation.task))
                    if id(invocation.task) not in registered:
                        raise GraphValidationError(
                            f"Asset '{asset.name}': unresolved input '{node_name}'; pass the task "
                            f"'{invocation.task.name}' to CodeRepository(tasks=[...]) too"
                        )
        for task in tasks:
            if id(task) in used:
                continue
            self._add_node(Node(task.name, task.name, task, TASK, (task.io_handler_spec,), None, task.tags, (), None,
                                None, task.partitions_def, ()))
            self._add_step(StepSpec(task.name, TASK, task, task.fn, task.signature, (task.name,), task.retry,
                                    None, None, task.is_async))

    # ----------------------------------------------------------------- wiring
    def wire(self) -> None:
        """Resolve every step's parameters to upstream nodes or resources."""
        nodes = self.nodes
        node_step = {name: node.step_key for name, node in nodes.items()}
        graph_internals = self._graph_internals
        for key, step in self.steps.items():
            upstream_steps: dict[str, None] = {}
            if step.kind == GRAPH:
                internal, final = graph_internals[key]
                for internal_key in internal:
                    upstream_steps[internal_key] = None
                if final is not None:
                    if final not in nodes:
                        raise self._unresolved(key, final)
                    step.inputs = (InputSpec("value", final),)
                    final_step = node_step[final]
                    if final_step in self.steps:
                        upstream_steps[final_step] = None
                step.upstream_steps = tuple(upstream_steps)
                continue
            inputs, resources = self._wire_parameters(step, nodes)
            step.inputs = inputs
            step.resource_params = resources
            for spec in inputs:
                upstream_key = node_step[spec.upstream]
                if upstream_key in self.steps:
                    upstream_steps[upstream_key] = None
            lineage = [*self._lineage.get(key, ())]
            if step.kind == MULTI:
                for output in step.outputs:
                    lineage.extend(nodes[output].lineage)
            for name in lineage:
                if name not in nodes:
                    raise self._unresolved(key, name)
                if node_step[name] in self.steps:
                    upstream_steps[node_step[name]] = None
            step.lineage_nodes = tuple(lineage)
            step.upstream_steps = tuple(upstream_steps)

    def _wire_parameters(self, step: StepSpec, nodes: dict[str, Node]) -> tuple[tuple[InputSpec, ...], tuple[str, ...]]:
        signature = step.signature
        if signature is None:
            return (), ()
        declared = self._declared.get(step.key, _EMPTY)
        bindings = self._bindings.get(step.key, _EMPTY)
        own = set(step.outputs) | {step.key}
        if step.kind == OBSERVE:
            return (), ()
        params = list(signature.value_names)
        step.context_injected = signature.context_name is not None
        if signature.context_by_name_only and "context" in nodes and "context" not in own:
            step.context_injected = False
            params.insert(0, "context")
        inputs = []
        resources = []
        for param in params:
            upstream = bindings.get(param)
            if upstream is None:
                if param in own:
                    raise GraphValidationError(
                        f"Asset '{step.key}': depends on itself; use SelfDependency[T] on a parameter named "
                        "`self` to read the asset's own previous value"
                    )
                if param in nodes:
                    upstream = param
                elif param in self.resource_keys:
                    resources.append(param)
                    continue
                else:
                    raise self._unresolved(step.key, param)
            dep = declared.get(upstream)
            inputs.append(InputSpec(
                param,
                upstream,
                handler_override=dep.io_handler if dep is not None else None,
                metadata_override=dep.metadata if dep is not None else None,
                partition_mapping=dep.partition_mapping if dep is not None else None,
                type_hint=signature.annotations.get(param),
            ))
        for name in declared:
            if name not in nodes:
                raise self._unresolved(step.key, name)
        return tuple(inputs), tuple(resources)

    def _unresolved(self, step_key: str, name: str) -> GraphValidationError:
        import difflib

        close = difflib.get_close_matches(name, list(self.nodes) + list(self.resource_keys), n=3)
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return GraphValidationError(
            f"Asset '{step_key}': unresolved input '{name}'{hint} "
            "(no asset, task or resource has that name: add it to the repository, fix the parameter name, "
            "or give the parameter a default value)"
        )


def _composition(asset: GraphAsset) -> Composition:
    """The recorded body of ``asset`` (set when its function is bound, which ``add_asset`` checks)."""
    return cast("Composition", asset.composition)
