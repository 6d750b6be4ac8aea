"""Persisting the condition engine's state: compact entries, one transaction, states of an earlier format."""

from __future__ import annotations

import json

import rivers as rs
from rivers.automation.condition_store import ConditionStore
from rivers.storage.sqlite import SqliteStorage

from condition_support import T0, A, Daemonless, daily_chain

PREFIX = "rivers/automation/conditions/"


class CountingStorage(SqliteStorage):
    """The embedded SQLite storage, counting kv writes by method."""

    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.single_writes: list[str] = []
        self.batches: list[list[str]] = []

    def _kv_put(self, key: str, value: bytes) -> None:
        self.single_writes.append(key)
        super()._kv_put(key, value)

    def _kv_put_many(self, items):
        self.batches.append([key for key, _ in items])
        super()._kv_put_many(items)


def _chain_on(tmp_path, storage):
    fs = rs.io_handler("fs", base_dir=str(tmp_path / "data"))
    assets = []
    for index in range(40):  # enough assets to spread over many shards
        deps = [rs.AssetDef.dep(f"a{index - 1}")] if index else []
        assets.append(rs.Asset(lambda: 1, name=f"a{index}", deps=deps, io_handler=fs,
                               automation_condition=A.eager()))
    repo = rs.CodeRepository(assets=assets)
    repo.resolve(storage)
    return repo


def test_a_tick_saves_states_and_cursor_in_one_transaction(tmp_path):
    storage = CountingStorage(str(tmp_path / "store.db"))
    repo = _chain_on(tmp_path, storage)
    daemon = Daemonless(repo)
    storage.single_writes.clear()
    daemon.tick(T0)
    assert storage.single_writes == []
    assert len(storage.batches) == 1
    written = storage.batches[0]
    assert PREFIX + "meta" in written
    assert len([key for key in written if key != PREFIX + "meta"]) > 10  # 40 assets over many shards, one commit
    restarted = Daemonless(repo)
    assert set(restarted.engine.states) == {f"a{index}" for index in range(40)}


def test_saved_states_name_their_tree_by_a_fingerprint(tmp_path):
    repo = daily_chain(tmp_path)
    daemon = Daemonless(repo)
    daemon.tick(T0)
    raw = b"".join(repo.storage.kv_get(f"{PREFIX}{shard}") or b"" for shard in range(64))
    assert b"clean" in raw
    assert b"since_last_handled" not in raw and b"any_deps_missing" not in raw  # not the whole description


def test_a_state_saved_in_the_earlier_dict_format_is_adopted(tmp_path):
    repo = daily_chain(tmp_path)
    first = Daemonless(repo)
    first.tick(T0)
    repo.materialize(["raw"], partition_key="2024-01-04")
    assert first.tick(T0 + 1) == {"clean": ["2024-01-04"]}
    # rewrite every saved state as the previous version did: a dict carrying the tree's description
    for shard in range(64):
        key = f"{PREFIX}{shard}"
        value = repo.storage.kv_get(key)
        if not value:
            continue
        old = {}
        for name, (_, size, nodes, values, requested, evaluated_at, settled) in json.loads(value).items():
            old[name] = {"d": A.eager().description, "n": size, "s": nodes, "v": values, "r": requested,
                         "t": evaluated_at, "ok": settled}
        repo.storage.kv_set(key, json.dumps(old).encode())
    restarted = Daemonless(repo)
    assert restarted.tick(T0 + 2) == {}  # since_last_handled remembered: not requested twice
    assert ConditionStore(repo.storage).state_of("clean") is not None
    repo.materialize(["raw"], partition_key="2024-01-06")
    assert restarted.tick(T0 + 3) == {"clean": ["2024-01-06"]}
