"""Auto-conversion of plain Python values to metadata values (the engine's hot path)."""

from __future__ import annotations

from rivers.metadata.formatting import type_name
from rivers.metadata.schema import Schema
from rivers.metadata.values import MetadataValue, NULL, VARIANTS, new_float, new_int, new_text

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - annotations only
    from collections.abc import Mapping
    from typing import Any

__all__ = ["coerce_metadata", "coerce_metadata_value"]

_Bool = MetadataValue.Bool


_TRUE = _Bool(True)
_FALSE = _Bool(False)


def _identity(value: MetadataValue) -> MetadataValue:
    return value


# Exact-type dispatch table; everything else goes through _coerce_slow.
_COERCERS: dict[type, Any] = {
    bool: lambda v: _TRUE if v else _FALSE,
    int: new_int,
    float: new_float,
    str: new_text,
    type(None): lambda v: NULL,
}
for _cls in VARIANTS.values():
    _COERCERS[_cls] = _identity
del _cls


def _coerce_slow(value: Any) -> MetadataValue:
    if isinstance(value, MetadataValue):
        return value
    if isinstance(value, bool):
        return _TRUE if value else _FALSE
    if isinstance(value, int):
        return new_int(int(value))
    if isinstance(value, float):
        return new_float(float(value))
    if isinstance(value, str):
        return new_text(str.__str__(value))
    t = type(value)
    if hasattr(t, "__arrow_c_schema__"):
        return MetadataValue.schema(value)
    if t.__module__ == "numpy":
        # numpy scalars: numpy.bool_, integer and floating types.
        if t.__name__ in ("bool_", "bool"):
            return _TRUE if value else _FALSE
        if hasattr(t, "__index__"):
            return new_int(int(value.__index__()))
        if hasattr(t, "__float__") and hasattr(value, "dtype"):
            return new_float(float(value))
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
        raise TypeError(f"metadata must be a dict, got {type_name(mapping)}")
    try:
        items = mapping.items()
    except AttributeError:
        raise TypeError(f"metadata must be a dict, got {type_name(mapping)}") from None
    get = _COERCERS.get
    out: dict[str, MetadataValue] = {}
    for key, value in items:
        if type(key) is not str:
            if not isinstance(key, str):
                raise TypeError(f"metadata keys must be str, got {type_name(key)} key {key!r}")
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
