"""Success and failure hooks attached to assets."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, ClassVar

from rivers.exceptions import AssetDefinitionError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeAlias

    from rivers.context import HookContext

    #: What a hook wraps: a function of the :class:`~rivers.HookContext` (its return value is ignored).
    HookFunction: TypeAlias = "Callable[[HookContext], object]"


class Hook:
    """A callback run after an asset step succeeds or finally fails.

    Create one with ``Hook.success`` / ``Hook.failure``, bare or with a name::

        @rs.Hook.failure(name="page")
        def page(ctx: rs.HookContext): ...

    A hook that raises is logged and never fails the step.
    """

    hook_type = ""
    __slots__ = ("_name", "func")
    _name: str | None
    func: HookFunction | None
    Success: ClassVar[type[Hook]]
    Failure: ClassVar[type[Hook]]

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise TypeError("cannot create 'Hook' instances: use Hook.success or Hook.failure")

    @classmethod
    def _make(cls, func: HookFunction | None, name: str | None) -> Hook:
        hook = object.__new__(cls)
        hook._name = name
        hook.func = None
        if func is not None:
            hook._bind(func)
        return hook

    @staticmethod
    def success(func: HookFunction | None = None, *, name: str | None = None) -> Hook:
        """A hook run after the step materialized (once per output of a multi-asset)."""
        return Hook.Success._make(func, name)

    @staticmethod
    def failure(func: HookFunction | None = None, *, name: str | None = None) -> Hook:
        """A hook run once after the step's final attempt failed."""
        return Hook.Failure._make(func, name)

    def _bind(self, func: HookFunction) -> None:
        label = getattr(func, "__name__")  # non-callables fail here, like upstream
        if not callable(func):
            raise AssetDefinitionError(f"Hook '{label}' must wrap a callable")
        try:
            arity = len(inspect.signature(func).parameters)
        except (TypeError, ValueError):
            arity = 1
        if arity != 1:
            raise AssetDefinitionError(
                f"Hook function '{label}' must take exactly one parameter (the HookContext), "
                f"it takes {arity}"
            )
        self.func = func

    def __call__(self, func: HookFunction) -> Hook:
        """Bind ``func`` to a hook created with only a name."""
        if self.func is not None:
            raise AssetDefinitionError(
                "Hook is already bound to a function and cannot be called as a decorator again"
            )
        self._bind(func)
        return self

    @property
    def name(self) -> str:
        """The explicit name, else the function's ``__name__``."""
        if self._name is not None:
            return self._name
        return getattr(self.func, "__name__", "<unbound>")

    def __repr__(self) -> str:
        return f"Hook.{type(self).__name__}(name={self.name!r})"


class _Success(Hook):
    hook_type = "success"
    __slots__ = ()


class _Failure(Hook):
    hook_type = "failure"
    __slots__ = ()


_Success.__name__ = _Success.__qualname__ = "Success"
_Failure.__name__ = _Failure.__qualname__ = "Failure"
Hook.Success = _Success
Hook.Failure = _Failure
