"""rivers-io-s3: persist rivers asset values in Amazon S3 and S3-compatible object stores.

    import rivers as rs

    handler = rs.io_handler("s3", bucket="data", prefix="prod")       # through the plugin
    handler = rivers_io_s3.S3IOHandler(bucket="data", endpoint_url="http://127.0.0.1:9000")

See the distribution's README for settings, credentials, the layout and errors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rivers.lazy import lazy_exports

if TYPE_CHECKING:
    from rivers_io_s3.errors import (
        S3AccessDeniedError,
        S3BucketNotFoundError,
        S3ConnectionError,
        S3DeserializationError,
        S3IOHandlerError,
        S3SerializationError,
        S3TimeoutError,
        S3ValueNotFoundError,
    )
    from rivers_io_s3.handler import FORMAT_METADATA_KEY, S3IOHandler
    from rivers_io_s3.store import S3Store

__version__ = "0.1.0"

__all__ = [
    "FORMAT_METADATA_KEY",
    "S3AccessDeniedError",
    "S3BucketNotFoundError",
    "S3ConnectionError",
    "S3DeserializationError",
    "S3IOHandler",
    "S3IOHandlerError",
    "S3SerializationError",
    "S3Store",
    "S3TimeoutError",
    "S3ValueNotFoundError",
]

# The public names live in submodules imported on first access (PEP 562): rivers loads the
# entry point ``rivers_io_s3.plugin`` in every process, and that must import neither obstore
# nor the handler before an ``s3`` handler is asked for.
_SUBMODULE = {name: "errors" for name in __all__ if name.startswith("S3") and name.endswith("Error")}
_SUBMODULE.update({"FORMAT_METADATA_KEY": "handler", "S3IOHandler": "handler", "S3Store": "store"})


__getattr__, __dir__ = lazy_exports(__name__, {name: f".{module}" for name, module in _SUBMODULE.items()})
