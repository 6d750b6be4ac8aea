"""rivers.io_handlers.pickle.PickleIOHandler (spec/io.md §3) with rivers_io_fs.LocalStore."""

from __future__ import annotations

import pickle

import pytest

import rivers as rs
from rivers.io_handlers.pickle import PickleIOHandler, object_key
from rivers.metadata import MetadataValue
from rivers.testing.io_handlers import StubMultiKey, load_value, partition, write_value

from rivers_io_fs import LocalStore, ObjectNotFoundError


@pytest.fixture
def root(tmp_path):
    return tmp_path / "objects"


def test_object_keys_follow_the_spec(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="v1")
    write_value(handler, "numbers", [1, 2, 3])
    write_value(handler, "daily", "d", partition("2024-01-01"))
    write_value(handler, "sales", "s", partition(StubMultiKey(d="2024-01-02", r="us")))
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())
    assert files == ["v1/daily/2024-01-01/data.pkl", "v1/numbers.pkl", "v1/sales/d=2024-01-02/r=us/data.pkl"]
    with open(root / "v1" / "numbers.pkl", "rb") as f:
        assert pickle.load(f) == [1, 2, 3]
    assert load_value(handler, "daily", partition("2024-01-01")) == "d"


def test_without_prefix(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)))
    write_value(handler, "numbers", 1)
    assert (root / "numbers.pkl").is_file()
    assert object_key("a", None) == "a.pkl" and object_key("a", partition("p"), "x") == "x/a/p/data.pkl"


def test_prefix_slashes_are_normalised(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="/v1/")
    assert handler.prefix == "v1"
    write_value(handler, "n", 1)
    assert (root / "v1" / "n.pkl").is_file()


def test_output_metadata_matches_the_spec(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="v1")
    metadata = write_value(handler, "numbers", [1, 2, 3]).output_metadata
    assert list(metadata) == ["path", "serializer", "size_bytes", "write_duration_s"]
    assert metadata["path"] == MetadataValue.path("v1/numbers.pkl")
    assert metadata["serializer"] == MetadataValue.text("pickle")
    assert metadata["size_bytes"].value == (root / "v1" / "numbers.pkl").stat().st_size
    duration = metadata["write_duration_s"].value
    assert isinstance(duration, float) and duration == round(duration, 6) and duration >= 0


def test_missing_value_raises_file_not_found(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="v1")
    with pytest.raises(FileNotFoundError, match="no object 'v1/nothing.pkl'") as info:
        load_value(handler, "nothing")
    assert isinstance(info.value, ObjectNotFoundError) and info.value.key == "v1/nothing.pkl"


def test_repr_and_pickling(root):
    handler = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="v1")
    assert repr(handler) == f"PickleIOHandler(store=LocalStore(prefix={str(root)!r}), prefix='v1')"
    write_value(handler, "n", 5)
    copy = pickle.loads(pickle.dumps(handler))
    assert copy.store == handler.store and load_value(copy, "n") == 5


def test_in_a_repository(root):
    store = PickleIOHandler(store=LocalStore(prefix=str(root)), prefix="v1")

    def numbers() -> list:
        return [1, 2, 3]

    def total(numbers: list) -> int:
        return sum(numbers)

    repo = rs.CodeRepository(assets=[rs.Asset(numbers, io_handler=store), rs.Asset(total)])
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().success
    assert repo.io_handler_for_output("numbers") is store
    assert (root / "v1" / "numbers.pkl").is_file()
    assert repo.load_node("total") == 6


def test_rejects_objects_that_are_not_stores():
    with pytest.raises(TypeError, match="store must be an object store with put"):
        PickleIOHandler(store="/tmp/somewhere")
    with pytest.raises(TypeError, match="requires the setting 'store'"):
        PickleIOHandler()


class GetResult:
    """Like obstore's GetResult: the payload comes from .bytes()."""

    def __init__(self, data):
        self._data = data

    def bytes(self):
        return memoryview(self._data)


class DictStore:
    def __init__(self):
        self.objects = {}

    def put(self, key, data):
        self.objects[key] = bytes(data)

    def get(self, key):
        return GetResult(self.objects[key])


def test_any_put_get_store_works_including_get_results_with_bytes():
    store = DictStore()
    handler = PickleIOHandler(store=store, prefix="p")
    write_value(handler, "n", {"x": 1})
    assert list(store.objects) == ["p/n.pkl"]
    assert load_value(handler, "n") == {"x": 1}
    with pytest.raises(KeyError):
        load_value(handler, "missing")


# --------------------------------------------------------------- LocalStore
def test_local_store_round_trip_and_keys(root):
    store = LocalStore(prefix=str(root))
    store.put("a/b/c.bin", b"\x00\x01")
    store.put("a/b/c.bin", bytearray(b"\x02"))
    assert store.get("a/b/c.bin") == b"\x02"
    assert store.exists("a/b/c.bin") and not store.exists("a/b")
    assert store.path_of("a/b/c.bin") == root / "a" / "b" / "c.bin"
    store.delete("a/b/c.bin")
    store.delete("a/b/c.bin")
    assert not store.exists("a/b/c.bin")


@pytest.mark.parametrize("key", ["", "/abs", "a//b", "../up", "a/./b", "a\\b", "nul\0"])
def test_local_store_rejects_unsafe_keys(root, key):
    with pytest.raises(ValueError, match="key"):
        LocalStore(prefix=str(root)).put(key, b"x")


def test_local_store_relative_prefix_is_fixed_at_creation(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    store = LocalStore(prefix="objects")
    assert store.prefix == str(tmp_path / "objects")
    assert LocalStore(prefix="objects") == store and hash(LocalStore(prefix="objects")) == hash(store)
