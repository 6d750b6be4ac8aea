"""PickleIOHandler on a store that can only put and get: batch members hold a BatchRef instead of being deleted."""

from __future__ import annotations

import os
from pathlib import Path

import rivers as rs
from rivers.io_handlers.partition_keys import BatchRef
from rivers.testing.io_handlers import IOHandlerConformance, load_value, partition, write_value


class PutGetStore:
    """Objects as files; no delete, exists or list."""

    def __init__(self, root: str) -> None:
        self.root = root

    def _path(self, key: str) -> str:
        return os.path.join(self.root, *key.split("/"))

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as file:
            file.write(bytes(data))

    def get(self, key: str) -> bytes:
        with open(self._path(key), "rb") as file:  # FileNotFoundError when missing
            return file.read()


class TestPickleOnAPutGetStore(IOHandlerConformance):
    arbitrary_partition_keys = False  # keys are object-key segments
    cross_process = False  # the store class lives in this test module
    missing_value_error = FileNotFoundError

    def make_handler(self, tmp_path: Path) -> rs.PickleIOHandler:
        return rs.PickleIOHandler(store=PutGetStore(str(tmp_path / "objects")))


def test_members_hold_a_batch_ref_when_the_store_cannot_delete(tmp_path: Path) -> None:
    import pickle

    handler = rs.PickleIOHandler(store=PutGetStore(str(tmp_path)))
    write_value(handler, "ev", "old", partition("k1"))
    write_value(handler, "ev", [1, 2], partition("k1", "k2"))
    reference = pickle.loads((tmp_path / "ev" / "k1" / "data.pkl").read_bytes())
    assert isinstance(reference, BatchRef) and reference.size == 2
    assert load_value(handler, "ev", partition("k2", "k1")) == [1, 2]
