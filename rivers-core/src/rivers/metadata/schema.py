"""The Arrow schema wrapper :class:`Schema` (``pyarrow`` is imported on first use)."""

from __future__ import annotations

import builtins as _builtins

from rivers.metadata.formatting import type_name

TYPE_CHECKING = False
if TYPE_CHECKING:  # pragma: no cover - annotations only
    from typing import Any

__all__ = ["SCHEMA_METADATA_KEY", "Schema"]

_object_new = object.__new__


#: Static metadata key reserved for an asset's Arrow schema.
SCHEMA_METADATA_KEY = "rivers/schema"

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
                f"(a pyarrow/polars/arro3 schema), got {type_name(arrow_schema)}"
            )
        pa = _pyarrow()
        if isinstance(arrow_schema, pa.Schema):
            self._schema = arrow_schema
            return
        try:
            self._schema = pa.schema(arrow_schema)
        except (TypeError, ValueError, pa.ArrowException) as exc:
            raise ValueError(f"Schema() could not import an Arrow schema from {type_name(arrow_schema)}: "
                             f"{exc}") from exc
        if not isinstance(self._schema, pa.Schema):  # pragma: no cover - defensive
            raise ValueError(f"Schema() could not import an Arrow schema from {type_name(arrow_schema)}")

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
            raise TypeError(f"Schema.from_ipc() expects bytes, got {type_name(data)}")
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
