"""The default handler: values kept in a dict inside this process."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.partition_keys import BATCH_SEGMENT, NOT_STORED, batch_of, load_partitions, partition_suffix
from rivers.metadata import MetadataValue

if TYPE_CHECKING:
    from rivers.context import InputContext, OutputContext


def storage_key(asset_name: str, partition_key: Any = None) -> Any:
    """The dict key of a value: the asset name, or ``(asset name, partition suffix)``.

    Partitioned values use a tuple so that node ``"a/b"`` (a graph-internal
    task) and partition ``"b"`` of asset ``"a"`` never share a slot.
    """
    if partition_key is None:
        return asset_name
    return (asset_name, partition_suffix(partition_key))


_MEMORY = MetadataValue.text("memory")


class InMemoryIOHandler(BaseIOHandler):
    """Keeps every value in a dict owned by the handler instance.

    A context with several partition keys loads ``{key: value}``; a batched
    step's one value is kept once for its batch (see
    :mod:`rivers.io_handlers.partition_keys`). It is the repository default. Values live only as long as the handler
    (so as long as the repository object) and cannot cross processes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._storage: dict[Any, Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        partition = context.partition
        name = context.asset_name
        batch = batch_of(partition)
        if batch is None:
            self._storage[storage_key(name, None if partition is None else partition.key)] = obj
        else:
            storage = self._storage
            storage[(name, BATCH_SEGMENT, batch.batch_id)] = obj
            for key in partition.keys:
                storage[storage_key(name, key)] = batch
        context.add_output_metadata({"storage": _MEMORY, "size_bytes": MetadataValue.Int(sys.getsizeof(obj))})

    def load_input(self, context: InputContext) -> Any:
        name = context.asset_name
        storage = self._storage
        if context.partition is None:
            return storage[name]
        return load_partitions(context, lambda key: storage[storage_key(name, key)],
                               lambda batch: storage.get((name, BATCH_SEGMENT, batch), NOT_STORED))

    def __repr__(self) -> str:
        return "InMemoryIOHandler()"
