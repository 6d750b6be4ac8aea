"""Helpers for handlers: where a partition's value lives, and loading several partitions.

A context's ``partition`` holds one key or, when a partition mapping (or a
batched step) asks for several, many. Built-in handlers store one value per
key and load several keys as ``{key: value}`` in the context's key order,
so that a downstream asset receives every partition it asked for.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["partition_suffix", "load_per_key"]


def partition_suffix(key: Any) -> str:
    """Path-like suffix of a partition key (``a``, ``a/b``, ``d=x/r=y``)."""
    suffix = getattr(key, "path_suffix", None)
    if suffix is not None:
        return suffix()
    return str(key)


def load_per_key(context: Any, load_one: Callable[[Any], Any]) -> Any:
    """``load_one(key)`` for the context's single key, or ``{key: load_one(key)}`` for several.

    ``load_one`` receives a partition key (the first, or each); a missing
    key's error propagates, so a partial dict is never returned.
    """
    keys = context.partition.keys
    if len(keys) == 1:
        return load_one(keys[0])
    return {key: load_one(key) for key in keys}
