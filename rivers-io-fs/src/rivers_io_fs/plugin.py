"""The hook implementation rivers finds through the ``rivers`` entry point ``fs``.

Registering costs nothing: the handler module is imported on the first
lookup of an IO handler.
"""

from __future__ import annotations

from typing import Any

from rivers.plugins import hookimpl


@hookimpl
def rivers_io_handlers() -> dict[str, Any]:
    """``fs``: :class:`rivers_io_fs.FilesystemIOHandler`."""
    from rivers_io_fs.handler import FilesystemIOHandler

    return {"fs": FilesystemIOHandler}
