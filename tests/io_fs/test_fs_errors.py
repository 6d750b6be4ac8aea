"""Every failure names the asset and the path, with a specific, catchable type."""

from __future__ import annotations

import errno
import os
import pickle

import pytest

import rivers as rs
from rivers.testing.io_handlers import load_value, partition, write_value

import rivers_io_fs.atomic as atomic_module
import rivers_io_fs.handler as handler_module
from rivers_io_fs import (
    DeserializationError,
    FilesystemAccessError,
    FilesystemIOHandler,
    FilesystemIOHandlerError,
    SerializationError,
    ValueNotFoundError,
)


# ------------------------------------------------------------------- missing
def test_missing_value_error_names_asset_partition_and_path(handler, base):
    with pytest.raises(ValueNotFoundError) as info:
        load_value(handler, "orders", partition("2024-01-01"))
    error = info.value
    path = str(base / "orders" / "2024-01-01.pkl")
    assert isinstance(error, FileNotFoundError) and isinstance(error, FilesystemIOHandlerError)
    assert (error.asset, error.partition, error.path) == ("orders", "2024-01-01", path)
    assert str(error).startswith(f"no stored value for asset 'orders' partition '2024-01-01': {path} does not exist")


def test_missing_value_error_points_at_a_value_in_another_format(base):
    FilesystemIOHandler(base_dir=str(base), format="json").handle_output(
        rs.OutputContext(asset_name="orders"), [1]
    )
    with pytest.raises(ValueNotFoundError, match=r"a value in the 'json' format exists at .*orders\.json"):
        load_value(FilesystemIOHandler(base_dir=str(base)), "orders")


def test_multi_partition_load_names_the_missing_key(handler):
    write_value(handler, "daily", 1, partition("a"))
    with pytest.raises(ValueNotFoundError, match="asset 'daily' partition 'b'") as info:
        load_value(handler, "daily", partition("a", "b"))
    assert info.value.partition == "b"


def test_errors_pickle_with_their_attributes(handler):
    with pytest.raises(ValueNotFoundError) as info:
        load_value(handler, "orders")
    copy = pickle.loads(pickle.dumps(info.value))
    assert type(copy) is ValueNotFoundError
    assert (copy.asset, copy.partition, copy.path, str(copy)) == (
        info.value.asset, None, info.value.path, str(info.value))
    access = FilesystemAccessError("m", asset="a", path="/p", errno=errno.ENOSPC)
    copy = pickle.loads(pickle.dumps(access))
    assert (copy.errno, copy.asset, str(copy)) == (errno.ENOSPC, "a", "m")


# ------------------------------------------------------------ serialisation
def test_lambda_with_pickle(handler, base):
    with pytest.raises(SerializationError) as info:
        write_value(handler, "fn", lambda x: x)
    message = str(info.value)
    assert isinstance(info.value, TypeError)
    assert "cannot write asset 'fn' to " + str(base / "fn.pkl") in message
    assert "the 'pickle' format cannot store a function" in message
    assert not list(base.iterdir())  # nothing left behind


def test_set_with_json(base):
    handler = FilesystemIOHandler(base_dir=str(base), format="json")
    with pytest.raises(SerializationError, match=r"asset 'tags' partition 'p'.*'json' format cannot store a set.*"
                                                 r"not JSON serializable"):
        write_value(handler, "tags", {"a", "b"}, partition("p"))


def test_corrupt_file_is_a_deserialization_error(handler, base):
    write_value(handler, "orders", [1, 2])
    (base / "orders.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DeserializationError) as info:
        load_value(handler, "orders")
    assert isinstance(info.value, ValueError)
    assert f"cannot read asset 'orders' from {base / 'orders.pkl'} with the 'pickle' format" in str(info.value)


def test_self_dependency_with_a_corrupt_previous_value_starts_over(handler, base):
    def counter(self: rs.SelfDependency[int]) -> int:
        previous = self.get_inner()
        return 1 if previous is None else previous + 1

    repo = rs.CodeRepository(assets=[rs.Asset(counter, io_handler=handler)])
    repo.resolve(rs.Storage.memory())
    repo.materialize()
    repo.materialize()
    assert repo.load_node("counter") == 2
    (base / "counter.pkl").write_bytes(b"\x80garbage")
    repo.materialize()  # the engine turns the DeserializationError into None
    assert repo.load_node("counter") == 1


# --------------------------------------------------------------- filesystem
def test_base_dir_is_a_file(tmp_path):
    base = tmp_path / "not-a-dir"
    base.write_text("I am a file")
    handler = FilesystemIOHandler(base_dir=str(base))
    with pytest.raises(FilesystemAccessError) as info:
        write_value(handler, "orders", [1], partition("p"))
    message = str(info.value)
    assert f"cannot write asset 'orders' partition 'p' to {base / 'orders' / 'p.pkl'}" in message
    assert f"{base} is a file, not a directory" in message
    assert info.value.errno == errno.ENOTDIR
    with pytest.raises(FilesystemAccessError, match=f"cannot read asset 'orders' from .*: {base} is a file"):
        load_value(handler, "orders")
    assert base.read_text() == "I am a file"


def permissions_enforced(directory):
    """Whether this process is refused writes to a read-only directory (root usually is not)."""
    probe = directory / "probe"
    probe.mkdir()
    os.chmod(probe, 0o500)
    try:
        (probe / "file").touch()
    except PermissionError:
        return True
    finally:
        os.chmod(probe, 0o700)
    return False


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unwritable_and_unreadable_directory(handler, base, tmp_path):
    if not permissions_enforced(tmp_path):
        pytest.skip("this user bypasses directory permissions (root); see the simulated test below")
    write_value(handler, "orders", [1])
    os.chmod(base, 0o500)
    try:
        with pytest.raises(FilesystemAccessError, match="cannot write asset 'orders'.*permission denied"):
            write_value(handler, "orders", [2])
        os.chmod(base, 0o000)
        with pytest.raises(FilesystemAccessError, match="cannot read asset 'orders'.*permission denied"):
            load_value(handler, "orders")
    finally:
        os.chmod(base, 0o700)
    assert load_value(handler, "orders") == [1]


def test_permission_denied_simulated(handler, base, monkeypatch):
    # The same as above for runs as root (which bypasses permissions).
    write_value(handler, "orders", [1])
    real_open = os.open

    def denied_os_open(path, *args, **kwargs):
        if str(path).startswith(str(base)):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def denied_open(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(os, "open", denied_os_open)
    with pytest.raises(FilesystemAccessError, match="cannot write asset 'orders' to .*: permission denied") as info:
        write_value(handler, "orders", [2])
    assert info.value.errno == errno.EACCES and isinstance(info.value, OSError)
    monkeypatch.setattr(handler_module, "open", denied_open, raising=False)
    with pytest.raises(FilesystemAccessError, match="cannot read asset 'orders' from .*: permission denied"):
        load_value(handler, "orders")
    monkeypatch.undo()
    assert load_value(handler, "orders") == [1]


def test_disk_full_on_fsync(handler, base, monkeypatch):
    write_value(handler, "orders", "previous")

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(FilesystemAccessError) as info:
        write_value(handler, "orders", "next")
    assert info.value.errno == errno.ENOSPC
    assert str(info.value) == f"cannot write asset 'orders' to {base / 'orders.pkl'}: no space left on the device"
    monkeypatch.undo()
    assert load_value(handler, "orders") == "previous"
    assert sorted(os.listdir(base)) == ["orders.pkl"]


class _FullDisk:
    """A file object that accepts ``limit`` bytes, then fails like a full disk."""

    def __init__(self, fileobj, limit):
        self._file = fileobj
        self._left = limit

    def write(self, data):
        size = memoryview(data).nbytes
        if size > self._left:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._left -= size
        return self._file.write(data)

    def __getattr__(self, name):
        return getattr(self._file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


@pytest.mark.parametrize("buffered", [False, True], ids=["unbuffered", "buffered"])
def test_disk_full_mid_write(base, monkeypatch, buffered):
    handler = FilesystemIOHandler(base_dir=str(base), fsync=False)
    write_value(handler, "orders", "previous")
    real = atomic_module._open_writer
    # the writer atomic_write hands to the format, failing once 4 kB are written
    monkeypatch.setattr(atomic_module, "_open_writer", lambda fd, _buffered: _FullDisk(real(fd, buffered), 4096))
    with pytest.raises(FilesystemAccessError, match="no space left on the device") as info:
        write_value(handler, "orders", os.urandom(100_000))
    assert info.value.errno == errno.ENOSPC and isinstance(info.value.__cause__, OSError)
    monkeypatch.undo()
    assert load_value(handler, "orders") == "previous"
    assert sorted(os.listdir(base)) == ["orders.pkl"]


def test_value_path_taken_by_a_directory(handler, base):
    (base / "orders.pkl").mkdir(parents=True)
    with pytest.raises(FilesystemAccessError, match=r"orders\.pkl is a directory"):
        write_value(handler, "orders", 1)


# ------------------------------------------------------------------ settings
@pytest.mark.parametrize(
    ("settings", "error", "match"),
    [
        ({"format": "yaml"}, ValueError, "unknown serialisation format 'yaml'; available formats: json, parquet, pickle"),
        ({"format": "jsn"}, ValueError, "Did you mean 'json'"),
        ({"fsync": "yes"}, TypeError, "fsync must be true or false"),
        ({"base_dir": ""}, ValueError, "base_dir must not be empty"),
        ({"base_dir": 3}, TypeError, "base_dir must be a str or path"),
        ({"format": None}, TypeError, "format must be a format name"),
    ],
)
def test_invalid_settings(settings, error, match):
    with pytest.raises(error, match=match):
        FilesystemIOHandler(**settings)
