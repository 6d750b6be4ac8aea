"""Finding installed plugins: the ``rivers`` entry-point group.

Only :func:`installed_plugins` touches package metadata, and the manager calls
it once, on the first lookup; importing this module scans nothing.

Scanning package metadata means importing ``importlib_metadata`` and reading
every distribution on ``sys.path``, which costs tens of milliseconds on every
start. Like stevedore, rivers caches the result of a scan in a small JSON file
keyed by ``sys.path`` and the modification times of its directories (which
change whenever a distribution is installed or removed), so later processes
read one file instead. ``RIVERS_PLUGIN_CACHE=0`` disables the cache;
``RIVERS_CACHE_DIR`` moves it (default: ``$XDG_CACHE_HOME/rivers`` or
``~/.cache/rivers``).
"""

from __future__ import annotations

from typing import Any

from rivers._record import Record

from rivers.plugins import ENTRY_POINT_GROUP
from rivers.plugins import autoload_disabled as autoload_disabled  # re-exported (it moved to rivers.plugins)

__all__ = ["InstalledPlugin", "autoload_disabled", "installed_plugins"]



class InstalledPlugin(Record):
    """An entry point of the ``rivers`` group and the distribution declaring it."""

    name: str
    value: str
    distribution: str | None
    version: str | None
    entry_point: Any

    _hidden = frozenset({"entry_point"})

    def load(self) -> object:
        """Import the plugin object (usually a module); may raise anything."""
        return self.entry_point.load()


def installed_plugins(key: str | None = None) -> list[InstalledPlugin]:
    """Every entry point of the ``rivers`` group, ordered by distribution and name.

    A distribution found twice on ``sys.path`` is reported once (the first
    one wins, as for imports). Served from the scan cache when it is valid
    (``key``: the cache key of this ``sys.path``, when the caller has it).
    """
    from rivers.plugins import entry_point_cache

    key = key if key is not None else entry_point_cache.current_key()
    cached = entry_point_cache.read(key)
    if cached is not None:
        return [
            InstalledPlugin(name=e["name"], value=e["value"], distribution=e["distribution"],
                            version=e["version"], entry_point=entry_point_cache.Reference(e["value"]))
            for e in cached
        ]
    plugins = _scan()
    entry_point_cache.write(
        [{"name": p.name, "value": p.value, "distribution": p.distribution, "version": p.version} for p in plugins],
        key,
    )
    return plugins


def _scan() -> list[InstalledPlugin]:
    try:
        import importlib_metadata as metadata
    except ImportError:  # pragma: no cover - importlib-metadata is a dependency
        from importlib import metadata  # type: ignore[no-redef]

    plugins = []
    for entry_point in metadata.entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(entry_point, "dist", None)
        plugins.append(
            InstalledPlugin(
                name=entry_point.name,
                value=entry_point.value,
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
                entry_point=entry_point,
            )
        )
    plugins.sort(key=lambda plugin: (plugin.distribution or "", plugin.name))
    return plugins
