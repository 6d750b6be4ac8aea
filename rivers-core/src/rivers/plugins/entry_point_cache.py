"""A cache of the ``rivers`` entry-point scan, valid while ``sys.path`` is unchanged.

The key is ``sys.path`` plus the modification time of each of its directories:
installing or removing a distribution adds or removes a ``*.dist-info``
folder there, which changes that time and so invalidates the cache.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

CACHE_ENV = "RIVERS_PLUGIN_CACHE"
CACHE_DIR_ENV = "RIVERS_CACHE_DIR"
_FORMAT = 1


def _enabled() -> bool:
    return os.environ.get(CACHE_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


def _cache_dir() -> Path:
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rivers"


def _key() -> str:
    parts = [sys.version, str(_FORMAT)]
    for entry in sys.path:
        try:
            mtime = os.stat(entry or ".").st_mtime_ns
        except OSError:
            mtime = -1
        parts.append(f"{entry}\0{mtime}")
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()


def _path() -> Path:
    return _cache_dir() / f"entry-points-{_key()}.json"


def read() -> list[dict[str, Any]] | None:
    """The cached scan, or None when there is no valid cache."""
    if not _enabled():
        return None
    try:
        data = json.loads(_path().read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, list) else None


def write(entries: list[dict[str, Any]]) -> None:
    """Store a scan result (silently does nothing when the cache dir is unwritable)."""
    if not _enabled():
        return
    import tempfile

    try:
        target = _path()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=target.parent, prefix=".entry-points-")
        with os.fdopen(fd, "w") as handle:
            json.dump(entries, handle)
        os.replace(temporary, target)
    except OSError:
        pass


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
