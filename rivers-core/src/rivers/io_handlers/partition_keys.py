"""Helpers for handlers: where a partition's value lives, loading several partitions, batch values.

A context's ``partition`` holds one key or, when a partition mapping (or a
batched step) asks for several, many. Built-in handlers store one value per
key and load several keys as ``{key: value}`` in the context's key order,
so that a downstream asset receives every partition it asked for.

Batch values
------------
A *batched* step (a ``single_run`` or ``per_dimension`` backfill, or a run
of a multi-valued key) that returns one plain value — the common case, one
DataFrame for the whole range — hands the handler an output context whose
``partition.keys`` holds several keys. That value belongs to the **batch**
as a whole, not to any one key. A handler following this contract:

1. stores it once for the batch, identified by :func:`batch_id` (a digest
   of the set of key texts, independent of their order);
2. loads it back **as that value** for an input context over the same set
   of keys — a step over the same batch, such as the next asset of the
   chain in the same ``single_run`` backfill;
3. for a load of any other keys that meets a member of the batch (a single
   key, or a different range), raises
   :class:`~rivers.exceptions.BatchValueError` naming the asset, the key
   and the batch (its size, first and last key) — never a bare
   missing-value error, never a wrong value. A key written on its own later
   (a ``multi_run`` re-materialisation) loads as that newer value.

A batched step that returns ``{key: value}`` stores one value per key
instead, which every load can read. The helpers here: :func:`batch_of`
(the batch of an output context), :func:`load_partitions` (the load side),
:class:`BatchRef`, and a *manifest* (:func:`batch_manifest`,
:func:`manifest_batch`) recording a batch's keys, so that a handler can
find, on a missing value, the batch holding the key. The in-memory
handler leaves a :class:`BatchRef` in each member's slot;
``PickleIOHandler`` and ``rivers-io-fs`` write the value and its manifest
once per batch and remove the members' own values (one write per batch,
not per key). The conformance kit (:mod:`rivers.testing.io_handlers`)
checks the contract (``supports_batch_values``).
"""

from __future__ import annotations

from typing import Any, Callable

from rivers.exceptions import BatchValueError

__all__ = ["BATCH_SEGMENT", "NOT_STORED", "BatchRef", "batch_id", "batch_manifest", "batch_of", "load_partitions",
           "load_per_key", "manifest_batch", "partition_suffix"]

#: The path segment under which handlers with path-like keys store batch values (``<asset>/__batch__/<id>``).
BATCH_SEGMENT = "__batch__"


class _NotStored:
    """What a handler's batch lookup returns when no value is stored for the batch."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "NOT_STORED"


NOT_STORED: Any = _NotStored()


def partition_suffix(key: Any) -> str:
    """Path-like suffix of a partition key (``a``, ``a/b``, ``d=x/r=y``)."""
    suffix = getattr(key, "path_suffix", None)
    if suffix is not None:
        return suffix()
    return str(key)


def _text(key: Any) -> str:
    stored = getattr(key, "stored_text", None)
    return stored() if stored is not None else str(key)


def batch_id(keys: Any) -> str:
    """The identity of a batch: 32 hex digits of a digest of its sorted key texts (order does not matter)."""
    import hashlib  # only batched steps need it: not imported by every run

    digest = hashlib.blake2b(digest_size=16)
    for text in sorted(_text(key) for key in keys):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    return digest.hexdigest()


class BatchRef:
    """What a handler keeps in a batch member's slot: which batch holds the member's value.

    ``batch_id`` (see :func:`batch_id`), ``size`` (number of keys), and the
    display forms of the ``first`` and ``last`` key. Picklable and small;
    :meth:`to_text` / :meth:`from_text` give a one-line text form for
    handlers whose format cannot store objects.
    """

    __slots__ = ("batch_id", "size", "first", "last")

    def __init__(self, batch_id: str, size: int, first: str, last: str) -> None:
        self.batch_id = batch_id
        self.size = size
        self.first = first
        self.last = last

    def __reduce__(self) -> tuple[Any, ...]:
        return (BatchRef, (self.batch_id, self.size, self.first, self.last))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BatchRef) and self.__reduce__() == other.__reduce__()

    def __hash__(self) -> int:
        return hash(self.batch_id)

    def __repr__(self) -> str:
        return f"BatchRef({self.batch_id!r}, size={self.size}, first={self.first!r}, last={self.last!r})"

    def to_text(self) -> str:
        """``<id>\\t<size>\\t<first>\\t<last>`` (key texts never hold tabs or newlines escaped here)."""
        return "\t".join((self.batch_id, str(self.size), self.first, self.last))

    @classmethod
    def from_text(cls, text: str) -> BatchRef:
        """Inverse of :meth:`to_text`."""
        ident, size, first, last = text.split("\t", 3)
        return cls(ident, int(size), first, last)

    def error(self, asset_name: str, key: Any) -> BatchValueError:
        """The error of loading member ``key`` of this batch on its own (or with other keys)."""
        return BatchValueError(
            f"asset '{asset_name}' partition '{key}' was stored as one value for a batch of {self.size} partitions "
            f"('{self.first}' ... '{self.last}') by a batched step (single_run / per_dimension) that returned one "
            "value; load it from a step over the same partitions (e.g. the same single_run backfill), or have the "
            "batched step return {partition_key: value} to store each partition on its own",
            asset=asset_name, partition=key, batch=self,
        )


def batch_of(partition: Any) -> BatchRef | None:
    """The batch of an output context's partition (``None`` for none or one key)."""
    if partition is None:
        return None
    keys = partition.keys
    if len(keys) < 2:
        return None
    texts = [str(key) for key in keys]
    return BatchRef(batch_id(keys), len(keys), min(texts), max(texts))


def batch_manifest(batch: BatchRef, keys: Any) -> bytes:
    """The manifest of a batch: its :class:`BatchRef` and the texts of its keys, as JSON bytes."""
    import json

    return json.dumps({"batch": batch.to_text(), "keys": sorted(_text(key) for key in keys)},
                      ensure_ascii=False).encode("utf-8", "surrogatepass")


def manifest_batch(manifest: bytes, key: Any) -> BatchRef | None:
    """The batch of ``manifest`` when it holds ``key`` (None when not, or when the manifest is unreadable)."""
    import json

    try:
        data = json.loads(manifest)
        keys, batch = data["keys"], BatchRef.from_text(data["batch"])
    except (ValueError, KeyError, TypeError):
        return None
    return batch if _text(key) in keys else None


def load_per_key(context: Any, load_one: Callable[[Any], Any]) -> Any:
    """``load_one(key)`` for the context's single key, or ``{key: load_one(key)}`` for several.

    ``load_one`` receives a partition key (the first, or each); a missing
    key's error propagates, so a partial dict is never returned.
    """
    keys = context.partition.keys
    if len(keys) == 1:
        return load_one(keys[0])
    return {key: load_one(key) for key in keys}


def load_partitions(context: Any, load_one: Callable[[Any], Any], load_batch: Callable[[str], Any]) -> Any:
    """Load a partitioned input following the batch-value contract (module docstring).

    ``load_batch(batch_id)`` returns the value stored for that batch or
    :data:`NOT_STORED`; ``load_one(key)`` returns one key's stored value,
    which is a :class:`BatchRef` for a batch member. Several keys that are
    exactly a stored batch load as its value; otherwise one key loads as
    its value and several as ``{key: value}``, and a batch member raises
    :class:`~rivers.exceptions.BatchValueError`.
    """
    keys = context.partition.keys
    if len(keys) > 1:
        value = load_batch(batch_id(keys))
        if value is not NOT_STORED:
            return value

    def checked(key: Any) -> Any:
        value = load_one(key)
        if type(value) is BatchRef:
            raise value.error(context.asset_name, key)
        return value

    return load_per_key(context, checked)
