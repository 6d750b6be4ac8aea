"""Where values are stored: layout, escaping, base_dir resolution and path_for overrides."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rivers.testing.io_handlers import StubMultiKey, StubPartition, load_value, partition, write_value

from rivers_io_fs import FilesystemIOHandler, escape_component, unescape_component
from rivers_io_fs.paths import MAX_COMPONENT, relative_parts


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_layout_of_plain_partitioned_and_graph_internal_values(handler, tmp_path):
    write_value(handler, "orders", [1])
    write_value(handler, "daily", "d1", partition("2024-01-01"))
    write_value(handler, "sales", "us", partition(StubMultiKey(date="2024-01-02", region="us")))
    write_value(handler, "graph/task", "internal")
    assert files(tmp_path / "data") == [
        "daily/2024-01-01.pkl",
        "graph%2Ftask.pkl",
        "orders.pkl",
        "sales/date=2024-01-02/region=us.pkl",
    ]


def test_extension_follows_the_format(tmp_path):
    handler = FilesystemIOHandler(base_dir=str(tmp_path), format="json")
    write_value(handler, "orders", [1, 2])
    assert (tmp_path / "orders.json").read_text() == "[1,2]"


@pytest.mark.parametrize(
    ("text", "escaped"),
    [
        ("orders", "orders"),
        ("g/t", "g%2Ft"),
        ("2024-01-01T00:00", "2024-01-01T00%3A00"),
        ("a b", "a%20b"),
        ("100%", "100%25"),
        ("x.pkl", "x%2Epkl"),
        ("..", "%2E%2E"),
        (".hidden", "%2Ehidden"),
        ("trailing.", "trailing%2E"),
        ("a\\b", "a%5Cb"),
        ("café", "caf%C3%A9"),
        ("CON", "%43ON"),
        ("nul", "%6Eul"),
        ("com1", "%63om1"),
        ("console", "console"),
        ("d=2024,r=us+eu@x", "d=2024,r=us+eu@x"),
    ],
)
def test_escaping_table(text, escaped):
    assert escape_component(text) == escaped
    assert unescape_component(escaped) == text


def test_escaped_components_never_contain_dots_slashes_or_unsafe_characters():
    samples = ["a.b.c", "../../etc/passwd", "x/y/z", "\x00\x1f\x7f", "🚀", "<>:\"|?*", " lead", "é" * 10]
    for text in samples:
        escaped = escape_component(text)
        assert set(escaped) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+,@%")
        assert unescape_component(escaped) == text


def test_long_components_are_shortened_uniquely():
    a, b = "k" * 300 + "a", "k" * 300 + "b"
    ea, eb = escape_component(a), escape_component(b)
    assert ea != eb
    assert len(ea) <= MAX_COMPONENT and len(ea.encode()) < 255
    with pytest.raises(ValueError, match="shortened"):
        unescape_component(ea)
    # a cut never splits an escape sequence: the kept part unescapes cleanly
    escaped = escape_component("é" * 200)
    kept = escaped.split("%~")[0]
    assert unescape_component(kept) == "é" * (len(kept) // 6)


def test_empty_names_and_keys_are_rejected(handler):
    with pytest.raises(ValueError, match="asset 'a': an empty partition key cannot be stored"):
        write_value(handler, "a", 1, partition(""))
    with pytest.raises(ValueError, match="asset 'a': partition key .* has an empty segment"):
        write_value(handler, "a", 1, StubPartition([_Suffix("x//y")]))
    with pytest.raises(ValueError, match="empty names"):
        write_value(handler, "", 1)


class _Suffix:
    def __init__(self, suffix):
        self.suffix = suffix

    def path_suffix(self):
        return self.suffix


def test_nothing_is_written_outside_base_dir(handler, tmp_path):
    for key in ["..", "../..", "../escape", "/etc/passwd", "..\\..\\x"]:
        write_value(handler, "..", key, partition(key))
        write_value(handler, "../escape", key, partition(key))
        assert load_value(handler, "..", partition(key)) == key
    outside = [p for p in tmp_path.rglob("*") if p.is_file() and (tmp_path / "data") not in p.parents]
    assert outside == []


def test_relative_parts():
    assert relative_parts("orders", None, ".pkl") == ["orders.pkl"]
    assert relative_parts("g/t", "a/b", ".json") == ["g%2Ft", "a%2Fb.json"]
    assert relative_parts("m", _Suffix("d=1/r=us"), "") == ["m", "d=1", "r=us"]


def test_relative_base_dir_is_fixed_when_the_handler_is_created(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    handler = FilesystemIOHandler(base_dir="data")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write_value(handler, "orders", 1)
    assert (tmp_path / "data" / "orders.pkl").is_file()
    assert not (elsewhere / "data").exists()
    assert handler.root == tmp_path / "data"
    assert handler.base_dir == "data"  # the setting stays as given


def test_home_is_expanded(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert FilesystemIOHandler(base_dir="~/rivers").root == tmp_path / "rivers"


def test_model_copy_reconfigures(tmp_path):
    handler = FilesystemIOHandler(base_dir=str(tmp_path / "a"))
    copy = handler.model_copy(update={"base_dir": str(tmp_path / "b"), "format": "json"})
    write_value(copy, "x", [1])
    assert (tmp_path / "b" / "x.json").is_file()
    assert handler.root == tmp_path / "a"


class DatedHandler(FilesystemIOHandler):
    """Custom layout: <base>/<partition>/<asset>.pkl (partition first)."""

    def path_for(self, context):
        key = "all" if context.partition is None else context.partition.key
        return self.root / key / f"{context.asset_name}.pkl"


def test_path_for_override_drives_writes_loads_and_metadata(tmp_path):
    handler = DatedHandler(base_dir=str(tmp_path))
    context = write_value(handler, "orders", "jan", partition("2024-01"))
    write_value(handler, "orders", "feb", partition("2024-02"))
    write_value(handler, "orders", "whole")
    assert files(tmp_path) == ["2024-01/orders.pkl", "2024-02/orders.pkl", "all/orders.pkl"]
    assert context.output_metadata["path"].value == str(tmp_path / "2024-01" / "orders.pkl")
    assert load_value(handler, "orders", partition("2024-02")) == "feb"
    # multi-partition loads call path_for once per key with a single-key partition
    assert load_value(handler, "orders", partition("2024-01", "2024-02")) == {"2024-01": "jan", "2024-02": "feb"}


def test_per_asset_format_from_metadata(handler, tmp_path):
    write_value(handler, "as_json", {"a": 1}, metadata={"fs/format": "json"})
    write_value(handler, "as_pickle", {"a": 1})
    assert files(tmp_path / "data") == ["as_json.json", "as_pickle.pkl"]
    assert load_value(handler, "as_json", metadata={"fs/format": "json"}) == {"a": 1}


def test_temp_files_are_hidden_and_ignored(handler, tmp_path):
    write_value(handler, "orders", "good")
    stale = tmp_path / "data" / ".orders.pkl.deadbeef-1-0.tmp"
    stale.write_bytes(b"half a pickle")
    assert load_value(handler, "orders") == "good"
    write_value(handler, "orders", "newer")
    assert load_value(handler, "orders") == "newer"
    assert os.path.exists(stale)  # never touched by other writers
