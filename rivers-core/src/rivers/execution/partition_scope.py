"""Which partitions a step runs for, and which upstream partitions each input loads.

A run carries one partition key (``RunState.partition``: a
:class:`~rivers.PartitionKey` or ``None``). A partitioned step gets a
:class:`~rivers.PartitionContext` holding the key's members under the
step's own definition; an unpartitioned step in a partitioned run simply
runs unpartitioned. Inputs follow the edge's partition mapping.

Everything is cached per run and definition, so a run over many steps
builds one context per definition, and unpartitioned edges cost one
attribute test.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rivers.execution.partition_requests import node_partition

if TYPE_CHECKING:
    from typing import Protocol

    from rivers.execution.partition_requests import DynamicLookup
    from rivers.execution.runtime import InputLoad, StepRuntime
    from rivers.partitions.context import PartitionContext
    from rivers.partitions.keys import PartitionKey

    class RunPartitions(Protocol):
        """What partition scoping reads of a run (:class:`~rivers.execution.step_runner.RunState` is one)."""

        #: the run's key (None: an unpartitioned run)
        partition: PartitionKey | None
        #: contexts computed so far in this run, by definition id and by input
        partition_cache: dict[int | tuple[str, str, str], Any]
        #: whether the run's key was validated against every selected asset before the run
        partition_checked: bool

        def dynamic_partitions(self) -> DynamicLookup | None:
            """``name -> registered keys`` of dynamic partitions (None where storage is not reachable)."""


__all__ = ["step_partition", "input_partition", "NOT_LOADED"]

#: Returned by :func:`input_partition` when the parameter receives ``None`` without calling the handler.
NOT_LOADED: Any = object()


def step_partition(runtime: StepRuntime, run: RunPartitions) -> PartitionContext | None:
    """The :class:`PartitionContext` of ``runtime`` in ``run`` (``None``: runs unpartitioned)."""
    definition = runtime.partitions_def
    key = run.partition
    if definition is None or key is None:
        return None
    cache = run.partition_cache
    cached = cache.get(id(definition))
    if cached is not None and cached[0] is definition:
        return cached[1]
    checked = run.partition_checked
    context = node_partition(runtime.key, definition, key.members(), None if checked else run.dynamic_partitions(),
                             check=not checked)
    cache[id(definition)] = (definition, context)
    return context


def input_partition(load: InputLoad, runtime: StepRuntime, run: RunPartitions,
                    partition: PartitionContext | None) -> PartitionContext | None:
    """The partition context to load ``load`` with, ``None`` (unpartitioned), or :data:`NOT_LOADED`."""
    upstream_def = load.upstream_def
    mapping = load.mapping
    if mapping is None:
        if upstream_def is None:
            return None  # unpartitioned upstream: its one value, whatever the step's partition
        if partition is not None and upstream_def is runtime.partitions_def:
            return partition  # identity on the same definition: the step's own keys
    if partition is None and runtime.partitions_def is not None:
        return None  # a partitioned step run without a key (Job.execute()): loads unpartitioned, as upstream
    cache_key = ("input", runtime.key, load.param)
    cache = run.partition_cache
    if cache_key in cache:
        return cache[cache_key]
    from rivers.partitions.context import PartitionContext
    from rivers.partitions.mappings.resolution import resolve_upstream

    downstream_keys = None if partition is None else partition.keys
    resolved = resolve_upstream(mapping, downstream_keys, runtime.partitions_def, upstream_def,
                                dynamic_partitions=run.dynamic_partitions())
    if resolved.is_none:
        result = NOT_LOADED
    elif resolved.is_unpartitioned:
        result = None
    else:
        result = PartitionContext(resolved.keys, upstream_def)  # type: ignore[arg-type]  # a load always has keys
    cache[cache_key] = result
    return result
