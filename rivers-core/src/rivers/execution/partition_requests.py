"""Checking the partition key of a run request before anything runs.

``materialize(partition_key=...)``, backfills and ``load_node`` validate
their key here, against every selected partitioned asset, so that a bad key
fails before a run record exists and names the asset and how to fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable

from rivers.exceptions import ExecutionError, PartitionValidationError
from rivers.partitions.context import PartitionContext
from rivers.partitions.keys import as_partition_key

if TYPE_CHECKING:
    from rivers.graph.graph import AssetGraph
    from rivers.graph.model import Node
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import PartitionKey, PartitionKeyLike
    from rivers.storage import Storage

#: ``namespace -> its registered keys`` of the dynamic partitions (what ``validate_partition_key`` takes).
DynamicLookup = Callable[[str], "list[str]"]

__all__ = ["DynamicLookup", "check_run_key", "check_keys", "coerce_key", "distinct_definitions", "dynamic_lookup",
           "first_rejection", "invalid_key_error", "load_partition", "node_partition"]


def coerce_key(partition_key: PartitionKeyLike | None) -> PartitionKey | None:
    """A :class:`~rivers.PartitionKey` from a key, a str (single key) or a dict (multi key)."""
    if partition_key is None:
        return None
    return as_partition_key(partition_key)


def dynamic_lookup(storage: Storage) -> DynamicLookup:
    """``name -> registered keys`` of the dynamic partitions kept in ``storage`` (no warnings)."""
    return storage.dynamic_partition_keys


def check_run_key(graph: AssetGraph, names: Iterable[str], partition_key: PartitionKeyLike | None,
                  storage: Storage) -> PartitionKey | None:
    """Validate a run's key against the selected nodes; return it as a PartitionKey (or None).

    Without a key, partitioned nodes in the selection are an error. With a
    key, every member must be valid for every selected partitioned node;
    unpartitioned nodes simply run unpartitioned (upstream rivers fails them).
    """
    nodes = graph.nodes
    partitioned = [name for name in names if nodes[name].partitions_def is not None]
    if partition_key is None:
        if partitioned:
            listed = ", ".join(f'"{n}"' for n in partitioned)
            raise ExecutionError(
                f"Cannot materialize without partition_key: assets [{listed}] have partition definitions. "
                "Provide a partition_key or exclude them from selection."
            )
        return None
    key = as_partition_key(partition_key)
    if not partitioned:
        first = next(iter(names), None)
        raise PartitionValidationError(
            f"Node '{first}' is not partitioned, but a partition_key was provided: none of the selected assets "
            "is partitioned; drop partition_key or select partitioned assets"
        )
    check_keys(graph, partitioned, key.members(), dynamic_lookup(storage))
    return key


def distinct_definitions(graph: AssetGraph, names: Iterable[str]) -> list[tuple[str, PartitionsDefinition]]:
    """``(first node, definition)`` for each distinct partitions definition among ``names``."""
    found: dict[int, tuple[str, PartitionsDefinition]] = {}
    for name in names:
        definition = graph.nodes[name].partitions_def
        if definition is not None and id(definition) not in found:
            found[id(definition)] = (name, definition)
    return list(found.values())


def first_rejection(definitions: list[tuple[str, PartitionsDefinition]], key: PartitionKey,
                    dynamic: DynamicLookup) -> tuple[str, PartitionsDefinition] | None:
    """The first ``(node, definition)`` for which ``key`` is not a valid partition, or ``None``."""
    for name, definition in definitions:
        if not definition.validate_partition_key(key, dynamic_partitions=dynamic):
            return name, definition
    return None


def check_keys(graph: AssetGraph, names: Iterable[str], keys: Iterable[PartitionKey], dynamic: DynamicLookup) -> None:
    """Raise the submit-time error for the first key that is not a partition of every node in ``names``."""
    definitions = distinct_definitions(graph, names)
    for key in keys:
        rejected = first_rejection(definitions, key, dynamic)
        if rejected is not None:
            raise invalid_key_error(key, *rejected, dynamic)


def invalid_key_error(key: PartitionKey, asset: str, definition: PartitionsDefinition,
                      dynamic: DynamicLookup) -> ExecutionError:
    """The submit-time error for a key that is not a partition of ``asset``."""
    namespace = _unregistered_namespace(key, definition, dynamic)
    if namespace is not None:
        return ExecutionError(
            f"Invalid partition_key '{key}' for asset '{asset}': not a registered dynamic partition key of "
            f"namespace '{namespace}'. Register it with add_dynamic_partitions(\"{namespace}\", [...]) first."
        )
    hint = ""
    value = key.single_value() if hasattr(key, "single_value") else None
    if value is not None:
        nearest = definition.nearest_key(value)
        if nearest is not None:
            hint = f" The nearest valid key is '{nearest}'."
    return ExecutionError(
        f"Invalid partition_key '{key}' for asset '{asset}': not a member of its partition definition "
        f"({definition.describe()}).{hint}"
    )


def _unregistered_namespace(key: PartitionKey, definition: PartitionsDefinition, dynamic: DynamicLookup) -> str | None:
    """The dynamic namespace (plain, or a dimension of a multi definition) that lacks a value of ``key``."""
    for namespace, values in _dynamic_values(key, definition):
        registered = set(dynamic(namespace))
        if any(value not in registered for value in values):
            return namespace
    return None


def _dynamic_values(key: PartitionKey, definition: PartitionsDefinition) -> list[tuple[str, list[str]]]:
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import PartitionKey

    if isinstance(definition, PartitionsDefinition.Dynamic) and isinstance(key, PartitionKey.Single):
        return [(definition.name, list(key.key))]
    if isinstance(definition, PartitionsDefinition.Multi) and isinstance(key, PartitionKey.Multi):
        return [(inner.name, key.keys[dimension]) for dimension, inner in definition.dimensions
                if isinstance(inner, PartitionsDefinition.Dynamic) and dimension in key.keys]
    return []


def load_partition(node: Node, partition_key: PartitionKeyLike, storage: Storage) -> PartitionContext:
    """The PartitionContext ``load_node(name, partition_key=...)`` hands to the handler."""
    if node.partitions_def is None:
        raise PartitionValidationError(f"Node '{node.name}' is not partitioned, but a partition_key was provided")
    return node_partition(node.name, node.partitions_def, as_partition_key(partition_key).members(),
                          dynamic_lookup(storage))


def node_partition(node: str, definition: PartitionsDefinition, members: list[PartitionKey],
                   dynamic: DynamicLookup | None, *, check: bool = True) -> PartitionContext:
    """The PartitionContext of ``members`` for ``node``; with ``check``, each member must be valid."""
    if check:
        for member in members:
            if not definition.validate_partition_key(member, dynamic_partitions=dynamic):
                raise PartitionValidationError(
                    f"Partition key '{member}' is not valid for node '{node}' ({definition.describe()})"
                )
    return PartitionContext(members, definition)
