"""A cache of the ``rivers`` entry-point scan, valid while ``sys.path`` is unchanged.

The key is ``sys.path`` plus a fingerprint of each of its entries. For the
interpreter's own directories and site directories (``site-packages``) that
is the directory's modification time: installing or removing a distribution
adds or removes a ``*.dist-info`` folder there, which changes that time. Other
entries (the script's directory, the working directory) change whenever a
program writes a file next to itself, so their fingerprint is the list of
distribution metadata folders they hold, with those folders' times.

Each file is named by a CRC-32 of its key and stores the full key, which is
compared on read (so a CRC collision is a cache miss, never a wrong answer).

Beside the scan, a *summary* of what the installed plugins contribute (the
component names of each kind, and the hooks each implements) is kept under
the same key once a process has loaded every plugin without failure
(:func:`read_summary`, :func:`write_summary`). With it, a later process can
answer a lookup of a built-in name (the ``sqlite`` store, the ``in_process``
executor) without importing any plugin, when no plugin claims that name.
``zlib`` is used rather than ``hashlib`` because importing ``hashlib`` loads
OpenSSL, which costs more than the rest of this module. The directory keeps
the :data:`MAX_FILES` most recent files.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import zlib
from typing import Any

from rivers._cache import CACHE_DIR_ENV as CACHE_DIR_ENV  # re-exported: the directory setting of this cache
from rivers._cache import cache_dir, prune, write_atomically

CACHE_ENV = "RIVERS_PLUGIN_CACHE"
#: Older cache files beyond this many are removed when a new one is written.
MAX_FILES = 64
_FORMAT = 2
_PREFIX = "entry-points-"
_SUMMARY_PREFIX = "plugin-summary-"


def _enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


_METADATA_SUFFIXES = (".dist-info", ".egg-info", ".egg-link")


def current_key() -> str:
    """The cache key of the current ``sys.path`` state (compute it once per scan: it lists directories)."""
    parts = [sys.version, str(_FORMAT)]
    prefixes = tuple({sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix})
    for entry in sys.path:
        parts.append(f"{entry}\0{_fingerprint(entry or '.', prefixes)}")
    return "\n".join(parts)


def _fingerprint(path: str, prefixes: tuple[str, ...]) -> str:
    """What identifies the distributions ``path`` can hold (see the module docs)."""
    try:
        if path.startswith(prefixes) or "site-packages" in path or "dist-packages" in path or not os.path.isdir(path):
            return str(os.stat(path).st_mtime_ns)
        found = []
        with os.scandir(path) as listing:
            for item in listing:
                if item.name.endswith(_METADATA_SUFFIXES):
                    found.append(f"{item.name}@{item.stat().st_mtime_ns}")
        return ",".join(sorted(found))
    except OSError:
        return "-1"


def _path(key: str, prefix: str = _PREFIX) -> str:
    return os.path.join(cache_dir(), f"{prefix}{zlib.crc32(key.encode()):08x}.json")


def read(key: str | None = None) -> list[dict[str, Any]] | None:
    """The cached scan for ``key`` (default: the current one), or None when there is no valid cache."""
    entries = _read_field(key, _PREFIX, "entries")
    return entries if isinstance(entries, list) else None


def write(entries: list[dict[str, Any]], key: str | None = None) -> None:
    """Store a scan result under ``key`` (default: the current one); does nothing when the dir is unwritable."""
    _write_field(key, _PREFIX, "entries", entries)


#: ``{plugin name: {"components": {kind key: [names]}, "hooks": [hook names]}}`` of every installed plugin.
PluginSummary = dict[str, dict[str, Any]]


def read_summary(key: str | None = None) -> PluginSummary | None:
    """The cached summary of the installed plugins for ``key`` (default: the current one), or None."""
    plugins = _read_field(key, _SUMMARY_PREFIX, "plugins")
    if not isinstance(plugins, dict):
        return None
    for summary in plugins.values():
        if not (isinstance(summary, dict) and isinstance(summary.get("components"), dict)
                and isinstance(summary.get("hooks"), list)):
            return None
    return plugins


def write_summary(plugins: PluginSummary, key: str | None = None) -> None:
    """Store what the installed plugins contribute under ``key`` (default: the current one)."""
    _write_field(key, _SUMMARY_PREFIX, "plugins", plugins)


def _read_field(key: str | None, prefix: str, field: str) -> Any:
    if not _enabled():
        return None
    key = key if key is not None else current_key()
    try:
        with open(_path(key, prefix), encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("key") != key:
        return None
    return data.get(field)


def _write_field(key: str | None, prefix: str, field: str, value: Any) -> None:
    if not _enabled():
        return
    key = key if key is not None else current_key()
    name = os.path.basename(_path(key, prefix))
    if write_atomically(name, json.dumps({"key": key, field: value}).encode("utf-8")) is not None:
        prune(prefix, ".json", MAX_FILES)


class Reference:
    """An entry point known only by its ``module:attribute`` value (from the cache)."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def load(self) -> Any:
        """Import the module and resolve the attribute path, like ``EntryPoint.load``."""
        module_name, _, attribute = self.value.partition(":")
        target: Any = importlib.import_module(module_name.strip())
        for part in filter(None, attribute.strip().split(".")):
            target = getattr(target, part)
        return target
