"""The plugin registry as the layers below it reach it: a port, installed by the :mod:`rivers` package.

Partitions, storage and execution sit below the plugin registry
(:mod:`rivers.plugins`) and must not import it, yet some of their public
API looks components up by name: ``PartitionsDefinition.from_plugin``,
``Storage.connect``, ``Storage.memory``, ``Executor.from_plugin``, the
``rivers/executor`` metadata of a step, the observers of a run. They call
:func:`registry` and use the :class:`Registry` protocol; the composition
root, the :mod:`rivers` package (imported before any of its submodules),
installs the real registry with :func:`install`. A test or an embedding
application may install another one.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Registry", "install", "registry"]


class Registry(Protocol):
    """What the lower layers look up in the plugin registry (:mod:`rivers.plugins` provides each)."""

    def create_executor(self, name: str, **config: Any) -> Any:
        """The executor registered as ``name``, configured with ``config``."""

    def component_names(self, kind: str) -> list[str]:
        """The names registered for a component kind (``"executor"``, ``"partition_type"``, ...)."""

    def connect_storage(self, url: str, **config: Any) -> Any:
        """The storage backend of the URL's scheme, opened at ``url``."""

    def open_memory_storage(self) -> Any:
        """Core's in-memory store."""

    def open_embedded_storage(self, path: str | os.PathLike[str], *, commit_delay: float | None = None) -> Any:
        """Core's embedded SQLite store at ``path``."""

    def migrate_embedded_storage(self, path: str | os.PathLike[str]) -> None:
        """Apply every pending migration to the embedded store at ``path``."""

    def partition_type(self, name: str) -> type:
        """The partitions definition class registered as ``name``."""

    def get_observers(self) -> Any:
        """The observers of one run (check ``.active`` before building events)."""


_provider: Callable[[], Registry] | None = None


def install(provider: Callable[[], Registry]) -> None:
    """Make :func:`registry` return ``provider()`` (called on each use: it may import lazily)."""
    global _provider
    _provider = provider


def registry() -> Registry:
    """The installed plugin registry.

    :raises RuntimeError: when nothing installed one (``import rivers`` does).
    """
    if _provider is None:
        raise RuntimeError("no plugin registry is installed: import rivers first (it installs rivers.plugins)")
    return _provider()
