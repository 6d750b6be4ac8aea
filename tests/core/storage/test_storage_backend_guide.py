"""The example backend of docs/plugins.md ("Writing a storage backend") works: it passes the conformance kit
and runs a repository, and a backend lacking a required capability is rejected with a clear error."""

from __future__ import annotations

import re
import types
from pathlib import Path
from typing import Any

import pytest

import rivers as rs
import rivers.plugins
from rivers.exceptions import StorageCapabilityError, StorageContractError
from rivers.storage.contract import Capability
from rivers.testing.storage import StorageConformance

_GUIDE = Path(__file__).resolve().parents[3] / "docs" / "plugins.md"


def _example_module() -> types.ModuleType:
    text = _GUIDE.read_text(encoding="utf-8")
    match = re.search(r"```python\n# src/rivers_dict_storage/__init__.py\n(.*?)```", text, re.S)
    assert match, "the storage backend example is missing from docs/plugins.md"
    module = types.ModuleType("rivers_dict_storage")
    exec(compile(match.group(1), str(_GUIDE), "exec"), module.__dict__)
    return module


_EXAMPLE = _example_module()


class TestTheGuidesDictStorage(StorageConformance):
    def make_storage(self, tmp_path: Path) -> rs.Storage:
        return _EXAMPLE.DictStorage()


def test_the_example_backend_registers_and_runs_a_repository() -> None:
    rivers.plugins.register(_EXAMPLE, name="rivers-dict-storage-example")
    try:
        storage = rs.Storage.connect("dict://")
        assert type(storage).__name__ == "DictStorage"

        @rs.Asset(code_version="1")
        def numbers() -> list[int]:
            return [1, 2]

        @rs.Asset
        def total(numbers: list[int]) -> int:
            return sum(numbers)

        repo = rs.CodeRepository(assets=[numbers, total], default_executor=rs.Executor.in_process())
        repo.resolve(storage)
        run = repo.materialize()
        assert run.success
        assert [e.event_type for e in storage.get_events_for_run(run.run_id)][:3] == [
            "StepStart", "Materialization", "StepSuccess"]
        assert {entry.asset_key: entry.staleness for entry in storage.get_asset_catalogue()} == {
            "numbers": "UpToDate", "total": "UpToDate"}
        with pytest.raises(StorageCapabilityError, match=r"DictStorage does not support 'leases'"):
            storage.acquire_lease("leader", "me")
    finally:
        rivers.plugins.unregister("rivers-dict-storage-example")


class _NoKv(_EXAMPLE.DictStorage):  # type: ignore[name-defined, misc]
    capabilities = frozenset({Capability.RUNS, Capability.EVENTS, Capability.ASSETS, Capability.DYNAMIC_PARTITIONS})


class _OldContract(_EXAMPLE.DictStorage):  # type: ignore[name-defined, misc]
    contract_version = 0


class _Undeclared(rs.Storage):
    def close(self) -> None:
        pass


class _ClaimsPools(_EXAMPLE.DictStorage):  # type: ignore[name-defined, misc]
    capabilities = _EXAMPLE.DictStorage.capabilities | {Capability.POOLS}


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (_NoKv, r"_NoKv \(scheme 'bad'\) lacks the required storage capabilities 'kv'"),
        (_OldContract, r"implements storage contract version 0, older than the version 1"),
        (_Undeclared, r"_Undeclared \(scheme 'bad'\) declares no storage contract version"),
        (_ClaimsPools, r"declares capabilities it does not implement: 'pools' \(_set_pool_limits, .*_claim_concurrency"),
    ],
)
def test_connect_rejects_a_backend_that_breaks_the_contract(backend: Any, message: str) -> None:
    class Plugin:
        @rivers.plugins.hookimpl
        def rivers_storage_backends(self) -> dict[str, Any]:
            return {"bad": lambda url, **config: backend()}

    rivers.plugins.register(Plugin(), name="bad-storage")
    try:
        with pytest.raises(StorageContractError, match=message):
            rs.Storage.connect("bad://x")
    finally:
        rivers.plugins.unregister("bad-storage")


def test_resolve_rejects_a_backend_that_breaks_the_contract() -> None:
    @rs.Asset
    def a() -> int:
        return 1

    with pytest.raises(StorageContractError, match="lacks the required storage capabilities 'kv'"):
        rs.CodeRepository(assets=[a]).resolve(_NoKv())
