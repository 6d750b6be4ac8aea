"""Storage of runs, events, logs, asset records, dynamic partitions and a key-value area.

``Storage`` is the public ``rivers.Storage`` type; ``Storage.memory()`` and
``Storage.embedded(path)`` build the two backends shipped with rivers-core,
``Storage.connect(url)`` picks a backend contributed by a plugin. The backend
modules (and ``sqlite3``) are imported on first use. What a backend
implements is the storage contract, :mod:`rivers.storage.contract`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rivers.storage.base import ASYNC_METHODS, Storage
from rivers.storage.contract import CONTRACT_VERSION, Capability
from rivers.storage.records import (
    RUN_OUTCOMES,
    RUN_STATUSES,
    AssetRecord,
    LaunchedBy,
    RunRecord,
    StaleCause,
    StorageType,
    StoredEvent,
    StoredLog,
)

if TYPE_CHECKING:
    from rivers.storage.control_records import Lease, StoredBackfill, StoredTick
    from rivers.storage.partition_status import PartitionStatusRanges
    from rivers.storage.queries import AssetCatalogueEntry, EventPage, RunPage, RunQuery

__all__ = [
    "ASYNC_METHODS",
    "CONTRACT_VERSION",
    "AssetCatalogueEntry",
    "Capability",
    "EventPage",
    "Lease",
    "PartitionStatusRanges",
    "RunPage",
    "RunQuery",
    "StoredBackfill",
    "StoredTick",
    "RUN_OUTCOMES",
    "RUN_STATUSES",
    "AssetRecord",
    "LaunchedBy",
    "MemoryStorage",
    "RunRecord",
    "SqliteStorage",
    "StaleCause",
    "Storage",
    "StorageType",
    "StoredEvent",
    "StoredLog",
]

_LAZY = {
    "MemoryStorage": "rivers.storage.memory",
    "SqliteStorage": "rivers.storage.sqlite",
    "Lease": "rivers.storage.control_records",
    "StoredBackfill": "rivers.storage.control_records",
    "StoredTick": "rivers.storage.control_records",
    "PartitionStatusRanges": "rivers.storage.partition_status",
    "AssetCatalogueEntry": "rivers.storage.queries",
    "EventPage": "rivers.storage.queries",
    "RunPage": "rivers.storage.queries",
    "RunQuery": "rivers.storage.queries",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rivers.storage' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
