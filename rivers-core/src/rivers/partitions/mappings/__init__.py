"""Partition mappings: which upstream partitions a downstream partition reads.

* :mod:`~rivers.partitions.mappings.base` — :class:`PartitionMapping` and its variants;
* :mod:`~rivers.partitions.mappings.checks` — whether a mapping fits an edge (:func:`validate_edge`);
* :mod:`~rivers.partitions.mappings.defaults` — the mapping an edge gets when it names none;
* :mod:`~rivers.partitions.mappings.resolution` — what a key loads at run time (:func:`resolve_upstream`).
"""

from __future__ import annotations

from rivers.partitions.mappings.base import MAX_TIME_WINDOW_OFFSET, PartitionMapping
from rivers.partitions.mappings.checks import validate_edge
from rivers.partitions.mappings.resolution import UpstreamLoad, resolve_upstream

__all__ = ["MAX_TIME_WINDOW_OFFSET", "PartitionMapping", "UpstreamLoad", "resolve_upstream", "validate_edge"]
