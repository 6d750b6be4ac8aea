"""Partitions: splitting an asset into keys.

* :class:`PartitionsDefinition` — how an asset is split (static lists, time
  windows, multi-dimensional products, dynamic keys, plugin types);
* :class:`PartitionKey` / :class:`PartitionKeyRange` — what a run targets;
* :class:`PartitionContext` — the partition(s) of one step;
* :class:`BackfillStrategy` — how a backfill groups keys into runs;
* :class:`KeyListDefinition` — the easy base class for plugin partition types;
* :class:`PartitionMapping`, :func:`validate_edge`, :func:`resolve_upstream` —
  how a downstream key reads upstream partitions.
"""

from __future__ import annotations

from rivers.partitions.base import PartitionsDefinition
from rivers.partitions import dynamic, multi, static, time_window  # noqa: F401 - core's types attach to PartitionsDefinition
from rivers.partitions.context import PartitionContext
from rivers.partitions.keylist import KeyListDefinition
from rivers.partitions.keys import PartitionKey, as_partition_key, parse_display
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
    "PartitionsDefinition",
    "as_partition_key",
    "parse_display",
]

_MAPPING_MODULES = (
    "rivers.partitions.mappings",
    "rivers.partitions.mapping_checks",
    "rivers.partitions.mapping_resolution",
)

try:  # Helper B's modules; importing rivers.partitions must not depend on them being present
    from rivers.partitions.mapping_checks import validate_edge
    from rivers.partitions.mapping_resolution import UpstreamLoad, resolve_upstream
    from rivers.partitions.mappings import PartitionMapping
except ModuleNotFoundError as exc:
    if exc.name not in _MAPPING_MODULES:
        raise
else:
    __all__ += ["PartitionMapping", "UpstreamLoad", "resolve_upstream", "validate_edge"]
