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

from typing import TYPE_CHECKING

from rivers.lazy import lazy_exports

if TYPE_CHECKING:
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

# The public names live in submodules imported on first access (PEP 562): rivers loads the
# entry point ``rivers_io_fs.plugin`` in every process, and that must not import the handler,
# pathlib, pickle and the rest before an ``fs`` handler is asked for.
_SUBMODULE = {
    "FORMAT_METADATA_KEY": "handler",
    "FilesystemIOHandler": "handler",
    "LocalStore": "store",
    "escape_component": "paths",
    "unescape_component": "paths",
    "DeserializationError": "errors",
    "FilesystemAccessError": "errors",
    "FilesystemIOHandlerError": "errors",
    "ObjectNotFoundError": "errors",
    "SerializationError": "errors",
    "ValueNotFoundError": "errors",
}


__getattr__, __dir__ = lazy_exports(__name__, {name: f".{module}" for name, module in _SUBMODULE.items()})
