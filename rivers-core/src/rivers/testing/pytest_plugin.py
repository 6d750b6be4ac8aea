"""pytest plugin registered by rivers-core (entry point ``pytest11``).

Provides fixtures for projects testing their assets and plugins:

* ``rivers_memory_storage`` — a fresh in-memory storage per test.
* ``rivers_embedded_storage`` — a fresh SQLite storage in the test's tmp_path.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def rivers_memory_storage() -> Any:
    """A fresh in-memory storage."""
    from rivers.testing import memory_storage

    return memory_storage()


@pytest.fixture
def rivers_embedded_storage(tmp_path: Any) -> Any:
    """A fresh SQLite storage under the test's temporary directory."""
    from rivers.testing import embedded_storage

    storage = embedded_storage(str(tmp_path / "rivers.db"))
    yield storage
    storage.close()
