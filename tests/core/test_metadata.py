"""Tests for rivers.metadata: MetadataValue, Schema, coercion and serialization."""

from __future__ import annotations

import datetime
import enum
import pickle
import subprocess
import sys

import pytest

from rivers.exceptions import InvalidMetadataError
from rivers.metadata import (
    MetadataValue,
    Schema,
    coerce_metadata,
    coerce_metadata_value,
    deserialize_metadata,
    deserialize_metadata_value,
    extract_data_version,
    serialize_metadata,
    serialize_metadata_value,
)

M = MetadataValue
DT1 = datetime.datetime(2024, 1, 1, 0, 0, 0)
DT2 = datetime.datetime(2024, 1, 31, 23, 59, 59)


def all_values() -> list[MetadataValue]:
    """One instance of every variant that does not need pyarrow."""
    return [
        M.text("héllo"),
        M.int(-3),
        M.float_(1.5),
        M.bool_(False),
        M.url("https://example.org/a"),
        M.path("/tmp/x.parquet"),
        M.json('{"a": [1, 2]}'),
        M.md("# Title"),
        M.timestamp(1_700_000_000.25),
        M.null(),
        M.bytes(2**64 - 1),
        M.duration(0.5),
        M.sql("SELECT 1", dialect="postgres"),
        M.sql("SELECT 2"),
        M.code_block("print(1)", language="python"),
        M.code_block("x"),
        M.image("data:image/png;base64,AAAA"),
        M.percentage(150.0),
        M.list_([M.int(1), M.list_([M.text("nested")]), M.null()]),
        M.date_range(DT1, DT2),
        M.data_version("v1"),
    ]


# --------------------------------------------------------------------------
# Factories and variants
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "variant", "raw"),
    [
        (M.text("x"), M.Text, "x"),
        (M.int(5), M.Int, 5),
        (M.float_(2.5), M.Float, 2.5),
        (M.bool_(True), M.Bool, True),
        (M.url("https://a.b/c"), M.Url, "https://a.b/c"),
        (M.path("/p"), M.Path, "/p"),
        (M.json('{"a":1}'), M.Json, '{"a":1}'),
        (M.md("*m*"), M.Markdown, "*m*"),
        (M.timestamp(1.5), M.Timestamp, 1.5),
        (M.null(), M.Null, None),
        (M.bytes(1024), M.Bytes, 1024),
        (M.duration(3.0), M.Duration, 3.0),
        (M.sql("SELECT 1", dialect="duckdb"), M.Sql, "SELECT 1"),
        (M.code_block("x = 1", language="python"), M.CodeBlock, "x = 1"),
        (M.image("https://img/x.png"), M.Image, "https://img/x.png"),
        (M.percentage(12.5), M.Percentage, 12.5),
        (M.date_range(DT1, DT2), M.DateRange, (DT1, DT2)),
        (M.data_version("abc"), M.DataVersion, "abc"),
    ],
)
def test_factory_variant_and_raw_value(value, variant, raw):
    assert type(value) is variant
    assert isinstance(value, MetadataValue)
    assert issubclass(variant, MetadataValue)
    assert value.raw_value() == raw
    assert type(value.raw_value()) is type(raw)


def test_variant_names():
    assert M.Int.__name__ == "Int"
    assert M.Int.__qualname__ == "MetadataValue.Int"
    assert M.Schema.__qualname__ == "MetadataValue.Schema"
    assert M.Schema is not Schema


def test_list_raw_value_and_fields():
    inner = [M.int(1), M.text("a")]
    v = M.list_(inner)
    assert v.raw_value() == inner
    assert v.values == inner
    # the value does not alias the caller's list
    inner.append(M.null())
    assert len(v.values) == 2
    v.values.append(M.null())
    assert len(v.raw_value()) == 2


def test_multi_field_attributes():
    s = M.sql("SELECT 1", dialect="postgres")
    assert (s.query, s.dialect) == ("SELECT 1", "postgres")
    assert M.sql("q").dialect is None
    c = M.code_block("c", language="rust")
    assert (c.code, c.language) == ("c", "rust")
    assert M.code_block("c").language is None
    d = M.date_range(DT1, DT2)
    assert (d.start, d.end) == (DT1, DT2)
    assert M.int(7).value == 7


def test_direct_construction():
    assert M.Int(5) == M.int(5)
    assert M.Int(value=5) == M.int(5)
    assert M.Text("a") == M.text("a")
    assert M.Float(1) == M.float_(1.0)
    assert M.Null() == M.null()
    assert M.Sql(query="q", dialect="d") == M.sql("q", dialect="d")
    assert M.CodeBlock("c") == M.code_block("c")
    assert M.List([M.int(1)]) == M.list_([M.int(1)])
    assert M.DateRange(DT1, DT2) == M.date_range(DT1, DT2)
    assert M.DataVersion("v") == M.data_version("v")
    assert M.Schema(b"\x01\x02").ipc_bytes == b"\x01\x02"
    with pytest.raises(TypeError):
        M.Int(1.5)
    with pytest.raises(TypeError):
        M.Text(3)


def test_base_class_cannot_be_instantiated():
    with pytest.raises(TypeError, match=r"^cannot create 'MetadataValue' instances$"):
        MetadataValue()


def test_fields_are_read_only():
    v = M.int(1)
    with pytest.raises(AttributeError):
        v.value = 2  # type: ignore[misc]
    with pytest.raises(AttributeError):
        v.other = 2  # type: ignore[attr-defined]
    assert v == M.int(1)


def test_pattern_matching():
    match M.sql("SELECT 1", dialect="pg"):
        case M.Sql(query, dialect):
            assert (query, dialect) == ("SELECT 1", "pg")
        case _:  # pragma: no cover
            pytest.fail("no match")
    match M.int(3):
        case M.Float(_):  # pragma: no cover
            pytest.fail("matched the wrong variant")
        case M.Int(n):
            assert n == 3


# --------------------------------------------------------------------------
# Type checks
# --------------------------------------------------------------------------


def test_text_requires_str():
    with pytest.raises(TypeError, match="str"):
        M.text(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.text(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.text(b"x")  # type: ignore[arg-type]


def test_str_subclass_is_normalised():
    class S(str):
        pass

    v = M.text(S("abc"))
    assert type(v.raw_value()) is str
    assert v == M.text("abc")


def test_int_rejects_float_and_accepts_bool():
    with pytest.raises(TypeError, match="float"):
        M.int(1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.int("1")  # type: ignore[arg-type]
    assert M.int(True) == M.int(1)
    assert type(M.int(True).raw_value()) is int
    assert M.int(False).raw_value() == 0


def test_int_range_is_signed_64_bit():
    assert M.int(2**63 - 1).raw_value() == 2**63 - 1
    assert M.int(-(2**63)).raw_value() == -(2**63)
    with pytest.raises(OverflowError):
        M.int(2**63)
    with pytest.raises(OverflowError):
        M.int(-(2**63) - 1)


def test_int_accepts_index_objects():
    class Color(enum.IntEnum):
        RED = 4

    v = M.int(Color.RED)
    assert v == M.int(4)
    assert type(v.raw_value()) is int


def test_float_accepts_ints():
    v = M.float_(3)
    assert v.raw_value() == 3.0
    assert type(v.raw_value()) is float
    with pytest.raises(TypeError):
        M.float_("1.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.float_(None)  # type: ignore[arg-type]


def test_bool_requires_bool():
    with pytest.raises(TypeError):
        M.bool_(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.bool_("true")  # type: ignore[arg-type]
    assert M.bool_(False).raw_value() is False


def test_json_must_be_a_string():
    with pytest.raises(TypeError, match="JSON string"):
        M.json({"a": 1})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.json([1])  # type: ignore[arg-type]
    assert M.json("[1, 2]").raw_value() == "[1, 2]"


def test_timestamp_rejects_datetime():
    with pytest.raises(TypeError, match="timestamp"):
        M.timestamp(datetime.datetime(2024, 1, 1))  # type: ignore[arg-type]
    assert M.timestamp(0).raw_value() == 0.0
    assert type(M.timestamp(10).raw_value()) is float


def test_duration_and_percentage_types():
    with pytest.raises(TypeError):
        M.duration(datetime.timedelta(seconds=1))  # type: ignore[arg-type]
    assert M.duration(2).raw_value() == 2.0
    assert M.percentage(-5).raw_value() == -5.0  # range not enforced
    with pytest.raises(TypeError):
        M.percentage("50%")  # type: ignore[arg-type]


def test_bytes_is_unsigned_64_bit():
    with pytest.raises(OverflowError):
        M.bytes(-1)
    with pytest.raises(OverflowError):
        M.bytes(2**64)
    with pytest.raises(TypeError):
        M.bytes(1.0)  # type: ignore[arg-type]
    assert M.bytes(0).raw_value() == 0


def test_sql_and_code_block_types():
    with pytest.raises(TypeError):
        M.sql(1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.sql("q", dialect=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.code_block(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.code_block("c", language=["py"])  # type: ignore[arg-type]


def test_list_elements_must_be_metadata_values():
    with pytest.raises(TypeError, match="MetadataValue"):
        M.list_([1, 2])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="index 1"):
        M.list_([M.int(1), "x"])  # type: ignore[list-item]
    with pytest.raises(TypeError):
        M.list_("ab")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.list_(M.int(1))  # type: ignore[arg-type]
    assert M.list_([]).raw_value() == []
    assert M.list_((M.int(1),)) == M.list_([M.int(1)])


def test_date_range_requires_naive_datetimes():
    with pytest.raises(TypeError):
        M.date_range("2024-01-01", DT2)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        M.date_range(DT1, datetime.date(2024, 1, 2))  # type: ignore[arg-type]
    aware = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    with pytest.raises(TypeError, match="naive"):
        M.date_range(aware, DT2)
    # order is not checked
    assert M.date_range(DT2, DT1).raw_value() == (DT2, DT1)


def test_string_factories_require_str():
    for factory in (M.path, M.md, M.image, M.data_version, M.url):
        with pytest.raises(TypeError):
            factory(5)  # type: ignore[arg-type]


# --------------------------------------------------------------------------
# Reprs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (M.text("héllo"), 'MetadataValue.text("héllo")'),
        (M.float_(1.0), "MetadataValue.float_(1.0)"),
        (M.float_(1), "MetadataValue.float_(1.0)"),
        (M.sql("SELECT 1", dialect="postgres"), 'MetadataValue.sql("SELECT 1", dialect="postgres")'),
        (M.sql("SELECT 1"), 'MetadataValue.sql("SELECT 1")'),
        (M.code_block("x", language="python"), 'MetadataValue.code_block("x", language="python")'),
        (M.code_block("x"), 'MetadataValue.code_block("x")'),
        (M.list_([M.int(1)]), "MetadataValue.list_([MetadataValue.int(1)])"),
        (M.list_([M.int(1), M.text("a")]), 'MetadataValue.list_([MetadataValue.int(1), MetadataValue.text("a")])'),
        (
            M.date_range(DT1, DT2),
            "MetadataValue.date_range(datetime.datetime(2024, 1, 1, 0, 0, 0), "
            "datetime.datetime(2024, 1, 31, 23, 59, 59))",
        ),
        (M.null(), "MetadataValue.null()"),
        (M.bool_(True), "MetadataValue.bool_(True)"),
        (M.bool_(False), "MetadataValue.bool_(False)"),
        (M.int(-3), "MetadataValue.int(-3)"),
        (M.bytes(10), "MetadataValue.bytes(10)"),
        (M.url("http://x"), 'MetadataValue.url("http://x/")'),
        (M.path("/a"), 'MetadataValue.path("/a")'),
        (M.json('{"a":1}'), 'MetadataValue.json("{\\"a\\":1}")'),
        (M.md("m"), 'MetadataValue.md("m")'),
        (M.timestamp(2), "MetadataValue.timestamp(2.0)"),
        (M.duration(1.5), "MetadataValue.duration(1.5)"),
        (M.percentage(50), "MetadataValue.percentage(50.0)"),
        (M.image("i"), 'MetadataValue.image("i")'),
        (M.data_version("v1"), 'MetadataValue.data_version("v1")'),
    ],
)
def test_repr(value, expected):
    assert repr(value) == expected


def test_repr_escapes_only_what_python_needs():
    assert repr(M.text('a"b')) == 'MetadataValue.text("a\\"b")'
    assert repr(M.text("a\\b")) == 'MetadataValue.text("a\\\\b")'
    assert repr(M.text("l1\nl2\t")) == 'MetadataValue.text("l1\\nl2\\t")'
    assert repr(M.text("日本語 ✓")) == 'MetadataValue.text("日本語 ✓")'


@pytest.mark.parametrize(
    "value",
    [
        M.text("héllo"),
        M.text("quotes \" and ' and \\ backslash\nnewline\x00nul\u2028"),
        M.text(""),
        M.float_(1.0),
        M.float_(-0.0),
        M.float_(0.1),
        M.float_(1e300),
        M.float_(2.5e-10),
        M.float_(float("inf")),
        M.date_range(DT1, DT2),
        M.date_range(datetime.datetime(1999, 12, 31, 1, 2, 3, 456), datetime.datetime(2000, 1, 1)),
        *all_values(),
    ],
    ids=repr,
)
def test_eval_repr_round_trip(value):
    namespace = {"datetime": datetime, "MetadataValue": MetadataValue}
    assert eval(repr(value), namespace) == value


# --------------------------------------------------------------------------
# Equality and hashing
# --------------------------------------------------------------------------


def test_equality_same_variant_same_fields():
    assert M.int(1) == M.int(1)
    assert M.int(1) != M.int(2)
    assert M.sql("q", dialect="a") != M.sql("q", dialect="b")
    assert M.sql("q") != M.sql("q", dialect="a")
    assert M.code_block("c", language="x") == M.code_block("c", language="x")
    assert M.list_([M.int(1)]) == M.list_([M.int(1)])
    assert M.list_([M.int(1)]) != M.list_([M.float_(1.0)])
    assert M.date_range(DT1, DT2) != M.date_range(DT1, DT1)
    assert M.null() == M.null()


def test_different_variants_are_never_equal():
    assert M.int(1) != M.float_(1.0)
    assert M.bool_(True) != M.int(1)
    assert M.text("a") != M.path("a")
    assert M.text("v") != M.data_version("v")
    assert M.timestamp(1.0) != M.duration(1.0)
    assert M.null() != M.text("")


def test_never_equal_to_plain_python_values():
    assert M.int(1) != 1
    assert 1 != M.int(1)  # noqa: SIM300 - reflected comparison on purpose
    assert M.text("a") != "a"
    assert M.null() != None  # noqa: E711
    assert M.bool_(True) != True  # noqa: E712
    assert M.list_([]) != []
    assert M.date_range(DT1, DT2) != (DT1, DT2)


@pytest.mark.parametrize("value", all_values(), ids=repr)
def test_not_hashable(value):
    with pytest.raises(TypeError):
        hash(value)
    with pytest.raises(TypeError):
        {value}  # noqa: B018


@pytest.mark.parametrize("value", all_values(), ids=repr)
def test_pickle_round_trip(value):
    assert pickle.loads(pickle.dumps(value)) == value


# --------------------------------------------------------------------------
# Auto-conversion
# --------------------------------------------------------------------------


def test_coerce_keeps_metadata_values():
    v = M.url("https://a.b")
    assert coerce_metadata_value(v) is v
    d = M.data_version("x")
    assert coerce_metadata_value(d) is d


def test_coerce_bool_before_int():
    assert coerce_metadata_value(True) == M.bool_(True)
    assert type(coerce_metadata_value(False)) is M.Bool
    assert coerce_metadata_value(1) == M.int(1)


def test_coerce_ints_and_big_ints():
    assert coerce_metadata_value(2**63 - 1) == M.int(2**63 - 1)
    assert coerce_metadata_value(-(2**63)) == M.int(-(2**63))
    big = coerce_metadata_value(2**63)
    assert type(big) is M.Float
    assert big.raw_value() == float(2**63)
    assert coerce_metadata_value(-(2**63) - 1) == M.float_(float(-(2**63) - 1))


def test_coerce_other_types():
    assert coerce_metadata_value(1.5) == M.float_(1.5)
    assert coerce_metadata_value("s") == M.text("s")
    assert coerce_metadata_value(None) == M.null()
    assert coerce_metadata_value(None).raw_value() is None


def test_coerce_subclasses():
    class Flag(enum.IntEnum):
        ON = 1

    class Name(str):
        pass

    assert coerce_metadata_value(Flag.ON) == M.int(1)
    text = coerce_metadata_value(Name("n"))
    assert text == M.text("n")
    assert type(text.raw_value()) is str


@pytest.mark.parametrize(
    ("value", "type_name"),
    [([1, 2], "list"), ({"a": 1}, "dict"), (b"x", "bytes"), (DT1, "datetime"), (object(), "object")],
)
def test_coerce_rejects_other_types(value, type_name):
    with pytest.raises(TypeError) as info:
        coerce_metadata_value(value)
    assert str(info.value) == (f"Cannot coerce {type_name} to MetadataValue. Use MetadataValue.text(), .int(), etc.")


def test_coerce_metadata_mapping():
    out = coerce_metadata({"n": 3, "ok": True, "name": "x", "r": 0.5, "none": None, "u": M.url("http://h")})
    assert out == {
        "n": M.int(3),
        "ok": M.bool_(True),
        "name": M.text("x"),
        "r": M.float_(0.5),
        "none": M.null(),
        "u": M.url("http://h/"),
    }
    assert list(out) == ["n", "ok", "name", "r", "none", "u"]
    assert coerce_metadata({}) == {}
    assert coerce_metadata(None) == {}


def test_coerce_metadata_keys_must_be_str():
    with pytest.raises(TypeError, match="42"):
        coerce_metadata({42: 1})
    with pytest.raises(TypeError, match=r"Cannot coerce list to MetadataValue.*'rows'"):
        coerce_metadata({"rows": [1]})


def test_coerce_metadata_returns_a_new_dict():
    src = {"a": 1}
    out = coerce_metadata(src)
    out["b"] = M.int(2)
    assert src == {"a": 1}


# --------------------------------------------------------------------------
# Serialized form
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (M.int(3), '{"Int":{"value":3}}'),
        (M.float_(1.0), '{"Float":{"value":1.0}}'),
        (M.float_(1), '{"Float":{"value":1.0}}'),
        (M.bool_(True), '{"Bool":{"value":true}}'),
        (M.bool_(False), '{"Bool":{"value":false}}'),
        (M.text("x"), '{"Text":{"value":"x"}}'),
        (M.null(), '{"Null":{}}'),
        (M.sql("s"), '{"Sql":{"query":"s","dialect":null}}'),
        (M.sql("s", dialect="pg"), '{"Sql":{"query":"s","dialect":"pg"}}'),
        (M.code_block("c"), '{"CodeBlock":{"code":"c","language":null}}'),
        (M.list_([M.int(1)]), '{"List":{"values":[{"Int":{"value":1}}]}}'),
        (
            M.date_range(datetime.datetime(2024, 1, 1), datetime.datetime(2024, 1, 2, 3, 4, 5)),
            '{"DateRange":{"start":"2024-01-01T00:00:00","end":"2024-01-02T03:04:05"}}',
        ),
        (M.json('{"a":1}'), '{"Json":{"value":"{\\"a\\":1}"}}'),
        (M.url("https://a.b"), '{"Url":{"value":"https://a.b/"}}'),
        (M.md("m"), '{"Markdown":{"value":"m"}}'),
        (M.timestamp(5), '{"Timestamp":{"value":5.0}}'),
        (M.bytes(7), '{"Bytes":{"value":7}}'),
        (M.duration(0.25), '{"Duration":{"value":0.25}}'),
        (M.percentage(99.5), '{"Percentage":{"value":99.5}}'),
        (M.image("i"), '{"Image":{"value":"i"}}'),
        (M.path("p"), '{"Path":{"value":"p"}}'),
        (M.data_version("v"), '{"DataVersion":{"value":"v"}}'),
        (M.text("é\n"), '{"Text":{"value":"é\\n"}}'),
        (M.Schema(b"\x00\x01\xff"), '{"Schema":{"ipc_bytes":[0,1,255]}}'),
    ],
)
def test_serialized_form(value, expected):
    assert serialize_metadata_value(value) == expected
    assert deserialize_metadata_value(expected) == value


@pytest.mark.parametrize("value", [*all_values(), M.Schema(b"abc")], ids=repr)
def test_serialization_round_trip(value):
    s = serialize_metadata_value(value)
    back = deserialize_metadata_value(s)
    assert back == value
    assert type(back) is type(value)
    assert serialize_metadata_value(back) == s


def test_date_range_fractional_seconds_round_trip():
    v = M.date_range(datetime.datetime(2024, 1, 1, 0, 0, 0, 500_000), datetime.datetime(2024, 1, 1, 0, 0, 0, 123))
    s = serialize_metadata_value(v)
    assert s == '{"DateRange":{"start":"2024-01-01T00:00:00.500","end":"2024-01-01T00:00:00.000123"}}'
    assert deserialize_metadata_value(s) == v


def test_serialize_coerces_plain_values():
    assert serialize_metadata_value(3) == '{"Int":{"value":3}}'
    assert serialize_metadata({"a": 1, "b": M.text("t")}) == [
        ("a", '{"Int":{"value":1}}'),
        ("b", '{"Text":{"value":"t"}}'),
    ]


def test_serialize_and_deserialize_metadata_pairs():
    md = {"rows": M.int(2), "path": M.path("/x"), "nested": M.list_([M.bool_(True)])}
    pairs = serialize_metadata(md)
    assert pairs == [
        ("rows", '{"Int":{"value":2}}'),
        ("path", '{"Path":{"value":"/x"}}'),
        ("nested", '{"List":{"values":[{"Bool":{"value":true}}]}}'),
    ]
    back = deserialize_metadata(pairs)
    assert back == md
    assert list(back) == ["rows", "path", "nested"]
    assert deserialize_metadata(dict(pairs)) == md
    assert serialize_metadata({}) == []
    assert deserialize_metadata([]) == {}


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "not json",
        "[]",
        "3",
        '{"Int":{"value":1},"Text":{"value":"x"}}',
        '{"Nope":{"value":1}}',
        '{"Int":{}}',
        '{"Int":{"value":1.5}}',
        '{"Int":5}',
        '{"Text":{"value":3}}',
        '{"Bytes":{"value":-1}}',
        '{"DateRange":{"start":"yesterday","end":"2024-01-01T00:00:00"}}',
        '{"List":{"values":[1]}}',
        '{"Int":{"value":1}} trailing',
    ],
)
def test_deserialize_rejects_garbage(bad):
    with pytest.raises(ValueError):
        deserialize_metadata_value(bad)


def test_deserialize_accepts_lenient_json():
    assert deserialize_metadata_value(' { "Int" : { "value" : 1 } } ') == M.int(1)
    assert deserialize_metadata_value('{"Float":{"value":2}}') == M.float_(2.0)
    assert deserialize_metadata_value(b'{"Text":{"value":"b"}}') == M.text("b")


# --------------------------------------------------------------------------
# URLs
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("http://x", "http://x/"),
        ("https://a.b", "https://a.b/"),
        ("https://example.org", "https://example.org/"),
        ("https://example.org/path?q=1#frag", "https://example.org/path?q=1#frag"),
        ("HTTPS://EXAMPLE.org/Path", "https://example.org/Path"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443", "https://example.com/"),
        ("http://example.com:8080", "http://example.com:8080/"),
        ("http://h/a/./b/../c", "http://h/a/c"),
        ("http://h/a b", "http://h/a%20b"),
        ("http://h/?q=a b", "http://h/?q=a%20b"),
        ("https://h/ü", "https://h/%C3%BC"),
        ("https://bücher.example/", "https://xn--bcher-kva.example/"),
        ("http://user:pw@h/", "http://user:pw@h/"),
        ("http://[::1]:8080/x", "http://[::1]:8080/x"),
        ("  http://h/x  ", "http://h/x"),
        ("s3://bucket/key/file.parquet", "s3://bucket/key/file.parquet"),
        ("s3://bucket", "s3://bucket"),
        ("postgres://u@Host:5432/db", "postgres://u@Host:5432/db"),
        ("file:///tmp/data.csv", "file:///tmp/data.csv"),
    ],
)
def test_url_canonicalisation(given, canonical):
    v = M.url(given)
    assert v.raw_value() == canonical
    # canonical form is a fixed point
    assert M.url(canonical) == v


@pytest.mark.parametrize(
    "bad",
    [
        "not a url",
        "",
        "example.org",
        "/relative/path",
        "http://",
        "https://exa mple.com",
        "mailto:a@b",
        "http://h:99999/",
        "http://h:port/",
        "://x",
        "1http://x",
    ],
)
def test_invalid_url(bad):
    with pytest.raises(InvalidMetadataError, match="Invalid URL"):
        M.url(bad)


def test_direct_url_construction_does_not_canonicalise():
    assert M.Url("http://x").raw_value() == "http://x"
    assert M.Url("http://x") != M.url("http://x")


# --------------------------------------------------------------------------
# Data version extraction
# --------------------------------------------------------------------------


def test_extract_data_version_removes_entry():
    md = {"rows": M.int(1), "dv": M.data_version("v7"), "path": M.path("/p")}
    assert extract_data_version(md) == "v7"
    assert md == {"rows": M.int(1), "path": M.path("/p")}
    assert list(md) == ["rows", "path"]


def test_extract_data_version_absent():
    md = {"rows": M.int(1), "v": M.text("not a data version")}
    assert extract_data_version(md) is None
    assert md == {"rows": M.int(1), "v": M.text("not a data version")}
    assert extract_data_version({}) is None


def test_extract_data_version_last_wins_and_all_removed():
    md = {"a": M.data_version("first"), "x": M.int(0), "b": M.data_version("second")}
    assert extract_data_version(md) == "second"
    assert md == {"x": M.int(0)}


# --------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------


class _FakeArrowSchema:
    def __arrow_c_schema__(self):  # pragma: no cover - never called without pyarrow
        raise AssertionError


def test_schema_rejects_non_schema_objects():
    with pytest.raises(TypeError, match="__arrow_c_schema__"):
        Schema(42)
    with pytest.raises(TypeError):
        M.schema("a: int64")


def test_schema_requires_pyarrow(monkeypatch):
    import rivers.metadata.schema as schema_module

    monkeypatch.setattr(schema_module, "_pa", None)
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with pytest.raises(ImportError, match=r"rivers-core\[arrow\]"):
        Schema(_FakeArrowSchema())
    with pytest.raises(ImportError, match=r"rivers-core\[arrow\]"):
        M.schema(_FakeArrowSchema())
    with pytest.raises(ImportError, match=r"rivers-core\[arrow\]"):
        M.Schema(b"x").raw_value()


def test_schema_with_pyarrow():
    pa = pytest.importorskip("pyarrow")
    arrow = pa.schema([("a", pa.int64()), ("b", pa.string())])
    s = Schema(arrow)
    assert s.names == ["a", "b"]
    assert len(s) == 2
    assert s == Schema(arrow)
    assert hash(s) == hash(Schema(arrow))
    assert s != Schema(pa.schema([("a", pa.int32())]))
    assert pa.schema(s) == arrow  # __arrow_c_schema__
    assert Schema(s) == s
    ipc = s.to_ipc()
    assert isinstance(ipc, bytes)
    assert Schema.from_ipc(ipc) == s
    assert pickle.loads(pickle.dumps(s)) == s
    with pytest.raises(ValueError):
        Schema.from_ipc(b"garbage")
    with pytest.raises(ValueError):
        Schema(pa.int64())  # exposes __arrow_c_schema__ but is not a schema


def test_schema_metadata_value_with_pyarrow():
    pa = pytest.importorskip("pyarrow")
    arrow = pa.schema([("a", pa.int64())])
    v = M.schema(arrow)
    assert type(v) is M.Schema
    assert v.ipc_bytes == Schema(arrow).to_ipc()
    assert v.raw_value() == Schema(arrow)
    assert v == M.schema(Schema(arrow))
    assert coerce_metadata_value(arrow) == v
    s = serialize_metadata_value(v)
    assert s.startswith('{"Schema":{"ipc_bytes":[')
    assert deserialize_metadata_value(s) == v
    with pytest.raises(TypeError):
        hash(v)


# --------------------------------------------------------------------------
# Import cost
# --------------------------------------------------------------------------


def test_import_does_not_load_pyarrow():
    code = "import sys, rivers.metadata; assert 'pyarrow' not in sys.modules, 'pyarrow imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
