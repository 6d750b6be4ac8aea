"""Serialisation formats shared by the IO handlers that persist bytes.

One small registry, so that the filesystem handler (``rivers-io-fs``), the
object-store handlers (``rivers-io-s3``, :class:`~rivers.io_handlers.pickle.PickleIOHandler`)
and third-party handlers turn values into bytes the same way::

    from rivers.io_handlers.serialization import get_format

    fmt = get_format("pickle")            # or "json", "parquet"
    with open("value" + fmt.extension, "wb") as f:
        fmt.write(value, f)               # streams into the file object
    with open("value" + fmt.extension, "rb") as f:
        value = fmt.read(f)

    data = fmt.dumps(value)               # bytes, for object stores
    value = fmt.loads(data)

Built-in formats:

========== =========== ===============================================================
name       extension   values
========== =========== ===============================================================
pickle     ``.pkl``    anything picklable (protocol 5, the highest)
json       ``.json``   JSON types (dict with str keys, list, str, int, float, bool, None);
                       tuples come back as lists, non-str keys as str (as ``json`` does)
parquet    ``.parquet`` pandas and polars DataFrames, pyarrow Tables and RecordBatches
                       (needs pyarrow); a value comes back as the type it was written as
========== =========== ===============================================================

``write`` streams to a binary file object, so a 100 MB value is not copied into
an intermediate ``bytes`` first (pickle writes large buffers straight through,
parquet streams row groups). Register more formats with
:func:`register_format`. Importing this module imports neither pyarrow nor
pandas; the parquet codec imports them on first use.
"""

from __future__ import annotations

import importlib.util
import io
import json
import pickle
import threading
from collections.abc import Callable, Iterable
from typing import IO, Any

from rivers.exceptions import ConfigurationError

__all__ = [
    "JSON",
    "PICKLE",
    "Format",
    "FormatUnavailableError",
    "UnknownFormatError",
    "available_formats",
    "get_format",
    "register_format",
    "unregister_format",
]


class UnknownFormatError(ConfigurationError, ValueError):
    """No serialisation format is registered under the requested name."""


class FormatUnavailableError(ConfigurationError, ImportError):
    """A format needs a library that is not installed (e.g. ``parquet`` without pyarrow)."""


Writer = Callable[[Any, IO[bytes]], None]
Reader = Callable[[IO[bytes]], Any]


class Format:
    """A named serialisation format.

    :param name: registry name (``"pickle"``).
    :param extension: file extension including the dot (``".pkl"``).
    :param write: ``write(obj, fileobj)`` serialising ``obj`` into a binary file object.
    :param read: ``read(fileobj)`` returning the value.
    :param dumps: optional faster ``dumps(obj) -> bytes``; defaults to ``write`` into a buffer.
    :param loads: optional faster ``loads(data) -> obj``; defaults to ``read`` from a buffer.
    :param requires: importable module names the format needs (checked by
        :meth:`ensure_available` without importing them).
    :param description: one line for error messages and listings.

    ``write`` may raise anything for a value it cannot represent (``TypeError``,
    ``pickle.PicklingError``, ...); handlers wrap that into their own error
    naming the asset and path. Formats hold no state, so they are shared.
    """

    __slots__ = ("name", "extension", "requires", "description", "_write", "_read", "_dumps", "_loads")

    def __init__(
        self,
        name: str,
        extension: str,
        write: Writer,
        read: Reader,
        *,
        dumps: Callable[[Any], bytes] | None = None,
        loads: Callable[[Any], Any] | None = None,
        requires: Iterable[str] = (),
        description: str = "",
    ) -> None:
        if not name or not isinstance(name, str):
            raise ValueError(f"format name must be a non-empty str, got {name!r}")
        if not isinstance(extension, str) or (extension and not extension.startswith(".")):
            raise ValueError(f"format {name!r}: extension must be empty or start with '.', got {extension!r}")
        self.name = name
        self.extension = extension
        self.requires = tuple(requires)
        self.description = description
        self._write = write
        self._read = read
        self._dumps = dumps
        self._loads = loads

    def write(self, obj: Any, fileobj: IO[bytes]) -> None:
        """Serialise ``obj`` into the binary file object ``fileobj``."""
        self._write(obj, fileobj)

    def read(self, fileobj: IO[bytes]) -> Any:
        """Deserialise a value from the binary file object ``fileobj``."""
        return self._read(fileobj)

    def dumps(self, obj: Any) -> bytes:
        """``obj`` as bytes."""
        if self._dumps is not None:
            return self._dumps(obj)
        buffer = io.BytesIO()
        self._write(obj, buffer)
        return buffer.getvalue()

    def loads(self, data: Any) -> Any:
        """The value serialised in ``data`` (bytes or any buffer)."""
        if self._loads is not None:
            return self._loads(data)
        return self._read(io.BytesIO(data))

    def missing_modules(self) -> list[str]:
        """The required modules that cannot be imported (checked without importing them)."""
        return [module for module in self.requires if importlib.util.find_spec(module) is None]

    def ensure_available(self, install: str | None = None) -> None:
        """Raise :class:`FormatUnavailableError` when a required module is missing.

        :param install: what to ``pip install`` to get them, e.g.
            ``"rivers-io-fs[parquet]"``; defaults to the module names.
        """
        missing = self.missing_modules()
        if missing:
            raise FormatUnavailableError(unavailable_message(self.name, missing, install))

    def __repr__(self) -> str:
        return f"Format({self.name!r}, extension={self.extension!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Formats travel by name: a handler pickled for a worker process finds
        # the same format in the worker's registry.
        return (get_format, (self.name,))


def unavailable_message(name: str, missing: Iterable[str], install: str | None = None) -> str:
    """``the 'parquet' format needs pyarrow, which is not installed: pip install '...'``."""
    missing = list(missing)
    target = install or " ".join(missing)
    quoted = f"'{target}'" if "[" in target else target
    modules = ", ".join(missing)
    verb = "is" if len(missing) == 1 else "are"
    return f"the {name!r} format needs {modules}, which {verb} not installed: pip install {quoted}"


# ----------------------------------------------------------------- registry
_registry: dict[str, Format] = {}
_lock = threading.Lock()


def register_format(fmt: Format, *, replace: bool = False) -> Format:
    """Add ``fmt`` to the registry; returns it.

    :raises ValueError: a format of that name exists and ``replace`` is false.
    """
    with _lock:
        existing = _registry.get(fmt.name)
        if existing is not None and existing is not fmt and not replace:
            raise ValueError(f"a format named {fmt.name!r} is already registered; pass replace=True to replace it")
        _registry[fmt.name] = fmt
    return fmt


def unregister_format(name: str) -> Format:
    """Remove and return the format ``name``."""
    with _lock:
        try:
            return _registry.pop(name)
        except KeyError:
            raise UnknownFormatError(_unknown_message(name)) from None


def get_format(name: str) -> Format:
    """The format registered as ``name``.

    :raises UnknownFormatError: listing the available formats and close matches.
    """
    try:
        return _registry[name]
    except (KeyError, TypeError):
        raise UnknownFormatError(_unknown_message(name)) from None


def available_formats() -> list[str]:
    """The names of the registered formats, sorted."""
    return sorted(_registry)


def _unknown_message(name: object) -> str:
    import difflib

    names = available_formats()
    close = difflib.get_close_matches(str(name), names, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return f"unknown serialisation format {name!r}; available formats: {', '.join(names)}.{hint}"


# ------------------------------------------------------------------- pickle
_PROTOCOL = pickle.HIGHEST_PROTOCOL


def _pickle_write(obj: Any, fileobj: IO[bytes]) -> None:
    pickle.dump(obj, fileobj, protocol=_PROTOCOL)


def _pickle_dumps(obj: Any) -> bytes:
    return pickle.dumps(obj, protocol=_PROTOCOL)


#: The built-in pickle format (default of the fs handler, used by ``PickleIOHandler``).
PICKLE = register_format(
    Format(
        "pickle",
        ".pkl",
        _pickle_write,
        pickle.load,
        dumps=_pickle_dumps,
        loads=pickle.loads,
        description="any picklable Python object (pickle protocol 5)",
    )
)


# --------------------------------------------------------------------- json
def _json_dumps(obj: Any) -> bytes:
    # json.dumps uses the C encoder; json.dump (streaming) would fall back to
    # the pure-Python one, several times slower.
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _json_write(obj: Any, fileobj: IO[bytes]) -> None:
    fileobj.write(_json_dumps(obj))


def _json_read(fileobj: IO[bytes]) -> Any:
    return json.loads(fileobj.read())


def _json_loads(data: Any) -> Any:
    if not isinstance(data, (bytes, bytearray, str)):
        data = bytes(data)
    return json.loads(data)


#: The built-in JSON format.
JSON = register_format(
    Format(
        "json",
        ".json",
        _json_write,
        _json_read,
        dumps=_json_dumps,
        loads=_json_loads,
        description="JSON documents (dict, list, str, int, float, bool, None), UTF-8",
    )
)


# ------------------------------------------------------------------ parquet
#: Schema-metadata key recording which library the table came from.
PARQUET_KIND_KEY = b"rivers:kind"


def _import_pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError as exc:
        raise FormatUnavailableError(unavailable_message("parquet", ["pyarrow"])) from exc
    return pyarrow, pyarrow.parquet


def _to_arrow(obj: Any, pa: Any) -> tuple[Any, bytes]:
    """``(pyarrow.Table, kind)`` for a supported tabular value."""
    if isinstance(obj, pa.Table):
        return obj, b"arrow"
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj]), b"arrow"
    module = type(obj).__module__
    if module.startswith("pandas") and type(obj).__name__ == "DataFrame":
        return pa.Table.from_pandas(obj), b"pandas"
    if module.startswith("polars") and type(obj).__name__ == "DataFrame":
        return obj.to_arrow(), b"polars"
    raise TypeError(
        f"the 'parquet' format stores pandas or polars DataFrames and pyarrow Tables, "
        f"got {type(obj).__module__}.{type(obj).__qualname__}; use the 'pickle' format for other values"
    )


def _parquet_write(obj: Any, fileobj: IO[bytes]) -> None:
    pa, pq = _import_pyarrow()
    table, kind = _to_arrow(obj, pa)
    metadata = dict(table.schema.metadata or {})
    metadata[PARQUET_KIND_KEY] = kind
    pq.write_table(table.replace_schema_metadata(metadata), fileobj)


def _parquet_read(fileobj: IO[bytes]) -> Any:
    pa, pq = _import_pyarrow()
    table = pq.read_table(fileobj)
    metadata = dict(table.schema.metadata or {})
    kind = metadata.pop(PARQUET_KIND_KEY, b"arrow")
    if kind == b"pandas":
        return table.to_pandas()
    table = table.replace_schema_metadata(metadata or None)
    if kind == b"polars":
        import polars

        return polars.from_arrow(table)
    return table


def _parquet_loads(data: Any) -> Any:
    pa, _ = _import_pyarrow()
    return _parquet_read(pa.BufferReader(data))


PARQUET = register_format(
    Format(
        "parquet",
        ".parquet",
        _parquet_write,
        _parquet_read,
        loads=_parquet_loads,
        requires=("pyarrow",),
        description="pandas/polars DataFrames and pyarrow Tables as Apache Parquet (needs pyarrow)",
    )
)
