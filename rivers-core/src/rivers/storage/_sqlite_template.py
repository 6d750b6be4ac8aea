"""New embedded stores copied from a cached empty one, instead of creating the schema statement by statement.

Creating the schema of a new SQLite file runs some fifty ``CREATE``
statements (about 2 ms here); copying an empty store of the same schema
costs a fifth of that. Test suites and tools that open a fresh store per
test or per command pay this on every store, so:

* after rivers creates a new file's schema itself, :func:`save` writes the
  file's image (``sqlite3.Connection.serialize``) to the user cache
  (:mod:`rivers._cache`), named by a key of the SQLite library version, the
  schema version and a checksum of the schema code;
* before opening a file that does not exist, :func:`copy_to` writes that
  image to a temporary file beside it, syncs it to disk and hard-links it
  into place. ``os.link`` fails if the file appeared meanwhile (another
  process created it), which is then used as it is. The image carries a
  CRC-32 that is checked before use.

Anything unusual falls back to creating the schema: no image yet, a cache
directory that cannot be written, a file system without hard links, a
damaged image, or migrations extended at run time (tests). Set
``RIVERS_SQLITE_TEMPLATE=0`` to turn it off.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sqlite3
import zlib

from rivers._cache import cache_dir, prune, write_atomically
from rivers.storage import _sqlite_migrations, _sqlite_schema

__all__ = ["ENV", "copy_to", "save"]

#: Environment variable: ``0`` / ``false`` / ``no`` / ``off`` turn the template off.
ENV = "RIVERS_SQLITE_TEMPLATE"
_PREFIX = "sqlite-template-"
_SUFFIX = ".db"
_MAGIC = b"rivers-sqlite-template 1\n"
#: Images of other keys (other rivers-core or SQLite versions) kept beside the current one.
_KEEP = 8
#: The migrations this rivers-core ships; when the module's tuple is another one, no template is used.
_BUILTIN_MIGRATIONS = _sqlite_migrations.MIGRATIONS


def _enabled() -> bool:
    if os.environ.get(ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    return _sqlite_migrations.MIGRATIONS is _BUILTIN_MIGRATIONS


@functools.cache
def _key() -> str:
    """What a template depends on: SQLite's version, the schema version and the code creating the schema."""
    checksum = 0
    for module in (_sqlite_schema, _sqlite_migrations):
        with open(module.__file__ or "", "rb") as source:
            checksum = zlib.crc32(source.read(), checksum)
    return f"sqlite {sqlite3.sqlite_version}, schema {_sqlite_migrations.current_version()}, code {checksum:08x}"


def _path(key: str) -> str:
    return os.path.join(cache_dir(), f"{_PREFIX}{zlib.crc32(key.encode()):08x}{_SUFFIX}")


def _read_image() -> bytes | None:
    """The cached image of an empty store of the current schema, or None (none, another key, or damaged)."""
    try:
        key = _key()
        with open(_path(key), "rb") as handle:
            content = handle.read()
    except OSError:
        return None
    header = _MAGIC + key.encode() + b"\n"
    if not content.startswith(header):
        return None
    checksum, _, image = content[len(header):].partition(b"\n")
    if checksum != b"%08x" % zlib.crc32(image):
        return None
    return image


def copy_to(path: str) -> bool:
    """Create the missing store file ``path`` as a copy of the cached empty store; whether ``path`` exists now.

    ``False`` when there is no usable template (the caller creates the
    schema itself). ``True`` also when another process created ``path``
    first: the file is then theirs.
    """
    if not _enabled():
        return False
    image = _read_image()
    if image is None:
        return False
    directory, name = os.path.split(path)
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{os.urandom(4).hex()}.template")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for SQLite
    except OSError:
        return False
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(image)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before it has its name: a crash never leaves half a store
        os.link(temporary, path)
    except FileExistsError:
        return True  # another process created it first
    except OSError:
        return False
    finally:
        with contextlib.suppress(OSError):
            os.remove(temporary)
    return True


def save(conn: sqlite3.Connection) -> None:
    """Keep the image of ``conn``'s database, a store whose schema rivers just created.

    Only while every table is still empty (another process may have written
    to the new file already): checked and copied in one read transaction.
    """
    if not _enabled() or not hasattr(conn, "serialize"):
        return
    try:
        key = _key()
        conn.execute("BEGIN")
        try:
            tables = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
            if any(conn.execute(f'SELECT EXISTS (SELECT 1 FROM "{table}")').fetchone()[0] for table in tables):
                return
            image = conn.serialize()
        finally:
            conn.execute("COMMIT")
    except (OSError, sqlite3.Error):
        return
    content = _MAGIC + key.encode() + b"\n" + b"%08x" % zlib.crc32(image) + b"\n" + image
    if write_atomically(os.path.basename(_path(key)), content) is not None:
        prune(_PREFIX, _SUFFIX, _KEEP)
