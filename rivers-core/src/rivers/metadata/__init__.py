"""Typed metadata values attached to materializations and observations.

:class:`MetadataValue` is a tagged union: the base class cannot be
instantiated, values are built through static factories
(``MetadataValue.int(3)``, ``MetadataValue.url("https://example.org")``) and
every result is an instance of a nested variant class (``MetadataValue.Int``,
``MetadataValue.Url``, ...) that can be used with ``isinstance`` and pattern
matching.

The package also holds the helpers the engine uses on every step:
auto-conversion of plain Python values (:func:`coerce_metadata`), the compact
JSON form stored in ``StoredEvent.metadata`` (:func:`serialize_metadata`,
:func:`deserialize_metadata`) and data-version extraction
(:func:`extract_data_version`). These are on the hot path, so the variants are
plain slotted classes and conversion dispatches on ``type(value)`` first.

One module per job:

* :mod:`~rivers.metadata.values` — ``MetadataValue`` and its variants;
* :mod:`~rivers.metadata.schema` — the Arrow :class:`Schema` wrapper;
* :mod:`~rivers.metadata.urls` — URL canonicalisation of ``MetadataValue.url``;
* :mod:`~rivers.metadata.coercion` — plain Python values to metadata values;
* :mod:`~rivers.metadata.serialized` — the stored JSON form (a fast path both ways);
* :mod:`~rivers.metadata.formatting` — repr/JSON formatting and field checks they share.

The package is cheap to import: ``pyarrow`` (for :class:`Schema`) and
``urllib.parse`` (for URL canonicalisation) are imported on first use.
"""

from __future__ import annotations

from rivers.metadata.coercion import coerce_metadata, coerce_metadata_value
from rivers.metadata.schema import SCHEMA_METADATA_KEY, Schema
from rivers.metadata.serialized import (
    deserialize_metadata,
    deserialize_metadata_value,
    extract_data_version,
    serialize_metadata,
    serialize_metadata_value,
)
from rivers.metadata.values import MetadataValue

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
