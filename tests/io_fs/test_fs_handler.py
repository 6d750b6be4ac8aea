"""FilesystemIOHandler behaviour: metadata, partitions, fsync, process safety."""

from __future__ import annotations

import os
import pickle

import pytest

import rivers as rs
from rivers.metadata import MetadataValue
from rivers.testing.io_handlers import StubMultiKey, load_value, partition, write_value

import rivers_io_fs.atomic as atomic_module
import rivers_io_fs.handler as handler_module
from rivers_io_fs import FilesystemAccessError, FilesystemIOHandler


def test_output_metadata_describes_the_file(handler, base):
    context = write_value(handler, "orders", list(range(1000)), partition("2024-01-01"))
    metadata = context.output_metadata
    path = base / "orders" / "2024-01-01.pkl"
    assert list(metadata) == ["path", "size_bytes", "format", "write_duration_s"]
    assert metadata["path"] == MetadataValue.path(str(path))
    assert metadata["size_bytes"] == MetadataValue.int(path.stat().st_size)
    assert metadata["format"] == MetadataValue.text("pickle")
    duration = metadata["write_duration_s"]
    assert isinstance(duration, MetadataValue.Float) and 0 <= duration.value < 10


def test_metadata_reaches_the_materialization_event(handler, base):
    def orders() -> list:
        return [1, 2, 3]

    repo = rs.CodeRepository(assets=[rs.Asset(orders, io_handler=handler)])
    repo.resolve(rs.Storage.memory())
    assert repo.materialize().success
    recorded = dict(repo.storage.get_latest_materialization("orders").metadata)
    assert str(base / "orders.pkl") in recorded["path"]
    assert recorded["format"] == '{"Text":{"value":"pickle"}}'


def test_multi_partition_load_returns_a_dict_keyed_by_partition_key(handler):
    keys = [StubMultiKey(date="2024-01-01", region="eu"), StubMultiKey(date="2024-01-01", region="us")]
    for key in keys:
        write_value(handler, "sales", key.dims, partition(key))
    assert load_value(handler, "sales", partition(*keys)) == {key: key.dims for key in keys}
    # a single key still loads the bare value
    assert load_value(handler, "sales", partition(keys[1])) == keys[1].dims


def test_a_batched_write_stores_one_value_and_its_manifest(handler, base):
    # (it went to the first key only before batch values were defined)
    from rivers.io_handlers.partition_keys import batch_id

    keys = ["2024-01-01", "2024-01-02"]
    write_value(handler, "daily", "alone", partition(keys[0]))
    write_value(handler, "daily", "batch", partition(*keys))
    assert os.listdir(base / "daily") == ["__batch__"]  # the key's own value went: the batch replaces it
    ident = batch_id(keys)
    assert sorted(os.listdir(base / "daily" / "__batch__")) == [f"{ident}.keys", f"{ident}.pkl"]
    assert load_value(handler, "daily", partition(*keys)) == "batch"


@pytest.mark.parametrize(("fsync", "expected_calls"), [(True, 2), (False, 0)])
def test_fsync_setting(base, monkeypatch, fsync, expected_calls):
    calls = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (calls.append(fd), real(fd)))
    handler = FilesystemIOHandler(base_dir=str(base), fsync=fsync)
    write_value(handler, "orders", [1])
    assert len(calls) == expected_calls  # the file, then its directory
    assert load_value(handler, "orders") == [1]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_no_file_descriptors_are_left_open(handler):
    def open_fds():
        return len(os.listdir("/proc/self/fd"))

    write_value(handler, "warmup", 0)
    before = open_fds()
    for i in range(50):
        write_value(handler, "orders", i, partition(str(i % 5)))
        load_value(handler, "orders", partition(str(i % 5)))
        with pytest.raises(FileNotFoundError):
            load_value(handler, "missing")
        with pytest.raises(TypeError):
            write_value(handler, "bad", lambda: None)
    assert open_fds() == before


def test_handler_pickles_to_its_settings(handler, base):
    write_value(handler, "orders", [1])
    data = pickle.dumps(handler)
    assert len(data) < 600
    copy = pickle.loads(data)
    assert copy.settings() == handler.settings() and copy.root == handler.root
    assert load_value(copy, "orders") == [1]


def test_parallel_temp_names_are_unique_after_fork(tmp_path):
    if not hasattr(os, "fork"):
        pytest.skip("needs fork")
    parent_token = atomic_module._token
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: report the token it would use
        os.write(write, atomic_module._token.encode())
        os._exit(0)
    os.close(write)
    child_token = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child_token and child_token != parent_token


def test_values_written_by_one_repository_are_read_by_another(base):
    def orders() -> list:
        return [1, 2]

    def revenue(orders: list) -> int:
        return sum(orders)

    first = rs.CodeRepository(assets=[rs.Asset(orders, io_handler=FilesystemIOHandler(base_dir=str(base)))])
    first.resolve(rs.Storage.memory())
    assert first.materialize().success

    handler = FilesystemIOHandler(base_dir=str(base))
    second = rs.CodeRepository(
        assets=[rs.Asset(orders, io_handler=handler), rs.Asset(revenue, io_handler=handler)]
    )
    second.resolve(rs.Storage.memory())
    assert second.materialize(selection="revenue").success  # orders is loaded from disk, not recomputed
    assert second.load_node("revenue") == 3


def test_threads_writing_the_same_asset(handler, base):
    import threading

    values = [{"thread": i, "body": str(i) * 50_000} for i in range(8)]
    errors = []

    def work(value):
        try:
            for _ in range(20):
                write_value(handler, "shared", value)
                assert load_value(handler, "shared") in values
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(value,)) for value in values]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert load_value(handler, "shared") in values
    assert os.listdir(base) == ["shared.pkl"]  # no temporary file left behind


# ----------------------------------------------------------------- read path
def _pickled_bytes_of_file_size(size):
    """A bytes value whose pickle file is exactly ``size`` bytes."""
    for length in range(size - 40, size):  # the header's length depends on the value's
        if len(pickle.dumps(b"x" * length, protocol=pickle.HIGHEST_PROTOCOL)) == size:
            return os.urandom(length)
    raise AssertionError(f"no bytes value pickles to {size} bytes")


@pytest.mark.parametrize("delta", [-1, 0, 1, 100_000])
def test_values_round_trip_around_the_whole_read_limit(handler, base, delta):
    # small files are read in one os.read and decoded with loads, larger ones streamed
    size = handler_module.WHOLE_READ_LIMIT + delta
    value = _pickled_bytes_of_file_size(size)
    write_value(handler, "value", value)
    assert (base / "value.pkl").stat().st_size == size
    assert load_value(handler, "value") == value


@pytest.mark.parametrize("fmt", ["pickle", "json"])
def test_a_file_that_grew_after_its_size_was_taken_is_read_whole(base, monkeypatch, fmt):
    # the file changed size between taking its size and reading it (another
    # writer rewriting it in place): the read must not be cut short
    handler = FilesystemIOHandler(base_dir=str(base), format=fmt)
    value = {"numbers": list(range(2000))}
    write_value(handler, "value", value)
    real_lseek = os.lseek

    def stale_size(fd, position, how):
        offset = real_lseek(fd, position, how)
        return offset - 10 if how == os.SEEK_END else offset

    monkeypatch.setattr(os, "lseek", stale_size)
    assert load_value(handler, "value") == value


def test_reading_a_directory_is_an_access_error(handler, base):
    (base / "orders.pkl").mkdir(parents=True)
    with pytest.raises(FilesystemAccessError, match=r"cannot read asset 'orders' from .*orders\.pkl is a directory"):
        load_value(handler, "orders")
