"""Partitions: splitting an asset into keys.

The foundation only knows the base class, so that asset definitions can
validate ``partitions_def=``; definitions, keys, mappings and backfills are
built on it by the partitions work.
"""

from rivers.partitions.base import PartitionsDefinition

__all__ = ["PartitionsDefinition"]
