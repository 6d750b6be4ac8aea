"""Core's own components, registered through the public hooks like any plugin.

Heavy modules (executors, storage backends) are imported inside the hook
implementations and factories, so registering this plugin costs nothing and
the imports happen only when a component of that kind is first looked up.

The hook implementations below are marked with :data:`rivers.plugins.hookimpl`
when the plugin manager registers this module with pluggy
(:data:`HOOK_IMPLEMENTATIONS`), not at import: while they are the only
plugin, the manager calls them directly and pluggy is not imported.

Storage URLs handled here:

* ``memory://`` — an in-process store, lost when the process exits.
* ``sqlite:///relative/path.db`` — SQLite file relative to the current working
  directory (three slashes); ``sqlite:////abs/path.db`` — absolute path (four
  slashes); ``sqlite:///:memory:`` — a private in-memory SQLite database.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from rivers.exceptions import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Callable

    from rivers.execution.executors import Executor
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.storage import Storage

#: Name under which this plugin is registered.
PLUGIN_NAME = "rivers.builtin"
#: Distribution providing the built-ins.
DISTRIBUTION = "rivers-core"

_SQLITE_PREFIX = "sqlite:///"


def rivers_io_handlers() -> dict[str, type[BaseIOHandler]]:
    """``memory``: the in-process default handler."""
    from rivers.io_handlers.memory import InMemoryIOHandler

    return {"memory": InMemoryIOHandler}


def rivers_executors() -> dict[str, Callable[..., Executor]]:
    """``in_process`` (and ``parallel`` once the engine provides it)."""
    from rivers.execution.executors import Executor

    executors: dict[str, Callable[..., Executor]] = {"in_process": Executor.in_process}
    parallel = getattr(Executor, "parallel", None)
    if parallel is not None:
        executors["parallel"] = parallel
    return executors


def rivers_storage_backends() -> dict[str, Callable[..., Storage]]:
    """``memory://`` and ``sqlite:///path`` (see the module docstring)."""
    return {"memory": memory_storage, "sqlite": sqlite_storage}


#: The hook implementations of this plugin (marked when it is registered with pluggy).
HOOK_IMPLEMENTATIONS = (rivers_io_handlers, rivers_executors, rivers_storage_backends)


def memory_storage(url: str, **config: Any) -> Storage:
    """Create an in-process store for ``memory://``."""
    from rivers.storage.memory import MemoryStorage

    return MemoryStorage(**config)


def sqlite_storage(url: str, **config: Any) -> Storage:
    """Create a SQLite store for ``sqlite:///relative.db`` or ``sqlite:////abs.db``."""
    from rivers.storage.sqlite import SqliteStorage

    return SqliteStorage(sqlite_path(url), **config)


def sqlite_path(url: str) -> str:
    """The database path of a ``sqlite:///`` URL, absolute unless ``:memory:``.

    >>> sqlite_path("sqlite:////tmp/r.db")
    '/tmp/r.db'
    """
    path = url[len(_SQLITE_PREFIX) :] if url.startswith(_SQLITE_PREFIX) else ""
    if not path:
        raise ConfigurationError(
            f"invalid SQLite storage URL {url!r}: expected 'sqlite:///relative/path.db' "
            "(relative to the working directory) or 'sqlite:////absolute/path.db'"
        )
    if path == ":memory:":
        return path
    return os.path.abspath(path)
