"""Helpers for testing code that uses rivers (and rivers plugins).

``memory_storage()`` and ``embedded_storage(path)`` give fresh stores for
fixtures; the IO-handler conformance kit lives in :mod:`rivers.testing.io_handlers`.
"""

from __future__ import annotations

from typing import Any


def memory_storage() -> Any:
    """A fresh in-memory :class:`~rivers.Storage`."""
    from rivers.storage import Storage

    return Storage.memory()


def embedded_storage(path: str) -> Any:
    """An embedded (SQLite) :class:`~rivers.Storage` at ``path``."""
    from rivers.storage import Storage

    return Storage.embedded(path)


__all__ = ["memory_storage", "embedded_storage"]
