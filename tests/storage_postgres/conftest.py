"""A real PostgreSQL 15 server for the whole session, and a fresh schema for every test.

The server is initdb'ed into a temporary directory and listens on
127.0.0.1 on a free port (as the ``postgres`` system user when the tests
run as root: the server refuses to run as root). Each test gets its own
schema in one database, which is far cheaper than a database per test.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest

from rivers_storage_postgres.storage import PostgresStorage
from rivers_storage_postgres.testing import FAST_SETTINGS, TemporaryServer

from postgres_database import DATABASE
_schemas = itertools.count()


@pytest.fixture(scope="session")
def pg_server() -> Iterator[TemporaryServer]:
    server = TemporaryServer(FAST_SETTINGS)
    server.start()
    try:
        server.create_database(DATABASE)
        yield server
    finally:
        server.remove()


@pytest.fixture
def pg_url(pg_server: TemporaryServer) -> str:
    """The URL of the test database (superuser credentials)."""
    return pg_server.url(DATABASE)


@pytest.fixture
def pg_schema() -> str:
    """A schema name no other test uses."""
    return f"t{os.getpid()}_{next(_schemas)}"


@pytest.fixture
def pg_storage(pg_url: str, pg_schema: str) -> Iterator[PostgresStorage]:
    """A PostgreSQL storage in a fresh schema of the session's server."""
    storage = PostgresStorage(pg_url, schema=pg_schema)
    yield storage
    storage.close()
