"""Checking the partition key of a run request before anything runs.

``materialize(partition_key=...)``, backfills and ``load_node`` validate
their key here, against every selected partitioned asset, so that a bad key
fails before a run record exists and names the asset and how to fix it.
"""

from __future__ import annotations

from typing import Any, Iterable

from rivers.exceptions import ExecutionError, PartitionValidationError

__all__ = ["check_run_key", "dynamic_lookup", "load_partition", "coerce_key"]


def coerce_key(partition_key: Any) -> Any:
    """A :class:`~rivers.PartitionKey` from a key, a str (single key) or a dict (multi key)."""
    if partition_key is None:
        return None
    from rivers.partitions.keys import as_partition_key

    return as_partition_key(partition_key)


def dynamic_lookup(storage: Any) -> Any:
    """``name -> registered keys`` of the dynamic partitions kept in ``storage`` (no warnings)."""
    return lambda name: storage._dynamic_partitions(name) or []


def check_run_key(graph: Any, names: Iterable[str], partition_key: Any, storage: Any) -> Any:
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
    key = coerce_key(partition_key)
    if not partitioned:
        first = next(iter(names), None)
        raise PartitionValidationError(
            f"Node '{first}' is not partitioned, but a partition_key was provided: none of the selected assets "
            "is partitioned; drop partition_key or select partitioned assets"
        )
    members = key.members()
    dynamic = dynamic_lookup(storage)
    checked: set[int] = set()
    for name in partitioned:
        definition = nodes[name].partitions_def
        if id(definition) in checked:
            continue
        checked.add(id(definition))
        for member in members:
            if not definition.validate_partition_key(member, dynamic_partitions=dynamic):
                raise invalid_key_error(member, name, definition, dynamic)
    return key


def invalid_key_error(key: Any, asset: str, definition: Any, dynamic: Any) -> ExecutionError:
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


def _unregistered_namespace(key: Any, definition: Any, dynamic: Any) -> str | None:
    """The dynamic namespace (plain, or a dimension of a multi definition) that lacks a value of ``key``."""
    for namespace, values in _dynamic_values(key, definition):
        registered = set(dynamic(namespace))
        if any(value not in registered for value in values):
            return namespace
    return None


def _dynamic_values(key: Any, definition: Any) -> list[tuple[str, list[str]]]:
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.keys import PartitionKey

    if isinstance(definition, PartitionsDefinition.Dynamic) and isinstance(key, PartitionKey.Single):
        return [(definition.name, list(key.key))]
    if isinstance(definition, PartitionsDefinition.Multi) and isinstance(key, PartitionKey.Multi):
        return [(inner.name, key.keys[dimension]) for dimension, inner in definition.dimensions
                if isinstance(inner, PartitionsDefinition.Dynamic) and dimension in key.keys]
    return []


def load_partition(node: Any, partition_key: Any, storage: Any) -> Any:
    """The PartitionContext ``load_node(name, partition_key=...)`` hands to the handler."""
    if node.partitions_def is None:
        raise PartitionValidationError(f"Node '{node.name}' is not partitioned, but a partition_key was provided")
    from rivers.partitions.context import PartitionContext

    definition = node.partitions_def
    key = coerce_key(partition_key)
    members = key.members()
    dynamic = dynamic_lookup(storage)
    for member in members:
        if not definition.validate_partition_key(member, dynamic_partitions=dynamic):
            raise PartitionValidationError(
                f"Partition key '{member}' is not valid for node '{node.name}' ({definition.describe()})"
            )
    return PartitionContext(members, definition)
