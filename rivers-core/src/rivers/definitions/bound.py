"""``FunctionDefinition``: what the graph reads from a definition bound to a function (assets, tasks)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from rivers.definitions.signature import FunctionSignature
    from rivers.io_handlers.base import BaseIOHandler

__all__ = ["FunctionDefinition"]


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
