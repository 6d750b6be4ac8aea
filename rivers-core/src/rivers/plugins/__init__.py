"""The rivers plugin system: find components by name, watch runs.

Plugins implement the hooks of :mod:`rivers.hookspecs` with :data:`hookimpl`
and are found through the ``rivers`` entry-point group, or registered in code
with :func:`register`. Core's built-ins are plugins too.

Importing this module is cheap: it imports nothing (pluggy is imported once
a plugin other than the built-ins is registered, or the plugins are listed).
The shared :class:`~rivers.plugins.manager.RiversPluginManager` is created on
first use, and entry points are scanned once, on the first lookup.
``RIVERS_DISABLE_PLUGIN_AUTOLOAD=1`` skips the scan.

Typical use::

    handler = rivers.plugins.create_io_handler("s3", bucket="data")
    storage = rivers.plugins.connect_storage("sqlite:///.rivers/rivers.db")

In tests, register a plugin and unregister it afterwards::

    @pytest.fixture
    def plugin():
        plugin = rivers.plugins.register(MyPlugin())
        yield plugin
        rivers.plugins.unregister(plugin)
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rivers.execution.executors import Executor
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.plugins.components import Provider
    from rivers.plugins.events import RunFinished, RunStarted, StepFinished, StepStarted
    from rivers.plugins.manager import RiversPluginManager
    from rivers.plugins.observers import Observers
    from rivers.plugins.records import BrokenPlugin, PluginInfo
    from rivers.storage import Storage

__all__ = [
    "DISABLE_AUTOLOAD_ENV",
    "ENTRY_POINT_GROUP",
    "HookimplMarker",
    "BrokenPlugin",
    "Observers",
    "PluginInfo",
    "RiversPluginManager",
    "RunFinished",
    "RunStarted",
    "StepFinished",
    "StepStarted",
    "broken_plugins",
    "cli_commands",
    "component_names",
    "autoload_disabled",
    "connect_storage",
    "create_executor",
    "create_io_handler",
    "get_observers",
    "get_plugin_manager",
    "hookimpl",
    "io_handler_class",
    "list_plugins",
    "migrate_embedded_storage",
    "open_embedded_storage",
    "open_memory_storage",
    "partition_type",
    "register",
    "reset",
    "unregister",
]

#: The entry-point group plugins declare (``[project.entry-points.rivers]``).
ENTRY_POINT_GROUP = "rivers"
#: Set to ``1`` to skip loading plugins from entry points.
DISABLE_AUTOLOAD_ENV = "RIVERS_DISABLE_PLUGIN_AUTOLOAD"
_FALSE_VALUES = frozenset({"", "0", "false", "no", "off"})


def autoload_disabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether ``RIVERS_DISABLE_PLUGIN_AUTOLOAD`` is set to a true value.

    Any value except ``""``, ``0``, ``false``, ``no`` and ``off`` disables
    loading plugins from entry points; built-ins and plugins registered in
    code keep working.
    """
    return environ.get(DISABLE_AUTOLOAD_ENV, "").strip().lower() not in _FALSE_VALUES

_P = TypeVar("_P")

_manager: RiversPluginManager | None = None
_manager_lock = threading.Lock()

# Public names defined in submodules, imported on first attribute access.
_LAZY = {
    "RunStarted": "rivers.plugins.events",
    "StepStarted": "rivers.plugins.events",
    "StepFinished": "rivers.plugins.events",
    "RunFinished": "rivers.plugins.events",
    "BrokenPlugin": "rivers.plugins.records",
    "PluginInfo": "rivers.plugins.records",
    "Observers": "rivers.plugins.observers",
    "RiversPluginManager": "rivers.plugins.manager",
}


_F = TypeVar("_F", bound=Callable[..., Any])


class HookimplMarker:
    """Marks a function as the implementation of a rivers hook, as ``pluggy.HookimplMarker("rivers")`` does.

    It sets the same ``rivers_impl`` options on the function, which pluggy
    reads when the plugin is registered, without importing pluggy: core's
    own hook functions carry the mark and cost nothing while they are the
    only plugin. ``@hookimpl`` and ``@hookimpl(tryfirst=True, ...)`` both work.
    """

    __slots__ = ()

    def __call__(self, function: _F | None = None, *, hookwrapper: bool = False, optionalhook: bool = False,
                 tryfirst: bool = False, trylast: bool = False, specname: str | None = None,
                 wrapper: bool = False) -> Any:
        options = {"wrapper": wrapper, "hookwrapper": hookwrapper, "optionalhook": optionalhook,
                   "tryfirst": tryfirst, "trylast": trylast, "specname": specname}

        def mark(marked: _F) -> _F:
            setattr(marked, ENTRY_POINT_GROUP + "_impl", options)
            return marked

        return mark if function is None else mark(function)


#: Marks a function of a plugin as the implementation of a rivers hook.
hookimpl = HookimplMarker()


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)


def get_plugin_manager() -> RiversPluginManager:
    """The shared plugin manager, created (with the built-ins) on first call."""
    global _manager
    manager = _manager
    if manager is None:
        with _manager_lock:
            if _manager is None:
                from rivers.plugins.manager import RiversPluginManager

                _manager = RiversPluginManager()
            manager = _manager
    return manager


def reset() -> None:
    """Forget the shared manager: the next use rescans entry points.

    Plugins registered in code are dropped. Useful after installing a plugin
    in a running notebook, and in tests that change the installed plugins.
    """
    global _manager
    with _manager_lock:
        _manager = None


def register(plugin: _P, name: str | None = None) -> _P:
    """Register a plugin object in code (tests, notebooks); returns ``plugin``.

    See :meth:`RiversPluginManager.register`.
    """
    return get_plugin_manager().register(plugin, name)


def unregister(plugin_or_name: object) -> object:
    """Unregister a plugin given as the object or its name; returns the plugin."""
    return get_plugin_manager().unregister(plugin_or_name)


def io_handler_class(name: str) -> type[BaseIOHandler]:
    """The IO handler class called ``name`` (``"memory"``, ``"s3"``, ...).

    :raises PluginNotFoundError: naming the available handlers and what to install.
    :raises PluginConflictError: if two plugins provide ``name``.
    """
    return get_plugin_manager().io_handler_class(name)


def create_io_handler(name: str, **config: Any) -> BaseIOHandler:
    """Instantiate the IO handler ``name`` with ``config`` as its settings."""
    return get_plugin_manager().create_io_handler(name, **config)


def create_executor(name: str, **config: Any) -> Executor:
    """Create the executor ``name`` (``"in_process"``, ``"kubernetes"``) with ``config``."""
    return get_plugin_manager().create_executor(name, **config)


def connect_storage(url: str, **config: Any) -> Storage:
    """Open a storage chosen by the scheme of ``url`` (``sqlite:///.rivers/rivers.db``)."""
    return get_plugin_manager().connect_storage(url, **config)


def component_names(kind: str) -> list[str]:
    """The sorted names registered for a component kind (``"executor"``, ``"io_handler"``, ...)."""
    return get_plugin_manager().names(kind)


def open_memory_storage() -> Storage:
    """Core's in-memory store (``Storage.memory()``)."""
    from rivers.plugins.builtin import open_memory_storage

    return open_memory_storage()


def open_embedded_storage(path: str | os.PathLike[str], *, commit_delay: float | None = None) -> Storage:
    """Core's embedded SQLite store at ``path`` (``Storage.embedded()``)."""
    from rivers.plugins.builtin import open_embedded_storage

    return open_embedded_storage(path, commit_delay=commit_delay)


def migrate_embedded_storage(path: str | os.PathLike[str]) -> None:
    """Apply every pending migration to the embedded store at ``path`` (``Storage.migrate_embedded()``)."""
    from rivers.plugins.builtin import migrate_embedded_storage

    migrate_embedded_storage(path)


def partition_type(name: str) -> type:
    """The partitions definition class called ``name``."""
    return get_plugin_manager().partition_type(name)


def cli_commands() -> dict[str, Provider]:
    """The ``rivers`` sub-commands plugins contribute (``rivers_cli_commands``), by name."""
    return get_plugin_manager().cli_commands()


def list_plugins() -> list[PluginInfo]:
    """Every registered plugin with its distribution, version, components and hooks."""
    return get_plugin_manager().list_plugins()


def broken_plugins() -> list[BrokenPlugin]:
    """Plugins that failed to load, register, or answer a component hook."""
    return get_plugin_manager().broken_plugins()


def get_observers() -> Observers:
    """The observer facade for one run; check ``.active`` before building events."""
    return get_plugin_manager().observers()
