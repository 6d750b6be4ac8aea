"""Small helpers of the metadata values: repr and JSON formatting, field validation."""

from __future__ import annotations

import builtins as _builtins
import datetime as _dt
from json.encoder import encode_basestring as _encode_str


__all__ = [
    "I64_MAX", "I64_MIN", "U64_MAX", "check_bool", "check_datetime", "check_float", "check_int", "check_opt_str",
    "check_str", "datetime_json", "datetime_repr", "float_json", "float_repr", "opt_str_json", "quote_repr",
    "type_name",
]


I64_MIN = -(2**63)
I64_MAX = 2**63 - 1
U64_MAX = 2**64 - 1

_object_new = object.__new__

_REPR_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def quote_repr(s: str) -> str:
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


def float_repr(v: float) -> str:
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


def float_json(v: float) -> str:
    """JSON number for a float (keeps ``.0``); non-finite values as Python's json does."""
    if v != v:
        return "NaN"
    if v == float("inf"):
        return "Infinity"
    if v == float("-inf"):
        return "-Infinity"
    return _float_to_json(v)


def opt_str_json(v: str | None) -> str:
    return "null" if v is None else _encode_str(v)


def datetime_repr(d: _dt.datetime) -> str:
    args = f"{d.year}, {d.month}, {d.day}, {d.hour}, {d.minute}, {d.second}"
    if d.microsecond:
        args += f", {d.microsecond}"
    return f"datetime.datetime({args})"


def datetime_json(d: _dt.datetime) -> str:
    """ISO 8601 without offset; fractional seconds use 3, 6 digits as needed."""
    base = d.strftime("%Y-%m-%dT%H:%M:%S") if d.year >= 1000 else d.isoformat(timespec="seconds")
    us = d.microsecond
    if not us:
        return base
    if us % 1000 == 0:
        return f"{base}.{us // 1000:03d}"
    return f"{base}.{us:06d}"


def type_name(value: object) -> str:
    return type(value).__name__


def check_str(value: object, where: str) -> str:
    if type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{where} expects a str, got {type_name(value)}")


def check_opt_str(value: object, where: str) -> str | None:
    if value is None or type(value) is str:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    raise TypeError(f"{where} expects a str or None, got {type_name(value)}")


def check_int(value: object, where: str, lo: int, hi: int) -> int:
    if type(value) is int:
        v = value
    elif isinstance(value, float):
        raise TypeError(f"{where} expects an int, got float ({value!r}); use MetadataValue.float_() for floats")
    else:
        index = getattr(type(value), "__index__", None)
        if index is None:
            raise TypeError(f"{where} expects an int, got {type_name(value)}")
        v = int(index(value))
    if v < lo or v > hi:
        if lo == 0 and v < 0:
            raise OverflowError(f"{where} expects a non-negative int, got {v}")
        kind = "64-bit unsigned" if lo == 0 else "64-bit signed"
        raise OverflowError(f"{where} value {v} does not fit in a {kind} integer")
    return v


def check_float(value: object, where: str) -> float:
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
        raise TypeError(f"{where} expects a float, got {type_name(value)}{hint}")
    return float(value)  # type: ignore[arg-type]


def check_bool(value: object, where: str) -> bool:
    if value is True or value is False:
        return value
    t = type(value)
    if t.__module__ == "numpy" and t.__name__ in ("bool_", "bool"):
        return bool(value)
    raise TypeError(f"{where} expects a bool, got {type_name(value)}")


def check_datetime(value: object, where: str) -> _dt.datetime:
    if type(value) is not _dt.datetime and not isinstance(value, _dt.datetime):
        raise TypeError(f"{where} expects a datetime.datetime, got {type_name(value)}")
    if value.tzinfo is not None:
        raise TypeError(f"{where} expects a naive datetime.datetime (tzinfo=None), got {value!r}")
    return value
