"""The behaviour tests every built-in storage passes (tests/core), run against the PostgreSQL storage.

The tests taking a ``storage`` fixture in ``tests/core/storage/test_storage.py`` and
``tests/core/execution/test_pools.py`` are collected here too, with ``storage`` bound
to a fresh schema of the session's server: the PostgreSQL backend is held
to exactly the same behaviour as the memory and SQLite backends.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rivers_storage_postgres.storage import PostgresStorage

_CORE_TESTS = Path(__file__).resolve().parents[1] / "core"
for _folder in (_CORE_TESTS, _CORE_TESTS / "storage", _CORE_TESTS / "execution"):  # support.py; the two modules
    sys.path.insert(0, str(_folder))

import test_pools as _pools  # noqa: E402
import test_storage as _storage  # noqa: E402


def _takes_storage(function: object) -> bool:
    return callable(function) and "storage" in inspect.signature(function).parameters  # type: ignore[arg-type]


for _module in (_storage, _pools):
    for _name, _function in vars(_module).items():
        if _name.startswith("test_") and _takes_storage(_function):
            globals()[f"{_name}_on_{_module.__name__.removeprefix('test_')}"] = _function
del _module, _name, _function

_env = _pools._env  # the pool tests' autouse settings (claim polling)


@pytest.fixture
def storage(pg_storage: PostgresStorage) -> Iterator[PostgresStorage]:
    yield pg_storage
