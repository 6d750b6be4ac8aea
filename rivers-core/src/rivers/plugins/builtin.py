"""Core's own components, registered through the public hooks like any plugin.

Heavy modules (executors, storage backends) are imported inside the hook
implementations and factories, so registering this plugin costs nothing and
the imports happen only when a component of that kind is first looked up.

The hook implementations below carry :data:`rivers.plugins.hookimpl`, as a
third party's must (the mark does not import pluggy: while they are the
only plugin, the manager calls them directly and pluggy is not imported).
Core's partition types (static, time windows, multi, dynamic) come through
``rivers_partition_types`` like a plugin's, so ``rivers plugins`` lists them.

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
from rivers.plugins import hookimpl

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


@hookimpl
def rivers_io_handlers() -> dict[str, type[BaseIOHandler]]:
    """``memory``: the in-process default handler."""
    from rivers.io_handlers.memory import InMemoryIOHandler

    return {"memory": InMemoryIOHandler}


@hookimpl
def rivers_executors() -> dict[str, Callable[..., Executor]]:
    """``in_process`` (and ``parallel`` once the engine provides it)."""
    from rivers.execution.executors import Executor

    executors: dict[str, Callable[..., Executor]] = {"in_process": Executor.in_process}
    parallel = getattr(Executor, "parallel", None)
    if parallel is not None:
        executors["parallel"] = parallel
    return executors


@hookimpl
def rivers_storage_backends() -> dict[str, Callable[..., Storage]]:
    """``memory://`` and ``sqlite:///path`` (see the module docstring)."""
    return {"memory": memory_storage, "sqlite": sqlite_storage}


@hookimpl
def rivers_partition_types() -> dict[str, type]:
    """``static``, ``time_window``, ``multi`` and ``dynamic``: core's partitions definitions."""
    from rivers.partitions.dynamic import DynamicPartitions
    from rivers.partitions.multi import MultiPartitions
    from rivers.partitions.static import StaticPartitions
    from rivers.partitions.time.window import TimeWindowPartitions

    return {"static": StaticPartitions, "time_window": TimeWindowPartitions, "multi": MultiPartitions,
            "dynamic": DynamicPartitions}


def memory_storage(url: str, **config: Any) -> Storage:
    """Create an in-process store for ``memory://``."""
    from rivers.storage.memory import MemoryStorage

    return MemoryStorage(**config)


def sqlite_storage(url: str, **config: Any) -> Storage:
    """Create a SQLite store for ``sqlite:///relative.db`` or ``sqlite:////abs.db``."""
    from rivers.storage.sqlite import SqliteStorage

    return SqliteStorage(sqlite_path(url), **config)


def open_memory_storage() -> Storage:
    """A fresh in-memory store (``Storage.memory()``)."""
    from rivers.storage.memory import MemoryStorage

    return MemoryStorage()


def open_embedded_storage(path: str | os.PathLike[str], *, commit_delay: float | None = None) -> Storage:
    """The embedded SQLite store at ``path`` (``Storage.embedded()``)."""
    from rivers.storage.sqlite import SqliteStorage

    return SqliteStorage(path, commit_delay=commit_delay)


def migrate_embedded_storage(path: str | os.PathLike[str]) -> None:
    """Apply every pending migration to the embedded store at ``path``; a missing file stays missing."""
    from rivers.storage.sqlite import migrate_file, resolve_path

    if os.fspath(path) == ":memory:" or os.path.exists(resolve_path(path, create_parent=False)):
        migrate_file(path)


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
