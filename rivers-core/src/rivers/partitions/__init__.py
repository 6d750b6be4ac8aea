"""Partitions: splitting an asset into keys.

* :class:`PartitionsDefinition` — how an asset is split (static lists, time
  windows, multi-dimensional products, dynamic keys, plugin types);
* :class:`PartitionKey` / :class:`PartitionKeyRange` — what a run targets;
* :class:`PartitionContext` — the partition(s) of one step;
* :class:`BackfillStrategy` — how a backfill groups keys into runs;
* :class:`KeyListDefinition` — the easy base class for plugin partition types;
* :class:`PartitionMapping`, :func:`validate_edge`, :func:`resolve_upstream` —
  how a downstream key reads upstream partitions (sub-package
  :mod:`rivers.partitions.mappings`).

Core's types: :mod:`~rivers.partitions.static`, :mod:`~rivers.partitions.multi`,
:mod:`~rivers.partitions.dynamic` and the time windows of
:mod:`rivers.partitions.time` (grids, cron, formats, zones).
"""

from __future__ import annotations

from rivers.partitions.base import PartitionsDefinition
from rivers.partitions import dynamic, multi, static  # noqa: F401 - core's types attach to PartitionsDefinition
from rivers.partitions.time import window  # noqa: F401 - the time-window type, too
from rivers.partitions.context import PartitionContext
from rivers.partitions.keylist import KeyListDefinition
from rivers.partitions.keys import PartitionKey, as_partition_key, parse_display
from rivers.partitions.mappings import PartitionMapping, UpstreamLoad, resolve_upstream, validate_edge
from rivers.partitions.ranges import PartitionKeyRange
from rivers.partitions.sequence import PartitionKeySequence
from rivers.partitions.strategy import BackfillStrategy

__all__ = [
    "BackfillStrategy",
    "KeyListDefinition",
    "PartitionContext",
    "PartitionKey",
    "PartitionKeyRange",
    "PartitionKeySequence",
    "PartitionMapping",
    "PartitionsDefinition",
    "UpstreamLoad",
    "as_partition_key",
    "parse_display",
    "resolve_upstream",
    "validate_edge",
]
