"""``PickleIOHandler``: pickled values in an object store (spec/io.md §3).

The store is anything with ``put(key, data)`` and ``get(key)``:

* ``rivers_io_fs.LocalStore(prefix=...)`` (files below a directory);
* an obstore store (``obstore.store.LocalStore``, ``MemoryStore``,
  ``S3Store``, ...) when obstore is installed — used through
  ``obstore.put``/``obstore.get``;
* any object of your own: ``get`` returns bytes (or a buffer, or an object
  with a ``bytes()`` method like obstore's ``GetResult``) and raises a
  ``FileNotFoundError`` (or ``KeyError``) for a missing key.

Object keys: ``"<asset>.pkl"``, ``"<asset>/<suffix>/data.pkl"`` for a
partition (the suffix of the partition's key, as the in-memory handler
computes it), both prefixed with ``"<prefix>/"`` when ``prefix`` is set. A
batched step's one value (see :mod:`rivers.io_handlers.partition_keys`) is
stored once at ``"<asset>/__batch__/<batch id>/data.pkl"``, its keys at
``".../keys.json"``, the batch id appended to ``"<asset>/__batch__/index.json"``
(read only when a value is missing, to say which batch holds it), and the
members' own objects are deleted (with a store that cannot delete, each
member's object holds a small pickled
:class:`~rivers.io_handlers.partition_keys.BatchRef` instead).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from rivers.io_handlers.base import BaseIOHandler
from rivers.io_handlers.partition_keys import (
    BATCH_SEGMENT,
    NOT_STORED,
    BatchRef,
    batch_manifest,
    batch_of,
    load_partitions,
    manifest_batch,
    partition_suffix,
)
from rivers.io_handlers.serialization import PICKLE
from rivers.metadata import MetadataValue

if TYPE_CHECKING:
    from rivers.context import InputContext, OutputContext

__all__ = ["PickleIOHandler", "object_key"]

_SERIALIZER = MetadataValue.text("pickle")


def object_key(asset_name: str, partition: Any, prefix: str = "") -> str:
    """The object key of a value: ``[<prefix>/]<asset>.pkl`` or ``[<prefix>/]<asset>/<suffix>/data.pkl``.

    ``partition`` is a partition context (its first key is used) or ``None``.
    """
    return _key(asset_name, None if partition is None else partition.key, prefix)


def _key(asset_name: str, partition_key: Any, prefix: str) -> str:
    if partition_key is None:
        key = f"{asset_name}.pkl"
    else:
        key = f"{asset_name}/{partition_suffix(partition_key)}/data.pkl"
    return f"{prefix}/{key}" if prefix else key


def _batch_key(asset_name: str, batch_id: str | None, prefix: str, name: str = "data.pkl") -> str:
    """``<asset>/__batch__/<batch id>/<name>``, or ``<asset>/__batch__/<name>`` without an id."""
    key = f"{asset_name}/{BATCH_SEGMENT}/{name}" if batch_id is None else \
        f"{asset_name}/{BATCH_SEGMENT}/{batch_id}/{name}"
    return f"{prefix}/{key}" if prefix else key


_INDEX = "index.json"
_MANIFEST = "keys.json"
_MISSING = (FileNotFoundError, KeyError)


def _is_obstore(store: Any) -> bool:
    return type(store).__module__.split(".", 1)[0] == "obstore"


def _put(store: Any, key: str, data: bytes) -> None:
    if _is_obstore(store):
        import obstore

        obstore.put(store, key, data)
    else:
        store.put(key, data)


def _delete(store: Any, key: str) -> bool:
    """Delete ``key`` (a missing one is fine); False when the store cannot delete."""
    if _is_obstore(store):
        import obstore

        remove = lambda: obstore.delete(store, key)  # noqa: E731
    else:
        method = getattr(store, "delete", None)
        if not callable(method):
            return False
        remove = lambda: method(key)  # noqa: E731
    try:
        remove()
    except _MISSING:
        pass
    return True


def _get(store: Any, key: str) -> Any:
    if _is_obstore(store):
        import obstore

        result = obstore.get(store, key)
    else:
        result = store.get(key)
    if isinstance(result, (bytes, bytearray, memoryview)):
        return result
    read = getattr(result, "bytes", None)
    return read() if callable(read) else result


class PickleIOHandler(BaseIOHandler):
    """Pickles every value into ``store`` under a key derived from the asset name.

    ``PickleIOHandler(store=LocalStore(prefix="data"), prefix="v1")``.
    Output metadata: ``path`` (the object key), ``serializer`` (``"pickle"``),
    ``size_bytes`` and ``write_duration_s`` (float, rounded to 6 places).
    Loading a missing value raises the store's not-found error (a
    ``FileNotFoundError`` for obstore and ``LocalStore``).
    """

    store: Any
    prefix: str = ""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        store = self.store
        if not (_is_obstore(store) or (callable(getattr(store, "put", None)) and callable(getattr(store, "get", None)))):
            raise TypeError(
                f"PickleIOHandler store must be an object store with put(key, data) and get(key) "
                f"(rivers_io_fs.LocalStore, an obstore store, ...), got {type(store).__name__}"
            )
        if not isinstance(self.prefix, str):
            raise TypeError(f"PickleIOHandler prefix must be a str, got {type(self.prefix).__name__}")
        self.prefix = self.prefix.strip("/")

    def key_for(self, context: Any) -> str:
        """The object key of ``context``'s value."""
        return object_key(context.asset_name, context.partition, self.prefix)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        start = time.perf_counter()
        batch = batch_of(context.partition)
        data = PICKLE.dumps(obj)
        if batch is None:
            key = self.key_for(context)
            _put(self.store, key, data)
        else:
            key = self._write_batch(context, batch, data)
        context.add_output_metadata(
            {
                "path": MetadataValue.path(key),
                "serializer": _SERIALIZER,
                "size_bytes": len(data),
                "write_duration_s": round(time.perf_counter() - start, 6),
            }
        )

    def _write_batch(self, context: OutputContext, batch: BatchRef, data: bytes) -> str:
        """One value, manifest and index entry for the batch; the members' own objects go."""
        name, prefix, store = context.asset_name, self.prefix, self.store
        keys = context.partition.keys
        key = _batch_key(name, batch.batch_id, prefix)
        _put(store, key, data)
        _put(store, _batch_key(name, batch.batch_id, prefix, _MANIFEST), batch_manifest(batch, keys))
        index_key = _batch_key(name, None, prefix, _INDEX)
        known = [ident for ident in self._batch_ids(index_key) if ident != batch.batch_id]
        _put(store, index_key, json.dumps([*known, batch.batch_id]).encode())
        reference = None
        for member in keys:
            member_key = _key(name, member, prefix)
            if not _delete(store, member_key):  # a store without delete: say where the value is instead
                reference = reference or PICKLE.dumps(batch)
                _put(store, member_key, reference)
        return key

    def _batch_ids(self, index_key: str) -> list[str]:
        try:
            return list(json.loads(bytes(_get(self.store, index_key))))  # get may return any buffer
        except _MISSING:
            return []
        except ValueError:
            return []  # an unreadable index only costs the BatchValueError of a missing value

    def _batch_holding(self, name: str, key: Any) -> BatchRef | None:
        """The newest batch of ``name`` whose manifest lists ``key`` (a missing value's cold path)."""
        for ident in reversed(self._batch_ids(_batch_key(name, None, self.prefix, _INDEX))):
            try:
                batch = manifest_batch(bytes(_get(self.store, _batch_key(name, ident, self.prefix, _MANIFEST))), key)
            except _MISSING:
                continue
            if batch is not None:
                return batch
        return None

    def load_input(self, context: InputContext) -> Any:
        """The stored value; several partition keys load ``{key: value}``, or their batch's one value."""
        store = self.store
        if context.partition is None:
            return PICKLE.loads(_get(store, self.key_for(context)))
        name, prefix = context.asset_name, self.prefix

        def load_batch(batch_id: str) -> Any:
            try:
                data = _get(store, _batch_key(name, batch_id, prefix))
            except _MISSING:
                return NOT_STORED
            return PICKLE.loads(data)

        def load_one(key: Any) -> Any:
            try:
                data = _get(store, _key(name, key, prefix))
            except _MISSING as missing:
                batch = self._batch_holding(name, key)
                if batch is None:
                    raise
                raise batch.error(name, key) from missing
            return PICKLE.loads(data)

        return load_partitions(context, load_one, load_batch)
