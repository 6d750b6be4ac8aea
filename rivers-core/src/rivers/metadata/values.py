"""``MetadataValue``: the tagged union of typed metadata values and its variant classes."""

from __future__ import annotations

import builtins as _builtins
import datetime as _dt
from json.encoder import encode_basestring as _encode_str

from rivers.metadata.formatting import (
    I64_MAX, I64_MIN, U64_MAX, check_bool, check_datetime, check_float, check_int, check_opt_str, check_str,
    datetime_json, datetime_repr, float_json, float_repr, opt_str_json, quote_repr, type_name,
)
from rivers.metadata.schema import Schema
from rivers.metadata.urls import canonicalize_url

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Iterable
    from typing import Any, ClassVar

__all__ = ["MetadataValue", "NULL", "VARIANTS", "new_float", "new_int", "new_text", "single_of"]

_object_new = object.__new__


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

    def encode(self) -> str:  # pragma: no cover - every variant overrides
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
        return _Url(canonicalize_url(check_str(value, "MetadataValue.url()")))

    @staticmethod
    def path(value: str) -> _Path:
        """A filesystem path or object-store key (not validated)."""
        return _Path(value)

    @staticmethod
    def json(value: str) -> _Json:
        """A JSON document given as a *string* (``json.dumps`` it first)."""
        if not isinstance(value, str):
            raise TypeError(
                f"MetadataValue.json() expects a JSON string, got {type_name(value)}; "
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
        return NULL

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
        self._value = value if type(value) is str else check_str(value, f"MetadataValue.{self._factory}()")

    def __repr__(self) -> str:
        return f"MetadataValue.{self._factory}({quote_repr(self._value)})"

    def encode(self) -> str:
        return '{"' + self._tag + '":{"value":' + _encode_str(self._value) + "}}"


class _FloatValue(_Single):
    __slots__ = ()

    def __init__(self, value: float) -> None:
        self._value = value if type(value) is float else check_float(value, f"MetadataValue.{self._factory}()")

    def __repr__(self) -> str:
        return f"MetadataValue.{self._factory}({float_repr(self._value)})"

    def encode(self) -> str:
        return '{"' + self._tag + '":{"value":' + float_json(self._value) + "}}"


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
        if type(value) is int and I64_MIN <= value <= I64_MAX:
            self._value = value
        else:
            self._value = check_int(value, "MetadataValue.int()", I64_MIN, I64_MAX)

    def __repr__(self) -> str:
        return f"MetadataValue.int({self._value})"

    def encode(self) -> str:
        return '{"Int":{"value":' + int.__repr__(self._value) + "}}"


class _Bytes(_Single):
    """A size in bytes, unsigned 64-bit (``MetadataValue.bytes``)."""

    __slots__ = ()
    _factory = "bytes"
    _tag = "Bytes"

    def __init__(self, value: _builtins.int) -> None:
        if type(value) is int and 0 <= value <= U64_MAX:
            self._value = value
        else:
            self._value = check_int(value, "MetadataValue.bytes()", 0, U64_MAX)

    def __repr__(self) -> str:
        return f"MetadataValue.bytes({self._value})"

    def encode(self) -> str:
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
        self._value = value if (value is True or value is False) else check_bool(value, "MetadataValue.bool_()")

    def __repr__(self) -> str:
        return f"MetadataValue.bool_({self._value!r})"

    def encode(self) -> str:
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

    def encode(self) -> str:
        return '{"Null":{}}'


class _Sql(MetadataValue):
    """A SQL query with an optional dialect (``MetadataValue.sql``)."""

    __slots__ = ("_dialect", "_query")
    __match_args__ = ("query", "dialect")

    def __init__(self, query: str, dialect: str | None = None) -> None:
        self._query = check_str(query, "MetadataValue.sql() query")
        self._dialect = check_opt_str(dialect, "MetadataValue.sql() dialect")

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
            return f"MetadataValue.sql({quote_repr(self._query)})"
        return f"MetadataValue.sql({quote_repr(self._query)}, dialect={quote_repr(self._dialect)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_Sql, (self._query, self._dialect))

    def encode(self) -> str:
        return '{"Sql":{"query":' + _encode_str(self._query) + ',"dialect":' + opt_str_json(self._dialect) + "}}"


class _CodeBlock(MetadataValue):
    """A block of code with an optional language (``MetadataValue.code_block``)."""

    __slots__ = ("_code", "_language")
    __match_args__ = ("code", "language")

    def __init__(self, code: str, language: str | None = None) -> None:
        self._code = check_str(code, "MetadataValue.code_block() code")
        self._language = check_opt_str(language, "MetadataValue.code_block() language")

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
            return f"MetadataValue.code_block({quote_repr(self._code)})"
        return f"MetadataValue.code_block({quote_repr(self._code)}, language={quote_repr(self._language)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_CodeBlock, (self._code, self._language))

    def encode(self) -> str:
        return '{"CodeBlock":{"code":' + _encode_str(self._code) + ',"language":' + opt_str_json(self._language) + "}}"


class _List(MetadataValue):
    """A list of metadata values (``MetadataValue.list_``)."""

    __slots__ = ("_values",)
    __match_args__ = ("values",)

    def __init__(self, values: Iterable[MetadataValue]) -> None:
        if isinstance(values, (str, _builtins.bytes, bytearray, MetadataValue)) or not hasattr(values, "__iter__"):
            raise TypeError(f"MetadataValue.list_() expects a list of MetadataValue, got {type_name(values)}")
        items = tuple(values)
        for i, item in enumerate(items):
            if not isinstance(item, MetadataValue):
                raise TypeError(
                    f"MetadataValue.list_() elements must be MetadataValue, got {type_name(item)} at index {i}; "
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

    def encode(self) -> str:
        return '{"List":{"values":[' + ",".join([v.encode() for v in self._values]) + "]}}"


class _DateRange(MetadataValue):
    """A range of naive datetimes (``MetadataValue.date_range``)."""

    __slots__ = ("_end", "_start")
    __match_args__ = ("start", "end")

    def __init__(self, start: _dt.datetime, end: _dt.datetime) -> None:
        self._start = check_datetime(start, "MetadataValue.date_range() start")
        self._end = check_datetime(end, "MetadataValue.date_range() end")

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
        return f"MetadataValue.date_range({datetime_repr(self._start)}, {datetime_repr(self._end)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_DateRange, (self._start, self._end))

    def encode(self) -> str:
        return '{"DateRange":{"start":"' + datetime_json(self._start) + '","end":"' + datetime_json(self._end) + '"}}'


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
            raise TypeError(f"MetadataValue.Schema() expects IPC bytes, got {type_name(ipc_bytes)}")

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

    def encode(self) -> str:
        return '{"Schema":{"ipc_bytes":[' + ",".join(map(str, self._ipc_bytes)) + "]}}"


NULL = _Null()

VARIANTS: dict[str, type[MetadataValue]] = {
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

for _name, _cls in VARIANTS.items():
    _cls.__name__ = _name
    _cls.__qualname__ = f"MetadataValue.{_name}"
    setattr(MetadataValue, _name, _cls)
del _name, _cls


# Fast constructors of the hot paths (coercion, deserialisation): no validation, the caller checked the type.


def new_int(value: int) -> MetadataValue:
    if I64_MIN <= value <= I64_MAX:
        obj = _object_new(_Int)
        obj._value = value
        return obj
    return _Float(float(value))


def new_float(value: float) -> MetadataValue:
    obj = _object_new(_Float)
    obj._value = value
    return obj


def new_text(value: str) -> MetadataValue:
    obj = _object_new(_Text)
    obj._value = value
    return obj


def single_of(cls: type[_Single], value: Any) -> MetadataValue:
    """A single-field variant ``cls`` holding ``value`` as is (its JSON type was checked)."""
    obj = _object_new(cls)
    obj._value = value
    return obj
