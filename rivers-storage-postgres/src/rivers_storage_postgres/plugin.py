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


def _migrate(url: str, **config: Any) -> list[str]:
    """``rivers storage migrate`` for a PostgreSQL store: every pending migration, breaking ones included."""
    from rivers_storage_postgres.storage import PostgresStorage

    return PostgresStorage.migrate(url, **config)


connect._migrate = _migrate  # type: ignore[attr-defined]  # found by `rivers storage migrate`


@hookimpl
def rivers_storage_backends() -> dict[str, Callable[..., PostgresStorage]]:
    return {"postgresql": connect, "postgres": connect}
