"""Partition checks of a built graph: named definitions, raw definitions, dependency edges.

Run by ``CodeRepository.validate()`` and ``resolve()``. After
:func:`resolve_partitions` every node's ``partitions_def`` is a definition
object (registered names replaced) and every edge between partitioned and
unpartitioned nodes is known to be loadable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator, Mapping

from rivers.definitions.assets import MultiAsset
from rivers.exceptions import ConfigurationError, PartitionDefinitionError, PartitionValidationError
from rivers.graph.model import GRAPH, StepSpec

if TYPE_CHECKING:
    from rivers.graph.graph import AssetGraph
    from rivers.graph.model import Node
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.mappings.base import PartitionMapping

__all__ = ["resolve_partitions", "edge_mapping", "step_partitions_def"]


def resolve_partitions(graph: AssetGraph, registry: Mapping[str, PartitionsDefinition]) -> None:
    """Replace registered names by their definitions, re-check definitions and validate every edge."""
    checked: set[int] = set()
    for name, node in graph.nodes.items():
        definition = node.partitions_def
        if definition is None:
            continue
        if isinstance(definition, str):
            if definition not in registry:
                raise ConfigurationError(
                    f"unknown partitions definition '{definition}' referenced by '{name}'; "
                    f"registered: {sorted(registry)}"
                )
            definition = node.partitions_def = registry[definition]
        if id(definition) not in checked:
            checked.add(id(definition))
            _check_definition(definition, name)
    from rivers.partitions.mappings.checks import validate_edge

    nodes = graph.nodes
    for step in graph.steps.values():
        if not checked and not _declares_mappings(step):
            continue  # nothing is partitioned: only a declared mapping can be wrong
        downstream_def = step_partitions_def(step, nodes)
        for upstream, mapping in _edges(step):
            if upstream not in nodes:
                continue  # reported as an unresolved input by the graph builder
            upstream_def = nodes[upstream].partitions_def
            if mapping is None and downstream_def is None and upstream_def is None:
                continue
            validate_edge(mapping, downstream=step.key, downstream_def=downstream_def,
                          upstream=upstream, upstream_def=upstream_def)


def step_partitions_def(step: StepSpec, nodes: Mapping[str, Node]) -> PartitionsDefinition | None:
    """The definition a step runs under: that of the node(s) it writes."""
    if step.kind == GRAPH:
        node = nodes.get(step.key)
        return node.partitions_def if node is not None else None
    for output in step.outputs:
        definition = nodes[output].partitions_def
        if definition is not None:
            return definition
    return None


def edge_mapping(step: StepSpec, upstream: str, declared: PartitionMapping | None = None) -> PartitionMapping | None:
    """The partition mapping of the edge ``upstream -> step`` (``None``: the default).

    ``declared`` is the mapping carried by the input itself
    (``AssetDef.input(partition_mapping=...)``); otherwise the owner's
    ``partition_mapping={...}`` (asset, task or multi-asset output) is looked up.
    """
    if declared is not None:
        return declared
    owner = step.owner
    tables = [getattr(owner, "partition_mapping", None)]
    tables += [getattr(output, "partition_mapping", None) for output in getattr(owner, "output_defs", ()) or ()]
    for table in tables:
        if not table:
            continue
        from rivers.definitions.asset_def import mapping_key_name  # (only for owners that declare mappings)

        for key, mapping in table.items():
            if mapping_key_name(key) == upstream:
                return mapping
    return None


def _declares_mappings(step: StepSpec) -> bool:
    """Whether any dependency of ``step`` declares a partition mapping (on the input or its owner)."""
    # (loops, not any(): this runs once per step of every graph without partitions)
    for spec in step.inputs:
        if spec.partition_mapping is not None:
            return True
    owner = step.owner
    if getattr(owner, "partition_mapping", None):
        return True
    if isinstance(owner, MultiAsset):  # (a getattr default would raise and catch an AttributeError per step)
        for output in owner.output_defs:
            if output.partition_mapping:
                return True
    return False


def _edges(step: StepSpec) -> Iterator[tuple[str, PartitionMapping | None]]:
    """``(upstream, mapping)`` for the step's data inputs and lineage-only dependencies."""
    seen = set()
    for spec in step.inputs:
        seen.add(spec.upstream)
        yield spec.upstream, edge_mapping(step, spec.upstream, spec.partition_mapping)
    for name in step.lineage_nodes:
        if name not in seen:
            seen.add(name)
            yield name, edge_mapping(step, name)


def _check_definition(definition: object, node: str) -> None:
    """Re-run a definition's construction checks (raw variant constructors skip them)."""
    check = getattr(definition, "check", None)
    if check is None:
        raise PartitionValidationError(
            f"partitions_def of '{node}' is a {type(definition).__name__}, which does not implement the "
            "PartitionsDefinition contract (check(), get_partition_keys(), validate_partition_key(), ...)"
        )
    try:
        check()
    except PartitionDefinitionError as error:
        raise PartitionValidationError(f"invalid partitions definition of '{node}': {error}") from error
