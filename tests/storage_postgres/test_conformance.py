"""The storage conformance kit (rivers.testing.storage) against the real PostgreSQL server, pooled and not."""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import pytest

from rivers.storage import Storage
from rivers.testing.storage import StorageConformance
from rivers_storage_postgres.storage import PostgresStorage
from rivers_storage_postgres.testing import TemporaryServer

from postgres_database import DATABASE

_schemas = itertools.count()


class TestPostgresStorageConformance(StorageConformance):
    pool: str = "on"

    @pytest.fixture(autouse=True)
    def _server(self, pg_server: TemporaryServer) -> None:
        self.server = pg_server

    def make_storage(self, tmp_path: Path) -> Storage:
        self.schema = f"kit{os.getpid()}_{next(_schemas)}"
        return PostgresStorage(self.server.url(DATABASE), schema=self.schema, pool=self.pool)

    def storage_url(self, storage: Storage) -> str | None:
        return self.server.url(DATABASE)

    def connect_config(self) -> dict[str, Any]:
        return {"schema": self.schema, "pool": self.pool}


class TestPostgresStorageWithoutPoolConformance(TestPostgresStorageConformance):
    """pgBouncer (transaction mode) setting: a connection per operation, no server-side prepared statements."""

    pool = "off"
    process_count = 2
    runs_per_process = 100
