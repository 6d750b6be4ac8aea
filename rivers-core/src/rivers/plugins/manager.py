"""The plugin manager: a typed facade over :class:`pluggy.PluginManager`.

It registers core's built-ins at construction, loads the ``rivers`` entry
points once on the first lookup (isolating plugins that fail), and keeps one
``{name: provider}`` table per component kind so that a lookup is a dict hit.
Tables and the observer snapshot are rebuilt after any (un)registration.

The pluggy manager itself is created on first need: when a plugin other
than the built-ins is registered (in code or from an entry point), or when
asked for (``pluggy_manager``, ``list_plugins``). Until then the built-ins
are the only plugin, and their hook implementations (the same functions
pluggy would call) are called directly: a process with no plugin installed
does not import pluggy at all (about 7 ms of every first run).

Installed plugins are loaded on the first lookup that needs them. Once a
process has loaded every installed plugin without failure, the manager
stores a summary of what each contributes (component names per kind, hooks
implemented) in the entry-point scan cache. A later process with the same
installed distributions then answers a lookup of a *built-in* name that no
plugin claims (the ``sqlite`` store, the ``memory`` handler, the
``in_process`` executor), and the observer snapshot when no plugin observes
runs, without importing any plugin or pluggy. Any other lookup, a plugin
registered in code, or a missing or stale summary loads every plugin as
before, so conflicts and broken plugins are reported exactly as without the
summary.
"""

from __future__ import annotations

import functools
import threading
import types
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from rivers._record import Record
from rivers.exceptions import ConfigurationError, PluginConflictError, PluginError, PluginNotFoundError
from rivers.plugins import builtin
from rivers.plugins.components import (
    CLI_COMMAND,
    EXECUTOR,
    IO_HANDLER,
    KINDS,
    PARTITION_TYPE,
    STORAGE_BACKEND,
    ComponentKind,
    Provider,
    conflict_error,
    not_found_error,
)
from rivers.plugins import autoload_disabled
from rivers.plugins.observers import OBSERVER_HOOKS, Observers
from rivers.plugins.records import BrokenPlugin, PluginInfo, PluginSource, describe_plugin

if TYPE_CHECKING:
    import pluggy

    from rivers.plugins.discovery import InstalledPlugin
    from rivers.plugins.entry_point_cache import PluginSummary

    from rivers.execution.executors import Executor
    from rivers.io_handlers.base import BaseIOHandler
    from rivers.storage import Storage

__all__ = ["RiversPluginManager"]

_P = TypeVar("_P")
_SOURCE_ORDER = {PluginSource.BUILTIN: 0, PluginSource.ENTRY_POINT: 1, PluginSource.REGISTERED: 2}


class _Registration(Record):
    """Where a registered plugin comes from."""

    source: str
    distribution: str | None = None
    version: str | None = None


class _Table:
    """The components of one kind: usable names, contested names, per-plugin names."""

    def __init__(self) -> None:
        self.providers: dict[str, Provider] = {}
        self.conflicts: dict[str, list[Provider]] = {}
        self.contributions: dict[str, tuple[str, ...]] = {}


class RiversPluginManager:
    """Registry of rivers plugins and the components they contribute.

    Most code uses the module-level functions of :mod:`rivers.plugins`, which
    delegate to one shared instance. A fresh instance is independent (its own
    pluggy manager, its own entry-point scan), which tests may use.

    :param autoload: Load the ``rivers`` entry points on first use. ``None``
        (the default) reads ``RIVERS_DISABLE_PLUGIN_AUTOLOAD`` at that moment.
    """

    def __init__(self, *, autoload: bool | None = None) -> None:
        self._pm: pluggy.PluginManager | None = None  # created by _pluggy() on first need
        self._autoload = autoload
        self._lock = threading.RLock()
        self._registrations: dict[str, _Registration] = {}
        self._load_failures: list[BrokenPlugin] = []
        self._hook_failures: dict[tuple[str, str], BrokenPlugin] = {}
        self._tables: dict[str, _Table] = {}
        self._observers: Observers | None = None
        self._entry_points_loaded = False
        #: the installed plugins' summary from the scan cache (None: not read yet; False: none usable)
        self._summary: PluginSummary | Literal[False] | None = None
        self._builtin_tables: dict[str, _Table] = {}
        from rivers._version import __version__

        core = _Registration(PluginSource.BUILTIN, builtin.DISTRIBUTION, __version__)
        self._registrations[builtin.PLUGIN_NAME] = core  # registered with pluggy when that is created

    # ------------------------------------------------------------------
    # Registration
    # ------------------------------------------------------------------

    @property
    def pluggy_manager(self) -> pluggy.PluginManager:
        """The underlying pluggy manager (for tracing and advanced use)."""
        with self._lock:
            return self._pluggy()

    def _pluggy(self) -> pluggy.PluginManager:
        """The pluggy manager, created (with the hook specifications and the built-ins) on first call."""
        pm = self._pm
        if pm is None:
            import pluggy

            from rivers import hookspecs

            pm = pluggy.PluginManager("rivers")
            pm.add_hookspecs(hookspecs)
            pm.register(builtin, builtin.PLUGIN_NAME)
            self._pm = pm
        return pm

    @property
    def entry_points_loaded(self) -> bool:
        """Whether the ``rivers`` entry points have been scanned (or skipped)."""
        return self._entry_points_loaded

    def register(self, plugin: _P, name: str | None = None) -> _P:
        """Register ``plugin`` (a module, class or instance with hook implementations).

        :param name: The plugin's name in listings and errors; defaults to the
            module name, or ``module.QualName@id`` for other objects.
        :returns: ``plugin`` (``recorder = manager.register(Recorder())``).
        :raises PluginError: if the plugin or its name is already registered,
            or its hook implementations are invalid (unknown hook, wrong
            arguments, unmarked ``rivers_*`` function, wrapper).
        """
        with self._lock:
            self._add(plugin, name or _default_name(plugin), _Registration(PluginSource.REGISTERED))
        return plugin

    def unregister(self, plugin_or_name: object) -> object:
        """Unregister a plugin given as the object or its name; returns the plugin.

        Built-ins can be unregistered too, e.g. to replace one with a plugin
        providing the same name.

        :raises PluginNotFoundError: if no such plugin is registered.
        """
        with self._lock:
            pm = self._pluggy()
            if isinstance(plugin_or_name, str):
                name = plugin_or_name
                plugin = pm.get_plugin(name)
            else:
                plugin = plugin_or_name
                name = pm.get_name(plugin) or ""
            if plugin is None or not pm.is_registered(plugin):
                registered = ", ".join(repr(n) for n in sorted(self._registrations))
                raise PluginNotFoundError(
                    f"cannot unregister {plugin_or_name!r}: it is not a registered plugin. "
                    f"Registered plugins: {registered}."
                )
            pm.unregister(plugin)
            self._registrations.pop(name, None)
            self._invalidate()
            return plugin

    def _add(self, plugin: object, name: str, registration: _Registration) -> None:
        """Register with pluggy, validate, record; roll back and raise on any problem."""
        import pluggy

        pm = self._pluggy()
        if pm.has_plugin(name):
            raise PluginError(
                f"a plugin named {name!r} is already registered; pass another name= or unregister it first"
            )
        if pm.is_registered(plugin):
            raise PluginError(f"{plugin!r} is already registered as {pm.get_name(plugin)!r}; unregister it first")
        try:
            pm.register(plugin, name)
        except pluggy.PluginValidationError as exc:
            raise PluginError(f"plugin {name!r} cannot be registered: {exc}") from exc
        problems = self._problems(pm, plugin)
        if problems:
            pm.unregister(plugin)
            raise PluginError(f"plugin {name!r} cannot be registered: " + "; ".join(problems))
        self._registrations[name] = registration
        self._invalidate()

    @staticmethod
    def _problems(pm: pluggy.PluginManager, plugin: object) -> list[str]:
        """What is wrong with a freshly registered plugin's hook implementations."""
        hook_names = _hook_names()
        problems = []
        for caller in pm.get_hookcallers(plugin) or ():
            for impl in caller.get_hookimpls():
                if impl.plugin is not plugin:
                    continue
                if not caller.has_spec() and not impl.optionalhook:
                    import difflib

                    matches = difflib.get_close_matches(caller.name, hook_names, n=1)
                    hint = f" (did you mean {matches[0]!r}?)" if matches else ""
                    problems.append(f"it implements the unknown hook {caller.name!r}{hint}")
                if impl.wrapper or impl.hookwrapper:
                    problems.append(f"{caller.name} is a wrapper; rivers calls each implementation on its own")
        for attr in dir(plugin):
            if attr in hook_names and pm.parse_hookimpl_opts(plugin, attr) is None:
                problems.append(f"{attr} is not marked with @rivers.hookimpl (add the decorator)")
        return problems

    def _invalidate(self) -> None:
        self._tables = {}
        self._hook_failures.clear()
        self._observers = None

    # ------------------------------------------------------------------
    # Entry points
    # ------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Load the ``rivers`` entry points, once; lookups call this for you.

        A plugin that fails to import or to register is recorded (see
        :meth:`broken_plugins`) and skipped. Nothing is loaded when autoload is
        disabled.
        """
        if self._entry_points_loaded:
            return
        with self._lock:
            if self._entry_points_loaded:
                return
            autoload = self._autoload if self._autoload is not None else not autoload_disabled()
            if autoload:
                from rivers.plugins import entry_point_cache

                from rivers.plugins.discovery import installed_plugins  # (not needed while the summary answers)

                key = entry_point_cache.current_key()
                installed = installed_plugins(key)
                for plugin in installed:
                    self._load_installed(plugin)
                self._entry_points_loaded = True
                if self._summary is None:
                    self._summary = entry_point_cache.read_summary(key) or False
                if self._summary is False:  # first full load with these distributions: describe them
                    summary = self._summarize([plugin.name for plugin in installed])
                    if summary is not None:
                        entry_point_cache.write_summary(summary, key)
            self._entry_points_loaded = True

    def _summarize(self, names: list[str]) -> PluginSummary | None:
        """What the installed plugins ``names`` contribute and implement (None: one of them failed)."""
        if self._load_failures or self._pm is None:
            return None if self._load_failures else {}
        tables = {key: self._table(kind) for key, kind in KINDS.items()}
        if self._hook_failures:
            return None
        summary: PluginSummary = {}
        for name in names:
            plugin = self._pm.get_plugin(name)
            if plugin is None:
                return None
            summary[name] = {
                "components": {key: list(t.contributions[name]) for key, t in tables.items() if name in t.contributions},
                "hooks": sorted(caller.name for caller in self._pm.get_hookcallers(plugin) or ()),
            }
        return summary

    def _known_summary(self) -> PluginSummary | None:
        """The installed plugins' cached summary, while nothing is loaded or registered in code (else None)."""
        if self._entry_points_loaded or self._pm is not None:
            return None
        summary = self._summary
        if summary is None:
            from rivers.plugins import entry_point_cache

            autoload = self._autoload if self._autoload is not None else not autoload_disabled()
            summary = self._summary = (entry_point_cache.read_summary() if autoload else None) or False
        return summary or None

    def _builtin_provider(self, kind: ComponentKind, name: str) -> Provider | None:
        """The built-in ``name`` of ``kind`` when the summary shows no installed plugin claims it (else None)."""
        summary = self._known_summary()
        if summary is None:
            return None
        for plugin in summary.values():
            if name in plugin["components"].get(kind.key, ()):
                return None
        table = self._builtin_tables.get(kind.key)
        if table is None:
            table = self._builtin_tables[kind.key] = self._build_table(kind)  # no pluggy: the built-ins only
        return table.providers.get(name)

    def _load_installed(self, installed: InstalledPlugin) -> None:
        def fail(exc: BaseException, stage: str) -> None:
            self._load_failures.append(
                BrokenPlugin.from_exception(
                    exc,
                    name=installed.name,
                    distribution=installed.distribution,
                    version=installed.version,
                    stage=stage,
                )
            )

        if installed.name in self._registrations:
            other = self._label(installed.name)
            fail(
                PluginConflictError(
                    f"entry point {installed.name!r} clashes with the plugin {other} of the same name; "
                    "rename one of the entry points"
                ),
                "register",
            )
            return
        try:
            plugin = installed.load()
        except Exception as exc:
            fail(exc, "import")
            return
        if self._pm is not None and self._pm.is_registered(plugin):
            return  # already registered in code before the scan
        registration = _Registration(PluginSource.ENTRY_POINT, installed.distribution, installed.version)
        try:
            self._add(plugin, installed.name, registration)
        except PluginError as exc:
            fail(exc, "register")

    # ------------------------------------------------------------------
    # Component tables and lookups
    # ------------------------------------------------------------------

    def _table(self, kind: ComponentKind) -> _Table:
        table = self._tables.get(kind.key)
        if table is not None:
            return table
        self.load_entry_points()
        with self._lock:
            table = self._tables.get(kind.key)
            if table is None:
                table = self._tables[kind.key] = self._build_table(kind)
            return table

    def _build_table(self, kind: ComponentKind) -> _Table:
        table = _Table()
        for plugin, function in self._implementations(kind.hook):
            try:
                contributed = kind.validate(function())
            except Exception as exc:
                registration = self._registrations.get(plugin, _Registration(PluginSource.REGISTERED))
                self._hook_failures[(plugin, kind.hook)] = BrokenPlugin.from_exception(
                    exc,
                    name=plugin,
                    distribution=registration.distribution,
                    version=registration.version,
                    stage=kind.hook,
                )
                continue
            table.contributions[plugin] = tuple(sorted(contributed))
            for name, value in contributed.items():
                provider = Provider(value, plugin, self._label(plugin))
                if name in table.conflicts:
                    table.conflicts[name].append(provider)
                elif name in table.providers:
                    table.conflicts[name] = [table.providers.pop(name), provider]
                else:
                    table.providers[name] = provider
        return table

    def _implementations(self, hook: str) -> list[tuple[str, Any]]:
        """``(plugin name, function)`` of every implementation of ``hook``, in registration order."""
        if self._pm is not None:
            return [(impl.plugin_name, impl.function) for impl in getattr(self._pm.hook, hook).get_hookimpls()]
        # no pluggy yet: nothing was registered or unregistered (both create it), so the built-ins are the only plugin
        function = getattr(builtin, hook, None)
        return [] if function is None else [(builtin.PLUGIN_NAME, function)]

    def _label(self, plugin: str) -> str:
        registration = self._registrations.get(plugin)
        if registration is None:
            return repr(plugin)
        return describe_plugin(plugin, registration.distribution, registration.version)

    def lookup(self, kind: ComponentKind | str, name: str) -> Any:
        """The component called ``name`` of ``kind`` (a kind or its key).

        :raises PluginNotFoundError: naming the available names, close
            matches, the distribution to install and suspect broken plugins.
        :raises PluginConflictError: if several plugins provide ``name``.
        """
        if isinstance(kind, str):
            kind = KINDS[kind]
        provider = self._builtin_provider(kind, name)
        if provider is not None:
            return provider.value
        table = self._table(kind)
        provider = table.providers.get(name)
        if provider is not None:
            return provider.value
        if name in table.conflicts:
            raise conflict_error(kind, name, table.conflicts[name])
        suspects = [*self._load_failures, *(b for b in self._hook_failures.values() if b.stage == kind.hook)]
        raise not_found_error(kind, name, [*table.providers, *table.conflicts], suspects)

    def names(self, kind: ComponentKind | str) -> list[str]:
        """The sorted names of ``kind`` that plugins provide (contested ones included)."""
        if isinstance(kind, str):
            kind = KINDS[kind]
        table = self._table(kind)
        return sorted([*table.providers, *table.conflicts])

    def io_handler_class(self, name: str) -> type[BaseIOHandler]:
        """The IO handler class registered as ``name``."""
        handler_class: type[BaseIOHandler] = self.lookup(IO_HANDLER, name)
        return handler_class

    def create_io_handler(self, name: str, **config: Any) -> BaseIOHandler:
        """Instantiate the IO handler ``name`` with ``config`` as its settings."""
        return self.io_handler_class(name)(**config)

    def create_executor(self, name: str, **config: Any) -> Executor:
        """Call the executor factory ``name`` with ``config``."""
        executor: Executor = self.lookup(EXECUTOR, name)(**config)
        return executor

    def connect_storage(self, url: str, **config: Any) -> Storage:
        """Open the storage at ``url`` with the backend of its scheme (before ``://``).

        The backend is checked against the storage contract (its declared
        version and capabilities, :func:`rivers.storage.contract.check_backend`).

        :raises ConfigurationError: if ``url`` has no scheme.
        :raises StorageContractError: if the backend does not fulfil the contract.
        """
        scheme, separator, _ = url.partition("://")
        if not separator or not scheme:
            raise ConfigurationError(
                f"storage URL {url!r} has no scheme; write it as scheme://..., "
                "e.g. 'sqlite:///.rivers/rivers.db' or 'memory://'. "
                f"Available schemes: {', '.join(repr(s) for s in self.names(STORAGE_BACKEND))}."
            )
        from rivers.storage.contract import check_backend

        storage: Storage = self.lookup(STORAGE_BACKEND, scheme.lower())(url, **config)
        check_backend(storage, name=scheme.lower())
        return storage

    def partition_type(self, name: str) -> type:
        """The partitions definition class registered as ``name``."""
        partition_class: type = self.lookup(PARTITION_TYPE, name)
        return partition_class

    def cli_commands(self) -> dict[str, Provider]:
        """The ``rivers`` sub-commands plugins contribute, by name, with the plugin of each.

        A name claimed by several plugins is left out (``rivers plugins``
        shows the conflict).
        """
        return dict(self._table(CLI_COMMAND).providers)

    # ------------------------------------------------------------------
    # Observers
    # ------------------------------------------------------------------

    def observers(self) -> Observers:
        """The observer snapshot of the plugins registered now (cached until they change)."""
        observers = self._observers
        if observers is None:
            summary = self._known_summary()
            if summary is not None and not any(hook in OBSERVER_HOOKS for plugin in summary.values()
                                               for hook in plugin["hooks"]):
                # no installed plugin observes runs: nothing to load for that (a registration clears this)
                observers = self._observers = Observers()
                return observers
            self.load_entry_points()
            with self._lock:
                # without pluggy the built-ins are the only plugin, and they observe nothing
                observers = self._observers = Observers() if self._pm is None else Observers.from_hooks(self._pm.hook)
        return observers

    # ------------------------------------------------------------------
    # Reporting
    # ------------------------------------------------------------------

    def list_plugins(self) -> list[PluginInfo]:
        """Every registered plugin: built-ins, then installed, then registered in code."""
        self.load_entry_points()
        with self._lock:
            pm = self._pluggy()
            tables = {key: self._table(kind) for key, kind in KINDS.items()}
            infos = []
            for name, registration in self._registrations.items():
                plugin = pm.get_plugin(name)
                components = {
                    key: table.contributions[name] for key, table in tables.items() if name in table.contributions
                }
                hooks = sorted(caller.name for caller in pm.get_hookcallers(plugin) or ())
                infos.append(
                    PluginInfo(
                        name=name,
                        distribution=registration.distribution,
                        version=registration.version,
                        source=registration.source,
                        components=components,
                        hooks=tuple(hooks),
                    )
                )
        infos.sort(key=lambda info: _SOURCE_ORDER[info.source])
        return infos

    def broken_plugins(self) -> list[BrokenPlugin]:
        """Plugins that failed to import or register, or whose component hooks failed."""
        self.load_entry_points()
        with self._lock:
            for kind in KINDS.values():
                self._table(kind)
            return [*self._load_failures, *self._hook_failures.values()]


@functools.lru_cache(maxsize=1)
def _hook_names() -> tuple[str, ...]:
    """The names of the hooks :mod:`rivers.hookspecs` specifies."""
    from rivers import hookspecs

    return tuple(name for name in dir(hookspecs) if name.startswith("rivers_"))


def _default_name(plugin: object) -> str:
    """A readable, unique-enough name for a plugin registered without one."""
    if isinstance(plugin, types.ModuleType):
        return plugin.__name__
    cls = plugin if isinstance(plugin, type) else type(plugin)
    qualified = f"{cls.__module__}.{cls.__qualname__}"
    return qualified if plugin is cls else f"{qualified}@{id(plugin):#x}"


def _distribution_version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None
