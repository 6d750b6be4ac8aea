"""The compact JSON form of metadata stored in ``StoredEvent.metadata`` (a fast path both ways) and data versions."""

from __future__ import annotations

import builtins as _builtins
import datetime as _dt
import json as _json

from rivers.metadata.coercion import coerce_metadata_value
from rivers.metadata.values import MetadataValue, NULL, VARIANTS, single_of

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Iterable, Mapping
    from typing import Any

__all__ = [
    "deserialize_metadata", "deserialize_metadata_value", "extract_data_version", "serialize_metadata",
    "serialize_metadata_value",
]

_Bool = MetadataValue.Bool
_CodeBlock = MetadataValue.CodeBlock
_DataVersion = MetadataValue.DataVersion
_DateRange = MetadataValue.DateRange
_Duration = MetadataValue.Duration
_Float = MetadataValue.Float
_Image = MetadataValue.Image
_Int = MetadataValue.Int
_Json = MetadataValue.Json
_List = MetadataValue.List
_Markdown = MetadataValue.Markdown
_Path = MetadataValue.Path
_Percentage = MetadataValue.Percentage
_SchemaValue = MetadataValue.Schema
_Sql = MetadataValue.Sql
_Text = MetadataValue.Text
_Timestamp = MetadataValue.Timestamp
_Url = MetadataValue.Url


def serialize_metadata_value(value: MetadataValue) -> str:
    """Compact, externally tagged JSON, e.g. ``{"Int":{"value":3}}``.

    Plain Python values are coerced first (:func:`coerce_metadata_value`).
    """
    if not isinstance(value, MetadataValue):
        value = coerce_metadata_value(value)
    return value.encode()


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
# Left to inference (the single-value variant classes ``single_of`` takes): the annotation would have to name
# a private class of rivers.metadata.values.
_FAST_SINGLE = {
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
            return single_of(fast[0], v)
    try:
        if tag == "Int":
            return _Int(_field(body, "value", tag))
        if tag == "Null":
            return NULL
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
        cls = VARIANTS.get(tag)
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
        return [(key, value.encode()) for key, value in metadata.items()]
    except AttributeError:
        pass  # a plain (not yet coerced) value: take the slow path
    out = []
    for key, value in metadata.items():
        if not isinstance(value, MetadataValue):
            value = coerce_metadata_value(value)
        out.append((key, value.encode()))
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
        version = metadata.pop(key).raw_value()
    return version
