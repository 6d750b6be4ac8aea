"""The default handler: values kept in a dict inside this process."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from rivers.io_handlers.base import BaseIOHandler
from rivers.metadata import MetadataValue

if TYPE_CHECKING:
    from rivers.context import InputContext, OutputContext


def storage_key(asset_name: str, partition: Any) -> str:
    """The key a value is stored under: the asset name, plus the partition suffix."""
    if partition is None:
        return asset_name
    return f"{asset_name}/{partition_suffix(partition.key)}"


def partition_suffix(key: Any) -> str:
    """Path-like suffix of a partition key (``a``, ``a/b``, ``d=x/r=y``)."""
    suffix = getattr(key, "path_suffix", None)
    if suffix is not None:
        return suffix()
    return str(key)


_MEMORY = MetadataValue.text("memory")


class InMemoryIOHandler(BaseIOHandler):
    """Keeps every value in a dict owned by the handler instance.

    It is the repository default. Values live only as long as the handler
    (so as long as the repository object) and cannot cross processes.
    """

    def __init__(self) -> None:
        super().__init__()
        self._storage: dict[str, Any] = {}

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        self._storage[storage_key(context.asset_name, context.partition)] = obj
        context.add_output_metadata({"storage": _MEMORY, "size_bytes": MetadataValue.Int(sys.getsizeof(obj))})

    def load_input(self, context: InputContext) -> Any:
        return self._storage[storage_key(context.asset_name, context.partition)]

    def __repr__(self) -> str:
        return "InMemoryIOHandler()"
