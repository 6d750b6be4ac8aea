"""The user cache directory of rivers, and writing files into it atomically.

The directory is ``$RIVERS_CACHE_DIR`` when set, else ``rivers`` under
``$XDG_CACHE_HOME`` (default ``~/.cache``). What lives there can always be
recomputed: the plugin entry-point scan (:mod:`rivers.plugins.entry_point_cache`)
and the empty embedded-store image (:mod:`rivers.storage._sqlite_template`).
Writers never fail because of it: an unwritable directory means no cache.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["CACHE_DIR_ENV", "cache_dir", "prune", "write_atomically"]

#: Environment variable naming the cache directory.
CACHE_DIR_ENV = "RIVERS_CACHE_DIR"


def cache_dir() -> str:
    """The cache directory (not created here)."""
    configured = os.environ.get(CACHE_DIR_ENV)
    if configured:
        return configured
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "rivers")


def write_atomically(name: str, data: bytes) -> str | None:
    """Write ``data`` to the file ``name`` of the cache directory, replacing it at once; its path, or None.

    A reader sees the old file or the new one, never part of one. ``None``
    when the directory cannot be created or written (nothing is raised).
    """
    import tempfile

    directory = cache_dir()
    try:
        os.makedirs(directory, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=directory, prefix="." + name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            target = os.path.join(directory, name)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temporary)
            raise
    except OSError:
        return None
    return target


def prune(prefix: str, suffix: str, keep: int) -> None:
    """Remove all but the ``keep`` most recently written cache files named ``prefix...suffix``."""
    files = []
    try:
        with os.scandir(cache_dir()) as listing:
            for entry in listing:
                if entry.name.startswith(prefix) and entry.name.endswith(suffix):
                    with contextlib.suppress(OSError):
                        files.append((entry.stat().st_mtime_ns, entry.path))
    except OSError:
        return
    files.sort(reverse=True)
    for _, path in files[keep:]:
        with contextlib.suppress(OSError):
            os.remove(path)

