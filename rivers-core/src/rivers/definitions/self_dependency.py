"""``SelfDependency[T]``: an asset reading its own previous value."""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")


class SelfDependency(Generic[T]):
    """Wrapper injected into a ``self: SelfDependency[T]`` parameter.

    ``get_inner()`` returns the value the asset stored on its previous run
    (for the same partition), or ``None`` when there is none yet. It adds no
    edge to the graph, so it never creates a cycle.
    """

    __slots__ = ("_inner",)

    def __init__(self, inner: T | None = None) -> None:
        self._inner = inner

    def get_inner(self) -> T | None:
        """The previously stored value, or ``None`` on the first run."""
        return self._inner

    def __repr__(self) -> str:
        return f"SelfDependency({self._inner!r})"
