"""Validation and normalisation of asset options shared by every asset kind, and the base of assets and tasks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from rivers.exceptions import AssetDefinitionError
from rivers.io_handlers.base import BaseIOHandler
from rivers.partitions.base import PartitionsDefinition

if TYPE_CHECKING:
    from rivers.definitions.hooks import Hook
    from rivers.definitions.retry import RetryPolicy
    from rivers.definitions.signature import FunctionSignature

HANDLER_TYPE_MESSAGE = "io_handler must be a BaseIOHandler subclass instance or a string resource reference"


def normalize_kinds(kinds: str | Sequence[str] | None) -> list[str]:
    """``kinds`` is always a list: a str becomes a one-item list, None an empty one."""
    if kinds is None:
        return []
    if isinstance(kinds, str):
        return [kinds]
    return list(kinds)


def check_metadata(metadata: dict[str, str] | None, owner: str) -> dict[str, str] | None:
    """Static metadata: a dict of str to str."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict):
        raise TypeError(f"{owner}: metadata must be a dict[str, str], got {type(metadata).__name__}")
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"{owner}: static metadata values must be str, got {type(value).__name__} for key {key!r}; "
                "convert the value with str() or record it as output metadata at run time "
                "(context.add_output_metadata)"
            )
    return dict(metadata)


def check_io_handler(handler: object) -> BaseIOHandler | str | None:
    """An IO handler instance, the name of a resource holding one, or None."""
    if handler is None or isinstance(handler, (BaseIOHandler, str)):
        return handler
    hint = ""
    if isinstance(handler, type) and issubclass(handler, BaseIOHandler):
        hint = f"; pass an instance, e.g. io_handler={handler.__name__}()"
    elif hasattr(handler, "handle_output") and hasattr(handler, "load_input"):
        hint = f"; {type(handler).__name__} has the methods but must subclass rivers.BaseIOHandler"
    raise AssetDefinitionError(HANDLER_TYPE_MESSAGE + hint)


def check_partitions_def(partitions_def: object) -> PartitionsDefinition | str | None:
    """A PartitionsDefinition, the name of a registered one, or None."""
    if partitions_def is None or isinstance(partitions_def, (PartitionsDefinition, str)):
        return partitions_def
    raise ValueError(
        f"partitions_def must be a PartitionsDefinition or a str naming one registered in "
        f"CodeRepository(partition_defs=...), got {type(partitions_def).__name__}"
    )


def check_retry(retry: object) -> RetryPolicy | str | None:
    """A RetryPolicy, the name of a registered one, or None."""
    from rivers.definitions.retry import RetryPolicy

    if retry is None or isinstance(retry, (RetryPolicy, str)):
        return retry
    raise ValueError("retry must be a RetryPolicy or a str naming a registered policy")


def check_hooks(hooks: Sequence[Hook] | None, owner: str) -> list[Hook] | None:
    """Hooks must be Hook objects bound to a function."""
    from rivers.definitions.hooks import Hook

    if hooks is None:
        return None
    checked = list(hooks)
    for hook in checked:
        if not isinstance(hook, Hook):
            raise AssetDefinitionError(
                f"{owner}: hooks must be created with rs.Hook.success or rs.Hook.failure, got {type(hook).__name__}"
            )
        if hook.func is None:
            raise AssetDefinitionError(f"{owner}: hook '{hook.name}' is not bound to a function")
    return checked


def normalize_pool(pool: str | Sequence[str] | None, pool_slots: int | dict[str, int] | None) -> list[tuple[str, int]]:
    """``(pool, slots)`` pairs; every pool claims one slot unless told otherwise."""
    if pool is None:
        return []
    if isinstance(pool, str):
        names = [pool]
    elif isinstance(pool, (list, tuple)) and all(isinstance(p, str) for p in pool):
        names = list(pool)
    else:
        raise AssetDefinitionError("pool must be a string or list of strings")
    if any(not name for name in names):
        raise AssetDefinitionError("pool names must not be empty")
    if pool_slots is None:
        return [(name, 1) for name in names]
    if isinstance(pool_slots, bool) or not isinstance(pool_slots, (int, dict)):
        raise AssetDefinitionError("pool_slots must be an int or dict[str, int]")
    if isinstance(pool_slots, int):
        if pool_slots < 0:
            raise AssetDefinitionError("pool_slots must be an int or dict[str, int] of non-negative slots")
        return [(name, pool_slots) for name in names]
    for key, slots in pool_slots.items():
        if key not in names:
            listed = "[" + ", ".join(f'"{n}"' for n in names) + "]"
            raise AssetDefinitionError(f"pool_slots key '{key}' not in pool list {listed}")
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 0:
            raise AssetDefinitionError("pool_slots must be an int or dict[str, int] of non-negative slots")
    return [(name, pool_slots.get(name, 1)) for name in names]


def check_tags(tags: Sequence[str] | Mapping[str, str] | None, owner: str) -> list[str] | None:
    """Asset tags are a list of strings; a dict (Dagster's form) becomes ``"key=value"`` strings.

    ``{"team": "data", "pii": ""}`` is ``["team=data", "pii"]``: what the
    selection ``tag:team=data`` (or ``AssetSelection.tag("team", "data")``)
    and ``tag:pii`` match.
    """
    if tags is None:
        return None
    if isinstance(tags, Mapping):
        if not all(isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items()):
            raise TypeError(
                f"{owner}: a tags dict maps non-empty str keys to str values, e.g. tags={{'team': 'data'}}; "
                f"got {dict(tags)!r}"
            )
        return [f"{key}={value}" if value else key for key, value in tags.items()]
    if isinstance(tags, str) or not all(isinstance(t, str) for t in tags):
        raise TypeError(f"{owner}: tags must be a list of strings, e.g. tags=['etl']")
    return list(tags)


class FunctionDefinition:
    """Base of :class:`~rivers.Asset` and :class:`~rivers.Task`: the bound function and the handler as given."""

    __slots__ = ()

    _fn: Callable[..., Any] | None
    _signature: FunctionSignature | None
    _io_handler: BaseIOHandler | str | None

    @property
    def fn(self) -> Callable[..., Any] | None:
        """The decorated function (None before binding)."""
        return self._fn

    @property
    def signature(self) -> FunctionSignature | None:
        """The bound function's parameters as the graph wires them (None before binding)."""
        return self._signature

    @property
    def io_handler_spec(self) -> BaseIOHandler | str | None:
        """The handler as given: an instance, the key of a resource holding one (a ``str``), or None."""
        return self._io_handler
