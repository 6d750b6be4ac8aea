"""The hook implementation rivers finds through the ``rivers`` entry point ``s3``.

Registering costs next to nothing: obstore and the handler module are
imported on the first lookup of an IO handler; only the small fork hook of
:mod:`rivers_io_s3.runtime` is installed now.
"""

from __future__ import annotations

from typing import Any

from rivers.plugins import hookimpl

# installs the fork hook that keeps obstore usable in forked workers (imports no obstore)
import rivers_io_s3.runtime  # noqa: F401, E402


@hookimpl
def rivers_io_handlers() -> dict[str, Any]:
    """``s3``: :class:`rivers_io_s3.S3IOHandler`."""
    from rivers_io_s3.handler import S3IOHandler

    return {"s3": S3IOHandler}
