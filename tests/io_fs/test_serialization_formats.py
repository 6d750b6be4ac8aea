"""The shared format registry (rivers.io_handlers.serialization) and the formats through the handler."""

from __future__ import annotations

import io
import json
import pickle
import sys

import pytest

import rivers as rs
from rivers.exceptions import ConfigurationError
from rivers.io_handlers import serialization
from rivers.io_handlers.serialization import (
    Format,
    FormatUnavailableError,
    UnknownFormatError,
    available_formats,
    get_format,
    register_format,
    unregister_format,
)
from rivers.testing.io_handlers import load_value, write_value

import rivers_io_fs.handler as handler_module
from rivers_io_fs import FilesystemIOHandler, SerializationError


def test_builtin_formats():
    assert available_formats() == ["json", "parquet", "pickle"]
    assert [(get_format(n).name, get_format(n).extension) for n in available_formats()] == [
        ("json", ".json"), ("parquet", ".parquet"), ("pickle", ".pkl")]


@pytest.mark.parametrize("name", ["pickle", "json"])
def test_stream_and_bytes_forms_agree(name):
    fmt = get_format(name)
    value = {"a": [1, 2.5, None, "ü"], "b": {"c": True}}
    buffer = io.BytesIO()
    fmt.write(value, buffer)
    assert buffer.getvalue() == fmt.dumps(value)
    assert fmt.read(io.BytesIO(buffer.getvalue())) == value
    assert fmt.loads(memoryview(buffer.getvalue())) == value


def test_pickle_uses_the_highest_protocol():
    data = get_format("pickle").dumps([1])
    assert data[:2] == bytes([0x80, pickle.HIGHEST_PROTOCOL])


def test_json_is_compact_utf8():
    assert get_format("json").dumps({"k": "é"}) == '{"k":"é"}'.encode()


def test_unknown_format():
    with pytest.raises(UnknownFormatError, match="unknown serialisation format 'pikle'.*Did you mean 'pickle'") as info:
        get_format("pikle")
    assert isinstance(info.value, ConfigurationError) and isinstance(info.value, ValueError)


def test_formats_pickle_by_name():
    assert pickle.loads(pickle.dumps(get_format("json"))) is get_format("json")


def test_registering_a_custom_format_makes_it_available_to_the_handler(tmp_path):
    upper = Format("upper", ".txt", lambda obj, f: f.write(obj.upper().encode()), lambda f: f.read().decode())
    register_format(upper)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register_format(Format("upper", ".txt", upper.write, upper.read))
        handler = FilesystemIOHandler(base_dir=str(tmp_path), format="upper")
        write_value(handler, "shout", "hello")
        assert (tmp_path / "shout.txt").read_text() == "HELLO"
        assert load_value(handler, "shout") == "HELLO"
        assert upper.loads(upper.dumps("x")) == "X"
    finally:
        unregister_format("upper")
    assert "upper" not in available_formats()


def test_format_validation():
    with pytest.raises(ValueError, match="extension"):
        Format("x", "txt", print, print)
    with pytest.raises(ValueError, match="non-empty"):
        Format("", ".x", print, print)


# ------------------------------------------------------------------- parquet
@pytest.fixture
def no_pyarrow(monkeypatch):
    """Make pyarrow unimportable for the test (installed or not)."""
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    monkeypatch.setattr(handler_module, "_available", set())


def test_parquet_without_pyarrow_names_the_extra(no_pyarrow, tmp_path):
    with pytest.raises(FormatUnavailableError) as info:
        FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    assert str(info.value) == (
        "the 'parquet' format needs pyarrow, which is not installed: pip install 'rivers-io-fs[parquet]'")
    assert isinstance(info.value, ImportError) and isinstance(info.value, ConfigurationError)
    with pytest.raises(FormatUnavailableError, match=r"rivers-io-fs\[parquet\]"):
        rs.io_handler("fs", base_dir=str(tmp_path), format="parquet")


def test_parquet_asset_without_pyarrow_names_the_asset_and_extra(no_pyarrow, tmp_path):
    handler = FilesystemIOHandler(base_dir=str(tmp_path))
    with pytest.raises(FormatUnavailableError, match=r"asset 'table': the 'parquet' format needs pyarrow.*"
                                                     r"rivers-io-fs\[parquet\]"):
        write_value(handler, "table", [1], metadata={"fs/format": "parquet"})


def test_pyarrow_disappearing_after_the_check_still_names_the_extra(no_pyarrow, monkeypatch, tmp_path):
    monkeypatch.setattr(handler_module, "_available", {"parquet"})  # checked earlier, e.g. in another environment
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    with pytest.raises(FormatUnavailableError, match=r"asset 'table': .*pip install 'rivers-io-fs\[parquet\]'"):
        write_value(handler, "table", [1])
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(FormatUnavailableError):
        serialization.get_format("parquet").dumps([1])


def test_parquet_rejects_non_tabular_values(tmp_path):
    pytest.importorskip("pyarrow")
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    with pytest.raises(SerializationError, match="'parquet' format stores pandas or polars DataFrames"):
        write_value(handler, "rows", [{"a": 1}])


def test_parquet_round_trips_arrow_tables(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    table = pa.table({"id": [1, 2, 3], "name": ["a", "b", None]})
    context = write_value(handler, "rows", table)
    loaded = load_value(handler, "rows")
    assert isinstance(loaded, pa.Table) and loaded.equals(table)
    assert pq.read_table(tmp_path / "rows.parquet").column("id").to_pylist() == [1, 2, 3]  # plain Parquet
    assert context.output_metadata["format"].value == "parquet"
    batch = table.to_batches()[0]
    write_value(handler, "batch", batch)
    assert load_value(handler, "batch").equals(table)


def test_parquet_round_trips_pandas(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}, index=pd.Index([10, 20], name="key"))
    write_value(handler, "frame", frame)
    loaded = load_value(handler, "frame")
    assert isinstance(loaded, pd.DataFrame)
    pd.testing.assert_frame_equal(loaded, frame)


def test_parquet_round_trips_polars(tmp_path):
    pl = pytest.importorskip("polars")
    pytest.importorskip("pyarrow")
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="parquet")
    frame = pl.DataFrame({"a": [1, 2], "b": ["x", None]})
    write_value(handler, "frame", frame)
    loaded = load_value(handler, "frame")
    assert isinstance(loaded, pl.DataFrame) and loaded.equals(frame)


def test_parquet_bytes_form(tmp_path):
    pa = pytest.importorskip("pyarrow")
    fmt = get_format("parquet")
    table = pa.table({"x": [1.5, 2.5]})
    assert fmt.loads(fmt.dumps(table)).equals(table)


def test_json_file_is_plain_json(tmp_path):
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="json")
    write_value(handler, "doc", {"k": [1, "é"]})
    assert json.loads((tmp_path / "doc.json").read_text(encoding="utf-8")) == {"k": [1, "é"]}
