"""Static partitions: a fixed list of keys."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

# PartitionsDefinition must be importable here: pickle finds this class as PartitionsDefinition.Static
from rivers.partitions.base import PartitionsDefinition, attach_variant  # noqa: F401
from rivers.partitions.keylist import KeyListDefinition
from rivers.partitions.keys import quoted

__all__ = ["StaticPartitions"]


def _key_tuple(keys: Any) -> tuple[Any, ...]:
    """The keys in order, duplicates dropped (first wins)."""
    if isinstance(keys, (str, bytes)) or not isinstance(keys, Sequence):
        raise TypeError(f"static partition keys must be a list of str, got {type(keys).__name__}")
    try:
        return tuple(dict.fromkeys(keys))
    except TypeError:
        unhashable = next(key for key in keys if not isinstance(key, str))
        raise TypeError(f"static partition keys must be str, got {type(unhashable).__name__}") from None


class StaticPartitions(KeyListDefinition):
    """``PartitionsDefinition.Static``: the keys ``keys``, in the order given.

    The raw constructor drops duplicates but skips the other checks
    (:meth:`check` runs them; ``PartitionsDefinition.static_`` does both).
    """

    __slots__ = ("_keys",)

    kind: ClassVar[str] = "static"
    title: ClassVar[str | None] = "Static"

    def __init__(self, keys: Sequence[str]) -> None:
        self._keys = _key_tuple(keys)

    @classmethod
    def create(cls, keys: Sequence[str]) -> StaticPartitions:
        """Build and check (the ``static_`` factory)."""
        definition = cls(keys)
        definition.check()
        return definition

    @property
    def keys(self) -> list[str]:
        """The keys, in definition order."""
        return list(self._keys)

    def key_values(self) -> Sequence[str]:
        return self._keys

    def __repr__(self) -> str:
        return "PartitionsDefinition.static_([" + ", ".join(quoted(str(key)) for key in self._keys) + "])"


attach_variant(StaticPartitions, "Static")
