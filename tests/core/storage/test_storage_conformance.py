"""The storage conformance kit (rivers.testing.storage) run against the built-in backends."""

from __future__ import annotations

from pathlib import Path

from rivers.storage import RunRecord, Storage
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


def test_the_read_api_has_async_variants() -> None:
    import asyncio

    storage = Storage.memory()
    storage._create_run(RunRecord("r", start_time=1))

    async def read() -> tuple[object, ...]:
        return (
            await storage.async_query_runs(limit=5),
            await storage.async_get_events_after(0),
            await storage.async_get_asset_catalogue(),
            await storage.async_get_topology(),
        )

    page, events, catalogue, topology = asyncio.run(read())
    assert [run.run_id for run in page.runs] == ["r"]  # type: ignore[attr-defined]
    assert events.events == [] and catalogue == [] and topology == {}  # type: ignore[attr-defined]
