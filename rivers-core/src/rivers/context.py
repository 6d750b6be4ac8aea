"""Context objects handed to user code: execution, IO and hook contexts.

All but :class:`HookContext` can be constructed directly, so user code and IO
handlers can be unit-tested without a repository.
"""

from __future__ import annotations

import logging
import types
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rivers.exceptions import PartitionValidationError
from rivers.metadata import MetadataValue, coerce_metadata

if TYPE_CHECKING:
    from datetime import datetime

    from rivers.partitions.context import PartitionContext
    from rivers.partitions.keys import PartitionKey


class _Frozen:
    """Public attributes are read-only once the context exists.

    Contexts are frozen, as upstream's are: user code reads them, and only the
    metadata / data-version / failed-partition methods change them. The
    engine keeps its bookkeeping in private (``_``-prefixed) slots.
    """

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        raise AttributeError(f"'{type(self).__name__}' attribute '{name}' is read-only")

    def __delattr__(self, name: str) -> None:
        if name.startswith("_"):
            object.__delattr__(self, name)
            return
        raise AttributeError(f"'{type(self).__name__}' attribute '{name}' is read-only")


_set = object.__setattr__


class _MetadataCollector:
    """Output metadata and data version accumulated by a context."""

    __slots__ = ()

    _metadata: dict[str, MetadataValue] | None
    _data_version: str | None

    def add_output_metadata(self, metadata: Mapping[str, object]) -> None:
        """Add metadata to the output's event; values are coerced to MetadataValue."""
        coerced = coerce_metadata(metadata)
        if self._metadata is None:
            _set(self, "_metadata", coerced)
        else:
            self._metadata.update(coerced)

    @property
    def output_metadata(self) -> dict[str, MetadataValue] | None:
        """Metadata added so far, or ``None`` when there is none."""
        return self._metadata or None

    def register_data_version(self, version: str) -> None:
        """Use ``version`` as the output's data version instead of a random one."""
        if not isinstance(version, str):
            raise TypeError(f"data version must be a str, got {type(version).__name__}")
        _set(self, "_data_version", version)

    @property
    def registered_data_version(self) -> str | None:
        """The data version registered so far (``None`` when none), without clearing it."""
        return self._data_version

    def drain_data_version(self) -> str | None:
        """Return the registered data version and clear it."""
        version = self._data_version
        _set(self, "_data_version", None)
        return version


class _PartitionAccess:
    """``partition_key`` / ``partition_time_window`` for contexts carrying a partition."""

    __slots__ = ()
    #: the step's :class:`~rivers.partitions.PartitionContext`, None when it runs unpartitioned (``Any``, not
    #: Optional: code that knows the step is partitioned reads ``partition.keys`` without a check)
    partition: Any
    _kind_noun = "asset"

    @property
    def has_partition_key(self) -> bool:
        """Whether the step runs for a partition."""
        return self.partition is not None

    @property
    def partition_key(self) -> str:
        """The single partition key string of this step."""
        partition = self.partition
        if partition is None:
            raise PartitionValidationError(
                f"No partition key available — {self._kind_noun} is not partitioned"
            )
        keys = partition.keys
        if len(keys) > 1:
            raise PartitionValidationError(
                "partition_key is ambiguous for a batched (SingleRun/PerDimension) run; "
                "use context.partition.keys instead"
            )
        key = keys[0]
        single = getattr(key, "single_value", None)
        value = single() if callable(single) else (key if isinstance(key, str) else None)
        if value is None:
            raise PartitionValidationError("partition_key is only available for single-key partitions")
        return value

    @property
    def partition_time_window(self) -> tuple[datetime, datetime] | None:
        """``(start, end)`` of a time-window partition, else ``None``."""
        return None if self.partition is None else self.partition.time_window()


class AssetExecutionContext(_Frozen, _MetadataCollector, _PartitionAccess):
    """Context of an asset step; subscript with a config class: ``AssetExecutionContext[Cfg]``."""

    __slots__ = (
        "asset_name",
        "tags",
        "kinds",
        "group",
        "code_version",
        "asset_metadata",
        "partition",
        "is_multi_asset",
        "output_selection",
        "config",
        "run_id",
        "_metadata",
        "_data_version",
        "_failed_partitions",
    )
    asset_name: str
    tags: list[str] | None
    kinds: list[str]
    group: str | None
    code_version: str | None
    asset_metadata: dict[str, str] | None
    is_multi_asset: bool
    output_selection: list[str]
    config: Any
    run_id: str | None
    _failed_partitions: list[tuple[PartitionKey | str, str]]

    def __init__(
        self,
        asset_name: str,
        tags: list[str] | None = None,
        kinds: Sequence[str] | None = None,
        group: str | None = None,
        code_version: str | None = None,
        asset_metadata: dict[str, str] | None = None,
        partition: PartitionContext | None = None,
        is_multi_asset: bool = False,
        output_selection: Sequence[str] | None = None,
        config: Any = None,
        run_id: str | None = None,
    ) -> None:
        _set(self, "asset_name", asset_name)
        _set(self, "tags", tags)
        _set(self, "kinds", list(kinds or []))
        _set(self, "group", group)
        _set(self, "code_version", code_version)
        _set(self, "asset_metadata", asset_metadata)
        _set(self, "partition", partition)
        _set(self, "is_multi_asset", is_multi_asset)
        _set(self, "output_selection", list(output_selection or []))
        _set(self, "config", config)
        _set(self, "run_id", run_id)
        _set(self, "_metadata", None)
        _set(self, "_data_version", None)
        _set(self, "_failed_partitions", [])

    def __class_getitem__(cls, item: object) -> types.GenericAlias:
        return types.GenericAlias(cls, item)

    @property
    def log(self) -> logging.Logger:
        """Logger ``code-repo.assets.<asset_name>``; records are kept with the run."""
        return logging.getLogger(f"code-repo.assets.{self.asset_name}")

    def mark_partition_failed(self, partition_key: PartitionKey | str, error: str) -> None:
        """Record one key of a batched step as failed while the step returns normally."""
        from rivers.exceptions import ExecutionError

        keys = [] if self.partition is None else list(self.partition.keys)
        if isinstance(partition_key, str):  # "2024-01-01" for PartitionKey.single("2024-01-01")
            by_text = {str(key): key for key in keys}
            partition_key = by_text.get(partition_key, partition_key)
        if partition_key not in keys:
            raise ExecutionError(f"partition key {partition_key!r} is not in this context's partition keys")
        self._failed_partitions.append((partition_key, error))

    @property
    def failed_partitions(self) -> list[tuple[PartitionKey | str, str]]:
        """``(key, error)`` of every key marked with :meth:`mark_partition_failed` so far."""
        return self._failed_partitions

    def __repr__(self) -> str:
        return f"AssetExecutionContext(asset_name={self.asset_name!r})"


class TaskExecutionContext(_Frozen, _PartitionAccess):
    """Context of a task step (standalone or inside a graph asset)."""

    __slots__ = ("task_name", "tags", "partition", "config", "run_id")
    task_name: str
    tags: list[str] | None
    config: Any
    run_id: str | None
    _kind_noun = "task"

    def __init__(
        self,
        task_name: str,
        tags: list[str] | None = None,
        partition: PartitionContext | None = None,
        config: Any = None,
        run_id: str | None = None,
    ) -> None:
        _set(self, "task_name", task_name)
        _set(self, "tags", tags)
        _set(self, "partition", partition)
        _set(self, "config", config)
        _set(self, "run_id", run_id)

    def __class_getitem__(cls, item: object) -> types.GenericAlias:
        return types.GenericAlias(cls, item)

    @property
    def log(self) -> logging.Logger:
        """Logger ``code-repo.tasks.<task_name>``; records are kept with the run."""
        return logging.getLogger(f"code-repo.tasks.{self.task_name}")

    def __repr__(self) -> str:
        return f"TaskExecutionContext(task_name={self.task_name!r})"


class OutputContext(_Frozen, _MetadataCollector):
    """What an IO handler's ``handle_output`` knows about the value it writes."""

    __slots__ = ("asset_name", "asset_metadata", "partition", "type_hint", "run_id", "_metadata", "_data_version")
    asset_name: str
    asset_metadata: dict[str, str] | None
    #: a PartitionContext or None, as on the execution contexts (``Any`` for the same reason)
    partition: Any
    type_hint: object
    run_id: str | None

    def __init__(
        self,
        asset_name: str,
        asset_metadata: dict[str, str] | None = None,
        partition: PartitionContext | None = None,
        type_hint: object = None,
        run_id: str | None = None,
        metadata: dict[str, MetadataValue] | None = None,
    ) -> None:
        """``metadata``: output metadata collected before the handler runs (the handler adds to it)."""
        _set(self, "asset_name", asset_name)
        _set(self, "asset_metadata", asset_metadata)
        _set(self, "partition", partition)
        _set(self, "type_hint", type_hint)
        _set(self, "run_id", run_id)
        _set(self, "_metadata", metadata)
        _set(self, "_data_version", None)

    def __repr__(self) -> str:
        return f"OutputContext(asset_name={self.asset_name!r})"


class InputContext(_Frozen):
    """What an IO handler's ``load_input`` knows about the value it loads."""

    __slots__ = ("asset_name", "downstream_asset", "asset_metadata", "partition", "type_hint")
    asset_name: str
    downstream_asset: str
    asset_metadata: dict[str, str] | None
    partition: PartitionContext | None
    type_hint: object

    def __init__(
        self,
        asset_name: str,
        downstream_asset: str,
        asset_metadata: dict[str, str] | None = None,
        partition: PartitionContext | None = None,
        type_hint: object = None,
    ) -> None:
        _set(self, "asset_name", asset_name)
        _set(self, "downstream_asset", downstream_asset)
        _set(self, "asset_metadata", asset_metadata)
        _set(self, "partition", partition)
        _set(self, "type_hint", type_hint)

    def __repr__(self) -> str:
        return f"InputContext(asset_name={self.asset_name!r}, downstream_asset={self.downstream_asset!r})"


class HookContext(_Frozen):
    """What a success or failure hook receives (created by the engine only).

    ``partition_key`` is the :class:`~rivers.PartitionKey` the step ran for
    (``None`` for an unpartitioned asset, also within a partitioned run).
    """

    __slots__ = ("asset_name", "run_id", "hook_type", "output", "error", "metadata", "config", "partition_key")
    asset_name: str
    run_id: str
    hook_type: str
    output: Any
    error: str | None
    metadata: dict[str, str] | None
    config: Any
    partition_key: PartitionKey | None

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("cannot create 'HookContext' instances: the engine creates them for hooks")

    @classmethod
    def create(
        cls,
        *,
        asset_name: str,
        run_id: str,
        hook_type: str,
        output: Any = None,
        error: str | None = None,
        metadata: dict[str, str] | None = None,
        config: Any = None,
        partition_key: PartitionKey | None = None,
    ) -> HookContext:
        """The context the engine passes to a success or failure hook (``HookContext(...)`` itself raises)."""
        self = object.__new__(cls)
        _set(self, "asset_name", asset_name)
        _set(self, "run_id", run_id)
        _set(self, "hook_type", hook_type)
        _set(self, "output", output)
        _set(self, "error", error)
        _set(self, "metadata", metadata)
        _set(self, "config", config)
        _set(self, "partition_key", partition_key)
        return self

    def __class_getitem__(cls, item: object) -> types.GenericAlias:
        return types.GenericAlias(cls, item)

    def __repr__(self) -> str:
        key = "" if self.partition_key is None else f", partition_key={str(self.partition_key)!r}"
        return f"HookContext(asset_name={self.asset_name!r}, hook_type={self.hook_type!r}{key})"
