"""rivers storage on a PostgreSQL server: ``rivers.Storage.connect("postgresql://user@host/db")``.

The package exports its names lazily, so loading the plugin entry point in
every rivers process does not import psycopg.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rivers_storage_postgres.settings import PostgresSettings
    from rivers_storage_postgres.storage import PostgresStorage

__all__ = ["PostgresSettings", "PostgresStorage"]

_LAZY = {
    "PostgresStorage": "rivers_storage_postgres.storage",
    "PostgresSettings": "rivers_storage_postgres.settings",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rivers_storage_postgres' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
