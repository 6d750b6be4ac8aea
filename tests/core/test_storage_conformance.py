"""The storage conformance kit (rivers.testing.storage) run against the built-in backends."""

from __future__ import annotations

from pathlib import Path

from rivers.storage import Storage
from rivers.testing.storage import StorageConformance


class TestMemoryStorageConformance(StorageConformance):
    def make_storage(self, tmp_path: Path) -> Storage:
        return Storage.memory()


class TestSqliteStorageConformance(StorageConformance):
    def make_storage(self, tmp_path: Path) -> Storage:
        return Storage.embedded(tmp_path / "conformance.sqlite3")

    def storage_url(self, storage: Storage) -> str | None:
        return f"sqlite:///{storage.path}"  # type: ignore[attr-defined]


class TestSqliteStorageWithoutGroupCommitConformance(TestSqliteStorageConformance):
    def make_storage(self, tmp_path: Path) -> Storage:
        return Storage.embedded(tmp_path / "conformance.sqlite3", commit_delay=0)
