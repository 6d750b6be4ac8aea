"""``AssetDef`` (one output of a multi-asset) and ``DepDef`` (an explicit dependency)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivers.definitions.options import (
    check_io_handler,
    check_metadata,
    check_partitions_def,
    check_tags,
    normalize_kinds,
    normalize_pool,
)
from rivers.exceptions import AssetDefinitionError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import TypeAlias

    from rivers.io_handlers.base import BaseIOHandler
    from rivers.partitions.base import PartitionsDefinition
    from rivers.partitions.mappings.base import PartitionMapping

    #: ``partition_mapping={...}``: upstream (its name, or the ``AssetDef`` of a multi-asset output) -> mapping.
    PartitionMappingTable: TypeAlias = "dict[str | AssetDef, PartitionMapping]"


class DepDef:
    """An explicit dependency: a data input (``AssetDef.input``) or a lineage edge (``AssetDef.dep``)."""

    __slots__ = ("name", "partition_mapping", "metadata", "io_handler", "is_input")

    def __init__(
        self,
        name: str,
        *,
        is_input: bool,
        partition_mapping: PartitionMapping | None = None,
        io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"dependency name must be a str, got {type(name).__name__}")
        self.name = name
        self.is_input = is_input
        self.partition_mapping = partition_mapping
        self.io_handler = check_io_handler(io_handler)
        self.metadata = check_metadata(metadata, f"AssetDef.input({name!r})")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DepDef):
            return NotImplemented
        return (self.name, self.is_input, self.partition_mapping, self.metadata) == (
            other.name,
            other.is_input,
            other.partition_mapping,
            other.metadata,
        )

    def __hash__(self) -> int:
        return hash((self.name, self.is_input))

    def __repr__(self) -> str:
        return f"DepDef.{'input' if self.is_input else 'dep'}({self.name!r})"


class AssetDef:
    """One output of a multi-asset: its node name and per-output settings."""

    __slots__ = (
        "name",
        "tags",
        "kinds",
        "group",
        "code_version",
        "_io_handler",
        "metadata",
        "partitions_def",
        "partition_mapping",
        "_pool",
        "_deps",
        "description",
    )

    def __init__(
        self,
        name: str,
        tags: list[str] | None = None,
        kinds: str | list[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
        partitions_def: PartitionsDefinition | str | None = None,
        partition_mapping: PartitionMappingTable | None = None,
        pool: str | list[str] | None = None,
        pool_slots: int | dict[str, int] | None = None,
        deps: list[DepDef] | None = None,
        description: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise TypeError("AssetDef name must be a non-empty str")
        owner = f"AssetDef({name!r})"
        self.name = name
        self.tags = check_tags(tags, owner)
        self.kinds = normalize_kinds(kinds)
        self.group = group
        self.code_version = code_version
        self._io_handler = check_io_handler(io_handler)
        self.metadata = check_metadata(metadata, owner)
        self.partitions_def = check_partitions_def(partitions_def)
        self._deps = check_deps(deps, owner)
        self.partition_mapping = _merge_mappings(partition_mapping, self._deps, owner)
        self._pool = normalize_pool(pool, pool_slots)
        self.description = description

    @staticmethod
    def input(
        name: str,
        partition_mapping: PartitionMapping | None = None,
        io_handler: BaseIOHandler | str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> DepDef:
        """A data dependency passed to the parameter ``name`` of the function."""
        return DepDef(name, is_input=True, partition_mapping=partition_mapping, io_handler=io_handler, metadata=metadata)

    @staticmethod
    def dep(name: str, partition_mapping: PartitionMapping | None = None) -> DepDef:
        """An ordering/lineage edge: runs after ``name``, nothing is loaded."""
        return DepDef(name, is_input=False, partition_mapping=partition_mapping)

    @property
    def pool(self) -> list[tuple[str, int]]:
        """Normalised ``(pool, slots)`` pairs."""
        return list(self._pool)

    @property
    def deps(self) -> list[DepDef]:
        """Dependencies declared on this output."""
        return list(self._deps)

    @property
    def io_handler(self) -> BaseIOHandler | None:
        """The output's handler instance (a string reference reads back as None)."""
        return None if isinstance(self._io_handler, str) else self._io_handler

    @property
    def io_handler_spec(self) -> BaseIOHandler | str | None:
        """The handler as given: an instance, the key of a resource holding one (a ``str``), or None."""
        return self._io_handler

    def _key(self) -> tuple[object, ...]:
        return (
            self.name,
            tuple(self.tags or ()),
            tuple(self.kinds),
            self.group,
            self.code_version,
            tuple(sorted((self.metadata or {}).items())),
            tuple(self._pool),
            id(self.partitions_def) if self.partitions_def is not None else None,
            id(self._io_handler) if self._io_handler is not None else None,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AssetDef):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return f"AssetDef({self.name!r})"


def mapping_key_name(key: str | AssetDef) -> str:
    """The upstream name a ``partition_mapping`` key stands for (a str or an ``AssetDef``)."""
    return key.name if isinstance(key, AssetDef) else key


def check_deps(deps: Iterable[DepDef] | None, owner: str) -> list[DepDef]:
    """``deps`` as a list (None: empty), each made with ``AssetDef.input``/``AssetDef.dep``; else names ``owner``."""
    checked = list(deps or [])
    for dep in checked:
        if not isinstance(dep, DepDef):
            raise AssetDefinitionError(
                f"{owner}: deps must be created with rs.AssetDef.input(...) or rs.AssetDef.dep(...), "
                f"got {type(dep).__name__}"
            )
    return checked


def _merge_mappings(partition_mapping: PartitionMappingTable | None, deps: list[DepDef],
                    owner: str) -> PartitionMappingTable | None:
    """``partition_mapping`` plus the mappings carried by ``deps``; a disagreement is an error."""
    if partition_mapping is not None and not isinstance(partition_mapping, dict):
        raise TypeError(f"{owner}: partition_mapping must be a dict of upstream name to PartitionMapping")
    merged = dict(partition_mapping or {})
    by_name = {mapping_key_name(key): key for key in merged}
    for dep in deps:
        if dep.partition_mapping is None:
            continue
        key = by_name.get(dep.name)
        if key is None:
            merged[dep.name] = dep.partition_mapping
            by_name[dep.name] = dep.name
        elif merged[key] != dep.partition_mapping:
            raise AssetDefinitionError(
                f"{owner}: the partition mapping of {dep!r} conflicts with the entry for '{dep.name}' in "
                "partition_mapping={...}; declare the mapping in one place"
            )
    return merged or None
