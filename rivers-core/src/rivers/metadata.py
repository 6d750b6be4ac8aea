"""Typed metadata values attached to materializations and observations.

:class:`MetadataValue` is a tagged union: the base class cannot be
instantiated, values are built through static factories
(``MetadataValue.int(3)``, ``MetadataValue.url("https://example.org")``) and
every result is an instance of a nested variant class (``MetadataValue.Int``,
``MetadataValue.Url``, ...) that can be used with ``isinstance`` and pattern
matching.

The module also holds the helpers the engine uses on every step:
auto-conversion of plain Python values (:func:`coerce_metadata`), the compact
JSON form stored in ``StoredEvent.metadata`` (:func:`serialize_metadata`,
:func:`deserialize_metadata`) and data-version extraction
(:func:`extract_data_version`). These are on the hot path, so the variants are
plain slotted classes and conversion dispatches on ``type(value)`` first.

The module is cheap to import: ``pyarrow`` (for :class:`Schema`) and
``urllib.parse`` (for URL canonicalisation) are imported on first use.
"""

from __future__ import annotations

import builtins as _builtins
import datetime as _dt
import json as _json
from json.encoder import encode_basestring as _encode_str

from rivers.exceptions import InvalidMetadataError

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Iterable, Mapping
    from typing import Any, ClassVar

__all__ = [
    "SCHEMA_METADATA_KEY",
    "MetadataValue",
    "Schema",
    "coerce_metadata",
    "coerce_metadata_value",
    "deserialize_metadata",
    "deserialize_metadata_value",
    "extract_data_version",
    "serialize_metadata",
    "serialize_metadata_value",
]

#: Static metadata key reserved for an asset's Arrow schema.
SCHEMA_METADATA_KEY = "rivers/schema"

_I64_MIN = -(2**63)
_I64_MAX = 2**63 - 1
_U64_MAX = 2**64 - 1

_object_new = object.__new__


# --------------------------------------------------------------------------
# Small helpers: repr and JSON formatting, field validation
# --------------------------------------------------------------------------

_REPR_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _quote(s: str) -> str:
    """Double-quoted, Python-evaluable string literal without ASCII escaping."""
    if s.isprintable() and '"' not in s and "\\" not in s:
        return f'"{s}"'
    parts = []
    for ch in s:
        esc = _REPR_ESCAPES.get(ch)
        if esc is not None:
            parts.append(esc)
        elif ch.isprintable():
            parts.append(ch)
        else:
            # Python's own escape (\x00, \u2028, \ud800, ...).
            parts.append(repr(ch)[1:-1])
    return '"' + "".join(parts) + '"'


def _float_repr(v: float) -> str:
    """Python-evaluable float literal that always reads as a float."""
    if v != v:
        return 'float("nan")'
    if v in (float("inf"), float("-inf")):
        return 'float("inf")' if v > 0 else 'float("-inf")'
    r = repr(v)
    if "." not in r and "e" not in r:  # pragma: no cover - repr(float) always has one
        r += ".0"
    return r


_float_to_json = float.__repr__


def _float_json(v: float) -> str:
    """JSON number for a float (keeps ``.0``); non-finite values as Python's json does."""
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "Infinity"
    if v == float("-inf"):
        return "-Infinity"
    return _float_to_json(v)


def _opt_str_json(v: str | None) -> str:
    return "null" if v is None else _encode_str(v)


def _datetime_repr(d: _dt.datetime) -> str:
    args = f"{d.year}, {d.month}, {d.day}, {d.hour}, {d.minute}, {d.second}"
    if d.microsecond:
        args += f", {d.microsecond}"
    return f"datetime.datetime({args})"


def _datetime_json(d: _dt.datetime) -> str:
    """ISO 8601 without offset; fractional seconds use 3, 6 digits as needed."""
    base = d.strftime("%Y-%m-%dT%H:%M:%S") if d.year >= 1000 else d.isoformat(timespec="seconds")
    us = d.microsecond
    if not us:
        return base
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}"
    return f"{base}.{us:06d}"


def _tname(value: object) -> str:
    return type(value).__name__


def _check_str(value: object, where: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{where} expects a str, got {_tname(value)}")


def _check_opt_str(value: object, where: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{where} expects a str or None, got {_tname(value)}")


def _check_int(value: object, where: str, lo: int, hi: int) -> int:
    if type(value) is int:
        v = value
    elif isinstance(value, float):
        raise TypeError(f"{where} expects an int, got float ({value!r}); use MetadataValue.float_() for floats")
    else:
        index = getattr(type(value), "__index__", None)
        if index is None:
            raise TypeError(f"{where} expects an int, got {_tname(value)}")
        v = int(index(value))
    if v < lo or v > hi:
        if lo == 0 and v < 0:
            raise OverflowError(f"{where} expects a non-negative int, got {v}")
        kind = "64-bit unsigned" if lo == 0 else "64-bit signed"
        raise OverflowError(f"{where} value {v} does not fit in a {kind} integer")
    return v


def _check_float(value: object, where: str) -> float:
    t = type(value)
    if t is float:
        return value  # type: ignore[return-value]
    if t is int or t is bool:
        return float(value)  # type: ignore[arg-type]
    if isinstance(value, (str, _builtins.bytes, bytearray)) or not (hasattr(t, "__float__") or hasattr(t, "__index__")):
        hint = ""
        if isinstance(value, _dt.datetime):
            hint = "; pass POSIX seconds, e.g. dt.timestamp()"
        elif isinstance(value, _dt.timedelta):
            hint = "; pass seconds, e.g. td.total_seconds()"
        raise TypeError(f"{where} expects a float, got {_tname(value)}{hint}")
    return float(value)  # type: ignore[arg-type]


def _check_bool(value: object, where: str) -> bool:
    if value is True or value is False:
        return value
    t = type(value)
    if t.__module__ == "numpy" and t.__name__ in ("bool_", "bool"):
        return bool(value)
    raise TypeError(f"{where} expects a bool, got {_tname(value)}")


def _check_datetime(value: object, where: str) -> _dt.datetime:
    if type(value) is not _dt.datetime and not isinstance(value, _dt.datetime):
        raise TypeError(f"{where} expects a datetime.datetime, got {_tname(value)}")
    if value.tzinfo is not None:
        raise TypeError(f"{where} expects a naive datetime.datetime (tzinfo=None), got {value!r}")
    return value


# --------------------------------------------------------------------------
# Arrow schema wrapper (pyarrow imported lazily)
# --------------------------------------------------------------------------

_pa: Any = None


def _pyarrow() -> Any:
    global _pa
    if _pa is None:
        try:
            import pyarrow
            import pyarrow.ipc
        except ImportError as exc:
            raise ImportError(
                "Arrow schemas need the optional dependency 'pyarrow'; "
                "install it with: pip install 'rivers-core[arrow]'"
            ) from exc
        _pa = pyarrow
    return _pa


class Schema:
    """An Arrow schema.

    ``Schema(arrow_schema)`` wraps any object exposing ``__arrow_c_schema__``
    (pyarrow, polars, arro3, another :class:`Schema`). Requires the optional
    dependency ``pyarrow`` (``pip install 'rivers-core[arrow]'``).

    Raises:
        TypeError: ``arrow_schema`` does not expose ``__arrow_c_schema__``.
        ValueError: the object describes an Arrow type that is not a schema
            (a struct of fields).
        ImportError: pyarrow is not installed.
    """

    __slots__ = ("_schema",)
    _schema: Any

    def __init__(self, arrow_schema: Any) -> None:
        if isinstance(arrow_schema, Schema):
            self._schema = arrow_schema._schema
            return
        if not hasattr(arrow_schema, "__arrow_c_schema__"):
            raise TypeError(
                f"Schema() expects an object exposing __arrow_c_schema__ "
                f"(a pyarrow/polars/arro3 schema), got {_tname(arrow_schema)}"
            )
        pa = _pyarrow()
        if isinstance(arrow_schema, pa.Schema):
            self._schema = arrow_schema
            return
        try:
            self._schema = pa.schema(arrow_schema)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            raise ValueError(f"Schema() could not import an Arrow schema from {_tname(arrow_schema)}: {exc}") from exc
        if not isinstance(self._schema, pa.Schema):  # pragma: no cover - defensive
            raise ValueError(f"Schema() could not import an Arrow schema from {_tname(arrow_schema)}")

    @classmethod
    def _from_pyarrow(cls, schema: Any) -> Schema:
        obj = _object_new(cls)
        obj._schema = schema
        return obj

    @property
    def names(self) -> list[str]:
        """Field names, in order."""
        return list(self._schema.names)

    def __len__(self) -> int:
        return len(self._schema)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Schema):
            return NotImplemented
        return bool(self._schema.equals(other._schema, check_metadata=True))

    def __hash__(self) -> int:
        return hash(tuple((f.name, str(f.type)) for f in self._schema))

    def __repr__(self) -> str:
        fields = ", ".join(f"{f.name}: {f.type}" for f in self._schema)
        return f"Schema({fields})"

    def to_ipc(self) -> _builtins.bytes:
        """Serialize to the Arrow IPC schema message."""
        data: _builtins.bytes = self._schema.serialize().to_pybytes()
        return data

    @classmethod
    def from_ipc(cls, data: _builtins.bytes) -> Schema:
        """Rebuild a schema from :meth:`to_ipc` bytes; garbage raises ``ValueError``."""
        if not isinstance(data, (_builtins.bytes, bytearray, memoryview)):
            raise TypeError(f"Schema.from_ipc() expects bytes, got {_tname(data)}")
        pa = _pyarrow()
        try:
            schema = pa.ipc.read_schema(pa.py_buffer(_builtins.bytes(data)))
        except Exception as exc:  # ArrowInvalid, OSError, ... depending on the garbage
            raise ValueError(f"Schema.from_ipc(): not an Arrow IPC schema message ({exc})") from exc
        return cls._from_pyarrow(schema)

    def to_pyarrow(self) -> Any:
        """The underlying ``pyarrow.Schema``."""
        return self._schema

    def __arrow_c_schema__(self) -> Any:
        """Arrow PyCapsule interface: export as an ``ArrowSchema`` capsule."""
        return self._schema.__arrow_c_schema__()

    def __reduce__(self) -> tuple[Any, ...]:
        return (Schema.from_ipc, (self.to_ipc(),))


# --------------------------------------------------------------------------
# MetadataValue and its variants
# --------------------------------------------------------------------------


class MetadataValue:
    """A typed metadata value (tagged union).

    Build values with the static factories (``MetadataValue.text("x")``,
    ``MetadataValue.int(3)``, ...); each returns an instance of a nested
    variant class (``MetadataValue.Text``, ``MetadataValue.Int``, ...). The
    variants can also be constructed directly with their fields, e.g.
    ``MetadataValue.Int(5)``; direct construction checks types but does not
    normalise (``MetadataValue.Url`` does not canonicalise, use
    :meth:`url`).

    Values compare equal when they are the same variant with equal fields,
    never equal plain Python values, and are not hashable.
    """

    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]

    # Variants (attached below the class definitions).
    Text: ClassVar[type[_Text]]
    Int: ClassVar[type[_Int]]
    Float: ClassVar[type[_Float]]
    Bool: ClassVar[type[_Bool]]
    Url: ClassVar[type[_Url]]
    Path: ClassVar[type[_Path]]
    Json: ClassVar[type[_Json]]
    Markdown: ClassVar[type[_Markdown]]
    Timestamp: ClassVar[type[_Timestamp]]
    Null: ClassVar[type[_Null]]
    Bytes: ClassVar[type[_Bytes]]
    Duration: ClassVar[type[_Duration]]
    Sql: ClassVar[type[_Sql]]
    CodeBlock: ClassVar[type[_CodeBlock]]
    Image: ClassVar[type[_Image]]
    Percentage: ClassVar[type[_Percentage]]
    List: ClassVar[type[_List]]
    DateRange: ClassVar[type[_DateRange]]
    Schema: ClassVar[type[_SchemaValue]]
    DataVersion: ClassVar[type[_DataVersion]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("cannot create 'MetadataValue' instances")

    def raw_value(self) -> Any:
        """The plain Python value held by this metadata value."""
        raise NotImplementedError  # pragma: no cover - every variant overrides

    def _ser(self) -> str:  # pragma: no cover - every variant overrides
        raise NotImplementedError

    # ---- factories -------------------------------------------------------

    @staticmethod
    def text(value: str) -> _Text:
        """Plain text. Non-``str`` raises ``TypeError``."""
        return _Text(value)

    @staticmethod
    def int(value: _builtins.int) -> _Int:
        """A signed 64-bit integer. Floats raise ``TypeError``; ``bool`` is taken as 0/1."""
        return _Int(value)

    @staticmethod
    def float_(value: _builtins.float) -> _Float:
        """A float; ints are accepted and converted."""
        return _Float(value)

    @staticmethod
    def bool_(value: _builtins.bool) -> _Bool:
        """A boolean."""
        return _Bool(value)

    @staticmethod
    def url(value: str) -> _Url:
        """A URL, parsed and canonicalised (``"http://x"`` -> ``"http://x/"``).

        Raises:
            InvalidMetadataError: the string is not an absolute URL with a
                scheme and a host.
        """
        return _Url(_canonicalize_url(_check_str(value, "MetadataValue.url()")))

    @staticmethod
    def path(value: str) -> _Path:
        """A filesystem path or object-store key (not validated)."""
        return _Path(value)

    @staticmethod
    def json(value: str) -> _Json:
        """A JSON document given as a *string* (``json.dumps`` it first)."""
        if not isinstance(value, str):
            raise TypeError(
                f"MetadataValue.json() expects a JSON string, got {_tname(value)}; "
                "serialize it first, e.g. MetadataValue.json(json.dumps(value))"
            )
        return _Json(value)

    @staticmethod
    def md(value: str) -> _Markdown:
        """Markdown text."""
        return _Markdown(value)

    @staticmethod
    def timestamp(value: _builtins.float) -> _Timestamp:
        """A point in time as POSIX seconds (a ``datetime`` raises ``TypeError``)."""
        return _Timestamp(value)

    @staticmethod
    def null() -> _Null:
        """The null value (``raw_value()`` is ``None``)."""
        return _NULL

    @staticmethod
    def bytes(value: _builtins.int) -> _Bytes:
        """A size in bytes (unsigned 64-bit; negative raises ``OverflowError``)."""
        return _Bytes(value)

    @staticmethod
    def duration(value: _builtins.float) -> _Duration:
        """A duration in seconds."""
        return _Duration(value)

    @staticmethod
    def sql(query: str, dialect: str | None = None) -> _Sql:
        """A SQL query, optionally tagged with its dialect."""
        return _Sql(query, dialect)

    @staticmethod
    def code_block(code: str, language: str | None = None) -> _CodeBlock:
        """A block of source code, optionally tagged with its language."""
        return _CodeBlock(code, language)

    @staticmethod
    def image(value: str) -> _Image:
        """An image URL or data URI (not validated)."""
        return _Image(value)

    @staticmethod
    def percentage(value: _builtins.float) -> _Percentage:
        """A percentage (the range is not enforced)."""
        return _Percentage(value)

    @staticmethod
    def list_(values: list[MetadataValue]) -> _List:
        """A list of metadata values; elements must already be ``MetadataValue``."""
        return _List(values)

    @staticmethod
    def date_range(start: _dt.datetime, end: _dt.datetime) -> _DateRange:
        """A range of naive datetimes (order not checked)."""
        return _DateRange(start, end)

    @staticmethod
    def schema(value: Any) -> _SchemaValue:
        """An Arrow schema: any object exposing ``__arrow_c_schema__`` (needs pyarrow)."""
        if not isinstance(value, Schema):
            value = Schema(value)
        return _SchemaValue(value.to_ipc())

    @staticmethod
    def data_version(value: str) -> _DataVersion:
        """A data version; in output metadata it becomes the step's data version
        and is removed from the recorded metadata."""
        return _DataVersion(value)


class _Single(MetadataValue):
    """Shared implementation of the variants holding a single ``value``."""

    __slots__ = ("_value",)
    __match_args__ = ("value",)
    _value: Any
    _factory: ClassVar[str] = ""
    _tag: ClassVar[str] = ""

    @property
    def value(self) -> Any:
        """The held value."""
        return self._value

    def raw_value(self) -> Any:
        """The plain Python value."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return self._value == other._value  # type: ignore[no-any-return]
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self._value,))


class _StrValue(_Single):
    __slots__ = ()

    def __init__(self, value: str) -> None:
        self._value = value if type(value) is str else _check_str(value, f"MetadataValue.{self._factory}()")

    def __repr__(self) -> str:
        return f"MetadataValue.{self._factory}({_quote(self._value)})"

    def _ser(self) -> str:
        return '{"' + self._tag + '":{"value":' + _encode_str(self._value) + "}}"


class _FloatValue(_Single):
    __slots__ = ()

    def __init__(self, value: float) -> None:
        self._value = value if type(value) is float else _check_float(value, f"MetadataValue.{self._factory}()")

    def __repr__(self) -> str:
        return f"MetadataValue.{self._factory}({_float_repr(self._value)})"

    def _ser(self) -> str:
        return '{"' + self._tag + '":{"value":' + _float_json(self._value) + "}}"


class _Text(_StrValue):
    """Plain text (``MetadataValue.text``)."""

    __slots__ = ()
    _factory = "text"
    _tag = "Text"


class _Url(_StrValue):
    """A URL (``MetadataValue.url``, which canonicalises)."""

    __slots__ = ()
    _factory = "url"
    _tag = "Url"


class _Path(_StrValue):
    """A path (``MetadataValue.path``)."""

    __slots__ = ()
    _factory = "path"
    _tag = "Path"


class _Json(_StrValue):
    """A JSON document held as a string (``MetadataValue.json``)."""

    __slots__ = ()
    _factory = "json"
    _tag = "Json"


class _Markdown(_StrValue):
    """Markdown text (``MetadataValue.md``)."""

    __slots__ = ()
    _factory = "md"
    _tag = "Markdown"


class _Image(_StrValue):
    """An image URL or data URI (``MetadataValue.image``)."""

    __slots__ = ()
    _factory = "image"
    _tag = "Image"


class _DataVersion(_StrValue):
    """A data version (``MetadataValue.data_version``)."""

    __slots__ = ()
    _factory = "data_version"
    _tag = "DataVersion"


class _Int(_Single):
    """A signed 64-bit integer (``MetadataValue.int``)."""

    __slots__ = ()
    _factory = "int"
    _tag = "Int"

    def __init__(self, value: _builtins.int) -> None:
        if type(value) is int and _I64_MIN <= value <= _I64_MAX:
            self._value = value
        else:
            self._value = _check_int(value, "MetadataValue.int()", _I64_MIN, _I64_MAX)

    def __repr__(self) -> str:
        return f"MetadataValue.int({self._value})"

    def _ser(self) -> str:
        return '{"Int":{"value":' + int.__repr__(self._value) + "}}"


class _Bytes(_Single):
    """A size in bytes, unsigned 64-bit (``MetadataValue.bytes``)."""

    __slots__ = ()
    _factory = "bytes"
    _tag = "Bytes"

    def __init__(self, value: _builtins.int) -> None:
        if type(value) is int and 0 <= value <= _U64_MAX:
            self._value = value
        else:
            self._value = _check_int(value, "MetadataValue.bytes()", 0, _U64_MAX)

    def __repr__(self) -> str:
        return f"MetadataValue.bytes({self._value})"

    def _ser(self) -> str:
        return '{"Bytes":{"value":' + int.__repr__(self._value) + "}}"


class _Float(_FloatValue):
    """A float (``MetadataValue.float_``)."""

    __slots__ = ()
    _factory = "float_"
    _tag = "Float"


class _Timestamp(_FloatValue):
    """POSIX seconds (``MetadataValue.timestamp``)."""

    __slots__ = ()
    _factory = "timestamp"
    _tag = "Timestamp"


class _Duration(_FloatValue):
    """A duration in seconds (``MetadataValue.duration``)."""

    __slots__ = ()
    _factory = "duration"
    _tag = "Duration"


class _Percentage(_FloatValue):
    """A percentage (``MetadataValue.percentage``)."""

    __slots__ = ()
    _factory = "percentage"
    _tag = "Percentage"


class _Bool(_Single):
    """A boolean (``MetadataValue.bool_``)."""

    __slots__ = ()
    _factory = "bool_"
    _tag = "Bool"

    def __init__(self, value: _builtins.bool) -> None:
        self._value = value if (value is True or value is False) else _check_bool(value, "MetadataValue.bool_()")

    def __repr__(self) -> str:
        return f"MetadataValue.bool_({self._value!r})"

    def _ser(self) -> str:
        return '{"Bool":{"value":true}}' if self._value else '{"Bool":{"value":false}}'


class _Null(MetadataValue):
    """The null value (``MetadataValue.null``)."""

    __slots__ = ()
    __match_args__ = ()

    def __init__(self) -> None:
        pass

    def raw_value(self) -> None:
        """Always ``None``."""
        return None

    def __eq__(self, other: object) -> bool:
        if type(other) is _Null:
            return True
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return "MetadataValue.null()"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Null, ())

    def _ser(self) -> str:
        return '{"Null":{}}'


class _Sql(MetadataValue):
    """A SQL query with an optional dialect (``MetadataValue.sql``)."""

    __slots__ = ("_dialect", "_query")
    __match_args__ = ("query", "dialect")

    def __init__(self, query: str, dialect: str | None = None) -> None:
        self._query = _check_str(query, "MetadataValue.sql() query")
        self._dialect = _check_opt_str(dialect, "MetadataValue.sql() dialect")

    @property
    def query(self) -> str:
        """The SQL text."""
        return self._query

    @property
    def dialect(self) -> str | None:
        """The SQL dialect, if given."""
        return self._dialect

    def raw_value(self) -> str:
        """The SQL text."""
        return self._query

    def __eq__(self, other: object) -> bool:
        if type(other) is _Sql:
            return self._query == other._query and self._dialect == other._dialect
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        if self._dialect is None:
            return f"MetadataValue.sql({_quote(self._query)})"
        return f"MetadataValue.sql({_quote(self._query)}, dialect={_quote(self._dialect)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Sql, (self._query, self._dialect))

    def _ser(self) -> str:
        return '{"Sql":{"query":' + _encode_str(self._query) + ',"dialect":' + _opt_str_json(self._dialect) + "}}"


class _CodeBlock(MetadataValue):
    """A block of code with an optional language (``MetadataValue.code_block``)."""

    __slots__ = ("_code", "_language")
    __match_args__ = ("code", "language")

    def __init__(self, code: str, language: str | None = None) -> None:
        self._code = _check_str(code, "MetadataValue.code_block() code")
        self._language = _check_opt_str(language, "MetadataValue.code_block() language")

    @property
    def code(self) -> str:
        """The source code."""
        return self._code

    @property
    def language(self) -> str | None:
        """The language, if given."""
        return self._language

    def raw_value(self) -> str:
        """The source code."""
        return self._code

    def __eq__(self, other: object) -> bool:
        if type(other) is _CodeBlock:
            return self._code == other._code and self._language == other._language
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        if self._language is None:
            return f"MetadataValue.code_block({_quote(self._code)})"
        return f"MetadataValue.code_block({_quote(self._code)}, language={_quote(self._language)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_CodeBlock, (self._code, self._language))

    def _ser(self) -> str:
        return '{"CodeBlock":{"code":' + _encode_str(self._code) + ',"language":' + _opt_str_json(self._language) + "}}"


class _List(MetadataValue):
    """A list of metadata values (``MetadataValue.list_``)."""

    __slots__ = ("_values",)
    __match_args__ = ("values",)

    def __init__(self, values: Iterable[MetadataValue]) -> None:
        if isinstance(values, (str, _builtins.bytes, bytearray, MetadataValue)) or not hasattr(values, "__iter__"):
            raise TypeError(f"MetadataValue.list_() expects a list of MetadataValue, got {_tname(values)}")
        items = tuple(values)
        for i, item in enumerate(items):
            if not isinstance(item, MetadataValue):
                raise TypeError(
                    f"MetadataValue.list_() elements must be MetadataValue, got {_tname(item)} at index {i}; "
                    "wrap it first, e.g. MetadataValue.int(...)"
                )
        self._values = items

    @property
    def values(self) -> list[MetadataValue]:
        """The elements (a new list)."""
        return list(self._values)

    def raw_value(self) -> list[MetadataValue]:
        """The elements (a new list of ``MetadataValue``)."""
        return list(self._values)

    def __eq__(self, other: object) -> bool:
        if type(other) is _List:
            return self._values == other._values
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return "MetadataValue.list_([" + ", ".join([repr(v) for v in self._values]) + "])"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_List, (list(self._values),))

    def _ser(self) -> str:
        return '{"List":{"values":[' + ",".join([v._ser() for v in self._values]) + "]}}"


class _DateRange(MetadataValue):
    """A range of naive datetimes (``MetadataValue.date_range``)."""

    __slots__ = ("_end", "_start")
    __match_args__ = ("start", "end")

    def __init__(self, start: _dt.datetime, end: _dt.datetime) -> None:
        self._start = _check_datetime(start, "MetadataValue.date_range() start")
        self._end = _check_datetime(end, "MetadataValue.date_range() end")

    @property
    def start(self) -> _dt.datetime:
        """Start of the range."""
        return self._start

    @property
    def end(self) -> _dt.datetime:
        """End of the range."""
        return self._end

    def raw_value(self) -> tuple[_dt.datetime, _dt.datetime]:
        """``(start, end)``."""
        return (self._start, self._end)

    def __eq__(self, other: object) -> bool:
        if type(other) is _DateRange:
            return self._start == other._start and self._end == other._end
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"MetadataValue.date_range({_datetime_repr(self._start)}, {_datetime_repr(self._end)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_DateRange, (self._start, self._end))

    def _ser(self) -> str:
        return '{"DateRange":{"start":"' + _datetime_json(self._start) + '","end":"' + _datetime_json(self._end) + '"}}'


class _SchemaValue(MetadataValue):
    """An Arrow schema held as IPC bytes (``MetadataValue.schema``)."""

    __slots__ = ("_ipc_bytes",)
    __match_args__ = ("ipc_bytes",)

    def __init__(self, ipc_bytes: _builtins.bytes) -> None:
        if isinstance(ipc_bytes, (_builtins.bytes, bytearray, memoryview)):
            self._ipc_bytes = _builtins.bytes(ipc_bytes)
        elif isinstance(ipc_bytes, (list, tuple)):
            try:
                self._ipc_bytes = _builtins.bytes(ipc_bytes)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"MetadataValue.Schema() ipc_bytes must be bytes: {exc}") from None
        else:
            raise TypeError(f"MetadataValue.Schema() expects IPC bytes, got {_tname(ipc_bytes)}")

    @property
    def ipc_bytes(self) -> _builtins.bytes:
        """The Arrow IPC schema message."""
        return self._ipc_bytes

    def raw_value(self) -> Schema:
        """The schema as a :class:`rivers.Schema` (needs pyarrow)."""
        return Schema.from_ipc(self._ipc_bytes)

    def __eq__(self, other: object) -> bool:
        if type(other) is _SchemaValue:
            return self._ipc_bytes == other._ipc_bytes
        if isinstance(other, MetadataValue):
            return False
        return NotImplemented

    __hash__ = None

    def __repr__(self) -> str:
        return f"MetadataValue.Schema(ipc_bytes=<{len(self._ipc_bytes)} bytes>)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_SchemaValue, (self._ipc_bytes,))

    def _ser(self) -> str:
        return '{"Schema":{"ipc_bytes":[' + ",".join(map(str, self._ipc_bytes)) + "]}}"


_NULL = _Null()

_VARIANTS: dict[str, type[MetadataValue]] = {
    "Text": _Text,
    "Int": _Int,
    "Float": _Float,
    "Bool": _Bool,
    "Url": _Url,
    "Path": _Path,
    "Json": _Json,
    "Markdown": _Markdown,
    "Timestamp": _Timestamp,
    "Null": _Null,
    "Bytes": _Bytes,
    "Duration": _Duration,
    "Sql": _Sql,
    "CodeBlock": _CodeBlock,
    "Image": _Image,
    "Percentage": _Percentage,
    "List": _List,
    "DateRange": _DateRange,
    "Schema": _SchemaValue,
    "DataVersion": _DataVersion,
}

for _name, _cls in _VARIANTS.items():
    _cls.__name__ = _name
    _cls.__qualname__ = f"MetadataValue.{_name}"
    setattr(MetadataValue, _name, _cls)
del _name, _cls


# --------------------------------------------------------------------------
# URL canonicalisation (WHATWG-style subset, urllib.parse imported lazily)
# --------------------------------------------------------------------------

_SPECIAL_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443, "ftp": 21, "file": None}
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_ASCII_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_FORBIDDEN_HOST = frozenset(" #/:<>?@[\\]^|\t\n\r\x00")
_FORBIDDEN_DOMAIN = _FORBIDDEN_HOST | frozenset("%\x7f")

# Printable ASCII characters left as-is in each component (WHATWG percent-encode sets).
_PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))
_PATH_SAFE = "".join(c for c in _PRINTABLE if c not in '"#<>?`{}')
_QUERY_SAFE = "".join(c for c in _PRINTABLE if c not in '"#<>')
_SPECIAL_QUERY_SAFE = _QUERY_SAFE.replace("'", "")
_FRAGMENT_SAFE = "".join(c for c in _PRINTABLE if c not in '"<>`')
_USERINFO_SAFE = "".join(c for c in _PATH_SAFE if c not in "/:;=@[\\]^|")


def _invalid_url(value: str, reason: str) -> InvalidMetadataError:
    return InvalidMetadataError(f"Invalid URL: {value!r} ({reason})")


def _remove_dot_segments(segments: list[str]) -> list[str]:
    out: list[str] = []
    last = len(segments) - 1
    for i, seg in enumerate(segments):
        low = seg.lower()
        if low in ("..", ".%2e", "%2e.", "%2e%2e"):
            if out:
                out.pop()
            if i == last:
                out.append("")
        elif low in (".", "%2e"):
            if i == last:
                out.append("")
        else:
            out.append(seg)
    return out


def _canonicalize_url(value: str) -> str:
    """Parse ``value`` as an absolute URL and return its canonical serialisation.

    Follows the WHATWG URL standard for the common cases (what the Rust ``url``
    crate and browsers do): lower-case scheme and (special-scheme) host, IDNA
    for non-ASCII hosts, default port removed, ``/`` path for special schemes,
    dot segments resolved, unsafe characters percent-encoded. A scheme and a
    host are required (``file:`` URLs may have an empty host).
    """
    from urllib.parse import quote, unquote

    s = value.strip(
        "\x00\x01\x02\x03\x04\x05\x06\x07\x08\t\n\x0b\x0c\r\x0e\x0f"
        "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f "
    )
    s = s.replace("\t", "").replace("\n", "").replace("\r", "")
    colon = s.find(":")
    if colon <= 0 or s[0] not in _ASCII_LETTERS or not _SCHEME_CHARS.issuperset(s[:colon]):
        raise _invalid_url(value, "missing scheme")
    scheme = s[:colon].lower()
    rest = s[colon + 1 :]
    special = scheme in _SPECIAL_PORTS
    if special:
        rest = rest.replace("\\", "/")

    # Split off fragment and query.
    fragment = query = None
    hash_pos = rest.find("#")
    if hash_pos >= 0:
        rest, fragment = rest[:hash_pos], rest[hash_pos + 1 :]
    q_pos = rest.find("?")
    if q_pos >= 0:
        rest, query = rest[:q_pos], rest[q_pos + 1 :]

    # Authority.
    if scheme == "file":
        if rest.startswith("//"):
            rest = rest[2:]
            slash = rest.find("/")
            authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
        else:
            authority, path = "", rest
    elif special:
        rest = rest.lstrip("/")
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])
    else:
        if not rest.startswith("//"):
            raise _invalid_url(value, "missing host")
        rest = rest[2:]
        slash = rest.find("/")
        authority, path = (rest, "") if slash < 0 else (rest[:slash], rest[slash:])

    userinfo = ""
    at = authority.rfind("@")
    if at >= 0:
        userinfo, authority = authority[:at], authority[at + 1 :]
        if scheme == "file":
            raise _invalid_url(value, "file URLs cannot have credentials")

    # Host and port.
    port_str = ""
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _invalid_url(value, "unterminated IPv6 address")
        host, after = authority[: close + 1], authority[close + 1 :]
        if after:
            if not after.startswith(":"):
                raise _invalid_url(value, "invalid IPv6 address")
            port_str = after[1:]
        import ipaddress

        try:
            host = f"[{ipaddress.IPv6Address(host[1:-1]).compressed}]"
        except ValueError:
            raise _invalid_url(value, "invalid IPv6 address") from None
    else:
        host, _, port_str = authority.partition(":")
        if special:
            host = unquote(host)
            if any(c in _FORBIDDEN_DOMAIN for c in host):
                raise _invalid_url(value, "invalid host character")
            if host.isascii():
                host = host.lower()
            else:
                try:
                    host = host.encode("idna").decode("ascii")
                except UnicodeError:
                    raise _invalid_url(value, "invalid international domain name") from None
        else:
            if any(c in _FORBIDDEN_HOST for c in host):
                raise _invalid_url(value, "invalid host character")
            host = quote(host, safe=_PRINTABLE)
    if scheme == "file":
        if host == "localhost":
            host = ""
    elif not host:
        raise _invalid_url(value, "empty host")

    port = ""
    if port_str:
        if not port_str.isdigit() or not port_str.isascii():
            raise _invalid_url(value, "invalid port number")
        port_num = _builtins.int(port_str)
        if port_num > 65535:
            raise _invalid_url(value, "invalid port number")
        if scheme == "file":
            raise _invalid_url(value, "file URLs cannot have a port")
        if _SPECIAL_PORTS.get(scheme) != port_num:
            port = f":{port_num}"

    # Path.
    if path or special:
        segments = path.split("/")[1:] if path.startswith("/") else path.split("/")
        segments = _remove_dot_segments(segments) if segments else [""]
        path = "/" + "/".join(quote(seg, safe=_PATH_SAFE) for seg in segments)

    if userinfo:
        user, _, password = userinfo.partition(":")
        user = quote(user, safe=_USERINFO_SAFE)
        password = quote(password, safe=_USERINFO_SAFE)
        userinfo = f"{user}:{password}@" if password else f"{user}@"

    out = f"{scheme}://{userinfo}{host}{port}{path}"
    if query is not None:
        out += "?" + quote(query, safe=_SPECIAL_QUERY_SAFE if special else _QUERY_SAFE)
    if fragment is not None:
        out += "#" + quote(fragment, safe=_FRAGMENT_SAFE)
    return out


# --------------------------------------------------------------------------
# Auto-conversion (hot path)
# --------------------------------------------------------------------------


def _new_int(value: int) -> MetadataValue:
    if _I64_MIN <= value <= _I64_MAX:
        obj = _object_new(_Int)
        obj._value = value
        return obj
    return _Float(float(value))


def _new_float(value: float) -> MetadataValue:
    obj = _object_new(_Float)
    obj._value = value
    return obj


def _new_text(value: str) -> MetadataValue:
    obj = _object_new(_Text)
    obj._value = value
    return obj


_TRUE = _Bool(True)
_FALSE = _Bool(False)


def _identity(value: MetadataValue) -> MetadataValue:
    return value


# Exact-type dispatch table; everything else goes through _coerce_slow.
_COERCERS: dict[type, Any] = {
    bool: lambda v: _TRUE if v else _FALSE,
    int: _new_int,
    float: _new_float,
    str: _new_text,
    type(None): lambda v: _NULL,
}
for _cls in _VARIANTS.values():
    _COERCERS[_cls] = _identity
del _cls


def _coerce_slow(value: Any) -> MetadataValue:
    if isinstance(value, MetadataValue):
        return value
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, int):
        return _new_int(int(value))
    if isinstance(value, float):
        return _new_float(float(value))
    if isinstance(value, str):
        return _new_text(str.__str__(value))
    t = type(value)
    if hasattr(t, "__arrow_c_schema__"):
        return MetadataValue.schema(value)
    if t.__module__ == "numpy":
        # numpy scalars: numpy.bool_, integer and floating types.
        if t.__name__ in ("bool_", "bool"):
            return _TRUE if value else _FALSE
        if hasattr(t, "__index__"):
            return _new_int(int(value.__index__()))
        if hasattr(t, "__float__") and hasattr(value, "dtype"):
            return _new_float(float(value))
    raise TypeError(f"Cannot coerce {t.__name__} to MetadataValue. Use MetadataValue.text(), .int(), etc.")


def coerce_metadata_value(value: Any) -> MetadataValue:
    """Convert a plain Python value to a :class:`MetadataValue`.

    Order: ``MetadataValue`` kept as is -> ``bool`` -> ``Bool`` -> ``int``
    fitting in 64 bits -> ``Int`` (larger ints become ``Float``) -> ``float``
    -> ``Float`` -> ``str`` -> ``Text`` -> ``None`` -> ``Null`` -> object with
    ``__arrow_c_schema__`` -> ``Schema``.

    Raises:
        TypeError: the value has none of these types.
    """
    f = _COERCERS.get(type(value))
    if f is not None:
        return f(value)  # type: ignore[no-any-return]
    return _coerce_slow(value)


def coerce_metadata(mapping: Mapping[str, Any] | None) -> dict[str, MetadataValue]:
    """Coerce every value of ``mapping`` (see :func:`coerce_metadata_value`).

    Returns a new dict in the same order. ``None`` gives an empty dict.

    Raises:
        TypeError: a key is not a ``str`` or a value cannot be coerced.
    """
    if not mapping:
        if mapping is None or hasattr(mapping, "items"):
            return {}
        raise TypeError(f"metadata must be a dict, got {_tname(mapping)}")
    try:
        items = mapping.items()
    except AttributeError:
        raise TypeError(f"metadata must be a dict, got {_tname(mapping)}") from None
    get = _COERCERS.get
    out: dict[str, MetadataValue] = {}
    for key, value in items:
        if type(key) is not str:
            if not isinstance(key, str):
                raise TypeError(f"metadata keys must be str, got {_tname(key)} key {key!r}")
            key = str.__str__(key)
        f = get(type(value))
        if f is not None:
            out[key] = f(value)
        else:
            try:
                out[key] = _coerce_slow(value)
            except TypeError as exc:
                raise TypeError(f"{exc} (metadata key {key!r})") from None
    return out


# --------------------------------------------------------------------------
# Serialized form
# --------------------------------------------------------------------------


def serialize_metadata_value(value: MetadataValue) -> str:
    """Compact, externally tagged JSON, e.g. ``{"Int":{"value":3}}``.

    Plain Python values are coerced first (:func:`coerce_metadata_value`).
    """
    if not isinstance(value, MetadataValue):
        value = coerce_metadata_value(value)
    return value._ser()


def _field(body: Any, name: str, tag: str) -> Any:
    try:
        return body[name]
    except (KeyError, TypeError):
        raise ValueError(f"Invalid serialized MetadataValue: {tag} needs field {name!r}") from None


def _parse_datetime(s: Any, tag: str) -> _dt.datetime:
    if not isinstance(s, str):
        raise ValueError(f"Invalid serialized MetadataValue: {tag} expects ISO datetime strings")
    try:
        d = _dt.datetime.fromisoformat(s)
    except ValueError:
        raise ValueError(f"Invalid serialized MetadataValue: bad datetime {s!r}") from None
    if d.tzinfo is not None:
        d = d.astimezone(_dt.UTC).replace(tzinfo=None)
    return d


_MISSING = object()

# Variants whose single ``value`` field is stored verbatim when the JSON type
# matches exactly (fast path of deserialisation; anything else is validated).
_FAST_SINGLE: dict[str, tuple[type[_Single], type]] = {
    "Text": (_Text, str),
    "Url": (_Url, str),  # stored URLs are already canonical
    "Path": (_Path, str),
    "Json": (_Json, str),
    "Markdown": (_Markdown, str),
    "Image": (_Image, str),
    "DataVersion": (_DataVersion, str),
    "Float": (_Float, float),
    "Timestamp": (_Timestamp, float),
    "Duration": (_Duration, float),
    "Percentage": (_Percentage, float),
    "Bool": (_Bool, bool),
}


def _from_obj(obj: Any) -> MetadataValue:
    if type(obj) is not dict or len(obj) != 1:
        raise ValueError(f'Invalid serialized MetadataValue: expected {{"Variant": {{...}}}}, got {obj!r}')
    ((tag, body),) = obj.items()
    if type(body) is not dict:
        raise ValueError(f"Invalid serialized MetadataValue: {tag} body must be an object")
    fast = _FAST_SINGLE.get(tag)
    if fast is not None:
        v = body.get("value", _MISSING)
        if type(v) is fast[1]:
            o = _object_new(fast[0])
            o._value = v
            return o
    try:
        if tag == "Int":
            return _Int(_field(body, "value", tag))
        if tag == "Null":
            return _NULL
        if tag == "Sql":
            return _Sql(_field(body, "query", tag), body.get("dialect"))
        if tag == "CodeBlock":
            return _CodeBlock(_field(body, "code", tag), body.get("language"))
        if tag == "List":
            values = _field(body, "values", tag)
            if type(values) is not list:
                raise ValueError("Invalid serialized MetadataValue: List values must be an array")
            return _List([_from_obj(v) for v in values])
        if tag == "DateRange":
            return _DateRange(
                _parse_datetime(_field(body, "start", tag), tag), _parse_datetime(_field(body, "end", tag), tag)
            )
        if tag == "Schema":
            return _SchemaValue(_field(body, "ipc_bytes", tag))
        cls = _VARIANTS.get(tag)
        if cls is None:
            raise ValueError(f"Invalid serialized MetadataValue: unknown variant {tag!r}")
        return cls(_field(body, "value", tag))
    except (TypeError, OverflowError) as exc:
        raise ValueError(f"Invalid serialized MetadataValue ({tag}): {exc}") from None


_scan_once = getattr(_json.JSONDecoder(), "scan_once")  # noqa: B009 - untyped attribute


def _loads(data: str | _builtins.bytes) -> Any:
    """``json.loads`` minus its per-call overhead for the compact strings we write."""
    if type(data) is str:
        try:
            obj, end = _scan_once(data, 0)
        except StopIteration:
            return _json.loads(data)  # raises a descriptive JSONDecodeError
        if end == len(data):
            return obj
    return _json.loads(data)


def deserialize_metadata_value(data: str | _builtins.bytes) -> MetadataValue:
    """Inverse of :func:`serialize_metadata_value`.

    Raises:
        ValueError: ``data`` is not a serialized metadata value (invalid JSON
            raises ``json.JSONDecodeError``, a ``ValueError``).
    """
    return _from_obj(_loads(data))


def serialize_metadata(metadata: Mapping[str, MetadataValue]) -> list[tuple[str, str]]:
    """``[(key, serialized value), ...]`` in dict order, as stored in
    ``StoredEvent.metadata``. Plain values are coerced first."""
    try:
        return [(key, value._ser()) for key, value in metadata.items()]
    except AttributeError:
        pass  # a plain (not yet coerced) value: take the slow path
    out = []
    for key, value in metadata.items():
        if not isinstance(value, MetadataValue):
            value = coerce_metadata_value(value)
        out.append((key, value._ser()))
    return out


def deserialize_metadata(pairs: Iterable[tuple[str, str]] | Mapping[str, str]) -> dict[str, MetadataValue]:
    """Inverse of :func:`serialize_metadata` (also accepts a ``{key: json}`` dict)."""
    if hasattr(pairs, "items"):
        pairs = pairs.items()
    return {key: _from_obj(_loads(data)) for key, data in pairs}


def extract_data_version(metadata: dict[str, MetadataValue]) -> str | None:
    """Remove ``MetadataValue.data_version`` entries from ``metadata`` in place.

    Returns the value of the last such entry, or ``None`` when there is none.
    """
    found = None
    for key, value in metadata.items():
        if type(value) is _DataVersion:
            if found is None:
                found = []
            found.append(key)
    if found is None:
        return None
    version = None
    for key in found:
        version = metadata.pop(key)._value  # type: ignore[attr-defined]
    return version
