"""Base class of every partitions definition."""

from __future__ import annotations


class PartitionsDefinition:
    """How an asset is split into partition keys (static, time windows, ...).

    Concrete definitions subclass it; plugins contribute new types through
    the ``rivers_partition_types`` hook.
    """

    __slots__ = ()
