"""The rivers plugin: a storage backend for ``postgresql://`` and ``postgres://`` URLs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rivers.plugins import hookimpl

if TYPE_CHECKING:
    from rivers_storage_postgres.storage import PostgresStorage


def connect(url: str, **config: Any) -> PostgresStorage:
    """Open the PostgreSQL storage at ``url`` (imports psycopg only now)."""
    from rivers_storage_postgres.storage import PostgresStorage

    return PostgresStorage(url, **config)


@hookimpl
def rivers_storage_backends() -> dict[str, Callable[..., PostgresStorage]]:
    return {"postgresql": connect, "postgres": connect}
