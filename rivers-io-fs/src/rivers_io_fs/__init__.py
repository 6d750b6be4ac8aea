"""rivers-io-fs: persist rivers asset values to a local or mounted filesystem.

    import rivers as rs

    handler = rs.io_handler("fs", base_dir="data")            # through the plugin
    handler = rivers_io_fs.FilesystemIOHandler(base_dir="data", format="json")

    @rs.Asset(io_handler=handler)
    def orders() -> list[dict]: ...

See the distribution's README for the layout, the escaping of names and the
errors.
"""

from __future__ import annotations

from rivers_io_fs.errors import (
    DeserializationError,
    FilesystemAccessError,
    FilesystemIOHandlerError,
    ObjectNotFoundError,
    SerializationError,
    ValueNotFoundError,
)
from rivers_io_fs.handler import FORMAT_METADATA_KEY, FilesystemIOHandler
from rivers_io_fs.paths import escape_component, unescape_component
from rivers_io_fs.store import LocalStore

__version__ = "0.1.0"

__all__ = [
    "FORMAT_METADATA_KEY",
    "DeserializationError",
    "FilesystemAccessError",
    "FilesystemIOHandler",
    "FilesystemIOHandlerError",
    "LocalStore",
    "ObjectNotFoundError",
    "SerializationError",
    "ValueNotFoundError",
    "escape_component",
    "unescape_component",
]
